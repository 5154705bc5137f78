//! Who may write pods, proven on the real API server (RBAC and admission on): the operator holds
//! no pod write verb and may `bind` only the OpenBao pods' fixed ClusterRole; an OpenBao pod's
//! ServiceAccount may change only the service-registration labels of its own pod (the
//! ValidatingAdmissionPolicy), so it cannot move itself out of its NetworkPolicy.
//!
//! The cluster-wide objects come from the committed manifests (`deploy/base/`, drift-checked
//! against the code by `tests/deploy_manifests.rs`); the per-cluster RBAC comes from the
//! builders. Pods are never scheduled: the API server alone admits or denies the writes.

#[path = "support/fixtures.rs"]
mod fixtures;

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use api::names::{self, ClusterNames};
use k8s_openapi::api::{
    admissionregistration::v1::{ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding},
    authorization::v1::{ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec},
    core::v1::{Container, Pod, PodSpec, ServiceAccount},
    rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject},
};
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams},
};
use localcluster::{ControlPlane, TestNamespace};
use operator::{
    desired::{self, rbac},
    install::{operator_rbac, pod_delete_policy, pod_label_policy},
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::json;
use tokio::sync::OnceCell;

/// Upper bound for the API server to start enforcing a new policy.
const SETTLE: Duration = Duration::from_secs(60);
/// The field manager of everything this test applies as admin.
const MANAGER: &str = "pod-rbac-tests";

static INSTALLED: OnceCell<()> = OnceCell::const_new();

fn committed<T: DeserializeOwned>(file: &str) -> T {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/base")
        .join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn apply<K>(api: &Api<K>, object: &K)
where
    K: Resource + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
{
    let name = object.meta().name.clone().expect("named object");
    api.patch(
        &name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(object),
    )
    .await
    .unwrap_or_else(|e| panic!("apply {name}: {e}"));
}

/// The shared control plane with the operator's committed ClusterRole, the OpenBao pods' fixed
/// ClusterRole, and the pod-label policy and binding installed and enforced.
async fn control_plane() -> &'static ControlPlane {
    let cp = localcluster::shared().await.unwrap_or_else(|e| {
        panic!("the local control plane must start (build it with `bash hack/setup.sh`): {e:#}")
    });
    INSTALLED.get_or_init(|| install(cp)).await;
    cp
}

async fn install(cp: &'static ControlPlane) {
    let client = cp.client().expect("admin client");
    let roles = Api::<ClusterRole>::all(client.clone());
    apply(&roles, &committed::<ClusterRole>("cluster-role.yaml")).await;
    apply(
        &roles,
        &committed::<ClusterRole>("openbao-server-cluster-role.yaml"),
    )
    .await;
    apply(
        &Api::<ValidatingAdmissionPolicy>::all(client.clone()),
        &committed("pod-label-policy.yaml"),
    )
    .await;
    apply(
        &Api::<ValidatingAdmissionPolicyBinding>::all(client.clone()),
        &committed("pod-label-policy-binding.yaml"),
    )
    .await;
    apply(
        &Api::<ValidatingAdmissionPolicy>::all(client.clone()),
        &committed("pod-delete-policy.yaml"),
    )
    .await;
    apply(
        &Api::<ValidatingAdmissionPolicyBinding>::all(client.clone()),
        &committed("pod-delete-policy-binding.yaml"),
    )
    .await;
    // The API server loads new policies asynchronously: wait until a relabel that the policy
    // forbids is refused by it, in a namespace of its own.
    let ns = TestNamespace::create(cp, "pod-rbac-ready")
        .await
        .expect("namespace");
    let probe = openbao_cluster(cp, ns.name(), "probe").await;
    let pods = Api::<Pod>::namespaced(probe.client.clone(), ns.name());
    let pod = probe.names.pod(0);
    localcluster::eventually("the pod-label policy to be enforced", SETTLE, || {
        let pods = pods.clone();
        let pod = pod.clone();
        async move {
            let result = pods
                .patch(
                    &pod,
                    &PatchParams::default(),
                    &label("backup-probe", Some("x")),
                )
                .await;
            Ok(match result {
                Err(kube::Error::Api(status))
                    if status.message.contains(pod_label_policy::POLICY) =>
                {
                    Some(())
                }
                // Not enforced yet: undo, so the next attempt is a change again.
                Ok(_) => {
                    let _ = pods
                        .patch(&pod, &PatchParams::default(), &label("backup-probe", None))
                        .await;
                    None
                }
                Err(_) => None,
            })
        }
    })
    .await
    .expect("policy enforced");
    ns.delete().await.expect("delete namespace");
}

/// One OpenBao cluster's identity as the operator grants it, with one pod and a client that
/// authenticates as the pods' ServiceAccount (a token from the TokenRequest API).
struct OpenBao {
    names: ClusterNames,
    client: Client,
}

/// Applies the per-cluster ServiceAccount and RoleBinding from the builders, creates
/// pod 0 with the labels and ServiceAccount of the StatefulSet's pod template, and returns a
/// client acting as that ServiceAccount.
async fn openbao_cluster(cp: &ControlPlane, ns: &str, name: &str) -> OpenBao {
    let cluster = fixtures::validated(name, ns, "version: \"2.7.2\"");
    let facts = fixtures::facts();
    let resources = desired::build(&cluster, &facts);
    let admin = cp.client().expect("admin client");
    apply(
        &Api::<ServiceAccount>::namespaced(admin.clone(), ns),
        &resources.service_account,
    )
    .await;
    let bindings = Api::<RoleBinding>::namespaced(admin.clone(), ns);
    apply(&bindings, &resources.registration_role_binding).await;

    let template = resources
        .statefulset
        .map(|s| s.spec.template)
        .expect("pod template");
    let names = cluster.names().clone();
    let mut labels = template.metadata.and_then(|m| m.labels).expect("labels");
    // What the StatefulSet controller adds to each pod.
    labels.insert(
        "statefulset.kubernetes.io/pod-name".to_string(),
        names.pod(0),
    );
    let pod = Pod {
        metadata: ObjectMeta {
            name: Some(names.pod(0)),
            namespace: Some(ns.to_string()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            service_account_name: template.spec.and_then(|s| s.service_account_name),
            // Never scheduled: no node carries this label.
            node_selector: Some(BTreeMap::from([(
                "openbao.org/pod-rbac-test".to_string(),
                "no-such-node".to_string(),
            )])),
            containers: vec![Container {
                name: "openbao".to_string(),
                image: Some("quay.io/openbao/openbao:2.7.2".to_string()),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        status: None,
    };
    Api::<Pod>::namespaced(admin, ns)
        .create(&PostParams::default(), &pod)
        .await
        .expect("create pod");
    let client = cp
        .client_for_service_account(ns, &names.service_account())
        .await
        .expect("client as the pods' ServiceAccount");
    OpenBao { names, client }
}

/// A merge patch setting label `key` to `value` (`None` removes it).
fn label(key: &str, value: Option<&str>) -> Patch<serde_json::Value> {
    Patch::Merge(json!({"metadata": {"labels": {key: value}}}))
}

/// Asserts that `result` is the policy's denial by rule `rule` (not RBAC's: RBAC runs first, so
/// the policy's message also proves that RBAC allowed the write).
fn denied_by(result: Result<Pod, kube::Error>, rule: &str) {
    match result {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 403, "{status:?}");
            assert!(
                status.message.contains(pod_label_policy::POLICY)
                    && status.message.contains(&format!("{rule}:")),
                "expected the policy's {rule} rule, got: {}",
                status.message
            );
        }
        Ok(pod) => panic!(
            "expected a denial by {rule}; the write was admitted: {:?}",
            pod.labels()
        ),
        Err(e) => panic!("expected a denial by {rule}, got {e}"),
    }
}

async fn setup(prefix: &str) -> (&'static ControlPlane, TestNamespace, OpenBao) {
    let cp = control_plane().await;
    let ns = TestNamespace::create(cp, prefix).await.expect("namespace");
    let bao = openbao_cluster(cp, ns.name(), "bao").await;
    (cp, ns, bao)
}

// ---------------------------------------------------------------------------------------------
// The OpenBao pods' ServiceAccount

#[tokio::test]
async fn an_openbao_pod_may_set_its_own_service_registration_labels() {
    let (_cp, ns, bao) = setup("pod-rbac-own").await;
    let pods = Api::<Pod>::namespaced(bao.client.clone(), ns.name());
    let pod = bao.names.pod(0);
    // The way OpenBao's service registration writes them: one JSON patch of `add` operations
    // (`/` in a label key is escaped as `~1`; these keys have none).
    let labels = [
        ("openbao-active", "true"),
        ("openbao-initialized", "true"),
        ("openbao-sealed", "false"),
        ("openbao-perf-standby", "false"),
        ("openbao-version", "2.7.2"),
    ];
    let operations: Vec<serde_json::Value> = labels
        .iter()
        .map(|(key, value)| json!({"op": "add", "path": format!("/metadata/labels/{key}"), "value": value}))
        .collect();
    let patch = Patch::Json::<()>(
        serde_json::from_value(serde_json::Value::Array(operations)).expect("a JSON patch"),
    );
    let patched = pods
        .patch(&pod, &PatchParams::default(), &patch)
        .await
        .expect("setting the registration labels on its own pod");
    for (key, value) in labels {
        assert_eq!(patched.labels().get(key).map(String::as_str), Some(value));
    }
    // Changing and removing a registration label are allowed too.
    pods.patch(
        &pod,
        &PatchParams::default(),
        &label("openbao-active", Some("false")),
    )
    .await
    .expect("change openbao-active");
    let patched = pods
        .patch(
            &pod,
            &PatchParams::default(),
            &label("openbao-version", None),
        )
        .await
        .expect("remove openbao-version");
    assert!(!patched.labels().contains_key("openbao-version"));
}

#[tokio::test]
async fn an_openbao_pod_cannot_relabel_itself_into_the_backup_job_policy() {
    let (_cp, ns, bao) = setup("pod-rbac-backup").await;
    let pods = Api::<Pod>::namespaced(bao.client.clone(), ns.name());
    let result = pods
        .patch(
            &bao.names.pod(0),
            &PatchParams::default(),
            &label(names::LABEL_COMPONENT, Some(names::COMPONENT_BACKUP)),
        )
        .await;
    denied_by(result, "registration-labels-only");
    // Not even together with a registration label.
    let result = pods
        .patch(
            &bao.names.pod(0),
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {
                "openbao-active": "true",
                names::LABEL_COMPONENT: names::COMPONENT_RESTORE,
            }}})),
        )
        .await;
    denied_by(result, "registration-labels-only");
}

