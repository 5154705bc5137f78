//! The reconciler against a real API server (etcd, kube-apiserver, kube-controller-manager),
//! with the operator running under its own least-privilege ServiceAccount: children with owner
//! references in the documented order, drift repair, TLS and unseal-key Secrets, status and
//! Events, pause, invalid specs, and every deletion policy. Tests poll with deadlines; none
//! sleeps for a fixed time to wait for the operator.

mod support;

use std::{collections::BTreeMap, time::Duration};

use api::{OpenBaoCluster, Phase};
use k8s_openapi::{
    ByteString,
    api::{
        apps::v1::StatefulSet,
        core::v1::{ConfigMap, Event, PersistentVolumeClaim, Secret, Service, ServiceAccount},
        networking::v1::NetworkPolicy,
        policy::v1::PodDisruptionBudget,
        rbac::v1::{Role, RoleBinding},
    },
};
use kube::{
    Api, Client, ResourceExt,
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams},
};
use operator::pki;
use support::{absent, cluster, create, get, namespace, present, until, until_condition};

fn rv(object: &impl kube::Resource) -> u64 {
    object
        .meta()
        .resource_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .expect("numeric resourceVersion")
}

fn secret_bytes(secret: &Secret, key: &str) -> Vec<u8> {
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| b.0.clone())
        .expect("key present")
}

async fn phase_is(client: &Client, ns: &str, name: &str, phase: Phase) -> OpenBaoCluster {
    let api = Api::<OpenBaoCluster>::namespaced(client.clone(), ns);
    until(&format!("phase {phase:?}"), || {
        let api = api.clone();
        async move {
            let c = api.get(name).await?;
            Ok((c.status.as_ref().and_then(|s| s.phase) == Some(phase)).then_some(c))
        }
    })
    .await
}

#[tokio::test]
async fn a_new_cluster_gets_every_child_with_owner_references_policies_before_the_statefulset() {
    let (ns, client) = namespace("children").await;
    let n = ns.name();
    let created = create(&client, &cluster("bao", n, "version: \"2.7.2\"")).await;
    let uid = created.uid().expect("uid");

    let sts: StatefulSet = present(&client, n, "bao").await;
    let policy: NetworkPolicy = present(&client, n, "bao-network-policy").await;
    let jobs: NetworkPolicy = present(&client, n, "bao-jobs-network-policy").await;
    let config: ConfigMap = present(&client, n, "bao-config").await;
    let headless: Service = present(&client, n, "bao-internal").await;
    let service: Service = present(&client, n, "bao").await;
    let pdb: PodDisruptionBudget = present(&client, n, "bao").await;
    let sa: ServiceAccount = present(&client, n, "bao").await;
    let binding: RoleBinding = present(&client, n, "bao-registration").await;

    let owners = |meta: &kube::api::ObjectMeta| {
        meta.owner_references
            .as_ref()
            .is_some_and(|o| o.iter().any(|r| r.uid == uid && r.controller == Some(true)))
    };
    for (kind, meta) in [
        ("StatefulSet", &sts.metadata),
        ("NetworkPolicy", &policy.metadata),
        ("NetworkPolicy", &jobs.metadata),
        ("ConfigMap", &config.metadata),
        ("Service", &headless.metadata),
        ("Service", &service.metadata),
        ("PodDisruptionBudget", &pdb.metadata),
        ("ServiceAccount", &sa.metadata),
        ("RoleBinding", &binding.metadata),
    ] {
        assert!(
            owners(meta),
            "{kind} {:?} is owned by the cluster",
            meta.name
        );
        assert_eq!(
            meta.labels
                .as_ref()
                .and_then(|l| l.get("app.kubernetes.io/managed-by"))
                .map(String::as_str),
            Some("openbao-operator")
        );
    }
    // NetworkPolicies were written before the StatefulSet: no pod ever ran unprotected.
    assert!(rv(&policy) < rv(&sts) && rv(&jobs) < rv(&sts));
    // The API-server egress rule uses the kubernetes Service's ClusterIP.
    let vip = Api::<Service>::namespaced(client.clone(), "default")
        .get("kubernetes")
        .await
        .expect("kubernetes service")
        .spec
        .and_then(|s| s.cluster_ip)
        .expect("cluster ip");
    let egress = policy.spec.and_then(|s| s.egress).expect("egress");
    assert_eq!(
        egress[0]
            .to
            .as_ref()
            .and_then(|t| t[0].ip_block.as_ref())
            .map(|b| b.cidr.clone()),
        Some(format!("{vip}/32"))
    );
    // Finalizer in place.
    let live = get(&client, n, "bao").await;
    assert!(live.finalizers().iter().any(|f| f == "openbao.org/cleanup"));
}

#[tokio::test]
async fn a_deleted_or_edited_network_policy_is_restored() {
    let (ns, client) = namespace("drift").await;
    let n = ns.name();
    create(&client, &cluster("bao", n, "version: \"2.7.2\"")).await;
    let policies = Api::<NetworkPolicy>::namespaced(client.clone(), n);
    let original: NetworkPolicy = present(&client, n, "bao-network-policy").await;
    let original_ingress = original
        .spec
        .clone()
        .and_then(|s| s.ingress)
        .expect("ingress");

    // Remove the operator's ingress rule by hand.
    policies
        .patch(
            "bao-network-policy",
            &PatchParams::default(),
            &Patch::Json::<()>(
                serde_json::from_value(
                    serde_json::json!([{"op": "remove", "path": "/spec/ingress/0"}]),
                )
                .expect("patch"),
            ),
        )
        .await
        .expect("edit policy");
    until("the removed ingress rule to be restored", || {
        let policies = policies.clone();
        let original_ingress = original_ingress.clone();
        async move {
            let p = policies.get("bao-network-policy").await?;
            Ok((p.spec.and_then(|s| s.ingress) == Some(original_ingress)).then_some(()))
        }
    })
    .await;

    // Delete it outright.
    policies
        .delete("bao-network-policy", &DeleteParams::default())
        .await
        .expect("delete policy");
    until("the deleted policy to be recreated", || {
        let policies = policies.clone();
        let uid = original.uid();
        async move {
            Ok(policies
                .get_opt("bao-network-policy")
                .await?
                .filter(|p| p.uid() != uid)
                .map(|_| ()))
        }
    })
    .await;

    // An edited ConfigMap is restored too.
    let configs = Api::<ConfigMap>::namespaced(client.clone(), n);
    configs
        .patch(
            "bao-config",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"data": {"config.hcl": "ui = true\n"}})),
        )
        .await
        .expect("edit config");
    until("config.hcl to be restored", || {
        let configs = configs.clone();
        async move {
            let cm = configs.get("bao-config").await?;
            let hcl = cm
                .data
                .and_then(|d| d.get("config.hcl").cloned())
                .unwrap_or_default();
            Ok(hcl.contains("storage \"raft\"").then_some(()))
        }
    })
    .await;
}

