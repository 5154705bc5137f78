//! Tests of `netpol check` and `netpol matrix` (crates/operator/src/cli/netpol.rs, over
//! crates/operator/src/posture/load.rs and report.rs): output formats, object loading, and every
//! bad-input path (exit 2, messages naming the object or the probe and the field), through the
//! library functions and through the binary.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use operator::cli::netpol::{
    CheckArgs, MatrixArgs, OutputFormat, check, check_to_string, matrix, matrix_to_string,
};
use operator::posture::{
    load::load_world,
    report::{TruthTable, format_table},
};
use proptest::prelude::*;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/netpol")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

fn check_json(objects: &str, probes: &str) -> Vec<serde_json::Value> {
    let (text, _) = check_to_string(objects, probes, OutputFormat::Json).unwrap();
    serde_json::from_str::<Vec<serde_json::Value>>(&text).unwrap()
}

fn check_errors(objects: &str, probes: &str) -> Vec<String> {
    check_to_string(objects, probes, OutputFormat::Json)
        .expect_err("bad input")
        .messages
}

const SMALL: &str = "
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x}
spec: {containers: [{name: c, ports: [{name: http, containerPort: 80}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: x}
";

#[test]
fn check_reports_every_probe_in_order_as_json() {
    let results = check_json(&read("objects.yaml"), &read("probes.yaml"));
    let allowed: Vec<bool> = results
        .iter()
        .map(|r| r["allowed"].as_bool().unwrap())
        .collect();
    assert_eq!(
        allowed,
        [
            true, false, true, false, true, false, true, false, false, true, true, false
        ]
    );
    let first = &results[0];
    assert_eq!(first["from"], "x/b");
    assert_eq!(first["to"], "x/a");
    assert_eq!(first["port"], "http");
    assert_eq!(first["protocol"], "TCP");
    let reason = first["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("port http is 8080/TCP on x/a; "),
        "{reason}"
    );
    assert!(
        reason.contains("allowed by x/web-from-clients ingress[0]"),
        "{reason}"
    );
    assert!(
        reason.contains("allowed by x/egress-dns-and-web egress[1]"),
        "{reason}"
    );
    assert_eq!(results[1]["port"], 9090);
    let denied = results[1]["reason"].as_str().unwrap();
    assert!(
        denied.contains("x/a is isolated by x/default-deny, x/web-from-clients"),
        "{denied}"
    );
    let keys: Vec<&String> = first.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 6, "{keys:?}");
    let (text, _) = check_to_string(
        &read("objects.yaml"),
        &read("probes.yaml"),
        OutputFormat::Json,
    )
    .unwrap();
    // Keys come in the documented order, for people reading the JSON.
    let order = [
        "\"from\"",
        "\"to\"",
        "\"port\"",
        "\"protocol\"",
        "\"allowed\"",
        "\"reason\"",
    ]
    .map(|k| text.find(k).unwrap());
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[test]
fn check_prints_an_aligned_table_with_allow_and_deny() {
    let (text, _) = check_to_string(
        &read("objects.yaml"),
        &read("probes.yaml"),
        OutputFormat::Table,
    )
    .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 13);
    assert!(lines[0].starts_with("FROM"));
    let verdict_column = lines[0].find("VERDICT").unwrap();
    for line in &lines[1..] {
        let verdict = &line[verdict_column..verdict_column + 5];
        assert!(verdict == "ALLOW" || verdict.starts_with("DENY "), "{line}");
    }
    assert!(lines[1].contains("x/b") && lines[1].contains("http"));
}

#[test]
fn other_kinds_are_skipped_with_a_warning_naming_kind_and_name() {
    let (_, warnings) = check_to_string(&read("objects.yaml"), "[]", OutputFormat::Json).unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("skipping Service x/web (document 7, apiVersion v1): "),
        "{warnings:?}"
    );
}

#[test]
fn an_empty_probe_file_yields_an_empty_array() {
    let (text, _) = check_to_string(SMALL, "", OutputFormat::Json).unwrap();
    assert_eq!(text.trim(), "[]");
}

#[test]
fn kind_list_and_nested_lists_are_read_like_documents() {
    let (world, warnings) = load_world(&read("list.yaml")).unwrap();
    assert_eq!(world.pods().len(), 2);
    assert_eq!(world.policy_count(), 1);
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("Deployment n/ignored"), "{warnings:?}");

    let yaml_list = "- {apiVersion: v1, kind: Namespace, metadata: {name: q}}\n- {kind: Pod, metadata: {name: p, namespace: q}}\n";
    let (world, _) = load_world(yaml_list).unwrap();
    assert_eq!(world.pods()[0].namespace, "q");
}

