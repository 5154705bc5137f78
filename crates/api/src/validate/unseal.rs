//! `spec.unseal`: the seal type, its matching options block, each seal's options and the
//! credentials Secret. Secrets never live in the spec: every inline credential field upstream
//! defines is refused in every profile. The type, and a static seal's key source, cannot change
//! after creation.

use std::net::{IpAddr, Ipv6Addr};

use super::ValidationErrors;
use super::checks::{check_secret_ref, check_token, check_url};
use super::rules;
use crate::spec::{OpenBaoCluster, UnsealSpec, UnsealType};

/// The value shown in an error about a refused inline secret: the secret itself must never be
/// echoed into admission responses, Events or logs.
const REDACTED: &str = "<redacted>";

/// Fields of the options blocks that hold secrets; redacted in the value of a "must not be set"
/// error about a whole block.
const SECRET_FIELDS: [&str; 5] = ["token", "secretKey", "sessionToken", "clientSecret", "pin"];

/// Suffixes of the Secrets the operator writes itself; pointing the seal credentials at one of
/// them would hand its content (a root token, a CA key) to the OpenBao container's environment.
const OPERATOR_SECRET_SUFFIXES: [&str; 4] =
    ["-unseal-key", "-root-token", "-tls-ca", "-tls-server"];

/// Option names of KMS plugins that carry secrets; refused in `spec.unseal.kms.config`.
const SECRET_PLUGIN_OPTIONS: [&str; 8] = [
    "token",
    "pin",
    "password",
    "secret_key",
    "session_token",
    "client_secret",
    "bearer_token",
    "api_key",
];

/// At most this many `spec.unseal.kms.config` entries (upstream's limit).
const MAX_KMS_CONFIG: usize = 64;

/// Seals OpenBao 2.7 moved out of the server into KMS plugins ("unknown wrapper" otherwise).
pub(super) const PLUGIN_SEALS_FROM_2_7: [UnsealType; 5] = [
    UnsealType::Awskms,
    UnsealType::Gcpckms,
    UnsealType::Azurekeyvault,
    UnsealType::Ocikms,
    UnsealType::Pkcs11,
];

pub(super) fn validate_unseal(cluster: &OpenBaoCluster, errs: &mut ValidationErrors) {
    let unseal = &cluster.spec.unseal;
    let kind = unseal.type_;
    validate_blocks(unseal, errs);
    // On OpenBao 2.7.0 and later the seals of PLUGIN_SEALS_FROM_2_7 run as KMS plugins; the
    // plugin they need is checked with spec.plugins (`plugins::validate_seal_plugin`).
    if let Some(secret) = &unseal.credentials_secret_ref {
        let p = "spec.unseal.credentialsSecretRef";
        check_secret_ref(errs, p, secret);
        if let Some(suffix) = OPERATOR_SECRET_SUFFIXES
            .iter()
            .find(|s| secret.name.ends_with(*s))
        {
            errs.add(
                format!("{p}.name"),
                &secret.name,
                format!(
                    "must not end with {suffix:?}: names ending in -unseal-key, -root-token, \
                     -tls-ca or -tls-server are the operator's own Secrets, and the seal \
                     credentials are exposed to the OpenBao container; name your Secret \
                     differently"
                ),
            );
        }
        // Kubernetes has no cross-namespace Secret volumes: a Secret elsewhere could never be
        // mounted, and following the reference would let a cluster read another namespace.
        let namespace = cluster.metadata.namespace.as_deref().unwrap_or("default");
        if let Some(ns) = secret.namespace.as_deref().filter(|ns| *ns != namespace) {
            errs.add(
                format!("{p}.namespace"),
                ns,
                format!(
                    "must be the cluster's own namespace {namespace:?} or unset: pods can only \
                     mount Secrets of their own namespace; copy the Secret into {namespace:?}"
                ),
            );
        }
    }
    match kind {
        UnsealType::Static => validate_static(unseal, errs),
        UnsealType::Transit => validate_transit(unseal, errs),
        UnsealType::Awskms => validate_awskms(unseal, errs),
        UnsealType::Gcpckms => validate_gcpckms(unseal, errs),
        UnsealType::Azurekeyvault => validate_azure(unseal, errs),
        UnsealType::Kmip => validate_kmip(unseal, errs),
        UnsealType::Kms => validate_kms(unseal, errs),
        UnsealType::Ocikms => validate_ocikms(unseal, errs),
        UnsealType::Pkcs11 => validate_pkcs11(unseal, errs),
    }
}

