//! `spec.backup.retention`: which backups to delete (pure), and deleting them. Only complete
//! backups (a snapshot with its manifest) are counted; the newest is never deleted.

use std::time::Duration;

use futures::TryStreamExt;
use object_store::{ObjectStore, ObjectStoreExt, path::Path};
use time::OffsetDateTime;

use super::{
    BackupError,
    manifest::{SnapshotKey, parse_rfc3339},
    snapshot::manifest,
};

/// How many backups to keep, and for how long.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Keep at most this many (the newest).
    pub max_count: Option<usize>,
    /// Delete backups older than this.
    pub max_age: Option<Duration>,
}

/// The backups (newest last, each with its finish time) that `policy` drops at `now`. The
/// newest backup is always kept, whatever its age.
pub fn expired(
    backups: &[(SnapshotKey, OffsetDateTime)],
    policy: Policy,
    now: OffsetDateTime,
) -> Vec<SnapshotKey> {
    let Some(newest) = backups.len().checked_sub(1) else {
        return Vec::new();
    };
    let beyond_count = policy.max_count.map_or(0, |keep| {
        newest.saturating_add(1).saturating_sub(keep.max(1))
    });
    backups
        .iter()
        .enumerate()
        .filter(|(i, (_, finished))| {
            *i != newest
                && (*i < beyond_count
                    || policy.max_age.is_some_and(|age| {
                        now - *finished
                            > time::Duration::try_from(age).unwrap_or(time::Duration::MAX)
                    }))
        })
        .map(|(_, (key, _))| key.clone())
        .collect()
}

/// The complete backups under `prefix`, oldest first.
pub async fn list(
    store: &dyn ObjectStore,
    prefix: &Path,
) -> Result<Vec<(SnapshotKey, OffsetDateTime)>, BackupError> {
    let objects: Vec<_> = store
        .list(Some(prefix))
        .try_collect()
        .await
        .map_err(|source| BackupError::Store {
            action: format!("list {prefix}"),
            source,
        })?;
    let mut backups = Vec::new();
    for object in objects {
        let Some(key) = SnapshotKey::of_manifest(&object.location) else {
            continue;
        };
        let manifest = manifest(store, &key).await?;
        let finished = parse_rfc3339(&manifest.finished)
            .or_else(|| OffsetDateTime::from_unix_timestamp(object.last_modified.timestamp()).ok())
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        backups.push((key, finished));
    }
    backups.sort();
    Ok(backups)
}

/// Delete what `policy` drops under `prefix`: the manifest first (from then on the backup no
/// longer exists for anyone), then the snapshot. Returns the deleted keys.
pub async fn apply(
    store: &dyn ObjectStore,
    prefix: &Path,
    policy: Policy,
    now: OffsetDateTime,
) -> Result<Vec<SnapshotKey>, BackupError> {
    let drop = expired(&list(store, prefix).await?, policy, now);
    for key in &drop {
        for path in [key.manifest(), key.0.clone()] {
            store
                .delete(&path)
                .await
                .map_err(|source| BackupError::Store {
                    action: format!("delete {path}"),
                    source,
                })?;
        }
    }
    Ok(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backups(days_ago: &[i64], now: OffsetDateTime) -> Vec<(SnapshotKey, OffsetDateTime)> {
        let prefix = Path::from("p");
        days_ago
            .iter()
            .map(|d| {
                let at = now - time::Duration::days(*d);
                (SnapshotKey::at(&prefix, at), at)
            })
            .collect()
    }

    #[test]
    fn max_count_keeps_the_newest_and_max_age_drops_the_old_but_never_the_last() {
        let now = OffsetDateTime::from_unix_timestamp(1_796_202_307).expect("now");
        let all = backups(&[9, 5, 3, 1, 0], now);
        let by_count = expired(
            &all,
            Policy {
                max_count: Some(2),
                max_age: None,
            },
            now,
        );
        assert_eq!(
            by_count,
            all[..3].iter().map(|b| b.0.clone()).collect::<Vec<_>>()
        );
        let by_age = expired(
            &all,
            Policy {
                max_count: None,
                max_age: Some(Duration::from_secs(4 * 86_400)),
            },
            now,
        );
        assert_eq!(
            by_age,
            all[..2].iter().map(|b| b.0.clone()).collect::<Vec<_>>()
        );
        let only_old = backups(&[30], now);
        assert!(
            expired(
                &only_old,
                Policy {
                    max_count: Some(0),
                    max_age: Some(Duration::from_secs(1))
                },
                now
            )
            .is_empty(),
            "the newest backup is kept whatever the policy"
        );
        assert!(expired(&[], Policy::default(), now).is_empty());
        assert!(expired(&all, Policy::default(), now).is_empty());
    }
}
