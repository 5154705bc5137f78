//! One test per NetworkPolicy semantic rule, through the public API.

mod common;

use std::net::IpAddr;

use common::{allowed, netpol, policy, xyz, xyz_builder};
use k8s_openapi::api::core::v1 as core;
use netpol::{
    Direction, DirectionVerdict, Endpoint, Flow, FlowError, FlowPort, NAMESPACE_NAME_LABEL,
    Namespace, Pod, PodId, Protocol, World, WorldBuilder, namespace_from_k8s, pod_from_k8s,
};
use serde_json::json;

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test ip")
}

fn pod(world: &World, name: &str) -> PodId {
    let (ns, p) = name.split_once('/').expect("ns/pod");
    world.pod_id(ns, p).expect("known pod")
}

fn flow(world: &World, from: &str, to: &str, port: FlowPort, protocol: Protocol) -> Flow {
    let end = |s: &str| match s.strip_prefix("ip:") {
        Some(addr) => Endpoint::External(ip(addr)),
        None => Endpoint::Pod(pod(world, s)),
    };
    Flow {
        from: end(from),
        to: end(to),
        port,
        protocol,
    }
}

fn tcp(world: &World, from: &str, to: &str, port: u16) -> bool {
    world
        .evaluate(&flow(
            world,
            from,
            to,
            FlowPort::Number(port),
            Protocol::Tcp,
        ))
        .expect("evaluates")
        .allowed
}

fn load_errors(policies: Vec<serde_json::Value>) -> Vec<String> {
    let mut builder = xyz_builder();
    for p in policies {
        builder.policy(policy(p));
    }
    match builder.build() {
        Ok(_) => panic!("expected load errors"),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

fn one_policy_error(spec: serde_json::Value) -> String {
    let errors = load_errors(vec![
        json!({"metadata": {"name": "bad", "namespace": "x"}, "spec": spec}),
    ]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.into_iter().next().unwrap_or_default()
}

// --- the allow decision -----------------------------------------------------------------

#[test]
fn a_flow_is_allowed_only_if_egress_and_ingress_both_allow_it() {
    let world = xyz(vec![
        netpol(
            "x",
            "out",
            json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
            "egress": [{"to": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]}),
        ),
        netpol(
            "x",
            "in",
            json!({"podSelector": {"matchLabels": {"pod": "b"}}}),
        ),
    ]);
    let v = world
        .evaluate(&flow(
            &world,
            "x/a",
            "x/b",
            FlowPort::Number(80),
            Protocol::Tcp,
        ))
        .expect("evaluates");
    assert!(v.egress.allowed());
    assert!(!v.ingress.allowed());
    assert!(!v.allowed);
}

#[test]
fn an_external_source_has_no_egress_policies() {
    let world = xyz(vec![netpol(
        "x",
        "deny-egress",
        json!({"podSelector": {}, "policyTypes": ["Egress"]}),
    )]);
    let v = world
        .evaluate(&flow(
            &world,
            "ip:192.0.2.1",
            "x/a",
            FlowPort::Number(80),
            Protocol::Tcp,
        ))
        .expect("evaluates");
    assert_eq!(v.egress, DirectionVerdict::External);
    assert!(v.allowed);
}

#[test]
fn an_external_destination_has_no_ingress_policies() {
    let world = xyz(vec![]);
    let v = world
        .evaluate(&flow(
            &world,
            "x/a",
            "ip:2001:db8::1",
            FlowPort::Number(443),
            Protocol::Tcp,
        ))
        .expect("evaluates");
    assert_eq!(v.ingress, DirectionVerdict::External);
    assert_eq!(v.egress, DirectionVerdict::NotIsolated);
    assert!(v.allowed);
}

#[test]
fn a_pod_is_isolated_only_by_policies_of_its_own_namespace_that_select_it() {
    let world = xyz(vec![netpol(
        "y",
        "deny",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}}),
    )]);
    assert_eq!(
        world
            .isolated_by(pod(&world, "y/a"), Direction::Ingress)
            .len(),
        1
    );
    assert!(
        world
            .isolated_by(pod(&world, "y/b"), Direction::Ingress)
            .is_empty()
    );
    assert!(
        world
            .isolated_by(pod(&world, "x/a"), Direction::Ingress)
            .is_empty()
    );
    assert!(
        world
            .isolated_by(pod(&world, "y/a"), Direction::Egress)
            .is_empty()
    );
}

