//! `openbao-operator run`: parse the flags into the manager's options and listen addresses, set
//! up logging and the runtime, and hand over to [`crate::manager::run_manager`]. Exit codes: 0
//! after a requested shutdown, 1 when the manager failed or lost the leader Lease (the restarted
//! process rejoins as a standby).

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::PathBuf,
    process::ExitCode,
    str::FromStr,
    sync::Arc,
};

use api::names::DEFAULT_OPERATOR_NAMESPACE;
use tracing::{error, info};

use crate::{
    install::controller::{
        HEALTH_PORT, LEADER_LEASE, METRICS_PORT, SECURE_METRICS_PORT, WEBHOOK_CERT_SECRET,
        WEBHOOK_CONFIGURATION, WEBHOOK_PORT, WEBHOOK_SERVICE,
    },
    manager::{
        self, ListenAddresses, Listeners, ManagerOptions, Stopped,
        leader::{self, LeaseSettings},
    },
    telemetry::{Metrics, server::Readiness},
    webhook::{ClientTarget, Registration, WebhookOptions},
};

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
    /// The operator's own ServiceAccount in the operator namespace. The operator requests
    /// short-lived tokens of it (audience openbao-internal) to log in to OpenBao.
    #[arg(long, value_name = "NAME", env = "OPERATOR_SERVICE_ACCOUNT", default_value = crate::install::controller::OPERATOR_NAME)]
    pub service_account: String,
    /// The image backup and restore Jobs run unless `spec.backup.image` names another: the
    /// operator's own image (its `backup` subcommand). The deploy manifests set it to the image
    /// the operator itself runs.
    #[arg(long, value_name = "IMAGE", env = "OPERATOR_IMAGE", default_value = crate::install::deploy::DEFAULT_IMAGE)]
    pub job_image: String,
    /// Seconds between the health checks of a steady cluster (each spread by up to a tenth):
    /// how late a member that went bad without any Kubernetes event (a sealed member whose pod
    /// stays ready, a lost Raft voter) can be noticed. Changes to pods and owned objects wake a
    /// cluster at once whatever this says.
    #[arg(long, value_name = "SECONDS", env = "OPERATOR_HEALTH_CHECK_INTERVAL", default_value_t = 300, value_parser = clap::value_parser!(u64).range(5..=86_400))]
    pub health_check_interval: u64,
    /// How many clusters are reconciled at once (each cluster is only ever in one pass at a
    /// time). Bounds the memory a burst of changes can take: a queued cluster costs a reference,
    /// a running pass its desired objects and requests.
    #[arg(long, value_name = "N", env = "OPERATOR_MAX_CONCURRENT_RECONCILES", default_value_t = crate::reconcile::status::DEFAULT_MAX_CONCURRENT_RECONCILES, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub max_concurrent_reconciles: u16,
    /// Only reconcile (and admit) OpenBaoClusters in these namespaces: comma-separated and
    /// repeatable (`--watch-namespace` is accepted too). Default: every namespace. A namespaced
    /// install grants the operator a Role in each of them instead of the ClusterRole.
    #[arg(
        long = "watch-namespaces",
        alias = "watch-namespace",
        value_name = "NS[,NS...]",
        value_delimiter = ',',
        value_parser = manager::parse_watch_namespace
    )]
    pub watch_namespaces: Vec<String>,
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
    /// Where the servers listen, from the flags (`0` and `--no-webhook` disable one).
    pub fn listen_addresses(&self) -> ListenAddresses {
        ListenAddresses {
            health: self.health_bind.0,
            metrics: self.metrics_bind.0,
            secure_metrics: self.secure_metrics_bind.0,
            webhook: (!self.no_webhook).then_some(self.webhook_bind),
        }
    }

    /// The manager's options from the flags.
    pub fn options(&self) -> ManagerOptions {
        let identity = self
            .pod_name
            .clone()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(leader::generated_identity);
        let watch_namespaces = manager::dedup_namespaces(&self.watch_namespaces);
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
                watch_namespaces: watch_namespaces.clone(),
            },
        });
        ManagerOptions {
            operator_namespace: self.operator_namespace.clone(),
            service_account: self.service_account.clone(),
            job_image: self.job_image.clone(),
            health_check_interval: std::time::Duration::from_secs(self.health_check_interval),
            max_concurrent_reconciles: self.max_concurrent_reconciles,
            watch_namespaces,
            leader_election: (!self.no_leader_elect)
                .then(|| LeaseSettings::new(&self.operator_namespace, LEADER_LEASE, identity)),
            webhook,
        }
    }
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

