//! `spec.plugins` against the real `bao` (OpenBao 2.7.2) and a real plugin binary: the
//! `plugin_directory` line and the `plugin` stanzas the operator renders into `config.hcl` are
//! run by `bao server`, which must register the plugin in its catalog and run it, and must
//! refuse a binary whose SHA-256 does not match. The plugin is HashiCorp's Azure secrets engine
//! built from its Go module by `hack/test-plugin.sh` (`$OPENBAO_TEST_PLUGIN`); the test fails,
//! naming the command, when it is not built.
//!
//! One substitution is made: the pods' plugin directory `/openbao/plugins` becomes a temp
//! directory holding the binary (a pod gets it from its image, or from an OCI download).
//! Around the rendered lines sits a minimal loopback server (plain HTTP, Raft in a temp dir,
//! Shamir keys): the pods' TLS, seal and service registration need Kubernetes.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use operator::desired::{ValidatedCluster, config_hcl};
use serde_json::{Value, json};

/// The test plugin: `$OPENBAO_TEST_PLUGIN`, else where `hack/test-plugin.sh` caches it.
fn test_plugin() -> (PathBuf, String) {
    let path = std::env::var_os("OPENBAO_TEST_PLUGIN")
        .filter(|p| !p.is_empty())
        .map_or_else(
            || {
                let cache = std::env::var_os("OPENBAO_OPERATOR_CACHE").map_or_else(
                    || {
                        PathBuf::from(std::env::var_os("HOME").expect("HOME"))
                            .join(".cache/openbao-operator")
                    },
                    PathBuf::from,
                );
                cache.join("plugins/v0.16.0/vault-plugin-secrets-azure")
            },
            PathBuf::from,
        );
    let sum = std::fs::read_to_string(path.with_extension("sha256")).unwrap_or_else(|e| {
        panic!(
            "the test plugin is not built ({}: {e}); build it with: bash hack/test-plugin.sh \
             (or bash hack/setup.sh --only plugin)",
            path.display()
        )
    });
    (path, sum.trim().to_string())
}

fn bao() -> PathBuf {
    localcluster::bao_binary().unwrap_or_else(|e| panic!("{e:#}"))
}

/// The cluster as the operator sees it once initialized (secret plugins are rendered then).
fn initialized_cluster(plugins: Value, unseal: Value) -> ValidatedCluster {
    let mut cluster: api::OpenBaoCluster = serde_json::from_value(json!({
        "apiVersion": "openbao.org/v1alpha1",
        "kind": "OpenBaoCluster",
        "metadata": {"name": "bao", "namespace": "plugins"},
        "spec": {"version": "2.7.2", "unseal": unseal, "plugins": plugins},
    }))
    .expect("a cluster");
    cluster.status = Some(api::OpenBaoClusterStatus {
        initialized: true,
        ..Default::default()
    });
    ValidatedCluster::new(cluster).unwrap_or_else(|e| panic!("valid: {e}"))
}

