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
    # Refused guesses count too, so the wait can reach into the next minute.
    assert 1 <= int(refused["Retry-After"]) <= 120
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


def test_the_limit_holds_over_any_sixty_seconds_not_only_within_a_minute(db):
    # Three hits at the end of one minute...
    for _ in range(3):
        assert ratelimit.hit("x", 3, count_refused=True, now=179.0).allowed
    # ...still count at the start of the next: a fixed minute would allow
    # three more here.
    refused = ratelimit.hit("x", 3, count_refused=True, now=181.0)
    assert not refused.allowed
    # The previous minute's three hits weigh 3 * (1 - t/60); with the refused
    # hit counted, one more fits once that falls to 1, forty seconds in.
    assert refused.retry_after == 39
    assert ratelimit.hit("x", 3, count_refused=True, now=181.0 + 39).allowed


def test_a_sender_over_the_limit_waits_into_the_next_minute(db):
    verdicts = [ratelimit.hit("y", 2, count_refused=True, now=130.0) for _ in range(4)]

    assert [v.allowed for v in verdicts] == [True, True, False, False]
    # Four hits this minute: the next one fits once 4 * (1 - t/60) <= 1,
    # 45 s into the next minute, which begins 50 s from now.
    assert verdicts[-1].retry_after == 95
    assert ratelimit.hit("y", 2, count_refused=True, now=130.0 + 95).allowed


def test_retrying_before_the_wait_is_over_pushes_it_further(db):
    for _ in range(3):
        ratelimit.hit("z", 2, count_refused=True, now=130.0)
    first = ratelimit.hit("z", 2, count_refused=True, now=131.0)
    again = ratelimit.hit("z", 2, count_refused=True, now=200.0)

    assert not first.allowed
    assert not again.allowed
    assert 200.0 + again.retry_after > 131.0 + first.retry_after


def test_counters_are_pruned_once_they_can_no_longer_count(db):
    ratelimit.hit("x", 5, count_refused=True, now=120.0)
    ratelimit.hit("x", 5, count_refused=True, now=185.0)
    ratelimit.hit("x", 5, count_refused=True, now=245.0)

    assert ratelimit.prune(now=245.0) == 1
    assert sorted(RateCounter.objects.values_list("window_start", flat=True)) == [
        180,
        240,
    ]


def test_a_good_sender_over_its_limit_is_not_held_back_by_its_refused_tries(db):
    for _ in range(2):
        assert ratelimit.hit("k", 2, count_refused=False, now=130.0).allowed
    for _ in range(5):
        assert not ratelimit.hit("k", 2, count_refused=False, now=140.0).allowed

    # The two served requests alone count: a third fits once they weigh 1,
    # thirty seconds into the next minute.
    assert not ratelimit.hit("k", 2, count_refused=False, now=189.0).allowed
    assert ratelimit.hit("k", 2, count_refused=False, now=210.0).allowed
