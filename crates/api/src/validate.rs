//! `validate()`: every semantic rule of the OpenBaoCluster spec, returning every error with its
//! field path, the offending value and what is allowed. The webhook, the reconciler and the
//! `render` CLI all call this one function; `validate_update` adds the immutability rules and
//! `warnings` lists legal but risky settings for admission warnings.
//!
//! The format checks themselves (names, CIDRs, durations, quantities, cron ...) live in
//! [`rules`] so builders and the webhook can reuse them.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::names::MAX_CLUSTER_NAME_LEN;
use crate::spec::{
    BackupProvider, BackupSpec, Configuration, GatewaySpec, NetworkSpec, OpenBaoCluster, SecretRef,
    ServiceSpec, ServiceType, StorageSpec, TlsMode, TlsSpec, UnsealSpec, UnsealType,
};

/// One invalid field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Path of the field, for example `spec.network.ingressRules[0].ports[1].endPort`.
    pub path: String,
    /// The offending value as the user wrote it (rendered compactly).
    pub value: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl FieldError {
    /// An error at `path` with `value` and a message saying what is allowed.
    pub fn new(
        path: impl Into<String>,
        value: impl fmt::Display,
        message: impl Into<String>,
    ) -> Self {
        Self {
            path: path.into(),
            value: value.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: invalid value {:?}: {}",
            self.path, self.value, self.message
        )
    }
}

