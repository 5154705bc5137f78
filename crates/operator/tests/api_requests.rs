//! The operator's own requests to the API server, told apart from everyone else's by API
//! Priority and Fairness: two FlowSchemas match the reads (get, list) and the writes of the
//! operator's ServiceAccount, and `apiserver_flowcontrol_dispatched_requests_total` counts each
//! request under its schema. Its own binary, so no other test's clusters make the operator talk
//! to the API server meanwhile.

mod support;

use std::time::{Duration, Instant};

use api::OpenBaoCluster;
use k8s_openapi::api::{apps::v1::StatefulSet, flowcontrol::v1::FlowSchema};
use kube::{
    Api, Client,
    api::{Patch, PatchParams},
};
use support::{METRICS, OPERATOR_NS, OPERATOR_SA, cluster, create, present, until};

const READS: &str = "test-operator-reads";
const WRITES: &str = "test-operator-writes";

async fn install_flow_schemas(client: &Client) {
    let schemas = Api::<FlowSchema>::all(client.clone());
    for (name, verbs, precedence) in [
        (READS, vec!["get", "list"], 100),
        (
            WRITES,
            vec!["create", "update", "patch", "delete", "deletecollection"],
            101,
        ),
    ] {
        let schema: FlowSchema = serde_json::from_value(serde_json::json!({
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
            "kind": "FlowSchema",
            "metadata": {"name": name},
            "spec": {
                "matchingPrecedence": precedence,
                "priorityLevelConfiguration": {"name": "workload-high"},
                "rules": [{
                    "subjects": [{"kind": "ServiceAccount",
                        "serviceAccount": {"name": OPERATOR_SA, "namespace": OPERATOR_NS}}],
                    "resourceRules": [{"verbs": verbs, "apiGroups": ["*"], "resources": ["*"],
                        "namespaces": ["*"], "clusterScope": true}]
                }]
            }
        }))
        .expect("FlowSchema");
        schemas
            .patch(
                name,
                &PatchParams::apply("operator-tests").force(),
                &Patch::Apply(&schema),
            )
            .await
            .expect("install FlowSchema");
    }
}

/// The operator's (reads, writes) so far, by its FlowSchemas.
async fn operator_requests(client: &Client) -> (f64, f64) {
    let request = http::Request::get("/metrics")
        .body(Vec::new())
        .expect("request");
    let text = client
        .request_text(request)
        .await
        .expect("API server metrics");
    let count = |flow: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with("apiserver_flowcontrol_dispatched_requests_total{"))
            .filter(|l| l.contains(&format!("flow_schema=\"{flow}\"")))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    (count(READS), count(WRITES))
}

/// Poke `ns/name` (an annotation: a change the operator must look at that changes nothing it
/// owns) and wait for the pass it causes.
async fn poke_and_wait(client: &Client, ns: &str, name: &str, i: usize) {
    let before = METRICS.passes_finished();
    Api::<OpenBaoCluster>::namespaced(client.clone(), ns)
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"metadata": {"annotations": {"test.openbao.org/poke": i.to_string()}}})),
        )
        .await
        .expect("poke");
    let deadline = Instant::now() + Duration::from_secs(60);
    while METRICS.passes_finished() <= before {
        assert!(Instant::now() < deadline, "no pass after poke {i}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_pass_over_a_cluster_whose_pods_wait_sends_no_request_to_the_api_server() {
    let (ns, client) = support::namespace("noop").await;
    let n = ns.name();
    install_flow_schemas(&client).await;
    // Pods stay Pending (this control plane has no node): the cluster waits on Kubernetes.
    create(
        &client,
        &cluster("bao", n, "version: \"2.7.2\"\nreplicas: 1\nresources: {requests: {cpu: \"1000m\", memory: \"1024Mi\"}}"),
    )
    .await;
    present::<StatefulSet>(&client, n, "bao").await;
    until("status and the Secrets settled", || async {
        let cluster = support::get(&client, n, "bao").await;
        Ok(cluster.status.and_then(|s| s.phase))
    })
    .await;
    // The passes the creation caused (children, Secrets, status) are over once none comes for
    // a while.
    let mut last = METRICS.passes_finished();
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = METRICS.passes_finished();
        if now == last {
            break;
        }
        last = now;
    }
    let (reads_before, writes_before) = operator_requests(&client).await;
    let passes_before = METRICS.passes_finished();
    for i in 0..5 {
        poke_and_wait(&client, n, "bao", i).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let passes = METRICS.passes_finished() - passes_before;
    let (reads, writes) = operator_requests(&client).await;
    assert!(passes >= 5, "{passes} passes");
    assert_eq!(
        (reads - reads_before, writes - writes_before),
        (0.0, 0.0),
        "requests the operator sent during {passes} passes that had nothing to do \
         (reads, writes); a request spelled in a non-canonical quantity must not be rewritten"
    );
    // The counting itself works: a real change makes the operator write.
    Api::<OpenBaoCluster>::namespaced(client.clone(), n)
        .patch(
            "bao",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"network": {"kubeSystemIngress": false}}})),
        )
        .await
        .expect("spec change");
    until("the operator's write to be counted", || async {
        let (_, writes_now) = operator_requests(&client).await;
        Ok((writes_now > writes).then_some(()))
    })
    .await;
}
