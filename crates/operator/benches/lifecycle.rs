//! Benchmark: from starting 3 real `bao` processes (configured by the operator's builders) to a
//! Ready cluster through the operate stage (observe, decide, initialize, Raft facts), median of
//! 5 runs, and the operator's own share of that time (the time spent inside operate-stage calls,
//! as opposed to waiting for OpenBao to elect, join and unseal). Writes BENCHMARKS.md.
//!
//! Run: `cargo bench -p openbao-operator --bench lifecycle`

#[path = "../tests/support/bao.rs"]
mod bao;
#[path = "support/report.rs"]
mod report;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use operator::reconcile::operate::{self, Decision, KeyStore, SecretKeyStore};

const RUNS: usize = 5;
const POLL: Duration = Duration::from_millis(100);

struct Run {
    total: Duration,
    operator: Duration,
    init_call: Duration,
}

async fn one_run(cp: &localcluster::ControlPlane, run: usize) -> Run {
    let ns = localcluster::TestNamespace::create(cp, &format!("bench-lifecycle-{run}"))
        .await
        .expect("namespace");
    let started = Instant::now();
    let members = bao::BaoMembers::start("bao", ns.name(), 3).await;
    let clients = members.members();
    let names = members.cluster.names();
    let store = SecretKeyStore::new(
        Api::<Secret>::namespaced(cp.client().expect("client"), ns.name()),
        names.root_token_secret(),
        names.labels(),
    );
    let mut operator = Duration::ZERO;
    let mut init_call = Duration::ZERO;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let pass = Instant::now();
        let observations = operate::observe(&clients).await;
        let keys = store.state().await.expect("key state");
        let decision = operate::decide(&observations, 3, keys, false);
        let mut ready = false;
        match decision {
            Decision::Initialize => {
                let call = Instant::now();
                operate::initialize("bench", &clients[0], &store)
                    .await
                    .map_err(|(e, _)| e)
                    .expect("initialize");
                init_call = call.elapsed();
            }
            Decision::Initialized => {
                let active = clients
                    .iter()
                    .zip(&observations)
                    .find(|(_, o)| o.health.as_ref().is_ok_and(|h| h.is_active()))
                    .map(|(m, _)| m);
                if let Some(active) = active {
                    let token = store.root_token().await.expect("read").expect("token");
                    let raft = operate::raft_facts(active, token).await.ok();
                    let statuses: Vec<_> = observations
                        .iter()
                        .map(|o| operate::member_status(o, raft.as_ref()))
                        .collect();
                    ready = operate::all_ready(&statuses, 3, raft.as_ref());
                }
            }
            Decision::Wait(_) => {}
            other => panic!("unexpected decision {other:?}"),
        }
        operator += pass.elapsed();
        if ready {
            break;
        }
        assert!(Instant::now() < deadline, "not ready within 120 s");
        tokio::time::sleep(POLL).await;
    }
    let total = started.elapsed();
    drop(members);
    let _ = ns.delete().await;
    Run {
        total,
        operator,
        init_call,
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let cp = localcluster::shared().await.expect("control plane (bash hack/setup.sh)");
        let mut runs = Vec::new();
        for run in 0..RUNS {
            let r = one_run(cp, run).await;
            println!(
                "run {run}: ready after {:.2} s, operator {:.3} s (init call {:.3} s)",
                r.total.as_secs_f64(),
                r.operator.as_secs_f64(),
                r.init_call.as_secs_f64()
            );
            runs.push(r);
        }
        let totals: Vec<f64> = runs.iter().map(|r| r.total.as_secs_f64()).collect();
        let operator: Vec<f64> = runs.iter().map(|r| r.operator.as_secs_f64()).collect();
        let init: Vec<f64> = runs.iter().map(|r| r.init_call.as_secs_f64()).collect();
        let share: Vec<f64> = runs
            .iter()
            .map(|r| 100.0 * r.operator.as_secs_f64() / r.total.as_secs_f64())
            .collect();
        let body = format!(
            "## Lifecycle: 3 `bao` processes to a Ready cluster through the operate stage\n\n\
             Start 3 real OpenBao 2.7.2 servers (config from the operator's builder, \
             `performanceMultiplier: 1`, static seal, TLS from the operator's PKI) until every member is \
             initialized, unsealed, in the Raft configuration and one is active, driving \
             observe/decide/initialize every {} ms. \"Operator time\" is the time spent inside operate-stage \
             calls (health of 3 members, key-store reads, `sys/init` and the key write, Raft configuration); \
             the rest is OpenBao electing, joining and unsealing. Median of {RUNS} runs.\n\n\
             | Measure | Median | Runs |\n|---|---|---|\n\
             | Start to Ready | {:.2} s | {} |\n\
             | Operator time (its share) | {:.3} s ({:.1} %) | {} |\n\
             | of which `sys/init` + storing the keys | {:.3} s | {} |\n\
             | CPU | {} | |\n\n\
             Command: `cargo bench -p openbao-operator --bench lifecycle`",
            POLL.as_millis(),
            report::median(&totals),
            totals.iter().map(|t| format!("{t:.2}")).collect::<Vec<_>>().join(", "),
            report::median(&operator),
            report::median(&share),
            operator.iter().map(|t| format!("{t:.3}")).collect::<Vec<_>>().join(", "),
            report::median(&init),
            init.iter().map(|t| format!("{t:.3}")).collect::<Vec<_>>().join(", "),
            report::cpu(),
        );
        report::write_section("lifecycle-bench", &body);
    });
}
