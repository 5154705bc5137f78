//! `openbao-operator run`: the manager. Every replica serves the health probes (8081), metrics
//! (8080 HTTP, 8443 HTTPS behind TokenReview/SubjectAccessReview) and the admission webhook
//! (9443); the replica holding the leader Lease also reconciles. Runs until SIGINT or SIGTERM.
//!
//! ```text
//! bind listeners ─▶ servers (health, metrics, secure metrics, webhook)      every replica
//!                 ─▶ warm-up lists (readiness: caches) ─▶ acquire Lease ─▶ reconcile::run
//!                                                         (standbys wait)   while renewing
//! SIGTERM: unready ─▶ controller drains ─▶ Lease released ─▶ servers drain ─▶ exit 0
//! lost Lease: controller dropped at once ─▶ servers stop ─▶ exit 1 (restart rejoins as standby)
//! ```

use std::{
    fmt,
    future::Future,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::PathBuf,
    process::ExitCode,
    str::FromStr,
    sync::Arc,
    time::Duration,
};

use api::{OpenBaoCluster, names::DEFAULT_OPERATOR_NAMESPACE};
use futures::FutureExt;
use k8s_openapi::{
    NamespaceResourceScope,
    api::{
        apps::v1::StatefulSet,
        core::v1::{ConfigMap, Pod, Secret, Service, ServiceAccount},
        networking::v1::NetworkPolicy,
        policy::v1::PodDisruptionBudget,
        rbac::v1::{Role, RoleBinding},
    },
};
use kube::{Api, Client, Config, Resource, api::ListParams, config::KubeConfigOptions};
use serde::de::DeserializeOwned;
use tokio::{net::TcpListener, sync::watch, task::JoinSet};
use tracing::{error, info, warn};

use crate::{
    build::controller::{
        HEALTH_PORT, LEADER_LEASE, METRICS_PORT, SECURE_METRICS_PORT, WEBHOOK_CERT_SECRET,
        WEBHOOK_CONFIGURATION, WEBHOOK_PORT, WEBHOOK_SERVICE,
    },
    leader::{self, LeaderElector, LeaseSettings, Lost},
    reconcile,
    telemetry::{
        Metrics,
        server::{self, Readiness, stopped},
    },
    webhook::{self, ClientTarget, Registration, WebhookOptions},
};

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

/// A listen address, or `0` for "disabled" (controller-runtime's convention).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bind(pub Option<SocketAddr>);

impl FromStr for Bind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "0" {
            return Ok(Self(None));
        }
        s.parse().map(|a| Self(Some(a))).map_err(|e| {
            format!("{s:?} is not an address like 0.0.0.0:8080 (or 0 to disable): {e}")
        })
    }
}

impl fmt::Display for Bind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(address) => write!(f, "{address}"),
            None => f.write_str("0"),
        }
    }
}

fn any(port: i32) -> SocketAddr {
    SocketAddr::new(
        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        u16::try_from(port).unwrap_or(0),
    )
}

fn parse_webhook_url(s: &str) -> Result<String, String> {
    let uri: axum::http::Uri = s.parse().map_err(|e| format!("{s:?} is not a URL: {e}"))?;
    if uri.scheme_str() != Some("https") {
        return Err(format!(
            "{s:?}: the API server calls webhooks over HTTPS only; use https://host:port"
        ));
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("{s:?} has no host"));
    }
    if uri.query().is_some() {
        return Err(format!("{s:?}: webhook URLs cannot carry a query"));
    }
    Ok(s.to_string())
}

