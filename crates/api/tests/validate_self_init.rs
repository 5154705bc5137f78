//! `spec.selfInit`: requests that fit their paths are accepted; each bad request is refused at
//! its own field with what is allowed; the operator's identity cannot be touched.

mod common;

use common::*;
use serde_json::{Value, json};

fn with_requests(requests: Value) -> impl FnOnce(&mut Value) {
    move |v| {
        set(
            v,
            "/spec/selfInit",
            json!({"enabled": true, "requests": requests}),
        )
    }
}

#[test]
fn typed_raw_and_secret_backed_requests_are_accepted() {
    assert_valid_with(with_requests(json!([
        {"name": "people", "operation": "update", "path": "sys/auth/userpass",
         "authMethod": {"type": "userpass", "description": "people", "config": {"default_lease_ttl": "1h"}}},
        {"name": "kv", "operation": "update", "path": "sys/mounts/secret",
         "secretEngine": {"type": "kv", "options": {"version": "2"}}},
        {"name": "admins", "operation": "update", "path": "sys/policies/acl/admins",
         "policy": {"policy": "path \"secret/*\" { capabilities = [\"read\"] }"}},
        {"name": "audit", "operation": "update", "path": "sys/audit/stdout",
         "auditDevice": {"type": "file", "fileOptions": {"filePath": "stdout"}}},
        {"name": "alice", "operation": "update", "path": "auth/userpass/users/alice",
         "data": {"token_policies": ["admins"]},
         "dataFrom": {"password": {"name": "people", "key": "alice"}}, "allowFailure": true},
    ])));
    // upstream's operator bootstrap switches are the operator's own identity: always on.
    assert_valid_with(|v| {
        set(
            v,
            "/spec/selfInit",
            json!({"enabled": true, "bootstrapJWTAuth": true,
                   "oidc": {"enabled": true, "audience": "openbao-internal"},
                   "requests": [{"name": "u", "operation": "update", "path": "sys/auth/userpass", "authMethod": {"type": "userpass"}}]}),
        )
    });
}

#[test]
fn each_bad_request_is_refused_at_its_field() {
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!([{"name": "a", "operation": "update", "path": "sys/auth/a", "authMethod": {"type": "userpass"}},
                   {"name": "a", "operation": "update", "path": "sys/auth/b", "authMethod": {"type": "userpass"}}]),
            "spec.selfInit.requests[1].name",
            "duplicate",
        ),
        (
            json!([{"name": "a", "operation": "update", "path": "/v1/sys/auth/a"}]),
            "spec.selfInit.requests[0].path",
            "relative",
        ),
        (
            json!([{"name": "a", "operation": "update", "path": "sys/../auth/a"}]),
            "spec.selfInit.requests[0].path",
            "'..'",
        ),
        (
            json!([{"name": "a", "operation": "update", "path": "auth/jwt-operator/role/openbao-operator", "data": {"token_policies": ["root"]}}]),
            "spec.selfInit.requests[0].path",
            "reserved",
        ),
        (
            json!([{"name": "a", "operation": "delete", "path": "sys/auth/jwt-operator"}]),
            "spec.selfInit.requests[0].path",
            "reserved",
        ),
        (
            json!([{"name": "a", "operation": "update", "path": "sys/auth/a", "authMethod": {"type": "userpass"}, "data": {"type": "userpass"}}]),
            "spec.selfInit.requests[0]",
            "at most one payload",
        ),
        (
            json!([{"name": "a", "operation": "update", "path": "sys/mounts/kv", "authMethod": {"type": "kv"}}]),
            "spec.selfInit.requests[0].authMethod",
            "sys/auth/",
        ),
        (
            json!([{"name": "a", "operation": "update", "path": "sys/x", "data": ["not", "an", "object"]}]),
            "spec.selfInit.requests[0].data",
            "object",
        ),
        (
            json!([{"name": "a", "operation": "update", "path": "sys/audit/f", "auditDevice": {"type": "file", "fileOptions": {"filePath": "/etc/passwd"}}}]),
            "spec.selfInit.requests[0].auditDevice.fileOptions.filePath",
            "stdout",
        ),
        (
            json!([{"name": "a", "operation": "update", "path": "sys/audit/f", "data": {"type": "file", "options": {"file_path": "/var/log/openbao/audit.log"}}}]),
            "spec.selfInit.requests[0].data.options.file_path",
            "stdout",
        ),
        (
            json!([{"name": "a", "operation": "update", "path": "sys/audit/h", "auditDevice": {"type": "http"}}]),
            "spec.selfInit.requests[0].auditDevice.httpOptions",
            "required",
        ),
        (
            json!([{"name": "a", "operation": "update", "path": "sys/x", "headers": {"X-Test": ["1"]}}]),
            "spec.selfInit.requests[0].headers",
            "no headers",
        ),
        (
            json!([{"name": "a", "operation": "update", "path": "sys/x", "when": true}]),
            "spec.selfInit.requests[0].when",
            "no condition",
        ),
        (
            json!([{"name": "a", "operation": "update", "path": "auth/userpass/users/a",
                    "data": {"password": "inline"}, "dataFrom": {"password": {"name": "s", "key": "k"}}}]),
            "spec.selfInit.requests[0].dataFrom.password",
            "also set in data",
        ),
        (
            json!([{"name": "a", "operation": "update", "path": "auth/userpass/users/a",
                    "dataFrom": {"password": {"name": "Not_A_Name", "key": "k"}}}]),
            "spec.selfInit.requests[0].dataFrom.password.name",
            "Secret name",
        ),
        (
            json!([{"name": "a", "operation": "update", "path": "auth/userpass/users/a",
                    "dataFrom": {"password": {"name": "s", "key": ".."}}}]),
            "spec.selfInit.requests[0].dataFrom.password.key",
            "Secret key",
        ),
    ];
    for (requests, path, says) in cases {
        let errors = errors_with(with_requests(requests.clone()));
        let message = message_at(&errors, path);
        assert!(
            message.contains(says),
            "{requests}: expected {path} to say {says:?}, got {errors}"
        );
    }
}

