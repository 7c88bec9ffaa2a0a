"""The admin API (`/admin/...`): keys, tenants, spend across tenants. Admin keys only.

Every route authenticates the caller like the `/v1` routes do and then requires
`KeyRecord.admin`: any other key gets 403 `admin_required`, so no tenant's key can read or
change another tenant's keys, settings or spend here. Deployed, `/admin/{proxy+}` is served by
its own function (the only one allowed to write ConfigTable) behind IAM auth on the API; the
admin key then travels in `x-api-key`, since SigV4 takes the `Authorization` header.

Bodies are read with `read_json` (size, content type, UTF-8 and depth limits) and validated
with the models below, which the OpenAPI document shows as the request bodies.
"""

from __future__ import annotations

import asyncio
import calendar
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from modelyard import reports
from modelyard.api import ADMIN_PREFIX
from modelyard.api.deps import caller, validated
from modelyard.api.schemas import documented_body, error_responses
from modelyard.auth import admin
from modelyard.auth.budgets import Budget
from modelyard.auth.keys import KeyRecord
from modelyard.auth.tenants import TenantSettings
from modelyard.errors import InvalidRequest, NotFound, PermissionDenied
from modelyard.gateway import Gateway
from modelyard.pricing.prices import Price, format_usd

MAX_ADMIN_BODY_BYTES = 16 * 1024
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


def _real_date(value: str | None) -> str | None:
    """A date that exists (`2020-13-45` has the pattern's shape, and is a 400)."""
    if value is not None:
        date.fromisoformat(value)
    return value


#: a calendar date, YYYY-MM-DD
Day = Annotated[str, Field(pattern=DATE_PATTERN), AfterValidator(_real_date)]

Usd = Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=6)]
TenantName = Annotated[str, Path(pattern=admin.TENANT_PATTERN)]
KeyId = Annotated[str, Path(pattern=admin.KEY_ID_PATTERN)]


class _Budgets(BaseModel):
    model_config = ConfigDict(extra="forbid")

    daily_budget_usd: Usd | None = None
    monthly_budget_usd: Usd | None = None
    budget_mode: Literal["hard", "soft"] = "hard"

    def budget(self) -> Budget | None:
        if self.daily_budget_usd is None and self.monthly_budget_usd is None:
            return None
        return Budget(self.daily_budget_usd, self.monthly_budget_usd, self.budget_mode == "hard")


class KeyCreate(_Budgets):
    """A new virtual key for a tenant; everything but the tenant is optional."""

    tenant: str = Field(pattern=admin.TENANT_PATTERN)
    name: str = Field(default="", max_length=128)
    #: model ids the key may use (none: every model)
    models: list[Annotated[str, Field(min_length=1, max_length=256)]] | None = Field(
        default=None, max_length=256
    )
    #: provider ids the key may use (none: every provider)
    providers: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, max_length=64
    )
    rpm: int | None = Field(default=None, ge=1, le=1_000_000)
    tpm: int | None = Field(default=None, ge=1, le=1_000_000_000)
    #: when the key stops working (an ISO 8601 time with its offset, in the future)
    expires_at: AwareDatetime | None = None


class TenantUpdate(_Budgets):
    """A tenant's settings, replaced whole: budgets binding all its keys, prompt logging."""

    #: log prompt and completion text for this tenant's requests (off unless set)
    log_prompts: bool = False


class KeyView(BaseModel):
    id: str
    tenant: str
    name: str
    created_at: str
    revoked: bool
    admin: bool
    models: list[str]
    providers: list[str]
    daily_budget_usd: str | None
    monthly_budget_usd: str | None
    budget_mode: Literal["hard", "soft"] | None
    rpm: int | None
    tpm: int | None
    expires_at: str | None


class CreatedKey(KeyView):
    #: the secret: shown here once, never again
    key: str


class KeyList(BaseModel):
    object: Literal["list"]
    data: list[KeyView]


class TenantView(BaseModel):
    tenant: str
    daily_budget_usd: str | None
    monthly_budget_usd: str | None
    budget_mode: Literal["hard", "soft"] | None
    log_prompts: bool


class TenantSpend(BaseModel):
    tenant: str
    cost_usd: str
    requests: int
    tokens: int


class DaySpend(TenantSpend):
    day: str


class ModelSpend(BaseModel):
    model: str
    cost_usd: str
    requests: int
    tokens: int


