from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "membergate.api"
    label = "api"
    verbose_name = "Incoming API"
