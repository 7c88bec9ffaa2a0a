"""The route planner: from a request to a ranked, explained list of candidate models.

Hard constraints first (kind, context window, tools, JSON, vision, audio, files, parameters
only some wire formats honour (providers/parameters.json), the key's allow-list, the request's
providers, open circuit breakers, cost ceiling), then the policy's
weighted score over quality for the task, estimated cost and estimated latency. No I/O:
everything it needs is passed in, so a decision takes microseconds and `modelyard route
explain` shows the same one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from modelyard.catalog import Catalog, Feedback, Model, ModelHealth, Provider
from modelyard.errors import InvalidRequest, NotFound, PermissionDenied
from modelyard.pricing.prices import Price, TokenUsage, cost_usd
from modelyard.pricing.prices import today as current_day
from modelyard.providers.parameters import ParameterUse, parameters_used, unhonoured
from modelyard.resilience.retry import RetryPolicy
from modelyard.routing.classifier import TASKS, classify_messages
from modelyard.routing.policy import AUTO_MODELS, Policy, resolve_policy

#: below this classifier confidence the route uses general quality ("chat"), not a guess
MIN_CONFIDENCE = 0.5
GENERAL_TASK = "chat"
DEFAULT_OUTPUT_TOKENS = 512
#: quality points below the best at which a candidate's quality term reaches zero
QUALITY_SPAN = 3.0


#: content parts that are not text (estimated as a detailed image's tokens)
MEDIA_PARTS = frozenset({"image_url", "input_audio", "file"})


@dataclass(frozen=True, slots=True)
class RequestFeatures:
    """What routing needs to know about a request, extracted once."""

    messages: list[dict[str, Any]]
    estimated_input_tokens: int
    max_output_tokens: int | None
    needs_tools: bool
    needs_json: bool
    needs_vision: bool
    #: `input_audio` parts, and `file` parts (PDFs and the like): capabilities like vision
    needs_audio: bool = False
    needs_files: bool = False
    #: parameters that only some wire formats honour (n > 1, logprobs, top_k, ...)
    parameters: tuple[ParameterUse, ...] = ()

    def describe(self) -> dict[str, Any]:
        return {
            "estimated_input_tokens": self.estimated_input_tokens,
            "max_output_tokens": self.max_output_tokens,
            "tools": self.needs_tools,
            "json": self.needs_json,
            "vision": self.needs_vision,
            "audio": self.needs_audio,
            "files": self.needs_files,
            "parameters": [use.describe() for use in self.parameters],
        }

    @classmethod
    def from_chat(cls, body: dict[str, Any]) -> RequestFeatures:
        messages = body.get("messages") or []
        chars = 0
        kinds: set[Any] = set()
        for message in messages:
            content = message.get("content")
            if isinstance(content, str):
                chars += len(content)
            elif isinstance(content, list):
                for part in content:
                    if isinstance(part, dict):
                        kinds.add(part.get("type"))
                        if part.get("type") in MEDIA_PARTS:
                            chars += 3000  # a detailed image costs roughly 765+ tokens
                        else:
                            chars += len(str(part.get("text", "")))
        tools = body.get("tools") or []
        chars += sum(len(str(tool)) for tool in tools)
        response_format = body.get("response_format") or {}
        max_out = body.get("max_completion_tokens") or body.get("max_tokens")
        return cls(
            messages=messages,
            estimated_input_tokens=chars // 4 + 4 * len(messages) + 3,
            max_output_tokens=int(max_out) if max_out else None,
            needs_tools=bool(tools),
            needs_json=response_format.get("type") in {"json_object", "json_schema"},
            needs_vision="image_url" in kinds,
            needs_audio="input_audio" in kinds,
            needs_files="file" in kinds,
            parameters=parameters_used(body),
        )


@dataclass(frozen=True, slots=True)
class Candidate:
    model: Model
    provider: Provider
    price: Price
    quality: float
    estimated_cost_usd: Decimal
    estimated_latency_ms: float
    score: float
    #: share of recent attempts that failed (observed), 0 without data
    error_rate: float = 0.0
    #: time to first token expected (observed, else the seed's); hedging waits 1.5 times it
    expected_ttft_ms: float = 0.0
    #: the retry policy configured for this model (None: the executor's default)
    retry: RetryPolicy | None = None

    def explain(self) -> dict[str, Any]:
        return {
            "model": self.model.id,
            "provider": self.provider.id,
            "quality": self.quality,
            "estimated_cost_usd": str(self.estimated_cost_usd),
            "estimated_latency_ms": round(self.estimated_latency_ms),
            "expected_ttft_ms": round(self.expected_ttft_ms),
            "score": round(self.score, 4),
            "error_rate": round(self.error_rate, 3),
        }


@dataclass
class RoutePlan:
    task: str
    confidence: float
    policy: Policy | None
    candidates: list[Candidate]
    reason: str
    signals: tuple[str, ...] = ()
    rejected: dict[str, str] = field(default_factory=dict)
    #: the hard constraints the request imposed (see RequestFeatures.describe)
    constraints: dict[str, Any] = field(default_factory=dict)
    #: race each candidate against the next when it is slow to answer (latency-critical)
    hedge: bool = False

    def explain(self) -> dict[str, Any]:
        return {
            "constraints": self.constraints,
            "task": self.task,
            "confidence": round(self.confidence, 3),
            "signals": list(self.signals),
            "policy": None if self.policy is None else self.policy.name,
            "choice": self.candidates[0].model.id if self.candidates else None,
            "reason": self.reason,
            "candidates": [c.explain() for c in self.candidates],
            "rejected": self.rejected,
        }


@dataclass(frozen=True, slots=True)
class RouteRequest:
    """The routing inputs of one request: the model asked for and the `modelyard` overrides."""

    model: str
    policy: str | None = None
    weights: dict[str, float] | None = None
    min_quality: float | None = None
    max_cost_usd: Decimal | None = None
    providers: tuple[str, ...] = ()
    fallbacks: tuple[str, ...] = ()
    task: str | None = None
    hedge: bool | None = None

    @classmethod
    def from_body(cls, body: dict[str, Any], header_policy: str | None = None) -> RouteRequest:
        options = body.get("modelyard") or {}
        if not isinstance(options, dict):
            raise InvalidRequest("'modelyard' must be an object", param="modelyard")
        task = options.get("task")
        if task is not None and task not in TASKS:
            raise InvalidRequest(f"unknown task {task!r}", param="modelyard.task")
        max_cost = options.get("max_cost_usd")
        try:
            max_cost_usd = None if max_cost is None else Decimal(str(max_cost))
        except ArithmeticError:
            raise InvalidRequest(
                "max_cost_usd must be a number", param="modelyard.max_cost_usd"
            ) from None
        return cls(
            model=str(body.get("model") or ""),
            policy=options.get("policy") or header_policy,
            weights=options.get("weights"),
            min_quality=options.get("min_quality"),
            max_cost_usd=max_cost_usd,
            providers=tuple(options.get("providers") or ()),
            fallbacks=tuple(options.get("fallbacks") or ()),
            task=task,
            hedge=options.get("hedge"),
        )


def plan_route(
    route: RouteRequest,
    features: RequestFeatures,
    catalog: Catalog,
    *,
    allowed: Callable[[str], bool] = lambda _model: True,
    healthy: Callable[[str], bool] = lambda _model: True,
    health: Mapping[str, ModelHealth] | None = None,
    feedback: Mapping[tuple[str, str], Feedback] | None = None,
    today: str | None = None,
) -> RoutePlan:
    """Rank the models that may serve this request; raises if none may."""
    today = today or current_day()
    signals: tuple[str, ...]
    if route.task:
        task, confidence, signals = route.task, 1.0, ("request:modelyard.task",)
    else:
        found = classify_messages(
            features.messages, has_tools=features.needs_tools, json_output=features.needs_json
        )
        task, confidence, signals = found.task, found.confidence, found.signals
    scored_task = task if confidence >= MIN_CONFIDENCE else GENERAL_TASK

    requested = route.model.strip()
    policy_base = AUTO_MODELS.get(requested.lower())
    if policy_base is None and requested.lower().startswith("auto"):
        raise NotFound(f"unknown route {requested!r}", param="model")
    if policy_base is not None or route.policy:
        policy: Policy | None = resolve_policy(
            route.policy or policy_base or "balanced",
            weights=route.weights,
            min_quality=route.min_quality,
            max_cost_usd=route.max_cost_usd,
            providers=route.providers,
        )
    else:
        policy = None

    rejected: dict[str, str] = {}

    def decided(ranked: list[Candidate], reason: str) -> RoutePlan:
        return RoutePlan(
            task,
            confidence,
            policy,
            ranked,
            reason,
            signals,
            rejected,
            features.describe(),
            _hedges(route, policy),
        )

    def score(model: Model) -> Candidate:
        return _score(model, scored_task, features, catalog, health or {}, feedback or {}, today)

    if policy_base is None:
        # An explicit model: serve it, then the fallbacks the request names, in order.
        named = [_named_model(catalog, requested, allowed)]
        named += [
            _named_model(catalog, n, allowed) for n in route.fallbacks if n not in AUTO_MODELS
        ]
        eligible = _eligible(
            dict.fromkeys(named), features, catalog, allowed, healthy, policy, rejected, today
        )
        ranked = _within_cost([score(m) for m in eligible], policy, rejected)
        if any(n in AUTO_MODELS for n in route.fallbacks):
            auto = resolve_policy(route.policy or "balanced")
            pool = [m for m in catalog.models.values() if m.kind == "chat" and m not in named]
            extra = [
                score(m)
                for m in _eligible(pool, features, catalog, allowed, healthy, auto, rejected, today)
            ]
            ranked += sorted(extra, key=lambda c: _rank(c, extra, auto), reverse=True)
        if not ranked:
            raise _no_candidate(requested, rejected, features, pinned=named[0].id)
        first = named[0].id
        reason = (
            f"model {first} requested"
            if ranked[0].model.id == first
            else f"{first} unavailable ({rejected.get(first)}); fallback {ranked[0].model.id}"
        )
        return decided(ranked, reason)

    assert policy is not None
    pool = [m for m in catalog.models.values() if m.kind == "chat"]
    scored = _within_cost(
        [
            score(m)
            for m in _eligible(pool, features, catalog, allowed, healthy, policy, rejected, today)
        ],
        policy,
        rejected,
    )
    good = [c for c in scored if c.quality >= policy.min_quality]
    for c in scored:
        if c.quality < policy.min_quality:
            rejected[c.model.id] = (
                f"quality {c.quality} below {policy.min_quality} for {scored_task}"
            )
    pool_scored = good or scored  # nothing good enough: still serve, best-ranked first
    if not pool_scored:
        raise _no_candidate(requested, rejected, features)
    ranked = sorted(
        (replace(c, score=_rank(c, pool_scored, policy)) for c in pool_scored),
        key=lambda c: c.score,
        reverse=True,
    )
    best = ranked[0]
    how = (
        f"task {task} ({confidence:.2f})"
        if scored_task == task
        else f"low confidence in {task} ({confidence:.2f}), general quality"
    )
    # the wait a client can check (the ledger's ttft_ms), not the ranking's whole-answer
    # estimate, which assumes max_tokens (or DEFAULT_OUTPUT_TOKENS) of output
    reason = (
        f"{policy.name}: {how}; {best.model.id} quality {best.quality}, "
        f"est ${best.estimated_cost_usd}, first token ~{round(best.expected_ttft_ms)} ms"
    )
    return decided(ranked, reason + _skipped_for_parameters(rejected))


def _hedges(route: RouteRequest, policy: Policy | None) -> bool:
    """Hedging is on when the request asks, and by default for the speed policy."""
    if route.hedge is not None:
        return route.hedge
    return policy is not None and policy.name.startswith("speed")


def _within_cost(
    candidates: list[Candidate], policy: Policy | None, rejected: dict[str, str]
) -> list[Candidate]:
    if policy is None or policy.max_cost_usd is None:
        return candidates
    limit = policy.max_cost_usd
    for c in candidates:
        if c.estimated_cost_usd > limit:
            rejected[c.model.id] = f"estimated ${c.estimated_cost_usd} above max ${limit}"
    return [c for c in candidates if c.estimated_cost_usd <= limit]


def _named_model(catalog: Catalog, name: str, allowed: Callable[[str], bool]) -> Model:
    model = catalog.resolve(name)
    if model is None:
        raise NotFound(f"The model '{name}' does not exist", param="model")
    if not allowed(model.id):
        raise PermissionDenied(f"this key may not use model '{model.id}'", param="model")
    return model


def _eligible(
    models: Iterable[Model],
    features: RequestFeatures,
    catalog: Catalog,
    allowed: Callable[[str], bool],
    healthy: Callable[[str], bool],
    policy: Policy | None,
    rejected: dict[str, str],
    today: str,
) -> list[Model]:
    """The models that may serve the request, in the given order.

    An open circuit is the one soft constraint: when it would leave nothing, the open models
    stay, so the request fails fast in the executor (502, attempts skipped) rather than as a
    client error.
    """
    out = []
    open_circuits = []
    needed = features.estimated_input_tokens + (features.max_output_tokens or 0)
    for model in models:
        caps = model.capabilities
        why = None
        if model.kind != "chat":
            why = f"{model.kind} model"
        elif not allowed(model.id):
            why = "not allowed for this key"
        elif policy is not None and policy.providers and model.provider not in policy.providers:
            why = f"provider {model.provider} not in the request's providers"
        elif needed > model.context_window:
            why = f"needs ~{needed} tokens, window {model.context_window}"
        elif features.needs_tools and not caps.tools:
            why = "no tool calling"
        elif features.needs_json and not caps.json:
            why = "no JSON mode"
        elif features.needs_vision and not caps.vision:
            why = "no image input"
        elif features.needs_audio and not caps.audio:
            why = "no audio input"
        elif features.needs_files and not caps.files:
            why = "no file input"
        elif unmet := unhonoured(features.parameters, catalog.provider_of(model), caps):
            why = cannot_honour(unmet)
        elif catalog.price(model.id, today) is None:
            why = "no price"
        elif not healthy(model.id):
            open_circuits.append(model)
            why = "circuit open"
        if why:
            rejected[model.id] = why
        else:
            out.append(model)
    if not out and open_circuits:
        for model in open_circuits:
            del rejected[model.id]
        return open_circuits
    return out


def _score(
    model: Model,
    task: str,
    features: RequestFeatures,
    catalog: Catalog,
    health: Mapping[str, ModelHealth],
    feedback: Mapping[tuple[str, str], Feedback],
    today: str,
) -> Candidate:
    price = catalog.price(model.id, today)
    assert price is not None
    output_tokens = min(
        features.max_output_tokens or DEFAULT_OUTPUT_TOKENS, model.max_output_tokens
    )
    cost = cost_usd(TokenUsage(features.estimated_input_tokens, output_tokens), price)
    observed = health.get(model.id)
    ttft = (observed.ttft_ms if observed else None) or model.ttft_ms
    latency = ttft + 1000.0 * min(output_tokens, DEFAULT_OUTPUT_TOKENS) / max(
        model.tokens_per_second, 1
    )
    entry = catalog.quality.get(task, {}).get(model.id) or catalog.quality.get(
        GENERAL_TASK, {}
    ).get(model.id)
    quality = float(entry.score) if entry else 5.0
    rated = feedback.get((task, model.id))
    if rated is not None:
        quality = round(rated.blend(quality), 2)
    error_rate = observed.error_rate if observed else 0.0
    return Candidate(
        model,
        catalog.provider_of(model),
        price,
        quality,
        cost,
        latency,
        0.0,
        error_rate,
        ttft,
        catalog.retry_policy(model.id),
    )


def _rank(candidate: Candidate, pool: Sequence[Candidate], policy: Policy) -> float:
    """Weighted score in 0..1, each term relative to the best candidate in the pool.

    Quality loses a third per point below the best: on a 0-10 scale where good models sit
    within a point of each other, that gap is what separates them. Observed errors scale the
    whole score down.
    """
    best_quality = max(c.quality for c in pool)
    quality_score = max(0.0, 1.0 - (best_quality - candidate.quality) / QUALITY_SPAN)
    cheapest = min(float(c.estimated_cost_usd) for c in pool) or 1e-12
    fastest = min(c.estimated_latency_ms for c in pool) or 1.0
    cost = float(candidate.estimated_cost_usd) or 1e-12
    # log ratios: ten times dearer is one step worse, not ten
    cost_score = 1.0 / (1.0 + math.log10(cost / cheapest))
    speed_score = fastest / candidate.estimated_latency_ms
    weighted = (
        policy.quality * quality_score + policy.cost * cost_score + policy.speed * speed_score
    )
    # a model failing half its attempts is worth half as much, whatever else it offers
    return weighted * (1.0 - min(candidate.error_rate, 0.9))


def cannot_honour(use: ParameterUse) -> str:
    return f"cannot honour {use.describe()}"


def _skipped_for_parameters(rejected: dict[str, str]) -> str:
    """The route reason's note of the candidates a parameter ruled out ("" when none)."""
    skipped = [f"{m} ({why})" for m, why in rejected.items() if why.startswith("cannot honour")]
    return f"; skipped {', '.join(skipped)}" if skipped else ""


