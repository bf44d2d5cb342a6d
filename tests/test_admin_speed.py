"""The admin speed bench, run small so that it keeps working."""

from bench.admin_speed import measure, pages, seed
from membergate.members.models import Grant, Member


def test_the_bench_seeds_members_and_grants_and_times_every_page(db):
    ids = seed(1000)

    assert Member.objects.count() == 1000
    assert Grant.objects.count() == 3000
    assert Grant.objects.active().count() == 2000
    assert Member.objects.filter(email="member500@example.com").exists()

    timings = measure(1000, ids[0], runs=1)
    assert list(timings) == [label for label, _ in pages(1000, ids[0])]
    assert all(len(times) == 1 and times[0] > 0 for times in timings.values())
