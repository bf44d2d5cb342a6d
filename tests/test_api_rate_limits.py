"""Rate limits: failed keys per source address, and requests per key."""

from django.test import Client

from membergate.api import ratelimit
from membergate.api.models import RateCounter
from membergate.apikeys.models import ApiKey
from tests.apiclient import Api


def test_too_many_failed_keys_from_one_address_are_refused(db, settings, api_key):
    settings.API_AUTH_FAILURE_LIMIT = 3
    bad = Api("mg_wrong")

    codes = [bad.get("/memberships").status_code for _ in range(4)]

    assert codes == [401, 401, 401, 429]
    refused = bad.get("/memberships")
    assert refused.json()["code"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60
    other_address = Client(REMOTE_ADDR="198.51.100.9").get(
        "/api/v1/memberships", headers={"X-API-Key": "mg_wrong"}
    )
    assert other_address.status_code == 401
    # A good key from the same address is still served.
    assert Api(api_key[1]).get("/memberships").status_code == 200


def test_a_key_with_a_limit_is_held_to_it(db):
    _, secret = ApiKey.create("limited", rate_limit_per_minute=2)
    sender = Api(secret)

    codes = [sender.get("/memberships").status_code for _ in range(3)]

    assert codes == [200, 200, 429]
    assert sender.get("/memberships")["Retry-After"]


def test_a_key_without_a_limit_writes_no_counter(api):
    for _ in range(5):
        assert api.get("/memberships").status_code == 200
    assert RateCounter.objects.count() == 0


def test_counters_use_fixed_minutes_and_are_pruned(db):
    assert ratelimit.hit("x", now=120.0) == (1, 60)
    assert ratelimit.hit("x", now=179.5) == (2, 1)
    assert ratelimit.hit("x", now=180.0) == (1, 60)
    assert ratelimit.prune(now=185.0) == 1
    assert list(RateCounter.objects.values_list("window_start", flat=True)) == [180]
