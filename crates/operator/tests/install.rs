//! The operator installed the way users install it: the OCI image `hack/image.sh` builds here
//! (`FROM scratch`, one static binary), run by the node as pods, deployed with
//! `kubectl apply -k deploy/` and with `helm install` of the chart, onto a control plane whose
//! node enforces every NetworkPolicy (the controller's own included): the sample cluster forms,
//! scales 3 -> 5 -> 3 and outlives its operator's leader under every policy. Each test has its own
//! control plane (both install the same cluster-scoped objects), and they run concurrently.
//!
//! The install-to-Running and handover times are printed (`cargo test --test install --
//! --nocapture`) for BENCHMARKS.md; they are not asserted, except that a handover happens
//! before the lease could have expired (the leader releases it when it stops).

// The deploy tests' helpers (pinned kubectl and helm); they unwrap like those tests.
#[allow(clippy::unwrap_used)]
#[path = "support/deploy.rs"]
mod deploy_support;
#[path = "support/install.rs"]
mod install_support;

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail, ensure};
use api::OpenBaoCluster;
use install_support::{
    DEPLOYMENT, OPERATOR_NAMESPACE, SETTLE, apply_sample, control_plane, helm, image,
    install_with_kubectl, lease_holder, operator_pods, until_leader_among, until_operator_ready,
    until_running, with_logs,
};
use k8s_openapi::api::{
    apps::v1::Deployment,
    coordination::v1::Lease,
    core::v1::{Namespace, Pod, Secret},
};
use kube::{
    Api, Client, ResourceExt,
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams},
};
use localcluster::{ControlPlane, TestNamespace, eventually, reach};
use operator::install::names::LEADER_LEASE;

/// What the tests install: the image built without LTO (hack/image.sh --profile image-test).
const PROFILE: &str = "image-test";
const AGNHOST: &str = "registry.k8s.io/e2e-test-images/agnhost:2.56";

/// An agnhost pod (`pause`) in `namespace`, for connections from inside the pod network.
async fn agnhost(client: &Client, namespace: &str, name: &str) -> Result<()> {
    let pods = Api::<Pod>::namespaced(client.clone(), namespace);
    pods.create(
        &PostParams::default(),
        &serde_json::from_value(serde_json::json!({
            "metadata": {"name": name},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "agnhost", "image": AGNHOST, "args": ["pause"]}],
            },
        }))?,
    )
    .await?;
    reach::running_pod_ip(&pods, name, SETTLE).await?;
    Ok(())
}

fn pod_ip(pod: &Pod) -> Result<String> {
    pod.status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .context("the operator pod has an IP")
}

/// The webhook answers through its Service: the API server (aggregator routing: a ready
/// endpoint's pod IP, TLS name `<service>.<namespace>.svc`) verifies the CA bundle the operator
/// patched in, and the operator denies an invalid cluster naming its fields.
async fn assert_webhook_denies(client: &Client, namespace: &str) -> Result<()> {
    let invalid: OpenBaoCluster = serde_yaml::from_str(&format!(
        "apiVersion: openbao.org/v1alpha1\nkind: OpenBaoCluster\nmetadata: {{name: invalid, \
         namespace: {namespace}}}\nspec:\n  version: \"2.7.2\"\n  network:\n    ingressRules:\n    \
         - from:\n      - ipBlock: {{cidr: 10.0.0.300/8}}\n"
    ))?;
    let clusters = Api::<OpenBaoCluster>::namespaced(client.clone(), namespace);
    match clusters.create(&PostParams::default(), &invalid).await {
        Err(kube::Error::Api(status)) => {
            ensure!(
                status.message.contains(
                    "admission webhook \"openbaoclusters.openbao.org\" denied the request"
                ) && status
                    .message
                    .contains("spec.network.ingressRules[0].from[0].ipBlock.cidr"),
                "the webhook's denial names the field: {status:?}"
            );
            Ok(())
        }
        Ok(_) => bail!("an invalid cluster was admitted: the webhook did not run"),
        Err(e) => Err(e.into()),
    }
}

