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
//! then the volume mounts (in path
//! order, so a parent is mounted before what lies below it). `readOnlyRootFilesystem` remounts
//! the root and the overlays read-only at the end (`/tmp` and `/run` stay writable tmpfs); the user switch (`runAsUser`/`runAsGroup`, `fsGroup` and
//! supplemental groups), `allowPrivilegeEscalation: false` and dropped capabilities are applied
//! by `setpriv` as the last step, and `env -i` gives the process exactly the pod's variables.

use std::{
    fmt::Write,
    path::{Path, PathBuf},
};

use anyhow::{Result, bail};

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
}

/// Everything the start script needs.
#[derive(Clone, Debug)]
pub(crate) struct Launch {
    pub rootfs: PathBuf,
    pub scratch: PathBuf,
    pub binary: PathBuf,
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
    for (source, target) in [
        (&launch.hosts, "/etc/hosts"),
        (&launch.resolv_conf, "/etc/resolv.conf"),
        (&launch.hostname_file, "/etc/hostname"),
    ] {
        let _ = writeln!(w, ": >> {target}");
        let _ = writeln!(w, "mount --bind {} {target}", old(source));
    }
    let name = launch
        .binary
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "bao".to_string());
    for dir in BINARY_DIRS {
        let target = &format!("{dir}/{name}");
        let _ = writeln!(w, "mkdir -p \"$(dirname {0})\" && : > {0}", quote(target));
        let _ = writeln!(
            w,
            "mount --bind -o ro {} {}",
            old(&launch.binary),
            quote(target)
        );
    }
    let mut mounts = launch.mounts.clone();
    // Parents before children; stable, so equal depths keep the pod's order.
    mounts.sort_by_key(|m| m.target.trim_end_matches('/').matches('/').count());
    for mount in &mounts {
        let target = quote(&mount.target);
        let _ = writeln!(
            w,
            "if [ -d {src} ]; then mkdir -p {target}; else mkdir -p \"$(dirname {target})\"; : >> {target}; fi",
            src = old(&mount.source)
        );
        let ro = if mount.read_only { " -o ro" } else { "" };
        let _ = writeln!(w, "mount --bind{ro} {} {target}", old(&mount.source));
    }
    let _ = writeln!(w, "umount -l {OLD_ROOT}");
    let _ = writeln!(w, "rmdir {OLD_ROOT}");
    let _ = writeln!(
        w,
        "printf %s {} > /proc/sys/kernel/hostname",
        quote(&launch.hostname)
    );
    if launch.read_only_root {
        w.push_str("mount -o remount,bind,ro /\n");
        for entry in system_entries() {
            if let SystemEntry::Dir(name) = entry {
                let _ = writeln!(w, "mount -o remount,bind,ro /{name}");
            }
        }
    }
    let _ = writeln!(w, "cd {}", quote(&launch.working_dir));
    let mut exec: Vec<String> = vec!["exec".to_owned()];
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
    let mut command: Vec<String> = [
        "nsenter",
        "-t",
        &pid.to_string(),
        "-m",
        "-u",
        "-n",
        "-r",
        "-w",
        "--",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
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
            binary: "/cache/bao".into(),
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
}
