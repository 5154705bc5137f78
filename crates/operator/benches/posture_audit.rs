//! The cost of the live posture audit: 100 clusters, each in its own namespace beside 20
//! NetworkPolicies it does not own (narrow and broad pod peers, namespace selectors, ipBlocks,
//! odd ports, deny-alls), every cluster re-proven as after a change that touches them all. One
//! thread, its CPU time (`/proc/thread-self/schedstat`), median of 5 rounds; also the proof of one
//! cluster alone, the cost of an unchanged pass (the fingerprint the reconciler hashes instead),
//! and the process's peak RSS. Writes its section of BENCHMARKS.md.
//!
//! Run: `cargo bench -p openbao-operator --bench posture_audit`

#[path = "support/report.rs"]
mod report;

use std::{
    collections::hash_map::DefaultHasher,
    hash::{Hash, Hasher},
    time::Instant,
};

use k8s_openapi::api::networking::v1::NetworkPolicy;
use operator::{
    desired::{self, Facts, ValidatedCluster},
    posture::audit::{self, LiveState},
};

const CLUSTERS: usize = 100;
const FOREIGN: usize = 20;
const ROUNDS: usize = 5;

fn cluster(index: usize) -> ValidatedCluster {
    let cluster = api::decode::cluster_from_yaml_str(&format!(
        "apiVersion: openbao.org/v1alpha1\nkind: OpenBaoCluster\n\
         metadata: {{name: bao, namespace: team-{index}}}\nspec: {{version: \"2.7.2\", replicas: 3}}\n"
    ))
    .expect("cluster decodes");
    ValidatedCluster::new(cluster).expect("cluster is valid")
}

/// Twenty policies of the kinds found in real namespaces; a few of them widen the posture.
fn foreign(namespace: &str) -> Vec<NetworkPolicy> {
    (0..FOREIGN)
        .map(|i| {
            let spec = match i % 5 {
                0 => serde_json::json!({"podSelector": {"matchLabels": {"app": format!("web-{i}")}},
                    "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": format!("client-{i}")}}}],
                                 "ports": [{"port": 8000 + i}]}]}),
                1 => serde_json::json!({"podSelector": {},
                    "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": format!("t{i}")}}}]}],
                    "policyTypes": ["Ingress"]}),
                2 => serde_json::json!({"podSelector": {"matchLabels": {"tier": "backend"}},
                    "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}],
                                "ports": [{"port": 5432}]}]}),
                3 => serde_json::json!({"podSelector": {}, "policyTypes": ["Ingress"]}),
                _ => serde_json::json!({"podSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["api", "worker"]}]},
                    "ingress": [{"from": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "prometheus"}}}],
                                 "ports": [{"port": 9090}]}]}),
            };
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": format!("foreign-{i}"), "namespace": namespace},
                "spec": spec,
            }))
            .expect("policy")
        })
        .collect()
}

/// CPU time of this thread (the benchmark is single-threaded): the kernel's on-CPU nanoseconds
/// from `/proc/thread-self/schedstat`.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9)
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn main() {
    let facts = Facts::new(
        "openbao-operator-system",
        Some("10.96.0.1".parse().expect("ip")),
    );
    let worlds: Vec<(ValidatedCluster, LiveState)> = (0..CLUSTERS)
        .map(|i| {
            let c = cluster(i);
            let resources = desired::build(&c, &facts);
            let labels = c.names().server_pod_labels();
            let mut policies = vec![resources.network_policy, resources.jobs_network_policy];
            policies.extend(foreign(c.namespace()));
            let members = (0..3).map(|m| (c.names().pod(m), labels.clone())).collect();
            (c, LiveState { policies, members })
        })
        .collect();

    let mut rounds = Vec::new();
    let mut flows = 0;
    let mut violations = 0;
    for _ in 0..ROUNDS {
        let cpu = cpu_seconds();
        flows = 0;
        violations = 0;
        for (c, live) in &worlds {
            let proof = audit::audit(c, &facts, live).expect("audit");
            flows += proof.flows_checked();
            violations += proof.violations().count();
        }
        rounds.push(cpu_seconds() - cpu);
    }
    let all = report::median(&rounds);

    let (one_cluster, one_live) = &worlds[0];
    let mut singles = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        audit::audit(one_cluster, &facts, one_live).expect("audit");
        singles.push(started.elapsed().as_secs_f64());
    }
    let single = report::median(&singles);

    // An unchanged pass hashes names, uids and resourceVersions (here: names and labels).
    let started = Instant::now();
    let mut total = 0u64;
    for (_, live) in &worlds {
        let mut hasher = DefaultHasher::new();
        for p in &live.policies {
            p.metadata.name.hash(&mut hasher);
            p.metadata.resource_version.hash(&mut hasher);
        }
        live.members.hash(&mut hasher);
        total = total.wrapping_add(hasher.finish());
    }
    let unchanged = started.elapsed().as_secs_f64();
    std::hint::black_box(total);

    println!(
        "{CLUSTERS} clusters x {FOREIGN} foreign policies: {all:.3} s CPU (median of {ROUNDS}), \
         {flows} flows, {violations} violations; one cluster {:.1} ms; unchanged pass for all {:.3} ms; peak RSS {:.0} MiB",
        single * 1e3,
        unchanged * 1e3,
        peak_rss_mib()
    );
    report::write_section(
        "posture-audit-bench",
        &format!(
            "## Posture audit: 100 clusters, 20 foreign policies each\n\n\
             Each cluster (3 members) in its own namespace beside {FOREIGN} NetworkPolicies it does \
             not own (narrow and broad pod peers, namespace selectors, an ipBlock with an exception, odd \
             ports, a deny-all), every cluster re-proven as after a change touching them all. One \
             thread, the thread's CPU time (`/proc/thread-self/schedstat`), optimized build; {}; {}.\n\n\
             | Measure | Value |\n|---|---|\n\
             | Re-prove all {CLUSTERS} clusters (median of {ROUNDS} rounds) | {all:.3} s CPU |\n\
             | Flows evaluated per round | {flows} |\n\
             | Violations found per round | {violations} |\n\
             | One cluster (median of 20) | {:.1} ms |\n\
             | An unchanged pass for all {CLUSTERS} (fingerprints only) | {:.3} ms |\n\
             | Peak RSS of the benchmark process | {:.0} MiB |\n\n\
             Command: `cargo bench -p openbao-operator --bench posture_audit`",
            report::cpu(),
            time::OffsetDateTime::now_utc().date(),
            single * 1e3,
            unchanged * 1e3,
            peak_rss_mib()
        ),
    );
}
