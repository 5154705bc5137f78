//! `openbao-operator netpol verify`: render a cluster's policies and prove them against the
//! posture contract (`crate::posture`), printing a truth table; exit 1 if any flow disagrees.

use std::{collections::BTreeMap, fmt::Write, net::IpAddr, path::PathBuf, process::ExitCode};

use api::names::DEFAULT_OPERATOR_NAMESPACE;

use super::{EXIT_BAD_INPUT, EXIT_CHECK_FAILED, netpol::format_table};
use crate::{
    build::Facts,
    controller_posture,
    posture::{self, FlowOutcome, Report},
};

/// Arguments of `netpol verify`.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// OpenBaoCluster manifest (required unless --controller).
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE",
        required_unless_present = "controller"
    )]
    pub file: Option<PathBuf>,
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
    /// `--controller` and its flags: check the operator's own NetworkPolicy instead.
    #[command(flatten)]
    pub controller: controller_posture::ControllerVerifyArgs,
}

/// The truth table: one line per (source, destination) pair with the ports allowed, the ports
/// the contract expects and the rows behind them, then every failing flow with its reason.
/// `probe_ports` is how many ports were probed per pair (shown as "all probed").
pub fn truth_table<C: FlowOutcome>(report: &Report<C>, probe_ports: usize) -> String {
    struct Pair {
        allowed: Vec<String>,
        expected: Vec<String>,
        rows: Vec<&'static str>,
        user: bool,
        ok: bool,
    }
    let mut pairs: BTreeMap<(String, String), Pair> = BTreeMap::new();
    let mut order = Vec::new();
    for check in &report.checks {
        let key = (
            check.source_name().to_string(),
            check.destination_name().to_string(),
        );
        let pair = pairs.entry(key.clone()).or_insert_with(|| {
            order.push(key);
            Pair {
                allowed: Vec::new(),
                expected: Vec::new(),
                rows: Vec::new(),
                user: false,
                ok: true,
            }
        });
        let port = format!("{}/{}", check.port(), check.protocol());
        if check.actual() {
            pair.allowed.push(port.clone());
        }
        if check.expected() {
            pair.expected.push(port);
        }
        for row in check.rows() {
            if !pair.rows.contains(row) {
                pair.rows.push(row);
            }
        }
        pair.user |= check.via_user_rule();
        pair.ok &= check.ok();
    }
    let show = |ports: &[String]| {
        if ports.is_empty() {
            "-".to_string()
        } else if ports.len() == probe_ports {
            "all probed".to_string()
        } else {
            ports.join(",")
        }
    };
    let rows: Vec<[String; 6]> = order
        .iter()
        .filter_map(|key| pairs.get(key).map(|p| (key, p)))
        .map(|((from, to), p)| {
            let mut why = p.rows.join(",");
            if p.user {
                why.push_str(if why.is_empty() {
                    "user rule"
                } else {
                    ",user rule"
                });
            }
            [
                from.clone(),
                to.clone(),
                show(&p.allowed),
                show(&p.expected),
                if why.is_empty() { "-".to_string() } else { why },
                if p.ok { "ok" } else { "FAIL" }.to_string(),
            ]
        })
        .collect();
    let mut out = format_table(
        ["FROM", "TO", "ALLOWED", "EXPECTED", "ROWS", "RESULT"],
        &rows,
    );
    let failures: Vec<&C> = report.failures().collect();
    let _ = writeln!(
        out,
        "\n{} flows checked over {probe_ports} ports, {} failing",
        report.checks.len(),
        failures.len()
    );
    for f in failures {
        let _ = writeln!(
            out,
            "FAIL {} -> {} {}/{}: expected {}, got {}: {}",
            f.source_name(),
            f.destination_name(),
            f.port(),
            f.protocol(),
            if f.expected() { "allowed" } else { "denied" },
            if f.actual() { "allowed" } else { "denied" },
            f.reason()
        );
    }
    out
}

/// Run `netpol verify`.
pub fn run(args: &VerifyArgs) -> ExitCode {
    let file = match (&args.file, args.controller.controller) {
        (_, true) => {
            return controller_posture::run(
                &args.controller,
                &args.operator_namespace,
                args.api_server_ip,
                args.policies.as_deref(),
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
                .and_then(|text| posture::network_policies_from_yaml(&text));
            match loaded {
                Ok(policies) => Some(policies),
                Err(e) => {
                    eprintln!("error: {}: {e}", path.display());
                    return ExitCode::from(EXIT_BAD_INPUT);
                }
            }
        }
    };
    match posture::verify_manifest(&text, &facts, policies.as_deref()) {
        Ok(report) => {
            print!("{}", truth_table(&report, posture::PROBE_PORTS.len()));
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_CHECK_FAILED)
            }
        }
        Err(message) => {
            eprintln!("error: {source}: {message}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}
