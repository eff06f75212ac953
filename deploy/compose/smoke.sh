#!/usr/bin/env bash
# `make compose-smoke`: bring the compose stack up with podman-compose, publish sample traffic,
# check every event decided and audited, the API, the console and the hash chain, then tear
# everything down.
#
# Uses localhost/lodestone:latest (`make image`). Kafka and PostgreSQL images: LODESTONE_KAFKA_IMAGE
# and LODESTONE_POSTGRES_IMAGE when set, else the official images when present locally, else
# stand-ins built from Debian packages (standins/). Host ports: 17092 (Kafka), 17432 (PostgreSQL),
# 17102 (API), 17103 (console) unless LODESTONE_COMPOSE_{KAFKA,PG,API,CONSOLE}_PORT say otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."
. deploy/container/podman.sh
need_podman
PY=${PY:-.venv/bin/python}

# podman-compose from PyPI (Debian's 1.0.x exits 255 on success), in a venv of its own.
compose_venv="$LODESTONE_CACHE/tools/podman-compose-1.6.0"
if [ ! -x "$compose_venv/bin/podman-compose" ]; then
  echo "installing podman-compose 1.6.0 (pip)" >&2
  python3 -m venv "$compose_venv" >&2
  "$compose_venv/bin/python" -m pip install -q podman-compose==1.6.0 >&2
fi

podman image exists "${LODESTONE_IMAGE:-localhost/lodestone:latest}" || {
  echo "no ${LODESTONE_IMAGE:-localhost/lodestone:latest}: run 'make image' first" >&2; exit 1; }
if [ -z "${LODESTONE_KAFKA_IMAGE:-}" ] || [ -z "${LODESTONE_POSTGRES_IMAGE:-}" ]; then
  if podman image exists docker.io/apache/kafka:4.1.1 && podman image exists docker.io/library/postgres:15; then
    export LODESTONE_KAFKA_IMAGE=docker.io/apache/kafka:4.1.1 LODESTONE_POSTGRES_IMAGE=docker.io/library/postgres:15
  else
    eval "$(deploy/compose/standins/build.sh | sed 's/^/export /')"
  fi
fi
export LODESTONE_COMPOSE_KAFKA_PORT=${LODESTONE_COMPOSE_KAFKA_PORT:-17092}
export LODESTONE_COMPOSE_PG_PORT=${LODESTONE_COMPOSE_PG_PORT:-17432}
export LODESTONE_COMPOSE_API_PORT=${LODESTONE_COMPOSE_API_PORT:-17102}
export LODESTONE_COMPOSE_CONSOLE_PORT=${LODESTONE_COMPOSE_CONSOLE_PORT:-17103}

# Fresh secrets for this run, only in the environment; fresh signing keys in a private folder.
secret() { "$PY" -c 'import secrets; print(secrets.token_hex(16))'; }
for name in SUPERUSER ADMIN SCREENING AUDIT AUDITOR; do export "LODESTONE_PG_${name}_PASSWORD=$(secret)"; done
export LODESTONE_AUDIT_API_TOKENS="$(secret)"
keys_parent=$(mktemp -d)
export LODESTONE_COMPOSE_KEYS_DIR="$keys_parent/keys"
deploy/compose/keys.sh "$LODESTONE_COMPOSE_KEYS_DIR" 2>/dev/null
# The console's one user, a reviewer, with a fresh secret (only its scrypt hash is in the file).
export LODESTONE_SMOKE_SECRET="$(secret)"
"$PY" -c '
import json, os, sys
from services.console.auth import Role, UserEntry, hash_secret
entry = UserEntry(id="smoke", name="Smoke Reviewer", role=Role.REVIEWER,
                  secret_hash=hash_secret(os.environ["LODESTONE_SMOKE_SECRET"]))
json.dump([entry.model_dump(mode="json")], sys.stdout)' >"$LODESTONE_COMPOSE_KEYS_DIR/console-users.json"

project=lodestone-smoke-$$
compose() { "$compose_venv/bin/podman-compose" -p "$project" -f deploy/compose/compose.yaml "$@"; }
teardown() {
  local rc=$?
  if [ $rc -ne 0 ]; then
    echo "--- logs (last 40 lines per service) ---" >&2
    compose logs --tail 40 >&2 2>&1 || true
  fi
  compose down -v -t 20 >/dev/null 2>&1 || true
  rm -rf "$keys_parent"
  exit $rc
}
trap teardown EXIT