#[test]
fn traffic_from_a_pod_to_itself_is_always_allowed() {
    let world = xyz(vec![netpol(
        "x",
        "deny-all",
        json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
    )]);
    let v = world
        .evaluate(&flow(
            &world,
            "x/a",
            "x/a",
            FlowPort::Number(9999),
            Protocol::Udp,
        ))
        .expect("evaluates");
    assert!(v.allowed);
    assert_eq!(v.ingress, DirectionVerdict::SamePod);
    assert!(!tcp(&world, "x/a", "x/b", 80));
}

#[test]
fn multiple_selecting_policies_union_their_rules() {
    let world = xyz(vec![
        netpol(
            "x",
            "from-y",
            json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]}),
        ),
        netpol(
            "x",
            "from-z",
            json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "z"}}}]}]}),
        ),
    ]);
    assert!(tcp(&world, "y/a", "x/a", 80));
    assert!(tcp(&world, "z/a", "x/a", 80));
    assert!(!tcp(&world, "x/b", "x/a", 80));
}

// --- policyTypes defaulting ---------------------------------------------------------------

#[test]
fn a_policy_without_policy_types_or_egress_isolates_ingress_only() {
    let world = xyz(vec![netpol("x", "p", json!({"podSelector": {}}))]);
    assert!(
        !world
            .isolated_by(pod(&world, "x/a"), Direction::Ingress)
            .is_empty()
    );
    assert!(
        world
            .isolated_by(pod(&world, "x/a"), Direction::Egress)
            .is_empty()
    );
}

#[test]
fn omitted_policy_types_with_egress_rules_isolate_egress_too() {
    let world = xyz(vec![netpol(
        "x",
        "p",
        json!({"podSelector": {}, "egress": [{"ports": [{"port": 53}]}]}),
    )]);
    assert!(
        !world
            .isolated_by(pod(&world, "x/a"), Direction::Ingress)
            .is_empty()
    );
    assert!(
        !world
            .isolated_by(pod(&world, "x/a"), Direction::Egress)
            .is_empty()
    );
}

#[test]
fn an_empty_egress_list_without_policy_types_does_not_isolate_egress() {
    let world = xyz(vec![netpol(
        "x",
        "p",
        json!({"podSelector": {}, "egress": []}),
    )]);
    assert!(
        world
            .isolated_by(pod(&world, "x/a"), Direction::Egress)
            .is_empty()
    );
}

#[test]
fn an_empty_policy_types_list_is_defaulted_like_an_omitted_one() {
    let world = xyz(vec![netpol(
        "x",
        "p",
        json!({"podSelector": {}, "policyTypes": [], "egress": [{}]}),
    )]);
    assert!(
        !world
            .isolated_by(pod(&world, "x/a"), Direction::Ingress)
            .is_empty()
    );
    assert!(
        !world
            .isolated_by(pod(&world, "x/a"), Direction::Egress)
            .is_empty()
    );
}

#[test]
fn policy_types_egress_only_ignores_ingress_rules() {
    let world = xyz(vec![netpol(
        "x",
        "p",
        json!({"podSelector": {}, "policyTypes": ["Egress"], "ingress": [{"from": [{"podSelector": {}}]}]}),
    )]);
    assert!(
        world
            .isolated_by(pod(&world, "x/a"), Direction::Ingress)
            .is_empty()
    );
    assert!(tcp(&world, "y/a", "y/b", 80));
    assert!(!tcp(&world, "x/a", "y/b", 80));
}

