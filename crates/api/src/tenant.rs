//! The `OpenBaoTenant` custom resource (upstream's `openbao.org/v1alpha1` kind): onboards a
//! namespace for OpenBao clusters. Upstream's provisioner grants the operator its Role and
//! RoleBinding in `spec.targetNamespace` and applies the optional ResourceQuota and LimitRange.
//!
//! The provisioning machinery is not built yet: the operator accepts these objects, validates
//! them and sets the condition `NotImplemented` ([`crate::conditions::types::NOT_IMPLEMENTED`]).
//!
//! [`validate_tenant`] checks every field, [`validate_tenant_update`] also refuses a change of
//! `spec.targetNamespace`, and [`validate_tenant_scope`] holds upstream's self-service rule,
//! which needs the operator's namespace.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{LimitRangeSpec, ResourceQuotaSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::validate::{ValidationErrors, key_path, rules};

/// ResourceQuota scopes Kubernetes knows.
const QUOTA_SCOPES: &[&str] = &[
    "Terminating",
    "NotTerminating",
    "BestEffort",
    "NotBestEffort",
    "PriorityClass",
    "CrossNamespacePodAffinity",
    "VolumeAttributesClass",
];
/// Operators of a ResourceQuota scope selector.
const SCOPE_OPERATORS: &[&str] = &["In", "NotIn", "Exists", "DoesNotExist"];
/// LimitRange item types Kubernetes enforces.
const LIMIT_TYPES: &[&str] = &["Container", "Pod", "PersistentVolumeClaim"];

/// Onboard a namespace for OpenBao clusters.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "openbao.org",
    version = "v1alpha1",
    kind = "OpenBaoTenant",
    plural = "openbaotenants",
    singular = "openbaotenant",
    shortname = "obt",
    category = "openbao",
    namespaced,
    status = "OpenBaoTenantStatus",
    derive = "PartialEq",
    doc = "Onboards a namespace for OpenBao clusters: the operator's access to it and an optional ResourceQuota and LimitRange.",
    printcolumn(
        name = "Target Namespace",
        type_ = "string",
        json_path = ".spec.targetNamespace",
        description = "Namespace onboarded"
    ),
    printcolumn(
        name = "Provisioned",
        type_ = "boolean",
        json_path = ".status.provisioned",
        description = "Whether the namespace is provisioned"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OpenBaoTenantSpec {
    /// Namespace to onboard. A tenant outside the operator's namespace may only onboard its own
    /// namespace. Immutable.
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.targetNamespace is immutable; create a new OpenBaoTenant for another namespace"))]
    pub target_namespace: String,

    /// ResourceQuota applied in the target namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<ResourceQuotaSpec>,

    /// LimitRange applied in the target namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_range: Option<LimitRangeSpec>,
}

/// Observed state of a tenant, written only by the operator.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct OpenBaoTenantStatus {
    /// Whether the target namespace is provisioned.
    #[serde(default)]
    pub provisioned: bool,
    /// The last problem with the namespace or its objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// NotImplemented (until provisioning is built) and related conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// Check every semantic rule of `tenant` (metadata and spec). Every error is reported, with its
/// path, the value and what is allowed.
pub fn validate_tenant(tenant: &OpenBaoTenant) -> Result<(), ValidationErrors> {
    let mut errs = ValidationErrors::default();
    match tenant.metadata.name.as_deref() {
        None | Some("") => errs.add(
            "metadata.name",
            "",
            "required: the tenant's name, a DNS-1123 subdomain such as \"team-a\"",
        ),
        Some(name) if !rules::is_dns1123_subdomain(name) => errs.add(
            "metadata.name",
            name,
            "must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', starting and \
             ending with a letter or digit, at most 253 characters",
        ),
        Some(_) => {}
    }
    if let Some(namespace) = tenant.metadata.namespace.as_deref()
        && !namespace.is_empty()
    {
        check_namespace(&mut errs, "metadata.namespace", namespace);
    }
    let spec = &tenant.spec;
    if spec.target_namespace.is_empty() {
        errs.add(
            "spec.targetNamespace",
            "",
            "required: the namespace to onboard, such as \"team-a\"",
        );
    } else {
        check_namespace(&mut errs, "spec.targetNamespace", &spec.target_namespace);
    }
    if let Some(quota) = &spec.quota {
        validate_quota(quota, &mut errs);
    }
    if let Some(limit_range) = &spec.limit_range {
        validate_limit_range(limit_range, &mut errs);
    }
    errs.into_result()
}

/// `validate_tenant(new)` plus immutability: `spec.targetNamespace` cannot change.
pub fn validate_tenant_update(
    old: &OpenBaoTenant,
    new: &OpenBaoTenant,
) -> Result<(), ValidationErrors> {
    let mut errs = validate_tenant(new).err().unwrap_or_default();
    if old.spec.target_namespace != new.spec.target_namespace {
        errs.add(
            "spec.targetNamespace",
            &new.spec.target_namespace,
            format!(
                "is immutable (it was {:?}): create a new OpenBaoTenant for another namespace",
                old.spec.target_namespace
            ),
        );
    }
    errs.into_result()
}

/// Upstream's self-service rule: a tenant outside the operator's namespace
/// (`operator_namespace`) may only onboard its own namespace; one in the operator's namespace
/// may onboard any. A tenant without a namespace is not checked.
pub fn validate_tenant_scope(
    tenant: &OpenBaoTenant,
    operator_namespace: &str,
) -> Result<(), ValidationErrors> {
    let mut errs = ValidationErrors::default();
    let target = &tenant.spec.target_namespace;
    if let Some(own) = tenant.metadata.namespace.as_deref()
        && !own.is_empty()
        && own != operator_namespace
        && target != own
    {
        errs.add(
            "spec.targetNamespace",
            target,
            format!(
                "must be {own:?}, the tenant's own namespace: only a tenant in the operator's \
                 namespace ({operator_namespace:?}) may onboard another namespace"
            ),
        );
    }
    errs.into_result()
}

fn check_namespace(errs: &mut ValidationErrors, path: &str, value: &str) {
    if !rules::is_dns1123_label(value) {
        errs.add(
            path,
            value,
            "must be a namespace name: a DNS-1123 label (lowercase letters, digits and '-', \
             starting and ending with a letter or digit, at most 63 characters)",
        );
    }
}

fn validate_quota(quota: &ResourceQuotaSpec, errs: &mut ValidationErrors) {
    let p = "spec.quota";
    if let Some(hard) = &quota.hard {
        check_quantities(hard, &format!("{p}.hard"), errs);
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, scope) in quota.scopes.iter().flatten().enumerate() {
        let path = format!("{p}.scopes[{i}]");
        if !QUOTA_SCOPES.contains(&scope.as_str()) {
            errs.add(
                &path,
                scope,
                format!("must be one of {}", QUOTA_SCOPES.join(", ")),
            );
        }
        if let Some(first) = seen.insert(scope, i) {
            errs.add(
                path,
                scope,
                format!("duplicate of {p}.scopes[{first}]; list each scope once"),
            );
        }
    }
    let expressions = quota
        .scope_selector
        .as_ref()
        .and_then(|s| s.match_expressions.as_ref());
    for (i, req) in expressions.into_iter().flatten().enumerate() {
        let path = format!("{p}.scopeSelector.matchExpressions[{i}]");
        if !QUOTA_SCOPES.contains(&req.scope_name.as_str()) {
            errs.add(
                format!("{path}.scopeName"),
                &req.scope_name,
                format!("must be one of {}", QUOTA_SCOPES.join(", ")),
            );
        }
        let values = req.values.as_deref().unwrap_or_default();
        match req.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => errs.add(
                format!("{path}.values"),
                "",
                format!(
                    "required when operator is {}: at least one value",
                    req.operator
                ),
            ),
            "Exists" | "DoesNotExist" if !values.is_empty() => errs.add(
                format!("{path}.values"),
                values.join(", "),
                format!("must be empty when operator is {}", req.operator),
            ),
            op if !SCOPE_OPERATORS.contains(&op) => errs.add(
                format!("{path}.operator"),
                op,
                format!(
                    "must be one of {} (values are case-sensitive)",
                    SCOPE_OPERATORS.join(", ")
                ),
            ),
            _ => {}
        }
    }
}

