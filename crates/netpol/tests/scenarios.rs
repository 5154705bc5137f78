//! Reachability scenarios in the style of the upstream Kubernetes network-policy e2e suite:
//! namespaces x, y, z; pods a, b, c in each; ports 80 and 81 over TCP and UDP. Each test asserts
//! the full 9x9 matrix for every port and protocol.

mod common;

use common::{At, allowed, assert_matrix, netpol, xyz};
use netpol::Protocol::{Sctp, Tcp, Udp};
use serde_json::json;

fn is(at: At, name: &str) -> bool {
    let (ns, pod) = name.split_once('/').unwrap_or((name, ""));
    at.ns == ns && (pod.is_empty() || at.pod == pod)
}

#[test]
fn with_no_policies_everything_reaches_everything() {
    let world = xyz(vec![]);
    assert_matrix(&world, |_, _, _, _| true);
}

#[test]
fn default_deny_ingress_blocks_everything_into_the_namespace() {
    let world = xyz(vec![netpol(
        "x",
        "deny-ingress",
        json!({"podSelector": {}}),
    )]);
    assert_matrix(&world, |_, to, _, _| to.ns != "x");
}

#[test]
fn default_deny_egress_blocks_everything_out_of_the_namespace() {
    let world = xyz(vec![netpol(
        "x",
        "deny-egress",
        json!({"podSelector": {}, "policyTypes": ["Egress"]}),
    )]);
    assert_matrix(&world, |from, _, _, _| from.ns != "x");
}

#[test]
fn default_deny_both_directions_isolates_the_namespace_completely() {
    let world = xyz(vec![netpol(
        "x",
        "deny-all",
        json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
    )]);
    assert_matrix(&world, |from, to, _, _| from.ns != "x" && to.ns != "x");
}

#[test]
fn allow_from_the_same_namespace_admits_only_pods_of_that_namespace() {
    let world = xyz(vec![netpol(
        "x",
        "same-ns",
        json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]}),
    )]);
    assert_matrix(&world, |from, to, _, _| to.ns != "x" || from.ns == "x");
}

#[test]
fn allow_to_one_pod_from_one_pod_in_the_same_namespace() {
    let world = xyz(vec![netpol(
        "x",
        "b-to-a",
        json!({
            "podSelector": {"matchLabels": {"pod": "a"}},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]
        }),
    )]);
    assert_matrix(&world, |from, to, _, _| !is(to, "x/a") || is(from, "x/b"));
}

#[test]
fn allow_from_a_namespace_selected_by_label() {
    let world = xyz(vec![netpol(
        "x",
        "from-y",
        json!({
            "podSelector": {"matchLabels": {"pod": "a"}},
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]
        }),
    )]);
    assert_matrix(&world, |from, to, _, _| !is(to, "x/a") || from.ns == "y");
}

#[test]
fn allow_from_namespaces_matched_by_an_in_expression() {
    let world = xyz(vec![netpol(
        "x",
        "from-y-z",
        json!({
            "podSelector": {"matchLabels": {"pod": "a"}},
            "ingress": [{"from": [{"namespaceSelector": {"matchExpressions": [
                {"key": "ns", "operator": "In", "values": ["y", "z"]}
            ]}}]}]
        }),
    )]);
    assert_matrix(&world, |from, to, _, _| !is(to, "x/a") || from.ns != "x");
}

#[test]
fn allow_from_namespaces_not_in_a_list() {
    let world = xyz(vec![netpol(
        "x",
        "not-from-y",
        json!({
            "podSelector": {"matchLabels": {"pod": "a"}},
            "ingress": [{"from": [{"namespaceSelector": {"matchExpressions": [
                {"key": "ns", "operator": "NotIn", "values": ["y"]}
            ]}}]}]
        }),
    )]);
    assert_matrix(&world, |from, to, _, _| !is(to, "x/a") || from.ns != "y");
}

#[test]
fn a_namespace_and_pod_selector_in_one_peer_admit_only_pods_matching_both() {
    let world = xyz(vec![netpol(
        "x",
        "and",
        json!({
            "podSelector": {"matchLabels": {"pod": "a"}},
            "ingress": [{"from": [{
                "namespaceSelector": {"matchLabels": {"ns": "y"}},
                "podSelector": {"matchLabels": {"pod": "b"}}
            }]}]
        }),
    )]);
    assert_matrix(&world, |from, to, _, _| !is(to, "x/a") || is(from, "y/b"));
}

