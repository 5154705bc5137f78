#!/usr/bin/env bash
# The main job on its embedded default: a local Kubernetes control plane (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, built from source and cached) with a node that runs
# pods as real processes and enforces every NetworkPolicy (kube-router's firewall), the
# operator installed the way users install it (its OCI image, built here by hack/image.sh and
# imported into the node, deployed with `kubectl apply -k deploy/`: two replicas, leader
# election, the admission webhook behind its Service, the controller's own NetworkPolicy), and
# the sample 3-replica cluster examples/minimal.yaml (or the manifest given as $1). Waits until
# the cluster is Running, prints the objects and status the operator produced and `bao status`
# against the active member, then keeps everything up until Ctrl-C (or exits at once with
# --exit). Interrupting it stops every process and removes every namespace and temp file.
#
#   bash hack/demo.sh [MANIFEST] [--exit] [--process]
#
# --process runs the operator as a process of this machine instead (webhook on
# 127.0.0.1:19443, no image build, no enforcement): the fast loop while changing the operator.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${OPENBAO_OPERATOR_CACHE:-$HOME/.cache/openbao-operator}/cargo-target}"

manifest=examples/minimal.yaml
exit_when_ready=0
process=0
for arg in "$@"; do
	case "$arg" in
	--exit) exit_when_ready=1 ;;
	--process) process=1 ;;
	*) manifest=$arg ;;
	esac
done
if [[ $(id -u) -ne 0 ]]; then
	echo "the local node needs root (network and mount namespaces)" >&2
	exit 1
fi

say() { printf '\n== %s\n' "$*"; }

say "setup (cached builds of the control plane, bao, helm/kubectl)"
bash hack/setup.sh
# shellcheck disable=SC1091
source "${OPENBAO_OPERATOR_CACHE:-$HOME/.cache/openbao-operator}/env"
# shellcheck disable=SC1091
source hack/tools.sh >/dev/null
export KUBE_BIN_DIR ETCD_BIN BAO_BIN
kubectl() { "$KUBECTL_BIN" "$@"; }

say "build the operator and the local cluster"
cargo build --quiet -p openbao-operator -p openbao-localcluster
bin=$CARGO_TARGET_DIR/debug
up_args=(--with-node)
if [[ $process -eq 0 ]]; then
	say "build the operator image (hack/image.sh; cached by content)"
	# shellcheck disable=SC1090
	source "$(bash hack/image.sh --profile image-test)"
	echo "$OPENBAO_OPERATOR_IMAGE: $OPENBAO_OPERATOR_IMAGE_ARCHIVE ($OPENBAO_OPERATOR_IMAGE_SIZE bytes)"
	up_args+=(--enforce --image "$OPENBAO_OPERATOR_IMAGE_ARCHIVE")
fi

