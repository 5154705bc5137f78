//! The admission decision, without IO: an `admission.k8s.io/v1` AdmissionReview for an
//! OpenBaoCluster in, the AdmissionReview answer out. The same `api::validate` the reconciler
//! runs decides, so what the webhook admits the controller can build.
//!
//! - CREATE: decode (`api::decode::cluster_from_value`, whose shape errors deny too), then
//!   `api::validate`, then the names the cluster would derive against those of every other
//!   cluster in its namespace (`api::names::collisions`): two clusters must never own one object.
//! - UPDATE: `api::validate::validate_update(old, new)` (validation plus immutable fields). An
//!   update that leaves the spec exactly as stored is admitted even if that spec is invalid
//!   (its errors come back as a warning): an object stored before the webhook existed must stay
//!   labelable, finalizable and deletable, and only a spec change can fix it anyway. A name
//!   collision (possible only for clusters created before the webhook saw the other one) is a
//!   warning: the name cannot change on update, so refusing would only block the way out.
//! - Denials carry every field error in the message (`path: invalid value "...": what is
//!   allowed`, joined by `; `) and in `status.details.causes` with their field paths.
//! - Admissions carry `api::validate::warnings` (legal but risky settings).
//!
//! Memory: the review is parsed with `object` and `oldObject` left as borrowed raw JSON text,
//! and each object's text is scanned (no allocation) before any tree is built from it: it must
//! be a mapping, nested at most [`MAX_DEPTH`] levels, with at most [`MAX_ITEMS`] JSON values
//! and keys. A body nested deeper than any review of a cluster is refused (400) before it is
//! parsed at all. So a hostile review (a huge array, deep nesting, a mapping holding a huge
//! list) is refused at the cost of reading it once, and the tree built for any object that
//! passes is bounded by [`MAX_ITEMS`], whatever the body size. (Before this, a 3 MiB review
//! whose object was a flat list peaked at ~143 MB while being answered; now ~8 KB.)

use api::{
    OpenBaoCluster,
    names::{ClusterNames, ObjectKind},
    validate::{FieldError, ValidationErrors},
};
use serde::Deserialize;
use serde_json::{Value, json, value::RawValue};

use crate::telemetry::{Metrics, metrics::WebhookLabels};

/// Deepest nesting of an object accepted (the limit `api::decode` applies too); the production
/// example nests 9 levels, its managedFields a few more.
pub const MAX_DEPTH: usize = 64;

/// Most JSON items (every value, list, mapping and mapping key) in one object. The production
/// example has 171 and each network rule adds about ten, so even a hundred rules plus
/// managedFields stay in the low thousands; 20,000 leaves room for any real spec while bounding
/// what decoding allocates: the costliest shape (a list of one-key mappings, each a B-tree node
/// of ~630 bytes for three items) stays under ~250 bytes per item, and `tests/webhook_limits.rs`
/// measures about 4.6 MB for an object just under the limit, whatever the body size.
pub const MAX_ITEMS: usize = 20_000;

/// The review as the API server sends it; only what the decision needs. The objects stay raw
/// text borrowed from the body until [`scan`] has bounded them.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionReview<'a> {
    /// `admission.k8s.io/v1`.
    #[serde(default)]
    pub api_version: String,
    /// The request (absent only in malformed reviews).
    #[serde(borrow)]
    pub request: Option<AdmissionRequest<'a>>,
}