#[test]
fn a_policy_without_spec_denies_all_ingress_to_its_namespace() {
    let world = xyz(vec![policy(
        json!({"metadata": {"name": "bare", "namespace": "z"}}),
    )]);
    assert!(!tcp(&world, "x/a", "z/a", 80));
    assert!(tcp(&world, "z/a", "x/a", 80));
}

#[test]
fn an_unknown_policy_type_is_a_load_error() {
    let e = one_policy_error(json!({"podSelector": {}, "policyTypes": ["Ingress", "egress"]}));
    assert!(
        e.starts_with("NetworkPolicy x/bad: spec.policyTypes[1]: "),
        "{e}"
    );
}

// --- rules, peers and ports: empty vs absent ------------------------------------------------

#[test]
fn an_empty_rule_allows_everything() {
    let world = xyz(vec![netpol(
        "x",
        "p",
        json!({"podSelector": {}, "ingress": [{}]}),
    )]);
    assert!(tcp(&world, "y/a", "x/a", 1));
    assert!(tcp(&world, "ip:203.0.113.7", "x/a", 65535));
}

#[test]
fn an_empty_ingress_list_allows_nothing() {
    let world = xyz(vec![netpol(
        "x",
        "p",
        json!({"podSelector": {}, "ingress": []}),
    )]);
    assert!(!tcp(&world, "x/b", "x/a", 80));
    assert!(!tcp(&world, "ip:203.0.113.7", "x/a", 80));
}

#[test]
fn an_absent_from_admits_every_source_including_external_ones() {
    let world = xyz(vec![netpol(
        "x",
        "p",
        json!({"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]}),
    )]);
    assert!(tcp(&world, "ip:198.51.100.1", "x/a", 80));
    assert!(tcp(&world, "z/c", "x/a", 80));
    assert!(!tcp(&world, "z/c", "x/a", 81));
}

#[test]
fn an_empty_from_list_admits_every_source() {
    let world = xyz(vec![netpol(
        "x",
        "p",
        json!({"podSelector": {}, "ingress": [{"from": [], "ports": [{"port": 80}]}]}),
    )]);
    assert!(tcp(&world, "ip:198.51.100.1", "x/a", 80));
    assert!(tcp(&world, "y/b", "x/a", 80));
}

#[test]
fn absent_or_empty_ports_admit_every_port_and_protocol() {
    for ports in [json!(null), json!([])] {
        let world = xyz(vec![netpol(
            "x",
            "p",
            json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}], "ports": ports}]}),
        )]);
        for protocol in Protocol::ALL {
            assert!(allowed(&world, "x/b", "x/a", 12345, protocol));
        }
    }
}

// --- peers ------------------------------------------------------------------------------

#[test]
fn a_peer_with_namespace_and_pod_selectors_requires_both() {
    let world = xyz(vec![netpol(
        "x",
        "p",
        json!({"podSelector": {}, "ingress": [{"from": [{
        "namespaceSelector": {"matchLabels": {"ns": "y"}}, "podSelector": {"matchLabels": {"pod": "c"}}}]}]}),
    )]);
    assert!(tcp(&world, "y/c", "x/a", 80));
    assert!(!tcp(&world, "y/a", "x/a", 80));
    assert!(!tcp(&world, "x/c", "x/a", 80));
}

#[test]
fn separate_peers_are_ored() {
    let world = xyz(vec![netpol(
        "x",
        "p",
        json!({"podSelector": {}, "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {"ns": "y"}}}, {"podSelector": {"matchLabels": {"pod": "c"}}}]}]}),
    )]);
    assert!(tcp(&world, "y/a", "x/a", 80));
    assert!(tcp(&world, "x/c", "x/a", 80));
    assert!(!tcp(&world, "z/c", "x/a", 80));
}

#[test]
fn a_pod_selector_alone_selects_pods_of_the_policys_namespace() {
    let world = xyz(vec![netpol(
        "x",
        "p",
        json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]}),
    )]);
    assert!(tcp(&world, "x/c", "x/a", 80));
    assert!(!tcp(&world, "y/c", "x/a", 80));
}