#[tokio::test]
async fn a_spec_change_updates_the_policy_and_the_statefulset() {
    let (ns, client) = namespace("update").await;
    let n = ns.name();
    create(&client, &cluster("bao", n, "version: \"2.7.2\"")).await;
    let _: StatefulSet = present(&client, n, "bao").await;
    let clusters = Api::<OpenBaoCluster>::namespaced(client.clone(), n);
    clusters
        .patch(
            "bao",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"replicas": 5, "network": {"kubeSystemIngress": false}}})),
        )
        .await
        .expect("patch spec");
    let policies = Api::<NetworkPolicy>::namespaced(client.clone(), n);
    until("the kube-system row to disappear", || {
        let policies = policies.clone();
        async move {
            let p = policies.get("bao-network-policy").await?;
            Ok((p.spec.and_then(|s| s.ingress).map(|i| i.len()) == Some(3)).then_some(()))
        }
    })
    .await;
    let sets = Api::<StatefulSet>::namespaced(client.clone(), n);
    until("the StatefulSet to scale to 5", || {
        let sets = sets.clone();
        async move { Ok((sets.get("bao").await?.spec.replicas == Some(5)).then_some(())) }
    })
    .await;
    // Status is patched after the StatefulSet in the same pass: wait for it, not just the apply.
    until("status to count 5 desired members", || {
        let clusters = clusters.clone();
        async move {
            let c = clusters.get("bao").await?;
            let members = c.status.and_then(|s| s.ready_members).unwrap_or_default();
            Ok(members.ends_with("/5").then_some(()))
        }
    })
    .await;
}

#[tokio::test]
async fn operator_managed_tls_creates_a_ca_and_a_server_certificate_and_renews_without_a_new_ca() {
    let (ns, client) = namespace("tls").await;
    let n = ns.name();
    create(
        &client,
        &cluster(
            "bao",
            n,
            "version: \"2.7.2\"\ntls: {extraSANs: [bao.example.com], rotationPeriod: 2h}",
        ),
    )
    .await;
    let ca: Secret = present(&client, n, "bao-tls-ca").await;
    let server: Secret = present(&client, n, "bao-tls-server").await;
    assert!(
        ca.metadata.owner_references.is_none(),
        "Secrets outlive the cluster (deletionPolicy)"
    );
    let ca_pem = String::from_utf8(secret_bytes(&ca, "ca.crt")).expect("pem");
    let cert_pem = String::from_utf8(secret_bytes(&server, "tls.crt")).expect("pem");
    assert!(pki::issued_by(&cert_pem, &ca_pem));
    assert_eq!(secret_bytes(&server, "ca.crt"), secret_bytes(&ca, "ca.crt"));
    let (from, to) = pki::validity(&cert_pem).expect("validity");
    let lifetime = (to - from).whole_minutes();
    assert!(
        (120..=126).contains(&lifetime),
        "rotationPeriod 2h, got {lifetime} min"
    );

    // Replace the certificate with one that is already due for renewal: the operator reissues
    // it from the same CA.
    let ca_key = String::from_utf8(secret_bytes(&ca, "ca.key")).expect("pem");
    let ca_parsed = pki::Ca {
        cert_pem: ca_pem.clone(),
        key_pem: pki::PrivateKeyPem(ca_key),
    };
    let stale = pki::issue_server_cert(
        &ca_parsed,
        &["bao.example.com".to_string()],
        Duration::from_secs(600),
        time::OffsetDateTime::now_utc() - time::Duration::minutes(9),
    )
    .expect("stale cert");
    let secrets = Api::<Secret>::namespaced(client.clone(), n);
    let mut replaced = server.clone();
    replaced.data = Some(BTreeMap::from([
        (
            "tls.crt".to_string(),
            ByteString(stale.cert_pem.clone().into_bytes()),
        ),
        (
            "tls.key".to_string(),
            ByteString(stale.key_pem.0.into_bytes()),
        ),
        (
            "ca.crt".to_string(),
            ByteString(ca_pem.clone().into_bytes()),
        ),
    ]));
    secrets
        .replace("bao-tls-server", &PostParams::default(), &replaced)
        .await
        .expect("replace cert");
    let renewed = until("the stale certificate to be renewed", || {
        let secrets = secrets.clone();
        let stale = stale.cert_pem.clone();
        async move {
            let s = secrets.get("bao-tls-server").await?;
            let pem = String::from_utf8(secret_bytes(&s, "tls.crt"))?;
            Ok((pem != stale).then_some(pem))
        }
    })
    .await;
    assert!(pki::issued_by(&renewed, &ca_pem));
    let ca_after = secrets.get("bao-tls-ca").await.expect("ca");
    assert_eq!(
        ca_after.uid(),
        ca.uid(),
        "the CA is never regenerated while it exists"
    );
    assert_eq!(
        secret_bytes(&ca_after, "ca.key"),
        secret_bytes(&ca, "ca.key")
    );
}

