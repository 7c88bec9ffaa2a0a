"""`modelyard cache ...`: the response cache from the command line."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: Any) -> None:
    """Add ``cache purge`` to the ``modelyard`` command line."""
    cache = subparsers.add_parser("cache", help="the response cache").add_subparsers(
        dest="cache_command", required=True
    )
    purge = cache.add_parser(
        "purge",
        help="delete every cached response of a tenant",
        description="Delete a tenant's cached responses from the UsageTable of the current AWS "
        "endpoint; later requests go to the upstream and are cached afresh.",
    )
    purge.add_argument("--tenant", required=True)
    purge.set_defaults(func=_purge)


def _purge(args: argparse.Namespace) -> None:
    from modelyard.cache import purge_tenant

    print(json.dumps({"tenant": args.tenant, "purged": purge_tenant(args.tenant)}))
