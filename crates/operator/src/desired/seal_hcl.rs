//! The `seal` stanza of `config.hcl`: one per seal type, with OpenBao 2.7's option names.
//!
//! Only non-secret options are ever written: tokens, keys, PINs and client secrets reach OpenBao
//! through the credentials Secret (mounted files and environment variables), never through the
//! ConfigMap. The inline secret fields of the spec are refused by validation, and this renderer
//! does not read them at all, so even an unvalidated spec cannot leak one into the file.

use api::{UnsealSpec, UnsealType};

use super::{
    ValidatedCluster,
    config_hcl::{
        SEAL_CREDENTIALS_DIR, STATIC_KEY_ID, UNSEAL_DIR, UNSEAL_KEY_FILE, hcl_string, line,
    },
};

/// An attribute value, written as HCL: strings quoted and escaped, booleans and numbers bare.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Str(String),
    Bool(bool),
    Int(i64),
}

impl Value {
    fn render(&self) -> String {
        match self {
            Value::Str(s) => hcl_string(s),
            Value::Bool(b) => b.to_string(),
            Value::Int(n) => n.to_string(),
        }
    }
}

/// Attributes in the order they are written.
#[derive(Default)]
struct Attrs(Vec<(String, Value)>);

impl Attrs {
    fn str(&mut self, key: &str, value: impl Into<String>) {
        self.0.push((key.to_string(), Value::Str(value.into())));
    }

    fn opt_str(&mut self, key: &str, value: Option<&String>) {
        if let Some(value) = value {
            self.str(key, value.clone());
        }
    }

    fn opt_bool(&mut self, key: &str, value: Option<bool>) {
        if let Some(value) = value {
            self.0.push((key.to_string(), Value::Bool(value)));
        }
    }
}

/// Write the `seal` stanza of `cluster` into `w`.
pub(super) fn render_seal(w: &mut String, cluster: &ValidatedCluster) {
    w.push_str(&seal_stanza(&cluster.spec().unseal));
}

/// The `seal` stanza for `unseal`, ending with a newline.
fn seal_stanza(unseal: &UnsealSpec) -> String {
    let (name, attrs) = seal_attrs(unseal);
    let mut out = String::new();
    line(&mut out, &format!("seal {} {{", hcl_string(&name)));
    let width = attrs.0.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (key, value) in &attrs.0 {
        line(&mut out, &format!("  {key:<width$} = {}", value.render()));
    }
    line(&mut out, "}");
    out
}

/// The Secret that holds a static seal's key: the user's (`spec.unseal.credentialsSecretRef`)
/// or the operator's `<cluster>-unseal-key`.
pub fn unseal_key_secret_name(cluster: &ValidatedCluster) -> String {
    cluster
        .spec()
        .unseal
        .credentials_secret_ref
        .as_ref()
        .map_or_else(|| cluster.names().unseal_key_secret(), |s| s.name.clone())
}

