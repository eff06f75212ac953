#!/bin/sh
# The compose stack's signing keys (Ed25519, PEM), made once with openssl:
#   decision-signing  - the screening service signs each decision with it;
#   audit-log         - the audit service signs each tree head with it;
# and console-users.json, the console's users (an empty list until entries from
# `lodestone console hash-secret` are added).
# Into $1, else LODESTONE_COMPOSE_KEYS_DIR, else deploy/compose/keys/ (ignored by git). Existing
# keys are kept. The folder is private (0700); the files are readable by the containers'
# uid 10001, which reads them through bind mounts (compose secrets).
set -eu
dir=${1:-${LODESTONE_COMPOSE_KEYS_DIR:-$(dirname "$0")/keys}}
umask 077
mkdir -p "$dir"
chmod 700 "$dir"
for name in decision-signing audit-log; do
  if [ ! -f "$dir/$name.pem" ] || [ ! -f "$dir/$name.pub.pem" ]; then
    openssl genpkey -algorithm ed25519 -out "$dir/$name.pem"
    openssl pkey -in "$dir/$name.pem" -pubout -out "$dir/$name.pub.pem"
    echo "made $dir/$name.pem and $dir/$name.pub.pem" >&2
  fi
  chmod 644 "$dir/$name.pem" "$dir/$name.pub.pem"
done
if [ ! -f "$dir/console-users.json" ]; then
  echo "[]" >"$dir/console-users.json"
  echo "made $dir/console-users.json (no users yet: add entries from lodestone console hash-secret)" >&2
fi
chmod 644 "$dir/console-users.json"