/// Every field error found in one object.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// True when no error was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of errors.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The errors.
    pub fn iter(&self) -> impl Iterator<Item = &FieldError> {
        self.0.iter()
    }

    /// Record one error.
    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// Record an error at `path` with `value` and a message saying what is allowed.
    pub fn add(
        &mut self,
        path: impl Into<String>,
        value: impl fmt::Display,
        message: impl Into<String>,
    ) {
        self.push(FieldError::new(path, value, message));
    }

    /// Whether some error's path equals `path`.
    pub fn has_path(&self, path: &str) -> bool {
        self.0.iter().any(|e| e.path == path)
    }

    /// `Ok(())` when empty, the errors otherwise.
    pub fn into_result(self) -> Result<(), ValidationErrors> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl IntoIterator for ValidationErrors {
    type Item = FieldError;
    type IntoIter = std::vec::IntoIter<FieldError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

/// `base.key` for a plain key, `base["key"]` for a map key with dots, slashes or spaces (label
/// keys, annotations), so a path stays unambiguous. Shared with `decode` so both spell paths alike.
pub fn key_path(base: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    match (base.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{base}.{key}"),
        (_, false) => format!("{base}[{}]", quote(key)),
    }
}

/// A double-quoted, escaped rendering of `s` (JSON string syntax).
fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

pub mod rules {
    //! Format checks shared by `validate`, the builders and the webhook: Kubernetes names,
    //! label keys and values, IP addresses and CIDRs, Go durations, quantities, cron schedules,
    //! image references, URLs and object-store bucket names. `is_*` answer yes or no; `check_*`
    //! and `parse_*` also say what is wrong, in words meant for the user.

    use std::net::IpAddr;
    use std::time::Duration;

    use ipnet::IpNet;

    /// Longest DNS-1123 / DNS-1035 label.
    pub const DNS_LABEL_MAX_LEN: usize = 63;
    /// Longest DNS-1123 subdomain.
    pub const DNS_SUBDOMAIN_MAX_LEN: usize = 253;
    /// Longest label value and name part of a qualified name.
    pub const LABEL_VALUE_MAX_LEN: usize = 63;

    fn is_lower_alnum(b: u8) -> bool {
        b.is_ascii_lowercase() || b.is_ascii_digit()
    }

    /// `[a-z0-9]([-a-z0-9]*[a-z0-9])?` without a length limit.
    fn is_label_shape(s: &str) -> bool {
        let b = s.as_bytes();
        match (b.first(), b.last()) {
            (Some(&first), Some(&last)) => {
                is_lower_alnum(first)
                    && is_lower_alnum(last)
                    && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
            }
            _ => false,
        }
    }

    /// DNS-1123 label (namespace names, most object names): 1 to 63 lowercase letters, digits
    /// and '-', starting and ending with a letter or digit.
    pub fn is_dns1123_label(s: &str) -> bool {
        s.len() <= DNS_LABEL_MAX_LEN && is_label_shape(s)
    }

    /// DNS-1035 label shape without the length limit: a DNS-1123 label that starts with a letter.
    pub fn is_dns1035_label_shape(s: &str) -> bool {
        is_label_shape(s) && s.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
    }

    /// DNS-1035 label (Service names, the cluster name): like a DNS-1123 label but starting
    /// with a letter, because these names end up as DNS labels that must not look numeric.
    pub fn is_dns1035_label(s: &str) -> bool {
        s.len() <= DNS_LABEL_MAX_LEN && is_dns1035_label_shape(s)
    }

    /// DNS-1123 subdomain (Secret, StorageClass and most object names): at most 253
    /// characters, dot-separated DNS-1123 label shapes (Kubernetes does not limit each part).
    pub fn is_dns1123_subdomain(s: &str) -> bool {
        !s.is_empty() && s.len() <= DNS_SUBDOMAIN_MAX_LEN && s.split('.').all(is_label_shape)
    }

    /// A DNS name for a certificate SAN or a Gateway hostname: a lowercase DNS-1123 subdomain
    /// whose labels are at most 63 characters, optionally prefixed by `*.` when
    /// `allow_wildcard`.
    pub fn is_dns_name(s: &str, allow_wildcard: bool) -> bool {
        let name = match s.strip_prefix("*.") {
            Some(rest) if allow_wildcard => rest,
            _ => s,
        };
        is_dns1123_subdomain(name) && name.split('.').all(|l| l.len() <= DNS_LABEL_MAX_LEN)
    }

    /// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, the shape of label values and name parts.
    fn is_label_name_shape(s: &str) -> bool {
        let b = s.as_bytes();
        match (b.first(), b.last()) {
            (Some(first), Some(last)) => {
                first.is_ascii_alphanumeric()
                    && last.is_ascii_alphanumeric()
                    && b.iter()
                        .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
            }
            _ => false,
        }
    }

    /// Check a qualified name (label and annotation keys, selector keys): an optional
    /// DNS-subdomain prefix and '/', then a name of at most 63 letters, digits, '-', '_' and
    /// '.', starting and ending with a letter or digit.
    pub fn check_qualified_name(s: &str) -> Result<(), String> {
        let (prefix, name) = match s.split_once('/') {
            Some((prefix, name)) => (Some(prefix), name),
            None => (None, s),
        };
        if let Some(prefix) = prefix {
            if name.contains('/') {
                return Err("must contain at most one '/'".to_string());
            }
            if prefix.is_empty() {
                return Err("the prefix before '/' must not be empty".to_string());
            }
            if !is_dns1123_subdomain(prefix) {
                return Err(format!(
                    "the prefix {prefix:?} must be a DNS subdomain such as example.com \
                     (lowercase letters, digits, '-' and '.', at most 253 characters)"
                ));
            }
        }
        if name.is_empty() {
            return Err("the name part must not be empty".to_string());
        }
        if name.len() > LABEL_VALUE_MAX_LEN {
            return Err(format!(
                "the name part must be at most {LABEL_VALUE_MAX_LEN} characters (it has {})",
                name.len()
            ));
        }
        if !is_label_name_shape(name) {
            return Err(
                "the name part must consist of letters, digits, '-', '_' or '.', and \
                        start and end with a letter or digit"
                    .to_string(),
            );
        }
        Ok(())
    }

    /// Whether `s` is a qualified name (see [`check_qualified_name`]).
    pub fn is_qualified_name(s: &str) -> bool {
        check_qualified_name(s).is_ok()
    }

    /// Check a label value: empty, or at most 63 letters, digits, '-', '_' and '.', starting
    /// and ending with a letter or digit.
    pub fn check_label_value(s: &str) -> Result<(), String> {
        if s.is_empty() {
            return Ok(());
        }
        if s.len() > LABEL_VALUE_MAX_LEN {
            return Err(format!(
                "must be at most {LABEL_VALUE_MAX_LEN} characters (it has {})",
                s.len()
            ));
        }
        if !is_label_name_shape(s) {
            return Err(
                "must be empty or consist of letters, digits, '-', '_' or '.', and \
                        start and end with a letter or digit"
                    .to_string(),
            );
        }
        Ok(())
    }

    /// Whether `s` is a valid label value (see [`check_label_value`]).
    pub fn is_label_value(s: &str) -> bool {
        check_label_value(s).is_ok()
    }

    /// A Secret data key: letters, digits, '-', '_' and '.', at most 253 characters.
    pub fn is_config_map_key(s: &str) -> bool {
        !s.is_empty()
            && s.len() <= DNS_SUBDOMAIN_MAX_LEN
            && s != "."
            && s != ".."
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    }

    /// An IANA service name (a named port): 1 to 15 lowercase letters, digits and '-', at
    /// least one letter, no leading, trailing or double '-'.
    pub fn is_iana_svc_name(s: &str) -> bool {
        let b = s.as_bytes();
        !b.is_empty()
            && b.len() <= 15
            && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
            && b.iter().any(u8::is_ascii_lowercase)
            && !s.starts_with('-')
            && !s.ends_with('-')
            && !s.contains("--")
    }

    /// One numeric identifier without leading zeros.
    fn is_numeric_identifier(s: &str) -> bool {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
    }

    /// Check a semantic version `X.Y.Z` with an optional `-pre.release`, no leading `v` and no
    /// `+build` metadata (the version becomes an image tag, and tags cannot contain '+').
    pub fn check_semver(s: &str) -> Result<(), String> {
        if s.is_empty() {
            return Err("must not be empty".to_string());
        }
        if s.starts_with('v') || s.starts_with('V') {
            return Err("must not start with \"v\"".to_string());
        }
        if s.contains('+') {
            return Err(
                "build metadata (+...) is not allowed: the version is used as the \
                        image tag, and tags cannot contain '+'"
                    .to_string(),
            );
        }
        if s.len() > 128 {
            return Err("must be at most 128 characters (it becomes an image tag)".to_string());
        }
        let (core, pre) = match s.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (s, None),
        };
        let parts: Vec<&str> = core.split('.').collect();
        if parts.len() != 3 || !parts.iter().all(|p| is_numeric_identifier(p)) {
            return Err("must have three numeric parts X.Y.Z without leading zeros".to_string());
        }
        if let Some(pre) = pre {
            let ok = pre.split('.').all(|id| {
                !id.is_empty()
                    && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && (!id.bytes().all(|b| b.is_ascii_digit()) || is_numeric_identifier(id))
            });
            if !ok {
                return Err(
                    "the pre-release must be dot-separated identifiers of letters, \
                            digits and '-' (numeric ones without leading zeros)"
                        .to_string(),
                );
            }
        }
        Ok(())
    }

    /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`: one component of an image repository path.
    fn is_image_path_component(c: &str) -> bool {
        let b = c.as_bytes();
        if b.is_empty() || !is_lower_alnum(b[0]) || !is_lower_alnum(b[b.len() - 1]) {
            return false;
        }
        let mut i = 0;
        while i < b.len() {
            if is_lower_alnum(b[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < b.len() && !is_lower_alnum(b[i]) {
                i += 1;
            }
            let sep = &c[start..i];
            let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
            if !ok {
                return false;
            }
        }
        true
    }

    /// `host[:port]` of an image registry.
    fn is_registry_host(s: &str) -> bool {
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let Some((v6, after)) = rest.split_once(']') else {
                return false;
            };
            if v6.parse::<std::net::Ipv6Addr>().is_err() {
                return false;
            }
            match after.strip_prefix(':') {
                Some(port) => ("", Some(port)),
                None if after.is_empty() => ("", None),
                None => return false,
            }
        } else {
            match s.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (s, None),
            }
        };
        let host_ok = s.starts_with('[')
            || (!host.is_empty()
                && host.split('.').all(|l| {
                    let b = l.as_bytes();
                    !b.is_empty()
                        && b[0].is_ascii_alphanumeric()
                        && b[b.len() - 1].is_ascii_alphanumeric()
                        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
                }));
        let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0));
        host_ok && port_ok
    }

    /// Check a container image reference `[registry[:port]/]repository[:tag][@sha256:<64 hex>]`
    /// (the grammar of the distribution project, with digests limited to sha256).
    pub fn check_image_reference(s: &str) -> Result<(), String> {
        if s.is_empty() {
            return Err("must not be empty".to_string());
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must not contain whitespace".to_string());
        }
        let (rest, digest) = match s.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest)),
            None => (s, None),
        };
        if let Some(digest) = digest {
            let ok = digest.strip_prefix("sha256:").is_some_and(|hex| {
                hex.len() == 64
                    && hex
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            });
            if !ok {
                return Err(
                    "the digest must be sha256: followed by 64 lowercase hex digits".to_string(),
                );
            }
        }
        let last_slash = rest.rfind('/');
        let tag_at = rest
            .rfind(':')
            .filter(|&colon| last_slash.is_none_or(|slash| colon > slash));
        let (name, tag) = match tag_at {
            Some(at) => (&rest[..at], Some(&rest[at + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            let b = tag.as_bytes();
            let ok = !b.is_empty()
                && b.len() <= 128
                && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
                && b.iter()
                    .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
            if !ok {
                return Err(
                    "the tag must be 1 to 128 letters, digits, '_', '.' and '-', not \
                            starting with '.' or '-'"
                        .to_string(),
                );
            }
        }
        if name.is_empty() {
            return Err("the repository must not be empty".to_string());
        }
        if name.len() > 255 {
            return Err("the repository must be at most 255 characters".to_string());
        }
        let components: Vec<&str> = name.split('/').collect();
        let first = components[0];
        let has_registry = components.len() > 1
            && (first.contains('.')
                || first.contains(':')
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()));
        let path = if has_registry {
            if !is_registry_host(first) {
                return Err(format!(
                    "the registry {first:?} must be a host name or IP address with an optional \
                     port, such as quay.io or registry.local:5000"
                ));
            }
            &components[1..]
        } else {
            &components[..]
        };
        for component in path {
            if component.bytes().any(|b| b.is_ascii_uppercase()) {
                return Err("the repository must be lowercase".to_string());
            }
            if !is_image_path_component(component) {
                return Err(format!(
                    "the repository component {component:?} must be lowercase letters and \
                     digits, separated by '.', '_', '__' or '-'"
                ));
            }
        }
        Ok(())
    }

    /// Check an `http://` or `https://` URL with a host, an optional port and an optional path;
    /// credentials in the URL are refused because they belong in a Secret.
    pub fn check_http_url(s: &str) -> Result<(), String> {
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must not contain whitespace".to_string());
        }
        let Some(rest) = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
        else {
            return Err("must start with https:// or http://".to_string());
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..end];
        if authority.is_empty() {
            return Err("must include a host".to_string());
        }
        if authority.contains('@') {
            return Err(
                "must not contain credentials (user:password@); put them in the \
                        credentials Secret"
                    .to_string(),
            );
        }
        let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
            let Some((v6, after)) = inner.split_once(']') else {
                return Err("an IPv6 host must be written in brackets, such as [fd00::1]".into());
            };
            if v6.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(format!("{v6:?} is not an IPv6 address"));
            }
            match after.strip_prefix(':') {
                Some(port) => (None, Some(port)),
                None if after.is_empty() => (None, None),
                None => return Err("unexpected characters after the IPv6 host".to_string()),
            }
        } else {
            match authority.split_once(':') {
                Some((host, port)) => (Some(host), Some(port)),
                None => (Some(authority), None),
            }
        };
        if let Some(host) = host {
            let ok = host.parse::<std::net::Ipv4Addr>().is_ok()
                || (host.len() <= DNS_SUBDOMAIN_MAX_LEN
                    && host.split('.').all(|l| {
                        let b = l.as_bytes();
                        !b.is_empty()
                            && b.len() <= DNS_LABEL_MAX_LEN
                            && b[0].is_ascii_alphanumeric()
                            && b[b.len() - 1].is_ascii_alphanumeric()
                            && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
                    }));
            if !ok {
                return Err(format!(
                    "the host {host:?} must be a DNS name or an IP address (IPv6 in brackets)"
                ));
            }
        }
        if let Some(port) = port {
            let ok = !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u16>().is_ok_and(|n| n > 0);
            if !ok {
                return Err(format!(
                    "the port {port:?} must be a number from 1 to 65535"
                ));
            }
        }
        Ok(())
    }

    /// Whether `s` has the shape of an AWS region: lowercase words joined by '-' and a final
    /// number, such as `eu-west-1` or `us-gov-west-1`.
    pub fn is_aws_region(s: &str) -> bool {
        let parts: Vec<&str> = s.split('-').collect();
        parts.len() >= 3
            && parts.last().is_some_and(|n| {
                (1..=2).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit())
            })
            && parts[..parts.len() - 1]
                .iter()
                .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
    }

    /// Check an S3 bucket name: 3 to 63 lowercase letters, digits, '.' and '-', starting and
    /// ending with a letter or digit, no "..", not shaped like an IP address.
    pub fn check_s3_bucket_name(s: &str) -> Result<(), String> {
        if !(3..=63).contains(&s.len()) {
            return Err(format!("must be 3 to 63 characters (it has {})", s.len()));
        }
        if !s
            .bytes()
            .all(|b| is_lower_alnum(b) || b == b'.' || b == b'-')
        {
            return Err("must consist of lowercase letters, digits, '.' and '-'".to_string());
        }
        let b = s.as_bytes();
        if !is_lower_alnum(b[0]) || !is_lower_alnum(b[b.len() - 1]) {
            return Err("must start and end with a lowercase letter or digit".to_string());
        }
        if s.contains("..") || s.contains(".-") || s.contains("-.") {
            return Err("must not contain \"..\", \".-\" or \"-.\"".to_string());
        }
        if s.parse::<std::net::Ipv4Addr>().is_ok() {
            return Err("must not be formatted as an IP address".to_string());
        }
        if s.starts_with("xn--") || s.ends_with("-s3alias") || s.ends_with("--ol-s3") {
            return Err(
                "must not start with xn-- or end with -s3alias or --ol-s3 (reserved by S3)"
                    .to_string(),
            );
        }
        Ok(())
    }

    /// Check a Google Cloud Storage bucket name: 3 to 63 characters (222 with dots, each part
    /// at most 63), lowercase letters, digits, '-', '_' and '.', starting and ending with a
    /// letter or digit.
    pub fn check_gcs_bucket_name(s: &str) -> Result<(), String> {
        let max = if s.contains('.') { 222 } else { 63 };
        if s.len() < 3 || s.len() > max {
            return Err(format!(
                "must be 3 to 63 characters, or up to 222 with dots (it has {})",
                s.len()
            ));
        }
        if !s
            .bytes()
            .all(|b| is_lower_alnum(b) || matches!(b, b'.' | b'-' | b'_'))
        {
            return Err("must consist of lowercase letters, digits, '-', '_' and '.'".to_string());
        }
        let b = s.as_bytes();
        if !is_lower_alnum(b[0]) || !is_lower_alnum(b[b.len() - 1]) {
            return Err("must start and end with a lowercase letter or digit".to_string());
        }
        if s.split('.').any(|p| p.is_empty() || p.len() > 63) {
            return Err("each dot-separated part must be 1 to 63 characters".to_string());
        }
        if s.parse::<std::net::Ipv4Addr>().is_ok() || s.starts_with("goog") {
            return Err("must not be an IP address or start with \"goog\"".to_string());
        }
        Ok(())
    }

    /// Check an Azure Blob Storage container name: 3 to 63 lowercase letters, digits and '-',
    /// starting and ending with a letter or digit, no "--".
    pub fn check_azure_container_name(s: &str) -> Result<(), String> {
        if !(3..=63).contains(&s.len()) {
            return Err(format!("must be 3 to 63 characters (it has {})", s.len()));
        }
        if !is_label_shape(s) || s.contains("--") {
            return Err(
                "must consist of lowercase letters, digits and single '-', starting \
                        and ending with a letter or digit"
                    .to_string(),
            );
        }
        Ok(())
    }

    /// Parse an IP address (no prefix length, no zone).
    pub fn parse_ip(s: &str) -> Result<IpAddr, String> {
        if s.contains('/') {
            return Err("must be a single IP address, not a CIDR".to_string());
        }
        s.parse::<IpAddr>()
            .map_err(|_| "must be an IPv4 address such as 10.0.0.1 or an IPv6 address such as fd00::1 (no leading zeros in IPv4)".to_string())
    }

    /// Parse a CIDR such as `10.0.0.0/8` or `fd00::/8`. The address must be the network
    /// address (host bits zero): `10.0.0.1/8` is refused with the canonical form named, because
    /// such a typo usually means the user meant something narrower than what they would get.
    pub fn parse_cidr(s: &str) -> Result<IpNet, String> {
        let Some((addr, prefix)) = s.split_once('/') else {
            return Err(match s.parse::<IpAddr>() {
                Ok(IpAddr::V4(_)) => format!("missing prefix length; for one address write {s}/32"),
                Ok(IpAddr::V6(_)) => {
                    format!("missing prefix length; for one address write {s}/128")
                }
                Err(_) => "missing prefix length".to_string(),
            });
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{addr:?} is not an IP address"))?;
        let max = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        let prefix_ok = !prefix.is_empty()
            && prefix.len() <= 3
            && prefix.bytes().all(|b| b.is_ascii_digit())
            && (prefix == "0" || !prefix.starts_with('0'));
        let prefix: u8 = match prefix.parse::<u8>() {
            Ok(p) if prefix_ok && p <= max => p,
            _ => {
                return Err(format!(
                    "the prefix length must be a number from 0 to {max} for an {} address",
                    if max == 32 { "IPv4" } else { "IPv6" }
                ));
            }
        };
        let net = IpNet::new(addr, prefix).map_err(|_| "invalid prefix length".to_string())?;
        if net.addr() != net.network() {
            return Err(format!(
                "host bits must be zero; the canonical form is {}",
                net.trunc()
            ));
        }
        Ok(net)
    }

    const NANOS_PER_SEC: u128 = 1_000_000_000;

    /// Parse a Go duration (`time.ParseDuration`) such as `720h`, `1h30m`, `90m`, `1.5h` or
    /// `500ms`: a sequence of numbers with units ns, us (µs), ms, s, m, h. Signs are refused
    /// because every duration in the spec is a positive span.
    pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
        if s.is_empty() {
            return Err("must not be empty".to_string());
        }
        if s.starts_with('-') || s.starts_with('+') {
            return Err("must be positive, without a sign".to_string());
        }
        if s == "0" {
            return Ok(Duration::ZERO);
        }
        let mut rest = s;
        let mut total: u128 = 0;
        while !rest.is_empty() {
            let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            let int_part = &rest[..int_len];
            rest = &rest[int_len..];
            let mut frac_part = "";
            if let Some(after) = rest.strip_prefix('.') {
                let frac_len = after.bytes().take_while(u8::is_ascii_digit).count();
                frac_part = &after[..frac_len];
                rest = &after[frac_len..];
            }
            if int_part.is_empty() && frac_part.is_empty() {
                return Err("expected a number before each unit".to_string());
            }
            let units: [(&str, u128); 8] = [
                ("ns", 1),
                ("us", 1_000),
                ("µs", 1_000),
                ("μs", 1_000),
                ("ms", 1_000_000),
                ("h", 3_600 * NANOS_PER_SEC),
                ("m", 60 * NANOS_PER_SEC),
                ("s", NANOS_PER_SEC),
            ];
            let Some((unit, per)) = units.iter().find(|(u, _)| rest.starts_with(u)) else {
                return Err("each number needs a unit: h, m, s, ms, us or ns".to_string());
            };
            rest = &rest[unit.len()..];
            let int: u128 = if int_part.is_empty() {
                0
            } else {
                int_part
                    .parse::<u128>()
                    .map_err(|_| "is too large".to_string())?
            };
            // Fraction digits beyond 18 are below a nanosecond of any unit up to hours.
            let frac_digits = &frac_part[..frac_part.len().min(18)];
            let mut frac: u128 = 0;
            let mut scale: u128 = 1;
            for d in frac_digits.bytes() {
                frac = frac * 10 + u128::from(d - b'0');
                scale *= 10;
            }
            let part = int
                .checked_mul(*per)
                .and_then(|v| v.checked_add(frac * per / scale))
                .ok_or_else(|| "is too large".to_string())?;
            total = total
                .checked_add(part)
                .ok_or_else(|| "is too large".to_string())?;
            if total > i64::MAX as u128 {
                return Err("is too large (at most about 2562047h)".to_string());
            }
        }
        let nanos = u64::try_from(total).map_err(|_| "is too large".to_string())?;
        Ok(Duration::from_nanos(nanos))
    }

    /// A parsed Kubernetes quantity.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Quantity {
        /// True for a negative quantity such as `-1Gi`.
        pub negative: bool,
        /// True when the value is exactly zero.
        pub zero: bool,
        /// The absolute value in base units (bytes for storage), rounded up to a whole unit as
        /// Kubernetes does for storage requests.
        pub ceil_units: u64,
    }

    /// Significant digits kept exactly; further digits only round the value up.
    const QUANTITY_DIGITS: usize = 20;

    /// Parse a Kubernetes quantity: an optionally signed decimal number (`10`, `1.5`, `.5`)
    /// followed by a binary suffix (Ki Mi Gi Ti Pi Ei), a decimal suffix (n u m k M G T P E) or
    /// a decimal exponent (`1e9`, `5E-3`).
    pub fn parse_quantity(s: &str) -> Result<Quantity, String> {
        let (negative, body) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let number_len = body
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let (number, suffix) = body.split_at(number_len);
        let (int_part, frac_part) = match number.split_once('.') {
            Some((i, f)) => (i, f),
            None => (number, ""),
        };
        if (int_part.is_empty() && frac_part.is_empty()) || frac_part.contains('.') {
            return Err("must start with a number such as 10 or 1.5".to_string());
        }
        let (exp2, mut exp10): (u32, i64) = match suffix {
            "" => (0, 0),
            "Ki" => (10, 0),
            "Mi" => (20, 0),
            "Gi" => (30, 0),
            "Ti" => (40, 0),
            "Pi" => (50, 0),
            "Ei" => (60, 0),
            "n" => (0, -9),
            "u" => (0, -6),
            "m" => (0, -3),
            "k" => (0, 3),
            "M" => (0, 6),
            "G" => (0, 9),
            "T" => (0, 12),
            "P" => (0, 15),
            "E" => (0, 18),
            other => {
                let exponent = other
                    .strip_prefix('e')
                    .or_else(|| other.strip_prefix('E'))
                    .and_then(|e| {
                        let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
                        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then(
                            || {
                                // Clamp: anything past 1000 is out of range either way.
                                let n = digits.parse::<i64>().unwrap_or(i64::MAX).min(1000);
                                if e.starts_with('-') { -n } else { n }
                            },
                        )
                    });
                match exponent {
                    Some(n) => (0, n),
                    None => {
                        return Err(format!(
                            "unknown suffix {other:?}: use Ki, Mi, Gi, Ti, Pi, Ei, k, M, G, T, \
                             P, E or an integer exponent such as e9"
                        ));
                    }
                }
            }
        };
        // Normalise to an integer mantissa of significant digits and a power of ten.
        let digits: String = format!("{int_part}{frac_part}");
        exp10 -= frac_part.len() as i64;
        let significant = digits.trim_start_matches('0');
        let zero = significant.is_empty();
        let kept = &significant[..significant.len().min(QUANTITY_DIGITS)];
        let dropped = &significant[kept.len()..];
        exp10 += dropped.len() as i64;
        let mut mantissa: u128 = 0;
        for d in kept.bytes() {
            mantissa = mantissa * 10 + u128::from(d - b'0');
        }
        if dropped.bytes().any(|b| b != b'0') {
            mantissa += 1;
        }
        let too_large = || "is too large: at most 9223372036854775807 base units".to_string();
        let scaled = mantissa << exp2;
        let ceil = if zero {
            0
        } else if exp10 >= 0 {
            if exp10 > 38 {
                return Err(too_large());
            }
            scaled
                .checked_mul(10u128.pow(exp10 as u32))
                .ok_or_else(too_large)?
        } else if -exp10 > 38 {
            1
        } else {
            scaled.div_ceil(10u128.pow((-exp10) as u32))
        };
        let ceil_units = u64::try_from(ceil)
            .ok()
            .filter(|v| *v <= i64::MAX as u64)
            .ok_or_else(too_large)?;
        Ok(Quantity {
            negative: negative && !zero,
            zero,
            ceil_units,
        })
    }

    /// A parsed 5-field cron schedule. Each field is a bit set: bit `n` set means value `n`
    /// matches. Day-of-week bit 0 is Sunday (7 is folded into 0).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct CronSchedule {
        /// Minutes 0-59.
        pub minutes: u64,
        /// Hours 0-23.
        pub hours: u32,
        /// Days of the month 1-31.
        pub days_of_month: u32,
        /// Months 1-12.
        pub months: u16,
        /// Days of the week 0-6 (Sunday = 0).
        pub days_of_week: u8,
        /// Day-of-month was restricted (did not start with `*`).
        pub day_of_month_restricted: bool,
        /// Day-of-week was restricted (did not start with `*`).
        pub day_of_week_restricted: bool,
    }

    impl CronSchedule {
        /// Whether the schedule fires at this minute. As in classic cron, when both the day of
        /// the month and the day of the week are restricted, either one matching is enough.
        pub fn matches(&self, minute: u32, hour: u32, day: u32, month: u32, weekday: u32) -> bool {
            let bit = |set: u64, n: u32| n < 64 && set & (1u64 << n) != 0;
            let dom = bit(u64::from(self.days_of_month), day);
            let dow = bit(u64::from(self.days_of_week), weekday % 7);
            let day_ok = if self.day_of_month_restricted && self.day_of_week_restricted {
                dom || dow
            } else {
                dom && dow
            };
            bit(self.minutes, minute)
                && bit(u64::from(self.hours), hour)
                && bit(u64::from(self.months), month)
                && day_ok
        }
    }

    const MONTH_NAMES: [&str; 12] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

    struct CronField {
        name: &'static str,
        min: u32,
        max: u32,
        /// Names for `min`, `min + 1`, ...
        names: &'static [&'static str],
        allowed: &'static str,
    }

    const CRON_FIELDS: [CronField; 5] = [
        CronField {
            name: "minute",
            min: 0,
            max: 59,
            names: &[],
            allowed: "0-59",
        },
        CronField {
            name: "hour",
            min: 0,
            max: 23,
            names: &[],
            allowed: "0-23",
        },
        CronField {
            name: "day-of-month",
            min: 1,
            max: 31,
            names: &[],
            allowed: "1-31",
        },
        CronField {
            name: "month",
            min: 1,
            max: 12,
            names: &MONTH_NAMES,
            allowed: "1-12 or JAN-DEC",
        },
        CronField {
            name: "day-of-week",
            min: 0,
            max: 7,
            names: &DAY_NAMES,
            allowed: "0-7 or SUN-SAT (0 and 7 are Sunday)",
        },
    ];

    fn cron_value(field: &CronField, s: &str) -> Result<u32, String> {
        if let Some(i) = field.names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            return Ok(field.min + i as u32);
        }
        let out_of_range = || {
            format!(
                "{} field: {s:?} is not allowed; use {}",
                field.name, field.allowed
            )
        };
        if s.is_empty() || s.len() > 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(out_of_range());
        }
        let n: u32 = s.parse().map_err(|_| out_of_range())?;
        if n < field.min || n > field.max {
            return Err(out_of_range());
        }
        Ok(n)
    }

    fn cron_field(field: &CronField, s: &str) -> Result<u64, String> {
        let mut set = 0u64;
        for item in s.split(',') {
            if item.is_empty() {
                return Err(format!("{} field: empty list element", field.name));
            }
            let (range, step) = match item.split_once('/') {
                Some((range, step)) => {
                    let step: u32 = match step.parse() {
                        Ok(n) if n >= 1 && n <= field.max && !step.starts_with('+') => n,
                        _ => {
                            return Err(format!(
                                "{} field: step {step:?} must be a number from 1 to {}",
                                field.name, field.max
                            ));
                        }
                    };
                    (range, Some(step))
                }
                None => (item, None),
            };
            let (lo, hi) = if range == "*" {
                (field.min, field.max)
            } else if let Some((a, b)) = range.split_once('-') {
                let (a, b) = (cron_value(field, a)?, cron_value(field, b)?);
                if a > b {
                    return Err(format!(
                        "{} field: range {range:?} runs backwards (wrap-around ranges are not \
                         supported)",
                        field.name
                    ));
                }
                (a, b)
            } else {
                let a = cron_value(field, range)?;
                // `5/15` means "from 5 to the end, every 15", as in most cron implementations.
                (a, if step.is_some() { field.max } else { a })
            };
            let step = step.unwrap_or(1);
            let mut v = lo;
            while v <= hi {
                set |= 1u64 << v;
                v += step;
            }
        }
        Ok(set)
    }

    /// Parse a standard 5-field cron schedule (minute hour day-of-month month day-of-week, in
    /// UTC) with `*`, lists, ranges, steps and month/day names, or one of the macros
    /// `@hourly`, `@daily` (`@midnight`), `@weekly`, `@monthly`, `@yearly` (`@annually`), which
    /// Kubernetes CronJobs also accept. Seconds, `?`, `L`, `W`, `#` and time zones are refused.
    pub fn parse_cron(s: &str) -> Result<CronSchedule, String> {
        let s = s.trim();
        if s.starts_with("TZ=") || s.starts_with("CRON_TZ=") {
            return Err("time zones are not supported: the schedule is in UTC".to_string());
        }
        let expanded = match s {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other if other.starts_with('@') => {
                return Err(format!(
                    "unknown macro {other:?}: use @hourly, @daily, @weekly, @monthly or @yearly"
                ));
            }
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            let hint = if fields.len() == 6 {
                " (a seconds field is not supported)"
            } else {
                ""
            };
            return Err(format!(
                "must have 5 fields (minute hour day-of-month month day-of-week), found {}{hint}",
                fields.len()
            ));
        }
        let mut sets = [0u64; 5];
        for (i, (field, text)) in CRON_FIELDS.iter().zip(&fields).enumerate() {
            sets[i] = cron_field(field, text)?;
        }
        // Day-of-week 7 is Sunday.
        let mut dow = sets[4];
        if dow & (1 << 7) != 0 {
            dow = (dow & !(1 << 7)) | 1;
        }
        let schedule = CronSchedule {
            minutes: sets[0],
            hours: sets[1] as u32,
            days_of_month: sets[2] as u32,
            months: sets[3] as u16,
            days_of_week: dow as u8,
            day_of_month_restricted: !fields[2].starts_with('*'),
            day_of_week_restricted: !fields[4].starts_with('*'),
        };
        // A day-of-month that no selected month has (such as 30 2) never fires.
        if schedule.day_of_month_restricted && !schedule.day_of_week_restricted {
            const DAYS_IN_MONTH: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
            let possible = (1..=12u32).any(|m| {
                schedule.months & (1 << m) != 0
                    && (1..=DAYS_IN_MONTH[(m - 1) as usize])
                        .any(|d| schedule.days_of_month & (1 << d) != 0)
            });
            if !possible {
                return Err(
                    "never fires: no selected month has the selected day of the month".to_string(),
                );
            }
        }
        Ok(schedule)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn dns1123_labels_accept_lowercase_alnum_and_inner_dashes() {
            for ok in ["a", "a-b", "0abc", "x".repeat(63).as_str()] {
                assert!(is_dns1123_label(ok), "{ok}");
            }
            for bad in ["", "-a", "a-", "A", "a.b", "a_b", "x".repeat(64).as_str()] {
                assert!(!is_dns1123_label(bad), "{bad}");
            }
        }

        #[test]
        fn dns1035_labels_must_start_with_a_letter() {
            assert!(is_dns1035_label("bao-1"));
            assert!(!is_dns1035_label("1bao"));
            assert!(!is_dns1035_label("bao-"));
            assert!(is_dns1035_label_shape(&"a".repeat(100)));
            assert!(!is_dns1035_label(&"a".repeat(64)));
        }

        #[test]
        fn dns1123_subdomains_are_dot_separated_labels_of_at_most_253() {
            assert!(is_dns1123_subdomain("my-secret.v1"));
            assert!(is_dns1123_subdomain("a"));
            for bad in ["", ".a", "a.", "a..b", "A.b", "a_b", "a-.b"] {
                assert!(!is_dns1123_subdomain(bad), "{bad}");
            }
            assert!(!is_dns1123_subdomain(&"a".repeat(254)));
        }

        #[test]
        fn dns_names_allow_a_leading_wildcard_only_when_asked() {
            assert!(is_dns_name("bao.example.com", false));
            assert!(is_dns_name("*.example.com", true));
            assert!(!is_dns_name("*.example.com", false));
            assert!(!is_dns_name("a.*.example.com", true));
            assert!(!is_dns_name("*", true));
            assert!(!is_dns_name(&format!("{}.com", "a".repeat(64)), false));
        }

        #[test]
        fn qualified_names_take_an_optional_subdomain_prefix() {
            for ok in ["app", "app.kubernetes.io/name", "a_b.c-d", "example.com/X9"] {
                assert!(is_qualified_name(ok), "{ok}");
            }
            for bad in ["", "/a", "a/", "a/b/c", "-a", "a-", "Ex.com/a", "a b"] {
                assert!(!is_qualified_name(bad), "{bad}");
            }
            assert!(!is_qualified_name(&"a".repeat(64)));
            assert!(is_qualified_name(&"a".repeat(63)));
        }

        #[test]
        fn label_values_may_be_empty_but_not_oddly_shaped() {
            assert!(is_label_value(""));
            assert!(is_label_value("v1.2_x-Y"));
            assert!(!is_label_value("-x"));
            assert!(!is_label_value("a/b"));
            assert!(!is_label_value(&"a".repeat(64)));
        }

        #[test]
        fn iana_service_names_need_a_letter_and_single_inner_dashes() {
            for ok in ["http", "https-alt", "h2", "a-b-c"] {
                assert!(is_iana_svc_name(ok), "{ok}");
            }
            for bad in [
                "",
                "8200",
                "-http",
                "http-",
                "ht--tp",
                "HTTP",
                "abcdefghijklmnop",
            ] {
                assert!(!is_iana_svc_name(bad), "{bad}");
            }
        }

        #[test]
        fn config_map_keys_are_letters_digits_and_dot_dash_underscore() {
            assert!(is_config_map_key("ca.crt"));
            assert!(is_config_map_key("VAULT_TOKEN"));
            assert!(!is_config_map_key("a/b"));
            assert!(!is_config_map_key(".."));
        }

        #[test]
        fn semantic_versions_have_three_parts_and_an_optional_prerelease() {
            for ok in ["2.4.1", "0.0.0", "10.20.30", "2.5.0-beta1", "2.5.0-rc.1"] {
                assert!(check_semver(ok).is_ok(), "{ok}");
            }
            for bad in [
                "v2.4.1",
                "2.4",
                "2.4.1.1",
                "02.4.1",
                "2.4.1+build",
                "2.4.1-",
                "2.4.1-a..b",
                "2.4.1-01",
            ] {
                assert!(check_semver(bad).is_err(), "{bad}");
            }
        }

        #[test]
        fn image_references_follow_the_distribution_grammar() {
            for ok in [
                "openbao",
                "openbao/openbao:2.4.1",
                "quay.io/openbao/openbao:2.4.1",
                "registry.local:5000/team/bao",
                "localhost/bao:dev",
                "[fd00::1]:5000/bao",
                "ghcr.io/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "ghcr.io/a/b:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "my_repo/a__b/c--d:latest",
            ] {
                assert!(check_image_reference(ok).is_ok(), "{ok}");
            }
            for bad in [
                "",
                "quay.io/OpenBao/openbao:2.4.1",
                "quay.io/openbao/openbao:",
                "openbao:2.4 .1",
                "openbao@sha256:abc",
                "openbao@md5:0123456789abcdef0123456789abcdef",
                "quay.io//openbao",
                "-bao",
                "bao:.tag",
                "bad host!/x",
            ] {
                assert!(check_image_reference(bad).is_err(), "{bad}");
            }
            assert_eq!(
                check_image_reference("Quay.io/Foo").expect_err("uppercase"),
                "the repository must be lowercase"
            );
        }

        #[test]
        fn http_urls_need_a_scheme_a_host_and_no_credentials() {
            for ok in [
                "https://vault.example.com:8200",
                "http://10.0.0.1",
                "https://[fd00::1]:8200/v1",
                "https://s3.eu-west-1.amazonaws.com/path?x=1",
            ] {
                assert!(check_http_url(ok).is_ok(), "{ok}");
            }
            for bad in [
                "vault.example.com",
                "ftp://x",
                "https://",
                "https://u:p@host",
                "https://host:0",
                "https://host:99999",
                "https://ho st",
                "https://-host",
                "https://[zz]:1",
            ] {
                assert!(check_http_url(bad).is_err(), "{bad}");
            }
        }

        #[test]
        fn aws_regions_are_words_and_a_number() {
            for ok in [
                "eu-west-1",
                "us-gov-west-1",
                "ap-southeast-2",
                "il-central-1",
            ] {
                assert!(is_aws_region(ok), "{ok}");
            }
            for bad in ["", "eu-west", "EU-west-1", "euwest1", "eu-west-1a", "eu--1"] {
                assert!(!is_aws_region(bad), "{bad}");
            }
        }

        #[test]
        fn bucket_names_follow_each_provider_rules() {
            assert!(check_s3_bucket_name("my-bucket.v1").is_ok());
            for bad in [
                "ab",
                "My-Bucket",
                "a..b",
                "a_b",
                "192.168.0.1",
                "-ab",
                "xn--ab",
                "a.-b",
            ] {
                assert!(check_s3_bucket_name(bad).is_err(), "{bad}");
            }
            assert!(check_gcs_bucket_name("my_bucket").is_ok());
            assert!(check_gcs_bucket_name("googbucket").is_err());
            assert!(check_azure_container_name("snapshots-1").is_ok());
            assert!(check_azure_container_name("a--b").is_err());
            assert!(check_azure_container_name("a.b").is_err());
        }

        #[test]
        fn ip_addresses_refuse_cidrs_and_leading_zeros() {
            assert!(parse_ip("10.0.0.1").is_ok());
            assert!(parse_ip("fd00::1").is_ok());
            assert!(parse_ip("10.0.0.1/32").is_err());
            assert!(parse_ip("010.0.0.1").is_err());
            assert!(parse_ip("bao").is_err());
        }

        #[test]
        fn cidrs_must_have_a_prefix_in_range_and_zero_host_bits() {
            assert_eq!(
                parse_cidr("10.0.0.0/8").map(|n| n.to_string()),
                Ok("10.0.0.0/8".into())
            );
            assert!(parse_cidr("fd00::/8").is_ok());
            assert!(parse_cidr("0.0.0.0/0").is_ok());
            assert!(parse_cidr("10.0.0.5/32").is_ok());
            assert!(parse_cidr("10.0.0.0/33").is_err());
            assert!(parse_cidr("fd00::/129").is_err());
            assert!(parse_cidr("10.0.0.0/08").is_err());
            assert!(parse_cidr("10.0.0.0/").is_err());
            assert!(parse_cidr("010.0.0.0/8").is_err());
            assert!(
                parse_cidr("10.0.0.1")
                    .expect_err("no prefix")
                    .contains("10.0.0.1/32")
            );
            let err = parse_cidr("10.1.2.3/8").expect_err("host bits");
            assert!(err.contains("10.0.0.0/8"), "{err}");
            assert!(
                parse_cidr("fd00::1/64")
                    .expect_err("host bits")
                    .contains("fd00::/64")
            );
        }

        #[test]
        fn go_durations_sum_their_parts() {
            let h = 3600;
            assert_eq!(parse_go_duration("720h"), Ok(Duration::from_secs(720 * h)));
            assert_eq!(
                parse_go_duration("1h30m"),
                Ok(Duration::from_secs(h + 1800))
            );
            assert_eq!(parse_go_duration("90m"), Ok(Duration::from_secs(5400)));
            assert_eq!(parse_go_duration("1.5h"), Ok(Duration::from_secs(5400)));
            assert_eq!(parse_go_duration(".5s"), Ok(Duration::from_millis(500)));
            assert_eq!(
                parse_go_duration("1ms2us3ns"),
                Ok(Duration::from_nanos(1_002_003))
            );
            assert_eq!(parse_go_duration("1µs"), Ok(Duration::from_micros(1)));
            assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
            for bad in [
                "",
                "1",
                "h",
                "1d",
                "-1h",
                "+1h",
                "1h 30m",
                "1.h.5",
                "99999999999999999999h",
            ] {
                assert!(parse_go_duration(bad).is_err(), "{bad}");
            }
        }

        #[test]
        fn quantities_understand_binary_decimal_and_exponent_suffixes() {
            let q = |s: &str| parse_quantity(s).map(|q| q.ceil_units);
            assert_eq!(q("10Gi"), Ok(10 << 30));
            assert_eq!(q("1Mi"), Ok(1 << 20));
            assert_eq!(q("1.5Gi"), Ok(3 << 29));
            assert_eq!(q("500M"), Ok(500_000_000));
            assert_eq!(q("1e9"), Ok(1_000_000_000));
            assert_eq!(q("1E3"), Ok(1_000));
            assert_eq!(q("1E"), Ok(1_000_000_000_000_000_000));
            assert_eq!(q("100m"), Ok(1));
            assert_eq!(q(".5"), Ok(1));
            assert_eq!(q("1048576"), Ok(1 << 20));
            assert_eq!(q("2.5e-1k"), Err("unknown suffix \"e-1k\": use Ki, Mi, Gi, Ti, Pi, Ei, k, M, G, T, P, E or an integer exponent such as e9".into()));
            assert!(parse_quantity("0").is_ok_and(|q| q.zero));
            assert!(parse_quantity("-1Gi").is_ok_and(|q| q.negative));
            assert!(
                parse_quantity("0.000000000000000000000000001")
                    .is_ok_and(|q| !q.zero && q.ceil_units == 1)
            );
            for bad in [
                "", "Gi", "10GB", "10gi", "1.2.3", "10 Gi", "1e", "1e1.5", "9Ei", "1e40", "--1",
            ] {
                assert!(parse_quantity(bad).is_err(), "{bad}");
            }
        }

        #[test]
        fn cron_schedules_have_five_fields_with_ranges_lists_steps_and_names() {
            let s = parse_cron("0 */6 * * *").expect("valid");
            assert_eq!(s.hours, 1 | 1 << 6 | 1 << 12 | 1 << 18);
            assert!(s.matches(0, 6, 15, 3, 2));
            assert!(!s.matches(1, 6, 15, 3, 2));
            let s = parse_cron("30 2 * JAN-MAR mon-fri,7").expect("valid");
            assert_eq!(s.months, 0b1110);
            assert_eq!(s.days_of_week, 0b0111111);
            let s = parse_cron("5/20 * * * *").expect("valid");
            assert_eq!(s.minutes, 1 << 5 | 1 << 25 | 1 << 45);
            assert_eq!(parse_cron("@daily"), parse_cron("0 0 * * *"));
            // Both day fields restricted: either matches.
            let s = parse_cron("0 0 1 * 1").expect("valid");
            assert!(s.matches(0, 0, 1, 5, 3));
            assert!(s.matches(0, 0, 9, 5, 1));
            assert!(!s.matches(0, 0, 9, 5, 3));
            for bad in [
                "",
                "* * * *",
                "0 * * * * *",
                "60 * * * *",
                "* 24 * * *",
                "* * 0 * *",
                "* * * 13 *",
                "* * * * 8",
                "*/0 * * * *",
                "5-1 * * * *",
                "1,,2 * * * *",
                "0 0 30 2 *",
                "@every 1h",
                "TZ=UTC 0 * * * *",
                "? * * * *",
                "* * * FOO *",
            ] {
                assert!(parse_cron(bad).is_err(), "{bad}");
            }
        }
    }
}

