//! `spec.plugins` and `spec.auditFileStorage`: what is accepted, and each refusal with its
//! path, the value and what is allowed.

mod common;

use api::validate::{validate, warnings};
use common::*;
use serde_json::{Value, json};

const SUM: &str = "0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d";

fn oci_plugin() -> Value {
    json!({"type": "secret", "name": "example", "image": "registry.example.com/plugin",
           "version": "v1.0.0", "binaryName": "openbao-plugin-secrets-example", "sha256sum": SUM})
}

fn with_plugins(v: &mut Value, plugins: Value, auto_download: bool) {
    set(v, "/spec/plugins", plugins);
    set(
        v,
        "/spec/configuration/plugin",
        json!({"autoDownload": auto_download}),
    );
}

#[test]
fn an_oci_plugin_with_every_field_and_downloads_on_is_accepted() {
    assert_valid_with(|v| with_plugins(v, json!([oci_plugin()]), true));
}

#[test]
fn a_preinstalled_command_plugin_is_accepted_without_downloads() {
    assert_valid_with(|v| {
        with_plugins(
            v,
            json!([{"type": "auth", "name": "corp", "command": "openbao-plugin-auth-corp",
                    "version": "1.2.3", "sha256sum": SUM, "args": ["-tls-skip"],
                    "env": ["LOG_FORMAT=json"]}]),
            false,
        )
    });
}

#[test]
fn a_plugin_type_outside_openbaos_four_is_refused_naming_them() {
    let errors = errors_with(|v| {
        let mut p = oci_plugin();
        p["type"] = json!("secrets");
        with_plugins(v, json!([p]), true);
    });
    let message = message_at(&errors, "spec.plugins[0].type");
    assert!(message.contains("secret, auth, database, kms"), "{message}");
}

#[test]
fn image_and_command_are_exclusive_and_one_is_required() {
    let errors = errors_with(|v| {
        let mut both = oci_plugin();
        both["command"] = json!("x");
        let mut neither = oci_plugin();
        neither.as_object_mut().expect("object").remove("image");
        neither["name"] = json!("other");
        with_plugins(v, json!([both, neither]), true);
    });
    assert!(message_at(&errors, "spec.plugins[0].command").contains("together with image"));
    assert!(message_at(&errors, "spec.plugins[1].image").contains("required"));
}

#[test]
fn an_oci_plugin_needs_downloads_switched_on() {
    let errors = errors_with(|v| with_plugins(v, json!([oci_plugin()]), false));
    assert!(message_at(&errors, "spec.plugins[0].image").contains("autoDownload: true"));
}

#[test]
fn a_command_plugin_next_to_downloaded_ones_is_refused_because_the_download_volume_hides_it() {
    let errors = errors_with(|v| {
        with_plugins(
            v,
            json!([oci_plugin(), {"type": "auth", "name": "corp", "command": "corp",
                                  "version": "v1.0.0", "sha256sum": SUM}]),
            true,
        )
    });
    assert!(message_at(&errors, "spec.plugins[1].command").contains("hides"));
}

#[test]
fn checksums_must_be_sixty_four_hex_characters() {
    let errors = errors_with(|v| {
        let mut p = oci_plugin();
        p["sha256sum"] = json!("abc");
        with_plugins(v, json!([p]), true);
    });
    assert!(message_at(&errors, "spec.plugins[0].sha256sum").contains("64 hexadecimal"));
}

#[test]
fn below_openbao_2_7_version_binary_name_and_checksum_are_required() {
    let errors = errors_with(|v| {
        with_plugins(
            v,
            json!([{"type": "secret", "name": "x", "image": "registry.example.com/p:v1.0.0"}]),
            true,
        )
    });
    for field in ["version", "binaryName", "sha256sum"] {
        message_at(&errors, &format!("spec.plugins[0].{field}"));
    }
}

#[test]
fn openbao_2_7_infers_the_version_from_a_tag_and_needs_no_checksum_for_a_digest() {
    assert_valid_with(|v| {
        set(v, "/spec/version", json!("2.7.2"));
        set(v, "/spec/image", json!("quay.io/openbao/openbao:2.7.2"));
        with_plugins(
            v,
            json!([{"type": "secret", "name": "x",
                    "image": format!("registry.example.com/p:v1.0.0@sha256:{SUM}")}]),
            true,
        );
    });
}

