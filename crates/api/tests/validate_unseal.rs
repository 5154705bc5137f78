//! `validate`: the unseal block matching `spec.unseal.type` is required, others are refused,
//! each seal's options are checked, inline secrets are refused in every profile, and a static
//! seal's key source cannot change after creation.

mod common;

use api::validate::validate_update;
use common::*;
use serde_json::{Value, json};

fn static_seal(v: &mut Value) {
    set(v, "/spec/unseal", json!({"type": "static"}));
}

/// The fixture with `spec.unseal` replaced by `unseal`.
fn unseal(unseal: Value) -> impl FnOnce(&mut Value) {
    move |v: &mut Value| set(v, "/spec/unseal", unseal)
}

/// A valid options block for every seal type, by the JSON field that holds it.
fn valid_blocks() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "transit",
            "transit",
            json!({"address": "https://bao-transit.infra.svc:8200", "keyName": "unseal"}),
        ),
        (
            "awskms",
            "awskms",
            json!({"region": "eu-west-1", "kmsKeyID": "alias/openbao"}),
        ),
        (
            "gcpckms",
            "gcpCloudKMS",
            json!({"project": "p", "region": "global", "keyRing": "ring", "cryptoKey": "key"}),
        ),
        (
            "azurekeyvault",
            "azureKeyVault",
            json!({"vaultName": "vault", "keyName": "key", "tenantID": "t", "clientID": "c"}),
        ),
        (
            "kmip",
            "kmip",
            json!({"endpoint": "kmip.example.com:5696", "kmsKeyID": "k",
                   "clientCert": "/etc/bao/seal-creds/tls.crt",
                   "clientKey": "/etc/bao/seal-creds/tls.key"}),
        ),
        (
            "kms",
            "kms",
            json!({"pluginName": "corp-kms", "config": {"endpoint": "https://kms.example.com"}}),
        ),
        (
            "ocikms",
            "ocikms",
            json!({"keyID": "ocid1.key.oc1.x",
                   "cryptoEndpoint": "https://x-crypto.kms.us-ashburn-1.oraclecloud.com",
                   "managementEndpoint": "https://x-management.kms.us-ashburn-1.oraclecloud.com"}),
        ),
        (
            "pkcs11",
            "pkcs11",
            json!({"lib": "/usr/lib/softhsm/libsofthsm2.so", "tokenLabel": "OpenBao",
                   "keyLabel": "bao-root-key"}),
        ),
    ]
}

/// The fixture with seal `kind` and its valid block, changed by `change` (a JSON merge of the
/// block's fields).
fn seal_with(kind: &str, change: Value) -> impl FnOnce(&mut Value) {
    let (_, field, mut block) = valid_blocks()
        .into_iter()
        .find(|(k, _, _)| *k == kind)
        .expect("a known seal type");
    if let (Some(block), Some(change)) = (block.as_object_mut(), change.as_object()) {
        for (k, v) in change {
            if v.is_null() {
                block.remove(k);
            } else {
                block.insert(k.clone(), v.clone());
            }
        }
    }
    let with_seal = unseal(json!({"type": kind, field: block}));
    let kms = kind == "kms";
    move |v: &mut Value| {
        with_seal(v);
        // A kms seal starts the plugin declared under its name.
        if kms {
            set(
                v,
                "/spec/plugins",
                json!([{"type": "kms", "name": "corp-kms", "command": "openbao-kms-corp",
                        "version": "v0.1.0",
                        "sha256sum": "3f2b6a1c9d8e7f60514a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e"}]),
            );
        }
    }
}

#[test]
fn a_static_seal_needs_no_options() {
    assert_valid_with(static_seal);
}

#[test]
fn every_seal_type_with_its_options_block_is_valid() {
    for (kind, _, _) in valid_blocks() {
        assert_valid_with(seal_with(kind, json!({})));
    }
}

#[test]
fn the_block_matching_the_type_is_required_and_named_by_its_json_field() {
    for (kind, field, _) in valid_blocks() {
        let errors = errors_with(unseal(json!({"type": kind})));
        assert_eq!(errors.len(), 1, "{kind}: {errors}");
        assert_path(&errors, &format!("spec.unseal.{field}"));
    }
}

