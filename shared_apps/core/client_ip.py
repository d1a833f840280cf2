"""The client's address of an HTTP request, trusting forwarding headers only from our proxies.

``X-Forwarded-For`` is written by whoever sends the request, so it is believed only when the
request comes straight from a proxy listed in ``TRUSTED_PROXIES`` (IPs or CIDR networks; empty
by default, so the socket peer, ``REMOTE_ADDR``, is the client). Behind such a proxy the client
is the address that proxy reported: the right-most entry of the header (entries to its left
were sent by the client and prove nothing). Parsing and validating the header is
django-ipware's (python-ipware underneath): ``proxy_count=0`` says no further proxy is listed
after the client in the chain, so it takes the last hop; the peer check is the one thing
ipware cannot do, since it never sees the socket.

A chain of several proxies (a CDN in front of the ingress) should have the first proxy that
we run (the ingress) resolve the real client (ingress-nginx: ``use-forwarded-headers`` with
``proxy-real-ip-cidr``), so that what reaches the app is again one hop.

``IPWARE_META_PRECEDENCE_ORDER`` is set to ``REMOTE_ADDR`` alone in the settings, so any other
caller of ipware's default (django-structlog's request logging) cannot be fooled either; the
``ip`` it logs is replaced by this module's answer (see ``CoreConfig.ready``).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest
from ipware import get_client_ip

FORWARDED_HEADERS = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
PEER_ONLY = ("REMOTE_ADDR",)


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    # Validated when the settings load (shared_apps.core.config.env_networks).
    return tuple(ipaddress.ip_network(entry) for entry in entries)


def _peer_is_trusted_proxy(peer: str | None) -> bool:
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    if not peer or not networks:
        return False
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def request_client_ip(request: HttpRequest) -> str | None:
    """The client's address: the peer's, or the one a trusted proxy peer reports."""
    if _peer_is_trusted_proxy(request.META.get("REMOTE_ADDR")):
        ip, _routable = get_client_ip(request, proxy_count=0, request_header_order=FORWARDED_HEADERS, strict=False)
    else:
        ip, _routable = get_client_ip(request, request_header_order=PEER_ONLY)
    return ip
