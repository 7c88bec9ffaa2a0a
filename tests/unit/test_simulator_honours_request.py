"""The simulated upstream honours what a request asks, in every wire format it speaks, whole
and streamed: structured output, n, log probabilities, stop sequences, the tool choice and the
output token limit; and it serves the OpenAI Responses API. Real HTTP requests against the
simulator's app (Starlette's test client); streams are read back the way a client reads them."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from botocore.eventstream import EventStreamBuffer
from openai import OpenAI
from pydantic import BaseModel
from starlette.testclient import TestClient

from modelyard.local.simulator import SimModel, Simulator

MODEL = "sim-model"
WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
    },
    "required": ["city", "unit", "days"],
    "additionalProperties": False,
}
TIME = {
    "type": "object",
    "properties": {"zone": {"type": "string", "format": "date-time"}},
    "required": ["zone"],
}
REPORT = {
    "$defs": {
        "Reading": {
            "type": "object",
            "properties": {"at": {"type": "string", "format": "date"}, "value": {"type": "number"}},
            "required": ["at", "value"],
            "additionalProperties": False,
        }
    },
    "type": "object",
    "properties": {
        "station": {"type": "string"},
        "readings": {"type": "array", "items": {"$ref": "#/$defs/Reading"}, "minItems": 2},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
    "required": ["station", "readings", "note"],
    "additionalProperties": False,
}
STREAMS = pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])


@pytest.fixture(scope="module")
def client() -> TestClient:
    simulator = Simulator([SimModel(MODEL, MODEL, 0, 1000)], latency="zero")
    return TestClient(simulator.app())


def valid(instance: Any, schema: dict[str, Any]) -> bool:
    jsonschema.validate(instance, schema, cls=jsonschema.Draft202012Validator)
    return True


def sse_data(text: str) -> list[dict[str, Any]]:
    return [
        json.loads(line[6:])
        for line in text.splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]


# -- OpenAI Chat Completions -------------------------------------------------------------------
def chat(client: TestClient, stream: bool, prompt: str = "hi", **body: Any) -> dict[str, Any]:
    """A chat completion; a stream is put back together into the same shape."""
    sent = {"model": MODEL, "messages": [{"role": "user", "content": prompt}], **body}
    if not stream:
        response = client.post("/openai/v1/chat/completions", json=sent)
        assert response.status_code == 200, response.text
        return response.json()
    sent |= {"stream": True, "stream_options": {"include_usage": True}}
    response = client.post("/openai/v1/chat/completions", json=sent)
    assert response.status_code == 200 and response.text.endswith("data: [DONE]\n\n")
    choices: dict[int, dict[str, Any]] = {}
    usage = None
    for chunk in sse_data(response.text):
        usage = chunk["usage"] or usage
        for part in chunk["choices"]:
            choice = choices.setdefault(
                part["index"],
                {"index": part["index"], "message": {"content": None}, "logprobs": None},
            )
            delta, message = part["delta"], choice["message"]
            if delta.get("content"):
                message["content"] = (message["content"] or "") + delta["content"]
            for call in delta.get("tool_calls") or []:
                calls = message.setdefault("tool_calls", [])
                if "id" in call:
                    calls.append({"id": call["id"], "function": dict(call["function"])})
                else:
                    calls[call["index"]]["function"]["arguments"] += call["function"]["arguments"]
            if part["logprobs"]:
                choice["logprobs"] = choice["logprobs"] or {"content": []}
                choice["logprobs"]["content"] += part["logprobs"]["content"]
            if part["finish_reason"]:
                choice["finish_reason"] = part["finish_reason"]
    return {"choices": [choices[i] for i in sorted(choices)], "usage": usage}


def function_tool(name: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "parameters": parameters}}


CHAT_TOOLS = [function_tool("get_weather", WEATHER), function_tool("get_time", TIME)]


@STREAMS
def test_chat_json_schema_answer_validates(client: TestClient, stream: bool) -> None:
    schema = {"name": "report", "schema": REPORT, "strict": True}
    out = chat(client, stream, response_format={"type": "json_schema", "json_schema": schema})
    assert valid(json.loads(out["choices"][0]["message"]["content"]), REPORT)


@STREAMS
def test_chat_json_object_answer_is_an_object(client: TestClient, stream: bool) -> None:
    out = chat(client, stream, response_format={"type": "json_object"})
    assert isinstance(json.loads(out["choices"][0]["message"]["content"]), dict)


@STREAMS
def test_chat_n_gives_n_indexed_choices_and_counts_them_all(
    client: TestClient, stream: bool
) -> None:
    out = chat(client, stream, "[sim:tokens=5]", n=3)
    assert [c["index"] for c in out["choices"]] == [0, 1, 2]
    assert len({c["message"]["content"] for c in out["choices"]}) == 3
    assert out["usage"]["completion_tokens"] == 15


@STREAMS
def test_chat_logprobs_per_token_with_top_alternatives(client: TestClient, stream: bool) -> None:
    out = chat(client, stream, "[sim:tokens=4]", logprobs=True, top_logprobs=3)
    choice = out["choices"][0]
    entries = choice["logprobs"]["content"]
    assert "".join(e["token"] for e in entries) == choice["message"]["content"]
    for entry in entries:
        assert entry["logprob"] < 0 and bytes(entry["bytes"]).decode() == entry["token"]
        assert len(entry["top_logprobs"]) == 3
        assert entry["top_logprobs"][0]["token"] == entry["token"]
    assert chat(client, stream, "[sim:tokens=4]")["choices"][0]["logprobs"] is None


@STREAMS
def test_chat_stop_sequence_cuts_the_text(client: TestClient, stream: bool) -> None:
    out = chat(client, stream, "[sim:text=one two END three]", stop=["END", "zzz"])
    choice = out["choices"][0]
    assert choice["message"]["content"] == "one two "
    assert choice["finish_reason"] == "stop"


@STREAMS
def test_chat_max_tokens_cuts_to_length(client: TestClient, stream: bool) -> None:
    out = chat(client, stream, "[sim:tokens=30]", max_completion_tokens=7)
    assert out["choices"][0]["finish_reason"] == "length"
    assert out["usage"]["completion_tokens"] == 7
    assert len(out["choices"][0]["message"]["content"].split()) == 8  # the label is 2 words
    shorter = chat(client, stream, "[sim:tokens=5]", max_tokens=7)
    assert shorter["choices"][0]["finish_reason"] == "stop"


@STREAMS
def test_chat_named_tool_choice_calls_that_tool_with_valid_arguments(
    client: TestClient, stream: bool
) -> None:
    named = {"type": "function", "function": {"name": "get_time"}}
    out = chat(client, stream, tools=CHAT_TOOLS, tool_choice=named)
    (call,) = out["choices"][0]["message"]["tool_calls"]
    assert call["function"]["name"] == "get_time"
    assert valid(json.loads(call["function"]["arguments"]), TIME)
    assert out["choices"][0]["finish_reason"] == "tool_calls"


@STREAMS
def test_chat_tool_choice_modes_and_parallel_calls(client: TestClient, stream: bool) -> None:
    def calls(prompt: str, **body: Any) -> list[dict[str, Any]]:
        message = chat(client, stream, prompt, tools=CHAT_TOOLS, **body)["choices"][0]["message"]
        return message.get("tool_calls") or []

    assert calls("hi", tool_choice="none") == []
    assert len(calls("hi", tool_choice="required")) == 1
    both = calls("[sim:calls=2]", tool_choice="auto")
    assert [c["function"]["name"] for c in both] == ["get_weather", "get_time"]
    assert valid(json.loads(both[0]["function"]["arguments"]), WEATHER)
    assert len(calls("[sim:calls=2]", parallel_tool_calls=False)) == 1


def test_chat_after_a_tool_result_answers_unless_a_tool_is_required(client: TestClient) -> None:
    messages = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "tool_calls": [], "content": None},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    body = {"model": MODEL, "messages": messages, "tools": CHAT_TOOLS}
    auto = client.post("/openai/v1/chat/completions", json=body).json()
    assert (
        auto["choices"][0]["message"]["content"] and auto["choices"][0]["finish_reason"] == "stop"
    )
    required = client.post(
        "/openai/v1/chat/completions", json={**body, "tool_choice": "required"}
    ).json()
    assert required["choices"][0]["finish_reason"] == "tool_calls"


# -- OpenAI Responses API ------------------------------------------------------------------------
def respond(client: TestClient, stream: bool, **body: Any) -> dict[str, Any]:
    """A Responses API response; streamed, the events are checked and the final one's
    response returned."""
    sent = {"model": MODEL, **body, "stream": stream}
    response = client.post("/openai/v1/responses", json=sent)
    assert response.status_code == 200, response.text
    if not stream:
        return response.json()
    lines = response.text.splitlines()
    names = [line[7:] for line in lines if line.startswith("event: ")]
    events = sse_data(response.text)
    assert names == [e["type"] for e in events]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert names[:2] == ["response.created", "response.in_progress"]
    assert events[0]["response"]["status"] == "in_progress"
    final = events[-1]["response"]
    for index, item in enumerate(final["output"]):
        at = [e for e in events if e.get("output_index") == index]
        assert at[0]["type"] == "response.output_item.added"
        assert at[-1] == {**at[-1], "type": "response.output_item.done", "item": item}
        if item["type"] == "message":
            deltas = [e["delta"] for e in at if e["type"] == "response.output_text.delta"]
            assert "".join(deltas) == item["content"][0]["text"]
            kinds = [e["type"] for e in at]
            assert kinds[1] == "response.content_part.added"
            assert kinds[-4:-1] == [
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
            ]
        else:
            (done,) = [e for e in at if e["type"] == "response.function_call_arguments.done"]
            deltas = [
                e["delta"] for e in at if e["type"] == "response.function_call_arguments.delta"
            ]
            assert "".join(deltas) == done["arguments"] == item["arguments"]
    assert names[-1] == f"response.{final['status']}"
    return final


RESPONSES_TOOLS = [
    {"type": "function", "name": "get_weather", "parameters": WEATHER, "strict": True},
    {"type": "function", "name": "get_time", "parameters": TIME, "strict": False},
]


@STREAMS
def test_responses_text_answer_with_usage_and_echoes(client: TestClient, stream: bool) -> None:
    out = respond(
        client,
        stream,
        input="Say hello [sim:tokens=6]",
        instructions="Be brief.",
        metadata={"k": "v"},
        temperature=0.2,
    )
    assert out["id"].startswith("resp_") and out["object"] == "response"
    assert out["status"] == "completed" and out["incomplete_details"] is None
    (message,) = out["output"]
    assert message["type"] == "message" and message["id"].startswith("msg_")
    assert message["role"] == "assistant" and message["status"] == "completed"
    (part,) = message["content"]
    assert part["type"] == "output_text" and part["annotations"] == []
    assert len(part["text"].split()) == 7  # "(simulated sim-model)" is one token of two words
    usage = out["usage"]
    assert usage["output_tokens"] == 6
    assert usage["total_tokens"] == usage["input_tokens"] + 6
    assert usage["input_tokens_details"] == {"cached_tokens": 0}
    assert usage["output_tokens_details"] == {"reasoning_tokens": 0}
    assert out["instructions"] == "Be brief." and out["metadata"] == {"k": "v"}
    assert out["temperature"] == 0.2 and out["tool_choice"] == "auto"
    assert out["parallel_tool_calls"] is True and out["previous_response_id"] is None


@STREAMS
def test_responses_input_items_and_function_call_output(client: TestClient, stream: bool) -> None:
    items = [
        {"role": "developer", "content": "Use tools."},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": "{}",
        },
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
    ]
    out = respond(client, stream, input=items, tools=RESPONSES_TOOLS)
    assert [item["type"] for item in out["output"]] == ["message"]


@STREAMS
def test_responses_function_calls_follow_the_tool_choice(client: TestClient, stream: bool) -> None:
    named = respond(
        client,
        stream,
        input="time?",
        tools=RESPONSES_TOOLS,
        tool_choice={"type": "function", "name": "get_time"},
    )
    (call,) = named["output"]
    assert call["type"] == "function_call" and call["name"] == "get_time"
    assert call["id"].startswith("fc_") and call["call_id"].startswith("call_")
    assert call["status"] == "completed" and valid(json.loads(call["arguments"]), TIME)
    both = respond(client, stream, input="[sim:calls=2]", tools=RESPONSES_TOOLS)
    assert [c["name"] for c in both["output"]] == ["get_weather", "get_time"]
    assert valid(json.loads(both["output"][0]["arguments"]), WEATHER)
    none = respond(client, stream, input="hi", tools=RESPONSES_TOOLS, tool_choice="none")
    assert [item["type"] for item in none["output"]] == ["message"]


@STREAMS
def test_responses_text_format_json_schema(client: TestClient, stream: bool) -> None:
    text = {"format": {"type": "json_schema", "name": "report", "schema": REPORT, "strict": True}}
    out = respond(client, stream, input="report", text=text)
    assert valid(json.loads(out["output"][0]["content"][0]["text"]), REPORT)
    assert out["text"] == text


@STREAMS
def test_responses_max_output_tokens_is_incomplete(client: TestClient, stream: bool) -> None:
    out = respond(client, stream, input="[sim:tokens=40]", max_output_tokens=16)
    assert out["status"] == "incomplete"
    assert out["incomplete_details"] == {"reason": "max_output_tokens"}
    assert out["output"][0]["status"] == "incomplete"
    assert out["usage"]["output_tokens"] == 16 and out["max_output_tokens"] == 16


def test_responses_logprobs_when_included(client: TestClient) -> None:
    out = respond(
        client,
        False,
        input="[sim:tokens=3]",
        include=["message.output_text.logprobs"],
        top_logprobs=2,
    )
    entries = out["output"][0]["content"][0]["logprobs"]
    assert len(entries) == 3 and all(len(e["top_logprobs"]) == 2 for e in entries)


def test_responses_refuse_hosted_tools_they_do_not_play(client: TestClient) -> None:
    tools = [{"type": "web_search"}, {"type": "file_search", "vector_store_ids": ["vs_1"]}]
    response = client.post(
        "/openai/v1/responses", json={"model": MODEL, "input": "hi", "tools": tools}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == "tools"
    assert "file_search" in error["message"] and "web_search" not in error["message"]


def test_responses_play_a_web_search_with_a_simulated_citation(client: TestClient) -> None:
    body = {"model": MODEL, "input": "news?", "tools": [{"type": "web_search"}]}
    search, message = client.post("/openai/v1/responses", json=body).json()["output"]
    assert search["type"] == "web_search_call" and search["action"]["query"] == "news?"
    [citation] = message["content"][0]["annotations"]
    assert citation["type"] == "url_citation" and citation["url"].endswith(".invalid/result")


# -- Anthropic Messages --------------------------------------------------------------------------
def messages(client: TestClient, stream: bool, prompt: str = "hi", **body: Any) -> dict[str, Any]:
    """A Messages API message; a stream is put back together into the same shape."""
    sent = {
        "model": MODEL,
        "max_tokens": body.pop("max_tokens", 1024),
        "messages": [{"role": "user", "content": prompt}],
        "stream": stream,
        **body,
    }
    response = client.post(
        "/anthropic/v1/messages", json=sent, headers={"anthropic-version": "2023-06-01"}
    )
    assert response.status_code == 200, response.text
    if not stream:
        return response.json()
    events = sse_data(response.text)
    message = events[0]["message"]
    for event in events[1:]:
        if event["type"] == "content_block_start":
            message["content"].append({**event["content_block"], "partial": ""})
        elif event["type"] == "content_block_delta":
            block, delta = message["content"][event["index"]], event["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            else:
                block["partial"] += delta["partial_json"]
        elif event["type"] == "content_block_stop":
            block = message["content"][event["index"]]
            if block["type"] == "tool_use":
                block["input"] = json.loads(block["partial"])
            del block["partial"]
        elif event["type"] == "message_delta":
            message |= event["delta"]
            message["usage"] |= event["usage"]
    return message


ANTHROPIC_TOOLS = [
    {"name": "get_weather", "input_schema": WEATHER},
    {"name": "get_time", "input_schema": TIME},
]


@STREAMS
def test_anthropic_forced_tool_input_validates(client: TestClient, stream: bool) -> None:
    out = messages(
        client, stream, tools=ANTHROPIC_TOOLS, tool_choice={"type": "tool", "name": "get_time"}
    )
    (block,) = out["content"]
    assert block["type"] == "tool_use" and block["name"] == "get_time"
    assert valid(block["input"], TIME) and out["stop_reason"] == "tool_use"


@STREAMS
def test_anthropic_tool_choice_any_none_and_parallel(client: TestClient, stream: bool) -> None:
    def uses(prompt: str, choice: dict[str, Any]) -> list[str]:
        out = messages(client, stream, prompt, tools=ANTHROPIC_TOOLS, tool_choice=choice)
        return [b["name"] for b in out["content"] if b["type"] == "tool_use"]

    assert uses("hi", {"type": "none"}) == []
    assert uses("hi", {"type": "any"}) == ["get_weather"]
    assert uses("[sim:calls=2]", {"type": "auto"}) == ["get_weather", "get_time"]
    assert uses("[sim:calls=2]", {"type": "auto", "disable_parallel_tool_use": True}) == [
        "get_weather"
    ]


@STREAMS
def test_anthropic_output_format_json_schema(client: TestClient, stream: bool) -> None:
    out = messages(client, stream, output_format={"type": "json_schema", "schema": REPORT})
    assert valid(json.loads(out["content"][0]["text"]), REPORT)


@STREAMS
def test_anthropic_stop_sequence(client: TestClient, stream: bool) -> None:
    out = messages(
        client, stream, "[sim:text=alpha beta\n\nHuman: gamma]", stop_sequences=["Human:"]
    )
    assert out["content"][0]["text"] == "alpha beta\n\n"
    assert out["stop_reason"] == "stop_sequence" and out["stop_sequence"] == "Human:"


@STREAMS
def test_anthropic_max_tokens(client: TestClient, stream: bool) -> None:
    out = messages(client, stream, "[sim:tokens=20]", max_tokens=5)
    assert out["stop_reason"] == "max_tokens" and out["usage"]["output_tokens"] == 5
    assert out["stop_sequence"] is None


# -- Gemini ------------------------------------------------------------------------------------
def generate(client: TestClient, stream: bool, prompt: str = "hi", **body: Any) -> dict[str, Any]:
    """A GenerateContentResponse; a stream's partial responses are merged per candidate."""
    sent = {"contents": [{"role": "user", "parts": [{"text": prompt}]}], **body}
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    response = client.post(f"/gemini/v1beta/models/{MODEL}:{method}", json=sent)
    assert response.status_code == 200, response.text
    if not stream:
        return response.json()
    candidates: dict[int, dict[str, Any]] = {}
    chunks = sse_data(response.text)
    for chunk in chunks:
        for part in chunk["candidates"]:
            merged = candidates.setdefault(
                part["index"], {"index": part["index"], "content": {"parts": []}, "chosen": []}
            )
            for piece in part["content"]["parts"]:
                parts = merged["content"]["parts"]
                if "text" in piece and parts and "text" in parts[-1]:
                    parts[-1]["text"] += piece["text"]
                else:
                    parts.append(dict(piece))
            merged["chosen"] += (part.get("logprobsResult") or {}).get("chosenCandidates", [])
            if "finishReason" in part:
                merged["finishReason"] = part["finishReason"]
    return {
        "candidates": [candidates[i] for i in sorted(candidates)],
        "usageMetadata": chunks[-1]["usageMetadata"],
    }


