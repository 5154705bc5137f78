//! `openbao-operator manifests`: every object of the operator's own deployment, from code
//! (`install::deploy`). Printed as multi-document YAML (CRD first, a complete install), or written
//! as a kustomize directory: one file per object and a `kustomization.yaml` (without the CRD;
//! `deploy/kustomization.yaml` adds it). The committed `deploy/base/` is this command's output
//! with default flags, and `deploy/namespaced/` its output with
//! `--watch-namespaces openbao-a,openbao-b` (a namespaced install).

use std::{
    io::Write as _,
    path::{Path, PathBuf},
    process::ExitCode,
};

use api::names::DEFAULT_OPERATOR_NAMESPACE;

use super::EXIT_BAD_INPUT;
use crate::{
    install::deploy::{self, DEFAULT_IMAGE, DeployOptions, label_selector_from_str},
    manager,
};

/// Arguments of `manifests`.
#[derive(clap::Args, Debug, Clone)]
pub struct ManifestsArgs {
    /// Namespace the operator runs in.
    #[arg(short = 'n', long, value_name = "NS", default_value = DEFAULT_OPERATOR_NAMESPACE)]
    pub namespace: String,
    /// Operator image.
    #[arg(long, value_name = "IMAGE", default_value = DEFAULT_IMAGE)]
    pub image: String,
    /// Write a kustomize directory (one file per object and kustomization.yaml) instead of
    /// printing multi-document YAML.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Deployment replicas (a PodDisruptionBudget is added when more than one).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..))]
    pub replicas: i32,
    /// The operator's RUST_LOG: a level (error, warn, info, debug, trace) or a tracing filter.
    #[arg(long, value_name = "FILTER", default_value = "info")]
    pub log_level: String,
    /// Namespaces allowed to scrape metrics on 8080/8443, as `key=value[,key=value]`
    /// (default: kubernetes.io/metadata.name=monitoring).
    #[arg(long, value_name = "SELECTOR")]
    pub metrics_namespace_selector: Option<String>,
    /// Restrict API-server egress (443, 6443) to this CIDR (default: any address).
    #[arg(long, value_name = "CIDR")]
    pub api_server_cidr: Option<String>,
    /// Namespace whose pods serve DNS.
    #[arg(long, value_name = "NS", default_value = "kube-system")]
    pub dns_namespace: String,
    /// Leave out the validating admission webhook (its Service, registration and flags).
    #[arg(long)]
    pub no_webhook: bool,
    /// A namespaced install: the operator reconciles (and admits) clusters only in these
    /// namespaces, comma-separated and repeatable, and gets a Role in each instead of the
    /// reconcile ClusterRole. The namespaces must exist before the manifests are applied.
    #[arg(
        long = "watch-namespaces",
        alias = "watch-namespace",
        value_name = "NS[,NS...]",
        value_delimiter = ',',
        value_parser = manager::parse_watch_namespace
    )]
    pub watch_namespaces: Vec<String>,
}

impl ManifestsArgs {
    /// The defaults (what `deploy/base/` is generated with).
    pub fn defaults() -> Self {
        Self {
            namespace: DEFAULT_OPERATOR_NAMESPACE.to_string(),
            image: DEFAULT_IMAGE.to_string(),
            output_dir: None,
            replicas: 1,
            log_level: "info".to_string(),
            metrics_namespace_selector: None,
            api_server_cidr: None,
            dns_namespace: "kube-system".to_string(),
            no_webhook: false,
            watch_namespaces: Vec::new(),
        }
    }

    /// The deploy options these flags describe; errors name the flag, the value and what is
    /// allowed.
    pub fn options(&self) -> Result<DeployOptions, String> {
        let mut options = DeployOptions::new(self.namespace.clone());
        options.image = self.image.clone();
        options.replicas = self.replicas;
        options.log_level = self.log_level.clone();
        if let Some(selector) = &self.metrics_namespace_selector {
            options.metrics_namespace_selector = label_selector_from_str(selector)
                .map_err(|e| format!("--metrics-namespace-selector: {e}"))?;
        }
        if let Some(cidr) = &self.api_server_cidr {
            netpol::Cidr::parse(cidr).map_err(|e| {
                format!("--api-server-cidr {cidr:?}: {e} (allowed: an IPv4 or IPv6 CIDR)")
            })?;
            options.api_server_cidr = Some(cidr.clone());
        }
        options.dns_namespace = self.dns_namespace.clone();
        options.webhook = !self.no_webhook;
        options.watch_namespaces = manager::dedup_namespaces(&self.watch_namespaces);
        Ok(options)
    }
}

fn write_dir(dir: &Path, files: &[deploy::File]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for file in files {
        let path = dir.join(&file.name);
        std::fs::write(&path, &file.contents)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Run `manifests`.
pub fn run(args: &ManifestsArgs) -> ExitCode {
    let options = match args.options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let result = match &args.output_dir {
        Some(dir) => deploy::kustomize_files(&options)
            .map_err(|e| format!("cannot serialize the manifests: {e}"))
            .and_then(|files| write_dir(dir, &files)),
        None => super::crd::crd_yaml()
            .and_then(|crd| deploy::multi_document(&options, &crd))
            .map_err(|e| format!("cannot serialize the manifests: {e}"))
            .and_then(|text| {
                let mut stdout = std::io::stdout().lock();
                stdout
                    .write_all(text.as_bytes())
                    .and_then(|()| stdout.flush())
                    .map_err(|e| format!("cannot write the output: {e}"))
            }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
