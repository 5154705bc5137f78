//! The Helm chart (`charts/openbao-operator`), rendered with the pinned helm and compared with
//! the committed kustomize base and with what the code builds for the same options; its values
//! schema refusals and `helm lint`.
//!
//! helm and kubectl come from `bash hack/tools.sh` (pinned, sha256-checked); `HELM_BIN` and
//! `KUBECTL_BIN` override the location. Without them the chart tests fail and name that command.
#![allow(clippy::unwrap_used)]

#[path = "support/deploy.rs"]
mod deploy_support;

use std::{collections::BTreeMap, process::Command};

use api::names::DEFAULT_OPERATOR_NAMESPACE;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use operator::{
    controller_posture,
    install::{controller::ControllerPolicyOptions, deploy, operator_rbac},
};
use serde_json::Value;

use deploy_support::*;

#[test]
fn the_chart_renders_the_same_policies_and_rbac_as_the_kustomize_base() {
    let base = by_key(kustomize_base());
    let chart = by_key(helm_template(&[]));
    let pick = |objects: &BTreeMap<(String, String, String), Value>| {
        objects
            .iter()
            .filter(|(k, _)| POSTURE_KINDS.contains(&k.0.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    let (base_posture, chart_posture) = (pick(&base), pick(&chart));
    // One NetworkPolicy, four ClusterRoles, two ClusterRoleBindings, one Role and RoleBinding,
    // the pod-label and pod-delete admission policies and their bindings.
    assert_eq!(base_posture.len(), 13, "{:?}", base_posture.keys());
    assert_same_objects(
        "kustomize base",
        &base_posture,
        "helm chart",
        &chart_posture,
        &[],
    );
}

#[test]
fn the_chart_renders_every_object_of_the_kustomize_base_except_the_namespace() {
    let base = by_key(kustomize_base());
    let chart = by_key(helm_template(&[]));
    assert_same_objects(
        "kustomize base",
        &base,
        "helm chart",
        &chart,
        &["Namespace"],
    );
}

#[test]
fn the_chart_with_tunables_renders_what_the_code_builds_for_the_same_options() {
    let mut options = defaults();
    options.image = "registry.example/ops/openbao-operator:v9".to_string();
    options.image_pull_policy = "Always".to_string();
    options.replicas = 3;
    options.resources = deploy::resources("100m", "128Mi", "1500m", "512Mi");
    options.log_level = "debug".to_string();
    options.metrics_namespace_selector =
        deploy::label_selector_from_str("team=observability").unwrap();
    options.api_server_cidr = Some("172.18.0.0/24".to_string());
    options.dns_namespace = "dns-system".to_string();
    options.webhook = false;
    let chart = by_key(helm_template(&[
        "image.repository=registry.example/ops/openbao-operator",
        "image.tag=v9",
        "image.pullPolicy=Always",
        "replicas=3",
        "resources.requests.cpu=100m",
        "resources.requests.memory=128Mi",
        "resources.limits.cpu=1500m",
        "resources.limits.memory=512Mi",
        "logLevel=debug",
        "metrics.namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name=null",
        "metrics.namespaceSelector.matchLabels.team=observability",
        "networkPolicy.apiServerCIDR=172.18.0.0/24",
        "networkPolicy.dnsNamespace=dns-system",
        "webhook.enabled=false",
        "installCRDs=false",
    ]));
    let mut code = by_key(code_objects(&options));
    code.retain(|k, _| k.0 != "CustomResourceDefinition");
    assert_same_objects("code", &code, "helm chart", &chart, &["Namespace"]);
    assert!(chart.keys().any(|k| k.0 == "PodDisruptionBudget"));
}

#[test]
fn the_policy_the_chart_renders_with_an_api_server_cidr_passes_the_controller_contract() {
    let rendered = helm_template(&[
        "networkPolicy.apiServerCIDR=10.96.0.1/32",
        "networkPolicy.dnsNamespace=dns-system",
        // The narrowed egress holds for a namespaced install too.
        "watchNamespaces={openbao-a}",
    ]);
    let policies: Vec<NetworkPolicy> = rendered
        .into_iter()
        .filter(|o| o["kind"] == "NetworkPolicy")
        .map(|o| serde_json::from_value(o).unwrap())
        .collect();
    assert_eq!(policies.len(), 1);
    let mut options = ControllerPolicyOptions::new(DEFAULT_OPERATOR_NAMESPACE);
    options.api_server_cidr = Some("10.96.0.1/32".to_string());
    options.dns_namespace = "dns-system".to_string();
    let report = controller_posture::verify_policies(&options, api_ip(), &policies).unwrap();
    assert!(report.passed(), "{:#?}", failures(&report));
}

#[test]
fn the_chart_with_watch_namespaces_renders_the_committed_namespaced_example() {
    let example = by_key(kustomize("deploy/namespaced"));
    let mut chart = by_key(helm_template(&["watchNamespaces={openbao-a,openbao-b}"]));
    // deploy/namespaced/ leaves the CRDs to deploy/crds/, as deploy/base/ does.
    for crd in ["openbaoclusters", "openbaorestores", "openbaotenants"] {
        let key = (
            "CustomResourceDefinition".to_string(),
            String::new(),
            format!("{crd}.openbao.org"),
        );
        assert!(chart.remove(&key).is_some(), "{key:?}");
    }
    assert_same_objects(
        "deploy/namespaced",
        &example,
        "helm chart",
        &chart,
        &["Namespace"],
    );
    let roles: Vec<&(String, String, String)> = chart.keys().filter(|k| k.0 == "Role").collect();
    assert_eq!(roles.len(), 3, "{roles:?}");
    assert!(
        !chart
            .keys()
            .any(|k| k.0.starts_with("ClusterRole") && k.2 == operator_rbac::CLUSTER_ROLE)
    );
}

// ---------------------------------------------------------------------------------------------
// Schema refusals and lint

/// `helm template` with `values`, expected to fail: its stderr.
fn helm_template_error(values: &[&str]) -> String {
    let helm = tool("helm", "HELM_BIN");
    let home = tempfile::tempdir().unwrap();
    let mut args = vec!["template", "openbao-operator", "charts/openbao-operator"];
    for value in values {
        args.push("--set");
        args.push(value);
    }
    let output = Command::new(helm)
        .args(&args)
        .current_dir(workspace_root())
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert!(
        !output.status.success(),
        "helm template {values:?} rendered:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).to_string()
}

#[test]
fn the_chart_refuses_watch_namespaces_that_are_not_namespace_names_or_repeat() {
    for values in [
        "watchNamespaces={openbao-a,Team_B}",
        "watchNamespaces={openbao-a,openbao-a}",
    ] {
        let stderr = helm_template_error(&[values]);
        assert!(stderr.contains("watchNamespaces"), "{values}: {stderr}");
    }
}

#[test]
fn the_chart_refuses_an_api_server_cidr_that_is_not_a_cidr() {
    for value in ["10.96.0.1", "10.96.0.0/33", "api.example"] {
        let stderr = helm_template_error(&[&format!("networkPolicy.apiServerCIDR={value}")]);
        assert!(stderr.contains("apiServerCIDR"), "{value}: {stderr}");
    }
}

#[test]
fn the_chart_refuses_an_empty_metrics_namespace_selector() {
    let stderr = helm_template_error(&["metrics.namespaceSelector.matchLabels=null"]);
    assert!(stderr.contains("namespaceSelector"), "{stderr}");
}

#[test]
fn helm_lint_passes() {
    let helm = tool("helm", "HELM_BIN");
    let out = run_tool(&helm, &["lint", "--strict", "charts/openbao-operator"]);
    assert!(out.contains("0 chart(s) failed"), "{out}");
}