/// The options block matching the type is required (static may omit it); every other block is
/// refused, so a block that would be silently ignored is never accepted.
fn validate_blocks(unseal: &UnsealSpec, errs: &mut ValidationErrors) {
    let kind = unseal.type_;
    let set = unseal.blocks_set();
    if kind != UnsealType::Static && !set.contains(&kind) {
        errs.add(
            format!("spec.unseal.{}", kind.block_field()),
            "",
            format!(
                "required when spec.unseal.type is {}: the {} seal's options",
                kind.as_str(),
                kind.as_str()
            ),
        );
    }
    for other in set.into_iter().filter(|t| *t != kind) {
        let field = other.block_field();
        errs.add(
            format!("spec.unseal.{field}"),
            redacted_block(unseal, other),
            format!(
                "must not be set when spec.unseal.type is {}: only the options block matching \
                 the type is allowed; remove it or set spec.unseal.type to {}",
                kind.as_str(),
                other.as_str()
            ),
        );
    }
}

/// Compact JSON of the options block of `kind`, with secret fields redacted.
fn redacted_block(unseal: &UnsealSpec, kind: UnsealType) -> String {
    let value = serde_json::to_value(unseal).unwrap_or_default();
    let mut block = value
        .get(kind.block_field())
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    if let Some(fields) = block.as_object_mut() {
        for secret in SECRET_FIELDS {
            if let Some(v) = fields.get_mut(secret) {
                *v = serde_json::Value::String(REDACTED.to_string());
            }
        }
    }
    block.to_string()
}

/// An inline secret is refused whatever its value, and the value is never echoed.
fn refuse_inline_secret(
    errs: &mut ValidationErrors,
    path: &str,
    value: Option<&str>,
    key: &str,
    env: Option<&str>,
) {
    if value.is_none() {
        return;
    }
    let exposed = env.map_or_else(
        || ", which the pods see as the environment variable of that name".to_string(),
        |env| format!(", which the pods see as {env}"),
    );
    errs.add(
        path,
        REDACTED,
        format!(
            "must not be set: a secret in the spec is stored in plain text in the object and \
             the rendered configuration; put it in the Secret named by \
             spec.unseal.credentialsSecretRef under the key {key:?}{exposed}"
        ),
    );
}

/// An absolute file path inside the container (certificates, keys, libraries).
fn check_file_path(errs: &mut ValidationErrors, path: &str, value: &str, example: &str) {
    if value.is_empty() {
        errs.add(
            path,
            value,
            format!("required: a file path such as {example}"),
        );
    } else if !value.starts_with('/') || value.chars().any(char::is_control) {
        errs.add(
            path,
            value,
            format!(
                "must be an absolute file path inside the container, such as {example} (the \
                 credentials Secret is mounted at /etc/bao/seal-creds)"
            ),
        );
    }
}

/// Free text that may contain spaces (PKCS#11 labels): non-empty, no control characters.
fn check_text(errs: &mut ValidationErrors, path: &str, value: &str, what: &str) {
    if value.is_empty() {
        errs.add(path, value, format!("required: {what}"));
    } else if value.chars().any(char::is_control) {
        errs.add(
            path,
            value,
            format!("must not contain control characters: {what}"),
        );
    }
}