#[tokio::test]
async fn external_tls_waits_for_a_complete_secret_and_says_what_is_missing() {
    let (ns, client) = namespace("external-tls").await;
    let n = ns.name();
    create(
        &client,
        &cluster(
            "bao",
            n,
            "version: \"2.7.2\"\ntls: {mode: External, externalSecretName: my-certs}",
        ),
    )
    .await;
    let c = until_condition(&client, n, "bao", "Degraded", "True").await;
    let degraded = c
        .status
        .expect("status")
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Degraded")
        .expect("cond");
    assert_eq!(degraded.reason, "TLSSecretInvalid");
    assert!(degraded.message.contains("my-certs") && degraded.message.contains("does not exist"));
    assert!(
        Api::<StatefulSet>::namespaced(client.clone(), n)
            .get_opt("bao")
            .await
            .expect("get")
            .is_none()
    );
    let _: NetworkPolicy = present(&client, n, "bao-network-policy").await;

    let secrets = Api::<Secret>::namespaced(client.clone(), n);
    let mut secret = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some("my-certs".to_string()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(
            "tls.crt".to_string(),
            ByteString(b"x".to_vec()),
        )])),
        ..Secret::default()
    };
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .expect("create partial secret");
    let api = Api::<OpenBaoCluster>::namespaced(client.clone(), n);
    until("the condition to name the missing keys", || {
        let api = api.clone();
        async move {
            let c = api.get("bao").await?;
            let message = c
                .status
                .and_then(|s| s.conditions.into_iter().find(|c| c.type_ == "Degraded"))
                .map(|c| c.message)
                .unwrap_or_default();
            Ok((message.contains("tls.key") && message.contains("ca.crt")).then_some(()))
        }
    })
    .await;
    secret.data = Some(BTreeMap::from([
        ("tls.crt".to_string(), ByteString(b"x".to_vec())),
        ("tls.key".to_string(), ByteString(b"y".to_vec())),
        ("ca.crt".to_string(), ByteString(b"z".to_vec())),
    ]));
    secrets
        .replace("my-certs", &PostParams::default(), &secret)
        .await
        .expect("complete secret");
    let sts: StatefulSet = present(&client, n, "bao").await;
    let volumes = sts
        .spec
        .template
        .spec
        .and_then(|s| s.volumes)
        .expect("volumes");
    let tls = volumes
        .iter()
        .find(|v| v.name == "tls")
        .expect("tls volume");
    assert_eq!(
        tls.secret.as_ref().and_then(|s| s.secret_name.as_deref()),
        Some("my-certs")
    );
    assert!(
        secrets.get_opt("bao-tls-ca").await.expect("get").is_none(),
        "no CA in External mode"
    );
}

#[tokio::test]
async fn the_unseal_key_is_generated_once_and_survives_recreating_the_cluster() {
    let (ns, client) = namespace("unseal").await;
    let n = ns.name();
    create(&client, &cluster("bao", n, "version: \"2.7.2\"")).await;
    let key: Secret = present(&client, n, "bao-unseal-key").await;
    let bytes = secret_bytes(&key, "key");
    assert_eq!(bytes.len(), 32);
    assert_eq!(key.immutable, Some(true));

    let clusters = Api::<OpenBaoCluster>::namespaced(client.clone(), n);
    clusters
        .delete("bao", &DeleteParams::default())
        .await
        .expect("delete");
    until("the cluster to be gone", || {
        let clusters = clusters.clone();
        async move { Ok(clusters.get_opt("bao").await?.is_none().then_some(())) }
    })
    .await;
    create(&client, &cluster("bao", n, "version: \"2.7.2\"")).await;
    let _: StatefulSet = present(&client, n, "bao").await;
    let again = Api::<Secret>::namespaced(client.clone(), n)
        .get("bao-unseal-key")
        .await
        .expect("key");
    assert_eq!(again.uid(), key.uid());
    assert_eq!(
        secret_bytes(&again, "key"),
        bytes,
        "never regenerated while it exists"
    );
}

#[tokio::test]
async fn a_deleted_audit_claim_is_created_again_and_one_someone_else_made_is_never_taken_over() {
    let (ns, client) = namespace("audit-claim").await;
    let n = ns.name();
    let spec = "version: \"2.7.2\"\nreplicas: 1\nauditFileStorage: {mode: ManagedPVC, size: 64Mi}";
    create(&client, &cluster("bao", n, spec)).await;
    let claims = Api::<PersistentVolumeClaim>::namespaced(client.clone(), n);
    let first: PersistentVolumeClaim = present(&client, n, "bao-audit").await;
    // Deleted (no pod uses it here: this control plane has no node): the claims' watch wakes
    // the cluster and the claim is created again.
    claims
        .delete("bao-audit", &DeleteParams::default())
        .await
        .expect("delete the audit claim");
    until("the audit claim to be created again", || {
        let claims = claims.clone();
        let uid = first.uid();
        async move {
            Ok(claims
                .get_opt("bao-audit")
                .await?
                .filter(|c| c.uid() != uid))
        }
    })
    .await;

    // A second cluster whose audit claim name is taken by a claim someone made by hand (no
    // labels): reported as a conflict, and the claim is left as it was.
    let mut foreign = first.clone();
    foreign.metadata = kube::api::ObjectMeta {
        name: Some("other-audit".to_string()),
        ..kube::api::ObjectMeta::default()
    };
    foreign.status = None;
    if let Some(spec) = foreign.spec.as_mut() {
        spec.volume_name = None;
    }
    let made = claims
        .create(&PostParams::default(), &foreign)
        .await
        .expect("a claim made by hand");
    create(&client, &cluster("other", n, spec)).await;
    name_conflict(&client, n, "other").await;
    let after = claims
        .get("other-audit")
        .await
        .expect("the hand-made claim");
    assert_eq!(after.uid(), made.uid());
    assert_eq!(after.resource_version(), made.resource_version());
    assert!(
        Api::<StatefulSet>::namespaced(client.clone(), n)
            .get_opt("other")
            .await
            .expect("get")
            .is_none(),
        "no pods for a cluster whose audit claim belongs to someone else"
    );
}

#[tokio::test]
async fn a_lost_unseal_key_with_data_left_behind_is_reported_not_regenerated() {
    let (ns, client) = namespace("lost-key").await;
    let n = ns.name();
    create(
        &client,
        &cluster("bao", n, "version: \"2.7.2\"\nreplicas: 1"),
    )
    .await;
    let _: Secret = present(&client, n, "bao-unseal-key").await;
    // The StatefulSet controller creates the data volume claim.
    let _: PersistentVolumeClaim = present(&client, n, "data-bao-0").await;
    Api::<Secret>::namespaced(client.clone(), n)
        .delete("bao-unseal-key", &DeleteParams::default())
        .await
        .expect("delete key");
    let c = until("the loss to be reported", || {
        let client = client.clone();
        async move {
            let c = get(&client, n, "bao").await;
            let reported = c.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Degraded" && c.reason == "UnsealKeyMissing")
            });
            Ok(reported.then_some(c))
        }
    })
    .await;
    assert!(
        Api::<Secret>::namespaced(client.clone(), n)
            .get_opt("bao-unseal-key")
            .await
            .expect("get")
            .is_none()
    );
    assert_eq!(c.status.and_then(|s| s.phase), Some(Phase::Pending));
}

