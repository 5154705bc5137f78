//! The operator's own deployment as generated: the builders (`install::deploy`), the committed
//! kustomize base (`deploy/base/`) and namespaced example (`deploy/namespaced/`), both
//! drift-checked together with the chart's copies of the CRDs (`UPDATE_GOLDEN=1 cargo test -p
//! openbao-operator --test deploy_manifests` rewrites them), and the `manifests` command.
//!
//! The RBAC and policy objects are tested in `deploy_rbac.rs`, the Helm chart in
//! `deploy_chart.rs`, the controller's posture contract in `deploy_posture.rs`.
#![allow(clippy::unwrap_used)]

#[path = "support/deploy.rs"]
mod deploy_support;

use std::process::Command;

use api::names::DEFAULT_OPERATOR_NAMESPACE;
use operator::install::{
    controller::{OPERATOR_NAME, WEBHOOK_PATH, WEBHOOK_SERVICE},
    deploy::{self, DeployOptions},
};
use serde_json::{Value, json};

use deploy_support::*;

#[test]
fn the_committed_kustomize_base_matches_the_code() {
    assert_committed_dir_matches(
        "deploy/base",
        &DeployOptions::new(DEFAULT_OPERATOR_NAMESPACE),
    );
}

#[test]
fn the_committed_namespaced_example_matches_the_code() {
    assert_committed_dir_matches("deploy/namespaced", &namespaced_example());
}

/// `dir` (relative to the workspace root) holds exactly the kustomize files of `options`
/// (rewritten under `UPDATE_GOLDEN=1`).
fn assert_committed_dir_matches(dir: &str, options: &DeployOptions) {
    let name = dir;
    let dir = workspace_root().join(dir);
    let files = deploy::kustomize_files(options).unwrap();
    if updating() {
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                std::fs::remove_file(path).unwrap();
            }
        }
        for file in &files {
            std::fs::write(dir.join(&file.name), &file.contents).unwrap();
        }
        return;
    }
    let hint = "review the change and run `UPDATE_GOLDEN=1 cargo test -p openbao-operator --test deploy_manifests` to accept it";
    for file in &files {
        let path = dir.join(&file.name);
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}; {hint}", path.display()));
        assert!(
            committed == file.contents,
            "{} drifted from the code; {hint}",
            path.display()
        );
    }
    let mut committed: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|name| name.ends_with(".yaml"))
        .collect();
    committed.sort();
    let mut generated: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
    generated.sort();
    assert_eq!(committed, generated, "stale files in {name}; {hint}");
}

