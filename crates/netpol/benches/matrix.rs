//! Benchmark: the full reachability matrix of a generated world (1,000 pods in 50 namespaces,
//! 300 policies, two ports per pod), single thread; writes the figures to BENCHMARKS.md.
//!
//! Run with `cargo bench -p openbao-netpol --bench matrix`.

use std::error::Error;
use std::hint::black_box;
use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use netpol::{Namespace, Pod, Protocol, World, WorldBuilder};

const NAMESPACES: usize = 50;
const PODS: usize = 1_000;
const POLICIES: usize = 300;
const SEED: u64 = 0x6f70_656e_6261_6f21;
const RUNS: usize = 5;
const COMMAND: &str = "cargo bench -p openbao-netpol --bench matrix";
const START: &str = "<!-- netpol-bench:start -->";
const END: &str = "<!-- netpol-bench:end -->";

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

fn namespace_selector(rng: &mut Rng) -> LabelSelector {
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
                    format!("ns-{:02}", rng.below(NAMESPACES)),
                )]
                .into(),
            ),
            match_expressions: None,
        },
    }
}

fn peers(rng: &mut Rng) -> Option<Vec<NetworkPolicyPeer>> {
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
                    namespace_selector: Some(namespace_selector(rng)),
                    ..Default::default()
                },
                2 => NetworkPolicyPeer {
                    namespace_selector: Some(namespace_selector(rng)),
                    pod_selector: Some(pod_selector(rng)),
                    ..Default::default()
                },
                _ => {
                    let net = rng.below(NAMESPACES);
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

fn ports(rng: &mut Rng) -> Option<Vec<NetworkPolicyPort>> {
    if rng.chance(20) {
        return None;
    }
    let count = 1 + rng.below(2);
    Some(
        (0..count)
            .map(|_| match rng.below(4) {
                0 => NetworkPolicyPort {
                    port: Some(IntOrString::Int(80)),
                    ..Default::default()
                },
                1 => NetworkPolicyPort {
                    port: Some(IntOrString::Int(443)),
                    protocol: Some("TCP".into()),
                    ..Default::default()
                },
                2 => NetworkPolicyPort {
                    port: Some(IntOrString::String(["http", "https"][rng.below(2)].into())),
                    ..Default::default()
                },
                _ => NetworkPolicyPort {
                    port: Some(IntOrString::Int(80)),
                    end_port: Some(443),
                    ..Default::default()
                },
            })
            .collect(),
    )
}

fn generate() -> Result<World, Box<dyn Error>> {
    let mut rng = Rng(SEED);
    let mut builder = WorldBuilder::new();
    for n in 0..NAMESPACES {
        builder.namespace(
            Namespace::new(format!("ns-{n:02}"))
                .with_label("team", format!("t{}", n % 5))
                .with_label("env", ENVS[n % 3]),
        );
    }
    let per_namespace = PODS / NAMESPACES;
    for i in 0..PODS {
        let (n, k) = (i / per_namespace, i % per_namespace);
        let mut pod = Pod::new(format!("ns-{n:02}"), format!("pod-{k:02}"))
            .with_label("app", format!("app-{}", rng.below(APPS)))
            .with_label("tier", TIERS[rng.below(3)])
            .with_ip(IpAddr::from([10, 0, n as u8, k as u8 + 1]))
            .with_port(Some("http"), 80, Protocol::Tcp)
            .with_port(Some("https"), 443, Protocol::Tcp);
        if rng.chance(20) {
            pod = pod.with_label("track", "canary");
        }
        builder.pod(pod);
    }
    for p in 0..POLICIES {
        let namespace = format!("ns-{:02}", p % NAMESPACES);
        let types = match rng.below(3) {
            0 => vec!["Ingress"],
            1 => vec!["Egress"],
            _ => vec!["Ingress", "Egress"],
        };
        let ingress = (0..rng.below(4))
            .map(|_| NetworkPolicyIngressRule {
                from: peers(&mut rng),
                ports: ports(&mut rng),
            })
            .collect();
        let egress = (0..rng.below(4))
            .map(|_| NetworkPolicyEgressRule {
                to: peers(&mut rng),
                ports: ports(&mut rng),
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
        builder.policy(policy);
    }
    Ok(builder.build()?)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Replaces the section between the markers in `text`, or appends one.
fn replace_section(text: &str, section: &str) -> String {
    if let (Some(start), Some(end)) = (text.find(START), text.find(END))
        && start < end
    {
        return format!("{}{section}{}", &text[..start], &text[end + END.len()..]);
    }
    let mut out = if text.is_empty() {
        "# Benchmarks\n".to_owned()
    } else {
        text.to_owned()
    };
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push('\n');
    out.push_str(section);
    out.push('\n');
    out
}

fn main() -> Result<(), Box<dyn Error>> {
    let started = Instant::now();
    let world = generate()?;
    let build = started.elapsed();

    let mut times: Vec<Duration> = Vec::with_capacity(RUNS);
    let (mut verdicts, mut allowed) = (0usize, 0usize);
    for _ in 0..RUNS {
        let start = Instant::now();
        verdicts = 0;
        allowed = 0;
        for entry in world.matrix() {
            verdicts += 1;
            allowed += usize::from(black_box(entry).allowed);
        }
        times.push(start.elapsed());
    }
    times.sort();
    let median = times[RUNS / 2];
    let best = times[0];
    let per_second = |d: Duration| verdicts as f64 / d.as_secs_f64();

    let section = format!(
        "{START}\n\
         ## netpol: full reachability matrix\n\n\
         World: {PODS} pods in {NAMESPACES} namespaces, {POLICIES} policies (generated, seed \
         `{SEED:#x}`), two declared ports per pod (80/TCP, 443/TCP). One pass evaluates every \
         ordered pod pair on every destination port: {verdicts} verdicts ({allowed} allowed). \
         Single thread, {RUNS} passes.\n\n\
         | Measure | Value |\n\
         |---|---|\n\
         | Verdicts per second (median pass) | {:.0} |\n\
         | Verdicts per second (best pass) | {:.0} |\n\
         | Time per pass (median) | {:.1} ms |\n\
         | Time per pass (best) | {:.1} ms |\n\
         | World build (validate + precompute) | {:.1} ms |\n\
         | CPU | {} |\n\n\
         Command: `{COMMAND}`\n\
         {END}",
        per_second(median),
        per_second(best),
        median.as_secs_f64() * 1e3,
        best.as_secs_f64() * 1e3,
        build.as_secs_f64() * 1e3,
        cpu_model(),
    );
    println!("{section}");

    // The workspace root is two levels above this crate (crates/netpol).
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .ok_or("cannot locate the workspace root")?;
    let path = root.join("BENCHMARKS.md");
    let existing = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e.into()),
    };
    std::fs::write(&path, replace_section(&existing, &section))?;
    println!("wrote {}", path.display());
    Ok(())
}
