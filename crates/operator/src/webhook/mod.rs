//! The validating admission webhook for OpenBaoClusters, OpenBaoRestores and OpenBaoTenants,
//! served on 9443 by every replica:
//!
//! ```text
//! cert::ensure (Secret WEBHOOK_CERT_SECRET)
//!   ├─▶ metadata watch of OpenBaoClusters (own reflectors, one per watched namespace or one
//!   │   for all; waits for their first lists)
//!   ├─▶ tls::serve: POST WEBHOOK_PATH ─────────▶ body ≤ MAX_REVIEW_BYTES ─▶ admission::handle
//!   │               POST RESTORE_WEBHOOK_PATH ─▶ (the same limit)      ─▶ admission::handle_restore
//!   │               POST TENANT_WEBHOOK_PATH ──▶ (the same limit)      ─▶ admission::handle_tenant
//!   │                                     (certificate hot-swappable)
//!   └─▶ configuration::apply: VWC WEBHOOK_CONFIGURATION with the CA bundle
//! every RESYNC: re-read the Secret (rotation by this or another replica), reload the
//! certificate, re-apply the registration
//! ```
//!
//! The registration is applied only once the server accepts connections, because with
//! `failurePolicy: Fail` a registration pointing at nothing would block every OpenBaoCluster
//! write. The webhook keeps its own watch of the clusters' names (standbys serve the webhook
//! too, and only the leader runs the controller's caches): a CREATE whose derived object names
//! collide with another cluster's is refused. The cache can lag a just-created cluster by the
//! watch's latency; two CREATEs racing within that window are not caught.

pub mod admission;
pub mod cert;
pub mod configuration;
pub mod tls;

use std::{future::Future, sync::Arc, time::Duration};

use api::OpenBaoCluster;
use axum::{
    Router,
    body::Bytes,
    extract::{Request, State},
    http::{StatusCode, header::CONTENT_LENGTH},
    response::{IntoResponse, Response},
    routing::post,
};
use futures::StreamExt;
use k8s_openapi::api::{
    admissionregistration::v1::ValidatingWebhookConfiguration, core::v1::Secret,
};
use kube::{
    Api, Client,
    core::PartialObjectMeta,
    runtime::{
        WatchStreamExt,
        reflector::{self, Store, reflector as reflect},
        watcher::{self, watcher},
    },
};
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};
use tracing::{debug, info, warn};

use crate::{
    install::controller::{RESTORE_WEBHOOK_PATH, TENANT_WEBHOOK_PATH, WEBHOOK_PATH},
    telemetry::{
        Metrics,
        server::{Readiness, stopped},
    },
};

pub use configuration::{ClientTarget, Registration};

/// Largest request body read, in bytes (6 MiB); anything larger is answered 413 before it is
/// parsed, and a body declaring more in `Content-Length` before a byte of it is read.
///
/// Why 6 MiB: a review carries the object and, on UPDATE, the stored object. etcd stores at most
/// 1.5 MiB per object (`--max-request-bytes`), so every review of a write that can succeed fits
/// in about 3 MiB plus a few KiB of envelope (user info, options). The API server itself reads
/// request bodies of up to 3 MiB, so a new object can reach 3 MiB before etcd refuses it:
/// 3 + 1.5 MiB plus envelope stays under 6 MiB, and a 413 from here never hides the API server's
/// own, clearer error. What decoding allocates is bounded separately (see
/// [`admission::MAX_ITEMS`]), so the cap only bounds the buffer: one copy of the body.
pub const MAX_REVIEW_BYTES: usize = 6 * 1024 * 1024;
/// How long a request body may take to arrive: longer than the API server waits for an answer
/// (the registration's `timeoutSeconds`, 10 s), so only clients that are not the API server
/// hit it.
const BODY_TIMEOUT: Duration = Duration::from_secs(15);
/// How often the certificate and the registration are checked once serving.
pub const RESYNC: Duration = Duration::from_secs(60);
/// How soon a failed step (reading the Secret, applying the registration) is retried.
const RETRY: Duration = Duration::from_secs(2);

/// How the webhook is served and registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookOptions {
    /// Namespace of the certificate Secret (the operator namespace).
    pub namespace: String,
    /// The certificate Secret.
    pub secret: String,
    /// The webhook Service (its names go into the certificate).
    pub service: String,
    /// The registration.
    pub registration: Registration,
}

