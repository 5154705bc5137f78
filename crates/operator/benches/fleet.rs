//! The operator's own cost with a fleet of clusters, against the API server's round trips. The
//! operator runs as its own process (`openbao-operator run`, release profile) under its
//! ServiceAccount with the generated ClusterRole, against the local control plane with a node:
//!
//! (c) 20 Running 1-replica clusters (real `bao` processes on the node): reconcile passes and
//!     CPU a minute, and API reads and writes per no-op pass over one of them;
//! (d) create to all children present, median of 20, next to the median round trip of one
//!     write to the API server;
//! (a) API reads and writes per no-op pass over a cluster whose pods wait (from the API
//!     server's `apiserver_request_total`);
//! (b) 100 clusters whose pods wait (a node selector no node matches): reconcile passes and CPU
//!     a minute, the requeue reasons, and RSS;
//! (e) 1,000 such clusters created 50 at a time: create to all children of all of them, the
//!     operator's CPU over that, and its RSS.
//!
//! Writes BENCHMARKS.md. Run: `cargo bench -p openbao-operator --bench fleet`

#[path = "support/operator_process.rs"]
mod operator_process;
#[path = "support/report.rs"]
mod report;
#[path = "../tests/support/mod.rs"]
mod support;

use operator_process::OperatorProcess;

use std::time::{Duration, Instant};

use api::{OpenBaoCluster, Phase};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::{
    apps::v1::StatefulSet,
    core::v1::{ConfigMap, Namespace},
};
use kube::{
    Api, Client,
    api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams},
};

const POLL: Duration = Duration::from_millis(10);
const DEADLINE: Duration = Duration::from_secs(600);
/// How long the idle windows of (b) and (c) are.
const WINDOW: Duration = Duration::from_secs(60);
/// A cluster whose pod waits for ever: it asks for more CPU than any node has.
const WAITING: &str = "version: \"2.7.2\"\nreplicas: 1\nresources: {requests: {cpu: \"1000\"}}";
/// The health-check interval the operator runs with here: a fifth of the default (300 s), so a
/// one-minute window sees every cluster's check once; at the default, idle cost is a fifth.
const HEALTH_CHECK_SECONDS: &str = "60";
/// A 1-replica cluster the node runs.
const RUNNING: &str =
    "version: \"2.7.2\"\nreplicas: 1\nconfiguration: {raft: {performanceMultiplier: 1}}";
async fn create(client: &Client, ns: &str, name: &str, spec: &str) {
    Api::<OpenBaoCluster>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &support::cluster(name, ns, spec))
        .await
        .expect("create cluster");
}

/// Until the StatefulSet `ns/name` exists (the operator applies it last: every other child does).
async fn until_children(client: &Client, ns: &str, name: &str, started: Instant) {
    let sets = Api::<StatefulSet>::namespaced(client.clone(), ns);
    while sets.get_opt(name).await.expect("get").is_none() {
        assert!(
            started.elapsed() < DEADLINE,
            "no StatefulSet for {ns}/{name}"
        );
        tokio::time::sleep(POLL).await;
    }
}

async fn create_and_time(client: &Client, ns: &str, name: &str) -> Duration {
    let started = Instant::now();
    create(client, ns, name, WAITING).await;
    until_children(client, ns, name, started).await;
    started.elapsed()
}

/// The median round trip of one write: creating a small ConfigMap, 20 times.
async fn write_round_trip(client: &Client, ns: &str) -> f64 {
    let maps = Api::<ConfigMap>::namespaced(client.clone(), ns);
    let mut times = Vec::new();
    for i in 0..20 {
        let map = ConfigMap {
            metadata: ObjectMeta {
                name: Some(format!("rtt-{i}")),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        };
        let started = Instant::now();
        maps.create(&PostParams::default(), &map)
            .await
            .expect("ConfigMap");
        times.push(started.elapsed().as_secs_f64());
    }
    report::median(&times)
}

fn label(line: &str, name: &str) -> String {
    line.split(&format!("{name}=\""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("")
        .to_string()
}

/// Reads and writes per no-op pass over `ns/name`: poke it (a metadata change the operator
/// must look at but that changes nothing it owns) 10 times and wait for each pass.
async fn no_op_passes(
    client: &Client,
    operator: &OperatorProcess,
    ns: &str,
    name: &str,
) -> (f64, f64, f64) {
    let clusters = Api::<OpenBaoCluster>::namespaced(client.clone(), ns);
    // Let earlier passes (and their requeues) settle.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (reads_before, writes_before) = support::flow::operator_requests(client).await;
    let passes_before = operator
        .metric_sum("openbao_operator_reconciles_total")
        .await;
    for i in 0..10 {
        let before = operator
            .metric_sum("openbao_operator_reconciles_total")
            .await;
        clusters
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"metadata": {"annotations": {"bench.openbao.org/poke": i.to_string()}}})),
            )
            .await
            .expect("poke");
        let deadline = Instant::now() + DEADLINE;
        while operator
            .metric_sum("openbao_operator_reconciles_total")
            .await
            <= before
        {
            assert!(Instant::now() < deadline, "no reconcile after poke {i}");
            tokio::time::sleep(POLL).await;
        }
    }
    // Let the last pass finish before counting.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let passes = operator
        .metric_sum("openbao_operator_reconciles_total")
        .await
        - passes_before;
    let (reads, writes) = support::flow::operator_requests(client).await;
    (
        passes,
        (reads - reads_before) / passes,
        (writes - writes_before) / passes,
    )
}

