//! The operator's own requests to the API server, told apart from everyone else's by API
//! Priority and Fairness: two FlowSchemas match the reads (get, list) and the writes of the
//! operator's ServiceAccount, and `apiserver_flowcontrol_dispatched_requests_total` counts each
//! request under its schema (the node's, the tests' and the controllers' requests are not).

use k8s_openapi::api::flowcontrol::v1::FlowSchema;
use kube::{
    Api, Client,
    api::{Patch, PatchParams},
};

use super::{OPERATOR_NS, OPERATOR_SA};

/// The FlowSchema of the operator's reads.
pub const READS: &str = "operator-reads";
/// The FlowSchema of the operator's writes.
pub const WRITES: &str = "operator-writes";

/// Install [`READS`] and [`WRITES`] (idempotent).
pub async fn install_flow_schemas(client: &Client) {
    let schemas = Api::<FlowSchema>::all(client.clone());
    for (name, verbs, precedence) in [
        (READS, vec!["get", "list"], 100),
        (
            WRITES,
            vec!["create", "update", "patch", "delete", "deletecollection"],
            101,
        ),
    ] {
        let schema: FlowSchema = serde_json::from_value(serde_json::json!({
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
            "kind": "FlowSchema",
            "metadata": {"name": name},
            "spec": {
                "matchingPrecedence": precedence,
                "priorityLevelConfiguration": {"name": "workload-high"},
                "rules": [{
                    "subjects": [{"kind": "ServiceAccount",
                        "serviceAccount": {"name": OPERATOR_SA, "namespace": OPERATOR_NS}}],
                    "resourceRules": [{"verbs": verbs, "apiGroups": ["*"], "resources": ["*"],
                        "namespaces": ["*"], "clusterScope": true}]
                }]
            }
        }))
        .expect("FlowSchema");
        schemas
            .patch(
                name,
                &PatchParams::apply("operator-tests").force(),
                &Patch::Apply(&schema),
            )
            .await
            .expect("install FlowSchema");
    }
}

/// The operator's (reads, writes) so far, by its FlowSchemas.
pub async fn operator_requests(client: &Client) -> (f64, f64) {
    let request = http::Request::get("/metrics")
        .body(Vec::new())
        .expect("request");
    let text = client
        .request_text(request)
        .await
        .expect("API server metrics");
    let count = |flow: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with("apiserver_flowcontrol_dispatched_requests_total{"))
            .filter(|l| l.contains(&format!("flow_schema=\"{flow}\"")))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    (count(READS), count(WRITES))
}
