//! End to end: the operator (under its own ServiceAccount) against the local control plane with
//! a node that runs every pod as a real `bao` process in its own network and mount namespace.
//! Clusters initialize through the operator, join through `auto_join` against the real API
//! server, label their pods through the Role the operator grants, survive process kills, pod
//! deletions and leader loss, scale, roll, and are deleted under each deletion policy.

mod support;
#[path = "e2e/upgrade.rs"]
mod upgrade;

use std::time::{Duration, Instant};

use api::{OpenBaoCluster, Phase};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod, Secret};
use kube::{
    Api, Client, ResourceExt,
    api::{DeleteParams, ListParams, Patch, PatchParams},
};
use localcluster::{ControlPlane, Options, TestNamespace};
use support::{cluster, create};

const E2E_DEADLINE: Duration = Duration::from_secs(240);

/// The repository of the operator's image, which the node runs as this build's binary (backup
/// Jobs run `openbao-operator backup`).
const OPERATOR_REPOSITORY: &str = "ghcr.io/openbao-operator/openbao-operator";

async fn env() -> &'static ControlPlane {
    support::env_with(Options {
        node: true,
        node_options: localcluster::NodeOptions {
            images: [
                (
                    OPERATOR_REPOSITORY.to_string(),
                    std::path::PathBuf::from(env!("CARGO_BIN_EXE_openbao-operator")),
                ),
                // The upgrade tests start on the previous release.
                (
                    format!(
                        "{}:{}",
                        localcluster::OPENBAO_REPOSITORY,
                        localcluster::OPENBAO_PREVIOUS_VERSION
                    ),
                    localcluster::bao_previous_binary()
                        .unwrap_or_else(|e| panic!("the upgrade tests need it: {e}")),
                ),
            ]
            .into(),
            ..localcluster::NodeOptions::default()
        },
        ..Options::default()
    })
    .await
}

async fn setup(prefix: &str) -> (&'static ControlPlane, TestNamespace, Client) {
    let cp = env().await;
    let ns = TestNamespace::create(cp, prefix).await.expect("namespace");
    let client = cp.client().expect("client");
    (cp, ns, client)
}

fn spec(replicas: i32, extra: &str) -> String {
    format!(
        "version: \"2.7.2\"\nreplicas: {replicas}\nconfiguration: {{raft: {{performanceMultiplier: 1}}{extra}}}"
    )
}

/// Poll the cluster `bao` until `accept` holds, failing with the last status after the deadline.
async fn until_cluster(
    client: &Client,
    ns: &str,
    what: &str,
    accept: impl Fn(&OpenBaoCluster) -> bool,
) -> OpenBaoCluster {
    until_named_cluster(client, ns, "bao", what, accept).await
}

