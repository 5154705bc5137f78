//! `localcluster`: runs the local control plane outside of tests (the demo, manual poking).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use localcluster::{ControlPlane, ImageSource, Options};
use tokio::signal::unix::{SignalKind, signal};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(version, about = "A real local Kubernetes control plane on loopback")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start etcd, kube-apiserver and kube-controller-manager (optionally kube-scheduler and a
    /// node); run until SIGINT or SIGTERM.
    Up {
        /// Where to write the admin kubeconfig.
        #[arg(long)]
        kubeconfig: PathBuf,
        /// Also run kube-scheduler.
        #[arg(long)]
        with_scheduler: bool,
        /// Also run a node agent that runs scheduled pods as real processes (implies
        /// --with-scheduler; needs root).
        #[arg(long)]
        with_node: bool,
        /// Enforce NetworkPolicies on the node: run kube-router's firewall in its network
        /// namespace (needs `hack/setup.sh --only netstack`). Also on with
        /// OPENBAO_LOCALCLUSTER_ENFORCE=1.
        #[arg(long, requires = "with_node")]
        enforce: bool,
        /// An OCI image for the node's store, `[REF=]PATH`: an `oci-archive` tar (`buildah
        /// push IMG oci-archive:PATH:NAME`) or an OCI layout directory, under REF and the
        /// names its index.json annotates. Repeatable; also read from
        /// OPENBAO_LOCALCLUSTER_IMAGES (comma-separated).
        #[arg(long = "image", value_name = "[REF=]PATH", requires = "with_node")]
        images: Vec<ImageSource>,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Up {
            kubeconfig,
            with_scheduler,
            with_node,
            enforce,
            images,
        } => up(&kubeconfig, with_scheduler, with_node, enforce, images).await,
    }
}

async fn up(
    kubeconfig: &Path,
    scheduler: bool,
    node: bool,
    enforce: bool,
    images: Vec<ImageSource>,
) -> Result<()> {
    // Install the handlers before the (seconds-long) start, so a early Ctrl-C still cleans up.
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut options = Options {
        scheduler,
        node,
        ..Options::default()
    };
    options.node_options.enforce_network_policy |= enforce;
    options.node_options.oci_images.extend(images);
    let control_plane = tokio::select! {
        started = ControlPlane::start_with(options) => started?,
        _ = interrupt.recv() => return Ok(()),
        _ = terminate.recv() => return Ok(()),
    };
    // fs::copy keeps the source's 0600 mode: the file holds the admin's private key.
    std::fs::copy(control_plane.admin_kubeconfig_path(), kubeconfig)
        .with_context(|| format!("writing {}", kubeconfig.display()))?;
    let timings = control_plane.timings();
    println!(
        "control plane ready in {:.1} s\n  API server: {}\n  kubeconfig: {}\n  logs:       {}\n\
         Stop with Ctrl-C (SIGINT) or SIGTERM.",
        timings.total.as_secs_f64(),
        control_plane.server_url(),
        kubeconfig.display(),
        control_plane.log_dir().display(),
    );
    if let Some(node) = control_plane.node() {
        println!(
            "  node:       {} (pod CIDR {}, routed from this host; pods reach the API server at \
             {})\n  node netns: {}",
            node.name(),
            node.pod_cidr(),
            node.api_server_address(),
            node.netns()
        );
        for (reference, image) in node.stored_images() {
            println!("  image:      {reference} ({})", image.digest);
        }
        if let Some(log) = node.firewall_log() {
            println!(
                "  NetworkPolicy: enforced by kube-router in the node netns (log {})",
                log.display()
            );
        }
    }
    // A component that dies should end the session loudly, not leave a half cluster behind.
    let mut health = tokio::time::interval(std::time::Duration::from_secs(1));
    let outcome = loop {
        tokio::select! {
            _ = interrupt.recv() => break Ok(()),
            _ = terminate.recv() => break Ok(()),
            _ = health.tick() => {
                if let Err(e) = control_plane.check_running() {
                    break Err(e);
                }
            }
        }
    };
    eprintln!("stopping the control plane");
    control_plane.stop().await?;
    outcome
}
