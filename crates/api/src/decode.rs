//! Turning untyped input (YAML or JSON documents) into an `OpenBaoCluster`, `OpenBaoRestore` or
//! `OpenBaoTenant` ([`Manifest`]), with errors that name the field path, so bad input never
//! surfaces as a bare serde message.
//!
//! Decoding is stricter than serde alone: it checks `apiVersion` and `kind`, and rejects unknown
//! fields where serde would silently drop them (the manifest's top level, `metadata`, and the
//! k8s-openapi types inside the spec: NetworkPolicy rules of a cluster, the ResourceQuota and
//! LimitRange of a tenant), as the API server does with strict field validation. Semantic rules
//! are `validate`'s job; decoding only establishes the shape.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use serde_path_to_error::Segment;

use crate::restore::OpenBaoRestore;
use crate::spec::OpenBaoCluster;
use crate::tenant::OpenBaoTenant;
use crate::validate::{FieldError, ValidationErrors, key_path};

/// The only `apiVersion` accepted.
pub const API_VERSION: &str = "openbao.org/v1alpha1";
/// The only `kind` accepted by [`cluster_from_value`] (see [`Manifest::KIND`] for the others).
pub const KIND: &str = "OpenBaoCluster";
/// The path of errors about the document as a whole (not YAML, not a mapping).
pub const DOCUMENT_PATH: &str = "(document)";

/// Deeper documents are refused before serde sees them, so hostile input cannot exhaust the
/// stack; a real manifest is about 10 levels deep.
const MAX_DEPTH: usize = 64;
/// Longest value rendering in an error.
const MAX_VALUE_LEN: usize = 200;

const ROOT_FIELDS: &[&str] = &["apiVersion", "kind", "metadata", "spec", "status"];
const OBJECT_META_FIELDS: &[&str] = &[
    "annotations",
    "creationTimestamp",
    "deletionGracePeriodSeconds",
    "deletionTimestamp",
    "finalizers",
    "generateName",
    "generation",
    "labels",
    "managedFields",
    "name",
    "namespace",
    "ownerReferences",
    "resourceVersion",
    "selfLink",
    "uid",
];
const INGRESS_RULE_FIELDS: &[&str] = &["from", "ports"];
const EGRESS_RULE_FIELDS: &[&str] = &["to", "ports"];
const PEER_FIELDS: &[&str] = &["ipBlock", "namespaceSelector", "podSelector"];
const PORT_FIELDS: &[&str] = &["endPort", "port", "protocol"];
const IP_BLOCK_FIELDS: &[&str] = &["cidr", "except"];
const LABEL_SELECTOR_FIELDS: &[&str] = &["matchExpressions", "matchLabels"];
const REQUIREMENT_FIELDS: &[&str] = &["key", "operator", "values"];
const QUOTA_FIELDS: &[&str] = &["hard", "scopeSelector", "scopes"];
const SCOPE_SELECTOR_FIELDS: &[&str] = &["matchExpressions"];
const SCOPED_REQUIREMENT_FIELDS: &[&str] = &["operator", "scopeName", "values"];
const LIMIT_RANGE_FIELDS: &[&str] = &["limits"];
const LIMIT_ITEM_FIELDS: &[&str] = &[
    "default",
    "defaultRequest",
    "max",
    "maxLimitRequestRatio",
    "min",
    "type",
];

/// A kind of this API that manifests decode into: [`OpenBaoCluster`], [`OpenBaoRestore`] and
/// [`OpenBaoTenant`] (sealed).
pub trait Manifest: DeserializeOwned + sealed::Sealed {
    /// The only `kind` accepted.
    const KIND: &'static str;
    /// What `metadata.name` holds, for the error when it is missing.
    const NAME_HINT: &'static str;
    /// Report unknown fields inside `spec` that serde would silently drop (k8s-openapi types
    /// ignore unknown fields).
    fn check_spec(spec: &Value, errs: &mut ValidationErrors);
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::OpenBaoCluster {}
    impl Sealed for super::OpenBaoRestore {}
    impl Sealed for super::OpenBaoTenant {}
}

