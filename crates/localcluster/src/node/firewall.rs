//! NetworkPolicy enforcement (opt-in, [`crate::NodeOptions::enforce_network_policy`]):
//! kube-router's firewall, the real upstream binary, in the node's network namespace.
//!
//! Pods' traffic crosses the node namespace: between pods over its bridge `br0` (which bridge
//! netfilter hands to iptables' FORWARD chain), from the host through its `uplink`. kube-router
//! (`--run-firewall` only: no routing, no service proxy) watches pods, namespaces and
//! NetworkPolicies through the node's `kubernetes` VIP and programs iptables chains and ipsets
//! there, exactly as it does on a real node. Nothing is programmed in the root namespace.
//!
//! Deleting the node namespace at shutdown removes every chain, rule and ipset it made, so
//! stopping is: SIGTERM (SIGKILL after a grace period), then the network teardown.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use kube::config::Kubeconfig;

use super::network::{self, NodeNetwork};
use crate::process::{self, Process, RunDir};

/// How long kube-router gets to program its top-level chains after it starts. Generous: a
/// loaded 2-core runner is slow, and it first syncs its informers.
const START_TIMEOUT: Duration = Duration::from_secs(90);
/// kube-router's health port, inside the node namespace (free there: nothing else listens).
const HEALTH_PORT: u16 = 20244;
/// The chain kube-router hooks into FORWARD; its jump there means the firewall is in place.
const FORWARD_CHAIN: &str = "KUBE-ROUTER-FORWARD";
/// Last lines of kube-router's log in errors.
const LOG_TAIL_LINES: usize = 30;

/// The running firewall.
pub(crate) struct Firewall {
    process: Process,
}

impl Firewall {
    /// Turns bridge netfilter on in the node namespace, starts kube-router there and waits
    /// until its chains are hooked in. Blocking. `admin_kubeconfig` is rewritten to reach the
    /// API server through the node's `kubernetes` VIP (`service_vip:443`), the only way from
    /// inside the node namespace.
    pub fn start(
        run: &RunDir,
        network: &NodeNetwork,
        node_name: &str,
        admin_kubeconfig: &Path,
        service_vip: &str,
        service_cidr: &str,
    ) -> Result<Self> {
        let binary = crate::kube_router_binary()?;
        check_tools()?;
        bridge_netfilter_on(&network.node_netns)?;
        let kubeconfig = run.path.join("kubeconfigs").join("kube-router.yaml");
        write_kubeconfig(
            admin_kubeconfig,
            &kubeconfig,
            &format!("https://{service_vip}:443"),
        )?;
        let args: Vec<String> = [
            "netns",
            "exec",
            &network.node_netns,
            &binary.display().to_string(),
            "--run-firewall=true",
            "--run-router=false",
            "--run-service-proxy=false",
            &format!("--kubeconfig={}", kubeconfig.display()),
            &format!("--hostname-override={node_name}"),
            &format!("--service-cluster-ip-range={service_cidr}"),
            &format!("--health-port={HEALTH_PORT}"),
            "--metrics-port=0",
            // Policies are applied on every change; the periodic full sync is a safety net.
            "--iptables-sync-period=1m",
        ]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
        let process = process::spawn(run, "kube-router", Path::new("ip"), &args, None)?;
        let mut firewall = Self { process };
        if let Err(e) = firewall.wait_hooked(&network.node_netns) {
            firewall.stop();
            return Err(e);
        }
        Ok(firewall)
    }

    /// Polls until FORWARD in the node namespace jumps to kube-router's chain; fails at once,
    /// with its log, if kube-router exits.
    fn wait_hooked(&mut self, netns: &str) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            self.check_running()?;
            if forward_is_hooked(netns)? {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "kube-router did not hook {FORWARD_CHAIN} into FORWARD in {netns} within {} \
                     s; last lines of {}:\n{}",
                    START_TIMEOUT.as_secs(),
                    self.process.log.display(),
                    process::tail(&self.process.log, LOG_TAIL_LINES)
                );
            }
            thread::sleep(Duration::from_millis(200));
        }
    }

    /// `Err` with the last lines of its log once kube-router has exited.
    pub fn check_running(&mut self) -> Result<()> {
        match self.process.exit_status() {
            Some(status) => bail!(
                "kube-router (the node's NetworkPolicy firewall) exited with {status}; last \
                 lines of {}:\n{}",
                self.process.log.display(),
                process::tail(&self.process.log, LOG_TAIL_LINES)
            ),
            None => Ok(()),
        }
    }

    /// SIGTERM, a grace period, SIGKILL. Its chains and ipsets go with the node namespace.
    pub fn stop(&mut self) {
        process::terminate(std::slice::from_mut(&mut self.process), super::STOP_GRACE);
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// kube-router's log file.
    pub fn log(&self) -> PathBuf {
        self.process.log.clone()
    }
}

