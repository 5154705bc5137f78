//! Property tests: isolation is monotonic, allow-all policies open a namespace, selecting
//! policies combine as a union, and evaluation is total (never panics, self always allowed).

mod common;

use std::net::IpAddr;

use common::{PORTS, PROTOCOLS, policy};
use netpol::{Direction, Endpoint, Flow, FlowPort, Namespace, Pod, Protocol, World, WorldBuilder};
use proptest::prelude::*;
use serde_json::{Value, json};

const NS: [&str; 3] = ["x", "y", "z"];
const EXTERNAL: [&str; 3] = ["10.0.1.1", "192.0.2.7", "fd00::1"];

/// Pod labels: `pod` and `app` from small alphabets, each possibly absent.
fn labels() -> impl Strategy<Value = (Option<u8>, Option<u8>)> {
    (proptest::option::of(0u8..3), proptest::option::of(0u8..2))
}

fn selector() -> impl Strategy<Value = Value> {
    let key = prop_oneof![Just("pod"), Just("app"), Just("ns")];
    let value = prop_oneof![Just("a"), Just("b"), Just("c"), Just("x"), Just("y")];
    let expr = (
        key.clone(),
        0u8..4,
        proptest::collection::vec(value.clone(), 1..3),
    )
        .prop_map(|(key, op, values)| match op {
            0 => json!({"key": key, "operator": "In", "values": values}),
            1 => json!({"key": key, "operator": "NotIn", "values": values}),
            2 => json!({"key": key, "operator": "Exists"}),
            _ => json!({"key": key, "operator": "DoesNotExist"}),
        });
    (
        proptest::collection::btree_map(key, value, 0..2),
        proptest::collection::vec(expr, 0..2),
    )
        .prop_map(|(labels, exprs)| json!({"matchLabels": labels, "matchExpressions": exprs}))
}

