//! `openbao-operator backup save|restore|verify|list`: what a backup or restore Job runs (and
//! what a person runs by hand in a disaster): log in to OpenBao, move one Raft snapshot between
//! OpenBao and object storage through `crate::backup`, and print the snapshot's manifest as
//! JSON on stdout.
//!
//! Exit codes: 0 done, 1 the operation failed (OpenBao, the store, a snapshot that is not
//! intact), 2 bad input (flags, files, the target).

use std::{
    collections::BTreeMap,
    path::{Path as FsPath, PathBuf},
    process::ExitCode,
    time::Duration,
};

use api::spec::BackupTarget;
use bao_client::{BaoClient, ClientConfig, SecretString};
use object_store::path::Path;

use super::{EXIT_BAD_INPUT, EXIT_CHECK_FAILED};
use crate::backup::{
    self, Credentials, SnapshotKey,
    retention::{self, Policy},
    snapshot::DEFAULT_PART_SIZE,
};

/// Where and how to reach OpenBao, and how to log in.
#[derive(clap::Args, Debug, Clone)]
pub struct OpenBaoArgs {
    /// OpenBao's address, for example https://bao.openbao.svc:8200 (any member: standbys
    /// forward snapshot requests to the active one).
    #[arg(long, value_name = "URL", env = "BAO_ADDR")]
    pub openbao: String,
    /// PEM CA bundle OpenBao's certificate must chain to.
    #[arg(long, value_name = "FILE", env = "BAO_CACERT")]
    pub ca_file: PathBuf,
    /// A file holding an OpenBao token (upstream's token Secret, mounted).
    #[arg(long, value_name = "FILE", conflicts_with = "jwt_file")]
    pub token_file: Option<PathBuf>,
    /// A file holding a JWT to log in with (the pod's projected ServiceAccount token).
    #[arg(long, value_name = "FILE", requires = "role")]
    pub jwt_file: Option<PathBuf>,
    /// The JWT role.
    #[arg(long, value_name = "ROLE")]
    pub role: Option<String>,
    /// The JWT auth mount.
    #[arg(long, value_name = "PATH", default_value = crate::identity::AUTH_MOUNT)]
    pub auth_mount: String,
}

/// Which bucket and where in it.
#[derive(clap::Args, Debug, Clone)]
pub struct TargetArgs {
    /// `spec.backup.target` as JSON or YAML (a file).
    #[arg(long, value_name = "FILE", required_unless_present = "target_json")]
    pub target: Option<PathBuf>,
    /// `spec.backup.target` as JSON (what a backup Job gets in its environment).
    #[arg(
        long,
        value_name = "JSON",
        env = "BACKUP_TARGET",
        conflicts_with = "target"
    )]
    pub target_json: Option<String>,
    /// A directory holding the credentials Secret's keys as files (accessKeyId,
    /// secretAccessKey, sessionToken, region, caCert), as a mounted Secret does.
    #[arg(long, value_name = "DIR")]
    pub credentials_dir: Option<PathBuf>,
    /// The cluster, `NAMESPACE/NAME`: recorded in manifests, and the default prefix.
    #[arg(long, value_name = "NS/NAME")]
    pub cluster: String,
}

/// Arguments of `backup save`.
#[derive(clap::Args, Debug)]
pub struct SaveArgs {
    #[command(flatten)]
    openbao: OpenBaoArgs,
    #[command(flatten)]
    target: TargetArgs,
    /// Keep at most this many backups (the newest) after a successful save.
    #[arg(long, value_name = "N")]
    max_count: Option<usize>,
    /// Delete backups older than this (Go duration, for example 720h) after a successful save.
    #[arg(long, value_name = "DURATION")]
    max_age: Option<String>,
    /// Also write the manifest (or the error) here: a Job's termination message file, which is
    /// how the operator learns what a backup Job did without reaching object storage itself.
    #[arg(long, value_name = "FILE")]
    termination_log: Option<PathBuf>,
    /// The cluster's static seal fingerprint (`static:<32 hex>`), recorded in the manifest so
    /// that a restore into a cluster with another unseal key is refused.
    #[arg(long, value_name = "FINGERPRINT")]
    seal_fingerprint: Option<String>,
}

