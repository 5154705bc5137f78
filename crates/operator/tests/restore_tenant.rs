//! OpenBaoRestore and OpenBaoTenant against a real API server: the operator (run as in the
//! other manager tests, under its own ServiceAccount and the generated RBAC) serves their CRDs,
//! admits them through its webhook, refuses invalid ones with the field path; a restore waits
//! (Pending) for its cluster, an invalid one stored without the webhook fails naming the field,
//! and a tenant, whose machinery is not built, gets the NotImplemented condition (and Valid);
//! neither is written again when nothing changed. Restores that run are in the e2e tests.

#[path = "support/manager.rs"]
mod support;

use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use api::{
    OpenBaoRestore, OpenBaoTenant, RestorePhase,
    conditions::{TENANT_NOT_IMPLEMENTED_MESSAGE, reasons, types},
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{Patch, PatchParams, PostParams},
    core::Status,
};
use operator::{install::controller::RESTORE_WEBHOOK_PATH, manager::Stopped};
use serde_json::{Value, json};
use support::{
    Instance, InstanceSpec, https_client, operator_namespace, until, webhook_ca, webhook_skeleton,
};

/// An operator serving the test namespace, with or without its webhook.
async fn operator(prefix: &str, webhook: bool) -> (localcluster::TestNamespace, Client, Instance) {
    let (ns, admin) = operator_namespace(prefix).await;
    if webhook {
        webhook_skeleton(&admin, ns.name()).await;
    }
    let instance = Instance::start(InstanceSpec {
        namespace: ns.name().to_string(),
        identity: format!("{prefix}-operator"),
        webhook,
    })
    .await;
    (ns, admin, instance)
}

/// An in-place restore of `cluster` in `namespace` (valid unless `cluster` is not a name).
fn restore(name: &str, namespace: &str, cluster: &str) -> OpenBaoRestore {
    serde_json::from_value(json!({
        "apiVersion": "openbao.org/v1alpha1",
        "kind": "OpenBaoRestore",
        "metadata": { "name": name, "namespace": namespace },
        "spec": {
            "cluster": cluster,
            "tokenSecretRef": { "name": "restore-token" },
            "source": {
                "target": {
                    "endpoint": "https://s3.amazonaws.com",
                    "bucket": "openbao-backups",
                    "region": "us-east-1",
                    "credentialsSecretRef": { "name": "s3-credentials" },
                },
                "key": "clusters/bao/2026-01-01-120000.snap",
            },
        },
    }))
    .expect("restore fixture")
}

/// A tenant onboarding its own namespace.
fn tenant(name: &str, namespace: &str) -> OpenBaoTenant {
    serde_json::from_value(json!({
        "apiVersion": "openbao.org/v1alpha1",
        "kind": "OpenBaoTenant",
        "metadata": { "name": name, "namespace": namespace },
        "spec": {
            "targetNamespace": namespace,
            "quota": { "hard": { "count/openbaoclusters.openbao.org": "3" } },
        },
    }))
    .expect("tenant fixture")
}

/// Create `object`, retrying while the webhook is not reachable yet (until the operator patched
/// its CA into the registration, the API server cannot call it and refuses every write).
async fn create_admitted<K>(api: &Api<K>, object: &K) -> K
where
    K: Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    until(&format!("{} to be admitted", object.name_any()), || async {
        match api.create(&PostParams::default(), object).await {
            Ok(created) => Ok(Some(created)),
            Err(kube::Error::Api(status)) if status.message.contains("failed calling webhook") => {
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    })
    .await
}

fn find<'c>(conditions: &'c [Condition], type_: &str) -> Option<&'c Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Wait until the object `name` carries NotImplemented (True, `reason`, `message`) and Valid
/// (`valid`), both observing its current generation, and return it.
async fn until_not_implemented<K>(
    api: &Api<K>,
    name: &str,
    conditions: fn(&K) -> Vec<Condition>,
    reason: &str,
    valid: &str,
) -> K
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    until(&format!("NotImplemented on {name}"), || async {
        let object = api.get(name).await?;
        let generation = object.meta().generation;
        let current = conditions(&object);
        let marked = find(&current, types::NOT_IMPLEMENTED).is_some_and(|c| {
            c.status == "True" && c.reason == reason && c.observed_generation == generation
        }) && find(&current, types::VALID)
            .is_some_and(|c| c.status == valid && c.observed_generation == generation);
        Ok(marked.then_some(object))
    })
    .await
}

/// Wait until restore `name` is in `phase` with a Valid condition of status `valid`.
async fn until_restore_phase(
    api: &Api<OpenBaoRestore>,
    name: &str,
    phase: RestorePhase,
    valid: &str,
) -> OpenBaoRestore {
    until(&format!("{name} {}", phase.as_str()), || async {
        let object = api.get(name).await?;
        let conditions = restore_conditions(&object);
        let reached = object.status.as_ref().and_then(|s| s.phase) == Some(phase)
            && find(&conditions, types::VALID).is_some_and(|c| c.status == valid);
        Ok(reached.then_some(object))
    })
    .await
}

