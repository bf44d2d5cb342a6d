import pytest
from django.contrib.admin.models import LogEntry
from django_tasks_db.models import DBTaskResult

from membergate.mail.models import Delivery, EmailTemplate
from membergate.mail.services import enqueue_welcome_email
from membergate.members.models import Member


@pytest.fixture
def failed(db) -> Delivery:
    delivery = enqueue_welcome_email(Member.objects.create_user("ada@example.com"))
    Delivery.objects.filter(pk=delivery.pk).update(
        status="failed", attempts=31, last_error="421 try later"
    )
    DBTaskResult.objects.all().delete()
    return delivery


def test_deliveries_are_listed_with_status_attempts_and_error(admin_client, failed):
    page = admin_client.get("/admin/mail/delivery/?status__exact=failed")
    assert page.status_code == 200
    text = page.text
    assert "ada@example.com" in text
    assert "421 try later" in text
    assert '<td class="field-attempts">31</td>' in text


def test_the_retry_action_queues_a_failed_delivery(admin_client, failed):
    answer = admin_client.post(
        "/admin/mail/delivery/",
        {"action": "retry", "_selected_action": [failed.pk]},
        follow=True,
    )
    assert "1 emails queued again." in answer.text
    failed.refresh_from_db()
    assert (failed.status, failed.last_error) == ("queued", "")
    assert DBTaskResult.objects.filter(id=failed.task_id, status="READY").exists()


def change_url() -> str:
    template = EmailTemplate.objects.get(kind="welcome")
    return f"/admin/mail/emailtemplate/{template.pk}/change/"


def test_the_welcome_text_is_edited_and_previewed(admin_client, db, settings):
    settings.SITE_NAME = "Gold Club"
    answer = admin_client.post(
        change_url(),
        {
            "subject": "Hello from {{ site_name }}",
            "body": "Hi {{ first_name }}, set your password: {{ link }}",
            "_continue": "1",
        },
        follow=True,
    )
    assert answer.status_code == 200
    assert EmailTemplate.objects.get(kind="welcome").subject == (
        "Hello from {{ site_name }}"
    )
    assert "Hello from Gold Club" in answer.text
    assert "Hi Ada, set your password: http" in answer.text


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("Welcome!", "must contain {{ link }}"),
        ("{% if %}{{ link }}", "cannot be used"),
        ('{% include "admin/base.html" %}{{ link }}', "cannot be used"),
    ],
)
def test_a_text_that_cannot_work_is_refused(admin_client, db, body, error):
    answer = admin_client.post(change_url(), {"subject": "Hi", "body": body})
    assert answer.status_code == 200
    assert error in answer.text
    assert EmailTemplate.objects.get(kind="welcome").subject != "Hi"


def saved_texts() -> list[tuple[object, ...]]:
    return list(
        EmailTemplate.objects.values_list("kind", "subject", "body", "updated_at")
    )


def test_a_preview_shows_the_posted_text_and_saves_nothing(admin_client, db, settings):
    settings.SITE_NAME = "Gold Club"
    before = saved_texts()
    answer = admin_client.post(
        change_url(),
        {
            "subject": "Hello from {{ site_name }}",
            "body": "Hi {{ first_name }}, not saved yet: {{ link }}",
            "_preview": "Preview",
        },
    )

    assert answer.status_code == 200
    assert "Hello from Gold Club" in answer.text
    assert "Hi Ada, not saved yet: http" in answer.text
    assert "it is not saved" in answer.text
    # The form keeps the edit, for the owner to save or change.
    assert "Hi {{ first_name }}, not saved yet: {{ link }}</textarea>" in answer.text
    assert saved_texts() == before
    assert not LogEntry.objects.exists()


def test_the_change_form_has_a_preview_button(admin_client, db):
    page = admin_client.get(change_url()).text
    assert '<input type="submit" value="Preview" name="_preview">' in page
    # Save stays the first button, the one Enter presses.
    assert page.index('name="_save"') < page.index('name="_preview"')


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("Welcome!", "must contain {{ link }}"),
        ("{% if %}{{ link }}", "cannot be used"),
    ],
)
def test_a_preview_of_a_text_that_cannot_work_shows_why(admin_client, db, body, error):
    before = saved_texts()
    answer = admin_client.post(
        change_url(), {"subject": "Hi", "body": body, "_preview": "Preview"}
    )
    assert answer.status_code == 200
    assert error in answer.text
    assert "errornote" in answer.text
    assert "it is not saved" not in answer.text
    assert saved_texts() == before
