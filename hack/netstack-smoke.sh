#!/usr/bin/env bash
# Proves NetworkPolicy enforcement works on this machine in the local node's shape (not run by
# CI; needs root and `bash hack/setup.sh --only netstack`):
#
#   1. starts the local control plane and node (`localcluster up --with-node`);
#   2. runs kube-router's firewall (--run-firewall only) inside the node's network namespace,
#      with bridge netfilter on there, against the API server through the node's
#      `kubernetes` VIP (10.96.0.1:443);
#   3. creates two agnhost pods (a `netexec` server and a client), and checks from the client
#      pod's network namespace that the server's port answers, is refused after a default-deny
#      ingress NetworkPolicy, and answers again after a policy that allows the client.
#   4. with --kube-proxy: also runs kube-proxy (iptables mode) in the node namespace and checks
#      that a ClusterIP Service in front of the server routes from the client pod, and that
#      policies still apply behind it. The `kubernetes` Service is labelled with a
#      service-proxy-name so kube-proxy leaves the VIP to the node's own API proxy.
#
# Every check polls with a deadline and fails loudly. All traffic stays inside the node's
# namespaces; the root namespace's iptables are compared before and after.
#
#   5. with --coredns: also runs CoreDNS (kubernetes plugin only, no forwarding) in the node
#      namespace on the node's IP and checks from the client pod that the server's Service
#      name resolves to its ClusterIP and an unknown name gets NXDOMAIN.
#
#   bash hack/netstack-smoke.sh [--kube-proxy] [--coredns] [--keep]   (--keep: leave everything up until Ctrl-C)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${OPENBAO_OPERATOR_CACHE:-$HOME/.cache/openbao-operator}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/cargo-target}"
keep=0 kube_proxy=0 coredns=0
for arg in "$@"; do
	case "$arg" in
	--keep) keep=1 ;;
	--kube-proxy) kube_proxy=1 ;;
	--coredns) coredns=1 ;;
	*)
		echo "unknown argument $arg (--keep, --kube-proxy, --coredns)" >&2
		exit 2
		;;
	esac
done

say() { printf '\n== %s\n' "$*"; }
# fd 3 is the real stderr, also inside poll (which silences the commands it runs).
exec 3>&2
die() {
	printf '\nSMOKE FAILED: %s\n' "$*" >&3
	exit 1
}
[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces, iptables)"
[[ -f $CACHE/env ]] || die "no $CACHE/env: run bash hack/setup.sh first"
# shellcheck disable=SC1091
source "$CACHE/env"
for b in KUBE_ROUTER_BIN AGNHOST_BIN; do
	[[ -x ${!b:-} ]] || die "$b (${!b:-unset}) is not built: run bash hack/setup.sh --only netstack"
done
for t in iptables iptables-save ipset; do
	command -v "$t" >/dev/null || die "$t is not installed: run bash hack/setup.sh --only netstack"
done
# shellcheck disable=SC1091
source hack/tools.sh >/dev/null
kubectl() { "$KUBECTL_BIN" --kubeconfig "$work/kubeconfig" "$@"; }

say "build the local cluster"
cargo build --quiet -p openbao-localcluster
bin=$CARGO_TARGET_DIR/debug

work=$(mktemp -d -t netstack-smoke-XXXXXX)
cluster_pid='' router_pid='' proxy_pid='' dns_pid=''
root_rules_before=$(iptables-save | grep -v '^#' || true)
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	say "cleaning up"
	# kube-router first (it runs in the node namespace, which the cluster deletes at stop).
	for pid in $dns_pid $proxy_pid $router_pid $cluster_pid; do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [[ -n ${node_netns:-} ]] && ip netns list | grep -qw "$node_netns"; then
		echo "node namespace $node_netns survived the stop" >&2
		rc=1
	fi
	if [[ "$(iptables-save | grep -v '^#' || true)" != "$root_rules_before" ]]; then
		echo "the root namespace's iptables rules changed" >&2
		rc=1
	fi
	if [[ $rc -ne 0 ]]; then
		echo "logs in $work (kept)" >&2
	else
		rm -rf "$work"
	fi
	exit $rc
}
trap cleanup EXIT INT TERM

