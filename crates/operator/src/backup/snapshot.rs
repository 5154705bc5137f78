//! Streaming a Raft snapshot from OpenBao into object storage, checking one, and streaming one
//! back into OpenBao. Memory stays constant whatever the snapshot's size: a bounded pipe
//! between OpenBao's response and the upload, and at most [`MAX_PARTS_IN_FLIGHT`] parts of
//! `part_size` bytes buffered by the upload.

use std::sync::Arc;

use bao_client::{BaoClient, RestoreMode};
use futures::TryStreamExt;
use object_store::{
    GetOptions, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart, path::Path,
};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::io::AsyncReadExt;

use super::manifest::{FORMAT, Manifest, SnapshotKey, rfc3339};

/// Parts uploaded at once.
pub const MAX_PARTS_IN_FLIGHT: usize = 2;
/// The default part size (10 MiB, upstream's default).
pub const DEFAULT_PART_SIZE: usize = 10 * 1024 * 1024;
/// Bytes buffered between OpenBao's response and the hashing upload.
const PIPE_BYTES: usize = 1024 * 1024;
/// Bytes read at a time from the pipe.
const READ_BYTES: usize = 256 * 1024;

/// Why a backup or restore failed. Messages name the object and the step, never a credential.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// OpenBao refused or failed.
    #[error("OpenBao: {0}")]
    OpenBao(#[from] bao_client::Error),
    /// The object store refused or failed.
    #[error("object storage: cannot {action}: {source}")]
    Store {
        /// What was attempted.
        action: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },
    /// The credentials Secret is unusable.
    #[error("backup credentials: {reason}")]
    Credentials {
        /// What is wrong (never the value).
        reason: String,
    },
    /// A configuration this build cannot serve.
    #[error("not supported: {what}")]
    Unsupported {
        /// What.
        what: String,
    },
    /// The snapshot is not the one its manifest describes.
    #[error("snapshot {key} is not intact: {reason}")]
    Corrupt {
        /// The object.
        key: String,
        /// What differs.
        reason: String,
    },
    /// The snapshot was sealed with another static key than the cluster it would restore into.
    #[error(
        "snapshot {key} was taken from a cluster sealed with another unseal key (seal \
         fingerprint {snapshot}, this cluster's is {cluster}): restored, its data could not be \
         unsealed after the next restart. Restore it into a cluster created with the snapshot's \
         unseal key (docs/backup-restore.md, disaster recovery); nothing was changed"
    )]
    SealMismatch {
        /// The object.
        key: String,
        /// The snapshot's seal fingerprint.
        snapshot: String,
        /// The target cluster's.
        cluster: String,
    },
    /// Reading the snapshot stream failed.
    #[error("snapshot stream: {0}")]
    Io(#[from] std::io::Error),
}

/// Where a snapshot comes from, as its manifest records it.
#[derive(Clone, Copy, Debug)]
pub struct Origin<'a> {
    /// `<namespace>/<cluster>`.
    pub cluster: &'a str,
    /// The cluster's static seal fingerprint, when known.
    pub seal_fingerprint: Option<&'a str>,
}

fn store_error(action: impl Into<String>) -> impl FnOnce(object_store::Error) -> BackupError {
    let action = action.into();
    move |source| BackupError::Store { action, source }
}

