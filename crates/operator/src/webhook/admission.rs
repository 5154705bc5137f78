//! The admission decision, without IO: an `admission.k8s.io/v1` AdmissionReview for an
//! OpenBaoCluster, OpenBaoRestore or OpenBaoTenant ([`Kind`], chosen by the path the review was
//! posted to) in, the AdmissionReview answer out. The same `api` validation the controllers run
//! decides, so what the webhook admits the controller can build.
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
//! - OpenBaoRestore ([`decide_restore`]): decoded strictly, `api::validate_restore` on CREATE,
//!   `api::validate_restore_update` (the spec is immutable) on UPDATE. OpenBaoTenant
//!   ([`decide_tenant`]): `api::validate_tenant` / `api::validate_tenant_update`, plus
//!   `api::validate_tenant_scope` against the operator namespace. Both follow the cluster's
//!   rules for an UPDATE that leaves the spec unchanged, and every admission of either warns
//!   that its machinery is not built yet (the objects get the NotImplemented condition).
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
    OpenBaoCluster, OpenBaoRestore, OpenBaoTenant,
    conditions::TENANT_NOT_IMPLEMENTED_MESSAGE,
    decode::Manifest,
    names::{ClusterNames, ObjectKind},
    validate::{FieldError, ValidationErrors},
};
use kube::Resource;
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

/// The kinds the webhook admits; each is registered as its own webhook, at its own path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `OpenBaoCluster`.
    Cluster,
    /// `OpenBaoRestore`.
    Restore,
    /// `OpenBaoTenant`.
    Tenant,
}

impl Kind {
    /// The kind's name, as in `kind:`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cluster => OpenBaoCluster::KIND,
            Self::Restore => OpenBaoRestore::KIND,
            Self::Tenant => OpenBaoTenant::KIND,
        }
    }
}

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

    fn deny(kind: Kind, request: &AdmissionRequest<'_>, errors: ValidationErrors) -> Self {
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
                "{} {who} is invalid ({count}): {errors}",
                kind.name()
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
    scan_as(Kind::Cluster, text)
}

/// [`scan`], with errors that speak of `kind`.
pub fn scan_as(kind: Kind, text: &str) -> Result<(), ValidationErrors> {
    let kind = kind.name();
    let trimmed = text.trim_start();
    if !trimmed.starts_with('{') {
        return Err(single(
            api::decode::DOCUMENT_PATH,
            excerpt(trimmed, 40),
            format!(
                "must be a mapping: an {kind} manifest with apiVersion, kind, metadata and spec"
            ),
        ));
    }
    let message = match measure(trimmed.as_bytes(), MAX_DEPTH, MAX_ITEMS) {
        Ok(()) => return Ok(()),
        Err(Exceeded::Depth) => {
            format!("is nested more than {MAX_DEPTH} levels deep; no {kind} is")
        }
        Err(Exceeded::Items) => format!(
            "has more than {MAX_ITEMS} JSON values and keys; an {kind} has a few hundred, so \
             the object is refused before it is decoded"
        ),
    };
    Err(single(api::decode::DOCUMENT_PATH, "", message))
}

/// The object as a JSON tree, once [`scan_as`] has bounded it.
fn parse(kind: Kind, raw: &RawValue) -> Result<Value, ValidationErrors> {
    scan_as(kind, raw.get())?;
    serde_json::from_str(raw.get()).map_err(|e| {
        single(
            api::decode::DOCUMENT_PATH,
            "",
            format!("is not a JSON object: {e}"),
        )
    })
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

/// How one kind is judged: its validation on CREATE and UPDATE and its admission warnings.
/// The flow around them (decoding, the unchanged-spec rule, the verdict) is the same for every
/// kind ([`decide_create`], [`decide_update`]).
trait Rules {
    /// The kind judged.
    type Object: Manifest;
    /// The kind, for messages.
    const KIND: Kind;
    /// Every semantic error of `object`.
    fn validate(&self, object: &Self::Object) -> Result<(), ValidationErrors>;
    /// Errors only a CREATE can have, beyond [`Rules::validate`].
    fn create_errors(&self, _object: &Self::Object) -> ValidationErrors {
        ValidationErrors::default()
    }
    /// [`Rules::validate`] of `new` plus the rules on what may change.
    fn validate_update(
        &self,
        old: &Self::Object,
        new: &Self::Object,
    ) -> Result<(), ValidationErrors>;
    /// Warnings of an admission.
    fn warnings(&self, object: &Self::Object) -> Vec<String>;
}

/// OpenBaoClusters: `api::validate`, and on CREATE the names the cluster would derive against
/// those of the other clusters of its namespace.
struct ClusterRules<'a> {
    request: &'a AdmissionRequest<'a>,
    existing: &'a [String],
}