fn validate_static(unseal: &UnsealSpec, errs: &mut ValidationErrors) {
    let Some(s) = &unseal.r#static else {
        return;
    };
    let p = "spec.unseal.static";
    if let Some(key) = &s.current_key {
        let path = key.strip_prefix("file://").unwrap_or_default();
        if !path.starts_with('/') || path.chars().any(char::is_control) {
            // The value may be the key itself: never echo it.
            let shown = if key.starts_with("file://") {
                key.as_str()
            } else {
                REDACTED
            };
            errs.add(
                format!("{p}.currentKey"),
                shown,
                "must be a file:// URL of the key file, such as file:///etc/bao/unseal/key (the \
                 key Secret is mounted at /etc/bao/unseal); an inline key or env:// is refused: \
                 the key belongs in a Secret (spec.unseal.credentialsSecretRef, entry \"key\")",
            );
        }
    }
    if let Some(id) = &s.current_key_id {
        check_token(
            errs,
            &format!("{p}.currentKeyID"),
            id,
            "a permanent identifier of the key",
        );
    }
}

fn validate_transit(unseal: &UnsealSpec, errs: &mut ValidationErrors) {
    let Some(t) = &unseal.transit else {
        return;
    };
    let p = "spec.unseal.transit";
    check_transit_address(errs, &format!("{p}.address"), &t.address);
    check_token(
        errs,
        &format!("{p}.keyName"),
        &t.key_name,
        "the transit key's name",
    );
    if let Some(mount) = &t.mount_path {
        check_token(
            errs,
            &format!("{p}.mountPath"),
            mount,
            "a mount path such as transit/",
        );
    }
    if let Some(ns) = &t.namespace {
        check_token(errs, &format!("{p}.namespace"), ns, "the remote namespace");
    }
    refuse_inline_secret(
        errs,
        &format!("{p}.token"),
        t.token.as_deref(),
        "token",
        Some("VAULT_TOKEN"),
    );
    for (field, value, example) in [
        ("tlsCACert", &t.tls_ca_cert, "/etc/bao/seal-creds/ca.crt"),
        (
            "tlsClientCert",
            &t.tls_client_cert,
            "/etc/bao/seal-creds/tls.crt",
        ),
        (
            "tlsClientKey",
            &t.tls_client_key,
            "/etc/bao/seal-creds/tls.key",
        ),
    ] {
        if let Some(value) = value {
            check_file_path(errs, &format!("{p}.{field}"), value, example);
        }
    }
    match (&t.tls_client_cert, &t.tls_client_key) {
        (Some(cert), None) => errs.add(
            format!("{p}.tlsClientKey"),
            "",
            format!(
                "required when tlsClientCert is set ({cert:?}): a client certificate needs its \
                 key; set both or neither"
            ),
        ),
        (None, Some(key)) => errs.add(
            format!("{p}.tlsClientCert"),
            "",
            format!(
                "required when tlsClientKey is set ({key:?}): a client key needs its \
                 certificate; set both or neither"
            ),
        ),
        _ => {}
    }
    if let Some(name) = &t.tls_server_name {
        check_token(
            errs,
            &format!("{p}.tlsServerName"),
            name,
            "the name in the remote server's certificate",
        );
    }
    if t.tls_skip_verify == Some(true) {
        errs.add(
            format!("{p}.tlsSkipVerify"),
            true,
            "must not be true: the transit server's certificate is always verified, or anyone \
             on the path could capture the seal token and answer unseal requests; give its CA \
             as tlsCACert (for example /etc/bao/seal-creds/ca.crt from the credentials Secret)",
        );
    }
}

/// The transit server: https only (the seal token travels in every request), no credentials,
/// query or fragment, and never this pod itself or a node-local address.
fn check_transit_address(errs: &mut ValidationErrors, path: &str, value: &str) {
    const EXAMPLE: &str = "https://bao-transit.infra.svc:8200";
    if value.is_empty() {
        errs.add(
            path,
            value,
            format!("required: an https URL such as {EXAMPLE}"),
        );
        return;
    }
    let Some(rest) = value.strip_prefix("https://") else {
        errs.add(
            path,
            value,
            format!(
                "must start with https:// (the seal token is sent with every request), such as \
                 {EXAMPLE}"
            ),
        );
        return;
    };
    if value.contains(['@', '?', '#']) {
        errs.add(
            path,
            value,
            format!(
                "must not contain user info (@), a query (?) or a fragment (#): only \
                 https://host[:port][/path], such as {EXAMPLE}; credentials belong in the \
                 credentials Secret"
            ),
        );
        return;
    }
    if let Err(why) = rules::check_http_url(value) {
        errs.add(
            path,
            value,
            format!("must be an https URL such as {EXAMPLE}: {why}"),
        );
        return;
    }
    if let Some(why) = local_host(url_host(rest)) {
        errs.add(
            path,
            value,
            format!(
                "must name a remote OpenBao or Vault server, not {why}: the seal must not \
                 depend on the pod itself or its node"
            ),
        );
    }
}

