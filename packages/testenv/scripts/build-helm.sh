#!/usr/bin/env bash
# Builds Helm (helm.sh/helm/v4, pinned below) from the Go module proxy and caches it under
#   ${DP_CACHE:-$HOME/.cache/dataprotection}/helm/<version>/helm
# beside the Kubernetes binaries. The chart tests run this binary (testenv's helmBinary()).
set -euo pipefail
version=v4.3.2
cache="${DP_CACHE:-$HOME/.cache/dataprotection}"
bin="$cache/helm/$version"
if [[ -x "$bin/helm" ]]; then
  echo "helm $version: cached in $bin"
  exit 0
fi
command -v go >/dev/null || { echo "build-helm: Go is not installed (needed to build Helm)" >&2; exit 1; }
mkdir -p "$bin"
t=$SECONDS
echo "build-helm: go install helm.sh/helm/v4/cmd/helm@$version ..."
# A private GOBIN then a rename: an interrupted build never leaves a half-written helm behind.
tmp="$(mktemp -d "$cache/helm/.build.XXXXXX")"
CGO_ENABLED=0 GOBIN="$tmp" go install -trimpath -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$version" "helm.sh/helm/v4/cmd/helm@$version"
mv "$tmp/helm" "$bin/helm"
rmdir "$tmp"
echo "build-helm: helm $version done in $((SECONDS - t))s"