#[test]
fn the_base_reuses_the_committed_crd_and_cluster_role() {
    let kustomization =
        std::fs::read_to_string(workspace_root().join("deploy/kustomization.yaml")).unwrap();
    for file in operator::cli::crd::crd_files().unwrap() {
        let entry = format!("- crds/{}\n", file.name);
        assert!(
            kustomization.contains(&entry),
            "{entry:?} in deploy/kustomization.yaml"
        );
    }
    assert!(kustomization.contains("- base\n"));
    let base_role: Value = serde_yaml::from_str(
        &std::fs::read_to_string(workspace_root().join("deploy/base/cluster-role.yaml")).unwrap(),
    )
    .unwrap();
    let rbac_role: Value = serde_yaml::from_str(
        &std::fs::read_to_string(workspace_root().join("deploy/rbac/cluster-role.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(base_role, rbac_role);
}

#[test]
fn the_chart_carries_the_generated_crds() {
    for file in operator::cli::crd::crd_files().unwrap() {
        let committed =
            std::fs::read_to_string(workspace_root().join("deploy/crds").join(&file.name)).unwrap();
        let path = workspace_root()
            .join("charts/openbao-operator/files")
            .join(&file.name);
        if updating() {
            std::fs::write(&path, &committed).unwrap();
            continue;
        }
        let copy = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            copy == committed,
            "{} differs from deploy/crds/; run `UPDATE_GOLDEN=1 cargo test -p openbao-operator --test deploy_manifests`",
            path.display()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The builders

#[test]
fn the_operator_pods_carry_exactly_the_labels_the_cluster_policies_allow_on_8200() {
    let deployment = serde_json::to_value(deploy::deployment(&defaults())).unwrap();
    assert_eq!(
        deployment["spec"]["template"]["metadata"]["labels"],
        operator_labels()
    );
    assert_eq!(
        deployment["spec"]["selector"]["matchLabels"],
        operator_labels()
    );
    // The same labels the per-cluster policies' operator peer selects.
    let peer = serde_json::to_value(operator::desired::network_policy::operator_peer(
        DEFAULT_OPERATOR_NAMESPACE,
    ))
    .unwrap();
    assert_eq!(peer["podSelector"]["matchLabels"], operator_labels());
}

#[test]
fn the_operator_pod_runs_under_the_restricted_security_context() {
    let deployment = serde_json::to_value(deploy::deployment(&defaults())).unwrap();
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], OPERATOR_NAME);
    assert_eq!(pod["automountServiceAccountToken"], true);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let container = &pod["containers"][0];
    let security = &container["securityContext"];
    assert_eq!(security["runAsNonRoot"], true);
    assert_eq!(security["runAsUser"], 65532);
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"], json!({"drop": ["ALL"]}));
    assert_eq!(security["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(
        container["volumeMounts"],
        json!([{"name": "tmp", "mountPath": "/tmp"}])
    );
    assert_eq!(pod["volumes"][0]["name"], "tmp");
    assert!(pod["volumes"][0]["emptyDir"].is_object());
}

#[test]
fn the_operator_container_gets_its_flags_ports_probes_env_and_default_resources() {
    let deployment = serde_json::to_value(deploy::deployment(&defaults())).unwrap();
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["args"],
        json!([
            "run",
            "--operator-namespace=$(OPERATOR_NAMESPACE)",
            "--health-bind=0.0.0.0:8081",
            "--metrics-bind=0.0.0.0:8080",
            "--secure-metrics-bind=0.0.0.0:8443",
            "--webhook-bind=0.0.0.0:9443",
            format!("--webhook-service={WEBHOOK_SERVICE}"),
            "--leader-elect",
            "--log-format=json",
        ])
    );
    let ports: Vec<(String, i64)> = container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["containerPort"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ports,
        [
            ("metrics".to_string(), 8080),
            ("https-metrics".to_string(), 8443),
            ("health".to_string(), 8081),
            ("webhook".to_string(), 9443)
        ]
    );
    assert_eq!(
        container["livenessProbe"]["httpGet"],
        json!({"path": "/healthz", "port": "health"})
    );
    assert_eq!(
        container["readinessProbe"]["httpGet"],
        json!({"path": "/readyz", "port": "health"})
    );
    assert_eq!(
        container["env"],
        json!([
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "OPERATOR_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            // Backup and restore Jobs run the image the operator runs.
            {"name": "OPERATOR_IMAGE", "value": container["image"].clone()},
            {"name": "RUST_LOG", "value": "info"},
        ])
    );
    assert_eq!(
        container["resources"],
        json!({"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}})
    );
    assert_eq!(container["image"], deploy::DEFAULT_IMAGE);
    assert!(deploy::DEFAULT_IMAGE.ends_with(&format!(":{}", env!("CARGO_PKG_VERSION"))));
}

#[test]
fn the_services_route_the_webhook_and_metrics_ports() {
    let webhook = serde_json::to_value(deploy::webhook_service(&defaults())).unwrap();
    assert_eq!(webhook["metadata"]["name"], WEBHOOK_SERVICE);
    assert_eq!(
        webhook["spec"]["ports"],
        json!([{"name": "https", "port": 443, "protocol": "TCP", "targetPort": "webhook"}])
    );
    assert_eq!(webhook["spec"]["selector"], operator_labels());
    let metrics = serde_json::to_value(deploy::metrics_service(&defaults())).unwrap();
    let ports: Vec<i64> = metrics["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["port"].as_i64().unwrap())
        .collect();
    assert_eq!(ports, [8080, 8443]);
}

#[test]
fn the_webhook_registration_sends_openbaocluster_writes_to_the_webhook_service() {
    let configuration = serde_json::to_value(deploy::webhook_configuration(
        &deploy::DeployOptions::new("ops"),
    ))
    .unwrap();
    let webhook = &configuration["webhooks"][0];
    assert_eq!(
        webhook["clientConfig"],
        json!({"service": {"namespace": "ops", "name": WEBHOOK_SERVICE, "path": WEBHOOK_PATH, "port": 443}})
    );
    assert_eq!(
        webhook["rules"],
        json!([{
            "apiGroups": ["openbao.org"], "apiVersions": ["v1alpha1"],
            "operations": ["CREATE", "UPDATE"], "resources": ["openbaoclusters"], "scope": "Namespaced"
        }])
    );
    assert_eq!(webhook["failurePolicy"], "Fail");
    assert_eq!(webhook["sideEffects"], "None");
    assert_eq!(webhook["admissionReviewVersions"], json!(["v1"]));
    assert_eq!(webhook["timeoutSeconds"], 10);
    assert!(
        webhook["clientConfig"].get("caBundle").is_none(),
        "patched in at run time"
    );
}

#[test]
fn a_pod_disruption_budget_exists_only_with_more_than_one_replica() {
    assert!(deploy::build(&defaults()).pod_disruption_budget.is_none());
    let mut options = defaults();
    options.replicas = 2;
    let manifests = deploy::build(&options);
    let pdb = serde_json::to_value(manifests.pod_disruption_budget.unwrap()).unwrap();
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    assert_eq!(pdb["spec"]["selector"]["matchLabels"], operator_labels());
}

#[test]
fn without_the_webhook_nothing_registers_serves_or_grants_it() {
    let mut options = defaults();
    options.webhook = false;
    let manifests = deploy::build(&options);
    assert!(manifests.webhook_service.is_none());
    assert!(manifests.webhook_configuration.is_none());
    let deployment = serde_json::to_value(&manifests.deployment).unwrap();
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let args = container["args"].to_string();
    assert!(args.contains("\"--no-webhook\""), "{args}");
    assert!(!args.contains("--webhook-"), "{args}");
    assert!(!container["ports"].to_string().contains("9443"));
    let manager = serde_json::to_value(&manifests.manager_cluster_role).unwrap();
    assert!(
        !manager
            .to_string()
            .contains("validatingwebhookconfigurations")
    );
    let files = file_names(&manifests);
    assert!(
        !files
            .iter()
            .any(|f| f == "validating-webhook-configuration.yaml")
    );
}

#[test]
fn the_documents_come_in_apply_order_with_the_policy_before_the_deployment() {
    let files = file_names(&deploy::build(&defaults()));
    let position = |name| files.iter().position(|f| f == name).unwrap();
    assert_eq!(files[0], "namespace.yaml");
    assert!(position("network-policy.yaml") < position("deployment.yaml"));
    // No OpenBao pod can exist before its ClusterRole and the policy confining it.
    for file in [
        "openbao-server-cluster-role.yaml",
        "pod-label-policy.yaml",
        "pod-label-policy-binding.yaml",
    ] {
        assert!(position(file) < position("deployment.yaml"), "{file}");
    }
    assert!(position("pod-label-policy.yaml") < position("pod-label-policy-binding.yaml"));
    assert_eq!(
        *files.last().unwrap(),
        "validating-webhook-configuration.yaml"
    );
}

#[test]
fn label_selectors_parse_key_value_pairs_and_reject_empty_or_malformed_ones() {
    let selector =
        deploy::label_selector_from_str("team=obs, kubernetes.io/metadata.name=monitoring")
            .unwrap();
    assert_eq!(
        serde_json::to_value(selector).unwrap(),
        json!({"matchLabels": {"team": "obs", "kubernetes.io/metadata.name": "monitoring"}})
    );
    for bad in ["", " , ", "team", "=x"] {
        let error = deploy::label_selector_from_str(bad).unwrap_err();
        assert!(error.contains("key=value"), "{bad:?}: {error}");
    }
}

// ---------------------------------------------------------------------------------------------
// A namespaced install

#[test]
fn a_namespaced_install_passes_its_namespaces_to_the_operator_and_scopes_the_webhook() {
    let manifests = deploy::build(&namespaced_example());
    let deployment = serde_json::to_value(&manifests.deployment).unwrap();
    let args: Vec<&str> = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        args[..3],
        [
            "run",
            "--operator-namespace=$(OPERATOR_NAMESPACE)",
            "--watch-namespaces=openbao-a,openbao-b"
        ]
    );
    let configuration = serde_json::to_value(manifests.webhook_configuration.unwrap()).unwrap();
    assert_eq!(
        configuration["webhooks"][0]["namespaceSelector"],
        json!({"matchExpressions": [{
            "key": "kubernetes.io/metadata.name", "operator": "In", "values": NAMESPACED_EXAMPLE
        }]})
    );
    // A cluster-wide install passes no namespaces and admits every namespace.
    let cluster_wide = deploy::build(&defaults());
    let deployment = serde_json::to_value(&cluster_wide.deployment).unwrap();
    assert!(!deployment.to_string().contains("--watch-namespaces"));
    let configuration = serde_json::to_value(cluster_wide.webhook_configuration.unwrap()).unwrap();
    assert!(
        configuration["webhooks"][0]
            .get("namespaceSelector")
            .is_none()
    );
}

#[derive(clap::Parser)]
struct RunCommand {
    #[command(flatten)]
    run: operator::cli::run::RunArgs,
}

#[test]
fn the_deployments_arguments_parse_back_into_the_watched_namespaces() {
    use clap::Parser;
    let container_args = deploy::container_args(&namespaced_example());
    let parsed = RunCommand::try_parse_from(&container_args).unwrap();
    let options = parsed.run.options();
    assert_eq!(options.watch_namespaces, NAMESPACED_EXAMPLE);
    assert_eq!(
        options.webhook.unwrap().registration.watch_namespaces,
        NAMESPACED_EXAMPLE
    );
    let parsed = RunCommand::try_parse_from(deploy::container_args(&defaults())).unwrap();
    assert!(parsed.run.options().watch_namespaces.is_empty());
}

#[test]
fn the_multi_document_stream_starts_with_the_crds_and_holds_every_object() {
    let objects = code_objects(&defaults());
    let crds = operator::cli::crd::crds().len();
    assert_eq!(crds, 3);
    for object in &objects[..crds] {
        assert_eq!(object["kind"], "CustomResourceDefinition");
    }
    assert_eq!(
        objects.len(),
        crds + deploy::build(&defaults()).documents().unwrap().len()
    );
}

// ---------------------------------------------------------------------------------------------
// `manifests --watch-namespaces` through the binary

#[test]
fn the_manifests_command_writes_the_committed_namespaced_example() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_openbao-operator"))
        .args([
            "manifests",
            "--watch-namespaces",
            "openbao-a",
            "--watch-namespace",
            "openbao-b,openbao-a",
            "--output-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let committed = workspace_root().join("deploy/namespaced");
    let mut written: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    written.sort();
    let mut expected: Vec<String> = std::fs::read_dir(&committed)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    expected.sort();
    assert_eq!(written, expected);
    for name in &written {
        assert!(
            std::fs::read_to_string(dir.path().join(name)).unwrap()
                == std::fs::read_to_string(committed.join(name)).unwrap(),
            "{name} differs from deploy/namespaced/"
        );
    }
}

#[test]
fn the_manifests_command_refuses_a_watched_namespace_that_is_not_a_namespace_name() {
    let output = Command::new(env!("CARGO_BIN_EXE_openbao-operator"))
        .args(["manifests", "--watch-namespaces", "openbao-a,Team_B"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for part in ["--watch-namespaces", "Team_B", "DNS-1123 label"] {
        assert!(stderr.contains(part), "{part} in {stderr}");
    }
}
