//! The pods' shape beyond the core: `spec.imagePullSecrets`, `spec.serviceAccount` and
//! `spec.podMetadata`. The operator's own labels and annotations are never the user's to set:
//! selectors, NetworkPolicies, the PodDisruptionBudget and service registration rely on them.

use std::collections::BTreeMap;

use super::checks::check_subdomain;
use super::upstream::NOT_SUPPORTED_YET;
use super::{ValidationErrors, key_path, rules};
use crate::spec::OpenBaoCluster;

/// Key prefixes the operator owns on its pods and ServiceAccount.
const OPERATOR_PREFIXES: [&str; 2] = ["openbao.org/", "app.kubernetes.io/"];

/// The labels OpenBao's Kubernetes service registration writes on its own pod; a template label
/// with one of these names would mark a pod active, unsealed or initialized before OpenBao says
/// so. Kept in step with the operator's pod-label admission policy.
const REGISTRATION_LABELS: [&str; 5] = [
    "openbao-active",
    "openbao-initialized",
    "openbao-perf-standby",
    "openbao-sealed",
    "openbao-version",
];

/// Kubernetes' limit on the total size of an object's annotations.
const MAX_ANNOTATIONS_BYTES: usize = 256 * 1024;

pub(super) fn validate_pods(cluster: &OpenBaoCluster, errs: &mut ValidationErrors) {
    let spec = &cluster.spec;
    for (i, secret) in spec.image_pull_secrets.iter().enumerate() {
        check_subdomain(
            errs,
            &format!("spec.imagePullSecrets[{i}].name"),
            &secret.name,
            "the name of a docker-registry Secret in the cluster's namespace",
        );
    }
    if let Some(account) = &spec.service_account {
        let own = cluster.metadata.name.as_deref().unwrap_or_default();
        if let Some(name) = account.name.as_deref().filter(|n| *n != own) {
            errs.add(
                "spec.serviceAccount.name",
                name,
                format!(
                    "{NOT_SUPPORTED_YET}: the pods run as the operator's ServiceAccount {own:?}, \
                     which holds exactly the permissions peer discovery and service \
                     registration need; leave the name unset (or {own:?}) and put workload \
                     identity annotations in spec.serviceAccount.annotations"
                ),
            );
        }
        check_keys(
            errs,
            "spec.serviceAccount.annotations",
            &account.annotations,
            "annotation",
        );
        check_annotation_size(
            errs,
            "spec.serviceAccount.annotations",
            &account.annotations,
        );
    }
    if let Some(metadata) = &spec.pod_metadata {
        let p = "spec.podMetadata.labels";
        check_keys(errs, p, &metadata.labels, "label");
        for (key, value) in &metadata.labels {
            if REGISTRATION_LABELS.contains(&key.as_str()) {
                errs.add(
                    key_path(p, key),
                    key,
                    "must not be set: OpenBao's service registration writes this label on its \
                     own pod from its real state (active, sealed, initialized); a template \
                     value would send traffic to a pod that is not ready for it",
                );
            }
            if let Err(why) = rules::check_label_value(value) {
                errs.add(key_path(p, key), value, format!("label values {why}"));
            }
        }
        let p = "spec.podMetadata.annotations";
        check_keys(errs, p, &metadata.annotations, "annotation");
        check_annotation_size(errs, p, &metadata.annotations);
    }
}

/// Keys are qualified names, and none is under a prefix the operator owns.
fn check_keys(errs: &mut ValidationErrors, base: &str, map: &BTreeMap<String, String>, kind: &str) {
    for key in map.keys() {
        let path = key_path(base, key);
        if let Err(why) = rules::check_qualified_name(key) {
            errs.add(
                &path,
                key,
                format!("{kind} keys must be qualified names such as example.com/team: {why}"),
            );
        } else if let Some(prefix) = OPERATOR_PREFIXES.iter().find(|p| key.starts_with(*p)) {
            errs.add(
                &path,
                key,
                format!(
                    "must not be under {prefix:?}: the operator owns the {prefix} {kind}s of \
                     its pods and ServiceAccount (selectors, policies and rollouts rely on \
                     them); use your own prefix, such as example.com/"
                ),
            );
        }
    }
}

fn check_annotation_size(errs: &mut ValidationErrors, path: &str, map: &BTreeMap<String, String>) {
    let total: usize = map.iter().map(|(k, v)| k.len() + v.len()).sum();
    if total > MAX_ANNOTATIONS_BYTES {
        errs.add(
            path,
            format!("{total} bytes"),
            "annotations must total at most 256KiB",
        );
    }
}
