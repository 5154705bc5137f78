//! Identity and permissions of the OpenBao pods: a ServiceAccount, and a RoleBinding (in the
//! cluster's namespace) to the one fixed ClusterRole [`SERVER_CLUSTER_ROLE`]: pods get/list for
//! peer discovery and service registration's lookup, pods patch for registration's labels.
//!
//! Why a fixed ClusterRole, bound per namespace, rather than a Role per cluster: Kubernetes only
//! lets a subject bind a role whose permissions it holds itself, unless it may `bind` that role.
//! Granting the pod write through a Role would force the operator to hold pods patch cluster-wide;
//! instead it may `bind` exactly this ClusterRole (by name) and holds no pod write verb at all,
//! and creates no Roles. It also keeps a new cluster's first pass short: the API server checks a
//! binding to a role the operator may `bind` at once, while a binding to a Role created a moment
//! before waited about 100 ms for the API server's own view of that Role (measured in the fleet
//! benchmark's traces). The ValidatingAdmissionPolicy of [`super::pod_label_policy`] narrows what
//! the write allows to the pod's own service-registration labels.

use api::names;
use k8s_openapi::{
    api::{
        core::v1::ServiceAccount,
        rbac::v1::{ClusterRole, PolicyRule, RoleBinding, RoleRef, Subject},
    },
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};

use super::{ValidatedCluster, meta::object_meta};

/// The fixed ClusterRole with the OpenBao pods' write permission on pods, shipped with the
/// operator's manifests and bound per cluster in the cluster's namespace only.
pub const SERVER_CLUSTER_ROLE: &str = "openbao-operator-openbao-server";

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// The verbs OpenBao needs on pods in its own namespace to read them: `list` for peer discovery
/// (`retry_join` with `provider=k8s`), `get` for service registration's lookup of its own pod
/// at start. Neither watches.
pub const POD_READ_VERBS: [&str; 2] = ["get", "list"];

/// The verb OpenBao's service registration writes its pod's labels with: a JSON patch (it never
/// sends a full update).
pub const POD_WRITE_VERBS: [&str; 1] = ["patch"];

fn pods_rule(verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![String::new()]),
        resources: Some(vec!["pods".to_string()]),
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        ..PolicyRule::default()
    }
}

/// The pods' ServiceAccount, with `spec.serviceAccount.annotations` (workload identity, such
/// as `eks.amazonaws.com/role-arn` for an AWS KMS seal).
pub fn service_account(cluster: &ValidatedCluster) -> ServiceAccount {
    let mut metadata = object_meta(cluster, cluster.names().service_account());
    metadata.annotations = cluster
        .spec()
        .service_account
        .as_ref()
        .map(|sa| sa.annotations.clone())
        .filter(|a| !a.is_empty());
    ServiceAccount {
        metadata,
        ..ServiceAccount::default()
    }
}

fn pods_subject(cluster: &ValidatedCluster) -> Subject {
    Subject {
        kind: "ServiceAccount".to_string(),
        name: cluster.names().service_account(),
        namespace: Some(cluster.namespace().to_string()),
        api_group: None,
    }
}

/// Binds [`SERVER_CLUSTER_ROLE`] to the pods' ServiceAccount. A RoleBinding (not a
/// ClusterRoleBinding), so the grant holds in the cluster's namespace only.
pub fn registration_role_binding(cluster: &ValidatedCluster) -> RoleBinding {
    RoleBinding {
        metadata: object_meta(cluster, cluster.names().registration_role_binding()),
        role_ref: RoleRef {
            api_group: Some(RBAC_GROUP.to_string()),
            kind: "ClusterRole".to_string(),
            name: SERVER_CLUSTER_ROLE.to_string(),
        },
        subjects: Some(vec![pods_subject(cluster)]),
    }
}

/// [`SERVER_CLUSTER_ROLE`]: pods get/list (discovery, registration's lookup) and patch
/// (registration's labels), nothing else. It grants nothing until a RoleBinding binds it in a
/// namespace; the operator creates exactly one per cluster.
pub fn server_cluster_role() -> ClusterRole {
    ClusterRole {
        metadata: ObjectMeta {
            name: Some(SERVER_CLUSTER_ROLE.to_string()),
            labels: Some(names::operator_pod_labels()),
            ..ObjectMeta::default()
        },
        rules: Some(vec![
            pods_rule(&POD_READ_VERBS),
            pods_rule(&POD_WRITE_VERBS),
        ]),
        aggregation_rule: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(extra: &str) -> ValidatedCluster {
        let yaml = format!(
            "apiVersion: openbao.org/v1alpha1\nkind: OpenBaoCluster\nmetadata: {{name: bao, namespace: team}}\nspec:\n  version: \"2.7.2\"\n{extra}"
        );
        let cluster: api::OpenBaoCluster = serde_yaml::from_str(&yaml).expect("manifest");
        ValidatedCluster::new(cluster).expect("valid")
    }

    #[test]
    fn the_service_account_carries_the_workload_identity_annotations() {
        let sa = service_account(&cluster(
            "  serviceAccount:\n    annotations: {eks.amazonaws.com/role-arn: \"arn:aws:iam::1:role/bao\"}",
        ));
        assert_eq!(sa.metadata.name.as_deref(), Some("bao"));
        assert_eq!(
            sa.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("eks.amazonaws.com/role-arn"))
                .map(String::as_str),
            Some("arn:aws:iam::1:role/bao")
        );
        assert!(service_account(&cluster("")).metadata.annotations.is_none());
    }
}
