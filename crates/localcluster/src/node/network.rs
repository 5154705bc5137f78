//! The node's network: a node namespace with a pod bridge and one veth into the root
//! namespace, a network namespace per pod, listeners bound inside the node namespace, and the
//! sweep that removes the namespaces of dead runs.
//!
//! Everything is done with iproute2's `ip` (no netlink code of our own), plus `setns(2)` on a
//! short-lived thread to bind sockets inside the node namespace (see [`NodeNetwork::bind_tcp`]).

use std::{
    collections::BTreeSet,
    fs::{self, File},
    io::Write,
    net::{Ipv4Addr, SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{
        Mutex,
        atomic::{AtomicU32, AtomicU64, Ordering},
    },
    thread,
};

use anyhow::{Context, Result, anyhow, bail};
use nix::sched::{CloneFlags, setns};

use crate::process::{self, RunDir};

/// First characters of every network namespace this crate creates (and of the root-side veth).
pub(crate) const NETNS_PREFIX: &str = "olc-";
/// Where `ip netns` keeps named namespaces.
const NETNS_DIR: &str = "/run/netns";
/// The bridge holding the node side of every pod's veth (inside the node namespace).
const BRIDGE: &str = "br0";
/// The node side of the root link (inside the node namespace).
const UPLINK: &str = "uplink";
/// Pods get host numbers 2..=250 of the pod /24; .1 is the bridge gateway and .252/30 is the
/// link between the root and the node namespace.
const FIRST_POD_HOST: u8 = 2;
const LAST_POD_HOST: u8 = 250;
const ROOT_LINK_HOST: u8 = 253;
const UPLINK_HOST: u8 = 254;
/// Name of the file in the run directory that lists this run's namespaces, one a line, for the
/// janitor (see `process`), which deletes them when the owning process dies.
pub(crate) const NETNS_RECORD: &str = "netns";

/// The kernel limits interface names to 15 bytes.
const IFNAMSIZ: usize = 15;

/// One pod's network: its namespace (or the node's, for `hostNetwork` pods) and address.
#[derive(Clone, Debug)]
pub(crate) struct Sandbox {
    pub netns: String,
    pub ip: Ipv4Addr,
    /// Host number in the pod /24; `None` for host-network pods, which own nothing.
    host: Option<u8>,
}

impl Sandbox {
    /// `/run/netns/<name>`, for `nsenter --net=`.
    pub fn netns_path(&self) -> PathBuf {
        netns_path(&self.netns)
    }
}

/// The node namespace, its bridge and root link, and the pod address allocator.
pub(crate) struct NodeNetwork {
    /// `olc-<pid>-<start time>-<n>`: unique per control plane, parseable by the sweep.
    prefix: String,
    pub node_netns: String,
    /// The third octet of the pod CIDR `10.244.<subnet>.0/24`.
    subnet: u8,
    /// The root-namespace end of the link, `olc<subnet>`.
    pub root_link: String,
    record: PathBuf,
    used_hosts: Mutex<BTreeSet<u8>>,
    next_sandbox: AtomicU32,
}

impl std::fmt::Debug for NodeNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeNetwork")
            .field("node_netns", &self.node_netns)
            .field("pod_cidr", &self.pod_cidr())
            .finish_non_exhaustive()
    }
}

impl NodeNetwork {
    /// Creates the node namespace (bridge, forwarding, the API address on its loopback) and
    /// the root link with the route to the pod CIDR. The pod /24 is the first one in
    /// 10.244.1.0-10.244.250.0 that no root-namespace route touches and whose link name is
    /// free, which makes concurrent runs (other test binaries) pick different ones.
    pub fn create(run: &RunDir, api_address: Ipv4Addr) -> Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let pid = std::process::id();
        let start = process::proc_start_time(pid).unwrap_or(0);
        let prefix = format!(
            "{NETNS_PREFIX}{pid}-{start}-{}",
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let node_netns = format!("{prefix}-node");
        let record = run.path.join(NETNS_RECORD);
        add_netns(&record, &node_netns)?;
        match Self::wire(&prefix, &node_netns, record.clone(), api_address) {
            Ok(network) => Ok(network),
            Err(e) => {
                // Deleting the namespace also deletes the veth pair and the root route.
                let _ = ip(&["netns", "del", &node_netns]);
                Err(e)
            }
        }
    }

