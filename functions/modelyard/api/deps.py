"""What every route does first: find the gateway, authenticate the caller, validate a body."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from modelyard.api.errors import validation_message
from modelyard.auth.keys import KeyRecord
from modelyard.errors import InvalidRequest
from modelyard.gateway import Gateway

Model = TypeVar("Model", bound=BaseModel)


def gateway_of(request: Request) -> Gateway:
    """The app's gateway, built on first use (see `create_app`)."""
    gateway: Gateway = request.app.state.gateway()
    return gateway


async def caller(request: Request) -> tuple[Gateway, KeyRecord]:
    """The gateway and the key the request authenticates with (Bearer or `x-api-key`)."""
    gateway = gateway_of(request)
    key = await gateway.authenticate(
        request.headers.get("authorization"), request.headers.get("x-api-key")
    )
    return gateway, key


def validated(model: type[Model], data: Any) -> Model:
    """`data` as `model`, or a 400 naming the first invalid field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        message, param = validation_message(exc)
        raise InvalidRequest(message, param=param) from None
