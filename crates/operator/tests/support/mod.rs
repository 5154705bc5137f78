//! Test environment for the reconciler: the shared local control plane (real kube-apiserver,
//! etcd, kube-controller-manager), the CRDs, and one operator per test binary running under its
//! own ServiceAccount bound to exactly the generated ClusterRole (least privilege is tested by
//! every test that uses this environment).

#![allow(dead_code)]

pub mod bao;
pub mod crds;
pub mod fixtures;
pub mod flow;
pub mod moto;
pub mod writes;

#[allow(unused_imports)]
pub use fixtures::cluster;

use std::{future::Future, time::Duration};

use api::OpenBaoCluster;
use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use k8s_openapi::{
    api::{
        core::v1::{Namespace, ServiceAccount},
        rbac::v1::{ClusterRoleBinding, RoleRef, Subject},
    },
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
};
use kube::{
    Api, Client, ResourceExt,
    api::{ObjectMeta, Patch, PatchParams, PostParams},
};
use localcluster::{ControlPlane, TestNamespace};
use operator::{
    desired::rbac,
    install::{operator_rbac, pod_delete_policy, pod_label_policy},
    reconcile,
};
use tokio::sync::OnceCell;

/// Namespace the operator "runs" in (its ServiceAccount lives here).
pub const OPERATOR_NS: &str = "openbao-operator-system";
/// The operator's ServiceAccount.
pub const OPERATOR_SA: &str = "openbao-operator";
/// Upper bound for anything the operator or the controllers do asynchronously.
pub const SETTLE: Duration = Duration::from_secs(60);

static ENV: OnceCell<&'static ControlPlane> = OnceCell::const_new();

/// The test operator's metrics (reconcile counts let tests wait for a pass).
pub static METRICS: std::sync::LazyLock<std::sync::Arc<operator::telemetry::Metrics>> =
    std::sync::LazyLock::new(|| std::sync::Arc::new(operator::telemetry::Metrics::new()));

/// The control plane, with the CRD installed and the operator running (once per binary).
pub async fn env() -> &'static ControlPlane {
    env_with(localcluster::Options::default()).await
}

/// Like [`env`], with the control plane started with `options` (for example with a node that
/// runs the pods). One set of options per test binary.
pub async fn env_with(options: localcluster::Options) -> &'static ControlPlane {
    env_inner(options, false).await
}

/// Like [`env`], with the Gateway API's HTTPRoute and BackendTLSPolicy CRDs installed before
/// the operator starts (the operator detects the Gateway API once, at start).
pub async fn env_with_gateway_api() -> &'static ControlPlane {
    env_inner(localcluster::Options::default(), true).await
}

async fn env_inner(options: localcluster::Options, gateway_api: bool) -> &'static ControlPlane {
    ENV.get_or_init(|| async {
        let cp = localcluster::shared_with(options)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "the local control plane must start (build it with `bash hack/setup.sh`): {e:#}"
                )
            });
        if gateway_api {
            install_gateway_crd(cp, "HTTPRoute", "httproutes").await;
            install_gateway_crd(cp, "BackendTLSPolicy", "backendtlspolicies").await;
        }
        install(cp).await;
        start_operator(cp);
        cp
    })
    .await
}