    fn wire(
        prefix: &str,
        node_netns: &str,
        record: PathBuf,
        api_address: Ipv4Addr,
    ) -> Result<Self> {
        let taken = root_routes()?;
        let offset = std::process::id() % 250;
        let mut chosen = None;
        for i in 0..250u32 {
            let subnet = u8::try_from((offset + i) % 250 + 1)?;
            let cidr = (Ipv4Addr::new(10, 244, subnet, 0), 24);
            if taken.iter().any(|route| overlaps(*route, cidr)) {
                continue;
            }
            let link = format!("olc{subnet}");
            // Creating the link is the allocation: the kernel refuses a second one with the
            // same name, so two runs racing for one subnet cannot both win.
            match ip(&[
                "link", "add", &link, "type", "veth", "peer", "name", UPLINK, "netns", node_netns,
            ]) {
                Ok(()) => {
                    chosen = Some((subnet, link));
                    break;
                }
                Err(e) if e.to_string().contains("File exists") => continue,
                Err(e) => return Err(e),
            }
        }
        let (subnet, root_link) = chosen.ok_or_else(|| {
            anyhow!(
                "no free pod subnet: every 10.244.N.0/24 (N = 1..250) is routed in the root \
                 namespace or in use by another run"
            )
        })?;
        let network = Self {
            prefix: prefix.to_owned(),
            node_netns: node_netns.to_owned(),
            subnet,
            root_link,
            record,
            used_hosts: Mutex::new(BTreeSet::new()),
            next_sandbox: AtomicU32::new(0),
        };
        let gateway = network.gateway().to_string();
        let root_addr = format!("{}/30", network.host(ROOT_LINK_HOST));
        let uplink_addr = format!("{}/30", network.host(UPLINK_HOST));
        ip_batch(
            Some(node_netns),
            &[
                "link set lo up".to_owned(),
                format!("addr add {api_address}/32 dev lo"),
                format!("addr add {uplink_addr} dev {UPLINK}"),
                format!("link set {UPLINK} up"),
                format!("link add {BRIDGE} type bridge"),
                format!("addr add {gateway}/24 dev {BRIDGE}"),
                format!("link set {BRIDGE} up"),
            ],
        )?;
        // Forwarding between the root link and the bridge happens in the node namespace only;
        // the root namespace never forwards (its own setting is left alone). No default route
        // exists in the node namespace, so pod traffic cannot go anywhere but pods, the node
        // and the root namespace's link address.
        let forward = Command::new("ip")
            .args(["netns", "exec", node_netns, "/bin/sh", "-c"])
            .arg("echo 1 > /proc/sys/net/ipv4/ip_forward")
            .output()
            .context("running ip netns exec")?;
        if !forward.status.success() {
            bail!(
                "enabling IPv4 forwarding in {node_netns}: {}",
                String::from_utf8_lossy(&forward.stderr).trim()
            );
        }
        ip(&["addr", "add", &root_addr, "dev", &network.root_link])?;
        ip(&["link", "set", &network.root_link, "up"])?;
        ip(&[
            "route",
            "add",
            &network.pod_cidr(),
            "via",
            &network.host(UPLINK_HOST).to_string(),
            "dev",
            &network.root_link,
        ])?;
        Ok(network)
    }

    /// `10.244.<n>.0/24`.
    pub fn pod_cidr(&self) -> String {
        format!("10.244.{}.0/24", self.subnet)
    }

    /// The bridge address in the node namespace: pods' default gateway and the node's IP.
    pub fn gateway(&self) -> Ipv4Addr {
        self.host(1)
    }

