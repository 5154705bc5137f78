//! Test environment of the manager tests (`tests/manager.rs`, `tests/webhook.rs`,
//! `tests/namespaced.rs`, `tests/restore_tenant.rs`): the local control plane with the CRDs and the operator's generated RBAC
//! (the reconciler's ClusterRole, or a namespaced install's Roles; the deploy manifests' manager
//! ClusterRole and namespace Role), and operator instances that each run `run_manager` on a
//! thread and runtime of their own, so a test can kill one like a dead process or stop it
//! cleanly.
//!
//! Every test uses its test namespace as both the operator namespace (Lease, webhook Secret)
//! and the only watched namespace, so operators of different tests never meet; the webhook
//! registration of a test is named after its namespace and admits only that namespace.

#![allow(dead_code)]

#[path = "fixtures.rs"]
pub mod fixtures;

#[allow(unused_imports)]
pub use fixtures::cluster;

#[path = "crds.rs"]
mod crds;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use k8s_openapi::{
    api::{
        admissionregistration::v1::ValidatingWebhookConfiguration,
        authentication::v1::{TokenRequest, TokenRequestSpec},
        coordination::v1::Lease,
        core::v1::{Secret, ServiceAccount},
        rbac::v1::{
            ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
        },
    },
    apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement},
};
use kube::{
    Api, Client, ResourceExt,
    api::{ObjectMeta, Patch, PatchParams, PostParams},
};
use localcluster::{ControlPlane, TestNamespace};
use operator::{
    desired::rbac,
    install::{
        controller::{LEADER_LEASE, OPERATOR_NAME, WEBHOOK_CERT_SECRET, WEBHOOK_SERVICE},
        deploy::{self, DeployOptions},
        operator_rbac,
    },
    manager::{Listeners, ManagerOptions, Stopped, leader::LeaseSettings, run_manager},
    telemetry::{Metrics, server::Readiness},
    webhook::{ClientTarget, Registration, WebhookOptions},
};
use tokio::{net::TcpListener, sync::OnceCell, sync::oneshot};

/// The operator's ServiceAccount (in each test's namespace).
pub const OPERATOR_SA: &str = OPERATOR_NAME;
/// Upper bound for anything asynchronous.
pub const SETTLE: Duration = Duration::from_secs(60);
/// Stack of an instance's thread: the 8 MiB of a Linux main thread, where the binary runs the
/// manager.
pub const OPERATOR_THREAD_STACK: usize = 8 << 20;

static ENV: OnceCell<&'static ControlPlane> = OnceCell::const_new();

/// The control plane with the CRDs and the cluster-wide roles installed (once per binary).
pub async fn env() -> &'static ControlPlane {
    ENV.get_or_init(|| async {
        // `RUST_LOG=info cargo test -- --nocapture` shows what the instances do.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let cp = localcluster::shared().await.unwrap_or_else(|e| {
            panic!("the local control plane must start (build it with `bash hack/setup.sh`): {e:#}")
        });
        install(cp).await;
        cp
    })
    .await
}

fn ssa() -> PatchParams {
    PatchParams::apply("manager-tests").force()
}

async fn apply<K>(api: &Api<K>, object: &K)
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let name = object.meta().name.clone().expect("name");
    api.patch(&name, &ssa(), &Patch::Apply(object))
        .await
        .unwrap_or_else(|e| panic!("apply {name}: {e}"));
}

async fn install(cp: &ControlPlane) {
    let client = cp.client().expect("admin client");
    // Every CRD the operator serves: the manager's warm-up lists them all.
    crds::install_crds(&client, "manager-tests").await;
    let roles = Api::<ClusterRole>::all(client);
    let options = DeployOptions::new("unused");
    apply(&roles, &operator_rbac::cluster_role()).await;
    apply(&roles, &deploy::manager_cluster_role(&options)).await;
    apply(&roles, &deploy::metrics_reader_role()).await;
    // What the operator binds per cluster (by `bind`, so it must exist for the grant to mean
    // anything).
    apply(&roles, &rbac::server_cluster_role()).await;
}

fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        ..ObjectMeta::default()
    }
}

/// Bind ClusterRole `role` to ServiceAccount `namespace/account` (binding `<namespace>-<suffix>`).
pub async fn bind_cluster_role(
    client: &Client,
    namespace: &str,
    account: &str,
    role: &str,
    suffix: &str,
) {
    let binding = ClusterRoleBinding {
        metadata: meta(&format!("{namespace}-{suffix}"), None),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".to_string()),
            kind: "ClusterRole".to_string(),
            name: role.to_string(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_string(),
            name: account.to_string(),
            namespace: Some(namespace.to_string()),
            api_group: None,
        }]),
    };
    apply(&Api::<ClusterRoleBinding>::all(client.clone()), &binding).await;
}

