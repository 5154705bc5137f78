//! Benchmark: a rolling upgrade of a 3-replica cluster from the previous OpenBao release to the
//! pinned one, on the local control plane with a node that runs real `bao` processes, while a
//! client writes one KV entry every 100 ms through whichever member answers. Median of 3:
//! - the upgrade's time: from the `spec.version` change until every pod runs the new version,
//!   serves, and `status.currentVersion` says so;
//! - the longest window in which no write succeeded (goal: under 2 s);
//! - acknowledged writes lost, read back from the active member at the end (goal: none).
//!
//! OpenBao's default Raft timing, as in the e2e test (a fast timing lets elections start by
//! themselves). Writes BENCHMARKS.md.
//!
//! Run: `cargo bench -p openbao-operator --bench upgrade`

#[path = "support/report.rs"]
mod report;
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use api::{OpenBaoCluster, Phase};
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::{
    Api, Client,
    api::{ListParams, Patch, PatchParams, PostParams},
};
use support::writes::{Writer, lost, member_of};

const RUNS: usize = 3;
const DEADLINE: Duration = Duration::from_secs(480);
const TARGET: &str = "2.7.2";

struct Run {
    seconds: f64,
    gap: f64,
    acked: usize,
    lost: usize,
    leader_changes: usize,
}

async fn cluster(client: &Client, ns: &str) -> OpenBaoCluster {
    Api::<OpenBaoCluster>::namespaced(client.clone(), ns)
        .get("bao")
        .await
        .expect("cluster")
}

fn serving(c: &OpenBaoCluster, version: &str) -> bool {
    c.status.as_ref().is_some_and(|s| {
        s.phase == Some(Phase::Running)
            && s.upgrade.is_none()
            && s.current_version.as_deref() == Some(version)
            && s.members.len() == 3
            && s.members.iter().all(|m| m.initialized && !m.sealed)
            && s.members
                .iter()
                .filter(|m| m.role.as_deref() == Some("active"))
                .count()
                == 1
    })
}

