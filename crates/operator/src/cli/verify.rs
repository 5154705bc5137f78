//! `openbao-operator netpol verify`: render a cluster's policies (or, with `--controller`, the
//! operator's own) and prove them against the posture contract (`crate::posture`), printing a
//! truth table; exit 1 if any flow disagrees.

use std::{
    net::IpAddr,
    path::{Path, PathBuf},
    process::ExitCode,
};

use api::names::DEFAULT_OPERATOR_NAMESPACE;
use netpol::Cidr;

use super::{EXIT_BAD_INPUT, EXIT_CHECK_FAILED};
use crate::{
    desired::Facts,
    install::{controller::ControllerPolicyOptions, deploy::label_selector_from_str},
    posture::{cluster, controller, network_policies_from_yaml, truth_table},
};

/// Output formats of `netpol verify`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VerifyOutput {
    /// The truth table.
    #[default]
    Table,
    /// Graphviz `dot`: the flows as a graph, violations in red.
    Dot,
    /// One self-contained HTML page: the graph as SVG and the truth table.
    Html,
}

/// Arguments of `netpol verify`.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// OpenBaoCluster manifest (required unless --controller).
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE",
        required_unless_present_any = ["controller", "live"]
    )]
    pub file: Option<PathBuf>,
    /// Prove the live posture of the cluster named by --cluster (kubeconfig as usual): every
    /// NetworkPolicy of its namespace, whoever made it, with its members' live labels; the
    /// table names the policy that decides each violating flow.
    #[arg(long, requires = "cluster", conflicts_with_all = ["file", "policies", "controller"])]
    pub live: bool,
    /// The cluster to prove with --live, as NAMESPACE/NAME.
    #[arg(long, value_name = "NS/NAME", requires = "live")]
    pub cluster: Option<String>,
    /// Check the NetworkPolicies in this file (for example `render` output or a golden file)
    /// instead of rendering them from the manifest.
    #[arg(long, value_name = "FILE")]
    pub policies: Option<PathBuf>,
    /// Namespace the operator runs in.
    #[arg(long, value_name = "NS", default_value = DEFAULT_OPERATOR_NAMESPACE)]
    pub operator_namespace: String,
    /// Stands in for the detected `kubernetes` Service ClusterIP.
    #[arg(long, value_name = "IP", default_value = "10.96.0.1")]
    pub api_server_ip: IpAddr,
    /// How the result is printed: the truth table, Graphviz `dot`, or one self-contained HTML
    /// page (the graph as SVG and the table). The exit code is the same for all three.
    #[arg(long, value_enum, default_value_t = VerifyOutput::Table)]
    pub output: VerifyOutput,
    /// `--controller` and its flags: check the operator's own NetworkPolicy instead.
    #[command(flatten)]
    pub controller: ControllerVerifyArgs,
}

/// The `netpol verify --controller` flags (flattened into `netpol verify`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ControllerVerifyArgs {
    /// Check the controller's own NetworkPolicy (deploy manifests) instead of a cluster's:
    /// rendered from the flags below, or read from --policies.
    #[arg(long, conflicts_with = "file")]
    pub controller: bool,
    /// Namespaces allowed to scrape metrics on 8080/8443, as `key=value[,key=value]`
    /// (default: kubernetes.io/metadata.name=monitoring).
    #[arg(long, value_name = "SELECTOR", conflicts_with = "file")]
    pub metrics_namespace_selector: Option<String>,
    /// The API server's CIDR; egress on 443/6443 must then reach only it (default: any address).
    #[arg(long, value_name = "CIDR", conflicts_with = "file")]
    pub api_server_cidr: Option<String>,
    /// Namespace whose pods serve DNS (default: kube-system).
    #[arg(long, value_name = "NS", conflicts_with = "file")]
    pub dns_namespace: Option<String>,
}

impl ControllerVerifyArgs {
    /// The policy options these flags describe, for the operator in `operator_namespace`.
    pub fn options(&self, operator_namespace: &str) -> Result<ControllerPolicyOptions, String> {
        let mut options = ControllerPolicyOptions::new(operator_namespace);
        if let Some(selector) = &self.metrics_namespace_selector {
            options.metrics_namespace_selector = label_selector_from_str(selector)
                .map_err(|e| format!("--metrics-namespace-selector: {e}"))?;
        }
        if let Some(cidr) = &self.api_server_cidr {
            Cidr::parse(cidr).map_err(|e| {
                format!("--api-server-cidr {cidr:?}: {e} (allowed: an IPv4 or IPv6 CIDR)")
            })?;
            options.api_server_cidr = Some(cidr.clone());
        }
        if let Some(ns) = &self.dns_namespace {
            options.dns_namespace = ns.clone();
        }
        Ok(options)
    }
}

