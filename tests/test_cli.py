import pytest
from django.core.management import CommandError, call_command

from membergate.apikeys.models import ApiKey
from membergate.members.models import Membership


def last_line(capsys) -> str:
    out: str = capsys.readouterr().out
    return out.strip().splitlines()[-1]


def test_apikey_create_prints_the_key_alone_on_the_last_line(db, capsys):
    call_command("apikey", "create", "--name", "zapier")
    secret = last_line(capsys)
    assert ApiKey.authenticate(secret) == ApiKey.objects.get(name="zapier")


def test_apikey_create_refuses_a_name_in_use(api_key):
    with pytest.raises(CommandError, match="exists already"):
        call_command("apikey", "create", "--name", "zapier")


def test_apikey_list_never_shows_secrets(api_key, capsys):
    key, secret = api_key
    call_command("apikey", "list")
    out = capsys.readouterr().out
    assert key.name in out
    assert key.display_prefix in out
    assert secret not in out


def test_apikey_revoke(api_key):
    _, secret = api_key
    call_command("apikey", "revoke", "zapier")
    assert ApiKey.authenticate(secret) is None
    with pytest.raises(CommandError, match="no API key"):
        call_command("apikey", "revoke", "nobody")


def test_membership_create_prints_the_id_alone_on_the_last_line(db, capsys):
    call_command("membership", "create", "--title", "Gold", "--duration", "3 months")
    membership = Membership.objects.get(pk=int(last_line(capsys)))
    assert (membership.title, membership.duration, membership.duration_count) == (
        "Gold",
        "months",
        3,
    )


@pytest.mark.parametrize(
    "duration", ["forever", "0 days", "3 fortnights", "until 31/1"]
)
def test_membership_create_refuses_bad_durations(db, duration):
    with pytest.raises(CommandError, match=r"duration|date"):
        call_command("membership", "create", "--title", "X", "--duration", duration)
    assert not Membership.objects.exists()


def test_membership_list_counts_active_members(member, make_membership, capsys):
    gold = make_membership("Gold")
    gold.grants.create(member=member)
    call_command("membership", "list")
    row = next(line for line in capsys.readouterr().out.splitlines() if "Gold" in line)
    assert row.split()[0] == str(gold.pk)
    assert row.split()[-1] == "1"
