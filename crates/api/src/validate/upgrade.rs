//! `spec.upgrade` and the version guard: which changes of `spec.version` a running cluster
//! accepts. The version the pods run is `status.currentVersion`; a rollout in progress is
//! `status.upgrade`.

use super::ValidationErrors;
use super::rules;
use crate::spec::OpenBaoCluster;

/// The shortest `spec.upgrade.memberTimeout`: a pod needs this long to start and unseal.
const MIN_MEMBER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// `major.minor.patch` of a version `check_semver` accepted (`None` otherwise).
fn triple(version: &str) -> Option<(u64, u64, u64)> {
    let core = version.split_once('-').map_or(version, |(core, _)| core);
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

/// The version the cluster's pods run, and whether `spec.version` is the version a rollout in
/// progress comes from (a revert, always allowed).
fn running(cluster: &OpenBaoCluster) -> Option<(&str, bool)> {
    let status = cluster.status.as_ref()?;
    let current = status.current_version.as_deref()?;
    let reverting = status
        .upgrade
        .as_ref()
        .is_some_and(|u| u.from_version == cluster.spec.version);
    Some((current, reverting))
}

pub(super) fn validate_upgrade(cluster: &OpenBaoCluster, errs: &mut ValidationErrors) {
    if let Some(timeout) = cluster
        .spec
        .upgrade
        .as_ref()
        .and_then(|u| u.member_timeout.as_deref())
    {
        let path = "spec.upgrade.memberTimeout";
        match rules::parse_go_duration(timeout) {
            Err(why) => errs.add(
                path,
                timeout,
                format!("{why}; must be a duration of at least 10s, such as 5m or 10m"),
            ),
            Ok(d) if d < MIN_MEMBER_TIMEOUT => errs.add(
                path,
                timeout,
                "must be at least 10s: a replaced member needs that long to start and unseal",
            ),
            Ok(_) => {}
        }
    }
    if cluster
        .spec
        .upgrade
        .as_ref()
        .is_some_and(|u| u.pre_upgrade_snapshot == Some(true))
        && cluster.spec.backup.is_none()
    {
        errs.add(
            "spec.upgrade.preUpgradeSnapshot",
            "true",
            "needs spec.backup: the snapshot is taken by a backup Job to spec.backup.target",
        );
    }
    let Some((current, reverting)) = running(cluster) else {
        return;
    };
    let wanted = &cluster.spec.version;
    if let (Some(from), Some(to)) = (triple(current), triple(wanted))
        && (to.0, to.1) < (from.0, from.1)
        && !reverting
    {
        errs.add(
            "spec.version",
            wanted,
            format!(
                "a downgrade from {current} (the version the pods run) across a minor version is \
                 refused: a newer OpenBao may have changed its stored data, which an older one \
                 cannot read; stay on {}.{}.x, or restore a snapshot taken before the upgrade \
                 into a cluster of {wanted}",
                from.0, from.1
            ),
        );
    }
}

/// On update: no version change while an operation (a restore) holds the cluster's lock.
pub(super) fn validate_upgrade_update(
    old: &OpenBaoCluster,
    new: &OpenBaoCluster,
    errs: &mut ValidationErrors,
) {
    if old.spec.version == new.spec.version {
        return;
    }
    let lock = new
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(crate::names::ANNOTATION_OPERATION_LOCK));
    if let Some(lock) = lock {
        errs.add(
            "spec.version",
            &new.spec.version,
            format!(
                "cannot change while an operation holds the cluster's lock ({lock}); wait until \
                 it finished (status.operationLock disappears)"
            ),
        );
    }
}

