//! A small volume provisioner: every pending PersistentVolumeClaim gets a hostPath
//! PersistentVolume pre-bound to it, backed by a directory named after the claim.
//!
//! This is what an external provisioner does (create the PV with `claimRef` set), and the
//! real persistentvolume-binder controller completes the binding, so StatefulSets see their
//! claims `Bound` and the scheduler places their pods. Any storage class is accepted (there is
//! only one kind of storage here). The directory `<node dir>/claims/<namespace>/<claim>` is
//! kept while the claim exists, so a StatefulSet pod recreated after deletion finds its data;
//! when the claim is deleted its PersistentVolume is `Released`, and then the volume and the
//! directory are deleted (the `Delete` reclaim policy, done here because no volume plugin of
//! the controller-manager can delete a hostPath volume outside `/tmp`). A bound claim whose
//! request grew (and that the API server let grow) is resized as an external resizer would.
//!
//! The node deletes as root, and anyone who may write PersistentVolumes can write their
//! labels and annotations, so a released volume's directory is deleted only when it is
//! exactly the claim directory this node provisions for the volume's claim, resolved inside
//! the claims directory ([`reclaimable_dir`]); any other path is logged and kept.

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use k8s_openapi::{
    api::core::v1::{
        HostPathVolumeSource, ObjectReference, PersistentVolume, PersistentVolumeClaim,
        PersistentVolumeSpec,
    },
    apimachinery::pkg::api::resource::Quantity,
};
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, ObjectMeta, PostParams},
    runtime::{WatchStreamExt, watcher},
};

/// Label on the PersistentVolumes this provisioner creates.
pub(crate) const PROVISIONED_LABEL: &str = "localcluster.openbao.org/provisioned-by";
/// Annotation naming the claim directory (so cleanup does not depend on the claim).
const PATH_ANNOTATION: &str = "localcluster.openbao.org/path";

/// Provisions claims and reclaims released volumes until the streams end.
pub(crate) async fn run(client: kube::Client, node: String, claims_dir: PathBuf) {
    let claims = provision(client.clone(), node.clone(), claims_dir.clone());
    let released = reclaim(client, node, claims_dir);
    tokio::join!(claims, released);
}

async fn provision(client: kube::Client, node: String, claims_dir: PathBuf) {
    let pvcs: Api<PersistentVolumeClaim> = Api::all(client.clone());
    let client_pvcs = client.clone();
    let pvs: Api<PersistentVolume> = Api::all(client);
    let mut events = watcher(pvcs, watcher::Config::default())
        .default_backoff()
        .applied_objects()
        .boxed();
    while let Some(event) = events.next().await {
        let claim = match event {
            Ok(claim) => claim,
            Err(e) => {
                tracing::debug!("watching PersistentVolumeClaims: {e}");
                continue;
            }
        };
        let bound = claim
            .spec
            .as_ref()
            .and_then(|s| s.volume_name.as_deref())
            .is_some_and(|v| !v.is_empty());
        let pending = claim
            .status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .is_none_or(|p| p == "Pending");
        if bound && claim.metadata.deletion_timestamp.is_none() {
            if let Err(e) = resize_volume(&pvs, &client_pvcs, &node, &claim).await {
                tracing::warn!(
                    claim = %format!("{}/{}", claim.namespace().unwrap_or_default(), claim.name_any()),
                    "resizing a volume: {e:#}"
                );
            }
            continue;
        }
        if !pending || claim.metadata.deletion_timestamp.is_some() {
            continue;
        }
        if let Err(e) = create_volume(&pvs, &node, &claims_dir, &claim).await {
            tracing::warn!(
                claim = %format!("{}/{}", claim.namespace().unwrap_or_default(), claim.name_any()),
                "provisioning a volume: {e:#}"
            );
        }
    }
}