#[test]
fn a_pod_without_namespace_is_in_default_and_namespaces_get_their_name_label() {
    let (world, _) = load_world(&read("objects.yaml")).unwrap();
    assert!(world.pod_id("default", "d").is_some());
    let names: Vec<_> = world.namespaces().iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["default", "x", "y"]);
    for ns in world.namespaces() {
        assert_eq!(ns.labels.get("kubernetes.io/metadata.name"), Some(&ns.name));
    }
    assert_eq!(world.namespaces()[0].labels.len(), 1);
}

#[test]
fn an_unknown_pod_in_a_probe_names_the_probe_and_field() {
    let errors = check_errors(
        SMALL,
        "- {from: x/a, to: x/zz, port: 80}\n- {from: x/a, to: x/b, port: 80}\n- {from: nope, to: x/b, port: 80}\n",
    );
    assert_eq!(
        errors,
        [
            "probes[0] (x/a -> x/zz port 80 TCP): to: unknown pod \"x/zz\"; the objects file declares no such pod",
            "probes[2] (nope -> x/b port 80 TCP): from: \"nope\" is neither NAMESPACE/POD nor ip:ADDRESS",
        ]
    );
}

#[test]
fn bad_protocols_ports_and_fields_in_probes_are_reported() {
    let probes = "
- {from: x/a, to: x/b, port: 80, protocol: tcp}
- {from: x/a, to: x/b, port: 0}
- {from: x/a, to: x/b, port: 70000}
- {from: x/a, to: x/b, port: Not A Name}
- {from: x/b, to: x/a, port: https}
- {from: x/b, to: 'ip:10.0.0.300', port: 80}
- {from: x/b, to: x/a}
- {from: x/b, to: x/a, port: 80, proto: UDP}
- {from: x/b, to: 'ip:192.0.2.1', port: http}
- just a string
";
    let errors = check_errors(SMALL, probes);
    let want = [
        "probes[0] (x/a -> x/b port 80 tcp): protocol: unsupported protocol \"tcp\"; allowed: TCP, UDP, SCTP",
        "probes[1] (x/a -> x/b port 0 TCP): port: 0 is not a valid port number; must be 1..=65535",
        "probes[2] (x/a -> x/b port 70000 TCP): port: 70000 is not a valid port number; must be 1..=65535",
        "probes[3] (x/a -> x/b port Not A Name TCP): port: invalid port name \"Not A Name\"",
        "probes[4] (x/b -> x/a port https TCP): port: pod x/a declares no container port named \"https\" with protocol TCP (named TCP ports: http)",
        "probes[5] (x/b -> ip:10.0.0.300 port 80 TCP): to: \"10.0.0.300\" is not an IPv4 or IPv6 address",
        "probes[6] (x/b -> x/a port ? TCP): port: required",
        "probes[7] (x/b -> x/a port 80 TCP): unknown field proto; allowed: from, to, port, protocol",
        "probes[8] (x/b -> ip:192.0.2.1 port http TCP): port: port name \"http\" cannot be resolved for an external destination",
        "probes[9] (? -> ? port ? TCP): expected a mapping",
    ];
    assert_eq!(errors.len(), want.len(), "{errors:#?}");
    for (got, want) in errors.iter().zip(want) {
        assert!(got.starts_with(want), "got  {got}\nwant {want}");
    }
}

