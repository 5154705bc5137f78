//! The operator's own requests to the API server, counted by the API server itself (see
//! `support::flow`). Its own binary, so no other test's clusters make the operator talk to the
//! API server meanwhile.

mod support;

use std::time::{Duration, Instant};

use api::OpenBaoCluster;
use k8s_openapi::api::apps::v1::StatefulSet;
use kube::{
    Api, Client,
    api::{Patch, PatchParams},
};
use support::{
    METRICS, cluster, create,
    flow::{install_flow_schemas, operator_requests},
    present, until,
};

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
    // Pods stay Pending (this control plane has no node): the cluster waits on Kubernetes. The
    // audit claim the operator creates is looked up in the claims' metadata cache, not read.
    create(
        &client,
        &cluster("bao", n, "version: \"2.7.2\"\nreplicas: 1\nresources: {requests: {cpu: \"1000m\", memory: \"1024Mi\"}}\nauditFileStorage: {mode: ManagedPVC, size: 64Mi}"),
    )
    .await;
    present::<k8s_openapi::api::core::v1::PersistentVolumeClaim>(&client, n, "bao-audit").await;
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