/// Stream a snapshot from `bao` (which holds a token allowed to read
/// `sys/storage/raft/snapshot`) into `store` under `prefix`, then write its manifest. Returns
/// the manifest. On any failure the multipart upload is aborted and no manifest exists.
pub async fn save(
    bao: &BaoClient,
    store: Arc<dyn ObjectStore>,
    prefix: &Path,
    origin: Origin<'_>,
    part_size: usize,
) -> Result<Manifest, BackupError> {
    let started = OffsetDateTime::now_utc();
    let key = SnapshotKey::at(prefix, started);
    let upload = store
        .put_multipart(&key.0)
        .await
        .map_err(store_error(format!("start the upload of {}", key.0)))?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, part_size);
    let (mut into_pipe, mut from_pipe) = tokio::io::duplex(PIPE_BYTES);
    let download = async move {
        let saved = bao.save_snapshot(&mut into_pipe).await;
        // Closing the pipe ends the reader's loop.
        drop(into_pipe);
        saved
    };
    let upload = async {
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let mut buffer = vec![0u8; READ_BYTES];
        loop {
            let n = from_pipe.read(&mut buffer).await?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            writer
                .wait_for_capacity(MAX_PARTS_IN_FLIGHT)
                .await
                .map_err(store_error(format!("upload a part of {}", key.0)))?;
            writer.write(&buffer[..n]);
            size += n as u64;
        }
        Ok::<_, BackupError>((hex::encode(hasher.finalize()), size))
    };
    let (saved, uploaded) = tokio::join!(download, upload);
    let (sha256, size) = match (saved, uploaded) {
        (Ok(saved), Ok((sha256, size))) if saved == size => (sha256, size),
        (saved, uploaded) => {
            // Nothing half-written stays behind as an object; the abort's own failure is
            // secondary to the cause.
            let _ = writer.abort().await;
            return Err(match (saved, uploaded) {
                (Err(e), _) => e.into(),
                (_, Err(e)) => e,
                (Ok(saved), Ok((_, size))) => BackupError::Corrupt {
                    key: key.0.to_string(),
                    reason: format!("OpenBao sent {saved} bytes but {size} were uploaded"),
                },
            });
        }
    };
    writer
        .finish()
        .await
        .map_err(store_error(format!("complete the upload of {}", key.0)))?;
    let written = store
        .head(&key.0)
        .await
        .map_err(store_error(format!("read back {}", key.0)))?;
    if written.size != size {
        return Err(BackupError::Corrupt {
            key: key.0.to_string(),
            reason: format!(
                "the store holds {} bytes, {size} were uploaded",
                written.size
            ),
        });
    }
    let manifest = Manifest {
        format: FORMAT,
        key: key.0.to_string(),
        size,
        sha256,
        started: rfc3339(started),
        finished: rfc3339(OffsetDateTime::now_utc()),
        cluster: origin.cluster.to_string(),
        seal_fingerprint: origin.seal_fingerprint.map(str::to_string),
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
    store
        .put(&key.manifest(), PutPayload::from(json))
        .await
        .map_err(store_error(format!("write the manifest of {}", key.0)))?;
    Ok(manifest)
}

/// The manifest of snapshot `key`.
pub async fn manifest(store: &dyn ObjectStore, key: &SnapshotKey) -> Result<Manifest, BackupError> {
    let bytes = store
        .get(&key.manifest())
        .await
        .map_err(store_error(format!("read the manifest of {}", key.0)))?
        .bytes()
        .await
        .map_err(store_error(format!("read the manifest of {}", key.0)))?;
    serde_json::from_slice(&bytes).map_err(|e| BackupError::Corrupt {
        key: key.0.to_string(),
        reason: format!("its manifest is not valid: {e}"),
    })
}

/// A snapshot whose bytes match its manifest, and the version (ETag) that was checked.
#[derive(Clone, Debug)]
pub struct Verified {
    /// The manifest.
    pub manifest: Manifest,
    /// The checked version of the object.
    pub etag: Option<String>,
}

/// Read snapshot `key` whole (streamed) and check its size and SHA-256 against its manifest.
pub async fn verify(store: &dyn ObjectStore, key: &SnapshotKey) -> Result<Verified, BackupError> {
    let manifest = manifest(store, key).await?;
    let corrupt = |reason: String| BackupError::Corrupt {
        key: key.0.to_string(),
        reason,
    };
    let object = store
        .get(&key.0)
        .await
        .map_err(store_error(format!("read {}", key.0)))?;
    let etag = object.meta.e_tag.clone();
    if object.meta.size != manifest.size {
        return Err(corrupt(format!(
            "its size is {} bytes, the manifest says {}",
            object.meta.size, manifest.size
        )));
    }
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut stream = object.into_stream();
    while let Some(chunk) = stream
        .try_next()
        .await
        .map_err(store_error(format!("read {}", key.0)))?
    {
        hasher.update(&chunk);
        size += chunk.len() as u64;
    }
    let sha256 = hex::encode(hasher.finalize());
    if size != manifest.size || sha256 != manifest.sha256 {
        return Err(corrupt(format!(
            "it reads as {size} bytes with SHA-256 {sha256}, the manifest says {} bytes with {}",
            manifest.size, manifest.sha256
        )));
    }
    Ok(Verified { manifest, etag })
}

