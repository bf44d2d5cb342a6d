from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "membergate.accounts"
    label = "accounts"
    verbose_name = "Members' pages"
