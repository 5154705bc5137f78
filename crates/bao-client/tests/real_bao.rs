//! The client against real OpenBao servers (`bao` 2.7.2, Raft, TLS, static seal) on loopback.
//! No mocks: every answer here comes from a real server process started by `support`.

mod support;

use std::{net::SocketAddr, time::Duration};

use bao_client::{
    AutopilotConfigurationUpdate, BaoClient, ClientConfig, Error, Health, InitRequest, RestoreMode,
    SecretString,
};
use serde_json::json;
use support::{BaoCluster, TestPki, eventually};

const SLOW: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_three_node_cluster_goes_from_uninitialized_to_one_active_node_two_standbys_and_three_voters()
 {
    let cluster = BaoCluster::start(3).await;

    for i in 0..3 {
        match cluster.client(i).health().await.expect("health") {
            Health::Uninitialized(info) => {
                assert!(!info.initialized);
                assert_eq!(info.version, "2.7.2");
            }
            other => panic!("node {i} should be uninitialized, is {other:?}"),
        }
    }
    let seal = cluster.client(0).seal_status().await.expect("seal status");
    assert_eq!(seal.seal_type, "static");
    assert!(!seal.initialized);
    assert!(seal.recovery_seal);
    assert_eq!(seal.storage_type.as_deref(), Some("raft"));
    let err = cluster.client(0).leader().await.expect_err("no leader yet");
    assert_eq!(err.category(), "sealed", "{err}");

    let response = cluster
        .client(0)
        .init(&InitRequest::recovery(3, 2))
        .await
        .expect("init");
    let root_token = response.root_token.clone();
    assert!(root_token.expose_secret().starts_with("s."));
    assert_eq!(response.recovery_keys.len(), 3);
    assert_eq!(response.recovery_keys_base64.len(), 3);
    assert!(response.keys.is_empty(), "a static seal has no unseal keys");
    let debug = format!("{response:?}");
    assert!(
        !debug.contains(root_token.expose_secret()),
        "Debug leaks the root token: {debug}"
    );
    for key in response
        .recovery_keys
        .iter()
        .chain(&response.recovery_keys_base64)
    {
        assert!(
            !debug.contains(key.expose_secret()),
            "Debug leaks a key: {debug}"
        );
    }
    drop(response);

    let active = cluster
        .wait_for_health(0, "active", SLOW, Health::is_active)
        .await;
    assert!(active.info().cluster_id.is_some());
    let again = cluster
        .client(0)
        .init(&InitRequest::recovery(1, 1))
        .await
        .expect_err("a second init must fail");
    assert_eq!(again.status(), Some(400), "{again}");

    let admin = cluster.client(0).with_token(root_token.clone());
    // Joined nodes become voters only after server_stabilization_time (10 s by default).
    eventually("autopilot configuration to be writable", SLOW, || async {
        admin
            .set_autopilot_configuration(&AutopilotConfigurationUpdate {
                server_stabilization_time: Some(Duration::from_secs(1)),
                ..Default::default()
            })
            .await
            .map_err(|e| e.to_string())
    })
    .await;
    let autopilot = admin
        .autopilot_configuration()
        .await
        .expect("autopilot configuration");
    assert_eq!(
        autopilot.server_stabilization_time,
        Some(Duration::from_secs(1))
    );

    for i in 1..3 {
        cluster
            .wait_for_health(i, "standby", SLOW, |h| matches!(h, Health::Standby(_)))
            .await;
        let leader = cluster.client(i).leader().await.expect("leader");
        assert!(!leader.is_self);
        assert_eq!(
            leader.leader_address,
            format!("https://{}:8200", cluster.nodes[0].ip)
        );
    }

    let raft = eventually("three Raft voters", SLOW, || async {
        let raft = admin
            .raft_configuration()
            .await
            .map_err(|e| e.to_string())?;
        match raft.voters().count() {
            3 => Ok(raft),
            n => Err(format!("{n} voters in {:?}", raft.servers)),
        }
    })
    .await;
    assert_eq!(raft.leader().map(|s| s.node_id.as_str()), Some("bao-0"));
    let state = eventually("autopilot to be healthy", SLOW, || async {
        let state = admin.autopilot_state().await.map_err(|e| e.to_string())?;
        if state.healthy && state.failure_tolerance == 1 {
            Ok(state)
        } else {
            Err(format!("{state:?}"))
        }
    })
    .await;
    assert_eq!(state.leader, "bao-0");
    assert_eq!(state.voters.len(), 3);
    assert!(state.servers.values().all(|s| s.node_status == "alive"));

    // Standbys forward token requests to the active node.
    let via_standby = cluster
        .client(1)
        .with_token(root_token)
        .raft_configuration()
        .await
        .expect("raft configuration through a standby");
    assert_eq!(via_standby.servers.len(), 3);
}

