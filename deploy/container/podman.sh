# Sourced by the image and compose scripts: a podman that works on this kind of machine.
#
# Without a Docker engine, podman runs the containers. Two engine settings are needed on hosts
# whose cgroup setup crun cannot drive and whose open-file limits are below podman's defaults:
# the runc runtime and explicit ulimits. They go in a containers.conf of our own (outside the
# repository), used only when the caller has not chosen one with CONTAINERS_CONF.
set -euo pipefail

LODESTONE_CACHE="${LODESTONE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lodestone}"

# Debian's podman 4.3 uses CNI networks, whose containers find each other by name only with
# the dnsname plugin.
PODMAN_PACKAGES=(podman runc mmdebstrap uidmap slirp4netns golang-github-containernetworking-plugin-dnsname)

need_podman() {
  if ! command -v podman >/dev/null || { command -v dpkg >/dev/null && \
      ! dpkg -s golang-github-containernetworking-plugin-dnsname >/dev/null 2>&1; }; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "installing ${PODMAN_PACKAGES[*]} (apt-get)" >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "${PODMAN_PACKAGES[@]}" >&2
    elif ! command -v podman >/dev/null; then
      echo "podman is required: apt-get install ${PODMAN_PACKAGES[*]}" >&2
      exit 1
    fi
  fi
  if [ -z "${CONTAINERS_CONF:-}" ]; then
    local conf="$LODESTONE_CACHE/containers/containers.conf"
    mkdir -p "$(dirname "$conf")"
    if command -v runc >/dev/null; then runtime='runtime = "runc"'; else runtime=''; fi
    cat >"$conf" <<CONF
[engine]
$runtime
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
CONF
    export CONTAINERS_CONF="$conf"
  fi
}

# debian_base NAME PACKAGES: a local image "localhost/NAME:bookworm" made from Debian packages
# (mmdebstrap + podman import), for hosts that cannot pull from a registry. Cached as a tarball.
debian_base() {
  local name=$1 packages=$2 ref="localhost/$1:bookworm"
  if podman image exists "$ref"; then echo "$ref"; return; fi
  local tar="$LODESTONE_CACHE/images/$name-bookworm.tar"
  if [ ! -f "$tar" ]; then
    command -v mmdebstrap >/dev/null || {
      echo "mmdebstrap is required to build $ref (apt-get install mmdebstrap)" >&2; exit 1; }
    echo "building $ref from Debian packages ($packages), about 2 minutes" >&2
    mkdir -p "$(dirname "$tar")"
    # mmdebstrap picks its output format from the name: keep ".tar" at the end.
    mmdebstrap --quiet --variant=apt --include="$packages" bookworm "${tar%.tar}.partial.tar" >&2
    mv "${tar%.tar}.partial.tar" "$tar"
  fi
  podman import -q "$tar" "$ref" >/dev/null
  echo "$ref"
}
