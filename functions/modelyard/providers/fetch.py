"""Fetching a URL that a caller gave (a linked image): the one door through which the gateway
reaches a place a request named, so that no request makes it reach inward.

A fetch is refused unless: the scheme is `https` (`http` only where the operator allows it,
`MODELYARD_FETCH_ALLOW_HTTP`); the host is a name, or a canonical IP address (no decimal,
octal or hex forms such as `2130706433` or `0177.0.0.1`); and every address the name resolves
to is a public unicast one (not loopback, private, shared, link-local, unique-local,
multicast, reserved, unspecified or a cloud metadata address, IPv4-mapped and other embedded
IPv4 forms judged as the IPv4 they carry). The connection goes to the address that was checked
(the URL's host is replaced by it; `Host` and the TLS server name, which the certificate is
verified against, stay the original name), so a second look-up cannot point it elsewhere.
Redirects are followed by hand, at most `MAX_REDIRECTS`, each hop checked like the first. The
body is streamed and refused past `max_bytes`, the whole fetch bounded by a timeout, and no
proxy from the environment is used. Every failure, whatever it was, gives the same message: an
answer must not tell a closed port from a refused address.

`MODELYARD_FETCH_URLS=off` turns fetching off: then only inline `data:` URLs work.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from modelyard.capped import TooLarge, read_capped
from modelyard.providers.errors import ErrorKind, UpstreamError
from modelyard.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: host name -> the addresses it resolves to (replaceable in tests)
Resolver = Callable[[str], Awaitable[list[IPAddress]]]

MAX_REDIRECTS = 3
REDIRECTS = {301, 302, 303, 307, 308}
#: addresses `is_global` lets through that still lead inward or nowhere
_REFUSED_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT, and Alibaba's metadata 100.100.100.200
        "192.0.0.0/24",
        "198.18.0.0/15",
        "224.0.0.0/3",  # multicast and the reserved 240/4
        "64:ff9b:1::/48",
        "ff00::/8",
    )
)
#: a host written as numbers: what `inet_aton` would read as an IPv4 address in some form
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*\.?$", re.IGNORECASE)


class FetchRefused(Exception):
    """Why a fetch did not happen (for the logs and tests; the client sees `GENERIC`)."""


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    enabled: bool = True
    allow_http: bool = False
    timeout_seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchPolicy:
        return cls(settings.fetch_urls, settings.fetch_allow_http, settings.fetch_timeout_seconds)


def message(policy: FetchPolicy, max_bytes: int) -> str:
    """The one answer for any failed fetch."""
    if not policy.enabled:
        return "linked URLs are not fetched here: send the content inline as a data: URL"
    schemes = "http or https" if policy.allow_http else "https"
    return (
        f"could not fetch the linked URL: it must be a public {schemes} URL answering within "
        f"{policy.timeout_seconds:g} s and {max_bytes} bytes; or send it inline as a data: URL"
    )


def refused_address(ip: IPAddress) -> bool:
    """True for any address a fetch must not reach."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo or (None, None))[1]
        if embedded is None and ip in ipaddress.ip_network("64:ff9b::/96"):  # NAT64
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return refused_address(embedded)
    return (
        not ip.is_global
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_link_local
        or any(ip in network for network in _REFUSED_NETWORKS if network.version == ip.version)
    )


async def system_resolver(host: str) -> list[IPAddress]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


async def checked_address(url: httpx.URL, policy: FetchPolicy, resolve: Resolver) -> IPAddress:
    """The one address `url` may be fetched from, or `FetchRefused`."""
    if url.scheme != "https" and not (url.scheme == "http" and policy.allow_http):
        raise FetchRefused(f"scheme {url.scheme!r}")
    host = url.host
    if not host or url.userinfo:
        raise FetchRefused("no host, or credentials in the URL")
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(host)]
    except ValueError:
        if _NUMERIC_HOST.match(host):
            raise FetchRefused(f"non-canonical numeric host {host!r}") from None
        try:
            addresses = await resolve(host)
        except (OSError, UnicodeError, ValueError) as exc:
            raise FetchRefused(f"cannot resolve {host!r}") from exc
    if not addresses or any(refused_address(a) for a in addresses):
        raise FetchRefused(f"{host!r} has a refused address")
    return addresses[0]


async def fetch(
    url: str,
    policy: FetchPolicy,
    max_bytes: int,
    accept: Callable[[str], bool],
    *,
    resolve: Resolver = system_resolver,
    transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[str, bytes]:
    """The media type and body at `url`, whose media type must pass `accept`; any failure is
    an `UpstreamError` (bad request) with the one message."""
    try:
        if not policy.enabled:
            raise FetchRefused("fetching is off")
        async with asyncio.timeout(policy.timeout_seconds):
            return await _fetch(httpx.URL(url), policy, max_bytes, accept, resolve, transport)
    except (FetchRefused, httpx.HTTPError, httpx.InvalidURL, TimeoutError, OSError) as exc:
        raise UpstreamError(ErrorKind.BAD_REQUEST, message(policy, max_bytes)) from exc


async def _fetch(
    url: httpx.URL,
    policy: FetchPolicy,
    max_bytes: int,
    accept: Callable[[str], bool],
    resolve: Resolver,
    transport: httpx.AsyncBaseTransport | None,
) -> tuple[str, bytes]:
    limits = httpx.Limits(max_keepalive_connections=0)  # no connection outlives its check
    async with httpx.AsyncClient(trust_env=False, limits=limits, transport=transport) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            address = await checked_address(url, policy, resolve)
            request = client.build_request(
                "GET",
                url.copy_with(host=str(address)),
                headers={"host": url.netloc.decode("ascii"), "accept-encoding": "identity"},
                extensions={"sni_hostname": url.raw_host.decode("ascii")},
            )
            response = await client.send(request, stream=True)
            try:
                if response.status_code in REDIRECTS and "location" in response.headers:
                    url = url.join(response.headers["location"])
                    continue
                return await _body(response, max_bytes, accept)
            finally:
                await response.aclose()
    raise FetchRefused("too many redirects")


async def _body(
    response: httpx.Response, max_bytes: int, accept: Callable[[str], bool]
) -> tuple[str, bytes]:
    """The body, refused past `max_bytes`; only an uncompressed one (a compressed chunk could
    inflate far past the cap before it is counted)."""
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    encoding = response.headers.get("content-encoding", "identity").lower()
    if response.status_code != 200 or not accept(media_type) or encoding != "identity":
        raise FetchRefused(f"status {response.status_code}, type {media_type!r}, {encoding}")
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise FetchRefused(f"content-length {length}")
    try:
        return media_type, await read_capped(response.aiter_bytes(), max_bytes)
    except TooLarge as exc:
        raise FetchRefused(f"body {exc}") from exc
