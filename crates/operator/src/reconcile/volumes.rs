//! Growing `spec.storage.size` on a live cluster: expand each member's claim, then re-create the
//! StatefulSet around its running pods so its claim template says the new size.
//!
//! A StatefulSet's `volumeClaimTemplates` are immutable, so a changed size cannot be applied to
//! it. The steps are the ones Kubernetes documents for resizing a StatefulSet's volumes:
//!
//! 1. patch every existing claim (`<template>-<statefulset>-<ordinal>`) to the new request; the
//!    API server refuses it unless the claim's StorageClass has `allowVolumeExpansion: true`,
//!    and the volume's resizer grows the volume;
//! 2. delete the StatefulSet with `propagationPolicy: Orphan` (its pods keep running; the UID
//!    precondition makes sure exactly the object read is deleted);
//! 3. create it again with the new templates; it adopts the same pods, and because the pod
//!    template is unchanged their revision is too, so no pod restarts.
//!
//! When the expansion is refused, nothing is deleted: the StatefulSet is applied with its live
//! templates (so every other change still rolls out) and the refusal is reported as a
//! `Degraded` reason, since the spec's size can no longer be lowered again.

use std::time::Duration;

use api::{conditions::reasons, validate::rules::parse_quantity};
use k8s_openapi::api::{apps::v1::StatefulSet, core::v1::PersistentVolumeClaim};
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, Patch, PatchParams, Preconditions, PropagationPolicy},
};
use tracing::info;

use crate::reconcile::apply::ApplyError;

/// One claim template whose requested size grew.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grown {
    /// The template's name (`data`), which prefixes its claims' names.
    pub template: String,
    /// The live template's request.
    pub from: String,
    /// The desired request.
    pub to: String,
}

/// How the desired claim templates differ from the live StatefulSet's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplateChange {
    /// Templates whose size grew.
    pub grown: Vec<Grown>,
    /// Templates whose size shrank (the admission webhook refuses that; without it the live
    /// templates are kept, since no claim can shrink).
    pub shrunk: Vec<Grown>,
    /// Whether the templates differ at all in what the operator sets (name, class, access
    /// modes, size): the StatefulSet must then be re-created to carry them.
    pub changed: bool,
}

/// What the operator sets on a claim template, in comparable form (the size as written, and in
/// bytes: the API server rewrites `1024Mi` as `1Gi`, which is no change).
type TemplateKey = (String, Option<String>, Vec<String>, Option<String>);

fn template_key(claim: &PersistentVolumeClaim) -> TemplateKey {
    let spec = claim.spec.clone().unwrap_or_default();
    (
        claim.name_any(),
        spec.storage_class_name,
        spec.access_modes.unwrap_or_default(),
        storage_request(claim),
    )
}

/// The `storage` request of a claim (or claim template).
fn storage_request(claim: &PersistentVolumeClaim) -> Option<String> {
    claim
        .spec
        .as_ref()?
        .resources
        .as_ref()?
        .requests
        .as_ref()?
        .get("storage")
        .map(|q| q.0.clone())
}

fn templates(set: &StatefulSet) -> Vec<PersistentVolumeClaim> {
    set.spec.volume_claim_templates.clone().unwrap_or_default()
}

/// Bytes of a quantity, when it parses.
fn bytes(quantity: &str) -> Option<u64> {
    parse_quantity(quantity).ok().map(|q| q.ceil_units)
}