/// A warning when `spec.version` skips more than one minor version from what the pods run.
pub(super) fn upgrade_warning(cluster: &OpenBaoCluster) -> Option<String> {
    let (current, _) = running(cluster)?;
    let (from, to) = (triple(current)?, triple(&cluster.spec.version)?);
    let skipped = from.0 == to.0 && to.1 > from.1 + 1;
    (skipped || to.0 > from.0).then(|| {
        format!(
            "spec.version: {} skips from {current} over at least one minor version; OpenBao \
             supports upgrades one minor version at a time best: read the release notes of \
             every version in between",
            cluster.spec.version
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(version: &str, current: Option<&str>, from: Option<&str>) -> OpenBaoCluster {
        let mut c: OpenBaoCluster = serde_json::from_value(serde_json::json!({
            "apiVersion": "openbao.org/v1alpha1", "kind": "OpenBaoCluster",
            "metadata": {"name": "bao", "namespace": "ns"},
            "spec": {"version": version}
        }))
        .expect("cluster");
        c.status = Some(crate::OpenBaoClusterStatus {
            current_version: current.map(str::to_string),
            upgrade: from.map(|f| crate::UpgradeProgress {
                from_version: f.to_string(),
                target_version: "x".into(),
                ..Default::default()
            }),
            ..Default::default()
        });
        c
    }

    fn errors(c: &OpenBaoCluster) -> String {
        let mut errs = ValidationErrors::default();
        validate_upgrade(c, &mut errs);
        errs.into_result()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn a_downgrade_across_a_minor_version_is_refused_naming_both_versions() {
        let message = errors(&cluster("2.6.2", Some("2.7.2"), None));
        assert!(
            message.contains("spec.version")
                && message.contains("2.7.2")
                && message.contains("2.6.2"),
            "{message}"
        );
        assert!(message.contains("downgrade"), "{message}");
        // Within the minor version, upgrades, first versions and reverts are fine.
        for allowed in [
            cluster("2.7.1", Some("2.7.2"), None),
            cluster("2.7.2", Some("2.6.2"), None),
            cluster("2.6.2", None, None),
            cluster("2.6.2", Some("2.6.2"), None),
        ] {
            assert_eq!(errors(&allowed), "", "{:?}", allowed.spec.version);
        }
        // Back to the version a rollout in progress came from: the revert of a paused upgrade.
        assert_eq!(errors(&cluster("2.6.2", Some("2.6.2"), Some("2.6.2"))), "");
        assert_eq!(errors(&cluster("2.6.2", Some("2.7.2"), Some("2.6.2"))), "");
    }

    #[test]
    fn a_member_timeout_must_be_a_duration_of_at_least_ten_seconds() {
        let mut c = cluster("2.7.2", None, None);
        for (value, ok) in [("5m", true), ("10s", true), ("5s", false), ("soon", false)] {
            c.spec.upgrade = Some(Box::new(crate::spec::UpgradeSpec {
                member_timeout: Some(value.into()),
                ..Default::default()
            }));
            let message = errors(&c);
            assert_eq!(message.is_empty(), ok, "{value}: {message}");
            if !ok {
                assert!(message.contains("spec.upgrade.memberTimeout") && message.contains(value));
            }
        }
    }

    #[test]
    fn skipping_a_minor_version_warns_and_a_version_change_under_a_lock_is_refused() {
        assert!(upgrade_warning(&cluster("2.8.0", Some("2.6.2"), None)).is_some());
        assert!(upgrade_warning(&cluster("2.7.2", Some("2.6.2"), None)).is_none());
        assert!(upgrade_warning(&cluster("2.7.2", None, None)).is_none());
        let old = cluster("2.6.2", Some("2.6.2"), None);
        let mut new = cluster("2.7.2", Some("2.6.2"), None);
        new.metadata.annotations = Some(
            [(
                crate::names::ANNOTATION_OPERATION_LOCK.to_string(),
                "Restore/r1".to_string(),
            )]
            .into(),
        );
        let mut errs = ValidationErrors::default();
        validate_upgrade_update(&old, &new, &mut errs);
        let message = errs
            .into_result()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            message.contains("Restore/r1") && message.contains("spec.version"),
            "{message}"
        );
    }
}
