//! The manager: what `openbao-operator run` runs. Every replica serves the health probes (8081),
//! metrics (8080 HTTP, 8443 HTTPS behind TokenReview/SubjectAccessReview) and the admission
//! webhook (9443); the replica holding the leader Lease also reconciles. Runs until its shutdown
//! future resolves (SIGINT or SIGTERM in the binary) or the Lease is lost.
//!
//! ```text
//! bind listeners ─▶ servers (health, metrics, secure metrics, webhook)      every replica
//!                 ─▶ warm-up lists (readiness: caches) ─▶ acquire Lease ─▶ reconcile::run
//!                                                         (standbys wait)   + placeholder::run
//!                                                                           while renewing
//! SIGTERM: unready ─▶ controller drains ─▶ Lease released ─▶ servers drain ─▶ exit 0
//! lost Lease: controller dropped at once ─▶ servers stop ─▶ exit 1 (restart rejoins as standby)
//! ```
//!
//! `cli::run` only turns flags into [`ManagerOptions`] and [`ListenAddresses`] and calls
//! [`run_manager`]; the integration tests call it the same way, in-process.

pub mod leader;
pub mod listeners;
mod warm_up;

use std::{future::Future, path::Path, sync::Arc, time::Duration};

use futures::{FutureExt, StreamExt, future::BoxFuture, stream::FuturesUnordered};
use kube::{Client, Config, config::KubeConfigOptions};
use tokio::{sync::watch, task::JoinSet};
use tracing::{error, info, warn};

pub use listeners::{ListenAddresses, Listeners};

use crate::{
    placeholder, reconcile,
    telemetry::{
        Metrics,
        server::{self, Readiness, stopped},
    },
    webhook::{self, WebhookOptions},
};
use leader::{LeaderElector, LeaseSettings, Lost};
use warm_up::warm_up;

/// How soon the warm-up lists are retried.
const WARM_UP_RETRY: Duration = Duration::from_secs(2);
/// How long a clean shutdown waits for the Lease release.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a shutdown waits for in-flight reconciles.
const CONTROLLER_DRAIN: Duration = Duration::from_secs(30);
/// How often a shutdown checks whether reconciles are still in flight.
const DRAIN_POLL: Duration = Duration::from_millis(100);
/// How long a stopping manager waits for critical work (an initialization and storing its
/// keys) beyond the drain: the init timeout plus the store deadline, so keys that exist only
/// in memory are never dropped by a shutdown. The Deployment's terminationGracePeriodSeconds
/// covers it.
pub const CRITICAL_DRAIN: Duration = Duration::from_secs(
    reconcile::operate::INIT_TIMEOUT.as_secs() + reconcile::operate::STORE_DEADLINE.as_secs(),
);
/// How long a shutdown waits for the servers to drain.
const SERVERS_TIMEOUT: Duration = Duration::from_secs(15);

/// How the manager runs (everything but the client and the sockets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagerOptions {
    /// Namespace the operator runs in.
    pub operator_namespace: String,
    /// Only reconcile clusters in these namespaces (one controller each); empty: every
    /// namespace, with one controller.
    pub watch_namespaces: Vec<String>,
    /// The operator's ServiceAccount in `operator_namespace`: its identity in OpenBao.
    pub service_account: String,
    /// The image backup and restore Jobs run by default (the operator's own).
    pub job_image: String,
    /// How often a steady cluster is looked at when nothing wakes it.
    pub health_check_interval: std::time::Duration,
    /// How many clusters are reconciled at once.
    pub max_concurrent_reconciles: u16,
    /// `None`: reconcile without election.
    pub leader_election: Option<LeaseSettings>,
    /// `None`: no webhook.
    pub webhook: Option<WebhookOptions>,
}

/// How the manager ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// Shutdown was requested; the Lease (if held) was released.
    Shutdown,
    /// The Lease was lost; reconciling stopped at once.
    LostLeadership(Lost),
}

/// Why the manager could not run.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// The webhook is enabled but no listener was given.
    #[error("the webhook is enabled but has no listener")]
    NoWebhookListener,
    /// A server stopped by itself.
    #[error("{0}")]
    Server(String),
    /// The controller stopped without being asked to.
    #[error("the controller stopped unexpectedly")]
    ControllerStopped,
}

type Servers = JoinSet<Result<(), String>>;

/// Resolves with the first server that ended (servers end only when told to, so any end
/// before that is a failure); never resolves while none is running.
async fn server_failure(servers: &mut Servers) -> String {
    match servers.join_next().await {
        Some(Ok(Ok(()))) => "a server stopped unexpectedly".to_string(),
        Some(Ok(Err(e))) => e,
        Some(Err(e)) => format!("a server task failed: {e}"),
        None => std::future::pending().await,
    }
}