/// Compare the claim templates of `live` and `desired` (pure).
pub fn compare(live: &StatefulSet, desired: &StatefulSet) -> TemplateChange {
    let live_keys: Vec<_> = templates(live).iter().map(template_key).collect();
    let desired_keys: Vec<_> = templates(desired).iter().map(template_key).collect();
    let in_bytes = |keys: &[TemplateKey]| -> Vec<_> {
        keys.iter()
            .map(|(name, class, modes, size)| {
                let size = size.as_deref().map(|s| bytes(s).ok_or(s.to_string()));
                (name.clone(), class.clone(), modes.clone(), size)
            })
            .collect()
    };
    let sizes = |ordering: std::cmp::Ordering| -> Vec<Grown> {
        desired_keys
            .iter()
            .filter_map(|(name, _, _, to)| {
                let (_, _, _, from) = live_keys.iter().find(|(n, ..)| n == name)?;
                let (from, to) = (from.clone()?, to.clone()?);
                (bytes(&to)?.cmp(&bytes(&from)?) == ordering).then(|| Grown {
                    template: name.clone(),
                    from,
                    to,
                })
            })
            .collect()
    };
    TemplateChange {
        grown: sizes(std::cmp::Ordering::Greater),
        shrunk: sizes(std::cmp::Ordering::Less),
        changed: in_bytes(&live_keys) != in_bytes(&desired_keys),
    }
}

/// What [`reshape`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reshaped {
    /// Writes sent (claim patches and the StatefulSet's deletion).
    pub writes: usize,
    /// A refusal to report as `Degraded`: (reason, message).
    pub problem: Option<(String, String)>,
}

