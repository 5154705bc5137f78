//! The admission webhook called by a real API server: the operator runs as its own
//! ServiceAccount, generates its serving certificate into the Secret, registers itself with a
//! `url` client config on loopback, and the API server's answers carry its verdicts.

#[path = "support/manager.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};

use api::OpenBaoCluster;
use k8s_openapi::{
    api::{admissionregistration::v1::ValidatingWebhookConfiguration, core::v1::Secret},
    apimachinery::pkg::apis::meta::v1::LabelSelector,
};
use kube::{
    Api, Client,
    api::{Patch, PatchParams, PostParams},
    core::Status,
};
use operator::{
    install::{
        controller::{WEBHOOK_CERT_SECRET, WEBHOOK_CONFIGURATION, WEBHOOK_PATH},
        deploy::{self, DeployOptions},
    },
    manager::Stopped,
};
use serde_json::{Value, json};
use support::{
    Instance, InstanceSpec, cluster, https_client, operator_namespace, until, webhook_ca,
    webhook_skeleton,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BAD_RULES: &str = "version: \"2.7.2\"
network:
  ingressRules:
    - from:
        - ipBlock: {cidr: 10.0.0.300/8}
      ports:
        - {port: 9000, endPort: 8000}";
const CIDR_PATH: &str = "spec.network.ingressRules[0].from[0].ipBlock.cidr";
const END_PORT_PATH: &str = "spec.network.ingressRules[0].ports[0].endPort";

/// An operator with the webhook, serving the test namespace.
async fn operator(prefix: &str) -> (localcluster::TestNamespace, Client, Instance) {
    let (ns, admin) = operator_namespace(prefix).await;
    webhook_skeleton(&admin, ns.name()).await;
    let instance = Instance::start(InstanceSpec {
        namespace: ns.name().to_string(),
        identity: format!("{prefix}-operator"),
        webhook: true,
    })
    .await;
    (ns, admin, instance)
}

/// Create invalid clusters under fresh names until the webhook denies one (the API server
/// picks registrations up asynchronously, and until the operator patched the skeleton the call
/// fails for other reasons) and return the denial.
async fn denial_of_invalid_create(admin: &Client, namespace: &str) -> Status {
    let clusters = Api::<OpenBaoCluster>::namespaced(admin.clone(), namespace);
    let attempt = AtomicUsize::new(0);
    until("the webhook to deny an invalid cluster", || async {
        let name = format!("invalid-{}", attempt.fetch_add(1, Ordering::SeqCst));
        match clusters
            .create(
                &PostParams::default(),
                &cluster(&name, namespace, BAD_RULES),
            )
            .await
        {
            Err(kube::Error::Api(status)) if status.message.contains("denied the request") => {
                Ok(Some(*status))
            }
            Ok(_) => Ok(None),
            Err(e) => Err(e.into()),
        }
    })
    .await
}

async fn review(instance: &Instance, ca: &str, review: &Value) -> Value {
    let address = instance.addresses.webhook.expect("webhook address");
    https_client(ca)
        .post(format!("https://{address}{WEBHOOK_PATH}"))
        .json(review)
        .send()
        .await
        .expect("review request (the certificate verifies against the stored CA)")
        .json()
        .await
        .expect("review answer")
}

fn admission_review(operation: &str, object: &Value, old: Option<&Value>) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "test-uid",
            "kind": { "group": "openbao.org", "version": "v1alpha1", "kind": "OpenBaoCluster" },
            "resource": { "group": "openbao.org", "version": "v1alpha1", "resource": "openbaoclusters" },
            "operation": operation,
            "name": object["metadata"]["name"],
            "namespace": object["metadata"]["namespace"],
            "object": object,
            "oldObject": old,
        },
    })
}

#[tokio::test]
async fn the_api_server_denies_an_invalid_cluster_with_every_field_error() {
    let (ns, admin, instance) = operator("deny").await;
    let status = denial_of_invalid_create(&admin, ns.name()).await;
    assert!(
        status
            .message
            .contains("admission webhook \"openbaoclusters.openbao.org\" denied the request"),
        "{status:?}"
    );
    for path in [CIDR_PATH, END_PORT_PATH] {
        assert!(status.message.contains(path), "{path} in {status:?}");
    }
    assert!(
        status.message.contains("is invalid (2 errors)"),
        "{status:?}"
    );
    assert_eq!(status.code, 422, "{status:?}");
    assert_eq!(status.reason, "Invalid", "{status:?}");
    let causes = status
        .details
        .as_ref()
        .map(|d| d.causes.clone())
        .unwrap_or_default();
    for path in [CIDR_PATH, END_PORT_PATH] {
        assert!(
            causes.iter().any(|c| c.field == path),
            "{path} in {causes:?}"
        );
    }
    assert!(
        instance.metrics.encode().contains(
            "openbao_operator_webhook_requests_total{kind=\"OpenBaoCluster\",operation=\"CREATE\",result=\"denied\"}"
        ),
        "denials are counted"
    );
    assert_eq!(instance.stop().await, Ok(Stopped::Shutdown));
}