/// Health answers from outside the pod network (the policy admits 8081 from anywhere, like
/// the kubelet's probes); metrics only from the `monitoring` namespace: a pod there connects,
/// a pod elsewhere and the host are refused by the enforcing node; the node scrapes them.
async fn assert_controller_policy_enforced(
    cp: &ControlPlane,
    client: &Client,
    operator_ip: &str,
    elsewhere: &str,
) -> Result<()> {
    let health = reqwest::Client::new()
        .get(format!("http://{operator_ip}:8081/readyz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .context("GET /readyz on the operator pod")?;
    ensure!(
        health.status().is_success(),
        "/readyz answered {}",
        health.status()
    );

    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({"metadata": {"name": "monitoring"}}))?,
        )
        .await?;
    agnhost(client, "monitoring", "scraper").await?;
    agnhost(client, elsewhere, "intruder").await?;
    let metrics = format!("{operator_ip}:8080");
    reach::until_connects(cp, "monitoring", "scraper", &metrics, true, SETTLE).await?;
    reach::until_connects(cp, elsewhere, "intruder", &metrics, false, SETTLE).await?;
    let from_host = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect(&metrics),
    )
    .await;
    ensure!(
        !matches!(from_host, Ok(Ok(_))),
        "the host reached the operator's metrics port past its NetworkPolicy"
    );

    // What answers there is the operator's metrics: one scrape from the node's namespace (the
    // firewall lets the node in, as it lets the kubelet's probes in).
    let node = cp.node().context("the control plane runs a node")?;
    let scrape = tokio::process::Command::new("ip")
        .args(["netns", "exec", node.netns(), "bash", "-c"])
        .arg(format!(
            "exec 3<>/dev/tcp/{operator_ip}/8080 && printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' >&3 \
             && timeout 5 cat <&3"
        ))
        .output()
        .await
        .context("scrape /metrics from the node's namespace")?;
    let answer = String::from_utf8_lossy(&scrape.stdout);
    ensure!(
        answer.starts_with("HTTP/1.")
            && answer.contains(" 200 ")
            && answer.contains("openbao_operator_"),
        "GET /metrics on {operator_ip}:8080 answered: {}",
        answer.chars().take(400).collect::<String>()
    );
    Ok(())
}

#[tokio::test]
async fn kubectl_apply_k_runs_two_replicas_from_the_image_that_serve_the_webhook_reconcile_scale_and_hand_over()
-> Result<()> {
    let image = image(PROFILE);
    let cp = control_plane(&image, true).await?;
    let client = cp.client()?;
    let started = Instant::now();
    let (pods, ready_after) = install_with_kubectl(&cp, &client, 2).await?;
    let leader = with_logs(&cp, until_leader_among(&client, &pods).await).await?;
    for pod in operator_pods(&client).await?.values() {
        let container = &pod.spec.as_ref().context("spec")?.containers[0];
        ensure!(container.image.as_deref() == Some(image.reference.as_str()));
    }

    let ns = TestNamespace::create(&cp, "install-k").await?;
    with_logs(&cp, assert_webhook_denies(&client, ns.name()).await).await?;
    let leader_pod = &operator_pods(&client).await?[&leader];
    assert_controller_policy_enforced(&cp, &client, &pod_ip(leader_pod)?, ns.name()).await?;

    apply_sample(&client, ns.name()).await?;
    with_logs(&cp, until_running(&client, ns.name(), "bao", 3).await).await?;
    let running_after = started.elapsed();

    // The leader goes (graceful delete): it releases the lease, the standby takes it.
    let lease_duration = Api::<Lease>::namespaced(client.clone(), OPERATOR_NAMESPACE)
        .get(LEADER_LEASE)
        .await?
        .spec
        .and_then(|s| s.lease_duration_seconds)
        .context("the lease has a duration")?;
    let deleted = Instant::now();
    Api::<Pod>::namespaced(client.clone(), OPERATOR_NAMESPACE)
        .delete(&leader, &DeleteParams::default())
        .await?;
    // Whoever asks first after the release takes it: the standby, or the replacement pod the
    // Deployment starts at once.
    let successor = with_logs(
        &cp,
        eventually("another operator pod to take the lease", SETTLE, || async {
            Ok(lease_holder(&client).await?.filter(|h| *h != leader))
        })
        .await,
    )
    .await?;
    let handover = deleted.elapsed();
    ensure!(
        handover < Duration::from_secs(lease_duration as u64),
        "the lease changed hands after {handover:?}, not before its {lease_duration} s expiry: \
         the leader did not release it"
    );
    // Under the new leader and every policy enforced, the cluster scales out and back in.
    let clusters = Api::<OpenBaoCluster>::namespaced(client.clone(), ns.name());
    for replicas in [5, 3] {
        clusters
            .patch(
                "bao",
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"spec": {"replicas": replicas}})),
            )
            .await?;
        with_logs(
            &cp,
            until_running(&client, ns.name(), "bao", replicas).await,
        )
        .await?;
    }

    // The Deployment replaces the pod; the cluster keeps running under the new leader.
    let now = with_logs(&cp, until_operator_ready(&client, 2).await).await?;
    ensure!(
        now.contains(&successor) && !now.contains(&leader),
        "the new leader {successor} is one of the running replicas {now:?}"
    );
    with_logs(&cp, until_running(&client, ns.name(), "bao", 3).await).await?;

    println!(
        "install (kubectl apply -k, 2 replicas, enforcing node): operator ready {:.1} s, \
         sample Running {:.1} s after the apply; leader {leader} deleted, {successor} led \
         {:.1} s later (lease {lease_duration} s)",
        ready_after.as_secs_f64(),
        running_after.as_secs_f64(),
        handover.as_secs_f64()
    );
    ns.delete().await?;
    cp.stop().await?;
    Ok(())
}

