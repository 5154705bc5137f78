#!/usr/bin/env bash
# Builds the operator's OCI image on this machine, pulling nothing: a static musl binary, the
# rootfs of hack/image-rootfs.sh and the Dockerfile's final stage (`FROM scratch`), built by
# buildah (vfs storage, as root) and exported as an OCI archive into the cache:
#
#   $CACHE/image/<key>/openbao-operator.oci.tar   (reference: the manifests' default image)
#   $CACHE/image/<key>/image.env                  OPENBAO_OPERATOR_IMAGE, ..._ARCHIVE, ..._SIZE
#
# <key> hashes everything that goes into the image (the sources of the crates the binary is
# built from, Cargo.lock, the Dockerfile, these scripts, rustc's version and the profile), so a
# re-run with nothing changed is a no-op and CI rebuilds only after a change.
#
# Usage: bash hack/image.sh [--profile release|image-test]   (default: release)
#   prints the path of image.env; `source "$(bash hack/image.sh)"` exports its variables.
#   --profile image-test: release optimisations without LTO, incremental, for the e2e tests
#   (a source change rebuilds in a minute or two instead of ~10; the published image is
#   `release`).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
while (($#)); do
	case $1 in
	--profile) profile=$2; shift 2 ;;
	*) echo "usage: bash hack/image.sh [--profile release|image-test]" >&2; exit 2 ;;
	esac
done

case $profile in
release | image-test) ;;
*) echo "hack/image.sh: --profile $profile is not one of: release, image-test" >&2; exit 2 ;;
esac

CACHE=${OPENBAO_OPERATOR_CACHE:-$HOME/.cache/openbao-operator}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/cargo-target}"
target="$(uname -m)-unknown-linux-musl"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
reference="ghcr.io/openbao-operator/openbao-operator:$version"

log() { printf '[image] %s\n' "$*" >&2; }

# Tools: buildah (Debian), musl-gcc for ring's C code, the musl target of the pinned toolchain.
missing=()
command -v buildah >/dev/null || missing+=(buildah)
command -v musl-gcc >/dev/null || missing+=(musl-tools)
[[ -s /etc/ssl/certs/ca-certificates.crt ]] || missing+=(ca-certificates)
if ((${#missing[@]})); then
	log "installing ${missing[*]} (apt-get)"
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
if ! rustup target list --installed | grep -qx "$target"; then
	log "adding the $target target (rustup)"
	rustup target add "$target" >&2
fi

key=$(
	{
		rustc --version
		echo "profile=$profile target=$target reference=$reference"
		sha256sum Cargo.toml Cargo.lock Dockerfile hack/image.sh hack/image-rootfs.sh
		find crates/api crates/netpol crates/bao-client crates/operator -type f \
			\( -name '*.rs' -o -name Cargo.toml -o -name '*.json' -o -name '*.yaml' \) \
			-not -path '*/tests/*' -not -path '*/benches/*' -print0 | sort -z | xargs -0 sha256sum
	} | sha256sum | cut -c1-16
)
dir=$CACHE/image/$key
if [[ -s $dir/image.env ]]; then
	echo "$dir/image.env"
	exit 0
fi

log "building $reference ($profile, $target) -> $dir"
started=$(date +%s)
cargo build --locked --profile "$profile" --target "$target" -p openbao-operator --bin openbao-operator >&2
binary=$CARGO_TARGET_DIR/$target/$profile/openbao-operator
built=$(date +%s)

work=$(mktemp -d "$CACHE/image/.build.XXXXXX")
buildah_root=$CACHE/buildah
cleanup() {
	buildah --root "$buildah_root/storage" --runroot "$work/run" --storage-driver vfs \
		rmi -f "$reference" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
bash hack/image-rootfs.sh "$binary" "$work/context/rootfs"
# The Dockerfile's final stage, with its rootfs copied from the context instead of the builder.
sed -n '/^# ---- final stage/,$p' Dockerfile |
	sed 's|^COPY --from=builder /out/rootfs/ /$|COPY rootfs/ /|' >"$work/context/Containerfile"
grep -qx 'COPY rootfs/ /' "$work/context/Containerfile" || {
	log "the Dockerfile's final stage no longer copies /out/rootfs/; update hack/image.sh"
	exit 1
}
buildah=(buildah --root "$buildah_root/storage" --runroot "$work/run" --storage-driver vfs)
"${buildah[@]}" bud --quiet --timestamp 0 --layers=false -f "$work/context/Containerfile" \
	-t "$reference" "$work/context" >&2
mkdir -p "$work/out"
"${buildah[@]}" push --quiet "$reference" "oci-archive:$work/out/openbao-operator.oci.tar:$reference" >&2
size=$(stat -c %s "$work/out/openbao-operator.oci.tar")
binary_size=$(stat -c %s "$binary")
cat >"$work/out/image.env" <<ENV
OPENBAO_OPERATOR_IMAGE=$reference
OPENBAO_OPERATOR_IMAGE_ARCHIVE=$dir/openbao-operator.oci.tar
OPENBAO_OPERATOR_IMAGE_SIZE=$size
OPENBAO_OPERATOR_IMAGE_BINARY_SIZE=$binary_size
OPENBAO_OPERATOR_IMAGE_PROFILE=$profile
ENV
rm -rf "$dir"
mv "$work/out" "$dir"
# Keep the three newest images; each is ~10 MB.
ls -1dt "$CACHE"/image/*/ 2>/dev/null | tail -n +4 | xargs -r rm -rf
log "built in $((built - started)) s (cargo) + $(($(date +%s) - built)) s (buildah): archive $size bytes, binary $binary_size bytes"
echo "$dir/image.env"
