//! Time from a NetworkPolicy change to its enforcement on the local node (kube-router's
//! firewall): an agnhost server pod, reached from this process (outside the pod network, so
//! subject to the policy like any client); a deny-all-ingress policy selecting it is created
//! and the time until a connection is refused is measured, then the policy is deleted and the
//! time until connections go through again. Probes every 20 ms with a 100 ms connect timeout
//! (the firewall drops, so a refusal shows as a timeout). Median of 7 of each. Writes its
//! section of BENCHMARKS.md.
//!
//! Run: `cargo bench -p openbao-localcluster --bench enforcement`

#[path = "../../operator/benches/support/report.rs"]
mod report;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use k8s_openapi::api::{core::v1::Pod, networking::v1::NetworkPolicy};
use kube::{
    Api,
    api::{DeleteParams, PostParams},
};
use localcluster::{ControlPlane, NodeOptions, Options, TestNamespace, eventually, reach};

const RUNS: usize = 7;
const PROBE_EVERY: Duration = Duration::from_millis(20);
const CONNECT_TIMEOUT: Duration = Duration::from_millis(100);
const DEADLINE: Duration = Duration::from_secs(60);

async fn connects(target: &str) -> bool {
    matches!(
        tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(target)).await,
        Ok(Ok(_))
    )
}

/// Seconds from now until a connection to `target` gives `want`.
async fn until(target: &str, want: bool) -> Result<f64> {
    let started = Instant::now();
    while started.elapsed() < DEADLINE {
        if connects(target).await == want {
            return Ok(started.elapsed().as_secs_f64());
        }
        tokio::time::sleep(PROBE_EVERY).await;
    }
    bail!("{target} did not become {want} within {DEADLINE:?}")
}

#[tokio::main]
async fn main() -> Result<()> {
    let cp = ControlPlane::start_with(Options {
        node: true,
        node_options: NodeOptions {
            enforce_network_policy: true,
            ..NodeOptions::default()
        },
        ..Options::default()
    })
    .await?;
    let ns = TestNamespace::create(&cp, "bench-enforce").await?;
    let pods: Api<Pod> = ns.api();
    pods.create(
        &PostParams::default(),
        &serde_json::from_value(serde_json::json!({
            "metadata": {"name": "server", "labels": {"app": "server"}},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "containers": [{
                    "name": "agnhost",
                    "image": "registry.k8s.io/e2e-test-images/agnhost:2.56",
                    "args": ["netexec", "--http-port=8080"],
                }],
            },
        }))?,
    )
    .await?;
    let ip = reach::running_pod_ip(&pods, "server", DEADLINE).await?;
    let target = format!("{ip}:8080");
    eventually("the server to answer", DEADLINE, || async {
        Ok(connects(&target).await.then_some(()))
    })
    .await
    .context("no policy yet: the server is reachable")?;

    let policies: Api<NetworkPolicy> = ns.api();
    let deny: NetworkPolicy = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "deny-ingress"},
        "spec": {"podSelector": {"matchLabels": {"app": "server"}}, "policyTypes": ["Ingress"]},
    }))?;
    let (mut closing, mut opening) = (Vec::new(), Vec::new());
    for run in 1..=RUNS {
        policies.create(&PostParams::default(), &deny).await?;
        let closed = until(&target, false).await?;
        policies
            .delete("deny-ingress", &DeleteParams::default())
            .await?;
        let opened = until(&target, true).await?;
        eprintln!(
            "run {run}: refused {closed:.3} s after the create, allowed {opened:.3} s after the delete"
        );
        closing.push(closed);
        opening.push(opened);
    }
    ns.delete().await?;
    cp.stop().await?;

    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let body = format!(
        "## Enforcement: a NetworkPolicy change to its effect on the node\n\n\
         kube-router's firewall ({}) in the node's namespace; an agnhost server pod probed \
         from outside the pod network every {} ms ({} ms connect timeout; the firewall drops, so a refusal is seen only when \
         the timeout passes and the first row includes it). Median of {RUNS}; {}; {date}.\n\n\
         | Change | Until enforced (median) | min | max |\n|---|---|---|---|\n\
         | deny-all-ingress policy created | {:.2} s | {:.2} s | {:.2} s |\n\
         | the policy deleted | {:.2} s | {:.2} s | {:.2} s |\n\n\
         Command: `cargo bench -p openbao-localcluster --bench enforcement`",
        localcluster::KUBE_ROUTER_VERSION,
        PROBE_EVERY.as_millis(),
        CONNECT_TIMEOUT.as_millis(),
        report::cpu(),
        report::median(&closing),
        closing.iter().copied().fold(f64::INFINITY, f64::min),
        closing.iter().copied().fold(0.0, f64::max),
        report::median(&opening),
        opening.iter().copied().fold(f64::INFINITY, f64::min),
        opening.iter().copied().fold(0.0, f64::max),
    );
    report::write_section("enforcement-bench", &body);
    Ok(())
}
