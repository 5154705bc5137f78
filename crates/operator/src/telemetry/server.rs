//! The admin servers every replica runs, leader and standby alike:
//!
//! - 8081 `/healthz` (and `/livez`): 200 while the process serves requests (liveness).
//! - 8081 `/readyz`: 200 when [`Readiness`] holds, else 503 naming what is missing.
//! - 8080 `/metrics`: Prometheus metrics over plain HTTP (the controller's NetworkPolicy admits
//!   only monitoring namespaces).
//! - 8443 `/metrics`: the same over HTTPS. Every request is authenticated with a TokenReview of
//!   its bearer token and authorized with a SubjectAccessReview for the non-resource URL
//!   `/metrics`, verb `get`, as controller-runtime's secure metrics filter does: no or unknown
//!   token 401, not permitted 403.
//!
//! Probe routes carry no tracing: kubelets call them every few seconds and the lines would
//! drown everything else.

use std::{
    future::Future,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use axum::{
    Router,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use k8s_openapi::api::{
    authentication::v1::{TokenReview, TokenReviewSpec},
    authorization::v1::{NonResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec},
};
use kube::{Api, Client, api::PostParams};
use rcgen::{CertificateParams, DnType, KeyPair, SanType};
use tokio::{net::TcpListener, sync::watch};
use tracing::warn;

use crate::{
    install::controller::METRICS_SERVICE,
    telemetry::Metrics,
    webhook::tls::{self, ReloadableCert, TlsError},
};

/// Content type of `Metrics::encode` (prometheus-client writes OpenMetrics text).
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The non-resource URL and verb a scraper must be allowed (the metrics-reader ClusterRole).
pub const METRICS_PATH: &str = "/metrics";

/// Whether this replica should receive traffic, shared between the parts that start up and the
/// `/readyz` handler. Starts unready.
///
/// Ready means all of:
/// - **caches**: the first list of every kind the controller watches succeeded in its watch
///   scope, so the CRD is installed, RBAC allows the watches, and the controller's caches can
///   sync the moment it starts;
/// - **webhook**: the admission webhook serves with its certificate and its configuration
///   (with the CA bundle) is registered, or the webhook is disabled;
/// - **controller**, only while this replica holds the leader lease: the reconciler runs;
/// - not **stopping**: shutdown has not begun.
///
/// So a standby is ready when it serves the webhook and could take over at once; the leader is
/// ready when, in addition, it reconciles.
#[derive(Clone, Debug, Default)]
pub struct Readiness(Arc<Gates>);

#[derive(Debug, Default)]
struct Gates {
    caches: AtomicBool,
    webhook: AtomicBool,
    leading: AtomicBool,
    controller: AtomicBool,
    stopping: AtomicBool,
}

impl Readiness {
    /// Nothing ready yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The controller's watches can sync (first lists succeeded).
    pub fn set_caches_synced(&self) {
        self.0.caches.store(true, Ordering::SeqCst);
    }

    /// The webhook serves and is registered (or is disabled).
    pub fn set_webhook_serving(&self, serving: bool) {
        self.0.webhook.store(serving, Ordering::SeqCst);
    }

    /// This replica holds (or lost) the leader lease.
    pub fn set_leading(&self, leading: bool) {
        self.0.leading.store(leading, Ordering::SeqCst);
    }

    /// The reconciler started (or stopped).
    pub fn set_controller_running(&self, running: bool) {
        self.0.controller.store(running, Ordering::SeqCst);
    }

    /// Shutdown has begun: leave the Service endpoints before the servers stop.
    pub fn set_stopping(&self) {
        self.0.stopping.store(true, Ordering::SeqCst);
    }

    /// `Ok` when ready, otherwise what is missing.
    pub fn check(&self) -> Result<(), Vec<&'static str>> {
        let gates = &self.0;
        let mut missing = Vec::new();
        if gates.stopping.load(Ordering::SeqCst) {
            missing.push("shutting down");
        }
        if !gates.caches.load(Ordering::SeqCst) {
            missing.push("caches not synced");
        }
        if !gates.webhook.load(Ordering::SeqCst) {
            missing.push("webhook not serving");
        }
        if gates.leading.load(Ordering::SeqCst) && !gates.controller.load(Ordering::SeqCst) {
            missing.push("leader but controller not running");
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(missing)
        }
    }

    /// Whether [`Readiness::check`] passes.
    pub fn is_ready(&self) -> bool {
        self.check().is_ok()
    }
}

/// `/healthz` and `/readyz`.
pub fn health_router(readiness: Readiness) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(readiness)
}

