"""`modelyard`: the command line (CONTRACT.md lists the commands)."""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from modelyard.cache import commands as cache_commands
from modelyard.pricing import commands as pricing_commands
from modelyard.pricing import overhead_commands
from modelyard.routing import commands as routing_commands


class CommandError(Exception):
    """A one-line error for the user; exits non-zero."""


def _offline_catalog() -> Any:
    from modelyard.store.config import catalog_from_items
    from modelyard.store.seed import seed_items

    return catalog_from_items(seed_items())


# -- serve -------------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from modelyard.local.stack import LocalStack
    from modelyard.logs import RedactingFilter

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())  # no key in a console line either
    stack = LocalStack(simulate=args.simulate).start()
    try:
        from modelyard.api.app import create_app

        base = f"http://127.0.0.1:{args.port}/v1"
        print(f"Modelyard gateway  {base}", flush=True)
        print(f"API key            {stack.api_key}", flush=True)
        print(f"admin key          {stack.admin_key}", flush=True)
        print(f"embedded AWS       {stack.endpoint} (moto)", flush=True)
        if stack.simulated:
            print(
                f"SIMULATED upstreams {stack.sim_url} for: {', '.join(stack.simulated)}", flush=True
            )
        uvicorn.run(
            create_app(admin=True),
            host="127.0.0.1",
            port=args.port,
            log_level="warning",
            access_log=False,
        )
    finally:
        stack.stop()


# -- seed and keys -----------------------------------------------------------------------------
def _config_repository() -> Any:
    from modelyard import aws
    from modelyard.settings import get_settings
    from modelyard.store.config import ConfigRepository

    return ConfigRepository(get_settings().config_table, aws.client("dynamodb"))


def cmd_seed(args: argparse.Namespace) -> None:
    from pathlib import Path

    from modelyard.store.seed import seed_items

    items = list(seed_items(Path(args.dir) if args.dir else None))
    count = _config_repository().put_items(items)
    print(
        f"seeded {count} items into {os.environ.get('MODELYARD_CONFIG_TABLE', 'modelyard-config')}"
    )


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def _pepper() -> str:
    from modelyard.settings import get_settings
    from modelyard.wiring import key_pepper

    return key_pepper(get_settings())


def cmd_keys_create(args: argparse.Namespace) -> None:
    from datetime import datetime

    from modelyard.auth.admin import create_key, key_view
    from modelyard.auth.budgets import Budget

    budget = None
    if args.daily_budget is not None or args.monthly_budget is not None:
        budget = Budget(args.daily_budget, args.monthly_budget, hard=not args.soft_budget)
    expires_at = None
    if args.expires_at:
        moment = datetime.fromisoformat(args.expires_at)
        if moment.tzinfo is None:
            raise CommandError("--expires-at needs a UTC offset, e.g. 2026-12-31T00:00:00Z")
        expires_at = int(moment.timestamp())
    secret, record = create_key(
        _config_repository(),
        _pepper(),
        args.tenant,
        name=args.name or "",
        allowed_models=_csv(args.models),
        allowed_providers=_csv(args.providers),
        budget=budget,
        rpm=args.rpm,
        tpm=args.tpm,
        expires_at=expires_at,
    )
    print(json.dumps({**key_view(record), "key": secret}))
    print("store the key now: it is not shown again", file=sys.stderr)


def cmd_keys_list(args: argparse.Namespace) -> None:
    from modelyard.auth.admin import key_view

    for record in _config_repository().tenant_keys(args.tenant):
        print(json.dumps(key_view(record)))


def cmd_keys_rotate(args: argparse.Namespace, admin: bool = False) -> None:
    from modelyard.auth.admin import key_view, rotate_key

    config = _config_repository()
    if admin:
        current = config.key_by_id(args.id)
        if current is None or not current.admin:
            raise CommandError(f"no admin key {args.id}")
    rotated = rotate_key(config, _pepper(), args.id)
    if rotated is None:
        raise CommandError(f"no live key {args.id}")
    secret, record = rotated
    print(json.dumps({**key_view(record), "key": secret}))
    print("the old secret is revoked; store the new one now", file=sys.stderr)


def cmd_admin_keys_create(args: argparse.Namespace) -> None:
    """An admin key in the ConfigTable the environment names (deployed: the stack's), with a
    generated secret: the one way to get a first admin key onto a deployment."""
    from modelyard.auth.admin import ADMIN_TENANT, create_key, key_view

    secret, record = create_key(
        _config_repository(), _pepper(), ADMIN_TENANT, name=args.name or "", admin=True
    )
    print(json.dumps({**key_view(record), "key": secret}))
    print("store the admin key now: it is not shown again", file=sys.stderr)


def cmd_keys_revoke(args: argparse.Namespace) -> None:
    from modelyard.auth.admin import key_view
    from modelyard.store.config import KEY_CACHE_SECONDS

    record = _config_repository().revoke_key(args.id)
    if record is None:
        raise CommandError(f"no key {args.id}")
    print(json.dumps(key_view(record)))
    print(f"every gateway refuses it within {KEY_CACHE_SECONDS:.0f} s", file=sys.stderr)


