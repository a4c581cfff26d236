#!/usr/bin/env bash
# Builds kube-apiserver and etcd from Go modules into a cache folder keyed by
# version, so integration tests run a real control plane on a machine with no
# container runtime. The second run finds the binaries and returns at once.
#
# Prints the folder holding the binaries on its last line.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-3.6.7}"
CACHE="${EVENTIDE_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/eventide-test}"
BIN="$CACHE/bin"
mkdir -p "$BIN"

KAS="$BIN/kube-apiserver-v$KUBE_VERSION"
ETCD="$BIN/etcd-v$ETCD_VERSION"

log() { echo "build-control-plane: $*" >&2; }

build_etcd() {
  [ -x "$ETCD" ] && return 0
  log "building etcd v$ETCD_VERSION (once per machine)"
  local dir; dir=$(mktemp -d)
  cat >"$dir/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "$dir" && go mod init etcdbin >/dev/null 2>&1 &&
    go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >&2 &&
    go mod tidy >&2 &&
    go build -o "$ETCD.tmp" . >&2)
  mv "$ETCD.tmp" "$ETCD"
  rm -rf "$dir"
}

build_kas() {
  [ -x "$KAS" ] && return 0
  log "building kube-apiserver v$KUBE_VERSION (once per machine; the longest step of a first run)"
  local dir; dir=$(mktemp -d)
  local staging_version="v0.${KUBE_VERSION#1.}"
  local modfile
  modfile=$(go mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  {
    echo "module kas"
    echo
    echo "go 1.25"
    echo
    echo "require k8s.io/kubernetes v$KUBE_VERSION"
    echo
    echo "replace ("
    # k8s.io/x => ./staging/src/k8s.io/x  becomes  k8s.io/x => k8s.io/x v0.N.M
    grep -E '^\s*k8s\.io/[^ ]+ => \./staging/src/k8s\.io/' "$modfile" |
      awk -v v="$staging_version" '{print "\t" $1 " => " $1 " " v}'
    echo ")"
  } >"$dir/go.mod"
  cat >"$dir/tools.go" <<'GO'
//go:build tools

package kas

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
GO
  (cd "$dir" && go mod tidy >&2 &&
    go build -o "$KAS.tmp" k8s.io/kubernetes/cmd/kube-apiserver >&2)
  mv "$KAS.tmp" "$KAS"
  rm -rf "$dir"
}

build_etcd
build_kas
ln -sf "$(basename "$KAS")" "$BIN/kube-apiserver"
ln -sf "$(basename "$ETCD")" "$BIN/etcd"
echo "$BIN"
