#!/bin/sh
# Start command for the router under the Lambda Web Adapter (the function's Handler).
#
# LWA's wrapper (/opt/bootstrap, via AWS_LAMBDA_EXEC_WRAPPER) runs this script, waits until
# GET /healthz answers on $PORT, then forwards each invocation to the app as an HTTP request and
# streams the response back. The app is the same FastAPI object the Mangum door wraps.
#
# The code and the dependencies that `sam build` installed from requirements.txt sit side by side
# in $LAMBDA_TASK_ROOT (/var/task); outside Lambda, the directory of this script plays that role,
# so `functions/run.sh` also starts the app from a checkout.
set -eu

APP_ROOT="${LAMBDA_TASK_ROOT:-$(cd "$(dirname "$0")" && pwd)}"
export PYTHONPATH="${APP_ROOT}${PYTHONPATH:+:${PYTHONPATH}}"
export PATH="${PATH}:${APP_ROOT}/bin"

# One worker: Lambda sends one request at a time to an execution environment. No access log:
# the app logs one structured line per request itself. A keep-alive longer than uvicorn's 5 s
# default: LWA reuses its pooled connection to the app across invocations (and across freezes),
# and a server that closes an idle connection first races the next request on it.
exec python -m uvicorn \
  --host 0.0.0.0 \
  --port "${PORT:-8080}" \
  --workers 1 \
  --no-access-log \
  --timeout-keep-alive 900 \
  handlers.router:app
