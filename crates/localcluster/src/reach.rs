//! Reachability checks the node tests share: a pod's IP once it runs, one plain HTTP GET from
//! this process, and one TCP connection from inside a pod (Kubernetes' agnhost `connect`, run
//! in the pod's container like `kubectl exec`), polled until the firewall gives the wanted
//! answer.

use std::{net::Ipv4Addr, time::Duration};

use anyhow::{Context as _, Result, bail};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};

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

/// `GET path` over plain HTTP/1.1 from this process (the root namespace, outside the pod
/// network): the status code and the body.
pub async fn http_get(ip: Ipv4Addr, port: u16, path: &str) -> Result<(u16, String)> {
    let mut stream = TcpStream::connect((ip, port)).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {ip}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    let code = answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("not an HTTP answer: {answer:?}"))?;
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((code, body))
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
