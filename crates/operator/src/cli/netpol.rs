//! `openbao-operator netpol check` and `netpol matrix`: read the files named on the command line,
//! load Namespaces, Pods and NetworkPolicies into a `netpol` world and evaluate probes or the full
//! reachability matrix (`crate::posture::load`), and print JSON or tables
//! (`crate::posture::report`).
//!
//! Exit codes: 0 when everything was evaluated (whatever the verdicts), 2 on bad input (with
//! every problem on stderr, naming the object or probe and the field), 1 when stdout cannot be
//! written.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::EXIT_BAD_INPUT;
use crate::posture::{
    load::{InputError, load_world, matrix_rows, parse_probes, run_probes},
    report::{matrix_json, matrix_table, probes_json, probes_table},
};

/// How results are printed.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputFormat {
    /// Aligned columns for people.
    #[default]
    Table,
    /// A JSON array, for tools.
    Json,
    /// Graphviz `dot` (`netpol matrix` only): pods and addresses as nodes, ports on the edges.
    Dot,
    /// One self-contained HTML page (`netpol matrix` only): the graph as SVG and the table.
    Html,
}

/// Arguments of `netpol check`.
#[derive(clap::Args, Debug, Clone)]
pub struct CheckArgs {
    /// Namespaces, Pods and NetworkPolicies: multi-document YAML, a YAML list, or a `kind: List`.
    #[arg(long, value_name = "FILE")]
    pub objects: PathBuf,
    /// Probes: a YAML list of `{from, to, port, protocol}`; `from`/`to` are `NS/POD` or
    /// `ip:ADDRESS` (an address outside the pods: no policies of its own, only ipBlocks match
    /// it, even if a pod has the same IP), `port` a number or a port name of the destination
    /// pod, `protocol` TCP (the default), UDP or SCTP.
    #[arg(long, value_name = "FILE")]
    pub probes: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// Arguments of `netpol explain --live`.
#[derive(clap::Args, Debug, Clone)]
pub struct ExplainArgs {
    /// Read the live cluster (kubeconfig as usual): the two namespaces with their labels, their
    /// pods and their NetworkPolicies. (Required: explaining files is `netpol check`.)
    #[arg(long, required = true)]
    pub live: bool,
    /// Source: `NS/POD`, or `ip:ADDRESS` for an address outside the pods.
    pub from: String,
    /// Destination: `NS/POD`, or `ip:ADDRESS`.
    pub to: String,
    /// Destination port: a number, or a port name of the destination pod.
    pub port: String,
    /// TCP (the default), UDP or SCTP.
    #[arg(long, default_value = "TCP")]
    pub protocol: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// Arguments of `netpol diff`.
#[derive(clap::Args, Debug, Clone)]
pub struct DiffArgs {
    /// The objects before the change: Namespaces, Pods and NetworkPolicies (or, with -f, just
    /// the NetworkPolicies).
    #[arg(long, value_name = "FILE")]
    pub before: PathBuf,
    /// The objects after the change.
    #[arg(long, value_name = "FILE")]
    pub after: PathBuf,
    /// An OpenBaoCluster manifest: compare the two versions of its policies over the posture
    /// check's synthetic environment (operator, peers, Jobs, kube-system, DNS, gateway,
    /// unrelated pods, the API server and the internet) instead of the pods in the files.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub cluster: Option<PathBuf>,
    /// The operator's namespace (with -f).
    #[arg(long, value_name = "NS", default_value = api::names::DEFAULT_OPERATOR_NAMESPACE)]
    pub operator_namespace: String,
    /// Stands in for the `kubernetes` Service ClusterIP (with -f).
    #[arg(long, value_name = "IP", default_value = "10.96.0.1")]
    pub api_server_ip: std::net::IpAddr,
}

/// Arguments of `netpol matrix`.
#[derive(clap::Args, Debug, Clone)]
pub struct MatrixArgs {
    /// Namespaces, Pods and NetworkPolicies: multi-document YAML, a YAML list, or a `kind: List`.
    #[arg(long, value_name = "FILE")]
    pub objects: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

fn read(path: &Path, what: &str) -> Result<String, InputError> {
    std::fs::read_to_string(path)
        .map_err(|e| InputError::one(format!("cannot read {what} file {}: {e}", path.display())))
}

/// `netpol check` without IO: objects and probes text in, output text and warnings out.
pub fn check_to_string(
    objects: &str,
    probes: &str,
    format: OutputFormat,
) -> Result<(String, Vec<String>), InputError> {
    let (world, warnings) = load_world(objects)?;
    let probes = parse_probes(probes, &world)?;
    let results = run_probes(&world, &probes)?;
    let text = match format {
        OutputFormat::Json => probes_json(&results),
        OutputFormat::Table => probes_table(&results),
        OutputFormat::Dot | OutputFormat::Html => {
            return Err(InputError::one(
                "--output: netpol check prints table or json (dot and html draw netpol matrix and netpol verify)",
            ));
        }
    };
    Ok((text, warnings))
}

/// `netpol matrix` without IO: objects text in, output text and warnings out.
pub fn matrix_to_string(
    objects: &str,
    format: OutputFormat,
) -> Result<(String, Vec<String>), InputError> {
    let (world, warnings) = load_world(objects)?;
    let rows = matrix_rows(&world);
    let text = match format {
        OutputFormat::Json => matrix_json(&rows),
        OutputFormat::Table => matrix_table(&rows),
        OutputFormat::Dot => crate::posture::draw::Graph::from_matrix(&rows).to_dot(),
        OutputFormat::Html => crate::posture::draw::Graph::from_matrix(&rows)
            .to_html("NetworkPolicy reachability", &matrix_table(&rows)),
    };
    Ok((text, warnings))
}

/// Writes warnings and the output, or the errors; returns the exit code.
fn finish(result: Result<(String, Vec<String>), InputError>) -> ExitCode {
    let mut stderr = std::io::stderr().lock();
    match result {
        Ok((text, warnings)) => {
            for warning in warnings {
                let _ = writeln!(stderr, "warning: {warning}");
            }
            let mut stdout = std::io::stdout().lock();
            match stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
            {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    let _ = writeln!(stderr, "error: cannot write the output: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(error) => {
            for message in &error.messages {
                let _ = writeln!(stderr, "error: {message}");
            }
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// Runs `netpol check`: evaluates every probe and prints the verdicts.
pub fn check(args: &CheckArgs) -> ExitCode {
    finish(read(&args.objects, "objects").and_then(|objects| {
        let probes = read(&args.probes, "probes")?;
        check_to_string(&objects, &probes, args.output)
    }))
}

/// Runs `netpol explain --live`: reads the namespaces of both ends from the API server (their
/// labels, pods and NetworkPolicies) and says which policies allow or deny the one flow, as
/// `netpol check` does for files. Exit 0 when evaluated, 2 on bad input or an unreadable cluster.
pub fn explain(args: &ExplainArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            return finish(Err(InputError::one(format!(
                "cannot start the runtime: {e}"
            ))));
        }
    };
    finish(runtime.block_on(async {
        let client = kube::Client::try_default().await.map_err(|e| {
            InputError::one(format!("cannot reach the API server (kubeconfig): {e}"))
        })?;
        let namespaces: Vec<&str> = [&args.from, &args.to]
            .iter()
            .filter(|e| !e.starts_with("ip:"))
            .filter_map(|e| e.split_once('/').map(|(ns, _)| ns))
            .collect();
        let objects = live_objects(&client, &namespaces).await?;
        let probe = serde_yaml::to_string(&serde_json::json!([{
            "from": args.from, "to": args.to, "port": args.port, "protocol": args.protocol,
        }]))
        .map_err(|e| InputError::one(format!("cannot write the probe: {e}")))?;
        check_to_string(&objects, &probe, args.output)
    }))
}

/// `namespaces` with their labels, pods and NetworkPolicies, read from the API server as one
/// `kind: List` for [`load_world`] (what `netpol explain --live` evaluates).
pub async fn live_objects(
    client: &kube::Client,
    namespaces: &[&str],
) -> Result<String, InputError> {
    use k8s_openapi::api::{
        core::v1::{Namespace, Pod},
        networking::v1::NetworkPolicy,
    };
    use kube::{Api, api::ListParams};

    let mut namespaces = namespaces.to_vec();
    namespaces.sort_unstable();
    namespaces.dedup();
    let mut items = Vec::new();
    let read =
        |what: String| move |e: kube::Error| InputError::one(format!("cannot read {what}: {e}"));
    for ns in namespaces {
        let namespace = Api::<Namespace>::all(client.clone())
            .get(ns)
            .await
            .map_err(read(format!("namespace {ns}")))?;
        let mut typed = |object: serde_json::Value, kind: &str, version: &str| {
            let mut object = object;
            object["kind"] = serde_json::Value::from(kind);
            object["apiVersion"] = serde_json::Value::from(version);
            if let Some(meta) = object.get_mut("metadata").and_then(|m| m.as_object_mut()) {
                meta.remove("managedFields");
            }
            items.push(object);
        };
        typed(
            serde_json::to_value(&namespace).unwrap_or_default(),
            "Namespace",
            "v1",
        );
        for pod in Api::<Pod>::namespaced(client.clone(), ns)
            .list(&ListParams::default())
            .await
            .map_err(read(format!("the pods of {ns}")))?
        {
            typed(serde_json::to_value(&pod).unwrap_or_default(), "Pod", "v1");
        }
        for policy in Api::<NetworkPolicy>::namespaced(client.clone(), ns)
            .list(&ListParams::default())
            .await
            .map_err(read(format!("the NetworkPolicies of {ns}")))?
        {
            typed(
                serde_json::to_value(&policy).unwrap_or_default(),
                "NetworkPolicy",
                "networking.k8s.io/v1",
            );
        }
    }
    serde_yaml::to_string(&serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}))
        .map_err(|e| InputError::one(format!("cannot write the objects: {e}")))
}

/// `netpol diff` without IO: the flows the change from `before` to `after` opens and closes,
/// one line each. With `cluster` (a manifest), over its synthetic environment; otherwise over
/// the pods and declared ports both files hold.
pub fn diff_to_string(
    before: &str,
    after: &str,
    cluster: Option<(&str, &crate::desired::Facts)>,
) -> Result<(String, Vec<String>), InputError> {
    use crate::posture::{diff, network_policies_from_yaml};
    let diff = match cluster {
        Some((manifest, facts)) => {
            let cluster = api::decode::cluster_from_yaml_str(manifest)
                .map_err(|e| InputError::one(format!("the cluster manifest: {e}")))?;
            let cluster = crate::desired::ValidatedCluster::new(cluster)
                .map_err(|e| InputError::one(format!("the cluster manifest: {e}")))?;
            let before = network_policies_from_yaml(before)
                .map_err(|e| InputError::one(format!("--before: {e}")))?;
            let after = network_policies_from_yaml(after)
                .map_err(|e| InputError::one(format!("--after: {e}")))?;
            diff::between(&cluster, facts, &before, &after)
                .map_err(|e| InputError::one(e.to_string()))?
        }
        None => {
            let (before, mut warnings) = load_world(before)?;
            let (after, more) = load_world(after)?;
            warnings.extend(more);
            let diff = diff::between_rows(&matrix_rows(&before), &matrix_rows(&after));
            return Ok((diff.table(), warnings));
        }
    };
    Ok((diff.table(), Vec::new()))
}

/// Runs `netpol diff`: prints the flows a change opens (`+`) and closes (`-`).
pub fn diff(args: &DiffArgs) -> ExitCode {
    finish((|| {
        let before = read(&args.before, "--before")?;
        let after = read(&args.after, "--after")?;
        match &args.cluster {
            Some(path) => {
                let manifest = read(path, "cluster")?;
                let facts = crate::desired::Facts::new(
                    args.operator_namespace.clone(),
                    Some(args.api_server_ip),
                );
                diff_to_string(&before, &after, Some((&manifest, &facts)))
            }
            None => diff_to_string(&before, &after, None),
        }
    })())
}

/// Runs `netpol matrix`: prints the verdict for every pod pair and declared port.
pub fn matrix(args: &MatrixArgs) -> ExitCode {
    finish(
        read(&args.objects, "objects").and_then(|objects| matrix_to_string(&objects, args.output)),
    )
}