/// Arguments of `run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Kubeconfig to use; default: $KUBECONFIG, ~/.kube/config, then the in-cluster config.
    #[arg(long, value_name = "PATH", env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Namespace the operator runs in (peer of the OpenBao pods' ingress rule; home of the
    /// leader Lease and the webhook certificate Secret).
    #[arg(long, value_name = "NS", env = "OPERATOR_NAMESPACE", default_value = DEFAULT_OPERATOR_NAMESPACE)]
    pub operator_namespace: String,
    /// Only reconcile (and admit) OpenBaoClusters in this namespace.
    #[arg(long, value_name = "NS")]
    pub watch_namespace: Option<String>,
    /// Log format.
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Address of /healthz and /readyz.
    #[arg(long, value_name = "ADDR", default_value_t = Bind(Some(any(HEALTH_PORT))))]
    pub health_bind: Bind,
    /// Address of plain-HTTP /metrics (0 disables it).
    #[arg(long, value_name = "ADDR", default_value_t = Bind(Some(any(METRICS_PORT))))]
    pub metrics_bind: Bind,
    /// Address of HTTPS /metrics, authenticated and authorized by the API server (0 disables it).
    #[arg(long, value_name = "ADDR", default_value_t = Bind(Some(any(SECURE_METRICS_PORT))))]
    pub secure_metrics_bind: Bind,
    /// Address of the admission webhook (HTTPS).
    #[arg(long, value_name = "ADDR", default_value_t = any(WEBHOOK_PORT))]
    pub webhook_bind: SocketAddr,
    /// Register the webhook with this URL (path appended) instead of the Service, for
    /// development: `--webhook-bind 127.0.0.1:9443 --webhook-url https://127.0.0.1:9443`.
    #[arg(long, value_name = "URL", value_parser = parse_webhook_url)]
    pub webhook_url: Option<String>,
    /// The webhook Service in the operator namespace (its names go into the certificate).
    #[arg(long, value_name = "NAME", default_value = WEBHOOK_SERVICE)]
    pub webhook_service: String,
    /// Do not serve or register the admission webhook.
    #[arg(long)]
    pub no_webhook: bool,
    /// Elect a leader on the Lease `openbao-operator-leader` (the default).
    #[arg(long, overrides_with = "no_leader_elect")]
    pub leader_elect: bool,
    /// Reconcile without leader election (only ever run one replica this way).
    #[arg(long, overrides_with = "leader_elect")]
    pub no_leader_elect: bool,
    /// Identity in the leader Lease; default: hostname plus a random suffix.
    #[arg(long, value_name = "NAME", env = "POD_NAME")]
    pub pod_name: Option<String>,
}

impl RunArgs {
    /// The manager's options from the flags.
    pub fn options(&self) -> ManagerOptions {
        let identity = self
            .pod_name
            .clone()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(leader::generated_identity);
        let webhook = (!self.no_webhook).then(|| WebhookOptions {
            namespace: self.operator_namespace.clone(),
            secret: WEBHOOK_CERT_SECRET.to_string(),
            service: self.webhook_service.clone(),
            registration: Registration {
                name: WEBHOOK_CONFIGURATION.to_string(),
                target: match &self.webhook_url {
                    Some(url) => ClientTarget::Url(url.clone()),
                    None => ClientTarget::Service {
                        namespace: self.operator_namespace.clone(),
                        name: self.webhook_service.clone(),
                    },
                },
                watch_namespace: self.watch_namespace.clone(),
            },
        });
        ManagerOptions {
            operator_namespace: self.operator_namespace.clone(),
            watch_namespace: self.watch_namespace.clone(),
            leader_election: (!self.no_leader_elect)
                .then(|| LeaseSettings::new(&self.operator_namespace, LEADER_LEASE, identity)),
            webhook,
        }
    }
}

/// How the manager runs (everything but the client and the sockets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagerOptions {
    /// Namespace the operator runs in.
    pub operator_namespace: String,
    /// Only reconcile clusters in this namespace.
    pub watch_namespace: Option<String>,
    /// `None`: reconcile without election.
    pub leader_election: Option<LeaseSettings>,
    /// `None`: no webhook.
    pub webhook: Option<WebhookOptions>,
}

/// The sockets the manager serves on, bound before it starts (tests bind `127.0.0.1:0` and
/// read the ports back). `None` disables a server.
#[derive(Debug, Default)]
pub struct Listeners {
    /// `/healthz`, `/readyz`.
    pub health: Option<TcpListener>,
    /// Plain-HTTP `/metrics`.
    pub metrics: Option<TcpListener>,
    /// HTTPS `/metrics`.
    pub secure_metrics: Option<TcpListener>,
    /// The admission webhook (required when the webhook is enabled).
    pub webhook: Option<TcpListener>,
}