/// The host of a URL without its scheme: up to the path, without the port, IPv6 unbracketed.
fn url_host(rest: &str) -> &str {
    let authority = rest.split('/').next().unwrap_or_default();
    if let Some(inner) = authority.strip_prefix('[') {
        return inner.split(']').next().unwrap_or_default();
    }
    authority.split(':').next().unwrap_or_default()
}

/// Why `host` is local (loopback, link-local, unspecified, localhost or an ambiguous number).
fn local_host(host: &str) -> Option<&'static str> {
    let lower = host.to_ascii_lowercase();
    if lower == "localhost" || lower.ends_with(".localhost") {
        return Some("localhost");
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) if v4.is_loopback() => Some("a loopback address"),
        Ok(IpAddr::V4(v4)) if v4.is_link_local() => Some("a link-local address"),
        Ok(IpAddr::V4(v4)) if v4.is_unspecified() => Some("the unspecified address"),
        Ok(IpAddr::V6(v6)) => local_v6(v6),
        Ok(IpAddr::V4(_)) => None,
        Err(_) if !host.is_empty() && host.bytes().all(|b| b.is_ascii_digit()) => {
            Some("a bare number (some resolvers read it as an IPv4 address)")
        }
        Err(_) => None,
    }
}

fn local_v6(v6: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return local_host(&v4.to_string());
    }
    if v6.is_loopback() {
        Some("a loopback address")
    } else if v6.is_unspecified() {
        Some("the unspecified address")
    } else if v6.segments()[0] & 0xffc0 == 0xfe80 {
        Some("a link-local address")
    } else {
        None
    }
}

fn validate_awskms(unseal: &UnsealSpec, errs: &mut ValidationErrors) {
    let Some(a) = &unseal.awskms else {
        return;
    };
    let p = "spec.unseal.awskms";
    if a.region.is_empty() {
        errs.add(
            format!("{p}.region"),
            "",
            "required: an AWS region such as eu-west-1",
        );
    } else if !rules::is_aws_region(&a.region) {
        errs.add(
            format!("{p}.region"),
            &a.region,
            "must be an AWS region such as eu-west-1 or us-gov-west-1 (lowercase words joined \
             by '-' and a number)",
        );
    }
    check_token(
        errs,
        &format!("{p}.kmsKeyID"),
        &a.kms_key_id,
        "a KMS key ID, ARN or alias such as alias/openbao-unseal",
    );
    if let Some(endpoint) = &a.endpoint {
        check_url(
            errs,
            &format!("{p}.endpoint"),
            endpoint,
            "https://kms.eu-west-1.amazonaws.com",
        );
    }
    if let Some(access_key) = &a.access_key {
        check_token(
            errs,
            &format!("{p}.accessKey"),
            access_key,
            "an AWS access key ID",
        );
    }
    refuse_inline_secret(
        errs,
        &format!("{p}.secretKey"),
        a.secret_key.as_deref(),
        "AWS_SECRET_ACCESS_KEY",
        None,
    );
    refuse_inline_secret(
        errs,
        &format!("{p}.sessionToken"),
        a.session_token.as_deref(),
        "AWS_SESSION_TOKEN",
        None,
    );
}