#[tokio::test]
async fn a_valid_cluster_is_admitted_and_its_risky_settings_come_back_as_warnings() {
    let (ns, admin, instance) = operator("admit").await;
    let n = ns.name();
    denial_of_invalid_create(&admin, n).await;

    let risky = "version: \"2.7.2\"\nreplicas: 1\nnetwork:\n  ingressRules:\n    - from:\n        - ipBlock: {cidr: 0.0.0.0/0}";
    let created = Api::<OpenBaoCluster>::namespaced(admin.clone(), n)
        .create(&PostParams::default(), &cluster("bao", n, risky))
        .await
        .expect("the API server admits a valid cluster");
    assert_eq!(created.metadata.name.as_deref(), Some("bao"));

    // kube-rs does not surface admission warnings, so the same object goes to the endpoint.
    let ca = webhook_ca(&admin, n).await;
    let object = serde_json::to_value(cluster("bao", n, risky)).expect("json");
    let answer = review(&instance, &ca, &admission_review("CREATE", &object, None)).await;
    let response = &answer["response"];
    assert_eq!(response["uid"], "test-uid");
    assert_eq!(response["allowed"], true, "{answer}");
    let warnings: Vec<&str> = response["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for field in [
        "spec.replicas",
        "spec.network.kubeSystemIngress",
        "spec.network.ingressRules[0].from[0].ipBlock.cidr",
    ] {
        assert!(
            warnings.iter().any(|w| w.starts_with(field)),
            "a warning about {field} in {warnings:?}"
        );
    }
    assert!(
        instance.metrics.encode().contains(
            "openbao_operator_webhook_requests_total{kind=\"OpenBaoCluster\",operation=\"CREATE\",result=\"allowed\"}"
        ),
        "admissions are counted"
    );
    assert_eq!(instance.stop().await, Ok(Stopped::Shutdown));
}

#[tokio::test]
async fn updates_that_add_errors_downgrade_or_change_the_storage_class_are_denied_with_their_paths()
{
    let (ns, admin, instance) = operator("update").await;
    let n = ns.name();
    denial_of_invalid_create(&admin, n).await;
    let clusters = Api::<OpenBaoCluster>::namespaced(admin.clone(), n);
    let spec = "version: \"2.7.2\"\nstorage: {storageClassName: standard}";
    clusters
        .create(&PostParams::default(), &cluster("bao", n, spec))
        .await
        .expect("valid cluster");
    let merge = PatchParams::default();

    // A downgrade across a minor version from what the pods run (status.currentVersion, which
    // the object carries into admission) is denied with both versions named.
    clusters
        .patch_status(
            "bao",
            &merge,
            &Patch::Merge(json!({"status": {"currentVersion": "2.7.2"}})),
        )
        .await
        .expect("status");
    let downgrade = json!({ "spec": { "version": "2.6.2" } });
    match clusters
        .patch("bao", &merge, &Patch::Merge(&downgrade))
        .await
    {
        Err(kube::Error::Api(status)) => assert!(
            status.message.contains("spec.version")
                && status.message.contains("downgrade")
                && status.message.contains("2.7.2"),
            "{status:?}"
        ),
        other => panic!("a downgrade is denied, got {other:?}"),
    }

    let bad_rules = json!({ "spec": { "network": { "ingressRules": [{
        "from": [{ "ipBlock": { "cidr": "10.0.0.300/8" } }],
        "ports": [{ "port": 9000, "endPort": 8000 }],
    }]}}});
    match clusters
        .patch("bao", &merge, &Patch::Merge(&bad_rules))
        .await
    {
        Err(kube::Error::Api(status)) => {
            assert!(status.message.contains("denied the request"), "{status:?}");
            assert!(
                status.message.contains(CIDR_PATH) && status.message.contains(END_PORT_PATH),
                "{status:?}"
            );
        }
        other => panic!("an update adding errors is denied, got {other:?}"),
    }

    // The CRD's CEL rule runs before admission webhooks, so either may answer; both name the
    // field.
    let class = json!({ "spec": { "storage": { "storageClassName": "fast" } } });
    match clusters.patch("bao", &merge, &Patch::Merge(&class)).await {
        Err(kube::Error::Api(status)) => assert!(
            status.message.contains("spec.storage.storageClassName"),
            "{status:?}"
        ),
        other => panic!("a storage class change is denied, got {other:?}"),
    }
    // The webhook's own UPDATE rule, without the CEL rule in front of it.
    let ca = webhook_ca(&admin, n).await;
    let old = serde_json::to_value(cluster("bao", n, spec)).expect("json");
    let mut new = old.clone();
    new["spec"]["storage"]["storageClassName"] = json!("fast");
    let answer = review(
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
        causes
            .iter()
            .any(|c| c["field"] == "spec.storage.storageClassName"),
        "{answer}"
    );

    // Metadata-only updates go through.
    let label = json!({ "metadata": { "labels": { "team": "vault" } } });
    clusters
        .patch("bao", &merge, &Patch::Merge(&label))
        .await
        .expect("a label change is admitted");
    assert_eq!(instance.stop().await, Ok(Stopped::Shutdown));
}

