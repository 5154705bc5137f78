//! `validate`: the full fixture is valid, every error is reported, and the rules for metadata,
//! version, image, replicas, TLS, storage and Raft configuration each name their field.

mod common;

use api::names::MAX_CLUSTER_NAME_LEN;
use common::*;
use serde_json::json;

#[test]
fn the_full_fixture_has_no_errors() {
    let cluster = valid_cluster();
    assert_eq!(api::validate(&cluster), Ok(()));
}

#[test]
fn a_minimal_cluster_has_no_errors() {
    let cluster = api::decode::cluster_from_yaml_str(
        "apiVersion: openbao.org/v1alpha1\nkind: OpenBaoCluster\nmetadata: {name: bao}\nspec: {version: 2.4.1}\n",
    )
    .expect("decodes");
    assert_eq!(api::validate(&cluster), Ok(()));
}

#[test]
fn every_error_is_reported_not_only_the_first() {
    let errors = errors_with(|v| {
        set(v, "/spec/version", json!("v2.4"));
        set(v, "/spec/replicas", json!(12));
        set(v, "/spec/storage/size", json!("0"));
        set(v, "/spec/network/apiServerCIDR", json!("10.96.0.1/33"));
        set(v, "/spec/backup/schedule", json!("61 * * * *"));
    });
    assert_eq!(errors.len(), 5, "{errors}");
    for path in [
        "spec.version",
        "spec.replicas",
        "spec.storage.size",
        "spec.network.apiServerCIDR",
        "spec.backup.schedule",
    ] {
        assert_path(&errors, path);
    }
}

#[test]
fn errors_render_as_path_value_and_what_is_allowed() {
    let errors = errors_with(|v| {
        set(
            v,
            "/spec/network/ingressRules/0/from/1/ipBlock/cidr",
            json!("10.0.0.0/33"),
        )
    });
    let text = errors.iter().map(ToString::to_string).collect::<Vec<_>>();
    assert!(
        text.iter().any(|t| t.starts_with(
            "spec.network.ingressRules[0].from[1].ipBlock.cidr: invalid value \"10.0.0.0/33\": must be a CIDR such as 10.0.0.0/8 or fd00::/8"
        )),
        "{text:?}"
    );
}

#[test]
fn a_cluster_name_longer_than_the_limit_is_rejected_with_the_reason() {
    let long = "b".repeat(MAX_CLUSTER_NAME_LEN + 1);
    let errors = errors_with(|v| set(v, "/metadata/name", json!(long)));
    assert_eq!(errors.len(), 1, "{errors}");
    assert_path(&errors, "metadata.name");
    assert!(errors.0[0].message.contains("derived"), "{errors}");
    assert_valid_with(|v| set(v, "/metadata/name", json!("b".repeat(MAX_CLUSTER_NAME_LEN))));
}

#[test]
fn a_cluster_name_must_be_a_dns_1035_label() {
    for bad in ["1bao", "Bao", "bao-", "bao.prod", "bao_1"] {
        assert_invalid_at("metadata.name", |v| set(v, "/metadata/name", json!(bad)));
    }
}

#[test]
fn a_namespace_must_be_a_dns_1123_label() {
    assert_invalid_at("metadata.namespace", |v| {
        set(v, "/metadata/namespace", json!("Secrets"))
    });
}

#[test]
fn a_missing_name_is_reported_by_validate_too() {
    let mut cluster = valid_cluster();
    cluster.metadata.name = None;
    let errors = api::validate(&cluster).expect_err("invalid");
    assert_path(&errors, "metadata.name");
}

#[test]
fn the_version_must_be_semver_without_a_leading_v() {
    for bad in ["v2.4.1", "2.4", "latest", "2.4.1+ent", ""] {
        assert_invalid_at("spec.version", |v| set(v, "/spec/version", json!(bad)));
    }
    assert_valid_with(|v| set(v, "/spec/version", json!("2.5.0-beta1")));
}

#[test]
fn the_image_must_be_a_plausible_lowercase_reference() {
    for bad in [
        "",
        "quay.io/OpenBao/openbao:2.4.1",
        "openbao :2.4.1",
        "openbao@sha256:123",
        "openbao:",
    ] {
        assert_invalid_at("spec.image", |v| set(v, "/spec/image", json!(bad)));
    }
    assert_valid_with(|v| {
        set(
            v,
            "/spec/image",
            json!(
                "registry.local:5000/mirror/openbao@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
            ),
        )
    });
}