#[test]
fn namespace_and_pod_selectors_in_separate_peers_admit_either() {
    let world = xyz(vec![netpol(
        "x",
        "or",
        json!({
            "podSelector": {"matchLabels": {"pod": "a"}},
            "ingress": [{"from": [
                {"namespaceSelector": {"matchLabels": {"ns": "y"}}},
                {"podSelector": {"matchLabels": {"pod": "b"}}}
            ]}]
        }),
    )]);
    assert_matrix(&world, |from, to, _, _| {
        !is(to, "x/a") || from.ns == "y" || is(from, "x/b")
    });
}

#[test]
fn a_pod_selector_with_exists_and_does_not_exist_expressions() {
    // Deny ingress to pods that have a `pod` label and no `other` label: all of them.
    let world = xyz(vec![netpol(
        "y",
        "expr",
        json!({
            "podSelector": {"matchExpressions": [
                {"key": "pod", "operator": "Exists"},
                {"key": "other", "operator": "DoesNotExist"}
            ]}
        }),
    )]);
    assert_matrix(&world, |_, to, _, _| to.ns != "y");
}

#[test]
fn a_pod_selector_with_an_in_expression_isolates_only_the_listed_pods() {
    let world = xyz(vec![netpol(
        "x",
        "deny-a-b",
        json!({"podSelector": {"matchExpressions": [
            {"key": "pod", "operator": "In", "values": ["a", "b"]}
        ]}}),
    )]);
    assert_matrix(&world, |_, to, _, _| !(is(to, "x/a") || is(to, "x/b")));
}

#[test]
fn allow_ingress_on_one_tcp_port_only() {
    let world = xyz(vec![netpol(
        "x",
        "port-81",
        json!({
            "podSelector": {"matchLabels": {"pod": "a"}},
            "ingress": [{"ports": [{"port": 81}]}]
        }),
    )]);
    assert_matrix(&world, |_, to, port, proto| {
        !is(to, "x/a") || (port == 81 && proto == Tcp)
    });
}

#[test]
fn allow_ingress_on_one_udp_port_only() {
    let world = xyz(vec![netpol(
        "x",
        "udp-80",
        json!({
            "podSelector": {},
            "ingress": [{"ports": [{"port": 80, "protocol": "UDP"}]}]
        }),
    )]);
    assert_matrix(&world, |_, to, port, proto| {
        to.ns != "x" || (port == 80 && proto == Udp)
    });
}

#[test]
fn allow_ingress_on_a_named_port() {
    let world = xyz(vec![netpol(
        "x",
        "named",
        json!({
            "podSelector": {},
            "ingress": [{"ports": [{"port": "serve-81-tcp"}]}]
        }),
    )]);
    assert_matrix(&world, |_, to, port, proto| {
        to.ns != "x" || (port == 81 && proto == Tcp)
    });
}

#[test]
fn a_named_port_with_the_wrong_protocol_matches_nothing() {
    // serve-81-tcp is declared for TCP only; asking for it over UDP resolves to nothing.
    let world = xyz(vec![netpol(
        "x",
        "named-udp",
        json!({
            "podSelector": {},
            "ingress": [{"ports": [{"port": "serve-81-tcp", "protocol": "UDP"}]}]
        }),
    )]);
    assert_matrix(&world, |_, to, _, _| to.ns != "x");
}

#[test]
fn a_named_port_no_pod_declares_allows_nothing() {
    let world = xyz(vec![netpol(
        "x",
        "unknown-name",
        json!({"podSelector": {}, "ingress": [{"ports": [{"port": "metrics"}]}]}),
    )]);
    assert_matrix(&world, |_, to, _, _| to.ns != "x");
}

#[test]
fn allow_ingress_on_a_port_range() {
    let world = xyz(vec![netpol(
        "x",
        "range",
        json!({
            "podSelector": {},
            "ingress": [{"ports": [{"port": 81, "endPort": 9000, "protocol": "UDP"}]}]
        }),
    )]);
    assert_matrix(&world, |_, to, port, proto| {
        to.ns != "x" || (port == 81 && proto == Udp)
    });
}

#[test]
fn egress_to_a_port_range_in_another_namespace() {
    let world = xyz(vec![netpol(
        "x",
        "egress-range",
        json!({
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{
                "to": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}],
                "ports": [{"port": 79, "endPort": 80}]
            }]
        }),
    )]);
    assert_matrix(&world, |from, to, port, proto| {
        from.ns != "x" || (to.ns == "y" && port == 80 && proto == Tcp)
    });
}

#[test]
fn egress_to_a_named_port_resolves_against_the_destination_pod() {
    let world = xyz(vec![netpol(
        "x",
        "egress-named",
        json!({
            "podSelector": {"matchLabels": {"pod": "a"}},
            "policyTypes": ["Egress"],
            "egress": [{"ports": [{"port": "serve-80-udp", "protocol": "UDP"}]}]
        }),
    )]);
    assert_matrix(&world, |from, _, port, proto| {
        !is(from, "x/a") || (port == 80 && proto == Udp)
    });
}