async fn until_serving(client: &Client, ns: &str, version: &str) -> OpenBaoCluster {
    let started = Instant::now();
    loop {
        let c = cluster(client, ns).await;
        if serving(&c, version) {
            return c;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "not serving on {version}: {}",
            serde_json::to_string_pretty(&c.status).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn images(client: &Client, ns: &str) -> Vec<String> {
    Api::<Pod>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels("app.kubernetes.io/component=server"))
        .await
        .expect("pods")
        .items
        .iter()
        .filter_map(|p| {
            p.spec
                .as_ref()
                .and_then(|s| s.containers.first())
                .and_then(|c| c.image.clone())
        })
        .collect()
}

async fn one_run(client: &Client, ns: &str) -> Run {
    let previous = localcluster::OPENBAO_PREVIOUS_VERSION;
    let spec = format!("version: \"{previous}\"\nreplicas: 3");
    Api::<OpenBaoCluster>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &support::cluster("bao", ns, &spec))
        .await
        .expect("create");
    until_serving(client, ns, previous).await;
    let secret = Api::<Secret>::namespaced(client.clone(), ns)
        .get("bao-root-token")
        .await
        .expect("root token");
    let token = bao_client::SecretString::new(
        String::from_utf8(secret.data.expect("data")["root-token"].0.clone()).expect("utf-8"),
    );
    let admin = member_of(client, ns, "bao", 0)
        .await
        .expect("bao-0")
        .with_token(token.clone());
    admin.mount_kv_v2("secret").await.expect("kv");
    let writer = Writer::start(client, ns, "bao", &token).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let started = Instant::now();
    Api::<OpenBaoCluster>::namespaced(client.clone(), ns)
        .patch(
            "bao",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"version": TARGET}})),
        )
        .await
        .expect("upgrade");
    let mut leaders: Vec<String> = Vec::new();
    let done = loop {
        let c = cluster(client, ns).await;
        if let Some(leader) = c.status.as_ref().and_then(|s| s.leader.clone())
            && leaders.last() != Some(&leader)
        {
            leaders.push(leader);
        }
        let all_new = images(client, ns)
            .await
            .iter()
            .all(|i| i.ends_with(&format!(":{TARGET}")));
        if all_new && serving(&c, TARGET) {
            break c;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "the upgrade did not complete: {}",
            serde_json::to_string_pretty(&c.status).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let seconds = started.elapsed().as_secs_f64();
    let written = writer.finish().await;
    let leader = done
        .status
        .and_then(|s| s.leader)
        .expect("a leader after the upgrade");
    let ordinal: i32 = leader.trim_start_matches("bao-").parse().expect("ordinal");
    let reader = member_of(client, ns, "bao", ordinal)
        .await
        .expect("the leader")
        .with_token(token);
    let lost = lost(&reader, &written).await;
    Run {
        seconds,
        gap: written.longest_gap.as_secs_f64(),
        acked: written.acked.len(),
        lost: lost.len(),
        leader_changes: leaders.len().saturating_sub(1),
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let previous_binary = localcluster::bao_previous_binary()
            .unwrap_or_else(|e| panic!("the benchmark starts on the previous release: {e}"));
        let cp = support::env_with(localcluster::Options {
            node: true,
            node_options: localcluster::NodeOptions {
                images: [(
                    format!(
                        "{}:{}",
                        localcluster::OPENBAO_REPOSITORY,
                        localcluster::OPENBAO_PREVIOUS_VERSION
                    ),
                    previous_binary,
                )]
                .into(),
                ..localcluster::NodeOptions::default()
            },
            ..localcluster::Options::default()
        })
        .await;
        let mut runs = Vec::new();
        for run in 0..RUNS {
            let ns = localcluster::TestNamespace::create(cp, "bench-upgrade")
                .await
                .expect("namespace");
            let client = cp.client().expect("client");
            let r = one_run(&client, ns.name()).await;
            println!(
                "run {run}: upgrade {:.2} s, longest write gap {:.2} s, {} writes acknowledged, \
                 {} lost, leader changes {}",
                r.seconds, r.gap, r.acked, r.lost, r.leader_changes
            );
            runs.push(r);
            let _ = ns.delete().await;
        }
        let median = |f: fn(&Run) -> f64| {
            let values: Vec<f64> = runs.iter().map(f).collect();
            report::median(&values)
        };
        let rows: Vec<String> = runs
            .iter()
            .enumerate()
            .map(|(i, r)| {
                format!(
                    "| {} | {:.2} s | {:.2} s | {} | {} | {} |",
                    i + 1,
                    r.seconds,
                    r.gap,
                    r.acked,
                    r.lost,
                    r.leader_changes
                )
            })
            .collect();
        let body = format!(
            "## Rolling upgrade of 3 replicas while writing\n\n\
             A 3-replica cluster on OpenBao {previous} (OpenBao's default Raft timing) upgraded to {TARGET} by \
             changing `spec.version`, on the local control plane with a node that runs real `bao` processes. \
             A client writes one KV v2 entry every 100 ms through whichever member answers. *Upgrade* = from the \
             spec change until every pod runs {TARGET}, serves, and `status.currentVersion` says so (followers \
             first, each back and caught up before the next, the active member last after one step-down). \
             *Longest write gap* = the longest time in which no write succeeded. *Lost* = acknowledged writes \
             the active member cannot read back at the end. Goals: no gap over 2 s, nothing lost.\n\n\
             | Median of {RUNS} | Upgrade | Longest write gap | Lost writes (max) |\n\
             |---|---|---|---|\n\
             | | {:.2} s | {:.2} s | {} |\n\n\
             | Run | Upgrade | Longest write gap | Writes acknowledged | Lost | Leader changes |\n\
             |---|---|---|---|---|---|\n{}\n\n\
             CPU: {}. Command: `cargo bench -p openbao-operator --bench upgrade`",
            median(|r| r.seconds),
            median(|r| r.gap),
            runs.iter().map(|r| r.lost).max().unwrap_or(0),
            rows.join("\n"),
            report::cpu(),
            previous = localcluster::OPENBAO_PREVIOUS_VERSION,
        );
        report::write_section("upgrade-bench", &body);
    });
}