# -- routing -----------------------------------------------------------------------------------
def cmd_route_explain(args: argparse.Namespace) -> None:
    from modelyard.routing.planner import RequestFeatures, RouteRequest, plan_route

    body: dict[str, Any] = {
        "model": args.model,
        "messages": [{"role": "user", "content": args.prompt}],
    }
    if args.policy:
        body["modelyard"] = {"policy": args.policy}
    plan = plan_route(
        RouteRequest.from_body(body), RequestFeatures.from_chat(body), _offline_catalog()
    )
    print(json.dumps(plan.explain(), indent=2))


# -- prices ------------------------------------------------------------------------------------
def cmd_prices_list(args: argparse.Namespace) -> None:
    catalog = _config_repository().catalog()
    print("| model | effective from | input $/M | output $/M | cached input $/M |")
    print("|---|---|---|---|---|")
    for model in sorted(catalog.prices):
        if args.model and model != args.model:
            continue
        for price in catalog.prices[model]:
            cached = "" if price.cached_input is None else f"{price.cached_input}"
            print(
                f"| {model} | {price.effective_from} | {price.input} | {price.output} | {cached} |"
            )


def cmd_prices_set(args: argparse.Namespace) -> None:
    from modelyard.pricing.prices import Price

    config = _config_repository()
    if config.catalog().resolve(args.model) is None:
        raise CommandError(f"unknown model {args.model!r}")
    price = Price(
        model=args.model,
        input=args.input,
        output=args.output,
        effective_from=args.effective_from,
        cached_input=args.cached_input,
        cache_write=args.cache_write,
    )
    config.put_price(price)
    print(f"price {price.version}: input ${price.input}/M, output ${price.output}/M")


# -- spend -------------------------------------------------------------------------------------
def _spend(args: argparse.Namespace) -> tuple[Any, list[Any], str, str]:
    from datetime import UTC, datetime

    from modelyard import aws, reports
    from modelyard.settings import get_settings

    today = datetime.now(UTC)
    since = args.since or f"{today:%Y-%m}-01"
    until = args.until or f"{today:%Y-%m-%d}"
    config = _config_repository()
    catalog = config.catalog()
    client, table = aws.client("dynamodb"), get_settings().usage_table
    if "key" in (getattr(args, "by", "") or "").split(","):
        if not args.tenant:
            raise CommandError("spend by key needs --tenant (keys are listed per tenant)")
        keys = [record.key_id for record in config.tenant_keys(args.tenant)]
        return catalog, reports.key_rows(client, table, keys, since, until), since, until
    rows = reports.spend_rows(client, table, catalog, args.tenant, since, until)
    return catalog, rows, since, until


def cmd_spend(args: argparse.Namespace) -> None:
    from pathlib import Path

    from modelyard import reports

    _catalog, rows, since, until = _spend(args)
    who = f"tenant {args.tenant}" if args.tenant else "all tenants"
    print(f"Spend of {who}, {since} to {until}\n")
    print(reports.render(reports.group(rows, args.by)))
    if args.plot:
        reports.plot(rows, Path(args.plot), f"Spend by day and model: {who}")
        print(f"\nchart written to {args.plot}", file=sys.stderr)


def cmd_cost_savings(args: argparse.Namespace) -> None:
    from modelyard import reports

    catalog, rows, since, until = _spend(args)
    print(f"What routing cost against {args.reference} for the same tokens, {since} to {until}\n")
    print(
        reports.render_savings(
            reports.savings(rows, catalog, args.reference, until), args.reference
        )
    )


# -- cost --------------------------------------------------------------------------------------
def cmd_cost_project(args: argparse.Namespace) -> None:
    from modelyard.pricing.projection import project, render_table

    rows = project(_offline_catalog(), args.requests, args.input_tokens, args.output_tokens)
    if args.json:
        print(
            json.dumps(
                [{k: str(v) if isinstance(v, Decimal) else v for k, v in r.items()} for r in rows],
                indent=2,
            )
        )
    else:
        print(render_table(rows, args.requests, args.input_tokens, args.output_tokens))


def _date(value: str) -> str:
    from datetime import date

    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value}") from None


