//! `validate`: the Gateway (only when enabled), the client Service's annotations, and backups
//! (schedule, target, retention).

mod common;

use common::*;
use serde_json::json;

#[test]
fn an_enabled_gateway_requires_a_gateway_ref_name() {
    assert_invalid_at("spec.gateway.gatewayRef.name", |v| {
        remove(v, "/spec/gateway/gatewayRef")
    });
    assert_invalid_at("spec.gateway.gatewayRef.name", |v| {
        set(v, "/spec/gateway/gatewayRef/name", json!(""))
    });
    assert_invalid_at("spec.gateway.gatewayRef.name", |v| {
        set(v, "/spec/gateway/gatewayRef/name", json!("Public"))
    });
}

#[test]
fn a_disabled_gateway_is_not_checked() {
    assert_valid_with(|v| {
        set(v, "/spec/gateway/enabled", json!(false));
        remove(v, "/spec/gateway/gatewayRef");
        set(v, "/spec/gateway/hostname", json!("not a host"));
    });
}

#[test]
fn the_gateway_namespace_must_be_a_dns_1123_label() {
    assert_invalid_at("spec.gateway.gatewayRef.namespace", |v| {
        set(
            v,
            "/spec/gateway/gatewayRef/namespace",
            json!("gateway.system"),
        )
    });
}

#[test]
fn the_gateway_hostname_is_required_and_a_dns_name_without_ip_or_port() {
    assert_invalid_at("spec.gateway.hostname", |v| {
        remove(v, "/spec/gateway/hostname")
    });
    for bad in [
        "10.0.0.1",
        "bao.example.com:8443",
        "fd00::1",
        "Bao.Example.com",
        "bao_example.com",
        "*",
    ] {
        assert_invalid_at("spec.gateway.hostname", |v| {
            set(v, "/spec/gateway/hostname", json!(bad))
        });
    }
    assert_valid_with(|v| set(v, "/spec/gateway/hostname", json!("*.example.com")));
}

#[test]
fn the_gateway_path_starts_with_a_slash_and_has_no_whitespace() {
    for bad in ["bao", "/b ao", "/bao?x=1"] {
        assert_invalid_at("spec.gateway.path", |v| {
            set(v, "/spec/gateway/path", json!(bad))
        });
    }
}

#[test]
fn the_gateway_listener_name_must_be_a_dns_subdomain() {
    assert_invalid_at("spec.gateway.listenerName", |v| {
        set(v, "/spec/gateway/listenerName", json!("HTTPS"))
    });
}

#[test]
fn service_annotation_keys_must_be_qualified_names() {
    assert_invalid_at("spec.service.annotations[\"bad key\"]", |v| {
        set(v, "/spec/service/annotations", json!({"bad key": "x"}))
    });
    assert_invalid_at("spec.service.annotations[\"a/b/c\"]", |v| {
        set(v, "/spec/service/annotations", json!({"a/b/c": "x"}))
    });
}

#[test]
fn the_backup_schedule_must_be_a_five_field_cron_expression() {
    for bad in [
        "* * * *",
        "0 0 * * * *",
        "60 * * * *",
        "0 24 * * *",
        "0 0 0 * *",
        "0 0 * 13 *",
        "0 0 * * 8",
        "@every 1h",
        "*/0 * * * *",
    ] {
        assert_invalid_at("spec.backup.schedule", |v| {
            set(v, "/spec/backup/schedule", json!(bad))
        });
    }
    for ok in [
        "@daily",
        "15 3 * * MON-FRI",
        "0 0 1 JAN,JUL *",
        "*/15 * * * *",
        "0 0 * * 7",
    ] {
        assert_valid_with(|v| set(v, "/spec/backup/schedule", json!(ok)));
    }
}

#[test]
fn backups_may_not_be_scheduled_less_than_fifteen_minutes_apart() {
    // The last one: 23:59 and the next day's 00:00 are one minute apart.
    for frequent in [
        "* * * * *",
        "*/5 * * * *",
        "0,10 3 * * *",
        "0,50 * * * *",
        "0,59 0,23 * * *",
    ] {
        let errors = errors_with(|v| set(v, "/spec/backup/schedule", json!(frequent)));
        assert!(
            message_at(&errors, "spec.backup.schedule").contains("at most every 15 minutes"),
            "{frequent}: {errors}"
        );
    }
    for spaced in [
        "*/15 * * * *",
        "0,15,30,45 * * * *",
        "0 * * * *",
        "0 0,12 * * *",
    ] {
        assert_valid_with(|v| set(v, "/spec/backup/schedule", json!(spaced)));
    }
}

