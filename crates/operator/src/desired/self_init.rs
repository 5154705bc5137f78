//! `spec.selfInit`: OpenBao initializes itself on its first start from `initialize` blocks, so
//! no root token is ever returned or stored. The blocks go into their own file,
//! `self-init.json` (JSON is OpenBao configuration too), next to `config.hcl`:
//!
//! - the operator's block comes first and gives the operator its identity (see
//!   `crate::identity`); the user's requests follow in their own block, in spec order;
//! - while the cluster bootstraps only pod 0 runs (the StatefulSet is held at one replica): a
//!   member that starts with `initialize` blocks while another already initialized does not
//!   join, it initializes a second cluster of its own (seen with bao 2.7.2);
//! - once status records the cluster as initialized the file is `{}`, before the StatefulSet
//!   grows: every member that starts later, or restarts with empty data, joins instead;
//! - the file is not part of the configuration hash, so emptying it restarts nothing.

use serde_json::{Map, Value, json};

use std::collections::BTreeSet;

use api::spec::{SecretKeySelector, SelfInitRequest};

use super::{ValidatedCluster, config_hcl};
use crate::identity::{self, OperatorIdentity};

/// Where the Secrets of `dataFrom` are mounted: `<dir>/<secret>/<key>`.
pub const SECRETS_DIR: &str = "/etc/bao/self-init";

/// The file (and ConfigMap key) holding the `initialize` blocks.
pub const SELF_INIT_FILE: &str = "self-init.json";
/// The `initialize` block of the operator's own identity.
pub const OPERATOR_BLOCK: &str = "openbao-operator";
/// The `initialize` block of `spec.selfInit.requests`.
pub const USER_BLOCK: &str = "spec-requests";

/// Whether `cluster` initializes itself and has not done so yet.
pub fn bootstrapping(cluster: &ValidatedCluster) -> bool {
    enabled(cluster)
        && !cluster
            .cluster()
            .status
            .as_ref()
            .is_some_and(|s| s.initialized)
}

/// Whether `cluster` initializes itself (now or in the past).
pub fn enabled(cluster: &ValidatedCluster) -> bool {
    cluster.spec().self_init.as_ref().is_some_and(|s| s.enabled)
}

/// Every Secret key the requests' `dataFrom` names, once each.
pub fn secret_sources(cluster: &ValidatedCluster) -> BTreeSet<SecretKeySelector> {
    cluster
        .spec()
        .self_init
        .iter()
        .filter(|s| s.enabled)
        .flat_map(|s| s.requests.iter())
        .flat_map(|r| r.data_from.values().cloned())
        .collect()
}

/// The file OpenBao reads `source` from.
pub fn secret_file(source: &SecretKeySelector) -> String {
    format!("{SECRETS_DIR}/{}/{}", source.name, source.key)
}

/// The replicas the StatefulSet runs: one while the cluster bootstraps itself, else the spec's.
pub fn replicas(cluster: &ValidatedCluster) -> i32 {
    if bootstrapping(cluster) {
        1
    } else {
        cluster.spec().replicas
    }
}

/// The content of [`SELF_INIT_FILE`] for `cluster`: the `initialize` blocks while it bootstraps
/// (the operator's own first, when its identity is known), `{}` otherwise.
pub fn render(cluster: &ValidatedCluster, identity: Option<&OperatorIdentity>) -> String {
    if !bootstrapping(cluster) {
        return "{}\n".to_string();
    }
    let mut blocks = Vec::new();
    if let Some(identity) = identity {
        let jobs = identity::JobSubjects::of(cluster.namespace(), cluster.names().cluster());
        let requests: Vec<Value> = identity::bootstrap_requests(identity, &jobs)
            .into_iter()
            .map(|r| {
                named(
                    r.name,
                    json!({"operation": "update", "path": r.path, "data": r.data}),
                )
            })
            .collect();
        blocks.push(named(OPERATOR_BLOCK, json!({ "request": requests })));
    }
    let user: Vec<Value> = cluster
        .spec()
        .self_init
        .as_ref()
        .map(|s| s.requests.iter().map(user_request).collect())
        .unwrap_or_default();
    if !user.is_empty() {
        blocks.push(named(USER_BLOCK, json!({ "request": user })));
    }
    let mut out = serde_json::to_string_pretty(&json!({ "initialize": blocks }))
        .unwrap_or_else(|_| "{}".to_string());
    out.push('\n');
    out
}

fn named(name: &str, value: Value) -> Value {
    let mut map = Map::new();
    map.insert(name.to_string(), value);
    Value::Object(map)
}

/// One user request as OpenBao's profile engine reads it.
fn user_request(request: &SelfInitRequest) -> Value {
    let operation = serde_json::to_value(request.operation).unwrap_or(Value::Null);
    let mut body = json!({ "operation": operation, "path": request.path });
    let mut data = payload(request);
    if !request.data_from.is_empty() {
        let fields = data.get_or_insert_with(|| json!({}));
        for (field, source) in &request.data_from {
            // OpenBao's profile engine reads the value from the mounted Secret file.
            fields[field] = json!({
                "eval_source": "file",
                "eval_type": "string",
                "path": secret_file(source),
            });
        }
    }
    if let Some(data) = data {
        body["data"] = data;
    }
    if request.allow_failure == Some(true) {
        body["allow_failure"] = Value::Bool(true);
    }
    named(&request.name, body)
}