#[test]
fn names_commands_and_binaries_are_single_file_names() {
    let errors = errors_with(|v| {
        with_plugins(
            v,
            json!([{"type": "auth", "name": "../x", "command": "/bin/sh", "version": "v1.0.0",
                    "binaryName": "a/b", "sha256sum": SUM}]),
            false,
        )
    });
    for field in ["name", "command", "binaryName"] {
        message_at(&errors, &format!("spec.plugins[0].{field}"));
    }
}

#[test]
fn a_plugin_environment_variable_named_like_a_secret_is_refused_and_its_value_never_shown() {
    let errors = errors_with(|v| {
        let mut p = oci_plugin();
        p["env"] = json!(["CORP_API_TOKEN=hunter2", "not-an-assignment"]);
        with_plugins(v, json!([p]), true);
    });
    let e = errors
        .iter()
        .find(|e| e.path == "spec.plugins[0].env[0]")
        .expect("an error for the secret");
    assert!(e.message.contains("must not carry a secret"), "{e}");
    assert!(!errors.to_string().contains("hunter2"), "{errors}");
    assert!(message_at(&errors, "spec.plugins[0].env[1]").contains("NAME=value"));
}

#[test]
fn duplicate_type_name_and_version_is_refused() {
    let errors = errors_with(|v| with_plugins(v, json!([oci_plugin(), oci_plugin()]), true));
    assert!(message_at(&errors, "spec.plugins[1].name").contains("duplicate"));
}

#[test]
fn a_kms_seal_needs_its_plugin_declared_under_the_same_name() {
    let kms_seal = |v: &mut Value| {
        set(
            v,
            "/spec/unseal",
            json!({"type": "kms", "kms": {"pluginName": "corp-kms"}}),
        );
    };
    let errors = errors_with(kms_seal);
    assert!(message_at(&errors, "spec.unseal.kms.pluginName").contains("type kms"));
    assert_valid_with(|v| {
        kms_seal(v);
        with_plugins(
            v,
            json!([{"type": "kms", "name": "corp-kms", "command": "openbao-kms-corp",
                    "version": "v0.1.0", "sha256sum": SUM}]),
            false,
        );
    });
}

#[test]
fn on_openbao_2_7_an_awskms_seal_runs_as_the_kms_plugin_named_awskms() {
    let awskms = |v: &mut Value| {
        set(v, "/spec/version", json!("2.7.2"));
        set(v, "/spec/image", json!("quay.io/openbao/openbao:2.7.2"));
        set(
            v,
            "/spec/unseal",
            json!({"type": "awskms", "awskms": {"region": "eu-west-1", "kmsKeyID": "alias/bao"}}),
        );
    };
    let errors = errors_with(awskms);
    let message = message_at(&errors, "spec.unseal.type");
    assert!(message.contains("named \"awskms\""), "{message}");
    assert!(!message.starts_with(api::validate::NOT_SUPPORTED_YET));
    assert_valid_with(|v| {
        awskms(v);
        with_plugins(
            v,
            json!([{"type": "kms", "name": "awskms", "command": "openbao-plugin-kms-awskms"}]),
            false,
        );
    });
}

#[test]
fn the_hardened_profile_wants_a_checksum_on_every_plugin_and_egress_for_downloads() {
    let mut cluster = cluster_with(|v| {
        set(v, "/spec/version", json!("2.7.2"));
        set(v, "/spec/image", json!("quay.io/openbao/openbao:2.7.2"));
        set(v, "/spec/network/egressRules", json!([]));
        with_plugins(
            v,
            json!([{"type": "secret", "name": "x",
                    "image": format!("registry.example.com/p:v1@sha256:{SUM}")}]),
            true,
        );
    });
    assert!(validate(&cluster).is_ok(), "Development accepts it");
    cluster.spec.profile = Some(api::Profile::Hardened);
    let errors = validate(&cluster).expect_err("Hardened refuses it");
    for path in ["spec.plugins[0].sha256sum", "spec.plugins[0].image"] {
        assert!(
            message_at(&errors, path).contains("Hardened"),
            "{path}: {errors}"
        );
    }
}

