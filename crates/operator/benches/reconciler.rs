//! Benchmarks of the reconciler against a real API server, with the operator running as its own
//! process under its ServiceAccount (the generated least-privilege ClusterRole):
//! (a) create to all children present, median of 20;
//! (b) spec change to NetworkPolicy updated, median of 20;
//! (c) write requests during 10 no-op reconciles, from the API server's `apiserver_request_total`
//!     and from the operator's own `apply_writes` counter;
//! (d) operator RSS with 1 and with 100 clusters.
//! Writes BENCHMARKS.md.
//!
//! Run: `cargo bench -p openbao-operator --bench reconciler`

#[path = "support/operator_process.rs"]
mod operator_process;
#[path = "support/report.rs"]
mod report;
#[path = "../tests/support/mod.rs"]
mod support;

use operator_process::OperatorProcess;

use std::time::{Duration, Instant};

use api::OpenBaoCluster;
use k8s_openapi::api::{apps::v1::StatefulSet, core::v1::Namespace, networking::v1::NetworkPolicy};
use kube::{
    Api, Client,
    api::{ObjectMeta, Patch, PatchParams, PostParams},
};

const POLL: Duration = Duration::from_millis(10);
const DEADLINE: Duration = Duration::from_secs(120);
/// Resources the operator writes; their writes are what (c) counts at the API server.
/// Subresources are excluded (the StatefulSet and PDB controllers write their own status)
/// except the OpenBaoCluster status the operator patches.
const OPERATOR_RESOURCES: &[&str] = &[
    "statefulsets",
    "services",
    "configmaps",
    "networkpolicies",
    "poddisruptionbudgets",
    "serviceaccounts",
    "roles",
    "rolebindings",
    "secrets",
    "openbaoclusters",
];

async fn start_operator(cp: &localcluster::ControlPlane, log: &std::path::Path) -> OperatorProcess {
    OperatorProcess::start(cp, log, &[]).await
}

async fn namespace(client: &Client, name: &str) {
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Api::<Namespace>::all(client.clone())
        .patch(
            name,
            &PatchParams::apply("bench").force(),
            &Patch::Apply(&ns),
        )
        .await
        .expect("namespace");
}

async fn create_and_time(client: &Client, ns: &str, name: &str) -> Duration {
    let cluster = support::cluster(name, ns, "version: \"2.7.2\"");
    let started = Instant::now();
    Api::<OpenBaoCluster>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &cluster)
        .await
        .expect("create cluster");
    // The StatefulSet is applied last: once it exists, every other child does.
    let sets = Api::<StatefulSet>::namespaced(client.clone(), ns);
    while sets.get_opt(name).await.expect("get").is_none() {
        assert!(
            started.elapsed() < DEADLINE,
            "no StatefulSet for {ns}/{name}"
        );
        tokio::time::sleep(POLL).await;
    }
    started.elapsed()
}