/// Poll cluster `name` until `accept` holds, failing with the last status after the deadline.
async fn until_named_cluster(
    client: &Client,
    ns: &str,
    name: &str,
    what: &str,
    accept: impl Fn(&OpenBaoCluster) -> bool,
) -> OpenBaoCluster {
    let api = Api::<OpenBaoCluster>::namespaced(client.clone(), ns);
    let deadline = Instant::now() + E2E_DEADLINE;
    loop {
        let cluster = api.get(name).await.expect("get cluster");
        if accept(&cluster) {
            return cluster;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: last status {}",
            serde_json::to_string_pretty(&cluster.status).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn running_with(members: usize) -> impl Fn(&OpenBaoCluster) -> bool {
    move |c| {
        c.status.as_ref().is_some_and(|s| {
            s.phase == Some(Phase::Running)
                && s.members.len() == members
                && s.members
                    .iter()
                    .filter(|m| m.role.as_deref() == Some("active"))
                    .count()
                    == 1
                && s.members
                    .iter()
                    .all(|m| m.reachable && m.initialized && !m.sealed)
        })
    }
}

async fn pods(client: &Client, ns: &str) -> Vec<Pod> {
    let mut pods = Api::<Pod>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels("app.kubernetes.io/component=server"))
        .await
        .expect("pods")
        .items;
    pods.sort_by_key(|p| p.name_any());
    pods
}

#[tokio::test]
async fn a_three_replica_cluster_runs_initializes_joins_labels_its_pods_and_revokes_its_root_token_on_request()
 {
    let (_, ns, client) = setup("e2e-run").await;
    let n = ns.name();
    // OpenBao's default Raft timing (performance_multiplier 5): sys/init takes about 9 s, so
    // this also proves the operator waits for it instead of timing out and losing the keys.
    create(
        &client,
        &cluster("bao", n, "version: \"2.7.2\"\nreplicas: 3"),
    )
    .await;
    let running = until_cluster(&client, n, "Running with 3 members", running_with(3)).await;
    let status = running.status.expect("status");
    assert!(status.initialized);
    let leader = status.leader.clone().expect("a leader");
    assert_eq!(
        status.raft_peers,
        Some(3),
        "all three joined through auto_join"
    );
    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .expect("Ready");
    assert_eq!(ready.status, "True");

    // The keys were stored before anything else, and are nowhere in status.
    let secret = Api::<Secret>::namespaced(client.clone(), n)
        .get("bao-root-token")
        .await
        .expect("root token");
    let token =
        String::from_utf8(secret.data.expect("data")["root-token"].0.clone()).expect("utf-8");
    assert!(
        !serde_json::to_string(&status)
            .expect("json")
            .contains(&token)
    );

    // The operator wrote its own identity once with the root token (Raft facts above needed
    // its login) and uses its role from then on.
    let events = events_in(&client, n).await;
    let configured: Vec<_> = events
        .iter()
        .filter(|e| e.reason.as_deref() == Some("OperatorIdentityConfigured"))
        .collect();
    assert_eq!(configured.len(), 1, "{configured:?}");
    assert!(
        configured[0].count.unwrap_or(1) <= 1,
        "written once: {configured:?}"
    );

    // OpenBao's own service registration labels the pods through the Role the operator granted.
    let api = Api::<Pod>::namespaced(client.clone(), n);
    let deadline = Instant::now() + E2E_DEADLINE;
    loop {
        let pods = pods(&client, n).await;
        let labelled = pods.iter().all(|p| {
            let l = p.labels();
            l.get("openbao-initialized").map(String::as_str) == Some("true")
                && l.get("openbao-sealed").map(String::as_str) == Some("false")
                && l.get("openbao-active").map(String::as_str)
                    == Some(if p.name_any() == leader {
                        "true"
                    } else {
                        "false"
                    })
        });
        if labelled {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "service registration labels: {:?}",
            pods.iter()
                .map(|p| (p.name_any(), p.labels().clone()))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let _ = api;

    // On request the root token is revoked in OpenBao and leaves the Secret; the recovery keys
    // stay, and the operator goes on with its own identity.
    let admin = member(&client, n, 0)
        .await
        .with_token(bao_client::SecretString::new(token.clone()));
    assert!(admin.token_is_valid().await.expect("lookup-self"));
    Api::<OpenBaoCluster>::namespaced(client.clone(), n)
        .patch(
            "bao",
            &PatchParams::default(),
            &Patch::Merge(
                serde_json::json!({"spec": {"initialization": {"revokeRootToken": true}}}),
            ),
        )
        .await
        .expect("ask for the revocation");
    let revoked = until_cluster(&client, n, "root token revoked", |c| {
        c.status.as_ref().is_some_and(|s| s.root_token_revoked)
    })
    .await;
    assert!(
        !admin.token_is_valid().await.expect("lookup-self"),
        "OpenBao refuses the revoked root token"
    );
    let secret = Api::<Secret>::namespaced(client.clone(), n)
        .get("bao-root-token")
        .await
        .expect("the Secret stays");
    let data = secret.data.clone().unwrap_or_default();
    assert!(!data.contains_key("root-token"), "{:?}", data.keys());
    assert!(
        data.keys().any(|k| k.starts_with("recovery-key-")),
        "the recovery keys stay: {:?}",
        data.keys()
    );
    assert_eq!(
        secret
            .annotations()
            .get("openbao.org/initialization")
            .map(String::as_str),
        Some("root-token-revoked")
    );
    let initialized = revoked
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Initialized"))
        .expect("Initialized");
    assert!(
        initialized.message.contains("revoked"),
        "{}",
        initialized.message
    );
    let events = events_in(&client, n).await;
    let reasons: Vec<_> = events.iter().filter_map(|e| e.reason.as_deref()).collect();
    assert!(reasons.contains(&"RootTokenRevoked"), "{reasons:?}");
    assert!(
        !reasons.contains(&"RootTokenRevocationFailed"),
        "{reasons:?}"
    );
    // A member that restarts comes back and the operator, on its own role, sees all three.
    let pods_api = Api::<Pod>::namespaced(client.clone(), n);
    let old_uid = pods_api.get("bao-2").await.expect("bao-2").uid();
    pods_api
        .delete("bao-2", &DeleteParams::default())
        .await
        .expect("delete bao-2");
    let deadline = Instant::now() + E2E_DEADLINE;
    while pods_api
        .get_opt("bao-2")
        .await
        .expect("read bao-2")
        .and_then(|p| p.uid())
        == old_uid
        || old_uid.is_none()
    {
        assert!(Instant::now() < deadline, "bao-2 was not replaced");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let again = until_cluster(&client, n, "Running again after a restart", |c| {
        running_with(3)(c)
            && c.status.as_ref().is_some_and(|s| {
                s.root_token_revoked
                    && s.raft_peers == Some(3)
                    && s.members.iter().all(|m| m.voter == Some(true))
            })
    })
    .await;
    assert_eq!(again.status.expect("status").phase, Some(Phase::Running));
}

/// The Events recorded in namespace `n`.
async fn events_in(client: &Client, n: &str) -> Vec<k8s_openapi::api::core::v1::Event> {
    Api::<k8s_openapi::api::core::v1::Event>::namespaced(client.clone(), n)
        .list(&ListParams::default())
        .await
        .expect("events")
        .items
}

/// The root token `bao` in `n` stored at initialization.
async fn root_token(client: &Client, n: &str) -> bao_client::SecretString {
    let secret = Api::<Secret>::namespaced(client.clone(), n)
        .get("bao-root-token")
        .await
        .expect("bao-root-token");
    let token =
        String::from_utf8(secret.data.expect("data")["root-token"].0.clone()).expect("utf-8");
    bao_client::SecretString::new(token)
}

/// A client for member `ordinal` of `bao` in `n`, with the stored root token.
async fn root_member(client: &Client, n: &str, ordinal: i32) -> bao_client::BaoClient {
    member(client, n, ordinal)
        .await
        .with_token(root_token(client, n).await)
}

/// A client (no token) for member `ordinal` of `bao` in `n`, trusting the cluster's CA (the
/// operator's, or in External mode the one the user's Secret carries).
async fn member(client: &Client, n: &str, ordinal: i32) -> bao_client::BaoClient {
    member_of(client, n, "bao", ordinal).await
}

/// A client (no token) for member `ordinal` of cluster `cluster` in `n`.
async fn member_of(client: &Client, n: &str, cluster: &str, ordinal: i32) -> bao_client::BaoClient {
    try_member_of(client, n, cluster, ordinal)
        .await
        .unwrap_or_else(|| panic!("{cluster}-{ordinal} has no pod with an IP"))
}

/// Like [`member_of`], `None` while the pod does not exist or has no IP (it is being replaced).
async fn try_member_of(
    client: &Client,
    n: &str,
    cluster: &str,
    ordinal: i32,
) -> Option<bao_client::BaoClient> {
    support::writes::member_of(client, n, cluster, ordinal).await
}

#[tokio::test]
async fn an_upstream_style_cluster_serves_prometheus_metrics_enables_its_audit_devices_and_configures_autopilot()
 {
    let (_, ns, client) = setup("e2e-upstream").await;
    let n = ns.name();
    // Written in upstream's v1alpha1 spelling: profile, tls.enabled, logging, telemetry and
    // declarative audit devices, all rendered into config.hcl.
    create(
        &client,
        &cluster(
            "bao",
            n,
            "profile: Development\nversion: \"2.7.2\"\nreplicas: 1\ntls: {enabled: true, mode: OperatorManaged, rotationPeriod: 720h}\nstorage: {size: 1Gi}\nconfiguration: {logLevel: info, logging: {format: json}, defaultLeaseTTL: 24h, maxLeaseTTL: 720h, raft: {performanceMultiplier: 1, autopilot: {cleanupDeadServers: true, deadServerLastContactThreshold: 10m, minQuorum: 3, serverStabilizationTime: 30s}}}\ntelemetry: {prometheusRetentionTime: 1h}\nauditFileStorage: {mode: ManagedPVC, size: 64Mi}\naudit:\n- {type: file, path: stdout, description: audit to the log, fileOptions: {filePath: stdout}}\n- {type: file, path: discard, fileOptions: {filePath: discard}}\n- {type: file, path: file, fileOptions: {filePath: /openbao/audit/audit.log}}",
        ),
    )
    .await;
    let running = until_cluster(&client, n, "Running with 1 member", running_with(1)).await;
    let risk = running
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "SecurityRisk"))
        .expect("SecurityRisk condition");
    assert_eq!(
        (risk.status.as_str(), risk.reason.as_str()),
        ("True", "DevelopmentProfile")
    );
    // The audit devices join the configuration only after the keys are stored (a device that
    // failed during sys/init would lose them), which rolls the pod once: wait for them.
    let deadline = Instant::now() + E2E_DEADLINE;
    let bao = loop {
        // The pod is replaced once on the way: between its deletion and its new IP there is no
        // member to ask.
        let has_ip = Api::<Pod>::namespaced(client.clone(), n)
            .get_opt("bao-0")
            .await
            .ok()
            .flatten()
            .and_then(|p| p.status)
            .and_then(|s| s.pod_ip)
            .is_some();
        if !has_ip {
            assert!(Instant::now() < deadline, "bao-0 never came back");
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        let bao = root_member(&client, n, 0).await;
        let devices = bao.audit_devices().await.unwrap_or_default();
        if devices.get("stdout/").map(String::as_str) == Some("file")
            && devices.get("discard/").map(String::as_str) == Some("file")
            && devices.get("file/").map(String::as_str) == Some("file")
        {
            break bao;
        }
        if Instant::now() >= deadline {
            let c = Api::<OpenBaoCluster>::namespaced(client.clone(), n)
                .get("bao")
                .await
                .expect("cluster");
            panic!(
                "audit devices never enabled: {devices:?}; cluster status: {}",
                serde_json::to_string_pretty(&c.status).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    until_cluster(&client, n, "Running after the roll", running_with(1)).await;
    let metrics = bao.metrics_prometheus().await.expect("Prometheus metrics");
    assert!(
        metrics.contains("# TYPE") && metrics.contains("audit"),
        "Prometheus text with audit metrics, got: {}",
        metrics.chars().take(300).collect::<String>()
    );
    // Autopilot lives in Raft: the operator writes the spec's settings through the API.
    let deadline = Instant::now() + E2E_DEADLINE;
    let autopilot = loop {
        let autopilot = bao
            .autopilot_configuration()
            .await
            .expect("autopilot configuration");
        if autopilot.cleanup_dead_servers {
            break autopilot;
        }
        assert!(
            Instant::now() < deadline,
            "autopilot not configured: {autopilot:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(autopilot.min_quorum, 3, "{autopilot:?}");
    assert_eq!(
        autopilot.dead_server_last_contact_threshold,
        Some(Duration::from_secs(600))
    );
    assert_eq!(
        autopilot.server_stabilization_time,
        Some(Duration::from_secs(30))
    );
    // The file device writes into the operator's ReadWriteMany claim, in the pod's own
    // sub-directory (subPathExpr), which the node provisioned as a directory of its own.
    let claim = Api::<PersistentVolumeClaim>::namespaced(client.clone(), n)
        .get("bao-audit")
        .await
        .expect("the managed audit claim");
    let spec = claim.spec.expect("claim spec");
    assert_eq!(spec.access_modes, Some(vec!["ReadWriteMany".to_string()]));
    let volume = Api::<PersistentVolume>::all(client.clone())
        .get(spec.volume_name.as_deref().expect("a bound claim"))
        .await
        .expect("its volume");
    let dir = volume
        .spec
        .and_then(|s| s.host_path)
        .map(|h| std::path::PathBuf::from(h.path))
        .expect("a hostPath volume");
    let log = dir.join("bao-0").join("audit.log");
    let deadline = Instant::now() + E2E_DEADLINE;
    loop {
        // Every audited request appends a JSON line; this one is audited too.
        let _ = bao.audit_devices().await;
        let entries = std::fs::read_to_string(&log).unwrap_or_default();
        if entries.lines().any(|l| l.contains("\"type\":\"response\"")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no audit entries in {}: {entries:?}",
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn killed_processes_deleted_pods_and_a_lost_leader_all_recover() {
    let (cp, ns, client) = setup("e2e-recover").await;
    let n = ns.name();
    let node = cp.node().expect("node");
    create(&client, &cluster("bao", n, &spec(3, ""))).await;
    let running = until_cluster(&client, n, "Running", running_with(3)).await;
    let leader = running.status.and_then(|s| s.leader).expect("leader");
    let standby = ["bao-0", "bao-1", "bao-2"]
        .into_iter()
        .find(|p| *p != leader)
        .expect("a standby")
        .to_string();
    let secret_before = Api::<Secret>::namespaced(client.clone(), n)
        .get("bao-root-token")
        .await
        .expect("secret");

    // 1. Kill a standby's process: the node restarts it and it rejoins.
    let pid = node.container_pid(n, &standby, "openbao").expect("pid");
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill");
    let pods_api = Api::<Pod>::namespaced(client.clone(), n);
    let deadline = Instant::now() + E2E_DEADLINE;
    loop {
        let pod = pods_api.get(&standby).await.expect("pod");
        let restarts = pod
            .status
            .and_then(|s| s.container_statuses)
            .and_then(|c| c.first().map(|c| c.restart_count))
            .unwrap_or(0);
        if restarts >= 1 {
            break;
        }
        assert!(Instant::now() < deadline, "no restart of {standby}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    until_cluster(&client, n, "Running after a process kill", running_with(3)).await;

    // 2. Delete a standby pod: the StatefulSet recreates it and it finds its data.
    let uid = pods_api.get(&standby).await.expect("pod").uid();
    pods_api
        .delete(&standby, &DeleteParams::default())
        .await
        .expect("delete pod");
    let deadline = Instant::now() + E2E_DEADLINE;
    loop {
        let replaced = pods_api
            .get_opt(&standby)
            .await
            .expect("get pod")
            .is_some_and(|p| {
                p.uid() != uid
                    && p.status
                        .and_then(|s| s.conditions)
                        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            });
        if replaced {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{standby} was not recreated and ready"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    until_cluster(&client, n, "Running after a pod deletion", running_with(3)).await;
    let secret_after = Api::<Secret>::namespaced(client.clone(), n)
        .get("bao-root-token")
        .await
        .expect("secret");
    assert_eq!(
        secret_after.data, secret_before.data,
        "never initialized again"
    );

    // 3. Kill the active member: another takes over and status follows. Leadership can only
    // move to a voter, and autopilot promotes a (re)joined member only after its stabilization
    // time, so wait until every member votes.
    until_cluster(&client, n, "every member a voter", |c| {
        running_with(3)(c)
            && c.status
                .as_ref()
                .is_some_and(|s| s.members.iter().all(|m| m.voter == Some(true)))
    })
    .await;
    let pid = node.container_pid(n, &leader, "openbao").expect("pid");
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill");
    let moved = until_cluster(&client, n, "a new leader", |c| {
        c.status
            .as_ref()
            .and_then(|s| s.leader.as_deref())
            .is_some_and(|l| l != leader)
    })
    .await;
    let new_leader = moved.status.and_then(|s| s.leader).expect("leader");
    assert_ne!(new_leader, leader);
    until_cluster(
        &client,
        n,
        "Running again with all members",
        running_with(3),
    )
    .await;
}

#[tokio::test]
async fn scaling_three_to_five_to_three_keeps_raft_membership_in_step() {
    let (_, ns, client) = setup("e2e-scale").await;
    let n = ns.name();
    create(&client, &cluster("bao", n, &spec(3, ""))).await;
    until_cluster(&client, n, "Running with 3", running_with(3)).await;
    let clusters = Api::<OpenBaoCluster>::namespaced(client.clone(), n);
    clusters
        .patch(
            "bao",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"replicas": 5}})),
        )
        .await
        .expect("scale up");
    until_cluster(&client, n, "Running with 5 peers", |c| {
        running_with(5)(c) && c.status.as_ref().and_then(|s| s.raft_peers) == Some(5)
    })
    .await;
    clusters
        .patch(
            "bao",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"replicas": 3}})),
        )
        .await
        .expect("scale down");
    until_cluster(
        &client,
        n,
        "Running with 3 peers after removing the departed ones",
        |c| running_with(3)(c) && c.status.as_ref().and_then(|s| s.raft_peers) == Some(3),
    )
    .await;
}

#[tokio::test]
async fn a_log_level_change_rolls_pods_one_at_a_time_while_a_quorum_keeps_serving() {
    let (_, ns, client) = setup("e2e-roll").await;
    let n = ns.name();
    create(&client, &cluster("bao", n, &spec(3, ""))).await;
    until_cluster(&client, n, "Running", running_with(3)).await;
    let before: Vec<String> = pods(&client, n)
        .await
        .iter()
        .map(|p| p.uid().unwrap_or_default())
        .collect();
    Api::<OpenBaoCluster>::namespaced(client.clone(), n)
        .patch(
            "bao",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"configuration": {"logLevel": "debug"}}})),
        )
        .await
        .expect("change log level");
    let deadline = Instant::now() + E2E_DEADLINE;
    let mut worst_unready = 0;
    loop {
        let pods = pods(&client, n).await;
        let ready = |p: &Pod| {
            p.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        };
        let unready = 3 - pods.iter().filter(|p| ready(p)).count();
        worst_unready = worst_unready.max(unready);
        assert!(
            unready <= 1,
            "more than one member down during the roll: {unready}"
        );
        let rolled = pods.len() == 3
            && pods
                .iter()
                .all(|p| !before.contains(&p.uid().unwrap_or_default()));
        if rolled && unready == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "roll did not finish");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(worst_unready, 1, "the roll restarted pods");
    until_cluster(&client, n, "Running after the roll", running_with(3)).await;
}

#[tokio::test]
async fn deleting_a_running_cluster_honours_each_deletion_policy() {
    let (_, ns, client) = setup("e2e-delete").await;
    let n = ns.name();
    for policy in ["Retain", "DeletePVCs", "DeleteAll"] {
        create(
            &client,
            &cluster(
                "bao",
                n,
                &spec(1, "").replace(
                    "replicas: 1",
                    &format!("replicas: 1\ndeletionPolicy: {policy}"),
                ),
            ),
        )
        .await;
        until_cluster(&client, n, &format!("Running ({policy})"), running_with(1)).await;
        let clusters = Api::<OpenBaoCluster>::namespaced(client.clone(), n);
        clusters
            .delete("bao", &DeleteParams::default())
            .await
            .expect("delete");
        // No moment in which a pod of the cluster exists without its policy: the policy is read
        // first, the pods after it, so a pod seen later than a missing policy was there too
        // (nothing creates pods once the StatefulSet is deleted).
        let policies =
            Api::<k8s_openapi::api::networking::v1::NetworkPolicy>::namespaced(client.clone(), n);
        let deadline = Instant::now() + E2E_DEADLINE;
        loop {
            let live_policy = policies
                .get_opt("bao-network-policy")
                .await
                .expect("get policy");
            let remaining = pods(&client, n).await;
            assert!(
                live_policy.is_some() || remaining.is_empty(),
                "{policy}: pods {:?} run without their NetworkPolicy",
                remaining.iter().map(|p| p.name_any()).collect::<Vec<_>>()
            );
            if clusters.get_opt("bao").await.expect("get").is_none() && remaining.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{policy}: cluster or pods not gone"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        let pvcs: Vec<String> = Api::<PersistentVolumeClaim>::namespaced(client.clone(), n)
            .list(&ListParams::default())
            .await
            .expect("pvcs")
            .items
            .into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .map(|p| p.name_any())
            .collect();
        let secrets: Vec<String> = Api::<Secret>::namespaced(client.clone(), n)
            .list(&ListParams::default())
            .await
            .expect("secrets")
            .items
            .into_iter()
            .map(|s| s.name_any())
            .filter(|s| s.starts_with("bao-"))
            .collect();
        match policy {
            "Retain" => {
                assert_eq!(pvcs, ["data-bao-0"], "{policy}");
                assert!(
                    secrets.contains(&"bao-root-token".to_string())
                        && secrets.contains(&"bao-unseal-key".to_string())
                );
                // Clean up by hand before the next policy (keys of a cluster that is gone).
                for s in &secrets {
                    Api::<Secret>::namespaced(client.clone(), n)
                        .delete(s, &DeleteParams::default())
                        .await
                        .expect("delete secret");
                }
                Api::<PersistentVolumeClaim>::namespaced(client.clone(), n)
                    .delete("data-bao-0", &DeleteParams::default())
                    .await
                    .expect("delete pvc");
                let pvc_api = Api::<PersistentVolumeClaim>::namespaced(client.clone(), n);
                while pvc_api.get_opt("data-bao-0").await.expect("get").is_some() {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            }
            "DeletePVCs" => {
                assert!(pvcs.is_empty(), "{policy}: {pvcs:?}");
                assert!(
                    secrets.contains(&"bao-root-token".to_string()),
                    "{policy}: {secrets:?}"
                );
                for s in &secrets {
                    Api::<Secret>::namespaced(client.clone(), n)
                        .delete(s, &DeleteParams::default())
                        .await
                        .expect("delete secret");
                }
            }
            _ => {
                assert!(pvcs.is_empty(), "{policy}: {pvcs:?}");
                assert!(secrets.is_empty(), "{policy}: {secrets:?}");
            }
        }
    }
}

/// A second operator (its own client, metrics and thread, no leader election) watching only
/// `namespace`, as a second install or a deposed leader that keeps running would. Runs until
/// the returned sender is dropped.
fn second_operator(cp: &'static ControlPlane, namespace: &str) -> tokio::sync::oneshot::Sender<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let namespace = namespace.to_string();
    std::thread::Builder::new()
        .name("second-operator".to_string())
        // The controller's future runs on this thread, as it runs on the binary's main thread:
        // give it a main thread's stack and the binary's worker stacks.
        .stack_size(operator::cli::run::WORKER_STACK_BYTES)
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_stack_size(operator::cli::run::WORKER_STACK_BYTES)
                .enable_all()
                .build()
                .expect("second operator runtime");
            runtime.block_on(async move {
                let client = cp
                    .client_for_service_account(support::OPERATOR_NS, support::OPERATOR_SA)
                    .await
                    .expect("second operator client");
                let config = operator::reconcile::Config {
                    operator_namespace: support::OPERATOR_NS.to_string(),
                    watch_namespace: Some(namespace),
                    service_account: support::OPERATOR_SA.to_string(),
                    job_image: operator::install::deploy::DEFAULT_IMAGE.to_string(),
                    health_check_interval:
                        operator::reconcile::status::DEFAULT_HEALTH_CHECK_INTERVAL,
                    max_concurrent_reconciles:
                        operator::reconcile::status::DEFAULT_MAX_CONCURRENT_RECONCILES,
                };
                let metrics = std::sync::Arc::new(operator::telemetry::Metrics::new());
                operator::reconcile::run(client, config, metrics, async {
                    let _ = stopped.await;
                })
                .await;
            });
        })
        .expect("spawn the second operator");
    stop
}

#[tokio::test]
async fn two_operators_without_leader_election_initialize_a_new_cluster_once_and_store_its_keys() {
    let (cp, ns, client) = setup("e2e-two-operators").await;
    let n = ns.name();
    let _second = second_operator(cp, n);
    create(&client, &cluster("bao", n, &spec(3, ""))).await;
    let running = until_cluster(&client, n, "Running with 3 members", running_with(3)).await;
    assert!(running.status.expect("status").initialized);

    let secret = Api::<Secret>::namespaced(client.clone(), n)
        .get("bao-root-token")
        .await
        .expect("root-token Secret");
    let data = secret.data.expect("keys stored");
    assert!(
        data.get("root-token").is_some_and(|t| !t.0.is_empty()),
        "the root token is stored"
    );
    assert_eq!(
        (0..5)
            .filter(|i| data.contains_key(&format!("recovery-key-{i}")))
            .count(),
        5,
        "all recovery keys are stored"
    );
    // Exactly one `sys/init` reached OpenBao: one barrier initialization across the members.
    let node = cp.node().expect("node");
    let inits: usize = ["bao-0", "bao-1", "bao-2"]
        .iter()
        .map(|pod| {
            let log = node
                .container_log(n, pod, "openbao")
                .unwrap_or_else(|| panic!("{pod} has a log"));
            std::fs::read_to_string(log)
                .unwrap_or_default()
                .matches("security barrier initialized")
                .count()
        })
        .sum();
    assert_eq!(inits, 1, "OpenBao was initialized exactly once");
    // The token stored is the one OpenBao accepts (the keys belong to this initialization).
    root_member(&client, n, 0)
        .await
        .raft_configuration()
        .await
        .expect("the stored root token is the one OpenBao accepts");
}

/// A StorageClass named `name` (cluster-scoped, so unique per test) that does or does not allow
/// expansion; the node's provisioner serves every class.
async fn storage_class(client: &Client, name: &str, expandable: bool) {
    let class: k8s_openapi::api::storage::v1::StorageClass =
        serde_json::from_value(serde_json::json!({
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": name},
            "provisioner": "localcluster.openbao.org/node",
            "allowVolumeExpansion": expandable,
        }))
        .expect("storage class");
    let api = Api::<k8s_openapi::api::storage::v1::StorageClass>::all(client.clone());
    match api.create(&Default::default(), &class).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(e) => panic!("create StorageClass {name}: {e}"),
    }
}

/// The `storage` request and `status.capacity` of each data claim, by name.
async fn claim_sizes(client: &Client, ns: &str) -> Vec<(String, String, String)> {
    let mut claims: Vec<_> = Api::<PersistentVolumeClaim>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .expect("claims")
        .items
        .iter()
        .map(|c| {
            let request = c
                .spec
                .as_ref()
                .and_then(|s| s.resources.as_ref())
                .and_then(|r| r.requests.as_ref())
                .and_then(|r| r.get("storage"))
                .map(|q| q.0.clone())
                .unwrap_or_default();
            let capacity = c
                .status
                .as_ref()
                .and_then(|s| s.capacity.as_ref())
                .and_then(|r| r.get("storage"))
                .map(|q| q.0.clone())
                .unwrap_or_default();
            (c.name_any(), request, capacity)
        })
        .collect();
    claims.sort();
    claims
}

/// A `replicas` cluster `bao` with 1Gi claims of a new StorageClass that does or does not allow
/// expansion, Running.
async fn running_on_new_class(client: &Client, n: &str, expandable: bool, replicas: i32) {
    let class = format!("{n}-{}", if expandable { "expandable" } else { "fixed" });
    storage_class(client, &class, expandable).await;
    let extra = format!("\nstorage: {{size: 1Gi, storageClassName: {class}}}");
    create(
        client,
        &cluster("bao", n, &format!("{}{extra}", spec(replicas, ""))),
    )
    .await;
    let members = usize::try_from(replicas).expect("replicas");
    until_cluster(client, n, "Running", running_with(members)).await;
}

fn grow_to(size: &str) -> Patch<serde_json::Value> {
    Patch::Merge(serde_json::json!({"spec": {"storage": {"size": size}}}))
}

#[tokio::test]
async fn growing_the_storage_size_expands_every_claim_and_keeps_the_pods_running() {
    let (_, ns, client) = setup("e2e-grow").await;
    let n = ns.name();
    running_on_new_class(&client, n, true, 3).await;
    let before: Vec<String> = pods(&client, n)
        .await
        .iter()
        .map(|p| p.uid().unwrap_or_default())
        .collect();
    let sets = Api::<k8s_openapi::api::apps::v1::StatefulSet>::namespaced(client.clone(), n);
    let set_uid = sets.get("bao").await.expect("statefulset").uid();

    Api::<OpenBaoCluster>::namespaced(client.clone(), n)
        .patch("bao", &PatchParams::default(), &grow_to("2Gi"))
        .await
        .expect("grow the storage size");

    let deadline = Instant::now() + E2E_DEADLINE;
    loop {
        let claims = claim_sizes(&client, n).await;
        let grown = claims.len() == 3 && claims.iter().all(|(_, r, c)| r == "2Gi" && c == "2Gi");
        let set = sets.get_opt("bao").await.expect("statefulset");
        let template_size = set.as_ref().and_then(|s| {
            s.spec.volume_claim_templates.as_ref()?[0]
                .spec
                .as_ref()?
                .resources
                .as_ref()?
                .requests
                .as_ref()?
                .get("storage")
                .map(|q| q.0.clone())
        });
        if grown && template_size.as_deref() == Some("2Gi") {
            assert_ne!(
                set.and_then(|s| s.uid()),
                set_uid,
                "the StatefulSet was re-created to carry the new claim template"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "claims not expanded: {claims:?}, template {template_size:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let cluster = until_cluster(&client, n, "Running after growing", running_with(3)).await;
    let after: Vec<String> = pods(&client, n)
        .await
        .iter()
        .map(|p| p.uid().unwrap_or_default())
        .collect();
    assert_eq!(before, after, "no pod was restarted by the expansion");
    // The StatefulSet controller adopts the orphaned pods once it syncs the new StatefulSet,
    // which may be a moment after the operator created it.
    let new_uid = sets.get("bao").await.expect("statefulset").uid();
    loop {
        let owners: Vec<_> = pods(&client, n)
            .await
            .iter()
            .map(|p| p.owner_references().first().map(|o| o.uid.clone()))
            .collect();
        if owners.iter().all(|o| *o == new_uid) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new StatefulSet never adopted the pods: {owners:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let degraded = cluster
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Degraded"))
        .map(|c| c.status.clone());
    assert_eq!(degraded.as_deref(), Some("False"));
}

#[tokio::test]
async fn growing_the_storage_size_on_a_class_without_expansion_is_reported_and_nothing_breaks() {
    let (_, ns, client) = setup("e2e-nogrow").await;
    let n = ns.name();
    running_on_new_class(&client, n, false, 1).await;
    let sets = Api::<k8s_openapi::api::apps::v1::StatefulSet>::namespaced(client.clone(), n);
    let set_uid = sets.get("bao").await.expect("statefulset").uid();

    let api = Api::<OpenBaoCluster>::namespaced(client.clone(), n);
    api.patch("bao", &PatchParams::default(), &grow_to("2Gi"))
        .await
        .expect("grow the storage size");
    let cluster = until_cluster(&client, n, "VolumeExpansionRefused", |c| {
        c.status.as_ref().is_some_and(|s| {
            s.conditions.iter().any(|c| {
                c.type_ == "Degraded" && c.status == "True" && c.reason == "VolumeExpansionRefused"
            })
        })
    })
    .await;
    let message = cluster
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Degraded"))
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert!(
        message.contains("data-bao-0") && message.contains("allowVolumeExpansion"),
        "{message}"
    );
    assert_eq!(
        claim_sizes(&client, n).await,
        vec![(
            "data-bao-0".to_string(),
            "1Gi".to_string(),
            "1Gi".to_string()
        )]
    );
    assert_eq!(
        sets.get("bao").await.expect("statefulset").uid(),
        set_uid,
        "nothing was deleted"
    );
    // Other changes still roll out while the expansion is refused.
    api.patch(
        "bao",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"spec": {"configuration": {"logLevel": "debug"}}})),
    )
    .await
    .expect("change log level");
    let deadline = Instant::now() + E2E_DEADLINE;
    loop {
        let config = Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(client.clone(), n)
            .get("bao-config")
            .await
            .ok()
            .and_then(|c| c.data)
            .and_then(|d| d.get("config.hcl").cloned())
            .unwrap_or_default();
        if config.contains("log_level = \"debug\"") {
            break;
        }
        assert!(Instant::now() < deadline, "log level not applied: {config}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A token of the operator's ServiceAccount for OpenBao's audience, as the operator requests
/// it.
async fn operator_jwt(client: &Client) -> bao_client::SecretString {
    service_account_jwt(
        client,
        support::OPERATOR_NS,
        support::OPERATOR_SA,
        operator::identity::AUDIENCE,
    )
    .await
}

/// Create ServiceAccount `name` in `ns` (no permissions: what an application pod runs as).
async fn create_service_account(client: &Client, ns: &str, name: &str) {
    let account = k8s_openapi::api::core::v1::ServiceAccount {
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_string()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<k8s_openapi::api::core::v1::ServiceAccount>::namespaced(client.clone(), ns)
        .create(&Default::default(), &account)
        .await
        .unwrap_or_else(|e| panic!("ServiceAccount {name}: {e}"));
}

const SELF_INIT: &str = "selfInit:\n  enabled: true\n  requests:\n  - {name: userpass, operation: update, path: sys/auth/userpass, authMethod: {type: userpass, description: people}}\n  - {name: kv, operation: update, path: sys/mounts/secret, secretEngine: {type: kv, options: {version: \"2\"}}}\n  - {name: writers, operation: update, path: sys/policies/acl/writers, policy: {policy: \"path \\\"secret/data/*\\\" { capabilities = [\\\"create\\\", \\\"update\\\", \\\"read\\\"] }\"}}\n  - {name: alice, operation: update, path: auth/userpass/users/alice, data: {token_policies: [writers]}, dataFrom: {password: {name: people, key: alice}}}";

#[tokio::test]
async fn a_self_initialized_cluster_forms_without_any_root_token_and_the_operator_uses_only_its_own_role()
 {
    let (_, ns, client) = setup("e2e-selfinit").await;
    let n = ns.name();
    create(
        &client,
        &cluster("bao", n, &format!("{}\n{SELF_INIT}", spec(3, ""))),
    )
    .await;
    // alice's password comes from a Secret that does not exist yet: nothing starts, since
    // OpenBao reads it only at its first start.
    let held = until_cluster(&client, n, "held back for the Secret", |c| {
        c.status.as_ref().is_some_and(|s| {
            s.phase == Some(Phase::Pending)
                && s.conditions.iter().any(|c| {
                    c.reason == "SelfInitSecretMissing" && c.message.contains("people/alice")
                })
        })
    })
    .await;
    assert!(pods(&client, n).await.is_empty(), "{:?}", held.status);
    put_secret(&client, n, "people", &[("alice", "e2e-only-password")]).await;
    let running = until_cluster(&client, n, "Running with 3 members", running_with(3)).await;
    let status = running.status.expect("status");
    assert!(status.initialized && status.self_initialized, "{status:?}");
    // Raft facts need a token: the operator logged in with its own role.
    assert_eq!(status.raft_peers, Some(3), "{status:?}");
    let initialized = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Initialized")
        .expect("Initialized");
    assert_eq!(initialized.reason, "SelfInitialized");

    // No Secret of the namespace holds a root token or keys.
    let secrets = Api::<Secret>::namespaced(client.clone(), n)
        .list(&ListParams::default())
        .await
        .expect("secrets");
    assert!(
        secrets
            .items
            .iter()
            .all(|s| s.name_any() != "bao-root-token"
                && s.data.as_ref().is_none_or(|d| {
                    !d.contains_key("root-token")
                        && !d.keys().any(|k| k.starts_with("recovery-key"))
                })),
        "{:?}",
        secrets
            .items
            .iter()
            .map(ResourceExt::name_any)
            .collect::<Vec<_>>()
    );
    // Once initialized, the initialize blocks are gone from the configuration, so a member
    // that starts later joins instead of initializing a cluster of its own.
    let config = Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(client.clone(), n)
        .get("bao-config")
        .await
        .expect("config");
    assert_eq!(
        config
            .data
            .expect("data")
            .get("self-init.json")
            .map(String::as_str),
        Some("{}\n")
    );

    // The user's requests ran: alice logs in through userpass and writes and reads a secret.
    let bao = member(&client, n, 0).await;
    let login = reqwest_login(&bao, "alice", "e2e-only-password").await;
    let alice = bao.with_token(login);
    alice
        .kv_v2_put("secret", "app", &serde_json::json!({"k": "v"}))
        .await
        .expect("alice writes");
    assert_eq!(
        alice.kv_v2_get("secret", "app").await.expect("alice reads"),
        Some(serde_json::json!({"k": "v"}))
    );

    // The operator's role: each call the operator makes is allowed, anything else is denied.
    let jwt = operator_jwt(&client).await;
    let operator_login = bao
        .jwt_login(
            operator::identity::AUTH_MOUNT,
            operator::identity::OPERATOR_ROLE,
            &jwt,
        )
        .await
        .expect("the operator's login");
    let op = bao.with_token(operator_login.token);
    op.raft_configuration().await.expect("raft configuration");
    let autopilot = op.autopilot_configuration().await.expect("autopilot read");
    op.set_autopilot_configuration(&bao_client::AutopilotConfigurationUpdate {
        min_quorum: Some(autopilot.min_quorum.max(3)),
        ..Default::default()
    })
    .await
    .expect("autopilot write");
    let removed = op.remove_raft_peer("no-such-peer").await;
    assert!(
        !matches!(removed, Err(bao_client::Error::PermissionDenied { .. })),
        "remove-peer must be allowed: {removed:?}"
    );
    let mut sink = tokio::io::sink();
    for denied in [
        op.kv_v2_get("secret", "app").await.map(drop),
        op.mount_kv_v2("other").await,
        op.audit_devices().await.map(drop),
        op.auth_mounts().await.map(drop),
        op.save_snapshot(&mut sink).await.map(drop),
    ] {
        assert!(
            matches!(denied, Err(bao_client::Error::PermissionDenied { .. })),
            "{denied:?}"
        );
    }

    // The Jobs' roles: each bound to its own ServiceAccount, each holding one policy.
    for name in ["bao-backup", "bao-restore"] {
        create_service_account(&client, n, name).await;
    }
    let login = |account: &'static str, role: &'static str| {
        let (client, bao) = (client.clone(), bao.clone());
        async move {
            let jwt = service_account_jwt(&client, n, account, operator::identity::AUDIENCE).await;
            bao.jwt_login(operator::identity::AUTH_MOUNT, role, &jwt)
                .await
        }
    };
    let backup = bao.with_token(
        login("bao-backup", "backup")
            .await
            .expect("backup login")
            .token,
    );
    let size = backup
        .save_snapshot(&mut tokio::io::sink())
        .await
        .expect("the backup role streams a snapshot");
    assert!(size > 0);
    assert!(matches!(
        backup.raft_configuration().await,
        Err(bao_client::Error::PermissionDenied { .. })
    ));
    let restore = bao.with_token(
        login("bao-restore", "restore")
            .await
            .expect("restore login")
            .token,
    );
    assert!(matches!(
        restore.save_snapshot(&mut tokio::io::sink()).await,
        Err(bao_client::Error::PermissionDenied { .. })
    ));
    // A token of another account does not get the backup role.
    assert!(login("bao-restore", "backup").await.is_err());
}

/// Log in through userpass as `user` (the test's own request: the client has no userpass
/// call, since the operator never needs one).
async fn reqwest_login(
    bao: &bao_client::BaoClient,
    user: &str,
    password: &str,
) -> bao_client::SecretString {
    // userpass logins answer like JWT logins: the same parsing applies.
    bao.userpass_login(user, password)
        .await
        .expect("userpass login")
        .token
}

#[tokio::test]
async fn a_failed_self_initialization_request_is_reported_by_name_and_never_retried() {
    let (_, ns, client) = setup("e2e-selfinit-bad").await;
    let n = ns.name();
    create(
        &client,
        &cluster(
            "bao",
            n,
            &format!(
                "{}\nselfInit:\n  enabled: true\n  requests:\n  - {{name: bad-path, operation: update, path: sys/no-such-endpoint, data: {{x: y}}}}",
                spec(1, "")
            ),
        ),
    )
    .await;
    let failed = until_cluster(&client, n, "Failed with SelfInitializationFailed", |c| {
        c.status.as_ref().is_some_and(|s| {
            s.phase == Some(Phase::Failed)
                && s.conditions.iter().any(|c| {
                    c.reason == "SelfInitializationFailed" && c.message.contains("bad-path")
                })
        })
    })
    .await;
    let status = failed.status.expect("status");
    assert!(!status.initialized && !status.self_initialized);
    let condition = status
        .conditions
        .iter()
        .find(|c| c.reason == "SelfInitializationFailed")
        .expect("condition");
    assert!(
        condition.message.contains("spec.selfInit.requests"),
        "{}",
        condition.message
    );
}

/// The claims of a JWT (unverified: the test's own token).
fn claims(jwt: &bao_client::SecretString) -> serde_json::Value {
    use base64::Engine as _;
    let payload = jwt.expose_secret().split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("claims")
}

/// A token of ServiceAccount `namespace/name` for `audience`, as a pod's projected token.
async fn service_account_jwt(
    client: &Client,
    namespace: &str,
    name: &str,
    audience: &str,
) -> bao_client::SecretString {
    use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            audiences: Some(vec![audience.to_string()]),
            expiration_seconds: Some(600),
            ..TokenRequestSpec::default()
        }),
        ..TokenRequest::default()
    };
    let answer =
        Api::<k8s_openapi::api::core::v1::ServiceAccount>::namespaced(client.clone(), namespace)
            .create_token_request(name, &Default::default(), &request)
            .await
            .unwrap_or_else(|e| panic!("token of {namespace}/{name}: {e}"));
    bao_client::SecretString::new(answer.status.and_then(|s| s.token).expect("a minted token"))
}

async fn put_secret(client: &Client, ns: &str, name: &str, data: &[(&str, &str)]) {
    let secret = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_string()),
            ..Default::default()
        },
        string_data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        ..Secret::default()
    };
    Api::<Secret>::namespaced(client.clone(), ns)
        .create(&Default::default(), &secret)
        .await
        .unwrap_or_else(|e| panic!("Secret {name}: {e}"));
}

#[tokio::test]
async fn a_hardened_cluster_unseals_through_transit_initializes_itself_and_serves_a_pods_role() {
    let (_, transit_ns, client) = setup("e2e-transit").await;
    let (_, hard_ns, _) = setup("e2e-hardened").await;
    let (t, h) = (transit_ns.name(), hard_ns.name());

    // A second OpenBao cluster serves the Transit engine; the seal gets a token of a policy
    // that may only encrypt and decrypt with its key.
    create(&client, &cluster("bao", t, &spec(1, ""))).await;
    until_cluster(&client, t, "transit Running", running_with(1)).await;
    let transit = root_member(&client, t, 0).await;
    transit
        .write("sys/mounts/transit", serde_json::json!({"type": "transit"}))
        .await
        .expect("transit engine");
    transit
        .write("transit/keys/autounseal", serde_json::json!({}))
        .await
        .expect("transit key");
    transit
        .write(
            "sys/policies/acl/autounseal",
            serde_json::json!({"policy": "path \"transit/encrypt/autounseal\" { capabilities = [\"update\"] }\npath \"transit/decrypt/autounseal\" { capabilities = [\"update\"] }"}),
        )
        .await
        .expect("seal policy");
    let seal_token = transit
        .create_token(&["autounseal"], "24h")
        .await
        .expect("seal token");
    let transit_ca = String::from_utf8(
        Api::<Secret>::namespaced(client.clone(), t)
            .get("bao-tls-ca")
            .await
            .expect("transit CA")
            .data
            .expect("data")["ca.crt"]
            .0
            .clone(),
    )
    .expect("PEM");
    put_secret(
        &client,
        h,
        "transit-token",
        &[
            ("token", seal_token.token.expose_secret()),
            ("ca.crt", &transit_ca),
        ],
    )
    .await;

    // What a pod's role needs: the API server's issuer and signing keys (public), read the way
    // the operator reads them.
    let jwks = client
        .request_text(
            http::Request::get("/openid/v1/jwks")
                .body(Vec::new())
                .expect("request"),
        )
        .await
        .expect("JWKS");
    let keys = operator::identity::jwks::public_keys_pem(&jwks).expect("keys");
    let issuer = claims(&operator_jwt(&client).await)["iss"].clone();
    let spec = serde_json::json!({
        "profile": "Hardened",
        "version": "2.7.2",
        "replicas": 3,
        "configuration": {"raft": {"performanceMultiplier": 1}},
        "tls": {"enabled": true, "mode": "External"},
        "unseal": {
            "type": "transit",
            "transit": {
                "address": format!("https://bao-0.bao-internal.{t}.svc:8200"),
                "keyName": "autounseal",
                "mountPath": "transit/",
                "tlsCACert": "/etc/bao/seal-creds/ca.crt",
            },
            "credentialsSecretRef": {"name": "transit-token"},
        },
        "network": {"egressRules": [{
            "to": [{
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": t}},
                "podSelector": {"matchLabels": {"openbao.org/cluster": "bao"}},
            }],
            "ports": [{"port": 8200, "protocol": "TCP"}],
        }]},
        "selfInit": {"enabled": true, "requests": [
            {"name": "apps", "operation": "update", "path": "sys/auth/jwt", "authMethod": {"type": "jwt"}},
            {"name": "apps-keys", "operation": "update", "path": "auth/jwt/config",
             "data": {"bound_issuer": issuer, "jwt_validation_pubkeys": keys}},
            {"name": "kv", "operation": "update", "path": "sys/mounts/secret",
             "secretEngine": {"type": "kv", "options": {"version": "2"}}},
            {"name": "readers", "operation": "update", "path": "sys/policies/acl/readers",
             "policy": {"policy": "path \"secret/data/app\" { capabilities = [\"read\"] }"}},
            {"name": "app-role", "operation": "update", "path": "auth/jwt/role/app",
             "data": {"role_type": "jwt", "user_claim": "sub",
                      "bound_subject": format!("system:serviceaccount:{h}:app"),
                      "bound_audiences": ["bao-app"], "token_policies": ["readers"]}},
            {"name": "seed", "operation": "update", "path": "secret/data/app",
             "data": {"data": {"greeting": "hello"}}},
        ]},
    });
    let hardened = cluster("bao", h, &spec.to_string());
    // External TLS: the certificate a PKI team would issue for the cluster's names.
    let validated = operator::desired::ValidatedCluster::new(hardened.clone()).expect("valid");
    let now = time::OffsetDateTime::now_utc();
    let ca =
        operator::pki::generate_named_ca("e2e PKI team", time::Duration::days(1), now).expect("CA");
    let cert = operator::pki::issue_server_cert(
        &ca,
        &operator::pki::server_sans(&validated),
        Duration::from_secs(86_400),
        now,
    )
    .expect("certificate");
    put_secret(
        &client,
        h,
        "bao-tls-server",
        &[
            ("tls.crt", &cert.cert_pem),
            ("tls.key", &cert.key_pem.0),
            ("ca.crt", &ca.cert_pem),
        ],
    )
    .await;
    create(&client, &hardened).await;

    let running = until_cluster(
        &client,
        h,
        "Hardened Running with 3 members",
        running_with(3),
    )
    .await;
    let status = running.status.expect("status");
    assert!(status.self_initialized, "{status:?}");
    assert_eq!(
        status.raft_peers,
        Some(3),
        "the operator's own role reads Raft: {status:?}"
    );
    let bao = member(&client, h, 0).await;
    let seal = bao.seal_status().await.expect("seal status");
    assert_eq!(seal.seal_type, "transit");

    // A pod's ServiceAccount logs in through the role declared in selfInit and reads its secret.
    create_service_account(&client, h, "app").await;
    let app_jwt = service_account_jwt(&client, h, "app", "bao-app").await;
    let app = bao
        .jwt_login("jwt", "app", &app_jwt)
        .await
        .expect("the app's login");
    assert_eq!(
        bao.with_token(app.token)
            .kv_v2_get("secret", "app")
            .await
            .expect("the app reads its secret"),
        Some(serde_json::json!({"greeting": "hello"}))
    );

    // Every pod restarts and unseals again through transit.
    let before: Vec<String> = pods(&client, h)
        .await
        .iter()
        .filter_map(|p| p.uid())
        .collect();
    Api::<Pod>::namespaced(client.clone(), h)
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("app.kubernetes.io/component=server"),
        )
        .await
        .expect("delete pods");
    let deadline = Instant::now() + E2E_DEADLINE;
    loop {
        let now = pods(&client, h).await;
        let ready = |p: &Pod| {
            p.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        };
        if now.len() == 3
            && now
                .iter()
                .all(|p| p.uid().is_some_and(|u| !before.contains(&u)) && ready(p))
        {
            break;
        }
        assert!(Instant::now() < deadline, "pods never came back unsealed");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    until_cluster(
        &client,
        h,
        "Running again after every pod restarted",
        running_with(3),
    )
    .await;
    for ordinal in 0..3 {
        let seal = member(&client, h, ordinal)
            .await
            .seal_status()
            .await
            .expect("seal status");
        assert!(seal.seal_type == "transit" && !seal.sealed, "{seal:?}");
    }
    let secrets = Api::<Secret>::namespaced(client.clone(), h)
        .list(&ListParams::default())
        .await
        .expect("secrets");
    assert!(
        secrets.items.iter().all(|s| s
            .data
            .as_ref()
            .is_none_or(|d| !d.contains_key("root-token"))),
        "no Secret holds a root token"
    );
}

/// Service `moto` in `ns` without a selector, its EndpointSlice naming `address:port`.
async fn moto_service(client: &Client, ns: &str, address: &str, port: i32) {
    let service: k8s_openapi::api::core::v1::Service = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "moto"},
        "spec": {"ports": [{"name": "s3", "port": port, "targetPort": port, "protocol": "TCP"}]}
    }))
    .expect("service");
    Api::<k8s_openapi::api::core::v1::Service>::namespaced(client.clone(), ns)
        .create(&Default::default(), &service)
        .await
        .expect("moto Service");
    let slice: k8s_openapi::api::discovery::v1::EndpointSlice =
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "moto-host", "labels": {"kubernetes.io/service-name": "moto"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [address], "conditions": {"ready": true}}],
            "ports": [{"name": "s3", "port": port, "protocol": "TCP"}]
        }))
        .expect("slice");
    Api::<k8s_openapi::api::discovery::v1::EndpointSlice>::namespaced(client.clone(), ns)
        .create(&Default::default(), &slice)
        .await
        .expect("moto EndpointSlice");
}

