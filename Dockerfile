# syntax=docker/dockerfile:1
# The openbao-operator image: one static (musl) binary, CA certificates and a numeric non-root
# user on an empty base (`FROM scratch`), so nothing but the operator is in it.
#
#   docker build -t ghcr.io/openbao-operator/openbao-operator:0.1.0 .
#
# hack/image.sh builds the same image without pulling anything (buildah, on machines that
# cannot reach a registry): it assembles the same rootfs/ on the host and builds the final
# stage below, taken from this file, so both images have one layout (entrypoint, user, paths).
#
# The builder compiles for the platform it runs on (use `docker buildx build --platform ...`
# on matching builders, or QEMU, for other architectures). Cargo's registry and target
# directory are BuildKit cache mounts, so a rebuild after a source change recompiles only the
# workspace crates.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS builder
# musl-tools provides musl-gcc for the C parts of the TLS stack (ring).
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN rustup target add "$(uname -m)-unknown-linux-musl"
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY hack/image-rootfs.sh hack/
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    target="$(uname -m)-unknown-linux-musl" \
    && cargo build --release --locked -p openbao-operator --bin openbao-operator --target "$target" \
    && bash hack/image-rootfs.sh "target/$target/release/openbao-operator" /out/rootfs

# ---- final stage (hack/image.sh builds from here on; keep it self-contained) ----
FROM scratch
LABEL org.opencontainers.image.title="openbao-operator" \
      org.opencontainers.image.description="Runs OpenBao clusters on Kubernetes behind a default-deny network posture" \
      org.opencontainers.image.source="https://github.com/openbao-operator/openbao-operator" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /out/rootfs/ /
# Numeric, so Kubernetes can verify runAsNonRoot without reading /etc/passwd.
USER 65532:65532
ENTRYPOINT ["/openbao-operator"]
CMD ["run"]