fn restore_conditions(restore: &OpenBaoRestore) -> Vec<Condition> {
    restore
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default()
}

fn tenant_conditions(tenant: &OpenBaoTenant) -> Vec<Condition> {
    tenant
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default()
}

/// Create invalid restores under fresh names until the webhook denies one, and return the
/// denial.
async fn denial_of_invalid_restore(admin: &Client, namespace: &str) -> Status {
    let restores = Api::<OpenBaoRestore>::namespaced(admin.clone(), namespace);
    let attempt = AtomicUsize::new(0);
    until("the webhook to deny an invalid restore", || async {
        let name = format!("invalid-{}", attempt.fetch_add(1, Ordering::SeqCst));
        // The CRD's schema accepts any non-empty cluster name; the webhook wants a DNS-1035
        // label.
        match restores
            .create(
                &PostParams::default(),
                &restore(&name, namespace, "Not_A_Cluster"),
            )
            .await
        {
            Err(kube::Error::Api(status)) if status.message.contains("denied the request") => {
                Ok(Some(*status))
            }
            Err(kube::Error::Api(status)) if status.message.contains("failed calling webhook") => {
                Ok(None)
            }
            Ok(created) => panic!("an invalid restore was admitted: {created:?}"),
            Err(e) => Err(e.into()),
        }
    })
    .await
}

/// Send `review` to the restore webhook's path directly (kube-rs does not surface admission
/// warnings, and the CRD's CEL rules answer some writes before the webhook is asked).
async fn review_restore(instance: &Instance, ca: &str, review: &Value) -> Value {
    let address = instance.addresses.webhook.expect("webhook address");
    https_client(ca)
        .post(format!("https://{address}{RESTORE_WEBHOOK_PATH}"))
        .json(review)
        .send()
        .await
        .expect("review request")
        .json()
        .await
        .expect("review answer")
}

fn admission_review(operation: &str, object: &Value, old: Option<&Value>) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "restore-uid",
            "kind": { "group": "openbao.org", "version": "v1alpha1", "kind": "OpenBaoRestore" },
            "resource": { "group": "openbao.org", "version": "v1alpha1", "resource": "openbaorestores" },
            "operation": operation,
            "name": object["metadata"]["name"],
            "namespace": object["metadata"]["namespace"],
            "object": object,
            "oldObject": old,
        },
    })
}

#[tokio::test]
async fn a_restore_waits_pending_for_its_cluster_and_a_tenant_gets_the_not_implemented_condition() {
    let (ns, admin, instance) = operator("placeholder", true).await;
    let n = ns.name();
    let restores = Api::<OpenBaoRestore>::namespaced(admin.clone(), n);
    let tenants = Api::<OpenBaoTenant>::namespaced(admin.clone(), n);
    create_admitted(&restores, &restore("restore-1", n, "bao")).await;
    create_admitted(&tenants, &tenant("team", n)).await;

    let restored = until_restore_phase(&restores, "restore-1", RestorePhase::Pending, "True").await;
    let message = restored
        .status
        .as_ref()
        .and_then(|s| s.message.clone())
        .unwrap_or_default();
    assert!(
        message.contains("waiting for OpenBaoCluster bao to exist"),
        "{message}"
    );
    let conditions = restore_conditions(&restored);
    assert!(
        find(&conditions, types::NOT_IMPLEMENTED).is_none(),
        "{conditions:?}"
    );
    let valid = find(&conditions, types::VALID).expect("Valid");
    assert_eq!(valid.reason, reasons::SPEC_VALID);

    let onboarded = until_not_implemented(
        &tenants,
        "team",
        tenant_conditions,
        reasons::TENANT_NOT_IMPLEMENTED,
        "True",
    )
    .await;
    let conditions = tenant_conditions(&onboarded);
    let not_implemented = find(&conditions, types::NOT_IMPLEMENTED).expect("NotImplemented");
    assert_eq!(not_implemented.message, TENANT_NOT_IMPLEMENTED_MESSAGE);

    // A tenant's quota may change: the new generation is observed, the transition time kept.
    let quota =
        json!({ "spec": { "quota": { "hard": { "count/openbaoclusters.openbao.org": "5" } } } });
    let changed = tenants
        .patch("team", &PatchParams::default(), &Patch::Merge(&quota))
        .await
        .expect("a quota change is admitted");
    assert_eq!(changed.metadata.generation, Some(2));
    let observed = until_not_implemented(
        &tenants,
        "team",
        tenant_conditions,
        reasons::TENANT_NOT_IMPLEMENTED,
        "True",
    )
    .await;
    let conditions = tenant_conditions(&observed);
    let again = find(&conditions, types::NOT_IMPLEMENTED).expect("NotImplemented");
    assert_eq!(
        again.last_transition_time,
        not_implemented.last_transition_time
    );

    // Once marked, the operator leaves the objects alone: no write on a pass that changes
    // nothing (a hot loop would bump the resourceVersion; the waiting restore is looked at
    // again every 15 seconds and finds nothing new).
    let (restore_version, tenant_version) =
        (restored.resource_version(), observed.resource_version());
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        restores
            .get("restore-1")
            .await
            .expect("restore")
            .resource_version(),
        restore_version
    );
    assert_eq!(
        tenants
            .get("team")
            .await
            .expect("tenant")
            .resource_version(),
        tenant_version
    );
    assert_eq!(instance.stop().await, Ok(Stopped::Shutdown));
}