#[tokio::test]
async fn an_invalid_spec_that_reaches_the_controller_is_reported_once_without_a_hot_loop() {
    let (ns, client) = namespace("invalid").await;
    let n = ns.name();
    // The schema cannot check CIDRs or port ranges inside NetworkPolicy rules; validate() can.
    let bad = cluster(
        "bao",
        n,
        "version: \"2.7.2\"\nnetwork:\n  ingressRules:\n    - from: [{ipBlock: {cidr: 10.0.0.0/33}}]\n      ports: [{port: 9000, endPort: 8000}]",
    );
    create(&client, &bad).await;
    let c = until_condition(&client, n, "bao", "Valid", "False").await;
    let status = c.status.clone().expect("status");
    assert_eq!(status.phase, Some(Phase::Failed));
    let valid = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Valid")
        .expect("Valid");
    assert!(
        valid
            .message
            .contains("spec.network.ingressRules[0].from[0].ipBlock.cidr"),
        "{}",
        valid.message
    );
    assert!(
        valid
            .message
            .contains("spec.network.ingressRules[0].ports[0].endPort"),
        "{}",
        valid.message
    );
    assert_eq!(valid.observed_generation, c.metadata.generation);
    let events = Api::<Event>::namespaced(client.clone(), n);
    until("an InvalidSpec event", || {
        let events = events.clone();
        async move {
            let list = events.list(&ListParams::default()).await?;
            Ok(list
                .items
                .iter()
                .any(|e| e.reason.as_deref() == Some("InvalidSpec"))
                .then_some(()))
        }
    })
    .await;
    assert!(
        Api::<StatefulSet>::namespaced(client.clone(), n)
            .get_opt("bao")
            .await
            .expect("get")
            .is_none()
    );
    // No hot loop: the object does not change while nobody edits it.
    let before = rv(&get(&client, n, "bao").await);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(rv(&get(&client, n, "bao").await), before);
}

#[tokio::test]
async fn a_paused_cluster_is_left_alone_and_says_paused() {
    let (ns, client) = namespace("paused").await;
    let n = ns.name();
    create(&client, &cluster("bao", n, "version: \"2.7.2\"")).await;
    let _: StatefulSet = present(&client, n, "bao").await;
    let clusters = Api::<OpenBaoCluster>::namespaced(client.clone(), n);
    clusters
        .patch(
            "bao",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"paused": true, "replicas": 5}})),
        )
        .await
        .expect("pause");
    phase_is(&client, n, "bao", Phase::Paused).await;
    let sts = Api::<StatefulSet>::namespaced(client.clone(), n)
        .get("bao")
        .await
        .expect("sts");
    assert_eq!(sts.spec.replicas, Some(3), "nothing changes while paused");
    clusters
        .patch(
            "bao",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"paused": false}})),
        )
        .await
        .expect("resume");
    let sets = Api::<StatefulSet>::namespaced(client.clone(), n);
    until("the StatefulSet to follow after resuming", || {
        let sets = sets.clone();
        async move { Ok((sets.get("bao").await?.spec.replicas == Some(5)).then_some(())) }
    })
    .await;
}

#[tokio::test]
async fn an_enabled_gateway_without_the_gateway_api_degrades_but_reconciles_the_rest() {
    let (ns, client) = namespace("no-gateway-api").await;
    let n = ns.name();
    create(
        &client,
        &cluster("bao", n, "version: \"2.7.2\"\ngateway: {enabled: true, gatewayRef: {name: public, namespace: gateway-system}, hostname: bao.example.com}"),
    )
    .await;
    let c = until_condition(&client, n, "bao", "Degraded", "True").await;
    let degraded = c
        .status
        .expect("status")
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Degraded")
        .expect("cond");
    assert_eq!(degraded.reason, "GatewayAPIMissing");
    let _: StatefulSet = present(&client, n, "bao").await;
    let policy: NetworkPolicy = present(&client, n, "bao-network-policy").await;
    // The gateway's ingress row is still written (it only ever allows its namespace on 8200).
    assert_eq!(
        policy.spec.and_then(|s| s.ingress).map(|i| i.len()),
        Some(5)
    );
}

async fn delete_and_collect(client: &Client, n: &str, policy: &str) -> (usize, Vec<String>) {
    create(
        client,
        &cluster(
            "bao",
            n,
            &format!("version: \"2.7.2\"\nreplicas: 2\ndeletionPolicy: {policy}"),
        ),
    )
    .await;
    let _: Secret = present(client, n, "bao-unseal-key").await;
    let _: PersistentVolumeClaim = present(client, n, "data-bao-0").await;
    let _: PersistentVolumeClaim = present(client, n, "data-bao-1").await;
    Api::<OpenBaoCluster>::namespaced(client.clone(), n)
        .delete("bao", &DeleteParams::default())
        .await
        .expect("delete");
    absent::<OpenBaoCluster>(client, n, "bao").await;
    absent::<StatefulSet>(client, n, "bao").await;
    absent::<NetworkPolicy>(client, n, "bao-network-policy").await;
    let pvcs = Api::<PersistentVolumeClaim>::namespaced(client.clone(), n)
        .list(&ListParams::default())
        .await
        .expect("pvcs")
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .count();
    let secrets = Api::<Secret>::namespaced(client.clone(), n)
        .list(&ListParams::default())
        .await
        .expect("secrets")
        .items
        .into_iter()
        .map(|s| s.name_any())
        .filter(|name| name.starts_with("bao-"))
        .collect();
    (pvcs, secrets)
}

#[tokio::test]
async fn deletion_policy_retain_keeps_volumes_and_secrets() {
    let (ns, client) = namespace("retain").await;
    let (pvcs, mut secrets) = delete_and_collect(&client, ns.name(), "Retain").await;
    secrets.sort();
    assert_eq!(pvcs, 2);
    assert_eq!(secrets, ["bao-tls-ca", "bao-tls-server", "bao-unseal-key"]);
}

