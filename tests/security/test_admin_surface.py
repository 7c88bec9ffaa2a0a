"""The admin surface: out of the router function's app, unreachable by encoded paths, not in
the public OpenAPI document; admin keys strong, created and rotated by the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from modelyard.auth.admin import check_admin_secret
from modelyard.cli import main
from modelyard.local.stack import LocalStack, ServerThread, free_port
from tests.security.support import client_for, root_url

#: ways to write `/admin/prices` that a proxy routing on the raw path would not call `/admin/`
ENCODED_ADMIN_PATHS = [
    "/%61dmin/prices",
    "/admin%2Fprices",
    "/admin%2fprices",
    "/%2561dmin/prices",
    "/%61%64%6d%69%6e/prices",
    "/ADMIN/prices",
    "//admin/prices",
]


@pytest.fixture(scope="module")
def deployed_apps(stack: LocalStack) -> Iterator[dict[str, str]]:
    """The router's and the admin function's apps, as their handlers build them, on loopback."""
    import handlers.admin
    import handlers.router

    servers = {}
    for name, app in (("router", handlers.router.app), ("admin", handlers.admin.app)):
        port = free_port()
        servers[name] = (ServerThread(app, port).start(), f"http://127.0.0.1:{port}")
    yield {name: url for name, (_server, url) in servers.items()}
    for server, _url in servers.values():
        server.stop()


def _get(base: str, path: str, secret: str) -> httpx.Response:
    return httpx.get(base + path, headers={"x-api-key": secret})


@pytest.mark.parametrize("path", ["/admin/prices", "/admin/keys", *ENCODED_ADMIN_PATHS])
def test_the_router_function_serves_no_admin_route(
    stack: LocalStack, deployed_apps: dict[str, str], path: str
) -> None:
    response = _get(deployed_apps["router"], path, stack.admin_key)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"
    assert _get(deployed_apps["router"], "/v1/models", stack.api_key).status_code == 200


def test_the_admin_function_serves_only_admin_routes(
    stack: LocalStack, deployed_apps: dict[str, str]
) -> None:
    assert _get(deployed_apps["admin"], "/admin/prices", stack.admin_key).status_code == 200
    assert _get(deployed_apps["admin"], "/v1/models", stack.api_key).status_code == 404
    assert _get(deployed_apps["admin"], "/openapi.json", stack.api_key).status_code == 404


@pytest.mark.parametrize("path", ENCODED_ADMIN_PATHS)
def test_encoded_admin_paths_are_refused_where_admin_routes_are_served(
    stack: LocalStack, deployed_apps: dict[str, str], path: str
) -> None:
    for base in (root_url(stack), deployed_apps["admin"]):  # `modelyard serve`; the function
        assert _get(base, "/admin/prices", stack.admin_key).status_code == 200
        assert _get(base, path, stack.admin_key).status_code == 404, (base, path)


def test_the_public_openapi_document_has_no_admin_route(
    stack: LocalStack, deployed_apps: dict[str, str]
) -> None:
    for base in (root_url(stack), deployed_apps["router"]):
        paths = httpx.get(base + "/openapi.json").json()["paths"]
        assert "/v1/chat/completions" in paths
        assert not [p for p in paths if "admin" in p]
    admin_paths = httpx.get(root_url(stack) + "/admin/openapi.json").json()["paths"]
    assert admin_paths and all(p.startswith("/admin/") for p in admin_paths)
    assert _get(deployed_apps["router"], "/admin/openapi.json", stack.api_key).status_code == 404


@pytest.mark.parametrize("secret", ["a", "sk-modelyard-admin", "admin" * 10, "ab" * 32])
def test_weak_admin_keys_are_refused_before_anything_starts(secret: str) -> None:
    with pytest.raises(ValueError, match="weak admin key"):
        check_admin_secret(secret)
    local = LocalStack(admin_key=secret)
    with pytest.raises(ValueError, match="weak admin key"):
        local.start()
    assert not hasattr(local, "_moto")


def test_modelyard_serve_refuses_a_weak_admin_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MODELYARD_ADMIN_KEY", "a")
    assert main(["serve", "--port", str(free_port())]) == 2
    assert "weak admin key" in capsys.readouterr().err


def test_admin_keys_are_created_and_rotated_by_the_cli(
    stack: LocalStack, capsys: pytest.CaptureFixture[str], new_key
) -> None:
    assert main(["admin-keys", "create", "--name", "ops"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["admin"] is True and created["name"] == "ops"
    check_admin_secret(created["key"])
    assert main(["admin-keys", "rotate", created["id"]]) == 0
    rotated = json.loads(capsys.readouterr().out)
    assert rotated["id"] == created["id"] and rotated["key"] != created["key"]
    with client_for(stack, rotated["key"]) as client:
        assert client.get("/admin/prices").status_code == 200
    with client_for(stack, created["key"]) as client:
        assert client.get("/admin/prices").status_code == 401
    tenant_key = new_key()
    assert main(["admin-keys", "rotate", tenant_key["id"]]) == 2  # not an admin key
    assert "no admin key" in capsys.readouterr().err
