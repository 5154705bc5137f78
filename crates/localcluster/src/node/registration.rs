//! The node's `Node` object and its heartbeats: a Ready node with a pod CIDR and generous
//! capacity, a Lease in `kube-node-lease` renewed every 10 s, and the Ready condition's
//! heartbeat renewed in the status, as a kubelet does.

use std::{collections::BTreeMap, time::Duration};

use anyhow::{Context, Result};
use k8s_openapi::{
    api::{coordination::v1::Lease, core::v1::Node},
    apimachinery::pkg::apis::meta::v1::{MicroTime, Time},
    jiff::Timestamp,
};
use kube::{
    Api,
    api::{Patch, PatchParams, PostParams},
};
use serde_json::{Value, json};

use crate::wait::eventually;

/// Allocatable CPU (cores) and memory: far more than any test asks for, so the scheduler never
/// refuses a pod for resources.
pub(crate) const ALLOCATABLE_CPU: &str = "64";
pub(crate) const ALLOCATABLE_MEMORY: &str = "256Gi";
const ALLOCATABLE_PODS: &str = "250";
/// How often the Lease and the Ready heartbeat are renewed (the kubelet's lease interval).
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(10);
const LEASE_SECONDS: i32 = 40;
const LEASE_NAMESPACE: &str = "kube-node-lease";

/// Creates (or takes over) the Node object and its Lease, Ready.
pub(crate) async fn register(
    client: &kube::Client,
    name: &str,
    pod_cidr: &str,
    host_ip: &str,
) -> Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": std::env::consts::ARCH.replace("x86_64", "amd64").replace("aarch64", "arm64"),
                "node.localcluster.openbao.org/agent": "true",
            },
        },
        "spec": { "podCIDR": pod_cidr, "podCIDRs": [pod_cidr] },
    }))?;
    match nodes.create(&PostParams::default(), &node).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(e) => return Err(e).context(format!("creating Node {name}")),
    }
    let now = Timestamp::now();
    nodes
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": status(name, host_ip, now, now) })),
        )
        .await
        .with_context(|| format!("writing the status of Node {name}"))?;
    let created = nodes.get(name).await?;
    // The API server's TaintNodesByCondition admission gives every new Node the not-ready
    // taint, and the node-lifecycle controller (not run here: it would evict pods whenever a
    // loaded machine delays a heartbeat) is what removes it once the node is Ready.
    let taints: Vec<_> = created
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t.key != "node.kubernetes.io/not-ready")
        .collect();
    nodes
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "taints": taints } })),
        )
        .await
        .with_context(|| format!("removing the not-ready taint of Node {name}"))?;
    let uid = created.metadata.uid.unwrap_or_default();
    // The API server creates kube-node-lease shortly after it starts.
    let leases: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let lease: Lease = serde_json::from_value(json!({
        "metadata": {
            "name": name,
            "ownerReferences": [{ "apiVersion": "v1", "kind": "Node", "name": name, "uid": uid }],
        },
        "spec": {
            "holderIdentity": name,
            "leaseDurationSeconds": LEASE_SECONDS,
            "renewTime": MicroTime(now),
        },
    }))?;
    eventually("the node Lease", Duration::from_secs(30), || async {
        match leases.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(Some(())),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(Some(())),
            Err(e) => Err(e.into()),
        }
    })
    .await
}

/// Renews the Lease and the Ready heartbeat forever (until the task is dropped).
pub(crate) async fn heartbeat(client: kube::Client, name: String, host_ip: String) {
    let nodes: Api<Node> = Api::all(client.clone());
    let leases: Api<Lease> = Api::namespaced(client, LEASE_NAMESPACE);
    let ready_since = Timestamp::now();
    let mut ticks = tokio::time::interval(HEARTBEAT);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let now = Timestamp::now();
        let renew = json!({ "spec": { "renewTime": MicroTime(now), "holderIdentity": name } });
        if let Err(e) = leases
            .patch(&name, &PatchParams::default(), &Patch::Merge(renew))
            .await
        {
            tracing::debug!("renewing the node Lease: {e}");
        }
        let status = json!({ "status": status(&name, &host_ip, ready_since, now) });
        if let Err(e) = nodes
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(status))
            .await
        {
            tracing::debug!("renewing the node heartbeat: {e}");
        }
    }
}

fn status(name: &str, host_ip: &str, since: Timestamp, now: Timestamp) -> Value {
    let resources = json!({
        "cpu": ALLOCATABLE_CPU,
        "memory": ALLOCATABLE_MEMORY,
        "pods": ALLOCATABLE_PODS,
        "ephemeral-storage": "100Gi",
    });
    let condition = |type_: &str, status: &str, reason: &str, message: &str| {
        json!({
            "type": type_, "status": status, "reason": reason, "message": message,
            "lastHeartbeatTime": Time(now), "lastTransitionTime": Time(since),
        })
    };
    json!({
        "capacity": resources,
        "allocatable": resources,
        "conditions": [
            condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            condition("Ready", "True", "KubeletReady", "localcluster node agent is posting ready status"),
        ],
        "addresses": [
            { "type": "InternalIP", "address": host_ip },
            { "type": "Hostname", "address": name },
        ],
        // Nothing listens there: logs and exec go through `localcluster::Node` instead.
        "daemonEndpoints": { "kubeletEndpoint": { "Port": 10250 } },
        "nodeInfo": node_info(),
    })
}

fn node_info() -> BTreeMap<&'static str, String> {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    };
    let os_image = read("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_owned())
        .unwrap_or_else(|| "Linux".to_owned());
    BTreeMap::from([
        ("machineID", read("/etc/machine-id")),
        ("systemUUID", read("/proc/sys/kernel/random/boot_id")),
        ("bootID", read("/proc/sys/kernel/random/boot_id")),
        ("kernelVersion", read("/proc/sys/kernel/osrelease")),
        ("osImage", os_image),
        (
            "containerRuntimeVersion",
            format!("localcluster://{}", env!("CARGO_PKG_VERSION")),
        ),
        ("kubeletVersion", crate::KUBERNETES_VERSION.to_owned()),
        ("kubeProxyVersion", String::new()),
        ("operatingSystem", "linux".to_owned()),
        (
            "architecture",
            std::env::consts::ARCH
                .replace("x86_64", "amd64")
                .replace("aarch64", "arm64"),
        ),
    ])
}
