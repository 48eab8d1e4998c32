"""The client's address behind reverse proxies that are trusted, and only those.

Werkzeug's `ProxyFix(x_for=n)` believes the n-th hop from the right whoever connected; this
believes `X-Forwarded-For` only when the direct peer is one of `server.trusted_proxies`,
and then takes the right-most hop that is not itself a trusted proxy (every hop left of it
could have been written by the client). Without trusted proxies the header is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

PEER_KEY = "broadcaster.peer_addr"  # the direct peer, kept in the environ


def _address(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:4711"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "192.0.2.1:4711"
        text = text.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def client_address(
    peer: str | None, forwarded_for: str, trusted: tuple[Network, ...]
) -> str | None:
    """The client's address: `peer`, or, when `peer` is a trusted proxy, the right-most hop
    of `forwarded_for` that is not a trusted proxy (the left-most if all of them are)."""

    def is_trusted(ip: Address | None) -> bool:
        return ip is not None and any(ip in net for net in trusted)

    if not trusted or not is_trusted(_address(peer or "")):
        return peer
    client = peer
    for hop in reversed([h for h in forwarded_for.split(",") if h.strip()]):
        ip = _address(hop)
        if ip is None:
            break  # garbage: the hop that passed it on is as far as we can believe
        client = str(ip)
        if not is_trusted(ip):
            break
    return client


def client_key(address: str | None) -> str:
    """The address failures are counted under: an IPv6 client by its /64 (one host can use
    every address of its network), anything else as given."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class TrustedProxies:
    """WSGI middleware: `REMOTE_ADDR` becomes the client behind trusted proxies."""

    def __init__(self, app: WSGIApplication, trusted: Iterable[Network]) -> None:
        self.app = app
        self.trusted = tuple(trusted)

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes] | Iterator[bytes]:
        peer = environ.get("REMOTE_ADDR")
        environ[PEER_KEY] = peer
        if self.trusted:
            forwarded = environ.get("HTTP_X_FORWARDED_FOR", "")
            environ["REMOTE_ADDR"] = client_address(peer, forwarded, self.trusted)
        return self.app(environ, start_response)