/// Fails, naming the package and the setup command, when a tool kube-router shells out to is
/// missing.
fn check_tools() -> Result<()> {
    let dirs = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];
    let path = std::env::var_os("PATH").unwrap_or_default();
    let search: Vec<PathBuf> = std::env::split_paths(&path)
        .chain(dirs.iter().map(PathBuf::from))
        .collect();
    let missing: Vec<&str> = ["iptables", "iptables-save", "iptables-restore", "ipset"]
        .into_iter()
        .filter(|tool| !search.iter().any(|d| d.join(tool).is_file()))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    bail!(
        "NetworkPolicy enforcement needs {} (Debian packages iptables and ipset); install them \
         with: {} --only netstack",
        missing.join(", "),
        crate::setup_command()
    )
}

/// `net.bridge.bridge-nf-call-iptables=1` in the node namespace, so traffic between pods on
/// `br0` passes iptables' FORWARD chain (it is per namespace; the root's is left alone).
fn bridge_netfilter_on(netns: &str) -> Result<()> {
    const SYSCTL: &str = "/proc/sys/net/bridge/bridge-nf-call-iptables";
    let output = Command::new("ip")
        .args(["netns", "exec", netns, "/bin/sh", "-c"])
        .arg(format!("echo 1 > {SYSCTL} && cat {SYSCTL}"))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| network::missing_tool("ip", "iproute2", e))?;
    let value = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() || value.trim() != "1" {
        bail!(
            "turning bridge netfilter on in {netns} ({SYSCTL}): {}; the kernel needs \
             br_netfilter (modprobe br_netfilter)",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// Whether FORWARD in `netns` jumps to kube-router's chain.
fn forward_is_hooked(netns: &str) -> Result<bool> {
    let output = Command::new("ip")
        .args([
            "netns", "exec", netns, "iptables", "-w", "5", "-S", "FORWARD",
        ])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| network::missing_tool("ip", "iproute2", e))?;
    Ok(output.status.success()
        && String::from_utf8_lossy(&output.stdout)
            .lines()
            .any(|rule| rule.ends_with(&format!("-j {FORWARD_CHAIN}"))))
}

/// Writes a copy of the kubeconfig at `from` whose clusters point at `server` (mode 0600: it
/// holds the admin's key).
fn write_kubeconfig(from: &Path, to: &Path, server: &str) -> Result<()> {
    let mut kubeconfig =
        Kubeconfig::read_from(from).with_context(|| format!("reading {}", from.display()))?;
    for cluster in &mut kubeconfig.clusters {
        if let Some(cluster) = cluster.cluster.as_mut() {
            cluster.server = Some(server.to_owned());
        }
    }
    let yaml = serde_yaml::to_string(&kubeconfig)?;
    if let Some(dir) = to.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    crate::pki::write_file(to, &yaml, 0o600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_firewalls_kubeconfig_points_at_the_vip_and_keeps_the_credentials() {
        let dir = tempfile::tempdir().expect("dir");
        let from = dir.path().join("admin.yaml");
        fs::write(
            &from,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: localcluster\n  cluster:\n    \
             server: https://127.0.0.1:6443\n    certificate-authority-data: Q0E=\nusers:\n- \
             name: admin\n  user:\n    client-key-data: S0VZ\ncontexts:\n- name: c\n  \
             context:\n    cluster: localcluster\n    user: admin\ncurrent-context: c\n",
        )
        .expect("write");
        let to = dir.path().join("sub").join("kube-router.yaml");
        write_kubeconfig(&from, &to, "https://10.96.0.1:443").expect("rewrite");
        let written = Kubeconfig::read_from(&to).expect("readable");
        let cluster = written.clusters[0].cluster.as_ref().expect("cluster");
        assert_eq!(cluster.server.as_deref(), Some("https://10.96.0.1:443"));
        assert_eq!(cluster.certificate_authority_data.as_deref(), Some("Q0E="));
        assert_eq!(written.current_context.as_deref(), Some("c"));
        let text = fs::read_to_string(&to).expect("read");
        assert!(text.contains("S0VZ"), "{text}");
        assert!(!text.contains("127.0.0.1"), "{text}");
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&to).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