/// A ServiceAccount `name` in `namespace`.
pub async fn service_account(client: &Client, namespace: &str, name: &str) {
    let account = ServiceAccount {
        metadata: meta(name, Some(namespace)),
        ..ServiceAccount::default()
    };
    apply(
        &Api::<ServiceAccount>::namespaced(client.clone(), namespace),
        &account,
    )
    .await;
}

/// A fresh namespace that is also an operator namespace: the operator's ServiceAccount with the
/// reconciler's ClusterRole, the manager ClusterRole and the deploy manifests' namespace Role.
pub async fn operator_namespace(prefix: &str) -> (TestNamespace, Client) {
    let cp = env().await;
    let ns = TestNamespace::create(cp, prefix)
        .await
        .expect("test namespace");
    let client = cp.client().expect("admin client");
    let n = ns.name();
    service_account(&client, n, OPERATOR_SA).await;
    let options = DeployOptions::new(n);
    apply(
        &Api::<Role>::namespaced(client.clone(), n),
        &deploy::role(&options),
    )
    .await;
    apply(
        &Api::<RoleBinding>::namespaced(client.clone(), n),
        &deploy::role_binding(&options),
    )
    .await;
    bind_cluster_role(
        &client,
        n,
        OPERATOR_SA,
        operator_rbac::CLUSTER_ROLE,
        "operator",
    )
    .await;
    bind_cluster_role(&client, n, OPERATOR_SA, deploy::MANAGER_ROLE, "manager").await;
    (ns, client)
}

/// A fresh operator namespace for a namespaced install watching `watched` (which must exist):
/// the operator's ServiceAccount, the deploy manifests' namespace Role and manager ClusterRole,
/// and in each watched namespace only the Role and RoleBinding the manifests generate for it.
/// No reconcile ClusterRole is bound.
pub async fn namespaced_operator(prefix: &str, watched: &[&str]) -> (TestNamespace, Client) {
    let cp = env().await;
    let ns = TestNamespace::create(cp, prefix)
        .await
        .expect("test namespace");
    let client = cp.client().expect("admin client");
    let n = ns.name();
    service_account(&client, n, OPERATOR_SA).await;
    let options = DeployOptions {
        watch_namespaces: watched.iter().map(|w| w.to_string()).collect(),
        ..DeployOptions::new(n)
    };
    let manifests = deploy::build(&options);
    assert!(manifests.cluster_role_binding.is_none());
    let roles = |namespace: &str| Api::<Role>::namespaced(client.clone(), namespace);
    let bindings = |namespace: &str| Api::<RoleBinding>::namespaced(client.clone(), namespace);
    apply(&roles(n), &manifests.role).await;
    apply(&bindings(n), &manifests.role_binding).await;
    for grant in &manifests.watched_namespace_grants {
        let namespace = grant.role.metadata.namespace.as_deref().expect("namespace");
        apply(&roles(namespace), &grant.role).await;
        apply(&bindings(namespace), &grant.role_binding).await;
    }
    bind_cluster_role(&client, n, OPERATOR_SA, deploy::MANAGER_ROLE, "manager").await;
    (ns, client)
}

/// What the deploy manifests would create for the webhook, for this test: the skeleton
/// registration (named after the namespace, admitting only it) and a grant on that name, which
/// stands in for the manager ClusterRole's grant on the production name.
pub async fn webhook_skeleton(client: &Client, namespace: &str) {
    let mut skeleton = deploy::webhook_configuration(&DeployOptions::new(namespace));
    skeleton.metadata.name = Some(namespace.to_string());
    for webhook in skeleton.webhooks.iter_mut().flatten() {
        webhook.namespace_selector = Some(only(namespace));
    }
    apply(
        &Api::<ValidatingWebhookConfiguration>::all(client.clone()),
        &skeleton,
    )
    .await;
    let role = ClusterRole {
        metadata: meta(&format!("{namespace}-webhook"), None),
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec!["admissionregistration.k8s.io".to_string()]),
            resources: Some(vec!["validatingwebhookconfigurations".to_string()]),
            resource_names: Some(vec![namespace.to_string()]),
            verbs: ["get", "update", "patch"].map(str::to_string).to_vec(),
            ..PolicyRule::default()
        }]),
        aggregation_rule: None,
    };
    apply(&Api::<ClusterRole>::all(client.clone()), &role).await;
    bind_cluster_role(
        client,
        namespace,
        OPERATOR_SA,
        &format!("{namespace}-webhook"),
        "webhook",
    )
    .await;
}