# Started in stages rather than by one `up`: podman before 4.6 ignores `condition:
# service_healthy`, and without systemd it runs no health checks on its own. So each stage
# waits by running the health checks itself (`podman healthcheck run`); the stages follow the
# file's depends_on, which Docker Compose and newer podman honour by themselves.
container() { echo "${project}_$1_1"; }
wait_healthy() {
  local deadline=$((SECONDS + $1)); shift
  for service in "$@"; do
    until podman healthcheck run "$(container "$service")" >/dev/null 2>&1; do
      if ! podman container exists "$(container "$service")" || [ $SECONDS -gt $deadline ]; then
        echo "$service did not become healthy" >&2; return 1
      fi
      sleep 2
    done
    echo "$service healthy" >&2
  done
}
run_job() {
  compose up -d --no-deps "$1" >/dev/null
  local code
  code=$(podman wait "$(container "$1")")
  [ "$code" = 0 ] || { echo "job $1 exited $code" >&2; return 1; }
  echo "job $1 done" >&2
}

echo "starting the stack ($project)" >&2
compose up -d --no-deps postgres kafka >/dev/null
wait_healthy 180 postgres kafka
run_job topics
run_job migrate
compose up -d --no-deps screening-1 screening-2 audit audit-api console >/dev/null
wait_healthy 240 screening-1 screening-2 audit audit-api console

# The stack's broker is plaintext: whatever Kafka settings this shell has do not apply to it.
for name in $(env | sed -n 's/^\(LODESTONE_KAFKA_[A-Z_]*\)=.*/\1/p'); do unset "$name"; done
"$PY" -m deploy.compose.smoke_check \
  --bootstrap "127.0.0.1:$LODESTONE_COMPOSE_KAFKA_PORT" \
  --decision-key "$LODESTONE_COMPOSE_KEYS_DIR/decision-signing.pub.pem" \
  --log-key "$LODESTONE_COMPOSE_KEYS_DIR/audit-log.pub.pem" \
  --auditor-dsn "postgresql://lodestone_auditor:$LODESTONE_PG_AUDITOR_PASSWORD@127.0.0.1:$LODESTONE_COMPOSE_PG_PORT/lodestone" \
  --api "http://127.0.0.1:$LODESTONE_COMPOSE_API_PORT" \
  --console "http://127.0.0.1:$LODESTONE_COMPOSE_CONSOLE_PORT"

# The chain, the tree and every signed head, verified by the image's own tool inside the stack:
# with the audit log's public key and the audit service's anchor file (both set in compose).
anchors=$(podman exec "$(container audit-api)" sh -c 'wc -l <"$LODESTONE_AUDIT_ANCHOR_FILE"')
[ "$anchors" -gt 0 ] || { echo "the anchor file holds no signed tree head" >&2; exit 1; }
echo "anchor file: $anchors signed tree head(s)" >&2
verified=$(podman exec "$(container audit-api)" lodestone audit verify --full)
echo "$verified"
case "$verified" in
  *"NOTE: no log public key"*) echo "verify checked no signature" >&2; exit 1 ;;
  "OK: "*) ;;
  *) echo "verify did not pass" >&2; exit 1 ;;
esac
held=$(printf '%s\n' "$verified" | sed -n 's/.*; \([0-9]*\) signed head(s) and checkpoint(s) hold.*/\1/p')
[ "${held:-0}" -ge "$anchors" ] || {
  echo "verify held ${held:-0} signed head(s), the anchor file has $anchors" >&2; exit 1; }

# Both screening instances shared the work (six partitions, two consumers).
for service in screening-1 screening-2; do
  decided=$(podman exec "$(container "$service")" python3 -c "
import urllib.request
text = urllib.request.urlopen('http://127.0.0.1:9101/metrics', timeout=5).read().decode()
print(int(sum(float(l.rsplit(' ', 1)[1]) for l in text.splitlines()
              if l.startswith('lodestone_screening_decisions_total{'))))")
  echo "$service decided $decided event(s)" >&2
  [ "$decided" -gt 0 ] || { echo "$service decided nothing: the load was not shared" >&2; exit 1; }
done
echo "compose smoke test passed" >&2