def gemini_text(out: dict[str, Any], index: int = 0) -> str:
    return "".join(p.get("text", "") for p in out["candidates"][index]["content"]["parts"])


GEMINI_TOOLS = [
    {
        "functionDeclarations": [
            {"name": "get_weather", "parametersJsonSchema": WEATHER},
            {"name": "get_time", "parametersJsonSchema": TIME},
        ]
    }
]


@STREAMS
def test_gemini_response_json_schema(client: TestClient, stream: bool) -> None:
    config = {"responseMimeType": "application/json", "responseJsonSchema": REPORT}
    out = generate(client, stream, generationConfig=config)
    assert valid(json.loads(gemini_text(out)), REPORT)


def test_gemini_response_schema_in_openapi_form(client: TestClient) -> None:
    schema = {
        "type": "OBJECT",
        "properties": {"title": {"type": "STRING"}, "score": {"type": "NUMBER", "nullable": True}},
        "required": ["title", "score"],
    }
    config = {"responseMimeType": "application/json", "responseSchema": schema}
    answer = json.loads(gemini_text(generate(client, False, generationConfig=config)))
    assert isinstance(answer["title"], str) and isinstance(answer["score"], float)


@STREAMS
def test_gemini_candidate_count(client: TestClient, stream: bool) -> None:
    out = generate(client, stream, "[sim:tokens=4]", generationConfig={"candidateCount": 2})
    assert [c["index"] for c in out["candidates"]] == [0, 1]
    assert gemini_text(out, 0) != gemini_text(out, 1)
    assert out["usageMetadata"]["candidatesTokenCount"] == 8