    fn host(&self, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 244, self.subnet, host)
    }

    /// The root namespace's end of the node's link: the one host address pods can reach.
    pub fn root_address(&self) -> Ipv4Addr {
        self.host(ROOT_LINK_HOST)
    }

    /// Creates a pod's namespace with a veth on the bridge and the next free address, or, for
    /// `host_network`, hands out the node namespace itself.
    pub fn add_pod(&self, host_network: bool) -> Result<Sandbox> {
        if host_network {
            return Ok(Sandbox {
                netns: self.node_netns.clone(),
                ip: self.gateway(),
                host: None,
            });
        }
        let host = {
            let mut used = lock(&self.used_hosts);
            let free = (FIRST_POD_HOST..=LAST_POD_HOST)
                .find(|h| !used.contains(h))
                .ok_or_else(|| anyhow!("the pod CIDR {} is exhausted", self.pod_cidr()))?;
            used.insert(free);
            free
        };
        let sequence = self.next_sandbox.fetch_add(1, Ordering::Relaxed);
        let sandbox = Sandbox {
            netns: format!("{}-p{sequence}", self.prefix),
            ip: self.host(host),
            host: Some(host),
        };
        let veth = format!("vp{sequence}");
        if veth.len() > IFNAMSIZ {
            bail!("interface name {veth} is too long");
        }
        let wired = add_netns(&self.record, &sandbox.netns).and_then(|()| {
            ip_batch(
                Some(&self.node_netns),
                &[
                    format!(
                        "link add {veth} type veth peer name eth0 netns {}",
                        sandbox.netns
                    ),
                    format!("link set {veth} master {BRIDGE} up"),
                ],
            )?;
            let gateway = self.gateway();
            ip_batch(
                Some(&sandbox.netns),
                &[
                    "link set lo up".to_owned(),
                    format!("addr add {}/24 dev eth0", sandbox.ip),
                    "link set eth0 up".to_owned(),
                    format!("route add default via {gateway}"),
                    // The root link's /30 lies inside the pod /24; without this route a pod
                    // would ARP for the root namespace's address (the source of probes and
                    // test traffic) on the bridge instead of answering through the node.
                    format!(
                        "route add {}/30 via {gateway}",
                        self.host(ROOT_LINK_HOST & !3)
                    ),
                ],
            )
        });
        if let Err(e) = wired {
            self.remove_pod(&sandbox);
            return Err(e.context(format!(
                "creating the network of pod sandbox {}",
                sandbox.netns
            )));
        }
        Ok(sandbox)
    }

    /// Deletes a pod's namespace (which removes its veth pair) and frees its address. The
    /// caller stops the pod's processes first: a namespace lives on while a process uses it.
    pub fn remove_pod(&self, sandbox: &Sandbox) {
        let Some(host) = sandbox.host else {
            return;
        };
        if netns_path(&sandbox.netns).exists()
            && let Err(e) = ip(&["netns", "del", &sandbox.netns])
        {
            tracing::warn!("deleting network namespace {}: {e:#}", sandbox.netns);
        }
        lock(&self.used_hosts).remove(&host);
    }

    /// Deletes every pod namespace left and the node namespace: the bridge, the veth pair and
    /// the root route go with it.
    pub fn teardown(&self) {
        let pods = format!("{}-p", self.prefix);
        for entry in fs::read_dir(NETNS_DIR).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(&pods)
                && let Err(e) = ip(&["netns", "del", &name])
            {
                tracing::warn!("deleting network namespace {name}: {e:#}");
            }
        }
        if netns_path(&self.node_netns).exists()
            && let Err(e) = ip(&["netns", "del", &self.node_netns])
        {
            tracing::warn!("deleting network namespace {}: {e:#}", self.node_netns);
        }
    }

    /// A listener bound to `addr` inside the node namespace.
    ///
    /// A socket belongs to the network namespace of the thread that creates it, and `setns`
    /// moves only the calling thread. So a throwaway thread enters the node namespace, binds,
    /// and exits; the listener keeps working from any thread (accepted connections are in the
    /// node namespace, while connections *we* open elsewhere stay in the root namespace).
    pub fn bind_tcp(&self, addr: SocketAddr) -> Result<TcpListener> {
        let path = netns_path(&self.node_netns);
        let namespace = File::open(&path).with_context(|| format!("opening {}", path.display()))?;
        thread::Builder::new()
            .name("localcluster-netns-bind".into())
            .spawn(move || -> Result<TcpListener> {
                setns(&namespace, CloneFlags::CLONE_NEWNET)
                    .context("entering the node network namespace (setns)")?;
                let listener =
                    TcpListener::bind(addr).with_context(|| format!("binding {addr}"))?;
                listener.set_nonblocking(true)?;
                Ok(listener)
            })?
            .join()
            .map_err(|_| anyhow!("the netns bind thread panicked"))?
    }
}