impl Rules for ClusterRules<'_> {
    type Object = OpenBaoCluster;
    const KIND: Kind = Kind::Cluster;
    fn validate(&self, cluster: &OpenBaoCluster) -> Result<(), ValidationErrors> {
        api::validate(cluster)
    }
    fn create_errors(&self, cluster: &OpenBaoCluster) -> ValidationErrors {
        let name = cluster
            .metadata
            .name
            .as_deref()
            .unwrap_or(&self.request.name);
        let namespace = self.request.namespace.as_deref().unwrap_or_default();
        collision_errors(name, namespace, self.existing)
    }
    fn validate_update(
        &self,
        old: &OpenBaoCluster,
        new: &OpenBaoCluster,
    ) -> Result<(), ValidationErrors> {
        api::validate::validate_update(old, new)
    }
    fn warnings(&self, cluster: &OpenBaoCluster) -> Vec<String> {
        api::validate::warnings(cluster)
    }
}

/// The admission warning of an object whose machinery is not built yet.
fn not_implemented(message: &str) -> Vec<String> {
    vec![format!(
        "{message}; the object only gets the condition NotImplemented"
    )]
}

/// OpenBaoRestores: `api::validate_restore`, and an immutable spec.
struct RestoreRules;

impl Rules for RestoreRules {
    type Object = OpenBaoRestore;
    const KIND: Kind = Kind::Restore;
    fn validate(&self, restore: &OpenBaoRestore) -> Result<(), ValidationErrors> {
        api::validate_restore(restore)
    }
    fn validate_update(
        &self,
        old: &OpenBaoRestore,
        new: &OpenBaoRestore,
    ) -> Result<(), ValidationErrors> {
        api::validate_restore_update(old, new)
    }
    fn warnings(&self, restore: &OpenBaoRestore) -> Vec<String> {
        if restore.spec.cluster_template.is_some() {
            vec![
                "spec.clusterTemplate: not supported yet: the restore will fail; create the \
                 OpenBaoCluster with the snapshot's seal and restore into it in place"
                    .to_string(),
            ]
        } else {
            Vec::new()
        }
    }
}

/// OpenBaoTenants: `api::validate_tenant`, an immutable target namespace, and the
/// self-service rule against the operator namespace.
struct TenantRules<'a> {
    operator_namespace: &'a str,
}

/// The errors of both results.
fn both(
    first: Result<(), ValidationErrors>,
    second: Result<(), ValidationErrors>,
) -> Result<(), ValidationErrors> {
    let mut errors = first.err().unwrap_or_default();
    for error in second.err().unwrap_or_default() {
        errors.push(error);
    }
    errors.into_result()
}

impl Rules for TenantRules<'_> {
    type Object = OpenBaoTenant;
    const KIND: Kind = Kind::Tenant;
    fn validate(&self, tenant: &OpenBaoTenant) -> Result<(), ValidationErrors> {
        both(
            api::validate_tenant(tenant),
            api::validate_tenant_scope(tenant, self.operator_namespace),
        )
    }
    fn validate_update(
        &self,
        old: &OpenBaoTenant,
        new: &OpenBaoTenant,
    ) -> Result<(), ValidationErrors> {
        both(
            api::validate_tenant_update(old, new),
            api::validate_tenant_scope(new, self.operator_namespace),
        )
    }
    fn warnings(&self, _: &OpenBaoTenant) -> Vec<String> {
        not_implemented(TENANT_NOT_IMPLEMENTED_MESSAGE)
    }
}

/// Decide one OpenBaoCluster request. `existing` holds the names of the OpenBaoClusters
/// already in the request's namespace (the request's own name among them is ignored).
pub fn decide(request: &AdmissionRequest<'_>, existing: &[String]) -> Verdict {
    let rules = ClusterRules { request, existing };
    match request.operation.as_str() {
        "CREATE" => decide_create(&rules, request),
        "UPDATE" => {
            let mut verdict = decide_update(&rules, request);
            if verdict.allowed {
                let namespace = request.namespace.as_deref().unwrap_or_default();
                verdict
                    .warnings
                    .extend(collision_warnings(&request.name, namespace, existing));
            }
            verdict
        }
        // The registration sends only CREATE and UPDATE; anything else is not ours to judge.
        _ => Verdict::allow(Vec::new()),
    }
}

