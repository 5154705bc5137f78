//! The node's local OCI image store: imports image archives and layout directories at node
//! start, verifies every blob against its digest and unpacks each image once into a root
//! filesystem.
//!
//! A source is an `oci-archive` tar (what `buildah push IMG oci-archive:/path/x.tar:NAME`
//! writes: `oci-layout`, `index.json`, `blobs/sha256/...`) or an OCI layout directory. Import
//! walks index -> manifest -> config and layers, checking each blob's size and sha256 (a
//! mismatch fails the node's start, naming the blob), then unpacks the layers in order into
//! `<run>/node/images/rootfs/<manifest hex>` with a `.complete` marker beside it, so a digest
//! is unpacked once per node however many containers (or names) use it. Names: the reference
//! the caller gave for the source and every manifest's `org.opencontainers.image.ref.name`
//! annotation, normalized to `repository:tag` (see `images::store_key`).
//!
//! Unpacking honours OCI whiteouts (`.wh.<name>` deletes `<name>` of the lower layers,
//! `.wh..wh..opq` empties a directory of what lower layers put there; entries of the same
//! layer survive both) and keeps modes, ownership, symlinks and hardlinks. It never writes
//! outside the root: absolute paths and `..` are refused, and so is an entry whose parent
//! directory is a symlink (the node runs as root: following a symlink a layer planted would
//! write wherever it points). Layers are `tar` or `tar+gzip` (OCI or Docker media types);
//! zstd and unknown types are refused with the media type in the error.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    io::{self, Read},
    path::{Component, Path, PathBuf},
};

use anyhow::{Context as _, Result, anyhow, bail};
use serde::Deserialize;
use sha2::{Digest, Sha256};

const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";

/// One image source for the node: an OCI archive (tar) or an OCI layout directory, under an
/// optional reference (`quay.io/org/name:tag`). Parsed from `[REF=]PATH`, the form of
/// `$OPENBAO_LOCALCLUSTER_IMAGES` (comma-separated) and of `localcluster up --image`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageSource {
    /// The reference pods use for the image; `None` registers only the names the archive's
    /// `index.json` annotates (`org.opencontainers.image.ref.name`).
    pub reference: Option<String>,
    pub path: PathBuf,
}

impl std::str::FromStr for ImageSource {
    type Err = anyhow::Error;

    /// `[REF=]PATH`: references never contain `=`, so the first one separates them.
    fn from_str(text: &str) -> Result<Self> {
        let text = text.trim();
        let (reference, path) = match text.split_once('=') {
            Some((reference, path)) => (Some(reference.trim().to_owned()), path.trim()),
            None => (None, text),
        };
        if path.is_empty() || reference.as_deref() == Some("") {
            bail!("image source {text:?} is not of the form [REF=]PATH");
        }
        Ok(Self {
            reference,
            path: PathBuf::from(path),
        })
    }
}

/// Parses a comma-separated list of `[REF=]PATH` (empty items are skipped).
pub(crate) fn parse_sources(list: &str) -> Result<Vec<ImageSource>> {
    list.split(',')
        .filter(|item| !item.trim().is_empty())
        .map(str::parse)
        .collect()
}

/// The parts of an image's configuration that decide how its containers run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct ImageConfig {
    #[serde(rename = "User", default)]
    pub user: Option<String>,
    #[serde(rename = "Env", default)]
    pub env: Option<Vec<String>>,
    #[serde(rename = "Entrypoint", default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", default)]
    pub cmd: Option<Vec<String>>,
    #[serde(rename = "WorkingDir", default)]
    pub working_dir: Option<String>,
}

/// An image in a node's store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredImage {
    /// The manifest digest, `sha256:<hex>` (the container status' `imageID`).
    pub digest: String,
    /// The unpacked root filesystem (containers see it through a copy-on-write overlay).
    pub rootfs: PathBuf,
    pub config: ImageConfig,
    /// The archive or layout directory it came from.
    pub source: PathBuf,
}

/// The images of one node, by `repository:tag`.
#[derive(Clone, Debug, Default)]
pub(crate) struct ImageStore {
    images: BTreeMap<String, StoredImage>,
}

