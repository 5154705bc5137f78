//! The `render` and `crd` commands as users run them: valid manifests render with exit 0, and
//! every manifest of the invalid corpus (`tests/invalid/`, first line `# expect: <field path>`)
//! exits 2 with that field path on stderr and nothing on stdout.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn operator(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_openbao-operator"))
        .args(args)
        .output()
        .expect("the operator binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn every_invalid_manifest_exits_2_naming_its_field_with_nothing_on_stdout() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(workspace_root().join("tests/invalid"))
        .expect("corpus directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 25,
        "the corpus holds at least 25 invalid specs"
    );
    let mut failures = Vec::new();
    for file in &files {
        let content = std::fs::read_to_string(file).expect("read corpus file");
        let expected = content
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect:"))
            .map(str::trim)
            .unwrap_or_else(|| panic!("{} must start with '# expect: <path>'", file.display()));
        let out = operator(&[
            "render",
            "-f",
            file.to_str().expect("utf-8 path"),
            "--api-server-ip",
            "10.96.0.1",
        ]);
        let stderr = text(&out.stderr);
        if out.status.code() != Some(2) || !out.stdout.is_empty() || !stderr.contains(expected) {
            failures.push(format!(
                "{}: exit {:?}, stdout {} bytes, expected {expected:?} in stderr: {stderr}",
                file.display(),
                out.status.code(),
                out.stdout.len()
            ));
        }
        assert!(!stderr.contains("panicked"), "{}: {stderr}", file.display());
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn a_valid_example_renders_every_object_kind_in_apply_order() {
    let example = workspace_root().join("examples/production.yaml");
    let out = operator(&[
        "render",
        "-f",
        example.to_str().expect("utf-8"),
        "--api-server-ip",
        "10.96.0.1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let kinds: Vec<String> = text(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("kind: ").map(str::to_string))
        .collect();
    assert_eq!(
        kinds,
        [
            "NetworkPolicy",
            "NetworkPolicy",
            "ServiceAccount",
            // The backup Jobs' own account (the example backs up).
            "ServiceAccount",
            "RoleBinding",
            "ConfigMap",
            "Service",
            "Service",
            "PodDisruptionBudget",
            // The CA ConfigMap the policy names is written once the CA is known (not by render).
            "BackendTLSPolicy",
            "HTTPRoute",
            "StatefulSet"
        ]
    );
}

#[test]
fn render_prints_the_webhooks_warnings_about_risky_settings_and_still_exits_0() {
    let example = workspace_root().join("examples/dev.yaml");
    let out = operator(&[
        "render",
        "-f",
        example.to_str().expect("utf-8"),
        "--api-server-ip",
        "10.96.0.1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("warning: dev/bao-dev: spec.replicas: 1 member gives no high availability"),
        "{stderr}"
    );
}

#[test]
fn without_an_api_server_address_render_warns_and_omits_the_statefulset() {
    let example = workspace_root().join("examples/minimal.yaml");
    let out = operator(&["render", "-f", example.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(!stdout.contains("kind: StatefulSet"));
    assert!(!stdout.contains("443"), "no API-server rule is invented");
    assert!(text(&out.stderr).contains("spec.network.apiServerCIDR"));
}

#[test]
fn a_missing_file_and_a_bad_flag_exit_2() {
    let out = operator(&["render", "-f", "/nonexistent/cluster.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/cluster.yaml"));

    let example = workspace_root().join("examples/minimal.yaml");
    let out = operator(&[
        "render",
        "-f",
        example.to_str().expect("utf-8"),
        "--api-server-ip",
        "not-an-ip",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--api-server-ip"));
}

#[test]
fn garbage_input_exits_2_without_panicking() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, body) in [
        ("empty.yaml", ""),
        ("scalar.yaml", "just a string"),
        ("list.yaml", "- a\n- b\n"),
        ("broken.yaml", "apiVersion: [unclosed\n"),
        ("binary.yaml", "\u{0}\u{1}\u{2}"),
        (
            "null-spec.yaml",
            "apiVersion: openbao.org/v1alpha1\nkind: OpenBaoCluster\nmetadata: {name: a}\nspec: null\n",
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, body).expect("write");
        let out = operator(&["render", "-f", path.to_str().expect("utf-8")]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(out.stdout.is_empty(), "{name}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
}

#[test]
fn the_crd_command_prints_the_committed_crds() {
    let out = operator(&["crd"]);
    assert_eq!(out.status.code(), Some(0));
    let committed: Vec<String> = [
        "openbao.org_openbaoclusters.yaml",
        "openbao.org_openbaorestores.yaml",
        "openbao.org_openbaotenants.yaml",
    ]
    .iter()
    .map(|name| {
        std::fs::read_to_string(workspace_root().join("deploy/crds").join(name))
            .expect("committed CRD")
    })
    .collect();
    assert_eq!(text(&out.stdout), committed.join("---\n"));
}

#[test]
fn netpol_verify_passes_for_every_example_and_exits_1_on_a_broken_policy_file() {
    for name in ["minimal.yaml", "production.yaml", "dev.yaml"] {
        let example = workspace_root().join("examples").join(name);
        let out = operator(&["netpol", "verify", "-f", example.to_str().expect("utf-8")]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stdout));
        assert!(text(&out.stdout).contains("0 failing"));
    }
    // A policy file whose operator rule selects every namespace (any pod with the operator's
    // labels, anywhere, could reach OpenBao).
    let example = workspace_root().join("examples/minimal.yaml");
    let golden = std::fs::read_to_string(workspace_root().join("tests/golden/minimal.yaml"))
        .expect("golden");
    let broken = golden.replacen(
        "    - namespaceSelector:\n        matchLabels:\n          kubernetes.io/metadata.name: openbao-operator-system\n      podSelector:",
        "    - namespaceSelector: {}\n      podSelector:",
        1,
    );
    assert_ne!(broken, golden, "the mutation applies");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("broken.yaml");
    std::fs::write(&path, broken).expect("write");
    let out = operator(&[
        "netpol",
        "verify",
        "-f",
        example.to_str().expect("utf-8"),
        "--policies",
        path.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout)
            .contains("FAIL posture-impostor/openbao-operator -> openbao/bao-0 8200/TCP")
    );
}