#[test]
fn a_namespace_selector_alone_selects_every_pod_of_matching_namespaces() {
    let world = xyz(vec![netpol(
        "x",
        "p",
        json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "z"}}}]}]}),
    )]);
    for p in ["z/a", "z/b", "z/c"] {
        assert!(tcp(&world, p, "x/a", 80));
    }
    assert!(!tcp(&world, "x/b", "x/a", 80));
}

#[test]
fn an_empty_namespace_selector_matches_every_namespace_but_no_external_address() {
    let world = xyz(vec![netpol(
        "x",
        "p",
        json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}}]}]}),
    )]);
    assert!(tcp(&world, "y/a", "x/a", 80));
    assert!(tcp(&world, "x/b", "x/a", 80));
    assert!(!tcp(&world, "ip:10.9.9.9", "x/a", 80));
}

#[test]
fn a_missing_label_key_matches_not_in() {
    let mut builder = xyz_builder();
    builder.pod(Pod::new("y", "unlabelled"));
    builder.policy(netpol("x", "p", json!({"podSelector": {}, "ingress": [{"from": [{
        "namespaceSelector": {},
        "podSelector": {"matchExpressions": [{"key": "pod", "operator": "NotIn", "values": ["a"]}]}}]}]})));
    let world = builder.build().expect("builds");
    assert!(tcp(&world, "y/unlabelled", "x/a", 80));
    assert!(tcp(&world, "y/b", "x/a", 80));
    assert!(!tcp(&world, "y/a", "x/a", 80));
}

#[test]
fn an_unknown_operator_is_a_load_error_naming_the_policy_and_field() {
    let e = one_policy_error(
        json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["b"]}]}}]}]}),
    );
    assert!(e.starts_with("NetworkPolicy x/bad: spec.ingress[0].from[0].podSelector.matchExpressions[0].operator: "), "{e}");
    assert!(e.contains("Equals"), "{e}");
}

#[test]
fn a_peer_with_ip_block_and_a_selector_is_a_load_error() {
    let e = one_policy_error(
        json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}]}]}),
    );
    assert!(
        e.contains("spec.ingress[0].from[0]: may not specify both ipBlock"),
        "{e}"
    );
}

#[test]
fn an_empty_peer_is_a_load_error() {
    let e = one_policy_error(json!({"podSelector": {}, "egress": [{"to": [{}]}]}));
    assert!(
        e.contains("spec.egress[0].to[0]: must specify a peer"),
        "{e}"
    );
}

// --- ipBlock ----------------------------------------------------------------------------

#[test]
fn an_ip_block_matches_external_addresses_minus_its_exceptions() {
    let world = xyz(vec![netpol(
        "x",
        "p",
        json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "192.0.2.0/24", "except": ["192.0.2.128/25"]}}]}]}),
    )]);
    assert!(tcp(&world, "ip:192.0.2.5", "x/a", 80));
    assert!(!tcp(&world, "ip:192.0.2.200", "x/a", 80));
    assert!(!tcp(&world, "ip:198.51.100.1", "x/a", 80));
}

#[test]
fn an_ip_block_matches_pod_ips_too() {
    let world = xyz(vec![netpol(
        "x",
        "p",
        json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.1.0/24", "except": ["10.0.1.3/32"]}}]}]}),
    )]);
    assert!(tcp(&world, "y/a", "x/a", 80));
    assert!(tcp(&world, "y/b", "x/a", 80));
    assert!(!tcp(&world, "y/c", "x/a", 80));
    assert!(!tcp(&world, "z/a", "x/a", 80));
}

#[test]
fn an_egress_ip_block_matches_external_destinations() {
    let world = xyz(vec![netpol(
        "x",
        "p",
        json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"ipBlock": {"cidr": "2001:db8::/32"}}], "ports": [{"port": 443}]}]}),
    )]);
    assert!(tcp(&world, "x/a", "ip:2001:db8:1::5", 443));
    assert!(!tcp(&world, "x/a", "ip:2001:db9::5", 443));
    assert!(!tcp(&world, "x/a", "ip:2001:db8::5", 80));
}

