//! Starting one container process: a shell script, run in the pod's network namespace and a
//! fresh mount and UTS namespace, that builds the container's root filesystem and `exec`s the
//! command (same pid from the spawn to the container's process).
//!
//! The root filesystem is a fresh tmpfs holding only the operating-system part of the node:
//! `/usr`, `/etc` (and `/bin`, `/lib`... as symlinks or directories) as copy-on-write overlays
//! whose upper layers live on a tmpfs that disappears with the container, like a container's
//! writable layer. Nothing else of the node (home directories, checkouts, data) is visible, and
//! mount points such as `/etc/bao/config` or `/openbao/data` are created in the container's
//! own layers, never on the node. The script then `pivot_root`s into it and detaches the old
//! root, so the container holds no reference to any other mount (in particular no other
//! network namespace's `/run/netns` entry, which would keep that namespace alive). Inside:
//! fresh `/proc`, `/sys` (read-only, showing the pod's interfaces), the node's `/dev`, tmpfs
//! `/tmp` and `/run`, the pod's `/etc/hosts`, `/etc/resolv.conf` and `/etc/hostname`, the
//! image's binary under its own file name in `/usr/local/bin` and `/bin` (`bao` for OpenBao),
//! then the volume mounts (in path order, so a parent is mounted before what lies below it).
//! `readOnlyRootFilesystem` remounts the root and the overlays read-only at the end (`/tmp`
//! and `/run` stay writable tmpfs); the user switch (`runAsUser`/`runAsGroup`, `fsGroup` and
//! supplemental groups), `allowPrivilegeEscalation: false` and dropped capabilities are applied
//! by `setpriv` as the last step, and `env -i` gives the process exactly the pod's variables.
//!
//! # Images of the node's store
//!
//! A store image (see `oci`) brings its own root, possibly `FROM scratch`: no shell, no
//! `setpriv`, no `env`, no libc. Its root is an overlay (lower: the unpacked layers, upper and
//! work on the container's scratch tmpfs, so writes vanish with the container and no two
//! containers share them) mounted at [`IMAGE_ROOT`] inside the tmpfs root above, which then
//! serves as a *staging* root: after `pivot_root` and the detach of the node's root it still
//! holds the node's system directories, so the node's tools can do the rest. `/proc`, `/sys`,
//! `/dev`, the pod's hosts files and the volumes are mounted inside the image root (targets
//! resolved through the image's own symlinks, inside it; no tmpfs on `/tmp` or `/run`, which
//! are the image's, as with a container runtime), and the final exec is
//! `env -i <env> setpriv <groups, no_new_privs, bounding set> -- unshare --root=<image root>
//! --wd=<dir> --setuid=<uid> -- <command>` ([`Identity::image_exec`]): `unshare` chroots into
//! the image, sets the uid and `execvp`s the command with the container's `PATH`. Nothing of
//! the node is inside the image root; the staging root's system directories lie outside the
//! chroot, in a mount namespace no other process shares.
//!
//! Why not the obvious ways: the crate forbids `unsafe`, which rules out doing the final
//! steps in Rust (a `pre_exec` hook or `fork` both need it), and a tool run *after* the root
//! switch would have to be inside the image. The price of `unshare`'s chroot: it needs
//! `CAP_SYS_CHROOT` (and `CAP_SETUID`) after `setpriv` has dropped the bounding set, which the
//! inheritable set carries over (see [`Identity::image_exec`]); a root container that drops
//! `SYS_CHROOT` keeps it; and the parent-death signal `setpriv` sets is cleared by `unshare`'s
//! `setuid` for a non-root user (the run directory's sweep still kills such a container when
//! the node dies without stopping it). Exec probes and [`crate::Node::exec`] enter the mount
//! namespace (landing in the staging root) and take the same final steps.

use std::{
    fmt::Write,
    path::{Path, PathBuf},
};

use anyhow::{Result, bail};