#[tokio::test]
async fn the_serving_certificate_is_stored_registered_with_its_ca_and_reused_after_a_restart() {
    let (ns, admin, instance) = operator("certificate").await;
    let n = ns.name();
    denial_of_invalid_create(&admin, n).await;

    let secrets = Api::<Secret>::namespaced(admin.clone(), n);
    let secret = secrets
        .get(WEBHOOK_CERT_SECRET)
        .await
        .expect("certificate Secret");
    assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
    let data = secret.data.clone().expect("data");
    for key in ["ca.crt", "ca.key", "tls.crt", "tls.key"] {
        assert!(data.contains_key(key), "{key}");
    }
    let first_cert = data["tls.crt"].clone();
    let ca = data["ca.crt"].clone();

    let registrations = Api::<ValidatingWebhookConfiguration>::all(admin.clone());
    let registration = registrations.get(n).await.expect("registration");
    let webhook = &registration.webhooks.as_ref().expect("webhooks")[0];
    assert_eq!(webhook.client_config.ca_bundle.as_ref(), Some(&ca));
    let first_address = instance.addresses.webhook.expect("address");
    assert_eq!(
        webhook.client_config.url.as_deref(),
        Some(format!("https://{first_address}{WEBHOOK_PATH}").as_str())
    );
    assert!(webhook.client_config.service.is_none());
    assert_eq!(webhook.failure_policy.as_deref(), Some("Fail"));
    assert_eq!(webhook.side_effects, "None");
    assert_eq!(webhook.timeout_seconds, Some(10));
    assert_eq!(instance.stop().await, Ok(Stopped::Shutdown));

    let restarted = Instance::start(InstanceSpec {
        namespace: n.to_string(),
        identity: "certificate-restarted".to_string(),
        webhook: true,
    })
    .await;
    let address = restarted.addresses.webhook.expect("address");
    let url = format!("https://{address}{WEBHOOK_PATH}");
    until(
        "the registration to follow the restarted operator",
        || async {
            let registration = registrations.get(n).await?;
            let current = registration
                .webhooks
                .and_then(|w| w.into_iter().next())
                .and_then(|w| w.client_config.url);
            Ok((current.as_deref() == Some(url.as_str())).then_some(()))
        },
    )
    .await;
    let secret = secrets
        .get(WEBHOOK_CERT_SECRET)
        .await
        .expect("certificate Secret");
    let data = secret.data.expect("data");
    assert_eq!(
        data["tls.crt"], first_cert,
        "the certificate is reused, not regenerated"
    );
    assert_eq!(data["ca.crt"], ca);
    denial_of_invalid_create(&admin, n).await;
    assert_eq!(restarted.stop().await, Ok(Stopped::Shutdown));
}

