#!/usr/bin/env bash
# Replays, without Nix, the two derivations flake.nix's buildGoModule makes (see the comments
# in flake.nix), for machines that cannot fetch nixpkgs:
#   1. goModules (fixed-output): `go mod download` in the flake's src, with go.work left out,
#      into an empty GOPATH; its cache/download less sumdb is the output whose NAR hash must
#      equal vendorHash.
#   2. the package: an offline `go install` of subPackages "." with GOPROXY=file://<goModules>,
#      -mod=mod -trimpath, CGO disabled and the version ldflags; then runs --version.
# Usage: scripts/simulate-nix-build.sh [workdir]   (from the repository root; needs git, go)
set -euo pipefail
work=${1:-$(mktemp -d)}
src=$work/src
rm -rf "$work" && mkdir -p "$src"

# The flake's src: git-tracked files less what flake.nix's fileset leaves out.
git ls-files -z | grep -zvE '^(go\.work|go\.work\.sum|e2e/|flake\.nix|flake\.lock|README\.md|Makefile|\.ci/)' |
  xargs -0 cp --parents -t "$src"

clean_env=(env -u GOFLAGS -u GOPROXY -u GONOSUMDB -u GOPRIVATE GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0)

echo "== goModules: go mod download"
(cd "$src" && "${clean_env[@]}" GOPATH="$work/fod" GOCACHE="$work/fod-cache" go mod download)
rm -rf "$work/fod/pkg/mod/cache/download/sumdb"
cp -r "$work/fod/pkg/mod/cache/download" "$work/goModules"
chmod -R u+w "$work/fod"

want=$(sed -n 's/^ *vendorHash = "\(.*\)";/\1/p' flake.nix)
got=$(go run ./scripts/vendorhash -hash-path "$work/goModules")
echo "vendorHash in flake.nix:            $want"
echo "NAR hash of goModules (nixhash):    $got"
if command -v nix >/dev/null; then
  echo "NAR hash of goModules (nix 'hash path'): $(nix --extra-experimental-features nix-command hash path "$work/goModules")"
fi

echo "== package: offline go install"
(cd "$src" && "${clean_env[@]}" GOPATH="$work/build" GOCACHE="$work/build-cache" \
  GOPROXY="file://$work/goModules" GOSUMDB=off GOFLAGS="-mod=mod -trimpath" \
  go install -ldflags "-s -w -X main.version=0-unstable-simulated -X main.commit=simulated -buildid=" .)
"$work/build/bin/mcp-cloudrun-proxy" --version
chmod -R u+w "$work"
if [ "$got" != "$want" ]; then
  echo "vendorHash is stale: run make vendorhash" >&2
  exit 1
fi