#[test]
fn a_quoted_numeric_probe_port_is_a_number() {
    let results = check_json(SMALL, "- {from: x/b, to: x/a, port: '80', protocol: UDP}");
    assert_eq!(results[0]["port"], 80);
    assert_eq!(results[0]["protocol"], "UDP");
}

#[test]
fn bad_policies_name_the_object_and_every_field() {
    let errors = check_errors(&read("bad-policy.yaml"), "[]");
    assert_eq!(
        errors,
        [
            "NetworkPolicy x/broken: spec.podSelector.matchExpressions[0].operator: unknown operator \"Equals\"; allowed: In, NotIn, Exists, DoesNotExist",
            "NetworkPolicy x/broken: spec.ingress[0].from[0].ipBlock.cidr: invalid CIDR \"10.0.0/8\": \"10.0.0\" is not an IP address",
            "NetworkPolicy x/broken: spec.ingress[0].ports[0].protocol: unsupported protocol \"HTTP\"; allowed: TCP, UDP, SCTP",
            "NetworkPolicy x/broken: spec.ingress[0].ports[1].port: 70000 is not a valid port number; must be 1..=65535",
        ]
    );
}

#[test]
fn bad_objects_are_reported_with_their_document() {
    let errors = check_errors(
        "kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, ports: [{containerPort: http}]}]}\n",
        "[]",
    );
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("Pod default/p (document 1): "),
        "{errors:?}"
    );

    let errors = check_errors("metadata: {name: p}\n---\n42\n", "[]");
    assert_eq!(
        errors,
        [
            "object p (document 1): missing `kind`; expected Namespace, Pod or NetworkPolicy objects",
            "document 2: expected an object or a list of objects, found a number",
        ]
    );

    let errors = check_errors(
        "kind: Pod\nmetadata: {name: p}\nstatus: {podIP: 10.0.0.999}\n",
        "[]",
    );
    assert_eq!(
        errors,
        ["Pod default/p: status.podIP: \"10.0.0.999\" is not an IPv4 or IPv6 address (document 1)"]
    );

    let errors = check_errors(
        "kind: Pod\nmetadata: {name: p}\n---\nkind: Pod\nmetadata: {name: p}\n",
        "[]",
    );
    assert_eq!(errors, ["Pod default/p: metadata.name: duplicate pod"]);
}

#[test]
fn invalid_yaml_is_reported_with_its_location() {
    let errors = check_errors("kind: Pod\nmetadata: {name: p\n", "[]");
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("document 1: invalid YAML: "),
        "{errors:?}"
    );
    assert!(errors[0].contains("line"), "{errors:?}");

    let errors = check_errors(SMALL, "- {from: x/a\n");
    assert!(
        errors[0].starts_with("probes: invalid YAML: "),
        "{errors:?}"
    );
    let errors = check_errors(SMALL, "from: x/a");
    assert!(
        errors[0].starts_with("probes: expected a list"),
        "{errors:?}"
    );
}

#[test]
fn the_matrix_lists_every_pod_pair_and_declared_port_as_json() {
    let (text, warnings) = matrix_to_string(&read("objects.yaml"), OutputFormat::Json).unwrap();
    assert_eq!(warnings.len(), 1);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    // Pods: default/d, x/a (2 ports), x/b, y/c (1 port); 4 sources each.
    assert_eq!(rows.len(), 4 * 3);
    let find = |from: &str, to: &str, port: u64| {
        rows.iter()
            .find(|r| r["from"] == from && r["to"] == to && r["port"] == port)
            .unwrap()
    };
    assert_eq!(find("x/b", "x/a", 8080)["allowed"], true);
    assert_eq!(find("x/b", "x/a", 9090)["allowed"], false);
    assert_eq!(find("y/c", "x/a", 9090)["allowed"], true);
    assert_eq!(find("x/a", "x/a", 9090)["allowed"], true);
    assert_eq!(find("x/b", "y/c", 53)["protocol"], "UDP");
    assert_eq!(find("x/b", "y/c", 53)["allowed"], true);
    assert_eq!(rows[0].as_object().unwrap().len(), 5);
}

