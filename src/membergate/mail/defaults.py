"""The emails' texts as shipped; site owners change them in the admin."""

WELCOME_SUBJECT = "Welcome to {{ site_name }}"
WELCOME_BODY = """\
Hello{% if first_name %} {{ first_name }}{% endif %},

Your account at {{ site_name }} is ready. You sign in with your email
address: {{ email }}

Choose your password here:

{{ link }}

This link works once and expires in {{ link_days }} days. When it has
expired, ask for a new one at {{ sign_in_url }}

See you soon,
{{ site_name }}
"""

LINK_SUBJECT = "Your password link for {{ site_name }}"
LINK_BODY = """\
Hello{% if first_name %} {{ first_name }}{% endif %},

Someone, probably you, asked for a link to set the password of the
{{ site_name }} account {{ email }}. Choose your new password here:

{{ link }}

This link works once and expires in {{ link_days }} days. If you did not
ask for it, ignore this email: your password stays as it is.

{{ site_name }}
"""

TEXTS = {
    "welcome": (WELCOME_SUBJECT, WELCOME_BODY),
    "password_link": (LINK_SUBJECT, LINK_BODY),
}