#[tokio::test]
async fn deletion_policy_delete_pvcs_deletes_volumes_and_keeps_secrets() {
    let (ns, client) = namespace("delete-pvcs").await;
    let (pvcs, secrets) = delete_and_collect(&client, ns.name(), "DeletePVCs").await;
    assert_eq!(pvcs, 0);
    assert_eq!(secrets.len(), 3);
}

#[tokio::test]
async fn deletion_policy_delete_all_deletes_volumes_and_secrets() {
    let (ns, client) = namespace("delete-all").await;
    let (pvcs, secrets) = delete_and_collect(&client, ns.name(), "DeleteAll").await;
    assert_eq!(pvcs, 0);
    assert!(secrets.is_empty(), "{secrets:?}");
}

#[tokio::test]
async fn status_reports_provisioning_with_observed_generation_and_ready_counts() {
    let (ns, client) = namespace("status").await;
    let n = ns.name();
    create(
        &client,
        &cluster("bao", n, "version: \"2.7.2\"\nreplicas: 3"),
    )
    .await;
    let c = phase_is(&client, n, "bao", Phase::Provisioning).await;
    let status = c.status.expect("status");
    assert_eq!(status.observed_generation, c.metadata.generation);
    assert_eq!(status.ready_members.as_deref(), Some("0/3"));
    for type_ in ["Valid", "Ready", "Progressing", "Degraded"] {
        let condition = status
            .conditions
            .iter()
            .find(|c| c.type_ == type_)
            .unwrap_or_else(|| panic!("{type_}"));
        assert_eq!(
            condition.observed_generation, c.metadata.generation,
            "{type_}"
        );
    }
    // Secrets are never put in status.
    let text = serde_json::to_string(&status).expect("json");
    assert!(!text.contains("PRIVATE KEY") && !text.contains("BEGIN CERTIFICATE"));
}

fn json_patch(ops: serde_json::Value) -> Patch<()> {
    Patch::Json::<()>(serde_json::from_value(ops).expect("a JSON patch"))
}

/// Another field manager's edit, as `kubectl` or a controller of someone else's would make it.
fn intruder() -> PatchParams {
    PatchParams {
        field_manager: Some("intruder".to_string()),
        ..PatchParams::default()
    }
}

#[tokio::test]
async fn fields_another_manager_adds_to_a_policy_or_role_binding_are_removed_within_one_reconcile()
{
    let (ns, client) = namespace("exact-drift").await;
    let n = ns.name();
    create(&client, &cluster("bao", n, "version: \"2.7.2\"")).await;
    let policies = Api::<NetworkPolicy>::namespaced(client.clone(), n);
    let original: NetworkPolicy = present(&client, n, "bao-network-policy").await;
    let rendered = original.spec.clone().expect("spec");

    // An extra matchLabels key makes the policy select nothing (the pods lose their posture);
    // an endPort widens a rule. Both are fields the operator never sets, added by someone else.
    policies
        .patch(
            "bao-network-policy",
            &intruder(),
            &json_patch(serde_json::json!([
                {"op": "add", "path": "/spec/podSelector/matchLabels/intruder", "value": "x"},
                {"op": "add", "path": "/spec/ingress/0/ports/0/endPort", "value": 9000}
            ])),
        )
        .await
        .expect("widen the policy");
    until("the policy to be back to exactly the rendered one", || {
        let policies = policies.clone();
        let rendered = rendered.clone();
        async move {
            let live = policies.get("bao-network-policy").await?;
            Ok((live.spec == Some(rendered)).then_some(()))
        }
    })
    .await;

    // A subject added to the pods' RoleBinding (someone else's ServiceAccount given the pods'
    // permissions) is removed as well.
    let bindings = Api::<RoleBinding>::namespaced(client.clone(), n);
    let binding: RoleBinding = present(&client, n, "bao-registration").await;
    let subjects = binding.subjects.clone();
    bindings
        .patch(
            "bao-registration",
            &intruder(),
            &json_patch(serde_json::json!([
                {"op": "add", "path": "/subjects/-", "value":
                    {"kind": "ServiceAccount", "name": "default", "namespace": n}}
            ])),
        )
        .await
        .expect("widen the RoleBinding");
    until(
        "the RoleBinding to be back to exactly the rendered subjects",
        || {
            let bindings = bindings.clone();
            let subjects = subjects.clone();
            async move {
                Ok((bindings.get("bao-registration").await?.subjects == subjects).then_some(()))
            }
        },
    )
    .await;

    // Comparing whole does not mean rewriting: a pass over objects that match sends no write.
    // Deleting the ConfigMap forces a pass (it is recreated); the security objects, compared
    // earlier in that same pass, keep their resourceVersions.
    let versions = |client: Client| async move {
        let policies = Api::<NetworkPolicy>::namespaced(client.clone(), n)
            .list(&ListParams::default())
            .await
            .expect("policies");
        let roles = Api::<Role>::namespaced(client.clone(), n)
            .list(&ListParams::default())
            .await
            .expect("roles");
        let bindings = Api::<RoleBinding>::namespaced(client.clone(), n)
            .list(&ListParams::default())
            .await
            .expect("bindings");
        let mut all: Vec<(String, Option<String>)> = policies
            .items
            .iter()
            .map(|o| (o.name_any(), o.resource_version()))
            .chain(
                roles
                    .items
                    .iter()
                    .map(|o| (o.name_any(), o.resource_version())),
            )
            .chain(
                bindings
                    .items
                    .iter()
                    .map(|o| (o.name_any(), o.resource_version())),
            )
            .collect();
        all.sort();
        all
    };
    let before = versions(client.clone()).await;
    let configs = Api::<ConfigMap>::namespaced(client.clone(), n);
    let old_config = configs.get("bao-config").await.expect("config");
    configs
        .delete("bao-config", &DeleteParams::default())
        .await
        .expect("delete the ConfigMap");
    until("the ConfigMap to be recreated", || {
        let configs = configs.clone();
        let uid = old_config.uid();
        async move {
            Ok(configs
                .get_opt("bao-config")
                .await?
                .filter(|c| c.uid() != uid))
        }
    })
    .await;
    assert_eq!(
        versions(client.clone()).await,
        before,
        "no policy, Role or RoleBinding was rewritten by a pass in which they matched"
    );
}

