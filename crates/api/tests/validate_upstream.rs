//! Upstream's fields: what is not built yet is refused by name ("not supported yet"), the
//! Hardened profile refuses what upstream's does, and configuration fields are checked.

mod common;

use api::validate::NOT_SUPPORTED_YET;
use common::*;
use serde_json::json;

fn assert_not_yet(path: &str, change: impl FnOnce(&mut serde_json::Value)) {
    let errors = errors_with(change);
    let e = errors
        .iter()
        .find(|e| e.path == path)
        .unwrap_or_else(|| panic!("expected an error at {path}, got {errors}"));
    assert!(
        e.message.starts_with(NOT_SUPPORTED_YET),
        "{path}: expected a not-supported-yet message, got {e}"
    );
}

#[test]
fn each_upstream_feature_not_built_yet_is_refused_by_name() {
    assert_not_yet("spec.readReplicas", |v| {
        set(v, "/spec/readReplicas", json!({"replicas": 2}))
    });
    assert_not_yet("spec.selfInit.oidc.policyApproverRef", |v| {
        set(
            v,
            "/spec/selfInit",
            json!({"enabled": true, "oidc": {"enabled": true, "policyApproverRef": {"namespace": "admins", "name": "approver"}}}),
        )
    });
    assert_not_yet("spec.upgrade.strategy", |v| {
        set(v, "/spec/upgrade", json!({"strategy": "BlueGreen"}))
    });
    assert_not_yet("spec.observability.metrics.enabled", |v| {
        set(
            v,
            "/spec/observability",
            json!({"metrics": {"enabled": true}}),
        )
    });
    assert_not_yet("spec.imageVerification.enabled", |v| {
        set(v, "/spec/imageVerification", json!({"enabled": true}))
    });
}

#[test]
fn autopilot_settings_are_accepted_and_each_bad_value_names_its_field() {
    assert_valid_with(|v| {
        set(
            v,
            "/spec/configuration/raft/autopilot",
            json!({"cleanupDeadServers": true, "deadServerLastContactThreshold": "10m",
                   "minQuorum": 3, "serverStabilizationTime": "30s",
                   "lastContactThreshold": "30s", "maxTrailingLogs": 2000}),
        )
    });
    for (field, value) in [
        ("minQuorum", json!(2)),
        ("maxTrailingLogs", json!(-1)),
        ("deadServerLastContactThreshold", json!("ten minutes")),
        ("serverStabilizationTime", json!("-5s")),
        ("lastContactThreshold", json!("")),
    ] {
        let errors = errors_with(|v| {
            set(
                v,
                "/spec/configuration/raft/autopilot",
                json!({ field: value.clone() }),
            )
        });
        let path = format!("spec.configuration.raft.autopilot.{field}");
        assert!(
            errors.iter().any(|e| e.path == path),
            "expected an error at {path}, got {errors}"
        );
    }
}

#[test]
fn disabled_upstream_features_are_accepted() {
    assert_valid_with(|v| {
        set(v, "/spec/selfInit", json!({"enabled": false}));
        set(v, "/spec/readReplicas", json!({"replicas": 0}));
        set(v, "/spec/upgrade", json!({"strategy": "RollingUpdate"}));
        set(
            v,
            "/spec/workloadHardening",
            json!({"appArmorEnabled": false}),
        );
        set(v, "/spec/controllerJWTMode", json!("Shared"));
        set(v, "/spec/profile", json!("Development"));
    });
}

#[test]
fn the_hardened_profile_refuses_operator_tls_a_static_key_and_no_self_initialization() {
    let errors = errors_with(|v| set(v, "/spec/profile", json!("Hardened")));
    for path in ["spec.tls.mode", "spec.selfInit.enabled"] {
        assert_path(&errors, path);
    }
    let errors = errors_with(|v| {
        set(v, "/spec/profile", json!("Hardened"));
        remove(v, "/spec/unseal");
        set(v, "/spec/replicas", json!(1));
    });
    for path in ["spec.unseal.type", "spec.replicas"] {
        assert_path(&errors, path);
    }
    for e in errors.iter() {
        if e.path == "spec.unseal.type" {
            assert!(e.message.contains("Hardened"), "{e}");
        }
    }
}

#[test]
fn the_hardened_profile_refuses_debugging_endpoints_and_root_ids() {
    let errors = errors_with(|v| {
        set(v, "/spec/profile", json!("Hardened"));
        set(v, "/spec/configuration/rawStorageEndpoint", json!(true));
        set(v, "/spec/securityContext", json!({"runAsUser": 0}));
    });
    assert_path(&errors, "spec.configuration.rawStorageEndpoint");
    assert_path(&errors, "spec.securityContext.runAsUser");
    // The same settings are allowed in Development.
    assert_valid_with(|v| {
        set(v, "/spec/configuration/rawStorageEndpoint", json!(true));
        set(v, "/spec/securityContext", json!({"runAsUser": 0}));
    });
}

