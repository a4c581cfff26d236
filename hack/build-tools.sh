#!/usr/bin/env bash
# Installs the tools the chart, image and syslog tests use: helm, built from
# its Go module into the same version-keyed cache as the control plane, and
# buildah, rsyslog, rsyslog-relp, influxdb, mariadb-server, postgresql and
# chromium-headless-shell (Debian packages) when the machine lets us install
# packages. The second run finds them and returns at once.
#
# actionlint is built the same way, for the workflow check `make test` runs.
#
# With --release it builds only what `make release-snapshot` needs, and no
# test needs: goreleaser (about 9 minutes and 1.5 GB of memory cold, which
# is why it is not part of `make test`) and cyclonedx-gomod (the SBOMs).
#
# Prints the folder holding the tools on its last line.
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-3.22.0}"
ACTIONLINT_VERSION="${ACTIONLINT_VERSION:-1.7.12}"
GORELEASER_VERSION="${GORELEASER_VERSION:-2.15.1}" # v2.18 and newer need a newer Go
CYCLONEDX_GOMOD_VERSION="${CYCLONEDX_GOMOD_VERSION:-1.10.0}"
CACHE="${EVENTIDE_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/eventide-test}"
BIN="$CACHE/bin"
mkdir -p "$BIN"

log() { echo "build-tools: $*" >&2; }

# build_go_tool NAME PACKAGE VERSION HOW-LONG: go install PACKAGE@vVERSION
# once into $BIN/NAME-vVERSION (a new version builds anew), linked as
# $BIN/NAME.
build_go_tool() {
  local name=$1 pkg=$2 version=$3 took=$4
  local out="$BIN/$name-v$version"
  if [ ! -x "$out" ]; then
    log "building $name v$version (once per machine, $took)"
    local gobin; gobin=$(mktemp -d)
    GOBIN="$gobin" go install "$pkg@v$version" >&2
    mv "$gobin/$name" "$out"
    rm -rf "$gobin"
  fi
  ln -sf "$(basename "$out")" "$BIN/$name"
}

if [ "${1:-}" = --release ]; then
  build_go_tool goreleaser github.com/goreleaser/goreleaser/v2 "$GORELEASER_VERSION" "about 9 minutes"
  build_go_tool cyclonedx-gomod github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod "$CYCLONEDX_GOMOD_VERSION" "about a minute"
  echo "$BIN"
  exit 0
fi

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

build_go_tool helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" "about 6 minutes"
build_go_tool actionlint github.com/rhysd/actionlint/cmd/actionlint "$ACTIONLINT_VERSION" "about a minute"
install_package buildah buildah "the image test"
install_package rsyslogd rsyslog "the syslog tests"
install_package imrelp rsyslog-relp "the syslog RELP test"
install_package influxd influxdb "the InfluxDB tests"
install_package mariadb-install-db mariadb-server "the sql receiver's MariaDB tests"
install_package postgres postgresql "the sql receiver's PostgreSQL tests"
install_package chromium-headless-shell chromium-headless-shell "the status page's screenshot test"
echo "$BIN"