/// What a restore requires of the snapshot beyond its own manifest (an OpenBaoRestore's
/// `expectedDigest` and `expectedSize`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expected {
    /// Lower-case hex SHA-256.
    pub sha256: Option<String>,
    /// Size in bytes.
    pub size: Option<u64>,
    /// The target cluster's static seal fingerprint: a snapshot that records another one is
    /// refused (one that records none, from another seal type or an older operator, is not).
    pub seal_fingerprint: Option<String>,
}

impl Expected {
    /// Refuse `manifest` (already verified against the object) when it is not what is expected.
    pub fn check(&self, key: &SnapshotKey, manifest: &Manifest) -> Result<(), BackupError> {
        let corrupt = |reason: String| BackupError::Corrupt {
            key: key.0.to_string(),
            reason,
        };
        if let Some(sha256) = &self.sha256
            && !sha256.eq_ignore_ascii_case(&manifest.sha256)
        {
            return Err(corrupt(format!(
                "its SHA-256 is {}, the restore expects {sha256}",
                manifest.sha256
            )));
        }
        if let Some(size) = self.size
            && size != manifest.size
        {
            return Err(corrupt(format!(
                "it holds {} bytes, the restore expects {size}",
                manifest.size
            )));
        }
        if let (Some(cluster), Some(snapshot)) =
            (&self.seal_fingerprint, &manifest.seal_fingerprint)
            && cluster != snapshot
        {
            return Err(BackupError::SealMismatch {
                key: key.0.to_string(),
                snapshot: snapshot.clone(),
                cluster: cluster.clone(),
            });
        }
        Ok(())
    }
}

/// Restore snapshot `key` into `bao` (a token allowed to write the snapshot endpoint): verify
/// it first, then stream the same version into OpenBao. `force` restores a snapshot of another
/// cluster (`snapshot-force`), which must be readable with this cluster's seal.
pub async fn restore(
    bao: &BaoClient,
    store: &dyn ObjectStore,
    key: &SnapshotKey,
    force: bool,
    expected: &Expected,
) -> Result<Manifest, BackupError> {
    let verified = verify(store, key).await?;
    expected.check(key, &verified.manifest)?;
    let options = GetOptions {
        if_match: verified.etag.clone(),
        ..GetOptions::default()
    };
    let object = store
        .get_opts(&key.0, options)
        .await
        .map_err(store_error(format!(
            "read {} again at the version that was checked",
            key.0
        )))?;
    let reader =
        tokio_util::io::StreamReader::new(object.into_stream().map_err(std::io::Error::other));
    let mode = if force {
        RestoreMode::Force
    } else {
        RestoreMode::SameCluster
    };
    bao.restore_snapshot(reader, mode).await?;
    Ok(verified.manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(seal: Option<&str>) -> Manifest {
        Manifest {
            format: FORMAT,
            key: "ns/bao/20261203T060000Z.snap".into(),
            size: 10,
            sha256: "ab".repeat(32),
            started: "s".into(),
            finished: "f".into(),
            cluster: "ns/bao".into(),
            seal_fingerprint: seal.map(str::to_string),
        }
    }

    #[test]
    fn a_snapshot_sealed_with_another_key_is_refused_and_one_without_a_fingerprint_is_not() {
        let key = SnapshotKey(Path::from("ns/bao/20261203T060000Z.snap"));
        let expected = Expected {
            seal_fingerprint: Some("static:aa".into()),
            ..Expected::default()
        };
        assert!(expected.check(&key, &manifest(Some("static:aa"))).is_ok());
        assert!(expected.check(&key, &manifest(None)).is_ok());
        assert!(
            Expected::default()
                .check(&key, &manifest(Some("static:bb")))
                .is_ok()
        );
        let refused = expected
            .check(&key, &manifest(Some("static:bb")))
            .expect_err("another seal");
        let message = refused.to_string();
        assert!(matches!(refused, BackupError::SealMismatch { .. }));
        for part in [
            "static:bb",
            "static:aa",
            "another unseal key",
            "nothing was changed",
        ] {
            assert!(message.contains(part), "{part} in {message}");
        }
    }
}
