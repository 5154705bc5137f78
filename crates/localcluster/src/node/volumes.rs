//! A pod's volumes as directories on the node, ready to be bind-mounted into its containers.
//!
//! - `configMap`, `secret`, `downwardAPI` and `projected` (ServiceAccount tokens included) are
//!   written like the kubelet's atomic writer: the files live in a timestamped `..<time>`
//!   directory, `..data` points at it, and each top-level entry is a symlink through `..data`.
//!   An update writes a new directory and swaps `..data` with one rename, so a process that
//!   watches the files (OpenBao reloading its TLS certificate) never sees half an update. They
//!   are re-synced every few seconds, and tokens are re-minted at 80 % of their lifetime.
//! - `emptyDir` is a directory in the pod's directory (`medium: Memory` too: plain disk here).
//! - `persistentVolumeClaim` resolves claim → PersistentVolume → its `hostPath`/`local` path
//!   (the node's provisioner, `storage`, creates those per claim).
//! - `hostPath` is a path of the node.
//!
//! The node runs as root, so a `hostPath` volume and a PersistentVolume's path are used only
//! when they resolve, symlinks followed, inside the node's directory `<run>/node`
//! ([`crate::paths::confine`]); anything else (`/`, `/etc`, `..`, a symlink planted in a
//! claim) fails the volume with a message naming the path and what is allowed. Nothing in
//! this repository mounts host paths elsewhere, so there is no allow-list to widen it.
//!
//! With `fsGroup`, ownership follows the kubelet's rule: group `fsGroup`, group-readable
//! (read-only volumes) or group-writable, setgid directories.
//!
//! # Modes of Secret values and tokens (a deliberate deviation)
//!
//! The kubelet writes Secret keys with the volume's `defaultMode`, 0644 unless set. Here pods
//! are processes of real host users, and the review of this node asked for owner-only files:
//! Secret keys (of `secret` volumes and projected `secret` sources) the pod leaves at the
//! default mode are written 0600, owned by the one user all its containers run as, and 0640
//! group `fsGroup` when it has one ([`Readers::secret`]). The API server fills in
//! `defaultMode: 0644` whenever a pod sets none, so 0644 is read as "not set": an explicit
//! 0644 is tightened too. Any other `defaultMode`, and every item's own `mode`, is honoured.
//! ServiceAccount tokens follow the kubelet's own rule (0600 with one user or `fsGroup`,
//! whatever `defaultMode` says, [`Readers::token`]). When the containers run as different
//! users and there is no `fsGroup`, no owner-only mode lets all of them read the file, and
//! 0644 stays (as in Kubernetes). Containers without `runAsUser` run as root on this node, so
//! they count as uid 0.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    io::Write,
    os::unix::fs::{OpenOptionsExt, PermissionsExt, lchown, symlink},
    path::{Component, Path, PathBuf},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, Result, bail};
use k8s_openapi::{
    ByteString,
    api::{
        authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec},
        core::v1::{
            ConfigMap, DownwardAPIVolumeFile, HostPathVolumeSource, KeyToPath, PersistentVolume,
            PersistentVolumeClaim, PersistentVolumeSpec, Pod, Secret, SecretVolumeSource,
            ServiceAccount, Volume,
        },
    },
};
use kube::{Api, api::PostParams};
use tokio::time::Instant;

use super::env::{self, Addresses};
use crate::paths;

/// Mode of files without an explicit one (`defaultMode`'s default, 0644). The API server
/// writes it into every configMap, secret, downwardAPI and projected volume that sets none.
const DEFAULT_MODE: u32 = 0o644;
/// Secret values and tokens whose pod leaves the mode at the default (see the module docs).
const SECRET_MODE: u32 = 0o600;
/// The ServiceAccount token lifetime when a projection names none.
const DEFAULT_TOKEN_SECONDS: i64 = 3600;

/// The files of one atomic volume: relative path → (content, mode, owner uid).
pub(crate) type Files = BTreeMap<String, File>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct File {
    pub data: Vec<u8>,
    pub mode: u32,
    pub uid: Option<u32>,
}

/// Where a volume lives on the node, and whether it is always mounted read-only.
#[derive(Clone, Debug)]
pub(crate) struct Prepared {
    pub path: PathBuf,
    pub read_only: bool,
}

struct Minted {
    token: String,
    refresh_at: Instant,
}

/// The volumes of one pod.
pub(crate) struct PodVolumes {
    dir: PathBuf,
    /// Where hostPath and PersistentVolume paths must lead.
    node_dir: PathBuf,
    prepared: BTreeMap<String, Prepared>,
    tokens: BTreeMap<(String, Option<String>, i64), Minted>,
}