#[tokio::test]
async fn an_openbao_pod_cannot_remove_or_change_its_cluster_labels() {
    let (_cp, ns, bao) = setup("pod-rbac-cluster-label").await;
    let pods = Api::<Pod>::namespaced(bao.client.clone(), ns.name());
    let pod = bao.names.pod(0);
    let result = pods
        .patch(
            &pod,
            &PatchParams::default(),
            &label(names::LABEL_CLUSTER, None),
        )
        .await;
    denied_by(result, "registration-labels-only");
    let result = pods
        .patch(
            &pod,
            &PatchParams::default(),
            &label(names::LABEL_INSTANCE, Some("other")),
        )
        .await;
    denied_by(result, "registration-labels-only");
    let result = pods
        .patch(
            &pod,
            &PatchParams::default(),
            &label("example.com/new", Some("x")),
        )
        .await;
    denied_by(result, "registration-labels-only");
}

#[tokio::test]
async fn an_openbao_pod_cannot_change_its_annotations_or_spec() {
    let (_cp, ns, bao) = setup("pod-rbac-spec").await;
    let pods = Api::<Pod>::namespaced(bao.client.clone(), ns.name());
    let pod = bao.names.pod(0);
    let result = pods
        .patch(
            &pod,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"example.com/x": "y"}}})),
        )
        .await;
    denied_by(result, "labels-only");
    let result = pods
        .patch(
            &pod,
            &PatchParams::default(),
            // Strategic merge keeps every other container field (pod validation would refuse
            // anything but an image change before admission runs).
            &Patch::Strategic(json!({"spec": {"containers": [
                {"name": "openbao", "image": "registry.example/evil:1"}
            ]}})),
        )
        .await;
    denied_by(result, "labels-only");
}

