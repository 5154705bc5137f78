//! `spec.ingress`: the managed Ingress's host, path (as the Ingress API checks it for its path
//! type), IngressClass, TLS Secret and annotations.

use std::net::IpAddr;

use super::ValidationErrors;
use super::checks::check_subdomain;
use super::rules;
use crate::spec::{IngressPathType, IngressSpec};

pub(super) fn validate_ingress(ingress: &IngressSpec, errs: &mut ValidationErrors) {
    super::service::validate_annotations(&ingress.annotations, "spec.ingress.annotations", errs);
    validate_host(&ingress.host, errs);
    let path_type = ingress.path_type.unwrap_or_default();
    if let Some(why) = path_problem(ingress.path(), path_type) {
        errs.add(
            "spec.ingress.path",
            ingress.path(),
            format!("{why} (pathType {})", path_type.as_str()),
        );
    }
    if let Some(class) = ingress.class_name() {
        check_subdomain(
            errs,
            "spec.ingress.className",
            class,
            "the name of an IngressClass",
        );
    }
    if let Some(secret) = ingress.tls_secret_name() {
        check_subdomain(
            errs,
            "spec.ingress.tlsSecretName",
            secret,
            "the name of a TLS Secret in the cluster's namespace",
        );
    }
}

fn validate_host(host: &str, errs: &mut ValidationErrors) {
    let path = "spec.ingress.host";
    if host.is_empty() {
        errs.add(
            path,
            host,
            "required when spec.ingress.enabled is true: the host clients use, such as \
             bao.example.com",
        );
    } else if host.parse::<IpAddr>().is_ok() || host.starts_with('[') {
        errs.add(
            path,
            host,
            "must be a DNS name, not an IP address: Ingress rules match the Host header by name",
        );
    } else if host.contains(':') {
        errs.add(
            path,
            host,
            "must not include a port: the Ingress controller decides the port",
        );
    } else if !rules::is_dns_name(host, true) {
        errs.add(
            path,
            host,
            "must be a lowercase DNS name such as bao.example.com (a leading \"*.\" wildcard is \
             allowed)",
        );
    }
}

/// Why `path` is not a valid Ingress path for `path_type`, as the Ingress API would refuse it:
/// every path is absolute, and Prefix and Exact paths are plain (no `//`, `.` or `..`
/// segments, encoded slashes, or regex characters).
fn path_problem(path: &str, path_type: IngressPathType) -> Option<&'static str> {
    if !path.starts_with('/') {
        return Some("must start with '/', such as / or /bao");
    }
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("must not contain whitespace");
    }
    if path_type == IngressPathType::ImplementationSpecific {
        return None;
    }
    let lower = path.to_ascii_lowercase();
    if lower.contains("//")
        || lower.contains("/./")
        || lower.contains("/../")
        || lower.ends_with("/.")
        || lower.ends_with("/..")
        || lower.contains("%2f")
    {
        return Some("must not contain '//', '.' or '..' segments, or an encoded '/'");
    }
    if path.contains([
        '?', '#', '*', '{', '}', '[', ']', '(', ')', '|', '^', '$', '\\',
    ]) {
        return Some(
            "must be a plain path without query, fragment or regex characters; use pathType \
             ImplementationSpecific for controller-specific syntax",
        );
    }
    None
}