impl Manifest for OpenBaoCluster {
    const KIND: &'static str = KIND;
    const NAME_HINT: &'static str = "the cluster's name, a DNS-1035 label such as \"bao\"";
    fn check_spec(spec: &Value, errs: &mut ValidationErrors) {
        check_network_policy_rules(spec, errs);
    }
}

impl Manifest for OpenBaoRestore {
    const KIND: &'static str = "OpenBaoRestore";
    const NAME_HINT: &'static str =
        "the restore's name, a DNS-1123 label such as \"restore-2025-10-14\"";
    fn check_spec(_: &Value, _: &mut ValidationErrors) {}
}

impl Manifest for OpenBaoTenant {
    const KIND: &'static str = "OpenBaoTenant";
    const NAME_HINT: &'static str = "the tenant's name, a DNS-1123 subdomain such as \"team-a\"";
    fn check_spec(spec: &Value, errs: &mut ValidationErrors) {
        check_tenant_spec(spec, errs);
    }
}

/// Decode one YAML document into an `OpenBaoCluster`. Every shape error found is returned
/// with its field path; semantic checks are left to [`crate::validate()`].
pub fn cluster_from_yaml_str(s: &str) -> Result<OpenBaoCluster, ValidationErrors> {
    from_yaml_str(s)
}

/// Decode a JSON value (one manifest) into an `OpenBaoCluster`. Every shape error found is
/// returned with its field path; semantic checks are left to [`crate::validate()`].
pub fn cluster_from_value(v: Value) -> Result<OpenBaoCluster, ValidationErrors> {
    from_value(v)
}

/// Decode one YAML document into an `OpenBaoRestore`; semantic checks are left to
/// [`crate::validate_restore`].
pub fn restore_from_yaml_str(s: &str) -> Result<OpenBaoRestore, ValidationErrors> {
    from_yaml_str(s)
}

/// Decode a JSON value (one manifest) into an `OpenBaoRestore`; semantic checks are left to
/// [`crate::validate_restore`].
pub fn restore_from_value(v: Value) -> Result<OpenBaoRestore, ValidationErrors> {
    from_value(v)
}

/// Decode one YAML document into an `OpenBaoTenant`; semantic checks are left to
/// [`crate::validate_tenant`].
pub fn tenant_from_yaml_str(s: &str) -> Result<OpenBaoTenant, ValidationErrors> {
    from_yaml_str(s)
}

/// Decode a JSON value (one manifest) into an `OpenBaoTenant`; semantic checks are left to
/// [`crate::validate_tenant`].
pub fn tenant_from_value(v: Value) -> Result<OpenBaoTenant, ValidationErrors> {
    from_value(v)
}

/// Decode one YAML document into a `K`. Every shape error found is returned with its field
/// path.
pub fn from_yaml_str<K: Manifest>(s: &str) -> Result<K, ValidationErrors> {
    let deserializer = serde_yaml::Deserializer::from_str(s);
    match serde_path_to_error::deserialize::<_, Value>(deserializer) {
        Ok(value) => from_value(value),
        Err(e) => {
            let path = render_path(&segments(e.path()));
            let path = if path.is_empty() {
                DOCUMENT_PATH.to_string()
            } else {
                path
            };
            Err(single(
                path,
                "",
                format!("not a valid YAML document: {}", e.inner()),
            ))
        }
    }
}

