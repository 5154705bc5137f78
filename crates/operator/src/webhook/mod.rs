//! The validating admission webhook for OpenBaoClusters, served on 9443 by every replica:
//!
//! ```text
//! cert::ensure (Secret WEBHOOK_CERT_SECRET)
//!   ├─▶ tls::serve: POST WEBHOOK_PATH ─▶ admission::handle   (certificate hot-swappable)
//!   └─▶ configuration::apply: VWC WEBHOOK_CONFIGURATION with the CA bundle
//! every RESYNC: re-read the Secret (rotation by this or another replica), reload the
//! certificate, re-apply the registration
//! ```
//!
//! The registration is applied only once the server accepts connections, because with
//! `failurePolicy: Fail` a registration pointing at nothing would block every OpenBaoCluster
//! write.

pub mod admission;
pub mod cert;
pub mod configuration;
pub mod tls;

use std::{future::Future, sync::Arc, time::Duration};

use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
};
use k8s_openapi::api::{
    admissionregistration::v1::ValidatingWebhookConfiguration, core::v1::Secret,
};
use kube::{Api, Client};
use tokio::{net::TcpListener, sync::watch};
use tracing::{debug, info, warn};

use crate::{
    build::controller::WEBHOOK_PATH,
    telemetry::{
        Metrics,
        server::{Readiness, stopped},
    },
};

pub use configuration::{ClientTarget, Registration};

/// Largest review accepted: two objects (old and new) of at most 1.5 MiB each, plus envelope.
const MAX_REVIEW_BYTES: usize = 8 * 1024 * 1024;
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

/// The webhook's routes: `POST WEBHOOK_PATH`.
pub fn router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route(WEBHOOK_PATH, post(review))
        .layer(DefaultBodyLimit::max(MAX_REVIEW_BYTES))
        .with_state(metrics)
}

async fn review(State(metrics): State<Arc<Metrics>>, body: Bytes) -> Response {
    match admission::handle(&body, &metrics) {
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
    let registrations = Api::<ValidatingWebhookConfiguration>::all(client);
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
    info!(address = %crate::telemetry::server::bound(&listener), "serving the admission webhook");
    let server = tokio::spawn(tls::serve(listener, config, router(metrics), stopped(stop)));

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
