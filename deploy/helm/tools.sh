#!/usr/bin/env bash
# Install the chart's check tools into a cache outside the repository and print their folder.
#
#   PATH="$(deploy/helm/tools.sh):$PATH"
#
# helm, kubeconform, kube-score and helm-unittest are built with `go install` from the Go module
# proxy (pinned versions; helm takes about 4 minutes the first time); kubernetes-validate (the
# Kubernetes JSON schemas, bundled) comes from PyPI into a virtualenv of its own. Nothing is
# rebuilt when the pinned version is already there. Exits 3 when no Go toolchain can be found.
set -euo pipefail

HELM_VERSION=v3.22.0
KUBECONFORM_VERSION=v0.8.0
KUBE_SCORE_VERSION=v1.20.0
HELM_UNITTEST_VERSION=v1.1.2
KUBERNETES_VALIDATE_VERSION=1.37.0

root="${LODESTONE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lodestone}/tools"
bin="$root/bin"
mkdir -p "$bin"

go_bin=$(command -v go || true)
[ -n "$go_bin" ] || { [ -x /usr/local/go/bin/go ] && go_bin=/usr/local/go/bin/go; }
if [ -z "$go_bin" ]; then
  echo "no Go toolchain (go 1.26+): cannot build helm, kubeconform, kube-score, helm-unittest" >&2
  exit 3
fi

# go_tool NAME VERSION PACKAGE: go install PACKAGE@VERSION as $bin/NAME, once per version.
go_tool() {
  local name=$1 version=$2 package=$3 stamp="$bin/.$1-$2"
  [ -x "$bin/$name" ] && [ -f "$stamp" ] && return
  echo "building $name $version (go install)" >&2
  GOBIN="$bin" GOFLAGS=-buildvcs=false "$go_bin" install "$package@$version" >&2
  rm -f "$bin/.$name-"*; touch "$stamp"
}

go_tool helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm
go_tool kubeconform "$KUBECONFORM_VERSION" github.com/yannh/kubeconform/cmd/kubeconform
go_tool kube-score "$KUBE_SCORE_VERSION" github.com/zegl/kube-score/cmd/kube-score

# helm-unittest's go.mod has a replace directive, which `go install pkg@version` refuses: build it
# inside a copy of its own module instead (where the directive applies).
stamp="$bin/.helm-unittest-$HELM_UNITTEST_VERSION"
if [ ! -x "$bin/helm-unittest" ] || [ ! -f "$stamp" ]; then
  echo "building helm-unittest $HELM_UNITTEST_VERSION (go build in its module)" >&2
  module=github.com/helm-unittest/helm-unittest
  (cd "$root" && GOFLAGS=-mod=mod "$go_bin" mod download "$module@$HELM_UNITTEST_VERSION" >&2)
  src="$root/src/helm-unittest"
  rm -rf "$src"; mkdir -p "$root/src"
  cp -r "$("$go_bin" env GOMODCACHE)/$module@$HELM_UNITTEST_VERSION" "$src"
  chmod -R u+w "$src"
  (cd "$src" && GOFLAGS=-buildvcs=false "$go_bin" build -o "$bin/helm-unittest" ./cmd/helm-unittest >&2)
  rm -f "$bin/.helm-unittest-"*; touch "$stamp"
fi

# kubernetes-validate: the Kubernetes OpenAPI schemas per version, bundled; used for strict
# validation of the rendered manifests next to kubeconform.
venv="$root/kubernetes-validate-$KUBERNETES_VALIDATE_VERSION"
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
  echo "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION (pip)" >&2
  python3 -m venv "$venv" >&2
  "$venv/bin/python" -m pip install -q "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >&2
fi
ln -sf "$venv/bin/kubernetes-validate" "$bin/kubernetes-validate"

# kubeconform reads the same schemas offline once each file's "$id" is dropped and its references
# to /api/_definitions.json are made relative: <version>-standalone-strict/<kind>-<group>-<v>.json.
schemas="$root/kubeconform-schemas"
if [ ! -f "$schemas/.from-$KUBERNETES_VALIDATE_VERSION" ]; then
  echo "preparing kubeconform's offline schemas" >&2
  rm -rf "$schemas"
  "$venv/bin/python" - "$schemas" <<'PY'
import json, pathlib, sys
import kubernetes_validate
source = pathlib.Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
target = pathlib.Path(sys.argv[1])
for folder in source.glob("v*-local-strict"):
    out = target / (folder.name.removesuffix("-local-strict") + "-standalone-strict")
    out.mkdir(parents=True)
    for path in folder.glob("*.json"):
        schema = json.loads(path.read_text())
        schema.pop("$id", None)
        text = json.dumps(schema).replace('"/api/_definitions.json#', '"_definitions.json#')
        (out / path.name).write_text(text)
PY
  touch "$schemas/.from-$KUBERNETES_VALIDATE_VERSION"
fi

echo "$bin"
