//! The node agent makes the shared control plane a working cluster: the real scheduler binds
//! pods to it, and they run as real `bao` processes in their own network namespaces, with
//! volumes, probes, names, restarts and deletion as in a real cluster. Needs root.

use std::{collections::BTreeMap, net::Ipv4Addr, path::Path, time::Duration};

use anyhow::{Context, Result, bail};
use k8s_openapi::api::{
    apps::v1::StatefulSet,
    authentication::v1::TokenReview,
    core::v1::{ConfigMap, PersistentVolume, PersistentVolumeClaim, Pod, Secret, Service},
    rbac::v1::{Role, RoleBinding},
};
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, PostParams},
};
use localcluster::{ControlPlane, Node, Options, TestNamespace, eventually, reach, shared_with};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Upper bound for anything asynchronous: scheduling, starts, probes, controllers.
const SETTLE: Duration = Duration::from_secs(90);
const IMAGE: &str = "quay.io/openbao/openbao:2.7.2";

async fn cluster() -> Result<(&'static ControlPlane, Node)> {
    let control_plane = shared_with(Options {
        node: true,
        ..Options::default()
    })
    .await?;
    let node = control_plane
        .node()
        .context("the control plane runs a node")?;
    Ok((control_plane, node))
}

fn from_json<K: DeserializeOwned>(value: Value) -> K {
    serde_json::from_value(value).expect("test fixture matches the Kubernetes type")
}

/// A pod running `bao server -dev` on 0.0.0.0:8200, Ready through /v1/sys/health.
fn dev_server(name: &str, extra: Value) -> Pod {
    let mut pod = json!({
        "metadata": { "name": name, "labels": { "app": name } },
        "spec": {
            "terminationGracePeriodSeconds": 5,
            "containers": [{
                "name": "bao",
                "image": IMAGE,
                "args": ["server", "-dev", "-dev-listen-address=0.0.0.0:8200",
                         "-dev-root-token-id=root", "-dev-no-store-token"],
                "ports": [{ "name": "api", "containerPort": 8200 }],
                "readinessProbe": {
                    "httpGet": { "path": "/v1/sys/health", "port": "api", "scheme": "HTTP" },
                    "periodSeconds": 1,
                },
            }],
        },
    });
    merge(&mut pod, extra);
    from_json(pod)
}

/// JSON merge (objects merged key by key, anything else replaced).
fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            for (key, value) in patch {
                merge(base.entry(key).or_insert(Value::Null), value);
            }
        }
        (base, patch) => *base = patch,
    }
}

fn condition(pod: &Pod, type_: &str) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == type_ && c.status == "True"))
}

async fn wait_ready(pods: &Api<Pod>, name: &str) -> Result<Pod> {
    eventually(&format!("pod {name} to be Ready"), SETTLE, || async {
        let pod = pods.get(name).await?;
        let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
        Ok((running && condition(&pod, "Ready")).then_some(pod))
    })
    .await
}

fn pod_ip(pod: &Pod) -> Result<Ipv4Addr> {
    Ok(pod
        .status
        .as_ref()
        .and_then(|s| s.pod_ip.as_deref())
        .context("the pod has an IP")?
        .parse()?)
}

fn in_cidr(ip: Ipv4Addr, cidr: &str) -> bool {
    let Some((net, _)) = cidr.split_once('/') else {
        return false;
    };
    let Ok(net) = net.parse::<Ipv4Addr>() else {
        return false;
    };
    ip.octets()[..3] == net.octets()[..3]
}

/// The pod's log on the node, for failure messages.
fn log_of(node: &Node, ns: &str, pod: &str, container: &str) -> String {
    node.container_log(ns, pod, container)
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_else(|| "(no log)".to_owned())
}

