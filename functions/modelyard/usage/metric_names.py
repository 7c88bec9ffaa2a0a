"""CloudWatch metric names and dimensions that the code emits (EMF) and the template alarms on.

Dimension sets stay low-cardinality: service alone, service+model, service+provider.
Tenant-level figures live in DynamoDB counters, not in metric dimensions.
"""

NAMESPACE = "Modelyard"
SERVICE = "modelyard"

COST_USD = "CostUSD"
REQUESTS = "Requests"
INPUT_TOKENS = "InputTokens"
OUTPUT_TOKENS = "OutputTokens"
LATENCY_MS = "LatencyMs"
UPSTREAM_ERRORS = "UpstreamErrors"
FAILED_REQUESTS = "FailedRequests"
#: the response cache: answers served from it, lookups that found nothing, and the upstream
#: cost the hits avoided (USD)
CACHE_HITS = "CacheHits"
CACHE_MISSES = "CacheMisses"
CACHE_SAVED_USD = "CacheSavedUSD"

#: a budget window's committed spend as a share of its limit (the router, per budgeted scope)
BUDGET_USED_PERCENT = "BudgetUsedPercent"

DIM_SERVICE = "service"
DIM_MODEL = "model"
DIM_PROVIDER = "provider"
#: one of the nine task classes
DIM_TASK = "task"
#: a budgeted tenant or key ("tenant:<id>", "key:<id>"): only scopes that have a budget
DIM_SCOPE = "scope"
