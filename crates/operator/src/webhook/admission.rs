//! The admission decision, without IO: an `admission.k8s.io/v1` AdmissionReview for an
//! OpenBaoCluster in, the AdmissionReview answer out. The same `api::validate` the reconciler
//! runs decides, so what the webhook admits the controller can build.
//!
//! - CREATE: decode (`api::decode::cluster_from_value`, whose shape errors deny too), then
//!   `api::validate`.
//! - UPDATE: `api::validate::validate_update(old, new)` (validation plus immutable fields). An
//!   update that leaves the spec exactly as stored is admitted even if that spec is invalid
//!   (its errors come back as a warning): an object stored before the webhook existed must stay
//!   labelable, finalizable and deletable, and only a spec change can fix it anyway.
//! - Denials carry every field error in the message (`path: invalid value "...": what is
//!   allowed`, joined by `; `) and in `status.details.causes` with their field paths.
//! - Admissions carry `api::validate::warnings` (legal but risky settings).

use api::{
    OpenBaoCluster,
    validate::{FieldError, ValidationErrors},
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::telemetry::{Metrics, metrics::WebhookLabels};

/// The review as the API server sends it; only what the decision needs.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionReview {
    /// `admission.k8s.io/v1`.
    #[serde(default)]
    pub api_version: String,
    /// The request (absent only in malformed reviews).
    pub request: Option<AdmissionRequest>,
}

/// One admission request.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRequest {
    /// Echoed in the response.
    pub uid: String,
    /// `CREATE`, `UPDATE`, `DELETE` or `CONNECT`.
    #[serde(default)]
    pub operation: String,
    /// The object's name.
    #[serde(default)]
    pub name: String,
    /// The object's namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    /// The object as it would be stored.
    #[serde(default)]
    pub object: Option<Value>,
    /// The stored object (UPDATE).
    #[serde(default)]
    pub old_object: Option<Value>,
}

/// What the webhook answers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Admit or deny.
    pub allowed: bool,
    /// Why it was denied (every field error).
    pub message: Option<String>,
    /// The field errors of a denial.
    pub causes: Vec<FieldError>,
    /// Warnings of an admission.
    pub warnings: Vec<String>,
}

impl Verdict {
    fn allow(warnings: Vec<String>) -> Self {
        Self {
            allowed: true,
            warnings,
            ..Self::default()
        }
    }

    fn deny(request: &AdmissionRequest, errors: ValidationErrors) -> Self {
        let who = match &request.namespace {
            Some(ns) => format!("{ns}/{}", request.name),
            None => request.name.clone(),
        };
        let count = match errors.len() {
            1 => "1 error".to_string(),
            n => format!("{n} errors"),
        };
        Self {
            allowed: false,
            message: Some(format!(
                "OpenBaoCluster {who} is invalid ({count}): {errors}"
            )),
            causes: errors.0,
            warnings: Vec::new(),
        }
    }
}

fn decode(object: &Value) -> Result<OpenBaoCluster, ValidationErrors> {
    api::decode::cluster_from_value(object.clone())
}

fn missing_object(what: &str) -> ValidationErrors {
    let mut errors = ValidationErrors::default();
    errors.add(
        api::decode::DOCUMENT_PATH,
        "",
        format!("the admission request carries no {what}"),
    );
    errors
}

/// Decide one request.
pub fn decide(request: &AdmissionRequest) -> Verdict {
    match request.operation.as_str() {
        "CREATE" => {
            let Some(object) = &request.object else {
                return Verdict::deny(request, missing_object("object"));
            };
            match decode(object).and_then(|c| api::validate(&c).map(|()| c)) {
                Ok(cluster) => Verdict::allow(api::validate::warnings(&cluster)),
                Err(errors) => Verdict::deny(request, errors),
            }
        }
        "UPDATE" => decide_update(request),
        // The registration sends only CREATE and UPDATE; anything else is not ours to judge.
        _ => Verdict::allow(Vec::new()),
    }
}