#[test]
fn replicas_must_be_between_one_and_nine() {
    for bad in [0, -1, 10] {
        assert_invalid_at("spec.replicas", |v| set(v, "/spec/replicas", json!(bad)));
    }
    assert_valid_with(|v| set(v, "/spec/replicas", json!(1)));
    assert_valid_with(|v| set(v, "/spec/replicas", json!(9)));
}

#[test]
fn external_tls_reads_upstreams_secret_name_unless_one_is_given() {
    assert_valid_with(|v| set(v, "/spec/tls/mode", json!("External")));
    assert_valid_with(|v| {
        set(v, "/spec/tls/mode", json!("External"));
        set(v, "/spec/tls/externalSecretName", json!("bao-tls"));
    });
}

#[test]
fn tls_cannot_be_disabled_and_acme_mode_needs_its_settings() {
    assert_invalid_at("spec.tls.enabled", |v| {
        set(v, "/spec/tls/enabled", json!(false))
    });
    assert_invalid_at("spec.tls.acme", |v| set(v, "/spec/tls/mode", json!("ACME")));
}

#[test]
fn the_external_secret_name_must_be_a_dns_subdomain() {
    assert_invalid_at("spec.tls.externalSecretName", |v| {
        set(v, "/spec/tls/mode", json!("External"));
        set(v, "/spec/tls/externalSecretName", json!("Bao_TLS"));
    });
}

#[test]
fn extra_sans_must_be_dns_names_or_ip_addresses() {
    for bad in [
        "Bao.Example.com",
        "bao..example.com",
        "a.*.example.com",
        "10.0.0.0/8",
        "bao example",
    ] {
        assert_invalid_at("spec.tls.extraSANs[1]", |v| {
            set(v, "/spec/tls/extraSANs/1", json!(bad))
        });
    }
}

#[test]
fn duplicate_extra_sans_are_rejected_including_equal_ip_spellings() {
    assert_invalid_at("spec.tls.extraSANs[1]", |v| {
        set(v, "/spec/tls/extraSANs/1", json!("bao.example.com"))
    });
    assert_invalid_at("spec.tls.extraSANs[3]", |v| {
        set(v, "/spec/tls/extraSANs/2", json!("fd00:0::10"))
    });
}

#[test]
fn the_rotation_period_must_be_a_go_duration_between_one_hour_and_a_year() {
    for bad in ["30d", "59m", "8761h", "1 h", "-720h", ""] {
        assert_invalid_at("spec.tls.rotationPeriod", |v| {
            set(v, "/spec/tls/rotationPeriod", json!(bad))
        });
    }
    for ok in ["1h", "90m", "1h30m", "8760h"] {
        assert_valid_with(|v| set(v, "/spec/tls/rotationPeriod", json!(ok)));
    }
}

#[test]
fn the_storage_size_must_be_a_quantity_of_at_least_one_mebibyte() {
    for bad in ["10GB", "0", "0Gi", "-1Gi", "512Ki", "1000k", "ten", "10 Gi"] {
        assert_invalid_at("spec.storage.size", |v| {
            set(v, "/spec/storage/size", json!(bad))
        });
    }
    for ok in ["1Mi", "1e9", "1.5Gi", "2G", "1048576"] {
        assert_valid_with(|v| set(v, "/spec/storage/size", json!(ok)));
    }
}

#[test]
fn the_storage_class_must_be_a_dns_subdomain() {
    assert_invalid_at("spec.storage.storageClassName", |v| {
        set(v, "/spec/storage/storageClassName", json!("Fast_SSD"))
    });
}

#[test]
fn the_raft_performance_multiplier_must_be_between_one_and_ten() {
    for bad in [0, 11] {
        assert_invalid_at("spec.configuration.raft.performanceMultiplier", |v| {
            set(
                v,
                "/spec/configuration/raft/performanceMultiplier",
                json!(bad),
            )
        });
    }
    assert_valid_with(|v| {
        set(
            v,
            "/spec/configuration/raft/performanceMultiplier",
            json!(10),
        )
    });
}