async fn create_volume(
    pvs: &Api<PersistentVolume>,
    node: &str,
    claims_dir: &std::path::Path,
    claim: &PersistentVolumeClaim,
) -> Result<()> {
    let namespace = claim.namespace().unwrap_or_default();
    let name = claim.name_any();
    let uid = claim.uid().unwrap_or_default();
    let spec = claim.spec.clone().unwrap_or_default();
    let dir = claims_dir.join(&namespace).join(&name);
    fs::create_dir_all(&dir)?;
    let size = spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage").cloned())
        .unwrap_or_else(|| Quantity("1Gi".to_owned()));
    let volume = PersistentVolume {
        metadata: ObjectMeta {
            name: Some(format!("pvc-{uid}")),
            labels: Some(BTreeMap::from([(
                PROVISIONED_LABEL.to_owned(),
                node.to_owned(),
            )])),
            annotations: Some(BTreeMap::from([
                (
                    "pv.kubernetes.io/provisioned-by".to_owned(),
                    "localcluster.openbao.org/node".to_owned(),
                ),
                (PATH_ANNOTATION.to_owned(), dir.display().to_string()),
            ])),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeSpec {
            access_modes: spec.access_modes.clone(),
            capacity: Some(BTreeMap::from([("storage".to_owned(), size)])),
            claim_ref: Some(ObjectReference {
                api_version: Some("v1".to_owned()),
                kind: Some("PersistentVolumeClaim".to_owned()),
                namespace: Some(namespace.clone()),
                name: Some(name.clone()),
                uid: Some(uid),
                ..ObjectReference::default()
            }),
            host_path: Some(HostPathVolumeSource {
                path: dir.display().to_string(),
                type_: Some("DirectoryOrCreate".to_owned()),
            }),
            persistent_volume_reclaim_policy: Some("Retain".to_owned()),
            storage_class_name: spec.storage_class_name.clone(),
            volume_mode: spec.volume_mode.clone(),
            ..PersistentVolumeSpec::default()
        }),
        status: None,
    };
    match pvs.create(&PostParams::default(), &volume).await {
        Ok(_) => {
            tracing::debug!(claim = %format!("{namespace}/{name}"), "provisioned a volume");
            Ok(())
        }
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The storage request of a claim's spec, or the capacity in its status.
fn storage_of(map: Option<&BTreeMap<String, Quantity>>) -> Option<String> {
    map.and_then(|m| m.get("storage")).map(|q| q.0.clone())
}

/// Grow a bound claim's volume to its request, as an external resizer does: the volume is a
/// directory with no size of its own, so growing means raising the PersistentVolume's capacity
/// and then the claim's `status.capacity` (which tells the claim's users the resize is done).
/// Only volumes this node provisioned are touched; the API server's resize admission has already
/// checked that the claim's StorageClass allows expansion.
async fn resize_volume(
    pvs: &Api<PersistentVolume>,
    client: &kube::Client,
    node: &str,
    claim: &PersistentVolumeClaim,
) -> Result<()> {
    let requested = storage_of(
        claim
            .spec
            .as_ref()
            .and_then(|s| s.resources.as_ref())
            .and_then(|r| r.requests.as_ref()),
    );
    let capacity = storage_of(claim.status.as_ref().and_then(|s| s.capacity.as_ref()));
    let (Some(requested), Some(capacity)) = (requested, capacity) else {
        return Ok(());
    };
    if requested == capacity {
        return Ok(());
    }
    let volume_name = claim
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.clone())
        .unwrap_or_default();
    let Some(volume) = pvs.get_opt(&volume_name).await? else {
        return Ok(());
    };
    if volume.labels().get(PROVISIONED_LABEL).map(String::as_str) != Some(node) {
        return Ok(());
    }
    let params = kube::api::PatchParams::default();
    let grow = serde_json::json!({"spec": {"capacity": {"storage": requested}}});
    pvs.patch(&volume_name, &params, &kube::api::Patch::Merge(&grow))
        .await?;
    let claims = Api::<PersistentVolumeClaim>::namespaced(
        client.clone(),
        &claim.namespace().unwrap_or_default(),
    );
    let done = serde_json::json!({
        "status": {"capacity": {"storage": requested}, "allocatedResources": {"storage": requested}}
    });
    claims
        .patch_status(&claim.name_any(), &params, &kube::api::Patch::Merge(&done))
        .await?;
    tracing::debug!(claim = %claim.name_any(), from = %capacity, to = %requested, "resized a volume");
    Ok(())
}

async fn reclaim(client: kube::Client, node: String, claims_dir: PathBuf) {
    let pvs_client = client.clone();
    let pvs: Api<PersistentVolume> = Api::all(client);
    let config = watcher::Config::default().labels(&format!("{PROVISIONED_LABEL}={node}"));
    let mut events = watcher(pvs.clone(), config)
        .default_backoff()
        .applied_objects()
        .boxed();
    while let Some(event) = events.next().await {
        let Ok(volume) = event else {
            continue;
        };
        let released = volume.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Released");
        if !released || volume.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let name = volume.name_any();
        match pvs.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(e) => {
                tracing::warn!("deleting released volume {name}: {e}");
                continue;
            }
        }
        // A claim recreated under the same name reuses the directory: keep it then.
        let claim = volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref());
        let reused = match claim.and_then(|c| Some((c.namespace.as_deref()?, c.name.as_deref()?))) {
            Some((namespace, claim_name)) => {
                Api::<PersistentVolumeClaim>::namespaced(pvs_client.clone(), namespace)
                    .get_opt(claim_name)
                    .await
                    .map_or(true, |found| found.is_some())
            }
            None => true,
        };
        if reused {
            continue;
        }
        match reclaimable_dir(&claims_dir, &volume) {
            Ok(Some(dir)) => {
                if let Err(e) = fs::remove_dir_all(&dir) {
                    tracing::warn!("removing {} of released volume {name}: {e}", dir.display());
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("keeping the directory of released volume {name}: {e:#}"),
        }
    }
}

/// The directory to delete with a released volume: its path annotation, when that is exactly
/// `<claims_dir>/<claim namespace>/<claim name>` and resolves to itself (no symlink on the
/// way). `None` when the volume names no directory (or it is gone already); an error naming
/// the path and what is allowed when it names another one.
fn reclaimable_dir(claims_dir: &Path, volume: &PersistentVolume) -> Result<Option<PathBuf>> {
    let Some(path) = volume.annotations().get(PATH_ANNOTATION) else {
        return Ok(None);
    };
    let claim = volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref());
    let Some((namespace, name)) =
        claim.and_then(|c| Some((c.namespace.as_deref()?, c.name.as_deref()?)))
    else {
        bail!("{path:?} is not deleted: the volume names no claim, and only claim directories are");
    };
    let single = |part: &str| {
        let mut components = Path::new(part).components();
        matches!(
            (components.next(), components.next()),
            (Some(std::path::Component::Normal(_)), None)
        )
    };
    if !single(namespace) || !single(name) {
        bail!("{path:?} is not deleted: the claim {namespace:?}/{name:?} is no directory name");
    }
    let expected = claims_dir.join(namespace).join(name);
    if Path::new(path) != expected {
        bail!(
            "{path:?} is not deleted: only the claim's own directory {} is",
            expected.display()
        );
    }
    if !expected.exists() {
        return Ok(None);
    }
    let resolved = crate::paths::confine(claims_dir, &expected)
        .with_context(|| format!("{path:?} is not deleted"))?;
    if resolved != expected {
        bail!(
            "{path:?} is not deleted: it resolves to {}, not to the claim directory {}",
            resolved.display(),
            expected.display()
        );
    }
    Ok(Some(resolved))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn volume(path: &Path, claim: Option<(&str, &str)>) -> PersistentVolume {
        PersistentVolume {
            metadata: ObjectMeta {
                name: Some("pvc-1".to_owned()),
                annotations: Some(BTreeMap::from([(
                    PATH_ANNOTATION.to_owned(),
                    path.display().to_string(),
                )])),
                ..ObjectMeta::default()
            },
            spec: Some(PersistentVolumeSpec {
                claim_ref: claim.map(|(namespace, name)| ObjectReference {
                    namespace: Some(namespace.to_owned()),
                    name: Some(name.to_owned()),
                    ..ObjectReference::default()
                }),
                ..PersistentVolumeSpec::default()
            }),
            status: None,
        }
    }

    fn refused(claims: &Path, volume: &PersistentVolume) -> String {
        match reclaimable_dir(claims, volume) {
            Ok(found) => panic!("{found:?} would be deleted"),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn only_the_claims_own_directory_inside_the_claims_directory_is_reclaimed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = fs::canonicalize(dir.path()).expect("canonical");
        let claims = base.join("claims");
        let own = claims.join("team/data");
        fs::create_dir_all(&own).expect("mkdir");
        let outside = base.join("outside");
        fs::create_dir(&outside).expect("mkdir");

        assert_eq!(
            reclaimable_dir(&claims, &volume(&own, Some(("team", "data")))).expect("own"),
            Some(own.clone())
        );
        let message = refused(&claims, &volume(Path::new("/etc"), Some(("team", "data"))));
        assert!(
            message.contains("\"/etc\" is not deleted")
                && message.contains(&own.display().to_string()),
            "{message}"
        );
        refused(&claims, &volume(&claims, Some(("team", "data"))));
        refused(
            &claims,
            &volume(&claims.join("team"), Some(("team", "data"))),
        );
        refused(&claims, &volume(&own, None));
        refused(&claims, &volume(&claims.join("x"), Some(("..", "x"))));
        refused(
            &claims,
            &volume(&claims.join("team/a/b"), Some(("team", "a/b"))),
        );

        // A claim directory swapped for a symlink leads elsewhere: kept.
        symlink(&outside, claims.join("team/link")).expect("symlink");
        let message = refused(
            &claims,
            &volume(&claims.join("team/link"), Some(("team", "link"))),
        );
        assert!(message.contains("outside"), "{message}");

        let gone = claims.join("team/gone");
        assert_eq!(
            reclaimable_dir(&claims, &volume(&gone, Some(("team", "gone")))).expect("gone"),
            None
        );
        let mut unannotated = volume(&own, Some(("team", "data")));
        unannotated.metadata.annotations = None;
        assert_eq!(
            reclaimable_dir(&claims, &unannotated).expect("no path"),
            None
        );
    }
}