impl WebhookOptions {
    /// The names the serving certificate must carry.
    pub fn serving_names(&self) -> Vec<String> {
        let url_host = match &self.registration.target {
            ClientTarget::Url(url) => url_host(url),
            ClientTarget::Service { .. } => None,
        };
        cert::serving_names(&self.service, &self.namespace, url_host.as_deref())
    }
}

/// The host of an `https://host[:port][/path]` URL, without IPv6 brackets.
pub fn url_host(url: &str) -> Option<String> {
    let uri: axum::http::Uri = url.parse().ok()?;
    let host = uri.host()?;
    Some(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
    )
}

/// The names of existing OpenBaoClusters, from the webhook's own metadata-only watches: one
/// store for every namespace, or one per watched namespace. A namespaced install may not list
/// clusters cluster-wide, and one store cannot be fed by several watches (each watch's relist
/// replaces the store's whole content, dropping the other namespaces' clusters).
#[derive(Clone)]
pub struct ClusterStore {
    stores: Vec<Store<PartialObjectMeta<OpenBaoCluster>>>,
}

impl ClusterStore {
    /// The union of `stores`.
    pub fn new(stores: Vec<Store<PartialObjectMeta<OpenBaoCluster>>>) -> Self {
        Self { stores }
    }

    /// Resolves once every store had its first list.
    async fn wait_until_ready(&self) -> Result<(), reflector::store::WriterDropped> {
        futures::future::try_join_all(self.stores.iter().map(Store::wait_until_ready))
            .await
            .map(|_| ())
    }
}

#[derive(Clone)]
struct ReviewState {
    metrics: Arc<Metrics>,
    clusters: ClusterStore,
    operator_namespace: Arc<str>,
}

/// The webhook's routes: `POST WEBHOOK_PATH` (OpenBaoClusters, deciding CREATEs against the
/// clusters in `clusters`), `POST RESTORE_WEBHOOK_PATH` (OpenBaoRestores) and
/// `POST TENANT_WEBHOOK_PATH` (OpenBaoTenants, judged against `operator_namespace`).
pub fn router(metrics: Arc<Metrics>, clusters: ClusterStore, operator_namespace: &str) -> Router {
    Router::new()
        .route(WEBHOOK_PATH, post(review_cluster))
        .route(RESTORE_WEBHOOK_PATH, post(review_restore))
        .route(TENANT_WEBHOOK_PATH, post(review_tenant))
        .with_state(ReviewState {
            metrics,
            clusters,
            operator_namespace: operator_namespace.into(),
        })
}

/// The names of the clusters in `namespace` (a cluster being deleted still owns its objects
/// until its finalizer ran, so it counts).
fn cluster_names(clusters: &ClusterStore, namespace: &str) -> Vec<String> {
    clusters
        .stores
        .iter()
        .flat_map(Store::state)
        .filter(|c| c.metadata.namespace.as_deref() == Some(namespace))
        .filter_map(|c| c.metadata.name.clone())
        .collect()
}

fn too_large(what: String) -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "{what}; the webhook reads AdmissionReviews of at most {MAX_REVIEW_BYTES} bytes \
             ({} MiB), more than any review of a storable object",
            MAX_REVIEW_BYTES >> 20
        ),
    )
        .into_response()
}

/// The request body, refused with 413 once it is known to exceed [`MAX_REVIEW_BYTES`]: from
/// `Content-Length` before reading anything, else (chunked, HTTP/2 without a length) as soon as
/// the bytes read pass the cap, without reading the rest.
///
/// Only bytes that arrived are held: a declared length reserves nothing, so a client declaring
/// 6 MiB and sending one byte costs one byte. The frames are kept as received and joined once
/// at the end (no doubling while growing).
async fn read_body(request: Request) -> Result<Bytes, Response> {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(declared) = declared
        && declared > MAX_REVIEW_BYTES as u64
    {
        return Err(too_large(format!(
            "the request declares a body of {declared} bytes"
        )));
    }
    let mut frames: Vec<Bytes> = Vec::new();
    let mut total = 0usize;
    let mut stream = request.into_body().into_data_stream();
    while let Some(frame) = stream.next().await {
        let frame = frame.map_err(|e| {
            (
                StatusCode::BAD_REQUEST,
                format!("cannot read the request body: {e}"),
            )
                .into_response()
        })?;
        total += frame.len();
        if total > MAX_REVIEW_BYTES {
            return Err(too_large(format!(
                "the request body passed {MAX_REVIEW_BYTES} bytes while being read"
            )));
        }
        frames.push(frame);
    }
    Ok(match frames.len() {
        1 => frames.swap_remove(0),
        _ => Bytes::from(frames.concat()),
    })
}

