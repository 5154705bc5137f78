#!/usr/bin/env bash
# Builds (once) and caches a real OpenBao plugin binary for the plugin tests: HashiCorp's Azure
# secrets engine, github.com/hashicorp/vault-plugin-secrets-azure (package
# cmd/vault-plugin-secrets-azure), a go-plugin secrets engine that OpenBao 2.7.2 registers from a
# `plugin "secret"` stanza and mounts (checked by hand: sys/plugins/catalog lists it, and
# sys/mounts runs it). Third-party test infrastructure, built from its Go module; it never ships.
#
# Usage: bash hack/test-plugin.sh   (hack/setup.sh calls it; prints the binary's path)
#
# Cached in ${OPENBAO_OPERATOR_CACHE:-$HOME/.cache/openbao-operator}/plugins/<version>/, built
# into a temp directory and renamed (an interrupted run leaves nothing half-written), and a
# fast no-op when it is there. The binary's sha256 is written next to it (`<binary>.sha256`):
# the tests put it in the rendered stanza, as a user would.
set -euo pipefail

TEST_PLUGIN_MODULE=github.com/hashicorp/vault-plugin-secrets-azure
TEST_PLUGIN_VERSION=v0.16.0
TEST_PLUGIN_NAME=vault-plugin-secrets-azure

CACHE=${OPENBAO_OPERATOR_CACHE:-$HOME/.cache/openbao-operator}
PLUGIN_DIR=$CACHE/plugins/$TEST_PLUGIN_VERSION
PLUGIN_BIN=$PLUGIN_DIR/$TEST_PLUGIN_NAME

log() { printf '[test-plugin] %s\n' "$*" >&2; }
die() {
	printf '[test-plugin] ERROR: %s\n' "$*" >&2
	exit 1
}

if [[ -x $PLUGIN_BIN && -s $PLUGIN_BIN.sha256 ]]; then
	log "$TEST_PLUGIN_NAME $TEST_PLUGIN_VERSION: cached in $PLUGIN_DIR"
	echo "$PLUGIN_BIN"
	exit 0
fi

command -v go >/dev/null || die "go is not on PATH (needed to build $TEST_PLUGIN_MODULE)"
# Never download another toolchain; a static binary, so it runs wherever bao does.
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
start=$SECONDS
build=$CACHE/build/test-plugin-$TEST_PLUGIN_VERSION
mkdir -p "$build" "$CACHE/plugins"
rm -rf "$build"/out.*
# A module of ours that requires the plugin's module, so its main package builds as a dependency.
printf 'module openbao-operator.local/build\n\ngo %s\n\nrequire %s %s\n' \
	"$(go env GOVERSION | sed -E 's/^go([0-9]+\.[0-9]+).*/\1.0/')" \
	"$TEST_PLUGIN_MODULE" "$TEST_PLUGIN_VERSION" >"$build/go.mod"
rm -f "$build/go.sum"
log "$TEST_PLUGIN_NAME $TEST_PLUGIN_VERSION: resolving modules (go get)"
(cd "$build" && go get "$TEST_PLUGIN_MODULE/cmd/$TEST_PLUGIN_NAME@$TEST_PLUGIN_VERSION")
tmp=$(mktemp -d "$build/out.XXXXXX")
log "$TEST_PLUGIN_NAME: go build (~1 min cold)"
(cd "$build" && go build -trimpath -ldflags "-s -w" -o "$tmp/$TEST_PLUGIN_NAME" "$TEST_PLUGIN_MODULE/cmd/$TEST_PLUGIN_NAME")
[[ -x $tmp/$TEST_PLUGIN_NAME ]] || die "go build did not produce $tmp/$TEST_PLUGIN_NAME"
sha256sum "$tmp/$TEST_PLUGIN_NAME" | cut -d' ' -f1 >"$tmp/$TEST_PLUGIN_NAME.sha256"
rm -rf "$PLUGIN_DIR"
mv "$tmp" "$PLUGIN_DIR"
log "built in $((SECONDS - start)) s: $PLUGIN_BIN (sha256 $(cat "$PLUGIN_BIN.sha256"))"
echo "$PLUGIN_BIN"
