//! `spec.storage`: the volume size and StorageClass, which cannot change after creation.

use super::ValidationErrors;
use super::checks::check_subdomain;
use super::rules;
use crate::spec::{OpenBaoCluster, StorageSpec};

pub(super) fn validate_storage(storage: &StorageSpec, errs: &mut ValidationErrors) {
    const MI: u64 = 1 << 20;
    let path = "spec.storage.size";
    let size = &storage.size;
    match rules::parse_quantity(size) {
        Err(why) => errs.add(
            path,
            size,
            format!("{why}; must be a Kubernetes quantity such as 10Gi, 500Mi or 1e9"),
        ),
        Ok(q) if q.negative || q.zero => {
            errs.add(path, size, "must be greater than zero, such as 10Gi")
        }
        Ok(q) if q.ceil_units < MI => errs.add(
            path,
            size,
            "must be at least 1Mi: each pod's volume holds the Raft log and snapshots (10Gi is \
             the default)",
        ),
        Ok(_) => {}
    }
    if let Some(class) = &storage.storage_class_name {
        check_subdomain(
            errs,
            "spec.storage.storageClassName",
            class,
            "a StorageClass name",
        );
    }
}

/// `spec.storage.storageClassName` cannot change after creation; `spec.storage.size` may grow
/// (the operator expands each member's claim when the StorageClass allows it) but never shrink.
pub(super) fn validate_storage_update(
    old: &OpenBaoCluster,
    new: &OpenBaoCluster,
    errs: &mut ValidationErrors,
) {
    let (old_size, new_size) = (&old.spec.storage.size, &new.spec.storage.size);
    if let (Ok(before), Ok(after)) = (
        rules::parse_quantity(old_size),
        rules::parse_quantity(new_size),
    ) && after.ceil_units < before.ceil_units
    {
        errs.add(
            "spec.storage.size",
            new_size,
            format!(
                "cannot shrink (it was {old_size}): a PersistentVolumeClaim never gets \
                 smaller; keep {old_size} or a larger size"
            ),
        );
    }
    let (old_class, new_class) = (
        &old.spec.storage.storage_class_name,
        &new.spec.storage.storage_class_name,
    );
    if old_class != new_class {
        let shown = |c: &Option<String>| match c {
            Some(c) => format!("{c:?}"),
            None => "unset (the cluster default)".to_string(),
        };
        errs.add(
            "spec.storage.storageClassName",
            new_class.as_deref().unwrap_or(""),
            format!(
                "is immutable (it was {}): a StatefulSet's volumeClaimTemplates cannot change \
                 and existing PersistentVolumeClaims keep their class; to move the data, create \
                 a new cluster and restore a snapshot",
                shown(old_class)
            ),
        );
    }
}
