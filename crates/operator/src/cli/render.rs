//! `openbao-operator render`: every object the operator would create for a cluster, as
//! multi-document YAML in apply order, computed by the same pure builders the reconciler uses.
//! Invalid input prints every field error on stderr and exits 2 with nothing on stdout.

use std::{net::IpAddr, path::PathBuf, process::ExitCode};

use api::names::DEFAULT_OPERATOR_NAMESPACE;

use super::EXIT_BAD_INPUT;
use crate::desired::{self, Facts, ValidatedCluster};

/// Arguments of `render`.
#[derive(clap::Args, Debug)]
pub struct RenderArgs {
    /// OpenBaoCluster manifest (YAML; several documents render one after another; `-` is stdin).
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub file: PathBuf,
    /// Namespace the operator runs in (peer of the operator ingress rule).
    #[arg(long, value_name = "NS", default_value = DEFAULT_OPERATOR_NAMESPACE)]
    pub operator_namespace: String,
    /// Stands in for the detected `kubernetes` Service ClusterIP (API-server egress rule).
    #[arg(long, value_name = "IP")]
    pub api_server_ip: Option<IpAddr>,
}

/// A rendering failure: every message names the document and field.
#[derive(Debug, Default)]
pub struct RenderError {
    /// One line per problem.
    pub messages: Vec<String>,
}

/// What a successful render produced.
#[derive(Debug)]
pub struct Rendered {
    /// Multi-document YAML.
    pub yaml: String,
    /// Warnings about the render itself, for stderr (for example an unknown API server
    /// address: objects are missing from the output).
    pub warnings: Vec<String>,
    /// Legal but risky settings of the manifests (what the webhook warns about), for stderr.
    pub advice: Vec<String>,
}

/// Render every OpenBaoCluster document of `input` (named `source` in messages).
pub fn render_str(input: &str, source: &str, facts: &Facts) -> Result<Rendered, RenderError> {
    let documents = split_documents(input);
    let mut error = RenderError::default();
    let mut validated = Vec::new();
    if documents.is_empty() {
        error
            .messages
            .push(format!("{source}: no OpenBaoCluster document found"));
    }
    for (index, document) in documents.iter().enumerate() {
        let location = if documents.len() > 1 {
            format!("{source} (document {})", index + 1)
        } else {
            source.to_string()
        };
        let cluster = match api::decode::cluster_from_yaml_str(document) {
            Ok(cluster) => cluster,
            Err(errors) => {
                error
                    .messages
                    .extend(errors.iter().map(|e| format!("{location}: {e}")));
                continue;
            }
        };
        match ValidatedCluster::new(cluster) {
            Ok(valid) => validated.push(valid),
            Err(errors) => error
                .messages
                .extend(errors.iter().map(|e| format!("{location}: {e}"))),
        }
    }
    if !error.messages.is_empty() {
        return Err(error);
    }

    let mut yaml = String::new();
    let mut warnings = Vec::new();
    let mut advice = Vec::new();
    for cluster in &validated {
        // Legal but risky settings, as the webhook returns them.
        advice.extend(
            api::validate::warnings(cluster.cluster())
                .into_iter()
                .map(|w| format!("{}/{}: {w}", cluster.namespace(), cluster.names().cluster())),
        );
        let resources = desired::build(cluster, facts);
        if resources.statefulset.is_none() {
            warnings.push(format!(
                "{}/{}: the Kubernetes API server address is unknown, so the API-server egress rule \
                 and the StatefulSet are not rendered; pass --api-server-ip or set spec.network.apiServerCIDR",
                cluster.namespace(),
                cluster.names().cluster()
            ));
        }
        for object in resources.in_apply_order() {
            let text = serde_yaml::to_string(&object.to_json()).map_err(|e| RenderError {
                messages: vec![format!("{source}: cannot serialize output: {e}")],
            })?;
            yaml.push_str("---\n");
            yaml.push_str(&text);
        }
    }
    Ok(Rendered {
        yaml,
        warnings,
        advice,
    })
}

/// Split multi-document YAML on `---` separator lines, dropping empty documents.
fn split_documents(input: &str) -> Vec<String> {
    let mut documents = Vec::new();
    let mut current = String::new();
    for line in input.lines() {
        if line.trim_end() == "---" || line.starts_with("--- ") {
            documents.push(std::mem::take(&mut current));
            continue;
        }
        current.push_str(line);
        current.push('\n');
    }
    documents.push(current);
    documents
        .into_iter()
        .filter(|d| {
            d.lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        })
        .collect()
}

/// Run `render`.
pub fn run(args: &RenderArgs) -> ExitCode {
    let source = args.file.display().to_string();
    let input = if source == "-" {
        let mut buffer = String::new();
        match std::io::Read::read_to_string(&mut std::io::stdin(), &mut buffer) {
            Ok(_) => buffer,
            Err(e) => {
                eprintln!("error: cannot read standard input: {e}");
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        }
    } else {
        match std::fs::read_to_string(&args.file) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("error: cannot read {source}: {e}");
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        }
    };
    let facts = Facts::new(args.operator_namespace.clone(), args.api_server_ip)
        .with_operator_identity(Some(crate::identity::OperatorIdentity::illustrative(
            &args.operator_namespace,
        )));
    match render_str(&input, &source, &facts) {
        Ok(rendered) => {
            for warning in rendered.advice.iter().chain(&rendered.warnings) {
                eprintln!("warning: {warning}");
            }
            print!("{}", rendered.yaml);
            ExitCode::SUCCESS
        }
        Err(error) => {
            for message in &error.messages {
                eprintln!("error: {message}");
            }
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}