#[test]
fn the_matrix_table_is_a_truth_table_per_port() {
    let (text, _) = matrix_to_string(&read("objects.yaml"), OutputFormat::Table).unwrap();
    let expected = "\
rows: source pods; columns: destination pods; . allowed, X denied

53/UDP
           y/c
default/d  .
x/a        .
x/b        .
y/c        .

8080/TCP
           x/a
default/d  X
x/a        .
x/b        .
y/c        .

9090/TCP
           x/a
default/d  X
x/a        .
x/b        X
y/c        .
";
    assert_eq!(text, expected);
}

#[test]
fn truth_tables_and_tables_align_their_columns() {
    let table = TruthTable {
        title: "80/TCP".into(),
        rows: vec!["x/a".into(), "long/name".into()],
        columns: vec!["x/a".into(), "long/name".into()],
        cells: vec![vec![Some(true), Some(false)], vec![None, Some(true)]],
    };
    assert_eq!(
        table.render(),
        "80/TCP\n           x/a  long/name\nx/a        .    X\nlong/name       .\n"
    );
    let text = format_table(["A", "BB"], &[["xyz".into(), "1".into()]]);
    assert_eq!(text, "A    BB\nxyz  1\n");
}

#[test]
fn check_and_matrix_return_exit_codes() {
    let ok = check(&CheckArgs {
        objects: fixture("objects.yaml"),
        probes: fixture("probes.yaml"),
        output: OutputFormat::Json,
    });
    assert_eq!(ok, ExitCode::SUCCESS);
    let missing = check(&CheckArgs {
        objects: fixture("objects.yaml"),
        probes: fixture("no-such-file.yaml"),
        output: OutputFormat::Table,
    });
    assert_eq!(missing, ExitCode::from(2));
    let bad = matrix(&MatrixArgs {
        objects: fixture("bad-policy.yaml"),
        output: OutputFormat::Table,
    });
    assert_eq!(bad, ExitCode::from(2));
    let ok = matrix(&MatrixArgs {
        objects: fixture("list.yaml"),
        output: OutputFormat::Json,
    });
    assert_eq!(ok, ExitCode::SUCCESS);
}

proptest! {
    #[test]
    fn arbitrary_objects_and_probes_never_panic(objects in "\\PC{0,200}", probes in "\\PC{0,120}") {
        let _ = check_to_string(&objects, &probes, OutputFormat::Table);
        let _ = matrix_to_string(&objects, OutputFormat::Json);
    }

    #[test]
    fn yaml_shaped_inputs_never_panic(
        kind in prop_oneof![Just("Pod"), Just("Namespace"), Just("NetworkPolicy"), Just("List"), Just("Foo")],
        body in "[ -~\\n]{0,120}",
        port in any::<i64>(),
        from in "[a-z/:.0-9]{0,12}",
    ) {
        let objects = format!("{SMALL}---\nkind: {kind}\nmetadata: {{name: q, namespace: x}}\n{body}\n");
        let probes = format!("- {{from: {from}, to: x/a, port: {port}}}\n- {{from: x/b, to: x/a, port: {body:?}}}\n");
        let _ = check_to_string(&objects, &probes, OutputFormat::Json);
    }
}