fn validate_gcpckms(unseal: &UnsealSpec, errs: &mut ValidationErrors) {
    let Some(g) = &unseal.gcp_cloud_kms else {
        return;
    };
    let p = "spec.unseal.gcpCloudKMS";
    for (field, value, what) in [
        ("project", &g.project, "a GCP project ID"),
        ("region", &g.region, "a location such as global"),
        ("keyRing", &g.key_ring, "a key ring name"),
        ("cryptoKey", &g.crypto_key, "a crypto key name"),
    ] {
        check_token(errs, &format!("{p}.{field}"), value, what);
    }
    if let Some(credentials) = &g.credentials {
        check_file_path(
            errs,
            &format!("{p}.credentials"),
            credentials,
            "/etc/bao/seal-creds/credentials.json",
        );
    }
}

fn validate_azure(unseal: &UnsealSpec, errs: &mut ValidationErrors) {
    let Some(a) = &unseal.azure_key_vault else {
        return;
    };
    let p = "spec.unseal.azureKeyVault";
    check_token(
        errs,
        &format!("{p}.vaultName"),
        &a.vault_name,
        "a Key Vault name",
    );
    check_token(errs, &format!("{p}.keyName"), &a.key_name, "a key name");
    for (field, value, what) in [
        ("tenantID", &a.tenant_id, "an Azure AD tenant ID"),
        ("clientID", &a.client_id, "a service principal's client ID"),
        (
            "resource",
            &a.resource,
            "a Key Vault DNS suffix such as managedhsm.azure.net",
        ),
        (
            "environment",
            &a.environment,
            "an Azure environment such as AZUREPUBLICCLOUD",
        ),
    ] {
        if let Some(value) = value {
            check_token(errs, &format!("{p}.{field}"), value, what);
        }
    }
    refuse_inline_secret(
        errs,
        &format!("{p}.clientSecret"),
        a.client_secret.as_deref(),
        "AZURE_CLIENT_SECRET",
        None,
    );
}

fn validate_kmip(unseal: &UnsealSpec, errs: &mut ValidationErrors) {
    let Some(k) = &unseal.kmip else {
        return;
    };
    let p = "spec.unseal.kmip";
    if let Err(why) = check_host_port(&k.endpoint) {
        errs.add(
            format!("{p}.endpoint"),
            &k.endpoint,
            format!("must be host:port of the KMIP server, such as kmip.example.com:5696: {why}"),
        );
    }
    check_token(
        errs,
        &format!("{p}.kmsKeyID"),
        &k.kms_key_id,
        "the ID of the key on the KMIP server",
    );
    check_file_path(
        errs,
        &format!("{p}.clientCert"),
        &k.client_cert,
        "/etc/bao/seal-creds/tls.crt",
    );
    check_file_path(
        errs,
        &format!("{p}.clientKey"),
        &k.client_key,
        "/etc/bao/seal-creds/tls.key",
    );
    if let Some(ca) = &k.ca_cert {
        check_file_path(
            errs,
            &format!("{p}.caCert"),
            ca,
            "/etc/bao/seal-creds/ca.crt",
        );
    }
    if let Some(name) = &k.server_name {
        check_token(
            errs,
            &format!("{p}.serverName"),
            name,
            "the name in the KMIP server's certificate",
        );
    }
    if let Some(timeout) = k.timeout
        && timeout < 1
    {
        errs.add(
            format!("{p}.timeout"),
            timeout,
            "must be at least 1 (seconds)",
        );
    }
    if let Some(ciphers) = &k.tls12_ciphers {
        check_text(
            errs,
            &format!("{p}.tls12Ciphers"),
            ciphers,
            "a comma-separated list of TLS 1.2 cipher suites",
        );
    }
}

/// `host:port` without a scheme, the port from 1 to 65535; IPv6 in brackets.
fn check_host_port(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("required".to_string());
    }
    if value.contains("://") {
        return Err("no scheme: write host:port only".to_string());
    }
    let (host, port) = if let Some(inner) = value.strip_prefix('[') {
        let (v6, after) = inner
            .split_once("]:")
            .ok_or_else(|| "an IPv6 host is written [fd00::1]:5696".to_string())?;
        if v6.parse::<Ipv6Addr>().is_err() {
            return Err(format!("{v6:?} is not an IPv6 address"));
        }
        (None, after)
    } else {
        let (host, port) = value
            .rsplit_once(':')
            .ok_or_else(|| "the port is missing".to_string())?;
        (Some(host), port)
    };
    if let Some(host) = host
        && !(rules::is_dns1123_subdomain(&host.to_ascii_lowercase())
            || host.parse::<std::net::Ipv4Addr>().is_ok())
    {
        return Err(format!(
            "the host {host:?} must be a DNS name or an IP address"
        ));
    }
    let valid_port = !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u16>().is_ok_and(|n| n > 0);
    if !valid_port {
        return Err(format!(
            "the port {port:?} must be a number from 1 to 65535"
        ));
    }
    Ok(())
}