#[tokio::test]
async fn helm_install_upgrade_and_uninstall_leave_the_openbao_cluster_and_its_secrets_alone()
-> Result<()> {
    let cp = control_plane(&image(PROFILE), true).await?;
    let client = cp.client()?;
    let chart = deploy_support::workspace_root()
        .join("charts/openbao-operator")
        .display()
        .to_string();

    let started = Instant::now();
    helm(
        &cp,
        &[
            "install",
            "openbao-operator",
            &chart,
            "--namespace",
            OPERATOR_NAMESPACE,
            "--create-namespace",
            "--set",
            "replicas=2",
        ],
    );
    let pods = with_logs(&cp, until_operator_ready(&client, 2).await).await?;
    with_logs(&cp, until_leader_among(&client, &pods).await).await?;
    let ns = TestNamespace::create(&cp, "install-helm").await?;
    with_logs(&cp, assert_webhook_denies(&client, ns.name()).await).await?;
    apply_sample(&client, ns.name()).await?;
    with_logs(&cp, until_running(&client, ns.name(), "bao", 3).await).await?;
    let running_after = started.elapsed();

    let members = Api::<Pod>::namespaced(client.clone(), ns.name());
    let member_uids = |pods: Vec<Pod>| -> BTreeSet<String> {
        pods.iter()
            .filter(|p| p.name_any().starts_with("bao-"))
            .filter_map(|p| p.metadata.uid.clone())
            .collect()
    };
    let before = member_uids(members.list(&ListParams::default()).await?.items);
    ensure!(before.len() == 3, "three members: {before:?}");

    // A changed value rolls the operator, and only the operator.
    helm(
        &cp,
        &[
            "upgrade",
            "openbao-operator",
            &chart,
            "--namespace",
            OPERATOR_NAMESPACE,
            "--reuse-values",
            "--set",
            "logLevel=debug",
        ],
    );
    let rolled = eventually(
        "the upgrade to replace both operator pods",
        SETTLE,
        || async {
            let now = with_logs(&cp, until_operator_ready(&client, 2).await).await?;
            Ok(now.is_disjoint(&pods).then_some(now))
        },
    )
    .await?;
    for pod in operator_pods(&client).await?.values() {
        let env = pod.spec.as_ref().context("spec")?.containers[0]
            .env
            .clone()
            .unwrap_or_default();
        ensure!(
            env.iter()
                .any(|e| e.name == "RUST_LOG" && e.value.as_deref() == Some("debug")),
            "{} runs the upgraded template: {env:?}",
            pod.name_any()
        );
    }
    with_logs(&cp, until_leader_among(&client, &rolled).await).await?;
    with_logs(&cp, until_running(&client, ns.name(), "bao", 3).await).await?;
    let after = member_uids(members.list(&ListParams::default()).await?.items);
    ensure!(
        before == after,
        "the operator's upgrade left the OpenBao pods alone: {before:?} -> {after:?}"
    );

    // Uninstall removes the operator, not what it manages.
    let secrets = Api::<Secret>::namespaced(client.clone(), ns.name());
    let secret_names = || async {
        anyhow::Ok(
            secrets
                .list(&ListParams::default())
                .await?
                .items
                .iter()
                .map(ResourceExt::name_any)
                .collect::<BTreeSet<String>>(),
        )
    };
    let secrets_before = secret_names().await?;
    helm(
        &cp,
        &[
            "uninstall",
            "openbao-operator",
            "--namespace",
            OPERATOR_NAMESPACE,
        ],
    );
    eventually("the operator's Deployment to go", SETTLE, || async {
        Ok(
            Api::<Deployment>::namespaced(client.clone(), OPERATOR_NAMESPACE)
                .get_opt(DEPLOYMENT)
                .await?
                .is_none()
                .then_some(()),
        )
    })
    .await?;
    let cluster = Api::<OpenBaoCluster>::namespaced(client.clone(), ns.name())
        .get_opt("bao")
        .await?;
    ensure!(
        cluster.is_some(),
        "the OpenBaoCluster survives the uninstall"
    );
    let secrets_after = secret_names().await?;
    ensure!(
        secrets_before == secrets_after && !secrets_after.is_empty(),
        "the cluster's Secrets survive the uninstall: {secrets_before:?} -> {secrets_after:?}"
    );
    ensure!(
        members.list(&ListParams::default()).await?.items.len() >= 3,
        "the OpenBao pods keep running"
    );
    println!(
        "install (helm install, 2 replicas, enforcing node): sample Running {:.1} s after the install",
        running_after.as_secs_f64()
    );
    ns.delete().await?;
    cp.stop().await?;
    Ok(())
}
