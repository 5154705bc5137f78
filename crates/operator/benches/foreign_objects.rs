//! Memory of the operator when a tenant fills a namespace with objects that carry the operator's
//! labels (`app.kubernetes.io/managed-by=openbao-operator`, `openbao.org/cluster=<a real
//! cluster>`) but belong to no `OpenBaoCluster`: 10,000 small ConfigMaps next to 1 real cluster.
//!
//! Two operator processes (`openbao-operator run`, each under the operator's ServiceAccount)
//! watch the same control plane at the same time, so both see exactly the same events: one as
//! shipped (caches keep only objects an OpenBaoCluster controls) and one with
//! `OPENBAO_OPERATOR_UNFILTERED_CACHES` set, which the fault-injection build that `cargo bench`
//! makes honours: every labelled object is cached, as before the filter. Reported per process:
//! RSS and peak RSS (VmHWM) before the ConfigMaps exist, after they were created while it ran,
//! and after a restart with them present (the initial list), with its ConfigMap cache size
//! (`openbao_operator_cached_objects`). Writes its section of BENCHMARKS.md.
//!
//! Run: `cargo bench -p openbao-operator --bench foreign_objects`

#[path = "support/operator_process.rs"]
mod operator_process;
#[path = "support/report.rs"]
mod report;
#[path = "../tests/support/mod.rs"]
mod support;

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use api::{OpenBaoCluster, names::ClusterNames};
use futures::StreamExt;
use k8s_openapi::api::{apps::v1::StatefulSet, core::v1::ConfigMap};
use kube::{
    Api, Client, ResourceExt,
    api::{DeleteParams, ObjectMeta, PostParams},
};
use operator::reconcile::UNFILTERED_CACHES_ENV;
use operator_process::{Memory, OperatorProcess};

const FOREIGN: usize = 10_000;
/// [`FOREIGN`] as the report spells it.
const FOREIGN_TEXT: &str = "10,000";
/// Creates in flight at once: enough to keep the API server busy on 2 cores, few enough that
/// the run stays a plain client's load.
const CONCURRENCY: usize = 32;
const NS: &str = "bench-foreign";
const POLL: Duration = Duration::from_millis(50);
const DEADLINE: Duration = Duration::from_secs(300);
/// Time for the allocator and the watches to settle before RSS is read.
const SETTLE: Duration = Duration::from_secs(5);

/// The ConfigMap cache's size, as the operator reports it.
impl OperatorProcess {
    async fn cached_config_maps(&self) -> Option<f64> {
        self.sample("openbao_operator_cached_objects{kind=\"ConfigMap\"} ")
            .await
    }

    /// Wait until the ConfigMap cache holds `count` objects.
    async fn until_cached(&self, count: usize, what: &str) {
        let started = Instant::now();
        while self.cached_config_maps().await != Some(count as f64) {
            assert!(
                started.elapsed() < DEADLINE,
                "{what}: the ConfigMap cache holds {:?}, not {count}",
                self.cached_config_maps().await
            );
            tokio::time::sleep(POLL).await;
        }
    }
}

/// An operator process, its caches filtered as shipped or (`unfiltered`) as before the filter.
async fn start_operator(
    cp: &localcluster::ControlPlane,
    log: &std::path::Path,
    unfiltered: bool,
) -> OperatorProcess {
    OperatorProcess::start(
        cp,
        log,
        &[(UNFILTERED_CACHES_ENV, unfiltered.then_some("1"))],
    )
    .await
}

/// Delete the cluster's ConfigMap and wait until it is back: each operator's ConfigMap watch
/// delivers events in order, so once the cache counts match afterwards, every ConfigMap created
/// before has been through the operators.
async fn round_trip(client: &Client) {
    let configs = Api::<ConfigMap>::namespaced(client.clone(), NS);
    let old = configs
        .get("bao-config")
        .await
        .expect("the cluster's ConfigMap");
    configs
        .delete("bao-config", &DeleteParams::default())
        .await
        .expect("delete the cluster's ConfigMap");
    let started = Instant::now();
    while configs
        .get_opt("bao-config")
        .await
        .expect("get")
        .is_none_or(|c| c.uid() == old.uid())
    {
        assert!(started.elapsed() < DEADLINE, "ConfigMap not recreated");
        tokio::time::sleep(POLL).await;
    }
}

