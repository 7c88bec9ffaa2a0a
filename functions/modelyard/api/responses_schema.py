"""The Responses API's request, as OpenAI documents it (validated; forwarded as translated).

Open like the chat models (api.schemas): unknown fields pass validation. The limits on
messages, text and tool schemas are the chat path's, checked again on the translated body.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from modelyard.api.schemas import (
    MAX_MESSAGE_CHARS,
    MAX_MESSAGES,
    MAX_TOOLS,
    ModelyardOptions,
    _Open,
)


class InputPart(_Open):
    type: str = Field(max_length=64)
    text: str | None = None
    image_url: str | None = Field(default=None, max_length=20_000_000)
    detail: Literal["auto", "low", "high"] | None = None
    file_data: str | None = None
    filename: str | None = Field(default=None, max_length=1024)
    file_id: str | None = Field(default=None, max_length=256)


class InputItem(_Open):
    """A message (`role`, `content`), a `function_call` or a `function_call_output`."""

    type: str | None = Field(default=None, max_length=64)
    id: str | None = Field(default=None, max_length=256)
    role: str | None = Field(default=None, max_length=32)
    content: str | list[InputPart] | None = None
    call_id: str | None = Field(default=None, max_length=256)
    name: str | None = Field(default=None, max_length=256)
    arguments: str | None = None
    output: str | list[InputPart] | None = None


class ResponseTool(_Open):
    """A function tool (flat, unlike chat's) or a hosted one (`web_search`, ...)."""

    type: str = Field(max_length=64)
    name: str | None = Field(default=None, max_length=256)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class NamedToolChoice(_Open):
    type: str = Field(max_length=64)
    name: str | None = Field(default=None, max_length=256)


class TextFormat(_Open):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    type: Literal["text", "json_object", "json_schema"]
    name: str | None = Field(default=None, max_length=64)
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None
    description: str | None = None


class TextOptions(_Open):
    format: TextFormat | None = None
    verbosity: Literal["low", "medium", "high"] | None = None


class ReasoningOptions(_Open):
    effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    summary: str | None = None


class ResponsesRequest(_Open):
    model: str = Field(min_length=1, max_length=256)
    input: str | list[InputItem] = Field(max_length=MAX_MESSAGES)
    instructions: str | None = Field(default=None, max_length=MAX_MESSAGE_CHARS)
    tools: list[ResponseTool] | None = Field(default=None, max_length=MAX_TOOLS)
    tool_choice: Literal["auto", "none", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    text: TextOptions | None = None
    reasoning: ReasoningOptions | None = None
    max_output_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    include: list[str] | None = Field(default=None, max_length=16)
    metadata: dict[str, str] | None = Field(default=None, max_length=16)
    previous_response_id: str | None = Field(default=None, max_length=128)
    store: bool | None = None
    stream: bool | None = None
    background: bool | None = None
    truncation: Literal["auto", "disabled"] | None = None
    user: str | None = Field(default=None, max_length=256)
    modelyard: ModelyardOptions | None = None