/// Sum of `apiserver_request_total` for write verbs on the operator's resources.
async fn api_server_writes(client: &Client) -> f64 {
    let request = http::Request::get("/metrics")
        .body(Vec::new())
        .expect("request");
    let text = client
        .request_text(request)
        .await
        .expect("API server metrics");
    text.lines()
        .filter(|l| l.starts_with("apiserver_request_total{"))
        .filter(|l| {
            [
                "\"POST\"",
                "\"PUT\"",
                "\"PATCH\"",
                "\"DELETE\"",
                "\"APPLY\"",
            ]
            .iter()
            .any(|v| l.contains(&format!("verb={v}")))
        })
        .filter(|l| {
            let resource = label(l, "resource");
            let subresource = label(l, "subresource");
            OPERATOR_RESOURCES.contains(&resource.as_str())
                && (subresource.is_empty()
                    || (resource == "openbaoclusters" && subresource == "status"))
                && !(resource == "openbaoclusters" && subresource.is_empty())
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn label(line: &str, name: &str) -> String {
    line.split(&format!("{name}=\""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("")
        .to_string()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let cp = localcluster::shared().await.expect("control plane (bash hack/setup.sh)");
        support::install(cp).await;
        let client = cp.client().expect("admin client");
        let dir = tempfile::tempdir().expect("temp dir");
        let operator = start_operator(cp, &dir.path().join("operator.log")).await;

        // (d, 1 cluster) and the cluster used for (b) and (c).
        namespace(&client, "bench-steady").await;
        create_and_time(&client, "bench-steady", "bao").await;
        tokio::time::sleep(Duration::from_secs(5)).await;
        let rss_one = operator.memory().rss;

        // (c) 10 no-op reconciles: poke the cluster (a metadata change the operator must look at
        // but that changes nothing it owns) and wait for each pass.
        let clusters = Api::<OpenBaoCluster>::namespaced(client.clone(), "bench-steady");
        let writes_before = api_server_writes(&client).await;
        let applied_before = operator.metric_sum("openbao_operator_apply_writes_total").await;
        let passes_before = operator.metric_sum("openbao_operator_reconciles_total").await;
        for i in 0..10 {
            let before = operator.metric_sum("openbao_operator_reconciles_total").await;
            clusters
                .patch(
                    "bao",
                    &PatchParams::default(),
                    &Patch::Merge(serde_json::json!({"metadata": {"annotations": {"bench.openbao.org/poke": i.to_string()}}})),
                )
                .await
                .expect("poke");
            let deadline = Instant::now() + DEADLINE;
            while operator.metric_sum("openbao_operator_reconciles_total").await <= before {
                assert!(Instant::now() < deadline, "no reconcile after poke {i}");
                tokio::time::sleep(POLL).await;
            }
        }
        // Let the last pass finish its (absent) writes before counting.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let passes = operator.metric_sum("openbao_operator_reconciles_total").await - passes_before;
        let writes = api_server_writes(&client).await - writes_before;
        let applied = operator.metric_sum("openbao_operator_apply_writes_total").await - applied_before;
        println!("(c) {passes} passes: {writes} API-server writes, {applied} apply writes");

        // (a) create to all children present, 20 clusters in their own namespaces.
        let mut creates = Vec::new();
        for i in 0..20 {
            let ns = format!("bench-create-{i}");
            namespace(&client, &ns).await;
            creates.push(create_and_time(&client, &ns, "bao").await.as_secs_f64());
        }
        println!("(a) {creates:?}");

        // (b) spec change to NetworkPolicy updated.
        let policies = Api::<NetworkPolicy>::namespaced(client.clone(), "bench-steady");
        let mut updates = Vec::new();
        for i in 0..20 {
            let kube_system = i % 2 == 1;
            let expected = if kube_system { 4 } else { 3 };
            let started = Instant::now();
            clusters
                .patch(
                    "bao",
                    &PatchParams::default(),
                    &Patch::Merge(serde_json::json!({"spec": {"network": {"kubeSystemIngress": kube_system}}})),
                )
                .await
                .expect("spec change");
            loop {
                let policy = policies.get("bao-network-policy").await.expect("policy");
                if policy.spec.and_then(|s| s.ingress).map(|r| r.len()) == Some(expected) {
                    break;
                }
                assert!(started.elapsed() < DEADLINE, "policy not updated");
                tokio::time::sleep(POLL).await;
            }
            updates.push(started.elapsed().as_secs_f64());
        }
        println!("(b) {updates:?}");

        // (d, 100 clusters): 79 more, ten per namespace.
        for i in 0..79 {
            let ns = format!("bench-fleet-{}", i / 10);
            if i % 10 == 0 {
                namespace(&client, &ns).await;
            }
            create_and_time(&client, &ns, &format!("bao-{i}")).await;
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
        let rss_hundred = operator.memory().rss;
        println!("(d) RSS {rss_one:.1} MiB with 1, {rss_hundred:.1} MiB with 100");

        let ms = |v: f64| format!("{:.0} ms", v * 1000.0);
        let spread = |v: &[f64]| {
            let mut s = v.to_vec();
            s.sort_by(|a, b| a.total_cmp(b));
            format!("{} to {}", ms(s[0]), ms(s[s.len() - 1]))
        };
        let body = format!(
            "## Reconciler on a real API server\n\n\
             The operator runs as its own process (`openbao-operator run`, built by `cargo bench` with the release profile: fat LTO, one codegen unit) under its \
             ServiceAccount with the generated ClusterRole, against the local control plane \
             (etcd, kube-apiserver, kube-controller-manager v1.37.2). No node: pods stay Pending, so this \
             measures the operator's object management.\n\n\
             | Measure | Result | Goal |\n|---|---|---|\n\
             | (a) create to all children present, median of 20 | {} ({}) | |\n\
             | (b) spec change to NetworkPolicy updated, median of 20 | {} ({}) | |\n\
             | (c) writes during {passes:.0} no-op reconciles: API server (`apiserver_request_total`, write verbs on the operator's resources) | {writes:.0} | 0 |\n\
             | (c) the same, counted by the operator (`openbao_operator_apply_writes_total`) | {applied:.0} | 0 |\n\
             | (d) operator RSS with 1 cluster | {rss_one:.1} MiB | at most 20 MiB |\n\
             | (d) operator RSS with 100 clusters (300 pods, 1000 children cached) | {rss_hundred:.1} MiB | at most 40 MiB |\n\
             | CPU | {} | |\n\n\
             (c) pokes the cluster with an annotation 10 times and waits for each pass; the API-server \
             count excludes the benchmark's own PATCHes of the OpenBaoCluster and status subresources \
             written by the StatefulSet and PDB controllers, but includes the OpenBaoCluster status.\n\n\
             Command: `cargo bench -p openbao-operator --bench reconciler`",
            ms(report::median(&creates)),
            spread(&creates),
            ms(report::median(&updates)),
            spread(&updates),
            report::cpu(),
        );
        report::write_section("reconciler-bench", &body);
    });
}