#[test]
fn egress_to_every_port_of_one_protocol() {
    let world = xyz(vec![netpol(
        "z",
        "udp-out",
        json!({
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"ports": [{"protocol": "UDP"}]}]
        }),
    )]);
    assert_matrix(&world, |from, _, _, proto| from.ns != "z" || proto == Udp);
}

#[test]
fn policy_types_egress_only_ignores_the_ingress_section() {
    let world = xyz(vec![netpol(
        "x",
        "egress-only",
        json!({
            "podSelector": {},
            "policyTypes": ["Egress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "nobody"}}}]}],
            "egress": [{"to": [{"podSelector": {}}]}]
        }),
    )]);
    // Ingress is not isolated (the ingress rules are ignored); egress only within x.
    assert_matrix(&world, |from, to, _, _| from.ns != "x" || to.ns == "x");
}

#[test]
fn omitted_policy_types_with_egress_rules_isolate_both_directions() {
    let world = xyz(vec![netpol(
        "x",
        "both",
        json!({
            "podSelector": {"matchLabels": {"pod": "c"}},
            "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"ns": "z"}}}]}]
        }),
    )]);
    // x/c: ingress isolated with no rule (denied), egress only to z.
    assert_matrix(&world, |from, to, _, _| {
        !is(to, "x/c") && (!is(from, "x/c") || to.ns == "z")
    });
}

#[test]
fn omitted_policy_types_with_an_empty_egress_list_isolate_ingress_only() {
    let world = xyz(vec![netpol(
        "x",
        "empty-egress",
        json!({"podSelector": {}, "egress": []}),
    )]);
    assert_matrix(&world, |_, to, _, _| to.ns != "x");
}

#[test]
fn an_empty_ingress_rule_allows_everything_despite_a_deny_all_policy() {
    let world = xyz(vec![
        netpol("x", "deny-all", json!({"podSelector": {}})),
        netpol(
            "x",
            "allow-all",
            json!({"podSelector": {"matchLabels": {"pod": "b"}}, "ingress": [{}]}),
        ),
    ]);
    assert_matrix(&world, |_, to, _, _| to.ns != "x" || to.pod == "b");
}

#[test]
fn multiple_policies_union_their_allowances() {
    let world = xyz(vec![
        netpol("x", "deny-all", json!({"podSelector": {}})),
        netpol(
            "x",
            "from-y",
            json!({
                "podSelector": {"matchLabels": {"pod": "a"}},
                "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]
            }),
        ),
        netpol(
            "x",
            "from-z-c-on-81",
            json!({
                "podSelector": {"matchLabels": {"pod": "a"}},
                "ingress": [{
                    "from": [{"namespaceSelector": {"matchLabels": {"ns": "z"}},
                              "podSelector": {"matchLabels": {"pod": "c"}}}],
                    "ports": [{"port": 81}]
                }]
            }),
        ),
    ]);
    assert_matrix(&world, |from, to, port, proto| {
        to.ns != "x"
            || (to.pod == "a"
                && (from.ns == "y" || (is(from, "z/c") && port == 81 && proto == Tcp)))
    });
}

#[test]
fn ip_block_with_except_applies_to_pod_ips() {
    // 10.0.0.0/16 covers every pod; except 10.0.1.0/24 removes namespace y's pods.
    let world = xyz(vec![netpol(
        "x",
        "cidr",
        json!({
            "podSelector": {"matchLabels": {"pod": "a"}},
            "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.1.0/24"]}}]}]
        }),
    )]);
    assert_matrix(&world, |from, to, _, _| !is(to, "x/a") || from.ns != "y");
}

#[test]
fn egress_ip_block_to_a_single_pod_address() {
    let world = xyz(vec![netpol(
        "x",
        "to-z-b",
        json!({
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "10.0.2.2/32"}}], "ports": [{"port": 80}]}]
        }),
    )]);
    assert_matrix(&world, |from, to, port, proto| {
        from.ns != "x" || (is(to, "z/b") && port == 80 && proto == Tcp)
    });
}

#[test]
fn allow_from_a_namespace_by_its_metadata_name_label() {
    let world = xyz(vec![netpol(
        "y",
        "from-z",
        json!({
            "podSelector": {},
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "z"}}}]}]
        }),
    )]);
    assert_matrix(&world, |from, to, _, _| to.ns != "y" || from.ns == "z");
}