#[tokio::test]
async fn step_down_hands_leadership_to_another_voter() {
    let cluster = BaoCluster::start(3).await;
    let token = cluster.init().await;
    let admin = cluster.client(0).with_token(token.clone());
    eventually("autopilot configuration to be writable", SLOW, || async {
        admin
            .set_autopilot_configuration(&AutopilotConfigurationUpdate {
                server_stabilization_time: Some(Duration::from_secs(1)),
                ..Default::default()
            })
            .await
            .map_err(|e| e.to_string())
    })
    .await;
    // Step-down only moves leadership when there is another voter to take it.
    eventually("three Raft voters", SLOW, || async {
        let raft = admin
            .raft_configuration()
            .await
            .map_err(|e| e.to_string())?;
        match raft.voters().count() {
            3 => Ok(()),
            n => Err(format!("{n} voters")),
        }
    })
    .await;

    admin.step_down().await.expect("step-down");

    let new_active = eventually("another node to become active", SLOW, || async {
        for i in 1..3 {
            if let Ok(Health::Active(_)) = cluster.client(i).health().await {
                return Ok(i);
            }
        }
        let old = cluster.client(0).health().await;
        Err(format!("bao-1/bao-2 not active; bao-0 is {old:?}"))
    })
    .await;
    let leader = eventually("bao-0 to see the new leader", SLOW, || async {
        let leader = cluster
            .client(0)
            .leader()
            .await
            .map_err(|e| e.to_string())?;
        if leader.is_self || leader.leader_address.is_empty() {
            Err(format!("{leader:?}"))
        } else {
            Ok(leader)
        }
    })
    .await;
    assert_eq!(
        leader.leader_address,
        format!("https://{}:8200", cluster.nodes[new_active].ip)
    );
    // Raft leadership moved with the active role: replacing the old node afterwards starts no
    // election (the rollout relies on it).
    let raft = cluster
        .client(new_active)
        .with_token(token)
        .raft_configuration()
        .await
        .expect("raft configuration");
    assert_eq!(
        raft.leader().map(|s| s.node_id.clone()),
        Some(format!("bao-{new_active}")),
        "{raft:?}"
    );
}

#[tokio::test]
async fn tls_is_verified_against_the_server_name_not_the_address_it_connects_to() {
    let cluster = BaoCluster::start(1).await;
    let node = &cluster.nodes[0];

    // By IP, verified against the DNS name: the operator's way.
    let health = cluster
        .client(0)
        .health()
        .await
        .expect("verified by DNS name");
    assert!(matches!(health, Health::Uninitialized(_)), "{health:?}");
    // By IP, verified against the IP SAN.
    let by_ip = BaoClient::new(ClientConfig::new(
        node.api_addr(),
        node.ip.to_string(),
        cluster.pki.ca_pem.clone(),
    ))
    .expect("client");
    by_ip.health().await.expect("verified by IP SAN");

    // A name the certificate does not carry.
    let wrong_name = BaoClient::new(ClientConfig::new(
        node.api_addr(),
        "bao-9.bao-internal.other.svc",
        cluster.pki.ca_pem.clone(),
    ))
    .expect("client");
    let err = wrong_name.health().await.expect_err("wrong server name");
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    assert_eq!(err.category(), "tls");
    assert!(err.to_string().contains("not valid for name"), "{err}");

    // CAs that did not sign the certificate: one with the same name as the real CA (a
    // rotated or foreign CA), one with another name.
    for (ca_name, expected) in [
        ("bao-client test CA", "BadSignature"),
        ("some other CA", "UnknownIssuer"),
    ] {
        let other_ca = TestPki::generate_with_ca_name(
            ca_name,
            &[node.ip],
            std::slice::from_ref(&node.dns_name),
        )
        .ca_pem;
        let unknown_ca = BaoClient::new(ClientConfig::new(
            node.api_addr(),
            node.dns_name.clone(),
            other_ca,
        ))
        .expect("client");
        let err = unknown_ca.health().await.expect_err("untrusted CA");
        assert_eq!(err.category(), "tls", "{err:?}");
        assert!(err.to_string().contains(expected), "{ca_name}: {err}");
    }
}

