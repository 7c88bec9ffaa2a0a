"""The OpenAI Responses API (`POST /v1/responses`) on the SIMULATED upstream: the request's
`input`, `instructions`, flat function tools, `tool_choice`, `text.format` and
`max_output_tokens` read as an `Ask`; the `Answer` written as a `response` object or as its
named SSE events (`response.created` ... `response.completed`), each with a `sequence_number`.
The hosted web search (`web_search`, `web_search_preview`) is SIMULATED: a `web_search_call`
item for the last user turn, then the answer citing one result at a reserved `.invalid`
address, so that a pass-through of hosted tools can be seen end to end. Other hosted tools
(file_search, computer use, ...) are refused: the simulator does not run them."""

from __future__ import annotations

from typing import Any

from modelyard.local.simulator.core import Answer, Ask, Choice, Tool, Turn, text_of
from modelyard.local.simulator.openai_chat import logprob_entries, tool_choice
from modelyard.local.simulator.wire import Frames, first_token_unpaced, named_event
from modelyard.openai_responses.bridge import echoed  # the wire format's own defaults

LOGPROBS_INCLUDE = "message.output_text.logprobs"

#: what a malformed fault sends instead of the answer (whole, streamed)
BROKEN = (
    b'{"id": "resp_broken", "output": [',
    b'event: response.created\ndata: {"type": "response.created", \n\n',
)


#: the hosted tools the simulator plays (a search with one simulated result)
WEB_SEARCH = frozenset({"web_search", "web_search_preview"})
SIMULATED_RESULT = {"url": "https://search.simulated.invalid/result", "title": "Simulated result"}


def _tool_types(body: dict[str, Any]) -> set[str]:
    named = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        named.append(choice)
    return {str(t.get("type")) for t in named}


def hosted_tools(body: dict[str, Any]) -> list[str]:
    """The hosted tools (and tool choice) the simulator does not play, by type."""
    return sorted(_tool_types(body) - WEB_SEARCH - {"function"})


def _searches(body: dict[str, Any]) -> bool:
    return bool(_tool_types(body) & WEB_SEARCH)


def ask(body: dict[str, Any]) -> Ask:
    turns = [Turn("system", str(body["instructions"]))] if body.get("instructions") else []
    items = body.get("input")
    for item in [{"role": "user", "content": items}] if isinstance(items, str) else items or []:
        kind = item.get("type", "message")
        if kind == "message":
            role = "system" if item.get("role") == "developer" else str(item.get("role"))
            turns.append(Turn(role, text_of(item.get("content"))))
        elif kind == "function_call":
            turns.append(Turn("assistant", ""))
        elif kind == "function_call_output":
            output = item.get("output")
            turns.append(Turn("tool", output if isinstance(output, str) else text_of(output)))
    mode, allowed = tool_choice(body.get("tool_choice"))
    text_format = (body.get("text") or {}).get("format") or {}
    schema = text_format.get("schema")
    return Ask(
        turns=turns,
        tools=[
            Tool(str(t.get("name", "tool")), t.get("parameters"))
            for t in body.get("tools") or []
            if t.get("type") == "function"
        ],
        tool_choice=mode,
        allowed_tools=allowed,
        parallel_tool_calls=body.get("parallel_tool_calls") is not False,
        schema=schema if text_format.get("type") == "json_schema" and schema else None,
        json_object=text_format.get("type") in ("json_object", "json_schema"),
        logprobs=LOGPROBS_INCLUDE in (body.get("include") or []),
        top_logprobs=int(body.get("top_logprobs") or 0),
        max_tokens=body.get("max_output_tokens"),
    )


def response(answer: Answer, body: dict[str, Any], done: bool = True) -> dict[str, Any]:
    """The response object; `done=False` is the in-progress one a stream opens with."""
    choice = answer.choices[0]
    incomplete = choice.finish == "length"
    status = ("incomplete" if incomplete else "completed") if done else "in_progress"
    return {
        "id": "resp_sim" + answer.id,
        "object": "response",
        "created_at": answer.created,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete and done else None,
        "model": answer.model,
        "output": _items(answer, choice, body) if done else [],
        "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
        "usage": _usage(answer) if done else None,
        **echoed(body),
    }


def _usage(answer: Answer) -> dict[str, Any]:
    return {
        "input_tokens": answer.prompt_tokens,
        "input_tokens_details": {"cached_tokens": answer.cached_tokens},
        "output_tokens": answer.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": answer.total_tokens,
    }