def _period_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", help="one tenant (default: every tenant)")
    parser.add_argument("--since", help="first day, YYYY-MM-DD (default: this month's first)")
    parser.add_argument("--until", help="last day, YYYY-MM-DD (default: today)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modelyard", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway locally with embedded AWS")
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    serve.add_argument(
        "--simulate",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="simulate providers that have no real key (default: on)",
    )
    serve.set_defaults(func=cmd_serve)

    seed = sub.add_parser("seed", help="load infra/seed into the ConfigTable")
    seed.add_argument("--dir", help="seed folder (default: the repo's infra/seed)")
    seed.set_defaults(func=cmd_seed)

    keys = sub.add_parser("keys", help="API keys").add_subparsers(
        dest="keys_command", required=True
    )
    create = keys.add_parser("create", help="create a key and print it once")
    create.add_argument("--tenant", required=True)
    create.add_argument("--name")
    create.add_argument("--models", help="comma-separated model ids the key may use")
    create.add_argument(
        "--daily-budget", type=Decimal, help="USD a day (hard unless --soft-budget)"
    )
    create.add_argument("--monthly-budget", type=Decimal, help="USD a month")
    create.add_argument("--soft-budget", action="store_true", help="warn instead of refusing")
    create.add_argument("--providers", help="comma-separated provider ids the key may use")
    create.add_argument("--rpm", type=int, help="requests per minute (all instances together)")
    create.add_argument("--tpm", type=int, help="tokens per minute (all instances together)")
    create.add_argument("--expires-at", help="ISO 8601 time with offset when the key stops")
    create.set_defaults(func=cmd_keys_create)
    listing = keys.add_parser("list", help="a tenant's keys (no secrets)")
    listing.add_argument("--tenant", required=True)
    listing.set_defaults(func=cmd_keys_list)
    rotate = keys.add_parser("rotate", help="new secret for a key; the old one is revoked")
    rotate.add_argument("id", help="key id (key_...)")
    rotate.set_defaults(func=cmd_keys_rotate)
    revoke = keys.add_parser("revoke", help="revoke a key")
    revoke.add_argument("id", help="key id (key_...)")
    revoke.set_defaults(func=cmd_keys_revoke)

    admin_keys = sub.add_parser(
        "admin-keys",
        help="admin keys in the ConfigTable of the environment (deployed: set "
        "MODELYARD_CONFIG_TABLE and MODELYARD_KEY_PEPPER_SECRET_ARN from the stack)",
    ).add_subparsers(dest="admin_keys_command", required=True)
    admin_create = admin_keys.add_parser("create", help="a new admin key, printed once")
    admin_create.add_argument("--name", help="what the key is for")
    admin_create.set_defaults(func=cmd_admin_keys_create)
    admin_rotate = admin_keys.add_parser(
        "rotate", help="new secret for an admin key; the old one is revoked at once"
    )
    admin_rotate.add_argument("id", help="key id (key_...)")
    admin_rotate.set_defaults(func=functools.partial(cmd_keys_rotate, admin=True))

    route = sub.add_parser("route", help="routing decisions").add_subparsers(
        dest="route_command", required=True
    )
    explain = route.add_parser("explain", help="show the full routing decision for a prompt")
    explain.add_argument("prompt")
    explain.add_argument("--policy", help="balanced, cost, quality or speed")
    explain.add_argument("--model", default="auto", help="model or route (default: auto)")
    explain.set_defaults(func=cmd_route_explain)

    cost = sub.add_parser("cost", help="cost tools").add_subparsers(
        dest="cost_command", required=True
    )
    proj = cost.add_parser("project", help="monthly and annual cost per model for a profile")
    proj.add_argument("--requests", type=int, required=True, help="requests a month")
    proj.add_argument("--input-tokens", type=int, required=True, help="input tokens a request")
    proj.add_argument("--output-tokens", type=int, required=True, help="output tokens a request")
    proj.add_argument("--json", action="store_true")
    proj.set_defaults(func=cmd_cost_project)
    saved = cost.add_parser("savings", help="routed spend against one reference model")
    saved.add_argument("--reference", default="gpt-4o", help="model to compare with")
    _period_arguments(saved)
    saved.set_defaults(func=cmd_cost_savings)
    overhead_commands.register(sub, cost)

    prices = sub.add_parser("prices", help="the price table").add_subparsers(
        dest="prices_command", required=True
    )
    listing = prices.add_parser("list", help="every price version in the ConfigTable")
    listing.add_argument("--model")
    listing.set_defaults(func=cmd_prices_list)
    setting = prices.add_parser("set", help="add a price version from a date (or correct one)")
    setting.add_argument("--model", required=True)
    setting.add_argument("--input", type=Decimal, required=True, help="USD per million tokens")
    setting.add_argument("--output", type=Decimal, required=True, help="USD per million tokens")
    setting.add_argument("--cached-input", type=Decimal)
    setting.add_argument("--cache-write", type=Decimal)
    setting.add_argument("--effective-from", required=True, type=_date, help="YYYY-MM-DD")
    setting.set_defaults(func=cmd_prices_set)
    pricing_commands.register(prices)

    spend = sub.add_parser("spend", help="spend report from the aggregates")
    spend.add_argument(
        "--by",
        default="day",
        help="day, month, model, key, or a mix such as month,model (default: day)",
    )
    spend.add_argument("--plot", metavar="PNG", help="also write a chart of spend by day and model")
    _period_arguments(spend)
    spend.set_defaults(func=cmd_spend)

    routing_commands.register(sub)
    cache_commands.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    except (CommandError, FileNotFoundError, ValueError) as exc:
        print(f"modelyard: {exc}", file=sys.stderr)
        return 2
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    raise SystemExit(main())
