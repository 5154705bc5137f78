//! Reachability checks the enforcement tests share: a pod's IP once it runs, and one TCP
//! connection from inside a pod (Kubernetes' agnhost `connect`, run in the pod's container like
//! `kubectl exec`), polled until the firewall gives the wanted answer.

use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;

use crate::{ControlPlane, eventually};

/// The IP of pod `name` once it is `Running` (polls up to `timeout`).
pub async fn running_pod_ip(pods: &Api<Pod>, name: &str, timeout: Duration) -> Result<String> {
    eventually(&format!("pod {name} to run"), timeout, || async {
        let pod = pods.get(name).await?;
        let status = pod.status.unwrap_or_default();
        Ok(match (status.phase.as_deref(), status.pod_ip) {
            (Some("Running"), Some(ip)) => Some(ip),
            _ => None,
        })
    })
    .await
}

/// One TCP connection attempt to `target` (`ip:port`) from inside container `agnhost` of
/// `namespace/pod` (an agnhost image): `Ok(true)` connected, `Ok(false)` refused or timed out,
/// which is how the firewall answers.
pub async fn connects(
    control_plane: &ControlPlane,
    namespace: &str,
    pod: &str,
    target: &str,
) -> Result<bool> {
    let node = control_plane
        .node()
        .context("the control plane runs a node")?;
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
    // Anything but the firewall's two answers (a DNS or usage error) is a broken test.
    if stderr.contains("REFUSED") || stderr.contains("TIMEOUT") {
        return Ok(false);
    }
    bail!("agnhost connect {target} from {namespace}/{pod} failed unexpectedly: {stderr}")
}

/// Polls [`connects`] until the connection succeeds (`want`) or is refused (`!want`).
pub async fn until_connects(
    control_plane: &ControlPlane,
    namespace: &str,
    pod: &str,
    target: &str,
    want: bool,
    timeout: Duration,
) -> Result<()> {
    let what = format!(
        "{namespace}/{pod} -> {target} to be {}",
        if want { "reachable" } else { "refused" }
    );
    eventually(&what, timeout, || async {
        Ok((connects(control_plane, namespace, pod, target).await? == want).then_some(()))
    })
    .await
}
