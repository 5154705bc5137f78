//! `openbao-operator run`: the controller against a cluster, from a kubeconfig or the in-cluster
//! configuration, until SIGINT or SIGTERM.

use std::{path::PathBuf, process::ExitCode};

use api::names::DEFAULT_OPERATOR_NAMESPACE;
use kube::{Client, Config, config::KubeConfigOptions};
use tracing::{error, info};

use crate::reconcile;

/// Arguments of `run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Kubeconfig to use; default: $KUBECONFIG, ~/.kube/config, then the in-cluster config.
    #[arg(long, value_name = "PATH", env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Namespace the operator runs in (peer of the OpenBao pods' ingress rule).
    #[arg(long, value_name = "NS", env = "OPERATOR_NAMESPACE", default_value = DEFAULT_OPERATOR_NAMESPACE)]
    pub operator_namespace: String,
    /// Only reconcile OpenBaoClusters in this namespace.
    #[arg(long, value_name = "NS")]
    pub watch_namespace: Option<String>,
    /// Log format.
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
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
        info!(operator_namespace = %args.operator_namespace, watch_namespace = ?args.watch_namespace, "starting");
        let config = reconcile::Config {
            operator_namespace: args.operator_namespace.clone(),
            watch_namespace: args.watch_namespace.clone(),
        };
        let metrics = std::sync::Arc::new(crate::telemetry::Metrics::new());
        reconcile::run(client, config, metrics, shutdown_signal()).await;
        info!("stopped");
        ExitCode::SUCCESS
    })
}