def _no_candidate(
    requested: str,
    rejected: dict[str, str],
    features: RequestFeatures | None = None,
    pinned: str | None = None,
) -> InvalidRequest:
    """The 400 for a request no model can serve; one a parameter rules out names it."""
    for use in features.parameters if features is not None else ():
        blocked = [m for m, why in rejected.items() if why == cannot_honour(use)]
        if not blocked or (pinned is not None and pinned not in blocked):
            continue
        if pinned is not None:
            message = f"model {pinned} cannot honour {use.describe()}"
        else:
            message = f"no model this request may use can honour {use.describe()}"
        return InvalidRequest(
            f"{message} (skipped: {', '.join(blocked)}); leave it out or choose a model that can",
            param=use.param,
            code="unsupported_parameter",
        )
    detail = "; ".join(f"{m}: {why}" for m, why in rejected.items()) or "no models"
    return InvalidRequest(
        f"no model can serve this request ({requested}): {detail}",
        param="model",
        code="no_eligible_model",
    )


def embedding_tokens(inputs: Any) -> int:
    """The tokens an embeddings `input` holds, estimated before the call (a string's characters
    over four, rounded up; a token array's length), to cap a request and charge its key."""
    if isinstance(inputs, str):
        return -(-len(inputs) // 4)
    if isinstance(inputs, list) and inputs and isinstance(inputs[0], int):
        return len(inputs)  # one input, as token ids
    return sum(embedding_tokens(item) for item in inputs or ())


def plan_embedding(
    route: RouteRequest,
    catalog: Catalog,
    *,
    allowed: Callable[[str], bool] = lambda _model: True,
    healthy: Callable[[str], bool] = lambda _model: True,
    today: str | None = None,
) -> RoutePlan:
    """An embeddings request: the named embedding model, or for an `auto` name every allowed
    embedding model, cheapest first. Vectors from different models are not comparable, so a
    named model never falls back to another."""
    today = today or current_day()
    requested = route.model.strip()
    if requested.lower() in AUTO_MODELS:
        pool = sorted(
            (m for m in catalog.models.values() if m.kind == "embedding" and allowed(m.id)),
            key=lambda m: p.input if (p := catalog.price(m.id, today)) else Decimal("Infinity"),
        )
        reason = "auto: the cheapest embedding model"
    else:
        model = _named_model(catalog, requested, allowed)
        if model.kind != "embedding":
            raise InvalidRequest(f"{model.id} is not an embedding model", param="model")
        pool = [model]
        reason = f"model {model.id} requested"
    rejected: dict[str, str] = {}
    candidates = []
    for model in pool:
        price = catalog.price(model.id, today)
        if price is None:
            rejected[model.id] = "no price"
        elif not healthy(model.id):
            rejected[model.id] = "circuit open"
        else:
            candidates.append(
                Candidate(
                    model,
                    catalog.provider_of(model),
                    price,
                    0.0,
                    Decimal(0),
                    0.0,
                    0.0,
                    retry=catalog.retry_policy(model.id),
                )
            )
    if not candidates:
        raise _no_candidate(requested, rejected)
    return RoutePlan("embedding", 1.0, None, candidates, reason, rejected=rejected)