#[tokio::test]
async fn an_openbao_pod_cannot_patch_another_clusters_pod_in_its_namespace() {
    let (cp, ns, alpha) = setup("pod-rbac-other").await;
    let beta = openbao_cluster(cp, ns.name(), "beta").await;
    // Even a registration label: the other pod's state is not this pod's to report.
    let result = Api::<Pod>::namespaced(alpha.client.clone(), ns.name())
        .patch(
            &beta.names.pod(0),
            &PatchParams::default(),
            &label("openbao-active", Some("true")),
        )
        .await;
    denied_by(result, "own-pod-only");
    // The other cluster's own ServiceAccount may.
    Api::<Pod>::namespaced(beta.client.clone(), ns.name())
        .patch(
            &beta.names.pod(0),
            &PatchParams::default(),
            &label("openbao-active", Some("true")),
        )
        .await
        .expect("beta labels its own pod");
}

#[tokio::test]
async fn the_policy_constrains_service_accounts_of_the_namespace_on_openbao_pods_only() {
    let (cp, ns, bao) = setup("pod-rbac-scope").await;
    let admin = cp.client().expect("admin client");
    // A ServiceAccount of the namespace that RBAC allows to patch every pod here.
    let ci = "ci";
    apply(
        &Api::<ServiceAccount>::namespaced(admin.clone(), ns.name()),
        &ServiceAccount {
            metadata: ObjectMeta {
                name: Some(ci.to_string()),
                namespace: Some(ns.name().to_string()),
                ..ObjectMeta::default()
            },
            ..ServiceAccount::default()
        },
    )
    .await;
    apply(
        &Api::<RoleBinding>::namespaced(admin.clone(), ns.name()),
        &RoleBinding {
            metadata: ObjectMeta {
                name: Some(ci.to_string()),
                namespace: Some(ns.name().to_string()),
                ..ObjectMeta::default()
            },
            role_ref: RoleRef {
                api_group: Some("rbac.authorization.k8s.io".to_string()),
                kind: "ClusterRole".to_string(),
                name: rbac::SERVER_CLUSTER_ROLE.to_string(),
            },
            subjects: Some(vec![Subject {
                kind: "ServiceAccount".to_string(),
                name: ci.to_string(),
                namespace: Some(ns.name().to_string()),
                api_group: None,
            }]),
        },
    )
    .await;
    let ci_client = cp
        .client_for_service_account(ns.name(), ci)
        .await
        .expect("client as ci");
    let ci_pods = Api::<Pod>::namespaced(ci_client, ns.name());
    // On an OpenBao pod it is not the pod's own ServiceAccount: denied.
    let result = ci_pods
        .patch(
            &bao.names.pod(0),
            &PatchParams::default(),
            &label("openbao-active", Some("true")),
        )
        .await;
    denied_by(result, "own-pod-only");
    // A pod without `openbao.org/cluster` is out of the policy's scope: RBAC alone decides.
    let plain = parked_pod(ns.name(), "plain", BTreeMap::new());
    Api::<Pod>::namespaced(admin.clone(), ns.name())
        .create(&PostParams::default(), &plain)
        .await
        .expect("create plain pod");
    ci_pods
        .patch(
            "plain",
            &PatchParams::default(),
            &label(names::LABEL_COMPONENT, Some(names::COMPONENT_BACKUP)),
        )
        .await
        .expect("a pod outside the policy's scope");
    // Users (not ServiceAccounts of the namespace) are left to RBAC as well.
    Api::<Pod>::namespaced(admin, ns.name())
        .patch(
            &bao.names.pod(0),
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"example.com/note": "admin"}}})),
        )
        .await
        .expect("an admin annotates an OpenBao pod");
}