/// Decode a JSON value (one manifest) into a `K`. Every shape error found is returned with its
/// field path.
pub fn from_value<K: Manifest>(v: Value) -> Result<K, ValidationErrors> {
    let kind = K::KIND;
    if depth_exceeds(&v, MAX_DEPTH) {
        return Err(single(
            DOCUMENT_PATH,
            "",
            format!("is nested more than {MAX_DEPTH} levels deep; no {kind} is"),
        ));
    }
    let Some(root) = v.as_object() else {
        return Err(single(
            DOCUMENT_PATH,
            render_value(&v),
            format!(
                "must be a mapping: an {kind} manifest with apiVersion, kind, metadata and spec"
            ),
        ));
    };
    let mut errs = ValidationErrors::default();
    check_type_meta(root, kind, &mut errs);
    check_keys(root, ROOT_FIELDS, "", &mut errs);
    if let Some(Value::Object(metadata)) = root.get("metadata") {
        check_keys(metadata, OBJECT_META_FIELDS, "metadata", &mut errs);
        if metadata.get("name").is_none_or(Value::is_null) {
            errs.add("metadata.name", "", format!("required: {}", K::NAME_HINT));
        }
    }
    if let Some(spec) = root.get("spec") {
        K::check_spec(spec, &mut errs);
    }
    match serde_path_to_error::deserialize::<_, K>(&v) {
        Ok(object) => errs.into_result().map(|()| object),
        Err(e) => {
            let error = convert(&e, &v);
            if !errs.iter().any(|known| known.path == error.path) {
                errs.push(error);
            }
            Err(errs)
        }
    }
}

fn single(
    path: impl Into<String>,
    value: impl std::fmt::Display,
    message: impl Into<String>,
) -> ValidationErrors {
    ValidationErrors(vec![FieldError::new(path, value, message)])
}

/// Whether `v` nests deeper than `max` (iterative, so the check itself cannot overflow).
fn depth_exceeds(v: &Value, max: usize) -> bool {
    let mut stack = vec![(v, 0usize)];
    while let Some((value, depth)) = stack.pop() {
        if depth > max {
            return true;
        }
        match value {
            Value::Array(items) => stack.extend(items.iter().map(|i| (i, depth + 1))),
            Value::Object(map) => stack.extend(map.values().map(|i| (i, depth + 1))),
            _ => {}
        }
    }
    false
}

fn check_type_meta(root: &Map<String, Value>, kind: &str, errs: &mut ValidationErrors) {
    for (field, expected) in [("apiVersion", API_VERSION), ("kind", kind)] {
        match root.get(field) {
            None => errs.add(field, "", format!("required: must be {expected}")),
            Some(Value::String(s)) if s == expected => {}
            Some(Value::String(s)) if s.eq_ignore_ascii_case(expected) => errs.add(
                field,
                s,
                format!("must be exactly {expected} (the value is case-sensitive)"),
            ),
            Some(other) => errs.add(field, render_value(other), format!("must be {expected}")),
        }
    }
}

/// Report every key of `object` not in `allowed`; `base` is the object's path.
fn check_keys(
    object: &Map<String, Value>,
    allowed: &[&str],
    base: &str,
    errs: &mut ValidationErrors,
) {
    for (key, value) in object {
        if !allowed.contains(&key.as_str()) {
            errs.add(
                key_path(base, key),
                render_value(value),
                format!("unknown field; allowed fields are {}", allowed.join(", ")),
            );
        }
    }
}

/// k8s-openapi's NetworkPolicy types ignore unknown fields; the API server (strict field
/// validation) would reject them, and a misspelt `namespaceSelectr` silently widening a peer
/// is exactly the mistake a security posture must not swallow.
fn check_network_policy_rules(spec: &Value, errs: &mut ValidationErrors) {
    let lists = [
        (
            spec.pointer("/network/ingressRules"),
            "spec.network.ingressRules",
            INGRESS_RULE_FIELDS,
            "from",
        ),
        (
            spec.pointer("/network/egressRules"),
            "spec.network.egressRules",
            EGRESS_RULE_FIELDS,
            "to",
        ),
        (
            spec.pointer("/backup/egressRules"),
            "spec.backup.egressRules",
            EGRESS_RULE_FIELDS,
            "to",
        ),
    ];
    for (list, base, rule_fields, peers_key) in lists {
        let Some(Value::Array(rules)) = list else {
            continue;
        };
        for (i, rule) in rules.iter().enumerate() {
            let Value::Object(rule) = rule else { continue };
            let rule_path = format!("{base}[{i}]");
            check_keys(rule, rule_fields, &rule_path, errs);
            if let Some(Value::Array(peers)) = rule.get(peers_key) {
                for (j, peer) in peers.iter().enumerate() {
                    let Value::Object(peer) = peer else { continue };
                    let peer_path = format!("{rule_path}.{peers_key}[{j}]");
                    check_keys(peer, PEER_FIELDS, &peer_path, errs);
                    if let Some(Value::Object(block)) = peer.get("ipBlock") {
                        check_keys(
                            block,
                            IP_BLOCK_FIELDS,
                            &format!("{peer_path}.ipBlock"),
                            errs,
                        );
                    }
                    for selector in ["namespaceSelector", "podSelector"] {
                        if let Some(Value::Object(sel)) = peer.get(selector) {
                            check_selector(sel, &format!("{peer_path}.{selector}"), errs);
                        }
                    }
                }
            }
            if let Some(Value::Array(ports)) = rule.get("ports") {
                for (j, port) in ports.iter().enumerate() {
                    if let Value::Object(port) = port {
                        check_keys(port, PORT_FIELDS, &format!("{rule_path}.ports[{j}]"), errs);
                    }
                }
            }
        }
    }
}

