//! `validate`: network settings and NetworkPolicy rules (peers, CIDRs, ports, selectors) in
//! `spec.network` and `spec.backup.egressRules`.

mod common;

use common::*;
use serde_json::{Value, json};

const INGRESS: &str = "/spec/network/ingressRules/0";
const EGRESS: &str = "/spec/network/egressRules/0";

#[test]
fn the_dns_namespace_must_be_a_dns_1123_label() {
    assert_invalid_at("spec.network.dnsNamespace", |v| {
        set(v, "/spec/network/dnsNamespace", json!("kube_system"))
    });
}

#[test]
fn the_api_server_cidr_must_be_a_canonical_cidr_and_the_message_names_the_canonical_form() {
    let errors = errors_with(|v| set(v, "/spec/network/apiServerCIDR", json!("10.96.0.1/12")));
    assert_path(&errors, "spec.network.apiServerCIDR");
    assert!(errors.0[0].message.contains("10.96.0.0/12"), "{errors}");
    for bad in ["10.96.0.1", "10.96.0.0/33", "not-a-cidr", "fd00::1/64"] {
        assert_invalid_at("spec.network.apiServerCIDR", |v| {
            set(v, "/spec/network/apiServerCIDR", json!(bad))
        });
    }
    assert_valid_with(|v| set(v, "/spec/network/apiServerCIDR", json!("fd00:10:96::/112")));
}

#[test]
fn an_api_server_cidr_covering_every_address_is_rejected_by_name() {
    for any in ["0.0.0.0/0", "::/0"] {
        let errors = errors_with(|v| set(v, "/spec/network/apiServerCIDR", json!(any)));
        assert_path(&errors, "spec.network.apiServerCIDR");
        assert!(errors.0[0].message.contains(any), "{errors}");
    }
}

#[test]
fn api_server_endpoint_ips_are_single_unique_addresses() {
    assert_invalid_at("spec.network.apiServerEndpointIPs[0]", |v| {
        set(
            v,
            "/spec/network/apiServerEndpointIPs/0",
            json!("172.18.0.2/32"),
        )
    });
    assert_invalid_at("spec.network.apiServerEndpointIPs[1]", |v| {
        set(
            v,
            "/spec/network/apiServerEndpointIPs/1",
            json!("172.18.0.2"),
        )
    });
    assert_invalid_at("spec.network.apiServerEndpointIPs[0]", |v| {
        set(
            v,
            "/spec/network/apiServerEndpointIPs/0",
            json!("api.local"),
        )
    });
}

#[test]
fn an_empty_peer_is_rejected() {
    assert_invalid_at("spec.network.ingressRules[0].from[1]", |v| {
        set(v, &format!("{INGRESS}/from/1"), json!({}))
    });
}

#[test]
fn a_peer_mixing_an_ip_block_with_a_selector_is_rejected() {
    assert_invalid_at("spec.network.ingressRules[0].from[1]", |v| {
        set(v, &format!("{INGRESS}/from/1/podSelector"), json!({}))
    });
}

#[test]
fn ip_block_cidrs_must_be_valid_in_either_family() {
    for bad in ["10.0.0.0/33", "10.0.0.1/8", "", "fd00::/129", "10.0.0.0"] {
        assert_invalid_at("spec.network.ingressRules[0].from[1].ipBlock.cidr", |v| {
            set(v, &format!("{INGRESS}/from/1/ipBlock/cidr"), json!(bad))
        });
    }
    assert_valid_with(|v| {
        set(
            v,
            &format!("{INGRESS}/from/1/ipBlock"),
            json!({"cidr": "fd00::/8", "except": ["fd00:1::/32"]}),
        )
    });
}

#[test]
fn except_entries_must_be_strictly_inside_the_cidr_and_of_the_same_family() {
    for bad in ["10.0.0.0/8", "192.168.0.0/16", "fd00::/16", "10.1.0.0/33"] {
        assert_invalid_at(
            "spec.network.ingressRules[0].from[1].ipBlock.except[0]",
            |v| set(v, &format!("{INGRESS}/from/1/ipBlock/except/0"), json!(bad)),
        );
    }
}

#[test]
fn port_protocols_must_be_tcp_udp_or_sctp() {
    for bad in ["tcp", "ICMP", ""] {
        assert_invalid_at("spec.network.ingressRules[0].ports[0].protocol", |v| {
            set(v, &format!("{INGRESS}/ports/0/protocol"), json!(bad))
        });
    }
}

