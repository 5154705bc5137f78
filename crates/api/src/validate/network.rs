//! `spec.network` and NetworkPolicy rules anywhere in the spec: API server addresses,
//! ingress and egress rules, their peers, IP blocks, ports and label selectors.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::checks::{check_label, json_of};
use super::{ValidationErrors, key_path, rules};
use crate::spec::NetworkSpec;

const CIDR_EXAMPLE: &str = "must be a CIDR such as 10.0.0.0/8 or fd00::/8";

pub(super) fn validate_network(network: &NetworkSpec, errs: &mut ValidationErrors) {
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
    let mut seen: BTreeMap<IpAddr, usize> = BTreeMap::new();
    for (i, ip) in network.dns_endpoint_ips.iter().enumerate() {
        let path = format!("spec.network.dnsEndpointIPs[{i}]");
        match rules::parse_ip(ip) {
            Err(why) => errs.add(
                &path,
                ip,
                format!(
                    "{why}; must be one IP address of a DNS resolver, such as 169.254.20.10 \
                     (the operator adds /32 or /128 itself)"
                ),
            ),
            Ok(addr) => {
                if let Some(first) = seen.insert(addr, i) {
                    errs.add(
                        &path,
                        ip,
                        format!("duplicate of spec.network.dnsEndpointIPs[{first}]"),
                    );
                }
            }
        }
    }
    for (j, peer) in network.trusted_ingress_peers.iter().enumerate() {
        validate_peer(
            peer,
            &format!("spec.network.trustedIngressPeers[{j}]"),
            errs,
        );
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

pub(super) fn validate_label_selector(
    selector: &LabelSelector,
    path: &str,
    errs: &mut ValidationErrors,
) {
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