#[test]
fn listener_tls_versions_must_be_ordered_and_post_quantum_groups_need_tls13_or_a_classical_group() {
    assert_invalid_at("spec.configuration.listener.tlsMaxVersion", |v| {
        set(
            v,
            "/spec/configuration/listener",
            json!({"tlsMinVersion": "tls13", "tlsMaxVersion": "tls12"}),
        )
    });
    assert_invalid_at(
        "spec.configuration.listener.tlsKeyExchangePreferences",
        |v| {
            set(v, "/spec/version", json!("2.7.2"));
            set(
                v,
                "/spec/configuration/listener",
                json!({"tlsKeyExchangePreferences": ["X25519MLKEM768"]}),
            )
        },
    );
    assert_valid_with(|v| {
        set(v, "/spec/version", json!("2.7.2"));
        set(
            v,
            "/spec/configuration/listener",
            json!({"tlsMinVersion": "tls13", "tlsKeyExchangePreferences": ["X25519MLKEM768"]}),
        )
    });
    assert_invalid_at(
        "spec.configuration.listener.tlsKeyExchangePreferences",
        |v| {
            set(v, "/spec/version", json!("2.6.0"));
            set(
                v,
                "/spec/configuration/listener",
                json!({"tlsKeyExchangePreferences": ["X25519"]}),
            )
        },
    );
    assert_invalid_at("spec.configuration.listener.tlsDisable", |v| {
        set(
            v,
            "/spec/configuration/listener",
            json!({"tlsDisable": true}),
        )
    });
}

#[test]
fn lease_durations_must_parse_and_the_default_must_not_exceed_the_maximum() {
    assert_invalid_at("spec.configuration.defaultLeaseTTL", |v| {
        set(v, "/spec/configuration/defaultLeaseTTL", json!("3 days"))
    });
    assert_invalid_at("spec.configuration.defaultLeaseTTL", |v| {
        set(v, "/spec/configuration/defaultLeaseTTL", json!("800h"));
        set(v, "/spec/configuration/maxLeaseTTL", json!("720h"));
    });
    assert_valid_with(|v| {
        set(v, "/spec/configuration/defaultLeaseTTL", json!("24h"));
        set(v, "/spec/configuration/maxLeaseTTL", json!("720h"));
        set(
            v,
            "/spec/configuration/logging",
            json!({"format": "json", "file": "/openbao/logs/openbao.log", "rotateDuration": "24h"}),
        );
    });
}

#[test]
fn node_local_dns_addresses_and_trusted_peers_are_checked() {
    assert_invalid_at("spec.network.dnsEndpointIPs[0]", |v| {
        set(
            v,
            "/spec/network/dnsEndpointIPs",
            json!(["169.254.20.10/32"]),
        )
    });
    assert_valid_with(|v| {
        set(v, "/spec/network/dnsEndpointIPs", json!(["169.254.20.10"]));
        set(
            v,
            "/spec/network/trustedIngressPeers",
            json!([{"namespaceSelector": {"matchLabels": {"team": "apps"}}}]),
        );
    });
}

#[test]
fn audit_devices_need_options_matching_their_type_and_a_writable_file() {
    assert_valid_with(|v| {
        set(
            v,
            "/spec/audit",
            json!([
                {"type": "file", "path": "stdout", "fileOptions": {"filePath": "stdout"}},
                {"type": "file", "path": "discard", "fileOptions": {"filePath": "discard", "mode": "0600"}},
                {"type": "socket", "path": "siem", "socketOptions": {"address": "10.0.0.5:9090"}}
            ]),
        )
    });
    assert_invalid_at("spec.audit[0].fileOptions", |v| {
        set(v, "/spec/audit", json!([{"type": "file", "path": "file"}]))
    });
    assert_invalid_at("spec.audit[0].fileOptions.filePath", |v| {
        set(
            v,
            "/spec/audit",
            json!([{"type": "file", "path": "file", "fileOptions": {"filePath": "/var/log/audit.log"}}]),
        )
    });
    assert_invalid_at("spec.audit[0].httpOptions", |v| {
        set(
            v,
            "/spec/audit",
            json!([{"type": "file", "path": "f", "fileOptions": {"filePath": "stdout"}, "httpOptions": {"uri": "https://x"}}]),
        )
    });
    assert_invalid_at("spec.audit[1].path", |v| {
        set(
            v,
            "/spec/audit",
            json!([
                {"type": "file", "path": "a", "fileOptions": {"filePath": "stdout"}},
                {"type": "file", "path": "a/", "fileOptions": {"filePath": "discard"}}
            ]),
        )
    });
}

#[test]
fn the_hardened_profile_wants_https_object_storage_and_enabled_verification_blocks() {
    let errors = errors_with(|v| {
        set(v, "/spec/profile", json!("Hardened"));
        set(
            v,
            "/spec/backup/target/endpoint",
            json!("http://minio.storage.svc:9000"),
        );
        set(v, "/spec/imageVerification", json!({"enabled": false}));
    });
    assert_path(&errors, "spec.backup.target.endpoint");
    assert_path(&errors, "spec.imageVerification.enabled");
}

#[test]
fn the_hardened_profile_wants_egress_rules_with_named_destinations_and_ports() {
    let errors = errors_with(|v| {
        set(v, "/spec/profile", json!("Hardened"));
        set(
            v,
            "/spec/network/egressRules",
            json!([
                {"ports": [{"port": 443}]},
                {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP"}]}
            ]),
        );
    });
    assert_path(&errors, "spec.network.egressRules[0].to");
    assert_path(&errors, "spec.network.egressRules[1].ports");
    assert_path(&errors, "spec.network.egressRules[1].to[0]");
}
