//! The controller's posture contract: the operator's NetworkPolicy as built and as committed
//! passes it, broken policies are detected, and `netpol verify --controller` through the binary.
#![allow(clippy::unwrap_used)]

#[path = "support/deploy.rs"]
mod deploy_support;

use std::process::Command;

use api::names::DEFAULT_OPERATOR_NAMESPACE;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use operator::{
    controller_posture,
    install::{
        controller::{self, ControllerPolicyOptions, OPERATOR_NAME},
        deploy,
    },
};
use serde_json::json;

use deploy_support::*;

#[test]
fn the_network_policy_is_the_controller_policy_for_the_options() {
    let mut options = defaults();
    options.api_server_cidr = Some("10.96.0.1/32".to_string());
    options.dns_namespace = "dns".to_string();
    let manifests = deploy::build(&options);
    assert_eq!(
        manifests.network_policy,
        controller::controller_policy(&options.policy_options())
    );
}

fn committed_policy() -> Vec<NetworkPolicy> {
    let text =
        std::fs::read_to_string(workspace_root().join("deploy/base/network-policy.yaml")).unwrap();
    operator::posture::network_policies_from_yaml(&text).unwrap()
}

#[test]
fn the_committed_controller_policy_passes_the_controller_contract() {
    let options = ControllerPolicyOptions::new(DEFAULT_OPERATOR_NAMESPACE);
    let report =
        controller_posture::verify_policies(&options, api_ip(), &committed_policy()).unwrap();
    assert!(report.passed(), "{:#?}", failures(&report));
    let operator = format!("{DEFAULT_OPERATOR_NAMESPACE}/{OPERATOR_NAME}");
    // Ingress: metrics only from monitoring; probes and webhook from anywhere.
    assert_eq!(
        allowed(&report, "monitoring/prometheus", &operator),
        ["8080/TCP", "8443/TCP", "8081/TCP", "9443/TCP"]
    );
    assert_eq!(
        allowed(&report, "posture-elsewhere/client", &operator),
        ["8081/TCP", "9443/TCP"]
    );
    assert_eq!(
        allowed(&report, "ip:192.168.10.5", &operator),
        ["8081/TCP", "9443/TCP"]
    );
    // Egress: OpenBao servers on 8200 (and, without a CIDR, 443/6443 anywhere); never Job pods'
    // 8200, never 8201.
    assert_eq!(
        allowed(&report, &operator, "posture-openbao/vault-0"),
        ["8200/TCP", "443/TCP", "6443/TCP"]
    );
    assert_eq!(
        allowed(&report, &operator, "posture-openbao/vault-backup"),
        ["443/TCP", "6443/TCP"]
    );
    assert_eq!(
        allowed(&report, &operator, "posture-elsewhere/openbao-0"),
        ["443/TCP", "6443/TCP"]
    );
    assert_eq!(
        allowed(&report, &operator, "kube-system/coredns"),
        ["443/TCP", "6443/TCP", "53/UDP", "53/TCP"]
    );
}

#[test]
fn with_an_api_server_cidr_egress_on_443_reaches_only_that_cidr() {
    let mut options = ControllerPolicyOptions::new(DEFAULT_OPERATOR_NAMESPACE);
    options.api_server_cidr = Some("10.96.0.1/32".to_string());
    let report = controller_posture::verify(&options, api_ip()).unwrap();
    assert!(report.passed(), "{:#?}", failures(&report));
    let operator = format!("{DEFAULT_OPERATOR_NAMESPACE}/{OPERATOR_NAME}");
    assert_eq!(
        allowed(&report, &operator, "ip:10.96.0.1"),
        ["443/TCP", "6443/TCP"]
    );
    assert!(allowed(&report, &operator, "ip:203.0.113.10").is_empty());
    assert_eq!(
        allowed(&report, &operator, "posture-openbao/vault-0"),
        ["8200/TCP"]
    );
    assert!(allowed(&report, &operator, "posture-elsewhere/client").is_empty());
}

#[test]
fn a_custom_metrics_selector_moves_the_monitoring_namespace() {
    let mut options = ControllerPolicyOptions::new("ops");
    options.metrics_namespace_selector =
        deploy::label_selector_from_str("team=observability").unwrap();
    let report = controller_posture::verify(&options, api_ip()).unwrap();
    assert!(report.passed(), "{:#?}", failures(&report));
    assert_eq!(
        allowed(
            &report,
            "posture-monitoring/prometheus",
            "ops/openbao-operator"
        ),
        ["8080/TCP", "8443/TCP", "8081/TCP", "9443/TCP"]
    );
}

/// The default policy, changed by `break_it`, must fail the contract on `expected_failure`
/// (`from -> to port/proto`).
fn assert_detected(break_it: impl FnOnce(&mut serde_json::Value), expected_failure: &str) {
    let options = ControllerPolicyOptions::new(DEFAULT_OPERATOR_NAMESPACE);
    let mut policy = serde_json::to_value(controller::controller_policy(&options)).unwrap();
    break_it(&mut policy);
    let policy: NetworkPolicy = serde_json::from_value(policy).unwrap();
    let report = controller_posture::verify_policies(&options, api_ip(), &[policy]).unwrap();
    let failures = failures(&report);
    assert!(
        failures.iter().any(|f| f.starts_with(expected_failure)),
        "expected a failure on {expected_failure}, got {failures:#?}"
    );
}

