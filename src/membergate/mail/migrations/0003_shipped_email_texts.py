"""The shipped email texts, as rows site owners can edit."""

from django.db import migrations

TEXTS = {
    "welcome": (
        'Welcome to {{ site_name }}',
        'Hello{% if first_name %} {{ first_name }}{% endif %},\n\nYour account at {{ site_name }} is ready. You sign in with your email\naddress: {{ email }}\n\nChoose your password here:\n\n{{ link }}\n\nThis link works once and expires in {{ link_days }} days. When it has\nexpired, ask for a new one at {{ sign_in_url }}\n\nSee you soon,\n{{ site_name }}\n',
    ),
    "password_link": (
        'Your password link for {{ site_name }}',
        'Hello{% if first_name %} {{ first_name }}{% endif %},\n\nSomeone, probably you, asked for a link to set the password of the\n{{ site_name }} account {{ email }}. Choose your new password here:\n\n{{ link }}\n\nThis link works once and expires in {{ link_days }} days. If you did not\nask for it, ignore this email: your password stays as it is.\n\n{{ site_name }}\n',
    ),
}


def add_texts(apps, schema_editor):  # type: ignore[no-untyped-def]
    EmailTemplate = apps.get_model("mail", "EmailTemplate")
    for kind, (subject, body) in TEXTS.items():
        EmailTemplate.objects.get_or_create(
            kind=kind, defaults={"subject": subject, "body": body}
        )


class Migration(migrations.Migration):
    dependencies = [("mail", "0002_delivery_claims_and_email_texts")]

    operations = [migrations.RunPython(add_texts, migrations.RunPython.noop)]