/// Decide one OpenBaoRestore request.
pub fn decide_restore(request: &AdmissionRequest<'_>) -> Verdict {
    decide_with(&RestoreRules, request)
}

/// Decide one OpenBaoTenant request; `operator_namespace` is where the operator runs (a
/// tenant there may onboard any namespace, one elsewhere only its own).
pub fn decide_tenant(request: &AdmissionRequest<'_>, operator_namespace: &str) -> Verdict {
    decide_with(&TenantRules { operator_namespace }, request)
}

fn decide_with<R: Rules>(rules: &R, request: &AdmissionRequest<'_>) -> Verdict {
    match request.operation.as_str() {
        "CREATE" => decide_create(rules, request),
        "UPDATE" => decide_update(rules, request),
        _ => Verdict::allow(Vec::new()),
    }
}

fn decide_create<R: Rules>(rules: &R, request: &AdmissionRequest<'_>) -> Verdict {
    let Some(object) = request.object else {
        return Verdict::deny(R::KIND, request, missing_object("object"));
    };
    let object = match parse(R::KIND, object).and_then(api::decode::from_value::<R::Object>) {
        Ok(object) => object,
        Err(errors) => return Verdict::deny(R::KIND, request, errors),
    };
    let mut errors = rules.validate(&object).err().unwrap_or_default();
    for error in rules.create_errors(&object) {
        errors.push(error);
    }
    if errors.is_empty() {
        Verdict::allow(rules.warnings(&object))
    } else {
        Verdict::deny(R::KIND, request, errors)
    }
}