#[tokio::test]
async fn the_pod_label_grant_holds_only_in_the_clusters_namespace() {
    let (cp, ns, bao) = setup("pod-rbac-home").await;
    let elsewhere = TestNamespace::create(cp, "pod-rbac-away")
        .await
        .expect("namespace");
    let other = openbao_cluster(cp, elsewhere.name(), "bao").await;
    let result = Api::<Pod>::namespaced(bao.client.clone(), elsewhere.name())
        .patch(
            &other.names.pod(0),
            &PatchParams::default(),
            &label("openbao-active", Some("true")),
        )
        .await;
    // RBAC refuses it before admission: the RoleBinding grants patch in `ns` only.
    match result {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 403, "{status:?}");
            assert!(
                status.message.contains("cannot patch resource \"pods\""),
                "{}",
                status.message
            );
        }
        other => panic!(
            "{} patched a pod in {}: {other:?}",
            ns.name(),
            elsewhere.name()
        ),
    }
}

#[tokio::test]
async fn the_policy_type_checks_without_warnings() {
    let cp = control_plane().await;
    let policies = Api::<ValidatingAdmissionPolicy>::all(cp.client().expect("client"));
    let checked = localcluster::eventually("the policy's type check", SETTLE, || {
        let policies = policies.clone();
        async move {
            let policy = policies.get(pod_label_policy::POLICY).await?;
            let generation = policy.metadata.generation;
            Ok(policy
                .status
                .filter(|s| s.observed_generation == generation)
                .and_then(|s| s.type_checking))
        }
    })
    .await
    .expect("type checked");
    assert_eq!(
        checked.expression_warnings.unwrap_or_default(),
        [],
        "every expression type-checks against the Pod schema"
    );
}

