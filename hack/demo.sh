#!/usr/bin/env bash
# The main job on its embedded default: render everything the operator creates for the sample
# cluster (examples/production.yaml unless a manifest is given) and prove its network posture.
#
# Until the reconciler lands this runs without a cluster: it is exactly what the operator would
# apply, computed by the same pure builders, with the detected API-server VIP stood in by
# 10.96.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${OPENBAO_OPERATOR_CACHE:-$HOME/.cache/openbao-operator}/cargo-target}"

manifest=${1:-examples/production.yaml}
cargo build --quiet -p openbao-operator
bin="$CARGO_TARGET_DIR/debug/openbao-operator"

echo "== objects the operator creates for $manifest (apply order)"
"$bin" render -f "$manifest" --api-server-ip 10.96.0.1
echo
echo "== posture proof: every flow around the cluster's pods against the contract"
"$bin" netpol verify -f "$manifest" --api-server-ip 10.96.0.1
