#!/usr/bin/env bash
# Builds (once) and caches Pebble, Let's Encrypt's ACME test server, for the ACME-mode tests:
#   $CACHE/pebble/<version>/bin/pebble   the server (github.com/letsencrypt/pebble/v2/cmd/pebble)
#   $CACHE/pebble/<version>/test/        its test certificates and sample configuration, as the
#                                        module ships them (test/certs/pebble.minica.pem is the
#                                        root of the directory's own HTTPS certificate)
#
# Usage: bash hack/pebble.sh          (hack/setup.sh calls it; it prints PEBBLE_BIN=<path>)
#        bash hack/pebble.sh --path   (prints PEBBLE_BIN=<path> and builds nothing)
#
# Like hack/setup.sh: keyed by version, built into a temp path and renamed, so an interrupted
# run never leaves a half binary; a re-run with the binary cached is a fast no-op.
set -euo pipefail

PEBBLE_VERSION=v2.10.3

CACHE=${OPENBAO_OPERATOR_CACHE:-$HOME/.cache/openbao-operator}
PEBBLE_DIR=$CACHE/pebble/$PEBBLE_VERSION

log() { printf '[pebble] %s\n' "$*" >&2; }
die() {
	printf '[pebble] ERROR: %s\n' "$*" >&2
	exit 1
}

if [[ "${1:-}" == --path ]]; then
	:
elif [[ -x "$PEBBLE_DIR/bin/pebble" && -f "$PEBBLE_DIR/test/certs/pebble.minica.pem" ]]; then
	log "pebble $PEBBLE_VERSION: cached in $PEBBLE_DIR"
else
	command -v go >/dev/null || die "go is not on PATH (needed to build pebble)"
	export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
	start=$SECONDS
	mkdir -p "$CACHE/pebble"
	tmp=$(mktemp -d "$CACHE/pebble/.tmp-$PEBBLE_VERSION.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	log "pebble $PEBBLE_VERSION: building github.com/letsencrypt/pebble/v2/cmd/pebble"
	# A throwaway module that requires pebble, so its own go.sum pins its dependencies.
	mkdir -p "$tmp/mod"
	printf 'module openbao-operator.local/pebble\n\ngo 1.24\n\nrequire github.com/letsencrypt/pebble/v2 %s\n' \
		"$PEBBLE_VERSION" >"$tmp/mod/go.mod"
	(cd "$tmp/mod" && go get "github.com/letsencrypt/pebble/v2/cmd/pebble@$PEBBLE_VERSION")
	mkdir -p "$tmp/out/bin"
	(cd "$tmp/mod" && go build -trimpath -ldflags "-s -w" -o "$tmp/out/bin/pebble" github.com/letsencrypt/pebble/v2/cmd/pebble)
	# The module's test certificates (the directory's HTTPS certificate and its root).
	src=$(cd "$tmp/mod" && go list -m -f '{{.Dir}}' "github.com/letsencrypt/pebble/v2")
	[[ -f "$src/test/certs/pebble.minica.pem" ]] || die "pebble $PEBBLE_VERSION ships no test/certs/pebble.minica.pem"
	cp -R "$src/test" "$tmp/out/test"
	chmod -R u+w "$tmp/out/test" # module cache files are read-only
	"$tmp/out/bin/pebble" -version >/dev/null 2>&1 || "$tmp/out/bin/pebble" -h >/dev/null 2>&1 ||
		die "$tmp/out/bin/pebble does not run"
	rm -rf "$PEBBLE_DIR"
	mv "$tmp/out" "$PEBBLE_DIR"
	log "pebble: built in $((SECONDS - start)) s"
fi

echo "PEBBLE_BIN=$PEBBLE_DIR/bin/pebble"