#[test]
fn the_bucket_is_required_and_an_s3_target_needs_its_endpoint() {
    assert_invalid_at("spec.backup.target.bucket", |v| {
        set(v, "/spec/backup/target/bucket", json!(""))
    });
    assert_invalid_at("spec.backup.target.endpoint", |v| {
        remove(v, "/spec/backup/target/endpoint")
    });
    // A gcs target needs no endpoint; it is refused only because it is not built.
    let errors = errors_with(|v| {
        set(
            v,
            "/spec/backup/target",
            json!({"provider": "gcs", "bucket": "openbao-snapshots"}),
        )
    });
    assert_eq!(
        errors.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(),
        ["spec.backup.target.provider"],
        "{errors}"
    );
}

#[test]
fn skipping_the_object_stores_certificate_verification_is_refused() {
    assert_invalid_at("spec.backup.target.insecureSkipVerify", |v| {
        set(v, "/spec/backup/target/insecureSkipVerify", json!(true))
    });
}

#[test]
fn s3_bucket_names_follow_s3_rules() {
    for bad in [
        "ab",
        "Snapshots",
        "snap_shots",
        "snap..shots",
        "192.168.1.1",
        "-snapshots",
    ] {
        assert_invalid_at("spec.backup.target.bucket", |v| {
            set(v, "/spec/backup/target/bucket", json!(bad))
        });
    }
}

#[test]
fn gcs_and_azure_targets_are_refused_as_not_built_yet_and_their_bucket_names_follow_their_own_rules()
 {
    let gcs = errors_with(|v| {
        set(v, "/spec/backup/target/provider", json!("gcs"));
        set(v, "/spec/backup/target/bucket", json!("snap_shots"));
    });
    assert!(
        message_at(&gcs, "spec.backup.target.provider").starts_with("not supported yet"),
        "{gcs}"
    );
    assert!(
        !gcs.iter().any(|e| e.path == "spec.backup.target.bucket"),
        "snap_shots is a valid GCS bucket name: {gcs}"
    );
    assert_invalid_at("spec.backup.target.bucket", |v| {
        set(v, "/spec/backup/target/provider", json!("azure"));
        set(v, "/spec/backup/target/bucket", json!("snap--shots"));
    });
}

#[test]
fn the_backup_endpoint_must_be_an_http_url() {
    assert_invalid_at("spec.backup.target.endpoint", |v| {
        set(v, "/spec/backup/target/endpoint", json!("s3.amazonaws.com"))
    });
}

#[test]
fn the_backup_credentials_secret_name_must_be_a_dns_subdomain() {
    assert_invalid_at("spec.backup.target.credentialsSecretRef.name", |v| {
        set(
            v,
            "/spec/backup/target/credentialsSecretRef/name",
            json!("S3 creds"),
        )
    });
}

#[test]
fn retention_bounds_count_and_age() {
    assert_valid_with(|v| set(v, "/spec/backup/retention/maxCount", json!(0)));
    for bad in [-1, 10001] {
        assert_invalid_at("spec.backup.retention.maxCount", |v| {
            set(v, "/spec/backup/retention/maxCount", json!(bad))
        });
    }
    for bad in ["30m", "7d", ""] {
        assert_invalid_at("spec.backup.retention.maxAge", |v| {
            set(v, "/spec/backup/retention/maxAge", json!(bad))
        });
    }
}

#[test]
fn a_gateway_in_the_clusters_own_namespace_must_select_its_pods() {
    // The fixture's gateway lives in gateway-system; move it to the cluster's namespace.
    assert_invalid_at("spec.gateway.podSelector", |v| {
        remove(v, "/spec/gateway/gatewayRef/namespace")
    });
    assert_invalid_at("spec.gateway.podSelector", |v| {
        let ns = v["metadata"]["namespace"].clone();
        set(v, "/spec/gateway/gatewayRef/namespace", ns)
    });
    assert_invalid_at("spec.gateway.podSelector", |v| {
        remove(v, "/spec/gateway/gatewayRef/namespace");
        set(v, "/spec/gateway/podSelector", json!({}));
    });
    assert_valid_with(|v| {
        remove(v, "/spec/gateway/gatewayRef/namespace");
        set(
            v,
            "/spec/gateway/podSelector",
            json!({"matchLabels": {"app": "gateway"}}),
        );
    });
}

#[test]
fn a_backup_endpoint_follows_the_restore_endpoint_rules() {
    for bad in [
        "http://s3.example.com",
        "http://10.0.0.7:9000",
        "https://127.0.0.1:9000",
        "https://169.254.169.254",
        "https://localhost:9000",
    ] {
        assert_invalid_at("spec.backup.target.endpoint", |v| {
            set(v, "/spec/backup/target/endpoint", json!(bad))
        });
    }
    for good in [
        "http://minio.storage.svc:9000",
        "http://minio.storage.svc.cluster.local:9000",
        "https://10.0.0.7:9000",
    ] {
        assert_valid_with(|v| set(v, "/spec/backup/target/endpoint", json!(good)));
    }
}