/// Where an image's root filesystem is mounted in the staging root of its container.
pub(crate) const IMAGE_ROOT: &str = "/.localcluster-image";
/// Where the old root is parked between `pivot_root` and its detach.
const OLD_ROOT: &str = "/.localcluster-oldroot";
/// The directories where the image's binary appears inside the container, under its own file
/// name (`bao` for OpenBao's images, `openbao-operator` for the operator's).
pub(crate) const BINARY_DIRS: [&str; 2] = ["/usr/local/bin", "/bin"];
/// `PATH` when the pod sets none (the official image's).
pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// One bind mount into the container.
#[derive(Clone, Debug)]
pub(crate) struct Mount {
    pub source: PathBuf,
    pub target: String,
    pub read_only: bool,
}

/// The identity the command runs as, and its privileges.
#[derive(Clone, Debug, Default)]
pub(crate) struct Identity {
    /// `(uid, gid, supplementary groups)`; `None` keeps root.
    pub user: Option<(u32, u32, Vec<u32>)>,
    pub no_new_privs: bool,
    /// Capabilities to drop from the bounding set (`ALL` or names like `NET_RAW`).
    pub drop_capabilities: Vec<String>,
    /// `Some(working directory)` when the container runs in an image's own root (mounted at
    /// [`IMAGE_ROOT`]): the final exec then chroots there (see [`Identity::image_exec`]).
    pub image_workdir: Option<String>,
}

impl Identity {
    /// `setpriv ... --` arguments, or nothing when the process keeps root as is.
    pub fn setpriv_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some((uid, gid, groups)) = &self.user {
            args.push(format!("--reuid={uid}"));
            args.push(format!("--regid={gid}"));
            if groups.is_empty() {
                args.push("--clear-groups".to_owned());
            } else {
                let list: Vec<String> = groups.iter().map(u32::to_string).collect();
                args.push(format!("--groups={}", list.join(",")));
            }
        }
        if self.no_new_privs {
            args.push("--no-new-privs".to_owned());
        }
        if !self.drop_capabilities.is_empty() {
            let caps: Vec<String> = self
                .drop_capabilities
                .iter()
                .map(|c| {
                    let c = c.to_ascii_lowercase();
                    let c = c.strip_prefix("cap_").unwrap_or(&c).to_owned();
                    format!("-{c}")
                })
                .collect();
            args.push(format!("--bounding-set={}", caps.join(",")));
            args.push(format!("--inh-caps={}", caps.join(",")));
        }
        if args.is_empty() {
            return args;
        }
        // Changing credentials clears the parent-death signal the node's spawner set, so set it
        // again here: a node that dies (even by SIGKILL) must not leave containers running.
        args.push("--pdeathsig=KILL".to_owned());
        let mut full = vec!["setpriv".to_owned()];
        full.extend(args);
        full.push("--".to_owned());
        full
    }

    /// The final command of a container in an image root, run from the staging root where the
    /// node's tools are: `env -i <env>` (exactly the container's variables), `setpriv` (groups,
    /// gid, `no_new_privs`, bounding set, parent-death signal) and util-linux `unshare --root`,
    /// which chroots into [`IMAGE_ROOT`], changes to the working directory, sets the uid and
    /// `execvp`s `argv` with the container's `PATH`, inside the image.
    ///
    /// `unshare` still needs `CAP_SYS_CHROOT` (and `CAP_SETUID` for a non-root user) after
    /// `setpriv` dropped the bounding set. A first `setpriv` puts exactly those of them that are
    /// being dropped into the inheritable set, which a root exec keeps whatever the bounding
    /// set says, so the second `setpriv` can drop them from the bounding set. For a non-root
    /// user, `setuid` then clears the permitted and effective sets: the command starts with no
    /// capability (the inheritable bits stay, which grant nothing without file capabilities).
    /// A root command that drops `SYS_CHROOT` keeps that one capability.
    pub fn image_exec(&self, env: &[(String, String)], argv: &[String]) -> Vec<String> {
        let drops: Vec<String> = self
            .drop_capabilities
            .iter()
            .map(|c| {
                let c = c.to_ascii_lowercase();
                c.strip_prefix("cap_").unwrap_or(&c).to_owned()
            })
            .collect();
        let uid = self
            .user
            .as_ref()
            .map(|(uid, _, _)| *uid)
            .filter(|u| *u != 0);
        let mut needed = vec!["sys_chroot"];
        if uid.is_some() {
            needed.push("setuid");
        }
        let carried: Vec<String> = needed
            .into_iter()
            .filter(|c| drops.iter().any(|d| d == "all" || d == c))
            .map(|c| format!("+{c}"))
            .collect();
        let mut command = vec![tool("env"), "-i".to_owned()];
        command.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
        if !carried.is_empty() {
            command.push(tool("setpriv"));
            command.push(format!("--inh-caps={}", carried.join(",")));
            command.push("--".to_owned());
        }
        command.push(tool("setpriv"));
        if let Some((_, gid, groups)) = &self.user {
            command.push(format!("--regid={gid}"));
            if groups.is_empty() {
                command.push("--clear-groups".to_owned());
            } else {
                let list: Vec<String> = groups.iter().map(u32::to_string).collect();
                command.push(format!("--groups={}", list.join(",")));
            }
        }
        if self.no_new_privs {
            command.push("--no-new-privs".to_owned());
        }
        if !drops.is_empty() {
            let minus: Vec<String> = drops.iter().map(|c| format!("-{c}")).collect();
            command.push(format!("--bounding-set={}", minus.join(",")));
            let inheritable: Vec<String> = minus.into_iter().chain(carried).collect();
            command.push(format!("--inh-caps={}", inheritable.join(",")));
        }
        command.push("--pdeathsig=KILL".to_owned());
        command.push("--".to_owned());
        command.push(tool("unshare"));
        command.push(format!("--root={IMAGE_ROOT}"));
        command.push(format!(
            "--wd={}",
            self.image_workdir.as_deref().unwrap_or("/")
        ));
        if let Some(uid) = uid {
            command.push(format!("--setuid={uid}"));
        }
        command.push("--".to_owned());
        command.extend(argv.iter().cloned());
        command
    }
}