def _logprobs(answer: Answer, choice: Choice, start: int = 0, end: int | None = None) -> Any:
    return logprob_entries(answer, choice, start, end) if answer.ask.logprobs else []


def _text_part(answer: Answer, choice: Choice, cited: bool) -> dict[str, Any]:
    citation = {"type": "url_citation", "start_index": 0, "end_index": len(choice.text)}
    return {
        "type": "output_text",
        "text": choice.text,
        "annotations": [{**citation, **SIMULATED_RESULT}] if cited else [],
        "logprobs": _logprobs(answer, choice),
    }


def _items(answer: Answer, choice: Choice, body: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    searched = _searches(body)
    if searched:
        query = next((t.text for t in reversed(answer.ask.turns) if t.role == "user"), "")
        items.append(
            {
                "type": "web_search_call",
                "id": "ws_sim" + answer.id,
                "status": "completed",
                "action": {"type": "search", "query": query[:200]},
            }
        )
    if choice.pieces or not choice.tool_calls:
        items.append(
            {
                "type": "message",
                "id": "msg_sim" + answer.id,
                "status": "incomplete" if choice.finish == "length" else "completed",
                "role": "assistant",
                "content": [_text_part(answer, choice, searched)],
            }
        )
    items += [
        {
            "type": "function_call",
            "id": "fc_sim" + call.suffix,
            "call_id": call.id,
            "name": call.name,
            "arguments": call.arguments,
            "status": "completed",
        }
        for call in choice.tool_calls
    ]
    return items


def events(answer: Answer, body: dict[str, Any]) -> Frames:
    """The stream: created and in_progress, then per output item its added, deltas and done
    events, then completed (or incomplete) with the whole response."""
    choice = answer.choices[0]
    opening = response(answer, body, done=False)
    events: list[tuple[dict[str, Any], bool]] = [
        ({"type": "response.created", "response": opening}, False),
        ({"type": "response.in_progress", "response": opening}, False),
    ]
    for index, item in enumerate(_items(answer, choice, body)):
        at = {"item_id": item["id"], "output_index": index}
        if item["type"] == "web_search_call":
            events.append(
                (
                    {
                        "type": "response.output_item.added",
                        "output_index": index,
                        "item": {**item, "status": "in_progress"},
                    },
                    False,
                )
            )
            events += [
                ({"type": f"response.web_search_call.{stage}", **at}, False)
                for stage in ("in_progress", "searching", "completed")
            ]
        elif item["type"] == "message":
            events.append(
                (
                    {
                        "type": "response.output_item.added",
                        "output_index": index,
                        "item": {**item, "status": "in_progress", "content": []},
                    },
                    False,
                )
            )
            part = item["content"][0]
            empty = {**part, "text": "", "logprobs": []}
            events.append(
                (
                    {
                        "type": "response.content_part.added",
                        **at,
                        "content_index": 0,
                        "part": empty,
                    },
                    False,
                )
            )
            events += [
                (
                    {
                        "type": "response.output_text.delta",
                        **at,
                        "content_index": 0,
                        "delta": piece,
                        "logprobs": _logprobs(answer, choice, i, i + 1),
                    },
                    True,
                )
                for i, piece in enumerate(choice.pieces)
            ]
            events.append(
                (
                    {
                        "type": "response.output_text.done",
                        **at,
                        "content_index": 0,
                        "text": part["text"],
                        "logprobs": part["logprobs"],
                    },
                    False,
                )
            )
            events.append(
                (
                    {"type": "response.content_part.done", **at, "content_index": 0, "part": part},
                    False,
                )
            )
        else:
            added = {**item, "arguments": "", "status": "in_progress"}
            events.append(
                (
                    {"type": "response.output_item.added", "output_index": index, "item": added},
                    False,
                )
            )
            events.append(
                (
                    {
                        "type": "response.function_call_arguments.delta",
                        **at,
                        "delta": item["arguments"],
                    },
                    True,
                )
            )
            events.append(
                (
                    {
                        "type": "response.function_call_arguments.done",
                        **at,
                        "name": item["name"],
                        "arguments": item["arguments"],
                    },
                    False,
                )
            )
        events.append(
            ({"type": "response.output_item.done", "output_index": index, "item": item}, False)
        )
    final = response(answer, body)
    kind = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
    events.append(({"type": kind, "response": final}, False))
    return first_token_unpaced(
        [(named_event({**e, "sequence_number": i}), wait) for i, (e, wait) in enumerate(events)]
    )