fn decide_update<R: Rules>(rules: &R, request: &AdmissionRequest<'_>) -> Verdict {
    let kind = R::KIND;
    let Some(object) = request.object else {
        return Verdict::deny(kind, request, missing_object("object"));
    };
    // An object that fails the scan is refused even when its spec is unchanged: no object the
    // API server could have stored is that large or that deep.
    let new = match parse(kind, object) {
        Ok(new) => new,
        Err(errors) => return Verdict::deny(kind, request, errors),
    };
    let old = request.old_object.and_then(|old| parse(kind, old).ok());
    let unchanged_spec = old
        .as_ref()
        .is_some_and(|old| old.get("spec") == new.get("spec"));
    let new = api::decode::from_value::<R::Object>(new);
    if unchanged_spec {
        let (warnings, errors) = match &new {
            Ok(object) => (rules.warnings(object), rules.validate(object).err()),
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
        Ok(object) => object,
        Err(errors) => return Verdict::deny(kind, request, errors),
    };
    // An undecodable stored object cannot be compared with; the new one is still fully
    // validated, and refusing would leave the object impossible to repair.
    let old = old.and_then(|old| api::decode::from_value::<R::Object>(old).ok());
    let result = match &old {
        Some(old) => rules.validate_update(old, &new),
        None => rules.validate(&new),
    };
    match result {
        Ok(()) => Verdict::allow(rules.warnings(&new)),
        Err(errors) => Verdict::deny(kind, request, errors),
    }
}

/// The AdmissionReview answering `uid` (a review of a `kind`) with `verdict`.
pub fn response(kind: Kind, uid: &str, verdict: &Verdict) -> Value {
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
                "group": OpenBaoCluster::group(&()),
                "kind": kind.name(),
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
    /// Nested deeper than any review of an object the webhook admits.
    #[error(
        "the body is nested more than {max} levels deep; an AdmissionReview of an \
         OpenBaoCluster, OpenBaoRestore or OpenBaoTenant never is"
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

/// Parse `body` (a review of an OpenBaoCluster), decide, count the request in `metrics`, and
/// build the answer. `existing` names the OpenBaoClusters of a namespace (asked only for CREATE
/// and UPDATE, with the request's namespace).
pub fn handle(
    body: &[u8],
    metrics: &Metrics,
    existing: impl FnOnce(&str) -> Vec<String>,
) -> Result<(Value, Verdict), ReviewError> {
    handle_with(Kind::Cluster, body, metrics, |request| {
        let names = match (request.operation.as_str(), &request.namespace) {
            ("CREATE" | "UPDATE", Some(namespace)) => existing(namespace),
            _ => Vec::new(),
        };
        decide(request, &names)
    })
}

/// Like [`handle`], for a review of an OpenBaoRestore ([`decide_restore`]).
pub fn handle_restore(body: &[u8], metrics: &Metrics) -> Result<(Value, Verdict), ReviewError> {
    handle_with(Kind::Restore, body, metrics, decide_restore)
}

/// Like [`handle`], for a review of an OpenBaoTenant ([`decide_tenant`]).
pub fn handle_tenant(
    body: &[u8],
    metrics: &Metrics,
    operator_namespace: &str,
) -> Result<(Value, Verdict), ReviewError> {
    handle_with(Kind::Tenant, body, metrics, |request| {
        decide_tenant(request, operator_namespace)
    })
}

/// Parse `body`, `decide`, count the request in `metrics`, and build the answer for `kind`.
fn handle_with(
    kind: Kind,
    body: &[u8],
    metrics: &Metrics,
    decide: impl FnOnce(&AdmissionRequest<'_>) -> Verdict,
) -> Result<(Value, Verdict), ReviewError> {
    // serde_json checks raw values without recursing but keeps a byte per open bracket, so
    // a deep body is refused before it is parsed at all.
    let max = MAX_DEPTH + ENVELOPE_DEPTH;
    if measure(body, max, usize::MAX) == Err(Exceeded::Depth) {
        return Err(ReviewError::TooDeep { max });
    }
    let review: AdmissionReview<'_> = serde_json::from_slice(body)?;
    let request = review.request.ok_or(ReviewError::NoRequest)?;
    let verdict = decide(&request);
    metrics
        .webhook_requests
        .get_or_create(&WebhookLabels {
            kind: kind.name().to_string(),
            operation: operation_label(&request.operation).to_string(),
            result: if verdict.allowed { "allowed" } else { "denied" }.to_string(),
        })
        .inc();
    Ok((response(kind, &request.uid, &verdict), verdict))
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
        let answer = response(Kind::Cluster, "u-1", &verdict);
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
        let answer = response(Kind::Cluster, "u-1", &verdict);
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
                "openbao_operator_webhook_requests_total{kind=\"OpenBaoCluster\",operation=\"CREATE\",result=\"denied\"} 1"
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

    fn restore(spec: Value) -> Value {
        json!({
            "apiVersion": "openbao.org/v1alpha1",
            "kind": "OpenBaoRestore",
            "metadata": { "name": "restore-1", "namespace": "team" },
            "spec": spec,
        })
    }

    fn restore_spec() -> Value {
        json!({
            "cluster": "bao",
            "source": {
                "target": {
                    "endpoint": "https://s3.amazonaws.com",
                    "bucket": "openbao-backups",
                    "region": "us-east-1",
                    "credentialsSecretRef": { "name": "s3-credentials" },
                },
                "key": "clusters/bao/2026-01-01-120000.snap",
            },
        })
    }

    fn tenant(target: &str) -> Value {
        json!({
            "apiVersion": "openbao.org/v1alpha1",
            "kind": "OpenBaoTenant",
            "metadata": { "name": "team-tenant", "namespace": "team" },
            "spec": { "targetNamespace": target },
        })
    }

    #[test]
    fn a_valid_restore_is_admitted_without_warnings() {
        let verdict = decide_restore(&request("CREATE", &raw(&restore(restore_spec())), None));
        assert!(verdict.allowed, "{verdict:?}");
        assert!(verdict.warnings.is_empty(), "{verdict:?}");
    }

    #[test]
    fn an_invalid_restore_is_denied_naming_the_kind_and_every_field() {
        let mut spec = restore_spec();
        spec["cluster"] = json!("Not_A_Name");
        spec["source"]["expectedDigest"] = json!("md5:abc");
        let verdict = decide_restore(&request("CREATE", &raw(&restore(spec)), None));
        assert!(!verdict.allowed);
        let message = verdict.message.clone().expect("message");
        assert!(
            message.starts_with("OpenBaoRestore team/restore-1 is invalid (2 errors): "),
            "{message}"
        );
        for path in ["spec.cluster", "spec.source.expectedDigest"] {
            assert!(verdict.causes.iter().any(|c| c.path == path), "{path}");
        }
        let answer = response(Kind::Restore, "u-1", &verdict);
        assert_eq!(
            answer["response"]["status"]["details"]["kind"],
            "OpenBaoRestore"
        );
        assert_eq!(
            answer["response"]["status"]["details"]["group"],
            "openbao.org"
        );
    }

    #[test]
    fn a_restore_with_an_unknown_field_is_denied_by_strict_decoding() {
        let mut spec = restore_spec();
        spec["source"]["kee"] = json!("typo");
        let verdict = decide_restore(&request("CREATE", &raw(&restore(spec)), None));
        assert!(!verdict.allowed);
        assert!(
            verdict
                .causes
                .iter()
                .any(|c| c.path.starts_with("spec.source")),
            "{verdict:?}"
        );
    }

    #[test]
    fn a_restores_spec_cannot_change_but_its_labels_can() {
        let old = restore(restore_spec());
        let mut new = old.clone();
        new["spec"]["source"]["key"] = json!("clusters/bao/other.snap");
        let verdict = decide_restore(&request("UPDATE", &raw(&new), Some(&raw(&old))));
        assert!(!verdict.allowed);
        assert!(
            verdict.causes.iter().any(|c| c.path == "spec.source.key"),
            "{verdict:?}"
        );
        let mut labelled = old.clone();
        labelled["metadata"]["labels"] = json!({ "team": "a" });
        let verdict = decide_restore(&request("UPDATE", &raw(&labelled), Some(&raw(&old))));
        assert!(verdict.allowed, "{verdict:?}");
    }

    #[test]
    fn a_tenant_may_onboard_its_own_namespace_and_only_the_operator_namespace_may_onboard_others() {
        let verdict = decide_tenant(&request("CREATE", &raw(&tenant("team")), None), "ops");
        assert!(verdict.allowed, "{verdict:?}");
        assert!(verdict.warnings[0].starts_with(TENANT_NOT_IMPLEMENTED_MESSAGE));
        let verdict = decide_tenant(&request("CREATE", &raw(&tenant("other")), None), "ops");
        assert!(!verdict.allowed);
        assert_eq!(verdict.causes[0].path, "spec.targetNamespace");
        assert!(
            verdict
                .message
                .as_deref()
                .is_some_and(|m| m.starts_with("OpenBaoTenant team/team-tenant is invalid")),
            "{verdict:?}"
        );
        // In the operator namespace any target is allowed.
        let verdict = decide_tenant(&request("CREATE", &raw(&tenant("other")), None), "team");
        assert!(verdict.allowed, "{verdict:?}");
    }

    #[test]
    fn a_tenants_target_namespace_cannot_change() {
        let verdict = decide_tenant(
            &request("UPDATE", &raw(&tenant("b")), Some(&raw(&tenant("a")))),
            "team",
        );
        assert!(!verdict.allowed);
        assert!(
            verdict
                .causes
                .iter()
                .any(|c| c.path == "spec.targetNamespace" && c.message.contains("immutable")),
            "{verdict:?}"
        );
    }

    #[test]
    fn a_cluster_sent_to_the_restore_path_is_denied_for_its_kind() {
        let verdict = decide_restore(&request(
            "CREATE",
            &raw(&cluster(json!({ "version": "2.7.2" }))),
            None,
        ));
        assert!(!verdict.allowed);
        assert!(
            verdict.causes.iter().any(|c| c.path == "kind"),
            "{verdict:?}"
        );
    }

    #[test]
    fn restore_and_tenant_reviews_are_answered_and_counted() {
        let metrics = Metrics::new();
        let review = |object: Value| {
            serde_json::to_vec(&json!({
                "apiVersion": "admission.k8s.io/v1",
                "kind": "AdmissionReview",
                "request": {
                    "uid": "u-3",
                    "operation": "CREATE",
                    "name": object["metadata"]["name"],
                    "namespace": "team",
                    "object": object,
                },
            }))
            .expect("json")
        };
        let (answer, verdict) =
            handle_restore(&review(restore(restore_spec())), &metrics).expect("answer");
        assert!(verdict.allowed);
        assert_eq!(answer["response"]["uid"], "u-3");
        assert_eq!(answer["response"]["allowed"], true);
        let (answer, verdict) =
            handle_tenant(&review(tenant("elsewhere")), &metrics, "ops").expect("answer");
        assert!(!verdict.allowed);
        assert_eq!(
            answer["response"]["status"]["details"]["kind"],
            "OpenBaoTenant"
        );
        let text = metrics.encode();
        // Each kind is counted under its own label.
        for (kind, result) in [("OpenBaoRestore", "allowed"), ("OpenBaoTenant", "denied")] {
            let line = format!(
                "openbao_operator_webhook_requests_total{{kind=\"{kind}\",operation=\"CREATE\",result=\"{result}\"}} 1"
            );
            assert!(text.contains(&line), "{line} in {text}");
        }
    }
}
