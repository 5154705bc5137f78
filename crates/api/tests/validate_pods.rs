//! `validate`: the pods' pull secrets, ServiceAccount and extra metadata. The operator's own
//! label and annotation keys are never the user's, and only the operator's ServiceAccount runs
//! the pods.

mod common;

use common::*;
use serde_json::json;

#[test]
fn the_pod_settings_upstream_defines_are_accepted() {
    assert_valid_with(|v| {
        set(v, "/spec/imagePullSecrets", json!([{"name": "regcred"}]));
        set(
            v,
            "/spec/resources",
            json!({"requests": {"cpu": "250m", "memory": "256Mi"}}),
        );
        set(
            v,
            "/spec/securityContext",
            json!({"runAsUser": 2000, "fsGroup": 2000}),
        );
        set(
            v,
            "/spec/serviceAccount",
            json!({"name": "bao", "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/bao"}}),
        );
        set(
            v,
            "/spec/podMetadata",
            json!({"labels": {"team": "vault", "example.com/tier": "core"},
                   "annotations": {"example.com/owner": "platform"}}),
        );
        set(v, "/spec/maintenance", json!({"enabled": true}));
        set(
            v,
            "/spec/runtime",
            json!({"restartAt": "2026-08-01T12:00:00Z"}),
        );
    });
}

#[test]
fn image_pull_secret_names_are_dns_subdomains() {
    for bad in ["", "Reg Cred", "-regcred"] {
        assert_invalid_at("spec.imagePullSecrets[1].name", |v| {
            set(
                v,
                "/spec/imagePullSecrets",
                json!([{"name": "ok"}, {"name": bad}]),
            )
        });
    }
}

#[test]
fn a_service_account_other_than_the_clusters_own_is_not_supported_yet() {
    let errors = errors_with(|v| set(v, "/spec/serviceAccount/name", json!("bao-serviceaccount")));
    let message = message_at(&errors, "spec.serviceAccount.name");
    assert!(message.starts_with("not supported yet"), "{message}");
    assert!(message.contains("\"bao\""), "{message}");
}

#[test]
fn service_account_annotation_keys_are_qualified_names_outside_the_operators_prefixes() {
    assert_invalid_at("spec.serviceAccount.annotations[\"bad key\"]", |v| {
        set(
            v,
            "/spec/serviceAccount/annotations",
            json!({"bad key": "x"}),
        )
    });
    assert_invalid_at(
        "spec.serviceAccount.annotations[\"openbao.org/applied-hash\"]",
        |v| {
            set(
                v,
                "/spec/serviceAccount/annotations",
                json!({"openbao.org/applied-hash": "x"}),
            )
        },
    );
}

#[test]
fn pod_label_and_annotation_keys_must_be_qualified_names() {
    assert_invalid_at("spec.podMetadata.labels[\"a/b/c\"]", |v| {
        set(v, "/spec/podMetadata/labels", json!({"a/b/c": "x"}))
    });
    assert_invalid_at("spec.podMetadata.annotations[\"Example.com/x\"]", |v| {
        set(
            v,
            "/spec/podMetadata/annotations",
            json!({"Example.com/x": "y"}),
        )
    });
}

#[test]
fn pod_label_values_must_be_label_values() {
    assert_invalid_at("spec.podMetadata.labels.team", |v| {
        set(
            v,
            "/spec/podMetadata/labels",
            json!({"team": "not a label value"}),
        )
    });
}

#[test]
fn pod_metadata_must_not_use_the_operators_prefixes_and_the_message_says_why() {
    for (field, key) in [
        ("labels", "app.kubernetes.io/instance"),
        ("labels", "openbao.org/cluster"),
        ("annotations", "openbao.org/config-hash"),
        ("annotations", "app.kubernetes.io/managed-by"),
    ] {
        let errors =
            errors_with(|v| set(v, &format!("/spec/podMetadata/{field}"), json!({key: "x"})));
        let message = message_at(&errors, &format!("spec.podMetadata.{field}[\"{key}\"]"));
        assert!(message.contains("operator owns"), "{message}");
        assert!(!message.starts_with("not supported yet"), "{message}");
    }
}

#[test]
fn pod_labels_must_not_preempt_service_registration() {
    for key in ["openbao-active", "openbao-sealed", "openbao-initialized"] {
        let errors = errors_with(|v| set(v, "/spec/podMetadata/labels", json!({key: "true"})));
        assert!(
            message_at(&errors, &format!("spec.podMetadata.labels.{key}"))
                .contains("service registration"),
            "{errors}"
        );
    }
}

#[test]
fn annotations_must_total_at_most_256_kib() {
    assert_invalid_at("spec.podMetadata.annotations", |v| {
        set(
            v,
            "/spec/podMetadata/annotations",
            json!({"example.com/big": "x".repeat(256 * 1024)}),
        )
    });
}