/// Passes and CPU seconds a minute over [`WINDOW`], and the requeue reasons counted in it.
async fn idle_cost(operator: &OperatorProcess) -> (f64, f64, String) {
    let reasons = |text: String| -> Vec<(String, f64)> {
        text.lines()
            .filter(|l| l.starts_with("openbao_operator_requeues_total{"))
            .filter_map(|l| Some((label(l, "reason"), l.rsplit(' ').next()?.parse().ok()?)))
            .collect()
    };
    let before_reasons = reasons(operator.metrics_text().await);
    let passes_before = operator
        .metric_sum("openbao_operator_reconciles_total")
        .await;
    let cpu_before = operator.cpu_seconds();
    tokio::time::sleep(WINDOW).await;
    let minutes = WINDOW.as_secs_f64() / 60.0;
    let passes = (operator
        .metric_sum("openbao_operator_reconciles_total")
        .await
        - passes_before)
        / minutes;
    let cpu = (operator.cpu_seconds() - cpu_before) / minutes;
    let after_reasons = reasons(operator.metrics_text().await);
    let mut counted: Vec<String> = after_reasons
        .iter()
        .filter_map(|(reason, after)| {
            let before = before_reasons
                .iter()
                .find(|(r, _)| r == reason)
                .map_or(0.0, |(_, v)| *v);
            let delta = (after - before) / minutes;
            (delta > 0.0).then(|| format!("{reason} {delta:.0}"))
        })
        .collect();
    counted.sort();
    let reasons = if counted.is_empty() {
        "none".to_string()
    } else {
        counted.join(", ")
    };
    (passes, cpu, reasons)
}