fn start_servers(
    client: &Client,
    options: &ManagerOptions,
    listeners: Listeners,
    metrics: &Arc<Metrics>,
    readiness: &Readiness,
    stop: &watch::Receiver<bool>,
) -> Result<Servers, ManagerError> {
    let mut servers = Servers::new();
    if let Some(listener) = listeners.health {
        info!(address = %server::bound(&listener), "serving health probes");
        let router = server::health_router(readiness.clone());
        let stop = stopped(stop.clone());
        servers.spawn(async move {
            server::serve_http(listener, router, stop)
                .await
                .map_err(|e| format!("health server: {e}"))
        });
    }
    if let Some(listener) = listeners.metrics {
        info!(address = %server::bound(&listener), "serving metrics (HTTP)");
        let router = server::metrics_router(metrics.clone());
        let stop = stopped(stop.clone());
        servers.spawn(async move {
            server::serve_http(listener, router, stop)
                .await
                .map_err(|e| format!("metrics server: {e}"))
        });
    }
    if let Some(listener) = listeners.secure_metrics {
        info!(address = %server::bound(&listener), "serving metrics (HTTPS, TokenReview + SubjectAccessReview)");
        let (client, metrics) = (client.clone(), metrics.clone());
        let namespace = options.operator_namespace.clone();
        let stop = stopped(stop.clone());
        servers.spawn(async move {
            server::serve_secure_metrics(listener, metrics, client, &namespace, stop)
                .await
                .map_err(|e| format!("HTTPS metrics server: {e}"))
        });
    }
    match (&options.webhook, listeners.webhook) {
        (None, _) => readiness.set_webhook_serving(true),
        (Some(_), None) => return Err(ManagerError::NoWebhookListener),
        (Some(webhook_options), Some(listener)) => {
            let task = webhook::run(
                client.clone(),
                webhook_options.clone(),
                listener,
                metrics.clone(),
                readiness.clone(),
                stop.clone(),
            );
            servers.spawn(async move { task.await.map_err(|e| e.to_string()) });
        }
    }
    Ok(servers)
}

/// Run the manager until `shutdown` resolves or the Lease is lost. `readiness` is flipped as
/// parts come up (see [`Readiness`] for what ready means).
pub async fn run_manager(
    client: Client,
    options: ManagerOptions,
    listeners: Listeners,
    metrics: Arc<Metrics>,
    readiness: Readiness,
    shutdown: impl Future<Output = ()>,
) -> Result<Stopped, ManagerError> {
    let (stop_servers, servers_stop) = watch::channel(false);
    let mut servers = start_servers(
        &client,
        &options,
        listeners,
        &metrics,
        &readiness,
        &servers_stop,
    )?;
    let shutdown = shutdown.fuse();
    tokio::pin!(shutdown);
    let mut elector = options
        .leader_election
        .clone()
        .map(|settings| LeaderElector::new(client.clone(), settings));

    let outcome = lead(
        &client,
        &options,
        &metrics,
        &readiness,
        elector.as_mut(),
        &mut servers,
        &mut shutdown,
    )
    .await;

    readiness.set_stopping();
    readiness.set_controller_running(false);
    if let (Ok(Stopped::Shutdown), Some(elector)) = (&outcome, elector.as_mut()) {
        match tokio::time::timeout(RELEASE_TIMEOUT, elector.release()).await {
            Ok(Ok(true)) => info!("released the leader lease"),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => {
                warn!(error = %e, "cannot release the leader lease; a standby takes over when it expires")
            }
            Err(_) => {
                warn!("releasing the leader lease timed out; a standby takes over when it expires")
            }
        }
    }
    readiness.set_leading(false);
    let _ = stop_servers.send(true);
    let drained = tokio::time::timeout(SERVERS_TIMEOUT, async {
        while let Some(result) = servers.join_next().await {
            if let Ok(Err(e)) = result {
                warn!(error = %e, "a server failed while stopping");
            }
        }
    })
    .await;
    if drained.is_err() {
        warn!("servers did not stop in time");
    }
    outcome
}

