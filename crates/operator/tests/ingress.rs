//! The managed Ingress on the real API server: created from `spec.ingress`, repaired after a
//! foreign edit, reported by IngressIntegrationReady per its readiness mode, removed when
//! disabled; and never taken over when an object another cluster controls holds its name.

mod support;

use api::{OpenBaoCluster, conditions::reasons, conditions::types};
use k8s_openapi::api::{apps::v1::StatefulSet, networking::v1::Ingress};
use kube::{
    Api, Resource, ResourceExt,
    api::{Patch, PatchParams, PostParams},
};
use support::{absent, cluster, create, namespace, present, until};

const PEERS: &str = "network: {trustedIngressPeers: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}}]}";

fn host_of(ingress: &Ingress) -> Option<String> {
    ingress.spec.as_ref()?.rules.as_ref()?.first()?.host.clone()
}

/// Wait until the cluster's IngressIntegrationReady condition has `reason`.
async fn ingress_condition(client: &kube::Client, ns: &str, reason: &str) -> OpenBaoCluster {
    let api = Api::<OpenBaoCluster>::namespaced(client.clone(), ns);
    until(&format!("IngressIntegrationReady {reason}"), || {
        let api = api.clone();
        async move {
            let c = api.get("bao").await?;
            let found = c.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == types::INGRESS_INTEGRATION_READY && c.reason == reason)
            });
            Ok(found.then_some(c))
        }
    })
    .await
}

#[tokio::test]
async fn an_enabled_ingress_is_created_repaired_reported_ready_and_removed_when_disabled() {
    let (ns, client) = namespace("ingress").await;
    let n = ns.name();
    create(
        &client,
        &cluster(
            "bao",
            n,
            &format!(
                "version: \"2.7.2\"\ningress: {{enabled: true, className: nginx, host: bao.example.com, path: /, annotations: {{nginx.ingress.kubernetes.io/backend-protocol: HTTPS}}}}\n{PEERS}"
            ),
        ),
    )
    .await;
    let ingress: Ingress = present(&client, n, "bao").await;
    assert_eq!(host_of(&ingress).as_deref(), Some("bao.example.com"));
    let spec = ingress.spec.clone().expect("spec");
    assert_eq!(spec.ingress_class_name.as_deref(), Some("nginx"));
    let backend = spec.rules.expect("rules")[0]
        .http
        .clone()
        .expect("http")
        .paths[0]
        .backend
        .service
        .clone()
        .expect("service backend");
    assert_eq!(backend.name, "bao");
    assert_eq!(backend.port.and_then(|p| p.number), Some(8200));
    assert_eq!(
        spec.tls.expect("tls")[0].secret_name.as_deref(),
        Some("bao-tls-server")
    );
    assert_eq!(
        ingress.annotations()["nginx.ingress.kubernetes.io/backend-protocol"],
        "HTTPS"
    );
    // No controller here publishes an address: the default readiness mode waits for one.
    ingress_condition(&client, n, reasons::LOAD_BALANCER_PENDING).await;

    // A foreign edit of the host is repaired.
    let ingresses = Api::<Ingress>::namespaced(client.clone(), n);
    ingresses
        .patch(
            "bao",
            &PatchParams::default(),
            &Patch::Json::<()>(
                serde_json::from_value(serde_json::json!([
                    {"op": "replace", "path": "/spec/rules/0/host", "value": "evil.example.com"}
                ]))
                .expect("patch"),
            ),
        )
        .await
        .expect("edit the Ingress");
    until("the Ingress host to be repaired", || {
        let ingresses = ingresses.clone();
        async move {
            let i = ingresses.get("bao").await?;
            Ok((host_of(&i).as_deref() == Some("bao.example.com")).then_some(()))
        }
    })
    .await;

    // The controller publishing an address makes the Ingress ready.
    ingresses
        .patch_status(
            "bao",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({
                "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}
            })),
        )
        .await
        .expect("publish an address");
    let ready = ingress_condition(&client, n, reasons::LOAD_BALANCER_PUBLISHED).await;
    let condition = ready
        .status
        .expect("status")
        .conditions
        .into_iter()
        .find(|c| c.type_ == types::INGRESS_INTEGRATION_READY)
        .expect("condition");
    assert_eq!(condition.status, "True");
    assert!(
        condition.message.contains("192.0.2.10"),
        "{}",
        condition.message
    );

    Api::<OpenBaoCluster>::namespaced(client.clone(), n)
        .patch(
            "bao",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"ingress": {"enabled": false}}})),
        )
        .await
        .expect("disable the Ingress");
    absent::<Ingress>(&client, n, "bao").await;
    let api = Api::<OpenBaoCluster>::namespaced(client.clone(), n);
    until("the Ingress condition to leave", || {
        let api = api.clone();
        async move {
            let c = api.get("bao").await?;
            let gone = c.status.as_ref().is_some_and(|s| {
                !s.conditions
                    .iter()
                    .any(|c| c.type_ == types::INGRESS_INTEGRATION_READY)
            });
            Ok(gone.then_some(()))
        }
    })
    .await;
}

#[tokio::test]
async fn an_ingress_another_cluster_controls_is_never_taken_over_and_holds_back_the_pods() {
    let (ns, client) = namespace("ingress-owner").await;
    let n = ns.name();
    // A real cluster, so the garbage collector keeps the object it owns.
    let other = create(&client, &cluster("other", n, "version: \"2.7.2\"")).await;
    let owner = other
        .controller_owner_ref(&())
        .expect("the created cluster has a UID");
    let foreign: Ingress = serde_json::from_value(serde_json::json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": "bao",
            "namespace": n,
            "labels": {"app.kubernetes.io/managed-by": "openbao-operator"},
            "ownerReferences": [owner],
        },
        "spec": {"rules": [{"host": "other.example.com", "http": {"paths": [{
            "path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "other", "port": {"number": 8200}}}
        }]}}]}
    }))
    .expect("Ingress");
    let ingresses = Api::<Ingress>::namespaced(client.clone(), n);
    ingresses
        .create(&PostParams::default(), &foreign)
        .await
        .expect("create the foreign Ingress");
    create(
        &client,
        &cluster(
            "bao",
            n,
            &format!(
                "version: \"2.7.2\"\ningress: {{enabled: true, host: bao.example.com}}\n{PEERS}"
            ),
        ),
    )
    .await;
    let api = Api::<OpenBaoCluster>::namespaced(client.clone(), n);
    let message = until("bao to report NameConflict", || {
        let api = api.clone();
        async move {
            let c = api.get("bao").await?;
            let message = c.status.as_ref().and_then(|s| {
                s.conditions
                    .iter()
                    .find(|c| c.reason == reasons::NAME_CONFLICT)
                    .map(|c| c.message.clone())
            });
            Ok(message)
        }
    })
    .await;
    assert!(message.contains("Ingress bao"), "{message}");
    assert!(message.contains("OpenBaoCluster/other"), "{message}");
    let after = ingresses.get("bao").await.expect("the foreign Ingress");
    assert_eq!(host_of(&after).as_deref(), Some("other.example.com"));
    assert_eq!(after.owner_references(), foreign.owner_references());
    assert!(
        Api::<StatefulSet>::namespaced(client.clone(), n)
            .get_opt("bao")
            .await
            .expect("get")
            .is_none(),
        "no pods run while an object of the cluster belongs to someone else"
    );
}
