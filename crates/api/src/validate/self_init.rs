//! `spec.selfInit`: the requests OpenBao runs on its first start. Each request names a unique
//! block, a relative API path and one payload that fits the path; nothing may touch the
//! operator's own identity (its auth mount, role and policy), which the operator adds before
//! the user's requests.

use std::collections::BTreeSet;

use super::ValidationErrors;
use super::audit::{AUDIT_FILE_STORAGE_MOUNT, check_file_path, validate_device_options};
use super::checks::{check_subdomain, json_of};
use crate::spec::{OpenBaoClusterSpec, SelfInit, SelfInitRequest};

/// The operator's JWT auth mount: the user's requests may not enable, configure or remove it.
pub const OPERATOR_AUTH_MOUNT: &str = "jwt-operator";
/// The operator's policy: the user's requests may not write it.
pub const OPERATOR_POLICY: &str = "openbao-operator";
/// Every policy the operator writes (its own, the backup and the restore Jobs').
pub const OPERATOR_POLICIES: [&str; 3] = [
    OPERATOR_POLICY,
    "openbao-operator-backup",
    "openbao-operator-restore",
];
/// The audience of the operator's tokens.
pub const OPERATOR_AUDIENCE: &str = "openbao-internal";

pub(super) fn validate_self_init(spec: &OpenBaoClusterSpec, errs: &mut ValidationErrors) {
    let Some(self_init) = spec.self_init.as_deref() else {
        return;
    };
    validate_oidc(self_init, errs);
    let mount = spec.audit_file_storage.as_ref().map(|s| {
        s.mount_path
            .clone()
            .unwrap_or_else(|| AUDIT_FILE_STORAGE_MOUNT.to_string())
    });
    let mut names = BTreeSet::new();
    for (i, request) in self_init.requests.iter().enumerate() {
        let p = format!("spec.selfInit.requests[{i}]");
        if !names.insert(request.name.as_str()) {
            errs.add(
                format!("{p}.name"),
                &request.name,
                "duplicate: each request needs its own name",
            );
        }
        validate_request(&p, request, mount.as_deref(), errs);
    }
}

fn validate_oidc(self_init: &SelfInit, errs: &mut ValidationErrors) {
    let Some(oidc) = &self_init.oidc else {
        return;
    };
    if let Some(issuer) = &oidc.issuer {
        errs.add(
            "spec.selfInit.oidc.issuer",
            issuer,
            "not supported: the operator trusts the issuer and signing keys of the service-account \
             tokens it is given, read from the API server; leave it unset",
        );
    }
    if let Some(audience) = oidc.audience.as_ref().filter(|a| *a != OPERATOR_AUDIENCE) {
        errs.add(
            "spec.selfInit.oidc.audience",
            audience,
            format!(
                "not supported: the operator requests its tokens for the audience {OPERATOR_AUDIENCE} \
                 (leave it unset or set it to that)"
            ),
        );
    }
    if let Some(approver) = &oidc.policy_approver_ref {
        errs.add(
            "spec.selfInit.oidc.policyApproverRef",
            format!("{}/{}", approver.namespace, approver.name),
            format!(
                "{}: policy approval is not built; the operator's policy is fixed and listed in \
                 docs/security.md",
                super::NOT_SUPPORTED_YET
            ),
        );
    }
    if let Some(subjects) = &oidc.additional_subjects {
        errs.add(
            "spec.selfInit.oidc.additionalSubjects",
            json_of(subjects),
            format!(
                "{}: extra subjects come with the backup and restore work",
                super::NOT_SUPPORTED_YET
            ),
        );
    }
}

