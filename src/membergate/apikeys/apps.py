from django.apps import AppConfig


class ApiKeysConfig(AppConfig):
    name = "membergate.apikeys"
    label = "apikeys"
    verbose_name = "API keys"