/// Warm up, win the Lease, reconcile; returns when shutdown completed or leadership was lost.
async fn lead(
    client: &Client,
    options: &ManagerOptions,
    metrics: &Arc<Metrics>,
    readiness: &Readiness,
    mut elector: Option<&mut LeaderElector>,
    servers: &mut Servers,
    shutdown: &mut (impl futures::future::FusedFuture<Output = ()> + Unpin),
) -> Result<Stopped, ManagerError> {
    let scopes = scopes(&options.watch_namespaces);
    let mut last_error = None;
    loop {
        tokio::select! {
            result = warm_up_all(client, &scopes) => match result {
                Ok(()) => break,
                Err(e) => {
                    if last_error.as_ref() != Some(&e) {
                        warn!(error = %e, "the controller's watches cannot sync yet; retrying");
                        last_error = Some(e);
                    }
                }
            },
            () = &mut *shutdown => return Ok(Stopped::Shutdown),
            failure = server_failure(servers) => return Err(ManagerError::Server(failure)),
        }
        tokio::select! {
            () = tokio::time::sleep(WARM_UP_RETRY) => {},
            () = &mut *shutdown => return Ok(Stopped::Shutdown),
        }
    }
    readiness.set_caches_synced();

    if let Some(elector) = elector.as_deref_mut() {
        tokio::select! {
            () = elector.acquire() => {},
            () = &mut *shutdown => return Ok(Stopped::Shutdown),
            failure = server_failure(servers) => return Err(ManagerError::Server(failure)),
        }
    }
    readiness.set_leading(true);

    let (stop_controller, controller_stop) = watch::channel(false);
    // One critical-work tracker for every controller: the drain below waits for all of them.
    let critical = reconcile::critical::CriticalWork::new();
    // One cluster controller, one restore controller and one placeholder controller
    // (OpenBaoTenants, which only get the NotImplemented condition) per watched namespace: a
    // namespaced install may list and watch only there, and kube's watches cover one namespace
    // or all of them. Polled here, not spawned, so dropping them (a lost Lease) stops every
    // reconcile at once.
    let mut controllers: FuturesUnordered<BoxFuture<'static, ()>> = scopes
        .iter()
        .flat_map(|scope| {
            let config = reconcile::Config {
                operator_namespace: options.operator_namespace.clone(),
                watch_namespace: scope.clone(),
                service_account: options.service_account.clone(),
                job_image: options.job_image.clone(),
                health_check_interval: options.health_check_interval,
                max_concurrent_reconciles: options.max_concurrent_reconciles,
            };
            let placeholder_config = placeholder::Config {
                operator_namespace: options.operator_namespace.clone(),
                watch_namespace: scope.clone(),
            };
            [
                reconcile::run_with(
                    client.clone(),
                    config,
                    metrics.clone(),
                    critical.clone(),
                    stopped(controller_stop.clone()),
                )
                .boxed(),
                placeholder::run(
                    client.clone(),
                    placeholder_config,
                    stopped(controller_stop.clone()),
                )
                .boxed(),
                crate::restore::run(
                    client.clone(),
                    scope.clone(),
                    options.job_image.clone(),
                    stopped(controller_stop.clone()),
                )
                .boxed(),
            ]
        })
        .collect();
    let hold = async {
        match elector {
            Some(elector) => elector.hold().await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(hold);
    info!(namespaces = ?options.watch_namespaces, "reconciling (no namespaces: all of them)");
    readiness.set_controller_running(true);
    let mut stopping = false;
    let mut controller_done = false;
    let mut drain_deadline = None;
    loop {
        tokio::select! {
            Some(()) = controllers.next(), if !controller_done => {
                if !stopping {
                    return Err(ManagerError::ControllerStopped);
                }
                // Drained once every controller returned; critical work may still run in its
                // own task (see below).
                controller_done = controllers.is_empty();
            }
            // kube's graceful shutdown waits for the controller's cache to become ready first,
            // which never happens once its watches are cut: a shutdown right after start would
            // hang. So once nothing is in flight (or the drain took too long), the controller is
            // dropped; an idle controller loses nothing by that.
            () = tokio::time::sleep(DRAIN_POLL), if stopping => {
                let in_flight = if controller_done {
                    0
                } else {
                    metrics.reconciles.get().saturating_sub(metrics.passes_finished())
                };
                let now = tokio::time::Instant::now();
                // Critical work (an initialization whose keys are not stored yet) is waited for
                // beyond the drain, while the Lease keeps being renewed by `hold` below.
                let critical_done = critical.in_flight() == 0
                    || drain_deadline.is_some_and(|d| now >= d + CRITICAL_DRAIN);
                if critical_done && (in_flight == 0 || drain_deadline.is_some_and(|d| now >= d)) {
                    return Ok(Stopped::Shutdown);
                }
            }
            // Dropping the controller here stops every reconcile at once: another replica may
            // already lead. Critical work carries on in its own task; the process waits for it
            // (its writes are guarded by preconditions, so they are safe under a new leader).
            lost = &mut hold => {
                if critical.in_flight() > 0 {
                    warn!(in_flight = critical.in_flight(), "lost the leader lease during initialization; finishing it before exiting");
                    let _ = tokio::time::timeout(CRITICAL_DRAIN, critical.idle()).await;
                }
                return Ok(Stopped::LostLeadership(lost));
            }
            () = &mut *shutdown, if !stopping => {
                info!("shutting down: finishing in-flight reconciles");
                stopping = true;
                drain_deadline = Some(tokio::time::Instant::now() + CONTROLLER_DRAIN);
                readiness.set_stopping();
                let _ = stop_controller.send(true);
            }
            failure = server_failure(servers), if !stopping => {
                error!(error = %failure, "a server failed; stopping");
                return Err(ManagerError::Server(failure));
            }
        }
    }
}

/// The scopes of the controllers and warm-up lists: each watched namespace, or `None` (every
/// namespace) when there are none.
fn scopes(watch_namespaces: &[String]) -> Vec<Option<String>> {
    if watch_namespaces.is_empty() {
        vec![None]
    } else {
        watch_namespaces.iter().cloned().map(Some).collect()
    }
}

/// [`warm_up`] in every scope; the errors name the namespace.
async fn warm_up_all(client: &Client, scopes: &[Option<String>]) -> Result<(), String> {
    let results = futures::future::join_all(scopes.iter().map(|scope| async move {
        warm_up(client, scope.as_deref())
            .await
            .map_err(|e| match scope {
                Some(ns) => format!("in namespace {ns}: {e}"),
                None => e,
            })
    }))
    .await;
    let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// Check one `--watch-namespaces` entry: a namespace name is a DNS-1123 label.
pub fn parse_watch_namespace(value: &str) -> Result<String, String> {
    if api::validate::rules::is_dns1123_label(value) {
        Ok(value.to_string())
    } else {
        Err(format!(
            "{value:?} is not a namespace name (allowed: a DNS-1123 label: lowercase letters, \
             digits and '-', starting and ending with a letter or digit, at most 63 characters)"
        ))
    }
}

/// The watched namespaces without repeats, in the order first given.
pub fn dedup_namespaces(namespaces: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(namespaces.len());
    for ns in namespaces {
        if !out.contains(ns) {
            out.push(ns.clone());
        }
    }
    out
}

/// Build a client from `kubeconfig`, or the default chain ($KUBECONFIG, ~/.kube/config, the
/// in-cluster config) when `None`.
pub async fn client(kubeconfig: Option<&Path>) -> Result<Client, String> {
    let config = match kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| format!("cannot read kubeconfig {}: {e}", path.display()))?;
            Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(|e| format!("invalid kubeconfig {}: {e}", path.display()))?
        }
        None => Config::infer()
            .await
            .map_err(|e| format!("no kubeconfig and not running in a cluster: {e}"))?,
    };
    Client::try_from(config).map_err(|e| format!("cannot build a Kubernetes client: {e}"))
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pods_grace_period_covers_critical_work_and_every_drain() {
        let needed = CRITICAL_DRAIN + CONTROLLER_DRAIN + RELEASE_TIMEOUT + SERVERS_TIMEOUT;
        let granted = Duration::from_secs(
            u64::try_from(crate::install::deploy::TERMINATION_GRACE_PERIOD_SECONDS)
                .expect("positive"),
        );
        assert!(granted >= needed, "{granted:?} < {needed:?}");
    }

    #[test]
    fn no_watched_namespace_means_one_controller_for_all_and_each_namespace_gets_its_own() {
        assert_eq!(scopes(&[]), [None]);
        assert_eq!(
            scopes(&["a".to_string(), "b".to_string()]),
            [Some("a".to_string()), Some("b".to_string())]
        );
    }

    #[test]
    fn watched_namespaces_must_be_dns_labels_and_repeats_are_dropped() {
        assert_eq!(parse_watch_namespace("team-a"), Ok("team-a".to_string()));
        for bad in ["", "Team", "a_b", "-a", "a.b", &"a".repeat(64)] {
            let error = parse_watch_namespace(bad).expect_err(bad);
            assert!(error.contains(&format!("{bad:?}")), "{error}");
            assert!(error.contains("DNS-1123 label"), "{error}");
        }
        let given = ["b", "a", "b"].map(str::to_string);
        assert_eq!(dedup_namespaces(&given), ["b", "a"]);
    }
}