fn validate_request(
    p: &str,
    request: &SelfInitRequest,
    mount: Option<&str>,
    errs: &mut ValidationErrors,
) {
    let path = request.path.as_str();
    let clean = !path.is_empty()
        && !path.starts_with('/')
        && !path.starts_with("v1/")
        && path.split('/').all(|s| s != ".." && s != ".")
        && path.bytes().all(|b| b.is_ascii_graphic());
    if !clean {
        errs.add(
            format!("{p}.path"),
            path,
            "must be an API path relative to /v1/ without '.', '..' or spaces, such as \
             sys/auth/userpass",
        );
    }
    let touches = |prefix: &str| {
        path.trim_end_matches('/') == prefix || path.starts_with(&format!("{prefix}/"))
    };
    if touches(&format!("sys/auth/{OPERATOR_AUTH_MOUNT}"))
        || touches(&format!("auth/{OPERATOR_AUTH_MOUNT}"))
        || OPERATOR_POLICIES.iter().any(|policy| {
            touches(&format!("sys/policies/acl/{policy}"))
                || touches(&format!("sys/policy/{policy}"))
        })
    {
        errs.add(
            format!("{p}.path"),
            path,
            format!(
                "reserved: auth/{OPERATOR_AUTH_MOUNT} and the policies {} are the operator's own \
                 identity and its Jobs', which it creates before these requests",
                OPERATOR_POLICIES.join(", ")
            ),
        );
    }
    let payloads = [
        (
            "auditDevice",
            request.audit_device.is_some(),
            Some("sys/audit/"),
        ),
        (
            "authMethod",
            request.auth_method.is_some(),
            Some("sys/auth/"),
        ),
        (
            "secretEngine",
            request.secret_engine.is_some(),
            Some("sys/mounts/"),
        ),
        ("policy", request.policy.is_some(), Some("sys/policies/")),
        ("data", request.data.is_some(), None),
    ];
    let set: Vec<&str> = payloads
        .iter()
        .filter(|(_, set, _)| *set)
        .map(|(name, _, _)| *name)
        .collect();
    if set.len() > 1 {
        errs.add(
            p,
            set.join(", "),
            "at most one payload: auditDevice, authMethod, secretEngine, policy or data",
        );
    }
    for (name, is_set, prefix) in payloads {
        if let (true, Some(prefix)) = (is_set, prefix)
            && !path.starts_with(prefix)
        {
            errs.add(
                format!("{p}.{name}"),
                "set",
                format!("only allowed when path starts with {prefix} (path is {path})"),
            );
        }
    }
    if let Some(data) = request.data.as_ref().filter(|d| !d.is_object()) {
        errs.add(
            format!("{p}.data"),
            json_of(data),
            "must be an object: the request's JSON body",
        );
    }
    // A file device written as raw data writes where a typed one may: the same rule.
    if path.starts_with("sys/audit/")
        && let Some(data) = request.data.as_ref().and_then(|d| d.as_object())
        && data.get("type").and_then(|t| t.as_str()) == Some("file")
        && let Some(file) = data
            .get("options")
            .and_then(|o| o.get("file_path"))
            .and_then(|f| f.as_str())
    {
        check_file_path(errs, &format!("{p}.data.options.file_path"), file, mount);
    }
    if let Some(device) = &request.audit_device {
        let device_path = path.strip_prefix("sys/audit/").unwrap_or(path);
        validate_device_options(
            &format!("{p}.auditDevice"),
            &device.at_path(device_path),
            mount,
            errs,
        );
    }
    for (field, source) in &request.data_from {
        let fp = format!("{p}.dataFrom.{field}");
        let valid_field = !field.is_empty()
            && field.len() <= 128
            && field
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid_field {
            errs.add(
                format!("{p}.dataFrom"),
                field,
                "must name a top-level field of the request body: letters, digits, '_' and '-'",
            );
        }
        if request
            .data
            .as_ref()
            .and_then(|d| d.as_object())
            .is_some_and(|d| d.contains_key(field))
        {
            errs.add(
                fp.clone(),
                field,
                "also set in data: give each field one value",
            );
        }
        check_subdomain(errs, &format!("{fp}.name"), &source.name, "a Secret name");
        let valid_key = !source.key.is_empty()
            && source.key.len() <= 253
            && source
                .key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
            && source.key != "."
            && source.key != "..";
        if !valid_key {
            errs.add(
                format!("{fp}.key"),
                &source.key,
                "must be a Secret key: letters, digits, '-', '_' and '.'",
            );
        }
    }
    if let Some(headers) = &request.headers {
        errs.add(
            format!("{p}.headers"),
            json_of(headers),
            "not supported: OpenBao 2.7's initialize requests carry no headers",
        );
    }
    if let Some(when) = &request.when {
        errs.add(
            format!("{p}.when"),
            json_of(when),
            "not supported: OpenBao 2.7's initialize requests have no condition; leave the \
             request out instead",
        );
    }
}

/// `spec.selfInit.enabled` decides how OpenBao is initialized (and whether a root token exists):
/// it cannot change once the cluster exists.
pub(super) fn validate_self_init_update(
    old: &crate::spec::OpenBaoCluster,
    new: &crate::spec::OpenBaoCluster,
    errs: &mut ValidationErrors,
) {
    let enabled =
        |c: &crate::spec::OpenBaoCluster| c.spec.self_init.as_ref().is_some_and(|s| s.enabled);
    if enabled(old) != enabled(new) {
        errs.add(
            "spec.selfInit.enabled",
            enabled(new).to_string(),
            format!(
                "is immutable (it was {}): it decides how OpenBao initializes and whether a root \
                 token exists; create a new cluster (and restore a snapshot into it) instead",
                enabled(old)
            ),
        );
    }
}

/// Whether the requests enable an auth method a person can log in with (anything under
/// `sys/auth/` but the operator's own): without one nobody but the operator can log in.
pub fn enables_user_auth(self_init: &SelfInit) -> bool {
    self_init.requests.iter().any(|r| {
        r.path.starts_with("sys/auth/")
            && !r
                .path
                .starts_with(&format!("sys/auth/{OPERATOR_AUTH_MOUNT}"))
            && r.operation != crate::spec::SelfInitOperation::Delete
    })
}