#[test]
fn a_downloaded_plugin_without_egress_rules_is_warned_about() {
    let cluster = cluster_with(|v| {
        set(v, "/spec/network/egressRules", json!([]));
        with_plugins(v, json!([oci_plugin()]), true);
    });
    let warnings = warnings(&cluster);
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("spec.plugins[0].image") && w.contains("egress")),
        "{warnings:?}"
    );
}

fn file_device(path: &str) -> Value {
    json!([{"type": "file", "path": "file", "fileOptions": {"filePath": path}}])
}

#[test]
fn a_file_audit_device_may_write_under_the_audit_volume() {
    assert_valid_with(|v| {
        set(
            v,
            "/spec/auditFileStorage",
            json!({"mode": "ManagedPVC", "size": "20Gi"}),
        );
        set(v, "/spec/audit", file_device("/openbao/audit/audit.jsonl"));
    });
    assert_valid_with(|v| {
        set(
            v,
            "/spec/auditFileStorage",
            json!({"mode": "ExistingPVC", "existingClaimName": "audit-rwx", "mountPath": "/var/log/openbao"}),
        );
        set(
            v,
            "/spec/audit",
            file_device("/var/log/openbao/a/audit.log"),
        );
    });
}

#[test]
fn a_file_path_outside_the_audit_volume_is_refused_naming_the_allowed_prefix() {
    let errors = errors_with(|v| {
        set(
            v,
            "/spec/auditFileStorage",
            json!({"mode": "ManagedPVC", "size": "20Gi"}),
        );
        set(v, "/spec/audit", file_device("/openbao/data/audit.log"));
    });
    let message = message_at(&errors, "spec.audit[0].fileOptions.filePath");
    assert!(message.contains("under /openbao/audit/"), "{message}");
    for sneaky in [
        "/openbao/audit/../data/x",
        "/openbao/audit",
        "/openbao/auditx/a",
    ] {
        assert_invalid_at("spec.audit[0].fileOptions.filePath", |v| {
            set(
                v,
                "/spec/auditFileStorage",
                json!({"mode": "ManagedPVC", "size": "20Gi"}),
            );
            set(v, "/spec/audit", file_device(sneaky));
        });
    }
}

#[test]
fn without_an_audit_volume_a_file_path_is_refused_pointing_at_audit_file_storage() {
    let errors = errors_with(|v| set(v, "/spec/audit", file_device("/openbao/audit/a.log")));
    let message = message_at(&errors, "spec.audit[0].fileOptions.filePath");
    assert!(message.contains("spec.auditFileStorage"), "{message}");
}

#[test]
fn audit_file_storage_follows_upstreams_mode_rules() {
    assert_invalid_at("spec.auditFileStorage.size", |v| {
        set(v, "/spec/auditFileStorage", json!({"mode": "ManagedPVC"}))
    });
    assert_invalid_at("spec.auditFileStorage.existingClaimName", |v| {
        set(
            v,
            "/spec/auditFileStorage",
            json!({"mode": "ManagedPVC", "size": "1Gi", "existingClaimName": "x"}),
        )
    });
    assert_invalid_at("spec.auditFileStorage.existingClaimName", |v| {
        set(v, "/spec/auditFileStorage", json!({"mode": "ExistingPVC"}))
    });
    assert_invalid_at("spec.auditFileStorage.size", |v| {
        set(
            v,
            "/spec/auditFileStorage",
            json!({"mode": "ExistingPVC", "existingClaimName": "x", "size": "1Gi"}),
        )
    });
}

#[test]
fn the_audit_mount_stays_clear_of_the_operators_and_the_systems_directories() {
    for mount in [
        "/",
        "/openbao",
        "/openbao/data",
        "/etc/bao/audit",
        "/tmp",
        "relative",
    ] {
        assert_invalid_at("spec.auditFileStorage.mountPath", |v| {
            set(
                v,
                "/spec/auditFileStorage",
                json!({"mode": "ManagedPVC", "size": "1Gi", "mountPath": mount}),
            )
        });
    }
}