@STREAMS
def test_gemini_stop_sequences_and_max_output_tokens(client: TestClient, stream: bool) -> None:
    stopped = generate(
        client,
        stream,
        "[sim:text=red green STOP blue]",
        generationConfig={"stopSequences": ["STOP"]},
    )
    assert gemini_text(stopped) == "red green "
    assert stopped["candidates"][0]["finishReason"] == "STOP"
    cut = generate(client, stream, "[sim:tokens=20]", generationConfig={"maxOutputTokens": 6})
    assert cut["candidates"][0]["finishReason"] == "MAX_TOKENS"
    assert cut["usageMetadata"]["candidatesTokenCount"] == 6


@STREAMS
def test_gemini_function_calling_config(client: TestClient, stream: bool) -> None:
    def calls(mode: str, prompt: str = "hi", **config: Any) -> list[dict[str, Any]]:
        tool_config = {"functionCallingConfig": {"mode": mode, **config}}
        out = generate(client, stream, prompt, tools=GEMINI_TOOLS, toolConfig=tool_config)
        parts = out["candidates"][0]["content"]["parts"]
        return [p["functionCall"] for p in parts if "functionCall" in p]

    assert calls("NONE") == []
    (call,) = calls("ANY", allowedFunctionNames=["get_time"])
    assert call["name"] == "get_time" and valid(call["args"], TIME)
    assert [c["name"] for c in calls("AUTO", "[sim:calls=2]")] == ["get_weather", "get_time"]


