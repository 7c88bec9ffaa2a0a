"""What the SIMULATED model answers, whatever wire format asked: an `Ask` (a request as every
format can state it) goes in, an `Answer` (choices of text or tool calls, finish reasons, token
counts, log probabilities) comes out. The wire modules only translate to and from these.

Directives in the last user message steer it deterministically:
`[sim:tokens=N]` the reply's length in tokens (default 24);
`[sim:text=...]` the reply's exact text (up to the closing bracket), e.g. to hold a stop sequence;
`[sim:calls=N]` how many tool calls to make when parallel calls are allowed (default 1).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from modelyard.local.schema_instance import schema_instance

DEFAULT_REPLY_TOKENS = 24
_TOKENS_DIRECTIVE = re.compile(r"\[sim:tokens=(\d{1,5})\]")
_TEXT_DIRECTIVE = re.compile(r"\[sim:text=([^\]]*)\]")
_CALLS_DIRECTIVE = re.compile(r"\[sim:calls=(\d{1,2})\]")
_TOKEN = re.compile(r"\s*\S+|\s+$")
_WORDS = [
    "the",
    "gateway",
    "routes",
    "each",
    "request",
    "to",
    "a",
    "model",
    "that",
    "fits",
    "its",
    "task",
    "and",
    "budget",
    "while",
    "keeping",
    "every",
    "token",
    "accounted",
    "for",
    "across",
    "providers",
    "and",
    "regions",
]


@dataclass(frozen=True, slots=True)
class SimModel:
    id: str
    upstream: str
    ttft_ms: int
    tokens_per_second: int


@dataclass(frozen=True, slots=True)
class Turn:
    role: str  # system, user, assistant or tool (a tool's result)
    text: str


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    parameters: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Ask:
    """A request, format-neutral. `tool_choice` is auto, none or required; `allowed_tools`
    narrows which tools may be called (a named choice is required with one allowed)."""

    turns: list[Turn]
    tools: list[Tool] = field(default_factory=list)
    tool_choice: str = "auto"
    allowed_tools: tuple[str, ...] | None = None
    parallel_tool_calls: bool = True
    schema: dict[str, Any] | None = None
    json_object: bool = False
    n: int = 1
    logprobs: bool = False
    top_logprobs: int = 0
    stop: tuple[str, ...] = ()
    max_tokens: int | None = None

    @property
    def last_user(self) -> str:
        return next((t.text for t in reversed(self.turns) if t.role == "user"), "")


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str  # "call_sim..."; each format derives its own id from it
    name: str
    arguments: str  # JSON text

    @property
    def input(self) -> Any:
        return json.loads(self.arguments)

    @property
    def suffix(self) -> str:
        return self.id.removeprefix("call_sim")


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    token: str
    logprob: float
    top: list[tuple[str, float]]


@dataclass(slots=True)
class Choice:
    index: int
    pieces: list[str]  # one token each
    tool_calls: list[ToolCall]
    finish: str  # stop, length or tool_calls
    stop_sequence: str | None = None

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def tokens(self) -> int:
        return len(self.pieces) + sum(len(c.arguments) // 4 for c in self.tool_calls)

    def logprobs(self, top: int) -> list[TokenLogprob]:
        """Deterministic log probabilities: each token the likeliest of its `top` alternatives."""
        out = []
        for i, piece in enumerate(self.pieces):
            logprob = -round(0.01 + 0.05 * ((i * 7 + self.index) % 5), 4)
            alternatives = [
                (piece[: len(piece) - len(piece.lstrip())] + _WORDS[(i + k) % len(_WORDS)], k)
                for k in range(1, top)
            ]
            out.append(
                TokenLogprob(
                    piece,
                    logprob,
                    [(piece, logprob)]
                    + [(t, round(logprob - 1.5 * k, 4)) for t, k in alternatives],
                )
            )
        return out


@dataclass(slots=True)
class Answer:
    id: str  # hex; each format adds its prefix
    created: int
    model: str  # the upstream name
    ask: Ask
    choices: list[Choice]
    prompt_tokens: int
    cached_tokens: int = 0

    @property
    def completion_tokens(self) -> int:
        return sum(c.tokens for c in self.choices)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def compose(ask: Ask, model: SimModel) -> Answer:
    """The simulated model's answer to `ask`: `n` choices, each tool calls (when the tool
    choice asks for them) or text cut at the first stop sequence and at `max_tokens`."""
    prompt = " ".join(t.text for t in ask.turns)
    return Answer(
        id=uuid.uuid4().hex[:20],
        created=int(time.time()),
        model=model.upstream,
        ask=ask,
        choices=[_choice(ask, model, index) for index in range(max(ask.n, 1))],
        prompt_tokens=token_count(prompt) + 3 * len(ask.turns),
    )


def _choice(ask: Ask, model: SimModel, index: int) -> Choice:
    calls = _tool_calls(ask)
    if calls:
        return Choice(index, [], calls, "tool_calls")
    pieces = _pieces(ask, model, index)
    finish, stop_sequence = "stop", None
    text = "".join(pieces)
    hits = [(text.find(s), s) for s in ask.stop if s and s in text]
    if hits:
        position, stop_sequence = min(hits)
        pieces = _cut_at(pieces, position)
    if ask.max_tokens is not None and len(pieces) > ask.max_tokens:
        pieces, finish, stop_sequence = pieces[: ask.max_tokens], "length", None
    return Choice(index, pieces, [], finish, stop_sequence)


def _pieces(ask: Ask, model: SimModel, index: int) -> list[str]:
    if ask.schema is not None:
        return tokens_of(json.dumps(schema_instance(ask.schema)))
    if ask.json_object:
        return tokens_of(json.dumps({"answer": "simulated", "model": model.id}))
    given = _TEXT_DIRECTIVE.search(ask.last_user)
    if given:
        return tokens_of(given.group(1))
    match = _TOKENS_DIRECTIVE.search(ask.last_user)
    wanted = int(match.group(1)) if match else DEFAULT_REPLY_TOKENS
    words = [f"(simulated {model.id})"] + [
        " " + _WORDS[(i + index) % len(_WORDS)] for i in range(max(wanted - 1, 0))
    ]
    return words[:wanted]


def _cut_at(pieces: list[str], position: int) -> list[str]:
    """The tokens of the text before `position`; the token it falls in keeps its head."""
    kept: list[str] = []
    seen = 0
    for piece in pieces:
        if seen + len(piece) > position:
            if position > seen:
                kept.append(piece[: position - seen])
            break
        kept.append(piece)
        seen += len(piece)
    return kept


def _tool_calls(ask: Ask) -> list[ToolCall]:
    """Auto calls a tool unless the last turn is a tool's result; required always calls one;
    `[sim:calls=N]` makes N calls (cycling through the tools) when parallel calls are allowed."""
    tools = [t for t in ask.tools if ask.allowed_tools is None or t.name in ask.allowed_tools]
    if not tools or ask.tool_choice == "none":
        return []
    if ask.tool_choice == "auto" and ask.turns and ask.turns[-1].role == "tool":
        return []
    match = _CALLS_DIRECTIVE.search(ask.last_user)
    count = max(int(match.group(1)), 1) if match else 1
    if not ask.parallel_tool_calls or (len(tools) == 1 and ask.tool_choice == "required"):
        count = 1
    return [_call(tools[i % len(tools)]) for i in range(count)]


def _call(tool: Tool) -> ToolCall:
    parameters = tool.parameters or {"type": "object", "properties": {}}
    return ToolCall(
        "call_sim" + uuid.uuid4().hex[:16], tool.name, json.dumps(schema_instance(parameters))
    )


def tokens_of(text: str) -> list[str]:
    """The simulated tokenizer: a word with the whitespace before it."""
    return _TOKEN.findall(text)


def token_count(text: str) -> int:
    return max(1, round(len(text.split()) * 4 / 3))


def text_of(content: Any) -> str:
    """The text of an OpenAI-style content: a string or a list of parts with `text`."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""
