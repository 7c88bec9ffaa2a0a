"""The catalog: providers, models, prices and per-task quality scores, as read from ConfigTable.

Plain immutable data; `store.config` loads it and caches it, `routing` and `pricing` read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from modelyard.pricing.prices import Price
from modelyard.resilience.retry import RetryPolicy


@dataclass(frozen=True, slots=True)
class Provider:
    id: str
    name: str
    wire: str  # adapter: "openai" | "anthropic" | "gemini" | "bedrock"
    base_url: str
    api_key_env: str
    #: Azure OpenAI: set, requests go to /openai/deployments/<upstream>/...?api-version=<it>
    #: with the key in an `api-key` header
    api_version: str = ""
    #: request formats it also takes as they are (providers.native), e.g. "openai-responses"
    dialects: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Capabilities:
    tools: bool = False
    json: bool = False
    vision: bool = False
    #: `input_audio` and `file` content parts (forwarded by the OpenAI wire format only)
    audio: bool = False
    files: bool = False
    streaming: bool = True
    #: takes a reasoning effort or thinking budget (`reasoning_effort`, `thinking`)
    reasoning: bool = False


@dataclass(frozen=True, slots=True)
class Model:
    id: str
    provider: str
    upstream: str
    kind: str  # "chat" | "embedding"
    context_window: int
    max_output_tokens: int
    capabilities: Capabilities
    ttft_ms: int
    tokens_per_second: int
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class QualityScore:
    score: Decimal  # 0..10
    source: str


@dataclass(frozen=True, slots=True)
class ModelHealth:
    """What the aggregator observed of a model over the last hours."""

    attempts: int
    errors: int
    ttft_ms: float | None

    @property
    def error_rate(self) -> float:
        return self.errors / self.attempts if self.attempts else 0.0


@dataclass(frozen=True, slots=True)
class Feedback:
    """Users' scores (0..1) for one model on one task, from POST /v1/feedback."""

    count: int
    score_sum: Decimal

    #: how many ratings the seed score is worth: it moves only once users have said enough
    PRIOR_WEIGHT = 20

    def blend(self, seed: float) -> float:
        """The seed quality (0-10) pulled toward the users' mean score (scaled to 0-10)."""
        learned = 10.0 * float(self.score_sum)
        return (self.PRIOR_WEIGHT * seed + learned) / (self.PRIOR_WEIGHT + self.count)


@dataclass(frozen=True)
class Catalog:
    providers: dict[str, Provider]
    models: dict[str, Model]
    #: every price version per model, oldest first
    prices: dict[str, tuple[Price, ...]]
    #: task -> model id -> score
    quality: dict[str, dict[str, QualityScore]] = field(default_factory=dict)
    #: retry policy per model id, "*" for every other model (seed: infra/seed/retry.json)
    retry_policies: dict[str, RetryPolicy] = field(default_factory=dict)
    _names: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        names = self._names
        for model in self.models.values():
            for name in (model.id, f"{model.provider}/{model.id}", model.upstream, *model.aliases):
                names.setdefault(name.lower(), model.id)

    def retry_policy(self, model_id: str) -> RetryPolicy | None:
        """The model's own retry policy, else the catalog's default, else None (the code's)."""
        return self.retry_policies.get(model_id) or self.retry_policies.get("*")

    def resolve(self, name: str) -> Model | None:
        """A model by id, provider-qualified id, upstream name or alias (case-insensitive)."""
        model_id = self._names.get(name.lower())
        return self.models[model_id] if model_id else None

    def price(self, model_id: str, on: str) -> Price | None:
        """The price version in force on `on` (ISO date)."""
        current = None
        for price in self.prices.get(model_id, ()):
            if price.effective_from <= on:
                current = price
        return current

    def provider_of(self, model: Model) -> Provider:
        return self.providers[model.provider]