#[test]
fn a_block_for_another_type_is_rejected_at_its_path() {
    let errors = errors_with(|v| {
        set(
            v,
            "/spec/unseal/awskms",
            json!({"region": "eu-west-1", "kmsKeyID": "k"}),
        )
    });
    assert_eq!(errors.len(), 1, "{errors}");
    assert_path(&errors, "spec.unseal.awskms");
}

#[test]
fn a_stray_block_never_echoes_an_inline_secret() {
    let errors = errors_with(|v| {
        static_seal(v);
        set(
            v,
            "/spec/unseal/transit",
            json!({"address": "https://vault.example.com", "keyName": "k", "token": "s.SECRET"}),
        );
    });
    assert_path(&errors, "spec.unseal.transit");
    assert!(!errors.to_string().contains("s.SECRET"), "{errors}");
}

#[test]
fn a_static_seal_may_take_its_key_from_the_users_secret() {
    assert_valid_with(|v| {
        static_seal(v);
        set(
            v,
            "/spec/unseal/credentialsSecretRef",
            json!({"name": "restored-unseal"}),
        );
    });
}

#[test]
fn a_static_key_must_be_a_file_url_and_an_inline_key_is_not_echoed() {
    assert_valid_with(unseal(json!({"type": "static", "static": {
        "currentKey": "file:///etc/bao/unseal/key", "currentKeyID": "k-1"}})));
    for bad in [
        "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        "env://KEY",
        "file://relative",
    ] {
        let errors = errors_with(unseal(
            json!({"type": "static", "static": {"currentKey": bad}}),
        ));
        assert_path(&errors, "spec.unseal.static.currentKey");
        if !bad.starts_with("file://") {
            assert!(!errors.to_string().contains(bad), "{errors}");
        }
    }
    assert_invalid_at(
        "spec.unseal.static.currentKeyID",
        unseal(json!({"type": "static", "static": {"currentKeyID": "a b"}})),
    );
}

#[test]
fn the_credentials_secret_name_must_be_a_dns_subdomain() {
    assert_invalid_at("spec.unseal.credentialsSecretRef.name", |v| {
        set(
            v,
            "/spec/unseal/credentialsSecretRef/name",
            json!("Transit Token"),
        )
    });
}

#[test]
fn the_credentials_secret_must_not_be_one_of_the_operators_own_secrets() {
    for name in [
        "bao-root-token",
        "x-unseal-key",
        "bao-tls-ca",
        "bao-tls-server",
    ] {
        let errors = errors_with(|v| {
            set(v, "/spec/unseal/credentialsSecretRef/name", json!(name));
        });
        assert!(
            message_at(&errors, "spec.unseal.credentialsSecretRef.name")
                .contains("operator's own Secrets"),
            "{errors}"
        );
    }
}

#[test]
fn the_credentials_secret_must_be_in_the_clusters_namespace() {
    assert_valid_with(|v| {
        set(
            v,
            "/spec/unseal/credentialsSecretRef/namespace",
            json!("secrets"),
        )
    });
    let errors = errors_with(|v| {
        set(
            v,
            "/spec/unseal/credentialsSecretRef/namespace",
            json!("infra"),
        )
    });
    let message = message_at(&errors, "spec.unseal.credentialsSecretRef.namespace");
    assert!(message.contains("\"secrets\""), "{message}");
}

#[test]
fn the_transit_address_must_be_a_remote_https_url() {
    for bad in [
        "vault.example.com:8200",
        "",
        "ftp://vault",
        "http://vault.example.com:8200",
        "https://user:pw@vault",
        "https://vault.example.com/?x=1",
        "https://vault.example.com/#frag",
        "https://localhost:8200",
        "https://vault.localhost",
        "https://127.0.0.1:8200",
        "https://[::1]:8200",
        "https://169.254.169.254",
        "https://[fe80::1]:8200",
        "https://2130706433",
    ] {
        assert_invalid_at("spec.unseal.transit.address", |v| {
            set(v, "/spec/unseal/transit/address", json!(bad))
        });
    }
    for ok in [
        "https://bao-transit.infra.svc:8200",
        "https://10.0.0.5:8200",
        "https://[fd00::5]:8200/",
    ] {
        assert_valid_with(|v| set(v, "/spec/unseal/transit/address", json!(ok)));
    }
}