fn decide_update(request: &AdmissionRequest) -> Verdict {
    let Some(object) = &request.object else {
        return Verdict::deny(request, missing_object("object"));
    };
    let unchanged_spec = request
        .old_object
        .as_ref()
        .is_some_and(|old| old.get("spec") == object.get("spec"));
    let new = decode(object);
    if unchanged_spec {
        let (warnings, errors) = match &new {
            Ok(cluster) => (
                api::validate::warnings(cluster),
                api::validate(cluster).err(),
            ),
            Err(errors) => (Vec::new(), Some(errors.clone())),
        };
        let mut warnings = warnings;
        if let Some(errors) = errors {
            warnings.insert(
                0,
                format!(
                    "the stored spec is invalid and the operator does not reconcile it; \
                     this update leaves the spec unchanged, so it is admitted: {errors}"
                ),
            );
        }
        return Verdict::allow(warnings);
    }
    let new = match new {
        Ok(cluster) => cluster,
        Err(errors) => return Verdict::deny(request, errors),
    };
    // An undecodable stored object cannot be compared with; the new one is still fully
    // validated, and refusing would leave the object impossible to repair.
    let old = request.old_object.as_ref().and_then(|old| decode(old).ok());
    let result = match &old {
        Some(old) => api::validate::validate_update(old, &new),
        None => api::validate(&new),
    };
    match result {
        Ok(()) => Verdict::allow(api::validate::warnings(&new)),
        Err(errors) => Verdict::deny(request, errors),
    }
}

/// The AdmissionReview answering `uid` with `verdict`.
pub fn response(uid: &str, verdict: &Verdict) -> Value {
    let mut response = json!({ "uid": uid, "allowed": verdict.allowed });
    if !verdict.allowed {
        let causes: Vec<Value> = verdict
            .causes
            .iter()
            .map(|e| {
                json!({
                    "reason": "FieldValueInvalid",
                    "field": e.path,
                    "message": format!("invalid value {:?}: {}", e.value, e.message),
                })
            })
            .collect();
        response["status"] = json!({
            "status": "Failure",
            "code": 422,
            "reason": "Invalid",
            "message": verdict.message.clone().unwrap_or_default(),
            "details": {
                "group": "openbao.org",
                "kind": "OpenBaoCluster",
                "causes": causes,
            },
        });
    }
    if !verdict.warnings.is_empty() {
        response["warnings"] = json!(verdict.warnings);
    }
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": response,
    })
}

/// Why a body is not an AdmissionReview the webhook can answer.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// Not JSON, or not shaped like an AdmissionReview.
    #[error("the body is not an AdmissionReview: {0}")]
    Parse(#[from] serde_json::Error),
    /// No `request`.
    #[error("the AdmissionReview has no request")]
    NoRequest,
}

/// The metric label of an operation; anything unexpected is one bucket, so a caller cannot
/// grow the label set.
fn operation_label(operation: &str) -> &'static str {
    match operation {
        "CREATE" => "CREATE",
        "UPDATE" => "UPDATE",
        "DELETE" => "DELETE",
        "CONNECT" => "CONNECT",
        _ => "OTHER",
    }
}