async fn readyz(State(readiness): State<Readiness>) -> Response {
    match readiness.check() {
        Ok(()) => (StatusCode::OK, "ok").into_response(),
        Err(missing) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}", missing.join("; ")),
        )
            .into_response(),
    }
}

fn metrics_response(metrics: &Metrics) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(METRICS_CONTENT_TYPE),
        )],
        metrics.encode(),
    )
        .into_response()
}

/// Plain-HTTP `/metrics`.
pub fn metrics_router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route(
            METRICS_PATH,
            get(|State(metrics): State<Arc<Metrics>>| async move { metrics_response(&metrics) }),
        )
        .with_state(metrics)
}

/// Serve a plain-HTTP `router` on `listener` until `shutdown` resolves.
pub async fn serve_http(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// The outcome of checking a bearer token for `GET /metrics`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// The token is valid and its user may get `/metrics`.
    Allowed,
    /// The token is unknown, expired or for another audience.
    Unauthenticated,
    /// The token is valid but its user may not get `/metrics`.
    Forbidden {
        /// Who the token belongs to.
        user: String,
    },
}

/// Checks scrapers' tokens with the API server (TokenReview, then SubjectAccessReview).
#[derive(Clone)]
pub struct MetricsAuthorizer {
    client: Client,
}

impl MetricsAuthorizer {
    /// Check tokens with `client` (needs `create` on tokenreviews and subjectaccessreviews).
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Whether `token` may `GET /metrics`. The token is sent only to the API server.
    pub async fn check(&self, token: &str) -> Result<Access, kube::Error> {
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: token.to_string(),
                audiences: None,
            },
            ..TokenReview::default()
        };
        let reviewed = Api::<TokenReview>::all(self.client.clone())
            .create(&PostParams::default(), &review)
            .await?;
        let Some(status) = reviewed.status else {
            return Ok(Access::Unauthenticated);
        };
        let (true, Some(user)) = (status.authenticated == Some(true), status.user) else {
            return Ok(Access::Unauthenticated);
        };
        let username = user.username.clone().unwrap_or_default();
        let access = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: user.username,
                uid: user.uid,
                groups: user.groups,
                extra: user.extra,
                non_resource_attributes: Some(NonResourceAttributes {
                    path: Some(METRICS_PATH.to_string()),
                    verb: Some("get".to_string()),
                }),
                ..SubjectAccessReviewSpec::default()
            },
            ..SubjectAccessReview::default()
        };
        let decided = Api::<SubjectAccessReview>::all(self.client.clone())
            .create(&PostParams::default(), &access)
            .await?;
        if decided.status.is_some_and(|s| s.allowed) {
            Ok(Access::Allowed)
        } else {
            Ok(Access::Forbidden { user: username })
        }
    }
}

#[derive(Clone)]
struct SecureState {
    metrics: Arc<Metrics>,
    authorizer: MetricsAuthorizer,
}

/// `/metrics` behind TokenReview and SubjectAccessReview.
pub fn secure_metrics_router(metrics: Arc<Metrics>, authorizer: MetricsAuthorizer) -> Router {
    Router::new()
        .route(METRICS_PATH, get(secure_metrics))
        .with_state(SecureState {
            metrics,
            authorizer,
        })
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
        "unauthorized: a valid bearer token is required\n",
    )
        .into_response()
}