#[tokio::test]
async fn a_dev_server_pod_gets_an_ip_becomes_ready_and_is_reachable_from_the_root_namespace()
-> Result<()> {
    let (control_plane, node) = cluster().await?;
    let ns = TestNamespace::create(control_plane, "node-dev-server").await?;
    let pods: Api<Pod> = ns.api();
    pods.create(&PostParams::default(), &dev_server("dev", json!({})))
        .await?;
    let pod = wait_ready(&pods, "dev").await?;
    let status = pod.status.clone().unwrap_or_default();
    assert_eq!(
        pod.spec.as_ref().and_then(|s| s.node_name.as_deref()),
        Some(node.name())
    );
    let ip = pod_ip(&pod)?;
    assert!(in_cidr(ip, &node.pod_cidr()), "{ip} in {}", node.pod_cidr());
    assert_eq!(
        status.host_ip.as_deref(),
        Some(node.host_ip().to_string().as_str())
    );
    for type_ in ["PodScheduled", "Initialized", "ContainersReady", "Ready"] {
        assert!(condition(&pod, type_), "{type_} in {:?}", status.conditions);
    }
    let container = &status.container_statuses.unwrap_or_default()[0];
    assert!(
        container.ready && container.started == Some(true),
        "{container:?}"
    );
    assert!(
        container
            .state
            .as_ref()
            .and_then(|s| s.running.as_ref())
            .is_some()
    );

    // The route to the pod CIDR goes through the node namespace: a plain connect works.
    let (code, _) = reach::http_get(ip, 8200, "/v1/sys/health").await?;
    assert_eq!(code, 200, "{}", log_of(&node, ns.name(), "dev", "bao"));
    ns.delete().await
}

#[tokio::test]
async fn a_pod_reaches_another_by_its_hostname_under_a_headless_service() -> Result<()> {
    let (control_plane, node) = cluster().await?;
    let ns = TestNamespace::create(control_plane, "node-dns").await?;
    let pods: Api<Pod> = ns.api();
    let service: Service = from_json(json!({
        "metadata": { "name": "bao-internal" },
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": true,
            "selector": { "app": "server" },
            "ports": [{ "name": "api", "port": 8200 }],
        },
    }));
    ns.api::<Service>()
        .create(&PostParams::default(), &service)
        .await?;
    let server = dev_server(
        "server",
        json!({ "spec": { "hostname": "server", "subdomain": "bao-internal" } }),
    );
    pods.create(&PostParams::default(), &server).await?;
    wait_ready(&pods, "server").await?;

    let address = format!("http://server.bao-internal.{}.svc:8200", ns.name());
    let client: Pod = from_json(json!({
        "metadata": { "name": "client" },
        "spec": {
            "restartPolicy": "Never",
            "containers": [{
                "name": "status",
                "image": "openbao/openbao",
                "command": ["bao", "status", "-address=$(TARGET)"],
                "env": [{ "name": "TARGET", "value": address }],
            }],
        },
    }));
    pods.create(&PostParams::default(), &client).await?;
    let done = eventually("pod client to finish", SETTLE, || async {
        let pod = pods.get("client").await?;
        let phase = pod.status.as_ref().and_then(|s| s.phase.clone());
        Ok(matches!(phase.as_deref(), Some("Succeeded" | "Failed")).then_some(pod))
    })
    .await?;
    let phase = done.status.as_ref().and_then(|s| s.phase.clone());
    let log = log_of(&node, ns.name(), "client", "status");
    assert_eq!(
        phase.as_deref(),
        Some("Succeeded"),
        "bao status said:\n{log}"
    );
    assert!(log.contains("Sealed") && log.contains("false"), "{log}");
    let terminated = done
        .status
        .and_then(|s| s.container_statuses)
        .and_then(|c| c.into_iter().next())
        .and_then(|c| c.state)
        .and_then(|s| s.terminated)
        .context("the client container terminated")?;
    assert_eq!(
        (terminated.exit_code, terminated.reason.as_deref()),
        (0, Some("Completed"))
    );
    ns.delete().await
}