/// The rendered `plugin_directory` line and every `plugin` stanza, with the plugin directory
/// moved to `plugin_dir`; `seal` stanzas too when `with_seal`.
fn rendered_plugin_lines(cluster: &ValidatedCluster, plugin_dir: &Path, with_seal: bool) -> String {
    let config = config_hcl::render(cluster);
    let directory = format!("plugin_directory = \"{}\"", config_hcl::PLUGIN_DIR);
    assert!(config.contains(&directory), "{config}");
    let mut out = format!("plugin_directory = \"{}\"\n", plugin_dir.display());
    let mut inside = false;
    for line in config.lines() {
        if line.starts_with("plugin \"") || (with_seal && line.starts_with("seal \"")) {
            inside = true;
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
        if line == "}" {
            inside = false;
        }
    }
    assert!(
        out.contains("plugin \""),
        "no plugin stanza rendered:\n{config}"
    );
    out
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A `bao server` on loopback with `extra` appended to a minimal configuration.
struct Server {
    child: Child,
    dir: tempfile::TempDir,
    addr: String,
}

impl Server {
    /// The server, with `binary` in its plugin directory before it starts.
    fn start(extra: &str, plugin_dir_from: &Path, binary: &Path) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let plugins = dir.path().join("plugins");
        std::fs::create_dir(&plugins).expect("mkdir");
        std::fs::copy(binary, plugins.join("vault-plugin-secrets-azure")).expect("copy plugin");
        let (api, cluster) = (free_port(), free_port());
        let config = format!(
            "api_addr = \"http://127.0.0.1:{api}\"\ncluster_addr = \"https://127.0.0.1:{cluster}\"\n\
             listener \"tcp\" {{\n  address = \"127.0.0.1:{api}\"\n  cluster_address = \"127.0.0.1:{cluster}\"\n  tls_disable = true\n}}\n\
             storage \"raft\" {{\n  path = \"{}\"\n  node_id = \"bao-0\"\n  performance_multiplier = 1\n}}\n{}",
            dir.path().display(),
            extra.replace(
                &plugin_dir_from.display().to_string(),
                &plugins.display().to_string()
            ),
        );
        std::fs::write(dir.path().join("config.hcl"), &config).expect("config");
        let log = std::fs::File::create(dir.path().join("log")).expect("log");
        let child = Command::new(bao())
            .arg("server")
            .arg(format!(
                "-config={}",
                dir.path().join("config.hcl").display()
            ))
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("bao server");
        Self {
            child,
            dir,
            addr: format!("http://127.0.0.1:{api}"),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    /// Waits for the process to exit on its own; its log.
    fn exited(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.child.try_wait().expect("wait").is_some() {
                return self.log();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("bao kept running; log:\n{}", self.log());
    }

    /// Init (one Shamir key) and unseal; the root token.
    async fn init_and_unseal(&self, http: &reqwest::Client) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        let init: Value = loop {
            match http
                .put(format!("{}/v1/sys/init", self.addr))
                .json(&json!({"secret_shares": 1, "secret_threshold": 1}))
                .send()
                .await
            {
                Ok(r) => break r.json().await.expect("init JSON"),
                // Not listening yet.
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("sys/init: {e}; log:\n{}", self.log()),
            }
        };
        let token = init["root_token"]
            .as_str()
            .unwrap_or_else(|| panic!("init answered {init}; log:\n{}", self.log()))
            .to_string();
        let key = init["keys"][0].as_str().expect("a key").to_string();
        http.put(format!("{}/v1/sys/unseal", self.addr))
            .json(&json!({"key": key}))
            .send()
            .await
            .expect("unseal");
        // Active once the post-unseal setup (declarative plugins included) has run.
        loop {
            let health = http
                .get(format!("{}/v1/sys/health", self.addr))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .ok();
            if health == Some(200) {
                return token;
            }
            assert!(
                Instant::now() < deadline,
                "not active: {health:?}; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_preconfigured(
            rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
        )
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

fn secret_plugin(sum: &str) -> Value {
    json!([{"type": "secret", "name": "azure-test", "command": "vault-plugin-secrets-azure",
            "version": "v0.16.0", "sha256sum": sum}])
}

async fn mount(http: &reqwest::Client, server: &Server, token: &str) -> (u16, Value) {
    let response = http
        .post(format!("{}/v1/sys/mounts/azure", server.addr))
        .header("X-Vault-Token", token)
        .json(&json!({"type": "azure-test"}))
        .send()
        .await
        .expect("sys/mounts");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_rendered_command_plugin_is_registered_in_the_catalog_and_mounts_from_the_plugin_directory()
 {
    let (binary, sum) = test_plugin();
    let cluster = initialized_cluster(secret_plugin(&sum), json!({"type": "static"}));
    let from = Path::new(config_hcl::PLUGIN_DIR);
    let lines = rendered_plugin_lines(&cluster, from, false);
    let server = Server::start(&lines, from, &binary);
    let http = http();
    let token = server.init_and_unseal(&http).await;

    let catalog: Value = http
        .get(format!("{}/v1/sys/plugins/catalog", server.addr))
        .header("X-Vault-Token", &token)
        .send()
        .await
        .expect("catalog")
        .json()
        .await
        .expect("catalog JSON");
    let entry = catalog["data"]["detailed"]
        .as_array()
        .expect("detailed catalog")
        .iter()
        .find(|p| p["name"] == "azure-test")
        .unwrap_or_else(|| panic!("azure-test not in the catalog: {catalog}"));
    assert_eq!(entry["type"], "secret");
    assert_eq!(entry["version"], "v0.16.0");
    assert_eq!(entry["sha256"], sum.as_str());
    assert_eq!(entry["builtin"], false);

    let (status, body) = mount(&http, &server, &token).await;
    assert_eq!(
        status,
        204,
        "mounting the plugin: {body}; log:\n{}",
        server.log()
    );
    let mounted: Value = http
        .get(format!("{}/v1/sys/mounts/azure", server.addr))
        .header("X-Vault-Token", &token)
        .send()
        .await
        .expect("mount")
        .json()
        .await
        .expect("mount JSON");
    assert_eq!(mounted["running_sha256"], sum.as_str(), "{mounted}");
}

#[tokio::test]
async fn a_plugin_whose_checksum_does_not_match_is_never_run() {
    let (binary, _) = test_plugin();
    let wrong = "0".repeat(64);
    let cluster = initialized_cluster(secret_plugin(&wrong), json!({"type": "static"}));
    let from = Path::new(config_hcl::PLUGIN_DIR);
    let server = Server::start(&rendered_plugin_lines(&cluster, from, false), from, &binary);
    let http = http();
    let token = server.init_and_unseal(&http).await;
    let (status, body) = mount(&http, &server, &token).await;
    assert_ne!(status, 204, "a mismatching binary was mounted");
    assert!(
        body.to_string().contains("checksums did not match"),
        "{status} {body}"
    );
}

#[test]
fn a_kms_seal_starts_the_plugin_declared_under_its_name_and_refuses_a_wrong_checksum() {
    let (binary, sum) = test_plugin();
    let from = Path::new(config_hcl::PLUGIN_DIR);
    for (checksum, expected) in [
        // The Azure secrets engine is no KMS plugin: bao starts it for the seal, and the
        // handshake then fails. That it starts exactly this binary is the wiring under test.
        (
            sum.as_str(),
            "Error configuring seal \"corp-kms\": start plugin client",
        ),
        (&"0".repeat(64), "checksums did not match"),
    ] {
        let cluster = initialized_cluster(
            json!([{"type": "kms", "name": "corp-kms", "command": "vault-plugin-secrets-azure",
                    "sha256sum": checksum}]),
            json!({"type": "kms", "kms": {"pluginName": "corp-kms"}}),
        );
        let mut server = Server::start(&rendered_plugin_lines(&cluster, from, true), from, &binary);
        let log = server.exited();
        assert!(log.contains(expected), "{expected:?} not in:\n{log}");
        if checksum == sum {
            assert!(log.contains("vault-plugin-secrets-azure"), "{log}");
        }
    }
}
