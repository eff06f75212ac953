#!/usr/bin/env bash
# Validate the published contract with tools independent of the Python code:
#   - schemas/asyncapi.yaml with the AsyncAPI CLI (offline, analytics off);
#   - every file in schemas/examples/ against its JSON Schema in schemas/json/ with ajv (strict).
# The Node tools are installed once into a cache outside the repository (pinned versions).
set -euo pipefail
cd "$(dirname "$0")/../.."

TOOLS="${LODESTONE_NODE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/lodestone/node-tools}"
PINNED='{"private": true, "dependencies": {"@asyncapi/cli": "4.1.1", "ajv-cli": "5.0.0", "ajv-formats": "3.0.1"}}'

if ! command -v npm >/dev/null; then
  echo "contract-check needs Node.js 20+ and npm (apt-get install nodejs npm)" >&2
  exit 1
fi
if [ ! -f "$TOOLS/package.json" ] || [ "$(cat "$TOOLS/package.json")" != "$PINNED" ] \
   || [ ! -x "$TOOLS/node_modules/.bin/asyncapi" ]; then
  echo "installing the AsyncAPI CLI and ajv into $TOOLS (once)" >&2
  mkdir -p "$TOOLS"
  printf '%s' "$PINNED" > "$TOOLS/package.json"
  (cd "$TOOLS" && npm install --no-audit --no-fund --loglevel=error >&2)
fi
export PATH="$TOOLS/node_modules/.bin:$PATH"
export ASYNCAPI_METRICS=false
asyncapi config analytics --disable >/dev/null 2>&1 || true

echo "asyncapi validate schemas/asyncapi.yaml" >&2
asyncapi validate schemas/asyncapi.yaml --fail-severity error </dev/null

failed=0
for example in schemas/examples/*.json; do
  name="$(basename "$example")"
  schema="schemas/json/${name%%.*}.schema.json"
  if [ ! -f "$schema" ]; then
    echo "no schema for $example (expected $schema)" >&2
    failed=1
    continue
  fi
  ajv validate --spec=draft2020 -c ajv-formats -s "$schema" -d "$example" >&2 || failed=1
done
exit "$failed"