async fn review_cluster(State(state): State<ReviewState>, request: Request) -> Response {
    review(request, |body| {
        let existing = |namespace: &str| cluster_names(&state.clusters, namespace);
        admission::handle(body, &state.metrics, existing)
    })
    .await
}

async fn review_restore(State(state): State<ReviewState>, request: Request) -> Response {
    review(request, |body| {
        admission::handle_restore(body, &state.metrics)
    })
    .await
}

async fn review_tenant(State(state): State<ReviewState>, request: Request) -> Response {
    review(request, |body| {
        admission::handle_tenant(body, &state.metrics, &state.operator_namespace)
    })
    .await
}

/// Read the body of `request` (bounded in size and time) and answer it with `handle`.
async fn review(
    request: Request,
    handle: impl FnOnce(
        &[u8],
    ) -> Result<(serde_json::Value, admission::Verdict), admission::ReviewError>,
) -> Response {
    // The API server gives up after the registration's timeoutSeconds; a body still
    // arriving after that only holds memory.
    let body = match tokio::time::timeout(BODY_TIMEOUT, read_body(request)).await {
        Ok(Ok(body)) => body,
        Ok(Err(refusal)) => return refusal,
        Err(_) => {
            return (
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {} s",
                    BODY_TIMEOUT.as_secs()
                ),
            )
                .into_response();
        }
    };
    match handle(&body) {
        Ok((answer, verdict)) => {
            debug!(
                allowed = verdict.allowed,
                errors = verdict.causes.len(),
                warnings = verdict.warnings.len(),
                "admission review"
            );
            axum::Json(answer).into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

/// Aborts the task when dropped, so every way out of [`run`] stops the watch.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Start the metadata-only watches of the OpenBaoClusters the webhook admits (each of the
/// registration's namespaces, or all), returning their store and the tasks that feed it.
fn watch_clusters(client: &Client, namespaces: &[String]) -> (ClusterStore, Vec<AbortOnDrop>) {
    let (stores, tasks): (Vec<_>, Vec<_>) = if namespaces.is_empty() {
        vec![watch_clusters_in(client, None)].into_iter().unzip()
    } else {
        namespaces
            .iter()
            .map(|ns| watch_clusters_in(client, Some(ns)))
            .unzip()
    };
    (ClusterStore::new(stores), tasks)
}

/// One metadata-only watch of the OpenBaoClusters in `namespace` (or all), with its own store.
fn watch_clusters_in(
    client: &Client,
    namespace: Option<&str>,
) -> (Store<PartialObjectMeta<OpenBaoCluster>>, AbortOnDrop) {
    // An Api of PartialObjectMeta makes metadata-only requests.
    let api: Api<PartialObjectMeta<OpenBaoCluster>> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let scope = namespace.unwrap_or("every namespace").to_string();
    let (store, writer) = reflector::store();
    let stream = reflect(
        writer,
        watcher(api, watcher::Config::default())
            .default_backoff()
            // Only names are read; managed fields are most of an object's metadata.
            .modify(|c| c.metadata.managed_fields = None),
    );
    let task = tokio::spawn(async move {
        let mut last_error: Option<String> = None;
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(_) => last_error = None,
                Err(e) => {
                    let e = e.to_string();
                    if last_error.as_ref() != Some(&e) {
                        warn!(error = %e, namespace = %scope, "the webhook's watch of OpenBaoClusters failed; retrying");
                        last_error = Some(e);
                    }
                }
            }
        }
    });
    (store, AbortOnDrop(task))
}

/// Why the webhook cannot be served at all (everything else is retried).
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The certificate could not be loaded into rustls.
    #[error("webhook TLS: {0}")]
    Tls(#[from] tls::TlsError),
}

async fn sleep_or_stop(duration: Duration, stop: &mut (impl Future<Output = ()> + Unpin)) -> bool {
    tokio::select! {
        () = tokio::time::sleep(duration) => false,
        () = stop => true,
    }
}

