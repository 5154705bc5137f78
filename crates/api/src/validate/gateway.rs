//! `spec.gateway`: the Gateway reference, hostname, path, listener and backend TLS hostname,
//! and the pods the NetworkPolicy admits from the Gateway.

use std::net::IpAddr;

use super::ValidationErrors;
use super::checks::{check_label, check_subdomain};
use super::network::validate_label_selector;
use super::rules;
use crate::spec::{GatewaySpec, OpenBaoCluster};

/// A Gateway in the cluster's own namespace must name its pods: admitting "the Gateway's
/// namespace" would then open 8200 to every pod of the cluster's namespace.
pub(super) fn validate_gateway_peer(
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

pub(super) fn validate_gateway(gateway: &GatewaySpec, errs: &mut ValidationErrors) {
    super::service::validate_annotations(&gateway.annotations, "spec.gateway.annotations", errs);
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
    if let Some(host) = gateway
        .backend_tls
        .as_ref()
        .and_then(|b| b.hostname.as_deref())
        .filter(|h| !h.is_empty())
        && (host.parse::<IpAddr>().is_ok() || !rules::is_dns_name(host, false))
    {
        errs.add(
            "spec.gateway.backendTLS.hostname",
            host,
            "must be a lowercase DNS name without a wildcard, such as bao.openbao.svc: the name              the Gateway verifies in OpenBao's certificate (unset: the client Service's DNS name)",
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
