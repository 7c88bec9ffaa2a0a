"""The admin API: keys are shown once, listed without secrets, rotated and revoked; only admin
keys reach it; revocation and expiry take effect within the documented time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx

from modelyard.local.stack import LocalStack
from modelyard.store.config import KEY_CACHE_SECONDS, ConfigRepository
from tests.security.support import CHAT, client_for


def chat_status(stack: LocalStack, secret: str) -> int:
    with client_for(stack, secret) as client:
        return client.post("/v1/chat/completions", json=CHAT).status_code


def test_a_key_is_shown_once_and_listed_without_secret_or_hash(stack, admin, new_key):
    created = new_key(name="ci", models=["deepseek-v4-flash"], rpm=100, daily_budget_usd="5")
    assert created["key"].startswith("sk-my-") and created["id"].startswith("key_")
    assert created["models"] == ["deepseek-v4-flash"] and created["rpm"] == 100
    assert created["daily_budget_usd"] == "5" and created["budget_mode"] == "hard"
    assert chat_status(stack, created["key"]) == 200

    listing = admin.get("/admin/keys", params={"tenant": created["tenant"]})
    assert listing.status_code == 200
    (listed,) = listing.json()["data"]
    assert listed["id"] == created["id"] and "key" not in listed
    key_hash = stack.config.key_by_id(created["id"]).key_hash
    for text in (listing.text, admin.get(f"/admin/keys/{created['id']}").text):
        assert created["key"] not in text and key_hash not in text


def test_rotation_revokes_the_old_secret_and_keeps_the_id(stack, admin, new_key):
    created = new_key()
    rotated = admin.post(f"/admin/keys/{created['id']}/rotate")
    assert rotated.status_code == 200
    assert rotated.json()["id"] == created["id"] and rotated.json()["key"] != created["key"]
    assert chat_status(stack, created["key"]) == 401
    assert chat_status(stack, rotated.json()["key"]) == 200


def test_a_revoked_key_stops_working_on_every_instance_within_the_cache_age(stack, admin, new_key):
    created = new_key()
    assert chat_status(stack, created["key"]) == 200  # now cached by the gateway
    # revoked through another instance's repository (as the CLI or the admin function would):
    # the gateway's own cache is not told
    other = ConfigRepository(stack.config.table, stack.config.client)
    assert other.revoke_key(created["id"]).revoked
    revoked_at = time.monotonic()
    while chat_status(stack, created["key"]) != 401:
        assert time.monotonic() - revoked_at < KEY_CACHE_SECONDS + 1.5
        time.sleep(0.25)
    assert admin.delete(f"/admin/keys/{created['id']}").json()["revoked"] is True


def test_revocation_through_the_admin_api_is_immediate_on_its_instance(stack, admin, new_key):
    created = new_key()
    assert chat_status(stack, created["key"]) == 200
    assert admin.delete(f"/admin/keys/{created['id']}").status_code == 200
    assert chat_status(stack, created["key"]) == 401
    assert admin.post(f"/admin/keys/{created['id']}/rotate").status_code == 404


def test_an_expired_key_is_refused(stack, admin, new_key):
    soon = datetime.now(UTC) + timedelta(seconds=2)
    created = new_key(expires_at=soon.isoformat())
    assert chat_status(stack, created["key"]) == 200
    time.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.2)
    with client_for(stack, created["key"]) as client:
        refused = client.post("/v1/chat/completions", json=CHAT)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "expired_api_key"
    past = admin.post("/admin/keys", json={"tenant": "x", "expires_at": "2001-01-01T00:00:00Z"})
    assert past.status_code == 400


def test_a_key_limited_to_providers_cannot_use_others(stack, new_key):
    created = new_key(providers=["openai"])
    with client_for(stack, created["key"]) as client:
        assert client.post("/v1/chat/completions", json=CHAT).status_code == 403
        ok = client.post("/v1/chat/completions", json={**CHAT, "model": "auto"})
        assert ok.status_code == 200 and ok.headers["x-modelyard-provider"] == "openai"
        models = {m["id"] for m in client.get("/v1/models").json()["data"]}
    assert "gpt-4o" in models and "deepseek-v4-flash" not in models


def test_every_admin_route_refuses_tenant_keys_and_anonymous_callers(stack, new_key):
    tenant_key = new_key()["key"]
    paths = httpx.get(f"{str(stack.base_url)[:-3]}/admin/openapi.json").json()["paths"]
    admin_operations = [
        (method, path.replace("{key_id}", "key_0123456789abcdef").replace("{tenant}", "local"))
        for path, item in paths.items()
        if path.startswith("/admin")
        for method in item
    ]
    assert len(admin_operations) >= 8
    for method, path in admin_operations:
        params = {"tenant": "local"} if path == "/admin/keys" else None
        with client_for(stack, tenant_key) as client:
            forbidden = client.request(method, path, params=params, json={"tenant": "local"})
        assert forbidden.status_code == 403, (method, path)
        assert forbidden.json()["error"]["code"] == "admin_required"
        anonymous = httpx.request(method, f"{str(stack.base_url)[:-3]}{path}", params=params)
        assert anonymous.status_code == 401, (method, path)


def test_tenant_settings_and_spend_across_tenants(stack, admin, new_key):
    created = new_key()
    tenant = created["tenant"]
    put = admin.put(f"/admin/tenants/{tenant}", json={"monthly_budget_usd": 50})
    assert put.status_code == 200 and put.json()["monthly_budget_usd"] == "50"
    assert admin.get(f"/admin/tenants/{tenant}").json()["log_prompts"] is False
    assert chat_status(stack, created["key"]) == 200
    stack.poller.drain()
    spend = admin.get("/admin/spend", params={"since": "2000-01-01"})
    assert spend.status_code == 200
    report = spend.json()
    assert tenant in {row["tenant"] for row in report["by_tenant"]}
    by_model = {row["model"]: row for row in report["by_model"]}
    assert by_model[CHAT["model"]]["requests"] >= 1
    # every request counted by model is counted by tenant too (not the reverse: a request that
    # failed before any model was tried has no model)
    assert sum(row["requests"] for row in by_model.values()) <= sum(
        row["requests"] for row in report["by_tenant"]
    )
    assert admin.get("/admin/spend", params={"since": "yesterday"}).status_code == 400


def test_prices_are_versioned_through_the_admin_api(admin):
    body = {"effective_from": "2099-03-01", "input": "0.12", "output": "0.24"}
    put = admin.put("/admin/prices/deepseek-ai/DeepSeek-V4-Flash", json=body)
    assert put.status_code == 200, put.text
    assert put.json()["version"] == "deepseek-v4-flash@2099-03-01"
    versions = [p for p in admin.get("/admin/prices").json() if p["model"] == "deepseek-v4-flash"]
    assert [p["effective_from"] for p in versions][:2] == ["2026-01-01", "2099-03-01"]
    assert versions[0]["input"] == "0.14", "the earlier version keeps pricing the past"
    assert admin.put("/admin/prices/gpt-9", json=body).status_code == 404
    bad = admin.put("/admin/prices/gpt-4o", json={**body, "input": "-1"})
    assert bad.status_code == 400


def test_a_tenants_cache_can_be_purged(admin):
    purged = admin.delete("/admin/tenants/acme/cache")
    assert purged.status_code == 200 and purged.json() == {"tenant": "acme", "purged": 0}
