#!/usr/bin/env bash
# Assembles the operator image's root filesystem (shared by the Dockerfile's builder stage and
# hack/image.sh, so both images have the same layout):
#   /openbao-operator                     the static binary (0755)
#   /etc/ssl/certs/ca-certificates.crt    the build host's CA bundle (Debian's ca-certificates)
#   /etc/passwd, /etc/group               root and nonroot (65532), as in distroless
#   /tmp                                  1777 (the Deployment mounts an emptyDir there)
#
# Usage: bash hack/image-rootfs.sh BINARY OUTDIR
set -euo pipefail
binary=$1
out=$2
bundle=/etc/ssl/certs/ca-certificates.crt

[[ -x $binary ]] || { echo "image-rootfs: $binary is not an executable" >&2; exit 1; }
[[ -s $bundle ]] || { echo "image-rootfs: $bundle is missing (install ca-certificates)" >&2; exit 1; }
# A dynamically linked binary would not start on an empty base: refuse it here, not at run time.
if readelf -l "$binary" 2>/dev/null | grep -q 'Requesting program interpreter'; then
	echo "image-rootfs: $binary is dynamically linked; build it for the musl target" >&2
	exit 1
fi

rm -rf "$out"
install -d -m 0755 "$out/etc/ssl/certs"
install -d -m 1777 "$out/tmp"
install -m 0755 "$binary" "$out/openbao-operator"
install -m 0644 "$bundle" "$out/etc/ssl/certs/ca-certificates.crt"
printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$out/etc/passwd"
printf '%s\n' 'root:x:0:' 'nonroot:x:65532:' >"$out/etc/group"
chmod 0644 "$out/etc/passwd" "$out/etc/group"
# Reproducible layers: every file carries the same timestamp.
find "$out" -exec touch -h -d @0 {} +