/// moto on the host's address on the node's link (reachable from Job pods and from this test,
/// from nothing else), exposed in `ns` as Service `moto` (the Jobs may use plain http only to an
/// in-cluster Service); returns it with the backup target the Jobs use, whose credentials are
/// Secret `s3-credentials`.
async fn moto_in_cluster(
    cp: &ControlPlane,
    client: &Client,
    ns: &str,
    bucket: &str,
) -> (support::moto::Moto, serde_json::Value) {
    let host = cp.node().expect("node").host_address();
    let moto = support::moto::Moto::start_on(bucket, &host.to_string());
    let port: i32 = moto
        .endpoint
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("moto's port");
    moto_service(client, ns, &host.to_string(), port).await;
    let target = serde_json::json!({
        "provider": "s3", "endpoint": format!("http://moto.{ns}.svc:{port}"), "bucket": moto.bucket,
        "usePathStyle": true, "region": "us-east-1",
        "credentialsSecretRef": {"name": "s3-credentials"},
    });
    (moto, target)
}

/// Secret `s3-credentials` in `ns` with `moto`'s keys.
async fn put_moto_credentials(client: &Client, ns: &str, moto: &support::moto::Moto) {
    put_secret(
        client,
        ns,
        "s3-credentials",
        &[
            ("accessKeyId", &moto.access_key_id),
            ("secretAccessKey", &moto.secret_access_key),
        ],
    )
    .await;
}