const CIDR_EXAMPLE: &str = "must be a CIDR such as 10.0.0.0/8 or fd00::/8";
const SUBDOMAIN_RULE: &str = "a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', \
                              starting and ending with a letter or digit, at most 253 characters";
const LABEL_RULE: &str = "a DNS-1123 label: lowercase letters, digits and '-', starting and \
                          ending with a letter or digit, at most 63 characters";
const HOUR: Duration = Duration::from_secs(3600);

/// Compact JSON of a spec block, for the value of a "must not be set" error.
fn json_of<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn check_subdomain(errs: &mut ValidationErrors, path: &str, value: &str, what: &str) {
    if !rules::is_dns1123_subdomain(value) {
        errs.add(path, value, format!("must be {what} ({SUBDOMAIN_RULE})"));
    }
}

fn check_label(errs: &mut ValidationErrors, path: &str, value: &str, what: &str) {
    if !rules::is_dns1123_label(value) {
        errs.add(path, value, format!("must be {what} ({LABEL_RULE})"));
    }
}

/// A required free-form token (key names, project IDs): non-empty, no whitespace.
fn check_token(errs: &mut ValidationErrors, path: &str, value: &str, what: &str) {
    if value.is_empty() {
        errs.add(path, value, format!("required: {what}"));
    } else if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        errs.add(path, value, format!("must not contain whitespace: {what}"));
    }
}