async fn secure_metrics(State(state): State<SecureState>, headers: HeaderMap) -> Response {
    let Some(token) = bearer_token(&headers) else {
        return unauthorized();
    };
    match state.authorizer.check(token).await {
        Ok(Access::Allowed) => metrics_response(&state.metrics),
        Ok(Access::Unauthenticated) => unauthorized(),
        Ok(Access::Forbidden { user }) => (
            StatusCode::FORBIDDEN,
            format!("forbidden: user {user:?} may not get {METRICS_PATH}\n"),
        )
            .into_response(),
        Err(e) => {
            // The error names the API call, never the token.
            warn!(error = %e, "cannot check a metrics scraper's token");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the authorization check failed\n",
            )
                .into_response()
        }
    }
}

/// A self-signed serving certificate for the HTTPS metrics endpoint, made at start-up and held
/// in memory only: scrapers authenticate the operator by its Service name at most, and a new
/// certificate per process needs no storage or rotation. Returns `(cert_pem, key_pem)`.
pub fn self_signed_metrics_cert(namespace: &str) -> Result<(String, String), rcgen::Error> {
    let names = [
        METRICS_SERVICE.to_string(),
        format!("{METRICS_SERVICE}.{namespace}"),
        format!("{METRICS_SERVICE}.{namespace}.svc"),
        format!("{METRICS_SERVICE}.{namespace}.svc.cluster.local"),
        "localhost".to_string(),
    ];
    let mut params = CertificateParams::default();
    params.distinguished_name.push(
        DnType::CommonName,
        format!("{METRICS_SERVICE}.{namespace}.svc"),
    );
    params.subject_alt_names = names
        .into_iter()
        .map(|n| n.try_into().map(SanType::DnsName))
        .collect::<Result<_, _>>()?;
    params
        .subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::minutes(5);
    params.not_after = now + time::Duration::days(365);
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Why the HTTPS metrics server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SecureMetricsError {
    /// The certificate could not be generated.
    #[error("cannot generate the metrics serving certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// The certificate could not be loaded.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// Serve HTTPS `/metrics` on `listener` until `shutdown` resolves; tokens are checked with
/// `client`.
pub async fn serve_secure_metrics(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    client: Client,
    namespace: &str,
    shutdown: impl Future<Output = ()>,
) -> Result<(), SecureMetricsError> {
    let (cert, key) = self_signed_metrics_cert(namespace)?;
    let config = tls::server_config(Arc::new(ReloadableCert::new(&cert, &key)?))?;
    let router = secure_metrics_router(metrics, MetricsAuthorizer::new(client));
    tls::serve(listener, config, router, shutdown).await;
    Ok(())
}

/// Resolves once `stop` holds `true` (or its sender is gone): the one shutdown signal the
/// manager hands every server.
pub async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// The address a listener is bound to, for log lines (`-` when unknown).
pub fn bound(listener: &TcpListener) -> String {
    listener
        .local_addr()
        .map_or_else(|_| "-".to_string(), |a: SocketAddr| a.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_standby_is_ready_once_synced_and_serving_and_a_leader_also_needs_its_controller() {
        let readiness = Readiness::new();
        assert_eq!(
            readiness.check(),
            Err(vec!["caches not synced", "webhook not serving"])
        );
        readiness.set_caches_synced();
        readiness.set_webhook_serving(true);
        assert!(readiness.is_ready(), "a synced standby serving the webhook");
        readiness.set_leading(true);
        assert_eq!(
            readiness.check(),
            Err(vec!["leader but controller not running"])
        );
        readiness.set_controller_running(true);
        assert!(readiness.is_ready());
        readiness.set_stopping();
        assert_eq!(readiness.check(), Err(vec!["shutting down"]));
    }

    #[test]
    fn only_a_non_empty_bearer_token_is_taken_from_the_authorization_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer_token(&headers), None);
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(bearer_token(&headers), Some("abc"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  xyz "),
        );
        assert_eq!(bearer_token(&headers), Some("xyz"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer_token(&headers), None);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer_token(&headers), None);
    }

    #[test]
    fn the_metrics_certificate_names_the_metrics_service_and_loopback() {
        let (cert, key) = self_signed_metrics_cert("ops").expect("certificate");
        assert!(cert.contains("BEGIN CERTIFICATE"));
        assert!(ReloadableCert::new(&cert, &key).is_ok());
    }
}