impl ImageStore {
    /// The image an exact `repository:tag` (digest dropped, tag defaulting to `latest`) names.
    pub fn find(&self, reference: &str) -> Option<&StoredImage> {
        self.images.get(&super::images::store_key(reference))
    }

    pub fn list(&self) -> BTreeMap<String, StoredImage> {
        self.images.clone()
    }
}

#[derive(Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Platform {
    architecture: String,
    os: String,
}

#[derive(Deserialize)]
struct Index {
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct Manifest {
    config: Descriptor,
    layers: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct ConfigBlob {
    #[serde(default)]
    config: Option<ImageConfig>,
}

const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// Imports every source into `dir` (`<run>/node/images`): archives are extracted to a
/// scratch layout there (removed afterwards), rootfs are unpacked once per manifest digest.
pub(crate) fn import(dir: &Path, sources: &[ImageSource]) -> Result<ImageStore> {
    let mut store = ImageStore::default();
    if sources.is_empty() {
        return Ok(store);
    }
    fs::create_dir_all(dir.join("rootfs"))
        .with_context(|| format!("creating {}", dir.display()))?;
    for (n, source) in sources.iter().enumerate() {
        let scratch = dir.join(format!("import-{n}"));
        let imported = import_one(dir, &scratch, source, &mut store);
        if scratch.exists() {
            let _ = fs::remove_dir_all(&scratch);
        }
        imported.with_context(|| format!("importing OCI image {}", source.path.display()))?;
    }
    Ok(store)
}

fn import_one(
    dir: &Path,
    scratch: &Path,
    source: &ImageSource,
    store: &mut ImageStore,
) -> Result<()> {
    let meta = fs::metadata(&source.path).context("reading the source")?;
    let layout = if meta.is_dir() {
        source.path.clone()
    } else {
        // The archive's only content is the layout: its own file names, no links to follow.
        let _ = fs::remove_dir_all(scratch);
        fs::create_dir_all(scratch)?;
        let file = fs::File::open(&source.path)?;
        tar::Archive::new(file)
            .unpack(scratch)
            .context("extracting the archive")?;
        scratch.to_owned()
    };
    let oci_layout =
        fs::read(layout.join("oci-layout")).context("not an OCI layout: no `oci-layout` file")?;
    let version: serde_json::Value =
        serde_json::from_slice(&oci_layout).context("parsing oci-layout")?;
    if version.get("imageLayoutVersion").is_none() {
        bail!("oci-layout has no imageLayoutVersion");
    }
    let index: Index =
        serde_json::from_slice(&fs::read(layout.join("index.json")).context("reading index.json")?)
            .context("parsing index.json")?;
    let mut found: Vec<(Vec<String>, StoredImage)> = Vec::new();
    for descriptor in &index.manifests {
        let names: Vec<String> = descriptor
            .annotations
            .get(ANNOTATION_REF_NAME)
            .into_iter()
            .cloned()
            .collect();
        let manifest = select_manifest(&layout, descriptor)?;
        let image = unpack_image(dir, &layout, &manifest, &source.path)?;
        found.push((names, image));
    }
    if found.is_empty() {
        bail!("index.json lists no manifest");
    }
    if let Some(reference) = &source.reference {
        let wanted = super::images::store_key(reference);
        let chosen: Vec<&StoredImage> = if found.len() == 1 {
            vec![&found[0].1]
        } else {
            found
                .iter()
                .filter(|(names, _)| {
                    names
                        .iter()
                        .any(|n| n == reference || super::images::store_key(n) == wanted)
                })
                .map(|(_, image)| image)
                .collect()
        };
        match chosen.as_slice() {
            [image] => register(store, reference, image)?,
            _ => bail!(
                "the index holds {} images; none or several carry the {ANNOTATION_REF_NAME} \
                 {reference:?}",
                found.len()
            ),
        }
    }
    for (names, image) in &found {
        for name in names {
            register(store, name, image)?;
        }
    }
    Ok(())
}

fn register(store: &mut ImageStore, reference: &str, image: &StoredImage) -> Result<()> {
    let key = super::images::store_key(reference);
    if let Some(existing) = store.images.get(&key)
        && existing.digest != image.digest
    {
        bail!(
            "{key} names two images: {} (from {}) and {} (from {})",
            existing.digest,
            existing.source.display(),
            image.digest,
            image.source.display()
        );
    }
    store.images.insert(key, image.clone());
    Ok(())
}

/// The image manifest a descriptor of `index.json` leads to; a nested index picks this
/// machine's platform (linux/amd64 on x86_64), or its only entry.
fn select_manifest(layout: &Path, descriptor: &Descriptor) -> Result<(String, Manifest)> {
    let bytes = read_blob(layout, descriptor)?;
    if INDEX_TYPES.contains(&descriptor.media_type.as_str()) {
        let nested: Index = serde_json::from_slice(&bytes)
            .with_context(|| format!("parsing the index {}", descriptor.digest))?;
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        let pick = if nested.manifests.len() == 1 {
            nested.manifests.first()
        } else {
            nested.manifests.iter().find(|m| {
                m.platform
                    .as_ref()
                    .is_some_and(|p| p.os == "linux" && p.architecture == arch)
            })
        };
        let pick = pick.ok_or_else(|| {
            anyhow!(
                "the index {} has no manifest for linux/{arch}",
                descriptor.digest
            )
        })?;
        return select_manifest(layout, pick);
    }
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .with_context(|| format!("parsing the manifest {}", descriptor.digest))?;
    Ok((descriptor.digest.clone(), manifest))
}

/// The path of a blob, checked for size and sha256 against its descriptor.
fn verified_blob(layout: &Path, descriptor: &Descriptor) -> Result<PathBuf> {
    let hex = descriptor
        .digest
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| {
            anyhow!(
                "blob digest {:?} is not a sha256 digest (the only algorithm supported)",
                descriptor.digest
            )
        })?;
    let path = layout.join("blobs").join("sha256").join(hex);
    let mut file = fs::File::open(&path)
        .with_context(|| format!("blob {} is missing ({})", descriptor.digest, path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buffer[..n]);
    }
    let actual = hex::encode(hasher.finalize());
    if actual != hex {
        bail!(
            "blob {} does not match its digest: its content hashes to sha256:{actual}",
            descriptor.digest
        );
    }
    if size != descriptor.size {
        bail!(
            "blob {} has {size} bytes, its descriptor says {}",
            descriptor.digest,
            descriptor.size
        );
    }
    Ok(path)
}

fn read_blob(layout: &Path, descriptor: &Descriptor) -> Result<Vec<u8>> {
    let path = verified_blob(layout, descriptor)?;
    Ok(fs::read(path)?)
}

/// Verifies the config and every layer, and unpacks the rootfs unless a previous import on
/// this node already completed it.
fn unpack_image(
    dir: &Path,
    layout: &Path,
    (digest, manifest): &(String, Manifest),
    source: &Path,
) -> Result<StoredImage> {
    let config: ConfigBlob = serde_json::from_slice(&read_blob(layout, &manifest.config)?)
        .with_context(|| format!("parsing the image config {}", manifest.config.digest))?;
    let hex = digest.trim_start_matches("sha256:");
    let rootfs = dir.join("rootfs").join(hex);
    let marker = dir.join("rootfs").join(format!("{hex}.complete"));
    let mut layers = Vec::new();
    for layer in &manifest.layers {
        let compression = compression(&layer.media_type)?;
        layers.push((
            verified_blob(layout, layer)?,
            compression,
            layer.digest.clone(),
        ));
    }
    if !marker.exists() {
        if rootfs.exists() {
            // An unpack that did not finish (the node died): start over.
            fs::remove_dir_all(&rootfs)?;
        }
        fs::create_dir(&rootfs)?;
        for (path, compression, layer_digest) in &layers {
            let file = fs::File::open(path)?;
            let reader: Box<dyn Read> = match compression {
                Compression::None => Box::new(io::BufReader::new(file)),
                Compression::Gzip => {
                    Box::new(flate2::read::MultiGzDecoder::new(io::BufReader::new(file)))
                }
            };
            apply_layer(&rootfs, reader)
                .with_context(|| format!("unpacking layer {layer_digest}"))?;
        }
        fs::write(&marker, digest.as_bytes())?;
    }
    Ok(StoredImage {
        digest: digest.clone(),
        rootfs,
        config: config.config.unwrap_or_default(),
        source: source.to_owned(),
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
}

fn compression(media_type: &str) -> Result<Compression> {
    match media_type {
        "application/vnd.oci.image.layer.v1.tar"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar"
        | "application/vnd.docker.image.rootfs.diff.tar" => Ok(Compression::None),
        "application/vnd.oci.image.layer.v1.tar+gzip"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
        | "application/vnd.docker.image.rootfs.diff.tar.gzip"
        | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => Ok(Compression::Gzip),
        other => {
            bail!("layer media type {other:?} is not supported (only tar and tar+gzip layers are)")
        }
    }
}

/// The relative path of a layer entry, refusing absolute paths and `..`.
fn entry_path(raw: &Path) -> Result<PathBuf> {
    let mut clean = PathBuf::new();
    for component in raw.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                bail!("entry {} is an absolute path", raw.display())
            }
            Component::ParentDir => bail!("entry {} leaves the root with `..`", raw.display()),
        }
    }
    Ok(clean)
}