work=$(mktemp -d -t openbao-demo-XXXXXX)
pids=()
cleanup() {
	trap - EXIT INT TERM
	say "cleaning up"
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

say "start the control plane and the node"
"$bin/localcluster" up --kubeconfig "$work/kubeconfig" "${up_args[@]}" >"$work/localcluster.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 180); do
	[[ -s $work/kubeconfig ]] && break
	if ! kill -0 "${pids[0]}" 2>/dev/null; then
		cat "$work/localcluster.log" >&2
		exit 1
	fi
	sleep 0.5
done
export KUBECONFIG=$work/kubeconfig
cat "$work/localcluster.log"

# What to show when something fails: the operator's log (process) or its pods (image; their
# container logs are under the node's run directory, printed by `localcluster up` above).
operator_log() {
	if [[ $process -eq 1 ]]; then
		tail -n 40 "$work/operator.log"
	else
		kubectl -n openbao-operator-system get pods -o wide
	fi
}

if [[ $process -eq 0 ]]; then
	say "install the operator: kubectl apply --server-side -k deploy/ (two replicas)"
	mkdir -p "$work/overlay"
	cat >"$work/overlay/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- $(realpath --relative-to="$work/overlay" deploy)
replicas:
- name: openbao-operator
  count: 2
YAML
	kubectl apply --server-side -k "$work/overlay"
	if ! kubectl -n openbao-operator-system rollout status deployment/openbao-operator --timeout=180s; then
		echo "the operator did not become ready:" >&2
		kubectl -n openbao-operator-system get pods -o wide >&2 || true
		kubectl -n openbao-operator-system get events >&2 || true
		exit 1
	fi
	kubectl -n openbao-operator-system get pods -o wide
	echo "leader: $(kubectl -n openbao-operator-system get lease openbao-operator-leader -o jsonpath='{.spec.holderIdentity}')"
else
	say "install the CRD and start the operator (as a process)"
	kubectl apply -f deploy/crds/
	kubectl create namespace openbao-operator-system --dry-run=client -o yaml | kubectl apply -f -
	# The operator's own ServiceAccount: its identity in OpenBao (it logs in with short-lived tokens
	# of this account; run from here, it requests them with the demo's admin kubeconfig).
	kubectl apply -f deploy/base/service-account.yaml
	# The cluster-wide objects the OpenBao pods rely on: the ClusterRole their service registration
	# is bound to, and the admission policy that limits it to the registration labels.
	kubectl apply -f deploy/base/openbao-server-cluster-role.yaml \
		-f deploy/base/pod-label-policy.yaml -f deploy/base/pod-label-policy-binding.yaml
	"$bin/openbao-operator" run --kubeconfig "$KUBECONFIG" --operator-namespace openbao-operator-system \
		--health-bind 127.0.0.1:18081 --metrics-bind 127.0.0.1:18080 --secure-metrics-bind 0 \
		--webhook-bind 127.0.0.1:19443 --webhook-url https://127.0.0.1:19443 \
		>"$work/operator.log" 2>&1 &
	pids+=($!)
	ready=0
	for _ in $(seq 1 120); do
		if curl -fsS http://127.0.0.1:18081/readyz >/dev/null 2>&1; then
			ready=1
			break
		fi
		sleep 0.5
	done
	if [[ $ready -ne 1 ]]; then
		echo "the operator did not become ready; its log:" >&2
		tail -n 40 "$work/operator.log" >&2
		exit 1
	fi
	echo "operator ready (logs: $work/operator.log, metrics: http://127.0.0.1:18080/metrics)"

fi

namespace=$(awk '/^  namespace:/ {print $2; exit}' "$manifest")
name=$(awk '/^  name:/ {print $2; exit}' "$manifest")
namespace=${namespace:-default}
say "apply $manifest ($namespace/$name)"
kubectl create namespace "$namespace" --dry-run=client -o yaml | kubectl apply -f -
kubectl apply -f "$manifest"

say "wait until the cluster is Running"
start=$(date +%s)
if ! kubectl -n "$namespace" wait "openbaocluster/$name" --for=jsonpath='{.status.phase}'=Running --timeout=300s; then
	echo "the cluster did not reach Running; its status, pods and the operator's last log lines:" >&2
	kubectl -n "$namespace" get "openbaocluster/$name" -o jsonpath='{.status}' >&2 || true
	kubectl -n "$namespace" get pods -o wide >&2 || true
	operator_log >&2 || true
	exit 1
fi
echo "Running after $(($(date +%s) - start)) s"

say "what the operator produced"
kubectl -n "$namespace" get openbaocluster,statefulset,pods,services,networkpolicies,poddisruptionbudgets,configmaps,secrets -o wide
say "status"
kubectl -n "$namespace" get "openbaocluster/$name" -o jsonpath='{.status}' | python3 -m json.tool

leader=$(kubectl -n "$namespace" get "openbaocluster/$name" -o jsonpath='{.status.leader}')
leader_ip=$(kubectl -n "$namespace" get pod "$leader" -o jsonpath='{.status.podIP}')
kubectl -n "$namespace" get secret "$name-tls-server" -o jsonpath='{.data.ca\.crt}' | base64 -d >"$work/ca.crt"
say "bao status against the active member $leader ($leader_ip)"
reach=(env BAO_ADDR="https://$leader_ip:8200" BAO_CACERT="$work/ca.crt"
	BAO_TLS_SERVER_NAME="$leader.$name-internal.$namespace.svc" "$BAO_BIN" status)
if [[ $process -eq 0 ]]; then
	# The node enforces the cluster's policy, which refuses this host: ask from the node's own
	# namespace, where the kubelet's probes come from and which the firewall lets in.
	if timeout 3 bash -c "exec 3<>/dev/tcp/$leader_ip/8200" 2>/dev/null; then
		echo "this host -> $leader_ip:8200: CONNECTED, but no rule of the posture admits this host" >&2
		exit 1
	fi
	echo "this host -> $leader_ip:8200: refused (enforced: no rule of the posture admits it)"
	node_netns=$(awk '/node netns:/ {print $3; exit}' "$work/localcluster.log")
	reach=(ip netns exec "$node_netns" "${reach[@]}")
	echo "the node ($node_netns, where the kubelet's probes come from) -> $leader_ip:8200: allowed:"
fi
"${reach[@]}" || true
echo
echo "Reach it yourself (while this runs):"
echo "  KUBECONFIG=$KUBECONFIG ${reach[*]}"
echo "  root token: kubectl -n $namespace get secret $name-root-token -o jsonpath='{.data.root-token}' | base64 -d"

if [[ $exit_when_ready -eq 1 ]]; then
	exit 0
fi
say "running; press Ctrl-C to stop and clean up"
wait "${pids[0]}"
