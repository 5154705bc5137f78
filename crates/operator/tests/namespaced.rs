//! A namespaced install (`--watch-namespaces`) against a real API server: the operator runs as
//! its own ServiceAccount holding only the Roles the manifests generate for the watched
//! namespaces (no reconcile ClusterRole). It reconciles there, including the per-cluster
//! RoleBinding it may only create through `bind` granted by a namespaced Role; it cannot read
//! Secrets anywhere else; it never touches a cluster elsewhere; and its webhook admits (and
//! watches) only the watched namespaces.

#[path = "support/manager.rs"]
mod support;

use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use api::OpenBaoCluster;
use k8s_openapi::{
    api::{
        admissionregistration::v1::ValidatingWebhookConfiguration,
        apps::v1::StatefulSet,
        authorization::v1::{
            ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
        },
        core::v1::Secret,
        networking::v1::NetworkPolicy,
        rbac::v1::{Role, RoleBinding},
    },
    apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement},
};
use kube::{
    Api, Client,
    api::{ListParams, PostParams},
};
use localcluster::TestNamespace;
use operator::{desired::rbac, install::operator_rbac, manager::Stopped};
use support::{
    Instance, InstanceSpec, OPERATOR_SA, cluster, env, namespaced_operator, until, webhook_skeleton,
};

/// A valid cluster whose NetworkPolicy does not need the API server's address looked up: a
/// namespaced operator outside a pod cannot read `default/kubernetes` (in a pod it uses
/// `KUBERNETES_SERVICE_HOST`).
const SPEC: &str = "version: \"2.7.2\"\nnetwork:\n  apiServerCIDR: 10.0.0.1/32";
/// Rejected by the webhook (not by the CRD schema): a CIDR that does not parse.
const INVALID_SPEC: &str = "version: \"2.7.2\"\nnetwork:\n  ingressRules:\n    - from:\n        - ipBlock: {cidr: 10.0.0.300/8}";

async fn get_opt<K>(client: &Client, namespace: &str, name: &str) -> Option<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    Api::<K>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .expect("admin read")
}

/// Whether the operator's ServiceAccount may `verb` Secrets in `namespace` (`None`: cluster-wide),
/// as the API server's authorizer answers it.
async fn may_secrets(operator: &Client, verb: &str, namespace: Option<&str>) -> bool {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.to_string()),
                resource: Some("secrets".to_string()),
                namespace: namespace.map(str::to_string),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    Api::<SelfSubjectAccessReview>::all(operator.clone())
        .create(&PostParams::default(), &review)
        .await
        .expect("self subject access review")
        .status
        .expect("status")
        .allowed
}

fn forbidden<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> bool {
    matches!(result, Err(kube::Error::Api(status)) if status.code == 403)
}