impl PodVolumes {
    pub fn new(dir: PathBuf, node_dir: PathBuf) -> Self {
        Self {
            dir,
            node_dir,
            prepared: BTreeMap::new(),
            tokens: BTreeMap::new(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&Prepared> {
        self.prepared.get(name)
    }

    /// Prepares every volume not prepared yet and re-syncs the atomic ones. `Err` is a
    /// message for the pod (a missing Secret, an unbound claim, an unsupported type).
    pub async fn sync(
        &mut self,
        client: &kube::Client,
        pod: &Pod,
        addresses: &Addresses,
        image_uid: &(dyn Fn(&str) -> Option<i64> + Sync),
    ) -> Result<(), String> {
        let Some(spec) = &pod.spec else {
            return Ok(());
        };
        let readers = Readers::of(pod, image_uid);
        for volume in spec.volumes.iter().flatten() {
            self.sync_one(client, pod, volume, readers, addresses)
                .await
                .map_err(|e| format!("volume {:?}: {e:#}", volume.name))?;
        }
        Ok(())
    }

    async fn sync_one(
        &mut self,
        client: &kube::Client,
        pod: &Pod,
        volume: &Volume,
        readers: Readers,
        addresses: &Addresses,
    ) -> Result<()> {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let fs_group = readers.fs_group;
        let dir = self.dir.join(&volume.name);
        if let Some(files) = self
            .atomic_files(client, pod, volume, readers, addresses)
            .await?
        {
            fs::create_dir_all(&dir)?;
            write_atomic(&dir, &files, fs_group)?;
            self.prepared.insert(
                volume.name.clone(),
                Prepared {
                    path: dir,
                    read_only: true,
                },
            );
            return Ok(());
        }
        if self.prepared.contains_key(&volume.name) {
            return Ok(());
        }
        let prepared = if let Some(empty) = &volume.empty_dir {
            fs::create_dir_all(&dir)?;
            let mode = empty
                .mode
                .and_then(|m| u32::try_from(m).ok())
                .unwrap_or(0o777);
            fs::set_permissions(&dir, fs::Permissions::from_mode(mode))?;
            if let Some(gid) = fs_group {
                apply_fs_group(&dir, gid, false)?;
            }
            Prepared {
                path: dir,
                read_only: false,
            }
        } else if let Some(claim) = &volume.persistent_volume_claim {
            let path = claim_path(client, &namespace, &claim.claim_name, &self.node_dir).await?;
            if let Some(gid) = fs_group {
                apply_fs_group(&path, gid, false)?;
            }
            Prepared {
                path,
                read_only: claim.read_only == Some(true),
            }
        } else if let Some(host) = &volume.host_path {
            Prepared {
                path: host_path(&self.node_dir, host)?,
                read_only: false,
            }
        } else {
            bail!(
                "unsupported volume type (the localcluster node supports configMap, secret, \
                 projected, downwardAPI, emptyDir, persistentVolumeClaim and hostPath)"
            );
        };
        self.prepared.insert(volume.name.clone(), prepared);
        Ok(())
    }

    /// The files of a configMap/secret/downwardAPI/projected volume; `None` for other types.
    async fn atomic_files(
        &mut self,
        client: &kube::Client,
        pod: &Pod,
        volume: &Volume,
        readers: Readers,
        addresses: &Addresses,
    ) -> Result<Option<Files>> {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        if let Some(source) = &volume.config_map {
            let defaults = Defaults::plain(mode(source.default_mode), user(source.default_user));
            let entries = config_map_entries(client, &namespace, &source.name).await?;
            return project(
                entries,
                source.items.as_deref(),
                defaults,
                source.optional == Some(true),
                &format!("configmap {:?}", source.name),
            )
            .map(Some);
        }
        if let Some(source) = &volume.secret {
            let name = source.secret_name.clone().unwrap_or_default();
            let entries = secret_entries(client, &namespace, &name).await?;
            return secret_files(entries, source, readers).map(Some);
        }
        if let Some(source) = &volume.downward_api {
            let defaults = Defaults::plain(mode(source.default_mode), user(source.default_user));
            return downward_files(pod, source.items.as_deref(), defaults, addresses).map(Some);
        }
        let Some(projected) = &volume.projected else {
            return Ok(None);
        };
        let (default_mode, default_user) =
            (mode(projected.default_mode), user(projected.default_user));
        let defaults = Defaults::plain(default_mode, default_user);
        let mut files = Files::new();
        for source in projected.sources.iter().flatten() {
            if let Some(cm) = &source.config_map {
                let entries = config_map_entries(client, &namespace, &cm.name).await?;
                files.extend(project(
                    entries,
                    cm.items.as_deref(),
                    defaults,
                    cm.optional == Some(true),
                    &format!("configmap {:?}", cm.name),
                )?);
            } else if let Some(secret) = &source.secret {
                let entries = secret_entries(client, &namespace, &secret.name).await?;
                files.extend(project(
                    entries,
                    secret.items.as_deref(),
                    readers.secret(default_mode, default_user),
                    secret.optional == Some(true),
                    &format!("secret {:?}", secret.name),
                )?);
            } else if let Some(downward) = &source.downward_api {
                files.extend(downward_files(
                    pod,
                    downward.items.as_deref(),
                    defaults,
                    addresses,
                )?);
            } else if let Some(token) = &source.service_account_token {
                let expiration = token.expiration_seconds.unwrap_or(DEFAULT_TOKEN_SECONDS);
                let minted = self
                    .token(client, pod, token.audience.clone(), expiration)
                    .await?;
                let (mode, uid) = readers.token(default_mode, user(token.user).or(default_user));
                files.insert(
                    checked_path(&token.path)?,
                    File {
                        // Never a trailing newline: Go's HTTP client rejects such a header.
                        data: minted.into_bytes(),
                        mode,
                        uid,
                    },
                );
            } else {
                bail!(
                    "unsupported projected source (the localcluster node supports configMap, \
                     secret, downwardAPI and serviceAccountToken)"
                );
            }
        }
        Ok(Some(files))
    }

    /// A token for the pod's ServiceAccount bound to the pod (like the kubelet's), re-minted
    /// once 80 % of its lifetime has passed.
    async fn token(
        &mut self,
        client: &kube::Client,
        pod: &Pod,
        audience: Option<String>,
        expiration: i64,
    ) -> Result<String> {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let account = pod
            .spec
            .as_ref()
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_else(|| "default".to_owned());
        let key = (account.clone(), audience.clone(), expiration);
        if let Some(minted) = self.tokens.get(&key)
            && Instant::now() < minted.refresh_at
        {
            return Ok(minted.token.clone());
        }
        let request = TokenRequest {
            spec: Some(TokenRequestSpec {
                audiences: audience.map(|a| vec![a]),
                expiration_seconds: Some(expiration),
                bound_object_ref: Some(BoundObjectReference {
                    api_version: Some("v1".to_owned()),
                    kind: Some("Pod".to_owned()),
                    name: pod.metadata.name.clone(),
                    uid: pod.metadata.uid.clone(),
                }),
                ..TokenRequestSpec::default()
            }),
            ..TokenRequest::default()
        };
        let response = Api::<ServiceAccount>::namespaced(client.clone(), &namespace)
            .create_token_request(&account, &PostParams::default(), &request)
            .await
            .with_context(|| format!("minting a token for ServiceAccount {namespace}/{account}"))?;
        let status = response
            .status
            .context("the TokenRequest returned no status")?;
        let token = status
            .token
            .filter(|t| !t.is_empty())
            .context("the TokenRequest returned no token")?;
        let lifetime = status
            .expiration_timestamp
            .map(|t| t.0.duration_since(k8s_openapi::jiff::Timestamp::now()))
            .unwrap_or_default();
        let lifetime = Duration::try_from(lifetime)
            .unwrap_or_default()
            .min(Duration::from_secs(24 * 3600));
        self.tokens.insert(
            key,
            Minted {
                token: token.clone(),
                refresh_at: Instant::now() + lifetime.mul_f64(0.8),
            },
        );
        Ok(token)
    }
}

/// The host path behind a bound claim (see [`volume_path`]).
async fn claim_path(
    client: &kube::Client,
    namespace: &str,
    claim: &str,
    node_dir: &Path,
) -> Result<PathBuf> {
    let pvc = Api::<PersistentVolumeClaim>::namespaced(client.clone(), namespace)
        .get_opt(claim)
        .await?
        .with_context(|| format!("persistentvolumeclaim {claim:?} not found"))?;
    let volume = pvc
        .spec
        .and_then(|s| s.volume_name)
        .filter(|v| !v.is_empty())
        .with_context(|| format!("persistentvolumeclaim {claim:?} is not bound yet"))?;
    let pv = Api::<PersistentVolume>::all(client.clone())
        .get(&volume)
        .await
        .with_context(|| format!("reading persistentvolume {volume}"))?;
    volume_path(node_dir, &volume, pv.spec.unwrap_or_default())
}

/// The directory of PersistentVolume `volume`: its `hostPath` or `local` path, when that leads
/// inside `node_dir` (created if missing; the canonical path is returned for the mount).
fn volume_path(node_dir: &Path, volume: &str, spec: PersistentVolumeSpec) -> Result<PathBuf> {
    let path = spec
        .host_path
        .map(|h| h.path)
        .or_else(|| spec.local.map(|l| l.path))
        .with_context(|| {
            format!("persistentvolume {volume} is neither hostPath nor local, which is all the node mounts")
        })?;
    let confined = || {
        paths::confine(node_dir, Path::new(&path))
            .with_context(|| format!("persistentvolume {volume} has path {path:?}"))
    };
    let dir = confined()?;
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    // Again after creating: a symlink swapped in meanwhile is refused here, not mounted.
    confined()
}

/// A `hostPath` volume's path, when it leads inside `node_dir`, created as its type asks.
fn host_path(node_dir: &Path, host: &HostPathVolumeSource) -> Result<PathBuf> {
    let confined = || {
        paths::confine(node_dir, Path::new(&host.path))
            .with_context(|| format!("hostPath {:?} is refused", host.path))
    };
    let path = confined()?;
    match host.type_.as_deref() {
        Some("DirectoryOrCreate") => {
            fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        }
        Some("FileOrCreate") => {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .with_context(|| format!("creating {}", path.display()))?;
        }
        _ if !path.exists() => bail!("hostPath {} does not exist", path.display()),
        _ => {}
    }
    confined()
}

fn mode(mode: Option<i32>) -> Option<u32> {
    mode.and_then(|m| u32::try_from(m).ok())
}

fn user(user: Option<i64>) -> Option<u32> {
    user.and_then(|u| u32::try_from(u).ok())
}

/// Who must be able to read a pod's volume files: its `fsGroup`, and the one user all its
/// containers (init containers included) run as, `None` when they differ. A container without
/// `runAsUser` runs as its image's user (`image_uid`, for images of the node's store) or root.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Readers {
    pub fs_group: Option<u32>,
    pub fs_user: Option<u32>,
}

impl Readers {
    pub fn of(pod: &Pod, image_uid: &dyn Fn(&str) -> Option<i64>) -> Self {
        let Some(spec) = &pod.spec else {
            return Self::default();
        };
        let security = spec.security_context.as_ref();
        let pod_user = security.and_then(|s| s.run_as_user);
        let mut users = spec
            .init_containers
            .iter()
            .flatten()
            .chain(&spec.containers)
            .map(|c| {
                c.security_context
                    .as_ref()
                    .and_then(|s| s.run_as_user)
                    .or(pod_user)
                    .or_else(|| c.image.as_deref().and_then(image_uid))
                    // This node runs a binary-table container without runAsUser as root.
                    .unwrap_or(0)
            });
        let first = users.next();
        Self {
            fs_group: user(security.and_then(|s| s.fs_group)),
            fs_user: user(first.filter(|first| users.all(|u| u == *first))),
        }
    }

    /// A ServiceAccount token's mode and owner, by the kubelet's rule (`projected.go`): with
    /// `fsGroup` or one user, 0600 owned by that user whatever `defaultMode` says
    /// ([`write_atomic`] adds the group's read bit for `fsGroup`: 0640); otherwise the
    /// volume's mode, readable by every user.
    fn token(self, default_mode: Option<u32>, user: Option<u32>) -> (u32, Option<u32>) {
        if self.fs_group.is_none() && self.fs_user.is_none() {
            return (default_mode.unwrap_or(DEFAULT_MODE), user);
        }
        (SECRET_MODE, user.or(self.fs_user.filter(|&u| u != 0)))
    }

    /// Defaults for Secret values: the volume's own `defaultMode` unless it is Kubernetes'
    /// default (which the API server writes when none is set), else like a token. This is
    /// the deviation from Kubernetes the module docs describe; items' own modes still win.
    fn secret(self, default_mode: Option<u32>, user: Option<u32>) -> Defaults {
        let (mode, uid) = match default_mode {
            Some(mode) if mode != DEFAULT_MODE => (mode, user),
            _ => self.token(None, user),
        };
        Defaults {
            mode,
            uid,
            explicit_uid: user,
        }
    }
}

/// Mode and owner of the files of one source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Defaults {
    /// For a file whose item sets no mode (every file when the source lists no items).
    mode: u32,
    uid: Option<u32>,
    /// Owner of a file whose item sets its own mode: only the source's `defaultUser`, so an
    /// explicit mode means what it says.
    explicit_uid: Option<u32>,
}

impl Defaults {
    fn plain(mode: Option<u32>, user: Option<u32>) -> Self {
        Self {
            mode: mode.unwrap_or(DEFAULT_MODE),
            uid: user,
            explicit_uid: user,
        }
    }

