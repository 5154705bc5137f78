//! Raft snapshots in S3-compatible object storage: the data path of backups and restores.
//!
//! - [`store`] opens the bucket a `spec.backup.target` names, with the credentials Secret's keys
//!   (upstream's names: `accessKeyId`, `secretAccessKey`, `sessionToken`, `region`, `caCert`).
//! - [`snapshot`] streams `sys/storage/raft/snapshot` from OpenBao into a multipart upload while
//!   hashing it (constant memory: the parts in flight, never the snapshot), then writes the
//!   snapshot's manifest (size, SHA-256, times) next to it. The manifest is written last and is
//!   the commit marker: an object without one (an upload that was cut off) is never listed as a
//!   backup, counted by retention or restored. A restore reads the object twice: once to check
//!   size and digest against the manifest, then again, pinned to the same version (ETag), into
//!   OpenBao; nothing touches the cluster before the first read proved the snapshot whole.
//! - [`scheduler`] decides, purely, when a backup Job starts and what status records.
//! - [`retention`] decides which backups `maxCount` and `maxAge` drop (pure) and deletes them.

pub mod manifest;
pub mod retention;
pub mod schedule;
pub mod scheduler;
pub mod snapshot;
pub mod store;

pub use manifest::{Manifest, SnapshotKey};
pub use snapshot::{BackupError, Origin, restore, save, verify};
pub use store::{Credentials, open};