@STREAMS
def test_gemini_logprobs(client: TestClient, stream: bool) -> None:
    config = {"responseLogprobs": True, "logprobs": 2}
    out = generate(client, stream, "[sim:tokens=3]", generationConfig=config)
    if stream:
        chosen = out["candidates"][0]["chosen"]
    else:
        candidate = out["candidates"][0]
        chosen = candidate["logprobsResult"]["chosenCandidates"]
        assert candidate["avgLogprobs"] < 0
        assert all(len(t["candidates"]) == 2 for t in candidate["logprobsResult"]["topCandidates"])
    assert "".join(c["token"] for c in chosen) == gemini_text(out)


# -- Bedrock Converse ------------------------------------------------------------------------------
def converse(client: TestClient, stream: bool, prompt: str = "hi", **body: Any) -> dict[str, Any]:
    """A Converse response; a ConverseStream's events are put back together into its shape."""
    sent = {"messages": [{"role": "user", "content": [{"text": prompt}]}], **body}
    path = f"/model/{MODEL}/converse-stream" if stream else f"/model/{MODEL}/converse"
    headers = {"authorization": "AWS4-HMAC-SHA256 Credential=test"}
    response = client.post(path, json=sent, headers=headers)
    assert response.status_code == 200, response.text
    if not stream:
        return response.json()
    buffer = EventStreamBuffer()
    buffer.add_data(response.content)
    blocks: dict[int, dict[str, Any]] = {}
    out: dict[str, Any] = {}
    for message in buffer:
        kind, payload = message.headers[":event-type"], json.loads(message.payload)
        if kind == "contentBlockStart":
            blocks[payload["contentBlockIndex"]] = {"toolUse": {**payload["start"]["toolUse"]}}
        elif kind == "contentBlockDelta":
            delta = payload["delta"]
            block = blocks.setdefault(payload["contentBlockIndex"], {})
            if "text" in delta:
                block["text"] = block.get("text", "") + delta["text"]
            else:
                block["toolUse"]["input"] = json.loads(delta["toolUse"]["input"])
        elif kind == "messageStop":
            out["stopReason"] = payload["stopReason"]
        elif kind == "metadata":
            out["usage"] = payload["usage"]
    content = [blocks[i] for i in sorted(blocks)]
    return {**out, "output": {"message": {"role": "assistant", "content": content}}}