fn run_binary(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_openbao-operator"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_binary_checks_probes_and_exits_zero_whatever_the_verdicts() {
    let objects = fixture("objects.yaml");
    let probes = fixture("probes.yaml");
    let (code, stdout, stderr) = run_binary(&[
        "netpol",
        "check",
        "--objects",
        objects.to_str().unwrap(),
        "--probes",
        probes.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let results: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap();
    assert_eq!(results.len(), 12);
    assert!(
        stderr.contains("warning: skipping Service x/web"),
        "{stderr}"
    );

    let (code, stdout, _) = run_binary(&[
        "netpol",
        "check",
        "--objects",
        objects.to_str().unwrap(),
        "--probes",
        probes.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("FROM"), "table is the default: {stdout}");
}

#[test]
fn the_binary_prints_the_matrix() {
    let objects = fixture("objects.yaml");
    let (code, stdout, stderr) = run_binary(&[
        "netpol",
        "matrix",
        "--objects",
        objects.to_str().unwrap(),
        "--output",
        "table",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("9090/TCP"), "{stdout}");
}

#[test]
fn the_binary_exits_two_on_bad_input_with_the_reason_on_stderr() {
    let bad = fixture("bad-policy.yaml");
    let probes = fixture("probes.yaml");
    let (code, stdout, stderr) = run_binary(&[
        "netpol",
        "check",
        "--objects",
        bad.to_str().unwrap(),
        "--probes",
        probes.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("error: NetworkPolicy x/broken: spec.ingress[0].from[0].ipBlock.cidr"),
        "{stderr}"
    );
    let (code, _, stderr) =
        run_binary(&["netpol", "matrix", "--objects", "/nonexistent/objects.yaml"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("cannot read objects file /nonexistent/objects.yaml"),
        "{stderr}"
    );
}

const DIFF_CLUSTER: &str = r#"
apiVersion: openbao.org/v1alpha1
kind: OpenBaoCluster
metadata: {name: bao, namespace: team-a}
spec: {version: "2.7.2"}
"#;

fn rendered_policies(cluster: &str) -> String {
    let cluster = operator::desired::ValidatedCluster::new(
        api::decode::cluster_from_yaml_str(cluster).unwrap(),
    )
    .unwrap();
    let facts = operator::desired::Facts::new(
        "openbao-operator-system",
        Some("10.96.0.1".parse().unwrap()),
    );
    let r = operator::desired::build(&cluster, &facts);
    [r.network_policy, r.jobs_network_policy]
        .iter()
        .map(|p| {
            let mut v = serde_json::to_value(p).unwrap();
            v["kind"] = "NetworkPolicy".into();
            v["apiVersion"] = "networking.k8s.io/v1".into();
            serde_yaml::to_string(&v).unwrap()
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

#[test]
fn diff_over_a_cluster_lists_what_turning_off_kube_system_ingress_closes_and_opens_nothing() {
    let before = rendered_policies(DIFF_CLUSTER);
    let after = rendered_policies(&DIFF_CLUSTER.replace(
        "spec: {version: \"2.7.2\"}",
        "spec: {version: \"2.7.2\", network: {kubeSystemIngress: false}}",
    ));
    let facts = operator::desired::Facts::new(
        "openbao-operator-system",
        Some("10.96.0.1".parse().unwrap()),
    );
    let (table, _) =
        operator::cli::netpol::diff_to_string(&before, &after, Some((DIFF_CLUSTER, &facts)))
            .unwrap();
    assert!(!table.contains("+ opens"), "{table}");
    assert!(
        table.contains("- closes  kube-system/node-health -> team-a/bao-0 22/TCP"),
        "{table}"
    );
    assert!(
        table
            .lines()
            .all(|l| l.starts_with("- closes  kube-system/")),
        "only kube-system's flows change: {table}"
    );
    let (same, _) =
        operator::cli::netpol::diff_to_string(&before, &before, Some((DIFF_CLUSTER, &facts)))
            .unwrap();
    assert_eq!(same, "no flow changes\n");
}

#[test]
fn diff_over_files_compares_the_pods_both_hold_and_the_binary_prints_it() {
    let dir = tempfile::tempdir().unwrap();
    let before = dir.path().join("before.yaml");
    let after = dir.path().join("after.yaml");
    std::fs::write(&before, SMALL).unwrap();
    let deny = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n\
                metadata: {name: deny, namespace: x}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n";
    std::fs::write(&after, format!("{SMALL}{deny}")).unwrap();
    let (code, stdout, stderr) = run_binary(&[
        "netpol",
        "diff",
        "--before",
        before.to_str().unwrap(),
        "--after",
        after.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "- closes  x/b -> x/a 80/TCP\n", "{stdout}");
    let (code, _, stderr) = run_binary(&[
        "netpol",
        "diff",
        "--before",
        "/nonexistent/before.yaml",
        "--after",
        after.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("/nonexistent/before.yaml"), "{stderr}");
}

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// A tool the drawing tests need, or a loud failure naming what installs it.
fn tool(name: &str) -> String {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .unwrap();
    assert!(
        found.status.success(),
        "{name} is not installed: run `bash hack/setup.sh` (it installs graphviz and chromium)"
    );
    String::from_utf8_lossy(&found.stdout).trim().to_string()
}

#[test]
fn verify_draws_the_posture_as_dot_that_graphviz_renders_with_every_node() {
    let manifest = example("minimal.yaml");
    let (code, dot, stderr) = run_binary(&["netpol", "verify", "-f", &manifest, "--output", "dot"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(dot.starts_with("digraph posture {"), "{dot}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("posture.dot");
    std::fs::write(&path, &dot).unwrap();
    let out = Command::new(tool("dot"))
        .args(["-Tsvg", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "graphviz refused the dot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Graphviz writes a hyphen in text as `&#45;`.
    let svg = String::from_utf8_lossy(&out.stdout).replace("&#45;", "-");
    for node in ["bao-0", "openbao-operator", "coredns", "203.0.113.10"] {
        assert!(svg.contains(node), "{node} missing from the rendered SVG");
    }
    assert!(svg.contains("8200/TCP"), "ports are on the edges");
    assert!(
        !dot.contains("color=red"),
        "a proven posture has no red edge"
    );
}

#[test]
fn a_widened_posture_is_drawn_red_in_dot() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = example("minimal.yaml");
    let (_, rendered, _) = run_binary(&["render", "-f", &manifest, "--api-server-ip", "10.96.0.1"]);
    // Every ingress rule opened to everyone.
    let widened = rendered.replace("  ingress:\n", "  ingress:\n  - {}\n");
    assert_ne!(
        widened, rendered,
        "the rendered policies have an ingress section"
    );
    let policies = dir.path().join("widened.yaml");
    std::fs::write(&policies, widened).unwrap();
    let (code, dot, stderr) = run_binary(&[
        "netpol",
        "verify",
        "-f",
        &manifest,
        "--policies",
        policies.to_str().unwrap(),
        "--output",
        "dot",
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(dot.contains("color=red"), "{dot}");
    assert!(dot.contains("VIOLATION"), "{dot}");
}

#[test]
fn verify_html_is_one_page_that_headless_chromium_loads_showing_every_flow() {
    let manifest = example("minimal.yaml");
    let (code, html, stderr) =
        run_binary(&["netpol", "verify", "-f", &manifest, "--output", "html"]);
    assert_eq!(code, 0, "{stderr}");
    let (_, table, _) = run_binary(&["netpol", "verify", "-f", &manifest]);
    // Self-contained: nothing is fetched (the only URL is the SVG namespace).
    let without_namespace = html.replace("http://www.w3.org/2000/svg", "");
    for fetch in ["http://", "https://", "<script", "<link", "src="] {
        assert!(
            !without_namespace.contains(fetch),
            "the page references {fetch}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("posture.html");
    std::fs::write(&page, &html).unwrap();
    let profile = dir.path().join("profile");
    let out = Command::new(tool("chromium"))
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium failed: {log}");
    assert!(!log.contains("Uncaught"), "the page raised an error: {log}");
    assert!(dom.contains("<svg"), "the graph is in the page");
    // Every flow of the table is shown: each line of the truth table is in the page's table.
    let shown = dom
        .split("<pre id=\"table\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .expect("the page shows the table");
    let shown = shown
        .replace("&gt;", ">")
        .replace("&lt;", "<")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    for line in table.lines().filter(|l| !l.trim().is_empty()) {
        assert!(shown.contains(line), "missing from the page: {line}");
    }
    // The 12 synthetic pods (two members, the operator and its impostor, kube-system, DNS, the
    // gateway, an unrelated pod, another cluster's member, a pod elsewhere, backup and restore
    // Job pods) and 2 addresses (the API server, the internet).
    assert_eq!(
        dom.matches("<g class=\"node\">").count(),
        14,
        "every endpoint is a node"
    );
}
