//! OpenBao's `config.hcl`, rendered from the spec, and the ConfigMap that carries it.
//!
//! One file serves every pod, so nothing pod-specific lives in it: each pod's `api_addr`,
//! `cluster_addr` and Raft `node_id` come from the environment variables `BAO_API_ADDR`,
//! `BAO_CLUSTER_ADDR` and `BAO_RAFT_NODE_ID`, which the StatefulSet builds from the pod's own
//! name (`https://<pod>.<headless-service>.<namespace>.svc:8200`). OpenBao gives these variables
//! precedence over the file.

use std::{collections::BTreeMap, fmt::Write};

use api::{UnsealType, names};
use k8s_openapi::api::core::v1::ConfigMap;
use sha2::{Digest, Sha256};

use super::{ValidatedCluster, meta::object_meta};

/// Directory the ConfigMap is mounted at.
pub const CONFIG_DIR: &str = "/etc/bao/config";
/// Key of the configuration in the ConfigMap (and file name in `CONFIG_DIR`).
pub const CONFIG_FILE: &str = "config.hcl";
/// Directory holding `tls.crt`, `tls.key` and `ca.crt`.
pub const TLS_DIR: &str = "/etc/bao/tls";
/// Directory holding the static unseal key file `key`.
pub const UNSEAL_DIR: &str = "/etc/bao/unseal";
/// File name of the static unseal key in its Secret and directory.
pub const UNSEAL_KEY_FILE: &str = "key";
/// Directory where the seal credentials Secret is mounted.
pub const SEAL_CREDENTIALS_DIR: &str = "/etc/bao/seal-credentials";
/// Raft data directory (the PersistentVolumeClaim).
pub const DATA_DIR: &str = "/openbao/data";
/// Key ID of the operator-generated static seal key.
pub const STATIC_KEY_ID: &str = "openbao-operator-1";

/// Render `config.hcl` for `cluster`.
pub fn render(cluster: &ValidatedCluster) -> String {
    let spec = cluster.spec();
    let names = cluster.names();
    let namespace = cluster.namespace();
    let mut out = String::new();
    let w = &mut out;

    line(
        w,
        "# Rendered by openbao-operator. Do not edit: changes are overwritten.",
    );
    line(
        w,
        "# api_addr, cluster_addr and the Raft node_id are set per pod through BAO_API_ADDR,",
    );
    line(
        w,
        "# BAO_CLUSTER_ADDR and BAO_RAFT_NODE_ID (https://<pod>.<headless-service>.<namespace>.svc).",
    );
    line(w, "");
    line(w, &format!("ui = {}", spec.configuration.ui));
    line(
        w,
        &format!(
            "log_level = {}",
            hcl_string(spec.configuration.log_level.as_str())
        ),
    );
    line(
        w,
        &format!(
            "cluster_name = {}",
            hcl_string(&format!("{namespace}/{}", names.cluster()))
        ),
    );
    line(w, "");

    line(w, "listener \"tcp\" {");
    line(
        w,
        &format!("  address         = \"[::]:{}\"", names::API_PORT),
    );
    line(
        w,
        &format!("  cluster_address = \"[::]:{}\"", names::CLUSTER_PORT),
    );
    line(w, &format!("  tls_cert_file   = \"{TLS_DIR}/tls.crt\""));
    line(w, &format!("  tls_key_file    = \"{TLS_DIR}/tls.key\""));
    line(w, "  tls_min_version = \"tls12\"");
    line(w, "}");
    line(w, "");

    let selector = names::selector_string(&names.server_selector_labels());
    // go-discover's k8s provider lists Running, Ready pods matching the selector in this
    // namespace, through the ServiceAccount the Role grants; it joins them by pod IP, so the
    // leader's certificate is verified against the headless Service name every cert carries.
    let auto_join = format!("provider=k8s namespace={namespace} label_selector=\"{selector}\"");
    line(w, "storage \"raft\" {");
    line(w, &format!("  path = \"{DATA_DIR}\""));
    if let Some(multiplier) = spec.configuration.raft.performance_multiplier {
        line(w, &format!("  performance_multiplier = {multiplier}"));
    }
    line(w, "  retry_join {");
    line(
        w,
        &format!("    auto_join             = {}", hcl_string(&auto_join)),
    );
    line(w, "    auto_join_scheme      = \"https\"");
    line(
        w,
        &format!("    auto_join_port        = {}", names::API_PORT),
    );
    line(
        w,
        &format!("    leader_ca_cert_file   = \"{TLS_DIR}/ca.crt\""),
    );
    line(
        w,
        &format!(
            "    leader_tls_servername = {}",
            hcl_string(&format!("{}.{namespace}.svc", names.headless_service()))
        ),
    );
    line(w, "  }");
    line(w, "}");
    line(w, "");

    line(w, "service_registration \"kubernetes\" {}");
    line(w, "");

    render_seal(w, cluster);
    out
}

