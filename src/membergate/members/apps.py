from django.apps import AppConfig


class MembersConfig(AppConfig):
    name = "membergate.members"
    label = "members"
    verbose_name = "Members"