/// The object store of `moto`'s bucket, reached directly from this test.
fn moto_store(moto: &support::moto::Moto) -> std::sync::Arc<dyn object_store::ObjectStore> {
    let direct = serde_json::json!({
        "provider": "s3", "endpoint": moto.endpoint, "bucket": moto.bucket,
        "usePathStyle": true, "region": "us-east-1",
    });
    operator::backup::open(
        &serde_json::from_value(direct).expect("target"),
        &operator::backup::Credentials {
            access_key_id: Some(moto.access_key_id.clone()),
            secret_access_key: Some(bao_client::SecretString::new(
                moto.secret_access_key.clone(),
            )),
            ..Default::default()
        },
    )
    .expect("store")
}

/// The snapshot `key` in `store`, checked against its manifest.
async fn verified_snapshot(
    store: &dyn object_store::ObjectStore,
    key: &str,
) -> operator::backup::snapshot::Verified {
    operator::backup::verify(
        store,
        &operator::backup::SnapshotKey(object_store::path::Path::from(key)),
    )
    .await
    .unwrap_or_else(|e| panic!("snapshot {key} does not match its manifest: {e}"))
}

/// Set `openbao.org/trigger-backup` on cluster `bao` to `value`.
async fn trigger_backup(client: &Client, ns: &str, value: &str) {
    Api::<OpenBaoCluster>::namespaced(client.clone(), ns)
        .patch(
            "bao",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({
                "metadata": {"annotations": {api::names::ANNOTATION_TRIGGER_BACKUP: value}}
            })),
        )
        .await
        .expect("annotate");
}