/// The absolute path of one of the node's tools (the staging root shows the node's system
/// directories at their usual places, so the path is valid there too).
fn tool(name: &str) -> String {
    ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
        .iter()
        .map(|dir| format!("{dir}/{name}"))
        .find(|path| Path::new(path).is_file())
        .unwrap_or_else(|| name.to_owned())
}

/// `path` inside the image root `root` with every symlink of the image resolved the way the
/// container will see it (absolute links lead to `root`, `..` stops at it), so that mount
/// points are created inside the image whatever links it ships. Missing components are kept.
pub(crate) fn resolve_in_image(root: &Path, path: &str) -> String {
    let mut resolved: Vec<String> = Vec::new();
    let mut pending: Vec<String> = path
        .split('/')
        .rev()
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        match part.as_str() {
            "." => continue,
            ".." => {
                resolved.pop();
                continue;
            }
            _ => {}
        }
        let host = root.join(resolved.join("/")).join(&part);
        match std::fs::symlink_metadata(&host) {
            Ok(meta) if meta.file_type().is_symlink() && links < 40 => {
                links += 1;
                let target = std::fs::read_link(&host)
                    .map(|t| t.display().to_string())
                    .unwrap_or_default();
                if target.starts_with('/') {
                    resolved.clear();
                }
                pending.extend(
                    target
                        .split('/')
                        .rev()
                        .filter(|p| !p.is_empty())
                        .map(str::to_owned),
                );
            }
            _ => resolved.push(part),
        }
    }
    format!("/{}", resolved.join("/"))
}

/// Everything the start script needs.
#[derive(Clone, Debug)]
pub(crate) struct Launch {
    pub rootfs: PathBuf,
    pub scratch: PathBuf,
    /// The binary of a binary-table image, shown under `/usr/local/bin` and `/bin`.
    pub binary: Option<PathBuf>,
    /// The unpacked root filesystem of a store image: the lower layer of the container's
    /// root, instead of the node's system directories.
    pub image_root: Option<PathBuf>,
    pub hosts: PathBuf,
    pub resolv_conf: PathBuf,
    pub hostname_file: PathBuf,
    pub hostname: String,
    pub mounts: Vec<Mount>,
    pub read_only_root: bool,
    pub working_dir: String,
    pub identity: Identity,
    pub env: Vec<(String, String)>,
    pub argv: Vec<String>,
}

