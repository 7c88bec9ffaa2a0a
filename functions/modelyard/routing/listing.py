"""The models a key may route to, as OpenAI's model objects (`GET /v1/models` and
`GET /v1/models/{id}`): every concrete model its allow-list admits, and the `auto` routes.

A model answers to every name the router accepts for it (its id, the provider-qualified id,
its upstream name and aliases) and is shown under its id; a name the key may not use is as
unknown as one that does not exist, so an allow-list does not reveal the rest of the catalog.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from modelyard.catalog import Catalog, Model
from modelyard.errors import NotFound
from modelyard.routing.policy import AUTO_MODELS

#: who owns a route that is not one model (`auto`, `auto:cost`, ...)
GATEWAY_OWNER = "modelyard"


def _object(model_id: str, owner: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": owner}


def _of(model: Model) -> dict[str, Any]:
    return _object(model.id, model.provider)


def model_list(catalog: Catalog, allowed: Callable[[str], bool]) -> dict[str, Any]:
    data = [_object(name, GATEWAY_OWNER) for name in AUTO_MODELS]
    data += [_of(m) for m in catalog.models.values() if allowed(m.id)]
    return {"object": "list", "data": data}


def model_object(catalog: Catalog, allowed: Callable[[str], bool], name: str) -> dict[str, Any]:
    """One model or route by any name the router accepts; 404 `model_not_found` otherwise."""
    route = name.strip().lower()
    if route in AUTO_MODELS:
        return _object(route, GATEWAY_OWNER)
    model = catalog.resolve(name.strip())
    if model is None or not allowed(model.id):
        raise NotFound(
            f"The model '{name}' does not exist or you do not have access to it",
            param="model",
            code="model_not_found",
        )
    return _of(model)