fn peer() -> impl Strategy<Value = Value> {
    prop_oneof![
        selector().prop_map(|s| json!({"podSelector": s})),
        selector().prop_map(|s| json!({"namespaceSelector": s})),
        (selector(), selector())
            .prop_map(|(n, p)| json!({"namespaceSelector": n, "podSelector": p})),
        (0u8..3, proptest::option::of(1u8..4)).prop_map(|(net, except)| {
            let cidr = format!("10.0.{net}.0/24");
            match except {
                Some(host) => {
                    json!({"ipBlock": {"cidr": cidr, "except": [format!("10.0.{net}.{host}/32")]}})
                }
                None => json!({"ipBlock": {"cidr": cidr}}),
            }
        }),
        Just(json!({"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}})),
    ]
}

fn port() -> impl Strategy<Value = Value> {
    let protocol = prop_oneof![Just(None), Just(Some("TCP")), Just(Some("UDP"))];
    let number = prop_oneof![
        Just(json!({})),
        (79u16..83).prop_map(|p| json!({"port": p})),
        (79u16..82, 0u16..3).prop_map(|(p, w)| json!({"port": p, "endPort": p + w})),
        prop_oneof![Just("serve-80-tcp"), Just("serve-81-udp"), Just("nope")]
            .prop_map(|n| json!({"port": n})),
    ];
    (number, protocol).prop_map(|(mut port, protocol)| {
        if let (Some(protocol), Some(map)) = (protocol, port.as_object_mut()) {
            map.insert("protocol".into(), json!(protocol));
        }
        port
    })
}

fn rule(peer_key: &'static str) -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            Just(None),
            Just(Some(vec![])),
            proptest::collection::vec(peer(), 1..3).prop_map(Some)
        ],
        prop_oneof![
            Just(None),
            proptest::collection::vec(port(), 1..3).prop_map(Some)
        ],
    )
        .prop_map(move |(peers, ports)| {
            let mut rule = serde_json::Map::new();
            if let Some(peers) = peers {
                rule.insert(peer_key.into(), json!(peers));
            }
            if let Some(ports) = ports {
                rule.insert("ports".into(), json!(ports));
            }
            Value::Object(rule)
        })
}

fn policy_spec() -> impl Strategy<Value = Value> {
    let types = prop_oneof![
        Just(None),
        Just(Some(vec!["Ingress"])),
        Just(Some(vec!["Egress"])),
        Just(Some(vec!["Ingress", "Egress"])),
    ];
    (
        selector(),
        types,
        proptest::option::of(proptest::collection::vec(rule("from"), 0..3)),
        proptest::option::of(proptest::collection::vec(rule("to"), 0..3)),
    )
        .prop_map(|(pod_selector, types, ingress, egress)| {
            let mut spec = serde_json::Map::new();
            spec.insert("podSelector".into(), pod_selector);
            if let Some(types) = types {
                spec.insert("policyTypes".into(), json!(types));
            }
            if let Some(ingress) = ingress {
                spec.insert("ingress".into(), json!(ingress));
            }
            if let Some(egress) = egress {
                spec.insert("egress".into(), json!(egress));
            }
            Value::Object(spec)
        })
}

/// (namespace index, spec)
fn policies(max: usize) -> impl Strategy<Value = Vec<(usize, Value)>> {
    proptest::collection::vec((0usize..3, policy_spec()), 0..max)
}

fn pods() -> impl Strategy<Value = Vec<(Option<u8>, Option<u8>)>> {
    proptest::collection::vec(labels(), 9)
}

fn world(pod_labels: &[(Option<u8>, Option<u8>)], policies: &[(usize, Value)], tag: &str) -> World {
    let named: Vec<_> = policies
        .iter()
        .enumerate()
        .map(|(i, (ns, spec))| (*ns, spec.clone(), format!("{tag}-{i}")))
        .collect();
    world_named(pod_labels, &named)
}

/// The 3x3 world with labelled pods and the given (namespace index, spec, name) policies.
fn world_named(
    pod_labels: &[(Option<u8>, Option<u8>)],
    policies: &[(usize, Value, String)],
) -> World {
    let mut builder = WorldBuilder::new();
    for (n, ns) in NS.iter().enumerate() {
        builder.namespace(Namespace::new(*ns).with_label("ns", *ns));
        for p in 0..3 {
            let (pod_label, app) = pod_labels[n * 3 + p];
            let mut pod =
                Pod::new(*ns, format!("p{p}")).with_ip(IpAddr::from([10, 0, n as u8, p as u8 + 1]));
            if let Some(v) = pod_label {
                pod = pod.with_label("pod", ["a", "b", "c"][usize::from(v)]);
            }
            if let Some(v) = app {
                pod = pod.with_label("app", ["a", "b"][usize::from(v)]);
            }
            for port in PORTS {
                for protocol in PROTOCOLS {
                    let name = format!("serve-{port}-{}", protocol.as_str().to_lowercase());
                    pod = pod.with_port(Some(&name), port, protocol);
                }
            }
            builder.pod(pod);
        }
    }
    for (ns, spec, name) in policies {
        builder.policy(policy(json!({
            "metadata": {"namespace": NS[*ns], "name": name},
            "spec": spec,
        })));
    }
    builder.build().expect("generated objects are valid")
}

/// Every flow of interest: pod pairs (including self), pod <-> external, over 80/81 TCP/UDP.
fn flows(world: &World) -> Vec<Flow> {
    let mut ends: Vec<Endpoint> = world.pod_ids().map(Endpoint::Pod).collect();
    ends.extend(
        EXTERNAL
            .iter()
            .map(|ip| Endpoint::External(ip.parse().expect("ip"))),
    );
    let mut out = Vec::new();
    for &from in &ends {
        for &to in &ends {
            for port in PORTS {
                for protocol in PROTOCOLS {
                    out.push(Flow {
                        from,
                        to,
                        port: FlowPort::Number(port),
                        protocol,
                    });
                }
            }
        }
    }
    out
}

/// Per flow: (egress allowed, ingress allowed, allowed).
fn verdicts(world: &World) -> Vec<(bool, bool, bool)> {
    flows(world)
        .iter()
        .map(|f| {
            let v = world.evaluate(f).expect("numeric flows always evaluate");
            (v.egress.allowed(), v.ingress.allowed(), v.allowed)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn adding_a_policy_never_makes_an_isolated_direction_unisolated(
        pods in pods(), base in policies(5), extra in (0usize..3, policy_spec()),
    ) {
        let before = world(&pods, &base, "p");
        let mut more = base.clone();
        more.push(extra);
        let after = world(&pods, &more, "p");
        for id in before.pod_ids() {
            for direction in [Direction::Ingress, Direction::Egress] {
                if !before.isolated_by(id, direction).is_empty() {
                    prop_assert!(!after.isolated_by(id, direction).is_empty());
                }
            }
        }
    }

    #[test]
    fn adding_an_allow_all_ingress_policy_opens_every_pod_of_its_namespace(
        pods in pods(), base in policies(5), ns in 0usize..3,
    ) {
        let mut more = base.clone();
        more.push((ns, json!({"podSelector": {}, "ingress": [{}]})));
        let w = world(&pods, &more, "p");
        for flow in flows(&w) {
            if let Endpoint::Pod(to) = flow.to
                && w.pod(to).is_some_and(|p| p.namespace == NS[ns])
            {
                let v = w.evaluate(&flow).expect("evaluates");
                prop_assert!(v.ingress.allowed());
                // With no egress isolation on the source, the whole flow is allowed.
                let source_free = match flow.from {
                    Endpoint::Pod(from) => w.isolated_by(from, Direction::Egress).is_empty(),
                    Endpoint::External(_) => true,
                };
                prop_assert!(!source_free || v.allowed);
            }
        }
    }

    #[test]
    fn policies_that_both_isolate_a_pod_allow_the_union_of_what_each_allows(
        pods in pods(), a in policies(3), b in policies(3),
    ) {
        let wa = world(&pods, &a, "a");
        let wb = world(&pods, &b, "b");
        // Keep A's and B's names distinct in the combined world.
        let both: Vec<_> = a
            .iter()
            .enumerate()
            .map(|(i, (ns, spec))| (*ns, spec.clone(), format!("a-{i}")))
            .chain(b.iter().enumerate().map(|(i, (ns, spec))| (*ns, spec.clone(), format!("b-{i}"))))
            .collect();
        let wab = world_named(&pods, &both);
        let fa = flows(&wa);
        let (va, vb, vab) = (verdicts(&wa), verdicts(&wb), verdicts(&wab));
        for (i, flow) in fa.iter().enumerate() {
            let isolated = |w: &World, end: Endpoint, d: Direction| match end {
                Endpoint::Pod(id) => !w.isolated_by(id, d).is_empty(),
                Endpoint::External(_) => false,
            };
            if flow.from == flow.to { continue; }
            if isolated(&wa, flow.from, Direction::Egress) && isolated(&wb, flow.from, Direction::Egress) {
                prop_assert_eq!(vab[i].0, va[i].0 || vb[i].0, "egress of {:?}", flow);
            }
            if isolated(&wa, flow.to, Direction::Ingress) && isolated(&wb, flow.to, Direction::Ingress) {
                prop_assert_eq!(vab[i].1, va[i].1 || vb[i].1, "ingress of {:?}", flow);
            }
            // Adding B to an A-isolated direction never removes an allowance of A.
            if isolated(&wa, flow.to, Direction::Ingress) && va[i].1 {
                prop_assert!(vab[i].1);
            }
        }
    }

    #[test]
    fn evaluation_is_total_and_consistent(pods in pods(), ps in policies(6)) {
        let w = world(&pods, &ps, "p");
        for flow in flows(&w) {
            let v = w.evaluate(&flow).expect("evaluates");
            prop_assert_eq!(v.allowed, v.egress.allowed() && v.ingress.allowed());
            if flow.from == flow.to {
                prop_assert!(v.allowed);
            }
            if matches!((flow.from, flow.to), (Endpoint::External(_), Endpoint::External(_))) {
                prop_assert!(v.allowed);
            }
            // The explanation always renders.
            prop_assert!(!v.to_string().is_empty());
        }
        // Named flow ports agree with their numbers.
        for id in w.pod_ids() {
            let from = Endpoint::Pod(w.pod_ids().next().unwrap_or(id));
            let named = Flow { from, to: Endpoint::Pod(id), port: FlowPort::Named("serve-81-udp".into()), protocol: Protocol::Udp };
            let numbered = Flow { port: FlowPort::Number(81), ..named.clone() };
            prop_assert_eq!(w.evaluate(&named).expect("declared").allowed, w.evaluate(&numbered).expect("n").allowed);
        }
    }
}