async fn until_phase(client: &Client, ns: &str, name: &str, phase: Phase) {
    let clusters = Api::<OpenBaoCluster>::namespaced(client.clone(), ns);
    let started = Instant::now();
    loop {
        let cluster = clusters.get(name).await.expect("cluster");
        if cluster.status.and_then(|s| s.phase) == Some(phase) {
            return;
        }
        assert!(started.elapsed() < DEADLINE, "{ns}/{name} never {phase:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let cp = localcluster::shared_with(localcluster::Options {
            node: true,
            ..localcluster::Options::default()
        })
        .await
        .expect("control plane with a node (bash hack/setup.sh)");
        support::install(cp).await;
        let client = cp.client().expect("admin client");
        support::flow::install_flow_schemas(&client).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let operator = OperatorProcess::start(
            cp,
            &dir.path().join("operator.log"),
            &[("OPERATOR_HEALTH_CHECK_INTERVAL", Some(HEALTH_CHECK_SECONDS))],
        )
        .await;
        let rss_none = operator.memory();

        // (c) 20 Running 1-replica clusters.
        support::apply_namespace(&client, "fleet-running").await;
        for i in 0..20 {
            create(&client, "fleet-running", &format!("run-{i}"), RUNNING).await;
        }
        for i in 0..20 {
            until_phase(&client, "fleet-running", &format!("run-{i}"), Phase::Running).await;
        }
        println!("(c) 20 clusters Running");
        let (running_noop_passes, running_reads, running_writes) =
            no_op_passes(&client, &operator, "fleet-running", "run-0").await;
        println!("(c) {running_noop_passes} no-op passes: {running_reads:.2} reads, {running_writes:.2} writes per pass");
        let (running_passes, running_cpu, running_reasons) = idle_cost(&operator).await;
        println!("(c) {running_passes:.0} passes/min, {running_cpu:.3} s CPU/min ({running_reasons})");
        let rss_running = operator.memory();
        Api::<Namespace>::all(client.clone())
            .delete("fleet-running", &DeleteParams::default())
            .await
            .expect("delete the running clusters' namespace");
        let namespaces = Api::<Namespace>::all(client.clone());
        let started = Instant::now();
        while namespaces.get_opt("fleet-running").await.expect("get").is_some() {
            assert!(started.elapsed() < DEADLINE, "fleet-running not deleted");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }

        // (d) create to all children, 20 clusters in their own namespaces.
        support::apply_namespace(&client, "fleet-rtt").await;
        let round_trip = write_round_trip(&client, "fleet-rtt").await;
        let mut creates = Vec::new();
        for i in 0..20 {
            let ns = format!("fleet-create-{i}");
            support::apply_namespace(&client, &ns).await;
            creates.push(create_and_time(&client, &ns, "bao").await.as_secs_f64());
        }
        println!("(d) {creates:?}, write round trip {round_trip:.4} s");

        // (a) no-op passes over a waiting cluster.
        let (waiting_noop_passes, waiting_reads, waiting_writes) =
            no_op_passes(&client, &operator, "fleet-create-0", "bao").await;
        println!("(a) {waiting_noop_passes} no-op passes: {waiting_reads:.2} reads, {waiting_writes:.2} writes per pass");

        // (b) 100 waiting clusters: 80 more, ten per namespace.
        for i in 0..80 {
            let ns = format!("fleet-idle-{}", i / 10);
            if i % 10 == 0 {
                support::apply_namespace(&client, &ns).await;
            }
            let started = Instant::now();
            create(&client, &ns, &format!("bao-{i}"), WAITING).await;
            until_children(&client, &ns, &format!("bao-{i}"), started).await;
        }
        tokio::time::sleep(Duration::from_secs(20)).await;
        let (idle_passes, idle_cpu, idle_reasons) = idle_cost(&operator).await;
        let rss_hundred = operator.memory();
        println!("(b) {idle_passes:.0} passes/min, {idle_cpu:.3} s CPU/min ({idle_reasons}); RSS {}", rss_hundred.split());

        // (e) 900 more, 50 at a time, ten per namespace: to all children of all 1,000.
        for n in 0..90 {
            support::apply_namespace(&client, &format!("fleet-large-{n}")).await;
        }
        let cpu_before = operator.cpu_seconds();
        let started = Instant::now();
        futures::stream::iter(0..900)
            .map(|i| {
                let client = client.clone();
                async move {
                    let ns = format!("fleet-large-{}", i / 10);
                    create(&client, &ns, &format!("bao-{i}"), WAITING).await;
                    Ok::<_, ()>((ns, format!("bao-{i}")))
                }
            })
            .buffer_unordered(50)
            .try_collect::<Vec<_>>()
            .await
            .expect("creates");
        let sets = Api::<StatefulSet>::all(client.clone());
        loop {
            let count = sets
                .list_metadata(&Default::default())
                .await
                .expect("StatefulSets")
                .items
                .len();
            if count >= 1000 {
                break;
            }
            assert!(started.elapsed() < DEADLINE, "only {count} StatefulSets");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let thousand_children = started.elapsed().as_secs_f64();
        let thousand_cpu = operator.cpu_seconds() - cpu_before;
        let thousand_peak = operator.memory().peak;
        tokio::time::sleep(Duration::from_secs(30)).await;
        let (thousand_passes, thousand_idle_cpu, thousand_reasons) = idle_cost(&operator).await;
        let rss_thousand = operator.memory();
        println!(
            "(e) 1,000 clusters: children of the last 900 in {thousand_children:.1} s, {thousand_cpu:.1} s CPU, \
             peak {thousand_peak:.1} MiB; idle {thousand_passes:.0} passes/min, {thousand_idle_cpu:.3} s CPU/min \
             ({thousand_reasons}); RSS {}", rss_thousand.split()
        );

        let ms = |v: f64| format!("{:.0} ms", v * 1000.0);
        let spread = |v: &[f64]| {
            let mut s = v.to_vec();
            s.sort_by(|a, b| a.total_cmp(b));
            format!("{} to {}", ms(s[0]), ms(s[s.len() - 1]))
        };
        let create_median = report::median(&creates);
        let body = format!(
            "## Fleet: the operator's own cost, against the API server's round trips\n\n\
             The operator runs as its own process (`openbao-operator run`, release profile: fat LTO, one codegen unit) \
             under its ServiceAccount with the generated ClusterRole, against the local control plane (etcd, \
             kube-apiserver, kube-controller-manager v1.37.2) with a node that runs each pod as a real `bao` 2.7.2 \
             process. *Waiting* clusters have 1 replica whose pod asks for more CPU than \
             any node has, so it stays Pending and the cluster Provisioning. *Before* is what issue 21 started from: its own measurement, or \
             the reconciler benchmark this one replaces (create to children: 198 ms, RSS with 1 cluster 17.6 MiB), \
             same machine kind, the reconciler as it was (every Secret read on every pass, a 15 s timer while \
             converging, children applied one after another).\n\n\
             | Measure | Before | Now | Goal |\n|---|---|---|---|\n\
             | (a) API reads per no-op pass, waiting cluster (GET and LIST of the operator's ServiceAccount) | 4 | {waiting_reads:.2} | 0 |\n\
             | (a) API writes per no-op pass, waiting cluster | 0 | {waiting_writes:.2} | 0 |\n\
             | (c) API reads per no-op pass, Running cluster | | {running_reads:.2} | 0 |\n\
             | (c) API writes per no-op pass, Running cluster | | {running_writes:.2} | 0 |\n\
             | (b) reconcile passes a minute, 100 waiting clusters (health check every 60 s) | 715 | {idle_passes:.0} | |\n\
             | (b) operator CPU a minute, 100 waiting clusters (health check every 60 s) | 2.69 s | {idle_cpu:.3} s | under 0.5 s |\n\
             | (b) requeues a minute by reason | | {idle_reasons} | |\n\
             | (c) reconcile passes a minute, 20 Running 1-replica clusters | | {running_passes:.0} | |\n\
             | (c) operator CPU a minute, 20 Running 1-replica clusters | | {running_cpu:.3} s | |\n\
             | (c) requeues a minute by reason | | {running_reasons} | |\n\
             | (d) create to all children present, median of 20 ({}) | 198 ms | {} | within two round trips of the slowest wave |\n\
             | (d) one write's round trip to the API server, median of 20 | | {} | |\n\
             | (d) create to all children, in write round trips | | {:.1} | |\n\
             | (e) 900 more clusters created 50 at a time, to all children of all 1,000 | | {thousand_children:.1} s | |\n\
             | (e) operator CPU over that | | {thousand_cpu:.1} s | |\n\
             | (e) reconcile passes and CPU a minute with 1,000 waiting clusters | | {thousand_passes:.0}, {thousand_idle_cpu:.3} s ({thousand_reasons}) | |\n\
             | RSS with no cluster | | {} | |\n\
             | RSS with 20 Running clusters | | {} | |\n\
             | RSS with 100 waiting clusters | 44.8 MiB (35.0 MiB with 3 replicas each in the reconciler benchmark) | {} | at most 30 MiB |\n\
             | RSS with 1,000 waiting clusters (peak while creating) | 533.3 MiB (549.7 MiB) in session 10, before at most 16 passes ran at once | {}, peak {thousand_peak:.1} MiB | |\n\
             | CPU | | {} | |\n\n\
             (a) and (c) poke the cluster with an annotation 10 times and wait for each pass; reads and writes \
             are the operator's own, told apart by the API server: two FlowSchemas match its ServiceAccount's \
             get/list and create/update/patch/delete requests, and `apiserver_flowcontrol_dispatched_requests_total` \
             counts each under its schema (the node's own reads of the pods' Secrets and ConfigMaps, every 3 s, \
             are not counted). The operator runs with `--health-check-interval={HEALTH_CHECK_SECONDS}`, a fifth \
             of the default, so a one-minute window holds every cluster's health check once: at the default the \
             idle passes and CPU are about a fifth of these. A minute is measured over a {}-second window.\n\n\
             Command: `cargo bench -p openbao-operator --bench fleet`",
            spread(&creates),
            ms(create_median),
            ms(round_trip),
            create_median / round_trip,
            rss_none.split(),
            rss_running.split(),
            rss_hundred.split(),
            rss_thousand.split(),
            report::cpu(),
            WINDOW.as_secs(),
        );
        report::write_section("fleet-bench", &body);
    });
}
