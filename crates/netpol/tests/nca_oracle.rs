//! A third, independent oracle for the evaluator: network-config-analyzer (IBM's NCA, PyPI
//! `network-config-analyzer` 2.1.0, installed by `hack/setup.sh` into the cache as `NCA_BIN`).
//! On generated worlds (`netpol::generate`), NCA's pod-to-pod connectivity map and the
//! evaluator agree on every ordered pair of pods on both declared ports.
//!
//! Two adjustments keep the comparison to what the specification defines, both documented in
//! docs/network-security.md: NCA refuses a policy whose `ingress`/`egress` list is not named in
//! its `policyTypes` (Kubernetes accepts and ignores it), so such lists are dropped first (no
//! change in meaning); and whether an `ipBlock` matches a pod's own address is left to the
//! implementation by the specification ("should be cluster-external IPs"), so pods get
//! addresses outside every generated block.

use std::{collections::BTreeSet, net::IpAddr, path::PathBuf, process::Command};

use netpol::{
    Endpoint, Flow, FlowPort, Protocol,
    generate::{Generated, Shape, generate},
};

const HTTP: u16 = 8080;
const HTTPS: u16 = 8443;

fn nca() -> PathBuf {
    let path = std::env::var_os("NCA_BIN")
        .map(PathBuf::from)
        .or_else(|| {
            let home = std::env::var_os("HOME")?;
            Some(PathBuf::from(home).join(".cache/openbao-operator/nca/2.1.0/bin/nca"))
        })
        .expect("HOME or NCA_BIN is set");
    assert!(
        path.exists(),
        "network-config-analyzer is not installed at {}: run `bash hack/setup.sh` (or --only moto)",
        path.display()
    );
    path
}

/// The world with pod addresses outside every generated ipBlock (`10.0.N.0/24`) and policy
/// directions NCA accepts.
fn comparable(mut world: Generated) -> Generated {
    for (i, pod) in world.pods.iter_mut().enumerate() {
        pod.ips = vec![IpAddr::from([
            172,
            16,
            (i / 200) as u8,
            (i % 200) as u8 + 1,
        ])];
    }
    for policy in &mut world.policies {
        if let Some(spec) = policy.spec.as_mut() {
            let types = spec.policy_types.clone().unwrap_or_default();
            if !types.iter().any(|t| t == "Ingress") {
                spec.ingress = None;
            }
            if !types.iter().any(|t| t == "Egress") {
                spec.egress = None;
            }
        }
    }
    world
}

/// Kubernetes documents for NCA (JSON is YAML).
fn documents(values: impl Iterator<Item = serde_json::Value>) -> String {
    values
        .map(|v| serde_json::to_string(&v).expect("json"))
        .collect::<Vec<_>>()
        .join("\n---\n")
}

fn write_inputs(world: &Generated, dir: &std::path::Path) -> [PathBuf; 3] {
    let namespaces = documents(world.namespaces.iter().map(|n| {
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": n.name, "labels": n.labels}})
    }));
    let pods = documents(world.pods.iter().map(|p| {
        serde_json::json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": p.name, "namespace": p.namespace, "labels": p.labels},
            "spec": {"containers": [{"name": "c", "image": "x", "ports": p.ports.iter().map(|port| {
                serde_json::json!({"name": port.name, "containerPort": port.port, "protocol": "TCP"})
            }).collect::<Vec<_>>()}]},
            "status": {"podIP": p.ips[0].to_string()}})
    }));
    let policies = documents(world.policies.iter().map(|p| {
        let mut v = serde_json::to_value(p).expect("policy");
        v["apiVersion"] = "networking.k8s.io/v1".into();
        v["kind"] = "NetworkPolicy".into();
        v
    }));
    let paths = [
        dir.join("namespaces.yaml"),
        dir.join("pods.yaml"),
        dir.join("policies.yaml"),
    ];
    for (path, text) in paths.iter().zip([namespaces, pods, policies]) {
        std::fs::write(path, text).expect("write input");
    }
    paths
}

