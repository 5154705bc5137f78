//! The OpenBao lifecycle against real `bao` processes (configured by the operator's own
//! config.hcl builder and PKI) and a real API server holding the root-token Secret: exactly-once
//! initialization through pod 0, joining, leadership, member health, and crashes at the two
//! dangerous points of initialization (real process deaths, injected with the test-only
//! `fault-injection` feature).

mod support;

use std::{
    os::unix::process::ExitStatusExt,
    process::Command,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bao_client::{AutopilotConfigurationUpdate, Health};
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, ResourceExt};
use localcluster::TestNamespace;
use operator::{
    faults,
    reconcile::operate::{self, Decision, KeyStore, Member, SecretKeyStore},
};
use support::bao::BaoMembers;

const DEADLINE: Duration = Duration::from_secs(90);

async fn control_plane() -> &'static localcluster::ControlPlane {
    localcluster::shared().await.unwrap_or_else(|e| {
        panic!("the local control plane must start (`bash hack/setup.sh`): {e:#}")
    })
}

fn key_store(client: kube::Client, members: &BaoMembers) -> SecretKeyStore {
    let names = members.cluster.names();
    SecretKeyStore::new(
        Api::<Secret>::namespaced(client, members.cluster.namespace()),
        names.root_token_secret(),
        names.labels(),
    )
}