/// A TCP socket (not yet connected) created inside the network namespace at `netns`, like
/// [`NodeNetwork::bind_tcp`]'s listener: connecting it from any thread connects from that
/// namespace. For `addr`'s address family.
pub(crate) fn tcp_socket_in(netns: &Path, addr: SocketAddr) -> Result<tokio::net::TcpSocket> {
    let namespace = File::open(netns).with_context(|| format!("opening {}", netns.display()))?;
    thread::Builder::new()
        .name("localcluster-netns-socket".into())
        .spawn(move || -> Result<tokio::net::TcpSocket> {
            setns(&namespace, CloneFlags::CLONE_NEWNET)
                .context("entering the node network namespace (setns)")?;
            Ok(if addr.is_ipv4() {
                tokio::net::TcpSocket::new_v4()?
            } else {
                tokio::net::TcpSocket::new_v6()?
            })
        })?
        .join()
        .map_err(|_| anyhow!("the netns socket thread panicked"))?
}

/// `/run/netns/<name>`.
pub(crate) fn netns_path(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

/// Deletes the namespaces of runs whose owner process is gone (names carry its pid and start
/// time). Deleting a node namespace also removes its root link and route. Returns how many
/// were removed.
pub(crate) fn sweep_dead_netns() -> usize {
    let Ok(entries) = fs::read_dir(NETNS_DIR) else {
        return 0;
    };
    let mut swept = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((pid, start)) = owner_of(&name) else {
            continue;
        };
        if process::is_alive(pid, start) {
            continue;
        }
        match ip(&["netns", "del", &name]) {
            Ok(()) => swept += 1,
            Err(e) => tracing::warn!("sweeping network namespace {name}: {e:#}"),
        }
    }
    swept
}

/// `(pid, start time)` from `olc-<pid>-<start>-...`.
fn owner_of(name: &str) -> Option<(u32, u64)> {
    let mut fields = name.strip_prefix(NETNS_PREFIX)?.split('-');
    Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
}

fn add_netns(record: &Path, name: &str) -> Result<()> {
    // Recorded first, so the janitor also finds a namespace whose creation was interrupted.
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(record)
        .with_context(|| format!("opening {}", record.display()))?;
    writeln!(file, "{name}")?;
    ip(&["netns", "add", name])
}

/// Runs `ip ARGS`; the error carries ip's message.
pub(crate) fn ip(args: &[&str]) -> Result<()> {
    let output = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| missing_tool("ip", "iproute2", e))?;
    if output.status.success() {
        return Ok(());
    }
    bail!(
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr).trim()
    )
}