#[tokio::test]
async fn a_request_that_cannot_finish_in_time_is_a_timeout_not_unreachable() {
    let cluster = BaoCluster::start(1).await;
    // TCP + TLS + request take milliseconds, the request timeout is one nanosecond; the
    // server is there, so this must not be reported as Unreachable.
    let impatient = BaoClient::new(
        cluster
            .client_config(0)
            .with_request_timeout(Duration::from_nanos(1)),
    )
    .expect("client");
    let err = impatient.health().await.expect_err("cannot finish in 1 ns");
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn an_address_where_nothing_listens_is_unreachable() {
    // Reserve a port and release it, so nothing listens there (the loopback address is in a
    // range the harness never uses for servers).
    let addr: SocketAddr = {
        let listener = std::net::TcpListener::bind("127.212.0.1:0").expect("bind");
        listener.local_addr().expect("local addr")
    };
    let pki = TestPki::generate(&[], &["bao-0.bao-internal.test.svc".to_owned()]);
    let client = BaoClient::new(
        ClientConfig::new(addr, "bao-0.bao-internal.test.svc", pki.ca_pem)
            .with_connect_timeout(Duration::from_secs(2)),
    )
    .expect("client");
    let err = client.health().await.expect_err("nothing listens");
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("refused"), "{err}");
}

#[tokio::test]
async fn a_node_whose_static_key_does_not_decrypt_the_barrier_stays_up_and_reports_sealed() {
    let cluster = BaoCluster::start(1).await;
    let token = cluster.init().await;

    cluster.stop_node(0);
    cluster.start_node_with_key(0, &support::random_key()).await;

    let health = cluster
        .wait_for_health(0, "sealed", SLOW, |h| matches!(h, Health::Sealed(_)))
        .await;
    assert!(health.info().initialized);
    assert!(health.info().sealed);
    let seal = cluster.client(0).seal_status().await.expect("seal status");
    assert!(seal.initialized && seal.sealed);
    let err = cluster
        .client(0)
        .with_token(token)
        .raft_configuration()
        .await
        .expect_err("sealed");
    assert!(matches!(err, Error::Sealed { .. }), "{err:?}");
}

#[tokio::test]
async fn a_snapshot_saved_through_the_api_restores_a_kv_secret_written_before_it() {
    let cluster = BaoCluster::start(1).await;
    let token = cluster.init().await;
    let admin = cluster.client(0).with_token(token);
    admin.mount_kv_v2("secret").await.expect("mount kv v2");
    let version = admin
        .kv_v2_put("secret", "app/db", &json!({"password": "before"}))
        .await
        .expect("write");
    assert_eq!(version, 1);
    assert_eq!(
        admin.kv_v2_get("secret", "missing").await.expect("read"),
        None
    );

    let snapshot_path = cluster.dir().join("snapshot.bin");
    let mut file = tokio::fs::File::create(&snapshot_path)
        .await
        .expect("create snapshot file");
    let written = admin.save_snapshot(&mut file).await.expect("save snapshot");
    drop(file);
    let on_disk = std::fs::metadata(&snapshot_path)
        .expect("snapshot file")
        .len();
    assert!(written > 0);
    assert_eq!(written, on_disk);

    for mode in [RestoreMode::Force, RestoreMode::SameCluster] {
        admin
            .kv_v2_put("secret", "app/db", &json!({"password": "after"}))
            .await
            .expect("overwrite");
        assert_eq!(
            admin.kv_v2_get("secret", "app/db").await.expect("read"),
            Some(json!({"password": "after"}))
        );

        let file = tokio::fs::File::open(&snapshot_path)
            .await
            .expect("open snapshot");
        admin
            .restore_snapshot(file, mode)
            .await
            .unwrap_or_else(|e| panic!("restore ({mode:?}): {e}"));

        // Reads fail for ~5 s while the active node invalidates its caches after a restore.
        eventually(
            &format!("the pre-snapshot value after {mode:?}"),
            SLOW,
            || async {
                match admin.kv_v2_get("secret", "app/db").await {
                    Ok(Some(value)) if value == json!({"password": "before"}) => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            },
        )
        .await;
    }
}

#[tokio::test]
async fn a_bogus_token_is_permission_denied_and_a_missing_one_fails_before_sending() {
    let cluster = BaoCluster::start(1).await;
    cluster.init().await;

    let bogus = cluster
        .client(0)
        .with_token(SecretString::new("s.bogus-token"));
    let err = bogus.raft_configuration().await.expect_err("bogus token");
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err:?}");
    assert_eq!(err.category(), "permission_denied");
    assert!(!err.to_string().contains("s.bogus-token"));
    let err = bogus.step_down().await.expect_err("bogus token");
    assert_eq!(err.category(), "permission_denied", "{err:?}");

    let err = cluster.client(0).step_down().await.expect_err("no token");
    assert_eq!(err.category(), "missing_token", "{err:?}");
}

