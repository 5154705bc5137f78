//! The seed's posture, proven on rendered policies: every row of the table is present exactly
//! (peers and ports), nothing else is allowed, user rules are additive, and the verifier itself
//! fails when a policy is weakened or widened.

#[path = "support/fixtures.rs"]
mod fixtures;

use std::net::IpAddr;

use fixtures::{example, facts, from_yaml};
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};
use operator::{
    desired::{self, Facts, ValidatedCluster},
    posture,
};
use proptest::prelude::*;

const OPERATOR_NS: &str = "openbao-operator-system";

fn assert_verified(cluster: &ValidatedCluster, facts: &Facts) {
    let report = posture::cluster::verify(cluster, facts).expect("verify runs");
    let failures: Vec<String> = report
        .failures()
        .map(|f| {
            format!(
                "{} -> {} {}/{}: {}",
                f.from.name, f.to.name, f.port, f.protocol, f.reason
            )
        })
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(
        report.checks.len() > 100,
        "the environment must be non-trivial"
    );
}

fn tcp(port: i32) -> NetworkPolicyPort {
    desired::network_policy::tcp(port)
}

fn udp(port: i32) -> NetworkPolicyPort {
    desired::network_policy::udp(port)
}

fn ns_peer(ns: &str) -> NetworkPolicyPeer {
    desired::network_policy::namespace_peer(ns)
}

const MINIMAL: &str = r#"
apiVersion: openbao.org/v1alpha1
kind: OpenBaoCluster
metadata: {name: bao, namespace: team-a}
spec: {version: "2.7.2"}
"#;

#[test]
fn every_example_satisfies_every_row_and_allows_nothing_else() {
    for name in ["minimal.yaml", "production.yaml", "dev.yaml"] {
        assert_verified(&example(name), &facts());
    }
}

#[test]
fn the_minimal_cluster_policy_has_exactly_the_core_rows_in_table_order() {
    let c = from_yaml(MINIMAL);
    let policy = desired::build(&c, &facts()).network_policy;
    let spec = policy.spec.expect("spec");
    assert_eq!(policy.metadata.name.as_deref(), Some("bao-network-policy"));
    assert_eq!(
        spec.policy_types,
        Some(vec!["Ingress".to_string(), "Egress".to_string()])
    );
    let selector = spec.pod_selector.expect("selector");
    let expressions = selector.match_expressions.expect("job pods are excluded");
    assert_eq!(expressions[0].key, "openbao.org/component");
    assert_eq!(expressions[0].operator, "NotIn");
    assert_eq!(
        expressions[0].values,
        Some(vec!["backup".to_string(), "restore".to_string()])
    );

    let ingress = spec.ingress.expect("ingress");
    assert_eq!(ingress.len(), 4, "operator, peers, kube-system, jobs");
    // Row 1: operator pods — operator namespace AND operator labels in ONE peer — 8200/TCP.
    let operator = &ingress[0].from.as_ref().expect("from")[..];
    assert_eq!(operator.len(), 1);
    assert_eq!(
        operator[0],
        desired::network_policy::operator_peer(OPERATOR_NS)
    );
    assert!(operator[0].namespace_selector.is_some() && operator[0].pod_selector.is_some());
    assert_eq!(ingress[0].ports, Some(vec![tcp(8200)]));
    // Row 2: this cluster's pods, 8200 and 8201.
    let peers = ingress[1].from.as_ref().expect("from");
    assert_eq!(peers.len(), 1);
    assert!(peers[0].namespace_selector.is_none() && peers[0].ip_block.is_none());
    assert_eq!(ingress[1].ports, Some(vec![tcp(8200), tcp(8201)]));
    // Row 4: kube-system, any port (ports absent, not empty).
    assert_eq!(ingress[2].from, Some(vec![ns_peer("kube-system")]));
    assert_eq!(ingress[2].ports, None);
    // Row 5: Job pods, 8200.
    let jobs = ingress[3].from.as_ref().expect("from");
    let job_selector = jobs[0].pod_selector.as_ref().expect("pod selector");
    assert_eq!(
        job_selector
            .match_expressions
            .as_ref()
            .expect("expressions")[0]
            .operator,
        "In"
    );
    assert_eq!(ingress[3].ports, Some(vec![tcp(8200)]));

    let egress = spec.egress.expect("egress");
    assert_eq!(egress.len(), 3, "API server, DNS, peers");
    let api = egress[0].to.as_ref().expect("to");
    assert_eq!(api.len(), 1);
    assert_eq!(
        api[0].ip_block.as_ref().map(|b| b.cidr.as_str()),
        Some("10.96.0.1/32")
    );
    assert_eq!(egress[0].ports, Some(vec![tcp(443)]));
    assert_eq!(egress[1].to, Some(vec![ns_peer("kube-system")]));
    assert_eq!(egress[1].ports, Some(vec![udp(53), tcp(53)]));
    assert_eq!(egress[2].ports, Some(vec![tcp(8200), tcp(8201)]));
}

