"""A Responses request as a chat completions body, and a chat completion as a response object.

The chat body is what every adapter already speaks, so a request routed to any provider is
served; the request itself rides along for a provider that speaks the Responses API
(providers.native). What neither can carry is refused with a 400 naming it (a background
run, a server-side conversation), never dropped; hosted tools make a routing constraint
that only such a provider meets. A conversation continued with
`previous_response_id` arrives as the chat messages stored with that response (`history`);
as in OpenAI's API, the earlier response's `instructions` do not carry over.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from modelyard.errors import InvalidRequest
from modelyard.providers.native import RESPONSES, carry

#: request fields copied to the chat body as they are (same name, same meaning)
SAME_FIELDS = ("temperature", "top_p", "user", "parallel_tool_calls", "service_tier", "modelyard")
#: Responses features with no chat completions equivalent: a 400 rather than a lesser answer
UNSERVED_FIELDS = {
    "background": "background responses are not served; send `Prefer: respond-async` to "
    "/v1/chat/completions for a durable job",
    "conversation": "the Conversations API is not served; chain with previous_response_id",
    "prompt": "stored prompt templates are not served; send the prompt as input",
}
#: `include` values the bridge honours (others are ignored, as OpenAI ignores unknown ones)
LOGPROBS_INCLUDE = "message.output_text.logprobs"
FINISH_STATUS = {
    "length": ("incomplete", {"reason": "max_output_tokens"}),
    "content_filter": ("incomplete", {"reason": "content_filter"}),
}


def new_item_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def input_items(value: Any) -> list[dict[str, Any]]:
    """`input` as a list of items, each with an id and a message's content as parts, as
    OpenAI lists them (a string is one user message)."""
    if isinstance(value, str):
        value = [{"type": "message", "role": "user", "content": value}]
    items = []
    for item in value:
        item = dict(item)
        item.setdefault("type", "message")
        prefix = {"message": "msg", "function_call": "fc"}.get(item["type"], "item")
        item.setdefault("id", new_item_id(prefix))
        if item["type"] == "message" and isinstance(item.get("content"), str):
            kind = "output_text" if item.get("role") == "assistant" else "input_text"
            item["content"] = [{"type": kind, "text": item["content"]}]
        items.append(item)
    return items


def chat_body(
    request: dict[str, Any], history: list[dict[str, Any]], items: list[dict[str, Any]]
) -> dict[str, Any]:
    """The chat completions body that serves `request` (its `input` as `items`) after the
    conversation `history` (the items of the responses before it). The request itself rides
    along (providers.native): a provider that speaks the Responses API gets it as sent, its
    hosted tools too, which only such a provider can run."""
    for name, why in UNSERVED_FIELDS.items():
        if request.get(name):
            raise InvalidRequest(why, param=name)
    messages: list[dict[str, Any]] = []
    if request.get("instructions"):
        messages.append({"role": "system", "content": request["instructions"]})
    messages += chat_messages(history, strict=False)
    messages += chat_messages(items)
    body: dict[str, Any] = {"model": request["model"], "messages": messages}
    body.update((name, request[name]) for name in SAME_FIELDS if request.get(name) is not None)
    if request.get("max_output_tokens") is not None:
        body["max_completion_tokens"] = request["max_output_tokens"]
    effort = (request.get("reasoning") or {}).get("effort")
    if effort:
        body["reasoning_effort"] = effort
    if request.get("top_logprobs") is not None:
        body.update(logprobs=True, top_logprobs=request["top_logprobs"])
    elif LOGPROBS_INCLUDE in (request.get("include") or []):
        body["logprobs"] = True
    text = request.get("text") or {}
    if text.get("verbosity"):
        body["verbosity"] = text["verbosity"]
    response_format = _response_format(text.get("format"))
    if response_format is not None:
        body["response_format"] = response_format
    tools = request.get("tools") or []
    hosted = [tool for tool in tools if tool.get("type") != "function"]
    functions = [_chat_tool(tool) for tool in tools if tool.get("type") == "function"]
    if functions:
        body["tools"] = functions
    choice = request.get("tool_choice")
    if choice is not None and not (hosted and _is_hosted_choice(choice)):
        body["tool_choice"] = _chat_tool_choice(choice)
    if request.get("stream"):
        body.update(stream=True, stream_options={"include_usage": True})
    carry(body, RESPONSES, native_request(request, history), hosted_tools=hosted)
    return body


def native_request(request: dict[str, Any], history: list[dict[str, Any]]) -> dict[str, Any]:
    """`request` as it goes to a provider that speaks the Responses API: the conversation
    so far in its `input` (that provider never saw this gateway's response ids), nothing kept
    there (this gateway keeps it). Earlier items go without their ids and reasoning items,
    which an upstream that stored nothing could not resolve."""
    native = {k: v for k, v in request.items() if k != "previous_response_id"}
    if history:
        earlier = [
            {k: v for k, v in item.items() if k != "id"}
            for item in history
            if item.get("type") != "reasoning"
        ]
        sent = request["input"]
        native["input"] = earlier + (
            [{"role": "user", "content": sent}] if isinstance(sent, str) else list(sent)
        )
    native["store"] = False
    return native


def chat_messages(items: list[dict[str, Any]], strict: bool = True) -> list[dict[str, Any]]:
    """Input (or output) items as chat messages: consecutive function calls become one
    assistant message's `tool_calls`, a call's output a `tool` message; reasoning items,
    which only their own model can read back, are left out. An item chat has no place for
    is a 400, or (`strict` off: a stored conversation, whose hosted tool calls a provider ran)
    left out."""
    messages: list[dict[str, Any]] = []
    for n, item in enumerate(items):
        kind = item.get("type", "message")
        if kind == "message":
            messages.append(_chat_message(item, n))
        elif kind == "function_call":
            call = {
                "id": _required(item, "call_id", n),
                "type": "function",
                "function": {
                    "name": _required(item, "name", n),
                    "arguments": item.get("arguments") or "",
                },
            }
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            content = output if isinstance(output, str) else _joined_text(output or [])
            messages.append(
                {"role": "tool", "tool_call_id": _required(item, "call_id", n), "content": content}
            )
        elif kind != "reasoning" and strict:
            raise InvalidRequest(
                f"input items of type {kind!r} are not served by this gateway",
                param=f"input[{n}].type",
            )
    return messages


def _chat_message(item: dict[str, Any], n: int) -> dict[str, Any]:
    role = item.get("role")
    if role not in {"user", "assistant", "system", "developer"}:
        raise InvalidRequest(
            "a message item's role is user, assistant, system or developer",
            param=f"input[{n}].role",
        )
    role = "system" if role == "developer" else role
    content = item.get("content")
    if isinstance(content, str):
        return {"role": role, "content": content}
    if not isinstance(content, list):
        raise InvalidRequest(
            "a message's content is a string or parts", param=f"input[{n}].content"
        )
    if role == "assistant":  # earlier output: its text (and refusals) as the message's text
        return {"role": role, "content": _joined_text(content)}
    parts = [_chat_part(part, n, p) for p, part in enumerate(content)]
    if len(parts) == 1 and parts[0]["type"] == "text":  # the common case, as chat sends it
        return {"role": role, "content": parts[0]["text"]}
    return {"role": role, "content": parts}


def _chat_part(part: dict[str, Any], n: int, p: int) -> dict[str, Any]:
    kind = part.get("type")
    where = f"input[{n}].content[{p}]"
    if kind in {"input_text", "output_text"}:
        return {"type": "text", "text": part.get("text") or ""}
    if kind == "input_image":
        if not part.get("image_url"):
            raise InvalidRequest("only image_url images are served (no file ids)", param=where)
        image = {"url": part["image_url"], "detail": part.get("detail") or "auto"}
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        fields = ("file_data", "filename", "file_id")
        return {"type": "file", "file": {k: part[k] for k in fields if part.get(k)}}
    raise InvalidRequest(f"content parts of type {kind!r} are not served", param=f"{where}.type")


def _joined_text(parts: list[Any]) -> str:
    return "".join(
        str(part.get("text") or part.get("refusal") or "")
        for part in parts
        if isinstance(part, dict)
    )


def _required(item: dict[str, Any], name: str, n: int) -> Any:
    if not item.get(name):
        raise InvalidRequest(
            f"a {item.get('type')} item needs {name!r}", param=f"input[{n}].{name}"
        )
    return item[name]


def _response_format(format_: dict[str, Any] | None) -> dict[str, Any] | None:
    if not format_ or format_.get("type") == "text":
        return None
    if format_.get("type") == "json_object":
        return {"type": "json_object"}
    if format_.get("type") == "json_schema":
        schema = {
            k: format_[k] for k in ("name", "schema", "strict", "description") if k in format_
        }
        return {"type": "json_schema", "json_schema": schema}
    raise InvalidRequest(
        f"text.format type {format_.get('type')!r} is unknown", param="text.format.type"
    )


def _chat_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """A function tool in chat's nested shape."""
    function = {k: tool[k] for k in ("name", "description", "parameters", "strict") if k in tool}
    return {"type": "function", "function": function}


def _is_hosted_choice(choice: Any) -> bool:
    return isinstance(choice, dict) and choice.get("type") not in (None, "function")


def _chat_tool_choice(choice: Any) -> Any:
    if isinstance(choice, str):
        return choice
    if choice.get("type") == "function" and choice.get("name"):
        return {"type": "function", "function": {"name": choice["name"]}}
    raise InvalidRequest(
        f"tool_choice of type {choice.get('type')!r} is not served", param="tool_choice"
    )


# -- the answer ---------------------------------------------------------------------------------


#: the request settings a response object repeats, with OpenAI's documented defaults
ECHOED: dict[str, Any] = {
    "instructions": None,
    "max_output_tokens": None,
    "max_tool_calls": None,
    "parallel_tool_calls": True,
    "previous_response_id": None,
    "service_tier": "default",
    "store": True,
    "temperature": 1.0,
    "text": {"format": {"type": "text"}},
    "tool_choice": "auto",
    "tools": [],
    "top_logprobs": 0,
    "top_p": 1.0,
    "truncation": "disabled",
    "user": None,
    "metadata": {},
}


def echoed(request: dict[str, Any]) -> dict[str, Any]:
    """The settings of `request` as its response object repeats them."""
    return {
        name: default if request.get(name) is None else request[name]
        for name, default in ECHOED.items()
    }


def response_object(
    request: dict[str, Any],
    response_id: str,
    created_at: int,
    status: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None,
    model: str | None,
    incomplete: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A response object in OpenAI's shape, echoing the request's settings."""
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": incomplete,
        "model": model or request.get("model"),
        "output": output,
        "reasoning": {"effort": (request.get("reasoning") or {}).get("effort"), "summary": None},
        "usage": usage,
        **echoed(request),
    }


def response_from_chat(
    completion: dict[str, Any], request: dict[str, Any], response_id: str
) -> dict[str, Any]:
    """The chat completion `completion` as the response `response_id` to `request`."""
    choice = (completion.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    output: list[dict[str, Any]] = []
    calls = message.get("tool_calls") or []
    if message.get("content") or message.get("refusal") or not calls:
        logprobs = (choice.get("logprobs") or {}).get("content") or []
        part = output_text(message.get("content") or "", logprobs)
        parts = [part] if message.get("content") or not message.get("refusal") else []
        if message.get("refusal"):
            parts.append({"type": "refusal", "refusal": message["refusal"]})
        output.append(message_item(new_item_id("msg"), "completed", parts))
    for call in calls:
        function = call.get("function") or {}
        output.append(
            function_call_item(
                new_item_id("fc"), call.get("id") or new_item_id("call"), function, "completed"
            )
        )
    status, incomplete = FINISH_STATUS.get(choice.get("finish_reason"), ("completed", None))
    usage = responses_usage(completion.get("usage"))
    created = int(completion.get("created") or time.time())
    return response_object(
        request, response_id, created, status, output, usage, completion.get("model"), incomplete
    )


def output_text(text: str, logprobs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": logprobs or []}


def message_item(item_id: str, status: str, content: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content,
    }


def function_call_item(
    item_id: str, call_id: str, function: dict[str, Any], status: str
) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": function.get("name") or "",
        "arguments": function.get("arguments") or "",
    }


def responses_usage(usage: dict[str, Any] | None) -> dict[str, Any] | None:
    """Chat usage in the Responses shape (cached and reasoning token details)."""
    if not usage:
        return None
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": int(cached)},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": int(reasoning)},
        "total_tokens": int(usage.get("total_tokens") or prompt + completion),
    }
