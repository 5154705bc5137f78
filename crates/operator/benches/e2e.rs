//! Benchmark: apply a 3-replica OpenBaoCluster to Running on the local control plane with a node
//! that runs real `bao` processes, median of 5, split into phases:
//! - operator apply: the cluster is created until its StatefulSet exists (the operator applies
//!   the StatefulSet last, so every child exists by then);
//! - control plane: until all 3 pods are bound to the node (StatefulSet controller, scheduler);
//! - node: until all 3 pods run with an IP (sandboxes, volumes, processes);
//! - OpenBao and the operator's lifecycle: until phase Running (initialization through pod 0,
//!   joins through auto_join, unseal, the operator observing it), with the operator's own time
//!   inside it taken from its reconcile-duration histogram.
//!
//! Run with `performanceMultiplier: 1`, with OpenBao's default Raft timing, and self-initialized
//! (`spec.selfInit`, no `sys/init`) with `performanceMultiplier: 1`.
//! Writes BENCHMARKS.md.
//!
//! Run: `cargo bench -p openbao-operator --bench e2e`

#[path = "support/report.rs"]
mod report;
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use api::{OpenBaoCluster, Phase};
use k8s_openapi::api::{apps::v1::StatefulSet, core::v1::Pod};
use kube::{
    Api, Client,
    api::{ListParams, PostParams},
};

const RUNS: usize = 5;
const POLL: Duration = Duration::from_millis(20);
const DEADLINE: Duration = Duration::from_secs(240);

#[derive(Default, Clone, Copy)]
struct Phases {
    apply: f64,
    control_plane: f64,
    node: f64,
    lifecycle: f64,
    operator_reconcile: f64,
    total: f64,
}

async fn until(what: &str, started: Instant, mut check: impl AsyncFnMut() -> bool) {
    while !check().await {
        assert!(started.elapsed() < DEADLINE, "{what} not reached");
        tokio::time::sleep(POLL).await;
    }
}

async fn one_run(client: &Client, ns: &str, spec: &str) -> Phases {
    let cluster = support::cluster("bao", ns, spec);
    let pods = Api::<Pod>::namespaced(client.clone(), ns);
    let sets = Api::<StatefulSet>::namespaced(client.clone(), ns);
    let clusters = Api::<OpenBaoCluster>::namespaced(client.clone(), ns);
    let reconcile_seconds = || support::METRICS.reconcile_duration_sum();
    let reconcile_before = reconcile_seconds();
    let started = Instant::now();
    clusters
        .create(&PostParams::default(), &cluster)
        .await
        .expect("create");
    until("StatefulSet", started, async || {
        sets.get_opt("bao").await.ok().flatten().is_some()
    })
    .await;
    let t1 = started.elapsed().as_secs_f64();
    let list = ListParams::default().labels("app.kubernetes.io/component=server");
    until("pods bound", started, async || {
        pods.list(&list).await.is_ok_and(|l| {
            l.items.len() == 3
                && l.items
                    .iter()
                    .all(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some())
        })
    })
    .await;
    let t2 = started.elapsed().as_secs_f64();
    until("pods running", started, async || {
        pods.list(&list).await.is_ok_and(|l| {
            l.items.len() == 3
                && l.items.iter().all(|p| {
                    p.status.as_ref().is_some_and(|s| {
                        s.pod_ip.is_some() && s.phase.as_deref() == Some("Running")
                    })
                })
        })
    })
    .await;
    let t3 = started.elapsed().as_secs_f64();
    until("Running", started, async || {
        clusters
            .get("bao")
            .await
            .is_ok_and(|c| c.status.and_then(|s| s.phase) == Some(Phase::Running))
    })
    .await;
    let total = started.elapsed().as_secs_f64();
    Phases {
        apply: t1,
        control_plane: t2 - t1,
        node: t3 - t2,
        lifecycle: total - t3,
        operator_reconcile: reconcile_seconds() - reconcile_before,
        total,
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let cp = support::env_with(localcluster::Options {
            node: true,
            ..localcluster::Options::default()
        })
        .await;
        let mut sections = Vec::new();
        for (label, spec) in [
            ("`performanceMultiplier: 1`", "version: \"2.7.2\"\nreplicas: 3\nconfiguration: {raft: {performanceMultiplier: 1}}"),
            ("OpenBao's default Raft timing", "version: \"2.7.2\"\nreplicas: 3"),
            (
                "`performanceMultiplier: 1`, self-initialized",
                "version: \"2.7.2\"\nreplicas: 3\nconfiguration: {raft: {performanceMultiplier: 1}}\nselfInit:\n  enabled: true\n  requests:\n  - {name: people, operation: update, path: sys/auth/userpass, authMethod: {type: userpass}}",
            ),
        ] {
            let mut runs = Vec::new();
            for run in 0..RUNS {
                let ns = localcluster::TestNamespace::create(cp, "bench-e2e").await.expect("namespace");
                let client = cp.client().expect("client");
                let phases = one_run(&client, ns.name(), spec).await;
                println!(
                    "{label} run {run}: total {:.2} s (apply {:.2}, control plane {:.2}, node {:.2}, lifecycle {:.2}; operator reconcile {:.2})",
                    phases.total, phases.apply, phases.control_plane, phases.node, phases.lifecycle, phases.operator_reconcile
                );
                runs.push(phases);
                let _ = ns.delete().await;
            }
            let col = |f: fn(&Phases) -> f64| {
                let values: Vec<f64> = runs.iter().map(f).collect();
                format!("{:.2} s", report::median(&values))
            };
            sections.push(format!(
                "| {label} | {} | {} | {} | {} | {} | {} |",
                col(|p| p.total),
                col(|p| p.apply),
                col(|p| p.control_plane),
                col(|p| p.node),
                col(|p| p.lifecycle),
                col(|p| p.operator_reconcile),
            ));
        }
        let body = format!(
            "## End to end: apply a 3-replica cluster to Running\n\n\
             The operator (in-process, under its own ServiceAccount) against the local control plane with a node that \
             runs each pod as a real `bao` 2.7.2 process in its own network and mount namespace. Median of {RUNS} \
             runs each. Phases: *apply* = create until the StatefulSet exists (the operator applies it last); \
             *control plane* = until the 3 pods are bound (StatefulSet controller, kube-scheduler); *node* = until \
             they run with IPs; *lifecycle* = until phase Running (initialization through pod 0, auto_join, unseal, \
             observed by the operator). *Operator reconcile* is the operator's own time: the sum of its reconcile \
             passes over the whole run (it overlaps the phases, mostly waiting on `sys/init`). A self-initialized \
             cluster runs pod 0 alone until OpenBao has initialized itself (no `sys/init`, no key Secret, the \
             operator's identity written by OpenBao), so its *control plane* phase includes that. Goal: under 15 s.\n\n\
             | Raft timing | Apply to Running | apply | control plane | node | lifecycle | operator reconcile |\n\
             |---|---|---|---|---|---|---|\n{}\n\n\
             CPU: {}. Command: `cargo bench -p openbao-operator --bench e2e`",
            sections.join("\n"),
            report::cpu(),
        );
        report::write_section("e2e-bench", &body);
    });
}
