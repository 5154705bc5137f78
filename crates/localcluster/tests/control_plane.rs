//! The shared control plane behaves like a real cluster: schema validation, controllers,
//! garbage collection, RBAC with minted ServiceAccount credentials, admission webhooks and
//! ValidatingAdmissionPolicy. Every test works in its own namespace.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use anyhow::{Context, Result, bail};
use base64::{Engine, engine::general_purpose::STANDARD};
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, body::Incoming, service::service_fn};
use hyper_util::rt::TokioIo;
use k8s_openapi::{
    api::{
        admissionregistration::v1::{
            ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
            ValidatingWebhookConfiguration,
        },
        apps::v1::StatefulSet,
        core::v1::{ConfigMap, Pod, Secret, ServiceAccount},
        rbac::v1::{Role, RoleBinding},
    },
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
};
use kube::{
    Api, Resource, ResourceExt,
    api::{ApiResource, DeleteParams, DynamicObject, ListParams, PostParams},
};
use localcluster::{TestNamespace, client_from_kubeconfig, eventually, shared};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_rustls::{
    TlsAcceptor,
    rustls::{
        ServerConfig,
        crypto::ring,
        pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
    },
};

/// Upper bound for anything the controllers or the API server do asynchronously.
const SETTLE: Duration = Duration::from_secs(60);

fn from_json<K: DeserializeOwned>(value: Value) -> K {
    serde_json::from_value(value).expect("test fixture matches the Kubernetes type")
}

fn api_error(result: kube::Result<impl std::fmt::Debug>) -> Box<kube::core::Status> {
    match result {
        Err(kube::Error::Api(status)) => status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_custom_resource_violating_its_crd_schema_is_rejected_with_the_reason() -> Result<()> {
    let control_plane = shared().await?;
    let ns = TestNamespace::create(control_plane, "crd-schema").await?;
    let client = control_plane.client()?;
    // One CRD group per test namespace, so parallel runs never share a CRD.
    let group = format!("{}.localcluster.test", ns.name());
    let crd: CustomResourceDefinition = from_json(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": format!("widgets.{group}") },
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": { "kind": "Widget", "plural": "widgets", "singular": "widget",
                       "listKind": "WidgetList" },
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": { "openAPIV3Schema": {
                    "type": "object",
                    "properties": { "spec": {
                        "type": "object",
                        "required": ["replicas"],
                        "properties": { "replicas": { "type": "integer", "minimum": 1 } },
                    }},
                }},
            }],
        },
    }));
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &crd).await?;

    let resource = ApiResource {
        group: group.clone(),
        version: "v1".into(),
        api_version: format!("{group}/v1"),
        kind: "Widget".into(),
        plural: "widgets".into(),
    };
    let widgets: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns.name(), &resource);
    // Established first, then served: the API server takes a moment to route a new resource.
    eventually("the Widget resource to be served", SETTLE, || async {
        Ok(widgets.list(&ListParams::default()).await.ok().map(|_| ()))
    })
    .await?;

    let invalid =
        DynamicObject::new("too-few", &resource).data(json!({ "spec": { "replicas": 0 } }));
    let status = api_error(widgets.create(&PostParams::default(), &invalid).await);
    assert_eq!(status.code, 422, "{status:?}");
    assert_eq!(status.reason, "Invalid", "{status:?}");
    assert!(
        status.message.contains("spec.replicas")
            && status.message.contains("greater than or equal to 1"),
        "the message names the field and the rule: {}",
        status.message
    );

    let valid = DynamicObject::new("enough", &resource).data(json!({ "spec": { "replicas": 3 } }));
    widgets.create(&PostParams::default(), &valid).await?;

    crds.delete(&format!("widgets.{group}"), &DeleteParams::default())
        .await?;
    ns.delete().await
}

#[tokio::test]
async fn a_statefulset_gets_its_pods_from_the_controller_manager() -> Result<()> {
    let control_plane = shared().await?;
    let ns = TestNamespace::create(control_plane, "statefulset").await?;
    let statefulset: StatefulSet = from_json(json!({
        "metadata": { "name": "web" },
        "spec": {
            "replicas": 2,
            "serviceName": "web",
            // No node runs Pods here, so pod 0 never becomes Ready; OrderedReady would stop
            // after it.
            "podManagementPolicy": "Parallel",
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": { "containers": [{ "name": "web", "image": "registry.invalid/web:1" }] },
            },
        },
    }));
    ns.api::<StatefulSet>()
        .create(&PostParams::default(), &statefulset)
        .await?;

    let pods: Api<Pod> = ns.api();
    let names = eventually("two Pods of StatefulSet web", SETTLE, || async {
        let list = pods.list(&ListParams::default().labels("app=web")).await?;
        let mut names: Vec<String> = list
            .items
            .iter()
            .filter(|p| {
                p.owner_references()
                    .iter()
                    .any(|o| o.kind == "StatefulSet" && o.name == "web")
            })
            .map(|p| p.name_any())
            .collect();
        names.sort();
        Ok((names.len() == 2).then_some(names))
    })
    .await?;
    assert_eq!(names, ["web-0", "web-1"]);
    ns.delete().await
}