#[test]
fn the_transit_key_name_is_required() {
    assert_invalid_at("spec.unseal.transit.keyName", |v| {
        set(v, "/spec/unseal/transit/keyName", json!(""))
    });
}

#[test]
fn transit_tls_files_are_absolute_paths_and_the_client_pair_is_both_or_neither() {
    assert_invalid_at("spec.unseal.transit.tlsCACert", |v| {
        set(v, "/spec/unseal/transit/tlsCACert", json!("ca.crt"))
    });
    assert_invalid_at(
        "spec.unseal.transit.tlsClientKey",
        seal_with(
            "transit",
            json!({"tlsClientCert": "/etc/bao/seal-creds/tls.crt"}),
        ),
    );
    assert_invalid_at(
        "spec.unseal.transit.tlsClientCert",
        seal_with(
            "transit",
            json!({"tlsClientKey": "/etc/bao/seal-creds/tls.key"}),
        ),
    );
    assert_valid_with(seal_with(
        "transit",
        json!({"tlsClientCert": "/etc/bao/seal-creds/tls.crt",
               "tlsClientKey": "/etc/bao/seal-creds/tls.key",
               "tlsServerName": "bao-transit", "disableRenewal": true, "namespace": "ns1/"}),
    ));
}

#[test]
fn transit_never_skips_certificate_verification() {
    let errors = errors_with(seal_with("transit", json!({"tlsSkipVerify": true})));
    let message = message_at(&errors, "spec.unseal.transit.tlsSkipVerify");
    assert!(!message.starts_with("not supported yet"), "{message}");
    assert_valid_with(seal_with("transit", json!({"tlsSkipVerify": false})));
}

#[test]
fn inline_secrets_are_refused_by_design_with_where_to_put_them_and_never_echoed() {
    for (kind, field, path, key) in [
        ("transit", "token", "spec.unseal.transit.token", "\"token\""),
        (
            "awskms",
            "secretKey",
            "spec.unseal.awskms.secretKey",
            "AWS_SECRET_ACCESS_KEY",
        ),
        (
            "awskms",
            "sessionToken",
            "spec.unseal.awskms.sessionToken",
            "AWS_SESSION_TOKEN",
        ),
        (
            "azurekeyvault",
            "clientSecret",
            "spec.unseal.azureKeyVault.clientSecret",
            "AZURE_CLIENT_SECRET",
        ),
        ("pkcs11", "pin", "spec.unseal.pkcs11.pin", "\"pin\""),
    ] {
        let errors = errors_with(seal_with(kind, json!({field: "TOPSECRET"})));
        assert_eq!(errors.len(), 1, "{errors}");
        let message = message_at(&errors, path);
        assert!(message.contains("credentialsSecretRef"), "{message}");
        assert!(message.contains(key), "{message}");
        assert!(!message.starts_with("not supported yet"), "{message}");
        assert!(!errors.to_string().contains("TOPSECRET"), "{errors}");
    }
}

#[test]
fn the_env_var_names_of_the_transit_token_and_the_hsm_pin_are_in_the_message() {
    let transit = errors_with(seal_with("transit", json!({"token": "t"})));
    assert!(message_at(&transit, "spec.unseal.transit.token").contains("VAULT_TOKEN"));
    let pkcs11 = errors_with(seal_with("pkcs11", json!({"pin": "1234"})));
    assert!(message_at(&pkcs11, "spec.unseal.pkcs11.pin").contains("BAO_HSM_PIN"));
}

#[test]
fn awskms_needs_a_region_shaped_like_an_aws_region_and_a_key() {
    let awskms = |region: &str, key: &str| {
        unseal(json!({"type": "awskms", "awskms": {"region": region, "kmsKeyID": key}}))
    };
    assert_valid_with(awskms("eu-west-1", "alias/openbao"));
    assert_invalid_at(
        "spec.unseal.awskms.region",
        awskms("Europe", "alias/openbao"),
    );
    assert_invalid_at("spec.unseal.awskms.region", awskms("", "alias/openbao"));
    assert_invalid_at("spec.unseal.awskms.kmsKeyID", awskms("eu-west-1", ""));
}