#[test]
fn an_ipv4_address_never_matches_an_ipv6_block() {
    let world = xyz(vec![netpol(
        "x",
        "p",
        json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "::/0"}}]}]}),
    )]);
    assert!(!tcp(&world, "ip:192.0.2.1", "x/a", 80));
    assert!(!tcp(&world, "y/a", "x/a", 80));
    assert!(tcp(&world, "ip:::ffff:192.0.2.1", "x/a", 80));
}

#[test]
fn ipv6_pod_addresses_match_ipv6_blocks() {
    let mut builder = xyz_builder();
    builder.pod(
        Pod::new("y", "v6")
            .with_ip(ip("fd00::10"))
            .with_ip(ip("10.9.0.1")),
    );
    builder.policy(netpol(
        "x",
        "p",
        json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "fd00::/64"}}]}]}),
    ));
    let world = builder.build().expect("builds");
    assert!(tcp(&world, "y/v6", "x/a", 80));
    assert!(!tcp(&world, "y/a", "x/a", 80));
}

#[test]
fn a_bad_cidr_is_a_load_error_naming_the_field() {
    let e = one_policy_error(
        json!({"podSelector": {}, "ingress": [{}, {"from": [{"podSelector": {}}, {"ipBlock": {"cidr": "10.0.0/8"}}]}]}),
    );
    assert!(
        e.starts_with(
            "NetworkPolicy x/bad: spec.ingress[1].from[1].ipBlock.cidr: invalid CIDR \"10.0.0/8\""
        ),
        "{e}"
    );
}

#[test]
fn an_exception_outside_the_cidr_is_a_load_error() {
    let e = one_policy_error(
        json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.1.0.0/24"]}}]}]}),
    );
    assert!(
        e.contains(
            "spec.ingress[0].from[0].ipBlock.except[0]: \"10.1.0.0/24\" must be a strict subset"
        ),
        "{e}"
    );
}

// --- ports ------------------------------------------------------------------------------

