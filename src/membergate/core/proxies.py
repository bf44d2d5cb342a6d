"""The client's address when a trusted reverse proxy forwarded the request.

Rate limits, sign-in locks and the request log go by REMOTE_ADDR. Behind a
proxy that is the proxy's own address, shared by every client. Each proxy
appends the address it received the request from to X-Forwarded-For, so
reading that header from the right and skipping the proxies named in
MEMBERGATE_TRUSTED_PROXIES leads to the client. Without trusted proxies the
header is ignored: any client can send one.
"""

import ipaddress
from collections.abc import Callable, Sequence

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_address(peer: str, forwarded_for: str, trusted: Sequence[Network]) -> str:
    """The client's address, given the peer's and the X-Forwarded-For chain."""
    if not _is_trusted(peer, trusted):
        return peer
    client = peer
    for hop in reversed(forwarded_for.split(",")):
        try:
            address = ipaddress.ip_address(hop.strip())
        except ValueError:
            # A hop no proxy wrote: the chain cannot be followed further.
            break
        client = str(address)
        if not any(address in network for network in trusted):
            break
    return client


def _is_trusted(peer: str, trusted: Sequence[Network]) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in trusted)


class ClientAddressMiddleware:
    """Put the client's address in REMOTE_ADDR, for everything after it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response
        self.trusted: list[Network] = settings.TRUSTED_PROXIES

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if self.trusted:
            request.META["REMOTE_ADDR"] = client_address(
                request.META.get("REMOTE_ADDR", ""),
                request.META.get("HTTP_X_FORWARDED_FOR", ""),
                self.trusted,
            )
        return self.get_response(request)