#[tokio::test]
async fn configmap_secret_and_service_account_token_volumes_appear_at_their_mount_paths()
-> Result<()> {
    let (control_plane, node) = cluster().await?;
    let ns = TestNamespace::create(control_plane, "node-volumes").await?;
    let pods: Api<Pod> = ns.api();
    // OpenBao's Kubernetes service registration labels its own pod through the API server:
    // proof that the API proxy, the token, ca.crt and the service variables all work.
    let config = "service_registration \"kubernetes\" {}\n";
    ns.api::<ConfigMap>()
        .create(
            &PostParams::default(),
            &from_json(json!({
                "metadata": { "name": "bao-config" },
                "data": { "extra.hcl": config },
            })),
        )
        .await?;
    ns.api::<Secret>()
        .create(
            &PostParams::default(),
            &from_json(json!({
                "metadata": { "name": "bao-tls" },
                "stringData": { "tls.key": "not really a key", "unused": "x" },
            })),
        )
        .await?;
    ns.api::<Role>()
        .create(
            &PostParams::default(),
            &from_json(json!({
                "metadata": { "name": "service-registration" },
                "rules": [{ "apiGroups": [""], "resources": ["pods"],
                            "verbs": ["get", "update", "patch"] }],
            })),
        )
        .await?;
    ns.api::<RoleBinding>()
        .create(
            &PostParams::default(),
            &from_json(json!({
                "metadata": { "name": "service-registration" },
                "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                             "name": "service-registration" },
                "subjects": [{ "kind": "ServiceAccount", "name": "default",
                               "namespace": ns.name() }],
            })),
        )
        .await?;
    let pod = dev_server(
        "registered",
        json!({ "spec": {
            "securityContext": { "runAsUser": 100, "runAsGroup": 1000, "fsGroup": 1000 },
            "containers": [{
                "name": "bao",
                "image": IMAGE,
                "args": ["server", "-dev", "-dev-listen-address=0.0.0.0:8200",
                         "-dev-root-token-id=root", "-dev-no-store-token",
                         "-config=/etc/bao/config/extra.hcl"],
                "env": [
                    { "name": "BAO_K8S_POD_NAME",
                      "valueFrom": { "fieldRef": { "fieldPath": "metadata.name" } } },
                    { "name": "BAO_K8S_NAMESPACE",
                      "valueFrom": { "fieldRef": { "fieldPath": "metadata.namespace" } } },
                    { "name": "HOME", "value": "/tmp" },
                ],
                "volumeMounts": [
                    { "name": "config", "mountPath": "/etc/bao/config", "readOnly": true },
                    { "name": "tls", "mountPath": "/etc/bao/tls", "readOnly": true },
                    { "name": "tls-all", "mountPath": "/etc/bao/tls-all", "readOnly": true },
                ],
                "readinessProbe": {
                    "httpGet": { "path": "/v1/sys/health", "port": 8200 },
                    "periodSeconds": 1,
                },
            }],
            "volumes": [
                { "name": "config", "configMap": { "name": "bao-config" } },
                { "name": "tls", "secret": { "secretName": "bao-tls",
                  "items": [{ "key": "tls.key", "path": "tls.key", "mode": 0o400 }] } },
                { "name": "tls-all", "secret": { "secretName": "bao-tls" } },
            ],
        }}),
    );
    pods.create(&PostParams::default(), &pod).await?;
    wait_ready(&pods, "registered").await?;
    let labelled = eventually("service registration labels on the pod", SETTLE, || async {
        let pod = pods.get("registered").await?;
        // Dev mode's in-memory storage is not HA, so `openbao-active` stays false; these two
        // flip once the server is up and unsealed.
        let label = |key: &str| pod.labels().get(key).cloned();
        let done = label("openbao-initialized").as_deref() == Some("true")
            && label("openbao-sealed").as_deref() == Some("false");
        Ok(done.then_some(pod))
    })
    .await
    .with_context(|| log_of(&node, ns.name(), "registered", "bao"))?;
    assert_eq!(
        labelled.labels().get("openbao-version").map(String::as_str),
        Some(localcluster::OPENBAO_VERSION)
    );

    let cat = |path: &'static str| {
        let node = node.clone();
        let ns = ns.name().to_owned();
        async move {
            let output = node.exec(&ns, "registered", "bao", &["cat", path]).await?;
            if !output.status.success() {
                bail!("cat {path}: {}", String::from_utf8_lossy(&output.stderr));
            }
            anyhow::Ok(String::from_utf8(output.stdout)?)
        }
    };
    assert_eq!(cat("/etc/bao/config/extra.hcl").await?, config);
    assert_eq!(cat("/etc/bao/tls/tls.key").await?, "not really a key");
    let listing = node
        .exec(ns.name(), "registered", "bao", &["ls", "/etc/bao/tls"])
        .await?;
    assert_eq!(
        String::from_utf8(listing.stdout)?,
        "tls.key\n",
        "only the listed item"
    );
    // 0400 plus the group-read bit fsGroup adds, so uid 100 (group 1000) reads it.
    let mode = node
        .exec(
            ns.name(),
            "registered",
            "bao",
            &["stat", "-L", "-c", "%a %g", "/etc/bao/tls/tls.key"],
        )
        .await?;
    assert_eq!(String::from_utf8(mode.stdout)?.trim(), "440 1000");
    // Secret keys and the token at the default mode are owner-only for the pod's user and
    // group-readable for its fsGroup (the node's deliberate deviation from Kubernetes' 0644),
    // although the API server filled in the 0644 default, as it does for every pod.
    let stored = pods.get("registered").await?;
    let default_mode = stored
        .spec
        .and_then(|s| s.volumes)
        .and_then(|v| v.into_iter().find(|v| v.name == "tls-all"))
        .and_then(|v| v.secret)
        .and_then(|s| s.default_mode);
    assert_eq!(default_mode, Some(0o644), "the API server's default");
    for path in [
        "/etc/bao/tls-all/tls.key",
        "/var/run/secrets/kubernetes.io/serviceaccount/token",
    ] {
        let mode = node
            .exec(
                ns.name(),
                "registered",
                "bao",
                &["stat", "-L", "-c", "%a %u %g", path],
            )
            .await?;
        assert_eq!(
            String::from_utf8(mode.stdout)?.trim(),
            "640 100 1000",
            "{path}"
        );
    }
    let whoami = node
        .exec(ns.name(), "registered", "bao", &["id", "-u"])
        .await?;
    assert_eq!(String::from_utf8(whoami.stdout)?.trim(), "100");

    let account = "/var/run/secrets/kubernetes.io/serviceaccount";
    let token = cat("/var/run/secrets/kubernetes.io/serviceaccount/token").await?;
    assert!(
        !token.ends_with('\n') && token.split('.').count() == 3,
        "{token:?}"
    );
    assert_eq!(
        cat("/var/run/secrets/kubernetes.io/serviceaccount/namespace").await?,
        ns.name()
    );
    assert_eq!(
        cat("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt").await?,
        control_plane.ca_pem(),
        "{account}/ca.crt is the cluster CA"
    );
    let review: TokenReview = from_json(json!({ "spec": { "token": token } }));
    let review = Api::<TokenReview>::all(control_plane.client()?)
        .create(&PostParams::default(), &review)
        .await?;
    let status = review.status.context("a TokenReview status")?;
    assert_eq!(status.authenticated, Some(true), "{status:?}");
    let user = status.user.context("an authenticated user")?;
    assert_eq!(
        user.username.as_deref(),
        Some(format!("system:serviceaccount:{}:default", ns.name()).as_str())
    );
    let bound_pod = user
        .extra
        .unwrap_or_default()
        .get("authentication.kubernetes.io/pod-name")
        .cloned()
        .unwrap_or_default();
    assert_eq!(bound_pod, ["registered"], "the token is bound to its pod");
    ns.delete().await
}

