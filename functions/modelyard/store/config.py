"""ConfigTable: the catalog, API keys and tenants.

Item layout (pk / sk):
  CATALOG / PROVIDER#<id>               a provider
  CATALOG / MODEL#<id>                  a model
  CATALOG / PRICE#<model>#<date>        one price version
  CATALOG / QUALITY#<task>#<model>      a per-task quality score
  CATALOG / RETRY#<model> | RETRY#*     a retry policy (Step Functions' fields), one model's
                                        or every other model's
  KEY#<hmac> / KEY                      an API key (the hash is the lookup)
  KEYID#<id> / KEY                      the same key, by id (admin: rotate, revoke)
  TENANT#<t> / KEY#<id>                 the same key, by tenant (admin: list)
  TENANT#<t> / TENANT                   the tenant's settings (budgets, prompt logging)
The whole catalog is one partition: one paginated Query loads it, then it is cached.
The three items of a key carry the same attributes (plus `key_hash`) and are only ever written
together, in one TransactWriteItems, so the indexes never disagree with the key.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from modelyard.auth.budgets import Budget
from modelyard.auth.keys import KeyRecord
from modelyard.auth.tenants import TenantSettings
from modelyard.catalog import Capabilities, Catalog, Model, Provider, QualityScore
from modelyard.pricing.prices import Price
from modelyard.resilience.retry import RetryPolicy
from modelyard.store.cache import TtlCache
from modelyard.store.dynamo import as_int, from_item, query_all, to_item, write_batch

CATALOG_PK = "CATALOG"
#: The longest a key look-up is trusted, whatever the catalog's cache age: a key revoked or
#: rotated on one instance stops working on every other within this many seconds. Keys live in
#: many Lambda instances that nothing can notify, so the only bound is the cache's age; at
#: 5 s the price is one eventually consistent GetItem (half a read unit) per key per instance
#: every 5 s, whatever the request rate, which is small next to what a request costs. A
#: revocation marker read with each request would cost a read per request for the same bound.
KEY_CACHE_SECONDS = 5.0


class ConfigRepository:
    def __init__(self, table: str, client: Any, *, cache_seconds: float = 60.0) -> None:
        self.table = table
        self.client = client
        self._catalog: TtlCache[Catalog] = TtlCache(cache_seconds)
        self._keys: TtlCache[KeyRecord] = TtlCache(
            min(cache_seconds, KEY_CACHE_SECONDS), negative_ttl=5.0
        )
        self._tenants: TtlCache[TenantSettings] = TtlCache(
            cache_seconds, negative_ttl=cache_seconds
        )

    # -- catalog -------------------------------------------------------------------------------
    def catalog(self) -> Catalog:
        catalog = self._catalog.get_or_load(CATALOG_PK, self._load_catalog)
        assert catalog is not None
        return catalog

    def _load_catalog(self) -> Catalog:
        items = query_all(
            self.client,
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": CATALOG_PK}},
        )
        return catalog_from_items(items)

    async def catalog_async(self) -> Catalog:
        """The catalog without blocking the event loop when it must be (re)loaded."""
        fresh, catalog = self._catalog.peek(CATALOG_PK)
        if fresh and catalog is not None:
            return catalog
        return await asyncio.to_thread(self.catalog)

    def refresh(self) -> None:
        self._catalog.invalidate()
        self._keys.invalidate()
        self._tenants.invalidate()

    # -- keys ----------------------------------------------------------------------------------
    def key(self, key_hash: str) -> KeyRecord | None:
        return self._keys.get_or_load(key_hash, lambda: self._load_key(key_hash))

    async def key_async(self, key_hash: str) -> KeyRecord | None:
        fresh, record = self._keys.peek(key_hash)
        if fresh:
            return record
        return await asyncio.to_thread(self.key, key_hash)

    def _load_key(self, key_hash: str) -> KeyRecord | None:
        response = self.client.get_item(
            TableName=self.table,
            Key={"pk": {"S": f"KEY#{key_hash}"}, "sk": {"S": "KEY"}},
        )
        item = response.get("Item")
        return key_from_item(from_item(item)) if item else None

    def put_key(self, record: KeyRecord) -> None:
        """Write a key and its two index items together."""
        item = key_item(record)
        self.client.transact_write_items(
            TransactItems=[{"Put": self._put(item, pk, sk)} for pk, sk in _key_locations(record)]
        )
        self._keys.invalidate(record.key_hash)

    def key_by_id(self, key_id: str) -> KeyRecord | None:
        response = self.client.get_item(
            TableName=self.table,
            Key=to_item({"pk": f"KEYID#{key_id}", "sk": "KEY"}),
            ConsistentRead=True,
        )
        return key_from_item(from_item(response["Item"])) if "Item" in response else None

    def tenant_keys(self, tenant: str) -> list[KeyRecord]:
        items = query_all(
            self.client,
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :key)",
            ExpressionAttributeValues=to_item({":pk": f"TENANT#{tenant}", ":key": "KEY#"}),
        )
        return [key_from_item(item) for item in items]

    def revoke_key(self, key_id: str) -> KeyRecord | None:
        """Mark the key revoked on all three items; None when there is no such key."""
        record = self.key_by_id(key_id)
        if record is None:
            return None
        self.client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": to_item({"pk": pk, "sk": sk}),
                        "UpdateExpression": "SET revoked = :true",
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeValues": to_item({":true": True}),
                    }
                }
                for pk, sk in _key_locations(record)
            ]
        )
        self._keys.invalidate(record.key_hash)
        return replace(record, revoked=True)

    def rotate_key(self, key_id: str, new_hash: str) -> KeyRecord | None:
        """Give the key a new secret (same id, limits, budgets and usage); the old secret is
        revoked in the same transaction. None when there is no such live key, or when a
        concurrent rotation won."""
        old = self.key_by_id(key_id)
        if old is None or old.revoked:
            return None
        new = replace(old, key_hash=new_hash)
        item = key_item(new)
        by_id = self._put(item, f"KEYID#{key_id}", "KEY")
        by_id["ConditionExpression"] = "key_hash = :old"
        by_id["ExpressionAttributeValues"] = to_item({":old": old.key_hash})
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": to_item({"pk": f"KEY#{old.key_hash}", "sk": "KEY"}),
                            "UpdateExpression": "SET revoked = :true",
                            "ExpressionAttributeValues": to_item({":true": True}),
                        }
                    },
                    {"Put": self._put(item, f"KEY#{new_hash}", "KEY")},
                    {"Put": by_id},
                    {"Put": self._put(item, f"TENANT#{old.tenant}", f"KEY#{key_id}")},
                ]
            )
        except self.client.exceptions.TransactionCanceledException:
            return None
        self._keys.invalidate(old.key_hash)
        return new

    def _put(self, item: dict[str, Any], pk: str, sk: str) -> dict[str, Any]:
        return {"TableName": self.table, "Item": to_item({**item, "pk": pk, "sk": sk})}

    # -- tenants -------------------------------------------------------------------------------
    async def tenant_async(self, tenant: str) -> TenantSettings | None:
        fresh, settings = self._tenants.peek(tenant)
        if fresh:
            return settings
        return await asyncio.to_thread(self.tenant, tenant)

    def tenant(self, tenant: str) -> TenantSettings | None:
        return self._tenants.get_or_load(tenant, lambda: self._load_tenant(tenant))

    def _load_tenant(self, tenant: str) -> TenantSettings | None:
        response = self.client.get_item(
            TableName=self.table, Key={"pk": {"S": f"TENANT#{tenant}"}, "sk": {"S": "TENANT"}}
        )
        return TenantSettings.from_item(from_item(response["Item"])) if "Item" in response else None

    def put_tenant(self, tenant: str, settings: TenantSettings) -> None:
        self.client.put_item(
            TableName=self.table,
            Item=to_item(
                {"pk": f"TENANT#{tenant}", "sk": "TENANT", "tenant": tenant, **settings.as_item()}
            ),
        )
        self._tenants.invalidate(tenant)

    async def tenant_budget_async(self, tenant: str) -> Budget | None:
        settings = await self.tenant_async(tenant)
        return settings.budget if settings else None

    # -- prices --------------------------------------------------------------------------------
    def put_price(self, price: Price) -> None:
        """Add a price version (or correct one: same model and date); the past keeps its own."""
        self.client.put_item(
            TableName=self.table,
            Item=to_item(
                {
                    "pk": CATALOG_PK,
                    "sk": f"PRICE#{price.model}#{price.effective_from}",
                    "model": price.model,
                    "input": price.input,
                    "output": price.output,
                    "cached_input": price.cached_input,
                    "cache_write": price.cache_write,
                    "reasoning": price.reasoning,
                    "effective_from": price.effective_from,
                }
            ),
        )
        self._catalog.invalidate()

    # -- bulk ----------------------------------------------------------------------------------
    def put_items(self, items: Iterable[Mapping[str, Any]]) -> int:
        """Write plain items in batches of 25 (the seed); returns how many were written."""
        batch: list[dict[str, Any]] = []
        count = 0
        for item in items:
            batch.append({"PutRequest": {"Item": to_item(item)}})
            if len(batch) == 25:
                count += self._write(batch)
                batch = []
        if batch:
            count += self._write(batch)
        self._catalog.invalidate()
        return count

    def _write(self, batch: list[dict[str, Any]]) -> int:
        return write_batch(self.client, self.table, batch)


def _key_locations(record: KeyRecord) -> list[tuple[str, str]]:
    """(pk, sk) of a key's item and its two index items."""
    return [
        (f"KEY#{record.key_hash}", "KEY"),
        (f"KEYID#{record.key_id}", "KEY"),
        (f"TENANT#{record.tenant}", f"KEY#{record.key_id}"),
    ]