#[tokio::test]
async fn deleting_an_owner_garbage_collects_its_dependents() -> Result<()> {
    let control_plane = shared().await?;
    let ns = TestNamespace::create(control_plane, "garbage-collection").await?;
    let config_maps: Api<ConfigMap> = ns.api();
    let owner = config_maps
        .create(
            &PostParams::default(),
            &from_json(json!({ "metadata": { "name": "owner" } })),
        )
        .await?;
    let owner_ref = owner
        .controller_owner_ref(&())
        .context("a created object has a uid")?;
    let dependent: Secret = from_json(json!({
        "metadata": { "name": "dependent", "ownerReferences": [owner_ref] },
        "stringData": { "key": "value" },
    }));
    let secrets: Api<Secret> = ns.api();
    secrets.create(&PostParams::default(), &dependent).await?;

    config_maps
        .delete("owner", &DeleteParams::background())
        .await?;
    eventually(
        "Secret dependent to be garbage-collected",
        SETTLE,
        || async { Ok(secrets.get_opt("dependent").await?.is_none().then_some(())) },
    )
    .await?;
    ns.delete().await
}

#[tokio::test]
async fn a_service_account_is_forbidden_without_rbac_and_allowed_with_a_role() -> Result<()> {
    let control_plane = shared().await?;
    let ns = TestNamespace::create(control_plane, "rbac").await?;
    for name in ["reader", "nobody"] {
        let account: ServiceAccount = from_json(json!({ "metadata": { "name": name } }));
        ns.api::<ServiceAccount>()
            .create(&PostParams::default(), &account)
            .await?;
    }
    let role: Role = from_json(json!({
        "metadata": { "name": "configmap-reader" },
        "rules": [{ "apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"] }],
    }));
    ns.api::<Role>()
        .create(&PostParams::default(), &role)
        .await?;
    let binding: RoleBinding = from_json(json!({
        "metadata": { "name": "reader" },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                     "name": "configmap-reader" },
        "subjects": [{ "kind": "ServiceAccount", "name": "reader", "namespace": ns.name() }],
    }));
    ns.api::<RoleBinding>()
        .create(&PostParams::default(), &binding)
        .await?;

    let nobody_kubeconfig = control_plane
        .kubeconfig_for_service_account(ns.name(), "nobody")
        .await?;
    let nobody = client_from_kubeconfig(&nobody_kubeconfig).await?;
    let denied = api_error(
        Api::<ConfigMap>::namespaced(nobody, ns.name())
            .list(&ListParams::default())
            .await,
    );
    assert_eq!(denied.code, 403, "{denied:?}");
    assert!(
        denied
            .message
            .contains(&format!("system:serviceaccount:{}:nobody", ns.name())),
        "the denial names the ServiceAccount: {}",
        denied.message
    );

    let reader_kubeconfig = control_plane
        .kubeconfig_for_service_account(ns.name(), "reader")
        .await?;
    let reader = client_from_kubeconfig(&reader_kubeconfig).await?;
    // The minted kubeconfig defaults to the ServiceAccount's namespace.
    let reader_config_maps: Api<ConfigMap> = Api::default_namespaced(reader.clone());
    eventually("the RoleBinding to take effect", SETTLE, || async {
        Ok(reader_config_maps
            .list(&ListParams::default())
            .await
            .ok()
            .map(|_| ()))
    })
    .await?;
    let secrets_denied = api_error(
        Api::<Secret>::namespaced(reader, ns.name())
            .list(&ListParams::default())
            .await,
    );
    assert_eq!(secrets_denied.code, 403, "the Role grants ConfigMaps only");
    ns.delete().await
}

/// A CA and a serving certificate for 127.0.0.1: what a real webhook deployment has.
fn webhook_tls() -> Result<(String, ServerConfig)> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()])?;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &ca)?;
    let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )?;
    Ok((ca.pem(), config))
}

/// Answers AdmissionReviews: denies objects whose name starts with `denied-`, allows the
/// rest, and counts the calls.
async fn review(
    request: Request<Incoming>,
    calls: Arc<AtomicUsize>,
) -> Result<Response<Full<hyper::body::Bytes>>> {
    calls.fetch_add(1, Ordering::SeqCst);
    let body = request.into_body().collect().await?.to_bytes();
    let review: Value = serde_json::from_slice(&body)?;
    let uid = review["request"]["uid"].clone();
    let name = review["request"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let response = if name.starts_with("denied-") {
        json!({ "uid": uid, "allowed": false, "status": {
            "code": 403,
            "message": format!("the localcluster test webhook denies {name}"),
        }})
    } else {
        json!({ "uid": uid, "allowed": true })
    };
    let answer = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": response,
    });
    Ok(Response::builder()
        .header("content-type", "application/json")
        .body(Full::from(serde_json::to_vec(&answer)?))?)
}