impl Listeners {
    /// Bind the addresses of `args`.
    pub async fn bind(args: &RunArgs) -> std::io::Result<Self> {
        async fn bind(
            what: &str,
            address: Option<SocketAddr>,
        ) -> std::io::Result<Option<TcpListener>> {
            match address {
                None => Ok(None),
                Some(address) => TcpListener::bind(address).await.map(Some).map_err(|e| {
                    std::io::Error::new(
                        e.kind(),
                        format!("cannot listen on {address} ({what}): {e}"),
                    )
                }),
            }
        }
        Ok(Self {
            health: bind("health probes", args.health_bind.0).await?,
            metrics: bind("metrics", args.metrics_bind.0).await?,
            secure_metrics: bind("HTTPS metrics", args.secure_metrics_bind.0).await?,
            webhook: bind("webhook", (!args.no_webhook).then_some(args.webhook_bind)).await?,
        })
    }
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

async fn list_one<K>(client: &Client, namespace: Option<&str>) -> Result<(), String>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + fmt::Debug,
{
    let api: Api<K> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let params = ListParams::default().limit(1);
    // Secrets are only ever watched by metadata: never fetch their bodies, not even one.
    let result = if K::kind(&()) == "Secret" {
        api.list_metadata(&params).await.map(|_| ())
    } else {
        api.list(&params).await.map(|_| ())
    };
    result.map_err(|e| format!("list {}: {e}", K::plural(&())))
}

/// One list of every kind the controller watches, in its scope: what its caches' first sync
/// needs (the CRD served, RBAC granting the watches).
async fn warm_up(client: &Client, namespace: Option<&str>) -> Result<(), String> {
    let results = futures::future::join_all([
        list_one::<OpenBaoCluster>(client, namespace).boxed(),
        list_one::<StatefulSet>(client, namespace).boxed(),
        list_one::<Service>(client, namespace).boxed(),
        list_one::<ConfigMap>(client, namespace).boxed(),
        list_one::<NetworkPolicy>(client, namespace).boxed(),
        list_one::<PodDisruptionBudget>(client, namespace).boxed(),
        list_one::<ServiceAccount>(client, namespace).boxed(),
        list_one::<Role>(client, namespace).boxed(),
        list_one::<RoleBinding>(client, namespace).boxed(),
        list_one::<Pod>(client, namespace).boxed(),
        list_one::<Secret>(client, namespace).boxed(),
    ])
    .await;
    let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
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
    let scope = options.watch_namespace.as_deref();
    let mut last_error = None;
    loop {
        tokio::select! {
            result = warm_up(client, scope) => match result {
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
    let config = reconcile::Config {
        operator_namespace: options.operator_namespace.clone(),
        watch_namespace: options.watch_namespace.clone(),
    };
    let critical = reconcile::critical::CriticalWork::new();
    let controller = reconcile::run_with(
        client.clone(),
        config,
        metrics.clone(),
        critical.clone(),
        stopped(controller_stop),
    );
    tokio::pin!(controller);
    let hold = async {
        match elector {
            Some(elector) => elector.hold().await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(hold);
    info!(namespace = ?options.watch_namespace, "reconciling");
    readiness.set_controller_running(true);
    let mut stopping = false;
    let mut controller_done = false;
    let mut drain_deadline = None;
    loop {
        tokio::select! {
            () = &mut controller, if !controller_done => {
                if !stopping {
                    return Err(ManagerError::ControllerStopped);
                }
                // Drained; critical work may still run in its own task (see below).
                controller_done = true;
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

/// Build a client from `kubeconfig`, or the default chain when `None`.
pub async fn client(kubeconfig: Option<&PathBuf>) -> Result<Client, String> {
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

/// Initialise logging (`RUST_LOG` filters, default info).
pub fn init_tracing(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,kube=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
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

/// Run the operator.
pub fn run(args: &RunArgs) -> ExitCode {
    init_tracing(&args.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let client = match client(args.kubeconfig.as_ref()).await {
            Ok(client) => client,
            Err(message) => {
                error!("{message}");
                return ExitCode::FAILURE;
            }
        };
        let listeners = match Listeners::bind(args).await {
            Ok(listeners) => listeners,
            Err(e) => {
                error!(error = %e, "cannot listen");
                return ExitCode::FAILURE;
            }
        };
        let options = args.options();
        info!(
            operator_namespace = %options.operator_namespace,
            watch_namespace = ?options.watch_namespace,
            identity = ?options.leader_election.as_ref().map(|l| &l.identity),
            webhook = options.webhook.is_some(),
            "starting"
        );
        let metrics = Arc::new(Metrics::new());
        match run_manager(
            client,
            options,
            listeners,
            metrics,
            Readiness::new(),
            shutdown_signal(),
        )
        .await
        {
            Ok(Stopped::Shutdown) => {
                info!("stopped");
                ExitCode::SUCCESS
            }
            Ok(Stopped::LostLeadership(reason)) => {
                error!(%reason, "lost the leader lease; exiting so that the restarted process rejoins as a standby");
                ExitCode::FAILURE
            }
            Err(e) => {
                error!(error = %e, "the manager failed");
                ExitCode::FAILURE
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn the_pods_grace_period_covers_critical_work_and_every_drain() {
        let needed = CRITICAL_DRAIN + CONTROLLER_DRAIN + RELEASE_TIMEOUT + SERVERS_TIMEOUT;
        let granted = Duration::from_secs(
            u64::try_from(crate::build::deploy::TERMINATION_GRACE_PERIOD_SECONDS)
                .expect("positive"),
        );
        assert!(granted >= needed, "{granted:?} < {needed:?}");
    }

    #[derive(Parser, Debug)]
    struct Wrapper {
        #[command(flatten)]
        run: RunArgs,
    }

    fn parse(args: &[&str]) -> RunArgs {
        let mut argv = vec!["run"];
        argv.extend_from_slice(args);
        Wrapper::try_parse_from(argv).expect("arguments parse").run
    }

    #[test]
    fn the_defaults_serve_every_port_with_election_and_the_webhook_behind_its_service() {
        let args = parse(&["--pod-name", "op-0"]);
        assert_eq!(args.health_bind.to_string(), "0.0.0.0:8081");
        assert_eq!(args.metrics_bind.to_string(), "0.0.0.0:8080");
        assert_eq!(args.secure_metrics_bind.to_string(), "0.0.0.0:8443");
        assert_eq!(args.webhook_bind.to_string(), "0.0.0.0:9443");
        let options = args.options();
        let lease = options.leader_election.expect("election on by default");
        assert_eq!(
            (lease.name.as_str(), lease.identity.as_str()),
            (LEADER_LEASE, "op-0")
        );
        let webhook = options.webhook.expect("webhook on by default");
        assert_eq!(
            webhook.registration.target,
            ClientTarget::Service {
                namespace: DEFAULT_OPERATOR_NAMESPACE.to_string(),
                name: WEBHOOK_SERVICE.to_string()
            }
        );
    }

    #[test]
    fn flags_turn_off_election_webhook_and_metrics_and_set_a_development_url() {
        let args = parse(&[
            "--leader-elect",
            "--no-leader-elect",
            "--metrics-bind",
            "0",
            "--webhook-bind",
            "127.0.0.1:9443",
            "--webhook-url",
            "https://127.0.0.1:9443",
        ]);
        assert_eq!(args.metrics_bind, Bind(None));
        let options = args.options();
        assert!(options.leader_election.is_none());
        let webhook = options.webhook.expect("webhook");
        assert_eq!(
            webhook.registration.target,
            ClientTarget::Url("https://127.0.0.1:9443".to_string())
        );
        assert!(webhook.serving_names().contains(&"127.0.0.1".to_string()));
        assert!(parse(&["--no-webhook"]).options().webhook.is_none());
        let relected = parse(&["--no-leader-elect", "--leader-elect"]);
        assert!(relected.options().leader_election.is_some());
    }

    #[test]
    fn a_webhook_url_must_be_https_with_a_host() {
        assert!(parse_webhook_url("https://127.0.0.1:9443").is_ok());
        assert!(parse_webhook_url("http://127.0.0.1:9443").is_err());
        assert!(parse_webhook_url("https://h:1/?q=1").is_err());
        assert!(Wrapper::try_parse_from(["run", "--webhook-url", "http://x"]).is_err());
    }
}