/// One admission request.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRequest<'a> {
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
    /// The object as it would be stored, as JSON text.
    #[serde(default, borrow)]
    pub object: Option<&'a RawValue>,
    /// The stored object (UPDATE), as JSON text.
    #[serde(default, borrow)]
    pub old_object: Option<&'a RawValue>,
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

    fn deny(request: &AdmissionRequest<'_>, errors: ValidationErrors) -> Self {
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

fn single(path: &str, value: impl std::fmt::Display, message: String) -> ValidationErrors {
    ValidationErrors(vec![FieldError::new(path, value, message)])
}

/// The first `max` characters of `text`, marked when cut.
fn excerpt(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

/// Which bound a JSON text passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exceeded {
    Depth,
    Items,
}

/// One pass over JSON bytes, without allocating: whether they nest deeper than `max_depth` or
/// hold more than `max_items` items (every value, list, mapping and mapping key). Only strings
/// need care: brackets, commas and colons inside them are not structure. Invalid JSON is not
/// detected here; serde_json does that afterwards, on input this pass has bounded.
fn measure(bytes: &[u8], max_depth: usize, max_items: usize) -> Result<(), Exceeded> {
    let (mut depth, mut items) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    // Whether the next token starts a value or key (after `{`, `[`, `,`, `:` or at the start).
    let mut token_starts = true;
    for &byte in bytes {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b' ' | b'\t' | b'\n' | b'\r' => continue,
            b'{' | b'[' => {
                items += 1;
                depth += 1;
                token_starts = true;
            }
            b',' | b':' => token_starts = true,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                token_starts = false;
            }
            other => {
                if token_starts {
                    items += 1;
                    token_starts = false;
                }
                in_string = other == b'"';
            }
        }
        if depth > max_depth {
            return Err(Exceeded::Depth);
        }
        if items > max_items {
            return Err(Exceeded::Items);
        }
    }
    Ok(())
}

/// Bound an object before anything is built from it: a mapping, at most [`MAX_DEPTH`] deep,
/// at most [`MAX_ITEMS`] items. One pass over the bytes, no allocation unless it refuses.
pub fn scan(text: &str) -> Result<(), ValidationErrors> {
    let trimmed = text.trim_start();
    if !trimmed.starts_with('{') {
        return Err(single(
            api::decode::DOCUMENT_PATH,
            excerpt(trimmed, 40),
            "must be a mapping: an OpenBaoCluster manifest with apiVersion, kind, metadata \
             and spec"
                .to_string(),
        ));
    }
    let message = match measure(trimmed.as_bytes(), MAX_DEPTH, MAX_ITEMS) {
        Ok(()) => return Ok(()),
        Err(Exceeded::Depth) => {
            format!("is nested more than {MAX_DEPTH} levels deep; no OpenBaoCluster is")
        }
        Err(Exceeded::Items) => format!(
            "has more than {MAX_ITEMS} JSON values and keys; an OpenBaoCluster has a few \
             hundred, so the object is refused before it is decoded"
        ),
    };
    Err(single(api::decode::DOCUMENT_PATH, "", message))
}

/// The object as a JSON tree, once [`scan`] has bounded it.
fn parse(raw: &RawValue) -> Result<Value, ValidationErrors> {
    scan(raw.get())?;
    serde_json::from_str(raw.get()).map_err(|e| {
        single(
            api::decode::DOCUMENT_PATH,
            "",
            format!("is not a JSON object: {e}"),
        )
    })
}