#[tokio::test]
async fn deleting_a_pod_stops_its_process_and_removes_its_network_namespace() -> Result<()> {
    let (control_plane, node) = cluster().await?;
    let ns = TestNamespace::create(control_plane, "node-delete").await?;
    let pods: Api<Pod> = ns.api();
    pods.create(&PostParams::default(), &dev_server("doomed", json!({})))
        .await?;
    wait_ready(&pods, "doomed").await?;
    let pid = node
        .container_pid(ns.name(), "doomed", "bao")
        .context("the container runs")?;
    let netns = node
        .pod_netns(ns.name(), "doomed")
        .context("the pod has a network namespace")?;
    let netns_file = Path::new("/run/netns").join(&netns);
    assert!(netns_file.exists());
    assert!(Path::new(&format!("/proc/{pid}")).exists());

    pods.delete("doomed", &DeleteParams::default()).await?;
    eventually("pod doomed to be deleted by the node", SETTLE, || async {
        Ok(pods.get_opt("doomed").await?.is_none().then_some(()))
    })
    .await?;
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} still exists"
    );
    assert!(
        !netns_file.exists(),
        "{} still exists",
        netns_file.display()
    );
    assert_eq!(node.container_pid(ns.name(), "doomed", "bao"), None);
    ns.delete().await
}

