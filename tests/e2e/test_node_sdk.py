"""The official openai Node SDK (installed with npm for the test) against the local server:
chat completions and the Responses API, each JSON and streamed, served by every upstream
format."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from modelyard.local.stack import LocalStack

SCRIPT = """
const { OpenAI } = require("openai");
const client = new OpenAI({
  baseURL: process.env.BASE_URL, apiKey: process.env.API_KEY, maxRetries: 0,
});
(async () => {
  const out = {};
  for (const model of JSON.parse(process.env.MODELS)) {
    const chat = await client.chat.completions.create({
      model, messages: [{ role: "user", content: "Say hello [sim:tokens=5]" }],
    });
    const stream = await client.chat.completions.create({
      model, messages: [{ role: "user", content: "Say hello [sim:tokens=5]" }],
      stream: true, stream_options: { include_usage: true },
    });
    let text = "";
    let usage = null;
    for await (const chunk of stream) {
      if (chunk.choices.length) text += chunk.choices[0].delta.content || "";
      if (chunk.usage) usage = chunk.usage;
    }
    const response = await client.responses.create({ model, input: "Say hello [sim:tokens=5]" });
    const events = await client.responses.create({
      model, input: "Say hello [sim:tokens=5]", stream: true,
    });
    let streamed = "";
    const types = [];
    let completed = null;
    for await (const event of events) {
      types.push(event.type);
      if (event.type === "response.output_text.delta") streamed += event.delta;
      if (event.type === "response.completed") completed = event.response;
    }
    out[model] = {
      chat: chat.choices[0].message.content, stream: text, usage,
      response: response.output_text, response_usage: response.usage,
      streamed, types, completed: completed && completed.usage,
    };
  }
  console.log(JSON.stringify(out));
})().catch((err) => { console.error(err); process.exit(1); });
"""
#: the npm package the test installs (the compatibility table names its version)
NODE_PACKAGE = "openai@6.49"
MODELS = ["gpt-4o", "claude-4-sonnet", "gemini-2.5-flash", "bedrock-claude-sonnet-4"]


@pytest.fixture(scope="module")
def node_openai(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the openai npm package installed (skips when npm or the registry is out
    of reach)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for the Node SDK test")
    folder = tmp_path_factory.mktemp("node-openai")
    try:
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", NODE_PACKAGE],
            cwd=folder,
            check=True,
            capture_output=True,
            timeout=120,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"npm could not install openai (registry unreachable?): {exc}")
    return folder


@pytest.mark.compat("openai (Node)", "chat.completions.create, streamed and not")
@pytest.mark.compat("openai (Node)", "responses.create, streamed and not")
def test_node_openai_sdk_chats_and_responds_through_every_format(
    node_openai: Path, stack: LocalStack
):
    script = node_openai / "check.js"
    script.write_text(SCRIPT)
    result = subprocess.run(
        ["node", str(script)],
        cwd=node_openai,
        env={
            "PATH": os.environ["PATH"],
            "BASE_URL": stack.base_url,  # type: ignore[attr-defined]
            "API_KEY": stack.api_key,
            "MODELS": json.dumps(MODELS),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    for model in MODELS:
        answer = answers[model]
        assert answer["chat"].startswith(f"(simulated {model})")
        assert answer["stream"] == answer["chat"]
        assert answer["usage"]["completion_tokens"] == 5
        assert answer["response"] == answer["streamed"] == answer["chat"]
        assert answer["response_usage"]["output_tokens"] == 5
        assert answer["completed"]["output_tokens"] == 5
        assert answer["types"][0] == "response.created"
        assert answer["types"][-1] == "response.completed"