# poll SECONDS DESCRIPTION COMMAND...: runs COMMAND until it succeeds, at most SECONDS.
poll() {
	local seconds=$1 what=$2 start=$SECONDS
	shift 2
	until "$@" >/dev/null 2>&1; do
		((SECONDS - start < seconds)) || die "timed out after ${seconds}s waiting for: $what"
		sleep 0.5
	done
	echo "ok ($((SECONDS - start)) s): $what"
}

say "start the control plane and the node"
"$bin/localcluster" up --kubeconfig "$work/kubeconfig" --with-node >"$work/localcluster.log" 2>&1 &
cluster_pid=$!
start=$SECONDS
until grep -q '^  node netns: ' "$work/localcluster.log"; do
	kill -0 "$cluster_pid" 2>/dev/null || {
		cat "$work/localcluster.log" >&2
		die "localcluster exited"
	}
	((SECONDS - start < 180)) || die "localcluster did not come up in 180 s"
	sleep 0.5
done
cat "$work/localcluster.log"
node_netns=$(sed -nE 's/^  node netns: (\S+).*/\1/p' "$work/localcluster.log")
node_name=$(sed -nE 's/^  node:\s+(\S+) .*/\1/p' "$work/localcluster.log")
[[ -n $node_netns && -n $node_name ]] || die "could not read the node and its namespace from the log"

say "kube-router's firewall in $node_netns"
# Inside the node namespace 127.0.0.1 is not the API server; the node's proxy on the
# kubernetes VIP is (the serving certificate names 10.96.0.1).
sed -E 's#server: https://127\.0\.0\.1:[0-9]+#server: https://10.96.0.1:443#' "$work/kubeconfig" >"$work/kubeconfig-node"
grep -q 'server: https://10.96.0.1:443' "$work/kubeconfig-node" || die "could not point the kubeconfig at the VIP"
ip netns exec "$node_netns" sh -c 'echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables'
[[ $(ip netns exec "$node_netns" cat /proc/sys/net/bridge/bridge-nf-call-iptables) == 1 ]] ||
	die "bridge-nf-call-iptables is not 1 in $node_netns"
NODE_NAME=$node_name ip netns exec "$node_netns" "$KUBE_ROUTER_BIN" \
	--run-firewall=true --run-router=false --run-service-proxy=false \
	--kubeconfig="$work/kubeconfig-node" --hostname-override="$node_name" \
	--service-cluster-ip-range=10.96.0.0/12 --health-port=20244 --metrics-port=0 \
	--iptables-sync-period=1m -v=1 \
	>"$work/kube-router.log" 2>&1 &
router_pid=$!
healthy() {
	kill -0 "$router_pid" 2>/dev/null || {
		cat "$work/kube-router.log" >&3
		die "kube-router exited"
	}
	ip netns exec "$node_netns" iptables -S KUBE-ROUTER-FORWARD >/dev/null 2>&1
}
poll 60 "kube-router's KUBE-ROUTER-FORWARD chain in $node_netns" healthy

say "two agnhost pods"
kubectl create namespace smoke
# Pods are refused until the ServiceAccount controller has made the namespace's default one.
poll 60 "ServiceAccount smoke/default" kubectl -n smoke get serviceaccount default
kubectl -n smoke apply -f - <<'EOF'
apiVersion: v1
kind: Pod
metadata: { name: server, labels: { app: server } }
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: netexec
      image: registry.k8s.io/e2e-test-images/agnhost:2.56
      args: ["netexec", "--http-port=8080", "--udp-port=-1"]
      ports: [{ containerPort: 8080 }]
---
apiVersion: v1
kind: Pod
metadata: { name: client, labels: { app: client } }
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: pause
      image: registry.k8s.io/e2e-test-images/agnhost:2.56
      args: ["pause"]
EOF
running() { [[ $(kubectl -n smoke get pod "$1" -o jsonpath='{.status.phase}') == Running ]]; }
poll 90 "pod server Running" running server
poll 90 "pod client Running" running client
server_ip=$(kubectl -n smoke get pod server -o jsonpath='{.status.podIP}')
client_ip=$(kubectl -n smoke get pod client -o jsonpath='{.status.podIP}')
echo "server $server_ip, client $client_ip"
client_netns=''
for ns in $(ip netns list | awk '{print $1}' | grep "^${node_netns%-node}-p"); do
	if ip -n "$ns" -4 -o addr show dev eth0 2>/dev/null | grep -q " $client_ip/"; then client_netns=$ns; fi