/// Kills the child on drop, so a failing test leaves no operator behind.
struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_run_command_registers_a_development_url_and_releases_its_lease_on_sigterm() {
    let (ns, admin) = operator_namespace("cli").await;
    let n = ns.name();
    // The deploy manifests' skeleton under its production name, admitting only this namespace.
    let mut skeleton = deploy::webhook_configuration(&DeployOptions::new(n));
    for webhook in skeleton.webhooks.iter_mut().flatten() {
        webhook.namespace_selector = Some(LabelSelector {
            match_labels: Some([("kubernetes.io/metadata.name".to_string(), n.to_string())].into()),
            match_expressions: None,
        });
    }
    let registrations = Api::<ValidatingWebhookConfiguration>::all(admin.clone());
    registrations
        .patch(
            WEBHOOK_CONFIGURATION,
            &PatchParams::apply("manager-tests").force(),
            &Patch::Apply(&skeleton),
        )
        .await
        .expect("skeleton");
    let kubeconfig = support::env()
        .await
        .kubeconfig_for_service_account(n, support::OPERATOR_SA)
        .await
        .expect("operator kubeconfig");
    // A free port for the webhook: the URL must name it before the process starts.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let logs = tempfile::NamedTempFile::new().expect("log file");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_openbao-operator"))
        .args(["run", "--kubeconfig"])
        .arg(&kubeconfig)
        .args([
            "--operator-namespace",
            n,
            "--watch-namespace",
            n,
            "--pod-name",
            "cli-0",
        ])
        .args(["--health-bind", "127.0.0.1:0", "--metrics-bind", "0"])
        .args(["--secure-metrics-bind", "0"])
        .args(["--webhook-bind", &format!("127.0.0.1:{port}")])
        .args(["--webhook-url", &format!("https://127.0.0.1:{port}")])
        .env("RUST_LOG", "info,kube=warn")
        .stdout(std::process::Stdio::null())
        .stderr(logs.reopen().expect("log file"))
        .spawn()
        .expect("start openbao-operator run");
    let mut child = ChildGuard(child);

    let url = format!("https://127.0.0.1:{port}{WEBHOOK_PATH}");
    until("the registration to name the development URL", || async {
        let registration = registrations.get(WEBHOOK_CONFIGURATION).await?;
        let webhook = registration.webhooks.and_then(|w| w.into_iter().next());
        Ok(webhook
            .filter(|w| {
                w.client_config.url.as_deref() == Some(url.as_str())
                    && w.client_config.service.is_none()
                    && w.client_config.ca_bundle.is_some()
            })
            .map(|_| ()))
    })
    .await;
    let status = denial_of_invalid_create(&admin, n).await;
    assert!(status.message.contains(CIDR_PATH), "{status:?}");
    support::until_leader(&admin, n, "cli-0", support::SETTLE).await;

    let pid = child.0.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill -TERM");
    assert!(sent.success());
    let exit = tokio::task::spawn_blocking(move || {
        let status = child.0.wait();
        (status, child)
    })
    .await
    .expect("wait task")
    .0
    .expect("exit status");
    let log = std::fs::read_to_string(logs.path()).unwrap_or_default();
    assert!(exit.success(), "exit {exit:?}; log:\n{log}");
    assert!(log.contains("released the leader lease"), "{log}");
    assert_eq!(support::lease_holder(&admin, n).await, None, "{log}");
    assert!(!log.contains("PRIVATE KEY"), "no key material in the log");
}

/// A TLS connection to the webhook that trusts only `ca_pem`, for requests an HTTP client
/// would not send (a declared length without the body, a body that never ends).
async fn raw_tls(
    address: std::net::SocketAddr,
    ca_pem: &str,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA certificate");
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect to the webhook");
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(ServerName::IpAddress(address.ip().into()), tcp)
        .await
        .expect("TLS handshake with the webhook")
}

/// Read an HTTP/1.1 response up to the end of the connection (or 64 KiB) and return its status
/// code and text.
async fn read_response<R: tokio::io::AsyncRead + Unpin>(reader: &mut R) -> (u16, String) {
    let mut response = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let read = tokio::time::timeout(support::SETTLE, reader.read(&mut buffer))
            .await
            .unwrap_or_else(|_| panic!("no answer within {:?}", support::SETTLE));
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => response.extend_from_slice(&buffer[..n]),
        }
        if response.len() > 64 * 1024 {
            break;
        }
    }
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP response, got {text:?}"));
    (status, text)
}

const EIGHT_MIB: usize = 8 * 1024 * 1024;

