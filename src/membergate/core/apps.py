from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "membergate.core"
    label = "core"
    verbose_name = "Membergate"