/// POSIX shell single-quoting.
pub(crate) fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn old(path: &Path) -> String {
    quote(&format!("{OLD_ROOT}{}", path.display()))
}

/// The start script. Fails for paths overlayfs options cannot carry.
pub(crate) fn script(launch: &Launch) -> Result<String> {
    let scratch = launch.scratch.display().to_string();
    if scratch.contains([',', ':', '\\', '\n']) {
        bail!("the node directory {scratch} contains a character overlayfs options cannot carry");
    }
    if let Some(image) = &launch.image_root
        && image.display().to_string().contains([',', ':', '\\', '\n'])
    {
        bail!(
            "the image root {} contains a character overlayfs options cannot carry",
            image.display()
        );
    }
    if launch.argv.is_empty() {
        bail!("the container has no command");
    }
    let root = launch.rootfs.display().to_string();
    // The node's own tools (mount, pivot_root in sbin) run before the container's PATH applies.
    let mut s = String::from(
        "set -eu\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nexport PATH\n",
    );
    let w = &mut s;
    let _ = writeln!(
        w,
        "mount -t tmpfs -o mode=0755 localcluster-scratch {}",
        quote(&scratch)
    );
    let _ = writeln!(
        w,
        "mount -t tmpfs -o mode=0755 localcluster-rootfs {}",
        quote(&root)
    );
    for entry in system_entries() {
        match entry {
            SystemEntry::Link(name, target) => {
                let _ = writeln!(
                    w,
                    "ln -s {} {}",
                    quote(&target),
                    quote(&format!("{root}/{name}"))
                );
            }
            SystemEntry::Dir(name) => {
                let upper = format!("{scratch}/{name}.upper");
                let work = format!("{scratch}/{name}.work");
                let _ = writeln!(
                    w,
                    "mkdir {} {} {}",
                    quote(&format!("{root}/{name}")),
                    quote(&upper),
                    quote(&work)
                );
                let _ = writeln!(
                    w,
                    "mount -t overlay -o {} localcluster-{name} {}",
                    quote(&format!("lowerdir=/{name},upperdir={upper},workdir={work}")),
                    quote(&format!("{root}/{name}"))
                );
            }
        }
    }
    // A store image: its own root, copy-on-write over the unpacked layers, inside the staging
    // root (which keeps the node's tools for the steps after pivot_root).
    if let Some(image) = &launch.image_root {
        let upper = format!("{scratch}/image.upper");
        let work = format!("{scratch}/image.work");
        let _ = writeln!(
            w,
            "mkdir {} {} {}",
            quote(&format!("{root}{IMAGE_ROOT}")),
            quote(&upper),
            quote(&work)
        );
        let _ = writeln!(
            w,
            "mount -t overlay -o {} localcluster-image {}",
            quote(&format!(
                "lowerdir={},upperdir={upper},workdir={work}",
                image.display()
            )),
            quote(&format!("{root}{IMAGE_ROOT}"))
        );
    }
    let _ = writeln!(w, "cd {}", quote(&root));
    w.push_str("mkdir -p proc sys dev tmp run var/tmp root home\n");
    w.push_str("chmod 1777 var/tmp && chmod 0700 root && ln -s ../run var/run && ln -s ../run/lock var/lock\n");
    let _ = writeln!(w, "mkdir .{OLD_ROOT}");
    let _ = writeln!(w, "pivot_root . .{OLD_ROOT}");
    w.push_str("cd /\n");
    w.push_str("mount -t proc proc /proc\n");
    let _ = writeln!(w, "mount --rbind {OLD_ROOT}/dev /dev");
    w.push_str("mount -t sysfs -o ro sysfs /sys\n");
    w.push_str("mount -t tmpfs -o mode=1777 tmpfs /tmp\n");
    w.push_str("mount -t tmpfs -o mode=0755 tmpfs /run\n");
    // Paths of the container's root as seen from here: the image's are below IMAGE_ROOT, with
    // the image's own symlinks resolved inside it.
    let inside = |path: &str| -> String {
        match &launch.image_root {
            Some(image) => format!("{IMAGE_ROOT}{}", resolve_in_image(image, path)),
            None => path.to_owned(),
        }
    };
    if launch.image_root.is_some() {
        // No tmpfs on /tmp and /run: like a container runtime, the image's own directories.
        for (fs_type, target, options) in [("proc", "/proc", ""), ("sysfs", "/sys", " -o ro")] {
            let target = quote(&inside(target));
            let _ = writeln!(w, "mkdir -p {target}");
            let _ = writeln!(w, "mount -t {fs_type}{options} {fs_type} {target}");
        }
        let dev = quote(&inside("/dev"));
        let _ = writeln!(w, "mkdir -p {dev}");
        let _ = writeln!(w, "mount --rbind {OLD_ROOT}/dev {dev}");
    }
    for (source, target) in [
        (&launch.hosts, "/etc/hosts"),
        (&launch.resolv_conf, "/etc/resolv.conf"),
        (&launch.hostname_file, "/etc/hostname"),
    ] {
        let target = quote(&inside(target));
        let _ = writeln!(w, "mkdir -p \"$(dirname {target})\" && : >> {target}");
        let _ = writeln!(w, "mount --bind {} {target}", old(source));
    }
    if let Some(binary) = &launch.binary {
        let name = binary
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "bao".to_string());
        for dir in BINARY_DIRS {
            let target = &format!("{dir}/{name}");
            let _ = writeln!(w, "mkdir -p \"$(dirname {0})\" && : > {0}", quote(target));
            let _ = writeln!(w, "mount --bind -o ro {} {}", old(binary), quote(target));
        }
    }
    let mut mounts = launch.mounts.clone();
    // Parents before children; stable, so equal depths keep the pod's order.
    mounts.sort_by_key(|m| m.target.trim_end_matches('/').matches('/').count());
    for mount in &mounts {
        let target = quote(&inside(&mount.target));
        let _ = writeln!(
            w,
            "if [ -d {src} ]; then mkdir -p {target}; else mkdir -p \"$(dirname {target})\"; : >> {target}; fi",
            src = old(&mount.source)
        );
        let ro = if mount.read_only { " -o ro" } else { "" };
        let _ = writeln!(w, "mount --bind{ro} {} {target}", old(&mount.source));
    }
    if launch.image_root.is_some() {
        // unshare --wd needs it, and a runtime creates a missing working directory too.
        let _ = writeln!(w, "mkdir -p {}", quote(&inside(&launch.working_dir)));
    }
    let _ = writeln!(w, "umount -l {OLD_ROOT}");
    let _ = writeln!(w, "rmdir {OLD_ROOT}");
    let _ = writeln!(
        w,
        "printf %s {} > /proc/sys/kernel/hostname",
        quote(&launch.hostname)
    );
    if launch.read_only_root {
        if launch.image_root.is_some() {
            let _ = writeln!(w, "mount -o remount,bind,ro {IMAGE_ROOT}");
        } else {
            w.push_str("mount -o remount,bind,ro /\n");
            for entry in system_entries() {
                if let SystemEntry::Dir(name) = entry {
                    let _ = writeln!(w, "mount -o remount,bind,ro /{name}");
                }
            }
        }
    }
    let mut exec: Vec<String> = vec!["exec".to_owned()];
    if launch.image_root.is_some() {
        let command = launch.identity.image_exec(&launch.env, &launch.argv);
        exec.extend(command.iter().map(|a| quote(a)));
        w.push_str(&exec.join(" "));
        w.push('\n');
        return Ok(s);
    }
    let _ = writeln!(w, "cd {}", quote(&launch.working_dir));
    exec.extend(launch.identity.setpriv_args().iter().map(|a| quote(a)));
    exec.push("env".to_owned());
    exec.push("-i".to_owned());
    for (name, value) in &launch.env {
        exec.push(quote(&format!("{name}={value}")));
    }
    // `env` would read a first argument containing `=` as one more variable.
    if launch.argv[0].contains('=') {
        bail!("the command {:?} contains '='", launch.argv[0]);
    }
    exec.extend(launch.argv.iter().map(|a| quote(a)));
    w.push_str(&exec.join(" "));
    w.push('\n');
    Ok(s)
}