#[tokio::test]
async fn an_eight_mib_review_gets_413_whether_its_length_is_declared_or_streamed() {
    let (ns, admin, instance) = operator("limits").await;
    denial_of_invalid_create(&admin, ns.name()).await;
    let ca = webhook_ca(&admin, ns.name()).await;
    let address = instance.addresses.webhook.expect("webhook address");

    // Declared: the head alone is answered; not one byte of the body is sent.
    let mut stream = raw_tls(address, &ca).await;
    let head = format!(
        "POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {EIGHT_MIB}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("send head");
    stream.flush().await.expect("flush");
    let (status, text) = read_response(&mut stream).await;
    assert_eq!(status, 413, "{text}");
    assert!(
        text.contains(&format!("declares a body of {EIGHT_MIB} bytes")) && text.contains("6 MiB"),
        "{text}"
    );

    // Streamed (chunked, no length): refused once the bytes read pass the cap, while the
    // client is still sending.
    let stream = raw_tls(address, &ca).await;
    let (mut reader, mut writer) = tokio::io::split(stream);
    let sender = tokio::spawn(async move {
        let head = format!(
            "POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\n\r\n"
        );
        writer.write_all(head.as_bytes()).await?;
        let chunk = vec![b' '; 64 * 1024];
        let mut sent = 0;
        while sent < EIGHT_MIB {
            writer
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            writer.write_all(&chunk).await?;
            writer.write_all(b"\r\n").await?;
            sent += chunk.len();
        }
        writer.write_all(b"0\r\n\r\n").await?;
        writer.flush().await?;
        Ok::<_, std::io::Error>(writer)
    });
    let (status, text) = read_response(&mut reader).await;
    assert_eq!(status, 413, "{text}");
    assert!(
        text.contains("passed 6291456 bytes while being read"),
        "{text}"
    );
    sender.abort();
    assert_eq!(instance.stop().await, Ok(Stopped::Shutdown));
}

#[tokio::test]
async fn creating_x_jobs_next_to_x_is_refused_naming_both_clusters_and_the_shared_policy() {
    let (ns, admin, instance) = operator("collide").await;
    let n = ns.name();
    denial_of_invalid_create(&admin, n).await;
    let clusters = Api::<OpenBaoCluster>::namespaced(admin.clone(), n);
    let spec = "version: \"2.7.2\"";
    clusters
        .create(&PostParams::default(), &cluster("x", n, spec))
        .await
        .expect("x is admitted");

    // The webhook's watch sees `x` within its latency; dry runs call the webhook without
    // creating anything, so they can be repeated until it does.
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let status = until("the webhook to refuse x-jobs next to x", || async {
        match clusters.create(&dry_run, &cluster("x-jobs", n, spec)).await {
            Err(kube::Error::Api(status)) if status.message.contains("denied the request") => {
                Ok(Some(*status))
            }
            Ok(_) => Ok(None),
            Err(e) => Err(e.into()),
        }
    })
    .await;
    let refused = match clusters
        .create(&PostParams::default(), &cluster("x-jobs", n, spec))
        .await
    {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("creating x-jobs next to x is refused, got {other:?}"),
    };
    for status in [&status, &refused] {
        for part in [
            format!("OpenBaoCluster {n}/x-jobs is invalid"),
            format!("collides with OpenBaoCluster \"x\" in namespace {n}"),
            "NetworkPolicy \"x-jobs-network-policy\"".to_string(),
            "choose another name".to_string(),
        ] {
            assert!(status.message.contains(&part), "{part:?} in {status:?}");
        }
        let causes = status
            .details
            .as_ref()
            .map(|d| d.causes.clone())
            .unwrap_or_default();
        assert!(
            causes.iter().any(|c| c.field == "metadata.name"),
            "{causes:?}"
        );
    }
    assert!(
        clusters.get_opt("x-jobs").await.expect("get").is_none(),
        "the refused cluster was not created"
    );
    // A name that shares only a prefix derives nothing of x's.
    clusters
        .create(&PostParams::default(), &cluster("x-tls", n, spec))
        .await
        .expect("x-tls collides with nothing and is admitted");
    assert_eq!(instance.stop().await, Ok(Stopped::Shutdown));
}

#[tokio::test]
async fn a_review_whose_body_stops_arriving_is_answered_408_instead_of_holding_the_connection() {
    let (ns, admin, instance) = operator("stall").await;
    denial_of_invalid_create(&admin, ns.name()).await;
    let ca = webhook_ca(&admin, ns.name()).await;
    let address = instance.addresses.webhook.expect("webhook address");
    let mut stream = raw_tls(address, &ca).await;
    // Declares a small body and sends one byte of it.
    let head = format!(
        "POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).await.expect("send head");
    stream.flush().await.expect("flush");
    let started = std::time::Instant::now();
    let (status, text) = read_response(&mut stream).await;
    assert_eq!(status, 408, "{text}");
    assert!(text.contains("did not arrive within 15 s"), "{text}");
    assert!(started.elapsed() >= std::time::Duration::from_secs(14));
    assert_eq!(instance.stop().await, Ok(Stopped::Shutdown));
}
