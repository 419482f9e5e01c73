#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and etcd from
# the Go module proxy (wrapper modules in ../go/) and caches them under
#   ${DP_CACHE:-$HOME/.cache/dataprotection}/k8s/<k8s version>/bin/
# A build is skipped when the cache holds binaries built from the same go.mod/go.sum.
# GOMODCACHE/GOCACHE stay where Go keeps them, so a rebuild after a bump is incremental.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
k8s_mod="$here/go/k8s"
etcd_mod="$here/go/etcd"
k8s_version="$(awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3}' "$k8s_mod/go.mod")"
etcd_version="$(awk '$1=="require" && $2=="go.etcd.io/etcd/server/v3" {print $3}' "$etcd_mod/go.mod")"
minor="$(echo "$k8s_version" | cut -d. -f2)"
cache="${DP_CACHE:-$HOME/.cache/dataprotection}"
bin="$cache/k8s/$k8s_version/bin"
stamp="$bin/.stamp"
want="$(cat "$k8s_mod/go.mod" "$k8s_mod/go.sum" "$etcd_mod/go.mod" "$etcd_mod/go.sum" | sha256sum | cut -c1-16)"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "k8s $k8s_version + etcd $etcd_version: cached in $bin"
  exit 0
fi

command -v go >/dev/null || { echo "build-k8s: Go is not installed (needed to build the control plane)" >&2; exit 1; }
mkdir -p "$bin"
start=$SECONDS
export CGO_ENABLED=0

vpkg=k8s.io/component-base/version
ldflags="-s -w -X $vpkg.gitVersion=$k8s_version -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=$minor \
 -X $vpkg.gitTreeState=clean -X $vpkg.buildDate=1970-01-01T00:00:00Z \
 -X k8s.io/client-go/pkg/version.gitVersion=$k8s_version"

build() { # build DIR OUTPUT PACKAGE [LDFLAGS]
  local t=$SECONDS
  echo "build-k8s: building $2 ($3) ..."
  (cd "$1" && go build -trimpath -ldflags "${4:-}" -o "$bin/$2.tmp" "$3")
  mv "$bin/$2.tmp" "$bin/$2"
  echo "build-k8s: $2 done in $((SECONDS - t))s (total $((SECONDS - start))s)"
}

(cd "$k8s_mod" && go mod download)
(cd "$etcd_mod" && go mod download)
build "$etcd_mod" etcd go.etcd.io/etcd/server/v3 "-s -w"
build "$k8s_mod" kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$ldflags"
build "$k8s_mod" kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager "$ldflags"
build "$k8s_mod" kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler "$ldflags"
build "$k8s_mod" kubectl k8s.io/kubernetes/cmd/kubectl "$ldflags"
echo "$want" > "$stamp"
echo "build-k8s: k8s $k8s_version + etcd $etcd_version built in $((SECONDS - start))s -> $bin"