/// Drive initialization like the reconciler does: observe, decide, act, until initialized.
async fn drive_to_initialized(
    members: &[Member],
    store: &SecretKeyStore,
    status_initialized: bool,
) -> Vec<Decision> {
    let deadline = Instant::now() + DEADLINE;
    let mut decisions = Vec::new();
    loop {
        let observations = operate::observe(members).await;
        let decision = operate::decide(
            &observations,
            members.len(),
            store.state().await.expect("state"),
            status_initialized,
        );
        decisions.push(decision.clone());
        match decision {
            Decision::Initialize => {
                operate::initialize("test", &members[0], store)
                    .await
                    .map_err(|(e, _)| e)
                    .expect("initialize");
            }
            Decision::Initialized => return decisions,
            Decision::Wait(_) => {}
            other => panic!("unexpected decision {other:?} after {decisions:?}"),
        }
        assert!(
            Instant::now() < deadline,
            "not initialized in time: {decisions:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn until_health(
    members: &[Member],
    what: &str,
    accept: impl Fn(&[Option<Health>]) -> bool,
) -> Vec<Option<Health>> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let health: Vec<Option<Health>> = operate::observe(members)
            .await
            .into_iter()
            .map(|o| o.health.ok())
            .collect();
        if accept(&health) {
            return health;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: last health {:?}",
            health
                .iter()
                .map(|h| h.as_ref().map(Health::label))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Wait for one active member and standbys, speed up autopilot's promotion of the joiners, and
/// wait until every member votes (leadership can only move to a voter).
async fn until_all_voters(members: &[Member], store: &SecretKeyStore) -> operate::RaftFacts {
    until_health(
        members,
        "one active, the rest standbys",
        one_active_rest_standby,
    )
    .await;
    let token = store.root_token().await.expect("read").expect("token");
    let active = operate::observe(members)
        .await
        .into_iter()
        .position(|o| o.health.is_ok_and(|h| h.is_active()))
        .expect("an active member");
    members[active]
        .client
        .with_token(token.clone())
        .set_autopilot_configuration(&AutopilotConfigurationUpdate {
            server_stabilization_time: Some(Duration::from_secs(1)),
            ..AutopilotConfigurationUpdate::default()
        })
        .await
        .expect("autopilot configuration");
    let deadline = Instant::now() + DEADLINE;
    loop {
        let raft = operate::raft_facts(&members[active], token.clone())
            .await
            .expect("raft configuration");
        if raft.voters.len() == members.len() {
            return raft;
        }
        assert!(Instant::now() < deadline, "voters: {raft:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn one_active_rest_standby(health: &[Option<Health>]) -> bool {
    health
        .iter()
        .filter(|h| matches!(h, Some(Health::Active(_))))
        .count()
        == 1
        && health
            .iter()
            .all(|h| matches!(h, Some(Health::Active(_) | Health::Standby(_))))
}

/// Records every log line of the code under test, so a test can prove no secret was logged.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut lines) = self.0.lock() {
            lines.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn three_members_are_initialized_exactly_once_through_pod_zero_join_and_report_ready() {
    let cp = control_plane().await;
    let ns = TestNamespace::create(cp, "init").await.expect("namespace");
    let bao = BaoMembers::start("bao", ns.name(), 3).await;
    let members = bao.members();
    let store = key_store(cp.client().expect("client"), &bao);

    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    let decisions = drive_to_initialized(&members, &store, false).await;
    drop(guard);
    assert_eq!(
        decisions
            .iter()
            .filter(|d| **d == Decision::Initialize)
            .count(),
        1,
        "{decisions:?}"
    );

    // Keys stored before anything else; the Secret is complete.
    let secret = Api::<Secret>::namespaced(cp.client().expect("client"), ns.name())
        .get("bao-root-token")
        .await
        .expect("root-token Secret");
    assert_eq!(
        secret
            .annotations()
            .get(operate::ANNOTATION_INIT_STATE)
            .map(String::as_str),
        Some("complete")
    );
    let data = secret.data.clone().expect("data");
    let token = String::from_utf8(data["root-token"].0.clone()).expect("utf-8");
    assert!(!token.is_empty());
    let recovery: Vec<String> = (0..operate::RECOVERY_SHARES)
        .map(|i| String::from_utf8(data[&format!("recovery-key-{i}")].0.clone()).expect("utf-8"))
        .collect();
    assert!(
        secret.owner_references().is_empty(),
        "kept under deletionPolicy Retain"
    );

    // Nothing secret in the captured logs of the init run.
    let captured = String::from_utf8_lossy(&logs.0.lock().expect("logs")).to_string();
    assert!(!captured.contains(&token), "the root token was logged");
    for key in &recovery {
        assert!(
            !captured.contains(key.as_str()),
            "a recovery key was logged"
        );
    }

    // Everyone joins and unseals; autopilot promotes them to voters.
    let raft = until_all_voters(&members, &store).await;
    let observations = operate::observe(&members).await;
    let statuses: Vec<_> = observations
        .iter()
        .map(|o| operate::member_status(o, Some(&raft)))
        .collect();
    assert!(
        operate::all_ready(&statuses, 3, Some(&raft)),
        "{statuses:?}"
    );
    for status in &statuses {
        assert!(
            status.reachable && status.initialized && !status.sealed && status.voter == Some(true)
        );
    }
    // A second pass decides "initialized" and never calls init again.
    assert_eq!(
        operate::decide(&observations, 3, store.state().await.expect("state"), true),
        Decision::Initialized
    );
}

#[tokio::test]
async fn step_down_moves_leadership_and_member_status_follows() {
    let cp = control_plane().await;
    let ns = TestNamespace::create(cp, "step-down")
        .await
        .expect("namespace");
    let bao = BaoMembers::start("bao", ns.name(), 3).await;
    let members = bao.members();
    let store = key_store(cp.client().expect("client"), &bao);
    drive_to_initialized(&members, &store, false).await;
    until_all_voters(&members, &store).await;
    let health = until_health(
        &members,
        "one active, two standbys",
        one_active_rest_standby,
    )
    .await;
    let before = health
        .iter()
        .position(|h| matches!(h, Some(Health::Active(_))))
        .expect("active");
    let token = store.root_token().await.expect("read").expect("token");
    members[before]
        .client
        .with_token(token)
        .step_down()
        .await
        .expect("step-down");
    let after = until_health(&members, "another member active", |h| {
        one_active_rest_standby(h) && !matches!(h[before], Some(Health::Active(_)))
    })
    .await;
    let now_active = after
        .iter()
        .position(|h| matches!(h, Some(Health::Active(_))))
        .expect("active");
    let statuses: Vec<_> = operate::observe(&members)
        .await
        .iter()
        .map(|o| operate::member_status(o, None))
        .collect();
    assert_eq!(statuses[now_active].role.as_deref(), Some("active"));
    assert_eq!(statuses[before].role.as_deref(), Some("standby"));
}

#[tokio::test]
async fn unreachable_sealed_and_uninitialized_members_each_report_their_state() {
    let cp = control_plane().await;
    let ns = TestNamespace::create(cp, "states")
        .await
        .expect("namespace");
    let mut bao = BaoMembers::start("bao", ns.name(), 3).await;
    let members = bao.members();

    // Uninitialized: answering 501.
    until_health(&members, "all uninitialized", |h| {
        h.iter()
            .all(|h| matches!(h, Some(Health::Uninitialized(_))))
    })
    .await;
    let statuses: Vec<_> = operate::observe(&members)
        .await
        .iter()
        .map(|o| operate::member_status(o, None))
        .collect();
    assert!(
        statuses
            .iter()
            .all(|s| s.reachable && !s.initialized && s.role.as_deref() == Some("uninitialized"))
    );
    assert!(!operate::all_ready(&statuses, 3, None));

    // An unreachable member blocks initialization: no second, split cluster.
    bao.kill(2);
    let observations = operate::observe(&members).await;
    match operate::decide(&observations, 3, operate::KeyState::Absent, false) {
        Decision::Wait(message) => assert!(message.contains("bao-2"), "{message}"),
        other => panic!("expected to wait for bao-2, got {other:?}"),
    }
    let unreachable = operate::member_status(&observations[2], None);
    assert!(!unreachable.reachable);
    assert_eq!(unreachable.role.as_deref(), Some("unreachable"));

    // Initialize with all three, then restart one with a wrong static key: sealed.
    bao.restart(2);
    let store = key_store(cp.client().expect("client"), &bao);
    drive_to_initialized(&members, &store, false).await;
    until_health(
        &members,
        "one active, two standbys",
        one_active_rest_standby,
    )
    .await;
    bao.restart_with_wrong_key(1);
    until_health(&members, "member 1 sealed", |h| {
        matches!(h[1], Some(Health::Sealed(_)))
    })
    .await;
    let statuses: Vec<_> = operate::observe(&members)
        .await
        .iter()
        .map(|o| operate::member_status(o, None))
        .collect();
    assert!(statuses[1].reachable && statuses[1].sealed && statuses[1].initialized);
    assert_eq!(statuses[1].role.as_deref(), Some("sealed"));
    assert!(!operate::all_ready(&statuses, 3, None));
}

// --- Crashes during initialization ------------------------------------------------------------
//
// The parent test starts real members and re-runs this very test binary as a child process,
// filtered to the same test, with `LIFECYCLE_CHILD` set. The child initializes with
// `OPENBAO_OPERATOR_FAULT` naming a fault point and is killed there (abort, like SIGKILL). The
// parent then plays the restarted operator.

const CHILD: &str = "LIFECYCLE_CHILD";

async fn child_initialize() {
    let var =
        |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is set for the child"));
    let client =
        localcluster::client_from_kubeconfig(std::path::Path::new(&var("CHILD_KUBECONFIG")))
            .await
            .expect("client");
    let address: std::net::SocketAddr = var("CHILD_ADDRESS").parse().expect("address");
    let member = Member::new(
        var("CHILD_POD"),
        address,
        var("CHILD_SERVER_NAME"),
        var("CHILD_CA").as_bytes(),
    )
    .expect("member");
    let labels = serde_json::from_str(&var("CHILD_LABELS")).expect("labels");
    let store = SecretKeyStore::new(
        Api::<Secret>::namespaced(client, &var("CHILD_NAMESPACE")),
        var("CHILD_SECRET"),
        labels,
    );
    let _ = operate::initialize("child", &member, &store).await;
    panic!("the fault point did not abort the process: was the fault-injection feature enabled?");
}

fn run_child(test: &str, fault: &str, cp: &localcluster::ControlPlane, bao: &BaoMembers) {
    let names = bao.cluster.names();
    let status = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env(faults::FAULT_ENV, fault)
        .env("CHILD_KUBECONFIG", cp.admin_kubeconfig_path())
        .env("CHILD_ADDRESS", format!("{}:8200", bao.ips[0]))
        .env("CHILD_POD", names.pod(0))
        .env(
            "CHILD_SERVER_NAME",
            names.pod_dns(0, bao.cluster.namespace()),
        )
        .env("CHILD_CA", &bao.ca_pem)
        .env("CHILD_NAMESPACE", bao.cluster.namespace())
        .env("CHILD_SECRET", names.root_token_secret())
        .env(
            "CHILD_LABELS",
            serde_json::to_string(&names.labels()).expect("labels"),
        )
        .status()
        .expect("run the child");
    assert_eq!(
        status.signal(),
        Some(6),
        "the child must die by SIGABRT at {fault}, got {status}"
    );
}

async fn all_uninitialized(members: &[Member]) {
    until_health(members, "all uninitialized", |h| {
        h.iter()
            .all(|h| matches!(h, Some(Health::Uninitialized(_))))
    })
    .await;
}

#[tokio::test]
async fn a_crash_between_the_init_response_and_storing_the_keys_is_reported_and_never_retried() {
    if std::env::var(CHILD).is_ok() {
        return child_initialize().await;
    }
    let cp = control_plane().await;
    let ns = TestNamespace::create(cp, "keys-lost")
        .await
        .expect("namespace");
    let bao = BaoMembers::start("bao", ns.name(), 3).await;
    let members = bao.members();
    all_uninitialized(&members).await;
    run_child(
        "a_crash_between_the_init_response_and_storing_the_keys_is_reported_and_never_retried",
        faults::AFTER_INIT_RESPONSE,
        cp,
        &bao,
    );

    // The restarted operator: OpenBao is initialized, the Secret is only a placeholder.
    let store = key_store(cp.client().expect("client"), &bao);
    assert_eq!(
        store.state().await.expect("state"),
        operate::KeyState::Pending
    );
    let observations = operate::observe(&members).await;
    assert!(
        observations[0]
            .health
            .as_ref()
            .is_ok_and(|h| h.info().initialized),
        "the child's init took effect"
    );
    assert_eq!(
        operate::decide(&observations, 3, operate::KeyState::Pending, false),
        Decision::KeysLost
    );
    // Still lost on later passes: nothing is retried blindly, no key appears.
    let observations = operate::observe(&members).await;
    assert_eq!(
        operate::decide(&observations, 3, store.state().await.expect("state"), false),
        Decision::KeysLost
    );
    assert!(store.root_token().await.expect("read").is_none());
}

#[tokio::test]
async fn a_crash_between_the_placeholder_and_init_is_retried_and_initializes_exactly_once() {
    if std::env::var(CHILD).is_ok() {
        return child_initialize().await;
    }
    let cp = control_plane().await;
    let ns = TestNamespace::create(cp, "retry-init")
        .await
        .expect("namespace");
    let bao = BaoMembers::start("bao", ns.name(), 3).await;
    let members = bao.members();
    all_uninitialized(&members).await;
    run_child(
        "a_crash_between_the_placeholder_and_init_is_retried_and_initializes_exactly_once",
        faults::AFTER_PLACEHOLDER,
        cp,
        &bao,
    );
    let store = key_store(cp.client().expect("client"), &bao);
    assert_eq!(
        store.state().await.expect("state"),
        operate::KeyState::Pending
    );
    all_uninitialized(&members).await;
    let decisions = drive_to_initialized(&members, &store, false).await;
    assert_eq!(
        decisions
            .iter()
            .filter(|d| **d == Decision::Initialize)
            .count(),
        1,
        "{decisions:?}"
    );
    assert_eq!(
        store.state().await.expect("state"),
        operate::KeyState::Stored
    );
    // Exactly one init reached OpenBao: its log shows one "core: security barrier initialized".
    let barrier_inits: usize = (0..3)
        .map(|i| bao.log(i).matches("security barrier initialized").count())
        .sum();
    assert_eq!(barrier_inits, 1, "member logs:\n{}", bao.log(0));
}

// The key store against the real API server: no write, from any process, in any order, can
// remove stored keys.

fn init_response(token: &str) -> bao_client::InitResponse {
    bao_client::InitResponse {
        root_token: bao_client::SecretString::new(token.to_string()),
        recovery_keys_base64: (0..5)
            .map(|i| bao_client::SecretString::new(format!("recovery-{token}-{i}")))
            .collect(),
        ..bao_client::InitResponse::default()
    }
}

fn store_named(client: kube::Client, namespace: &str) -> SecretKeyStore {
    let names = api::names::ClusterNames::new("bao");
    SecretKeyStore::new(
        Api::<Secret>::namespaced(client, namespace),
        names.root_token_secret(),
        names.labels(),
    )
}

async fn stored_token(client: &kube::Client, namespace: &str) -> Option<String> {
    let secret = Api::<Secret>::namespaced(client.clone(), namespace)
        .get("bao-root-token")
        .await
        .expect("read the Secret");
    secret
        .data
        .and_then(|d| d.get(operate::ROOT_TOKEN_KEY).cloned())
        .map(|t| String::from_utf8(t.0).expect("utf-8"))
}

#[tokio::test]
async fn a_placeholder_written_after_the_keys_were_stored_leaves_the_keys_intact() {
    let cp = control_plane().await;
    let ns = TestNamespace::create(cp, "keys-late-placeholder")
        .await
        .expect("namespace");
    let client = cp.client().expect("client");
    let first = store_named(client.clone(), ns.name());
    first.write_placeholder().await.expect("placeholder");
    first
        .store(&init_response("s.first"))
        .await
        .expect("store the keys");
    // A second process (no leader election, a deposed leader) that read "Absent" earlier now
    // writes its placeholder, late: it must not remove the keys.
    let second = store_named(cp.client().expect("client"), ns.name());
    second
        .write_placeholder()
        .await
        .expect("a late placeholder is not an error");
    assert_eq!(
        second.state().await.expect("state"),
        operate::KeyState::Stored
    );
    assert_eq!(
        stored_token(&client, ns.name()).await.as_deref(),
        Some("s.first")
    );
    let secret = Api::<Secret>::namespaced(client.clone(), ns.name())
        .get("bao-root-token")
        .await
        .expect("Secret");
    assert_eq!(
        secret.data.as_ref().map(|d| d.len()),
        Some(7),
        "root token, five recovery keys and the threshold are all still there"
    );
}

#[tokio::test]
async fn keys_are_never_overwritten_by_a_second_init_response() {
    let cp = control_plane().await;
    let ns = TestNamespace::create(cp, "keys-no-overwrite")
        .await
        .expect("namespace");
    let client = cp.client().expect("client");
    let store = store_named(client.clone(), ns.name());
    store.write_placeholder().await.expect("placeholder");
    store.store(&init_response("s.first")).await.expect("store");
    // Storing the same response again (a retry whose first answer was lost) is fine...
    store
        .store(&init_response("s.first"))
        .await
        .expect("an idempotent retry");
    // ...another response never replaces it.
    let error = store
        .store(&init_response("s.second"))
        .await
        .expect_err("other keys are refused");
    assert!(
        matches!(error, operate::OperateError::KeysConflict { .. }),
        "{error}"
    );
    assert!(
        !error.to_string().contains("s.second"),
        "no secret in errors"
    );
    assert_eq!(
        stored_token(&client, ns.name()).await.as_deref(),
        Some("s.first")
    );
}

#[tokio::test]
async fn keys_are_stored_only_over_the_placeholder_version_that_was_read() {
    let cp = control_plane().await;
    let ns = TestNamespace::create(cp, "keys-precondition")
        .await
        .expect("namespace");
    let client = cp.client().expect("client");
    let store = store_named(client.clone(), ns.name());
    store.write_placeholder().await.expect("placeholder");
    // Two processes race to store (each holding a response it believes is its own): the
    // resourceVersion precondition lets exactly one win; the loser finds stored keys it did not
    // write and refuses to overwrite them.
    let other = store_named(cp.client().expect("client"), ns.name());
    let (response_a, response_b) = (init_response("s.a"), init_response("s.b"));
    let (a, b) = tokio::join!(store.store(&response_a), other.store(&response_b));
    assert!(
        a.is_ok() != b.is_ok(),
        "exactly one store wins: a={a:?} b={b:?}"
    );
    let winner = if a.is_ok() { "s.a" } else { "s.b" };
    assert_eq!(
        stored_token(&client, ns.name()).await.as_deref(),
        Some(winner)
    );
}

/// A TCP path from loopback to the API server that the test can cut: while cut, every
/// connection is refused or reset, as when the API server restarts or the network drops. The
/// API server behind it is the real one; only the path is controlled.
struct CuttablePath {
    address: std::net::SocketAddr,
    open: Arc<std::sync::atomic::AtomicBool>,
    generation: Arc<std::sync::atomic::AtomicU64>,
    live: Arc<std::sync::atomic::AtomicUsize>,
}

impl CuttablePath {
    async fn to(upstream: std::net::SocketAddr) -> Self {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the path");
        let address = listener.local_addr().expect("address");
        let open = Arc::new(AtomicBool::new(true));
        let generation = Arc::new(AtomicU64::new(0));
        let live = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (accept_open, accept_generation, accept_live) =
            (open.clone(), generation.clone(), live.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !accept_open.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let born = accept_generation.load(Ordering::SeqCst);
                let watch_generation = accept_generation.clone();
                let connection_live = accept_live.clone();
                connection_live.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    // Counted until this task ends, so `cut` can wait for every connection.
                    struct Live(Arc<std::sync::atomic::AtomicUsize>);
                    impl Drop for Live {
                        fn drop(&mut self) {
                            self.0.fetch_sub(1, Ordering::SeqCst);
                        }
                    }
                    let _live = Live(connection_live);
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    // A cut also ends connections that were open before it.
                    let cut = async {
                        while watch_generation.load(Ordering::SeqCst) == born {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        () = cut => {}
                    }
                });
            }
        });
        Self {
            address,
            open,
            generation,
            live,
        }
    }

    /// Refuse new connections and end the open ones; returns once none is left, so no request
    /// sent after the cut can get through on a connection that was still open.
    fn cut(&self) {
        use std::sync::atomic::Ordering;
        self.open.store(false, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.live.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        assert_eq!(
            self.live.load(Ordering::SeqCst),
            0,
            "every connection through the path was closed"
        );
    }

    fn restore(&self) {
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

// Multi-threaded: the cut runs (blocking) inside the fault hook and waits for the path's
// connection tasks, which must keep running on another worker meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_server_unreachable_for_ten_seconds_after_init_still_gets_the_keys_stored() {
    let cp = control_plane().await;
    let ns = TestNamespace::create(cp, "keys-outage")
        .await
        .expect("namespace");
    let bao = BaoMembers::start("bao", ns.name(), 3).await;
    let members = bao.members();
    all_uninitialized(&members).await;

    let upstream: std::net::SocketAddr = cp
        .server_url()
        .trim_start_matches("https://")
        .parse()
        .expect("API server address");
    let path = Arc::new(CuttablePath::to(upstream).await);
    let mut config = cp.config().clone();
    config.cluster_url = format!("https://{}", path.address).parse().expect("url");
    let client = kube::Client::try_from(config).expect("client through the path");
    let store = key_store(client, &bao);

    // Right after `sys/init` answers (keys only in memory), the API server becomes unreachable
    // for 10 s.
    let cluster_key = format!("outage-{}", ns.name());
    let hook_path = path.clone();
    faults::on(faults::AFTER_INIT_RESPONSE, &cluster_key, move || {
        hook_path.cut();
        let restore = hook_path.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(10));
            restore.restore();
        });
    });
    let started = Instant::now();
    operate::initialize(&cluster_key, &members[0], &store)
        .await
        .map_err(|(e, _)| e)
        .expect("initialization completes once the API server is back");
    assert!(
        started.elapsed() >= Duration::from_secs(10),
        "the store really waited out the outage ({:?})",
        started.elapsed()
    );
    let admin = key_store(cp.client().expect("client"), &bao);
    assert_eq!(
        admin.state().await.expect("state"),
        operate::KeyState::Stored
    );
    let token = admin.root_token().await.expect("read").expect("a token");
    let deadline = Instant::now() + DEADLINE;
    loop {
        let mut accepted = false;
        for member in &members {
            accepted |= operate::raft_facts(member, token.clone()).await.is_ok();
        }
        if accepted {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the stored token is the one this initialization returned"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let barrier_inits: usize = (0..3)
        .map(|i| bao.log(i).matches("security barrier initialized").count())
        .sum();
    assert_eq!(barrier_inits, 1, "nothing was initialized twice");
}