/// Arguments of `backup restore`.
#[derive(clap::Args, Debug)]
pub struct RestoreArgs {
    #[command(flatten)]
    openbao: OpenBaoArgs,
    #[command(flatten)]
    target: TargetArgs,
    /// The snapshot's object key (as `backup list` prints it).
    #[arg(long, value_name = "KEY")]
    key: String,
    /// Restore a snapshot of another cluster (`snapshot-force`); it must be readable with this
    /// cluster's seal.
    #[arg(long)]
    force: bool,
    /// Refuse the snapshot unless its SHA-256 (64 hex digits) is this (`spec.source.expectedDigest`).
    #[arg(long, value_name = "HEX")]
    expected_sha256: Option<String>,
    /// Refuse the snapshot unless its size in bytes is this (`spec.source.expectedSize`).
    #[arg(long, value_name = "BYTES")]
    expected_size: Option<u64>,
    /// This cluster's static seal fingerprint: a snapshot whose manifest records another one
    /// is refused before OpenBao is touched.
    #[arg(long, value_name = "FINGERPRINT")]
    expected_seal_fingerprint: Option<String>,
    /// Also write the restored snapshot's manifest (or the error) here: a Job's termination
    /// message file.
    #[arg(long, value_name = "FILE")]
    termination_log: Option<PathBuf>,
}

/// Arguments of `backup verify`.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// The snapshot's object key.
    #[arg(long, value_name = "KEY")]
    key: String,
}

/// Arguments of `backup list`.
#[derive(clap::Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    target: TargetArgs,
}

fn bad_input(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_BAD_INPUT)
}

fn failed(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_CHECK_FAILED)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("a tokio runtime: {e}"))
}

/// The store, prefix and cluster label of `args`.
fn open_target(
    args: &TargetArgs,
) -> Result<(std::sync::Arc<dyn object_store::ObjectStore>, Path, String), String> {
    let (text, source) = match (&args.target, &args.target_json) {
        (Some(file), _) => (
            std::fs::read_to_string(file)
                .map_err(|e| format!("cannot read --target {}: {e}", file.display()))?,
            format!("--target {}", file.display()),
        ),
        (None, Some(json)) => (json.clone(), "--target-json".to_string()),
        (None, None) => return Err("give --target or --target-json".to_string()),
    };
    let target: BackupTarget = serde_yaml::from_str(&text)
        .map_err(|e| format!("{source}: not a spec.backup.target: {e}"))?;
    let (namespace, name) = args
        .cluster
        .split_once('/')
        .filter(|(ns, n)| !ns.is_empty() && !n.is_empty())
        .ok_or_else(|| format!("--cluster {:?}: expected NAMESPACE/NAME", args.cluster))?;
    let credentials = match &args.credentials_dir {
        Some(dir) => Credentials::from_secret_data(&read_dir(dir)?).map_err(|e| e.to_string())?,
        None => Credentials::default(),
    };
    let store = backup::open(&target, &credentials).map_err(|e| e.to_string())?;
    Ok((
        store,
        backup::store::prefix(&target, namespace, name),
        args.cluster.clone(),
    ))
}

/// Every regular file of `dir` (a mounted Secret: its keys), by name.
fn read_dir(dir: &FsPath) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read --credentials-dir {}: {e}", dir.display()))?;
    let mut data = BTreeMap::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        // A mounted Secret also holds ..data and timestamped directories.
        if name.starts_with('.') || !entry.path().is_file() {
            continue;
        }
        let value = std::fs::read(entry.path())
            .map_err(|e| format!("cannot read {}: {e}", entry.path().display()))?;
        data.insert(name, value);
    }
    Ok(data)
}

fn read_secret_file(path: &FsPath, what: &str) -> Result<SecretString, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {what} {}: {e}", path.display()))?;
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("{what} {} is empty", path.display()));
    }
    Ok(SecretString::new(text.to_string()))
}

/// A client of `args.openbao` with a token (read, or from logging in).
async fn openbao(args: &OpenBaoArgs) -> Result<BaoClient, String> {
    let url = args
        .openbao
        .strip_prefix("https://")
        .ok_or_else(|| format!("--openbao {:?}: must be an https:// URL", args.openbao))?;
    let host_port = url.split('/').next().unwrap_or_default();
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) => (
            host,
            port.parse::<u16>()
                .map_err(|_| format!("--openbao {:?}: bad port", args.openbao))?,
        ),
        None => (host_port, 8200),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let address = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} resolves to no address"))?;
    let ca = std::fs::read(&args.ca_file)
        .map_err(|e| format!("cannot read --ca-file {}: {e}", args.ca_file.display()))?;
    let client = BaoClient::new(
        ClientConfig::new(address, host, ca).with_snapshot_timeout(Duration::from_secs(3600)),
    )
    .map_err(|e| e.to_string())?;
    let token = match (&args.token_file, &args.jwt_file, &args.role) {
        (Some(file), _, _) => read_secret_file(file, "--token-file")?,
        (None, Some(file), Some(role)) => {
            let jwt = read_secret_file(file, "--jwt-file")?;
            client
                .jwt_login(&args.auth_mount, role, &jwt)
                .await
                .map_err(|e| e.to_string())?
                .token
        }
        _ => return Err("give --token-file, or --jwt-file and --role".to_string()),
    };
    Ok(client.with_token(token))
}