/// k8s-openapi's ResourceQuotaSpec and LimitRangeSpec ignore unknown fields; a misspelt `hrad`
/// would silently leave a namespace without its quota.
fn check_tenant_spec(spec: &Value, errs: &mut ValidationErrors) {
    if let Some(Value::Object(quota)) = spec.get("quota") {
        check_keys(quota, QUOTA_FIELDS, "spec.quota", errs);
        if let Some(Value::Object(selector)) = quota.get("scopeSelector") {
            let path = "spec.quota.scopeSelector";
            check_keys(selector, SCOPE_SELECTOR_FIELDS, path, errs);
            if let Some(Value::Array(requirements)) = selector.get("matchExpressions") {
                for (i, req) in requirements.iter().enumerate() {
                    if let Value::Object(req) = req {
                        check_keys(
                            req,
                            SCOPED_REQUIREMENT_FIELDS,
                            &format!("{path}.matchExpressions[{i}]"),
                            errs,
                        );
                    }
                }
            }
        }
    }
    if let Some(Value::Object(limit_range)) = spec.get("limitRange") {
        check_keys(limit_range, LIMIT_RANGE_FIELDS, "spec.limitRange", errs);
        if let Some(Value::Array(limits)) = limit_range.get("limits") {
            for (i, item) in limits.iter().enumerate() {
                if let Value::Object(item) = item {
                    check_keys(
                        item,
                        LIMIT_ITEM_FIELDS,
                        &format!("spec.limitRange.limits[{i}]"),
                        errs,
                    );
                }
            }
        }
    }
}

fn check_selector(selector: &Map<String, Value>, path: &str, errs: &mut ValidationErrors) {
    check_keys(selector, LABEL_SELECTOR_FIELDS, path, errs);
    if let Some(Value::Array(requirements)) = selector.get("matchExpressions") {
        for (i, req) in requirements.iter().enumerate() {
            if let Value::Object(req) = req {
                check_keys(
                    req,
                    REQUIREMENT_FIELDS,
                    &format!("{path}.matchExpressions[{i}]"),
                    errs,
                );
            }
        }
    }
}

/// One step of a path into a JSON document.
enum Step {
    Key(String),
    Index(usize),
}

fn segments(path: &serde_path_to_error::Path) -> Vec<Step> {
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(Step::Index(*index)),
            Segment::Map { key } => Some(Step::Key(key.clone())),
            Segment::Enum { variant } => Some(Step::Key(variant.clone())),
            Segment::Unknown => None,
        })
        .collect()
}

fn render_path(steps: &[Step]) -> String {
    let mut path = String::new();
    for step in steps {
        match step {
            Step::Key(key) => path = key_path(&path, key),
            Step::Index(index) => path.push_str(&format!("[{index}]")),
        }
    }
    path
}

fn lookup<'a>(root: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    steps.iter().try_fold(root, |value, step| match step {
        Step::Key(key) => value.get(key.as_str()),
        Step::Index(index) => value.get(*index),
    })
}