/// A minimal `gateway.networking.k8s.io/v1` CRD for `kind` (schema left open): enough for the
/// API server to serve the kind the operator writes, without vendoring the Gateway API.
async fn install_gateway_crd(cp: &ControlPlane, kind: &str, plural: &str) {
    let name = format!("{plural}.gateway.networking.k8s.io");
    let crd: CustomResourceDefinition = serde_json::from_value(serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": name,
            // *.k8s.io groups are protected; the real Gateway API CRDs carry an approval link.
            "annotations": {"api-approved.kubernetes.io": "unapproved, test fixture"}
        },
        "spec": {
            "group": "gateway.networking.k8s.io",
            "names": {
                "kind": kind,
                "plural": plural,
                "singular": kind.to_lowercase(),
                "listKind": format!("{kind}List")
            },
            "scope": "Namespaced",
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
            }]
        }
    }))
    .expect("CRD fixture");
    let crds = Api::<CustomResourceDefinition>::all(cp.client().expect("admin client"));
    crds.patch(
        &name,
        &PatchParams::apply("operator-tests").force(),
        &Patch::Apply(&crd),
    )
    .await
    .unwrap_or_else(|e| panic!("install the {kind} CRD: {e}"));
    localcluster::eventually(&format!("the {kind} CRD to be served"), SETTLE, || {
        let client = cp.client().expect("client");
        async move {
            let served = client
                .list_api_group_resources("gateway.networking.k8s.io/v1")
                .await
                .is_ok_and(|l| l.resources.iter().any(|r| r.name == plural));
            Ok(served.then_some(()))
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{kind} served: {e:#}"));
}

/// Create namespace `name` if it does not exist (server-side apply: rerunning is harmless).
pub async fn apply_namespace(client: &Client, name: &str) {
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Api::<Namespace>::all(client.clone())
        .patch(
            name,
            &PatchParams::apply("operator-tests").force(),
            &Patch::Apply(&ns),
        )
        .await
        .unwrap_or_else(|e| panic!("namespace {name}: {e}"));
}

/// Install the CRDs and the operator's namespace, ServiceAccount, ClusterRole and binding.
pub async fn install(cp: &ControlPlane) {
    let client = cp.client().expect("admin client");
    let ssa = PatchParams::apply("operator-tests").force();
    crds::install_crds(&client, "operator-tests").await;

    apply_namespace(&client, OPERATOR_NS).await;
    let sa = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(OPERATOR_SA.to_string()),
            namespace: Some(OPERATOR_NS.to_string()),
            ..ObjectMeta::default()
        },
        ..ServiceAccount::default()
    };
    Api::<ServiceAccount>::namespaced(client.clone(), OPERATOR_NS)
        .patch(OPERATOR_SA, &ssa, &Patch::Apply(&sa))
        .await
        .expect("operator ServiceAccount");
    let role = operator_rbac::cluster_role();
    Api::<k8s_openapi::api::rbac::v1::ClusterRole>::all(client.clone())
        .patch(operator_rbac::CLUSTER_ROLE, &ssa, &Patch::Apply(&role))
        .await
        .expect("operator ClusterRole");
    let binding = ClusterRoleBinding {
        metadata: ObjectMeta {
            name: Some(operator_rbac::CLUSTER_ROLE.to_string()),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".to_string()),
            kind: "ClusterRole".to_string(),
            name: operator_rbac::CLUSTER_ROLE.to_string(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_string(),
            name: OPERATOR_SA.to_string(),
            namespace: Some(OPERATOR_NS.to_string()),
            api_group: None,
        }]),
    };
    Api::<ClusterRoleBinding>::all(client.clone())
        .patch(operator_rbac::CLUSTER_ROLE, &ssa, &Patch::Apply(&binding))
        .await
        .expect("operator ClusterRoleBinding");
    // The deploy manifests' Role in the operator namespace: among others, tokens of the
    // operator's own ServiceAccount for its OpenBao identity.
    let options = operator::install::deploy::DeployOptions::new(OPERATOR_NS);
    Api::<k8s_openapi::api::rbac::v1::Role>::namespaced(client.clone(), OPERATOR_NS)
        .patch(
            operator::install::deploy::NAMESPACE_ROLE,
            &ssa,
            &Patch::Apply(&operator::install::deploy::role(&options)),
        )
        .await
        .expect("operator namespace Role");
    Api::<k8s_openapi::api::rbac::v1::RoleBinding>::namespaced(client.clone(), OPERATOR_NS)
        .patch(
            operator::install::deploy::NAMESPACE_ROLE,
            &ssa,
            &Patch::Apply(&operator::install::deploy::role_binding(&options)),
        )
        .await
        .expect("operator namespace RoleBinding");

    // What the OpenBao pods rely on cluster-wide, as deploy/ ships it: the ClusterRole their
    // service registration is bound to, and the policy that limits it to the registration
    // labels (so every e2e run proves real OpenBao gets past it).
    let server_role = rbac::server_cluster_role();
    Api::<k8s_openapi::api::rbac::v1::ClusterRole>::all(client.clone())
        .patch(rbac::SERVER_CLUSTER_ROLE, &ssa, &Patch::Apply(&server_role))
        .await
        .expect("OpenBao server ClusterRole");
    // And the policy that confines the operator's pod deletions (so every rollout proves the
    // operator gets past it).
    for (policy, policy_binding) in [
        (pod_label_policy::policy(), pod_label_policy::binding()),
        (pod_delete_policy::policy(), pod_delete_policy::binding()),
    ] {
        Api::<ValidatingAdmissionPolicy>::all(client.clone())
            .patch(&policy.name_any(), &ssa, &Patch::Apply(&policy))
            .await
            .expect("ValidatingAdmissionPolicy");
        Api::<ValidatingAdmissionPolicyBinding>::all(client.clone())
            .patch(
                &policy_binding.name_any(),
                &ssa,
                &Patch::Apply(&policy_binding),
            )
            .await
            .expect("ValidatingAdmissionPolicyBinding");
    }
}

