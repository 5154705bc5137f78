//! Generated artifacts are committed and must not drift: every example renders to its golden
//! file under `tests/golden/`, and `deploy/crds/` holds the current CRDs.
//!
//! Set `UPDATE_GOLDEN=1` to rewrite the golden files and the committed CRDs from the code.

#[path = "support/fixtures.rs"]
mod fixtures;

use std::path::{Path, PathBuf};

use fixtures::{facts, workspace_root};
use operator::cli;

fn check_or_update(path: &Path, actual: &str) {
    if let Err(problem) = fixtures::check_or_update_golden(path, actual, "golden") {
        panic!("{problem}");
    }
}

fn examples() -> Vec<PathBuf> {
    fixtures::yaml_files("examples")
}

#[test]
fn every_example_renders_to_its_committed_golden_file() {
    let examples = examples();
    assert!(examples.len() >= 3, "expected at least three examples");
    for example in examples {
        let input = std::fs::read_to_string(&example).expect("read example");
        let name = example
            .file_name()
            .expect("file name")
            .to_string_lossy()
            .to_string();
        let rendered = cli::render::render_str(&input, &name, &facts())
            .unwrap_or_else(|e| panic!("{name} must render: {:?}", e.messages));
        assert!(
            rendered.warnings.is_empty(),
            "{name}: {:?}",
            rendered.warnings
        );
        check_or_update(
            &workspace_root().join("tests/golden").join(&name),
            &rendered.yaml,
        );
    }
}

#[test]
fn the_committed_crds_match_the_rust_types() {
    let files = cli::crd::crd_files().expect("CRDs serialize");
    assert_eq!(
        files.len(),
        3,
        "OpenBaoCluster, OpenBaoRestore, OpenBaoTenant"
    );
    for file in files {
        check_or_update(
            &workspace_root().join("deploy/crds").join(&file.name),
            &file.yaml,
        );
    }
}

#[test]
fn the_committed_operator_cluster_role_matches_the_code() {
    let role = serde_yaml::to_string(&operator::install::operator_rbac::cluster_role())
        .expect("serializes");
    check_or_update(
        &workspace_root().join("deploy/rbac/cluster-role.yaml"),
        &role,
    );
}

#[test]
fn every_golden_file_passes_the_posture_contract() {
    for example in examples() {
        let name = example
            .file_name()
            .expect("file name")
            .to_string_lossy()
            .to_string();
        let manifest = std::fs::read_to_string(&example).expect("read example");
        let golden = std::fs::read_to_string(workspace_root().join("tests/golden").join(&name))
            .expect("golden file exists");
        let policies =
            operator::posture::network_policies_from_yaml(&golden).expect("golden parses");
        assert_eq!(policies.len(), 2, "{name}: the cluster and jobs policies");
        let report = operator::posture::verify_manifest(&manifest, &facts(), Some(&policies))
            .expect("verify runs");
        let failures: Vec<String> = report
            .failures()
            .map(|f| {
                format!(
                    "{} -> {} {}/{}: {}",
                    f.from.name, f.to.name, f.port, f.protocol, f.reason
                )
            })
            .collect();
        assert!(failures.is_empty(), "{name}: {failures:#?}");
    }
}
