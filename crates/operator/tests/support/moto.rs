//! A real S3-compatible server for tests: moto's server (PyPI `moto[server]`, installed by
//! `hack/setup.sh` into the cache, `MOTO_SERVER` in its env file) on a free loopback port, with
//! signature checking on: a bucket and an access key are created through its first four
//! unauthenticated calls (`moto_bootstrap.py`), after which a wrong secret is refused.

#![allow(dead_code)]

use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A running moto server with one bucket and its credentials.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// The bucket.
    pub bucket: String,
    /// Access key ID.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_server() -> PathBuf {
    let path = std::env::var_os("MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!("MOTO_SERVER is not set: run `bash hack/setup.sh` and source its env file")
        });
    assert!(
        path.exists(),
        "MOTO_SERVER={} does not exist: run `bash hack/setup.sh`",
        path.display()
    );
    path
}

impl Moto {
    /// Start moto on loopback with bucket `bucket`.
    pub fn start(bucket: &str) -> Self {
        Self::start_on(bucket, "127.0.0.1")
    }

    /// Start moto on `address` (an address of this host) with bucket `bucket`.
    pub fn start_on(bucket: &str, address: &str) -> Self {
        let server = moto_server();
        let python = server.with_file_name("python3");
        let port = TcpListener::bind((address, 0))
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(&server)
            .args(["-H", address, "-p", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "4")
            // Path-style buckets whatever the host is called (an in-cluster Service name such
            // as moto.<ns>.svc would otherwise be read as bucket "moto").
            .env("S3_IGNORE_SUBDOMAIN_BUCKETNAME", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", server.display()));
        let endpoint = format!("http://{address}:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect((address, port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto did not listen on {endpoint}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/moto_bootstrap.py");
        let out = Command::new(&python)
            .arg(&script)
            .args([&endpoint, bucket])
            .output()
            .expect("run moto_bootstrap.py");
        assert!(
            out.status.success(),
            "moto_bootstrap.py: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let keys: serde_json::Value = serde_json::from_slice(&out.stdout).expect("keys JSON");
        Self {
            child,
            endpoint,
            bucket: bucket.to_string(),
            access_key_id: keys["accessKeyId"].as_str().expect("key id").to_string(),
            secret_access_key: keys["secretAccessKey"]
                .as_str()
                .expect("secret")
                .to_string(),
        }
    }
}
