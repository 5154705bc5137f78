//! Installing the operator from its image onto a control plane of its own, shared by
//! `tests/install.rs` and `benches/install.rs`: the image `hack/image.sh` builds, a node that
//! holds it in its OCI store (enforcing NetworkPolicies or not), `kubectl apply -k` of an
//! overlay of `deploy/`, `helm`, and the waits on the operator's replicas, its Lease and the
//! sample cluster.
//!
//! Included with `#[path = ".../support/install.rs"] mod install_support;` next to
//! `deploy_support` (support/deploy.rs), which it uses for the pinned kubectl and helm.

#![allow(dead_code)]

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::Command,
    sync::{Mutex, OnceLock},
    time::Duration,
};

use anyhow::{Result, bail};
use api::{OpenBaoCluster, Phase};
use k8s_openapi::api::{apps::v1::Deployment, coordination::v1::Lease, core::v1::Pod};
use kube::{
    Api, Client, ResourceExt,
    api::{ListParams, PostParams},
};
use localcluster::{ControlPlane, ImageSource, NodeOptions, Options, eventually};
use operator::install::names::LEADER_LEASE;

use crate::deploy_support;

/// Pod starts, image unpacking, caches and the webhook on a loaded 2-core runner.
pub const SETTLE: Duration = Duration::from_secs(180);
/// Initialization and unseal of the 3-member sample.
pub const RUNNING: Duration = Duration::from_secs(300);
pub const OPERATOR_NAMESPACE: &str = "openbao-operator-system";
pub const DEPLOYMENT: &str = "openbao-operator";
pub const AGNHOST: &str = "registry.k8s.io/e2e-test-images/agnhost:2.56";

/// An image `hack/image.sh` built (a no-op when its content key is cached): its reference,
/// OCI archive and sizes.
#[derive(Clone, Debug)]
pub struct Image {
    pub reference: String,
    pub archive: PathBuf,
    pub profile: String,
    /// The OCI archive's size (the compressed layer, config and manifest), bytes.
    pub archive_size: u64,
    /// The static binary's size, bytes.
    pub binary_size: u64,
}

/// The image of `profile` (`image-test`: what the tests install; `release`: the published
/// build), built once per process.
pub fn image(profile: &str) -> Image {
    static IMAGES: OnceLock<Mutex<BTreeMap<String, Image>>> = OnceLock::new();
    let mut images = IMAGES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(image) = images.get(profile) {
        return image.clone();
    }
    let output = Command::new("bash")
        .args(["hack/image.sh", "--profile", profile])
        .current_dir(deploy_support::workspace_root())
        .output()
        .expect("run bash hack/image.sh");
    assert!(
        output.status.success(),
        "bash hack/image.sh --profile {profile} failed ({}): installing the operator needs its \
         image:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let env_file = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let env = std::fs::read_to_string(&env_file).unwrap_or_else(|e| panic!("read {env_file}: {e}"));
    let values: BTreeMap<&str, &str> = env.lines().filter_map(|l| l.split_once('=')).collect();
    let value = |key: &str| -> &str {
        values
            .get(key)
            .unwrap_or_else(|| panic!("{key} missing from {env_file}"))
    };
    let image = Image {
        reference: value("OPENBAO_OPERATOR_IMAGE").to_owned(),
        archive: PathBuf::from(value("OPENBAO_OPERATOR_IMAGE_ARCHIVE")),
        profile: profile.to_owned(),
        archive_size: value("OPENBAO_OPERATOR_IMAGE_SIZE")
            .parse()
            .expect("a size"),
        binary_size: value("OPENBAO_OPERATOR_IMAGE_BINARY_SIZE")
            .parse()
            .expect("a size"),
    };
    images.insert(profile.to_owned(), image.clone());
    image
}

/// A control plane of its own whose node holds `image` in its OCI store and enforces
/// NetworkPolicies when `enforce`.
pub async fn control_plane(image: &Image, enforce: bool) -> Result<ControlPlane> {
    ControlPlane::start_with(Options {
        node: true,
        node_options: NodeOptions {
            oci_images: vec![ImageSource {
                reference: Some(image.reference.clone()),
                path: image.archive.clone(),
            }],
            enforce_network_policy: enforce,
            ..NodeOptions::default()
        },
        ..Options::default()
    })
    .await
}

pub fn kubectl(cp: &ControlPlane, args: &[&str]) -> String {
    let kubectl = deploy_support::tool("kubectl", "KUBECTL_BIN");
    let kubeconfig = cp.admin_kubeconfig_path().display().to_string();
    let mut all = vec!["--kubeconfig", kubeconfig.as_str()];
    all.extend_from_slice(args);
    deploy_support::run_tool(&kubectl, &all)
}

pub fn helm(cp: &ControlPlane, args: &[&str]) -> String {
    let helm = deploy_support::tool("helm", "HELM_BIN");
    let kubeconfig = cp.admin_kubeconfig_path().display().to_string();
    let mut all = args.to_vec();
    all.extend_from_slice(&["--kubeconfig", kubeconfig.as_str()]);
    deploy_support::run_tool(&helm, &all)
}

/// The operator's pods, by name.
pub async fn operator_pods(client: &Client) -> Result<BTreeMap<String, Pod>> {
    let pods = Api::<Pod>::namespaced(client.clone(), OPERATOR_NAMESPACE)
        .list(&ListParams::default().labels("app.kubernetes.io/name=openbao-operator"))
        .await?;
    Ok(pods
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| (p.name_any(), p))
        .collect())
}