/// A top-level entry of the node's root that containers see.
enum SystemEntry {
    /// A real directory, shown through a copy-on-write overlay.
    Dir(&'static str),
    /// A symlink (merged-/usr systems: `/bin -> usr/bin`), copied as is.
    Link(&'static str, String),
}

/// The operating-system part of the node's root: programs, libraries and `/etc`. Nothing
/// else of the node (home directories, checkouts, data) is visible in a container.
fn system_entries() -> Vec<SystemEntry> {
    [
        "usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc",
    ]
    .into_iter()
    .filter_map(|name| {
        let path = Path::new("/").join(name);
        let meta = std::fs::symlink_metadata(&path).ok()?;
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).ok()?;
            Some(SystemEntry::Link(name, target.display().to_string()))
        } else if meta.is_dir() {
            Some(SystemEntry::Dir(name))
        } else {
            None
        }
    })
    .collect()
}

/// The command line that runs `argv` inside a running container (its namespaces and root,
/// its identity and environment), for exec probes and [`crate::Node::exec`].
pub(crate) fn exec_command(
    pid: u32,
    identity: &Identity,
    env: &[(String, String)],
    argv: &[String],
) -> Vec<String> {
    let pid = pid.to_string();
    let mut command: Vec<String> = ["nsenter", "-t", &pid, "-m", "-u", "-n"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    if identity.image_workdir.is_some() {
        // Entering the mount namespace lands in the staging root, where the node's tools are;
        // the same final steps as the container's own start chroot into the image.
        command.push("--".to_owned());
        command.extend(identity.image_exec(env, argv));
        return command;
    }
    command.extend(["-r", "-w", "--"].map(str::to_owned));
    command.extend(identity.setpriv_args());
    command.push("env".to_owned());
    command.push("-i".to_owned());
    command.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
    command.extend(argv.iter().cloned());
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn the_script_mounts_parents_first_and_execs_with_exactly_the_pod_env() {
        let launch = Launch {
            rootfs: "/run/x/rootfs".into(),
            scratch: "/run/x/scratch".into(),
            binary: Some("/cache/bao".into()),
            image_root: None,
            hosts: "/run/x/hosts".into(),
            resolv_conf: "/run/x/resolv.conf".into(),
            hostname_file: "/run/x/hostname".into(),
            hostname: "bao-0".into(),
            mounts: vec![
                Mount {
                    source: "/v/token".into(),
                    target: "/var/run/secrets/kubernetes.io/serviceaccount".into(),
                    read_only: true,
                },
                Mount {
                    source: "/v/data".into(),
                    target: "/openbao".into(),
                    read_only: false,
                },
            ],
            read_only_root: true,
            working_dir: "/".into(),
            identity: Identity {
                user: Some((100, 1000, vec![1000])),
                no_new_privs: true,
                drop_capabilities: vec!["ALL".into()],
                image_workdir: None,
            },
            env: vec![("NAME".into(), "it's".into())],
            argv: vec!["bao".into(), "server".into()],
        };
        let script = script(&launch).expect("script");
        let data = script.find("'/openbao'").expect("data mount");
        let token = script.find("'/var/run/secrets").expect("token mount");
        assert!(data < token, "{script}");
        assert!(script.contains("mount -o remount,bind,ro /"), "{script}");
        let last = script.lines().last().expect("a last line");
        assert!(
            last.starts_with("exec 'setpriv' '--reuid=100' '--regid=1000' '--groups=1000'"),
            "{last}"
        );
        assert!(
            last.ends_with(r"env -i 'NAME=it'\''s' 'bao' 'server'"),
            "{last}"
        );
    }

    #[test]
    fn an_image_root_is_mounted_below_the_staging_root_and_entered_by_the_last_exec() {
        let temp = tempfile::tempdir().expect("tempdir");
        let image = temp.path().join("rootfs");
        std::fs::create_dir_all(image.join("usr/etc")).expect("image dirs");
        // The image's /etc is a link: mount points must follow it inside the image.
        std::os::unix::fs::symlink("/usr/etc", image.join("etc")).expect("symlink");
        let launch = Launch {
            rootfs: "/run/x/rootfs".into(),
            scratch: "/run/x/scratch".into(),
            binary: None,
            image_root: Some(image.clone()),
            hosts: "/run/x/hosts".into(),
            resolv_conf: "/run/x/resolv.conf".into(),
            hostname_file: "/run/x/hostname".into(),
            hostname: "op-0".into(),
            mounts: vec![Mount {
                source: "/v/token".into(),
                target: "/var/run/secrets/kubernetes.io/serviceaccount".into(),
                read_only: true,
            }],
            read_only_root: true,
            working_dir: "/work".into(),
            identity: Identity {
                user: Some((65532, 65532, vec![])),
                no_new_privs: true,
                drop_capabilities: vec!["ALL".into()],
                image_workdir: Some("/work".into()),
            },
            env: vec![("A".into(), "1".into())],
            argv: vec!["/app".into(), "run".into()],
        };
        let script = script(&launch).expect("script");
        assert!(
            script.contains(&format!("lowerdir={}", image.display())),
            "{script}"
        );
        assert!(
            script.contains("'/.localcluster-image/usr/etc/hosts'"),
            "{script}"
        );
        assert!(
            script.contains("'/.localcluster-image/var/run/secrets/kubernetes.io/serviceaccount'"),
            "{script}"
        );
        assert!(
            !script.contains("/usr/local/bin/"),
            "no binary is injected: {script}"
        );
        assert!(
            script.contains("mount -o remount,bind,ro /.localcluster-image"),
            "{script}"
        );
        let last = script.lines().last().expect("a last line");
        assert!(
            last.contains("'--inh-caps=+sys_chroot,+setuid' '--'"),
            "{last}"
        );
        assert!(
            last.contains("'--bounding-set=-all' '--inh-caps=-all,+sys_chroot,+setuid'"),
            "{last}"
        );
        assert!(
            last.ends_with(
                "'--root=/.localcluster-image' '--wd=/work' '--setuid=65532' '--' '/app' 'run'"
            ),
            "{last}"
        );
    }

    #[test]
    fn image_symlinks_resolve_inside_the_image_and_never_above_it() {
        let temp = tempfile::tempdir().expect("tempdir");
        let root = temp.path();
        std::fs::create_dir_all(root.join("usr/lib")).expect("dirs");
        std::os::unix::fs::symlink("usr/lib", root.join("lib")).expect("relative link");
        std::os::unix::fs::symlink("/../../..", root.join("up")).expect("escaping link");
        std::os::unix::fs::symlink("loop", root.join("loop")).expect("loop");
        assert_eq!(resolve_in_image(root, "/lib/x"), "/usr/lib/x");
        assert_eq!(resolve_in_image(root, "/up/etc/passwd"), "/etc/passwd");
        assert_eq!(resolve_in_image(root, "/../../x"), "/x");
        assert_eq!(resolve_in_image(root, "/loop"), "/loop");
    }

    #[test]
    fn a_root_image_container_keeps_only_what_unshare_needs() {
        let identity = Identity {
            user: None,
            no_new_privs: false,
            drop_capabilities: vec!["NET_RAW".into()],
            image_workdir: Some("/".into()),
        };
        let command = identity.image_exec(&[], &["/bin/app".into()]);
        let line = command.join(" ");
        // SYS_CHROOT is not dropped, so nothing is carried over; no uid switch.
        assert!(!line.contains("+sys_chroot"), "{line}");
        assert!(!line.contains("--setuid"), "{line}");
        assert!(
            line.contains("--bounding-set=-net_raw --inh-caps=-net_raw"),
            "{line}"
        );
    }
}