// ---------------------------------------------------------------------------------------------
// The operator

/// A ServiceAccount in `ns` bound to the committed operator ClusterRole, and a client acting as
/// it. The ClusterRoleBinding is named after the namespace so parallel tests do not meet.
async fn operator_in(cp: &ControlPlane, ns: &str) -> (Client, String) {
    let admin = cp.client().expect("admin client");
    let sa = "openbao-operator";
    apply(
        &Api::<ServiceAccount>::namespaced(admin.clone(), ns),
        &ServiceAccount {
            metadata: ObjectMeta {
                name: Some(sa.to_string()),
                namespace: Some(ns.to_string()),
                ..ObjectMeta::default()
            },
            ..ServiceAccount::default()
        },
    )
    .await;
    let binding = format!("pod-rbac-{ns}");
    apply(
        &Api::<ClusterRoleBinding>::all(admin),
        &ClusterRoleBinding {
            metadata: ObjectMeta {
                name: Some(binding.clone()),
                ..ObjectMeta::default()
            },
            role_ref: RoleRef {
                api_group: Some("rbac.authorization.k8s.io".to_string()),
                kind: "ClusterRole".to_string(),
                name: operator_rbac::CLUSTER_ROLE.to_string(),
            },
            subjects: Some(vec![Subject {
                kind: "ServiceAccount".to_string(),
                name: sa.to_string(),
                namespace: Some(ns.to_string()),
                api_group: None,
            }]),
        },
    )
    .await;
    let client = cp
        .client_for_service_account(ns, sa)
        .await
        .expect("client as the operator");
    (client, binding)
}

async fn remove_binding(cp: &ControlPlane, name: &str) {
    let _ = Api::<ClusterRoleBinding>::all(cp.client().expect("client"))
        .delete(name, &DeleteParams::default())
        .await;
}

/// `kubectl auth can-i <verb> pods -n <namespace>` as `client`.
async fn can_i(client: &Client, verb: &str, namespace: &str) -> bool {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.to_string()),
                resource: Some("pods".to_string()),
                namespace: Some(namespace.to_string()),
                ..ResourceAttributes::default()
            }),
            non_resource_attributes: None,
        },
        ..SelfSubjectAccessReview::default()
    };
    Api::<SelfSubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
        .expect("self subject access review")
        .status
        .expect("status")
        .allowed
}