#[tokio::test]
async fn the_discovery_role_and_binding_of_earlier_versions_are_removed_and_foreign_ones_kept() {
    let (ns, client) = namespace("legacy-role").await;
    let n = ns.name();
    let created = create(&client, &cluster("bao", n, "version: \"2.7.2\"")).await;
    let _: StatefulSet = present(&client, n, "bao").await;
    // What an earlier operator made per cluster: a Role and its RoleBinding, both
    // `bao-discovery`, labelled and controlled by the cluster.
    let owned = kube::api::ObjectMeta {
        name: Some("bao-discovery".to_string()),
        labels: Some(
            [
                ("app.kubernetes.io/managed-by", "openbao-operator"),
                ("openbao.org/cluster", "bao"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into(),
        ),
        owner_references: Some(vec![
            kube::Resource::controller_owner_ref(&created, &()).expect("owner"),
        ]),
        ..kube::api::ObjectMeta::default()
    };
    let role = |meta: kube::api::ObjectMeta| Role {
        metadata: meta,
        rules: Some(vec![k8s_openapi::api::rbac::v1::PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["pods".to_string()]),
            verbs: vec!["get".to_string(), "list".to_string()],
            ..Default::default()
        }]),
    };
    let binding = |meta: kube::api::ObjectMeta, role: &str| RoleBinding {
        metadata: meta,
        role_ref: k8s_openapi::api::rbac::v1::RoleRef {
            api_group: Some("rbac.authorization.k8s.io".to_string()),
            kind: "Role".to_string(),
            name: role.to_string(),
        },
        subjects: None,
    };
    let roles = Api::<Role>::namespaced(client.clone(), n);
    let bindings = Api::<RoleBinding>::namespaced(client.clone(), n);
    // Someone else's Role and binding of the same kind, not controlled by the cluster.
    let foreign = kube::api::ObjectMeta {
        name: Some("team-discovery".to_string()),
        ..kube::api::ObjectMeta::default()
    };
    for meta in [owned.clone(), foreign.clone()] {
        let name = meta.name.clone().unwrap_or_default();
        roles
            .create(&PostParams::default(), &role(meta.clone()))
            .await
            .expect("role");
        bindings
            .create(&PostParams::default(), &binding(meta, &name))
            .await
            .expect("binding");
    }
    until(
        "the earlier version's Role and RoleBinding to be removed",
        || {
            let (roles, bindings) = (roles.clone(), bindings.clone());
            async move {
                let gone = roles.get_opt("bao-discovery").await?.is_none()
                    && bindings.get_opt("bao-discovery").await?.is_none();
                Ok(gone.then_some(()))
            }
        },
    )
    .await;
    assert!(
        roles
            .get_opt("team-discovery")
            .await
            .expect("get")
            .is_some()
    );
    assert!(
        bindings
            .get_opt("team-discovery")
            .await
            .expect("get")
            .is_some()
    );
    let _: RoleBinding = present(&client, n, "bao-registration").await;
}

#[tokio::test]
async fn a_paused_cluster_still_gets_its_policies_restored() {
    let (ns, client) = namespace("paused-posture").await;
    let n = ns.name();
    create(
        &client,
        &cluster("bao", n, "version: \"2.7.2\"\npaused: true"),
    )
    .await;
    // Paused from the start: no workload, but the posture is in place.
    let original: NetworkPolicy = present(&client, n, "bao-network-policy").await;
    phase_is(&client, n, "bao", Phase::Paused).await;
    let policies = Api::<NetworkPolicy>::namespaced(client.clone(), n);
    policies
        .delete("bao-network-policy", &DeleteParams::default())
        .await
        .expect("delete the policy");
    let recreated: NetworkPolicy = until("the deleted policy to be recreated while paused", || {
        let policies = policies.clone();
        let uid = original.uid();
        async move {
            Ok(policies
                .get_opt("bao-network-policy")
                .await?
                .filter(|p| p.uid() != uid))
        }
    })
    .await;
    assert_eq!(recreated.spec, original.spec);
    policies
        .patch(
            "bao-network-policy",
            &intruder(),
            &json_patch(serde_json::json!([{"op": "remove", "path": "/spec/egress/0"}])),
        )
        .await
        .expect("edit the policy");
    until("the edited policy to be restored while paused", || {
        let policies = policies.clone();
        let spec = original.spec.clone();
        async move { Ok((policies.get("bao-network-policy").await?.spec == spec).then_some(())) }
    })
    .await;
    absent::<StatefulSet>(&client, n, "bao").await;
}

/// Whether `policy` selects pods with `labels` (matchLabels and the NotIn/In expressions the
/// builders use).
fn selects(policy: &NetworkPolicy, labels: &BTreeMap<String, String>) -> bool {
    let Some(selector) = policy.spec.as_ref().and_then(|s| s.pod_selector.as_ref()) else {
        return false;
    };
    let labels_ok = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let expressions_ok = selector.match_expressions.iter().flatten().all(|e| {
        let value = labels.get(&e.key);
        let values = e.values.clone().unwrap_or_default();
        match e.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    labels_ok && expressions_ok
}

/// Every StatefulSet in `ns` runs pods that its own cluster's policy selects.
async fn every_statefulset_is_under_its_own_policy(client: &Client, ns: &str) {
    let sets = Api::<StatefulSet>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .expect("list StatefulSets");
    for set in sets {
        let owner = set.owner_references()[0].clone();
        let names = api::names::ClusterNames::new(&owner.name);
        let policy = Api::<NetworkPolicy>::namespaced(client.clone(), ns)
            .get(&names.network_policy())
            .await
            .expect("the cluster's policy");
        assert_eq!(
            policy.owner_references()[0].uid,
            owner.uid,
            "{} belongs to the cluster whose pods it protects",
            names.network_policy()
        );
        let labels = set
            .spec
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .unwrap_or_default();
        assert!(
            selects(&policy, &labels),
            "{} selects the pods of StatefulSet {}",
            names.network_policy(),
            set.name_any()
        );
    }
}

async fn name_conflict(client: &Client, ns: &str, name: &str) -> OpenBaoCluster {
    let api = Api::<OpenBaoCluster>::namespaced(client.clone(), ns);
    until(&format!("{name} to report NameConflict"), || {
        let api = api.clone();
        async move {
            let c = api.get(name).await?;
            let conflict = c.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.reason == api::conditions::reasons::NAME_CONFLICT)
            });
            Ok(conflict.then_some(c))
        }
    })
    .await
}

