//! Pure test fixtures: OpenBaoCluster manifests, ValidatedClusters built from them, the default
//! Facts, and the examples under `examples/`. No control plane, no processes.
//!
//! Binaries that `mod support;` reach it as `support::fixtures` (and `support::cluster`); pure
//! test binaries include it alone with `#[path = "support/fixtures.rs"] mod fixtures;`.

#![allow(dead_code)]

use std::{
    net::{IpAddr, Ipv4Addr},
    path::PathBuf,
};

use api::OpenBaoCluster;
use operator::desired::{Facts, ValidatedCluster};

/// The repository root (holds `examples/`, `deploy/`, `charts/`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The facts the pure tests render with: the operator in its default namespace and the API
/// server at 10.96.0.1 (the golden files, the README and `netpol verify` use the same).
pub fn facts() -> Facts {
    Facts::new(
        api::names::DEFAULT_OPERATOR_NAMESPACE,
        Some(IpAddr::V4(Ipv4Addr::new(10, 96, 0, 1))),
    )
    .with_operator_identity(Some(operator::identity::OperatorIdentity::illustrative(
        api::names::DEFAULT_OPERATOR_NAMESPACE,
    )))
}

/// An OpenBaoCluster named `name` in `namespace` with `spec` (YAML, indented as a mapping).
pub fn cluster(name: &str, namespace: &str, spec: &str) -> OpenBaoCluster {
    let manifest = format!(
        "apiVersion: openbao.org/v1alpha1\nkind: OpenBaoCluster\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec:\n{}",
        spec.lines().map(|l| format!("  {l}\n")).collect::<String>()
    );
    serde_yaml::from_str(&manifest).expect("test manifest parses")
}

/// `cluster`, validated (panics with the reason if it is not valid).
pub fn valid(cluster: OpenBaoCluster) -> ValidatedCluster {
    ValidatedCluster::new(cluster).unwrap_or_else(|e| panic!("test manifest is valid: {e}"))
}

/// The validated OpenBaoCluster named `name` in `namespace` with `spec` (see [`cluster`]).
pub fn validated(name: &str, namespace: &str, spec: &str) -> ValidatedCluster {
    valid(cluster(name, namespace, spec))
}

/// Like [`validated`], with `metadata.uid` set (as the API server would), so the builders set
/// owner references.
pub fn validated_with_uid(name: &str, namespace: &str, uid: &str, spec: &str) -> ValidatedCluster {
    let mut cluster = cluster(name, namespace, spec);
    cluster.metadata.uid = Some(uid.to_string());
    valid(cluster)
}

/// A whole OpenBaoCluster manifest (YAML), parsed and validated.
pub fn from_yaml(yaml: &str) -> ValidatedCluster {
    valid(serde_yaml::from_str(yaml).expect("test manifest parses"))
}

/// A manifest as JSON, parsed and validated.
pub fn from_json(manifest: serde_json::Value) -> ValidatedCluster {
    valid(serde_json::from_value(manifest).expect("test manifest parses"))
}

/// `examples/<name>`, parsed and validated.
pub fn example(name: &str) -> ValidatedCluster {
    let path = workspace_root().join("examples").join(name);
    from_yaml(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// Whether `UPDATE_GOLDEN=1` asks golden-file tests to rewrite their files instead of comparing.
pub fn updating_golden() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

/// The golden-file check of `golden.rs`, returning the problem instead of panicking so a test
/// can report every file at once: compare `actual` with the committed file at `path`, or write
/// it when `UPDATE_GOLDEN=1`. `test` is the test binary named in the hint.
pub fn check_or_update_golden(
    path: &std::path::Path,
    actual: &str,
    test: &str,
) -> Result<(), String> {
    if updating_golden() {
        let dir = path.parent().expect("golden files live in a directory");
        std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        return std::fs::write(path, actual).map_err(|e| format!("write {}: {e}", path.display()));
    }
    let expected = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read {}: {e}; run `UPDATE_GOLDEN=1 cargo test -p openbao-operator --test {test}`",
            path.display()
        )
    })?;
    if expected == actual {
        return Ok(());
    }
    let first_difference = expected
        .lines()
        .zip(actual.lines())
        .position(|(e, a)| e != a)
        .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
    Err(format!(
        "{} drifted from the code (first difference at line {}); review the change and run \
         `UPDATE_GOLDEN=1 cargo test -p openbao-operator --test {test}` to accept it",
        path.display(),
        first_difference + 1
    ))
}

/// The `*.yaml` files of `dir` (relative to the workspace root), sorted by name.
pub fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(workspace_root().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}