/// Create the foreign ConfigMaps, [`CONCURRENCY`] at a time; returns the seconds it took.
async fn create_foreign(client: &Client) -> f64 {
    let configs = Api::<ConfigMap>::namespaced(client.clone(), NS);
    let mut labels = ClusterNames::new("bao").labels();
    labels.insert("bench.openbao.org/foreign".to_string(), "true".to_string());
    let started = Instant::now();
    futures::stream::iter(0..FOREIGN)
        .for_each_concurrent(CONCURRENCY, |i| {
            let configs = configs.clone();
            let config_map = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(format!("foreign-{i:05}")),
                    labels: Some(labels.clone()),
                    ..ObjectMeta::default()
                },
                data: Some(BTreeMap::from([(
                    "note".to_string(),
                    "not yours".to_string(),
                )])),
                ..ConfigMap::default()
            };
            async move {
                configs
                    .create(&PostParams::default(), &config_map)
                    .await
                    .expect("create a foreign ConfigMap");
            }
        })
        .await;
    started.elapsed().as_secs_f64()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let cp = localcluster::shared()
            .await
            .expect("control plane (bash hack/setup.sh)");
        support::install(cp).await;
        let client = cp.client().expect("admin client");
        let dir = tempfile::tempdir().expect("temp dir");
        support::apply_namespace(&client, NS).await;

        let log = |name: &str| dir.path().join(format!("{name}.log"));
        let filtered = start_operator(cp, &log("filtered"), false).await;
        let unfiltered = start_operator(cp, &log("unfiltered"), true).await;
        Api::<OpenBaoCluster>::namespaced(client.clone(), NS)
            .create(
                &PostParams::default(),
                &support::cluster("bao", NS, "version: \"2.7.2\""),
            )
            .await
            .expect("create the cluster");
        let sets = Api::<StatefulSet>::namespaced(client.clone(), NS);
        let started = Instant::now();
        while sets.get_opt("bao").await.expect("get").is_none() {
            assert!(started.elapsed() < DEADLINE, "no StatefulSet");
            tokio::time::sleep(POLL).await;
        }
        filtered.until_cached(1, "filtered, before").await;
        unfiltered.until_cached(1, "unfiltered, before").await;
        tokio::time::sleep(SETTLE).await;
        let before = (filtered.memory(), unfiltered.memory());

        let seconds = create_foreign(&client).await;
        println!("created {FOREIGN} ConfigMaps in {seconds:.1} s");
        round_trip(&client).await;
        filtered.until_cached(1, "filtered, after").await;
        unfiltered
            .until_cached(FOREIGN + 1, "unfiltered (is this a fault-injection build?)")
            .await;
        tokio::time::sleep(SETTLE).await;
        let after = (filtered.memory(), unfiltered.memory());

        // Restarted with the objects present: the caches fill from the initial (paged) list.
        drop(filtered);
        drop(unfiltered);
        let filtered = start_operator(cp, &log("filtered-restart"), false).await;
        let unfiltered = start_operator(cp, &log("unfiltered-restart"), true).await;
        filtered.until_cached(1, "filtered, restarted").await;
        unfiltered
            .until_cached(FOREIGN + 1, "unfiltered, restarted")
            .await;
        tokio::time::sleep(SETTLE).await;
        let restarted = (filtered.memory(), unfiltered.memory());

        let row = |what: &str, (f, u): (Memory, Memory), cached: (usize, usize)| {
            format!(
                "| {what} | {:.1} MiB ({:.1}) | {} | {:.1} MiB ({:.1}) | {} |\n",
                f.rss, f.peak, cached.0, u.rss, u.peak, cached.1
            )
        };
        let table = [
            row("1 cluster, no foreign objects", before, (1, 1)),
            row(
                &format!("after {FOREIGN_TEXT} foreign ConfigMaps were created"),
                after,
                (1, FOREIGN + 1),
            ),
            row(
                &format!("restarted with the {FOREIGN_TEXT} present"),
                restarted,
                (1, FOREIGN + 1),
            ),
        ]
        .concat();
        for line in table.lines() {
            println!("{line}");
        }
        let body = format!(
            "## Foreign objects: {FOREIGN_TEXT} labelled ConfigMaps that no cluster owns\n\n\
             A tenant creates {FOREIGN_TEXT} small ConfigMaps labelled \
             `app.kubernetes.io/managed-by=openbao-operator` and `openbao.org/cluster=bao` (no \
             owner reference) next to 1 real cluster `bao`, {CONCURRENCY} creates at a time \
             ({seconds:.0} s). Two operator processes (`openbao-operator run`, release profile) watch \
             at once and see the same events: as shipped, the caches keep only objects an \
             OpenBaoCluster controls; with `{UNFILTERED_CACHES_ENV}=1` (honoured only by the \
             fault-injection build `cargo bench` makes) every labelled object is cached, as before \
             the filter. RSS (peak RSS, VmHWM, in brackets) read {} s after the caches settled; \
             cached = `openbao_operator_cached_objects{{kind=\"ConfigMap\"}}`.\n\n\
             | State | Filtered: RSS (peak) | cached | Unfiltered: RSS (peak) | cached |\n\
             |---|---|---|---|---|\n\
             {table}\n\
             The filtered operator still receives and decodes every foreign object (the label \
             selector is the only filter the API server applies, and anyone can set a label) and \
             drops it at once: what it keeps does not grow with them. After a restart the initial \
             list decodes them in pages of 500, and the allocator keeps some of that memory.\n\n\
             CPU: {}\n\n\
             Command: `cargo bench -p openbao-operator --bench foreign_objects`",
            SETTLE.as_secs(),
            report::cpu(),
        );
        report::write_section("foreign-objects-bench", &body);
    });
}
