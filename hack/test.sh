#!/usr/bin/env bash
# The project's test command (README): installs or reuses the cached real components
# (kube-apiserver, kube-controller-manager, kube-scheduler, etcd, bao), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${OPENBAO_OPERATOR_CACHE:-$HOME/.cache/openbao-operator}/cargo-target}"

bash hack/setup.sh
# Pinned helm and kubectl (kustomize) for the deploy tests.
# shellcheck disable=SC1091
source hack/tools.sh >/dev/null
# shellcheck disable=SC1091
source "${OPENBAO_OPERATOR_CACHE:-$HOME/.cache/openbao-operator}/env"
export KUBE_BIN_DIR ETCD_BIN BAO_BIN
# The operator image tests/install.rs installs (cached by content: rebuilt only after a change
# to what goes into it; the test runs the same command, a no-op by then).
bash hack/image.sh --profile image-test >/dev/null

cargo test --workspace --no-fail-fast