done
[[ -n $client_netns ]] || die "found no pod namespace with the client's IP $client_ip"

# One TCP connection from the client pod's namespace to the server's port (agnhost connect:
# exit 0 on success; TIMEOUT or REFUSED otherwise).
connect() { ip netns exec "$client_netns" "$AGNHOST_BIN" connect "$server_ip:8080" --timeout=1s; }
blocked() { ! connect; }
# The same from the host: the root namespace's end of the node link (routed through the node).
host_connect() { "$AGNHOST_BIN" connect "$server_ip:8080" --timeout=1s; }
host_blocked() { ! host_connect; }

say "no policy: the client reaches the server"
poll 30 "client -> server:8080 connects" connect
poll 30 "host -> server:8080 connects" host_connect

say "default-deny ingress"
kubectl -n smoke apply -f - <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: default-deny }
spec:
  podSelector: {}
  policyTypes: [Ingress]
EOF
poll 60 "client -> server:8080 is refused" blocked
ip netns exec "$client_netns" "$AGNHOST_BIN" connect "$server_ip:8080" --timeout=1s 2>&1 | tail -1 || true

say "allow the client on 8080"
kubectl -n smoke apply -f - <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: allow-client }
spec:
  podSelector: { matchLabels: { app: server } }
  policyTypes: [Ingress]
  ingress:
    - from: [{ podSelector: { matchLabels: { app: client } } }]
      ports: [{ protocol: TCP, port: 8080 }]
EOF
poll 60 "client -> server:8080 connects again" connect
# The allow policy is selective: the host (the root namespace's end of the node link, which
# is neither the client nor the node itself) stays refused.
poll 10 "host -> server:8080 still refused (not selected by allow-client)" host_blocked

say "what kube-router programmed in $node_netns"
ip netns exec "$node_netns" iptables-save -t filter | grep -E '^:KUBE-|^-A (FORWARD|INPUT|OUTPUT) ' | head -20
ip netns exec "$node_netns" ipset list -n | head -20

say "SMOKE PASSED: a flow was allowed, refused by default-deny, and allowed by an allow policy"

if [[ $kube_proxy -eq 1 ]]; then
	say "kube-proxy (iptables mode) in $node_netns: a ClusterIP Service routes"
	[[ -x ${KUBE_PROXY_BIN:-} ]] || die "KUBE_PROXY_BIN is not built: run bash hack/setup.sh --only netstack"
	# The node's own TCP proxy serves the kubernetes VIP (the API server has no endpoints in
	# the cluster: --endpoint-reconciler-type=none); kube-proxy must leave that Service alone,
	# or it would REJECT the VIP for want of endpoints.
	kubectl -n default label service kubernetes --overwrite service.kubernetes.io/service-proxy-name=localcluster-node
	pod_cidr=$(kubectl get node "$node_name" -o jsonpath='{.spec.podCIDR}')
	ip netns exec "$node_netns" "$KUBE_PROXY_BIN" \
		--kubeconfig="$work/kubeconfig-node" --hostname-override="$node_name" \
		--proxy-mode=iptables --cluster-cidr="$pod_cidr" --nodeport-addresses=primary \
		--conntrack-max-per-core=0 --conntrack-tcp-timeout-established=0 \
		--conntrack-tcp-timeout-close-wait=0 \
		--healthz-bind-address=127.0.0.1:10256 --metrics-bind-address=127.0.0.1:10249 \
		>"$work/kube-proxy.log" 2>&1 &
	proxy_pid=$!
	proxying() {
		kill -0 "$proxy_pid" 2>/dev/null || {
			cat "$work/kube-proxy.log" >&3
			die "kube-proxy exited"
		}
		ip netns exec "$node_netns" iptables -t nat -S KUBE-SERVICES >/dev/null 2>&1
	}
	poll 60 "kube-proxy's KUBE-SERVICES chain in $node_netns" proxying
	kubectl -n smoke expose pod server --name=server --port=80 --target-port=8080
	cluster_ip=$(kubectl -n smoke get service server -o jsonpath='{.spec.clusterIP}')
	echo "Service smoke/server: $cluster_ip:80 -> $server_ip:8080"
	# Only from pods: the root namespace has no route to the Service range (a connection from
	# here would leave through the default route).
	service_connect() { ip netns exec "$client_netns" "$AGNHOST_BIN" connect "$cluster_ip:80" --timeout=1s; }
	poll 60 "client -> $cluster_ip:80 (the Service) connects" service_connect
	service_http() { ip netns exec "$client_netns" curl -sf --max-time 2 "http://$cluster_ip/hostname" | grep -qx server; }
	poll 30 "GET http://$cluster_ip/hostname from the client answers 'server'" service_http
	# Policies still apply behind the Service, and kube-router still reaches the API server
	# through the node's proxy (the VIP is left to it).
	kubectl -n smoke delete networkpolicy allow-client
	service_blocked() { ! service_connect; }
	poll 60 "client -> $cluster_ip:80 refused once allow-client is gone" service_blocked
	ip netns exec "$node_netns" iptables-save -t nat | grep -E '^-A KUBE-SERVICES' | head -5
	echo "kube-proxy logged $(grep -c '^E' "$work/kube-proxy.log" || true) error lines:"
	grep '^E' "$work/kube-proxy.log" | head -5 || true
	say "KUBE-PROXY SMOKE PASSED: the Service routes to the pod, and policies still apply behind it"