/// The request's JSON body from whichever payload it sets (validation allows one).
fn payload(request: &SelfInitRequest) -> Option<Value> {
    if let Some(method) = &request.auth_method {
        let mut data = json!({ "type": method.type_ });
        if let Some(description) = &method.description {
            data["description"] = json!(description);
        }
        if !method.config.is_empty() {
            data["config"] = json!(method.config);
        }
        return Some(data);
    }
    if let Some(engine) = &request.secret_engine {
        let mut data = json!({ "type": engine.type_ });
        if let Some(description) = &engine.description {
            data["description"] = json!(description);
        }
        if !engine.options.is_empty() {
            data["options"] = json!(engine.options);
        }
        return Some(data);
    }
    if let Some(policy) = &request.policy {
        return Some(json!({ "policy": policy.policy }));
    }
    if let Some(device) = &request.audit_device {
        let device = device.at_path(request.path.trim_start_matches("sys/audit/"));
        let mut data = json!({ "type": config_hcl::audit_type(device.type_) });
        if let Some(description) = &device.description {
            data["description"] = json!(description);
        }
        let options = config_hcl::audit_options(&device);
        if !options.is_empty() {
            data["options"] = json!(options);
        }
        return Some(data);
    }
    request.data.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(self_init: &str, initialized: bool) -> ValidatedCluster {
        let manifest = format!(
            "apiVersion: openbao.org/v1alpha1\nkind: OpenBaoCluster\nmetadata: {{name: bao, namespace: ns}}\nspec:\n  version: \"2.7.2\"\n  replicas: 3\n  selfInit:\n{self_init}"
        );
        let mut cluster: api::OpenBaoCluster = serde_yaml::from_str(&manifest).expect("manifest");
        cluster.status = Some(api::OpenBaoClusterStatus {
            initialized,
            ..Default::default()
        });
        ValidatedCluster::new(cluster).expect("valid")
    }

    const REQUESTS: &str = "    enabled: true\n    requests:\n    - {name: userpass, operation: update, path: sys/auth/userpass, authMethod: {type: userpass, description: people}}\n    - {name: kv, operation: update, path: sys/mounts/secret, secretEngine: {type: kv, options: {version: \"2\"}}}\n    - {name: readers, operation: update, path: sys/policies/acl/readers, policy: {policy: \"path \\\"secret/*\\\" { capabilities = [\\\"read\\\"] }\"}}\n    - {name: audit, operation: update, path: sys/audit/stdout, auditDevice: {type: file, fileOptions: {filePath: stdout}}}\n    - {name: alice, operation: update, path: auth/userpass/users/alice, data: {token_policies: [readers]}, allowFailure: true}\n";

    fn identity() -> OperatorIdentity {
        OperatorIdentity {
            issuer: "https://kubernetes.default.svc".into(),
            public_keys: vec!["PEM".into()],
            subject: "system:serviceaccount:ops:openbao-operator".into(),
            audience: identity::AUDIENCE.into(),
        }
    }

    #[test]
    fn a_bootstrapping_cluster_runs_one_pod_with_the_operators_block_before_the_users() {
        let bootstrapping = cluster(REQUESTS, false);
        assert_eq!(replicas(&bootstrapping), 1);
        let rendered: Value =
            serde_json::from_str(&render(&bootstrapping, Some(&identity()))).expect("json");
        let blocks = rendered["initialize"].as_array().expect("blocks");
        assert_eq!(blocks.len(), 2);
        let operator = &blocks[0][OPERATOR_BLOCK]["request"];
        assert_eq!(operator.as_array().map(Vec::len), Some(8));
        assert_eq!(
            operator[0]["operator-auth-method"]["path"],
            "sys/auth/jwt-operator"
        );
        let user = blocks[1][USER_BLOCK]["request"].as_array().expect("user");
        assert_eq!(
            user[0]["userpass"]["data"],
            json!({"type": "userpass", "description": "people"})
        );
        assert_eq!(
            user[1]["kv"]["data"],
            json!({"type": "kv", "options": {"version": "2"}})
        );
        assert_eq!(
            user[2]["readers"]["data"]["policy"],
            "path \"secret/*\" { capabilities = [\"read\"] }"
        );
        assert_eq!(
            user[3]["audit"]["data"],
            json!({"type": "file", "options": {"file_path": "stdout"}})
        );
        assert_eq!(user[4]["alice"]["allow_failure"], true);
        assert_eq!(user[4]["alice"]["operation"], "update");
    }

    #[test]
    fn secret_fields_are_read_by_openbao_from_the_mounted_secret_files() {
        let with_secret = cluster(
            "    enabled: true\n    requests:\n    - {name: alice, operation: update, path: auth/userpass/users/alice, data: {token_policies: [readers]}, dataFrom: {password: {name: people, key: alice}}}\n",
            false,
        );
        let rendered: Value =
            serde_json::from_str(&render(&with_secret, Some(&identity()))).expect("json");
        let alice = &rendered["initialize"][1][USER_BLOCK]["request"][0]["alice"]["data"];
        assert_eq!(
            alice["password"],
            json!({"eval_source": "file", "eval_type": "string", "path": "/etc/bao/self-init/people/alice"})
        );
        assert_eq!(alice["token_policies"], json!(["readers"]));
        assert!(
            !render(&with_secret, Some(&identity())).contains("people\", \"key"),
            "no Secret reference beyond the file path"
        );
        assert_eq!(secret_sources(&with_secret).len(), 1);
    }

    #[test]
    fn an_initialized_cluster_gets_an_empty_file_and_every_replica() {
        let done = cluster(REQUESTS, true);
        assert_eq!(render(&done, Some(&identity())), "{}\n");
        assert_eq!(replicas(&done), 3);
        let off = cluster("    enabled: false\n", false);
        assert_eq!(render(&off, None), "{}\n");
        assert_eq!(replicas(&off), 3);
    }
}