fn start_operator(cp: &'static ControlPlane) {
    std::thread::Builder::new()
        .name("operator".to_string())
        // The controller runs on this thread, as it runs on the binary's main thread: give it a
        // main thread's 8 MiB stack, not a spawned thread's 2 MiB (a debug build decoding an
        // OpenBaoCluster needs more).
        .stack_size(8 << 20)
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_stack_size(operator::cli::run::WORKER_STACK_BYTES)
                .enable_all()
                .build()
                .expect("operator runtime");
            runtime.block_on(async move {
                let client = cp
                    .client_for_service_account(OPERATOR_NS, OPERATOR_SA)
                    .await
                    .expect("operator client from its own ServiceAccount token");
                let config = reconcile::Config {
                    operator_namespace: OPERATOR_NS.to_string(),
                    watch_namespace: None,
                    service_account: OPERATOR_SA.to_string(),
                    job_image: operator::install::deploy::DEFAULT_IMAGE.to_string(),
                    health_check_interval: reconcile::status::DEFAULT_HEALTH_CHECK_INTERVAL,
                    max_concurrent_reconciles: reconcile::status::DEFAULT_MAX_CONCURRENT_RECONCILES,
                };
                // The cluster controller and the restore controller, as the manager runs them.
                futures::join!(
                    operator::restore::run(
                        client.clone(),
                        None,
                        config.job_image.clone(),
                        std::future::pending(),
                    ),
                    reconcile::run(client, config, METRICS.clone(), std::future::pending()),
                );
            });
        })
        .expect("spawn operator thread");
}

/// A fresh namespace for one test and an admin client on the test's runtime.
pub async fn namespace(prefix: &str) -> (TestNamespace, Client) {
    let cp = env().await;
    let ns = TestNamespace::create(cp, prefix)
        .await
        .expect("test namespace");
    let client = cp.client().expect("admin client");
    (ns, client)
}

/// Create `cluster`.
pub async fn create(client: &Client, cluster: &OpenBaoCluster) -> OpenBaoCluster {
    let api =
        Api::<OpenBaoCluster>::namespaced(client.clone(), &cluster.namespace().expect("namespace"));
    api.create(&PostParams::default(), cluster)
        .await
        .expect("create cluster")
}

/// Poll `check` until it returns `Some`, failing with `what` after [`SETTLE`].
pub async fn until<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    localcluster::eventually(what, SETTLE, check)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
}

/// The cluster's current state.
pub async fn get(client: &Client, namespace: &str, name: &str) -> OpenBaoCluster {
    Api::<OpenBaoCluster>::namespaced(client.clone(), namespace)
        .get(name)
        .await
        .expect("get cluster")
}

/// Wait until the cluster's condition `type_` has `status` (and return the cluster).
pub async fn until_condition(
    client: &Client,
    namespace: &str,
    name: &str,
    type_: &str,
    status: &str,
) -> OpenBaoCluster {
    let api = Api::<OpenBaoCluster>::namespaced(client.clone(), namespace);
    until(
        &format!("condition {type_}={status} on {namespace}/{name}"),
        || {
            let api = api.clone();
            async move {
                let cluster = api.get(name).await?;
                let found = cluster.status.as_ref().is_some_and(|s| {
                    s.conditions
                        .iter()
                        .any(|c| c.type_ == type_ && c.status == status)
                });
                Ok(found.then_some(cluster))
            }
        },
    )
    .await
}

/// Wait until the object `ns/name` of kind `K` exists, and return it.
pub async fn present<K>(client: &Client, ns: &str, name: &str) -> K
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api = Api::<K>::namespaced(client.clone(), ns);
    until(&format!("{} {ns}/{name} to exist", K::kind(&())), || {
        let api = api.clone();
        async move { Ok(api.get_opt(name).await?) }
    })
    .await
}

/// Wait until the object `ns/name` of kind `K` is gone.
pub async fn absent<K>(client: &Client, ns: &str, name: &str)
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api = Api::<K>::namespaced(client.clone(), ns);
    until(&format!("{} {ns}/{name} to be gone", K::kind(&())), || {
        let api = api.clone();
        async move { Ok(api.get_opt(name).await?.is_none().then_some(())) }
    })
    .await
}