#[tokio::test]
async fn a_revoked_root_token_and_its_children_are_refused_and_a_second_revocation_is_permission_denied()
 {
    let cluster = BaoCluster::start(1).await;
    let root = cluster.client(0).with_token(cluster.init().await);
    let child = cluster.client(0).with_token(
        root.create_token(&["default"], "1h")
            .await
            .expect("child")
            .token,
    );
    assert!(root.token_is_valid().await.expect("lookup root"));
    assert!(child.token_is_valid().await.expect("lookup child"));

    root.revoke_self().await.expect("revoke the root token");
    assert!(!root.token_is_valid().await.expect("lookup revoked root"));
    assert!(
        !child.token_is_valid().await.expect("lookup child"),
        "a token created with the root token is revoked with it"
    );
    let again = root.revoke_self().await.expect_err("revoked already");
    assert!(matches!(again, Error::PermissionDenied { .. }), "{again:?}");
}

#[tokio::test]
async fn trace_logs_of_every_crate_show_requests_but_never_the_token() {
    let cluster = BaoCluster::start(1).await;
    let token = cluster.init().await;

    // Everything at TRACE, from every crate on this thread (the test runtime is
    // single-threaded, so reqwest's and hyper's connection tasks log here too), including
    // reqwest's `log` records. The bridge is process-wide; another test may have set it.
    let _ = tracing_log::LogTracer::builder()
        .with_max_level(tracing_log::log::LevelFilter::Trace)
        .init();
    let captured = Capture::default();
    let writer = captured.clone();
    // The subscriber is the process-wide default, so no callsite can be cached as "nobody
    // listens" by a test on another thread (a scoped default raced with them); only this
    // thread's records are kept, so other tests' requests cannot satisfy the assertions.
    let this_thread = std::thread::current().id();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || {
            let keep = std::thread::current().id() == this_thread;
            ThreadWriter {
                inner: keep.then(|| writer.clone()),
            }
        })
        .finish();
    tracing::subscriber::set_global_default(subscriber)
        .expect("no other test of this binary sets a global subscriber");
    tracing::callsite::rebuild_interest_cache();
    {
        let admin = cluster.client(0).with_token(token.clone());
        admin
            .raft_configuration()
            .await
            .expect("raft configuration");
        let bogus = cluster
            .client(0)
            .with_token(SecretString::new("s.bogus-token"));
        bogus.raft_configuration().await.expect_err("bogus token");
    }
    let logs = captured.text();
    assert!(
        logs.contains("sys/storage/raft/configuration") && logs.contains("status=403"),
        "requests are logged with path and status:\n{logs}"
    );
    assert!(
        logs.contains("reqwest"),
        "reqwest's own records are captured too:\n{logs}"
    );
    assert!(
        !logs.contains(token.expose_secret()),
        "root token in logs:\n{logs}"
    );
    assert!(!logs.contains("s.bogus-token"), "token in logs:\n{logs}");
}

/// A writer that forwards to the capture on the test's thread and drops everything else.
struct ThreadWriter {
    inner: Option<Capture>,
}

impl std::io::Write for ThreadWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.inner {
            Some(capture) => capture.write(buf),
            None => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A `MakeWriter` target that keeps everything written to it.
#[derive(Clone, Default)]
struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Capture {
    fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