/// Run `netpol verify`.
pub fn run(args: &VerifyArgs) -> ExitCode {
    if args.live {
        return run_live(
            args.cluster.as_deref().unwrap_or_default(),
            &args.operator_namespace,
            args.output,
        );
    }
    let file = match (&args.file, args.controller.controller) {
        (_, true) => {
            return run_controller(
                &args.controller,
                &args.operator_namespace,
                args.api_server_ip,
                args.policies.as_deref(),
                args.output,
            );
        }
        (Some(file), false) => file,
        (None, false) => {
            eprintln!("error: -f/--filename is required (or --controller)");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let source = file.display().to_string();
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: cannot read {source}: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let facts = Facts::new(args.operator_namespace.clone(), Some(args.api_server_ip));
    let policies = match &args.policies {
        None => None,
        Some(path) => {
            let loaded = std::fs::read_to_string(path)
                .map_err(|e| e.to_string())
                .and_then(|text| network_policies_from_yaml(&text));
            match loaded {
                Ok(policies) => Some(policies),
                Err(e) => {
                    eprintln!("error: {}: {e}", path.display());
                    return ExitCode::from(EXIT_BAD_INPUT);
                }
            }
        }
    };
    match cluster::verify_manifest(&text, &facts, policies.as_deref()) {
        Ok(report) => print_report(&report, args.output, &format!("Posture of {source}")),
        Err(message) => {
            eprintln!("error: {source}: {message}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// Run `netpol verify --controller`: print the truth table; exit 0 when every flow matches the
/// contract, 1 when one does not, 2 on bad input. `policies` replaces the rendered policy with
/// the NetworkPolicies of a file (other kinds in it are ignored).
fn run_controller(
    args: &ControllerVerifyArgs,
    operator_namespace: &str,
    api_server_ip: IpAddr,
    policies: Option<&Path>,
    output: VerifyOutput,
) -> ExitCode {
    let options = match args.options(operator_namespace) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let result = match policies {
        None => controller::verify(&options, api_server_ip),
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| network_policies_from_yaml(&text))
        {
            Ok(policies) => controller::verify_policies(&options, api_server_ip, &policies),
            Err(e) => {
                eprintln!("error: {}: {e}", path.display());
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        },
    };
    match result {
        Ok(report) => print_report(&report, output, "Posture of the operator's own policy"),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// Run `netpol verify --live --cluster NS/NAME`: read the cluster, the NetworkPolicies of its
/// namespace and its members from the API server and prove them (`posture::audit`); print the
/// truth table, each violating flow with the policy that decides it, and a summary. Exit 0 when
/// proven, 1 on a violation, 2 when the cluster cannot be read or is invalid.
fn run_live(cluster: &str, operator_namespace: &str, output: VerifyOutput) -> ExitCode {
    let Some((namespace, name)) = cluster
        .split_once('/')
        .filter(|(ns, name)| !ns.is_empty() && !name.is_empty() && !name.contains('/'))
    else {
        eprintln!("error: --cluster {cluster:?}: expected NAMESPACE/NAME");
        return ExitCode::from(EXIT_BAD_INPUT);
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let proof = runtime.block_on(live_audit(namespace, name, operator_namespace));
    match proof {
        Ok(proof) if output != VerifyOutput::Table => print_report(
            &proof.report,
            output,
            &format!("Live posture of {namespace}/{name}"),
        ),
        Ok(proof) => {
            print!("{}", truth_table(&proof.report));
            for check in proof.violations() {
                println!(
                    "violation: {} -> {} {}/{}: {} (decided by {})",
                    check.from.name,
                    check.to.name,
                    check.port,
                    check.protocol,
                    if check.actual { "open" } else { "closed" },
                    if check.culprits.is_empty() {
                        "no policy: the member is not isolated".to_string()
                    } else {
                        check.culprits.join(", ")
                    }
                );
            }
            println!("{namespace}/{name}: {}", proof.summary());
            if proof.verified() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_CHECK_FAILED)
            }
        }
        Err(message) => {
            eprintln!("error: {namespace}/{name}: {message}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

async fn live_audit(
    namespace: &str,
    name: &str,
    operator_namespace: &str,
) -> Result<crate::posture::audit::Audit, String> {
    use k8s_openapi::api::{
        core::v1::{Pod, Service},
        networking::v1::NetworkPolicy,
    };
    use kube::{Api, api::ListParams};

    let client = kube::Client::try_default()
        .await
        .map_err(|e| format!("cannot reach the API server (kubeconfig): {e}"))?;
    let cluster = Api::<api::OpenBaoCluster>::namespaced(client.clone(), namespace)
        .get(name)
        .await
        .map_err(|e| format!("cannot read the OpenBaoCluster: {e}"))?;
    let cluster = crate::desired::ValidatedCluster::new(cluster)
        .map_err(|e| format!("the OpenBaoCluster is invalid: {e}"))?;
    let api_server_ip = Api::<Service>::namespaced(client.clone(), "default")
        .get("kubernetes")
        .await
        .ok()
        .and_then(|s| s.spec?.cluster_ip?.parse::<IpAddr>().ok());
    let facts = Facts::new(operator_namespace.to_string(), api_server_ip);
    let policies = Api::<NetworkPolicy>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
        .map_err(|e| format!("cannot list the NetworkPolicies of namespace {namespace}: {e}"))?
        .items;
    let selector = format!("{}={name}", api::names::LABEL_CLUSTER);
    let pods = Api::<Pod>::namespaced(client, namespace)
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| format!("cannot list the pods of {namespace}/{name}: {e}"))?
        .items;
    let live = crate::posture::audit::LiveState {
        members: crate::posture::audit::members_of(&cluster, &pods),
        policies,
    };
    crate::posture::audit::audit(&cluster, &facts, &live).map_err(|e| e.to_string())
}

/// Print the truth table; exit 1 when any flow disagrees with the contract.
fn print_report(report: &crate::posture::Report, output: VerifyOutput, title: &str) -> ExitCode {
    let graph = || crate::posture::draw::Graph::from_report(report);
    match output {
        VerifyOutput::Table => print!("{}", truth_table(report)),
        VerifyOutput::Dot => print!("{}", graph().to_dot()),
        VerifyOutput::Html => print!("{}", graph().to_html(title, &truth_table(report))),
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_CHECK_FAILED)
    }
}
