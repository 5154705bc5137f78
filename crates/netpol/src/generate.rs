//! Random worlds for benchmarks and differential tests: namespaces labelled with a team and
//! an environment, pods labelled with an app, a tier and sometimes a canary track, each with
//! two named TCP ports, and policies that mix pod, namespace and ipBlock peers with port
//! numbers, names and ranges. Deterministic from a seed (SplitMix64, no dependency).

use std::net::IpAddr;

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::{LoadErrors, Namespace, Pod, Protocol, World, WorldBuilder};

/// The size and ports of a generated world.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Namespaces, named `<prefix>-NN`.
    pub namespaces: usize,
    /// Pods, spread evenly over the namespaces.
    pub pods: usize,
    /// Policies, spread round-robin over the namespaces.
    pub policies: usize,
    /// The port every pod declares as `http` (TCP).
    pub http_port: u16,
    /// The port every pod declares as `https` (TCP).
    pub https_port: u16,
    /// The seed.
    pub seed: u64,
}

/// A generated world's objects, before loading.
#[derive(Clone, Debug)]
pub struct Generated {
    /// Namespaces with their labels.
    pub namespaces: Vec<Namespace>,
    /// Pods with their labels, addresses `10.0.<namespace>.<n>` and declared ports.
    pub pods: Vec<Pod>,
    /// NetworkPolicies.
    pub policies: Vec<NetworkPolicy>,
}

impl Generated {
    /// The objects loaded into a world.
    pub fn world(&self) -> Result<World, LoadErrors> {
        let mut builder = WorldBuilder::new();
        for namespace in &self.namespaces {
            builder.namespace(namespace.clone());
        }
        for pod in &self.pods {
            builder.pod(pod.clone());
        }
        for policy in &self.policies {
            builder.policy(policy.clone());
        }
        builder.build()
    }
}

/// SplitMix64: tiny, deterministic, good enough to spread choices; no dependency needed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const APPS: usize = 10;
const TIERS: [&str; 3] = ["web", "api", "db"];
const ENVS: [&str; 3] = ["prod", "staging", "dev"];

fn pod_selector(rng: &mut Rng) -> LabelSelector {
    match rng.below(5) {
        0 => LabelSelector::default(),
        1 => LabelSelector {
            match_labels: Some([("app".to_owned(), format!("app-{}", rng.below(APPS)))].into()),
            match_expressions: None,
        },
        2 => LabelSelector {
            match_labels: Some([("tier".to_owned(), TIERS[rng.below(3)].to_owned())].into()),
            match_expressions: None,
        },
        3 => LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "app".into(),
                operator: "In".into(),
                values: Some(vec![
                    format!("app-{}", rng.below(APPS)),
                    format!("app-{}", rng.below(APPS)),
                ]),
            }]),
        },
        _ => LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "track".into(),
                operator: "NotIn".into(),
                values: Some(vec!["canary".into()]),
            }]),
        },
    }
}

fn namespace_selector(rng: &mut Rng, shape: &Shape, prefix: &str) -> LabelSelector {
    match rng.below(3) {
        0 => LabelSelector {
            match_labels: Some([("team".to_owned(), format!("t{}", rng.below(5)))].into()),
            match_expressions: None,
        },
        1 => LabelSelector {
            match_labels: Some([("env".to_owned(), ENVS[rng.below(3)].to_owned())].into()),
            match_expressions: None,
        },
        _ => LabelSelector {
            match_labels: Some(
                [(
                    "kubernetes.io/metadata.name".to_owned(),
                    format!("{prefix}-{:02}", rng.below(shape.namespaces)),
                )]
                .into(),
            ),
            match_expressions: None,
        },
    }
}

fn peers(rng: &mut Rng, shape: &Shape, prefix: &str) -> Option<Vec<NetworkPolicyPeer>> {
    if rng.chance(15) {
        return None;
    }
    let count = 1 + rng.below(3);
    Some(
        (0..count)
            .map(|_| match rng.below(4) {
                0 => NetworkPolicyPeer {
                    pod_selector: Some(pod_selector(rng)),
                    ..Default::default()
                },
                1 => NetworkPolicyPeer {
                    namespace_selector: Some(namespace_selector(rng, shape, prefix)),
                    ..Default::default()
                },
                2 => NetworkPolicyPeer {
                    namespace_selector: Some(namespace_selector(rng, shape, prefix)),
                    pod_selector: Some(pod_selector(rng)),
                    ..Default::default()
                },
                _ => {
                    let net = rng.below(shape.namespaces);
                    NetworkPolicyPeer {
                        ip_block: Some(IPBlock {
                            cidr: format!("10.0.{net}.0/24"),
                            except: Some(vec![format!("10.0.{net}.{}/32", 1 + rng.below(20))]),
                        }),
                        ..Default::default()
                    }
                }
            })
            .collect(),
    )
}