/// Write `text` to the termination message file, if one is given (best effort: the outcome is
/// on stdout/stderr and in the exit code anyway).
fn report(path: Option<&FsPath>, text: &str) {
    if let Some(path) = path
        && let Err(e) = std::fs::write(path, text)
    {
        eprintln!("warning: cannot write {}: {e}", path.display());
    }
}

fn print_json<T: serde::Serialize>(value: &T) -> ExitCode {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => failed(e),
    }
}

/// `backup save`.
pub fn save(args: &SaveArgs) -> ExitCode {
    let max_age = match args
        .max_age
        .as_deref()
        .map(api::validate::rules::parse_go_duration)
    {
        None => None,
        Some(Ok(age)) => Some(age),
        Some(Err(e)) => return bad_input(format!("--max-age: {e}")),
    };
    let log = args.termination_log.as_deref();
    let (store, prefix, cluster) = match open_target(&args.target) {
        Ok(opened) => opened,
        Err(e) => {
            report(log, &format!("error: {e}"));
            return bad_input(e);
        }
    };
    runtime().block_on(async {
        let bao = match openbao(&args.openbao).await {
            Ok(bao) => bao,
            Err(e) => {
                report(log, &format!("error: {e}"));
                return failed(e);
            }
        };
        let origin = backup::Origin {
            cluster: &cluster,
            seal_fingerprint: args.seal_fingerprint.as_deref(),
        };
        let manifest =
            match backup::save(&bao, store.clone(), &prefix, origin, DEFAULT_PART_SIZE).await {
                Ok(manifest) => manifest,
                Err(e) => {
                    report(log, &format!("error: {e}"));
                    return failed(e);
                }
            };
        report(log, &serde_json::to_string(&manifest).unwrap_or_default());
        let policy = Policy {
            max_count: args.max_count,
            max_age,
        };
        if policy != Policy::default()
            && let Err(e) = retention::apply(
                store.as_ref(),
                &prefix,
                policy,
                time::OffsetDateTime::now_utc(),
            )
            .await
        {
            // The backup itself succeeded; retention runs again after the next one.
            eprintln!("warning: retention: {e}");
        }
        print_json(&manifest)
    })
}

/// `backup restore`.
pub fn restore(args: &RestoreArgs) -> ExitCode {
    let log = args.termination_log.as_deref();
    let (store, _, _) = match open_target(&args.target) {
        Ok(opened) => opened,
        Err(e) => {
            report(log, &format!("error: {e}"));
            return bad_input(e);
        }
    };
    let key = SnapshotKey(Path::from(args.key.as_str()));
    let expected = backup::snapshot::Expected {
        sha256: args.expected_sha256.clone(),
        size: args.expected_size,
        seal_fingerprint: args.expected_seal_fingerprint.clone(),
    };
    runtime().block_on(async {
        let bao = match openbao(&args.openbao).await {
            Ok(bao) => bao,
            Err(e) => {
                report(log, &format!("error: {e}"));
                return failed(e);
            }
        };
        match backup::restore(&bao, store.as_ref(), &key, args.force, &expected).await {
            Ok(manifest) => {
                report(log, &serde_json::to_string(&manifest).unwrap_or_default());
                print_json(&manifest)
            }
            Err(e) => {
                report(log, &format!("error: {e}"));
                failed(e)
            }
        }
    })
}

/// `backup verify`.
pub fn verify(args: &VerifyArgs) -> ExitCode {
    let (store, _, _) = match open_target(&args.target) {
        Ok(opened) => opened,
        Err(e) => return bad_input(e),
    };
    let key = SnapshotKey(Path::from(args.key.as_str()));
    runtime().block_on(async {
        match backup::verify(store.as_ref(), &key).await {
            Ok(verified) => print_json(&verified.manifest),
            Err(e) => failed(e),
        }
    })
}

/// `backup list`: the complete backups, oldest first, as JSON (key and finish time).
pub fn list(args: &ListArgs) -> ExitCode {
    let (store, prefix, _) = match open_target(&args.target) {
        Ok(opened) => opened,
        Err(e) => return bad_input(e),
    };
    runtime().block_on(async {
        match retention::list(store.as_ref(), &prefix).await {
            Ok(backups) => {
                let rows: Vec<serde_json::Value> = backups
                    .iter()
                    .map(|(key, finished)| {
                        serde_json::json!({
                            "key": key.0.to_string(),
                            "finished": crate::backup::manifest::rfc3339(*finished),
                        })
                    })
                    .collect();
                print_json(&rows)
            }
            Err(e) => failed(e),
        }
    })
}