#[tokio::test]
async fn colliding_clusters_never_take_over_each_others_objects_in_either_order() {
    for (first, second) in [("x", "x-jobs"), ("y-jobs", "y")] {
        let (ns, client) = namespace("collide").await;
        let n = ns.name();
        create(&client, &cluster(first, n, "version: \"2.7.2\"")).await;
        let _: StatefulSet = present(&client, n, first).await;
        let shared = format!("{}-jobs-network-policy", first.trim_end_matches("-jobs"));
        let before: NetworkPolicy = present(&client, n, &shared).await;
        create(&client, &cluster(second, n, "version: \"2.7.2\"")).await;
        let blocked = name_conflict(&client, n, second).await;
        let message = blocked
            .status
            .expect("status")
            .conditions
            .into_iter()
            .find(|c| c.reason == api::conditions::reasons::NAME_CONFLICT)
            .expect("condition")
            .message;
        assert!(message.contains(&shared), "{message}");
        assert!(
            message.contains(&format!("OpenBaoCluster/{first}")),
            "{message}"
        );
        // The first cluster's object is untouched and its pods stay under their policy; the
        // second cluster gets no pods at all.
        let after: NetworkPolicy = Api::<NetworkPolicy>::namespaced(client.clone(), n)
            .get(&shared)
            .await
            .expect("policy");
        assert_eq!(after.spec, before.spec);
        assert_eq!(after.owner_references(), before.owner_references());
        absent::<StatefulSet>(&client, n, second).await;
        every_statefulset_is_under_its_own_policy(&client, n).await;
        let events = Api::<Event>::namespaced(client.clone(), n)
            .list(&ListParams::default())
            .await
            .expect("events");
        assert!(
            events
                .items
                .iter()
                .any(|e| e.reason.as_deref() == Some("NameConflict")),
            "a NameConflict Event is recorded"
        );
    }
}

#[tokio::test]
async fn a_role_binding_recreated_by_hand_to_point_elsewhere_is_replaced_by_the_rendered_one() {
    let (ns, client) = namespace("rebind").await;
    let n = ns.name();
    create(&client, &cluster("bao", n, "version: \"2.7.2\"")).await;
    let bindings = Api::<RoleBinding>::namespaced(client.clone(), n);
    let rendered: RoleBinding = present(&client, n, "bao-registration").await;
    // roleRef is immutable: someone deletes the binding and recreates it, by hand (no labels,
    // no owner), granting the pods' ServiceAccount the built-in `edit` ClusterRole instead.
    let mut hijacked = rendered.clone();
    hijacked.metadata = kube::api::ObjectMeta {
        name: Some("bao-registration".to_string()),
        ..kube::api::ObjectMeta::default()
    };
    hijacked.role_ref = k8s_openapi::api::rbac::v1::RoleRef {
        api_group: Some("rbac.authorization.k8s.io".to_string()),
        kind: "ClusterRole".to_string(),
        name: "edit".to_string(),
    };
    // The operator may recreate it between the two calls: try until the hijacked one is in.
    let mut hijacked_in = false;
    for _ in 0..20 {
        let _ = bindings
            .delete("bao-registration", &DeleteParams::default())
            .await;
        if bindings
            .create(&PostParams::default(), &hijacked)
            .await
            .is_ok()
        {
            hijacked_in = true;
            break;
        }
    }
    assert!(hijacked_in, "the hand-made binding was created");
    until(
        "the binding to point at the pods' ClusterRole again",
        || {
            let bindings = bindings.clone();
            let role_ref = rendered.role_ref.clone();
            let subjects = rendered.subjects.clone();
            async move {
                let live = bindings.get_opt("bao-registration").await?;
                Ok(live
                    .filter(|b| b.role_ref == role_ref && b.subjects == subjects)
                    .map(|_| ()))
            }
        },
    )
    .await;
}

/// `netpol verify --live` from a workstation, with the control plane's admin kubeconfig.
async fn verify_live(cluster: &str) -> std::process::Output {
    let kubeconfig = support::env().await.admin_kubeconfig_path().to_path_buf();
    std::process::Command::new(env!("CARGO_BIN_EXE_openbao-operator"))
        .args(["netpol", "verify", "--live", "--cluster", cluster])
        .args(["--operator-namespace", support::OPERATOR_NS])
        .env("KUBECONFIG", kubeconfig)
        .output()
        .expect("run openbao-operator netpol verify --live")
}

async fn posture_of(client: &Client, ns: &str) -> api::PostureStatus {
    get(client, ns, "bao")
        .await
        .status
        .and_then(|s| s.posture)
        .expect("status.posture")
}