#[test]
fn a_policy_that_opens_metrics_to_every_namespace_is_detected() {
    assert_detected(
        |p| p["spec"]["ingress"][0]["from"][0]["namespaceSelector"] = json!({}),
        "posture-elsewhere/client -> openbao-operator-system/openbao-operator 8080/TCP",
    );
}

#[test]
fn a_policy_without_the_probe_rule_is_detected() {
    assert_detected(
        |p| {
            p["spec"]["ingress"].as_array_mut().unwrap().remove(1);
        },
        "ip:192.168.10.5 -> openbao-operator-system/openbao-operator 8081/TCP",
    );
}

#[test]
fn a_policy_allowing_openbao_cluster_traffic_is_detected() {
    assert_detected(
        |p| p["spec"]["egress"][2]["ports"] = json!([{"port": 8200}, {"port": 8201}]),
        "openbao-operator-system/openbao-operator -> posture-openbao/vault-0 8201/TCP",
    );
}

#[test]
fn a_policy_reaching_backup_job_pods_is_detected() {
    assert_detected(
        |p| {
            p["spec"]["egress"][2]["to"][0]["podSelector"]
                .as_object_mut()
                .unwrap()
                .remove("matchExpressions");
        },
        "openbao-operator-system/openbao-operator -> posture-openbao/vault-backup 8200/TCP",
    );
}

#[test]
fn a_policy_that_does_not_isolate_egress_is_detected() {
    assert_detected(
        |p| {
            p["spec"]["policyTypes"] = json!(["Ingress"]);
            p["spec"].as_object_mut().unwrap().remove("egress");
        },
        "openbao-operator-system/openbao-operator -> ip:203.0.113.10 80/TCP",
    );
}

#[test]
fn a_policy_selecting_other_pods_is_detected() {
    assert_detected(
        |p| {
            p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] =
                json!("webhook")
        },
        "monitoring/prometheus -> openbao-operator-system/openbao-operator 22/TCP",
    );
}

#[test]
fn the_truth_table_lists_every_pair_and_the_failures() {
    let options = ControllerPolicyOptions::new(DEFAULT_OPERATOR_NAMESPACE);
    let report = controller_posture::verify(&options, api_ip()).unwrap();
    let table = controller_posture::truth_table(&report);
    assert!(table.starts_with("FROM"), "{table}");
    assert!(table.contains("in-metrics"), "{table}");
    assert!(table.contains("out-openbao"), "{table}");
    assert!(table.contains(", 0 failing"), "{table}");
}

// ---------------------------------------------------------------------------------------------
// `netpol verify --controller` through the binary

fn verify_cli(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_openbao-operator"))
        .args(["netpol", "verify"])
        .args(args)
        .current_dir(workspace_root())
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

#[test]
fn verify_controller_passes_the_rendered_and_committed_policies() {
    let (code, stdout, stderr) = verify_cli(&["--controller"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains(", 0 failing"), "{stdout}");
    let (code, stdout, stderr) = verify_cli(&[
        "--controller",
        "--policies",
        "deploy/base/network-policy.yaml",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, stdout, stderr) = verify_cli(&[
        "--controller",
        "--api-server-cidr",
        "10.96.0.1/32",
        "--metrics-namespace-selector",
        "team=observability",
        "--dns-namespace",
        "dns",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[test]
fn verify_controller_exits_1_on_a_broken_policy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.yaml");
    let committed =
        std::fs::read_to_string(workspace_root().join("deploy/base/network-policy.yaml")).unwrap();
    // Open the metrics ports to every namespace.
    let broken = committed.replace(
        "    - namespaceSelector:\n        matchLabels:\n          kubernetes.io/metadata.name: monitoring\n",
        "    - namespaceSelector: {}\n",
    );
    assert_ne!(broken, committed);
    std::fs::write(&path, broken).unwrap();
    let (code, stdout, _) = verify_cli(&["--controller", "--policies", path.to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("FAIL posture-elsewhere/client -> openbao-operator-system/openbao-operator 8080/TCP: expected denied, got allowed"),
        "{stdout}"
    );
    // The committed policy checked against a CIDR it does not enforce fails too.
    let (code, stdout, _) = verify_cli(&[
        "--controller",
        "--policies",
        "deploy/base/network-policy.yaml",
        "--api-server-cidr",
        "10.96.0.1/32",
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("ip:203.0.113.10 443/TCP: expected denied, got allowed"),
        "{stdout}"
    );
}

#[test]
fn verify_controller_exits_2_on_bad_flags() {
    let (code, _, stderr) =
        verify_cli(&["--controller", "--metrics-namespace-selector", "monitoring"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--metrics-namespace-selector"), "{stderr}");
    let (code, _, stderr) = verify_cli(&["--controller", "--api-server-cidr", "10.96.0.1"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--api-server-cidr"), "{stderr}");
    // The controller flags need --controller; -f and --controller exclude each other; one of
    // them is required.
    let (code, _, _) = verify_cli(&[
        "--api-server-cidr",
        "10.96.0.1/32",
        "-f",
        "examples/minimal.yaml",
    ]);
    assert_eq!(code, 2);
    let (code, _, _) = verify_cli(&["--controller", "-f", "examples/minimal.yaml"]);
    assert_eq!(code, 2);
    let (code, _, _) = verify_cli(&[]);
    assert_eq!(code, 2);
}

#[test]
fn verify_of_a_cluster_manifest_still_works() {
    let (code, stdout, stderr) = verify_cli(&["-f", "examples/minimal.yaml"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
}
