//! Identity and permissions of the OpenBao pods: a ServiceAccount and a namespaced Role that lets
//! OpenBao's Kubernetes service registration label its own pod and go-discover list peers.
//! Nothing cluster-wide is granted.

use k8s_openapi::api::{
    core::v1::ServiceAccount,
    rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject},
};

use super::{ValidatedCluster, meta::object_meta};

/// The pods' ServiceAccount.
pub fn service_account(cluster: &ValidatedCluster) -> ServiceAccount {
    ServiceAccount {
        metadata: object_meta(cluster, cluster.names().service_account()),
        ..ServiceAccount::default()
    }
}

/// The verbs OpenBao needs on pods in its own namespace: get/list/watch for peer discovery
/// (`retry_join` with `provider=k8s`), get/patch/update for service registration labels.
pub const POD_VERBS: [&str; 5] = ["get", "list", "watch", "patch", "update"];

/// Role for service registration and peer discovery (pods in this namespace only).
pub fn role(cluster: &ValidatedCluster) -> Role {
    Role {
        metadata: object_meta(cluster, cluster.names().role()),
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["pods".to_string()]),
            verbs: POD_VERBS.iter().map(|v| v.to_string()).collect(),
            ..PolicyRule::default()
        }]),
    }
}

/// Binds the Role to the pods' ServiceAccount.
pub fn role_binding(cluster: &ValidatedCluster) -> RoleBinding {
    let names = cluster.names();
    RoleBinding {
        metadata: object_meta(cluster, names.role()),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".to_string()),
            kind: "Role".to_string(),
            name: names.role(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_string(),
            name: names.service_account(),
            namespace: Some(cluster.namespace().to_string()),
            api_group: None,
        }]),
    }
}
