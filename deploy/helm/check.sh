#!/usr/bin/env bash
# `make chart-check`: every check of the Helm chart, with the tools from tools.sh.
#
#   helm lint --strict           (default values and every example in ci/)
#   kubeconform -strict          (rendered manifests against the Kubernetes schemas; CRD kinds
#   kubernetes-validate --strict  are checked by the unit tests instead)
#   kube-score                   (production readiness; exceptions listed below, with reasons)
#   helm-unittest                (deploy/helm/lodestone/tests/)
set -euo pipefail
cd "$(dirname "$0")"
chart=lodestone
K8S_VERSION=${K8S_VERSION:-1.34.0}

set +e
bin=$(./tools.sh)
rc=$?
set -e
if [ $rc -eq 3 ]; then
  echo "chart checks SKIPPED: no Go toolchain to build helm and its checkers (install go 1.26+)" >&2
  exit 0
fi
[ $rc -eq 0 ] || exit $rc
export PATH="$bin:$PATH"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for values in "" $(ls "$chart"/ci/*-values.yaml 2>/dev/null); do
  name=${values:+$(basename "$values" -values.yaml)}
  name=${name:-default}
  args=(${values:+-f "$values"})
  echo "== $name values" >&2
  helm lint --strict --quiet --kube-version "$K8S_VERSION" "$chart" "${args[@]}" >&2
  helm template check "$chart" --namespace lodestone --kube-version "$K8S_VERSION" "${args[@]}" >"$out/$name.yaml"

  # Custom resources (KEDA, Prometheus Operator) have no schema here; their shape is pinned by
  # the unit tests.
  kubeconform -strict -summary -kubernetes-version "$K8S_VERSION" \
    -skip ScaledObject,ServiceMonitor -schema-location "$bin/../kubeconform-schemas/{{.NormalizedKubernetesVersion}}-standalone-strict/{{.ResourceKind}}{{.KindSuffix}}.json" \
    "$out/$name.yaml" >&2 || {
      echo "kubeconform failed (offline schemas: $bin/../kubeconform-schemas)" >&2; exit 1; }
  python3 - "$out/$name.yaml" "$out/$name.core.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] not in ("ScaledObject", "ServiceMonitor")]
yaml.safe_dump_all(docs, open(sys.argv[2], "w"))
PY
  kubernetes-validate --strict -k "$K8S_VERSION" --quiet "$out/$name.core.yaml" >&2

  # Exceptions: pull policy IfNotPresent is right for an immutable tag or digest; the workers'
  # metrics Services are headless selectors for Prometheus, not traffic.
  extra=()
  if [ -n "$values" ]; then
    read -r -a extra <<<"$(sed -n 's/^# kube-score-args://p' "$values")"
  fi
  kube-score score "$out/$name.core.yaml" --output-format ci \
    --ignore-test container-image-pull-policy "${extra[@]}" \
    --enable-optional-test container-seccomp-profile \
    >"$out/$name.score" || true
  if grep -E '^\[(CRITICAL|WARNING)\]' "$out/$name.score" >&2; then
    echo "kube-score found problems in the $name rendering" >&2; exit 1
  fi
done

echo "== unit tests" >&2
helm-unittest --strict "$chart" >&2
echo "chart checks passed" >&2