class SpendReport(BaseModel):
    since: str | None
    until: str | None
    total_cost_usd: str
    by_tenant: list[TenantSpend]
    by_day: list[DaySpend]
    #: every tenant's spend per model (the catalog's models)
    by_model: list[ModelSpend]


router = APIRouter(
    prefix=ADMIN_PREFIX,
    tags=["admin"],
    responses=error_responses(statuses=(400, 401, 403, 404, 413, 415)),
)


async def _admin(request: Request) -> Gateway:
    """The gateway, once the caller has shown an admin key (401 without a key, 403 with
    any other)."""
    gateway, key = await caller(request)
    if not key.admin:
        raise PermissionDenied("this endpoint needs an admin key", code="admin_required")
    return gateway


async def _validated(request: Request, model: type[BaseModel]) -> Any:
    from modelyard.api.app import read_json  # app includes this router: import it late

    return validated(model, await read_json(request, MAX_ADMIN_BODY_BYTES))


def _epoch(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    epoch = calendar.timegm(moment.astimezone(UTC).timetuple())
    if epoch <= datetime.now(UTC).timestamp():
        raise InvalidRequest("expires_at must be in the future", param="expires_at")
    return epoch


def _created(secret: str, record: KeyRecord, status: int) -> JSONResponse:
    return JSONResponse({**admin.key_view(record), "key": secret}, status_code=status)


@router.post(
    "/keys", status_code=201, response_model=CreatedKey, openapi_extra=documented_body(KeyCreate)
)
async def create_key(request: Request) -> JSONResponse:
    """Create a key; the answer holds its secret, which is never shown again."""
    gateway = await _admin(request)
    spec: KeyCreate = await _validated(request, KeyCreate)
    secret, record = await asyncio.to_thread(
        admin.create_key,
        gateway.config,
        gateway.pepper,
        spec.tenant,
        name=spec.name,
        allowed_models=tuple(spec.models or ()),
        allowed_providers=tuple(spec.providers or ()),
        budget=spec.budget(),
        rpm=spec.rpm,
        tpm=spec.tpm,
        expires_at=_epoch(spec.expires_at),
    )
    return _created(secret, record, 201)


@router.get("/keys", response_model=KeyList)
async def list_keys(
    request: Request, tenant: Annotated[str, Query(pattern=admin.TENANT_PATTERN)]
) -> JSONResponse:
    """A tenant's keys, revoked ones included (no secrets, no hashes)."""
    gateway = await _admin(request)
    records = await asyncio.to_thread(gateway.config.tenant_keys, tenant)
    return JSONResponse({"object": "list", "data": [admin.key_view(r) for r in records]})


@router.get("/keys/{key_id}", response_model=KeyView)
async def get_key(request: Request, key_id: KeyId) -> JSONResponse:
    gateway = await _admin(request)
    record = await asyncio.to_thread(gateway.config.key_by_id, key_id)
    if record is None:
        raise _no_key(key_id)
    return JSONResponse(admin.key_view(record))


@router.post("/keys/{key_id}/rotate", response_model=CreatedKey)
async def rotate_key(request: Request, key_id: KeyId) -> JSONResponse:
    """A new secret for the key (same id, limits and budgets); the old secret stops working
    at once here and within seconds everywhere (store.config.KEY_CACHE_SECONDS)."""
    gateway = await _admin(request)
    rotated = await asyncio.to_thread(admin.rotate_key, gateway.config, gateway.pepper, key_id)
    if rotated is None:
        raise _no_key(key_id)
    return _created(*rotated, 200)


@router.delete("/keys/{key_id}", response_model=KeyView)
async def revoke_key(request: Request, key_id: KeyId) -> JSONResponse:
    """Revoke the key: within seconds, every instance refuses it."""
    gateway = await _admin(request)
    record = await asyncio.to_thread(gateway.config.revoke_key, key_id)
    if record is None:
        raise _no_key(key_id)
    return JSONResponse(admin.key_view(record))


@router.get("/tenants/{tenant}", response_model=TenantView)
async def get_tenant(request: Request, tenant: TenantName) -> JSONResponse:
    gateway = await _admin(request)
    settings = await asyncio.to_thread(gateway.config.tenant, tenant)
    return JSONResponse(_tenant_view(tenant, settings or TenantSettings()))


@router.put(
    "/tenants/{tenant}", response_model=TenantView, openapi_extra=documented_body(TenantUpdate)
)
async def put_tenant(request: Request, tenant: TenantName) -> JSONResponse:
    gateway = await _admin(request)
    spec: TenantUpdate = await _validated(request, TenantUpdate)
    settings = TenantSettings(budget=spec.budget(), log_prompts=spec.log_prompts)
    await asyncio.to_thread(gateway.config.put_tenant, tenant, settings)
    return JSONResponse(_tenant_view(tenant, settings))


class PriceUpdate(BaseModel):
    """A price version for a model, in force from `effective_from` (USD per million tokens)."""

    model_config = ConfigDict(extra="forbid")

    effective_from: Day
    input: Decimal = Field(ge=0, max_digits=12)
    output: Decimal = Field(ge=0, max_digits=12)
    cached_input: Decimal | None = Field(default=None, ge=0, max_digits=12)
    cache_write: Decimal | None = Field(default=None, ge=0, max_digits=12)
    reasoning: Decimal | None = Field(default=None, ge=0, max_digits=12)


class PriceView(BaseModel):
    model: str
    version: str
    effective_from: str
    input: str
    output: str
    cached_input: str | None
    cache_write: str | None
    reasoning: str | None


def _price_view(price: Price) -> dict[str, Any]:
    def text(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    return {
        "model": price.model,
        "version": price.version,
        "effective_from": price.effective_from,
        "input": str(price.input),
        "output": str(price.output),
        "cached_input": text(price.cached_input),
        "cache_write": text(price.cache_write),
        "reasoning": text(price.reasoning),
    }


@router.get("/prices", response_model=list[PriceView])
async def list_prices(request: Request) -> JSONResponse:
    """Every price version of every model, oldest first."""
    gateway = await _admin(request)
    catalog = await asyncio.to_thread(gateway.config.catalog)
    return JSONResponse(
        [_price_view(p) for model in sorted(catalog.prices) for p in catalog.prices[model]]
    )


@router.put(
    "/prices/{model:path}", response_model=PriceView, openapi_extra=documented_body(PriceUpdate)
)
async def put_price(request: Request, model: Annotated[str, Path(max_length=128)]) -> JSONResponse:
    """Add a price version (or correct one in place: same date). The ledger keeps the version
    that priced each request, so the past is never re-priced silently."""
    gateway = await _admin(request)
    spec: PriceUpdate = await _validated(request, PriceUpdate)
    catalog = await asyncio.to_thread(gateway.config.catalog)
    known = catalog.resolve(model)
    if known is None:
        raise NotFound(f"The model '{model}' does not exist", param="model")
    price = Price(model=known.id, **spec.model_dump())
    await asyncio.to_thread(gateway.config.put_price, price)
    return JSONResponse(_price_view(price))


class CachePurged(BaseModel):
    tenant: str
    purged: int


@router.delete("/tenants/{tenant}/cache", response_model=CachePurged)
async def purge_cache(request: Request, tenant: TenantName) -> JSONResponse:
    """Forget every cached response of the tenant (say, after a prompt or data change)."""
    await _admin(request)
    from modelyard.cache import purge_tenant

    purged = await asyncio.to_thread(purge_tenant, tenant)
    return JSONResponse({"tenant": tenant, "purged": purged})


@router.get("/spend", response_model=SpendReport)
async def spend(
    request: Request,
    since: Annotated[str | None, Query(pattern=DATE_PATTERN), AfterValidator(_real_date)] = None,
    until: Annotated[str | None, Query(pattern=DATE_PATTERN), AfterValidator(_real_date)] = None,
) -> JSONResponse:
    """Spend of every tenant, and of every model, between two dates (inclusive), from the
    aggregates."""
    gateway = await _admin(request)
    catalog = await gateway.config.catalog_async()
    report, rows = await asyncio.gather(
        asyncio.to_thread(gateway.usage.spend_by_tenant, since, until),
        asyncio.to_thread(
            reports.spend_rows,
            gateway.usage.client,
            gateway.usage.table,
            catalog,
            None,
            since or "0000-00-00",
            until or "9999-12-31",
        ),
    )
    report["by_model"] = [
        {**row, "cost_usd": format_usd(row["cost_usd"])} for row in reports.group(rows, "model")
    ]
    return JSONResponse(report)


def _tenant_view(tenant: str, settings: TenantSettings) -> dict[str, Any]:
    return {
        "tenant": tenant,
        **admin.budget_view(settings.budget),
        "log_prompts": settings.log_prompts,
    }


def _no_key(key_id: str) -> NotFound:
    return NotFound(f"no live key {key_id!r}", param="key_id", code="key_not_found")
