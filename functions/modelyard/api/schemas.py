"""Request and response models in OpenAI's (and Anthropic's) schema.

Requests are validated with these models and then forwarded as the client's own JSON, so a
field a provider added yesterday passes through untouched; responses are documented with them
(OpenAPI) but written straight from the upstream's JSON, without a pydantic round trip.

Unknown fields are forwarded, not rejected: OpenAI adds request fields often, and a gateway
that refused them would break clients on the day their SDK learns a new one. They are bounded
all the same: the body's size and JSON nesting depth (api/limits.py) and the number of
top-level fields count them, and each provider adapter decides what it sends upstream.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_MESSAGES = 2048
MAX_TOOLS = 128
#: text characters in one message, and in all messages of a request together
MAX_MESSAGE_CHARS = 512_000
MAX_TOTAL_CHARS = 1_000_000
#: one tool's JSON schema (`function.parameters`), serialised
MAX_TOOL_SCHEMA_BYTES = 32_768
#: top-level fields of a request, known and unknown (unknown ones are forwarded)
MAX_TOP_LEVEL_FIELDS = 64


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ImageURL(_Open):
    url: str = Field(max_length=20_000_000)
    detail: Literal["auto", "low", "high"] | None = None


class ContentPart(_Open):
    type: Literal["text", "image_url", "input_audio", "file", "refusal"]
    text: str | None = None
    image_url: ImageURL | None = None
    input_audio: dict[str, Any] | None = None
    file: dict[str, Any] | None = None
    refusal: str | None = None

    @model_validator(mode="after")
    def _has_its_payload(self) -> ContentPart:
        """A part carries the field its type names (`{"type": "image_url"}` alone is a 400)."""
        if getattr(self, self.type) is None:
            raise ValueError(f"a part of type {self.type!r} needs its {self.type!r} field")
        return self


class FunctionCall(_Open):
    name: str
    arguments: str


class ToolCall(_Open):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessage(_Open):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = Field(default=None, max_length=256)
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None

    @model_validator(mode="after")
    def _has_content(self) -> ChatMessage:
        """Only an assistant turn (one that calls tools, say) may come without content."""
        if self.content is None and self.role not in ("assistant", "function"):
            raise ValueError(f"a {self.role} message needs content")
        return self


class FunctionDefinition(_Open):
    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(_Open):
    type: Literal["function"]
    function: FunctionDefinition


class StreamOptions(_Open):
    include_usage: bool | None = None


class ResponseFormat(_Open):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: dict[str, Any] | None = None


class CacheOptions(BaseModel):
    """The response cache for one request (`"cache": true` takes the defaults)."""

    model_config = ConfigDict(extra="forbid")

    #: accept an entry at most this old and keep a new one this long (seconds; 0 refreshes)
    max_age: int | None = Field(default=None, ge=0)
    #: skip the lookup and refresh the entry (as `Cache-Control: no-cache`)
    no_cache: bool | None = None
    #: never write the answer (as `Cache-Control: no-store`)
    no_store: bool | None = None


class ModelyardOptions(BaseModel):
    """Routing overrides (the SDKs' `extra_body={"modelyard": {...}}`)."""

    model_config = ConfigDict(extra="forbid")

    policy: str | None = None
    weights: dict[Literal["quality", "cost", "speed"], float] | None = None
    min_quality: float | None = Field(default=None, ge=0, le=10)
    max_cost_usd: float | None = Field(default=None, gt=0)
    providers: list[str] | None = None
    fallbacks: list[str] | None = Field(default=None, max_length=10)
    task: str | None = None
    hedge: bool | None = None
    #: true/false forces the response cache on/off; an object sets its directives
    cache: bool | CacheOptions | None = None


class ChatCompletionRequest(_Open):
    model: str = Field(min_length=1, max_length=256)
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    n: int | None = Field(default=None, ge=1, le=16)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    seed: int | None = None
    user: str | None = Field(default=None, max_length=256)
    tools: list[Tool] | None = Field(default=None, max_length=MAX_TOOLS)
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    modelyard: ModelyardOptions | None = None

    @model_validator(mode="after")
    def _within_limits(self) -> ChatCompletionRequest:
        """Input limits that the field types cannot say (each a 400, never a 5xx)."""
        fields = len(self.model_fields_set | set(self.model_extra or {}))
        if fields > MAX_TOP_LEVEL_FIELDS:
            raise ValueError(f"more than {MAX_TOP_LEVEL_FIELDS} top-level fields ({fields})")
        total = 0
        for index, message in enumerate(self.messages):
            chars = _text_chars(message.content)
            if chars > MAX_MESSAGE_CHARS:
                raise ValueError(
                    f"messages[{index}] has {chars} characters of text; at most "
                    f"{MAX_MESSAGE_CHARS} per message"
                )
            total += chars
        if total > MAX_TOTAL_CHARS:
            raise ValueError(f"messages have {total} characters of text; at most {MAX_TOTAL_CHARS}")
        for index, tool in enumerate(self.tools or ()):
            size = len(json.dumps(tool.function.parameters or {}, separators=(",", ":")))
            if size > MAX_TOOL_SCHEMA_BYTES:
                raise ValueError(
                    f"tools[{index}].function.parameters is {size} bytes; at most "
                    f"{MAX_TOOL_SCHEMA_BYTES}"
                )
        return self


def _text_chars(content: str | list[ContentPart] | None) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return len(content)
    return sum(len(part.text or "") for part in content)


# -- Anthropic's Messages API (`POST /v1/messages`) ---------------------------------------------
# Validated before `providers.anthropic.openai_request` translates it, so the translation only
# ever meets the shapes below; unknown fields pass (and are left out by the translation).


class AnthropicText(_Open):
    type: Literal["text"]
    text: str
    cache_control: dict[str, Any] | None = None


class Base64Source(_Open):
    type: Literal["base64"]
    media_type: str = Field(max_length=128)
    data: str


class URLSource(_Open):
    type: Literal["url"]
    url: str = Field(min_length=1, max_length=8192)


class AnthropicImage(_Open):
    type: Literal["image"]
    source: Annotated[Base64Source | URLSource, Field(discriminator="type")]


class AnthropicToolUse(_Open):
    type: Literal["tool_use"]
    id: str = Field(min_length=1, max_length=256)
    name: str = Field(min_length=1, max_length=64)
    input: dict[str, Any]


class AnthropicToolResult(_Open):
    type: Literal["tool_result"]
    tool_use_id: str = Field(min_length=1, max_length=256)
    content: (
        str | list[Annotated[AnthropicText | AnthropicImage, Field(discriminator="type")]] | None
    ) = None
    is_error: bool | None = None


class AnthropicOtherBlock(_Open):
    """Blocks the gateway accepts and does not forward (documents, thinking, server tools)."""

    type: Literal[
        "document",
        "thinking",
        "redacted_thinking",
        "search_result",
        "server_tool_use",
        "web_search_tool_result",
    ]


AnthropicBlock = Annotated[
    AnthropicText | AnthropicImage | AnthropicToolUse | AnthropicToolResult | AnthropicOtherBlock,
    Field(discriminator="type"),
]


class AnthropicMessage(_Open):
    role: Literal["user", "assistant"]
    content: str | list[AnthropicBlock]


class AnthropicTool(_Open):
    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    #: a client tool's parameters; server tools (with a `type`) have none and are left out
    input_schema: dict[str, Any] | None = None
    type: str | None = Field(default=None, max_length=64)


class AnthropicToolChoice(_Open):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = Field(default=None, min_length=1, max_length=64)
    disable_parallel_tool_use: bool | None = None

    @model_validator(mode="after")
    def _names_its_tool(self) -> AnthropicToolChoice:
        if self.type == "tool" and self.name is None:
            raise ValueError('a tool_choice of type "tool" needs the tool\'s name')
        return self


class AnthropicMetadata(_Open):
    user_id: str | None = Field(default=None, max_length=256)


class MessagesRequest(_Open):
    """A Messages request, as Anthropic documents it."""

    model: str = Field(min_length=1, max_length=256)
    max_tokens: int = Field(ge=1)
    messages: list[AnthropicMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    system: str | list[AnthropicText] | None = None
    metadata: AnthropicMetadata | None = None
    stop_sequences: list[str] | None = Field(default=None, max_length=16)
    stream: bool | None = None
    temperature: float | None = Field(default=None, ge=0, le=1)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=0)
    tools: list[AnthropicTool] | None = Field(default=None, max_length=MAX_TOOLS)
    tool_choice: AnthropicToolChoice | None = None
    thinking: dict[str, Any] | None = None
    modelyard: ModelyardOptions | None = None


class CountTokensRequest(MessagesRequest):
    """`POST /v1/messages/count_tokens`: a Messages request, with no answer to bound."""

    max_tokens: int | None = Field(default=None, ge=1)  # type: ignore[assignment]


class FeedbackRequest(BaseModel):
    """A user's rating of one response: 0 (bad) to 1 (good)."""

    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(min_length=1, max_length=64, pattern=r"^req_[0-9a-f]+$")
    score: Decimal = Field(ge=0, le=1, max_digits=6)


# -- responses (documentation) ------------------------------------------------------------------


class Usage(_Open):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AttemptInfo(BaseModel):
    model: str
    provider: str
    status: str
    error_type: str | None
    latency_ms: int


class ModelyardInfo(BaseModel):
    request_id: str
    task: str
    model: str
    provider: str
    attempts: list[AttemptInfo]
    cost_usd: str
    route_reason: str
    #: `hit` when served from the response cache (then `saved_usd` is what it saved)
    cache: str | None = None
    saved_usd: str | None = None


class AssistantMessage(_Open):
    role: Literal["assistant"]
    content: str | None = None
    tool_calls: list[ToolCall] | None = None


class Choice(_Open):
    index: int
    message: AssistantMessage
    finish_reason: str | None


class ChatCompletion(_Open):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    modelyard: ModelyardInfo


class ModelCard(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[ModelCard]


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(BaseModel):
    error: ErrorDetail


#: every status an API route may answer besides its success (OpenAPI `responses`)
ERROR_STATUSES = (400, 401, 403, 404, 413, 415, 429, 502, 504)


def error_responses(
    model: type[BaseModel] = ErrorResponse, statuses: tuple[int, ...] = ERROR_STATUSES
) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": model} for status in statuses}


# -- OpenAPI for bodies the routes read themselves ----------------------------------------------

#: JSON schemas of the models that `documented_body` refers to, for the document's components
BODY_DEFINITIONS: dict[str, dict[str, Any]] = {}


def documented_body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` documenting `model` as a route's JSON body.

    The routes read and limit their bodies themselves (api.limits) before validating them, so
    FastAPI does not see the model; this puts it in the OpenAPI document all the same (with
    the nested models it refers to in `BODY_DEFINITIONS`, merged into the components by
    `with_body_definitions`), so that clients and Schemathesis see the real request bodies.
    """
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    BODY_DEFINITIONS.update(schema.pop("$defs", {}))
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def with_body_definitions(document: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with every body model's nested definitions in its components."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in BODY_DEFINITIONS.items():
        schemas.setdefault(name, definition)
    return document
