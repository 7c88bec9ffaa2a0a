"""Server-side request forgery: no URL a request names makes the gateway reach inward.

Every URL form below goes through `providers.fetch` (the one place that fetches a caller's
URL) while a canary listens on loopback: it must never see a connection, every refusal must
read the same, and the transport must never be asked for anything but the public address.
A "public" host is played by a loopback server (`tests/security/loopback.py`), reached only
through a transport that maps its global address there: nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from modelyard.local.stack import LocalStack
from modelyard.providers.errors import ErrorKind, UpstreamError
from modelyard.providers.fetch import FetchPolicy, IPAddress, fetch, message, system_resolver
from modelyard.settings import Settings
from tests.security.loopback import PNG, PUBLIC_IP, Canary, LoopbackAsPublic, public_server

MAX_BYTES = 3_932_160  # the Bedrock adapter's cap
STRICT = FetchPolicy()
#: plain http allowed (the loopback "public" server speaks no TLS)
HTTP = FetchPolicy(allow_http=True, timeout_seconds=1.0)
#: the resolver of these tests: fixed answers, the system's for `localhost` only
NAMES = {
    "public.test": [PUBLIC_IP],
    "loopback.test": ["127.0.0.1"],
    "mixed.test": [PUBLIC_IP, "127.0.0.1"],
    "mapped.test": ["::ffff:127.0.0.1"],
    "metadata.test": ["169.254.169.254"],
}


async def resolve(host: str) -> list[IPAddress]:
    if host == "localhost":
        return await system_resolver(host)
    if host not in NAMES:
        raise socket.gaierror(socket.EAI_NONAME, "unknown name")
    return [ipaddress.ip_address(a) for a in NAMES[host]]


#: URL forms refused before any connection ({c}: the canary's port)
REFUSED = [
    "https://127.0.0.1:{c}/",
    "http://127.0.0.1:{c}/",  # plain http, not enabled
    "https://2130706433:{c}/",  # decimal
    "https://017700000001:{c}/",  # octal
    "https://0177.0.0.1:{c}/",  # octal, dotted
    "https://0x7f000001:{c}/",  # hex
    "https://0x7f.0.0.1:{c}/",  # hex, dotted
    "https://127.1:{c}/",  # short form
    "https://[::1]:{c}/",
    "https://[::ffff:127.0.0.1]:{c}/",  # IPv4-mapped
    "https://[::ffff:7f00:1]:{c}/",  # IPv4-mapped, hex
    "https://[64:ff9b::7f00:1]:{c}/",  # NAT64
    "https://[2002:7f00:1::]:{c}/",  # 6to4
    "https://localhost:{c}/",
    "https://loopback.test:{c}/",  # a name that resolves to loopback
    "https://mixed.test:{c}/",  # one public address and one loopback
    "https://mapped.test:{c}/",  # a name that resolves to an IPv4-mapped loopback
    "https://0.0.0.0:{c}/",
    "https://[::]:{c}/",
    "https://169.254.169.254/latest/meta-data/",  # cloud metadata
    "https://metadata.test/latest/meta-data/",
    "https://[fd00:ec2::254]/latest/meta-data/",  # EC2's IPv6 metadata
    "https://100.100.100.200/latest/meta-data/",  # Alibaba's, in carrier-grade NAT space
    "https://10.0.0.1/",
    "https://172.16.0.1/",
    "https://192.168.0.1/",
    "https://224.0.0.1/",  # multicast
    "https://240.0.0.1/",  # reserved
    "https://unresolvable.test/",
    "https://user:password@public.test/image.png",  # credentials in the URL
    "file:///etc/passwd",
    "gopher://127.0.0.1:{c}/_stats",
    "ftp://127.0.0.1:{c}/",
    "dict://127.0.0.1:{c}/info",
    "ldap://127.0.0.1:{c}/",
    "//127.0.0.1:{c}/",  # no scheme
    "",
]
#: paths on the public server that must fail, with plain http allowed
REFUSED_FROM_PUBLIC = [
    "/redirect-metadata",  # 302 to http://169.254.169.254/...
    "/redirect-canary",  # 302 to the canary on loopback
    "/redirect-loop",
    "/huge",  # a gigabyte, no length
    "/huge-declared",  # announced as 300 MB
    "/text",  # not an image
    "/gzip",  # compressed (could inflate past the cap)
    "/slow",  # past the timeout
    "/missing",  # 404
]


@pytest.fixture(scope="module")
def canary() -> Iterator[Canary]:
    listener = Canary()
    yield listener
    listener.close()


@pytest.fixture(scope="module")
def public(canary: Canary) -> Iterator[int]:
    with public_server(canary.port) as port:
        yield port


def _fetch(url: str, policy: FetchPolicy, transport: httpx.AsyncBaseTransport) -> Any:
    return asyncio.run(
        fetch(
            url, policy, MAX_BYTES, {"image/png"}.__contains__, resolve=resolve, transport=transport
        )
    )


@pytest.mark.parametrize("form", REFUSED)
def test_refused_url_form_never_connects(form: str, canary: Canary, public: int) -> None:
    transport = LoopbackAsPublic(public)
    with pytest.raises(UpstreamError) as refused:
        _fetch(form.format(c=canary.port), STRICT, transport)
    assert refused.value.kind is ErrorKind.BAD_REQUEST
    assert refused.value.message == message(STRICT, MAX_BYTES)  # the same, whatever it was
    assert transport.sent == []
    assert canary.connections == []


@pytest.mark.parametrize("path", REFUSED_FROM_PUBLIC)
def test_public_answer_that_leads_inward_or_is_too_much_is_refused(
    path: str, canary: Canary, public: int
) -> None:
    transport = LoopbackAsPublic(public)
    started = time.monotonic()
    with pytest.raises(UpstreamError) as refused:
        _fetch(f"http://public.test{path}", HTTP, transport)
    assert refused.value.message == message(HTTP, MAX_BYTES)
    assert time.monotonic() - started < HTTP.timeout_seconds + 1
    # the first hop was made (so the test can fail), and only to the public address
    assert transport.sent and all(httpx.URL(u).host == PUBLIC_IP for u in transport.sent)
    assert canary.connections == []


def test_public_image_is_fetched_through_a_checked_redirect(public: int) -> None:
    transport = LoopbackAsPublic(public)
    assert _fetch("http://public.test/redirect-image", HTTP, transport) == ("image/png", PNG)
    assert [httpx.URL(u).path for u in transport.sent] == ["/redirect-image", "/image.png"]


def test_fetching_off_fetches_nothing(public: int) -> None:
    off = FetchPolicy(enabled=False, allow_http=True)
    transport = LoopbackAsPublic(public)
    with pytest.raises(UpstreamError) as refused:
        _fetch("http://public.test/image.png", off, transport)
    assert "data: URL" in refused.value.message
    assert transport.sent == []


def test_fetch_settings_come_from_the_environment() -> None:
    assert FetchPolicy.from_settings(Settings.from_env({})) == FetchPolicy(True, False, 10.0)
    settings = Settings.from_env({"MODELYARD_FETCH_URLS": "off", "MODELYARD_FETCH_ALLOW_HTTP": "1"})
    assert FetchPolicy.from_settings(settings) == FetchPolicy(False, True, 10.0)


def test_gateway_answers_the_same_for_an_open_and_a_closed_loopback_port(
    stack: LocalStack, api: httpx.Client, canary: Canary
) -> None:
    """Through the API to the Bedrock adapter: no port scan by error message."""
    closed = socket.create_server(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    answers = set()
    for url in (
        f"https://127.0.0.1:{canary.port}/",
        f"http://127.0.0.1:{canary.port}/",
        f"https://127.0.0.1:{closed_port}/",
        f"https://localhost:{canary.port}/x.png",
    ):
        image = {"type": "image_url", "image_url": {"url": url}}
        body = {
            "model": "bedrock-claude-sonnet-4",
            "max_tokens": 8,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}, image]}],
        }
        response = api.post("/chat/completions", json=body)
        assert response.status_code == 400, response.text
        answers.add(response.json()["error"]["message"])
    assert len(answers) == 1 and "data: URL" in answers.pop()
    assert canary.connections == []
