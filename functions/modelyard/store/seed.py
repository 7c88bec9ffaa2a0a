"""Turns the seed files in `infra/seed/` into ConfigTable items."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from modelyard.resilience.retry import RetryPolicy
from modelyard.store.config import CATALOG_PK


def default_seed_dir() -> Path:
    """`infra/seed` of the source tree this package runs from."""
    return Path(__file__).resolve().parents[3] / "infra" / "seed"


def _load(path: Path) -> Any:
    return json.loads(path.read_text(), parse_float=Decimal)


def seed_items(seed_dir: Path | None = None) -> Iterator[dict[str, Any]]:
    folder = seed_dir or default_seed_dir()
    if not (folder / "models.json").is_file():
        raise FileNotFoundError(f"no seed files in {folder}")
    for provider in _load(folder / "providers.json")["providers"]:
        yield {"pk": CATALOG_PK, "sk": f"PROVIDER#{provider['id']}", **provider}
    for model in _load(folder / "models.json")["models"]:
        price = model.pop("price")
        yield {"pk": CATALOG_PK, "sk": f"MODEL#{model['id']}", **model}
        yield {
            "pk": CATALOG_PK,
            "sk": f"PRICE#{model['id']}#{price['effective_from']}",
            "model": model["id"],
            **{
                k: (Decimal(v) if k not in {"effective_from", "source"} else v)
                for k, v in price.items()
            },
        }
    retry = folder / "retry.json"
    if retry.is_file():
        for route, retriers in _load(retry)["policies"].items():
            RetryPolicy.from_config(retriers)  # a bad seed fails here, not on a request
            yield {"pk": CATALOG_PK, "sk": f"RETRY#{route}", "retriers": retriers}
    routes = folder / "routes.json"
    if routes.is_file():
        for task, scores in _load(routes)["quality"].items():
            for model_id, entry in scores.items():
                yield {
                    "pk": CATALOG_PK,
                    "sk": f"QUALITY#{task}#{model_id}",
                    "task": task,
                    "model": model_id,
                    "score": Decimal(str(entry["score"])),
                    "source": entry.get("source", ""),
                }
