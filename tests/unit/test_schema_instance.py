"""The simulator's schema instances validate against their schemas (checked by `jsonschema`)."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel, Field

from modelyard.local.schema_instance import schema_instance


class Address(BaseModel):
    street: str
    city: str = Field(min_length=12)


class Person(BaseModel):
    name: str
    age: int = Field(ge=18, lt=130)
    email: str | None = None
    home: Address
    others: list[Address] = Field(min_length=2)


SCHEMAS: dict[str, dict[str, Any]] = {
    "strict object": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
        "additionalProperties": False,
    },
    "enum and const": {
        "type": "object",
        "properties": {
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "kind": {"const": "forecast"},
        },
        "required": ["unit", "kind"],
    },
    "arrays": {
        "type": "array",
        "items": {"type": "integer", "minimum": 3, "maximum": 9},
        "minItems": 3,
        "uniqueItems": True,
    },
    "nullable types": {
        "type": "object",
        "properties": {"a": {"type": ["string", "null"]}, "b": {"type": "null"}},
        "required": ["a", "b"],
    },
    "anyOf and oneOf": {
        "type": "object",
        "properties": {
            "x": {"anyOf": [{"type": "null"}, {"type": "number", "exclusiveMinimum": 10}]},
            "y": {"oneOf": [{"type": "string", "format": "date-time"}, {"type": "integer"}]},
        },
        "required": ["x", "y"],
    },
    "formats and lengths": {
        "type": "object",
        "properties": {
            "email": {"type": "string", "format": "email"},
            "id": {"type": "string", "format": "uuid"},
            "code": {"type": "string", "minLength": 20, "maxLength": 25},
            "short": {"type": "string", "maxLength": 3},
            "digits": {"type": "string", "pattern": "^[0-9]+$"},
        },
        "required": ["email", "id", "code", "short", "digits"],
    },
    "number bounds": {
        "type": "object",
        "properties": {
            "ratio": {"type": "number", "minimum": 0, "maximum": 1},
            "neg": {"type": "integer", "maximum": -5},
            "even": {"type": "integer", "multipleOf": 2, "minimum": 7},
            "tight": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 0.5},
        },
        "required": ["ratio", "neg", "even", "tight"],
    },
    "recursive refs": {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {
                    "value": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                },
                "required": ["value", "children"],
                "additionalProperties": False,
            }
        },
        "$ref": "#/$defs/node",
    },
    "allOf": {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            {"properties": {"b": {"type": "boolean"}}, "required": ["b"]},
        ]
    },
    "pydantic model": Person.model_json_schema(),
}


@pytest.mark.parametrize("name", SCHEMAS)
def test_instance_validates_against_its_schema(name: str) -> None:
    instance = schema_instance(SCHEMAS[name])
    jsonschema.validate(instance, SCHEMAS[name], cls=jsonschema.Draft202012Validator)


def test_instance_is_deterministic_and_fills_declared_properties() -> None:
    schema = SCHEMAS["pydantic model"]
    assert schema_instance(schema) == schema_instance(schema)
    person = Person.model_validate(schema_instance(schema))
    assert person.age >= 18 and len(person.others) == 2 and person.email is not None


def test_gemini_openapi_schema_with_upper_case_types_and_nullable() -> None:
    schema = {
        "type": "OBJECT",
        "properties": {
            "title": {"type": "STRING"},
            "score": {"type": "NUMBER", "nullable": True},
            "tags": {"type": "ARRAY", "items": {"type": "STRING"}},
        },
        "required": ["title", "score"],
    }
    instance = schema_instance(schema)
    assert instance == {"title": "simulated", "score": 1.5, "tags": ["simulated"]}
