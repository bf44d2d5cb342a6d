from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import override_settings
from django.urls import reverse

from membergate.apikeys.models import ApiKey

URL = reverse("admin:api_settings")


def post(client: Any, form: str, **fields: Any) -> Any:
    return client.post(URL, {"form": form, **fields})


@override_settings(BASE_URL="https://members.example.com")
def test_it_shows_both_base_urls_with_copy_buttons(admin_client):
    page = admin_client.get(URL)
    text = page.content.decode()
    assert page.status_code == 200
    assert (
        'id="api-url" class="mg-copy-text">https://members.example.com/api/v1<' in text
    )
    assert (
        'id="alias-url" class="mg-copy-text">'
        "https://members.example.com/wp-json/opm-api/v1<" in text
    )
    assert 'data-copy-target="api-url"' in text
    assert 'data-copy-target="alias-url"' in text
    assert "membergate/copy.js" in text
    assert "<script>" not in text


def test_it_is_linked_from_the_index_and_the_sidebar(admin_client):
    index = admin_client.get(reverse("admin:index")).content.decode()
    assert index.count(f'href="{URL}"') >= 2
    sidebar_page = admin_client.get(reverse("admin:members_member_changelist"))
    assert f'href="{URL}"' in sidebar_page.content.decode()


def test_creating_a_key_shows_the_secret_once(admin_client):
    created = post(admin_client, "create_key", **{"key-name": "Zapier shop"})

    secret = created.context["new_secret"]
    key = ApiKey.objects.get(name="Zapier shop")
    assert ApiKey.authenticate(secret) == key
    text = created.content.decode()
    assert text.count(secret) == 2  # the copy field and the builder's key
    assert "shown only this once" in text

    again = admin_client.get(URL).content.decode()
    assert secret not in again
    assert key.display_prefix in again


def test_a_duplicate_key_name_is_refused_and_nothing_is_made(admin_client, api_key):
    answer = post(admin_client, "create_key", **{"key-name": "zapier"})
    assert "An API key with this name exists already." in answer.content.decode()
    assert ApiKey.objects.count() == 1


def test_a_key_is_revoked_from_the_page(admin_client, api_key):
    key, secret = api_key
    answer = post(admin_client, "revoke_key", key_id=key.pk)
    assert answer.status_code == 302
    assert ApiKey.authenticate(secret) is None
    assert "revoked" in admin_client.get(URL).content.decode()


@override_settings(BASE_URL="https://members.example.com")
@pytest.mark.parametrize(
    ("action", "chosen", "alias", "path", "query"),
    [
        (
            "add_membership",
            1,
            False,
            "/api/v1/members/add-membership",
            {"membership_id": "{0}"},
        ),
        (
            "remove_membership",
            2,
            True,
            "/wp-json/opm-api/v1/members/remove-membership",
            {"memberships": "{0},{1}"},
        ),
        (
            "create_member",
            2,
            False,
            "/api/v1/members",
            {"memberships": "{0},{1}", "notify": "1"},
        ),
    ],
)
def test_the_builder_makes_the_webhook_url(
    admin_client, api_key, make_membership, action, chosen, alias, path, query
):
    _, secret = api_key
    ids = [make_membership("Gold").pk, make_membership("Silver").pk][:chosen]
    fields = {"url-action": action, "url-memberships": ids, "url-key": secret}
    if alias:
        fields["url-alias"] = "on"
    if "notify" in query:
        fields["url-notify"] = "on"

    page = post(admin_client, "build_url", **fields)

    built = urlsplit(page.context["webhook_url"])
    assert f"{built.scheme}://{built.netloc}{built.path}" == (
        "https://members.example.com" + path
    )
    expected = {k: v.format(*ids) for k, v in query.items()}
    assert {k: v[0] for k, v in parse_qs(built.query).items()} == {
        "opm_api_key": secret,
        **expected,
    }
    assert page.context["curl"].startswith("curl -X POST '")
    assert 'data-copy-target="webhook-url"' in page.content.decode()


def test_the_builder_refuses_a_key_that_does_not_work(admin_client, make_membership):
    gold = make_membership("Gold")
    page = post(
        admin_client,
        "build_url",
        **{
            "url-action": "add_membership",
            "url-memberships": [gold.pk],
            "url-key": "x",
        },
    )
    assert "not a usable API key" in page.content.decode()
    assert "webhook_url" not in page.context


def test_the_builder_asks_for_a_membership_to_add(admin_client, api_key):
    page = post(
        admin_client,
        "build_url",
        **{"url-action": "add_membership", "url-key": api_key[1]},
    )
    assert "Choose at least one membership." in page.content.decode()


def test_staff_without_key_permissions_cannot_create_keys(client, db):
    from membergate.members.models import Member

    staff = Member.objects.create_user("staff@example.com", is_staff=True)
    client.force_login(staff)
    assert client.get(URL).status_code == 200
    assert post(client, "create_key", **{"key-name": "x"}).status_code == 403
    assert not ApiKey.objects.exists()