fn validate_kms(unseal: &UnsealSpec, errs: &mut ValidationErrors) {
    let Some(k) = &unseal.kms else {
        return;
    };
    let p = "spec.unseal.kms";
    let name_ok = !k.plugin_name.is_empty()
        && k.plugin_name.len() <= 128
        && k.plugin_name
            .bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_alphanumeric() || (i > 0 && matches!(b, b'-' | b'_' | b'.')));
    if !name_ok {
        errs.add(
            format!("{p}.pluginName"),
            &k.plugin_name,
            "must be the name of a KMS plugin: letters, digits, '-', '_' and '.', starting \
             with a letter or digit, at most 128 characters; it names the seal stanza",
        );
    }
    if k.config.len() > MAX_KMS_CONFIG {
        errs.add(
            format!("{p}.config"),
            format!("{} entries", k.config.len()),
            format!("must have at most {MAX_KMS_CONFIG} entries"),
        );
    }
    for (key, value) in &k.config {
        let path = super::key_path(&format!("{p}.config"), key);
        if !is_hcl_identifier(key) {
            errs.add(
                &path,
                key,
                "keys must be HCL identifiers (a letter or '_', then letters, digits and '_'), \
                 such as ca_file: each becomes an attribute of the seal stanza",
            );
        } else if SECRET_PLUGIN_OPTIONS.contains(&key.as_str()) {
            errs.add(
                &path,
                REDACTED,
                format!(
                    "must not be set: {key:?} carries a secret, which would be stored in plain \
                     text in the object and the rendered configuration; put it in the Secret \
                     named by spec.unseal.credentialsSecretRef (mounted at /etc/bao/seal-creds \
                     and exposed as environment variables) and point the plugin at it"
                ),
            );
        } else if value.chars().any(char::is_control) {
            errs.add(&path, value, "values must not contain control characters");
        }
    }
}