    /// `(mode, owner)` of a file whose item sets `item_mode` and `item_user` (or not).
    fn file(self, item_mode: Option<i32>, item_user: Option<i64>) -> (u32, Option<u32>) {
        let item_user = user(item_user);
        match mode(item_mode) {
            Some(explicit) => (explicit, item_user.or(self.explicit_uid)),
            None => (self.mode, item_user.or(self.uid)),
        }
    }
}

/// The files of a `secret` volume from the Secret's entries (`None`: it does not exist).
fn secret_files(
    entries: Option<BTreeMap<String, Vec<u8>>>,
    source: &SecretVolumeSource,
    readers: Readers,
) -> Result<Files> {
    let name = source.secret_name.clone().unwrap_or_default();
    project(
        entries,
        source.items.as_deref(),
        readers.secret(mode(source.default_mode), user(source.default_user)),
        source.optional == Some(true),
        &format!("secret {name:?}"),
    )
}

/// `Some(entries)` of a ConfigMap, `None` when it does not exist.
async fn config_map_entries(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<Option<BTreeMap<String, Vec<u8>>>> {
    let found = Api::<ConfigMap>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await?;
    Ok(found.map(|cm| {
        let mut entries: BTreeMap<String, Vec<u8>> = cm
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.into_bytes()))
            .collect();
        for (k, ByteString(v)) in cm.binary_data.unwrap_or_default() {
            entries.insert(k, v);
        }
        entries
    }))
}