#[test]
fn ports_must_be_numbers_in_range_or_iana_service_names() {
    for bad in [
        json!(0),
        json!(65536),
        json!(-1),
        json!("8200"),
        json!("HTTP"),
        json!("my--port"),
        json!("a-very-long-port-name"),
    ] {
        assert_invalid_at("spec.network.ingressRules[0].ports[0].port", |v| {
            set(v, &format!("{INGRESS}/ports/0/port"), bad)
        });
    }
    assert_valid_with(|v| set(v, &format!("{INGRESS}/ports/0/port"), json!("api")));
}

#[test]
fn end_port_needs_a_numeric_port_and_must_not_be_below_it() {
    let end_port = "spec.network.egressRules[0].ports[0].endPort";
    assert_invalid_at(end_port, |v| {
        set(v, &format!("{EGRESS}/ports/0/endPort"), json!(8199))
    });
    assert_invalid_at(end_port, |v| {
        set(v, &format!("{EGRESS}/ports/0/endPort"), json!(70000))
    });
    assert_invalid_at(end_port, |v| {
        set(v, &format!("{EGRESS}/ports/0/port"), json!("https"))
    });
    assert_invalid_at(end_port, |v| remove(v, &format!("{EGRESS}/ports/0/port")));
    assert_valid_with(|v| set(v, &format!("{EGRESS}/ports/0/endPort"), json!(8200)));
}

fn selector(v: &mut Value, selector: Value) {
    set(v, &format!("{INGRESS}/from/0/podSelector"), selector);
}

#[test]
fn match_labels_keys_must_be_qualified_names_and_values_label_values() {
    let base = "spec.network.ingressRules[0].from[0].podSelector.matchLabels";
    assert_invalid_at(&format!("{base}[\"bad key\"]"), |v| {
        selector(v, json!({"matchLabels": {"bad key": "x"}}))
    });
    assert_invalid_at(&format!("{base}[\"Example.com/app\"]"), |v| {
        selector(v, json!({"matchLabels": {"Example.com/app": "x"}}))
    });
    assert_invalid_at(&format!("{base}.app"), |v| {
        selector(v, json!({"matchLabels": {"app": "-web"}}))
    });
    assert_invalid_at(&format!("{base}.app"), |v| {
        selector(v, json!({"matchLabels": {"app": "a".repeat(64)}}))
    });
    assert_valid_with(|v| selector(v, json!({"matchLabels": {"app": ""}})));
}

#[test]
fn match_expressions_check_operator_values_and_key() {
    let base = "spec.network.ingressRules[0].from[0].podSelector.matchExpressions[0]";
    let expr = |e: Value| move |v: &mut Value| selector(v, json!({"matchExpressions": [e]}));
    assert_invalid_at(
        &format!("{base}.operator"),
        expr(json!({"key": "app", "operator": "Equals", "values": ["a"]})),
    );
    assert_invalid_at(
        &format!("{base}.values"),
        expr(json!({"key": "app", "operator": "In"})),
    );
    assert_invalid_at(
        &format!("{base}.values"),
        expr(json!({"key": "app", "operator": "NotIn", "values": []})),
    );
    assert_invalid_at(
        &format!("{base}.values"),
        expr(json!({"key": "app", "operator": "Exists", "values": ["a"]})),
    );
    assert_invalid_at(
        &format!("{base}.values[1]"),
        expr(json!({"key": "app", "operator": "In", "values": ["a", "b c"]})),
    );
    assert_invalid_at(
        &format!("{base}.key"),
        expr(json!({"key": "a/b/c", "operator": "Exists"})),
    );
    assert_invalid_at(
        &format!("{base}.key"),
        expr(json!({"key": "", "operator": "Exists"})),
    );
    assert_valid_with(expr(json!({"key": "app", "operator": "DoesNotExist"})));
}

#[test]
fn egress_rules_are_checked_like_ingress_rules() {
    assert_invalid_at("spec.network.egressRules[0].to[0].ipBlock.cidr", |v| {
        set(
            v,
            &format!("{EGRESS}/to/0/ipBlock/cidr"),
            json!("192.0.2.10/24"),
        )
    });
    assert_invalid_at("spec.network.egressRules[0].to[0]", |v| {
        set(v, &format!("{EGRESS}/to/0"), json!({}))
    });
}

#[test]
fn backup_egress_rules_are_checked_like_network_rules() {
    assert_invalid_at("spec.backup.egressRules[0].ports[0].protocol", |v| {
        set(
            v,
            "/spec/backup/egressRules/0/ports/0/protocol",
            json!("HTTPS"),
        )
    });
    assert_invalid_at(
        "spec.backup.egressRules[0].to[0].namespaceSelector.matchExpressions[0].operator",
        |v| {
            set(
                v,
                "/spec/backup/egressRules/0/to/0",
                json!({"namespaceSelector": {"matchExpressions": [{"key": "a", "operator": "in", "values": ["x"]}]}}),
            )
        },
    );
}