fn check_url(errs: &mut ValidationErrors, path: &str, value: &str, example: &str) {
    if value.is_empty() {
        errs.add(
            path,
            value,
            format!("required: an http(s) URL such as {example}"),
        );
    } else if let Err(why) = rules::check_http_url(value) {
        errs.add(
            path,
            value,
            format!("must be an http(s) URL such as {example}: {why}"),
        );
    }
}

fn check_secret_ref(errs: &mut ValidationErrors, path: &str, secret: &SecretRef) {
    check_subdomain(
        errs,
        &format!("{path}.name"),
        &secret.name,
        "the name of a Secret in the cluster's namespace",
    );
}

/// Check every semantic rule of `cluster` (metadata and spec). `Ok` means the builders can
/// render it without further checks. Every error is reported, not only the first.
pub fn validate(cluster: &OpenBaoCluster) -> Result<(), ValidationErrors> {
    let mut errs = ValidationErrors::default();
    validate_metadata(cluster, &mut errs);
    let spec = &cluster.spec;
    validate_version(&spec.version, &mut errs);
    if let Some(image) = &spec.image {
        validate_image(image, &mut errs);
    }
    if !(1..=9).contains(&spec.replicas) {
        errs.add(
            "spec.replicas",
            spec.replicas,
            "must be between 1 and 9; an odd number (3 or 5) is recommended so Raft keeps \
             quorum when a member fails",
        );
    }
    validate_tls(&spec.tls, &mut errs);
    validate_storage(&spec.storage, &mut errs);
    validate_unseal(&spec.unseal, &mut errs);
    validate_network(&spec.network, &mut errs);
    if let Some(gateway) = spec.enabled_gateway() {
        validate_gateway(gateway, &mut errs);
        validate_gateway_peer(cluster, gateway, &mut errs);
    }
    validate_service(&spec.service, &mut errs);
    if let Some(backup) = &spec.backup {
        validate_backup(backup, &mut errs);
    }
    validate_configuration(&spec.configuration, &mut errs);
    errs.into_result()
}

