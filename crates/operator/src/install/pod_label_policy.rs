//! The ValidatingAdmissionPolicy (and its binding) that confines what an OpenBao pod's
//! ServiceAccount may change on pods to OpenBao's service-registration labels on its own pod.
//!
//! Why: service registration needs pods patch ([`super::rbac::SERVER_CLUSTER_ROLE`]), and RBAC
//! cannot narrow a verb to some fields of one object. Unchecked, a compromised OpenBao pod could
//! relabel itself `openbao.org/component=backup` and leave its restrictive NetworkPolicy for the
//! Job policy, drop `openbao.org/cluster`, or patch another cluster's pod in the same namespace.
//! The policy runs in the API server (no webhook, so it holds while the operator is down) with
//! `failurePolicy: Fail`.
//!
//! What it matches: pod UPDATEs (a patch arrives as UPDATE) by a ServiceAccount of the pod's own
//! namespace, except kube-system's (the control plane is never constrained), on a pod that
//! carried `openbao.org/cluster` before the request. Everyone else is left to RBAC.

use api::names;
use k8s_openapi::{
    api::admissionregistration::v1::{
        MatchCondition, MatchResources, NamedRuleWithOperations, ValidatingAdmissionPolicy,
        ValidatingAdmissionPolicyBinding, ValidatingAdmissionPolicyBindingSpec,
        ValidatingAdmissionPolicySpec, Validation, Variable,
    },
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};

/// Name of the policy and of its binding.
pub const POLICY: &str = "openbao-operator-pod-labels";

/// The labels OpenBao's Kubernetes service registration sets on its pod; the only labels an
/// OpenBao ServiceAccount may add, change or remove.
pub const REGISTRATION_LABELS: [&str; 5] = [
    "openbao-active",
    "openbao-initialized",
    "openbao-perf-standby",
    "openbao-sealed",
    "openbao-version",
];

/// CEL: the requester is a ServiceAccount of the namespace the pod is in.
pub const MATCH_NAMESPACE_SERVICE_ACCOUNT: &str =
    "request.userInfo.username.startsWith('system:serviceaccount:' + request.namespace + ':')";
/// CEL: the requester is not a kube-system ServiceAccount (controllers are never constrained).
pub const MATCH_NOT_KUBE_SYSTEM: &str =
    "!request.userInfo.username.startsWith('system:serviceaccount:kube-system:')";

pub(super) fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

pub(super) fn metadata(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        labels: Some(names::operator_pod_labels()),
        ..ObjectMeta::default()
    }
}

/// CEL: the pod was an OpenBao pod before this request (judged on the old object, so removing
/// the label does not take the request out of the policy's scope).
fn match_openbao_pod() -> String {
    format!(
        "has(oldObject.metadata.labels) && '{}' in oldObject.metadata.labels",
        names::LABEL_CLUSTER
    )
}

/// CEL list literal of [`REGISTRATION_LABELS`].
fn registration_labels_literal() -> String {
    let quoted: Vec<String> = REGISTRATION_LABELS
        .iter()
        .map(|l| format!("'{l}'"))
        .collect();
    format!("[{}]", quoted.join(", "))
}

/// CEL: `field` of `metadata` is the same before and after (absent on both sides counts as the
/// same; present on one side only does not).
fn metadata_unchanged(field: &str) -> String {
    format!(
        "has(object.metadata.{field}) == has(oldObject.metadata.{field}) &&\n\
         (!has(object.metadata.{field}) ||\n  \
         object.metadata.{field} == oldObject.metadata.{field})"
    )
}

