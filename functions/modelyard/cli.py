"""`modelyard`: the command line (CONTRACT.md lists the commands)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

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

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)
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
            create_app(), host="127.0.0.1", port=args.port, log_level="warning", access_log=False
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


def cmd_keys_create(args: argparse.Namespace) -> None:
    from modelyard.auth.admin import create_key
    from modelyard.auth.budgets import Budget
    from modelyard.settings import get_settings
    from modelyard.wiring import key_pepper

    models = tuple(m.strip() for m in (args.models or "").split(",") if m.strip())
    budget = None
    if args.daily_budget is not None or args.monthly_budget is not None:
        budget = Budget(args.daily_budget, args.monthly_budget, hard=not args.soft_budget)
    secret, record = create_key(
        _config_repository(),
        key_pepper(get_settings()),
        args.tenant,
        name=args.name or "",
        allowed_models=models,
        budget=budget,
    )
    print(
        json.dumps(
            {
                "id": record.key_id,
                "key": secret,
                "tenant": record.tenant,
                "models": list(models) or "all",
            }
        )
    )
    print("store the key now: it is not shown again", file=sys.stderr)


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
    create.set_defaults(func=cmd_keys_create)

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

    routing_commands.register(sub)
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
