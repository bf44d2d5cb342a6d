"""Behind trusted proxies the client's own address counts."""

import ipaddress

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from membergate import conf
from membergate.api.models import RequestLog
from membergate.core.proxies import client_address

PROXIES = [ipaddress.ip_network("127.0.0.1"), ipaddress.ip_network("10.0.0.0/8")]


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        # Straight from the client: the header is the client's to forge.
        ("203.0.113.9", "198.51.100.1", "203.0.113.9"),
        # Through the local proxy.
        ("127.0.0.1", "203.0.113.9", "203.0.113.9"),
        # A forged first hop is left of the one the proxy appended.
        ("127.0.0.1", "198.51.100.1, 203.0.113.9", "203.0.113.9"),
        # Through a load balancer on the private network, then the proxy.
        ("127.0.0.1", "203.0.113.9, 10.1.2.3", "203.0.113.9"),
        # A proxy that sent no header is its own client.
        ("127.0.0.1", "", "127.0.0.1"),
        # A hop that is no address stops the walk at the last proxy.
        ("127.0.0.1", "203.0.113.9, unknown", "127.0.0.1"),
        ("127.0.0.1", " 2001:db8::7 ", "2001:db8::7"),
    ],
)
def test_the_client_is_the_first_untrusted_hop_from_the_right(
    peer, forwarded_for, client
):
    assert client_address(peer, forwarded_for, PROXIES) == client


def test_failed_keys_count_per_client_behind_the_proxy(db, settings):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.1")]
    settings.API_AUTH_FAILURE_LIMIT = 2
    proxy = Client(REMOTE_ADDR="127.0.0.1")

    def guess(client: str) -> int:
        answer = proxy.get(
            "/api/v1/memberships",
            headers={"X-API-Key": "mg_wrong", "X-Forwarded-For": client},
        )
        return answer.status_code

    assert [guess("203.0.113.9") for _ in range(3)] == [401, 401, 429]
    # Another client behind the same proxy is not held back.
    assert guess("198.51.100.4") == 401
    assert set(RequestLog.objects.values_list("source_ip", flat=True)) == {
        "203.0.113.9",
        "198.51.100.4",
    }


def test_without_trusted_proxies_the_header_is_ignored(db, settings):
    settings.TRUSTED_PROXIES = []

    Client(REMOTE_ADDR="127.0.0.1").get(
        "/api/v1/memberships",
        headers={"X-API-Key": "mg_wrong", "X-Forwarded-For": "203.0.113.9"},
    )

    assert RequestLog.objects.get().source_ip == "127.0.0.1"


def test_a_proxy_list_that_is_not_addresses_is_refused(monkeypatch):
    monkeypatch.setenv("MEMBERGATE_TRUSTED_PROXIES", "127.0.0.1, proxy.local")

    with pytest.raises(ImproperlyConfigured, match=r"proxy\.local"):
        conf.env_networks("MEMBERGATE_TRUSTED_PROXIES")
