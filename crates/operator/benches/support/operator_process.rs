//! The operator as its own process for benchmarks: started from the built binary under the test
//! operator's ServiceAccount (no webhook, no leader election), waited for until ready, asked for
//! metrics over plain HTTP and for its memory from /proc, and killed when dropped.

#![allow(dead_code)]

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use super::support;

/// How long the operator may take to become ready.
const READY_DEADLINE: Duration = Duration::from_secs(300);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A running operator process; killed when dropped.
pub struct OperatorProcess {
    child: Child,
    metrics: String,
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident and peak resident memory of a process, in MiB.
#[derive(Clone, Copy)]
pub struct Memory {
    /// VmRSS.
    pub rss: f64,
    /// VmHWM.
    pub peak: f64,
    /// RssAnon: the heap, thread stacks and other anonymous memory.
    pub anon: f64,
    /// RssFile: the pages of the binary and its libraries that are resident.
    pub file: f64,
}

impl Memory {
    /// `rss MiB (anonymous a, binary f)`, for a report.
    pub fn split(&self) -> String {
        format!(
            "{:.1} MiB (anonymous {:.1}, binary {:.1})",
            self.rss, self.anon, self.file
        )
    }
}

impl OperatorProcess {
    /// Start `openbao-operator run` against `cp`, its stderr in `log`, with `env` set (and every
    /// name in `env` removed from the inherited environment first), and wait until it is ready.
    pub async fn start(
        cp: &localcluster::ControlPlane,
        log: &std::path::Path,
        env: &[(&str, Option<&str>)],
    ) -> Self {
        let kubeconfig = cp
            .kubeconfig_for_service_account(support::OPERATOR_NS, support::OPERATOR_SA)
            .await
            .expect("operator kubeconfig");
        let (health, metrics) = (free_port(), free_port());
        let mut command = Command::new(env!("CARGO_BIN_EXE_openbao-operator"));
        command
            .args([
                "run",
                "--no-webhook",
                "--no-leader-elect",
                "--secure-metrics-bind",
                "0",
            ])
            .arg(format!("--kubeconfig={}", kubeconfig.display()))
            .arg(format!("--operator-namespace={}", support::OPERATOR_NS))
            .arg(format!("--health-bind=127.0.0.1:{health}"))
            .arg(format!("--metrics-bind=127.0.0.1:{metrics}"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).expect("log"));
        for (name, value) in env {
            command.env_remove(name);
            if let Some(value) = value {
                command.env(name, value);
            }
        }
        let operator = Self {
            child: command.spawn().expect("start the operator"),
            metrics: format!("http://127.0.0.1:{metrics}/metrics"),
        };
        let started = Instant::now();
        while !http_get(&format!("http://127.0.0.1:{health}/readyz"))
            .await
            .lines()
            .next()
            .is_some_and(|l| l.contains(" 200"))
        {
            assert!(
                started.elapsed() < READY_DEADLINE,
                "operator not ready; log: {}",
                log.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        operator
    }

    /// The whole metrics page.
    pub async fn metrics_text(&self) -> String {
        http_get(&self.metrics).await
    }

    /// The sum of every sample of the metric family `name` (0 when absent).
    pub async fn metric_sum(&self, name: &str) -> f64 {
        http_get(&self.metrics)
            .await
            .lines()
            .filter(|l| l.starts_with(name) && !l.starts_with('#'))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// The value of the one sample whose line starts with `sample` (name and labels, then a
    /// space), if it is there.
    pub async fn sample(&self, sample: &str) -> Option<f64> {
        http_get(&self.metrics)
            .await
            .lines()
            .find_map(|l| l.strip_prefix(sample)?.trim().parse::<f64>().ok())
    }

    /// CPU time the process has used so far (user and system), in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .expect("the operator process is alive");
        // Fields after the command name (which may hold spaces) start at field 3: utime and
        // stime are fields 14 and 15, in clock ticks (100 a second on Linux).
        let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (ticks(11) + ticks(12)) / 100.0
    }

    /// The process's memory now and at its peak.
    pub fn memory(&self) -> Memory {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the operator process is alive");
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
                .map(|kib| kib / 1024.0)
                .unwrap_or_else(|| panic!("{name} in /proc/<pid>/status"))
        };
        Memory {
            rss: field("VmRSS:"),
            peak: field("VmHWM:"),
            anon: field("RssAnon:"),
            file: field("RssFile:"),
        }
    }
}

/// A tiny HTTP/1.0 GET over loopback (no client dependency for it); empty when nothing answers.
async fn http_get(url: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_once('/').expect("url with path");
    let Ok(mut stream) = tokio::net::TcpStream::connect(host).await else {
        return String::new();
    };
    let request = format!("GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return String::new();
    }
    let mut body = String::new();
    let _ = stream.read_to_string(&mut body).await;
    body
}