#[test]
fn a_pod_selector_peer_in_another_namespaces_policy_selects_that_namespaces_pods() {
    // A policy in y with `podSelector: pod=a` as its peer means y/a, never x/a.
    let world = xyz(vec![netpol(
        "y",
        "from-own-a",
        json!({
            "podSelector": {"matchLabels": {"pod": "b"}},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "a"}}}]}]
        }),
    )]);
    assert_matrix(&world, |from, to, _, _| !is(to, "y/b") || is(from, "y/a"));
}

#[test]
fn an_empty_namespace_selector_admits_pods_of_every_namespace() {
    let world = xyz(vec![netpol(
        "z",
        "all-ns-a",
        json!({
            "podSelector": {},
            "ingress": [{"from": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"pod": "a"}}}]}]
        }),
    )]);
    assert_matrix(&world, |from, to, _, _| to.ns != "z" || from.pod == "a");
}

#[test]
fn a_rule_with_ports_but_no_from_admits_every_source_on_those_ports() {
    let world = xyz(vec![netpol(
        "x",
        "port-80-any",
        json!({"podSelector": {}, "ingress": [{"ports": [{"port": 80, "protocol": "TCP"}, {"port": 81, "protocol": "UDP"}]}]}),
    )]);
    assert_matrix(&world, |_, to, port, proto| {
        to.ns != "x" || (port == 80 && proto == Tcp) || (port == 81 && proto == Udp)
    });
}

#[test]
fn egress_allowing_only_dns_blocks_all_application_ports() {
    let world = xyz(vec![netpol(
        "x",
        "dns-only",
        json!({
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]
        }),
    )]);
    assert_matrix(&world, |from, _, _, _| from.ns != "x");
}

#[test]
fn egress_allowed_but_ingress_denied_denies_the_flow() {
    let world = xyz(vec![
        netpol(
            "x",
            "egress-to-y",
            json!({
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]
            }),
        ),
        netpol(
            "y",
            "deny-ingress-a",
            json!({"podSelector": {"matchLabels": {"pod": "a"}}}),
        ),
    ]);
    assert_matrix(&world, |from, to, _, _| {
        (from.ns != "x" || to.ns == "y") && !is(to, "y/a")
    });
}

#[test]
fn an_sctp_only_rule_denies_tcp_and_udp() {
    let world = xyz(vec![netpol(
        "x",
        "sctp",
        json!({"podSelector": {}, "ingress": [{"ports": [{"port": 80, "protocol": "SCTP"}]}]}),
    )]);
    assert_matrix(&world, |_, to, _, _| to.ns != "x");
    // The matrix covers TCP and UDP; SCTP itself gets through on 80 only.
    assert!(allowed(&world, "y/a", "x/a", 80, Sctp));
    assert!(!allowed(&world, "y/a", "x/a", 81, Sctp));
}

#[test]
#[should_panic(expected = "reachability differs")]
fn the_matrix_assertion_reports_a_wrong_expectation() {
    let world = xyz(vec![netpol(
        "x",
        "deny-ingress",
        json!({"podSelector": {}}),
    )]);
    assert_matrix(&world, |_, _, _, _| true);
}

#[test]
fn ingress_and_egress_rules_combine_across_namespaces() {
    // x/a may only talk to y; y only accepts from x/a on 80.
    let world = xyz(vec![
        netpol(
            "x",
            "a-out",
            json!({
                "podSelector": {"matchLabels": {"pod": "a"}},
                "policyTypes": ["Egress"],
                "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]
            }),
        ),
        netpol(
            "y",
            "in-from-x-a",
            json!({
                "podSelector": {},
                "ingress": [{
                    "from": [{"namespaceSelector": {"matchLabels": {"ns": "x"}},
                              "podSelector": {"matchLabels": {"pod": "a"}}}],
                    "ports": [{"port": 80}]
                }]
            }),
        ),
    ]);
    assert_matrix(&world, |from, to, port, proto| {
        let egress_ok = !is(from, "x/a") || to.ns == "y";
        let ingress_ok = to.ns != "y" || (is(from, "x/a") && port == 80 && proto == Tcp);
        egress_ok && ingress_ok
    });
}

#[test]
fn a_not_in_pod_selector_excludes_only_the_listed_pods_from_isolation() {
    // Like the operator's policy: select pods whose `pod` label is not c (a missing key would
    // also be selected); only x/a and x/b are isolated.
    let world = xyz(vec![netpol(
        "x",
        "not-c",
        json!({
            "podSelector": {"matchExpressions": [{"key": "pod", "operator": "NotIn", "values": ["c"]}]},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "c"}}}]}]
        }),
    )]);
    assert_matrix(&world, |from, to, _, _| {
        !(is(to, "x/a") || is(to, "x/b")) || is(from, "x/c")
    });
}
