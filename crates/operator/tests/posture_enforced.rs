//! The live posture audit against the enforcing node (kube-router's firewall enforcing every
//! NetworkPolicy): a flow the audit reports as opened by a foreign `allow-all` is indeed
//! reachable from a real agnhost pod in another namespace, and is refused again, with the
//! audit back to `PostureVerified=True`, once the policy goes. Its own control plane (enforcing
//! node); the operator runs in the test process, outside the pod network, so the cluster
//! never initializes here: the audit and the server's listener do not need it to.

mod support;

use std::time::Duration;

use anyhow::{Context, Result, bail};
use api::conditions::{reasons, types};
use k8s_openapi::api::{core::v1::Pod, networking::v1::NetworkPolicy};
use kube::{
    Api,
    api::{DeleteParams, PostParams},
};
use localcluster::{ControlPlane, NodeOptions, Options, TestNamespace, eventually};
use support::{cluster, create, until_condition};

/// Scheduling, starts and policy propagation on a loaded 2-core runner.
const SETTLE: Duration = Duration::from_secs(120);
const AGNHOST: &str = "registry.k8s.io/e2e-test-images/agnhost:2.56";

async fn env() -> &'static ControlPlane {
    support::env_with(Options {
        node: true,
        node_options: NodeOptions {
            enforce_network_policy: true,
            ..NodeOptions::default()
        },
        ..Options::default()
    })
    .await
}

async fn running_ip(pods: &Api<Pod>, name: &str) -> Result<String> {
    eventually(&format!("pod {name} to run"), SETTLE, || async {
        let pod = pods.get(name).await?;
        let status = pod.status.unwrap_or_default();
        Ok(match (status.phase.as_deref(), status.pod_ip) {
            (Some("Running"), Some(ip)) => Some(ip),
            _ => None,
        })
    })
    .await
}

/// One TCP connection from inside `pod` (agnhost `connect`, run in its container): `Ok(true)`
/// connected, `Ok(false)` refused or timed out by the firewall.
async fn connects(cp: &ControlPlane, namespace: &str, pod: &str, target: &str) -> Result<bool> {
    let node = cp.node().context("the control plane runs a node")?;
    let output = node
        .exec(
            namespace,
            pod,
            "agnhost",
            &["agnhost", "connect", target, "--timeout=1s"],
        )
        .await?;
    if output.status.success() {
        return Ok(true);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("REFUSED") || stderr.contains("TIMEOUT") {
        return Ok(false);
    }
    bail!("agnhost connect {target} from {pod} failed unexpectedly: {stderr}")
}

async fn until_connects(
    cp: &ControlPlane,
    namespace: &str,
    pod: &str,
    target: &str,
    want: bool,
) -> Result<()> {
    let what = format!(
        "{namespace}/{pod} -> {target} to be {}",
        if want { "reachable" } else { "refused" }
    );
    eventually(&what, SETTLE, || async {
        Ok((connects(cp, namespace, pod, target).await? == want).then_some(()))
    })
    .await
}

#[tokio::test]
async fn a_flow_the_audit_reports_as_opened_is_reachable_on_the_enforcing_node_and_closes_with_the_policy()
-> Result<()> {
    let cp = env().await;
    assert!(
        cp.node()
            .context("the control plane runs a node")?
            .enforces_network_policy(),
        "the node enforces NetworkPolicies"
    );
    let ns = TestNamespace::create(cp, "audit-enforced").await?;
    let outside = TestNamespace::create(cp, "audit-outside").await?;
    let client = cp.client()?;
    let n = ns.name();
    create(
        &client,
        &cluster("bao", n, "version: \"2.7.2\"\nreplicas: 1"),
    )
    .await;

    let members: Api<Pod> = ns.api();
    let member = format!("{}:8200", running_ip(&members, "bao-0").await?);
    let probes: Api<Pod> = outside.api();
    probes
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({
                "metadata": {"name": "client", "labels": {"app": "client"}},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "agnhost", "image": AGNHOST, "args": ["pause"]}],
                },
            }))?,
        )
        .await?;
    running_ip(&probes, "client").await?;

    // The posture holds, and the firewall agrees: a pod elsewhere cannot reach 8200.
    until_condition(&client, n, "bao", types::POSTURE_VERIFIED, "True").await;
    until_connects(cp, outside.name(), "client", &member, false).await?;

    // A foreign allow-all opens it: the audit says so, and the flow goes through.
    let policies: Api<NetworkPolicy> = ns.api();
    policies
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({
                "metadata": {"name": "allow-all"},
                "spec": {"podSelector": {}, "ingress": [{}], "policyTypes": ["Ingress"]},
            }))?,
        )
        .await?;
    let widened = until_condition(&client, n, "bao", types::POSTURE_VERIFIED, "False").await;
    let condition = widened
        .status
        .as_ref()
        .and_then(|s| {
            s.conditions
                .iter()
                .find(|c| c.type_ == types::POSTURE_VERIFIED)
        })
        .context("PostureVerified")?;
    assert_eq!(condition.reason, reasons::POSTURE_WIDENED);
    assert!(
        condition.message.contains("allow-all"),
        "{}",
        condition.message
    );
    // The flow it reports for a pod in an unrelated namespace (the proof's `posture-elsewhere`
    // stands for every such namespace, `outside` among them), with the deciding policy.
    let proof = std::process::Command::new(env!("CARGO_BIN_EXE_openbao-operator"))
        .args([
            "netpol",
            "verify",
            "--live",
            "--cluster",
            &format!("{n}/bao"),
        ])
        .args(["--operator-namespace", support::OPERATOR_NS])
        .env("KUBECONFIG", cp.admin_kubeconfig_path())
        .output()?;
    let printed = String::from_utf8_lossy(&proof.stdout);
    assert_eq!(proof.status.code(), Some(1), "{printed}");
    assert!(
        printed.contains(&format!(
            "violation: posture-elsewhere/client -> {n}/bao-0 8200/TCP: open (decided by allow-all)"
        )),
        "{printed}"
    );
    until_connects(cp, outside.name(), "client", &member, true).await?;

    // The policy goes: the proof holds again and the firewall refuses the flow again.
    policies
        .delete("allow-all", &DeleteParams::default())
        .await?;
    until_condition(&client, n, "bao", types::POSTURE_VERIFIED, "True").await;
    until_connects(cp, outside.name(), "client", &member, false).await?;

    outside.delete().await?;
    ns.delete().await?;
    Ok(())
}
