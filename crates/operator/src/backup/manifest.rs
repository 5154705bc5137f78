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
    /// [`seal_fingerprint`] of the static seal the cluster was sealed with, when the operator
    /// knew it: a restore into a cluster with another key is refused (the restored data could
    /// not be unsealed after the next restart). Absent in manifests of other seals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal_fingerprint: Option<String>,
}

/// A one-way fingerprint of a static seal: the key's ID and its 32 bytes, hashed with a
/// domain prefix (SHA-256, first 16 bytes as hex). Equal fingerprints mean the same seal; the
/// key cannot be recovered from it (256 random bits stand behind 128 shown), so it may be
/// shown in Job arguments and manifests.
pub fn seal_fingerprint(key_id: &str, key: &[u8; 32]) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(b"openbao-operator static seal fingerprint v1\0");
    hash.update(key_id.as_bytes());
    hash.update([0]);
    hash.update(key);
    format!("static:{}", hex::encode(&hash.finalize()[..16]))
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

    #[test]
    fn a_seal_fingerprint_depends_on_the_key_and_its_id_and_never_shows_the_key() {
        let key = [7u8; 32];
        let print = seal_fingerprint("openbao-operator-1", &key);
        assert_eq!(print, seal_fingerprint("openbao-operator-1", &key));
        assert_ne!(print, seal_fingerprint("openbao-operator-1", &[8u8; 32]));
        assert_ne!(print, seal_fingerprint("other-id", &key));
        assert!(print.starts_with("static:") && print.len() == "static:".len() + 32);
        assert!(!print.contains(&hex::encode(key)));
    }

    #[test]
    fn a_manifest_without_a_seal_fingerprint_still_reads() {
        let old = r#"{"format":1,"key":"a/b.snap","size":1,"sha256":"00","started":"s","finished":"f","cluster":"ns/c"}"#;
        let manifest: Manifest = serde_json::from_str(old).expect("old manifest");
        assert_eq!(manifest.seal_fingerprint, None);
        assert!(
            !serde_json::to_string(&manifest)
                .expect("json")
                .contains("sealFingerprint")
        );
    }
}
