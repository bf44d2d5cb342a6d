import pytest

from membergate.apikeys.models import ApiKey, hash_secret


def test_the_key_is_stored_only_as_its_hash(db):
    key, secret = ApiKey.create("make")
    stored = ApiKey.objects.filter(pk=key.pk).values().get()
    assert secret not in [str(value) for value in stored.values()]
    assert stored["secret_hash"] == hash_secret(secret)


def test_the_right_key_is_accepted(api_key):
    key, secret = api_key
    assert ApiKey.authenticate(secret) == key


@pytest.mark.parametrize("wrong", ["", "mg_", "mg_nope", "x" * 500, "\udcff"])
def test_a_wrong_key_is_refused(api_key, wrong):
    assert ApiKey.authenticate(wrong) is None


def test_a_revoked_key_is_refused(api_key):
    key, secret = api_key
    key.revoke()
    assert ApiKey.authenticate(secret) is None


def test_use_is_recorded_at_most_once_a_minute(api_key, django_assert_num_queries):
    key, _ = api_key
    key.touch()
    first = ApiKey.objects.get(pk=key.pk).last_used_at
    assert first is not None
    with django_assert_num_queries(0):
        key.touch()