#[tokio::test]
async fn a_validating_webhook_on_loopback_is_called_and_its_denial_reaches_the_client() -> Result<()>
{
    let control_plane = shared().await?;
    let ns = TestNamespace::create(control_plane, "webhook").await?;
    let (ca_pem, tls) = webhook_tls()?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    let calls = Arc::new(AtomicUsize::new(0));
    let server_calls = calls.clone();
    let server = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, calls) = (acceptor.clone(), server_calls.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(move |req| review(req, calls.clone()));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });

    let webhook: ValidatingWebhookConfiguration = from_json(json!({
        "metadata": { "name": ns.name() },
        "webhooks": [{
            "name": "deny.localcluster.test",
            "clientConfig": {
                "url": format!("https://127.0.0.1:{port}/validate"),
                "caBundle": STANDARD.encode(&ca_pem),
            },
            "rules": [{ "apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                        "resources": ["configmaps"] }],
            // Only this test's namespace: the other tests share the API server.
            "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": ns.name() } },
            "failurePolicy": "Fail",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "timeoutSeconds": 5,
        }],
    }));
    let webhooks: Api<ValidatingWebhookConfiguration> = Api::all(control_plane.client()?);
    webhooks.create(&PostParams::default(), &webhook).await?;

    // The API server picks up new webhook configurations asynchronously; until then creates
    // succeed, so each attempt uses a fresh name.
    let config_maps: Api<ConfigMap> = ns.api();
    let attempt = AtomicUsize::new(0);
    let denial = eventually("the webhook to deny a ConfigMap", SETTLE, || async {
        let name = format!("denied-{}", attempt.fetch_add(1, Ordering::SeqCst));
        let config_map: ConfigMap = from_json(json!({ "metadata": { "name": name } }));
        match config_maps
            .create(&PostParams::default(), &config_map)
            .await
        {
            Ok(_) => Ok(None),
            Err(kube::Error::Api(status)) => Ok(Some(status)),
            Err(e) => bail!("creating {name}: {e}"),
        }
    })
    .await?;
    assert!(
        denial
            .message
            .contains("admission webhook \"deny.localcluster.test\" denied the request")
            && denial
                .message
                .contains("the localcluster test webhook denies denied-"),
        "the webhook's message reaches the client: {denial:?}"
    );
    assert_eq!(denial.code, 403, "{denial:?}");

    let allowed: ConfigMap = from_json(json!({ "metadata": { "name": "allowed" } }));
    config_maps.create(&PostParams::default(), &allowed).await?;
    assert!(
        calls.load(Ordering::SeqCst) >= 2,
        "the webhook saw both requests"
    );

    webhooks.delete(ns.name(), &DeleteParams::default()).await?;
    server.abort();
    ns.delete().await
}

#[tokio::test]
async fn a_validating_admission_policy_denies_what_its_cel_expression_rejects() -> Result<()> {
    let control_plane = shared().await?;
    let ns = TestNamespace::create(control_plane, "admission-policy").await?;
    let client = control_plane.client()?;
    let name = ns.name().to_owned();
    let policy: ValidatingAdmissionPolicy = from_json(json!({
        "metadata": { "name": name },
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": { "resourceRules": [{
                "apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                "resources": ["configmaps"],
            }]},
            "validations": [{
                "expression": "!has(object.data) || !('forbidden' in object.data)",
                "message": "ConfigMaps may not carry the key forbidden",
            }],
        },
    }));
    let binding: ValidatingAdmissionPolicyBinding = from_json(json!({
        "metadata": { "name": name },
        "spec": {
            "policyName": name,
            "validationActions": ["Deny"],
            "matchResources": { "namespaceSelector": {
                "matchLabels": { "kubernetes.io/metadata.name": name },
            }},
        },
    }));
    let policies: Api<ValidatingAdmissionPolicy> = Api::all(client.clone());
    let bindings: Api<ValidatingAdmissionPolicyBinding> = Api::all(client);
    policies.create(&PostParams::default(), &policy).await?;
    bindings.create(&PostParams::default(), &binding).await?;

    let config_maps: Api<ConfigMap> = ns.api();
    let attempt = AtomicUsize::new(0);
    let denial = eventually("the policy to deny a ConfigMap", SETTLE, || async {
        let name = format!("bad-{}", attempt.fetch_add(1, Ordering::SeqCst));
        let config_map: ConfigMap =
            from_json(json!({ "metadata": { "name": name }, "data": { "forbidden": "x" } }));
        match config_maps
            .create(&PostParams::default(), &config_map)
            .await
        {
            Ok(_) => Ok(None),
            Err(kube::Error::Api(status)) => Ok(Some(status)),
            Err(e) => bail!("creating {name}: {e}"),
        }
    })
    .await?;
    assert!(
        denial
            .message
            .contains("ConfigMaps may not carry the key forbidden"),
        "{denial:?}"
    );
    let fine: ConfigMap =
        from_json(json!({ "metadata": { "name": "fine" }, "data": { "a": "b" } }));
    config_maps.create(&PostParams::default(), &fine).await?;

    bindings.delete(&name, &DeleteParams::default()).await?;
    policies.delete(&name, &DeleteParams::default()).await?;
    ns.delete().await
}