fn validate_limit_range(limit_range: &LimitRangeSpec, errs: &mut ValidationErrors) {
    let p = "spec.limitRange";
    if limit_range.limits.is_empty() {
        errs.add(
            format!("{p}.limits"),
            "[]",
            "required: at least one limit (type Container, Pod or PersistentVolumeClaim)",
        );
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, item) in limit_range.limits.iter().enumerate() {
        let path = format!("{p}.limits[{i}]");
        let kind = item.type_.as_str();
        if !LIMIT_TYPES.contains(&kind) {
            errs.add(
                format!("{path}.type"),
                kind,
                format!(
                    "must be one of {} (values are case-sensitive)",
                    LIMIT_TYPES.join(", ")
                ),
            );
        } else if let Some(first) = seen.insert(kind, i) {
            errs.add(
                format!("{path}.type"),
                kind,
                format!("duplicate of {p}.limits[{first}].type; give one limit per type"),
            );
        }
        let maps = [
            ("default", &item.default),
            ("defaultRequest", &item.default_request),
            ("max", &item.max),
            ("min", &item.min),
            ("maxLimitRequestRatio", &item.max_limit_request_ratio),
        ];
        for (field, map) in maps {
            let Some(map) = map else { continue };
            let field_path = format!("{path}.{field}");
            if kind == "Pod" && matches!(field, "default" | "defaultRequest") && !map.is_empty() {
                errs.add(
                    &field_path,
                    map.keys().cloned().collect::<Vec<_>>().join(", "),
                    "must not be set for type Pod: defaults apply to containers; use type \
                     Container",
                );
            }
            check_quantities(map, &field_path, errs);
        }
    }
}

/// Resource names (qualified names such as cpu, requests.storage or count/deployments.apps)
/// mapped to non-negative quantities.
fn check_quantities(map: &BTreeMap<String, Quantity>, base: &str, errs: &mut ValidationErrors) {
    for (name, quantity) in map {
        let path = key_path(base, name);
        if let Err(why) = rules::check_qualified_name(name) {
            errs.add(
                &path,
                name,
                format!(
                    "the resource name {why}; must be a resource name such as cpu, memory, \
                     requests.storage or count/deployments.apps"
                ),
            );
        }
        match rules::parse_quantity(&quantity.0) {
            Err(why) => errs.add(
                path,
                &quantity.0,
                format!("{why}; must be a Kubernetes quantity such as 500m, 2, 10Gi or 1e9"),
            ),
            Ok(q) if q.negative && !q.zero => errs.add(path, &quantity.0, "must not be negative"),
            Ok(_) => {}
        }
    }
}