#[tokio::test]
async fn a_statefulset_pod_recreated_after_deletion_finds_its_claims_data() -> Result<()> {
    let (control_plane, node) = cluster().await?;
    let ns = TestNamespace::create(control_plane, "node-statefulset").await?;
    // Each start leaves a line in the claim, then runs a Raft-backed server on it.
    let script = concat!(
        "echo \"$(cat /etc/hostname) started\" >> /openbao/data/starts && ",
        "printf '%s\\n' 'storage \"raft\" {' ' path = \"/openbao/data\"' ' node_id = \"n\"' '}' ",
        "'api_addr = \"http://127.0.0.1:8200\"' 'cluster_addr = \"http://127.0.0.1:8201\"' ",
        "'listener \"tcp\" {' ' address = \"0.0.0.0:8200\"' ' tls_disable = true' '}' > /tmp/c.hcl && ",
        "exec bao server -config=/tmp/c.hcl",
    );
    let statefulset: StatefulSet = from_json(json!({
        "metadata": { "name": "data" },
        "spec": {
            "replicas": 1,
            "serviceName": "data",
            "selector": { "matchLabels": { "app": "data" } },
            "template": {
                "metadata": { "labels": { "app": "data" } },
                "spec": {
                    "terminationGracePeriodSeconds": 5,
                    "securityContext": { "runAsUser": 100, "runAsGroup": 1000, "fsGroup": 1000,
                                         "runAsNonRoot": true },
                    "containers": [{
                        "name": "bao",
                        "image": IMAGE,
                        "command": ["/bin/sh", "-c", script],
                        "volumeMounts": [{ "name": "data", "mountPath": "/openbao/data" }],
                    }],
                },
            },
            "volumeClaimTemplates": [{
                "metadata": { "name": "data" },
                "spec": { "accessModes": ["ReadWriteOnce"],
                          "resources": { "requests": { "storage": "1Gi" } } },
            }],
        },
    }));
    ns.api::<StatefulSet>()
        .create(&PostParams::default(), &statefulset)
        .await?;
    let pods: Api<Pod> = ns.api();
    let first = wait_ready(&pods, "data-0").await?;
    let claim = ns
        .api::<k8s_openapi::api::core::v1::PersistentVolumeClaim>()
        .get("data-data-0")
        .await?;
    assert_eq!(
        claim.status.and_then(|s| s.phase).as_deref(),
        Some("Bound"),
        "the claim is bound to a provisioned volume"
    );
    let starts = |node: Node, ns: String| async move {
        let output = node
            .exec(&ns, "data-0", "bao", &["cat", "/openbao/data/starts"])
            .await?;
        anyhow::Ok(String::from_utf8(output.stdout)?)
    };
    // Raft's own files land in the claim too.
    eventually("Raft files in the claim", SETTLE, || async {
        let files = node
            .exec(ns.name(), "data-0", "bao", &["ls", "/openbao/data"])
            .await?;
        let files = String::from_utf8(files.stdout)?;
        Ok((files.contains("raft") && files.contains("vault.db")).then_some(()))
    })
    .await
    .with_context(|| log_of(&node, ns.name(), "data-0", "bao"))?;
    assert_eq!(
        starts(node.clone(), ns.name().to_owned()).await?,
        "data-0 started\n"
    );

    pods.delete("data-0", &DeleteParams::default()).await?;
    let first_uid = first.uid();
    eventually("a new pod data-0 to be Ready", SETTLE, || async {
        let pod = pods.get_opt("data-0").await?;
        Ok(pod
            .filter(|p| p.uid() != first_uid && condition(p, "Ready"))
            .map(|_| ()))
    })
    .await?;
    let seen = eventually("the recreated pod to run", SETTLE, || {
        let (node, ns) = (node.clone(), ns.name().to_owned());
        async move {
            Ok(starts(node, ns)
                .await
                .ok()
                .filter(|s| s.lines().count() == 2))
        }
    })
    .await?;
    assert_eq!(seen, "data-0 started\ndata-0 started\n");
    ns.delete().await
}

/// The `message` of a pod's status once it contains `wanted`.
async fn status_message(pods: &Api<Pod>, name: &str, wanted: &str) -> Result<String> {
    eventually(
        &format!("pod {name} to report {wanted:?}"),
        SETTLE,
        || async {
            let message = pods
                .get(name)
                .await?
                .status
                .and_then(|s| s.message)
                .unwrap_or_default();
            Ok(message.contains(wanted).then_some(message))
        },
    )
    .await
}

