//! The command line: one module per subcommand, each parsing its arguments and calling into the
//! library. Exit codes: 0 success, 1 a check failed, 2 bad input or usage.

pub mod backup;
pub mod crd;
pub mod manifests;
pub mod netpol;
pub mod render;
pub mod run;
pub mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code for invalid input (files, specs, flags), matching clap's usage errors.
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit code for a check that ran and failed.
pub const EXIT_CHECK_FAILED: u8 = 1;

/// openbao-operator: run OpenBao clusters on Kubernetes behind a default-deny network posture.
#[derive(Parser, Debug)]
#[command(name = "openbao-operator", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the operator (controller) against a Kubernetes cluster.
    Run(run::RunArgs),
    /// Print every object the operator would create for an OpenBaoCluster, in apply order.
    Render(render::RenderArgs),
    /// Print the CustomResourceDefinitions (OpenBaoCluster, OpenBaoRestore, OpenBaoTenant).
    Crd(crd::CrdArgs),
    /// Print or write every object of the operator's own deployment (CRD, RBAC, Deployment,
    /// policies, webhook).
    Manifests(manifests::ManifestsArgs),
    /// Evaluate Kubernetes NetworkPolicies and prove the posture contract.
    #[command(subcommand)]
    Netpol(NetpolCommand),
    /// Move Raft snapshots between OpenBao and object storage (what backup and restore Jobs
    /// run).
    #[command(subcommand)]
    Backup(BackupCommand),
}

#[derive(Subcommand, Debug)]
enum BackupCommand {
    /// Stream a snapshot from OpenBao into the bucket, record its manifest, apply retention.
    Save(backup::SaveArgs),
    /// Check a snapshot against its manifest, then restore it into OpenBao.
    Restore(backup::RestoreArgs),
    /// Check a snapshot's size and SHA-256 against its manifest.
    Verify(backup::VerifyArgs),
    /// List the complete backups, oldest first.
    List(backup::ListArgs),
}

#[derive(Subcommand, Debug)]
enum NetpolCommand {
    /// Evaluate probes (from, to, port, protocol) against Namespaces, Pods and NetworkPolicies.
    Check(netpol::CheckArgs),
    /// Print the pod-by-pod verdict for every port the destination pods declare.
    Matrix(netpol::MatrixArgs),
    /// Check a cluster's policies (or, with --controller, the operator's own) against the
    /// posture contract; with --live, the live posture of a running cluster.
    Verify(verify::VerifyArgs),
    /// Say which live policies allow or deny one flow (`--live FROM TO PORT`).
    Explain(netpol::ExplainArgs),
    /// The flows a change of policies opens and closes.
    Diff(netpol::DiffArgs),
}

/// Parse the command line and run the subcommand.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Render(args) => render::run(&args),
        Command::Crd(args) => crd::run(&args),
        Command::Manifests(args) => manifests::run(&args),
        Command::Netpol(NetpolCommand::Check(args)) => netpol::check(&args),
        Command::Netpol(NetpolCommand::Matrix(args)) => netpol::matrix(&args),
        Command::Netpol(NetpolCommand::Verify(args)) => verify::run(&args),
        Command::Netpol(NetpolCommand::Explain(args)) => netpol::explain(&args),
        Command::Netpol(NetpolCommand::Diff(args)) => netpol::diff(&args),
        Command::Backup(BackupCommand::Save(args)) => backup::save(&args),
        Command::Backup(BackupCommand::Restore(args)) => backup::restore(&args),
        Command::Backup(BackupCommand::Verify(args)) => backup::verify(&args),
        Command::Backup(BackupCommand::List(args)) => backup::list(&args),
    }
}
