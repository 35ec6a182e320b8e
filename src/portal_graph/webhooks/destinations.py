"""Where a webhook may go: http(s) URLs whose host resolves only to public addresses.

A destination on loopback, a private network, link-local (which holds the cloud metadata
service, 169.254.169.254), or any other reserved range would let whoever registers an endpoint
make the server call inside its own network. The host is resolved when the endpoint is
registered and again before every delivery, and the delivery connects to the very address that
was checked (the Host header and TLS server name keep the name), so a DNS answer changed in
between cannot redirect it. `WEBHOOK_ALLOW_PRIVATE=true` lifts the rule (tests, receivers on
a private network).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

MAX_URL_LENGTH = 2000
# Metadata services outside the link-local range (AWS's IPv6 one; Alibaba's is link-local too).
METADATA = {ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")}


class DestinationRefused(ValueError):
    pass


class InvalidUrl(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Destination:
    url: str  # what to connect to: the checked address in place of the host
    host: str  # the name, for the Host header and the TLS server name
    port: int


def parse(url: str) -> SplitResult:
    if len(url) > MAX_URL_LENGTH:
        raise InvalidUrl(f"Use a URL of at most {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as error:
        raise InvalidUrl("Not a URL.") from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidUrl("Use an http or https URL with a host.")
    if parts.username or parts.password:
        raise InvalidUrl("Put no credentials in the URL; verify the signature instead.")
    return parts


def refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return (address.is_loopback or address.is_private or address.is_link_local
            or address.is_reserved or address.is_multicast or address.is_unspecified
            or not address.is_global or address in METADATA)


async def resolve(url: str, *, allow_private: bool) -> Destination:
    """The checked destination of `url`; raises InvalidUrl or DestinationRefused."""
    parts = parse(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port,
                                                             type=socket.SOCK_STREAM)
    except OSError as error:
        raise DestinationRefused(f"The host {host} does not resolve.") from error
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses:
        raise DestinationRefused(f"The host {host} does not resolve.")
    if not allow_private and any(refused(address) for address in addresses):
        raise DestinationRefused("The URL resolves to a loopback, private, link-local or "
                                 "reserved address.")
    address = addresses[0]
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{literal}:{port}"
    return Destination(url=urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")),
                       host=host if parts.port is None else f"{host}:{parts.port}", port=port)
