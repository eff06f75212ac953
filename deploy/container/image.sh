#!/usr/bin/env bash
# Build the Lodestone image with podman: wheelhouse -> Containerfile -> localhost/lodestone.
#
#   deploy/container/image.sh            # build and smoke-test the image
#   LODESTONE_IMAGE=localhost/my-lodestone:dev deploy/container/image.sh   # another name (compose
#                                        # and make compose-smoke read the same variable)
#   LODESTONE_IMAGE_BASE=python:3.11-slim deploy/container/image.sh   # a base you can pull
#
# Without LODESTONE_IMAGE_BASE the base is python:3.11-slim when it is present locally, otherwise
# one built from Debian packages (no registry needed).
set -euo pipefail
cd "$(dirname "$0")/../.."
. deploy/container/podman.sh
need_podman

PY=${PY:-.venv/bin/python}
# LODESTONE_IMAGE is a full reference (name:tag), as in compose.yaml; the image also gets the
# project's version as a tag.
REF=${LODESTONE_IMAGE:-localhost/lodestone:latest}
case "${REF##*/}" in *:*) TAG=${REF%:*} ;; *) TAG=$REF; REF=$REF:latest ;; esac
WHEELS=build/wheelhouse

base=${LODESTONE_IMAGE_BASE:-}
if [ -z "$base" ]; then
  if podman image exists docker.io/library/python:3.11-slim; then
    base=docker.io/library/python:3.11-slim
  else
    base=$(debian_base lodestone-base-python python3,python3-venv,ca-certificates)
  fi
fi

echo "wheelhouse: $WHEELS" >&2
rm -rf "$WHEELS"
mkdir -p "$WHEELS"
"$PY" -m pip wheel -q --wheel-dir "$WHEELS" . >&2
version=$("$PY" -c 'import tomllib; print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])')

echo "building $TAG:$version from $base" >&2
podman build -q --build-arg "BASE=$base" -f deploy/container/Containerfile \
  -t "$TAG:$version" -t "$REF" "$WHEELS" >/dev/null

# The image must run as a non-root user on a read-only root filesystem.
got=$(podman run --rm --read-only --user 10001:10001 "$TAG:$version" version)
[ "$got" = "$version" ] || { echo "image smoke test failed: version printed '$got'" >&2; exit 1; }
uid=$(podman image inspect --format '{{.Config.User}}' "$TAG:$version")
[ "$uid" = "10001:10001" ] || { echo "image runs as '$uid', expected 10001:10001" >&2; exit 1; }
if podman run --rm --entrypoint /bin/sh "$TAG:$version" -c 'command -v gcc cc pip pip3' | grep -q .; then
  echo "image contains build tools" >&2; exit 1
fi
echo "$TAG:$version built ($(podman image inspect --format '{{.Size}}' "$TAG:$version" | numfmt --to=iec))" >&2