#[test]
fn the_production_example_appends_user_rules_after_every_core_row() {
    let c = example("production.yaml");
    let spec = desired::build(&c, &facts())
        .network_policy
        .spec
        .expect("spec");
    let ingress = spec.ingress.expect("ingress");
    let user_ingress = &c.spec().network.ingress_rules;
    // operator, peers, gateway, jobs (kubeSystemIngress is false), then the user's rules.
    assert_eq!(ingress.len(), 4 + user_ingress.len());
    assert_eq!(ingress[2].from, Some(vec![ns_peer("gateway-system")]));
    assert_eq!(ingress[2].ports, Some(vec![tcp(8200)]));
    assert_eq!(&ingress[4..], &user_ingress[..]);
    assert!(
        !ingress.iter().any(|r| r
            .from
            .as_ref()
            .is_some_and(|f| f.contains(&ns_peer("kube-system")))),
        "kubeSystemIngress: false removes the kube-system row"
    );

    let egress = spec.egress.expect("egress");
    let user_egress = &c.spec().network.egress_rules;
    // API 443, endpoints 6443, DNS, peers, then the user's rules.
    assert_eq!(egress.len(), 4 + user_egress.len());
    let endpoints: Vec<&str> = egress[1]
        .to
        .as_ref()
        .expect("to")
        .iter()
        .map(|p| p.ip_block.as_ref().expect("ipBlock").cidr.as_str())
        .collect();
    assert_eq!(endpoints, ["172.18.0.2/32", "172.18.0.3/32"]);
    assert_eq!(egress[1].ports, Some(vec![tcp(6443)]));
    assert_eq!(&egress[4..], &user_egress[..]);
}

#[test]
fn backup_job_pods_accept_nothing_and_egress_only_where_backup_egress_rules_say() {
    let open = desired::build(&from_yaml(MINIMAL), &facts()).jobs_network_policy;
    let open_spec = open.spec.expect("spec");
    assert_eq!(
        open.metadata.name.as_deref(),
        Some("bao-jobs-network-policy")
    );
    assert_eq!(open_spec.policy_types, Some(vec!["Ingress".to_string()]));
    assert_eq!(open_spec.ingress, Some(vec![]));
    assert_eq!(
        open_spec.egress, None,
        "egress stays open for object storage"
    );

    let locked = desired::build(&example("production.yaml"), &facts()).jobs_network_policy;
    let locked_spec = locked.spec.expect("spec");
    assert_eq!(
        locked_spec.policy_types,
        Some(vec!["Ingress".to_string(), "Egress".to_string()])
    );
    assert_eq!(locked_spec.ingress, Some(vec![]));
    let egress = locked_spec.egress.expect("egress");
    // DNS, OpenBao 8200, API 443, endpoints 6443, then the one user rule.
    assert_eq!(egress.len(), 5);
    assert_eq!(egress[1].ports, Some(vec![tcp(8200)]));
}

#[test]
fn an_unknown_api_server_address_withholds_the_statefulset_and_never_widens_egress() {
    let c = from_yaml(MINIMAL);
    let resources = desired::build(&c, &Facts::new(OPERATOR_NS, None));
    assert!(resources.statefulset.is_none());
    let egress = resources
        .network_policy
        .spec
        .expect("spec")
        .egress
        .expect("egress");
    assert_eq!(egress.len(), 2, "only DNS and peers remain");
    for rule in &egress {
        assert!(
            rule.ports.as_ref().is_some_and(|p| !p.contains(&tcp(443))),
            "no 443 rule without an address"
        );
        assert!(
            rule.to.as_ref().is_some_and(|t| !t.is_empty()),
            "no rule to everywhere"
        );
    }
}

#[test]
fn an_api_server_cidr_in_the_spec_overrides_the_detected_address() {
    let c = from_yaml(
        r#"
apiVersion: openbao.org/v1alpha1
kind: OpenBaoCluster
metadata: {name: bao, namespace: team-a}
spec:
  version: "2.7.2"
  network: {apiServerCIDR: "192.168.10.0/28", dnsNamespace: dns-system}
"#,
    );
    let resources = desired::build(&c, &Facts::new(OPERATOR_NS, None));
    assert!(resources.statefulset.is_some());
    let egress = resources
        .network_policy
        .spec
        .expect("spec")
        .egress
        .expect("egress");
    assert_eq!(
        egress[0].to.as_ref().expect("to")[0]
            .ip_block
            .as_ref()
            .map(|b| b.cidr.as_str()),
        Some("192.168.10.0/28")
    );
    assert_eq!(egress[1].to, Some(vec![ns_peer("dns-system")]));
    assert_verified(&c, &Facts::new(OPERATOR_NS, None));
}

