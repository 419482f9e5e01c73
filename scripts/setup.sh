#!/usr/bin/env bash
# The project's set-up: everything a fresh machine needs to run `npm test`.
# Idempotent; heavy builds are cached under ${DP_CACHE:-$HOME/.cache/dataprotection}.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DP_CACHE="${DP_CACHE:-$HOME/.cache/dataprotection}"
mkdir -p "$DP_CACHE"
t0=$SECONDS

# --- machine packages -------------------------------------------------------
# openssl: test PKI; util-linux: unshare/setpriv for the local node; zstd/tar/rsync:
# reference tools and tool images; databases for the e2e suites; restic for the bench;
# prometheus for promtool (the chart's alert rules are checked and unit-tested with it).
apt_pkgs=(openssl util-linux zstd tar rsync python3 curl ca-certificates
  postgresql postgresql-contrib mariadb-server mariadb-client mariadb-backup redis-server restic time prometheus)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: apt-get install ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  # Debian starts services on install; the tests run their own servers on loopback.
  echo exit 101 | $SUDO tee /usr/sbin/policy-rc.d >/dev/null && $SUDO chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  $SUDO rm -f /usr/sbin/policy-rc.d
fi

# --- node modules -------------------------------------------------------------
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi

# The compiled programs (dist/: operator, dp-agent, threescale-dp, kubectl-dp), as the image and
# the chart's Deployment run them.
npm run build

# --- helm, built from the Go module proxy (cached beside the Kubernetes binaries) ---------
bash packages/testenv/scripts/build-helm.sh

# --- the real control plane, built from the Go module proxy (cached) -------------
bash packages/testenv/scripts/build-k8s.sh

# --- storage/agent: S3-compatible server for the S3 happy-path tests, GNU time (apt list above) for bench:agent ---
# versitygw: one static Go binary from the module proxy with a posix backend (no daemon set-up).
if [[ ! -x "$DP_CACHE/bin/versitygw" ]]; then
  echo "setup: go install versitygw"
  GOPATH="$DP_CACHE/gopath" GOBIN="$DP_CACHE/bin" go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
fi

# toxiproxy-server: the fault-injecting TCP proxy the storage-fault tests put in front of S3.
if [[ ! -x "$DP_CACHE/bin/toxiproxy-server" ]]; then
  echo "setup: go install toxiproxy-server"
  tmp="$(mktemp -d)"
  GOPATH="$DP_CACHE/gopath" GOBIN="$tmp" go install github.com/Shopify/toxiproxy/v2/cmd/server@v2.5.0
  mv "$tmp/server" "$DP_CACHE/bin/toxiproxy-server"
  rmdir "$tmp"
fi

# moto_server: an S3 (+IAM) server with real signature checks, for the BackupRepo e2e suite.
if [[ ! -x "$DP_CACHE/moto/bin/moto_server" ]]; then
  echo "setup: pip install moto[server] into $DP_CACHE/moto"
  python3 -m venv "$DP_CACHE/moto"
  "$DP_CACHE/moto/bin/pip" install -q 'moto[server]==5.2.1'
fi

echo "setup: done in $((SECONDS - t0))s"