/// `^[A-Za-z_][A-Za-z0-9_]*$`.
fn is_hcl_identifier(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn validate_ocikms(unseal: &UnsealSpec, errs: &mut ValidationErrors) {
    let Some(o) = &unseal.ocikms else {
        return;
    };
    let p = "spec.unseal.ocikms";
    check_token(
        errs,
        &format!("{p}.keyID"),
        &o.key_id,
        "the OCID of the key",
    );
    check_url(
        errs,
        &format!("{p}.cryptoEndpoint"),
        &o.crypto_endpoint,
        "https://<vault>-crypto.kms.us-ashburn-1.oraclecloud.com",
    );
    check_url(
        errs,
        &format!("{p}.managementEndpoint"),
        &o.management_endpoint,
        "https://<vault>-management.kms.us-ashburn-1.oraclecloud.com",
    );
    if unseal.credentials_secret_ref.is_some() && o.auth_type_api_key != Some(true) {
        errs.add(
            format!("{p}.authTypeAPIKey"),
            o.auth_type_api_key.unwrap_or(false),
            "must be true when spec.unseal.credentialsSecretRef is set: the Secret holds the \
             API key; without it OpenBao authenticates as the instance principal and the \
             Secret would go unused",
        );
    }
}

fn validate_pkcs11(unseal: &UnsealSpec, errs: &mut ValidationErrors) {
    let Some(h) = &unseal.pkcs11 else {
        return;
    };
    let p = "spec.unseal.pkcs11";
    check_file_path(
        errs,
        &format!("{p}.lib"),
        &h.lib,
        "/usr/lib/softhsm/libsofthsm2.so",
    );
    let slot = h.slot.as_deref().filter(|s| !s.is_empty());
    let label = h.token_label.as_deref().filter(|s| !s.is_empty());
    match (slot, label) {
        (None, None) => errs.add(
            format!("{p}.slot"),
            "",
            "exactly one of slot and tokenLabel is required: which token holds the key",
        ),
        (Some(slot), Some(label)) => errs.add(
            format!("{p}.tokenLabel"),
            label,
            format!(
                "must not be set together with slot ({slot:?}): exactly one of slot and \
                 tokenLabel selects the token"
            ),
        ),
        _ => {}
    }
    if let Some(slot) = slot
        && !is_number(slot)
    {
        errs.add(
            format!("{p}.slot"),
            slot,
            "must be a slot number, decimal such as \"2305843009213693953\" or hexadecimal \
             such as \"0x2000000000000001\"",
        );
    }
    if let Some(label) = label {
        check_text(errs, &format!("{p}.tokenLabel"), label, "the token's label");
    }
    check_text(
        errs,
        &format!("{p}.keyLabel"),
        &h.key_label,
        "the label of the key",
    );
    if let Some(id) = &h.key_id {
        let hex = id.strip_prefix("0x").unwrap_or(id);
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            errs.add(
                format!("{p}.keyID"),
                id,
                "must be the key's ID as a hexadecimal string, such as 0x33333435363434373537",
            );
        }
    }
    if let Some(mechanism) = &h.mechanism
        && !is_number(mechanism)
    {
        errs.add(
            format!("{p}.mechanism"),
            mechanism,
            "must be a mechanism number, decimal or hexadecimal such as 0x1087 (CKM_AES_GCM) \
             or 0x0009 (CKM_RSA_PKCS_OAEP)",
        );
    }
    refuse_inline_secret(
        errs,
        &format!("{p}.pin"),
        h.pin.as_deref(),
        "pin",
        Some("BAO_HSM_PIN"),
    );
    if let Some(runtime) = &h.runtime {
        validate_pkcs11_runtime(unseal, runtime, errs);
    }
}

/// Variables the runtime may not set: the ones the operator and OpenBao's own configuration
/// use, and the loader's injection hooks.
const RESERVED_ENV: [&str; 6] = [
    "BAO_HSM_PIN",
    "VAULT_TOKEN",
    "LD_PRELOAD",
    "LD_AUDIT",
    "PATH",
    "HOME",
];

/// `spec.unseal.pkcs11.runtime`: the HSM library's environment. `env` and `fileEnv` name keys
/// of the credentials Secret (mounted, never copied into the spec); `libraryPath` joins
/// `LD_LIBRARY_PATH`.
fn validate_pkcs11_runtime(
    unseal: &UnsealSpec,
    runtime: &crate::spec::Pkcs11Runtime,
    errs: &mut ValidationErrors,
) {
    let p = "spec.unseal.pkcs11.runtime";
    if let Some(path) = &runtime.library_path
        && (!path.starts_with('/')
            || path.contains(':')
            || path.split('/').any(|c| c == "..")
            || path.chars().any(|c| c.is_control() || c.is_whitespace()))
    {
        errs.add(
            format!("{p}.libraryPath"),
            path,
            "must be one absolute directory without '..', ':' or spaces, such as \
             /usr/lib/softhsm",
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    for (field, list) in [("env", &runtime.env), ("fileEnv", &runtime.file_env)] {
        for (i, var) in list.iter().enumerate() {
            let at = format!("{p}.{field}[{i}]");
            let valid_name = var
                .name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && var
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid_name {
                errs.add(
                    format!("{at}.name"),
                    &var.name,
                    "must be an environment variable name such as SOFTHSM2_CONF",
                );
            } else if RESERVED_ENV.contains(&var.name.as_str())
                || var.name == "LD_LIBRARY_PATH"
                || var.name.starts_with("BAO_")
            {
                errs.add(
                    format!("{at}.name"),
                    &var.name,
                    format!(
                        "is reserved (BAO_*, LD_LIBRARY_PATH and {}); the PIN comes from the \
                         credentials Secret key \"pin\", the library path from libraryPath",
                        RESERVED_ENV.join(", ")
                    ),
                );
            } else if !seen.insert(var.name.clone()) {
                errs.add(
                    format!("{at}.name"),
                    &var.name,
                    "is set twice in env and fileEnv; each variable once",
                );
            }
            let valid_key = !var.secret_key.is_empty()
                && var
                    .secret_key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !valid_key {
                errs.add(
                    format!("{at}.secretKey"),
                    &var.secret_key,
                    "must be a key of the credentials Secret (letters, digits, '-', '_', '.')",
                );
            }
        }
    }
    if (!runtime.env.is_empty() || !runtime.file_env.is_empty())
        && unseal.credentials_secret_ref.is_none()
    {
        errs.add(
            "spec.unseal.credentialsSecretRef",
            "null",
            format!("required when {p}.env or {p}.fileEnv is set: their keys are read from it"),
        );
    }
}

/// A decimal number, or a hexadecimal one prefixed with 0x.
fn is_number(s: &str) -> bool {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        None => !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()),
    }
}

