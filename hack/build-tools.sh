#!/usr/bin/env bash
# Installs the packaging tools the chart and image tests use: helm, built from
# its Go module into the same version-keyed cache as the control plane, and
# buildah (Debian package) when the machine lets us install packages. The
# second run finds them and returns at once.
#
# Prints the folder holding helm on its last line.
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-3.22.0}"
CACHE="${EVENTIDE_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/eventide-test}"
BIN="$CACHE/bin"
mkdir -p "$BIN"
HELM="$BIN/helm-v$HELM_VERSION"

log() { echo "build-tools: $*" >&2; }

build_helm() {
  [ -x "$HELM" ] && return 0
  log "building helm v$HELM_VERSION (once per machine, about 6 minutes)"
  local gobin; gobin=$(mktemp -d)
  GOBIN="$gobin" go install "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION" >&2
  mv "$gobin/helm" "$HELM"
  rm -rf "$gobin"
}

install_buildah() {
  command -v buildah >/dev/null && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    log "buildah is missing and cannot be installed here: the image test will be skipped"
    return 0
  fi
  log "installing buildah from Debian packages"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends buildah >&2 ||
    { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends buildah >&2; } ||
    log "buildah install failed: the image test will be skipped"
}

build_helm
install_buildah
ln -sf "$(basename "$HELM")" "$BIN/helm"
echo "$BIN"
