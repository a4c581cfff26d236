#!/usr/bin/env bash
# Installs the tools the chart, image and syslog tests use: helm, built from
# its Go module into the same version-keyed cache as the control plane, and
# buildah, rsyslog, rsyslog-relp, influxdb, mariadb-server, postgresql and
# chromium-headless-shell (Debian packages) when the machine lets us install
# packages. The second run finds them and returns at once.
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

# have THING: a command on the PATH or in /usr/sbin, or an rsyslog module
# (imrelp), or PostgreSQL's binaries (postgres).
have() {
  case "$1" in
    imrelp) compgen -G "/usr/lib/*/rsyslog/imrelp.so" >/dev/null || compgen -G "/usr/lib/rsyslog/imrelp.so" >/dev/null ;;
    postgres) compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null ;;
    *) command -v "$1" >/dev/null || [ -x "/usr/sbin/$1" ] ;;
  esac
}

# install_package THING PACKAGE WHAT: installs PACKAGE when THING (see
# have) is missing; WHAT is the test that needs it (skipped, saying so,
# without it).
install_package() {
  have "$1" && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    log "$2 is missing and cannot be installed here: $3 will be skipped"
    return 0
  fi
  log "installing $2 from Debian packages"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$2" >&2 ||
    { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$2" >&2; } ||
    log "$2 install failed: $3 will be skipped"
}

build_helm
install_package buildah buildah "the image test"
install_package rsyslogd rsyslog "the syslog tests"
install_package imrelp rsyslog-relp "the syslog RELP test"
install_package influxd influxdb "the InfluxDB tests"
install_package mariadb-install-db mariadb-server "the sql receiver's MariaDB tests"
install_package postgres postgresql "the sql receiver's PostgreSQL tests"
install_package chromium-headless-shell chromium-headless-shell "the status page's screenshot test"
ln -sf "$(basename "$HELM")" "$BIN/helm"
echo "$BIN"