fn only(namespace: &str) -> LabelSelector {
    LabelSelector {
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: "kubernetes.io/metadata.name".to_string(),
            operator: "In".to_string(),
            values: Some(vec![namespace.to_string()]),
        }]),
        match_labels: None,
    }
}

/// The addresses an instance serves on.
#[derive(Clone, Copy, Debug)]
pub struct Addresses {
    /// `/healthz`, `/readyz`.
    pub health: SocketAddr,
    /// Plain-HTTP `/metrics`.
    pub metrics: SocketAddr,
    /// HTTPS `/metrics`.
    pub secure_metrics: SocketAddr,
    /// The webhook, when enabled.
    pub webhook: Option<SocketAddr>,
}

/// An operator process, simulated by a thread with its own runtime and client.
pub struct Instance {
    /// Its Lease identity.
    pub identity: String,
    /// Where it serves.
    pub addresses: Addresses,
    /// Its metrics.
    pub metrics: Arc<Metrics>,
    /// Its readiness.
    pub readiness: Readiness,
    stop: Option<oneshot::Sender<()>>,
    kill: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Option<Result<Stopped, String>>>>,
}

/// How to start an instance.
#[derive(Clone, Debug)]
pub struct InstanceSpec {
    /// Operator and watched namespace.
    pub namespace: String,
    /// Lease identity.
    pub identity: String,
    /// Serve and register the webhook (registration named after the namespace).
    pub webhook: bool,
}

impl Instance {
    /// Start an instance running as the operator's ServiceAccount of `spec.namespace`, watching
    /// that namespace only.
    pub async fn start(spec: InstanceSpec) -> Instance {
        let watch = vec![spec.namespace.clone()];
        Self::start_watching(spec, watch).await
    }

    /// Like [`Instance::start`], reconciling (and, with the webhook, admitting) clusters in
    /// `watch` (`--watch-namespaces`; empty: every namespace) instead of `spec.namespace`.
    pub async fn start_watching(spec: InstanceSpec, watch: Vec<String>) -> Instance {
        let cp = env().await;
        let metrics = Arc::new(Metrics::new());
        let readiness = Readiness::new();
        let (ready_tx, ready_rx) = oneshot::channel::<Result<Addresses, String>>();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (kill_tx, kill_rx) = oneshot::channel::<()>();
        let (thread_metrics, thread_readiness) = (metrics.clone(), readiness.clone());
        let thread_spec = spec.clone();
        let thread = std::thread::Builder::new()
            .name(format!("operator-{}", spec.identity))
            // The manager's future (and the controllers it polls) runs on this thread, as it
            // runs on the binary's main thread: give it a main thread's stack, not a spawned
            // thread's 2 MiB (a debug build decoding an OpenBaoCluster needs more).
            .stack_size(OPERATOR_THREAD_STACK)
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_stack_size(operator::cli::run::WORKER_STACK_BYTES)
                    .enable_all()
                    .build()
                    .expect("instance runtime");
                let outcome = runtime.block_on(async move {
                    let setup = setup(cp, &thread_spec, &watch).await;
                    let (client, listeners, options, addresses) = match setup {
                        Ok(setup) => setup,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return None;
                        }
                    };
                    let _ = ready_tx.send(Ok(addresses));
                    let run = run_manager(
                        client,
                        options,
                        listeners,
                        thread_metrics,
                        thread_readiness,
                        async {
                            let _ = stop_rx.await;
                        },
                    );
                    tokio::select! {
                        biased;
                        // A crash: the manager is dropped mid-flight and releases nothing.
                        _ = kill_rx => None,
                        result = run => Some(result.map_err(|e| e.to_string())),
                    }
                });
                // Ends every task the instance spawned, closing its sockets like a dead process.
                runtime.shutdown_background();
                outcome
            })
            .expect("spawn instance thread");
        let addresses = ready_rx
            .await
            .expect("instance thread reports")
            .unwrap_or_else(|e| panic!("instance {} cannot start: {e}", spec.identity));
        Instance {
            identity: spec.identity,
            addresses,
            metrics,
            readiness,
            stop: Some(stop_tx),
            kill: Some(kill_tx),
            thread: Some(thread),
        }
    }

    async fn join(&mut self) -> Option<Result<Stopped, String>> {
        let thread = self.thread.take()?;
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .expect("join task")
            .expect("instance thread does not panic")
    }

    /// Request a clean shutdown and wait for it.
    pub async fn stop(mut self) -> Result<Stopped, String> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.join()
            .await
            .expect("a stopped instance reports its outcome")
    }

    /// Kill it like a crashed process: nothing is released.
    pub async fn kill(mut self) {
        if let Some(kill) = self.kill.take() {
            let _ = kill.send(());
        }
        let _ = self.join().await;
    }

    /// `http://<health>/<path>`.
    pub fn health_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addresses.health)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(kill) = self.kill.take() {
            let _ = kill.send(());
        }
    }
}