/// Wait until the backup run of trigger `value` is recorded (no Job in flight any more).
async fn until_backup_recorded(client: &Client, ns: &str, value: &str) -> api::BackupStatus {
    let cluster = until_cluster(client, ns, &format!("backup {value} recorded"), |c| {
        c.status
            .as_ref()
            .and_then(|s| s.backup.as_ref())
            .is_some_and(|b| {
                b.last_handled_manual_trigger.as_deref() == Some(value) && b.current_job.is_none()
            })
    })
    .await;
    cluster
        .status
        .and_then(|s| s.backup)
        .expect("backup status")
}

#[tokio::test]
async fn triggered_backups_run_as_jobs_land_verified_in_s3_are_recorded_in_status_and_restore_only_under_the_same_seal()
 {
    let (cp, ns, client) = setup("e2e-backup-job").await;
    let n = ns.name();
    let (moto, target) = moto_in_cluster(cp, &client, n, "e2e-snapshots").await;
    put_moto_credentials(&client, n, &moto).await;
    let backed_up = format!(
        "{}\nbackup: {}",
        spec(1, ""),
        serde_json::json!({"schedule": "0 3 * * *", "target": target, "retention": {"maxCount": 2}})
    );
    create(&client, &cluster("bao", n, &backed_up)).await;
    // A backup spec is no problem: the cluster runs, and the next firing is announced.
    let running = until_cluster(&client, n, "Running with a next scheduled backup", |c| {
        running_with(1)(c)
            && c.status
                .as_ref()
                .and_then(|s| s.backup.as_ref())
                .is_some_and(|b| b.next_scheduled_backup.is_some())
    })
    .await;
    let next = running
        .status
        .as_ref()
        .and_then(|s| s.backup.as_ref())
        .and_then(|b| b.next_scheduled_backup.clone())
        .expect("next");
    assert_eq!(
        next.0.as_second() % 86_400,
        3 * 3600,
        "the next 03:00 UTC: {next:?}"
    );
    let bao = root_member(&client, n, 0).await;
    bao.mount_kv_v2("secret").await.expect("kv");
    bao.kv_v2_put("secret", "app", &serde_json::json!({"v": "backed up"}))
        .await
        .expect("write");
    // Two clusters to restore into later, started now to overlap: `dr` is sealed with a copy of
    // bao's unseal key (hex-encoded, as a user might store it), `other` with its own new key.
    let unseal_key = Api::<Secret>::namespaced(client.clone(), n)
        .get("bao-unseal-key")
        .await
        .expect("bao's unseal key")
        .data
        .expect("data")["key"]
        .0
        .clone();
    put_secret(&client, n, "dr-seal", &[("key", &hex::encode(unseal_key))]).await;
    create(
        &client,
        &cluster(
            "dr",
            n,
            &format!(
                "{}
unseal: {{type: static, credentialsSecretRef: {{name: dr-seal}}}}",
                spec(1, "")
            ),
        ),
    )
    .await;
    create(&client, &cluster("other", n, &spec(1, ""))).await;

    // A manual trigger starts one Job from the operator's image under the cluster's backup
    // ServiceAccount; its outcome lands in status.
    trigger_backup(&client, n, "first").await;
    let first = until_backup_recorded(&client, n, "first").await;
    assert_eq!(first.consecutive_failures, 0, "{first:?}");
    let name = first.last_backup_name.clone().expect("a snapshot name");
    let store = moto_store(&moto);
    let verified = verified_snapshot(store.as_ref(), &name).await;
    assert_eq!(verified.manifest.cluster, format!("{n}/bao"));
    assert_eq!(
        first.last_backup_sha256.as_deref(),
        Some(verified.manifest.sha256.as_str())
    );
    assert_eq!(
        first.last_backup_size,
        i64::try_from(verified.manifest.size).ok()
    );
    let jobs = Api::<k8s_openapi::api::batch::v1::Job>::namespaced(client.clone(), n)
        .list(&ListParams::default().labels("openbao.org/component=backup"))
        .await
        .expect("jobs");
    assert_eq!(jobs.items.len(), 1, "one Job per trigger");
    let pod = jobs.items[0]
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("pod spec");
    assert_eq!(pod.service_account_name.as_deref(), Some("bao-backup"));

    // Two more: retention keeps the newest two.
    let mut latest = first.clone();
    for value in ["second", "third"] {
        // Snapshot keys have one-second resolution.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        trigger_backup(&client, n, value).await;
        latest = until_backup_recorded(&client, n, value).await;
        assert_eq!(latest.consecutive_failures, 0, "{latest:?}");
    }
    let prefix = object_store::path::Path::from(format!("{n}/bao"));
    let backups = operator::backup::retention::list(store.as_ref(), &prefix)
        .await
        .expect("list");
    assert_eq!(backups.len(), 2, "maxCount 2: {backups:?}");
    assert!(
        !backups.iter().any(|b| b.0.0.as_ref() == name),
        "the oldest went: {backups:?}"
    );

    // Restores. The data changes after the last backup; an OpenBaoRestore of that backup, run
    // as a Job under the cluster's operation lock, brings the backed-up value back. A restore
    // whose expected digest does not match fails before OpenBao is touched.
    bao.kv_v2_put("secret", "app", &serde_json::json!({"v": "changed later"}))
        .await
        .expect("write");
    let key = latest.last_backup_name.clone().expect("the latest key");
    let sha256 = latest
        .last_backup_sha256
        .clone()
        .expect("the latest digest");
    let restores = Api::<api::OpenBaoRestore>::namespaced(client.clone(), n);
    let restore = |name: &str, digest: &str| -> api::OpenBaoRestore {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "openbao.org/v1alpha1",
            "kind": "OpenBaoRestore",
            "metadata": {"name": name, "namespace": n},
            "spec": {
                "cluster": "bao",
                "source": {"target": target, "key": key, "expectedDigest": format!("sha256:{digest}")}
            }
        }))
        .expect("restore")
    };
    let until_restore_ended = |name: &'static str| {
        let restores = restores.clone();
        async move {
            let deadline = Instant::now() + E2E_DEADLINE;
            loop {
                let r = restores.get(name).await.expect("restore");
                let phase = r.status.as_ref().and_then(|s| s.phase);
                if matches!(
                    phase,
                    Some(api::RestorePhase::Completed | api::RestorePhase::Failed)
                ) {
                    return r;
                }
                assert!(
                    Instant::now() < deadline,
                    "{name} never ended: {:?}",
                    r.status
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    };
    let wrong = "0".repeat(64);
    restores
        .create(&Default::default(), &restore("wrong-digest", &wrong))
        .await
        .expect("create restore");
    let refused = until_restore_ended("wrong-digest").await;
    let status = refused.status.clone().expect("status");
    assert_eq!(status.phase, Some(api::RestorePhase::Failed), "{status:?}");
    let message = status.message.clone().unwrap_or_default();
    assert!(message.contains(&format!("expects {wrong}")), "{message}");
    assert_eq!(
        bao.kv_v2_get("secret", "app")
            .await
            .expect("read")
            .map(|v| v["v"].clone()),
        Some(serde_json::json!("changed later")),
        "a refused restore leaves the data as it was"
    );
    restores
        .create(&Default::default(), &restore("restore-latest", &sha256))
        .await
        .expect("create restore");
    let restored = until_restore_ended("restore-latest").await;
    let status = restored.status.clone().expect("status");
    assert_eq!(
        status.phase,
        Some(api::RestorePhase::Completed),
        "{status:?}"
    );
    assert_eq!(status.snapshot_key.as_deref(), Some(key.as_str()));
    assert!(status.start_time.is_some() && status.completion_time.is_some());
    let deadline = Instant::now() + E2E_DEADLINE;
    loop {
        let value = bao.kv_v2_get("secret", "app").await.ok().flatten();
        if value.as_ref().map(|v| v["v"].clone()) == Some(serde_json::json!("backed up")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the backed-up value never came back: {value:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The restore ran as its own Job under its own account, and released the lock.
    let restore_pods = Api::<Pod>::namespaced(client.clone(), n)
        .list(&ListParams::default().labels("openbao.org/component=restore"))
        .await
        .expect("pods");
    assert!(
        restore_pods.items.iter().all(|p| p
            .spec
            .as_ref()
            .and_then(|s| s.service_account_name.as_deref())
            == Some("bao-restore")),
        "restore pods run as bao-restore"
    );
    assert_eq!(restore_pods.items.len(), 2, "one Job per restore");
    let unlocked = until_cluster(&client, n, "the lock released", |c| {
        !c.annotations()
            .contains_key(api::names::ANNOTATION_OPERATION_LOCK)
            && c.status
                .as_ref()
                .is_some_and(|s| s.operation_lock.is_none())
    })
    .await;
    assert!(unlocked.status.is_some());

    // Disaster recovery into a new cluster. Into `other`, sealed with another key, the restore
    // is refused before OpenBao is touched (restored, its data could not be unsealed); into
    // `dr`, sealed with bao's key, the snapshot restores (`force`: another cluster's), and
    // bao's data and tokens work there.
    let restore_into = |name: &str, cluster: &str| -> api::OpenBaoRestore {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "openbao.org/v1alpha1",
            "kind": "OpenBaoRestore",
            "metadata": {"name": name, "namespace": n},
            "spec": {"cluster": cluster, "force": true, "source": {"target": target, "key": key}}
        }))
        .expect("restore")
    };
    for name in ["dr", "other"] {
        until_named_cluster(
            &client,
            n,
            name,
            &format!("{name} Running"),
            running_with(1),
        )
        .await;
    }
    let other = member_of(&client, n, "other", 0).await;
    restores
        .create(&Default::default(), &restore_into("into-other", "other"))
        .await
        .expect("create restore");
    let refused = until_restore_ended("into-other").await;
    let status = refused.status.clone().expect("status");
    assert_eq!(status.phase, Some(api::RestorePhase::Failed), "{status:?}");
    let message = status.message.clone().unwrap_or_default();
    assert!(message.contains("another unseal key"), "{message}");
    assert!(
        !other.seal_status().await.expect("seal status").sealed,
        "other keeps serving"
    );
    restores
        .create(&Default::default(), &restore_into("into-dr", "dr"))
        .await
        .expect("create restore");
    let restored = until_restore_ended("into-dr").await;
    let status = restored.status.clone().expect("status");
    assert_eq!(
        status.phase,
        Some(api::RestorePhase::Completed),
        "{status:?}"
    );
    let dr = member_of(&client, n, "dr", 0)
        .await
        .with_token(root_token(&client, n).await);
    let deadline = Instant::now() + E2E_DEADLINE;
    loop {
        let value = dr.kv_v2_get("secret", "app").await.ok().flatten();
        if value.as_ref().map(|v| v["v"].clone()) == Some(serde_json::json!("backed up")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "bao's data never appeared in dr: {value:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The operator keeps running dr on its own identity, which came back with the data.
    until_named_cluster(
        &client,
        n,
        "dr",
        "dr Running after the restore",
        running_with(1),
    )
    .await;

    // Wrong credentials: the run fails with the store's reason in status and an Event; the
    // cluster keeps running and the last good backup stays recorded.
    Api::<Secret>::namespaced(client.clone(), n)
        .patch(
            "s3-credentials",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"stringData": {"secretAccessKey": "not-the-secret"}})),
        )
        .await
        .expect("wrong credentials");
    trigger_backup(&client, n, "bad-credentials").await;
    let failed = until_backup_recorded(&client, n, "bad-credentials").await;
    assert_eq!(failed.consecutive_failures, 1, "{failed:?}");
    assert!(failed.last_failure_reason.is_some(), "{failed:?}");
    let message = failed.last_failure_message.clone().unwrap_or_default();
    assert!(!message.is_empty(), "{failed:?}");
    assert!(
        !message.contains("not-the-secret"),
        "no credential in status: {message}"
    );
    assert!(
        failed.last_backup_name.is_some(),
        "the last good one is kept"
    );
    until_cluster(&client, n, "still Running", running_with(1)).await;
    let events = events_in(&client, n).await;
    for reason in ["BackupStarted", "BackupSucceeded", "BackupFailed"] {
        assert!(
            events.iter().any(|e| e.reason.as_deref() == Some(reason)),
            "an Event {reason}"
        );
    }
}