#[test]
fn self_initialization_cannot_be_switched_on_or_off_after_creation() {
    let off = valid_cluster();
    let on = cluster_with(with_requests(json!([
        {"name": "u", "operation": "update", "path": "sys/auth/userpass", "authMethod": {"type": "userpass"}}
    ])));
    for (old, new) in [(&off, &on), (&on, &off)] {
        let errors = api::validate::validate_update(old, new).expect_err("immutable");
        assert!(
            message_at(&errors, "spec.selfInit.enabled").contains("immutable"),
            "{errors}"
        );
    }
    // Changing the requests is allowed (they ran once; a new cluster would run the new ones).
    let mut changed = on.clone();
    changed
        .spec
        .self_init
        .as_mut()
        .expect("selfInit")
        .requests
        .clear();
    assert!(api::validate::validate_update(&on, &changed).is_ok());
}

#[test]
fn the_operators_trust_settings_cannot_be_overridden() {
    let errors = errors_with(|v| {
        set(
            v,
            "/spec/selfInit",
            json!({"enabled": true, "oidc": {"enabled": true, "issuer": "https://evil.example", "audience": "other"}}),
        )
    });
    assert!(message_at(&errors, "spec.selfInit.oidc.issuer").contains("leave it unset"));
    assert!(message_at(&errors, "spec.selfInit.oidc.audience").contains("openbao-internal"));
}

#[test]
fn a_self_initialized_spec_without_any_auth_method_is_warned_about() {
    let locked = cluster_with(with_requests(json!([
        {"name": "kv", "operation": "update", "path": "sys/mounts/secret", "secretEngine": {"type": "kv"}}
    ])));
    let warnings = api::validate::warnings(&locked);
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("spec.selfInit.requests:") && w.contains("no root token")),
        "{warnings:?}"
    );
    let open = cluster_with(with_requests(json!([
        {"name": "u", "operation": "update", "path": "sys/auth/userpass", "authMethod": {"type": "userpass"}}
    ])));
    assert!(
        !api::validate::warnings(&open)
            .iter()
            .any(|w| w.starts_with("spec.selfInit")),
        "no warning once people can log in"
    );
}
