//! Control-plane start-to-ready time: one warm-up, then the median of 5 starts. Writes its
//! section of `BENCHMARKS.md` at the workspace root (and nothing else in that file).
//!
//! Run: `cargo bench -p openbao-localcluster --bench start`

#[path = "../../operator/benches/support/report.rs"]
mod report;

use std::{
    process::Command,
    time::{Duration, Instant},
};

use anyhow::Result;
use localcluster::{ControlPlane, ETCD_VERSION, KUBERNETES_VERSION, StartupTimings};

const RUNS: usize = 5;
const COMMAND: &str = "cargo bench -p openbao-localcluster --bench start";
const GOAL: Duration = Duration::from_secs(10);

fn main() -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // The first start after a build pays for page-cache misses on ~230 MB of binaries; that is
    // not what a test run sees, so it is not counted.
    let warm_up = rt.block_on(ControlPlane::start())?;
    rt.block_on(warm_up.stop())?;

    let mut samples: Vec<(Duration, StartupTimings)> = Vec::with_capacity(RUNS);
    for run in 1..=RUNS {
        let begin = Instant::now();
        let control_plane = rt.block_on(ControlPlane::start())?;
        let elapsed = begin.elapsed();
        let timings = control_plane.timings();
        rt.block_on(control_plane.stop())?;
        eprintln!("run {run}: ready after {:.2} s", elapsed.as_secs_f64());
        samples.push((elapsed, timings));
    }
    let mut sorted: Vec<Duration> = samples.iter().map(|(d, _)| *d).collect();
    sorted.sort();
    let median = sorted[RUNS / 2];
    eprintln!("median start-to-ready: {:.2} s", median.as_secs_f64());

    report::write_section("localcluster-bench", &render(&samples, median));
    Ok(())
}

fn render(samples: &[(Duration, StartupTimings)], median: Duration) -> String {
    let secs = |d: Duration| format!("{:.2}", d.as_secs_f64());
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut out = format!(
        "## localcluster: control plane start-to-ready\n\n\
         `ControlPlane::start()` until etcd `/health`, kube-apiserver `/readyz` and \
         kube-controller-manager `/healthz` all succeed (fresh PKI, ports and etcd data each \
         time). Kubernetes {KUBERNETES_VERSION}, etcd {ETCD_VERSION}; {cores} cores; {date}.\n\n\
         Command: `{COMMAND}`\n\n\
         **Median of {} runs: {} s** (goal: under {} s; one warm-up start not counted)\n\n\
         | run | etcd healthy | kube-apiserver ready | kube-controller-manager ready | total |\n\
         |---|---|---|---|---|\n",
        samples.len(),
        secs(median),
        GOAL.as_secs(),
    );
    for (i, (total, t)) in samples.iter().enumerate() {
        out.push_str(&format!(
            "| {} | {} s | {} s | {} s | {} s |\n",
            i + 1,
            secs(t.etcd),
            secs(t.apiserver),
            secs(t.controller_manager),
            secs(*total)
        ));
    }
    out
}