#[tokio::test]
async fn a_namespaced_operator_reconciles_its_namespace_only_and_cannot_read_secrets_elsewhere() {
    let cp = env().await;
    let watched = TestNamespace::create(cp, "ns-watched")
        .await
        .expect("namespace");
    let other = TestNamespace::create(cp, "ns-other")
        .await
        .expect("namespace");
    let (w, o) = (watched.name(), other.name());
    let (ops, admin) = namespaced_operator("ns-operator", &[w]).await;
    webhook_skeleton(&admin, ops.name()).await;

    // Created before the operator starts: a controller watching this namespace would reconcile
    // it with its first list, long before the watched cluster below is even created.
    Api::<OpenBaoCluster>::namespaced(admin.clone(), o)
        .create(&PostParams::default(), &cluster("elsewhere", o, SPEC))
        .await
        .expect("create the unwatched cluster");

    let instance = Instance::start_watching(
        InstanceSpec {
            namespace: ops.name().to_string(),
            identity: "namespaced".to_string(),
            webhook: true,
        },
        vec![w.to_string()],
    )
    .await;
    until("the namespaced operator to become ready", || async {
        Ok(instance.readiness.check().is_ok().then_some(()))
    })
    .await;

    // The children appear in the watched namespace, among them the RoleBinding to the OpenBao
    // pods' ClusterRole, which the API server admits only because the operator's namespaced
    // Role grants `bind` on it.
    Api::<OpenBaoCluster>::namespaced(admin.clone(), w)
        .create(&PostParams::default(), &cluster("bao", w, SPEC))
        .await
        .expect("create the watched cluster");
    until("the watched cluster's children", || async {
        let sts = get_opt::<StatefulSet>(&admin, w, "bao").await;
        let policy = get_opt::<NetworkPolicy>(&admin, w, "bao-network-policy").await;
        let registration = get_opt::<RoleBinding>(&admin, w, "bao-registration").await;
        Ok((sts.is_some() && policy.is_some())
            .then_some(registration)
            .flatten())
    })
    .await;
    let registration = get_opt::<RoleBinding>(&admin, w, "bao-registration")
        .await
        .expect("registration binding");
    assert_eq!(registration.role_ref.kind, "ClusterRole");
    assert_eq!(registration.role_ref.name, rbac::SERVER_CLUSTER_ROLE);

    // As the operator: Secrets in the watched namespace, and nowhere else.
    let operator = cp
        .client_for_service_account(ops.name(), OPERATOR_SA)
        .await
        .expect("operator client");
    assert!(may_secrets(&operator, "get", Some(w)).await);
    assert!(may_secrets(&operator, "list", Some(w)).await);
    for verb in ["get", "list", "watch", "create", "delete"] {
        assert!(
            !may_secrets(&operator, verb, Some(o)).await,
            "{verb} in {o}"
        );
        assert!(
            !may_secrets(&operator, verb, None).await,
            "{verb} cluster-wide"
        );
    }
    Api::<Secret>::namespaced(operator.clone(), w)
        .list_metadata(&ListParams::default())
        .await
        .expect("the operator lists Secrets in its watched namespace");
    assert!(forbidden(
        Api::<Secret>::namespaced(operator.clone(), o)
            .list_metadata(&ListParams::default())
            .await
    ));
    assert!(forbidden(
        Api::<Secret>::namespaced(operator.clone(), o)
            .get("anything")
            .await
    ));
    assert!(forbidden(
        Api::<Secret>::all(operator.clone())
            .list_metadata(&ListParams::default())
            .await
    ));
    // Nor may it create the RoleBinding it creates for its clusters in another namespace.
    assert!(forbidden(
        Api::<RoleBinding>::namespaced(operator.clone(), o)
            .create(&PostParams::default(), &registration_in(o, &registration))
            .await
    ));

    // The cluster elsewhere was never reconciled: no finalizer, no status, no children.
    let elsewhere = Api::<OpenBaoCluster>::namespaced(admin.clone(), o)
        .get("elsewhere")
        .await
        .expect("the unwatched cluster");
    assert!(elsewhere.metadata.finalizers.unwrap_or_default().is_empty());
    assert!(elsewhere.status.is_none(), "{:?}", elsewhere.status);
    assert!(
        get_opt::<StatefulSet>(&admin, o, "elsewhere")
            .await
            .is_none()
    );
    assert!(
        get_opt::<NetworkPolicy>(&admin, o, "elsewhere-network-policy")
            .await
            .is_none()
    );

    assert_eq!(instance.stop().await, Ok(Stopped::Shutdown));
}

/// `registration` moved to `namespace` (as the operator would create it there).
fn registration_in(namespace: &str, registration: &RoleBinding) -> RoleBinding {
    let mut binding = registration.clone();
    binding.metadata = kube::api::ObjectMeta {
        name: Some("sneaky-registration".to_string()),
        namespace: Some(namespace.to_string()),
        ..kube::api::ObjectMeta::default()
    };
    for subject in binding.subjects.iter_mut().flatten() {
        subject.namespace = Some(namespace.to_string());
    }
    binding
}

