//! The two path rules that keep a root-run cluster from being turned against its host.
//!
//! 1. [`private_dir`]: the directory that holds every run (PKI, kubeconfigs, pod volumes,
//!    claims) is a real directory owned by the user that runs the cluster (root for a node),
//!    mode 0700, under parents no other user can rename things in. A directory another local
//!    user created first (or a symlink they planted, or one they can write to) is refused:
//!    whoever controls it could swap files under it between our check and our write, and
//!    root would then write, chmod or delete wherever they point.
//! 2. [`confine`]: a path a pod or a PersistentVolume names (hostPath, local path, subPath) is
//!    used only when, with every symlink resolved, it lies inside the directory the node
//!    allows. `..` is refused outright, and so is a dangling symlink (creating a directory
//!    through it would create wherever it points).
//!
//! What remains is a race no path check closes: a pod that can write inside an allowed
//! directory (its own claim, say) may swap a checked directory for a symlink between the
//! check and the bind mount (`mount` resolves the path again). The kubelet closes that race
//! with mounts through file descriptors; this node does not, so it confines paths, it does not
//! make a hostile pod on a writable volume harmless.

use std::{
    ffi::OsStr,
    fs::{self, DirBuilder},
    io,
    os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt},
    path::{Component, Path, PathBuf},
};

use anyhow::{Context, Result, bail};

/// Mode of a private directory.
pub(crate) const PRIVATE_MODE: u32 = 0o700;

/// What a directory entry is, for [`refusal`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Directory,
    Symlink,
    Other,
}

impl Kind {
    fn of(meta: &fs::Metadata) -> Self {
        let file_type = meta.file_type();
        if file_type.is_symlink() {
            Self::Symlink
        } else if file_type.is_dir() {
            Self::Directory
        } else {
            Self::Other
        }
    }
}

/// Why an existing entry cannot serve as a private directory of `euid`, if it cannot.
pub(crate) fn refusal(kind: Kind, owner: u32, mode: u32, euid: u32) -> Option<String> {
    match kind {
        Kind::Symlink => {
            return Some(
                "it is a symlink (it must be a real directory, or our files could be redirected \
                 wherever it points)"
                    .to_owned(),
            );
        }
        Kind::Other => return Some("it is not a directory".to_owned()),
        Kind::Directory => {}
    }
    if owner != euid {
        return Some(format!(
            "it is owned by uid {owner}, not by uid {euid} that runs the cluster (its owner \
             could swap the files under it)"
        ));
    }
    if mode & 0o022 != 0 {
        return Some(format!(
            "it is writable by group or others (mode {:04o}; at most 0755 is accepted, and it \
             is then tightened to 0700)",
            mode & 0o7777
        ));
    }
    None
}

/// Why a parent of a private directory lets another user replace what lies under it, if it
/// does: it must belong to root or `euid`, and be writable by nobody else unless sticky (as
/// `/tmp` is: there only an entry's owner can rename or delete it).
pub(crate) fn ancestor_refusal(owner: u32, mode: u32, euid: u32) -> Option<String> {
    if owner != 0 && owner != euid {
        return Some(format!(
            "it is owned by uid {owner} (only root or uid {euid} may own a parent)"
        ));
    }
    if mode & 0o022 != 0 && mode & 0o1000 == 0 {
        return Some(format!(
            "it is writable by group or others without the sticky bit (mode {:04o})",
            mode & 0o7777
        ));
    }
    None
}

/// Creates `path` (and missing parents) as a private directory of the effective user, or
/// checks that an existing one is (see the module docs), and returns its canonical path.
/// An existing directory of ours that is merely readable by others (0755, as older versions
/// created it) is tightened to 0700.
pub(crate) fn private_dir(path: &Path) -> Result<PathBuf> {
    let euid = nix::unistd::Uid::effective().as_raw();
    let name = path.file_name().with_context(|| {
        format!(
            "{} names no directory (it ends in `..` or is `/`)",
            path.display()
        )
    })?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    // Resolved once: later uses go through the canonical path, so a parent symlink that is
    // changed afterwards no longer matters.
    let parent =
        fs::canonicalize(parent).with_context(|| format!("resolving {}", parent.display()))?;
    for ancestor in parent.ancestors() {
        let meta = fs::symlink_metadata(ancestor)
            .with_context(|| format!("inspecting {}", ancestor.display()))?;
        if let Some(problem) = ancestor_refusal(meta.uid(), meta.mode(), euid) {
            bail!(
                "refusing {} as a private directory: its parent {} is unsafe: {problem}",
                path.display(),
                ancestor.display()
            );
        }
    }
    let path = parent.join(name);
    match DirBuilder::new().mode(PRIVATE_MODE).create(&path) {
        Ok(()) => {}
        // Checked below like any existing one (another run of ours may have just made it).
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
    }
    let meta =
        fs::symlink_metadata(&path).with_context(|| format!("inspecting {}", path.display()))?;
    if let Some(problem) = refusal(Kind::of(&meta), meta.uid(), meta.mode(), euid) {
        bail!(
            "refusing {} as a private directory: {problem}; remove it, or choose another \
             directory",
            path.display()
        );
    }
    if meta.mode() & 0o777 != PRIVATE_MODE {
        fs::set_permissions(&path, fs::Permissions::from_mode(PRIVATE_MODE))
            .with_context(|| format!("chmod 0700 {}", path.display()))?;
    }
    Ok(path)
}

