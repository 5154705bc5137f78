//! Kubernetes `networking.k8s.io/v1` NetworkPolicy semantics: given namespaces, pods and
//! policies, decide whether a flow (source, destination, port, protocol) is allowed, and explain
//! why, per direction.
//!
//! Build a [`World`] with a [`WorldBuilder`] (pods and namespaces in the [`model`] types or
//! converted from the API objects with [`pod_from_k8s`] / [`namespace_from_k8s`]; policies as
//! `k8s_openapi` [`NetworkPolicy`](k8s_openapi::api::networking::v1::NetworkPolicy) objects),
//! then call [`World::evaluate`] with a [`Flow`].
//!
//! ```
//! use netpol::{Endpoint, Flow, FlowPort, Namespace, Pod, Protocol, WorldBuilder};
//! use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicySpec};
//!
//! let mut deny_all = NetworkPolicy::default();
//! deny_all.metadata.namespace = Some("x".into());
//! deny_all.metadata.name = Some("deny-all".into());
//! deny_all.spec = Some(NetworkPolicySpec::default()); // podSelector {} and no ingress rule
//!
//! let world = WorldBuilder::new()
//!     .namespace(Namespace::new("x"))
//!     .pod(Pod::new("x", "a").with_port(Some("http"), 80, Protocol::Tcp))
//!     .pod(Pod::new("x", "b"))
//!     .policy(deny_all)
//!     .build()
//!     .expect("valid objects");
//! let a = world.pod_id("x", "a").expect("pod x/a");
//! let b = world.pod_id("x", "b").expect("pod x/b");
//! let verdict = world
//!     .evaluate(&Flow {
//!         from: Endpoint::Pod(b),
//!         to: Endpoint::Pod(a),
//!         port: FlowPort::Named("http".into()),
//!         protocol: Protocol::Tcp,
//!     })
//!     .expect("known port");
//! assert!(!verdict.allowed);
//! assert!(verdict.to_string().contains("isolated by x/deny-all"));
//! ```
//!
//! Semantics are documented where they are implemented: isolation and the allow decision in
//! [`World::evaluate`], policyTypes defaulting, peers, ipBlocks and ports in `compile`, label
//! selectors in `selector`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod bitset;
mod cidr;
mod compile;
mod error;
pub mod generate;
mod k8s;
pub mod model;
mod selector;
mod verdict;
mod world;

pub use cidr::Cidr;
pub use compile::validate_port_name;
pub use error::{FieldError, FlowError, LoadError, LoadErrors, ObjectRef};
pub use k8s::{namespace_from_k8s, pod_from_k8s};
pub use model::{ContainerPort, Namespace, Pod, Protocol};
pub use selector::{label_selector_matches, labels_selected_by};
pub use verdict::{Direction, DirectionVerdict, Endpoint, Flow, FlowPort, RuleRef, Verdict};
pub use world::{
    DEFAULT_NAMESPACE, Matrix, MatrixEntry, NAMESPACE_NAME_LABEL, NamespacedName, PodId, PolicyId,
    World, WorldBuilder,
};