fn ports(rng: &mut Rng, shape: &Shape) -> Option<Vec<NetworkPolicyPort>> {
    if rng.chance(20) {
        return None;
    }
    let count = 1 + rng.below(2);
    Some(
        (0..count)
            .map(|_| match rng.below(4) {
                0 => NetworkPolicyPort {
                    port: Some(IntOrString::Int(i32::from(shape.http_port))),
                    ..Default::default()
                },
                1 => NetworkPolicyPort {
                    port: Some(IntOrString::Int(i32::from(shape.https_port))),
                    protocol: Some("TCP".into()),
                    ..Default::default()
                },
                2 => NetworkPolicyPort {
                    port: Some(IntOrString::String(["http", "https"][rng.below(2)].into())),
                    ..Default::default()
                },
                _ => NetworkPolicyPort {
                    port: Some(IntOrString::Int(i32::from(shape.http_port))),
                    end_port: Some(i32::from(shape.https_port)),
                    ..Default::default()
                },
            })
            .collect(),
    )
}

/// A world of `shape`, its namespaces named `<prefix>-NN`.
pub fn generate(shape: &Shape, prefix: &str) -> Generated {
    let mut rng = Rng(shape.seed);
    let namespaces: Vec<Namespace> = (0..shape.namespaces)
        .map(|n| {
            Namespace::new(format!("{prefix}-{n:02}"))
                .with_label("team", format!("t{}", n % 5))
                .with_label("env", ENVS[n % 3])
        })
        .collect();
    let per_namespace = shape.pods.div_ceil(shape.namespaces.max(1)).max(1);
    let mut pods = Vec::with_capacity(shape.pods);
    for i in 0..shape.pods {
        let (n, k) = (i / per_namespace, i % per_namespace);
        let mut pod = Pod::new(format!("{prefix}-{n:02}"), format!("pod-{k:02}"))
            .with_label("app", format!("app-{}", rng.below(APPS)))
            .with_label("tier", TIERS[rng.below(3)])
            .with_ip(IpAddr::from([10, 0, (n % 256) as u8, (k % 250) as u8 + 1]))
            .with_port(Some("http"), shape.http_port, Protocol::Tcp)
            .with_port(Some("https"), shape.https_port, Protocol::Tcp);
        if rng.chance(20) {
            pod = pod.with_label("track", "canary");
        }
        pods.push(pod);
    }
    let mut policies = Vec::with_capacity(shape.policies);
    for p in 0..shape.policies {
        let namespace = format!("{prefix}-{:02}", p % shape.namespaces.max(1));
        let types = match rng.below(3) {
            0 => vec!["Ingress"],
            1 => vec!["Egress"],
            _ => vec!["Ingress", "Egress"],
        };
        let ingress = (0..rng.below(4))
            .map(|_| NetworkPolicyIngressRule {
                from: peers(&mut rng, shape, prefix),
                ports: ports(&mut rng, shape),
            })
            .collect();
        let egress = (0..rng.below(4))
            .map(|_| NetworkPolicyEgressRule {
                to: peers(&mut rng, shape, prefix),
                ports: ports(&mut rng, shape),
            })
            .collect();
        let mut policy = NetworkPolicy::default();
        policy.metadata.namespace = Some(namespace);
        policy.metadata.name = Some(format!("policy-{p:03}"));
        policy.spec = Some(NetworkPolicySpec {
            pod_selector: Some(pod_selector(&mut rng)),
            policy_types: Some(types.into_iter().map(str::to_owned).collect()),
            ingress: Some(ingress),
            egress: Some(egress),
        });
        policies.push(policy);
    }
    Generated {
        namespaces,
        pods,
        policies,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(seed: u64) -> Shape {
        Shape {
            namespaces: 3,
            pods: 12,
            policies: 10,
            http_port: 8080,
            https_port: 8443,
            seed,
        }
    }

    #[test]
    fn a_generated_world_loads_and_the_same_seed_gives_the_same_world() {
        let world = generate(&small(7), "g");
        assert_eq!(world.namespaces.len(), 3);
        assert_eq!(world.pods.len(), 12);
        assert_eq!(world.policies.len(), 10);
        world.world().expect("a generated world is valid");
        let again = generate(&small(7), "g");
        assert_eq!(
            format!("{:?}", world.policies),
            format!("{:?}", again.policies)
        );
        assert_ne!(
            format!("{:?}", world.policies),
            format!("{:?}", generate(&small(8), "g").policies),
            "another seed gives another world"
        );
    }
}
