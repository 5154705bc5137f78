//! The audit of the live posture: the contract of [`super::cluster`] checked against every
//! NetworkPolicy of the cluster's namespace (the operator's and anyone else's), the live labels
//! of the members, and a witness pod or address for every peer another policy names, so a
//! policy that opens a forbidden flow is found whoever it admits.
//!
//! NetworkPolicies are additive: a policy the operator does not own (an `allow-all` left from
//! debugging, a chart's broad policy) widens what reaches or leaves the OpenBao pods without
//! touching the operator's objects, so drift repair cannot see it. The audit can, and names it.
//! It never edits or deletes a policy; what a violation does is the reconciler's business
//! (`spec.network.postureViolations`).

use std::{
    collections::{BTreeMap, BTreeSet},
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use k8s_openapi::{
    api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort},
    apimachinery::pkg::util::intstr::IntOrString,
};
use netpol::{Cidr, Protocol};

use super::{
    Actor, Check, Report, Role, VerifyError,
    cluster::{self, PROBE_PORTS},
};
use crate::desired::{Facts, ValidatedCluster};

/// The label every namespace carries with its own name (the API server sets it).
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// How many flows a summary lists before "and N more".
const SUMMARY_FLOWS: usize = 3;

/// What the audit reads from the live cluster.
#[derive(Clone, Debug, Default)]
pub struct LiveState {
    /// Every NetworkPolicy in the cluster's namespace, whoever made it.
    pub policies: Vec<NetworkPolicy>,
    /// The members (pods the cluster's StatefulSet controls): name and live labels.
    pub members: Vec<(String, BTreeMap<String, String>)>,
}

/// The proof of one cluster's live posture.
#[derive(Clone, Debug)]
pub struct Audit {
    /// Every flow checked.
    pub report: Report,
    /// The cluster's own policy, named when a member escapes it.
    own_policy: String,
}

impl Audit {
    /// True when every flow matches the contract.
    pub fn verified(&self) -> bool {
        self.violations().next().is_none()
    }

    /// Whether a violation opens something: a flow that breaks the contract gets through (one
    /// it forbids, or one that reaches a member no longer isolated by the operator's policy). (The other kind closes a flow the contract keeps open, such as
    /// the backup Jobs' egress under a namespace-wide default-deny.)
    pub fn widened(&self) -> bool {
        self.violations().any(|c| c.actual)
    }

    /// Flows evaluated.
    pub fn flows_checked(&self) -> usize {
        self.report.checks.len()
    }

    /// The flows that disagree with the contract.
    pub fn violations(&self) -> impl Iterator<Item = &Check> {
        self.report.failures()
    }

    /// The policies responsible for the violations, sorted: those that open a forbidden flow,
    /// and the operator's own policy when a member is not isolated by it.
    pub fn offending_policies(&self) -> Vec<String> {
        let mut names = BTreeSet::new();
        for check in self.violations() {
            if check.culprits.is_empty() {
                names.insert(self.own_policy.clone());
            }
            names.extend(check.culprits.iter().cloned());
        }
        names.into_iter().collect()
    }

    /// One line for a condition or an Event: the offending policies and the first flows they
    /// open (kept short), or what was proven.
    pub fn summary(&self) -> String {
        let violations: Vec<&Check> = self.violations().collect();
        if violations.is_empty() {
            return format!(
                "the live NetworkPolicies allow exactly the posture contract ({} flows checked)",
                self.flows_checked()
            );
        }
        let flows: Vec<String> = violations
            .iter()
            .take(SUMMARY_FLOWS)
            .map(|c| describe(c, &self.own_policy))
            .collect();
        let more = violations.len().saturating_sub(SUMMARY_FLOWS);
        format!(
            "{} of {} flows break the posture contract, because of {}: {}{}",
            violations.len(),
            self.flows_checked(),
            self.offending_policies().join(", "),
            flows.join("; "),
            if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            }
        )
    }
}

/// One violating flow in words.
fn describe(check: &Check, own_policy: &str) -> String {
    let flow = format!(
        "{} -> {} {}/{}",
        check.from.name, check.to.name, check.port, check.protocol
    );
    let culprits = check.culprits.join(" and ");
    match (check.actual, check.culprits.is_empty()) {
        (true, false) => format!("{culprits} opens {flow}"),
        (true, true) => format!("{flow} reaches a member {own_policy} does not isolate"),
        (false, false) => format!("{flow} is closed by {culprits}"),
        (false, true) => format!("{flow} is closed"),
    }
}