fn decode(raw: &RawValue) -> Result<OpenBaoCluster, ValidationErrors> {
    parse(raw).and_then(api::decode::cluster_from_value)
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

/// `kind "name"` pairs for a message, joined with commas.
fn objects_list(objects: &[(ObjectKind, String)]) -> String {
    objects
        .iter()
        .map(|(kind, name)| format!("{kind} {name:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every other cluster among `existing` whose derived objects share a `(kind, name)` with
/// `name`'s, with what they share.
fn colliding<'e>(name: &str, existing: &'e [String]) -> Vec<(&'e str, Vec<(ObjectKind, String)>)> {
    let names = ClusterNames::new(name);
    existing
        .iter()
        .filter(|other| other.as_str() != name)
        .filter_map(|other| {
            let shared = api::names::collisions(&names, &ClusterNames::new(other.as_str()));
            (!shared.is_empty()).then_some((other.as_str(), shared))
        })
        .collect()
}

fn collision_errors(name: &str, namespace: &str, existing: &[String]) -> ValidationErrors {
    let mut errors = ValidationErrors::default();
    for (other, shared) in colliding(name, existing) {
        errors.add(
            "metadata.name",
            name,
            format!(
                "collides with OpenBaoCluster {other:?} in namespace {namespace}: both clusters \
                 would own {}, and each would overwrite the other's; choose another name for \
                 this cluster (not another cluster's name followed by a suffix the operator \
                 appends, such as -internal or -jobs)",
                objects_list(&shared)
            ),
        );
    }
    errors
}

fn collision_warnings(name: &str, namespace: &str, existing: &[String]) -> Vec<String> {
    colliding(name, existing)
        .into_iter()
        .map(|(other, shared)| {
            format!(
                "metadata.name: OpenBaoCluster {name:?} collides with OpenBaoCluster {other:?} \
                 in namespace {namespace}: both own {}; recreate one of them under another name",
                objects_list(&shared)
            )
        })
        .collect()
}

/// Decide one request. `existing` holds the names of the OpenBaoClusters already in the
/// request's namespace (the request's own name among them is ignored).
pub fn decide(request: &AdmissionRequest<'_>, existing: &[String]) -> Verdict {
    match request.operation.as_str() {
        "CREATE" => decide_create(request, existing),
        "UPDATE" => decide_update(request, existing),
        // The registration sends only CREATE and UPDATE; anything else is not ours to judge.
        _ => Verdict::allow(Vec::new()),
    }
}

fn decide_create(request: &AdmissionRequest<'_>, existing: &[String]) -> Verdict {
    let Some(object) = request.object else {
        return Verdict::deny(request, missing_object("object"));
    };
    let cluster = match decode(object) {
        Ok(cluster) => cluster,
        Err(errors) => return Verdict::deny(request, errors),
    };
    let mut errors = api::validate(&cluster).err().unwrap_or_default();
    let name = cluster.metadata.name.as_deref().unwrap_or(&request.name);
    let namespace = request.namespace.as_deref().unwrap_or_default();
    for error in collision_errors(name, namespace, existing).0 {
        errors.push(error);
    }
    if errors.is_empty() {
        Verdict::allow(api::validate::warnings(&cluster))
    } else {
        Verdict::deny(request, errors)
    }
}

fn decide_update(request: &AdmissionRequest<'_>, existing: &[String]) -> Verdict {
    let mut verdict = decide_update_spec(request);
    if verdict.allowed {
        let namespace = request.namespace.as_deref().unwrap_or_default();
        verdict
            .warnings
            .extend(collision_warnings(&request.name, namespace, existing));
    }
    verdict
}

fn decide_update_spec(request: &AdmissionRequest<'_>) -> Verdict {
    let Some(object) = request.object else {
        return Verdict::deny(request, missing_object("object"));
    };
    // An object that fails the scan is refused even when its spec is unchanged: no object the
    // API server could have stored is that large or that deep.
    let new = match parse(object) {
        Ok(new) => new,
        Err(errors) => return Verdict::deny(request, errors),
    };
    let old = request.old_object.and_then(|old| parse(old).ok());
    let unchanged_spec = old
        .as_ref()
        .is_some_and(|old| old.get("spec") == new.get("spec"));
    let new = api::decode::cluster_from_value(new);
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
    let old = old.and_then(|old| api::decode::cluster_from_value(old).ok());
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
                "group": <api::OpenBaoCluster as kube::Resource>::group(&()),
                "kind": <api::OpenBaoCluster as kube::Resource>::kind(&()),
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
    /// Nested deeper than any review of an OpenBaoCluster.
    #[error(
        "the body is nested more than {max} levels deep; an AdmissionReview of an \
         OpenBaoCluster never is"
    )]
    TooDeep {
        /// The deepest nesting accepted.
        max: usize,
    },
}

/// How deep a review nests above its objects: `{"request": {"object": {...}}}`.
const ENVELOPE_DEPTH: usize = 2;

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

/// Parse `body`, decide, count the request in `metrics`, and build the answer. `existing`
/// names the OpenBaoClusters of a namespace (asked only for CREATE and UPDATE, with the
/// request's namespace).
pub fn handle(
    body: &[u8],
    metrics: &Metrics,
    existing: impl FnOnce(&str) -> Vec<String>,
) -> Result<(Value, Verdict), ReviewError> {
    // serde_json checks raw values without recursing but keeps a byte per open bracket, so
    // a deep body is refused before it is parsed at all.
    let max = MAX_DEPTH + ENVELOPE_DEPTH;
    if measure(body, max, usize::MAX) == Err(Exceeded::Depth) {
        return Err(ReviewError::TooDeep { max });
    }
    let review: AdmissionReview<'_> = serde_json::from_slice(body)?;
    let request = review.request.ok_or(ReviewError::NoRequest)?;
    let names = match (request.operation.as_str(), &request.namespace) {
        ("CREATE" | "UPDATE", Some(namespace)) => existing(namespace),
        _ => Vec::new(),
    };
    let verdict = decide(&request, &names);
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
        named("bao", spec)
    }

    fn named(name: &str, spec: Value) -> Value {
        json!({
            "apiVersion": "openbao.org/v1alpha1",
            "kind": "OpenBaoCluster",
            "metadata": { "name": name, "namespace": "team" },
            "spec": spec,
        })
    }

    fn raw(object: &Value) -> Box<RawValue> {
        serde_json::value::to_raw_value(object).expect("json")
    }

    fn request<'a>(
        operation: &str,
        object: &'a RawValue,
        old: Option<&'a RawValue>,
    ) -> AdmissionRequest<'a> {
        let name: Value = serde_json::from_str(object.get()).expect("json");
        AdmissionRequest {
            uid: "u-1".to_string(),
            operation: operation.to_string(),
            name: name["metadata"]["name"]
                .as_str()
                .unwrap_or("bao")
                .to_string(),
            namespace: Some("team".to_string()),
            object: Some(object),
            old_object: old,
        }
    }

    fn create(object: &Value, existing: &[&str]) -> Verdict {
        let existing: Vec<String> = existing.iter().map(|s| s.to_string()).collect();
        decide(&request("CREATE", &raw(object), None), &existing)
    }

    fn update(new: &Value, old: &Value) -> Verdict {
        decide(&request("UPDATE", &raw(new), Some(&raw(old))), &[])
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
        let verdict = create(&cluster(bad_rules()), &[]);
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
        let verdict = create(&object, &[]);
        assert!(!verdict.allowed);
        assert!(verdict.causes.iter().any(|c| c.path == "spec.replicas"));
    }

    #[test]
    fn a_valid_create_is_admitted_with_its_warnings() {
        let object = cluster(json!({ "version": "2.7.2", "replicas": 1 }));
        let verdict = create(&object, &["other", "bao"]);
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
    fn a_create_whose_jobs_policy_is_another_clusters_main_policy_is_denied_naming_both() {
        let verdict = create(&named("x-jobs", json!({ "version": "2.7.2" })), &["x", "y"]);
        assert!(!verdict.allowed, "{verdict:?}");
        let message = verdict.message.clone().expect("message");
        for part in [
            "OpenBaoCluster team/x-jobs is invalid (1 error)",
            "metadata.name",
            "OpenBaoCluster \"x\" in namespace team",
            "NetworkPolicy \"x-jobs-network-policy\"",
            "choose another name",
        ] {
            assert!(message.contains(part), "{part:?} in {message}");
        }
        assert_eq!(verdict.causes.len(), 1);
        assert_eq!(verdict.causes[0].path, "metadata.name");
        assert_eq!(verdict.causes[0].value, "x-jobs");
        // The other direction: `x` created while `x-internal` exists.
        let verdict = create(&named("x", json!({ "version": "2.7.2" })), &["x-internal"]);
        let message = verdict.message.expect("denied");
        assert!(message.contains("Service \"x-internal\""), "{message}");
    }

    #[test]
    fn collisions_are_reported_next_to_field_errors() {
        let verdict = create(&named("x-jobs", bad_rules()), &["x"]);
        assert!(!verdict.allowed);
        assert_eq!(verdict.causes.len(), 3, "{verdict:?}");
    }

    #[test]
    fn an_update_of_a_cluster_that_already_collides_is_admitted_with_a_warning() {
        let old = named("x-jobs", json!({ "version": "2.7.2" }));
        let mut new = old.clone();
        new["metadata"]["labels"] = json!({ "team": "a" });
        let verdict = decide(
            &request("UPDATE", &raw(&new), Some(&raw(&old))),
            &["x".to_string(), "x-jobs".to_string()],
        );
        assert!(verdict.allowed, "{verdict:?}");
        assert!(
            verdict
                .warnings
                .iter()
                .any(|w| w.contains("\"x\"") && w.contains("x-jobs-network-policy")),
            "{verdict:?}"
        );
    }

    #[test]
    fn changing_an_immutable_field_is_denied_on_update() {
        let old = cluster(json!({ "version": "2.7.2", "storage": { "storageClassName": "a" } }));
        let new = cluster(json!({ "version": "2.7.2", "storage": { "storageClassName": "b" } }));
        let verdict = update(&new, &old);
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
        let verdict = update(&new, &old);
        assert!(verdict.allowed);
        assert!(verdict.warnings[0].contains("spec.network.ingressRules[0].ports[0].endPort"));
    }

    #[test]
    fn an_update_that_introduces_an_error_is_denied() {
        let old = cluster(json!({ "version": "2.7.2" }));
        let verdict = update(&cluster(bad_rules()), &old);
        assert!(!verdict.allowed);
        assert_eq!(verdict.causes.len(), 2);
    }

    #[test]
    fn the_scan_refuses_lists_deep_nesting_and_too_many_items_but_passes_a_real_cluster() {
        let list = scan("[0,0,0]").expect_err("a list is no cluster");
        assert!(list.to_string().contains("must be a mapping"), "{list}");
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(70), "]".repeat(70));
        let deep = scan(&deep).expect_err("too deep");
        assert!(deep.to_string().contains("more than 64 levels"), "{deep}");
        let many = format!("{{\"status\":[{}0]}}", "0,".repeat(MAX_ITEMS));
        let many = scan(&many).expect_err("too many items");
        assert!(many.to_string().contains("more than 20000"), "{many}");
        // Brackets, commas and colons inside strings are not structure.
        let quoted = format!(
            "{{\"a\":\"{}\\\"{}\"}}",
            "[,:".repeat(MAX_ITEMS),
            "{".repeat(70)
        );
        assert_eq!(scan(&quoted), Ok(()));
        let production = include_str!("../../../../examples/production.yaml");
        let production: Value = serde_yaml::from_str(production).expect("example");
        assert_eq!(scan(&production.to_string()), Ok(()));
    }

    #[test]
    fn an_object_that_is_a_list_is_denied_before_it_is_decoded() {
        let verdict = create(&json!([1, 2, 3]), &[]);
        assert!(!verdict.allowed);
        assert_eq!(verdict.causes[0].path, api::decode::DOCUMENT_PATH);
        assert!(verdict.causes[0].message.contains("must be a mapping"));
        assert_eq!(verdict.causes[0].value, "[1,2,3]");
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
                "oldObject": null,
            },
        });
        let body = serde_json::to_vec(&review).expect("json");
        let mut asked = Vec::new();
        let (answer, verdict) = handle(&body, &metrics, |ns| {
            asked.push(ns.to_string());
            Vec::new()
        })
        .expect("answer");
        assert_eq!(asked, ["team"]);
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
            handle(b"{}", &metrics, |_| Vec::new()),
            Err(ReviewError::NoRequest)
        ));
        assert!(matches!(
            handle(b"not json", &metrics, |_| Vec::new()),
            Err(ReviewError::Parse(_))
        ));
        let deep = format!("{{\"request\":{}{}}}", "[".repeat(70), "]".repeat(70));
        assert!(matches!(
            handle(deep.as_bytes(), &metrics, |_| Vec::new()),
            Err(ReviewError::TooDeep { max: 66 })
        ));
    }
}