/// Checks that every directory above `relative` is a real directory inside `root` (creating
/// missing ones 0755) and returns the full path. Parents are never followed through symlinks.
fn parent_inside(root: &Path, relative: &Path) -> Result<PathBuf> {
    let mut current = root.to_owned();
    if let Some(parent) = relative.parent() {
        for part in parent.components() {
            current.push(part);
            match fs::symlink_metadata(&current) {
                Ok(meta) if meta.is_dir() => {}
                Ok(meta) if meta.file_type().is_symlink() => bail!(
                    "entry {} lies below the symlink {}; refusing to follow it",
                    relative.display(),
                    current.strip_prefix(root).unwrap_or(&current).display()
                ),
                Ok(_) => bail!(
                    "entry {} lies below {}, which is not a directory",
                    relative.display(),
                    current.strip_prefix(root).unwrap_or(&current).display()
                ),
                Err(e) if e.kind() == io::ErrorKind::NotFound => fs::create_dir(&current)?,
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(root.join(relative))
}

/// Removes whatever is at `path` (not following a symlink).
fn remove_any(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Applies one uncompressed layer on top of `root`.
pub(crate) fn apply_layer(root: &Path, reader: impl Read) -> Result<()> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    archive.set_mask(0);
    // Paths this layer wrote: whiteouts hide only what lower layers put there.
    let mut written: BTreeSet<PathBuf> = BTreeSet::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let relative = entry_path(&entry.path()?)?;
        let Some(name) = relative
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_owned)
        else {
            continue; // the root itself
        };
        if name == OPAQUE_WHITEOUT {
            let dir = parent_inside(root, &relative)?
                .parent()
                .map(Path::to_owned)
                .unwrap_or_else(|| root.to_owned());
            let dir_relative = relative.parent().map(Path::to_owned).unwrap_or_default();
            if dir.is_dir() {
                for child in fs::read_dir(&dir)? {
                    let child = child?;
                    if !written.contains(&dir_relative.join(child.file_name())) {
                        remove_any(&child.path())?;
                    }
                }
            }
            continue;
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            let target = relative.with_file_name(hidden);
            if !written.contains(&target) {
                let full = parent_inside(root, &target)?;
                remove_any(&full)?;
            }
            continue;
        }
        let full = parent_inside(root, &relative)?;
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions()
            || kind.is_pax_local_extensions()
            || kind.is_gnu_longname()
            || kind.is_gnu_longlink()
        {
            continue;
        }
        if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
            // Containers get the node's /dev; device nodes and fifos of images are skipped.
            tracing::debug!("skipping special file {} of a layer", relative.display());
            continue;
        }
        // A directory over a directory keeps the lower content; anything else replaces.
        let existing_dir = fs::symlink_metadata(&full).is_ok_and(|m| m.is_dir());
        if !(kind.is_dir() && existing_dir) {
            remove_any(&full)?;
        }
        if kind.is_hard_link() {
            let link = entry
                .link_name()?
                .ok_or_else(|| anyhow!("hard link {} has no target", relative.display()))?;
            let target_relative = entry_path(&link)?;
            let target = parent_inside(root, &target_relative)?;
            let meta = fs::symlink_metadata(&target).with_context(|| {
                format!(
                    "hard link {} points to {}, which does not exist",
                    relative.display(),
                    target_relative.display()
                )
            })?;
            if meta.is_dir() {
                bail!("hard link {} points to a directory", relative.display());
            }
            fs::hard_link(&target, &full)
                .with_context(|| format!("hard linking {}", relative.display()))?;
        } else {
            entry
                .unpack(&full)
                .with_context(|| format!("unpacking {}", relative.display()))?;
        }
        written.insert(relative);
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::*;

    /// A tar layer built entry by entry.
    pub(crate) struct Layer(tar::Builder<Vec<u8>>);

    impl Layer {
        pub fn new() -> Self {
            Self(tar::Builder::new(Vec::new()))
        }

        fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(kind);
            header.set_mode(mode);
            header.set_size(size);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(1);
            header
        }

        pub fn file(mut self, path: &str, mode: u32, data: &[u8]) -> Self {
            let mut header = Self::header(tar::EntryType::Regular, mode, data.len() as u64);
            self.0
                .append_data(&mut header, path, data)
                .expect("appending a file");
            self
        }

        pub fn owned_file(mut self, path: &str, uid: u64, gid: u64, data: &[u8]) -> Self {
            let mut header = Self::header(tar::EntryType::Regular, 0o640, data.len() as u64);
            header.set_uid(uid);
            header.set_gid(gid);
            self.0
                .append_data(&mut header, path, data)
                .expect("appending a file");
            self
        }

        pub fn dir(mut self, path: &str) -> Self {
            let mut header = Self::header(tar::EntryType::Directory, 0o755, 0);
            self.0
                .append_data(&mut header, path, io::empty())
                .expect("appending a directory");
            self
        }

        pub fn link(mut self, kind: tar::EntryType, path: &str, target: &str) -> Self {
            let mut header = Self::header(kind, 0o777, 0);
            self.0
                .append_link(&mut header, path, target)
                .expect("appending a link");
            self
        }

        /// An entry with a raw name the builder would refuse (`..`, absolute).
        pub fn raw_file(mut self, raw_name: &str, data: &[u8]) -> Self {
            let mut header = Self::header(tar::EntryType::Regular, 0o644, data.len() as u64);
            let bytes = header.as_old_mut();
            bytes.name[..raw_name.len()].copy_from_slice(raw_name.as_bytes());
            header.set_cksum();
            self.0.append(&header, data).expect("appending a raw entry");
            self
        }

        pub fn finish(self) -> Vec<u8> {
            self.0.into_inner().expect("finishing the tar")
        }
    }

    pub(crate) fn sha256_hex(data: &[u8]) -> String {
        hex::encode(Sha256::digest(data))
    }

    /// Writes an OCI layout: `layers` as (media type, bytes), the config JSON, an optional
    /// ref.name annotation. Returns the manifest digest.
    pub(crate) fn write_layout(
        dir: &Path,
        config: &serde_json::Value,
        layers: &[(&str, Vec<u8>)],
        ref_name: Option<&str>,
    ) -> String {
        let blobs = dir.join("blobs").join("sha256");
        fs::create_dir_all(&blobs).expect("blobs dir");
        let put = |data: &[u8]| -> (String, u64) {
            let hex = sha256_hex(data);
            fs::write(blobs.join(&hex), data).expect("writing a blob");
            (format!("sha256:{hex}"), data.len() as u64)
        };
        let config_bytes = serde_json::to_vec(config).expect("config json");
        let (config_digest, config_size) = put(&config_bytes);
        let layer_descriptors: Vec<serde_json::Value> = layers
            .iter()
            .map(|(media_type, data)| {
                let (digest, size) = put(data);
                serde_json::json!({"mediaType": media_type, "digest": digest, "size": size})
            })
            .collect();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": config_size,
            },
            "layers": layer_descriptors,
        });
        let manifest_bytes = serde_json::to_vec(&manifest).expect("manifest json");
        let (manifest_digest, manifest_size) = put(&manifest_bytes);
        let mut descriptor = serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_size,
        });
        if let Some(name) = ref_name {
            descriptor["annotations"] = serde_json::json!({ ANNOTATION_REF_NAME: name });
        }
        let index = serde_json::json!({"schemaVersion": 2, "manifests": [descriptor]});
        fs::write(
            dir.join("index.json"),
            serde_json::to_vec(&index).expect("index json"),
        )
        .expect("index.json");
        fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
            .expect("oci-layout");
        manifest_digest
    }

    const TAR: &str = "application/vnd.oci.image.layer.v1.tar";

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut encoder, data).expect("gzip");
        encoder.finish().expect("gzip")
    }

    fn config() -> serde_json::Value {
        serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "config": {"Entrypoint": ["/bin/app"], "Cmd": ["serve"], "Env": ["A=1"], "User": "10:20"},
            "rootfs": {"type": "layers", "diff_ids": []},
        })
    }

    #[test]
    fn layers_replace_files_and_whiteouts_and_opaque_dirs_hide_lower_content() {
        let temp = tempfile::tempdir().expect("tempdir");
        let lower = Layer::new()
            .dir("etc")
            .file("etc/config", 0o644, b"old")
            .file("etc/removed", 0o600, b"gone soon")
            .dir("data")
            .file("data/lower-a", 0o644, b"a")
            .dir("data/sub")
            .file("data/sub/lower-b", 0o644, b"b")
            .file("bin/app", 0o4755, b"#!app")
            .owned_file("home/owned", 1234, 5678, b"mine")
            .finish();
        let upper = Layer::new()
            .file("etc/config", 0o600, b"new")
            .file("etc/.wh.removed", 0o644, b"")
            .file("data/upper", 0o644, b"u")
            .file("data/.wh..wh..opq", 0o644, b"")
            .link(tarkind::Symlink, "bin/tool", "app")
            .link(tarkind::Link, "bin/app-hardlink", "bin/app")
            .finish();
        let dir = temp.path().join("layout");
        let digest = write_layout(
            &dir,
            &config(),
            &[
                (TAR, lower),
                ("application/vnd.oci.image.layer.v1.tar+gzip", gzip(&upper)),
            ],
            Some("example.org/app:1"),
        );
        let store = import(
            &temp.path().join("images"),
            &[ImageSource {
                reference: Some("localhost/app:dev".into()),
                path: dir.clone(),
            }],
        )
        .expect("import");
        let image = store.find("localhost/app:dev").expect("the given name");
        assert_eq!(image.digest, digest);
        assert_eq!(
            store.find("example.org/app:1"),
            Some(image),
            "the annotated name"
        );
        assert_eq!(
            store.find("example.org/app"),
            None,
            "the tag must match exactly"
        );
        assert_eq!(image.config.user.as_deref(), Some("10:20"));
        assert_eq!(image.config.entrypoint, Some(vec!["/bin/app".to_owned()]));
        let root = &image.rootfs;
        assert_eq!(fs::read(root.join("etc/config")).expect("config"), b"new");
        let mode = |p: &str| {
            fs::symlink_metadata(root.join(p))
                .expect(p)
                .permissions()
                .mode()
        };
        assert_eq!(mode("etc/config") & 0o7777, 0o600);
        assert_eq!(mode("bin/app") & 0o7777, 0o4755);
        assert!(!root.join("etc/removed").exists(), "whited out");
        assert!(
            root.join("data/upper").exists(),
            "the same layer's entry survives"
        );
        assert!(!root.join("data/lower-a").exists(), "opaque dir");
        assert!(!root.join("data/sub").exists(), "opaque dir");
        assert_eq!(
            fs::read_link(root.join("bin/tool")).expect("symlink"),
            Path::new("app")
        );
        let app = fs::metadata(root.join("bin/app")).expect("app");
        let hard = fs::metadata(root.join("bin/app-hardlink")).expect("hardlink");
        assert_eq!(app.ino(), hard.ino(), "a hardlink shares the inode");
        let owned = fs::metadata(root.join("home/owned")).expect("owned");
        assert_eq!((owned.uid(), owned.gid()), (1234, 5678));
        assert!(
            root.with_file_name(format!("{}.complete", digest.trim_start_matches("sha256:")))
                .exists()
        );

        // A second import of the same digest reuses the unpacked root.
        fs::write(root.join("marker-of-first-unpack"), b"").expect("marker");
        let again = import(
            &temp.path().join("images"),
            &[ImageSource {
                reference: None,
                path: dir,
            }],
        )
        .expect("second import");
        let image = again.find("example.org/app:1").expect("annotated name");
        assert!(image.rootfs.join("marker-of-first-unpack").exists());
    }

    use tar::EntryType as tarkind;

    fn import_layer(layer: Vec<u8>, media_type: &str) -> Result<ImageStore> {
        let temp = tempfile::tempdir().expect("tempdir");
        let dir = temp.path().join("layout");
        write_layout(&dir, &config(), &[(media_type, layer)], None);
        let result = import(
            &temp.path().join("images"),
            &[ImageSource {
                reference: Some("x:1".into()),
                path: dir,
            }],
        );
        // The outside of the root stays clean whatever happened.
        assert!(!temp.path().join("escaped").exists());
        assert!(!temp.path().join("images/rootfs/escaped").exists());
        result
    }

    #[test]
    fn entries_that_try_to_leave_the_root_are_refused() {
        for (layer, expected) in [
            (
                Layer::new().raw_file("../../escaped", b"x").finish(),
                "leaves the root",
            ),
            (
                Layer::new().raw_file("/escaped", b"x").finish(),
                "absolute path",
            ),
            (
                Layer::new()
                    .link(tarkind::Symlink, "out", "../../..")
                    .file("out/escaped", 0o644, b"x")
                    .finish(),
                "refusing to follow",
            ),
            (
                Layer::new()
                    .link(tarkind::Link, "hard", "../../../escaped")
                    .finish(),
                "leaves the root",
            ),
        ] {
            let error = import_layer(layer, TAR).expect_err("an escape");
            let message = format!("{error:#}");
            assert!(message.contains(expected), "{message}");
        }
    }

    #[test]
    fn a_blob_that_does_not_match_its_digest_is_named_in_the_error() {
        let temp = tempfile::tempdir().expect("tempdir");
        let dir = temp.path().join("layout");
        let layer = Layer::new().file("a", 0o644, b"a").finish();
        let hex = sha256_hex(&layer);
        write_layout(&dir, &config(), &[(TAR, layer)], None);
        fs::write(dir.join("blobs/sha256").join(&hex), b"tampered").expect("tamper");
        let error = import(
            &temp.path().join("images"),
            &[ImageSource {
                reference: Some("x:1".into()),
                path: dir,
            }],
        )
        .expect_err("a mismatch");
        let message = format!("{error:#}");
        assert!(message.contains(&format!("sha256:{hex}")), "{message}");
        assert!(message.contains("does not match its digest"), "{message}");
    }

    #[test]
    fn zstd_layers_are_refused_naming_the_media_type() {
        let layer = Layer::new().file("a", 0o644, b"a").finish();
        let error =
            import_layer(layer, "application/vnd.oci.image.layer.v1.tar+zstd").expect_err("zstd");
        let message = format!("{error:#}");
        assert!(message.contains("tar+zstd"), "{message}");
    }

    #[test]
    fn an_archive_is_imported_like_its_layout_and_sources_parse_from_ref_equals_path() {
        let temp = tempfile::tempdir().expect("tempdir");
        let dir = temp.path().join("layout");
        let layer = Layer::new().file("hello", 0o644, b"hi").finish();
        write_layout(
            &dir,
            &config(),
            &[(TAR, layer)],
            Some("localhost/hello:latest"),
        );
        let archive = temp.path().join("hello.tar");
        let mut builder = tar::Builder::new(fs::File::create(&archive).expect("archive"));
        builder.append_dir_all(".", &dir).expect("archiving");
        builder.finish().expect("archive");
        drop(builder);
        let sources = parse_sources(&format!(" ,{}", archive.display())).expect("parse");
        let store = import(&temp.path().join("images"), &sources).expect("import");
        let image = store
            .find("localhost/hello")
            .expect("annotated name, tag latest");
        assert_eq!(fs::read(image.rootfs.join("hello")).expect("hello"), b"hi");
        assert!(
            !temp.path().join("images/import-0").exists(),
            "scratch removed"
        );

        assert_eq!(
            "quay.io/x/y:1=/tmp/a=b.tar"
                .parse::<ImageSource>()
                .expect("parse"),
            ImageSource {
                reference: Some("quay.io/x/y:1".into()),
                path: "/tmp/a=b.tar".into()
            }
        );
        assert!("=/tmp/x".parse::<ImageSource>().is_err());
    }
}