BEDROCK_TOOLS = [
    {"toolSpec": {"name": "get_weather", "inputSchema": {"json": WEATHER}}},
    {"toolSpec": {"name": "get_time", "inputSchema": {"json": TIME}}},
]


@STREAMS
def test_bedrock_tool_choice(client: TestClient, stream: bool) -> None:
    def uses(choice: dict[str, Any], prompt: str = "hi") -> list[dict[str, Any]]:
        config = {"tools": BEDROCK_TOOLS, "toolChoice": choice}
        out = converse(client, stream, prompt, toolConfig=config)
        return [b["toolUse"] for b in out["output"]["message"]["content"] if "toolUse" in b]

    (use,) = uses({"tool": {"name": "get_time"}})
    assert use["name"] == "get_time" and valid(use["input"], TIME)
    assert [u["name"] for u in uses({"any": {}})] == ["get_weather"]
    assert [u["name"] for u in uses({"auto": {}}, "[sim:calls=2]")] == ["get_weather", "get_time"]


@STREAMS
def test_bedrock_stop_sequences_and_max_tokens(client: TestClient, stream: bool) -> None:
    config = {"stopSequences": ["STOP"]}
    stopped = converse(client, stream, "[sim:text=one STOP two]", inferenceConfig=config)
    assert stopped["output"]["message"]["content"] == [{"text": "one "}]
    assert stopped["stopReason"] == "stop_sequence"
    cut = converse(client, stream, "[sim:tokens=20]", inferenceConfig={"maxTokens": 4})
    assert cut["stopReason"] == "max_tokens" and cut["usage"]["outputTokens"] == 4