/// Bring the live StatefulSet's claim templates to the desired ones: expand the claims of every
/// grown template, then delete the StatefulSet (orphaning its pods) so the caller creates it
/// again from `desired`. When an expansion is refused, `desired` gets the live templates back
/// and nothing is deleted.
pub async fn reshape(
    client: &kube::Client,
    live: &StatefulSet,
    desired: &mut StatefulSet,
    change: &TemplateChange,
) -> Result<Reshaped, ApplyError> {
    let ns = live.namespace().unwrap_or_default();
    let set_name = live.name_any();
    let claims = Api::<PersistentVolumeClaim>::namespaced(client.clone(), &ns);
    let mut reshaped = Reshaped::default();
    // Claims exist for every ordinal the set ever had; the live and desired counts bound them.
    let replicas = [live, &*desired]
        .iter()
        .filter_map(|s| s.spec.replicas)
        .max()
        .unwrap_or(0);
    for grown in &change.grown {
        for ordinal in 0..replicas {
            let name = format!("{}-{set_name}-{ordinal}", grown.template);
            let claim = match claims.get_opt(&name).await {
                Ok(Some(claim)) => claim,
                Ok(None) => continue,
                Err(source) => return Err(write_error("PersistentVolumeClaim", name, source)),
            };
            let current = storage_request(&claim).unwrap_or_default();
            if bytes(&current).is_some_and(|c| Some(c) >= bytes(&grown.to)) {
                continue;
            }
            let patch = serde_json::json!({
                "spec": {"resources": {"requests": {"storage": grown.to}}}
            });
            let params = PatchParams::default();
            match claims.patch(&name, &params, &Patch::Merge(&patch)).await {
                Ok(_) => {
                    reshaped.writes += 1;
                    info!(claim = %name, from = %current, to = %grown.to, "expanding volume");
                }
                // The API server refuses expansion of a claim whose StorageClass does not allow
                // it (or that was not dynamically provisioned): keep the live templates.
                Err(kube::Error::Api(status)) if matches!(status.code, 403 | 422) => {
                    restore_live_templates(live, desired);
                    reshaped.problem = Some((
                        reasons::VOLUME_EXPANSION_REFUSED.to_string(),
                        format!(
                            "spec.storage.size grew from {} to {}, but Kubernetes refused to \
                             expand PersistentVolumeClaim {name}: {}; expansion needs a \
                             StorageClass with allowVolumeExpansion: true (the pods keep running \
                             on their current volumes)",
                            grown.from, grown.to, status.message
                        ),
                    ));
                    return Ok(reshaped);
                }
                Err(source) => return Err(write_error("PersistentVolumeClaim", name, source)),
            }
        }
    }
    let sets = Api::<StatefulSet>::namespaced(client.clone(), &ns);
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Orphan),
        preconditions: Some(Preconditions {
            uid: live.uid(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match sets.delete(&set_name, &params).await {
        Ok(_) => reshaped.writes += 1,
        // Gone already, or replaced by a newer object (a stale cache): nothing to delete.
        Err(kube::Error::Api(status)) if matches!(status.code, 404 | 409) => {}
        Err(source) => {
            return Err(write_error(
                "StatefulSet",
                format!("{ns}/{set_name}"),
                source,
            ));
        }
    }
    info!(statefulset = %set_name, "re-creating the StatefulSet with new claim templates; its pods keep running");
    // The garbage collector removes the orphan finalizer once the pods' owner references are
    // cleared, usually within a second; the caller's create must not patch the old object.
    for _ in 0..100 {
        match sets.get_opt(&set_name).await {
            Ok(None) => return Ok(reshaped),
            Ok(Some(set)) if set.uid() != live.uid() => return Ok(reshaped),
            Ok(Some(_)) => tokio::time::sleep(Duration::from_millis(200)).await,
            Err(source) => {
                return Err(write_error(
                    "StatefulSet",
                    format!("{ns}/{set_name}"),
                    source,
                ));
            }
        }
    }
    Err(ApplyError::Pending(format!(
        "StatefulSet {ns}/{set_name} is still being deleted (orphaning its pods)"
    )))
}

/// The problem to report when the desired templates are smaller than the live ones (only
/// possible without the admission webhook): the live templates are kept.
pub fn refuse_shrink(
    live: &StatefulSet,
    desired: &mut StatefulSet,
    change: &TemplateChange,
) -> (String, String) {
    restore_live_templates(live, desired);
    let shrunk: Vec<String> = change
        .shrunk
        .iter()
        .map(|s| format!("{} from {} to {}", s.template, s.from, s.to))
        .collect();
    (
        reasons::VOLUME_SHRINK_REFUSED.to_string(),
        format!(
            "spec.storage.size cannot shrink ({}): a PersistentVolumeClaim never gets smaller; \
             the members keep their volumes; set the size back",
            shrunk.join(", ")
        ),
    )
}

fn write_error(kind: &str, name: String, source: kube::Error) -> ApplyError {
    ApplyError::Write {
        kind: kind.to_string(),
        name,
        source,
    }
}

fn restore_live_templates(live: &StatefulSet, desired: &mut StatefulSet) {
    desired.spec.volume_claim_templates = live.spec.volume_claim_templates.clone();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(templates: &[(&str, &str)]) -> StatefulSet {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "bao", "namespace": "ns"},
            "spec": {
                "selector": {},
                "serviceName": "bao",
                "template": {},
                "volumeClaimTemplates": templates.iter().map(|(name, size)| serde_json::json!({
                    "metadata": {"name": name},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": size}},
                    },
                })).collect::<Vec<_>>(),
            },
        }))
        .expect("statefulset")
    }

    #[test]
    fn the_same_size_spelled_differently_is_no_change() {
        let change = compare(&set(&[("data", "1Gi")]), &set(&[("data", "1024Mi")]));
        assert_eq!(change, TemplateChange::default());
    }

    #[test]
    fn a_larger_size_is_growth_of_that_template() {
        let change = compare(&set(&[("data", "1Gi")]), &set(&[("data", "20Gi")]));
        assert!(change.changed);
        assert_eq!(
            change.grown,
            vec![Grown {
                template: "data".into(),
                from: "1Gi".into(),
                to: "20Gi".into()
            }]
        );
    }

    #[test]
    fn a_new_template_is_a_change_without_growth() {
        let change = compare(
            &set(&[("data", "1Gi")]),
            &set(&[("data", "1Gi"), ("audit", "5Gi")]),
        );
        assert!(change.changed);
        assert!(change.grown.is_empty());
    }

    #[test]
    fn a_smaller_size_is_a_shrink_never_growth() {
        let change = compare(&set(&[("data", "2Gi")]), &set(&[("data", "1Gi")]));
        assert!(change.changed);
        assert!(change.grown.is_empty());
        assert_eq!(change.shrunk.len(), 1);
    }
}