/// `validate(new)` plus the rules that compare with the stored object: fields that cannot
/// change after creation.
pub fn validate_update(old: &OpenBaoCluster, new: &OpenBaoCluster) -> Result<(), ValidationErrors> {
    let mut errs = validate(new).err().unwrap_or_default();
    let (old_class, new_class) = (
        &old.spec.storage.storage_class_name,
        &new.spec.storage.storage_class_name,
    );
    if old_class != new_class {
        let shown = |c: &Option<String>| match c {
            Some(c) => format!("{c:?}"),
            None => "unset (the cluster default)".to_string(),
        };
        errs.add(
            "spec.storage.storageClassName",
            new_class.as_deref().unwrap_or(""),
            format!(
                "is immutable (it was {}): a StatefulSet's volumeClaimTemplates cannot change \
                 and existing PersistentVolumeClaims keep their class; to move the data, create \
                 a new cluster and restore a snapshot",
                shown(old_class)
            ),
        );
    }
    if old.spec.unseal.type_ != new.spec.unseal.type_ {
        errs.add(
            "spec.unseal.type",
            new.spec.unseal.type_.as_str(),
            format!(
                "is immutable (it was {}): changing the seal requires an offline seal migration \
                 of the Raft data, which the operator does not perform",
                old.spec.unseal.type_.as_str()
            ),
        );
    }
    errs.into_result()
}

fn validate_metadata(cluster: &OpenBaoCluster, errs: &mut ValidationErrors) {
    match cluster.metadata.name.as_deref() {
        None | Some("") => errs.add(
            "metadata.name",
            "",
            format!(
                "required: a DNS-1035 label of at most {MAX_CLUSTER_NAME_LEN} characters, such \
                 as \"bao\""
            ),
        ),
        Some(name) => {
            if name.len() > MAX_CLUSTER_NAME_LEN {
                errs.add(
                    "metadata.name",
                    name,
                    format!(
                        "must be at most {MAX_CLUSTER_NAME_LEN} characters (it has {}): pod, \
                         Service and Job names and label values are derived from it (for \
                         example `<name>-backup-<timestamp>` and the StatefulSet's \
                         controller-revision-hash label), and Kubernetes limits those to 63",
                        name.len()
                    ),
                );
            }
            if !rules::is_dns1035_label_shape(name) {
                errs.add(
                    "metadata.name",
                    name,
                    "must be a DNS-1035 label: lowercase letters, digits and '-', starting with \
                     a letter and ending with a letter or digit (it names Services and DNS \
                     records)",
                );
            }
        }
    }
    if let Some(namespace) = cluster.metadata.namespace.as_deref()
        && !namespace.is_empty()
    {
        check_label(errs, "metadata.namespace", namespace, "a namespace name");
    }
}

fn validate_version(version: &str, errs: &mut ValidationErrors) {
    if let Err(why) = rules::check_semver(version) {
        errs.add(
            "spec.version",
            version,
            format!(
                "{why}; must be a semantic version X.Y.Z with an optional pre-release, such as \
                 2.4.1 or 2.5.0-beta1, without a leading \"v\""
            ),
        );
    }
}