/// `path` (absolute, or relative to `root`) with every symlink resolved, when that lies inside
/// `root` (`root` itself included); an error naming the path, where it leads and what is
/// allowed otherwise. Trailing components that do not exist yet are kept as written, for the
/// caller to create (and to confine again afterwards).
pub(crate) fn confine(root: &Path, path: &Path) -> Result<PathBuf> {
    let root = fs::canonicalize(root).with_context(|| format!("resolving {}", root.display()))?;
    if path.components().any(|c| matches!(c, Component::ParentDir)) {
        bail!(
            "{} contains `..`; only paths inside {} are allowed",
            path.display(),
            root.display()
        );
    }
    let full = root.join(path);
    let mut missing: Vec<&OsStr> = Vec::new();
    let mut existing = full.as_path();
    let resolved = loop {
        match fs::symlink_metadata(existing) {
            Ok(_) => {
                break fs::canonicalize(existing).with_context(|| {
                    format!(
                        "{} (in {}) is a symlink to nothing or cannot be resolved",
                        existing.display(),
                        path.display()
                    )
                })?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let (Some(name), Some(parent)) = (existing.file_name(), existing.parent()) else {
                    bail!("no part of {} exists", path.display());
                };
                missing.push(name);
                existing = parent;
            }
            Err(e) => {
                return Err(e).with_context(|| format!("inspecting {}", existing.display()));
            }
        }
    };
    let resolved = missing
        .iter()
        .rev()
        .fold(resolved, |dir, name| dir.join(name));
    if !resolved.starts_with(&root) {
        bail!(
            "{} leads to {}, outside {}; only paths inside {} are allowed",
            path.display(),
            resolved.display(),
            root.display(),
            root.display()
        );
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{lchown, symlink};

    use super::*;

    fn root() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = fs::canonicalize(dir.path())
            .expect("canonical")
            .join("node");
        fs::create_dir(&root).expect("mkdir");
        (dir, root)
    }

    fn refused(root: &Path, path: &Path) -> String {
        match confine(root, path) {
            Ok(resolved) => panic!("{} was accepted as {}", path.display(), resolved.display()),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn a_nested_path_and_the_root_itself_are_inside() {
        let (_dir, root) = root();
        fs::create_dir(root.join("pods")).expect("mkdir");
        assert_eq!(
            confine(&root, &root.join("pods/a/b")).expect("nested, partly missing"),
            root.join("pods/a/b")
        );
        assert_eq!(
            confine(&root, Path::new("pods/a")).expect("relative"),
            root.join("pods/a")
        );
        assert_eq!(confine(&root, &root).expect("exact root"), root);
        // A symlink that stays inside is fine, and comes back resolved.
        symlink(root.join("pods"), root.join("alias")).expect("symlink");
        assert_eq!(
            confine(&root, &root.join("alias/x")).expect("inner symlink"),
            root.join("pods/x")
        );
    }

    #[test]
    fn dot_dot_is_refused_even_when_it_would_come_back_inside() {
        let (_dir, root) = root();
        let message = refused(&root, &root.join("../node/pods"));
        assert!(message.contains("`..`"), "{message}");
        assert!(message.contains(&root.display().to_string()), "{message}");
        refused(&root, Path::new("../etc"));
    }

    #[test]
    fn an_absolute_path_outside_is_refused_with_what_is_allowed() {
        let (_dir, root) = root();
        let message = refused(&root, Path::new("/etc"));
        assert!(
            message.contains("/etc leads to /etc, outside")
                && message.contains(&format!("only paths inside {}", root.display())),
            "{message}"
        );
        // A sibling that shares the root's name as a prefix is outside too.
        let sibling = root.with_file_name("node-other");
        fs::create_dir(&sibling).expect("mkdir");
        refused(&root, &sibling);
    }

    #[test]
    fn a_symlink_leading_out_is_refused_whether_its_target_exists_or_not() {
        let (_dir, root) = root();
        symlink("/etc", root.join("escape")).expect("symlink");
        let message = refused(&root, &root.join("escape/passwd"));
        assert!(message.contains("leads to /etc/passwd"), "{message}");
        refused(&root, &root.join("escape/not-yet/created"));
        // Creating a directory through a dangling symlink would create its target.
        symlink("/nonexistent-localcluster-target", root.join("dangling")).expect("symlink");
        let message = refused(&root, &root.join("dangling/sub"));
        assert!(message.contains("symlink to nothing"), "{message}");
        assert!(!Path::new("/nonexistent-localcluster-target").exists());
    }

    #[test]
    fn a_private_dir_is_created_0700_and_a_readable_one_of_ours_is_tightened() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fresh = dir.path().join("a/b/runs");
        let made = private_dir(&fresh).expect("created");
        let meta = fs::symlink_metadata(&made).expect("meta");
        assert_eq!(format!("{:o}", meta.mode() & 0o7777), "700");
        assert_eq!(meta.uid(), nix::unistd::Uid::effective().as_raw());
        assert_eq!(made, fs::canonicalize(&fresh).expect("canonical"));

        let old = dir.path().join("old");
        fs::create_dir(&old).expect("mkdir");
        fs::set_permissions(&old, fs::Permissions::from_mode(0o755)).expect("chmod");
        private_dir(&old).expect("ours, only readable: accepted");
        assert_eq!(
            format!("{:o}", fs::metadata(&old).expect("meta").mode() & 0o7777),
            "700"
        );
    }

    #[test]
    fn a_planted_symlink_a_writable_dir_and_a_foreign_dir_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("target");
        fs::create_dir(&target).expect("mkdir");
        let link = dir.path().join("link");
        symlink(&target, &link).expect("symlink");
        let message = format!("{:#}", private_dir(&link).expect_err("symlink"));
        assert!(
            message.contains(&link.display().to_string()) && message.contains("symlink"),
            "{message}"
        );

        let open = dir.path().join("open");
        fs::create_dir(&open).expect("mkdir");
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).expect("chmod");
        let message = format!("{:#}", private_dir(&open).expect_err("world-writable"));
        assert!(message.contains("mode 0777"), "{message}");
        assert_eq!(
            format!("{:o}", fs::metadata(&open).expect("meta").mode() & 0o7777),
            "777",
            "a refused directory is left alone"
        );

        // Under a parent anyone may write to (no sticky bit), the entry could be replaced.
        let shared = dir.path().join("shared");
        fs::create_dir(&shared).expect("mkdir");
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).expect("chmod");
        let message = format!(
            "{:#}",
            private_dir(&shared.join("runs")).expect_err("unsafe parent")
        );
        assert!(
            message.contains(&format!("parent {} is unsafe", shared.display())),
            "{message}"
        );

        let euid = nix::unistd::Uid::effective().as_raw();
        if euid == 0 {
            let foreign = dir.path().join("foreign");
            fs::create_dir(&foreign).expect("mkdir");
            lchown(&foreign, Some(65534), None).expect("chown");
            let message = format!("{:#}", private_dir(&foreign).expect_err("foreign"));
            assert!(message.contains("owned by uid 65534"), "{message}");
        }
        // The same verdict without root, from the rule itself.
        assert!(
            refusal(Kind::Directory, euid + 1, 0o700, euid).is_some_and(|r| r.contains("owned"))
        );
    }

    #[test]
    fn the_ownership_rules_accept_only_our_own_closed_directories() {
        assert_eq!(refusal(Kind::Directory, 0, 0o40700, 0), None);
        assert_eq!(refusal(Kind::Directory, 0, 0o40755, 0), None);
        assert!(refusal(Kind::Directory, 1000, 0o40700, 0).is_some());
        assert!(refusal(Kind::Directory, 0, 0o40770, 0).is_some());
        assert!(refusal(Kind::Directory, 0, 0o40702, 0).is_some());
        assert!(refusal(Kind::Symlink, 0, 0o120777, 0).is_some());
        assert!(refusal(Kind::Other, 0, 0o100600, 0).is_some());
        // /tmp: root's, world-writable but sticky.
        assert_eq!(ancestor_refusal(0, 0o41777, 1000), None);
        assert_eq!(ancestor_refusal(1000, 0o40755, 1000), None);
        assert!(ancestor_refusal(1001, 0o40755, 1000).is_some());
        assert!(ancestor_refusal(0, 0o40777, 1000).is_some());
        assert!(ancestor_refusal(0, 0o40775, 0).is_some());
    }
}