/// Runs several `ip` commands in one process (`ip -batch -`), optionally inside a namespace.
fn ip_batch(netns: Option<&str>, commands: &[String]) -> Result<()> {
    let mut command = Command::new("ip");
    if let Some(netns) = netns {
        command.args(["-n", netns]);
    }
    let mut child = command
        .args(["-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| missing_tool("ip", "iproute2", e))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(commands.join("\n").as_bytes())?;
        stdin.write_all(b"\n")?;
    }
    let output = child.wait_with_output()?;
    if output.status.success() {
        return Ok(());
    }
    bail!(
        "ip{} -batch [{}]: {}",
        netns.map(|n| format!(" -n {n}")).unwrap_or_default(),
        commands.join("; "),
        String::from_utf8_lossy(&output.stderr).trim()
    )
}

/// The error for a command that is not installed, naming the Debian package that has it.
pub(crate) fn missing_tool(tool: &str, package: &str, error: std::io::Error) -> anyhow::Error {
    if error.kind() == std::io::ErrorKind::NotFound {
        anyhow!(
            "`{tool}` is not installed; the localcluster node needs it (Debian package \
             {package}: apt-get install -y {package})"
        )
    } else {
        anyhow!("running {tool}: {error}")
    }
}

/// Destinations of the root namespace's IPv4 routes (the default route excluded).
fn root_routes() -> Result<Vec<(Ipv4Addr, u8)>> {
    let output = Command::new("ip")
        .args(["-4", "-o", "route", "show", "table", "all"])
        .output()
        .map_err(|e| missing_tool("ip", "iproute2", e))?;
    if !output.status.success() {
        bail!(
            "ip route show: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            // "10.0.0.0/8 via ...", "local 127.0.0.1 dev lo ...", "broadcast ..."
            let mut words = line.split_whitespace();
            let mut first = words.next()?;
            if matches!(
                first,
                "local" | "broadcast" | "unicast" | "anycast" | "multicast"
            ) {
                first = words.next()?;
            }
            parse_prefix(first)
        })
        .collect())
}

fn parse_prefix(text: &str) -> Option<(Ipv4Addr, u8)> {
    let (addr, len) = match text.split_once('/') {
        Some((addr, len)) => (addr, len.parse().ok()?),
        None => (text, 32),
    };
    Some((addr.parse().ok()?, len))
}

/// Whether two IPv4 prefixes share any address (one contains the other's network).
fn overlaps(a: (Ipv4Addr, u8), b: (Ipv4Addr, u8)) -> bool {
    let shorter = a.1.min(b.1);
    let mask = if shorter == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(shorter.min(32)))
    };
    (u32::from(a.0) & mask) == (u32::from(b.0) & mask)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_overlap_when_one_contains_the_other() {
        let pods = (Ipv4Addr::new(10, 244, 7, 0), 24);
        assert!(overlaps((Ipv4Addr::new(10, 0, 0, 0), 8), pods));
        assert!(overlaps((Ipv4Addr::new(10, 244, 7, 9), 32), pods));
        assert!(!overlaps((Ipv4Addr::new(10, 244, 8, 0), 24), pods));
        assert!(!overlaps((Ipv4Addr::new(192, 0, 2, 0), 24), pods));
        assert_eq!(
            parse_prefix("10.1.0.0/16"),
            Some((Ipv4Addr::new(10, 1, 0, 0), 16))
        );
        assert_eq!(parse_prefix("default"), None);
    }

    #[test]
    fn the_sweep_deletes_namespaces_whose_owner_is_gone() {
        if !nix::unistd::Uid::effective().is_root() {
            eprintln!("skipped: network namespaces need root");
            return;
        }
        // A reaped child stands in for a crashed run (its pid is dead, or reused with another
        // start time).
        let mut dead = Command::new("true").spawn().expect("spawn true");
        let pid = dead.id();
        dead.wait().expect("wait");
        let name = format!("{NETNS_PREFIX}{pid}-1-0-node");
        ip(&["netns", "add", &name]).expect("ip netns add");
        let me = std::process::id();
        let live = format!(
            "{NETNS_PREFIX}{me}-{}-999-node",
            process::proc_start_time(me).expect("we run")
        );
        ip(&["netns", "add", &live]).expect("ip netns add");
        sweep_dead_netns();
        assert!(!netns_path(&name).exists(), "{name} survived the sweep");
        assert!(netns_path(&live).exists(), "{live} belongs to a live run");
        ip(&["netns", "del", &live]).expect("ip netns del");
    }

    #[test]
    fn namespace_names_carry_their_owner() {
        assert_eq!(owner_of("olc-123-456-0-node"), Some((123, 456)));
        assert_eq!(owner_of("olc-123-456-2-p17"), Some((123, 456)));
        assert_eq!(owner_of("pn-node"), None);
        assert_eq!(owner_of("olc-x-1"), None);
    }
}