def key_item(record: KeyRecord) -> dict[str, Any]:
    """A key's attributes, as written on each of its three items (without pk and sk)."""
    return {
        "key_id": record.key_id,
        "key_hash": record.key_hash,
        "tenant": record.tenant,
        "name": record.name,
        "created_at": record.created_at or time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "revoked": record.revoked,
        "admin": record.admin,
        "allowed_models": list(record.allowed_models) or None,
        "allowed_providers": list(record.allowed_providers) or None,
        "rpm": record.rpm,
        "tpm": record.tpm,
        "expires_at": record.expires_at,
        "cache": None if record.cache == "allow" else record.cache,
        **(record.budget.as_item() if record.budget else {}),
    }


def key_from_item(item: Mapping[str, Any]) -> KeyRecord:
    return KeyRecord(
        key_id=item["key_id"],
        tenant=item["tenant"],
        key_hash=str(item.get("key_hash") or str(item["pk"]).removeprefix("KEY#")),
        name=item.get("name", ""),
        created_at=item.get("created_at", ""),
        revoked=bool(item.get("revoked", False)),
        admin=bool(item.get("admin", False)),
        allowed_models=tuple(item.get("allowed_models") or ()),
        budget=Budget.from_item(dict(item)),
        cache=str(item.get("cache") or "allow"),
        allowed_providers=tuple(item.get("allowed_providers") or ()),
        rpm=_optional_int(item.get("rpm")),
        tpm=_optional_int(item.get("tpm")),
        expires_at=_optional_int(item.get("expires_at")),
    )


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def catalog_from_items(items: Iterable[Mapping[str, Any]]) -> Catalog:
    providers: dict[str, Provider] = {}
    models: dict[str, Model] = {}
    prices: dict[str, list[Price]] = {}
    quality: dict[str, dict[str, QualityScore]] = {}
    retry: dict[str, RetryPolicy] = {}
    for item in items:
        kind = str(item["sk"]).split("#", 1)[0]
        if kind == "PROVIDER":
            providers[item["id"]] = Provider(
                id=item["id"],
                name=item.get("name", item["id"]),
                wire=item["wire"],
                base_url=item["base_url"],
                api_key_env=item.get("api_key_env", ""),
                api_version=item.get("api_version", ""),
                dialects=tuple(item.get("dialects") or ()),
            )
        elif kind == "MODEL":
            caps = item.get("capabilities") or {}
            models[item["id"]] = Model(
                id=item["id"],
                provider=item["provider"],
                upstream=item.get("upstream", item["id"]),
                kind=item.get("kind", "chat"),
                context_window=as_int(item.get("context_window"), 8192),
                max_output_tokens=as_int(item.get("max_output_tokens"), 4096),
                capabilities=Capabilities(**{k: bool(v) for k, v in caps.items()}),
                ttft_ms=as_int(item.get("ttft_ms"), 1000),
                tokens_per_second=as_int(item.get("tokens_per_second"), 30),
                aliases=tuple(item.get("aliases") or ()),
            )
        elif kind == "PRICE":
            prices.setdefault(item["model"], []).append(price_from_item(item))
        elif kind == "QUALITY":
            quality.setdefault(item["task"], {})[item["model"]] = QualityScore(
                score=Decimal(item["score"]), source=item.get("source", "")
            )
        elif kind == "RETRY":
            retry[str(item["sk"]).split("#", 1)[1]] = RetryPolicy.from_config(item["retriers"])
    return Catalog(
        providers=providers,
        models=models,
        prices={m: tuple(sorted(p, key=lambda x: x.effective_from)) for m, p in prices.items()},
        quality=quality,
        retry_policies=retry,
    )


def price_from_item(item: Mapping[str, Any]) -> Price:
    def dec(name: str) -> Decimal | None:
        value = item.get(name)
        return None if value is None else Decimal(str(value))

    return Price(
        model=item["model"],
        input=Decimal(str(item["input"])),
        output=Decimal(str(item["output"])),
        effective_from=item["effective_from"],
        cached_input=dec("cached_input"),
        cache_write=dec("cache_write"),
        reasoning=dec("reasoning"),
    )