#[tokio::test]
async fn host_paths_and_volumes_outside_the_nodes_directory_leave_the_pod_waiting_untouched()
-> Result<()> {
    let (control_plane, _node) = cluster().await?;
    let ns = TestNamespace::create(control_plane, "node-confine").await?;
    let pods: Api<Pod> = ns.api();
    // Outside the run directory, as any host path a pod could name.
    let host = tempfile::tempdir()?;
    let waiting = |name: &str, volume: Value| -> Pod {
        from_json(json!({
            "metadata": { "name": name },
            "spec": {
                "containers": [{ "name": "bao", "image": IMAGE,
                                 "volumeMounts": [{ "name": "v", "mountPath": "/v" }] }],
                "volumes": [volume],
            },
        }))
    };
    let made = host.path().join("made");
    pods.create(
        &PostParams::default(),
        &waiting(
            "host-path",
            json!({ "name": "v", "hostPath": { "path": made, "type": "DirectoryOrCreate" } }),
        ),
    )
    .await?;
    let message = status_message(&pods, "host-path", "is refused").await?;
    assert!(
        message.contains(&format!("hostPath {:?}", made.display().to_string()))
            && message.contains("only paths inside")
            && message.contains("/node"),
        "{message}"
    );

    // A claim pre-bound to a volume an administrator pointed outside (the node's provisioner
    // skips claims that name their volume).
    let volume_name = format!("{}-outside", ns.name());
    let pv_path = host.path().join("pv");
    let volumes: Api<PersistentVolume> = Api::all(control_plane.client()?);
    volumes
        .create(
            &PostParams::default(),
            &from_json(json!({
                "metadata": { "name": volume_name },
                "spec": {
                    "capacity": { "storage": "1Gi" },
                    "accessModes": ["ReadWriteOnce"],
                    "hostPath": { "path": pv_path },
                    "claimRef": { "namespace": ns.name(), "name": "outside" },
                },
            })),
        )
        .await?;
    ns.api::<PersistentVolumeClaim>()
        .create(
            &PostParams::default(),
            &from_json(json!({
                "metadata": { "name": "outside" },
                "spec": { "accessModes": ["ReadWriteOnce"], "volumeName": volume_name,
                          "resources": { "requests": { "storage": "1Gi" } } },
            })),
        )
        .await?;
    pods.create(
        &PostParams::default(),
        &waiting(
            "claim",
            json!({ "name": "v", "persistentVolumeClaim": { "claimName": "outside" } }),
        ),
    )
    .await?;
    let message = status_message(&pods, "claim", "has path").await?;
    assert!(
        message.contains(&format!("persistentvolume {volume_name} has path"))
            && message.contains("outside"),
        "{message}"
    );

    for name in ["host-path", "claim"] {
        let phase = pods.get(name).await?.status.and_then(|s| s.phase);
        assert_eq!(phase.as_deref(), Some("Pending"), "{name}");
    }
    assert!(
        !made.exists() && !pv_path.exists(),
        "nothing created outside"
    );
    ns.delete().await?;
    volumes
        .delete(&volume_name, &DeleteParams::default())
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_released_claims_directory_is_deleted_and_a_directory_that_is_not_its_claims_is_kept()
-> Result<()> {
    let (control_plane, node) = cluster().await?;
    let ns = TestNamespace::create(control_plane, "node-reclaim").await?;
    let volumes: Api<PersistentVolume> = Api::all(control_plane.client()?);
    let claims: Api<PersistentVolumeClaim> = ns.api();

    // The node's own claim directory goes with its released volume.
    claims
        .create(
            &PostParams::default(),
            &from_json(json!({
                "metadata": { "name": "scratch" },
                "spec": { "accessModes": ["ReadWriteOnce"],
                          "resources": { "requests": { "storage": "1Gi" } } },
            })),
        )
        .await?;
    let provisioned = eventually("the claim to be bound", SETTLE, || async {
        let claim = claims.get("scratch").await?;
        let bound = claim.status.and_then(|s| s.phase).as_deref() == Some("Bound");
        Ok(claim.spec.and_then(|s| s.volume_name).filter(|_| bound))
    })
    .await?;
    let claim_dir = volumes
        .get(&provisioned)
        .await?
        .annotations()
        .get("localcluster.openbao.org/path")
        .cloned()
        .context("the provisioned volume names its directory")?;
    assert!(Path::new(&claim_dir).is_dir(), "{claim_dir}");

    // A volume labelled as the node's, released, whose path annotation names a directory
    // outside (anyone who may write PersistentVolumes could write that).
    let victim = tempfile::tempdir()?;
    std::fs::write(victim.path().join("keep"), "precious")?;
    let forged = format!("{}-forged", ns.name());
    volumes
        .create(
            &PostParams::default(),
            &from_json(json!({
                "metadata": {
                    "name": forged,
                    "labels": { "localcluster.openbao.org/provisioned-by": node.name() },
                    "annotations": { "localcluster.openbao.org/path": victim.path() },
                },
                "spec": {
                    "capacity": { "storage": "1Gi" },
                    "accessModes": ["ReadWriteOnce"],
                    "hostPath": { "path": victim.path() },
                    "persistentVolumeReclaimPolicy": "Retain",
                    // A claim that never existed: the binder marks the volume Released.
                    "claimRef": { "namespace": ns.name(), "name": "never-existed",
                                  "uid": "00000000-0000-0000-0000-000000000001" },
                },
            })),
        )
        .await?;
    claims.delete("scratch", &DeleteParams::default()).await?;
    for name in [provisioned.as_str(), forged.as_str()] {
        eventually(
            &format!("released volume {name} to be deleted"),
            SETTLE,
            || async { Ok(volumes.get_opt(name).await?.is_none().then_some(())) },
        )
        .await?;
    }
    eventually("the claim directory to be removed", SETTLE, || async {
        Ok((!Path::new(&claim_dir).exists()).then_some(()))
    })
    .await?;
    let keep = victim.path().join("keep");
    assert!(
        keep.exists(),
        "{} was deleted with the forged volume",
        keep.display()
    );
    assert_eq!(std::fs::read_to_string(&keep)?, "precious");
    ns.delete().await
}

#[tokio::test]
async fn an_unsupported_image_leaves_the_pod_pending_with_a_message_naming_what_runs() -> Result<()>
{
    let (control_plane, _node) = cluster().await?;
    let ns = TestNamespace::create(control_plane, "node-image").await?;
    let pods: Api<Pod> = ns.api();
    let pod: Pod = from_json(json!({
        "metadata": { "name": "web" },
        "spec": { "containers": [{ "name": "nginx", "image": "nginx:1.27" }] },
    }));
    pods.create(&PostParams::default(), &pod).await?;
    let (reason, message) = eventually("the image pull to fail", SETTLE, || async {
        let pod = pods.get("web").await?;
        let waiting = pod
            .status
            .and_then(|s| s.container_statuses)
            .and_then(|c| c.into_iter().next())
            .and_then(|c| c.state)
            .and_then(|s| s.waiting);
        Ok(waiting
            .filter(|w| w.reason.as_deref() == Some("ErrImagePull"))
            .map(|w| (w.reason, w.message.unwrap_or_default())))
    })
    .await?;
    assert_eq!(reason.as_deref(), Some("ErrImagePull"));
    assert!(message.contains("\"nginx:1.27\""), "{message}");
    assert!(message.contains("openbao/openbao"), "{message}");
    let phase = pods.get("web").await?.status.and_then(|s| s.phase);
    assert_eq!(phase.as_deref(), Some("Pending"));
    ns.delete().await
}

#[tokio::test]
async fn killing_a_containers_process_restarts_it_and_counts_the_restart() -> Result<()> {
    let (control_plane, node) = cluster().await?;
    let ns = TestNamespace::create(control_plane, "node-restart").await?;
    let pods: Api<Pod> = ns.api();
    pods.create(&PostParams::default(), &dev_server("crashy", json!({})))
        .await?;
    wait_ready(&pods, "crashy").await?;
    let pid = node
        .container_pid(ns.name(), "crashy", "bao")
        .context("the container runs")?;
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()?;
    assert!(status.success());

    let restarted = eventually("the container to restart", SETTLE, || async {
        let pod = pods.get("crashy").await?;
        let container = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .and_then(|c| c.first().cloned());
        Ok(container.filter(|c| c.restart_count == 1 && c.ready))
    })
    .await?;
    let last = restarted
        .last_state
        .and_then(|s| s.terminated)
        .context("the last state is the killed process")?;
    assert_eq!(last.exit_code, 137, "{last:?}");
    assert_eq!(last.container_id, Some(format!("localcluster://{pid}")));
    let new_pid = node
        .container_pid(ns.name(), "crashy", "bao")
        .context("the container runs again")?;
    assert_ne!(new_pid, pid);
    ns.delete().await
}

#[tokio::test]
async fn a_failing_liveness_probe_restarts_the_container() -> Result<()> {
    let (control_plane, _node) = cluster().await?;
    let ns = TestNamespace::create(control_plane, "node-liveness").await?;
    let pods: Api<Pod> = ns.api();
    // A sealed-status endpoint answers 200 only for a sealed server: the dev server is
    // unsealed, so the probe fails and the kubelet logic restarts it.
    let pod = dev_server(
        "unlucky",
        json!({ "spec": { "containers": [{
            "name": "bao",
            "image": IMAGE,
            "args": ["server", "-dev", "-dev-listen-address=0.0.0.0:8200"],
            "livenessProbe": {
                "httpGet": { "path": "/v1/sys/health?activecode=500", "port": 8200 },
                "initialDelaySeconds": 1, "periodSeconds": 1, "failureThreshold": 2,
            },
        }]}}),
    );
    pods.create(&PostParams::default(), &pod).await?;
    eventually("a liveness restart", SETTLE, || async {
        let pod = pods.get("unlucky").await?;
        let restarts = pod
            .status
            .and_then(|s| s.container_statuses)
            .and_then(|c| c.into_iter().next())
            .map_or(0, |c| c.restart_count);
        Ok((restarts >= 1).then_some(()))
    })
    .await?;
    let events = control_plane
        .client()
        .map(|c| Api::<k8s_openapi::api::events::v1::Event>::namespaced(c, ns.name()))?;
    let reasons: BTreeMap<String, usize> = events
        .list(&Default::default())
        .await?
        .items
        .into_iter()
        .filter_map(|e| e.reason)
        .fold(BTreeMap::new(), |mut m, r| {
            *m.entry(r).or_default() += 1;
            m
        });
    assert!(
        reasons.contains_key("Unhealthy") && reasons.contains_key("Killing"),
        "{reasons:?}"
    );
    ns.delete().await
}

#[tokio::test]
async fn https_startup_and_exec_readiness_probes_run_before_a_pod_is_ready() -> Result<()> {
    let (control_plane, node) = cluster().await?;
    let ns = TestNamespace::create(control_plane, "node-probes").await?;
    let pods: Api<Pod> = ns.api();
    // `-dev-tls` serves HTTPS with a self-signed certificate: the startup probe must skip
    // verification like the kubelet's, and readiness (an exec probe inside the container)
    // only runs once startup has passed.
    let pod = dev_server(
        "tls",
        json!({ "spec": { "containers": [{
            "name": "bao",
            "image": IMAGE,
            "args": ["server", "-dev", "-dev-tls", "-dev-listen-address=0.0.0.0:8200",
                     "-dev-no-store-token"],
            "env": [{ "name": "HOME", "value": "/tmp" }],
            "startupProbe": {
                "httpGet": { "path": "/v1/sys/health", "port": 8200, "scheme": "HTTPS" },
                "periodSeconds": 1, "failureThreshold": 30,
            },
            "readinessProbe": {
                "exec": { "command": ["bao", "status", "-tls-skip-verify",
                                      "-address=https://127.0.0.1:8200"] },
                "periodSeconds": 1, "timeoutSeconds": 5,
            },
        }]}}),
    );
    pods.create(&PostParams::default(), &pod).await?;
    let ready = wait_ready(&pods, "tls")
        .await
        .with_context(|| log_of(&node, ns.name(), "tls", "bao"))?;
    let container = ready
        .status
        .and_then(|s| s.container_statuses)
        .and_then(|c| c.into_iter().next())
        .context("a container status")?;
    assert_eq!(
        (container.started, container.ready, container.restart_count),
        (Some(true), true, 0)
    );
    ns.delete().await
}

#[tokio::test]
async fn a_stopped_node_leaves_no_namespace_link_route_or_process() -> Result<()> {
    let control_plane = ControlPlane::start_with(Options {
        node: true,
        ..Options::default()
    })
    .await?;
    let node = control_plane.node().context("a node")?;
    let ns = TestNamespace::create(&control_plane, "node-stop").await?;
    let pods: Api<Pod> = ns.api();
    pods.create(
        &PostParams::default(),
        &dev_server("short-lived", json!({})),
    )
    .await?;
    wait_ready(&pods, "short-lived").await?;
    let pid = node
        .container_pid(ns.name(), "short-lived", "bao")
        .context("the container runs")?;
    let pod_netns = node
        .pod_netns(ns.name(), "short-lived")
        .context("a pod namespace")?;
    let node_netns = node.netns().to_owned();
    let cidr = node.pod_cidr();
    drop(ns);
    control_plane.stop().await?;

    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} still exists"
    );
    for netns in [pod_netns, node_netns] {
        assert!(
            !Path::new("/run/netns").join(&netns).exists(),
            "{netns} still exists"
        );
    }
    let routes = std::process::Command::new("ip")
        .args(["-4", "route", "show", &cidr])
        .output()?;
    assert!(
        routes.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&routes.stdout)
    );
    Ok(())
}
