"""No key reaches another tenant's data: usage, feedback, jobs, stored responses and the admin
API."""

from __future__ import annotations

from modelyard.local.stack import LocalStack
from tests.security.support import CHAT, client_for


def test_a_tenant_sees_and_touches_only_its_own_data(stack: LocalStack, new_key):
    alice, bob = new_key(), new_key()
    with client_for(stack, alice["key"]) as a, client_for(stack, bob["key"]) as b:
        answered = b.post("/v1/chat/completions", json=CHAT)
        assert answered.status_code == 200
        request_id = answered.headers["x-modelyard-request-id"]
        job = b.post("/v1/chat/completions", json=CHAT, headers={"prefer": "respond-async"})
        assert job.status_code == 202
        stack.poller.drain()

        # usage: always the caller's tenant, whatever the query says
        usage = a.get("/v1/usage", params={"tenant": bob["tenant"]}).json()
        assert usage["tenant"] == alice["tenant"] and usage["total_requests"] == 0
        assert b.get("/v1/usage").json()["total_requests"] >= 1

        # feedback: another tenant's request id does not exist for this caller
        rating = {"request_id": request_id, "score": 1}
        refused = a.post("/v1/feedback", json=rating)
        assert refused.status_code == 404
        assert refused.json()["error"]["code"] == "request_not_found"

        # jobs: another tenant's job does not exist for this caller
        assert a.get(f"/v1/jobs/{job.json()['id']}").status_code == 404
        assert b.get(f"/v1/jobs/{job.json()['id']}").status_code == 200

        # keys, settings and spend: admin only
        for method, path in (
            ("GET", f"/admin/keys?tenant={bob['tenant']}"),
            ("DELETE", f"/admin/keys/{bob['id']}"),
            ("POST", f"/admin/keys/{bob['id']}/rotate"),
            ("GET", f"/admin/tenants/{bob['tenant']}"),
            ("GET", "/admin/spend"),
        ):
            assert a.request(method, path).status_code == 403, path
        assert a.put(f"/admin/tenants/{bob['tenant']}", json={}).status_code == 403
        assert a.post("/admin/keys", json={"tenant": bob["tenant"]}).status_code == 403

        # and bob's key still works, and his feedback is still his to give
        assert b.post("/v1/chat/completions", json=CHAT).status_code == 200
        assert b.post("/v1/feedback", json=rating).status_code == 200


def test_another_tenants_stored_response_does_not_exist(stack: LocalStack, new_key):
    alice, bob = new_key(), new_key()
    with client_for(stack, alice["key"]) as a, client_for(stack, bob["key"]) as b:
        created = b.post("/v1/responses", json={"model": "gpt-4o", "input": "mine"})
        assert created.status_code == 200, created.text
        response_id = created.json()["id"]
        for method, path in (
            ("GET", f"/v1/responses/{response_id}"),
            ("GET", f"/v1/responses/{response_id}/input_items"),
            ("DELETE", f"/v1/responses/{response_id}"),
        ):
            refused = a.request(method, path)
            assert refused.status_code == 404, path
            assert refused.json()["error"]["code"] == "response_not_found"
        chained = {"model": "gpt-4o", "input": "and?", "previous_response_id": response_id}
        assert a.post("/v1/responses", json=chained).status_code == 404
        assert b.get(f"/v1/responses/{response_id}").status_code == 200
        assert b.post("/v1/responses", json=chained).status_code == 200
