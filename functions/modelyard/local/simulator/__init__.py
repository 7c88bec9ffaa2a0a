"""SIMULATED upstream providers for local runs, tests and benchmarks. Not a real model.

Speaks the providers' documented wire formats, non-streaming and streaming: OpenAI Chat
Completions (with `stream_options.include_usage`), the OpenAI Responses API and embeddings;
Anthropic Messages with its SSE event types; Google Gemini `generateContent` /
`streamGenerateContent?alt=sse`; AWS Bedrock Converse / ConverseStream, the stream in AWS's
binary event-stream framing that botocore parses. Each provider's error bodies and retry hints.
Paces itself by each model's time to first token and tokens per second, counts calls, and
injects the faults of `MODELYARD_SIM_FAULTS`. Every reply says it is simulated
(`system_fingerprint: "modelyard-simulated"` where the format has a place for it, header
`x-modelyard-simulated: true` always).

It honours the request, in every format: structured output (a JSON Schema gets a valid
instance, JSON mode a JSON object), the tool choice (auto, none, required, a named tool;
parallel calls or not) with schema-valid arguments, `n` / `candidateCount`, log probabilities,
stop sequences and the output token limit (finish reason `length` and its equivalents).

Layout: `core` answers (an `Ask` in, an `Answer` out), one module per wire format reads the
request and writes the answer (`openai_chat`, `responses`, `anthropic`, `gemini`, `bedrock`),
`wire` frames, paces and breaks the bytes, `server` is the app.

In-band control for tests, in the last user message: `[sim:tokens=N]` sets the reply length,
`[sim:text=...]` its exact text, `[sim:calls=N]` the number of parallel tool calls.

SIMULATED prompt caching (OpenAI's rule, deterministic): on the OpenAI wire, a request whose
messages before the last one come to at least 1024 tokens and repeat a prefix the same model
saw before reports that prefix, rounded down to 128-token steps, as
`prompt_tokens_details.cached_tokens` (`input_tokens_details` on the Responses API).
"""

from modelyard.local.simulator.core import DEFAULT_REPLY_TOKENS, SimModel
from modelyard.local.simulator.server import Simulator
from modelyard.local.simulator.wire import (
    FINGERPRINT,
    SIM_HEADERS,
    SimulatedFailure,
    event_stream_message,
)

__all__ = [
    "DEFAULT_REPLY_TOKENS",
    "FINGERPRINT",
    "SIM_HEADERS",
    "SimModel",
    "SimulatedFailure",
    "Simulator",
    "event_stream_message",
]