/// The rules, in evaluation order; each message starts with the rule's name.
fn validations() -> Vec<Validation> {
    let validation = |expression: String, message: &str| Validation {
        expression,
        message: Some(message.to_string()),
        reason: Some("Forbidden".to_string()),
        message_expression: None,
    };
    vec![
        validation(
            "has(oldObject.spec.serviceAccountName) &&\n\
             request.userInfo.username == 'system:serviceaccount:' + request.namespace + ':' +\n  \
             oldObject.spec.serviceAccountName"
                .to_string(),
            "own-pod-only: of the namespace's ServiceAccounts, only an OpenBao pod's own \
             ServiceAccount may change the pod",
        ),
        // Every label of the new object is a registration label or was there with the same
        // value; every label of the old object is a registration label or is still there.
        // Together: no other label is added, changed or removed.
        validation(
            "(!has(object.metadata.labels) ||\n  \
             object.metadata.labels.all(k, k in variables.registrationLabels ||\n    \
             (has(oldObject.metadata.labels) && k in oldObject.metadata.labels &&\n     \
             oldObject.metadata.labels[k] == object.metadata.labels[k]))) &&\n\
             (!has(oldObject.metadata.labels) ||\n  \
             oldObject.metadata.labels.all(k, k in variables.registrationLabels ||\n    \
             (has(object.metadata.labels) && k in object.metadata.labels)))"
                .to_string(),
            "registration-labels-only: an OpenBao ServiceAccount may add, change or remove only \
             the labels openbao-active, openbao-initialized, openbao-perf-standby, \
             openbao-sealed and openbao-version",
        ),
        validation(
            format!(
                "{} &&\n{} &&\n{} &&\nobject.spec == oldObject.spec",
                metadata_unchanged("annotations"),
                metadata_unchanged("ownerReferences"),
                metadata_unchanged("finalizers"),
            ),
            "labels-only: an OpenBao ServiceAccount may not change a pod's annotations, owner \
             references, finalizers or spec",
        ),
    ]
}

/// The policy (see the module docs).
pub fn policy() -> ValidatingAdmissionPolicy {
    let condition = |name: &str, expression: String| MatchCondition {
        name: name.to_string(),
        expression,
    };
    ValidatingAdmissionPolicy {
        metadata: metadata(POLICY),
        spec: Some(ValidatingAdmissionPolicySpec {
            failure_policy: Some("Fail".to_string()),
            match_constraints: Some(pods_on("UPDATE")),
            match_conditions: Some(vec![
                condition(
                    "namespace-service-account",
                    MATCH_NAMESPACE_SERVICE_ACCOUNT.to_string(),
                ),
                condition("not-kube-system", MATCH_NOT_KUBE_SYSTEM.to_string()),
                condition("openbao-pod", match_openbao_pod()),
            ]),
            variables: Some(vec![Variable {
                name: "registrationLabels".to_string(),
                expression: registration_labels_literal(),
            }]),
            validations: Some(validations()),
            ..ValidatingAdmissionPolicySpec::default()
        }),
        status: None,
    }
}

/// Matches core/v1 pods on `operation`.
pub(super) fn pods_on(operation: &str) -> MatchResources {
    MatchResources {
        resource_rules: Some(vec![NamedRuleWithOperations {
            api_groups: Some(strings(&[""])),
            api_versions: Some(strings(&["v1"])),
            operations: Some(strings(&[operation])),
            resources: Some(strings(&["pods"])),
            ..NamedRuleWithOperations::default()
        }]),
        ..MatchResources::default()
    }
}

/// Enforces [`policy`] everywhere it matches: `Deny` rejects the request (no audit-only mode).
pub fn binding() -> ValidatingAdmissionPolicyBinding {
    binding_named(POLICY)
}

/// A binding named `policy` that enforces the policy of that name everywhere (`Deny`).
pub(super) fn binding_named(policy: &str) -> ValidatingAdmissionPolicyBinding {
    ValidatingAdmissionPolicyBinding {
        metadata: metadata(policy),
        spec: ValidatingAdmissionPolicyBindingSpec {
            policy_name: policy.to_string(),
            validation_actions: strings(&["Deny"]),
            ..ValidatingAdmissionPolicyBindingSpec::default()
        },
    }
}
