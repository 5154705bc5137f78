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

/// Runs `netpol matrix`: prints the verdict for every pod pair and declared port.
pub fn matrix(args: &MatrixArgs) -> ExitCode {
    finish(
        read(&args.objects, "objects").and_then(|objects| matrix_to_string(&objects, args.output)),
    )
}