pub fn ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Waits until the Deployment's current template runs `replicas` ready pods and nothing else;
/// returns their names.
pub async fn until_operator_ready(client: &Client, replicas: usize) -> Result<BTreeSet<String>> {
    let deployments = Api::<Deployment>::namespaced(client.clone(), OPERATOR_NAMESPACE);
    eventually(
        &format!("{replicas} ready operator replicas of the current template"),
        SETTLE,
        || async {
            let deployment = deployments.get(DEPLOYMENT).await?;
            let status = deployment.status.unwrap_or_default();
            let generation = deployment.metadata.generation.unwrap_or_default();
            let pods = operator_pods(client).await?;
            let current = status.observed_generation == Some(generation)
                && status.updated_replicas == Some(replicas as i32)
                && status.ready_replicas == Some(replicas as i32)
                && status.replicas == Some(replicas as i32)
                && pods.len() == replicas
                && pods.values().all(ready);
            Ok(current.then(|| pods.into_keys().collect()))
        },
    )
    .await
}

pub async fn lease_holder(client: &Client) -> Result<Option<String>> {
    Ok(Api::<Lease>::namespaced(client.clone(), OPERATOR_NAMESPACE)
        .get_opt(LEADER_LEASE)
        .await?
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
        .filter(|h| !h.is_empty()))
}

pub async fn until_leader_among(client: &Client, pods: &BTreeSet<String>) -> Result<String> {
    eventually("one operator pod to hold the lease", SETTLE, || async {
        match lease_holder(client).await? {
            Some(holder) if pods.contains(&holder) => Ok(Some(holder)),
            holder => bail!("the lease is held by {holder:?}, not one of {pods:?}"),
        }
    })
    .await
}

/// The last lines of every operator container's log, for a failure message (there is no
/// `kubectl logs` here: the node keeps the logs).
pub async fn operator_logs(cp: &ControlPlane) -> String {
    let (Some(node), Ok(client)) = (cp.node(), cp.client()) else {
        return String::new();
    };
    let mut out = String::new();
    for pod in operator_pods(&client).await.unwrap_or_default().into_keys() {
        let log = node
            .container_log(OPERATOR_NAMESPACE, &pod, "operator")
            .and_then(|path| std::fs::read_to_string(path).ok())
            .unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(25).collect();
        out.push_str(&format!("\n--- {pod} (last lines) ---\n"));
        for line in tail.into_iter().rev() {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// `result`, or its error with the operator pods' logs attached.
pub async fn with_logs<T>(cp: &ControlPlane, result: Result<T>) -> Result<T> {
    match result {
        Ok(value) => Ok(value),
        Err(e) => Err(e.context(operator_logs(cp).await)),
    }
}

/// The sample cluster (examples/minimal.yaml) in `namespace`.
pub async fn apply_sample(client: &Client, namespace: &str) -> Result<()> {
    let sample =
        std::fs::read_to_string(deploy_support::workspace_root().join("examples/minimal.yaml"))?;
    let mut cluster: OpenBaoCluster = serde_yaml::from_str(&sample)?;
    cluster.metadata.namespace = Some(namespace.to_owned());
    Api::<OpenBaoCluster>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &cluster)
        .await?;
    Ok(())
}

/// Waits until cluster `namespace/name` is Running with `members` initialized, unsealed members.
pub async fn until_running(
    client: &Client,
    namespace: &str,
    name: &str,
    members: usize,
) -> Result<OpenBaoCluster> {
    let clusters = Api::<OpenBaoCluster>::namespaced(client.clone(), namespace);
    eventually(
        &format!("{namespace}/{name} to be Running with {members} members"),
        RUNNING,
        || async {
            let cluster = clusters.get(name).await?;
            let running = cluster.status.as_ref().is_some_and(|s| {
                s.phase == Some(Phase::Running)
                    && s.members.len() == members
                    && s.members.iter().all(|m| m.initialized && !m.sealed)
            });
            Ok(running.then_some(cluster))
        },
    )
    .await
}

/// A kustomize overlay of `deploy/` (the user's `kubectl apply -k`), with `replicas`.
pub fn overlay(dir: &Path, replicas: usize) -> Result<PathBuf> {
    let deploy = deploy_support::workspace_root()
        .join("deploy")
        .canonicalize()?;
    let overlay = dir.join("overlay");
    std::fs::create_dir_all(&overlay)?;
    // kustomize loads bases only by relative path from the overlay.
    let relative = pathdiff(&deploy, &overlay);
    std::fs::write(
        overlay.join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- \
             {relative}\nreplicas:\n- name: {DEPLOYMENT}\n  count: {replicas}\n"
        ),
    )?;
    Ok(overlay)
}

/// `kubectl apply --server-side -k` of an overlay of `deploy/` with `replicas`, then waits
/// until they are all ready: their names, and the time from the apply.
pub async fn install_with_kubectl(
    cp: &ControlPlane,
    client: &Client,
    replicas: usize,
) -> Result<(BTreeSet<String>, Duration)> {
    let work = tempfile::tempdir()?;
    let overlay = overlay(work.path(), replicas)?;
    let started = std::time::Instant::now();
    kubectl(
        cp,
        &[
            "apply",
            "--server-side",
            "-k",
            &overlay.display().to_string(),
        ],
    );
    let pods = with_logs(cp, until_operator_ready(client, replicas).await).await?;
    Ok((pods, started.elapsed()))
}

/// `to` relative to directory `from` (both absolute).
pub fn pathdiff(to: &Path, from: &Path) -> String {
    let to: Vec<_> = to.components().collect();
    let from: Vec<_> = from.components().collect();
    let common = to.iter().zip(&from).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_owned(); from.len() - common];
    parts.extend(
        to[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}
