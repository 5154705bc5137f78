//! Snapshot object names and their manifests. A backup is the pair
//! `<prefix>/<UTC time>.snap` and `<prefix>/<UTC time>.snap.json`; the time sorts
//! lexicographically, so listing order is age order.

use object_store::path::Path;
use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

/// Suffix of snapshot objects.
pub const SNAPSHOT_SUFFIX: &str = ".snap";
/// Suffix of manifests (appended to the snapshot's name).
pub const MANIFEST_SUFFIX: &str = ".json";
/// Version of the manifest format.
pub const FORMAT: u32 = 1;

/// What a backup recorded about its snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Format version ([`FORMAT`]).
    pub format: u32,
    /// Object key of the snapshot.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of the snapshot.
    pub sha256: String,
    /// When the snapshot was requested (RFC 3339).
    pub started: String,
    /// When the upload completed (RFC 3339).
    pub finished: String,
    /// `<namespace>/<cluster>` the snapshot was taken from.
    pub cluster: String,
}

/// The key of a snapshot taken at `at` under `prefix`: `<prefix>/<YYYYMMDDTHHMMSSZ>.snap`
/// (seconds, UTC: one backup per second at most, which one-at-a-time Jobs never reach).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SnapshotKey(pub Path);

impl SnapshotKey {
    /// The snapshot key for time `at` under `prefix`.
    pub fn at(prefix: &Path, at: OffsetDateTime) -> Self {
        let at = at.to_offset(time::UtcOffset::UTC);
        let name = format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z{SNAPSHOT_SUFFIX}",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second()
        );
        Self(prefix.clone().join(name.as_str()))
    }

    /// Its manifest's key.
    pub fn manifest(&self) -> Path {
        Path::from(format!("{}{MANIFEST_SUFFIX}", self.0))
    }

    /// The snapshot a manifest key belongs to, if it is one.
    pub fn of_manifest(manifest: &Path) -> Option<Self> {
        let text = manifest.as_ref();
        text.strip_suffix(MANIFEST_SUFFIX)
            .filter(|s| s.ends_with(SNAPSHOT_SUFFIX))
            .map(|s| Self(Path::from(s)))
    }
}

/// `t` as RFC 3339 (UTC).
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// An RFC 3339 time.
pub fn parse_rfc3339(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_time_and_a_manifest_names_its_snapshot() {
        let prefix = Path::from("prod/openbao/bao");
        let at = |unix| OffsetDateTime::from_unix_timestamp(unix).expect("time");
        // 2026-12-02T09:05:07Z and eight days later.
        let early = SnapshotKey::at(&prefix, at(1_796_202_307));
        let late = SnapshotKey::at(&prefix, at(1_796_202_307 + 8 * 86_400));
        assert_eq!(early.0.as_ref(), "prod/openbao/bao/20261202T090507Z.snap");
        assert!(early < late);
        assert_eq!(
            early.manifest().as_ref(),
            "prod/openbao/bao/20261202T090507Z.snap.json"
        );
        assert_eq!(SnapshotKey::of_manifest(&early.manifest()), Some(early));
        assert_eq!(SnapshotKey::of_manifest(&Path::from("x/other.json")), None);
    }
}