#[tokio::test]
async fn a_namespaced_operators_webhook_is_registered_for_its_namespaces_and_judges_only_them() {
    let cp = env().await;
    let watched = TestNamespace::create(cp, "hook-watched")
        .await
        .expect("namespace");
    let other = TestNamespace::create(cp, "hook-other")
        .await
        .expect("namespace");
    let (w, o) = (watched.name(), other.name());
    let (ops, admin) = namespaced_operator("hook-operator", &[w]).await;
    webhook_skeleton(&admin, ops.name()).await;
    let clusters = Api::<OpenBaoCluster>::namespaced(admin.clone(), w);
    clusters
        .create(&PostParams::default(), &cluster("x", w, SPEC))
        .await
        .expect("create x");
    let instance = Instance::start_watching(
        InstanceSpec {
            namespace: ops.name().to_string(),
            identity: "namespaced-hook".to_string(),
            webhook: true,
        },
        vec![w.to_string()],
    )
    .await;
    // The webhook's cluster-name watch must sync before it registers; cluster-wide it would be
    // forbidden, and the operator would never become ready.
    until("the namespaced operator to become ready", || async {
        Ok(instance.readiness.check().is_ok().then_some(()))
    })
    .await;
    let registration = Api::<ValidatingWebhookConfiguration>::all(admin.clone())
        .get(ops.name())
        .await
        .expect("the registration");
    let webhook = &registration.webhooks.expect("webhooks")[0];
    assert_eq!(
        webhook.namespace_selector,
        Some(LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "kubernetes.io/metadata.name".to_string(),
                operator: "In".to_string(),
                values: Some(vec![w.to_string()]),
            }]),
            match_labels: None,
        })
    );

    // In the watched namespace an invalid cluster is denied (retried under fresh names: the API
    // server picks the registration up asynchronously).
    let attempt = AtomicUsize::new(0);
    let denial = until("the webhook to deny an invalid cluster", || async {
        let name = format!("invalid-{}", attempt.fetch_add(1, Ordering::SeqCst));
        match clusters
            .create(&PostParams::default(), &cluster(&name, w, INVALID_SPEC))
            .await
        {
            Err(kube::Error::Api(status)) if status.message.contains("denied the request") => {
                Ok(Some(status))
            }
            Ok(_) => Ok(None),
            Err(e) => Err(e.into()),
        }
    })
    .await;
    assert!(denial.message.contains("ipBlock.cidr"), "{denial:?}");
    // Elsewhere the same cluster never reaches this webhook: only the CRD schema judges it.
    Api::<OpenBaoCluster>::namespaced(admin.clone(), o)
        .create(&PostParams::default(), &cluster("invalid", o, INVALID_SPEC))
        .await
        .expect("a cluster outside the watched namespaces is not sent to the webhook");

    // The webhook's own watch of the watched namespace holds x (listed before it served): a
    // name collision there is refused.
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let collision = clusters
        .create(&dry_run, &cluster("x-jobs", w, SPEC))
        .await
        .expect_err("x-jobs collides with x");
    let kube::Error::Api(collision) = collision else {
        panic!("an API refusal, got {collision:?}")
    };
    assert!(
        collision.message.contains(&format!(
            "collides with OpenBaoCluster \"x\" in namespace {w}"
        )),
        "{collision:?}"
    );
    assert_eq!(instance.stop().await, Ok(Stopped::Shutdown));
}

#[tokio::test]
async fn the_operator_waits_for_its_role_in_every_watched_namespace_before_it_leads() {
    let cp = env().await;
    let granted = TestNamespace::create(cp, "warm-granted")
        .await
        .expect("namespace");
    let missing = TestNamespace::create(cp, "warm-missing")
        .await
        .expect("namespace");
    let (g, m) = (granted.name(), missing.name());
    // The manifests for `granted` only: the operator has no Role in `missing` yet.
    let (ops, admin) = namespaced_operator("warm-operator", &[g]).await;
    let instance = Instance::start_watching(
        InstanceSpec {
            namespace: ops.name().to_string(),
            identity: "warm".to_string(),
            webhook: false,
        },
        vec![g.to_string(), m.to_string()],
    )
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let missing_gates = instance
        .readiness
        .check()
        .expect_err("not ready without a Role in every watched namespace");
    assert!(
        missing_gates.contains(&"caches not synced"),
        "{missing_gates:?}"
    );
    assert_eq!(support::lease_holder(&admin, ops.name()).await, None);

    // The Role the manifests generate for `missing`, and the operator comes up.
    let options = operator::install::deploy::DeployOptions {
        watch_namespaces: vec![m.to_string()],
        ..operator::install::deploy::DeployOptions::new(ops.name())
    };
    let grant = operator::install::deploy::build(&options)
        .watched_namespace_grants
        .remove(0);
    assert_eq!(
        grant.role.metadata.name.as_deref(),
        Some(operator_rbac::WATCHED_NAMESPACE_ROLE)
    );
    Api::<Role>::namespaced(admin.clone(), m)
        .create(&PostParams::default(), &grant.role)
        .await
        .expect("create the Role");
    Api::<RoleBinding>::namespaced(admin.clone(), m)
        .create(&PostParams::default(), &grant.role_binding)
        .await
        .expect("create the RoleBinding");
    support::until_leader(&admin, ops.name(), "warm", support::SETTLE).await;
    until("the operator to become ready", || async {
        Ok(instance.readiness.check().is_ok().then_some(()))
    })
    .await;
    // Both namespaces are reconciled by the one operator.
    for (namespace, name) in [(g, "first"), (m, "second")] {
        Api::<OpenBaoCluster>::namespaced(admin.clone(), namespace)
            .create(&PostParams::default(), &cluster(name, namespace, SPEC))
            .await
            .expect("create cluster");
    }
    for (namespace, name) in [(g, "first"), (m, "second")] {
        until(&format!("StatefulSet {namespace}/{name}"), || async {
            Ok(get_opt::<StatefulSet>(&admin, namespace, name).await)
        })
        .await;
    }
    assert_eq!(instance.stop().await, Ok(Stopped::Shutdown));
}