/// Serve the webhook on `listener` and keep its certificate and registration current until
/// `stop` resolves. Flips `readiness`'s webhook gate once serving and registered.
pub async fn run(
    client: Client,
    options: WebhookOptions,
    listener: TcpListener,
    metrics: Arc<Metrics>,
    readiness: Readiness,
    stop: watch::Receiver<bool>,
) -> Result<(), WebhookError> {
    let secrets = Api::<Secret>::namespaced(client.clone(), &options.namespace);
    let registrations = Api::<ValidatingWebhookConfiguration>::all(client.clone());
    let names = options.serving_names();
    let mut stopping = Box::pin(stopped(stop.clone()));

    let mut material = loop {
        match cert::ensure(&secrets, &options.namespace, &options.secret, &names).await {
            Ok(material) => break material,
            Err(e) => warn!(error = %e, "cannot obtain the webhook serving certificate; retrying"),
        }
        if sleep_or_stop(RETRY, &mut stopping).await {
            return Ok(());
        }
    };
    let certificate = Arc::new(tls::ReloadableCert::new(&material.cert, &material.key.0)?);
    let config = tls::server_config(certificate.clone())?;
    // Serving before the first list would admit a colliding CREATE; an unready webhook keeps
    // the pod unready instead, which is visible.
    let (clusters, _watches) = watch_clusters(&client, &options.registration.watch_namespaces);
    tokio::select! {
        ready = clusters.wait_until_ready() => if let Err(e) = ready {
            warn!(error = %e, "the webhook's watch of OpenBaoClusters stopped before its first list");
        },
        () = &mut stopping => return Ok(()),
    }
    info!(address = %crate::telemetry::server::bound(&listener), "serving the admission webhook");
    let server = tokio::spawn(tls::serve(
        listener,
        config,
        router(metrics, clusters, &options.namespace),
        stopped(stop),
    ));

    let mut registered = false;
    loop {
        let now = time::OffsetDateTime::now_utc();
        let configuration =
            configuration::webhook_configuration(&options.registration, &material.ca_bundle(now));
        match configuration::apply(&registrations, &configuration).await {
            Ok(()) => {
                if !registered {
                    info!(configuration = %options.registration.name, "registered the admission webhook");
                }
                registered = true;
                readiness.set_webhook_serving(true);
            }
            Err(e) => warn!(
                configuration = %options.registration.name,
                error = %e,
                "cannot apply the webhook configuration; retrying"
            ),
        }
        let wait = if registered { RESYNC } else { RETRY };
        if sleep_or_stop(wait, &mut stopping).await {
            break;
        }
        // Rotation: this replica renews when due; another replica's renewal is picked up here.
        match cert::ensure(&secrets, &options.namespace, &options.secret, &names).await {
            Ok(current) if current != material => {
                if let Err(e) = certificate.replace(&current.cert, &current.key.0) {
                    warn!(error = %e, "cannot load the renewed webhook certificate; serving the previous one");
                } else {
                    info!("loaded the renewed webhook serving certificate");
                    material = current;
                }
            }
            Ok(_) => {}
            Err(e) => warn!(error = %e, "cannot check the webhook serving certificate"),
        }
    }
    readiness.set_webhook_serving(false);
    // The server stops on the same signal and drains in-flight reviews.
    if let Err(e) = server.await {
        warn!(error = %e, "the webhook server task failed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster_meta(namespace: &str, name: &str) -> PartialObjectMeta<OpenBaoCluster> {
        use kube::core::{ObjectMeta, PartialObjectMetaExt};
        ObjectMeta {
            namespace: Some(namespace.to_string()),
            name: Some(name.to_string()),
            ..ObjectMeta::default()
        }
        .into_request_partial::<OpenBaoCluster>()
    }

    #[test]
    fn the_names_of_a_namespace_come_from_whichever_watched_namespace_store_holds_them() {
        let (a, mut a_writer) = reflector::store();
        let (b, mut b_writer) = reflector::store();
        a_writer.apply_watcher_event(&watcher::Event::Apply(cluster_meta("team-a", "x")));
        a_writer.apply_watcher_event(&watcher::Event::Apply(cluster_meta("team-a", "y")));
        b_writer.apply_watcher_event(&watcher::Event::Apply(cluster_meta("team-b", "x-jobs")));
        let clusters = ClusterStore::new(vec![a, b]);
        let mut names = cluster_names(&clusters, "team-a");
        names.sort();
        assert_eq!(names, ["x", "y"]);
        assert_eq!(cluster_names(&clusters, "team-b"), ["x-jobs"]);
        assert!(cluster_names(&clusters, "elsewhere").is_empty());
    }

    #[test]
    fn url_hosts_lose_their_port_path_and_brackets() {
        assert_eq!(
            url_host("https://127.0.0.1:9443").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(url_host("https://[::1]:9443/x").as_deref(), Some("::1"));
        assert_eq!(
            url_host("https://hook.example.test/").as_deref(),
            Some("hook.example.test")
        );
    }
}
