//! The operator's own least-privilege reconcile permissions, generated here and committed under
//! `deploy/rbac/`. Every rule names the stage that needs it; nothing is granted "just in case".
//! A cluster-wide install grants them as the ClusterRole [`CLUSTER_ROLE`]; a namespaced install
//! (`--watch-namespaces`) grants the same rules as the Role [`WATCHED_NAMESPACE_ROLE`] in each
//! watched namespace, so the operator reads Secrets there and nowhere else.
//!
//! The operator holds no write verb on pods and creates no Roles. The OpenBao pods' permissions
//! (pod reads, their own label writes) come from the fixed ClusterRole
//! [`rbac::SERVER_CLUSTER_ROLE`], which the operator may only `bind` (by name): Kubernetes'
//! escalation check accepts a RoleBinding when the creator may bind its role, so the operator
//! need not hold what that role grants.

use api::names;
use k8s_openapi::{
    api::rbac::v1::{ClusterRole, PolicyRule, Role},
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};

use crate::desired::rbac;

/// Name of the operator's ClusterRole (and its binding).
pub const CLUSTER_ROLE: &str = "openbao-operator";
/// Name of the Role (and its RoleBinding) holding [`rules`] in each watched namespace of a
/// namespaced install. Not [`CLUSTER_ROLE`]'s name: the operator namespace has a Role of that
/// name already (Lease and webhook Secret), and it may be a watched namespace too.
pub const WATCHED_NAMESPACE_ROLE: &str = "openbao-operator-reconcile";

const MANAGE: &[&str] = &[
    "get", "list", "watch", "create", "update", "patch", "delete",
];

fn rule(group: &str, resources: &[&str], verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![group.to_string()]),
        resources: Some(resources.iter().map(|r| r.to_string()).collect()),
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        ..PolicyRule::default()
    }
}

fn named_rule(group: &str, resources: &[&str], names: &[&str], verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        resource_names: Some(names.iter().map(|n| n.to_string()).collect()),
        ..rule(group, resources, verbs)
    }
}

/// The rules, in a stable order.
pub fn rules() -> Vec<PolicyRule> {
    vec![
        // The custom resource: watch, finalizer, status.
        rule(
            "openbao.org",
            &["openbaoclusters"],
            &["get", "list", "watch", "update", "patch"],
        ),
        rule(
            "openbao.org",
            &["openbaoclusters/status"],
            &["get", "update", "patch"],
        ),
        rule("openbao.org", &["openbaoclusters/finalizers"], &["update"]),
        // Restores and tenants are only read and given the NotImplemented condition until their
        // machinery exists (`placeholder`): no write on the objects themselves.
        rule(
            "openbao.org",
            &["openbaorestores", "openbaotenants"],
            &["get", "list", "watch"],
        ),
        rule(
            "openbao.org",
            &["openbaorestores/status", "openbaotenants/status"],
            &["update", "patch"],
        ),
        // Children applied by the apply stage.
        rule("apps", &["statefulsets"], MANAGE),
        rule("", &["services", "configmaps", "serviceaccounts"], MANAGE),
        rule(
            "networking.k8s.io",
            &["networkpolicies", "ingresses"],
            MANAGE,
        ),
        rule("policy", &["poddisruptionbudgets"], MANAGE),
        rule("rbac.authorization.k8s.io", &["rolebindings"], MANAGE),
        // Roles are only watched and deleted: earlier versions made a `<cluster>-discovery` Role
        // per cluster, which the apply stage removes (the fixed ClusterRole grants its reads).
        rule(
            "rbac.authorization.k8s.io",
            &["roles"],
            &["get", "list", "watch", "delete"],
        ),
        // The per-cluster RoleBinding to the OpenBao pods' fixed ClusterRole: `bind` on that one
        // name instead of holding its pod write verbs (see the module docs). In a Role this
        // covers RoleBindings in the Role's namespace only: the API server checks `bind` in the
        // namespace of the binding being created.
        named_rule(
            "rbac.authorization.k8s.io",
            &["clusterroles"],
            &[rbac::SERVER_CLUSTER_ROLE],
            &["bind"],
        ),
        rule(
            "gateway.networking.k8s.io",
            &["httproutes", "backendtlspolicies"],
            MANAGE,
        ),
        // Backup (and restore) Jobs: created one at a time per cluster, watched for their
        // outcome, never updated; deleted by their TTL or with the cluster (owner reference).
        rule(
            "batch",
            &["jobs"],
            &["get", "list", "watch", "create", "delete"],
        ),
        // Generated Secrets (CA, certificate, unseal key, root token); deleted only under
        // deletionPolicy DeleteAll.
        rule("", &["secrets"], MANAGE),
        // deletionPolicy DeletePVCs/DeleteAll, the unseal-key safety check, `patch` to expand
        // the members' claims when spec.storage.size grows (the API server's resize admission
        // still requires a StorageClass that allows expansion), and `create` for the audit
        // claim of spec.auditFileStorage (created once, never updated).
        rule(
            "",
            &["persistentvolumeclaims"],
            &["get", "list", "watch", "create", "patch", "delete"],
        ),
        // Member status and addresses. `delete`: rollouts replace the server pods one at a time,
        // the active member last (the StatefulSet is OnDelete).
        rule("", &["pods"], &["get", "list", "watch", "delete"]),
        // Events.
        rule("", &["events"], &["create", "patch"]),
        rule("events.k8s.io", &["events"], &["create", "patch"]),
    ]
}

/// The ClusterRole.
pub fn cluster_role() -> ClusterRole {
    ClusterRole {
        metadata: ObjectMeta {
            name: Some(CLUSTER_ROLE.to_string()),
            labels: Some(names::operator_pod_labels()),
            ..ObjectMeta::default()
        },
        rules: Some(rules()),
        aggregation_rule: None,
    }
}

/// The same rules as [`cluster_role`], as the Role [`WATCHED_NAMESPACE_ROLE`] in `namespace`.
pub fn watched_namespace_role(namespace: &str) -> Role {
    Role {
        metadata: ObjectMeta {
            name: Some(WATCHED_NAMESPACE_ROLE.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(names::operator_pod_labels()),
            ..ObjectMeta::default()
        },
        rules: Some(rules()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watched_namespace_role_holds_exactly_the_cluster_roles_rules_in_its_namespace() {
        let role = watched_namespace_role("team-a");
        assert_eq!(role.metadata.namespace.as_deref(), Some("team-a"));
        assert_eq!(role.metadata.name.as_deref(), Some(WATCHED_NAMESPACE_ROLE));
        assert_eq!(role.metadata.labels, cluster_role().metadata.labels);
        assert_eq!(role.rules, cluster_role().rules);
        assert_ne!(WATCHED_NAMESPACE_ROLE, super::super::deploy::NAMESPACE_ROLE);
    }
}