#[test]
fn ipv6_api_server_addresses_become_single_address_cidrs() {
    let c = from_yaml(MINIMAL);
    let v6: IpAddr = "fd00:10:96::1".parse().expect("ip");
    let resources = desired::build(&c, &Facts::new(OPERATOR_NS, Some(v6)));
    let egress = resources
        .network_policy
        .spec
        .expect("spec")
        .egress
        .expect("egress");
    assert_eq!(
        egress[0].to.as_ref().expect("to")[0]
            .ip_block
            .as_ref()
            .map(|b| b.cidr.as_str()),
        Some("fd00:10:96::1/128")
    );
}

fn broken(mutate: impl FnOnce(&mut NetworkPolicy)) -> bool {
    let c = from_yaml(MINIMAL);
    let resources = desired::build(&c, &facts());
    let mut policy = resources.network_policy;
    mutate(&mut policy);
    let report =
        posture::cluster::verify_policies(&c, &facts(), &[policy, resources.jobs_network_policy])
            .expect("runs");
    !report.passed()
}

#[test]
fn the_verifier_fails_when_a_core_row_is_removed() {
    assert!(broken(|p| {
        p.spec
            .as_mut()
            .and_then(|s| s.ingress.as_mut())
            .expect("ingress")
            .remove(0);
    }));
    assert!(broken(|p| {
        p.spec
            .as_mut()
            .and_then(|s| s.egress.as_mut())
            .expect("egress")
            .remove(1);
    }));
}

#[test]
fn the_verifier_fails_when_a_row_is_widened_to_all_ports_or_all_peers() {
    assert!(broken(|p| {
        p.spec
            .as_mut()
            .and_then(|s| s.ingress.as_mut())
            .expect("ingress")[0]
            .ports = None;
    }));
    assert!(broken(|p| {
        // The operator peer without its namespace: any pod with the operator's labels anywhere.
        let ingress = p
            .spec
            .as_mut()
            .and_then(|s| s.ingress.as_mut())
            .expect("ingress");
        ingress[0].from.as_mut().expect("from")[0].namespace_selector = None;
    }));
    assert!(broken(|p| {
        p.spec
            .as_mut()
            .and_then(|s| s.egress.as_mut())
            .expect("egress")[0]
            .to = None;
    }));
}

#[test]
fn the_verifier_fails_when_the_policy_stops_isolating_a_direction() {
    assert!(broken(|p| {
        p.spec.as_mut().expect("spec").policy_types = Some(vec!["Ingress".to_string()]);
    }));
}

#[test]
fn the_verifier_fails_when_job_pods_are_selected_by_the_server_policy() {
    assert!(broken(|p| {
        p.spec
            .as_mut()
            .expect("spec")
            .pod_selector
            .as_mut()
            .expect("selector")
            .match_expressions = None;
    }));
}

// --- Property tests: user rules are additive -------------------------------------------------

fn label_strategy() -> impl Strategy<Value = (String, String)> {
    (
        prop::sample::select(vec![
            "app",
            "team",
            "app.kubernetes.io/name",
            "kubernetes.io/metadata.name",
            "openbao.org/component",
        ]),
        prop::sample::select(vec!["openbao", "web", "kube-system", "backup", "x", ""]),
    )
        .prop_map(|(k, v)| (k.to_string(), v.to_string()))
}

fn selector_strategy() -> impl Strategy<Value = serde_json::Value> {
    (
        prop::collection::btree_map(
            label_strategy().prop_map(|(k, _)| k),
            Just("x".to_string()),
            0..2,
        ),
        prop::option::of((
            label_strategy(),
            prop::sample::select(vec!["In", "NotIn", "Exists", "DoesNotExist"]),
        )),
    )
        .prop_map(|(labels, expression)| {
            let mut selector = serde_json::json!({});
            if !labels.is_empty() {
                selector["matchLabels"] = serde_json::json!(labels);
            }
            if let Some(((key, value), op)) = expression {
                let mut requirement = serde_json::json!({"key": key, "operator": op});
                if op == "In" || op == "NotIn" {
                    requirement["values"] =
                        serde_json::json!([if value.is_empty() { "v" } else { &value }]);
                }
                selector["matchExpressions"] = serde_json::json!([requirement]);
            }
            selector
        })
}