fn validate_image(image: &str, errs: &mut ValidationErrors) {
    if let Err(why) = rules::check_image_reference(image) {
        errs.add(
            "spec.image",
            image,
            format!(
                "{why}; must be an image reference [registry/]repository[:tag][@sha256:digest] \
                 with a lowercase repository, such as quay.io/openbao/openbao:2.4.1"
            ),
        );
    }
}

fn validate_tls(tls: &TlsSpec, errs: &mut ValidationErrors) {
    match &tls.external_secret_name {
        None if tls.mode == TlsMode::External => errs.add(
            "spec.tls.externalSecretName",
            "",
            "required when spec.tls.mode is External: the name of the Secret holding tls.crt, \
             tls.key and ca.crt",
        ),
        None => {}
        Some(name) => check_subdomain(
            errs,
            "spec.tls.externalSecretName",
            name,
            "the name of a Secret in the cluster's namespace",
        ),
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, san) in tls.extra_sans.iter().enumerate() {
        let path = format!("spec.tls.extraSANs[{i}]");
        let canonical = if let Ok(ip) = san.parse::<IpAddr>() {
            ip.to_string()
        } else if rules::is_dns_name(san, true) {
            san.clone()
        } else {
            errs.add(
                &path,
                san,
                "must be a lowercase DNS name such as bao.example.com (a leading \"*.\" \
                 wildcard is allowed) or an IP address such as 10.0.0.1 or fd00::1",
            );
            continue;
        };
        if let Some(first) = seen.insert(canonical, i) {
            errs.add(
                &path,
                san,
                format!("duplicate of spec.tls.extraSANs[{first}]; list each name once"),
            );
        }
    }
    let path = "spec.tls.rotationPeriod";
    let period = &tls.rotation_period;
    match rules::parse_go_duration(period) {
        Err(why) => errs.add(
            path,
            period,
            format!("{why}; must be a duration such as 720h, 1h30m or 90m, between 1h and 8760h"),
        ),
        Ok(d) if d < HOUR => errs.add(
            path,
            period,
            "must be at least 1h: shorter certificate lifetimes would keep the operator \
             reissuing and OpenBao reloading certificates",
        ),
        Ok(d) if d > 8760 * HOUR => errs.add(
            path,
            period,
            "must be at most 8760h (one year): a server certificate cannot outlive the \
             operator's CA, whose lifetime bounds it",
        ),
        Ok(_) => {}
    }
}

fn validate_storage(storage: &StorageSpec, errs: &mut ValidationErrors) {
    const MI: u64 = 1 << 20;
    let path = "spec.storage.size";
    let size = &storage.size;
    match rules::parse_quantity(size) {
        Err(why) => errs.add(
            path,
            size,
            format!("{why}; must be a Kubernetes quantity such as 10Gi, 500Mi or 1e9"),
        ),
        Ok(q) if q.negative || q.zero => {
            errs.add(path, size, "must be greater than zero, such as 10Gi")
        }
        Ok(q) if q.ceil_units < MI => errs.add(
            path,
            size,
            "must be at least 1Mi: each pod's volume holds the Raft log and snapshots (10Gi is \
             the default)",
        ),
        Ok(_) => {}
    }
    if let Some(class) = &storage.storage_class_name {
        check_subdomain(
            errs,
            "spec.storage.storageClassName",
            class,
            "a StorageClass name",
        );
    }
}

fn validate_unseal(unseal: &UnsealSpec, errs: &mut ValidationErrors) {
    let kind = unseal.type_;
    let blocks: [(UnsealType, Option<String>); 4] = [
        (UnsealType::Transit, unseal.transit.as_ref().map(json_of)),
        (UnsealType::Awskms, unseal.awskms.as_ref().map(json_of)),
        (UnsealType::Gcpckms, unseal.gcpckms.as_ref().map(json_of)),
        (
            UnsealType::Azurekeyvault,
            unseal.azurekeyvault.as_ref().map(json_of),
        ),
    ];
    for (block_type, block) in blocks {
        let name = block_type.as_str();
        let path = format!("spec.unseal.{name}");
        match block {
            None if block_type == kind => errs.add(
                path,
                "",
                format!("required when spec.unseal.type is {name}: the {name} seal's options"),
            ),
            Some(json) if block_type != kind => errs.add(
                path,
                json,
                format!(
                    "must not be set when spec.unseal.type is {}: only the block matching the \
                     type is allowed; remove it or set type to {name}",
                    kind.as_str()
                ),
            ),
            _ => {}
        }
    }
    if let Some(secret) = &unseal.credentials_secret_ref {
        if kind == UnsealType::Static {
            errs.add(
                "spec.unseal.credentialsSecretRef",
                &secret.name,
                "must not be set when spec.unseal.type is static: the static key is generated \
                 by the operator and kept in the Secret <cluster>-unseal-key, so there are no \
                 seal credentials; credentials are for transit, awskms, gcpckms and \
                 azurekeyvault",
            );
        }
        check_secret_ref(errs, "spec.unseal.credentialsSecretRef", secret);
    }
    match kind {
        UnsealType::Static => {}
        UnsealType::Transit => {
            if let Some(t) = &unseal.transit {
                let p = "spec.unseal.transit";
                check_url(
                    errs,
                    &format!("{p}.address"),
                    &t.address,
                    "https://vault.example.com:8200",
                );
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
                if let Some(key) = &t.tls_ca_key {
                    let path = format!("{p}.tlsCaKey");
                    if !rules::is_config_map_key(key) {
                        errs.add(
                            &path,
                            key,
                            "must be a Secret key: letters, digits, '-', '_' and '.', such as ca.crt",
                        );
                    } else if unseal.credentials_secret_ref.is_none() {
                        errs.add(
                            &path,
                            key,
                            "requires spec.unseal.credentialsSecretRef: it names an entry of that Secret",
                        );
                    }
                }
            }
        }
        UnsealType::Awskms => {
            if let Some(a) = &unseal.awskms {
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
                        "must be an AWS region such as eu-west-1 or us-gov-west-1 (lowercase \
                         words joined by '-' and a number)",
                    );
                }
                check_token(
                    errs,
                    &format!("{p}.kmsKeyId"),
                    &a.kms_key_id,
                    "a KMS key ID or ARN",
                );
                if let Some(endpoint) = &a.endpoint {
                    check_url(
                        errs,
                        &format!("{p}.endpoint"),
                        endpoint,
                        "https://kms.eu-west-1.amazonaws.com",
                    );
                }
            }
        }
        UnsealType::Gcpckms => {
            if let Some(g) = &unseal.gcpckms {
                let p = "spec.unseal.gcpckms";
                check_token(
                    errs,
                    &format!("{p}.project"),
                    &g.project,
                    "a GCP project ID",
                );
                check_token(
                    errs,
                    &format!("{p}.region"),
                    &g.region,
                    "a location such as global",
                );
                check_token(
                    errs,
                    &format!("{p}.keyRing"),
                    &g.key_ring,
                    "a key ring name",
                );
                check_token(
                    errs,
                    &format!("{p}.cryptoKey"),
                    &g.crypto_key,
                    "a crypto key name",
                );
            }
        }
        UnsealType::Azurekeyvault => {
            if let Some(a) = &unseal.azurekeyvault {
                let p = "spec.unseal.azurekeyvault";
                check_token(
                    errs,
                    &format!("{p}.tenantId"),
                    &a.tenant_id,
                    "an Azure AD tenant ID",
                );
                check_token(
                    errs,
                    &format!("{p}.vaultName"),
                    &a.vault_name,
                    "a Key Vault name",
                );
                check_token(errs, &format!("{p}.keyName"), &a.key_name, "a key name");
                if let Some(env) = &a.environment {
                    check_token(
                        errs,
                        &format!("{p}.environment"),
                        env,
                        "an Azure environment such as AZUREPUBLICCLOUD",
                    );
                }
                if let Some(id) = &a.client_id {
                    check_token(
                        errs,
                        &format!("{p}.clientId"),
                        id,
                        "a service principal's client ID",
                    );
                }
            }
        }
    }
}

fn validate_network(network: &NetworkSpec, errs: &mut ValidationErrors) {
    check_label(
        errs,
        "spec.network.dnsNamespace",
        &network.dns_namespace,
        "a namespace name",
    );
    if let Some(cidr) = &network.api_server_cidr {
        let path = "spec.network.apiServerCIDR";
        match rules::parse_cidr(cidr) {
            Err(why) => errs.add(
                path,
                cidr,
                format!(
                    "{CIDR_EXAMPLE} ({why}); use the API server's address range, for example \
                     10.96.0.1/32"
                ),
            ),
            Ok(net) if net.prefix_len() == 0 => errs.add(
                path,
                cidr,
                format!(
                    "{net} would allow egress to every address on port 443 and defeat the \
                     default-deny posture; use the API server's address range, for example \
                     10.96.0.1/32"
                ),
            ),
            Ok(_) => {}
        }
    }
    let mut seen: BTreeMap<IpAddr, usize> = BTreeMap::new();
    for (i, ip) in network.api_server_endpoint_ips.iter().enumerate() {
        let path = format!("spec.network.apiServerEndpointIPs[{i}]");
        match rules::parse_ip(ip) {
            Err(why) => errs.add(
                &path,
                ip,
                format!(
                    "{why}; must be one IP address such as 172.18.0.2 or fd00::2 (the operator \
                     adds /32 or /128 itself)"
                ),
            ),
            Ok(addr) => {
                if let Some(first) = seen.insert(addr, i) {
                    errs.add(
                        &path,
                        ip,
                        format!(
                            "duplicate of spec.network.apiServerEndpointIPs[{first}]; list each \
                             address once"
                        ),
                    );
                }
            }
        }
    }
    validate_ingress_rules(&network.ingress_rules, "spec.network.ingressRules", errs);
    validate_egress_rules(&network.egress_rules, "spec.network.egressRules", errs);
}

/// Check NetworkPolicy ingress rules as the API server would, and more strictly (canonical
/// CIDRs, one kind of peer). `base` is the path of the list.
pub fn validate_ingress_rules(
    list: &[NetworkPolicyIngressRule],
    base: &str,
    errs: &mut ValidationErrors,
) {
    for (i, rule) in list.iter().enumerate() {
        let path = format!("{base}[{i}]");
        for (j, peer) in rule.from.iter().flatten().enumerate() {
            validate_peer(peer, &format!("{path}.from[{j}]"), errs);
        }
        for (j, port) in rule.ports.iter().flatten().enumerate() {
            validate_port(port, &format!("{path}.ports[{j}]"), errs);
        }
    }
}

/// Check NetworkPolicy egress rules (see [`validate_ingress_rules`]).
pub fn validate_egress_rules(
    list: &[NetworkPolicyEgressRule],
    base: &str,
    errs: &mut ValidationErrors,
) {
    for (i, rule) in list.iter().enumerate() {
        let path = format!("{base}[{i}]");
        for (j, peer) in rule.to.iter().flatten().enumerate() {
            validate_peer(peer, &format!("{path}.to[{j}]"), errs);
        }
        for (j, port) in rule.ports.iter().flatten().enumerate() {
            validate_port(port, &format!("{path}.ports[{j}]"), errs);
        }
    }
}