#[test]
fn awskms_endpoint_must_be_an_http_url() {
    assert_invalid_at(
        "spec.unseal.awskms.endpoint",
        seal_with("awskms", json!({"endpoint": "kms.local"})),
    );
    assert_valid_with(seal_with(
        "awskms",
        json!({"endpoint": "https://kms.eu-west-1.amazonaws.com", "accessKey": "AKIAEXAMPLE"}),
    ));
}

#[test]
fn gcp_cloud_kms_and_azure_key_vault_require_their_options() {
    assert_invalid_at(
        "spec.unseal.gcpCloudKMS.keyRing",
        seal_with("gcpckms", json!({"keyRing": ""})),
    );
    assert_invalid_at(
        "spec.unseal.gcpCloudKMS.credentials",
        seal_with("gcpckms", json!({"credentials": "creds.json"})),
    );
    assert_invalid_at(
        "spec.unseal.azureKeyVault.vaultName",
        seal_with("azurekeyvault", json!({"vaultName": "my vault"})),
    );
    assert_invalid_at(
        "spec.unseal.azureKeyVault.tenantID",
        seal_with("azurekeyvault", json!({"tenantID": ""})),
    );
}

#[test]
fn kmip_needs_a_host_and_port_absolute_files_and_a_positive_timeout() {
    assert_invalid_at(
        "spec.unseal.kmip.endpoint",
        seal_with("kmip", json!({"endpoint": "https://kmip.example.com"})),
    );
    assert_invalid_at(
        "spec.unseal.kmip.clientCert",
        seal_with("kmip", json!({"clientCert": "cert.pem"})),
    );
    assert_invalid_at(
        "spec.unseal.kmip.timeout",
        seal_with("kmip", json!({"timeout": 0})),
    );
    assert_valid_with(seal_with(
        "kmip",
        json!({"timeout": 10, "encryptAlg": "AES_GCM", "caCert": "/etc/bao/seal-creds/ca.crt",
               "serverName": "kmip.example.com", "disabled": false}),
    ));
}

#[test]
fn kms_plugin_config_keys_are_hcl_identifiers_at_most_sixty_four_and_never_secrets() {
    assert_invalid_at(
        "spec.unseal.kms.config[\"ca.file\"]",
        seal_with("kms", json!({"config": {"ca.file": "/x"}})),
    );
    let many: serde_json::Map<String, Value> =
        (0..65).map(|i| (format!("k{i}"), json!("v"))).collect();
    assert_invalid_at(
        "spec.unseal.kms.config",
        seal_with("kms", json!({"config": many})),
    );
    let errors = errors_with(seal_with("kms", json!({"config": {"token": "TOPSECRET"}})));
    assert_path(&errors, "spec.unseal.kms.config.token");
    assert!(!errors.to_string().contains("TOPSECRET"), "{errors}");
    assert_invalid_at(
        "spec.unseal.kms.pluginName",
        seal_with("kms", json!({"pluginName": "corp kms"})),
    );
}

#[test]
fn ocikms_credentials_need_api_key_authentication() {
    let errors = errors_with(|v| {
        seal_with("ocikms", json!({}))(v);
        set(
            v,
            "/spec/unseal/credentialsSecretRef",
            json!({"name": "oci"}),
        );
    });
    assert_path(&errors, "spec.unseal.ocikms.authTypeAPIKey");
    assert_valid_with(|v| {
        seal_with("ocikms", json!({"authTypeAPIKey": true}))(v);
        set(
            v,
            "/spec/unseal/credentialsSecretRef",
            json!({"name": "oci"}),
        );
    });
    assert_invalid_at(
        "spec.unseal.ocikms.cryptoEndpoint",
        seal_with("ocikms", json!({"cryptoEndpoint": "kms.example.com"})),
    );
}

