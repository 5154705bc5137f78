//! The operator's own install, built purely: its Namespace, identity and RBAC, Deployment,
//! Services, webhook registration skeleton, NetworkPolicy, the fixed ClusterRole the OpenBao pods
//! are bound to, the admission policy that keeps them inside their posture and the one that confines
//! the operator's pod deletions to its server pods. `openbao-operator
//! manifests` writes these; `deploy/` and the Helm chart are their committed form.

pub mod controller;
pub mod deploy;
pub mod names;
pub mod operator_rbac;
pub mod pod_delete_policy;
pub mod pod_label_policy;