/// `spec.unseal.type` cannot change after creation, nor where a static seal's key comes from.
pub(super) fn validate_unseal_update(
    old: &OpenBaoCluster,
    new: &OpenBaoCluster,
    errs: &mut ValidationErrors,
) {
    let (old_unseal, new_unseal) = (&old.spec.unseal, &new.spec.unseal);
    if old_unseal.type_ != new_unseal.type_ {
        errs.add(
            "spec.unseal.type",
            new_unseal.type_.as_str(),
            format!(
                "is immutable (it was {}): changing the seal requires an offline seal migration \
                 of the Raft data, which the operator does not perform",
                old_unseal.type_.as_str()
            ),
        );
        return;
    }
    if new_unseal.type_ != UnsealType::Static {
        return;
    }
    let name = |u: &UnsealSpec| u.credentials_secret_ref.as_ref().map(|s| s.name.clone());
    let (before, after) = (name(old_unseal), name(new_unseal));
    if before != after {
        let shown = |n: &Option<String>| {
            n.as_deref().map_or_else(
                || "the operator-generated key".to_string(),
                |n| format!("Secret {n:?}"),
            )
        };
        errs.add(
            "spec.unseal.credentialsSecretRef",
            after.as_deref().unwrap_or(""),
            format!(
                "cannot be added, changed or removed after creation on a static seal (the key \
                 came from {}): the data is sealed with that key, and another key could not \
                 unseal it",
                shown(&before)
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_on_the_pod_or_its_node_are_local() {
        for host in [
            "localhost",
            "vault.localhost",
            "127.0.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "2130706433",
        ] {
            assert!(local_host(host).is_some(), "{host}");
        }
        for host in ["vault.example.com", "10.0.0.1", "fd00::1", "bao-1"] {
            assert!(local_host(host).is_none(), "{host}");
        }
    }

    #[test]
    fn the_host_of_a_url_drops_the_port_path_and_brackets() {
        assert_eq!(url_host("vault:8200/v1"), "vault");
        assert_eq!(url_host("[fe80::1]:8200"), "fe80::1");
        assert_eq!(url_host("vault"), "vault");
    }

    #[test]
    fn kmip_endpoints_are_host_and_port() {
        for ok in ["kmip.example.com:5696", "10.0.0.1:5696", "[fd00::1]:5696"] {
            assert!(check_host_port(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "kmip.example.com",
            "https://kmip:5696",
            "kmip:0",
            "kmip:x",
            "[zz]:1",
            "bad host:1",
        ] {
            assert!(check_host_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hcl_identifiers_start_with_a_letter_or_underscore() {
        for ok in ["ca_file", "_x", "A1"] {
            assert!(is_hcl_identifier(ok), "{ok}");
        }
        for bad in ["", "1a", "ca-file", "a.b", "a b"] {
            assert!(!is_hcl_identifier(bad), "{bad}");
        }
    }
}