async fn secret_entries(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<Option<BTreeMap<String, Vec<u8>>>> {
    let found = Api::<Secret>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await?;
    Ok(found.map(|secret| {
        secret
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, ByteString(v))| (k, v))
            .collect()
    }))
}

/// Keys to files: all keys, or the listed `items` (each with its own path and mode).
fn project(
    entries: Option<BTreeMap<String, Vec<u8>>>,
    items: Option<&[KeyToPath]>,
    defaults: Defaults,
    optional: bool,
    what: &str,
) -> Result<Files> {
    let Some(mut entries) = entries else {
        if optional {
            return Ok(Files::new());
        }
        bail!("{what} not found");
    };
    let mut files = Files::new();
    match items {
        None => {
            for (key, data) in entries {
                let (mode, uid) = defaults.file(None, None);
                files.insert(checked_path(&key)?, File { data, mode, uid });
            }
        }
        Some(items) => {
            for item in items {
                let Some(data) = entries.remove(&item.key) else {
                    if optional {
                        continue;
                    }
                    bail!("{what} has no key {:?}", item.key);
                };
                let (mode, uid) = defaults.file(item.mode, item.user);
                files.insert(checked_path(&item.path)?, File { data, mode, uid });
            }
        }
    }
    Ok(files)
}

fn downward_files(
    pod: &Pod,
    items: Option<&[DownwardAPIVolumeFile]>,
    defaults: Defaults,
    addresses: &Addresses,
) -> Result<Files> {
    let mut files = Files::new();
    for item in items.into_iter().flatten() {
        let value = if let Some(field) = &item.field_ref {
            env::field_value(pod, &field.field_path, addresses).map_err(|e| anyhow::anyhow!(e.0))?
        } else if let Some(resource) = &item.resource_field_ref {
            let first = pod
                .spec
                .as_ref()
                .and_then(|s| s.containers.first())
                .context("the pod has no containers")?;
            env::resource_value(pod, first, resource).map_err(|e| anyhow::anyhow!(e.0))?
        } else {
            continue;
        };
        let (mode, uid) = defaults.file(item.mode, item.user);
        files.insert(
            checked_path(&item.path)?,
            File {
                data: value.into_bytes(),
                mode,
                uid,
            },
        );
    }
    Ok(files)
}