/// Whether NCA's connection set (`All connections`, or `{protocols:TCP,dst_ports:8080,8443-9000}`
/// groups) holds `port`/TCP.
fn holds(connections: &str, port: u16) -> bool {
    if connections.trim() == "All connections" {
        return true;
    }
    connections.split('}').any(|group| {
        let group = group.trim_start_matches([',', ' ', '{']);
        let Some(protocols) = group.strip_prefix("protocols:") else {
            return false;
        };
        let (protocols, ports) = match protocols.split_once(",dst_ports:") {
            Some((protocols, ports)) => (protocols, Some(ports)),
            None => (protocols, None),
        };
        protocols.split(',').any(|p| p == "TCP")
            && ports.is_none_or(|ports| {
                ports.split(',').any(|range| match range.split_once('-') {
                    Some((a, b)) => {
                        a.parse::<u16>().is_ok_and(|a| a <= port)
                            && b.parse::<u16>().is_ok_and(|b| port <= b)
                    }
                    None => range.parse::<u16>() == Ok(port),
                })
            })
    })
}

/// NCA's allowed (from, to, port) flows between pods.
fn nca_flows(world: &Generated) -> BTreeSet<(String, String, u16)> {
    let dir = tempfile_dir();
    let [namespaces, pods, policies] = write_inputs(world, &dir);
    let output = Command::new(nca())
        .arg("--connectivity")
        .arg(&policies)
        .arg("--pod_list")
        .arg(&pods)
        .arg("--ns_list")
        .arg(&namespaces)
        .args(["--output_format", "txt_no_fw_rules"])
        .output()
        .expect("run nca");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() || stdout.contains("=>"),
        "nca failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut flows = BTreeSet::new();
    for line in stdout.lines() {
        let Some((from, rest)) = line.split_once(" => ") else {
            continue;
        };
        let Some((to, connections)) = rest.split_once(" : ") else {
            continue;
        };
        let (Some(from), Some(to)) = (from.strip_suffix("[Pod]"), to.strip_suffix("[Pod]")) else {
            continue;
        };
        for port in [HTTP, HTTPS] {
            if holds(connections, port) {
                flows.insert((from.to_string(), to.to_string(), port));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    flows
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "nca-oracle-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn the_connectivity_map_of_network_config_analyzer_equals_the_evaluators_on_generated_worlds() {
    let mut compared = 0;
    let mut allowed_total = 0;
    for seed in [1u64, 2, 3, 0x6f70_656e, 0x6261_6f21] {
        let shape = Shape {
            namespaces: 3,
            pods: 10,
            policies: 10,
            http_port: HTTP,
            https_port: HTTPS,
            seed,
        };
        let world = comparable(generate(&shape, "o"));
        let evaluator = world.world().expect("the generated world loads");
        let theirs = nca_flows(&world);
        let mut disagreements = Vec::new();
        for from in evaluator.pod_ids() {
            for to in evaluator.pod_ids() {
                if from == to {
                    continue;
                }
                let (from_name, to_name) = (
                    evaluator.endpoint_name(Endpoint::Pod(from)),
                    evaluator.endpoint_name(Endpoint::Pod(to)),
                );
                for port in [HTTP, HTTPS] {
                    let verdict = evaluator
                        .evaluate(&Flow {
                            from: Endpoint::Pod(from),
                            to: Endpoint::Pod(to),
                            port: FlowPort::Number(port),
                            protocol: Protocol::Tcp,
                        })
                        .expect("evaluate");
                    let nca = theirs.contains(&(from_name.clone(), to_name.clone(), port));
                    compared += 1;
                    allowed_total += usize::from(verdict.allowed);
                    if nca != verdict.allowed {
                        disagreements.push(format!(
                            "{from_name} -> {to_name} {port}/TCP: nca {nca}, evaluator {} ({verdict})",
                            verdict.allowed
                        ));
                    }
                }
            }
        }
        assert!(
            disagreements.is_empty(),
            "seed {seed}: {} disagreements:\n{}",
            disagreements.len(),
            disagreements.join("\n")
        );
    }
    assert_eq!(compared, 5 * 10 * 9 * 2);
    assert!(
        allowed_total > 0 && allowed_total < compared,
        "the worlds have both verdicts ({allowed_total} of {compared} allowed)"
    );
}

#[test]
fn the_nca_connection_parser_reads_ranges_lists_and_all() {
    assert!(holds("All connections", 8443));
    assert!(holds("{protocols:TCP,dst_ports:8080-8443}", 8443));
    assert!(holds("{protocols:TCP,dst_ports:80,8080}", 8080));
    assert!(!holds("{protocols:TCP,dst_ports:8080}", 8443));
    assert!(!holds("{protocols:UDP,dst_ports:8443}", 8443));
    assert!(holds("{protocols:UDP,dst_ports:53},{protocols:TCP}", 8443));
}