fn peer_strategy() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        selector_strategy().prop_map(|s| serde_json::json!({"podSelector": s})),
        selector_strategy().prop_map(|s| serde_json::json!({"namespaceSelector": s})),
        (selector_strategy(), selector_strategy())
            .prop_map(|(n, p)| serde_json::json!({"namespaceSelector": n, "podSelector": p})),
        prop::sample::select(vec![
            "10.0.0.0/8",
            "0.0.0.0/0",
            "203.0.113.0/24",
            "10.244.0.0/16",
            "::/0"
        ])
        .prop_map(|c| serde_json::json!({"ipBlock": {"cidr": c}})),
    ]
}

fn port_strategy() -> impl Strategy<Value = serde_json::Value> {
    (
        prop::sample::select(vec![53, 80, 443, 8200, 8201, 9443, 22]),
        prop::sample::select(vec!["TCP", "UDP", "SCTP"]),
        prop::option::of(0..200i32),
    )
        .prop_map(|(port, protocol, range)| {
            let mut p = serde_json::json!({"port": port, "protocol": protocol});
            if let Some(extra) = range {
                p["endPort"] = serde_json::json!(port + extra);
            }
            p
        })
}

fn rule_strategy(peer_key: &'static str) -> impl Strategy<Value = serde_json::Value> {
    (
        prop::option::of(prop::collection::vec(peer_strategy(), 0..3)),
        prop::option::of(prop::collection::vec(port_strategy(), 0..3)),
    )
        .prop_map(move |(peers, ports)| {
            let mut rule = serde_json::json!({});
            if let Some(peers) = peers {
                rule[peer_key] = serde_json::json!(peers);
            }
            if let Some(ports) = ports {
                rule["ports"] = serde_json::json!(ports);
            }
            rule
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_user_rules_never_remove_a_core_allowance_nor_open_anything_unexplained(
        ingress in prop::collection::vec(rule_strategy("from"), 0..3),
        egress in prop::collection::vec(rule_strategy("to"), 0..3),
        kube_system_ingress in any::<bool>(),
    ) {
        let manifest = serde_json::json!({
            "apiVersion": "openbao.org/v1alpha1",
            "kind": "OpenBaoCluster",
            "metadata": {"name": "bao", "namespace": "team-a"},
            "spec": {
                "version": "2.7.2",
                "network": {
                    "kubeSystemIngress": kube_system_ingress,
                    "ingressRules": ingress,
                    "egressRules": egress,
                }
            }
        });
        let cluster = fixtures::from_json(manifest);
        let report = posture::cluster::verify(&cluster, &facts()).expect("verify runs");
        let failures: Vec<String> = report
            .failures()
            .map(|f| format!("{} -> {} {}/{}: {}", f.from.name, f.to.name, f.port, f.protocol, f.reason))
            .collect();
        prop_assert!(failures.is_empty(), "{:#?}", failures);
        // Every core row still gets through, whatever the user added.
        for check in report.checks.iter().filter(|c| !c.rows.is_empty() && !c.via_user_rule) {
            prop_assert!(check.actual || !check.expected, "{} -> {} {}/{}", check.from.name, check.to.name, check.port, check.protocol);
        }
    }
}

#[test]
fn a_gateway_in_the_clusters_namespace_admits_only_its_own_pods_on_8200() {
    let c = from_yaml(
        r#"
apiVersion: openbao.org/v1alpha1
kind: OpenBaoCluster
metadata: {name: bao, namespace: team-a, uid: 6f1c2a40-0000-4000-8000-000000000001}
spec:
  version: "2.7.2"
  gateway:
    enabled: true
    gatewayRef: {name: public}
    hostname: bao.example.com
    podSelector: {matchLabels: {app: edge-gateway}}
"#,
    );
    assert_verified(&c, &facts());
    let report = posture::cluster::verify(&c, &facts()).expect("verify runs");
    let to_8200 = |role: posture::Role| {
        report
            .checks
            .iter()
            .find(|check| {
                check.from.role == role
                    && check.to.role == posture::Role::OpenBao
                    && check.port == 8200
            })
            .unwrap_or_else(|| panic!("a check from {role:?} to OpenBao on 8200"))
            .actual
    };
    assert!(
        to_8200(posture::Role::Gateway),
        "the Gateway's pods reach 8200"
    );
    assert!(
        !to_8200(posture::Role::Unrelated),
        "another pod of the same namespace does not"
    );
}