#[tokio::test]
async fn an_invalid_restore_is_refused_by_the_webhook_with_the_field_path() {
    let (ns, admin, instance) = operator("restore-deny", true).await;
    let n = ns.name();
    let status = denial_of_invalid_restore(&admin, n).await;
    assert!(
        status
            .message
            .contains("admission webhook \"openbaorestores.openbao.org\" denied the request"),
        "{status:?}"
    );
    assert!(
        status.message.contains("is invalid (1 error)"),
        "{status:?}"
    );
    assert!(status.message.contains("spec.cluster"), "{status:?}");
    assert_eq!(status.code, 422, "{status:?}");
    let causes = status.details.map(|d| d.causes).unwrap_or_default();
    assert!(
        causes.iter().any(|c| c.field == "spec.cluster"),
        "{causes:?}"
    );

    // A valid restore is admitted, without warnings.
    let ca = webhook_ca(&admin, n).await;
    let object = serde_json::to_value(restore("restore-1", n, "bao")).expect("json");
    let answer = review_restore(&instance, &ca, &admission_review("CREATE", &object, None)).await;
    assert_eq!(answer["response"]["allowed"], true, "{answer}");
    assert!(
        answer["response"]["warnings"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{answer}"
    );
    assert_eq!(instance.stop().await, Ok(Stopped::Shutdown));
}

#[tokio::test]
async fn a_change_to_a_restores_spec_is_refused() {
    let (ns, admin, instance) = operator("restore-immutable", true).await;
    let n = ns.name();
    let restores = Api::<OpenBaoRestore>::namespaced(admin.clone(), n);
    create_admitted(&restores, &restore("restore-1", n, "bao")).await;

    // The CRD's CEL rule runs before admission webhooks, so either may answer.
    let key = json!({ "spec": { "source": { "key": "clusters/bao/other.snap" } } });
    match restores
        .patch("restore-1", &PatchParams::default(), &Patch::Merge(&key))
        .await
    {
        Err(kube::Error::Api(status)) => {
            assert!(status.message.contains("immutable"), "{status:?}");
            assert_eq!(status.code, 422, "{status:?}");
        }
        other => panic!("a change of the spec is refused, got {other:?}"),
    }
    let stored = restores.get("restore-1").await.expect("restore");
    assert_eq!(
        stored.spec.source.key,
        "clusters/bao/2026-01-01-120000.snap"
    );

    // The webhook's own UPDATE rule, without the CEL rule in front of it: it names the field.
    let ca = webhook_ca(&admin, n).await;
    let old = serde_json::to_value(restore("restore-1", n, "bao")).expect("json");
    let mut new = old.clone();
    new["spec"]["source"]["key"] = json!("clusters/bao/other.snap");
    let answer = review_restore(
        &instance,
        &ca,
        &admission_review("UPDATE", &new, Some(&old)),
    )
    .await;
    assert_eq!(answer["response"]["allowed"], false, "{answer}");
    let causes = answer["response"]["status"]["details"]["causes"]
        .as_array()
        .expect("causes");
    assert!(
        causes.iter().any(|c| c["field"] == "spec.source.key"),
        "{answer}"
    );

    // Labels are not spec: they change.
    let label = json!({ "metadata": { "labels": { "team": "vault" } } });
    restores
        .patch("restore-1", &PatchParams::default(), &Patch::Merge(&label))
        .await
        .expect("a label change is admitted");
    assert_eq!(instance.stop().await, Ok(Stopped::Shutdown));
}

#[tokio::test]
async fn without_the_webhook_an_invalid_restore_is_stored_and_marked_invalid_naming_the_field() {
    let (ns, admin, instance) = operator("restore-no-webhook", false).await;
    let n = ns.name();
    let restores = Api::<OpenBaoRestore>::namespaced(admin.clone(), n);
    restores
        .create(
            &PostParams::default(),
            &restore("restore-1", n, "Not_A_Cluster"),
        )
        .await
        .expect("without the webhook only the CRD schema judges the restore");
    let marked = until_restore_phase(&restores, "restore-1", RestorePhase::Failed, "False").await;
    let message = marked
        .status
        .as_ref()
        .and_then(|s| s.message.clone())
        .unwrap_or_default();
    assert!(message.starts_with("invalid spec: "), "{message}");
    let conditions = restore_conditions(&marked);
    let valid = find(&conditions, types::VALID).expect("Valid");
    assert_eq!(valid.reason, reasons::INVALID_SPEC);
    assert!(valid.message.contains("spec.cluster"), "{valid:?}");
    assert!(valid.message.contains("Not_A_Cluster"), "{valid:?}");
    assert_eq!(instance.stop().await, Ok(Stopped::Shutdown));
}
