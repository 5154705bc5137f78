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
//! - `hostPath` is the node's own path.
//!
//! With `fsGroup`, ownership follows the kubelet's rule: group `fsGroup`, group-readable
//! (read-only volumes) or group-writable, setgid directories.

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
            ConfigMap, DownwardAPIVolumeFile, KeyToPath, PersistentVolume, PersistentVolumeClaim,
            Pod, Secret, ServiceAccount, Volume,
        },
    },
};
use kube::{Api, api::PostParams};
use tokio::time::Instant;

use super::env::{self, Addresses};

/// Mode of files without an explicit one (`defaultMode`'s default, 0644).
const DEFAULT_MODE: u32 = 0o644;
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
    prepared: BTreeMap<String, Prepared>,
    tokens: BTreeMap<(String, Option<String>, i64), Minted>,
}

impl PodVolumes {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
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
    ) -> Result<(), String> {
        let Some(spec) = &pod.spec else {
            return Ok(());
        };
        let fs_group = pod
            .spec
            .as_ref()
            .and_then(|s| s.security_context.as_ref())
            .and_then(|s| s.fs_group)
            .and_then(|g| u32::try_from(g).ok());
        for volume in spec.volumes.iter().flatten() {
            self.sync_one(client, pod, volume, fs_group, addresses)
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
        fs_group: Option<u32>,
        addresses: &Addresses,
    ) -> Result<()> {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let dir = self.dir.join(&volume.name);
        if let Some(files) = self.atomic_files(client, pod, volume, addresses).await? {
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
            let path = claim_path(client, &namespace, &claim.claim_name).await?;
            if let Some(gid) = fs_group {
                apply_fs_group(&path, gid, false)?;
            }
            Prepared {
                path,
                read_only: claim.read_only == Some(true),
            }
        } else if let Some(host) = &volume.host_path {
            let path = PathBuf::from(&host.path);
            match host.type_.as_deref() {
                Some("DirectoryOrCreate") => fs::create_dir_all(&path)?,
                Some("FileOrCreate") => {
                    if let Some(parent) = path.parent() {
                        fs::create_dir_all(parent)?;
                    }
                    fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&path)?;
                }
                _ if !path.exists() => bail!("hostPath {} does not exist", path.display()),
                _ => {}
            }
            Prepared {
                path,
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
        addresses: &Addresses,
    ) -> Result<Option<Files>> {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let mode = |m: Option<i32>| m.and_then(|m| u32::try_from(m).ok());
        let user = |u: Option<i64>| u.and_then(|u| u32::try_from(u).ok());
        if let Some(source) = &volume.config_map {
            let defaults = (
                mode(source.default_mode).unwrap_or(DEFAULT_MODE),
                user(source.default_user),
            );
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
            let defaults = (
                mode(source.default_mode).unwrap_or(DEFAULT_MODE),
                user(source.default_user),
            );
            let name = source.secret_name.clone().unwrap_or_default();
            let entries = secret_entries(client, &namespace, &name).await?;
            return project(
                entries,
                source.items.as_deref(),
                defaults,
                source.optional == Some(true),
                &format!("secret {name:?}"),
            )
            .map(Some);
        }
        if let Some(source) = &volume.downward_api {
            let defaults = (
                mode(source.default_mode).unwrap_or(DEFAULT_MODE),
                user(source.default_user),
            );
            return downward_files(pod, source.items.as_deref(), defaults, addresses).map(Some);
        }
        let Some(projected) = &volume.projected else {
            return Ok(None);
        };
        let defaults = (
            mode(projected.default_mode).unwrap_or(DEFAULT_MODE),
            user(projected.default_user),
        );
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
                    defaults,
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
                files.insert(
                    checked_path(&token.path)?,
                    File {
                        // Never a trailing newline: Go's HTTP client rejects such a header.
                        data: minted.into_bytes(),
                        mode: defaults.0,
                        uid: user(token.user).or(defaults.1),
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

/// The host path behind a bound claim.
async fn claim_path(client: &kube::Client, namespace: &str, claim: &str) -> Result<PathBuf> {
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
    let spec = pv.spec.unwrap_or_default();
    let path = spec
        .host_path
        .map(|h| h.path)
        .or_else(|| spec.local.map(|l| l.path))
        .with_context(|| {
            format!("persistentvolume {volume} is neither hostPath nor local, which is all the node mounts")
        })?;
    let path = PathBuf::from(path);
    fs::create_dir_all(&path)?;
    Ok(path)
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
    (default_mode, default_user): (u32, Option<u32>),
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
                files.insert(
                    checked_path(&key)?,
                    File {
                        data,
                        mode: default_mode,
                        uid: default_user,
                    },
                );
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
                files.insert(
                    checked_path(&item.path)?,
                    File {
                        data,
                        mode: item
                            .mode
                            .and_then(|m| u32::try_from(m).ok())
                            .unwrap_or(default_mode),
                        uid: item
                            .user
                            .and_then(|u| u32::try_from(u).ok())
                            .or(default_user),
                    },
                );
            }
        }
    }
    Ok(files)
}

fn downward_files(
    pod: &Pod,
    items: Option<&[DownwardAPIVolumeFile]>,
    (default_mode, default_user): (u32, Option<u32>),
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
        files.insert(
            checked_path(&item.path)?,
            File {
                data: value.into_bytes(),
                mode: item
                    .mode
                    .and_then(|m| u32::try_from(m).ok())
                    .unwrap_or(default_mode),
                uid: item
                    .user
                    .and_then(|u| u32::try_from(u).ok())
                    .or(default_user),
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
    use super::*;

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