fn validate_peer(peer: &NetworkPolicyPeer, path: &str, errs: &mut ValidationErrors) {
    let has_selector = peer.namespace_selector.is_some() || peer.pod_selector.is_some();
    match (&peer.ip_block, has_selector) {
        (None, false) => errs.add(
            path,
            "{}",
            "an empty peer is not allowed: set ipBlock, or namespaceSelector and/or podSelector",
        ),
        (Some(block), true) => errs.add(
            path,
            json_of(peer),
            format!(
                "ipBlock ({}) cannot be combined with namespaceSelector or podSelector in one \
                 peer; put them in separate peers",
                block.cidr
            ),
        ),
        _ => {}
    }
    if let Some(block) = &peer.ip_block {
        validate_ip_block(block, &format!("{path}.ipBlock"), errs);
    }
    if let Some(selector) = &peer.namespace_selector {
        validate_label_selector(selector, &format!("{path}.namespaceSelector"), errs);
    }
    if let Some(selector) = &peer.pod_selector {
        validate_label_selector(selector, &format!("{path}.podSelector"), errs);
    }
}

fn validate_ip_block(block: &IPBlock, path: &str, errs: &mut ValidationErrors) {
    let cidr_path = format!("{path}.cidr");
    if block.cidr.is_empty() {
        errs.add(&cidr_path, "", format!("required: {CIDR_EXAMPLE}"));
    }
    let net = if block.cidr.is_empty() {
        None
    } else {
        match rules::parse_cidr(&block.cidr) {
            Ok(net) => Some(net),
            Err(why) => {
                errs.add(&cidr_path, &block.cidr, format!("{CIDR_EXAMPLE}: {why}"));
                None
            }
        }
    };
    for (k, except) in block.except.iter().flatten().enumerate() {
        let except_path = format!("{path}.except[{k}]");
        match rules::parse_cidr(except) {
            Err(why) => errs.add(&except_path, except, format!("{CIDR_EXAMPLE}: {why}")),
            Ok(inner) => {
                let Some(outer) = net else { continue };
                let same_family = inner.addr().is_ipv4() == outer.addr().is_ipv4();
                if !same_family {
                    errs.add(
                        &except_path,
                        except,
                        format!("must be of the same address family as cidr {outer}"),
                    );
                } else if !(outer.contains(&inner) && inner.prefix_len() > outer.prefix_len()) {
                    errs.add(
                        &except_path,
                        except,
                        format!(
                            "must lie strictly inside cidr {outer} (a longer prefix within it)"
                        ),
                    );
                }
            }
        }
    }
}

fn validate_port(port: &NetworkPolicyPort, path: &str, errs: &mut ValidationErrors) {
    const PORT_RULE: &str = "must be a port number from 1 to 65535 (written without quotes) or \
                             a named port: an IANA service name of 1 to 15 lowercase letters, \
                             digits and '-', with at least one letter and no leading, trailing \
                             or double '-'";
    if let Some(protocol) = &port.protocol
        && !matches!(protocol.as_str(), "TCP" | "UDP" | "SCTP")
    {
        errs.add(
            format!("{path}.protocol"),
            protocol,
            "must be TCP, UDP or SCTP (upper case)",
        );
    }
    let port_path = format!("{path}.port");
    let numeric = match &port.port {
        Some(IntOrString::Int(n)) => {
            if (1..=65535).contains(n) {
                Some(*n)
            } else {
                errs.add(&port_path, n, PORT_RULE);
                None
            }
        }
        Some(IntOrString::String(name)) => {
            if !rules::is_iana_svc_name(name) {
                errs.add(&port_path, name, PORT_RULE);
            }
            None
        }
        None => None,
    };
    if let Some(end) = port.end_port {
        let end_path = format!("{path}.endPort");
        match &port.port {
            None => errs.add(
                &end_path,
                end,
                "requires a numeric port: set port to the first port of the range",
            ),
            Some(IntOrString::String(name)) => errs.add(
                &end_path,
                end,
                format!("requires a numeric port, not the named port {name:?}"),
            ),
            Some(IntOrString::Int(_)) => {
                if !(1..=65535).contains(&end) {
                    errs.add(&end_path, end, "must be a port number from 1 to 65535");
                } else if let Some(start) = numeric
                    && end < start
                {
                    errs.add(
                        &end_path,
                        end,
                        format!("must be greater than or equal to port ({start})"),
                    );
                }
            }
        }
    }
}

fn validate_label_selector(selector: &LabelSelector, path: &str, errs: &mut ValidationErrors) {
    for (key, value) in selector.match_labels.iter().flatten() {
        let key_path = key_path(&format!("{path}.matchLabels"), key);
        if let Err(why) = rules::check_qualified_name(key) {
            errs.add(
                &key_path,
                key,
                format!("label keys must be qualified names such as app.kubernetes.io/name: {why}"),
            );
        }
        if let Err(why) = rules::check_label_value(value) {
            errs.add(&key_path, value, format!("label values {why}"));
        }
    }
    for (i, req) in selector.match_expressions.iter().flatten().enumerate() {
        let req_path = format!("{path}.matchExpressions[{i}]");
        let key_path = format!("{req_path}.key");
        if req.key.is_empty() {
            errs.add(
                &key_path,
                "",
                "required: a label key such as app.kubernetes.io/name",
            );
        } else if let Err(why) = rules::check_qualified_name(&req.key) {
            errs.add(
                &key_path,
                &req.key,
                format!("must be a qualified name such as app.kubernetes.io/name: {why}"),
            );
        }
        let values = req.values.as_deref().unwrap_or_default();
        let values_path = format!("{req_path}.values");
        match req.operator.as_str() {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.add(
                        &values_path,
                        "[]",
                        format!("must not be empty when operator is {}", req.operator),
                    );
                }
                for (j, value) in values.iter().enumerate() {
                    if let Err(why) = rules::check_label_value(value) {
                        errs.add(
                            format!("{values_path}[{j}]"),
                            value,
                            format!("label values {why}"),
                        );
                    }
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.add(
                        &values_path,
                        json_of(&values),
                        format!("must be empty when operator is {}", req.operator),
                    );
                }
            }
            other => errs.add(
                format!("{req_path}.operator"),
                other,
                "must be one of In, NotIn, Exists, DoesNotExist",
            ),
        }
    }
}

/// A Gateway in the cluster's own namespace must name its pods: admitting "the Gateway's
/// namespace" would then open 8200 to every pod of the cluster's namespace.
fn validate_gateway_peer(
    cluster: &OpenBaoCluster,
    gateway: &GatewaySpec,
    errs: &mut ValidationErrors,
) {
    if gateway.gateway_ref.is_none() {
        // Reported as a missing gatewayRef.name; where the Gateway lives is unknown yet.
        return;
    }
    let namespace = cluster.metadata.namespace.as_deref().unwrap_or("default");
    match &gateway.pod_selector {
        Some(selector) => {
            validate_label_selector(selector, "spec.gateway.podSelector", errs);
            let empty = selector.match_labels.as_ref().is_none_or(|l| l.is_empty())
                && selector
                    .match_expressions
                    .as_ref()
                    .is_none_or(|e| e.is_empty());
            if empty && gateway.shares_namespace(namespace) {
                errs.add(
                    "spec.gateway.podSelector",
                    "{}",
                    "must select the Gateway's proxy pods by at least one label: an empty \
                     selector would open port 8200 to every pod in the cluster's namespace",
                );
            }
        }
        None if gateway.shares_namespace(namespace) => errs.add(
            "spec.gateway.podSelector",
            "",
            format!(
                "required when the Gateway is in the cluster's own namespace {namespace:?} \
                 (spec.gateway.gatewayRef.namespace unset or equal to it): give the labels of the \
                 Gateway's proxy pods, or set spec.gateway.gatewayRef.namespace to the Gateway's \
                 namespace; without either, port 8200 would be open to every pod in {namespace:?}"
            ),
        ),
        None => {}
    }
}

fn validate_gateway(gateway: &GatewaySpec, errs: &mut ValidationErrors) {
    match &gateway.gateway_ref {
        Some(r) if !r.name.is_empty() => {
            check_subdomain(
                errs,
                "spec.gateway.gatewayRef.name",
                &r.name,
                "a Gateway name",
            );
            if let Some(ns) = &r.namespace {
                check_label(
                    errs,
                    "spec.gateway.gatewayRef.namespace",
                    ns,
                    "a namespace name",
                );
            }
        }
        _ => errs.add(
            "spec.gateway.gatewayRef.name",
            "",
            "required when spec.gateway.enabled is true: the name of the Gateway the HTTPRoute \
             attaches to",
        ),
    }
    let host_path = "spec.gateway.hostname";
    match gateway.hostname.as_deref() {
        None | Some("") => errs.add(
            host_path,
            "",
            "required when spec.gateway.enabled is true: the hostname clients use, such as \
             bao.example.com",
        ),
        Some(host) => {
            let without_port = host.rsplit_once(':').map_or(host, |(h, _)| h);
            if host.parse::<IpAddr>().is_ok()
                || without_port.parse::<IpAddr>().is_ok()
                || host.starts_with('[')
            {
                errs.add(
                    host_path,
                    host,
                    "must be a DNS name, not an IP address: Gateway API routes match the Host \
                     header by name",
                );
            } else if host.contains(':') {
                errs.add(
                    host_path,
                    host,
                    "must not include a port: the Gateway's listener decides the port",
                );
            } else if !rules::is_dns_name(host, true) {
                errs.add(
                    host_path,
                    host,
                    "must be a lowercase DNS name such as bao.example.com (a leading \"*.\" \
                     wildcard is allowed)",
                );
            }
        }
    }
    let path = &gateway.path;
    if !path.starts_with('/') {
        errs.add(
            "spec.gateway.path",
            path,
            "must start with '/', such as / or /bao",
        );
    } else if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        errs.add("spec.gateway.path", path, "must not contain whitespace");
    } else if path.contains(['?', '#']) {
        errs.add(
            "spec.gateway.path",
            path,
            "must be a path prefix only, without a query or fragment",
        );
    }
    if let Some(listener) = &gateway.listener_name {
        check_subdomain(
            errs,
            "spec.gateway.listenerName",
            listener,
            "a Gateway listener name",
        );
    }
}

fn validate_service(service: &ServiceSpec, errs: &mut ValidationErrors) {
    const MAX_ANNOTATIONS_BYTES: usize = 256 * 1024;
    let mut total = 0usize;
    for (key, value) in &service.annotations {
        total += key.len() + value.len();
        if let Err(why) = rules::check_qualified_name(key) {
            errs.add(
                key_path("spec.service.annotations", key),
                key,
                format!(
                    "annotation keys must be qualified names such as \
                     service.beta.kubernetes.io/aws-load-balancer-type: {why}"
                ),
            );
        }
    }
    if total > MAX_ANNOTATIONS_BYTES {
        errs.add(
            "spec.service.annotations",
            format!("{total} bytes"),
            "annotations must total at most 256KiB",
        );
    }
}

