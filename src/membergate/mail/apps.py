from django.apps import AppConfig


class MailConfig(AppConfig):
    name = "membergate.mail"
    label = "mail"
    verbose_name = "Email"
