"""Request and response models in OpenAI's (and Anthropic's) schema.

Requests are validated with these models and then forwarded as the client's own JSON, so a
field a provider added yesterday passes through untouched; responses are documented with them
(OpenAPI) but written straight from the upstream's JSON, without a pydantic round trip.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_MESSAGES = 2048
MAX_TOOLS = 128


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ImageURL(_Open):
    url: str = Field(max_length=20_000_000)
    detail: Literal["auto", "low", "high"] | None = None


class ContentPart(_Open):
    type: Literal["text", "image_url", "input_audio", "file", "refusal"]
    text: str | None = None
    image_url: ImageURL | None = None


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
