"""ConfigTable: the catalog, API keys and tenants.

Item layout (pk / sk):
  CATALOG / PROVIDER#<id>               a provider
  CATALOG / MODEL#<id>                  a model
  CATALOG / PRICE#<model>#<date>        one price version
  CATALOG / QUALITY#<task>#<model>      a per-task quality score
  KEY#<hmac> / KEY                      an API key (the hash is the lookup)
The whole catalog is one partition: one paginated Query loads it, then it is cached.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from modelyard.auth.budgets import Budget
from modelyard.auth.keys import KeyRecord
from modelyard.catalog import Capabilities, Catalog, Model, Provider, QualityScore
from modelyard.pricing.prices import Price
from modelyard.store.cache import TtlCache
from modelyard.store.dynamo import as_int, from_item, query_all, to_item

CATALOG_PK = "CATALOG"


class ConfigRepository:
    def __init__(self, table: str, client: Any, *, cache_seconds: float = 60.0) -> None:
        self.table = table
        self.client = client
        self._catalog: TtlCache[Catalog] = TtlCache(cache_seconds)
        self._keys: TtlCache[KeyRecord] = TtlCache(cache_seconds, negative_ttl=5.0)
        self._tenants: TtlCache[Budget] = TtlCache(cache_seconds, negative_ttl=cache_seconds)

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
        self.client.put_item(
            TableName=self.table,
            Item=to_item(
                {
                    "pk": f"KEY#{record.key_hash}",
                    "sk": "KEY",
                    "key_id": record.key_id,
                    "tenant": record.tenant,
                    "name": record.name,
                    "created_at": record.created_at or time.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "revoked": record.revoked,
                    "admin": record.admin,
                    "allowed_models": list(record.allowed_models) or None,
                    **(record.budget.as_item() if record.budget else {}),
                }
            ),
        )
        self._keys.invalidate(record.key_hash)

    # -- tenants -------------------------------------------------------------------------------
    async def tenant_budget_async(self, tenant: str) -> Budget | None:
        fresh, budget = self._tenants.peek(tenant)
        if fresh:
            return budget
        return await asyncio.to_thread(self.tenant_budget, tenant)

    def tenant_budget(self, tenant: str) -> Budget | None:
        return self._tenants.get_or_load(tenant, lambda: self._load_tenant_budget(tenant))

    def _load_tenant_budget(self, tenant: str) -> Budget | None:
        response = self.client.get_item(
            TableName=self.table, Key={"pk": {"S": f"TENANT#{tenant}"}, "sk": {"S": "TENANT"}}
        )
        return Budget.from_item(from_item(response["Item"])) if "Item" in response else None

    def put_tenant_budget(self, tenant: str, budget: Budget) -> None:
        self.client.put_item(
            TableName=self.table,
            Item=to_item(
                {"pk": f"TENANT#{tenant}", "sk": "TENANT", "tenant": tenant, **budget.as_item()}
            ),
        )
        self._tenants.invalidate(tenant)

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
        pending: dict[str, Any] = {self.table: batch}
        for delay in (0.0, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6):
            time.sleep(delay)
            pending = self.client.batch_write_item(RequestItems=pending).get("UnprocessedItems", {})
            if not pending:
                return len(batch)
        raise RuntimeError("DynamoDB left items unprocessed after retries")


def key_from_item(item: Mapping[str, Any]) -> KeyRecord:
    return KeyRecord(
        key_id=item["key_id"],
        tenant=item["tenant"],
        key_hash=str(item["pk"]).removeprefix("KEY#"),
        name=item.get("name", ""),
        created_at=item.get("created_at", ""),
        revoked=bool(item.get("revoked", False)),
        admin=bool(item.get("admin", False)),
        allowed_models=tuple(item.get("allowed_models") or ()),
        budget=Budget.from_item(dict(item)),
    )


def catalog_from_items(items: Iterable[Mapping[str, Any]]) -> Catalog:
    providers: dict[str, Provider] = {}
    models: dict[str, Model] = {}
    prices: dict[str, list[Price]] = {}
    quality: dict[str, dict[str, QualityScore]] = {}
    for item in items:
        kind = str(item["sk"]).split("#", 1)[0]
        if kind == "PROVIDER":
            providers[item["id"]] = Provider(
                id=item["id"],
                name=item.get("name", item["id"]),
                wire=item["wire"],
                base_url=item["base_url"],
                api_key_env=item.get("api_key_env", ""),
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
    return Catalog(
        providers=providers,
        models=models,
        prices={m: tuple(sorted(p, key=lambda x: x.effective_from)) for m, p in prices.items()},
        quality=quality,
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