/// Stack of each runtime worker thread (see `run`).
pub const WORKER_STACK_BYTES: usize = 8 << 20;

/// Run the operator.
pub fn run(args: &RunArgs) -> ExitCode {
    init_tracing(&args.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        // Decoding an OpenBaoCluster (upstream's whole API, with embedded Kubernetes types)
        // recurses through large serde frames; a debug build needs more than tokio's 2 MiB
        // default, so workers get a main thread's 8 MiB.
        .thread_stack_size(WORKER_STACK_BYTES)
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
        let client = match manager::client(args.kubeconfig.as_deref()).await {
            Ok(client) => client,
            Err(message) => {
                error!("{message}");
                return ExitCode::FAILURE;
            }
        };
        let listeners = match Listeners::bind(&args.listen_addresses()).await {
            Ok(listeners) => listeners,
            Err(e) => {
                error!(error = %e, "cannot listen");
                return ExitCode::FAILURE;
            }
        };
        let options = args.options();
        info!(
            operator_namespace = %options.operator_namespace,
            watch_namespaces = ?options.watch_namespaces,
            identity = ?options.leader_election.as_ref().map(|l| &l.identity),
            webhook = options.webhook.is_some(),
            "starting"
        );
        let metrics = Arc::new(Metrics::new());
        match manager::run_manager(
            client,
            options,
            listeners,
            metrics,
            Readiness::new(),
            manager::shutdown_signal(),
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
    fn watched_namespaces_come_comma_separated_or_repeated_and_scope_the_controller_and_webhook() {
        let all = parse(&[]).options();
        assert!(all.watch_namespaces.is_empty());
        let webhook = all.webhook.expect("webhook");
        assert!(webhook.registration.watch_namespaces.is_empty());

        let args = parse(&[
            "--watch-namespaces",
            "team-a,team-b",
            "--watch-namespaces=team-c",
            "--watch-namespace",
            "team-a",
        ]);
        let options = args.options();
        let expected = ["team-a", "team-b", "team-c"].map(str::to_string);
        assert_eq!(options.watch_namespaces, expected);
        let webhook = options.webhook.expect("webhook");
        assert_eq!(webhook.registration.watch_namespaces, expected);
        assert_eq!(
            parse(&["--watch-namespace", "solo"])
                .options()
                .watch_namespaces,
            ["solo"]
        );
    }

    #[test]
    fn a_watched_namespace_that_is_not_a_dns_label_is_refused_naming_the_flag_and_value() {
        for bad in [
            &["--watch-namespaces", "ok,Bad_NS"][..],
            &["--watch-namespace", "Bad_NS"][..],
        ] {
            let mut argv = vec!["run"];
            argv.extend_from_slice(bad);
            let error = Wrapper::try_parse_from(argv).expect_err("invalid namespace");
            assert_eq!(error.kind(), clap::error::ErrorKind::ValueValidation);
            let message = error.to_string();
            assert!(message.contains("--watch-namespaces"), "{message}");
            assert!(message.contains("Bad_NS"), "{message}");
            assert!(message.contains("DNS-1123 label"), "{message}");
        }
    }

    #[test]
    fn concurrent_reconciles_default_to_sixteen_and_out_of_range_values_are_refused_naming_the_flag()
     {
        let default = parse(&[]).options();
        assert_eq!(
            default.max_concurrent_reconciles,
            crate::reconcile::status::DEFAULT_MAX_CONCURRENT_RECONCILES
        );
        assert_eq!(default.max_concurrent_reconciles, 16);
        assert_eq!(
            parse(&["--max-concurrent-reconciles", "4"])
                .options()
                .max_concurrent_reconciles,
            4
        );
        for bad in ["0", "1025", "many"] {
            let error = Wrapper::try_parse_from(["run", "--max-concurrent-reconciles", bad])
                .expect_err("out of range");
            let message = error.to_string();
            assert!(message.contains("--max-concurrent-reconciles"), "{message}");
            assert!(message.contains(bad), "{message}");
        }
    }

    #[test]
    fn a_webhook_url_must_be_https_with_a_host() {
        assert!(parse_webhook_url("https://127.0.0.1:9443").is_ok());
        assert!(parse_webhook_url("http://127.0.0.1:9443").is_err());
        assert!(parse_webhook_url("https://h:1/?q=1").is_err());
        assert!(Wrapper::try_parse_from(["run", "--webhook-url", "http://x"]).is_err());
    }
}