/// A relative path without `..` or a leading `..` in its first component (which the atomic
/// writer reserves), as the API server also demands.
fn checked_path(path: &str) -> Result<String> {
    let p = Path::new(path);
    let clean = !path.is_empty()
        && !path.starts_with("..")
        && p.components().all(|c| matches!(c, Component::Normal(_)));
    if !clean {
        bail!("invalid volume file path {path:?}");
    }
    Ok(path.to_owned())
}

/// Writes `files` into `dir` atomically (see the module docs). Returns whether anything
/// changed; an unchanged volume is not rewritten.
pub(crate) fn write_atomic(dir: &Path, files: &Files, fs_group: Option<u32>) -> Result<bool> {
    // With fsGroup the kubelet makes read-only volume files group-readable.
    let wanted: Files = files
        .iter()
        .map(|(path, file)| {
            let mode = if fs_group.is_some() {
                file.mode | 0o440
            } else {
                file.mode
            };
            (
                path.clone(),
                File {
                    mode,
                    ..file.clone()
                },
            )
        })
        .collect();
    let data_link = dir.join("..data");
    if fs::symlink_metadata(&data_link).is_ok() && read_tree(&data_link)? == wanted {
        return Ok(false);
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let generation = format!("..{}.{:09}", now.as_secs(), now.subsec_nanos());
    let target = dir.join(&generation);
    fs::create_dir(&target).with_context(|| format!("creating {}", target.display()))?;
    set_owner_and_mode(&target, None, fs_group, 0o755 | dir_group_bits(fs_group))?;
    for (path, file) in &wanted {
        let full = target.join(path);
        if let Some(parent) = full.parent()
            && parent != target
        {
            fs::create_dir_all(parent)?;
            let mut cursor = parent;
            while cursor != target {
                set_owner_and_mode(cursor, None, fs_group, 0o755 | dir_group_bits(fs_group))?;
                cursor = match cursor.parent() {
                    Some(p) => p,
                    None => break,
                };
            }
        }
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&full)
            .with_context(|| format!("creating {}", full.display()))?;
        out.write_all(&file.data)?;
        drop(out);
        set_owner_and_mode(&full, file.uid, fs_group, file.mode)?;
    }
    let temporary = dir.join("..data_tmp");
    let _ = fs::remove_file(&temporary);
    symlink(&generation, &temporary)?;
    fs::rename(&temporary, &data_link)?;

    let top: BTreeSet<String> = wanted
        .keys()
        .filter_map(|p| p.split('/').next().map(str::to_owned))
        .collect();
    for name in &top {
        let link = dir.join(name);
        if fs::symlink_metadata(&link).is_err() {
            symlink(Path::new("..data").join(name), &link)?;
        }
    }
    for entry in fs::read_dir(dir)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("..") {
            if name != "..data" && name != generation && entry.path().is_dir() {
                fs::remove_dir_all(entry.path())?;
            }
        } else if !top.contains(&name) {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(true)
}

fn dir_group_bits(fs_group: Option<u32>) -> u32 {
    if fs_group.is_some() { 0o2550 } else { 0 }
}

fn set_owner_and_mode(path: &Path, uid: Option<u32>, gid: Option<u32>, mode: u32) -> Result<()> {
    if uid.is_some() || gid.is_some() {
        lchown(path, uid, gid).with_context(|| format!("chown {}", path.display()))?;
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {}", path.display()))
}

/// Reads a written volume back (for the unchanged check).
fn read_tree(root: &Path) -> Result<Files> {
    let mut files = Files::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        for entry in fs::read_dir(&dir)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let meta = entry.metadata()?;
            if meta.is_dir() {
                stack.push((entry.path(), rel));
            } else {
                let uid = std::os::unix::fs::MetadataExt::uid(&meta);
                files.insert(
                    rel,
                    File {
                        data: fs::read(entry.path())?,
                        mode: meta.permissions().mode() & 0o7777,
                        uid: (uid != 0).then_some(uid),
                    },
                );
            }
        }
    }
    Ok(files)
}