/// A pod that no node runs, named `name`, with `labels`.
fn parked_pod(ns: &str, name: &str, labels: BTreeMap<String, String>) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(ns.to_string()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            node_selector: Some(BTreeMap::from([(
                "openbao.org/pod-rbac-test".to_string(),
                "no-such-node".to_string(),
            )])),
            containers: vec![Container {
                name: "app".to_string(),
                image: Some("registry.example/app:1".to_string()),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        status: None,
    }
}

#[tokio::test]
async fn the_operator_cannot_create_or_change_a_pod_and_deletes_only_managed_server_pods() {
    let cp = control_plane().await;
    let ns = TestNamespace::create(cp, "pod-rbac-operator")
        .await
        .expect("namespace");
    let (operator, binding) = operator_in(cp, ns.name()).await;
    // The review answers `yes` for what the role does grant, so a `no` below means something.
    assert!(can_i(&operator, "list", "kube-system").await);
    assert!(can_i(&operator, "watch", ns.name()).await);
    for namespace in ["kube-system", ns.name()] {
        for verb in ["patch", "update", "create"] {
            assert!(
                !can_i(&operator, verb, namespace).await,
                "the operator may {verb} pods in {namespace}"
            );
        }
        // RBAC grants delete everywhere (rollouts); the admission policy narrows it.
        assert!(can_i(&operator, "delete", namespace).await);
    }
    // A plain pod, and a pod with a server pod's labels that no StatefulSet controls: the
    // operator's deletions of both are refused by the policy (which the API server may load a
    // moment after it was applied).
    let n = ns.name().to_string();
    let admin = Api::<Pod>::namespaced(cp.client().expect("admin"), &n);
    let mut server_labels = ClusterNames::new("bao").server_pod_labels();
    server_labels.insert("statefulset.kubernetes.io/pod-name".into(), "bao-0".into());
    for (name, labels) in [("plain", BTreeMap::new()), ("bao-0", server_labels)] {
        let pods = Api::<Pod>::namespaced(operator.clone(), &n);
        localcluster::eventually("the pod-delete policy to refuse", SETTLE, || {
            let (admin, pods, labels, n) = (admin.clone(), pods.clone(), labels.clone(), n.clone());
            async move {
                if admin.get_opt(name).await?.is_none() {
                    admin
                        .create(&PostParams::default(), &parked_pod(&n, name, labels))
                        .await?;
                }
                Ok(match pods.delete(name, &DeleteParams::default()).await {
                    Err(kube::Error::Api(status))
                        if status.code == 403
                            && status.message.contains(pod_delete_policy::POLICY)
                            && status.message.contains("managed-server-pods-only:") =>
                    {
                        Some(())
                    }
                    _ => None,
                })
            }
        })
        .await
        .unwrap_or_else(|e| panic!("deleting {name} as the operator: {e}"));
        assert!(
            admin.get_opt(name).await.expect("get").is_some(),
            "{name} is still there"
        );
    }
    remove_binding(cp, &binding).await;
}

#[tokio::test]
async fn the_operator_binds_the_openbao_server_role_but_nothing_else_it_does_not_hold() {
    let cp = control_plane().await;
    let ns = TestNamespace::create(cp, "pod-rbac-bind")
        .await
        .expect("namespace");
    let (operator, binding) = operator_in(cp, ns.name()).await;
    let cluster = fixtures::validated("bao", ns.name(), "version: \"2.7.2\"");
    // What the reconciler applies, as the operator: the one RoleBinding, through `bind`.
    let bindings = Api::<RoleBinding>::namespaced(operator.clone(), ns.name());
    let registration = rbac::registration_role_binding(&cluster);
    assert_eq!(registration.role_ref.name, rbac::SERVER_CLUSTER_ROLE);
    bindings
        .create(&PostParams::default(), &registration)
        .await
        .expect("the operator binds the fixed ClusterRole");

    let escalation = |result: Result<_, kube::Error>, what: &str| match result {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 403, "{what}: {status:?}");
            assert!(
                status
                    .message
                    .contains("attempting to grant RBAC permissions not currently held"),
                "{what}: {}",
                status.message
            );
        }
        other => panic!("{what} was allowed: {other:?}"),
    };
    // `bind` is limited to the one name.
    let mut admin_binding = registration.clone();
    admin_binding.metadata.name = Some("bao-cluster-admin".to_string());
    admin_binding.role_ref.name = "cluster-admin".to_string();
    escalation(
        bindings
            .create(&PostParams::default(), &admin_binding)
            .await
            .map(|_| ()),
        "a RoleBinding to cluster-admin",
    );
    // Nor can it make a Role of its own: it may only read and delete Roles (the
    // `<cluster>-discovery` Role earlier versions made, which the apply stage removes).
    let writable = Role {
        metadata: ObjectMeta {
            name: Some("bao-writable".to_string()),
            ..ObjectMeta::default()
        },
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["pods".to_string()]),
            verbs: vec!["get".to_string(), "patch".to_string()],
            ..PolicyRule::default()
        }]),
    };
    match Api::<Role>::namespaced(operator.clone(), ns.name())
        .create(&PostParams::default(), &writable)
        .await
    {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 403, "{status:?}"),
        other => panic!("the operator created a Role: {other:?}"),
    }
    remove_binding(cp, &binding).await;
}
