//! Benchmark: the operator installed from its image, as users install it. The image's sizes
//! (`hack/image.sh`, the published `release` build and the tests' `image-test` build), then,
//! on a fresh control plane per run whose node holds the release image (median of 3, with the
//! node enforcing every NetworkPolicy and without): `kubectl apply --server-side -k` of an
//! overlay of `deploy/` with two replicas until both are ready, until the sample cluster
//! (examples/minimal.yaml, applied once the operator is ready) is Running, and the handover
//! after the leader's pod is deleted. Writes BENCHMARKS.md.
//!
//! Run: `cargo bench -p openbao-operator --bench install` (the first run builds the release
//! image, about 15 minutes on 2 cores; later runs find it cached).

#[allow(clippy::unwrap_used)]
#[path = "../tests/support/deploy.rs"]
mod deploy_support;
#[path = "../tests/support/install.rs"]
mod install_support;
#[path = "support/report.rs"]
mod report;

use std::{
    path::Path,
    time::{Duration, Instant},
};

use install_support::{
    OPERATOR_NAMESPACE, apply_sample, control_plane, image, install_with_kubectl, lease_holder,
    until_leader_among, until_running, with_logs,
};
use k8s_openapi::api::core::v1::Pod;
use kube::{Api, api::DeleteParams};
use localcluster::{TestNamespace, eventually};

const RUNS: usize = 3;

#[derive(Clone, Copy, Default)]
struct Run {
    ready: f64,
    running: f64,
    handover: f64,
}

fn tree_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.is_dir() {
        std::fs::read_dir(path)
            .map(|entries| entries.flatten().map(|e| tree_size(&e.path())).sum())
            .unwrap_or(0)
    } else {
        meta.len()
    }
}

async fn one_run(image: &install_support::Image, enforce: bool) -> anyhow::Result<(Run, u64)> {
    let cp = control_plane(image, enforce).await?;
    let client = cp.client()?;
    let unpacked = cp
        .node()
        .map(|node| {
            node.stored_images()
                .values()
                .map(|stored| tree_size(&stored.rootfs))
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0);
    let started = Instant::now();
    let (pods, _) = install_with_kubectl(&cp, &client, 2).await?;
    let ready = started.elapsed().as_secs_f64();
    let leader = with_logs(&cp, until_leader_among(&client, &pods).await).await?;
    let ns = TestNamespace::create(&cp, "bench-install").await?;
    apply_sample(&client, ns.name()).await?;
    with_logs(&cp, until_running(&client, ns.name(), "bao", 3).await).await?;
    let running = started.elapsed().as_secs_f64();
    let deleted = Instant::now();
    Api::<Pod>::namespaced(client.clone(), OPERATOR_NAMESPACE)
        .delete(&leader, &DeleteParams::default())
        .await?;
    eventually(
        "another replica to lead",
        Duration::from_secs(60),
        || async { Ok(lease_holder(&client).await?.filter(|h| *h != leader)) },
    )
    .await?;
    let handover = deleted.elapsed().as_secs_f64();
    ns.delete().await?;
    cp.stop().await?;
    Ok((
        Run {
            ready,
            running,
            handover,
        },
        unpacked,
    ))
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let release = image("release");
    let tests = image("image-test");
    let mut unpacked = 0;
    let mut rows = Vec::new();
    for enforce in [true, false] {
        let mut runs = Vec::new();
        for run in 0..RUNS {
            let (measured, size) = one_run(&release, enforce).await?;
            unpacked = size;
            println!(
                "enforce={enforce} run {run}: ready {:.2} s, Running {:.2} s, handover {:.2} s",
                measured.ready, measured.running, measured.handover
            );
            runs.push(measured);
        }
        let median = |f: fn(&Run) -> f64| report::median(&runs.iter().map(f).collect::<Vec<_>>());
        rows.push(format!(
            "| {} | {:.1} s | {:.1} s | {:.2} s |",
            if enforce {
                "enforced (kube-router)"
            } else {
                "stored, not enforced"
            },
            median(|r| r.ready),
            median(|r| r.running),
            median(|r| r.handover),
        ));
    }
    let body = format!(
        "## The operator image, and installing from it\n\n\
         `hack/image.sh` builds the image here (`FROM scratch`: one static musl binary, the CA \
         bundle, `/etc/passwd`), exported as an OCI archive. The node of the local cluster \
         imports it into its OCI store and runs it as pods.\n\n\
         | Image | OCI archive (gzip layer) | Binary | Unpacked root |\n|---|---|---|---|\n\
         | `release` (fat LTO, published) | {} | {} | {} |\n\
         | `image-test` (no LTO, what the tests install) | {} | {} | |\n\n\
         Install from `kubectl apply --server-side -k` (an overlay of `deploy/` with two replicas, \
         release image) on a fresh control plane and node, median of {RUNS} runs each: *ready* = \
         both replicas ready (caches synced, webhook registered with its CA bundle, one leading); \
         *Running* = the sample `examples/minimal.yaml` (3 members, applied once the operator is \
         ready) is Running, counted from the apply; *handover* = the leader's pod deleted until \
         another replica holds the Lease (10 s lease; the leader releases it on SIGTERM).\n\n\
         | Node | Apply to operator ready | Apply to sample Running | Handover |\n|---|---|---|---|\n\
         {}\n\n\
         CPU: {}; {}. Command: `cargo bench -p openbao-operator --bench install`",
        mib(release.archive_size),
        mib(release.binary_size),
        mib(unpacked),
        mib(tests.archive_size),
        mib(tests.binary_size),
        rows.join("\n"),
        report::cpu(),
        chrono_free_date(),
    );
    report::write_section("install-bench", &body);
    Ok(())
}

/// Today's date (UTC) from `date`, without a date crate.
fn chrono_free_date() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