/// A string as written, anything else as compact JSON; long values are cut.
fn render_value(v: &Value) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > MAX_VALUE_LEN {
        let cut: String = text.chars().take(MAX_VALUE_LEN).collect();
        format!("{cut}...")
    } else {
        text
    }
}

/// The text between the first pair of backticks in `s`.
fn backticked(s: &str) -> Option<&str> {
    let start = s.find('`')? + 1;
    let len = s[start..].find('`')?;
    Some(&s[start..start + len])
}

/// Serde's "expected one of `a`, `b`" list as "a, b".
fn expected_list(message: &str) -> String {
    let tail = message
        .split_once(", expected ")
        .map_or("", |(_, tail)| tail);
    let tail = tail.strip_prefix("one of ").unwrap_or(tail);
    tail.replace('`', "").replace(" or ", ", ")
}

/// Serde's name of an expected type, in the words of a manifest's author.
fn friendly_type(expected: &str) -> String {
    match expected {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "a 32-bit integer" => {
            "an integer".to_string()
        }
        "IntOrString" => "a port number or a named port".to_string(),
        "a sequence" => "a list".to_string(),
        "a map" => "a mapping".to_string(),
        "a boolean" | "a string" => expected.to_string(),
        other
            if other.starts_with("struct ")
                || other.chars().next().is_some_and(char::is_uppercase) =>
        {
            "a mapping".to_string()
        }
        other => other.to_string(),
    }
}

fn convert(e: &serde_path_to_error::Error<serde_json::Error>, root: &Value) -> FieldError {
    let mut steps = segments(e.path());
    let raw = e.inner().to_string();
    let message = if let Some(field) = raw.strip_prefix("missing field ").and_then(backticked) {
        steps.push(Step::Key(field.to_string()));
        "required field is missing".to_string()
    } else if raw.starts_with("unknown field ") {
        let allowed = expected_list(&raw);
        if allowed.is_empty() {
            "unknown field; this object has no fields".to_string()
        } else {
            format!("unknown field; allowed fields are {allowed}")
        }
    } else if raw.starts_with("unknown variant ") {
        format!(
            "must be one of {} (values are case-sensitive)",
            expected_list(&raw)
        )
    } else if let Some(rest) = raw.strip_prefix("invalid type: ") {
        match rest.rsplit_once(", expected ") {
            Some((found, expected)) => format!(
                "wrong type: expected {}, found {found}",
                friendly_type(expected)
            ),
            None => format!("wrong type: {rest}"),
        }
    } else if let Some(rest) = raw.strip_prefix("invalid value: ") {
        match rest.rsplit_once(", expected ") {
            Some((_, expected)) => format!("out of range: expected {expected}"),
            None => format!("invalid value: {rest}"),
        }
    } else {
        raw
    };
    let path = render_path(&steps);
    let path = if path.is_empty() {
        DOCUMENT_PATH.to_string()
    } else {
        path
    };
    let value = lookup(root, &steps).map(render_value).unwrap_or_default();
    FieldError::new(path, value, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_lists_drop_backticks_and_or() {
        assert_eq!(
            expected_list("unknown variant `X`, expected `OperatorManaged` or `External`"),
            "OperatorManaged, External"
        );
        assert_eq!(
            expected_list("unknown field `x`, expected one of `a`, `b`"),
            "a, b"
        );
    }

    #[test]
    fn paths_quote_map_keys_with_dots() {
        let steps = vec![
            Step::Key("spec".into()),
            Step::Key("service".into()),
            Step::Key("annotations".into()),
            Step::Key("a.b/c".into()),
        ];
        assert_eq!(render_path(&steps), "spec.service.annotations[\"a.b/c\"]");
        let steps = vec![Step::Key("a".into()), Step::Index(2), Step::Key("b".into())];
        assert_eq!(render_path(&steps), "a[2].b");
    }

    #[test]
    fn depth_is_measured_without_recursion() {
        let mut v = Value::Null;
        for _ in 0..1_000 {
            v = Value::Array(vec![v]);
        }
        assert!(depth_exceeds(&v, MAX_DEPTH));
        assert!(cluster_from_value(v).is_err());
    }
}