/// The kubelet's `SetVolumeOwnership`: group `gid` everywhere, group read(+write), setgid
/// directories.
pub(crate) fn apply_fs_group(root: &Path, gid: u32, read_only: bool) -> Result<()> {
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = fs::symlink_metadata(&path)?;
        lchown(&path, None, Some(gid)).with_context(|| format!("chown {}", path.display()))?;
        if meta.file_type().is_symlink() {
            continue;
        }
        let mut mode = meta.permissions().mode() & 0o7777;
        mode |= if read_only { 0o440 } else { 0o660 };
        if meta.is_dir() {
            mode |= 0o2110;
            for entry in fs::read_dir(&path)?.flatten() {
                stack.push(entry.path());
            }
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use serde_json::json;

    use super::*;

    fn pod(value: serde_json::Value) -> Pod {
        serde_json::from_value(value).expect("a pod")
    }

    /// `mode owner group` of what `path` leads to, like `stat -L -c '%a %u %g'`.
    fn stat(path: &Path) -> String {
        let meta = fs::metadata(path).expect("meta");
        format!("{:o} {} {}", meta.mode() & 0o7777, meta.uid(), meta.gid())
    }

    #[test]
    fn readers_are_the_fs_group_and_the_one_user_all_containers_run_as() {
        let one = pod(json!({ "spec": {
            "securityContext": { "runAsUser": 100, "fsGroup": 1000 },
            "initContainers": [{ "name": "init" }],
            "containers": [{ "name": "a" }, { "name": "b",
                             "securityContext": { "runAsUser": 100 } }],
        }}));
        assert_eq!(
            Readers::of(&one, &|_| None),
            Readers {
                fs_group: Some(1000),
                fs_user: Some(100)
            }
        );
        let mixed = pod(json!({ "spec": {
            "containers": [{ "name": "a", "securityContext": { "runAsUser": 100 } },
                           { "name": "b" }],
        }}));
        assert_eq!(Readers::of(&mixed, &|_| None), Readers::default());
        let root = pod(json!({ "spec": { "containers": [{ "name": "a" }] } }));
        assert_eq!(
            Readers::of(&root, &|_| None).fs_user,
            Some(0),
            "no runAsUser runs as root here"
        );
    }

    /// `(mode, owner)` with the mode in octal, for readable failures.
    fn octal((mode, uid): (u32, Option<u32>)) -> (String, Option<u32>) {
        (format!("{mode:o}"), uid)
    }

    #[test]
    fn secret_values_at_the_default_mode_are_owner_only_and_explicit_modes_are_honoured() {
        let user = Readers {
            fs_group: None,
            fs_user: Some(100),
        };
        let group = Readers {
            fs_group: Some(1000),
            fs_user: None,
        };
        let mixed = Readers::default();
        let owner_only = |uid: Option<u32>| ("600".to_owned(), uid);
        // Unset, or the 0644 the API server fills in: tightened.
        for default in [None, Some(DEFAULT_MODE)] {
            let file = user.secret(default, None).file(None, None);
            assert_eq!(octal(file), owner_only(Some(100)));
            let file = group.secret(default, None).file(None, None);
            assert_eq!(octal(file), owner_only(None));
        }
        // Different users without a shared group could not all read an owner-only file.
        let file = mixed.secret(None, None).file(None, None);
        assert_eq!(octal(file), ("644".to_owned(), None));
        // An explicit other defaultMode, or an item's mode, means what it says.
        let file = user.secret(Some(0o440), None).file(None, None);
        assert_eq!(octal(file), ("440".to_owned(), None));
        let file = user.secret(None, None).file(Some(0o400), None);
        assert_eq!(octal(file), ("400".to_owned(), None));
        // Tokens: the kubelet's 0600 with one user or fsGroup, whatever defaultMode says.
        assert_eq!(octal(user.token(Some(0o644), None)), owner_only(Some(100)));
        assert_eq!(octal(group.token(Some(0o444), None)), owner_only(None));
        assert_eq!(
            octal(mixed.token(Some(0o444), None)),
            ("444".to_owned(), None)
        );
        let root = Readers {
            fs_group: None,
            fs_user: Some(0),
        };
        assert_eq!(octal(root.token(None, None)), owner_only(None));
    }

    #[test]
    fn a_secret_volume_is_written_0600_for_the_pods_user_or_0640_for_its_fs_group() {
        let dir = tempfile::tempdir().expect("tempdir");
        let entries = || {
            Some(BTreeMap::from([
                ("tls.key".to_owned(), b"key".to_vec()),
                ("ca.crt".to_owned(), b"ca".to_vec()),
            ]))
        };
        // What the API server hands the node: defaultMode filled in as 0644.
        let source: SecretVolumeSource = serde_json::from_value(json!({
            "secretName": "tls", "defaultMode": 0o644,
            "items": [{ "key": "tls.key", "path": "tls.key" },
                      { "key": "ca.crt", "path": "ca.crt", "mode": 0o444 }],
        }))
        .expect("source");

        let owned = dir.path().join("owned");
        fs::create_dir(&owned).expect("mkdir");
        let files = secret_files(
            entries(),
            &source,
            Readers {
                fs_group: None,
                fs_user: Some(100),
            },
        )
        .expect("files");
        write_atomic(&owned, &files, None).expect("write");
        assert_eq!(stat(&owned.join("tls.key")), "600 100 0");
        assert_eq!(
            stat(&owned.join("ca.crt")),
            "444 0 0",
            "its own mode, its default owner"
        );

        let grouped = dir.path().join("grouped");
        fs::create_dir(&grouped).expect("mkdir");
        let readers = Readers {
            fs_group: Some(1000),
            fs_user: Some(100),
        };
        let files = secret_files(entries(), &source, readers).expect("files");
        write_atomic(&grouped, &files, readers.fs_group).expect("write");
        assert_eq!(stat(&grouped.join("tls.key")), "640 100 1000");

        let explicit: SecretVolumeSource =
            serde_json::from_value(json!({ "secretName": "tls", "defaultMode": 0o440 }))
                .expect("source");
        let chosen = dir.path().join("chosen");
        fs::create_dir(&chosen).expect("mkdir");
        let files = secret_files(entries(), &explicit, readers).expect("files");
        write_atomic(&chosen, &files, readers.fs_group).expect("write");
        assert_eq!(stat(&chosen.join("tls.key")), "440 0 1000");
    }

    /// A real client that is never called: hostPath volumes need no API.
    fn offline_client() -> kube::Client {
        let url = "http://127.0.0.1:9".parse().expect("url");
        kube::Client::try_from(kube::Config::new(url)).expect("client")
    }

    async fn sync_host_path(
        volumes: &mut PodVolumes,
        path: &Path,
        type_: &str,
    ) -> Result<(), String> {
        let pod = pod(
            json!({ "metadata": { "name": "p", "namespace": "team" }, "spec": {
                "containers": [{ "name": "a" }],
                "volumes": [{ "name": "host", "hostPath": { "path": path, "type": type_ } }],
            }}),
        );
        let addresses = Addresses {
            pod_ip: "10.244.0.2".to_owned(),
            host_ip: "10.244.0.1".to_owned(),
            api_host: "10.96.0.1".to_owned(),
            api_port: 443,
        };
        volumes
            .sync(&offline_client(), &pod, &addresses, &|_| None)
            .await
    }

    #[tokio::test]
    async fn host_path_volumes_outside_the_node_directory_are_refused_and_nothing_is_created() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = fs::canonicalize(dir.path()).expect("canonical");
        let node = base.join("node");
        let outside = base.join("outside");
        fs::create_dir_all(node.join("pods")).expect("mkdir");
        fs::create_dir(&outside).expect("mkdir");
        std::os::unix::fs::symlink(&outside, node.join("escape")).expect("symlink");
        let fresh = || PodVolumes::new(node.join("pods/p/volumes"), node.clone());

        for (path, type_) in [
            (PathBuf::from("/etc"), "Directory"),
            (PathBuf::from("/"), ""),
            (node.join("../outside/made"), "DirectoryOrCreate"),
            (node.join("escape/made"), "DirectoryOrCreate"),
            (node.join("escape/file"), "FileOrCreate"),
        ] {
            let mut volumes = fresh();
            let message = sync_host_path(&mut volumes, &path, type_)
                .await
                .expect_err("outside the node directory");
            assert!(
                message.contains(&format!(
                    "hostPath {:?} is refused",
                    path.display().to_string()
                )) && message.contains(&format!("only paths inside {}", node.display())),
                "{message}"
            );
            assert!(volumes.get("host").is_none());
        }
        assert_eq!(
            fs::read_dir(&outside).expect("list").count(),
            0,
            "nothing was created outside"
        );

        let mut volumes = fresh();
        let inside = node.join("shared/cache");
        sync_host_path(&mut volumes, &inside, "DirectoryOrCreate")
            .await
            .expect("inside the node directory");
        assert!(inside.is_dir());
        assert_eq!(volumes.get("host").map(|p| p.path.clone()), Some(inside));
    }

    #[test]
    fn a_persistent_volume_path_outside_the_node_directory_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let node = fs::canonicalize(dir.path())
            .expect("canonical")
            .join("node");
        fs::create_dir(&node).expect("mkdir");
        let spec = |kind: &str, path: &str| -> PersistentVolumeSpec {
            serde_json::from_value(json!({ kind: { "path": path } })).expect("spec")
        };
        let claim = node.join("claims/team/data");
        let claim = claim.display().to_string();
        assert_eq!(
            volume_path(&node, "pv", spec("hostPath", &claim)).expect("inside"),
            PathBuf::from(&claim)
        );
        for (kind, path) in [("hostPath", "/var/lib"), ("local", "/root")] {
            let message = format!(
                "{:#}",
                volume_path(&node, "pv", spec(kind, path)).expect_err("outside")
            );
            assert!(
                message.contains(&format!("persistentvolume pv has path {path:?}"))
                    && message.contains("outside"),
                "{message}"
            );
        }
    }

    fn file(data: &str, mode: u32) -> File {
        File {
            data: data.as_bytes().to_vec(),
            mode,
            uid: None,
        }
    }

    #[test]
    fn an_update_swaps_the_data_link_and_drops_removed_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = Files::from([
            ("tls.crt".to_owned(), file("cert-1", 0o444)),
            ("nested/key".to_owned(), file("k", 0o400)),
        ]);
        assert!(write_atomic(dir.path(), &first, None).expect("write"));
        assert!(
            !write_atomic(dir.path(), &first, None).expect("rewrite"),
            "unchanged"
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("tls.crt")).expect("read"),
            "cert-1"
        );
        assert!(
            fs::symlink_metadata(dir.path().join("tls.crt"))
                .expect("meta")
                .file_type()
                .is_symlink()
        );
        let mode = fs::metadata(dir.path().join("nested/key"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o400);

        let second = Files::from([("tls.crt".to_owned(), file("cert-2", 0o444))]);
        assert!(write_atomic(dir.path(), &second, None).expect("update"));
        assert_eq!(
            fs::read_to_string(dir.path().join("tls.crt")).expect("read"),
            "cert-2"
        );
        assert!(!dir.path().join("nested").exists());
        let generations = fs::read_dir(dir.path())
            .expect("list")
            .flatten()
            .filter(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.starts_with("..") && n != "..data"
            })
            .count();
        assert_eq!(generations, 1, "the old generation is removed");
    }

    #[test]
    fn fs_group_makes_files_group_readable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = Files::from([("key".to_owned(), file("secret", 0o400))]);
        write_atomic(dir.path(), &files, Some(1000)).expect("write");
        let meta = fs::metadata(dir.path().join("key")).expect("meta");
        assert_eq!(meta.permissions().mode() & 0o777, 0o440);
        assert_eq!(std::os::unix::fs::MetadataExt::gid(&meta), 1000);
    }

    #[test]
    fn paths_escaping_the_volume_are_refused() {
        assert!(checked_path("a/b").is_ok());
        for bad in ["", "../x", "/etc/passwd", "a/../../b", "..data"] {
            assert!(checked_path(bad).is_err(), "{bad}");
        }
    }
}