type Setup = (Client, Listeners, ManagerOptions, Addresses);

async fn setup(cp: &ControlPlane, spec: &InstanceSpec, watch: &[String]) -> Result<Setup, String> {
    let client = cp
        .client_for_service_account(&spec.namespace, OPERATOR_SA)
        .await
        .map_err(|e| format!("operator client: {e:#}"))?;
    let bind = || async {
        TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind: {e}"))
    };
    let listeners = Listeners {
        health: Some(bind().await?),
        metrics: Some(bind().await?),
        secure_metrics: Some(bind().await?),
        webhook: if spec.webhook {
            Some(bind().await?)
        } else {
            None
        },
    };
    let address = |l: &Option<TcpListener>| l.as_ref().and_then(|l| l.local_addr().ok());
    let addresses = Addresses {
        health: address(&listeners.health).ok_or("health address")?,
        metrics: address(&listeners.metrics).ok_or("metrics address")?,
        secure_metrics: address(&listeners.secure_metrics).ok_or("secure metrics address")?,
        webhook: address(&listeners.webhook),
    };
    let ns = spec.namespace.clone();
    let options = ManagerOptions {
        operator_namespace: ns.clone(),
        watch_namespaces: watch.to_vec(),
        service_account: OPERATOR_SA.to_string(),
        job_image: operator::install::deploy::DEFAULT_IMAGE.to_string(),
        health_check_interval: operator::reconcile::status::DEFAULT_HEALTH_CHECK_INTERVAL,
        max_concurrent_reconciles: operator::reconcile::status::DEFAULT_MAX_CONCURRENT_RECONCILES,
        leader_election: Some(LeaseSettings::new(&ns, LEADER_LEASE, &spec.identity)),
        webhook: addresses.webhook.map(|address| WebhookOptions {
            namespace: ns.clone(),
            secret: WEBHOOK_CERT_SECRET.to_string(),
            service: WEBHOOK_SERVICE.to_string(),
            registration: Registration {
                name: ns.clone(),
                target: ClientTarget::Url(format!("https://{address}")),
                watch_namespaces: watch.to_vec(),
            },
        }),
    };
    Ok((client, listeners, options, addresses))
}

/// The Lease's holder (`None`: no Lease, or released).
pub async fn lease_holder(client: &Client, namespace: &str) -> Option<String> {
    Api::<Lease>::namespaced(client.clone(), namespace)
        .get_opt(LEADER_LEASE)
        .await
        .ok()
        .flatten()
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
        .filter(|h| !h.is_empty())
}

/// Wait until `identity` holds the Lease.
pub async fn until_leader(client: &Client, namespace: &str, identity: &str, timeout: Duration) {
    localcluster::eventually(
        &format!("{identity} to hold the lease"),
        timeout,
        || async {
            Ok((lease_holder(client, namespace).await.as_deref() == Some(identity)).then_some(()))
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
}

/// A token of ServiceAccount `namespace/name`.
pub async fn token(client: &Client, namespace: &str, name: &str) -> String {
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(3600),
            ..TokenRequestSpec::default()
        }),
        ..TokenRequest::default()
    };
    Api::<ServiceAccount>::namespaced(client.clone(), namespace)
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .expect("token request")
        .status
        .and_then(|s| s.token)
        .expect("a minted token")
}

fn client_with(tls: rustls::ClientConfig) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client")
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// An HTTP(S) client trusting only `ca_pem`.
pub fn https_client(ca_pem: &str) -> reqwest::Client {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA certificate");
    }
    let tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    client_with(tls)
}

/// An HTTP(S) client that accepts any server certificate: the HTTPS metrics endpoint serves a
/// self-signed one, as Prometheus scrapers with `insecure_skip_verify` see it.
pub fn insecure_client() -> reqwest::Client {
    let tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider())))
        .with_no_client_auth();
    client_with(tls)
}

#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The webhook CA (`ca.crt` of the certificate Secret in `namespace`).
pub async fn webhook_ca(client: &Client, namespace: &str) -> String {
    let secret = Api::<Secret>::namespaced(client.clone(), namespace)
        .get(WEBHOOK_CERT_SECRET)
        .await
        .expect("webhook certificate Secret");
    let data = secret.data.expect("data");
    String::from_utf8(data.get("ca.crt").expect("ca.crt").0.clone()).expect("PEM")
}

/// Poll `check` until it returns `Some`, failing after [`SETTLE`].
pub async fn until<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    localcluster::eventually(what, SETTLE, check)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
}

/// The name of an object, for messages.
pub fn name_of<K: ResourceExt>(object: &K) -> String {
    object.name_any()
}