fi
if [[ $coredns -eq 1 ]]; then
	say "CoreDNS (kubernetes plugin) in $node_netns: Service names resolve"
	[[ -x ${COREDNS_BIN:-} ]] || die "COREDNS_BIN is not built: run bash hack/setup.sh --only netstack"
	node_ip=$(kubectl get node "$node_name" -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}')
	[[ -n $node_ip ]] || die "the node has no InternalIP"
	kubectl -n smoke get service server >/dev/null 2>&1 ||
		kubectl -n smoke expose pod server --name=server --port=80 --target-port=8080
	cluster_ip=$(kubectl -n smoke get service server -o jsonpath='{.spec.clusterIP}')
	# No forward plugin: names outside cluster.local get SERVFAIL/NXDOMAIN, never an upstream.
	cat >"$work/Corefile" <<EOF
.:53 {
    bind $node_ip
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $work/kubeconfig-node
        pods insecure
    }
}
EOF
	ip netns exec "$node_netns" "$COREDNS_BIN" -conf "$work/Corefile" >"$work/coredns.log" 2>&1 &
	dns_pid=$!
	# A one-question A query over UDP, written here (no dig on these machines): prints the
	# answer's IPv4 addresses, or the response code when it is not NOERROR.
	cat >"$work/dnsq.py" <<'EOF'
import socket, struct, sys
name, server = sys.argv[1], sys.argv[2]
query = struct.pack(">HHHHHH", 0x5eed, 0x0100, 1, 0, 0, 0)
query += b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"
query += struct.pack(">HH", 1, 1)
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(2)
sock.sendto(query, (server, 53))
reply = sock.recv(4096)
rcode = reply[3] & 0x0F
if rcode:
    print("RCODE", rcode)
    sys.exit(0)
answers = struct.unpack(">H", reply[6:8])[0]
at = len(query)
for _ in range(answers):
    at += 2 if reply[at] & 0xC0 == 0xC0 else reply.index(b"\0", at) + 1 - at
    rtype, _, _, length = struct.unpack(">HHIH", reply[at:at + 10])
    at += 10
    if rtype == 1:
        print(socket.inet_ntoa(reply[at:at + length]))
    at += length
EOF
	resolve() { ip netns exec "$client_netns" python3 "$work/dnsq.py" "$1" "$node_ip"; }
	serving() {
		kill -0 "$dns_pid" 2>/dev/null || {
			cat "$work/coredns.log" >&3
			die "coredns exited"
		}
		[[ $(resolve server.smoke.svc.cluster.local) == "$cluster_ip" ]]
	}
	poll 60 "server.smoke.svc.cluster.local resolves to $cluster_ip from the client pod" serving
	nxdomain() { [[ $(resolve nothing.smoke.svc.cluster.local) == "RCODE 3" ]]; }
	poll 10 "nothing.smoke.svc.cluster.local is NXDOMAIN" nxdomain
	say "COREDNS SMOKE PASSED: a Service name resolves to its ClusterIP from a pod"
fi

if [[ $keep -eq 1 ]]; then
	echo "up until Ctrl-C; KUBECONFIG=$work/kubeconfig, node netns $node_netns"
	wait "$cluster_pid"
fi