fn validate_backup(backup: &BackupSpec, errs: &mut ValidationErrors) {
    if let Err(why) = rules::parse_cron(&backup.schedule) {
        errs.add(
            "spec.backup.schedule",
            &backup.schedule,
            format!(
                "{why}; must be a 5-field cron expression (minute hour day-of-month month \
                 day-of-week, in UTC) such as \"0 */6 * * *\", or @hourly, @daily, @weekly, \
                 @monthly or @yearly"
            ),
        );
    }
    let target = &backup.target;
    let p = "spec.backup.target";
    match target.provider {
        BackupProvider::Filesystem => match target.path_prefix.as_deref() {
            None | Some("") => errs.add(
                format!("{p}.pathPrefix"),
                "",
                "required when provider is filesystem: an absolute directory such as /backups",
            ),
            Some(prefix) if !prefix.starts_with('/') => errs.add(
                format!("{p}.pathPrefix"),
                prefix,
                "must be an absolute path (starting with '/') when provider is filesystem",
            ),
            Some(prefix) if prefix.split('/').any(|seg| seg == "..") => errs.add(
                format!("{p}.pathPrefix"),
                prefix,
                "must not contain '..' segments",
            ),
            Some(_) => {}
        },
        provider => {
            let name = match provider {
                BackupProvider::S3 => "s3",
                BackupProvider::Gcs => "gcs",
                BackupProvider::Azure => "azure",
                BackupProvider::Filesystem => "filesystem",
            };
            match target.bucket.as_deref() {
                None | Some("") => errs.add(
                    format!("{p}.bucket"),
                    "",
                    format!(
                        "required when provider is {name}: the {}",
                        if provider == BackupProvider::Azure {
                            "container name"
                        } else {
                            "bucket name"
                        }
                    ),
                ),
                Some(bucket) => {
                    let checked = match provider {
                        BackupProvider::Gcs => rules::check_gcs_bucket_name(bucket),
                        BackupProvider::Azure => rules::check_azure_container_name(bucket),
                        _ => rules::check_s3_bucket_name(bucket),
                    };
                    if let Err(why) = checked {
                        errs.add(
                            format!("{p}.bucket"),
                            bucket,
                            format!("must be a valid {name} bucket name: {why}"),
                        );
                    }
                }
            }
            if let Some(prefix) = &target.path_prefix
                && prefix.chars().any(char::is_control)
            {
                errs.add(
                    format!("{p}.pathPrefix"),
                    prefix,
                    "must not contain control characters",
                );
            }
        }
    }
    if let Some(endpoint) = &target.endpoint {
        check_url(
            errs,
            &format!("{p}.endpoint"),
            endpoint,
            "https://s3.eu-west-1.amazonaws.com",
        );
    }
    if let Some(region) = &target.region {
        check_token(
            errs,
            &format!("{p}.region"),
            region,
            "a region such as eu-west-1",
        );
    }
    if let Some(secret) = &target.credentials_secret_ref {
        check_secret_ref(errs, &format!("{p}.credentialsSecretRef"), secret);
    }
    if let Some(retention) = &backup.retention {
        if let Some(count) = retention.max_count
            && !(1..=10000).contains(&count)
        {
            errs.add(
                "spec.backup.retention.maxCount",
                count,
                "must be between 1 and 10000",
            );
        }
        if let Some(age) = &retention.max_age {
            let path = "spec.backup.retention.maxAge";
            match rules::parse_go_duration(age) {
                Err(why) => errs.add(
                    path,
                    age,
                    format!("{why}; must be a duration of at least 1h, such as 168h or 720h"),
                ),
                Ok(d) if d < HOUR => errs.add(
                    path,
                    age,
                    "must be at least 1h, so a snapshot is not deleted before the next one is \
                     taken",
                ),
                Ok(_) => {}
            }
        }
    }
    if let Some(list) = &backup.egress_rules {
        validate_egress_rules(list, "spec.backup.egressRules", errs);
    }
}

fn validate_configuration(configuration: &Configuration, errs: &mut ValidationErrors) {
    if let Some(m) = configuration.raft.performance_multiplier
        && !(1..=10).contains(&m)
    {
        errs.add(
            "spec.configuration.raft.performanceMultiplier",
            m,
            "must be between 1 (fastest elections) and 10; OpenBao's default is 5",
        );
    }
}

/// An `apiServerCIDR` with a shorter prefix than this is warned about: it no longer names the
/// API server but a network.
pub const API_SERVER_CIDR_WARN_PREFIX: u8 = 16;

/// Legal but risky settings of `cluster`, one sentence each, naming the field path. The
/// webhook returns them as admission warnings and `render` prints them.
pub fn warnings(cluster: &OpenBaoCluster) -> Vec<String> {
    let spec = &cluster.spec;
    let mut out = Vec::new();
    if spec.replicas == 1 {
        out.push(
            "spec.replicas: 1 member gives no high availability; use 3 or 5 in production"
                .to_string(),
        );
    } else if spec.replicas > 1 && spec.replicas % 2 == 0 {
        out.push(format!(
            "spec.replicas: {} is even; Raft needs a majority, so {} members tolerate no more \
             failures than {}; use an odd number",
            spec.replicas,
            spec.replicas,
            spec.replicas - 1
        ));
    }
    if spec.network.kube_system_ingress {
        out.push(
            "spec.network.kubeSystemIngress: true admits traffic on every port from the \
             kube-system namespace; set it to false unless your CNI or DNS health checks need it"
                .to_string(),
        );
    }
    if let Some(cidr) = &spec.network.api_server_cidr
        && let Ok(net) = cidr.parse::<ipnet::IpNet>()
        && net.prefix_len() < API_SERVER_CIDR_WARN_PREFIX
    {
        out.push(format!(
            "spec.network.apiServerCIDR: {cidr:?} is wider than a /{API_SERVER_CIDR_WARN_PREFIX}: \
             the OpenBao pods may open connections to every address in it on 443 and 6443; \
             use the API server's own address (/32 or /128) or its smallest covering range"
        ));
    }
    match spec.tls.mode {
        TlsMode::External => {
            out.push(format!(
                "spec.tls.mode: External: you provide and renew the certificate in Secret {:?}; \
                 the operator does not rotate it, and if its CA is self-signed, distributing \
                 ca.crt to clients is up to you",
                spec.tls.external_secret_name.as_deref().unwrap_or_default()
            ));
            if !spec.tls.extra_sans.is_empty() {
                out.push(
                    "spec.tls.extraSANs: ignored when spec.tls.mode is External; put the names \
                     in your certificate"
                        .to_string(),
                );
            }
        }
        TlsMode::OperatorManaged => {
            if spec.tls.external_secret_name.is_some() {
                out.push(
                    "spec.tls.externalSecretName: ignored unless spec.tls.mode is External"
                        .to_string(),
                );
            }
        }
    }
    if spec.unseal.type_ != UnsealType::Static && spec.network.egress_rules.is_empty() {
        out.push(format!(
            "spec.network.egressRules: spec.unseal.type is {} but there are no egress rules; \
             the default-deny posture blocks the pods from reaching the seal's endpoint, so \
             add an egress rule for it",
            spec.unseal.type_.as_str()
        ));
    }
    if spec.unseal.type_ == UnsealType::Transit && spec.unseal.credentials_secret_ref.is_none() {
        out.push(
            "spec.unseal.credentialsSecretRef: the transit seal needs a token (VAULT_TOKEN); \
             without a credentials Secret OpenBao cannot authenticate to the transit server"
                .to_string(),
        );
    }
    if spec.service.type_ != ServiceType::ClusterIP && spec.network.ingress_rules.is_empty() {
        out.push(format!(
            "spec.service.type: {} exposes the Service, but the NetworkPolicy admits no outside \
             traffic until you add spec.network.ingressRules",
            spec.service.type_.as_str()
        ));
    }
    for (i, rule) in spec.network.ingress_rules.iter().enumerate() {
        let path = format!("spec.network.ingressRules[{i}]");
        let peers = rule.from.as_deref().unwrap_or_default();
        if peers.is_empty() {
            out.push(format!(
                "{path}.from: no peers, so this rule admits traffic from every source{}",
                if rule.ports.as_ref().is_none_or(Vec::is_empty) {
                    " on every port"
                } else {
                    ""
                }
            ));
        }
        for (j, peer) in peers.iter().enumerate() {
            peer_warnings(peer, &format!("{path}.from[{j}]"), "admits", &mut out);
        }
    }
    let egress_lists = [
        ("spec.network.egressRules", Some(&spec.network.egress_rules)),
        (
            "spec.backup.egressRules",
            spec.backup.as_ref().and_then(|b| b.egress_rules.as_ref()),
        ),
    ];
    for (base, list) in egress_lists {
        for (i, rule) in list.into_iter().flatten().enumerate() {
            let path = format!("{base}[{i}]");
            let peers = rule.to.as_deref().unwrap_or_default();
            if peers.is_empty() {
                out.push(format!(
                    "{path}.to: no peers, so this rule allows egress to every destination"
                ));
            }
            for (j, peer) in peers.iter().enumerate() {
                peer_warnings(
                    peer,
                    &format!("{path}.to[{j}]"),
                    "allows egress to",
                    &mut out,
                );
            }
        }
    }
    if let Some(backup) = &spec.backup {
        if backup.egress_rules.as_ref().is_some_and(Vec::is_empty)
            && backup.target.provider != BackupProvider::Filesystem
        {
            out.push(
                "spec.backup.egressRules: an empty list limits backup Jobs to DNS, the API \
                 server and this cluster, so they cannot reach the object store; add a rule \
                 for its endpoint or remove the field"
                    .to_string(),
            );
        }
        if backup.target.provider == BackupProvider::Filesystem && backup.target.bucket.is_some() {
            out.push("spec.backup.target.bucket: ignored when provider is filesystem".to_string());
        }
    }
    out
}

fn peer_warnings(peer: &NetworkPolicyPeer, path: &str, verb: &str, out: &mut Vec<String>) {
    if let Some(block) = &peer.ip_block
        && let Ok(net) = rules::parse_cidr(&block.cidr)
        && net.prefix_len() == 0
    {
        out.push(format!(
            "{path}.ipBlock.cidr: {net} {verb} every {} address, including the internet",
            if net.addr().is_ipv4() { "IPv4" } else { "IPv6" }
        ));
    }
    if let Some(selector) = &peer.namespace_selector
        && selector
            .match_labels
            .as_ref()
            .is_none_or(BTreeMap::is_empty)
        && selector
            .match_expressions
            .as_ref()
            .is_none_or(Vec::is_empty)
    {
        out.push(format!(
            "{path}.namespaceSelector: {{}} selects every namespace, so this peer {verb} \
             {}pods in all namespaces",
            if peer.pod_selector.is_some() {
                "matching "
            } else {
                "all "
            }
        ));
    }
}
