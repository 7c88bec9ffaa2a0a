"""The response cache: exact-match answers for repeated requests, per tenant.

`policy` decides whether a request may be answered from the cache and under which key;
`replay` turns a cached completion into a stream and a streamed answer into a completion;
`store.responses` keeps the entries in UsageTable. `purge_tenant` is the admin entry point
(the CLI's `modelyard cache purge --tenant T`; an admin HTTP route can call the same).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelyard.store.responses import ResponseCacheStore


def purge_tenant(tenant: str, store: ResponseCacheStore | None = None) -> int:
    """Delete every cached response of `tenant`; returns how many entries were removed."""
    if store is None:
        from modelyard import aws
        from modelyard.settings import get_settings
        from modelyard.store.responses import ResponseCacheStore

        store = ResponseCacheStore(get_settings().usage_table, aws.client("dynamodb"))
    return store.purge(tenant)
