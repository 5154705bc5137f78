//! The ValidatingAdmissionPolicy (and its binding) that confines the operator's pod deletions
//! to the OpenBao server pods it manages.
//!
//! Why: rollouts replace the server pods one at a time, the active member last, so the operator
//! holds `delete` on pods (the StatefulSet is `OnDelete`, and its controller recreates each pod
//! from the template). RBAC cannot narrow `delete` to some pods of a namespace, and the
//! operator's ClusterRole reaches every namespace: unchecked, a compromised operator could
//! delete kube-system's pods or any workload's. The policy runs in the API server (no webhook,
//! so it holds while the operator is down) with `failurePolicy: Fail`.
//!
//! What it matches: pod DELETEs by a ServiceAccount named `openbao-operator` (in any
//! namespace: constraining a look-alike elsewhere only narrows what it may do). What it admits:
//! a pod labelled as a managed OpenBao server (`app.kubernetes.io/managed-by=openbao-operator`,
//! `app.kubernetes.io/component=server`, `openbao.org/cluster`) and controlled by a
//! StatefulSet. A deletion of a whole collection is evaluated pod by pod.

use api::names;
use k8s_openapi::api::admissionregistration::v1::{
    MatchCondition, ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
    ValidatingAdmissionPolicySpec, Validation,
};

use super::pod_label_policy::{binding_named, metadata, pods_on};

/// Name of the policy and of its binding.
pub const POLICY: &str = "openbao-operator-pod-deletes";

/// CEL: the requester is a ServiceAccount named like the operator's.
pub fn match_operator() -> String {
    format!(
        "request.userInfo.username.startsWith('system:serviceaccount:') &&\n\
         request.userInfo.username.endsWith(':{}')",
        super::controller::OPERATOR_NAME
    )
}

/// CEL: the pod being deleted is a managed OpenBao server pod controlled by a StatefulSet.
pub fn managed_server_pod() -> String {
    format!(
        "has(oldObject.metadata.labels) &&\n\
         '{managed_by}' in oldObject.metadata.labels &&\n\
         oldObject.metadata.labels['{managed_by}'] == '{manager}' &&\n\
         '{component}' in oldObject.metadata.labels &&\n\
         oldObject.metadata.labels['{component}'] == '{server}' &&\n\
         '{cluster}' in oldObject.metadata.labels &&\n\
         has(oldObject.metadata.ownerReferences) &&\n\
         oldObject.metadata.ownerReferences.exists(r, r.kind == 'StatefulSet' &&\n  \
         has(r.controller) && r.controller)",
        managed_by = names::LABEL_MANAGED_BY,
        manager = names::MANAGER,
        component = names::LABEL_APP_COMPONENT,
        server = names::SERVER_COMPONENT,
        cluster = names::LABEL_CLUSTER,
    )
}

/// The policy (see the module docs).
pub fn policy() -> ValidatingAdmissionPolicy {
    ValidatingAdmissionPolicy {
        metadata: metadata(POLICY),
        spec: Some(ValidatingAdmissionPolicySpec {
            failure_policy: Some("Fail".to_string()),
            match_constraints: Some(pods_on("DELETE")),
            match_conditions: Some(vec![MatchCondition {
                name: "operator".to_string(),
                expression: match_operator(),
            }]),
            validations: Some(vec![Validation {
                expression: managed_server_pod(),
                message: Some(
                    "managed-server-pods-only: the operator may delete only the OpenBao server \
                     pods it manages (labelled app.kubernetes.io/managed-by=openbao-operator and \
                     app.kubernetes.io/component=server, controlled by a StatefulSet)"
                        .to_string(),
                ),
                reason: Some("Forbidden".to_string()),
                message_expression: None,
            }]),
            ..ValidatingAdmissionPolicySpec::default()
        }),
        status: None,
    }
}

/// Enforces [`policy`] everywhere it matches (`Deny`).
pub fn binding() -> ValidatingAdmissionPolicyBinding {
    binding_named(POLICY)
}