#[test]
fn pkcs11_needs_exactly_one_of_slot_and_token_label() {
    assert_invalid_at(
        "spec.unseal.pkcs11.slot",
        seal_with("pkcs11", json!({"tokenLabel": null})),
    );
    assert_invalid_at(
        "spec.unseal.pkcs11.tokenLabel",
        seal_with("pkcs11", json!({"slot": "0"})),
    );
    assert_valid_with(seal_with(
        "pkcs11",
        json!({"tokenLabel": null, "slot": "0x2000000000000001", "keyID": "0x3333",
               "mechanism": "0x1087", "rsaOAEPHash": "sha256",
               "disableSoftwareEncryption": true}),
    ));
    assert_invalid_at(
        "spec.unseal.pkcs11.slot",
        seal_with("pkcs11", json!({"tokenLabel": null, "slot": "two"})),
    );
    assert_invalid_at(
        "spec.unseal.pkcs11.lib",
        seal_with("pkcs11", json!({"lib": "libsofthsm2.so"})),
    );
}

#[test]
fn a_pkcs11_runtime_reads_its_keys_from_the_credentials_secret_and_each_bad_value_is_named() {
    let with_runtime = |runtime: Value, credentials: bool| {
        let seal = seal_with("pkcs11", json!({ "runtime": runtime }));
        move |v: &mut Value| {
            seal(v);
            if credentials {
                set(
                    v,
                    "/spec/unseal/credentialsSecretRef",
                    json!({"name": "hsm"}),
                );
            }
        }
    };
    assert_valid_with(with_runtime(
        json!({"libraryPath": "/usr/lib/softhsm",
               "env": [{"name": "VENDOR_SLOT", "secretKey": "slot"}],
               "fileEnv": [{"name": "SOFTHSM2_CONF", "secretKey": "softhsm2.conf"}]}),
        true,
    ));
    for (runtime, path) in [
        (
            json!({"libraryPath": "lib"}),
            "spec.unseal.pkcs11.runtime.libraryPath",
        ),
        (
            json!({"libraryPath": "/a:/b"}),
            "spec.unseal.pkcs11.runtime.libraryPath",
        ),
        (
            json!({"env": [{"name": "LD_PRELOAD", "secretKey": "x"}]}),
            "spec.unseal.pkcs11.runtime.env[0].name",
        ),
        (
            json!({"env": [{"name": "BAO_ADDR", "secretKey": "x"}]}),
            "spec.unseal.pkcs11.runtime.env[0].name",
        ),
        (
            json!({"env": [{"name": "A", "secretKey": "x"}], "fileEnv": [{"name": "A", "secretKey": "y"}]}),
            "spec.unseal.pkcs11.runtime.fileEnv[0].name",
        ),
        (
            json!({"fileEnv": [{"name": "CONF", "secretKey": "../etc/passwd"}]}),
            "spec.unseal.pkcs11.runtime.fileEnv[0].secretKey",
        ),
    ] {
        assert_invalid_at(path, with_runtime(runtime, true));
    }
    // The keys come from the credentials Secret, so it must be named.
    assert_invalid_at(
        "spec.unseal.credentialsSecretRef",
        with_runtime(json!({"env": [{"name": "A", "secretKey": "x"}]}), false),
    );
}

#[test]
fn a_static_clusters_key_source_cannot_change_after_creation() {
    let generated = cluster_with(static_seal);
    let restored = |name: &str| {
        let name = name.to_string();
        cluster_with(move |v| {
            static_seal(v);
            set(
                v,
                "/spec/unseal/credentialsSecretRef",
                json!({"name": name}),
            );
        })
    };
    for (old, new) in [
        (&generated, &restored("mine")),
        (&restored("mine"), &generated),
        (&restored("mine"), &restored("other")),
    ] {
        let errors = validate_update(old, new).expect_err("the key source is fixed");
        assert_eq!(errors.len(), 1, "{errors}");
        assert_path(&errors, "spec.unseal.credentialsSecretRef");
    }
    assert_eq!(
        validate_update(&restored("mine"), &restored("mine")),
        Ok(())
    );
    assert_eq!(validate_update(&generated, &generated), Ok(()));
}

#[test]
fn a_non_static_seals_credentials_secret_may_change() {
    let old = valid_cluster();
    let new = cluster_with(|v| {
        set(
            v,
            "/spec/unseal/credentialsSecretRef/name",
            json!("rotated-token"),
        )
    });
    assert_eq!(validate_update(&old, &new), Ok(()));
}