/// The stanza's name and attributes. A KMS plugin's seal is named after the plugin (OpenBao
/// matches the `seal` stanza to the `plugin "kms"` stanza by name); every other seal is named
/// after its type.
fn seal_attrs(unseal: &UnsealSpec) -> (String, Attrs) {
    let mut a = Attrs::default();
    let mut name = unseal.type_.as_str().to_string();
    match unseal.type_ {
        UnsealType::Static => {
            let options = unseal.r#static.as_ref();
            a.str(
                "current_key_id",
                options
                    .and_then(|s| s.current_key_id.clone())
                    .unwrap_or_else(|| STATIC_KEY_ID.to_string()),
            );
            a.str(
                "current_key",
                options
                    .and_then(|s| s.current_key.clone())
                    .unwrap_or_else(|| format!("file://{UNSEAL_DIR}/{UNSEAL_KEY_FILE}")),
            );
        }
        UnsealType::Transit => {
            if let Some(t) = &unseal.transit {
                a.str("address", t.address.clone());
                a.str("key_name", t.key_name.clone());
                a.str(
                    "mount_path",
                    t.mount_path
                        .clone()
                        .unwrap_or_else(|| "transit/".to_string()),
                );
                a.opt_str("namespace", t.namespace.as_ref());
                a.opt_bool("disable_renewal", t.disable_renewal);
                a.opt_str("tls_ca_cert", t.tls_ca_cert.as_ref());
                a.opt_str("tls_client_cert", t.tls_client_cert.as_ref());
                a.opt_str("tls_client_key", t.tls_client_key.as_ref());
                a.opt_str("tls_server_name", t.tls_server_name.as_ref());
            }
        }
        UnsealType::Awskms => {
            if let Some(k) = &unseal.awskms {
                a.str("region", k.region.clone());
                a.str("kms_key_id", k.kms_key_id.clone());
                a.opt_str("endpoint", k.endpoint.as_ref());
                // The access key ID alone is not a secret (it names the key pair); the secret
                // half comes from AWS_SECRET_ACCESS_KEY in the credentials Secret.
                a.opt_str("access_key", k.access_key.as_ref());
            }
        }
        UnsealType::Gcpckms => {
            if let Some(g) = &unseal.gcp_cloud_kms {
                a.str("project", g.project.clone());
                a.str("region", g.region.clone());
                a.str("key_ring", g.key_ring.clone());
                a.str("crypto_key", g.crypto_key.clone());
                // Without either, the Google client falls back to workload identity.
                let credentials = g.credentials.clone().or_else(|| {
                    unseal
                        .credentials_secret_ref
                        .as_ref()
                        .map(|_| format!("{SEAL_CREDENTIALS_DIR}/credentials.json"))
                });
                a.opt_str("credentials", credentials.as_ref());
            }
        }
        UnsealType::Azurekeyvault => {
            if let Some(k) = &unseal.azure_key_vault {
                a.opt_str("tenant_id", k.tenant_id.as_ref());
                a.opt_str("client_id", k.client_id.as_ref());
                a.str("vault_name", k.vault_name.clone());
                a.str("key_name", k.key_name.clone());
                a.opt_str("resource", k.resource.as_ref());
                a.opt_str("environment", k.environment.as_ref());
            }
        }
        UnsealType::Kmip => {
            if let Some(k) = &unseal.kmip {
                a.str("endpoint", k.endpoint.clone());
                a.str("kms_key_id", k.kms_key_id.clone());
                a.str("client_cert", k.client_cert.clone());
                a.str("client_key", k.client_key.clone());
                a.opt_str("ca_cert", k.ca_cert.as_ref());
                a.opt_str("server_name", k.server_name.as_ref());
                if let Some(timeout) = k.timeout {
                    a.0.push(("timeout".to_string(), Value::Int(i64::from(timeout))));
                }
                if let Some(alg) = k.encrypt_alg {
                    a.str("encrypt_alg", alg.as_str());
                }
                a.opt_str("tls12_ciphers", k.tls12_ciphers.as_ref());
                a.opt_bool("disabled", k.disabled);
            }
        }
        UnsealType::Kms => {
            if let Some(k) = &unseal.kms {
                name = k.plugin_name.clone();
                for (key, value) in &k.config {
                    a.str(key, value.clone());
                }
            }
        }
        UnsealType::Ocikms => {
            if let Some(k) = &unseal.ocikms {
                a.str("key_id", k.key_id.clone());
                a.str("crypto_endpoint", k.crypto_endpoint.clone());
                a.str("management_endpoint", k.management_endpoint.clone());
                a.opt_bool("auth_type_api_key", k.auth_type_api_key);
                a.opt_bool("disabled", k.disabled);
            }
        }
        UnsealType::Pkcs11 => {
            if let Some(k) = &unseal.pkcs11 {
                a.str("lib", k.lib.clone());
                a.opt_str("slot", k.slot.as_ref());
                a.opt_str("token_label", k.token_label.as_ref());
                a.str("key_label", k.key_label.clone());
                a.opt_str("key_id", k.key_id.as_ref());
                a.opt_str("mechanism", k.mechanism.as_ref());
                a.opt_bool("disable_software_encryption", k.disable_software_encryption);
                if let Some(hash) = k.rsa_oaep_hash {
                    a.str("rsa_oaep_hash", hash.as_str());
                }
                a.opt_bool("disabled", k.disabled);
            }
        }
    }
    (name, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `unseal` from its YAML form (the spec's field names).
    fn unseal(yaml: &str) -> UnsealSpec {
        serde_yaml::from_str(yaml).expect("an unseal block")
    }

    /// The stanza's lines without indentation or alignment, for stable comparisons.
    fn lines(unseal: &UnsealSpec) -> Vec<String> {
        seal_stanza(unseal)
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    }

    #[test]
    fn a_static_seal_reads_the_operators_key_file_by_default() {
        assert_eq!(
            lines(&unseal("type: static")),
            [
                "seal \"static\" {",
                "current_key_id = \"openbao-operator-1\"",
                "current_key = \"file:///etc/bao/unseal/key\"",
                "}",
            ]
        );
    }

    #[test]
    fn a_static_seal_takes_the_key_location_and_id_from_the_spec() {
        let stanza = lines(&unseal(
            "type: static\nstatic: {currentKey: \"file:///custom/key\", currentKeyID: custom-v1}",
        ));
        assert!(stanza.contains(&"current_key_id = \"custom-v1\"".to_string()));
        assert!(stanza.contains(&"current_key = \"file:///custom/key\"".to_string()));
    }

    #[test]
    fn a_transit_seal_writes_every_option_with_booleans_bare() {
        let stanza = lines(&unseal(
            "type: transit\ntransit: {address: \"https://bao.infra:8200\", keyName: unseal, \
             namespace: ns1/, disableRenewal: true, tlsCACert: /etc/bao/seal-creds/ca.crt, \
             tlsClientCert: /etc/bao/seal-creds/tls.crt, tlsClientKey: /etc/bao/seal-creds/tls.key, \
             tlsServerName: bao.infra}",
        ));
        assert_eq!(
            stanza,
            [
                "seal \"transit\" {",
                "address = \"https://bao.infra:8200\"",
                "key_name = \"unseal\"",
                "mount_path = \"transit/\"",
                "namespace = \"ns1/\"",
                "disable_renewal = true",
                "tls_ca_cert = \"/etc/bao/seal-creds/ca.crt\"",
                "tls_client_cert = \"/etc/bao/seal-creds/tls.crt\"",
                "tls_client_key = \"/etc/bao/seal-creds/tls.key\"",
                "tls_server_name = \"bao.infra\"",
                "}",
            ]
        );
    }

    #[test]
    fn an_awskms_seal_writes_region_key_endpoint_and_access_key_id() {
        assert_eq!(
            lines(&unseal(
                "type: awskms\nawskms: {region: eu-west-1, kmsKeyID: alias/bao, \
                 endpoint: \"https://kms.local.example\", accessKey: AKIAEXAMPLE}",
            )),
            [
                "seal \"awskms\" {",
                "region = \"eu-west-1\"",
                "kms_key_id = \"alias/bao\"",
                "endpoint = \"https://kms.local.example\"",
                "access_key = \"AKIAEXAMPLE\"",
                "}",
            ]
        );
    }

    #[test]
    fn a_gcpckms_seal_reads_credentials_from_the_secret_when_one_is_given() {
        let base =
            "type: gcpckms\ngcpCloudKMS: {project: p, region: global, keyRing: r, cryptoKey: k";
        let identity = lines(&unseal(&format!("{base}}}")));
        assert_eq!(
            identity,
            [
                "seal \"gcpckms\" {",
                "project = \"p\"",
                "region = \"global\"",
                "key_ring = \"r\"",
                "crypto_key = \"k\"",
                "}",
            ]
        );
        let from_secret = lines(&unseal(&format!(
            "{base}}}\ncredentialsSecretRef: {{name: gcp}}"
        )));
        assert!(
            from_secret
                .contains(&"credentials = \"/etc/bao/seal-creds/credentials.json\"".to_string())
        );
        let explicit = lines(&unseal(&format!(
            "{base}, credentials: /etc/bao/seal-creds/sa.json}}\ncredentialsSecretRef: {{name: gcp}}"
        )));
        assert!(explicit.contains(&"credentials = \"/etc/bao/seal-creds/sa.json\"".to_string()));
    }

    #[test]
    fn an_azure_key_vault_seal_writes_its_identity_and_key() {
        assert_eq!(
            lines(&unseal(
                "type: azurekeyvault\nazureKeyVault: {tenantID: t, clientID: c, vaultName: v, \
                 keyName: k, resource: managedhsm.azure.net, environment: AZUREPUBLICCLOUD}",
            )),
            [
                "seal \"azurekeyvault\" {",
                "tenant_id = \"t\"",
                "client_id = \"c\"",
                "vault_name = \"v\"",
                "key_name = \"k\"",
                "resource = \"managedhsm.azure.net\"",
                "environment = \"AZUREPUBLICCLOUD\"",
                "}",
            ]
        );
    }

    #[test]
    fn a_kmip_seal_writes_the_timeout_as_a_number() {
        assert_eq!(
            lines(&unseal(
                "type: kmip\nkmip: {endpoint: \"kmip.example.com:5696\", kmsKeyID: k1, \
                 clientCert: /c/tls.crt, clientKey: /c/tls.key, caCert: /c/ca.crt, \
                 serverName: kmip.example.com, timeout: 15, encryptAlg: RSA_OAEP_SHA256, \
                 tls12Ciphers: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, disabled: false}",
            )),
            [
                "seal \"kmip\" {",
                "endpoint = \"kmip.example.com:5696\"",
                "kms_key_id = \"k1\"",
                "client_cert = \"/c/tls.crt\"",
                "client_key = \"/c/tls.key\"",
                "ca_cert = \"/c/ca.crt\"",
                "server_name = \"kmip.example.com\"",
                "timeout = 15",
                "encrypt_alg = \"RSA_OAEP_SHA256\"",
                "tls12_ciphers = \"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\"",
                "disabled = false",
                "}",
            ]
        );
    }

    #[test]
    fn a_kms_plugin_seal_is_named_after_the_plugin_with_its_config_as_attributes() {
        assert_eq!(
            lines(&unseal(
                "type: kms\nkms: {pluginName: corp-kms, config: {endpoint: \"https://kms.example\", \
                 ca_file: /etc/bao/seal-creds/ca.crt}}",
            )),
            [
                "seal \"corp-kms\" {",
                "ca_file = \"/etc/bao/seal-creds/ca.crt\"",
                "endpoint = \"https://kms.example\"",
                "}",
            ]
        );
    }

    #[test]
    fn an_ocikms_seal_writes_the_api_key_switch_as_a_boolean() {
        assert_eq!(
            lines(&unseal(
                "type: ocikms\nocikms: {keyID: ocid1.key, cryptoEndpoint: \"https://c\", \
                 managementEndpoint: \"https://m\", authTypeAPIKey: true}",
            )),
            [
                "seal \"ocikms\" {",
                "key_id = \"ocid1.key\"",
                "crypto_endpoint = \"https://c\"",
                "management_endpoint = \"https://m\"",
                "auth_type_api_key = true",
                "}",
            ]
        );
    }

    #[test]
    fn a_pkcs11_seal_writes_the_token_selection_and_key() {
        assert_eq!(
            lines(&unseal(
                "type: pkcs11\npkcs11: {lib: /usr/lib/libsofthsm2.so, slot: \"0\", \
                 keyLabel: bao-key, keyID: \"0x33\", mechanism: \"0x1087\", \
                 disableSoftwareEncryption: true, rsaOAEPHash: sha256, disabled: false}",
            )),
            [
                "seal \"pkcs11\" {",
                "lib = \"/usr/lib/libsofthsm2.so\"",
                "slot = \"0\"",
                "key_label = \"bao-key\"",
                "key_id = \"0x33\"",
                "mechanism = \"0x1087\"",
                "disable_software_encryption = true",
                "rsa_oaep_hash = \"sha256\"",
                "disabled = false",
                "}",
            ]
        );
    }

    #[test]
    fn no_refused_inline_secret_can_reach_the_configuration() {
        // Unvalidated on purpose: even a spec that skipped validation must not leak a secret.
        for yaml in [
            "type: transit\ntransit: {address: \"https://v\", keyName: k, token: SECRET1, \
             tlsSkipVerify: true}",
            "type: awskms\nawskms: {region: r, kmsKeyID: k, secretKey: SECRET1, sessionToken: SECRET1}",
            "type: azurekeyvault\nazureKeyVault: {vaultName: v, keyName: k, clientSecret: SECRET1}",
            "type: pkcs11\npkcs11: {lib: /l, slot: \"1\", keyLabel: k, pin: SECRET1}",
        ] {
            let stanza = seal_stanza(&unseal(yaml));
            assert!(!stanza.contains("SECRET1"), "{stanza}");
            for option in [
                "token",
                "secret_key",
                "session_token",
                "client_secret",
                "pin",
                "tls_skip_verify",
            ] {
                assert!(
                    !stanza.contains(&format!(" {option} ")),
                    "{option} in {stanza}"
                );
            }
        }
    }

    #[test]
    fn user_strings_cannot_break_out_of_their_hcl_string() {
        let stanza = seal_stanza(&unseal(
            "type: awskms\nawskms: {region: r, kmsKeyID: \"k\\\"\\n}\\nui = true ${x}\"}",
        ));
        assert_eq!(stanza.lines().count(), 4, "{stanza}");
        assert!(stanza.contains("$${x}"), "{stanza}");
    }
}