/// The members among `pods`: those the cluster's StatefulSet controls (the same rule as the
/// operator's pod cache), with their live labels, by name.
pub fn members_of(
    cluster: &ValidatedCluster,
    pods: &[k8s_openapi::api::core::v1::Pod],
) -> Vec<(String, BTreeMap<String, String>)> {
    let statefulset = cluster.names().statefulset();
    let mut members: Vec<(String, BTreeMap<String, String>)> = pods
        .iter()
        .filter(|pod| pod.metadata.namespace.as_deref() == Some(cluster.namespace()))
        .filter(|pod| {
            pod.metadata.owner_references.iter().flatten().any(|owner| {
                owner.controller == Some(true)
                    && owner.kind == "StatefulSet"
                    && owner.name == statefulset
            })
        })
        .filter_map(|pod| {
            Some((
                pod.metadata.name.clone()?,
                pod.metadata.labels.clone().unwrap_or_default(),
            ))
        })
        .collect();
    members.sort();
    members
}

/// Prove `cluster`'s posture in `live`: the synthetic environment of the rendered check, the
/// live members, and witnesses for the peers of every policy the cluster does not own.
pub fn audit(
    cluster: &ValidatedCluster,
    facts: &Facts,
    live: &LiveState,
) -> Result<Audit, VerifyError> {
    let names = cluster.names();
    let own = [names.network_policy(), names.jobs_network_policy()];
    let foreign: Vec<&NetworkPolicy> = live
        .policies
        .iter()
        .filter(|p| {
            p.metadata
                .name
                .as_deref()
                .is_none_or(|n| !own.iter().any(|o| o == n))
        })
        .collect();

    let mut actors = cluster::actors(cluster, facts);
    let mut addresses = Addresses::default();
    // Live members stand beside the synthetic ones, under their live labels.
    for (name, labels) in &live.members {
        if actors
            .iter()
            .any(|a| a.in_namespace(cluster.namespace()) && a.pod_name() == name)
        {
            // The synthetic `<cluster>-0`/`-1` carry the rendered labels; a live one replaces it.
            actors.retain(|a| !(a.in_namespace(cluster.namespace()) && a.pod_name() == name));
        }
        actors.push(Actor::pod(
            Role::OpenBaoPeer,
            cluster.namespace(),
            name,
            labels.clone(),
            addresses.pod(),
        ));
    }
    let mut namespace_labels = BTreeMap::new();
    let mut ports: Vec<(u16, Protocol)> = PROBE_PORTS.to_vec();
    for (index, policy) in foreign.iter().enumerate() {
        let policy_namespace = policy
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| cluster.namespace().to_string());
        let Some(spec) = &policy.spec else { continue };
        let peers = spec
            .ingress
            .iter()
            .flatten()
            .flat_map(|r| r.from.iter().flatten())
            .chain(
                spec.egress
                    .iter()
                    .flatten()
                    .flat_map(|r| r.to.iter().flatten()),
            );
        for (peer_index, peer) in peers.enumerate() {
            let witness = format!("audit-witness-{index}-{peer_index}");
            if let Some(actor) = witness_for(
                peer,
                &policy_namespace,
                &witness,
                &mut namespace_labels,
                &mut addresses,
            ) && !actors.iter().any(|a| a.name == actor.name)
            {
                actors.push(actor);
            }
        }
        let rule_ports = spec
            .ingress
            .iter()
            .flatten()
            .flat_map(|r| r.ports.iter().flatten())
            .chain(
                spec.egress
                    .iter()
                    .flatten()
                    .flat_map(|r| r.ports.iter().flatten()),
            );
        for port in rule_ports {
            for probe in probe_ports(port) {
                if !ports.contains(&probe) {
                    ports.push(probe);
                }
            }
        }
    }
    let world = cluster::World {
        actors,
        namespace_labels,
        policies: &live.policies,
        ports,
    };
    let mut report = cluster::check(cluster, facts, &world)?;
    // A flow refused as the contract refuses it is not a violation, even when one side decides
    // it differently than the operator's policy alone would (a default-deny on the Jobs' egress
    // refusing what the server's ingress refuses anyway): only a changed outcome, or a flow
    // that reaches an unisolated member, is.
    for check in &mut report.checks {
        if !check.ok && !check.actual && !check.expected {
            check.ok = true;
            check.culprits.clear();
        }
    }
    Ok(Audit {
        report,
        own_policy: names.network_policy(),
    })
}