/// Parse `body`, decide, count the request in `metrics`, and build the answer.
pub fn handle(body: &[u8], metrics: &Metrics) -> Result<(Value, Verdict), ReviewError> {
    let review: AdmissionReview = serde_json::from_slice(body)?;
    let request = review.request.ok_or(ReviewError::NoRequest)?;
    let verdict = decide(&request);
    metrics
        .webhook_requests
        .get_or_create(&WebhookLabels {
            operation: operation_label(&request.operation).to_string(),
            result: if verdict.allowed { "allowed" } else { "denied" }.to_string(),
        })
        .inc();
    Ok((response(&request.uid, &verdict), verdict))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(spec: Value) -> Value {
        json!({
            "apiVersion": "openbao.org/v1alpha1",
            "kind": "OpenBaoCluster",
            "metadata": { "name": "bao", "namespace": "team" },
            "spec": spec,
        })
    }

    fn request(operation: &str, object: Value, old: Option<Value>) -> AdmissionRequest {
        AdmissionRequest {
            uid: "u-1".to_string(),
            operation: operation.to_string(),
            name: "bao".to_string(),
            namespace: Some("team".to_string()),
            object: Some(object),
            old_object: old,
        }
    }

    fn bad_rules() -> Value {
        json!({
            "version": "2.7.2",
            "network": { "ingressRules": [{
                "from": [{ "ipBlock": { "cidr": "10.0.0.300/8" } }],
                "ports": [{ "port": 9000, "endPort": 8000 }],
            }]},
        })
    }

    #[test]
    fn a_create_with_two_bad_fields_is_denied_with_both_paths_in_message_and_causes() {
        let verdict = decide(&request("CREATE", cluster(bad_rules()), None));
        assert!(!verdict.allowed);
        let message = verdict.message.clone().expect("message");
        for path in [
            "spec.network.ingressRules[0].from[0].ipBlock.cidr",
            "spec.network.ingressRules[0].ports[0].endPort",
        ] {
            assert!(message.contains(path), "{path} in {message}");
            assert!(verdict.causes.iter().any(|c| c.path == path), "{path}");
        }
        assert!(message.starts_with("OpenBaoCluster team/bao is invalid (2 errors): "));
        let answer = response("u-1", &verdict);
        assert_eq!(answer["response"]["uid"], "u-1");
        assert_eq!(answer["response"]["allowed"], false);
        assert_eq!(answer["response"]["status"]["code"], 422);
        assert_eq!(
            answer["response"]["status"]["details"]["causes"]
                .as_array()
                .map(Vec::len),
            Some(2)
        );
    }

    #[test]
    fn a_create_that_does_not_decode_is_denied_with_the_field_path() {
        let object = cluster(json!({ "version": "2.7.2", "replicas": "three" }));
        let verdict = decide(&request("CREATE", object, None));
        assert!(!verdict.allowed);
        assert!(verdict.causes.iter().any(|c| c.path == "spec.replicas"));
    }

    #[test]
    fn a_valid_create_is_admitted_with_its_warnings() {
        let object = cluster(json!({ "version": "2.7.2", "replicas": 1 }));
        let verdict = decide(&request("CREATE", object, None));
        assert!(verdict.allowed, "{verdict:?}");
        assert!(
            verdict
                .warnings
                .iter()
                .any(|w| w.starts_with("spec.network.kubeSystemIngress"))
        );
        assert!(
            verdict
                .warnings
                .iter()
                .any(|w| w.starts_with("spec.replicas"))
        );
        let answer = response("u-1", &verdict);
        assert!(answer["response"].get("status").is_none());
        assert!(answer["response"]["warnings"].is_array());
    }

    #[test]
    fn changing_an_immutable_field_is_denied_on_update() {
        let old = cluster(json!({ "version": "2.7.2", "storage": { "storageClassName": "a" } }));
        let new = cluster(json!({ "version": "2.7.2", "storage": { "storageClassName": "b" } }));
        let verdict = decide(&request("UPDATE", new, Some(old)));
        assert!(!verdict.allowed);
        assert!(
            verdict
                .causes
                .iter()
                .any(|c| c.path == "spec.storage.storageClassName")
        );
    }

    #[test]
    fn an_update_that_keeps_an_invalid_spec_unchanged_is_admitted_with_a_warning() {
        let old = cluster(bad_rules());
        let mut new = old.clone();
        new["metadata"]["finalizers"] = json!(["openbao.org/cleanup"]);
        let verdict = decide(&request("UPDATE", new, Some(old)));
        assert!(verdict.allowed);
        assert!(verdict.warnings[0].contains("spec.network.ingressRules[0].ports[0].endPort"));
    }

    #[test]
    fn an_update_that_introduces_an_error_is_denied() {
        let old = cluster(json!({ "version": "2.7.2" }));
        let verdict = decide(&request("UPDATE", cluster(bad_rules()), Some(old)));
        assert!(!verdict.allowed);
        assert_eq!(verdict.causes.len(), 2);
    }

    #[test]
    fn requests_are_counted_by_operation_and_result() {
        let metrics = Metrics::new();
        let review = json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": "u-2",
                "operation": "CREATE",
                "name": "bao",
                "namespace": "team",
                "object": cluster(bad_rules()),
            },
        });
        let body = serde_json::to_vec(&review).expect("json");
        let (answer, verdict) = handle(&body, &metrics).expect("answer");
        assert!(!verdict.allowed);
        assert_eq!(answer["response"]["uid"], "u-2");
        let text = metrics.encode();
        assert!(
            text.contains(
                "openbao_operator_webhook_requests_total{operation=\"CREATE\",result=\"denied\"} 1"
            ),
            "{text}"
        );
        assert!(matches!(
            handle(b"{}", &metrics),
            Err(ReviewError::NoRequest)
        ));
        assert!(matches!(
            handle(b"not json", &metrics),
            Err(ReviewError::Parse(_))
        ));
    }
}
