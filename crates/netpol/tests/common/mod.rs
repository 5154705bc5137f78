//! Shared test support: policies from JSON, the upstream-style x/y/z world, and a reachability
//! matrix assertion that prints a truth table of the differences.
#![allow(dead_code)]

use std::net::IpAddr;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use netpol::{Endpoint, Flow, FlowPort, Namespace, Pod, Protocol, World, WorldBuilder};
use serde_json::Value;

/// Namespaces of the upstream e2e suite.
pub const NAMESPACES: [&str; 3] = ["x", "y", "z"];
/// Pods in each namespace.
pub const PODS: [&str; 3] = ["a", "b", "c"];
/// Ports every pod serves, over TCP and UDP.
pub const PORTS: [u16; 2] = [80, 81];
/// The protocols the matrix covers.
pub const PROTOCOLS: [Protocol; 2] = [Protocol::Tcp, Protocol::Udp];

/// A policy from JSON (kind/apiVersion optional).
pub fn policy(value: Value) -> NetworkPolicy {
    serde_json::from_value(value).expect("test policy must deserialize")
}

/// A policy named `name` in `namespace` with the given spec.
pub fn netpol(namespace: &str, name: &str, spec: Value) -> NetworkPolicy {
    policy(serde_json::json!({
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }))
}

/// The IP of pod `pod` in namespace `ns`: 10.0.<ns index>.<pod index + 1>.
pub fn pod_ip(ns: &str, pod: &str) -> IpAddr {
    let n = NAMESPACES.iter().position(|x| *x == ns).expect("known ns");
    let p = PODS.iter().position(|x| *x == pod).expect("known pod");
    IpAddr::from([10, 0, n as u8, p as u8 + 1])
}

/// The x/y/z world: namespaces labelled `ns=<name>`, pods labelled `pod=<name>`, each serving
/// 80 and 81 on TCP and UDP under the names `serve-<port>-<tcp|udp>`.
pub fn xyz_builder() -> WorldBuilder {
    let mut builder = WorldBuilder::new();
    for ns in NAMESPACES {
        builder.namespace(Namespace::new(ns).with_label("ns", ns));
        for pod in PODS {
            let mut p = Pod::new(ns, pod)
                .with_label("pod", pod)
                .with_ip(pod_ip(ns, pod));
            for port in PORTS {
                for protocol in PROTOCOLS {
                    let name = format!("serve-{port}-{}", protocol.as_str().to_lowercase());
                    p = p.with_port(Some(&name), port, protocol);
                }
            }
            builder.pod(p);
        }
    }
    builder
}

/// The x/y/z world with `policies`.
pub fn xyz(policies: Vec<NetworkPolicy>) -> World {
    let mut builder = xyz_builder();
    for p in policies {
        builder.policy(p);
    }
    builder.build().expect("scenario world must build")
}

/// A pod of the x/y/z world, for expectation closures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct At {
    pub ns: &'static str,
    pub pod: &'static str,
}

/// Evaluates a flow between two pods by name and port number.
pub fn allowed(world: &World, from: &str, to: &str, port: u16, protocol: Protocol) -> bool {
    let id = |s: &str| {
        let (ns, pod) = s.split_once('/').expect("ns/pod");
        world.pod_id(ns, pod).expect("known pod")
    };
    world
        .evaluate(&Flow {
            from: Endpoint::Pod(id(from)),
            to: Endpoint::Pod(id(to)),
            port: FlowPort::Number(port),
            protocol,
        })
        .expect("flow evaluates")
        .allowed
}

/// Asserts the full matrix (9 x 9 pods x ports 80, 81 x TCP, UDP). `expect` gives the expected
/// verdict for every pair of distinct pods; a pod to itself must always be allowed. On failure,
/// prints one truth table per port/protocol with the wrong cells marked.
pub fn assert_matrix(world: &World, expect: impl Fn(At, At, u16, Protocol) -> bool) {
    let all: Vec<At> = NAMESPACES
        .iter()
        .flat_map(|&ns| PODS.iter().map(move |&pod| At { ns, pod }))
        .collect();
    let mut report = String::new();
    for port in PORTS {
        for protocol in PROTOCOLS {
            let mut wrong = 0;
            let mut table = format!("{port}/{protocol} (expected, X = wrong)\n      ");
            for to in &all {
                table.push_str(&format!("{}/{} ", to.ns, to.pod));
            }
            table.push('\n');
            for &from in &all {
                table.push_str(&format!("{}/{}   ", from.ns, from.pod));
                for &to in &all {
                    let want = from == to || expect(from, to, port, protocol);
                    let got = allowed(
                        world,
                        &format!("{}/{}", from.ns, from.pod),
                        &format!("{}/{}", to.ns, to.pod),
                        port,
                        protocol,
                    );
                    let cell = match (want, got == want) {
                        (_, false) => {
                            wrong += 1;
                            'X'
                        }
                        (true, true) => '.',
                        (false, true) => '-',
                    };
                    table.push_str(&format!("{cell}   "));
                }
                table.push('\n');
            }
            if wrong > 0 {
                report.push_str(&table);
            }
        }
    }
    assert!(report.is_empty(), "reachability differs:\n{report}");
}