/// The numbered ports a policy port names (its first and last, for a range), so a rule on an
/// odd port is probed too. Named ports are left out: the synthetic pods declare none.
fn probe_ports(port: &NetworkPolicyPort) -> Vec<(u16, Protocol)> {
    let protocol = match port.protocol.as_deref() {
        Some("UDP") => Protocol::Udp,
        Some("SCTP") => Protocol::Sctp,
        _ => Protocol::Tcp,
    };
    let Some(IntOrString::Int(first)) = port.port else {
        return Vec::new();
    };
    [Some(first), port.end_port]
        .into_iter()
        .flatten()
        .filter_map(|p| u16::try_from(p).ok())
        .map(|p| (p, protocol))
        .collect()
}

/// A pod or address that `peer` admits: for a pod peer, a pod with the smallest label set its
/// selector selects, in the policy's namespace or in a namespace its namespace selector selects;
/// for an ipBlock, an address of the block outside its exceptions.
fn witness_for(
    peer: &NetworkPolicyPeer,
    policy_namespace: &str,
    name: &str,
    namespace_labels: &mut BTreeMap<String, BTreeMap<String, String>>,
    addresses: &mut Addresses,
) -> Option<Actor> {
    if let Some(block) = &peer.ip_block {
        let excepts: Vec<Cidr> = block
            .except
            .iter()
            .flatten()
            .filter_map(|c| Cidr::parse(c).ok())
            .collect();
        let ip = address_in(&block.cidr, &excepts)?;
        return Some(Actor::external(Role::Elsewhere, ip));
    }
    let pod_labels = peer
        .pod_selector
        .as_ref()
        .map(netpol::labels_selected_by)
        .unwrap_or_default();
    let namespace = match &peer.namespace_selector {
        None => policy_namespace.to_string(),
        Some(selector) => {
            let mut labels = netpol::labels_selected_by(selector);
            // A selector on the name label picks that namespace; the world sets the label.
            match labels.remove(NAMESPACE_NAME_LABEL) {
                Some(named) => {
                    if !labels.is_empty() {
                        namespace_labels
                            .entry(named.clone())
                            .or_default()
                            .extend(labels);
                    }
                    named
                }
                None => {
                    let ns = name.to_string();
                    namespace_labels.insert(ns.clone(), labels);
                    ns
                }
            }
        }
    };
    Some(Actor::pod(
        Role::Elsewhere,
        &namespace,
        name,
        pod_labels,
        addresses.pod(),
    ))
}

/// An address inside `cidr` and outside every exception: the block's second, middle or last
/// address, or its first.
fn address_in(cidr: &str, excepts: &[Cidr]) -> Option<IpAddr> {
    let block = Cidr::parse(cidr).ok()?;
    let base: IpAddr = cidr.split('/').next()?.parse().ok()?;
    let candidates: Vec<IpAddr> = match base {
        IpAddr::V4(v4) => {
            let host_bits = 32 - u32::from(block.prefix().min(32));
            let start = u32::from(v4) & u32::MAX.checked_shl(host_bits).unwrap_or(0);
            let size = 1u64 << host_bits;
            [1u64, size / 2, size.saturating_sub(2), 0]
                .into_iter()
                .filter(|offset| *offset < size)
                .map(|offset| {
                    IpAddr::V4(Ipv4Addr::from(
                        start.wrapping_add(u32::try_from(offset).unwrap_or(0)),
                    ))
                })
                .collect()
        }
        IpAddr::V6(v6) => {
            let host_bits = 128 - u32::from(block.prefix().min(128));
            let start = u128::from(v6) & u128::MAX.checked_shl(host_bits).unwrap_or(0);
            let size_half = if host_bits == 0 {
                0
            } else {
                1u128 << (host_bits - 1)
            };
            [1u128, size_half, 0]
                .into_iter()
                .map(|offset| IpAddr::V6(Ipv6Addr::from(start.wrapping_add(offset))))
                .collect()
        }
    };
    candidates
        .into_iter()
        .find(|ip| block.contains(*ip) && !excepts.iter().any(|e| e.contains(*ip)))
}

/// Addresses for live members and witness pods, apart from the synthetic environment's.
#[derive(Default)]
struct Addresses {
    next: u16,
}

impl Addresses {
    fn pod(&mut self) -> IpAddr {
        self.next = self.next.wrapping_add(1);
        let [high, low] = self.next.to_be_bytes();
        IpAddr::from([10, 245, high, low])
    }
}
