from django.contrib.admin.apps import AdminConfig


class MembergateAdminConfig(AdminConfig):
    """Django's admin, with Membergate's site in place of the default one."""

    default_site = "membergate.core.admin_site.MembergateAdminSite"