# -- the official openai SDK reads what the simulator writes ---------------------------------
class Reading(BaseModel):
    at: str
    value: float


class Report(BaseModel):
    station: str
    readings: list[Reading]
    note: str | None


@pytest.fixture
def sdk(client: TestClient) -> OpenAI:
    return OpenAI(base_url="http://testserver/openai/v1", api_key="sim", http_client=client)


def test_openai_sdk_parse_gets_a_pydantic_instance(sdk: OpenAI) -> None:
    completion = sdk.chat.completions.parse(
        model=MODEL, messages=[{"role": "user", "content": "report"}], response_format=Report
    )
    report = completion.choices[0].message.parsed
    assert isinstance(report, Report) and report.readings


def test_openai_sdk_responses_create_and_stream(sdk: OpenAI) -> None:
    created = sdk.responses.create(model=MODEL, input="Say hello [sim:tokens=5]")
    assert created.output_text.startswith("(simulated") and created.usage.output_tokens == 5
    with sdk.responses.stream(
        model=MODEL,
        input="time?",
        tools=[{"type": "function", "name": "get_time", "parameters": TIME, "strict": False}],
        tool_choice="required",
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert "response.function_call_arguments.done" in kinds
    (call,) = final.output
    assert call.type == "function_call" and valid(json.loads(call.arguments), TIME)
    parsed = sdk.responses.parse(model=MODEL, input="report", text_format=Report)
    assert isinstance(parsed.output_parsed, Report)


def test_responses_faults_use_openai_error_shape() -> None:
    simulator = Simulator([SimModel(MODEL, MODEL, 0, 1000)], latency="zero", faults=f"{MODEL}=429")
    response = TestClient(simulator.app()).post(
        "/openai/v1/responses", json={"model": MODEL, "input": "hi"}
    )
    assert response.status_code == 429 and response.headers["retry-after"] == "1"
    assert response.json()["error"]["type"] == "rate_limit_exceeded"


def test_chat_allowed_tools_choice_narrows_the_tools(client: TestClient) -> None:
    choice = {
        "type": "allowed_tools",
        "allowed_tools": {"mode": "required", "tools": [{"type": "function", "name": "get_time"}]},
    }
    out = chat(client, False, "[sim:calls=2]", tools=CHAT_TOOLS, tool_choice=choice)
    (call,) = out["choices"][0]["message"]["tool_calls"]
    assert call["function"]["name"] == "get_time"
