//! NetworkPolicy enforcement on the node (opt-in): with kube-router's firewall running in the
//! node namespace, a real agnhost pod reaches another until a default-deny ingress policy
//! refuses it, and again once a policy allows it; a pod the allow policy does not select stays
//! refused, and the node's own probes keep passing (kube-router lets the node's traffic in, as
//! it does for a kubelet's). Stopping the control plane stops kube-router and removes its
//! chains with the node namespace. Needs root and `hack/setup.sh --only netstack` (kube-router, agnhost, iptables,
//! ipset); without them the control plane fails to start, naming what to build.

use std::{path::Path, process::Command, time::Duration};

use anyhow::{Context, Result, bail};
use k8s_openapi::api::{core::v1::Pod, networking::v1::NetworkPolicy};
use kube::{Api, api::PostParams};
use localcluster::{ControlPlane, NodeOptions, Options, TestNamespace, eventually, reach};
use serde_json::json;

/// Upper bound for scheduling, starts and policy propagation on a loaded 2-core runner.
const SETTLE: Duration = Duration::from_secs(90);
const AGNHOST: &str = "registry.k8s.io/e2e-test-images/agnhost:2.56";

fn agnhost_pod(name: &str, args: &[&str]) -> Result<Pod> {
    Ok(serde_json::from_value(json!({
        "metadata": { "name": name, "labels": { "app": name } },
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{ "name": "agnhost", "image": AGNHOST, "args": args }],
        },
    }))?)
}

/// The `netexec` server on 8080, with a readiness probe that fails the pod after one missed
/// answer.
fn server_pod() -> Result<Pod> {
    let mut pod = agnhost_pod("server", &["netexec", "--http-port=8080", "--udp-port=-1"])?;
    let container = &mut pod.spec.as_mut().context("spec")?.containers[0];
    container.readiness_probe = Some(serde_json::from_value(json!({
        "tcpSocket": { "port": 8080 },
        "periodSeconds": 1,
        "timeoutSeconds": 1,
        "failureThreshold": 1,
    }))?);
    Ok(pod)
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Checks, every half second for `period`, that the pod stays Ready (a probe blocked by the
/// firewall would turn it unready within about two seconds).
async fn stays_ready(pods: &Api<Pod>, name: &str, period: Duration) -> Result<()> {
    let deadline = tokio::time::Instant::now() + period;
    while tokio::time::Instant::now() < deadline {
        let pod = pods.get(name).await?;
        if !is_ready(&pod) {
            let ready = pod
                .status
                .and_then(|s| s.conditions)
                .into_iter()
                .flatten()
                .find(|c| c.type_ == "Ready");
            bail!(
                "pod {name} turned unready: {:?}",
                ready.map(|c| (c.status, c.reason, c.message))
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}

/// `iptables-save` of a namespace (`None`: the root namespace).
fn iptables_save(netns: Option<&str>) -> Result<String> {
    let output = match netns {
        Some(netns) => Command::new("ip")
            .args(["netns", "exec", netns, "iptables-save"])
            .output()?,
        None => Command::new("iptables-save").output()?,
    };
    if !output.status.success() {
        bail!(
            "iptables-save: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[tokio::test]
async fn a_default_deny_policy_refuses_a_flow_and_an_allow_policy_lets_it_back_in() -> Result<()> {
    let control_plane = ControlPlane::start_with(Options {
        node: true,
        node_options: NodeOptions {
            enforce_network_policy: true,
            ..NodeOptions::default()
        },
        ..Options::default()
    })
    .await?;
    let node = control_plane
        .node()
        .context("the control plane runs a node")?;
    assert!(node.enforces_network_policy());
    let netns = node.netns().to_owned();
    let firewall_pid = node.firewall_pid().context("kube-router runs")?;
    let rules = iptables_save(Some(&netns))?;
    assert!(
        rules.contains("-A FORWARD") && rules.contains("KUBE-ROUTER-FORWARD"),
        "kube-router hooked FORWARD in {netns}:\n{rules}"
    );
    assert!(
        !iptables_save(None)?.contains("KUBE-ROUTER"),
        "nothing is programmed in the root namespace"
    );

    let ns = TestNamespace::create(&control_plane, "enforce").await?;
    let pods: Api<Pod> = ns.api();
    pods.create(&PostParams::default(), &server_pod()?).await?;
    for name in ["client", "other"] {
        pods.create(&PostParams::default(), &agnhost_pod(name, &["pause"])?)
            .await?;
    }
    let server = format!(
        "{}:8080",
        reach::running_pod_ip(&pods, "server", SETTLE).await?
    );
    eventually("pod server to be Ready", SETTLE, || async {
        Ok(is_ready(&pods.get("server").await?).then_some(()))
    })
    .await?;
    reach::running_pod_ip(&pods, "client", SETTLE).await?;
    reach::running_pod_ip(&pods, "other", SETTLE).await?;

    // No policy: everyone reaches the server.
    reach::until_connects(&control_plane, ns.name(), "client", &server, true, SETTLE).await?;
    reach::until_connects(&control_plane, ns.name(), "other", &server, true, SETTLE).await?;

    let policies: Api<NetworkPolicy> = ns.api();
    policies
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": { "name": "default-deny" },
                "spec": { "podSelector": {}, "policyTypes": ["Ingress"] },
            }))?,
        )
        .await?;
    reach::until_connects(&control_plane, ns.name(), "client", &server, false, SETTLE).await?;
    reach::until_connects(&control_plane, ns.name(), "other", &server, false, SETTLE).await?;
    // The node's probes are the node's own traffic, which kube-router lets in.
    stays_ready(&pods, "server", Duration::from_secs(4)).await?;

    policies
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": { "name": "allow-client" },
                "spec": {
                    "podSelector": { "matchLabels": { "app": "server" } },
                    "policyTypes": ["Ingress"],
                    "ingress": [{
                        "from": [{ "podSelector": { "matchLabels": { "app": "client" } } }],
                        "ports": [{ "protocol": "TCP", "port": 8080 }],
                    }],
                },
            }))?,
        )
        .await?;
    reach::until_connects(&control_plane, ns.name(), "client", &server, true, SETTLE).await?;
    // The allow policy is selective: a pod it does not select stays refused (checked several
    // times, since "refused" is also what a slow start would look like once).
    for _ in 0..3 {
        assert!(
            !reach::connects(&control_plane, ns.name(), "other", &server).await?,
            "other reached the server, which only allows client"
        );
    }

    ns.delete().await?;
    drop(node);
    control_plane.stop().await?;
    assert!(
        !Path::new(&format!("/proc/{firewall_pid}")).exists(),
        "kube-router (pid {firewall_pid}) outlived the control plane"
    );
    assert!(
        !Path::new("/run/netns").join(&netns).exists(),
        "the node namespace {netns} (and kube-router's chains in it) outlived the control plane"
    );
    Ok(())
}