#[test]
fn a_rule_port_without_protocol_means_tcp() {
    let world = xyz(vec![netpol(
        "x",
        "p",
        json!({"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]}),
    )]);
    assert!(allowed(&world, "y/a", "x/a", 80, Protocol::Tcp));
    assert!(!allowed(&world, "y/a", "x/a", 80, Protocol::Udp));
}

#[test]
fn a_rule_port_without_port_matches_every_port_of_its_protocol() {
    let world = xyz(vec![netpol(
        "x",
        "p",
        json!({"podSelector": {}, "ingress": [{"ports": [{"protocol": "SCTP"}]}]}),
    )]);
    assert!(allowed(&world, "y/a", "x/a", 1, Protocol::Sctp));
    assert!(allowed(&world, "y/a", "x/a", 65535, Protocol::Sctp));
    assert!(!allowed(&world, "y/a", "x/a", 80, Protocol::Tcp));
}

#[test]
fn end_port_makes_an_inclusive_range() {
    let world = xyz(vec![netpol(
        "x",
        "p",
        json!({"podSelector": {}, "ingress": [{"ports": [{"port": 8000, "endPort": 8010}]}]}),
    )]);
    assert!(!tcp(&world, "y/a", "x/a", 7999));
    assert!(tcp(&world, "y/a", "x/a", 8000));
    assert!(tcp(&world, "y/a", "x/a", 8010));
    assert!(!tcp(&world, "y/a", "x/a", 8011));
}

#[test]
fn bad_ports_are_load_errors_naming_the_field() {
    let cases = [
        (
            json!({"port": 0}),
            "spec.ingress[0].ports[0].port: 0 is not a valid port number",
        ),
        (
            json!({"port": 65536}),
            "spec.ingress[0].ports[0].port: 65536 is not a valid port number",
        ),
        (
            json!({"port": 90, "endPort": 80}),
            "spec.ingress[0].ports[0].endPort: 80 must be greater than or equal to `port`",
        ),
        (
            json!({"port": "http", "endPort": 80}),
            "spec.ingress[0].ports[0].endPort: 80 may not be specified when `port` is non-numeric",
        ),
        (
            json!({"endPort": 80}),
            "spec.ingress[0].ports[0].endPort: 80 may not be specified when `port` is not specified",
        ),
        (
            json!({"port": 80, "protocol": "tcp"}),
            "spec.ingress[0].ports[0].protocol: unsupported protocol \"tcp\"",
        ),
        (
            json!({"port": "HTTP"}),
            "spec.ingress[0].ports[0].port: invalid port name \"HTTP\"",
        ),
        (
            json!({"port": "80"}),
            "spec.ingress[0].ports[0].port: invalid port name \"80\": must contain at least one letter",
        ),
    ];
    for (port, want) in cases {
        let e = one_policy_error(json!({"podSelector": {}, "ingress": [{"ports": [port]}]}));
        assert!(
            e.starts_with("NetworkPolicy x/bad: ") && e.contains(want),
            "{e}\nwanted {want}"
        );
    }
}

#[test]
fn every_load_error_is_reported_not_only_the_first() {
    let errors = load_errors(vec![
        json!({"metadata": {"name": "one", "namespace": "x"}, "spec": {"ingress": [{"from": [{"ipBlock": {"cidr": "nope"}}], "ports": [{"port": 0}]}]}}),
        json!({"metadata": {"name": "two", "namespace": "y"}, "spec": {"policyTypes": ["Sideways"]}}),
    ]);
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors[2].starts_with("NetworkPolicy y/two: spec.policyTypes[0]"),
        "{errors:?}"
    );
}

#[test]
fn a_named_rule_port_resolves_against_the_destination_pod_for_ingress() {
    let mut builder = WorldBuilder::new();
    builder
        .pod(Pod::new("x", "server").with_port(Some("http"), 8080, Protocol::Tcp))
        .pod(Pod::new("x", "other").with_port(Some("http"), 9090, Protocol::Tcp))
        .pod(Pod::new("x", "client"))
        .policy(netpol(
            "x",
            "p",
            json!({"podSelector": {}, "ingress": [{"ports": [{"port": "http"}]}]}),
        ));
    let world = builder.build().expect("builds");
    assert!(tcp(&world, "x/client", "x/server", 8080));
    assert!(!tcp(&world, "x/client", "x/server", 9090));
    assert!(tcp(&world, "x/client", "x/other", 9090));
    assert!(!tcp(&world, "x/server", "x/client", 8080));
}

#[test]
fn a_named_rule_port_resolves_against_the_peer_pod_for_egress() {
    let mut builder = WorldBuilder::new();
    builder
        .pod(Pod::new("x", "client").with_port(Some("dns"), 5353, Protocol::Udp))
        .pod(Pod::new("kube-system", "dns").with_port(Some("dns"), 53, Protocol::Udp))
        .policy(netpol("x", "p", json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": "dns", "protocol": "UDP"}]}]})));
    let world = builder.build().expect("builds");
    assert!(allowed(
        &world,
        "x/client",
        "kube-system/dns",
        53,
        Protocol::Udp
    ));
    // 5353 is the client's own "dns" port, not the destination's.
    assert!(!allowed(
        &world,
        "x/client",
        "kube-system/dns",
        5353,
        Protocol::Udp
    ));
}

#[test]
fn a_named_rule_port_never_matches_an_external_destination() {
    let world = xyz(vec![netpol(
        "x",
        "p",
        json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": "serve-80-tcp"}]}]}),
    )]);
    assert!(tcp(&world, "x/a", "y/a", 80));
    assert!(!tcp(&world, "x/a", "ip:192.0.2.1", 80));
}

#[test]
fn a_named_flow_port_resolves_against_the_destination_pod() {
    let world = xyz(vec![netpol(
        "x",
        "p",
        json!({"podSelector": {}, "ingress": [{"ports": [{"port": 81, "protocol": "UDP"}]}]}),
    )]);
    let v = world
        .evaluate(&flow(
            &world,
            "y/a",
            "x/a",
            FlowPort::Named("serve-81-udp".into()),
            Protocol::Udp,
        ))
        .expect("known name");
    assert_eq!(v.port, 81);
    assert!(v.allowed);
}

#[test]
fn an_unknown_named_flow_port_is_an_error() {
    let world = xyz(vec![]);
    let err = world
        .evaluate(&flow(
            &world,
            "y/a",
            "x/a",
            FlowPort::Named("serve-81-tcp".into()),
            Protocol::Udp,
        ))
        .expect_err("wrong protocol");
    assert!(matches!(err, FlowError::UnknownPortName { .. }));
    assert!(err.to_string().contains("serve-81-udp"), "{err}");
    let err = world
        .evaluate(&flow(
            &world,
            "y/a",
            "ip:192.0.2.1",
            FlowPort::Named("http".into()),
            Protocol::Tcp,
        ))
        .expect_err("external");
    assert!(matches!(err, FlowError::NamedPortToExternal { .. }));
}

#[test]
fn a_pod_id_from_another_world_is_an_error_not_a_panic() {
    let world = WorldBuilder::new().build().expect("empty world");
    let other = xyz(vec![]);
    let err = world
        .evaluate(&flow(
            &other,
            "x/a",
            "x/b",
            FlowPort::Number(80),
            Protocol::Tcp,
        ))
        .expect_err("foreign id");
    assert_eq!(err, FlowError::UnknownPod(0));
}

// --- namespaces and loading --------------------------------------------------------------

#[test]
fn undeclared_namespaces_exist_with_only_the_metadata_name_label() {
    let mut builder = WorldBuilder::new();
    builder.pod(Pod::new("apps", "a"));
    builder.policy(netpol("policies-only", "p", json!({})));
    let world = builder.build().expect("builds");
    let names: Vec<_> = world.namespaces().iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["apps", "policies-only"]);
    for ns in world.namespaces() {
        assert_eq!(ns.labels.len(), 1);
        assert_eq!(ns.labels.get(NAMESPACE_NAME_LABEL), Some(&ns.name));
    }
}

#[test]
fn declared_namespaces_always_get_the_metadata_name_label() {
    let mut builder = WorldBuilder::new();
    builder.namespace(
        Namespace::new("n")
            .with_label("team", "t")
            .with_label(NAMESPACE_NAME_LABEL, "spoofed"),
    );
    let world = builder.build().expect("builds");
    let labels = &world.namespaces()[0].labels;
    assert_eq!(
        labels.get(NAMESPACE_NAME_LABEL).map(String::as_str),
        Some("n")
    );
    assert_eq!(labels.get("team").map(String::as_str), Some("t"));
}

#[test]
fn a_policy_without_a_namespace_lives_in_default() {
    let mut builder = WorldBuilder::new();
    builder
        .pod(Pod::new("default", "a"))
        .pod(Pod::new("other", "b"));
    builder.policy(policy(json!({"metadata": {"name": "deny"}, "spec": {}})));
    let world = builder.build().expect("builds");
    assert!(world.policy_id("default", "deny").is_some());
    assert!(!tcp(&world, "other/b", "default/a", 80));
    assert!(tcp(&world, "default/a", "other/b", 80));
}

#[test]
fn duplicate_objects_are_load_errors() {
    let mut builder = WorldBuilder::new();
    builder
        .namespace(Namespace::new("n"))
        .namespace(Namespace::new("n"))
        .pod(Pod::new("n", "a"))
        .pod(Pod::new("n", "a"))
        .policy(netpol("n", "p", json!({})))
        .policy(netpol("n", "p", json!({})));
    let errors = builder.build().expect_err("duplicates").to_string();
    assert!(
        errors.contains("Namespace n: metadata.name: duplicate namespace"),
        "{errors}"
    );
    assert!(
        errors.contains("Pod n/a: metadata.name: duplicate pod"),
        "{errors}"
    );
    assert!(
        errors.contains("NetworkPolicy n/p: metadata.name: duplicate network policy"),
        "{errors}"
    );
}

#[test]
fn the_explanation_names_the_isolating_policies_and_the_allowing_rule() {
    let world = xyz(vec![
        netpol("x", "deny-all", json!({"podSelector": {}})),
        netpol(
            "x",
            "from-y",
            json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}, {"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]}),
        ),
    ]);
    let ok = world
        .evaluate(&flow(
            &world,
            "y/a",
            "x/b",
            FlowPort::Number(80),
            Protocol::Tcp,
        ))
        .expect("evaluates");
    assert_eq!(
        ok.to_string(),
        "egress: y/a is not isolated for egress; ingress: allowed by x/from-y ingress[1] (x/b isolated by x/deny-all, x/from-y)"
    );
    let DirectionVerdict::Allowed { rule, .. } = ok.ingress else {
        panic!("allowed")
    };
    assert_eq!((rule.direction, rule.index), (Direction::Ingress, 1));
    let denied = world
        .evaluate(&flow(
            &world,
            "z/a",
            "x/b",
            FlowPort::Number(80),
            Protocol::Tcp,
        ))
        .expect("evaluates");
    assert_eq!(
        denied.to_string(),
        "ingress: denied, x/b is isolated by x/deny-all, x/from-y and no ingress rule allows traffic from z/a on 80/TCP; egress: z/a is not isolated for egress"
    );
}

#[test]
fn the_matrix_covers_every_pair_and_declared_port() {
    let world = xyz(vec![netpol("x", "deny", json!({"podSelector": {}}))]);
    let entries: Vec<_> = world.matrix().collect();
    assert_eq!(entries.len(), 9 * 9 * 4);
    let denied = entries.iter().filter(|e| !e.allowed).count();
    assert_eq!(denied, (9 * 3 - 3) * 4);
}

#[test]
fn k8s_pods_convert_with_defaults_and_report_bad_fields() {
    let good: core::Pod = serde_json::from_value(json!({
        "metadata": {"name": "p", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 53, "protocol": "UDP"}]}],
                 "initContainers": [{"name": "s", "ports": [{"containerPort": 9000, "name": "side"}]}]},
        "status": {"podIP": "10.1.0.5", "podIPs": [{"ip": "10.1.0.5"}, {"ip": "fd00::5"}]}
    })).expect("pod");
    let p = pod_from_k8s(&good).expect("converts");
    assert_eq!(p.namespace, "default");
    assert_eq!(p.ips, vec![ip("10.1.0.5"), ip("fd00::5")]);
    assert_eq!(p.ports.len(), 3);
    assert_eq!(p.ports[1].protocol, Protocol::Udp);
    assert_eq!(p.ports[0].name.as_deref(), Some("http"));

    let bad: core::Pod = serde_json::from_value(json!({
        "metadata": {"name": "q", "namespace": "n"},
        "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 0}, {"containerPort": 80, "protocol": "ICMP"}]}]},
        "status": {"podIP": "10.1.0"}
    })).expect("pod");
    let errors: Vec<String> = pod_from_k8s(&bad)
        .expect_err("bad")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors[0].starts_with("Pod n/q: status.podIP: "),
        "{errors:?}"
    );
    assert!(
        errors[1].starts_with("Pod n/q: spec.containers[0].ports[0].containerPort: "),
        "{errors:?}"
    );
    assert!(
        errors[2].starts_with("Pod n/q: spec.containers[0].ports[1].protocol: "),
        "{errors:?}"
    );

    let ns: core::Namespace =
        serde_json::from_value(json!({"metadata": {"name": "n", "labels": {"a": "b"}}}))
            .expect("ns");
    assert_eq!(namespace_from_k8s(&ns).expect("converts").labels.len(), 1);
}
