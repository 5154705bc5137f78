//! A real, local Kubernetes control plane for tests and the demo.
//!
//! [`ControlPlane::start`] runs etcd, kube-apiserver and kube-controller-manager (and, on
//! request, kube-scheduler) on loopback, with client-certificate authentication, RBAC and the
//! admission plugins a real cluster has (webhooks and ValidatingAdmissionPolicy included). The
//! binaries are real upstream builds cached by `hack/setup.sh`; nothing is faked and a missing
//! binary is an error that names the command that builds it.
//!
//! ```text
//!   hack/setup.sh ──builds──▶ $CACHE/k8s/<v>/bin/*, $CACHE/etcd/<v>/bin/etcd, $CACHE/openbao/<v>
//!                                   │ (binaries)
//!   ControlPlane::start ──spawns──▶ etcd ◀── kube-apiserver ◀── kube-controller-manager
//!        │                                        ▲              (kube-scheduler)
//!        ├── admin kube::Config, kubeconfigs ─────┘                     │ binds pods
//!        └── (node) ──▶ pods as processes in network namespaces ◀──────┘
//! ```
//!
//! With [`Options::node`], a node agent ([`Node`]) turns it into a working cluster: the real
//! scheduler binds pods to it and it runs them as real processes (`bao` for OpenBao images),
//! each pod in its own network namespace, with volumes, probes and status (see `node`).
//!
//! Tests in one test binary share one control plane through [`shared`], and isolate themselves
//! with a [`TestNamespace`] each.

#![forbid(unsafe_code)]

mod binaries;
mod control_plane;
mod kubeconfig;
mod node;
mod paths;
mod pki;
mod process;
pub mod reach;
mod shared;
mod wait;

pub use binaries::{
    BinaryPaths, ETCD_VERSION, KUBE_ROUTER_VERSION, KUBERNETES_VERSION, OPENBAO_PREVIOUS_VERSION,
    OPENBAO_VERSION, agnhost_binary, bao_binary, bao_previous_binary, cache_dir,
    kube_router_binary, setup_command,
};
pub use control_plane::{ControlPlane, Options, StartupTimings};
pub use kubeconfig::client_from_kubeconfig;
pub use node::{
    AGNHOST_REPOSITORY, ENFORCE_ENV, IMAGES_ENV, ImageConfig, ImageSource, Node, NodeOptions,
    OPENBAO_REPOSITORY, StoredImage,
};
pub use shared::{TestNamespace, shared, shared_with};
pub use wait::eventually;