fn render_seal(w: &mut String, cluster: &ValidatedCluster) {
    let unseal = &cluster.spec().unseal;
    line(w, &format!("seal \"{}\" {{", unseal.type_.as_str()));
    let mut attrs: Vec<(&str, String)> = Vec::new();
    match unseal.type_ {
        UnsealType::Static => {
            attrs.push(("current_key_id", STATIC_KEY_ID.to_string()));
            attrs.push((
                "current_key",
                format!("file://{UNSEAL_DIR}/{UNSEAL_KEY_FILE}"),
            ));
        }
        UnsealType::Transit => {
            if let Some(t) = &unseal.transit {
                attrs.push(("address", t.address.clone()));
                attrs.push(("key_name", t.key_name.clone()));
                attrs.push((
                    "mount_path",
                    t.mount_path
                        .clone()
                        .unwrap_or_else(|| "transit/".to_string()),
                ));
                if let Some(ns) = &t.namespace {
                    attrs.push(("namespace", ns.clone()));
                }
                if let Some(key) = &t.tls_ca_key {
                    attrs.push(("tls_ca_cert", format!("{SEAL_CREDENTIALS_DIR}/{key}")));
                }
            }
        }
        UnsealType::Awskms => {
            if let Some(a) = &unseal.awskms {
                attrs.push(("region", a.region.clone()));
                attrs.push(("kms_key_id", a.kms_key_id.clone()));
                if let Some(endpoint) = &a.endpoint {
                    attrs.push(("endpoint", endpoint.clone()));
                }
            }
        }
        UnsealType::Gcpckms => {
            if let Some(g) = &unseal.gcpckms {
                attrs.push(("project", g.project.clone()));
                attrs.push(("region", g.region.clone()));
                attrs.push(("key_ring", g.key_ring.clone()));
                attrs.push(("crypto_key", g.crypto_key.clone()));
                if unseal.credentials_secret_ref.is_some() {
                    attrs.push((
                        "credentials",
                        format!("{SEAL_CREDENTIALS_DIR}/credentials.json"),
                    ));
                }
            }
        }
        UnsealType::Azurekeyvault => {
            if let Some(a) = &unseal.azurekeyvault {
                attrs.push(("tenant_id", a.tenant_id.clone()));
                attrs.push(("vault_name", a.vault_name.clone()));
                attrs.push(("key_name", a.key_name.clone()));
                if let Some(env) = &a.environment {
                    attrs.push(("environment", env.clone()));
                }
                if let Some(client) = &a.client_id {
                    attrs.push(("client_id", client.clone()));
                }
            }
        }
    }
    let width = attrs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (key, value) in attrs {
        line(w, &format!("  {key:<width$} = {}", hcl_string(&value)));
    }
    line(w, "}");
}

fn line(w: &mut String, text: &str) {
    // Writing into a String cannot fail.
    let _ = writeln!(w, "{text}");
}

/// `value` as an HCL quoted string: backslashes and quotes escaped, and template sequences
/// (`${`, `%{`) doubled so user input can never become an HCL interpolation.
pub fn hcl_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The ConfigMap carrying `config`.
pub fn config_map(cluster: &ValidatedCluster, config: &str) -> ConfigMap {
    ConfigMap {
        metadata: object_meta(cluster, cluster.names().config_map()),
        data: Some(BTreeMap::from([(
            CONFIG_FILE.to_string(),
            config.to_string(),
        )])),
        ..ConfigMap::default()
    }
}

/// Hash of everything that must restart the pods when it changes (hex SHA-256).
pub fn config_hash(config: &str) -> String {
    hex::encode(Sha256::digest(config.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcl_strings_escape_quotes_backslashes_and_template_sequences() {
        assert_eq!(hcl_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(hcl_string("${x} %{y} $z"), r#""$${x} %%{y} $z""#);
        assert_eq!(hcl_string("a\nb"), r#""a\nb""#);
    }
}