#[tokio::test]
async fn a_foreign_allow_all_policy_flips_posture_verified_names_it_and_its_removal_flips_it_back()
{
    use api::conditions::{reasons, types};
    let (ns, client) = namespace("posture").await;
    let n = ns.name();
    create(
        &client,
        &cluster("bao", n, "version: \"2.7.2\"\nreplicas: 3"),
    )
    .await;
    let proven = until_condition(&client, n, "bao", types::POSTURE_VERIFIED, "True").await;
    let posture = proven
        .status
        .and_then(|s| s.posture)
        .expect("status.posture");
    assert!(posture.flows_checked > 1000, "{posture:?}");
    assert_eq!(posture.violations, 0);
    assert!(posture.last_verified_time.is_some());

    // A policy for other pods only, with a peer (so a witness joins the proof): still holds.
    let policies = Api::<NetworkPolicy>::namespaced(client.clone(), n);
    let web: NetworkPolicy = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web"},
        "spec": {"podSelector": {"matchLabels": {"app": "web"}},
                 "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}]}]}
    }))
    .expect("policy");
    policies
        .create(&PostParams::default(), &web)
        .await
        .expect("create web policy");
    let before = posture.flows_checked;
    until(
        "the posture to be re-proven with the web policy's witness",
        || {
            let client = client.clone();
            async move {
                let p = posture_of(&client, n).await;
                Ok((p.flows_checked > before).then_some(p))
            }
        },
    )
    .await;
    let cluster_now = get(&client, n, "bao").await;
    let condition = cluster_now
        .status
        .as_ref()
        .and_then(|s| {
            s.conditions
                .iter()
                .find(|c| c.type_ == types::POSTURE_VERIFIED)
        })
        .expect("PostureVerified");
    assert_eq!(condition.status, "True", "{condition:?}");

    // Someone debugging applies an allow-all ingress policy.
    let allow_all: NetworkPolicy = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "allow-all"},
        "spec": {"podSelector": {}, "ingress": [{}], "policyTypes": ["Ingress"]}
    }))
    .expect("policy");
    policies
        .create(&PostParams::default(), &allow_all)
        .await
        .expect("create allow-all");
    let widened = until_condition(&client, n, "bao", types::POSTURE_VERIFIED, "False").await;
    let status = widened.status.expect("status");
    let condition = status
        .conditions
        .iter()
        .find(|c| c.type_ == types::POSTURE_VERIFIED)
        .expect("PostureVerified");
    assert_eq!(condition.reason, reasons::POSTURE_WIDENED);
    assert!(
        condition.message.contains("allow-all"),
        "{}",
        condition.message
    );
    let posture = status.posture.expect("status.posture");
    assert_eq!(posture.offending_policies, vec!["allow-all".to_string()]);
    assert!(posture.violations > 0);
    // Report (the default) does not degrade the cluster for it.
    assert!(
        !status
            .conditions
            .iter()
            .any(|c| c.type_ == types::DEGRADED && c.reason == reasons::POSTURE_WIDENED),
        "{:?}",
        status.conditions
    );
    let events = Api::<Event>::namespaced(client.clone(), n);
    until("a PostureWidened Event naming allow-all", || {
        let events = events.clone();
        async move {
            let list = events.list(&ListParams::default()).await?;
            Ok(list
                .items
                .iter()
                .any(|e| {
                    e.reason.as_deref() == Some(reasons::POSTURE_WIDENED)
                        && e.message
                            .as_deref()
                            .is_some_and(|m| m.contains("allow-all"))
                })
                .then_some(()))
        }
    })
    .await;
    // The operator never touches a policy it does not own.
    let still: NetworkPolicy = policies.get("allow-all").await.expect("allow-all is kept");
    assert_eq!(still.spec, allow_all.spec);
    assert_eq!(still.metadata.generation, Some(1));

    // The same proof from a workstation: exit 1, the policy named.
    let out = verify_live(&format!("{n}/bao")).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("decided by allow-all"), "{stdout}");

    // Block: the violation also degrades the cluster.
    Api::<OpenBaoCluster>::namespaced(client.clone(), n)
        .patch(
            "bao",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"network": {"postureViolations": "Block"}}})),
        )
        .await
        .expect("set Block");
    until("Degraded for the posture under Block", || {
        let client = client.clone();
        async move {
            let c = get(&client, n, "bao").await;
            Ok(c.status
                .is_some_and(|s| {
                    s.conditions.iter().any(|c| {
                        c.type_ == types::DEGRADED
                            && c.status == "True"
                            && c.message.contains("allow-all")
                    })
                })
                .then_some(()))
        }
    })
    .await;

    // Removing it restores the proof.
    policies
        .delete("allow-all", &DeleteParams::default())
        .await
        .expect("delete allow-all");
    let restored = until_condition(&client, n, "bao", types::POSTURE_VERIFIED, "True").await;
    let posture = restored.status.and_then(|s| s.posture).expect("posture");
    assert_eq!(posture.violations, 0);
    assert!(posture.offending_policies.is_empty());
    let out = verify_live(&format!("{n}/bao")).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn a_spec_change_that_rewrites_the_policies_records_the_flows_it_closes_and_explain_names_the_deciding_policy()
 {
    use api::conditions::{reasons, types};
    let (ns, client) = namespace("policy-diff").await;
    let n = ns.name();
    create(
        &client,
        &cluster("bao", n, "version: \"2.7.2\"\nreplicas: 2"),
    )
    .await;
    until_condition(&client, n, "bao", types::POSTURE_VERIFIED, "True").await;
    Api::<OpenBaoCluster>::namespaced(client.clone(), n)
        .patch(
            "bao",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"network": {"kubeSystemIngress": false}}})),
        )
        .await
        .expect("turn kube-system ingress off");
    let events = Api::<Event>::namespaced(client.clone(), n);
    let message = until("a NetworkPolicyUpdated Event listing what closes", || {
        let events = events.clone();
        async move {
            let list = events.list(&ListParams::default()).await?;
            Ok(list.items.into_iter().find_map(|e| {
                (e.reason.as_deref() == Some(reasons::NETWORK_POLICY_UPDATED))
                    .then_some(e.message)
                    .flatten()
            }))
        }
    })
    .await;
    assert!(message.contains("opens: nothing"), "{message}");
    assert!(message.contains("closes: kube-system/"), "{message}");

    // Which live policy decides one flow between the members (pods without a node have no
    // address, which flows between pods do not need).
    let kubeconfig = support::env().await.admin_kubeconfig_path().to_path_buf();
    let members = Api::<k8s_openapi::api::core::v1::Pod>::namespaced(client.clone(), n);
    until("both member pods to exist", || {
        let members = members.clone();
        async move {
            let list = members
                .list(&ListParams::default().labels("openbao.org/cluster=bao"))
                .await?;
            Ok((list.items.len() == 2).then_some(()))
        }
    })
    .await;
    let explain = |port: &'static str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_openbao-operator"))
            .args(["netpol", "explain", "--live"])
            .args([format!("{n}/bao-0"), format!("{n}/bao-1"), port.to_string()])
            .env("KUBECONFIG", &kubeconfig)
            .output()
            .expect("run netpol explain")
    };
    let out = explain("8201");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("allowed"), "{stdout}");
    assert!(
        stdout.contains(&format!("{n}/bao-network-policy")),
        "{stdout}"
    );
    let out = explain("8202");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("denied"), "{stdout}");
}
