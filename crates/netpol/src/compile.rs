//! Compiles a `NetworkPolicy` into precomputed matchers (selected pods, per-rule peer bitsets,
//! parsed CIDRs and port matchers), validating it the way the API server would.

use std::collections::HashMap;
use std::net::IpAddr;

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::bitset::BitSet;
use crate::cidr::Cidr;
use crate::error::FieldError;
use crate::model::{Namespace, Pod, Protocol};
use crate::selector::Selector;
use crate::world::NamespacedName;

/// What the compiler needs to know about the world's namespaces and pods.
pub(crate) struct Index<'a> {
    pub(crate) namespaces: &'a [Namespace],
    pub(crate) pods: &'a [Pod],
    /// The namespace index of each pod.
    pub(crate) pod_namespace: &'a [usize],
    /// Pod indices per namespace index, so a namespace-scoped selector only visits its pods.
    pub(crate) pods_by_namespace: &'a [Vec<usize>],
    /// Interned container port names (see [`ResolvedPort`]).
    pub(crate) port_names: &'a HashMap<String, u32>,
}

/// A container port with its name interned, so named-port checks compare integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ResolvedPort {
    pub(crate) name: Option<u32>,
    pub(crate) port: u16,
    pub(crate) protocol: Protocol,
}

/// A compiled `ipBlock`: the CIDR minus its exceptions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IpBlock {
    cidr: Cidr,
    except: Vec<Cidr>,
}

impl IpBlock {
    /// An address matches when it is inside `cidr` and inside none of `except`.
    #[inline]
    pub(crate) fn matches(&self, ip: IpAddr) -> bool {
        self.cidr.contains(ip) && !self.except.iter().any(|e| e.contains(ip))
    }
}

/// The peers (`from` / `to`) of one rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Peers {
    /// `from`/`to` absent or empty: every source/destination, pods and external addresses.
    Any,
    /// The union (OR) of the listed peers: the pods any peer matches (selectors and, for pod
    /// IPs, ipBlocks), and the ipBlocks for external addresses.
    Listed { pods: BitSet, blocks: Vec<IpBlock> },
}

/// What the flow's other end is, as a peer of a rule.
#[derive(Clone, Copy, Debug)]
pub(crate) enum PeerEnd {
    Pod(usize),
    External(IpAddr),
}

impl Peers {
    #[inline]
    pub(crate) fn matches(&self, peer: PeerEnd) -> bool {
        match (self, peer) {
            (Peers::Any, _) => true,
            (Peers::Listed { pods, .. }, PeerEnd::Pod(i)) => pods.contains(i),
            // Selectors only ever select pods; an external address can match only an ipBlock.
            (Peers::Listed { blocks, .. }, PeerEnd::External(ip)) => {
                blocks.iter().any(|b| b.matches(ip))
            }
        }
    }
}

/// Which ports of one protocol a rule port entry admits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PortKind {
    /// No `port`: every port of the protocol.
    All,
    /// `port` (and `endPort`, inclusive); a single port is `port..=port`.
    Range(u16, u16),
    /// A named port, interned; `None` when no pod in the world declares that name (so nothing
    /// can match it).
    Named(Option<u32>),
}

/// One entry of a rule's `ports`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PortMatch {
    protocol: Protocol,
    kind: PortKind,
}

impl PortMatch {
    /// `destination_ports` are the declared ports of the flow's destination pod (empty for an
    /// external destination, so a named port never matches one).
    #[inline]
    fn matches(&self, port: u16, protocol: Protocol, destination_ports: &[ResolvedPort]) -> bool {
        self.protocol == protocol
            && match self.kind {
                PortKind::All => true,
                PortKind::Range(lo, hi) => lo <= port && port <= hi,
                // A named port matches when the destination pod declares a container port with
                // that name and the rule's protocol, and the flow targets that port's number.
                PortKind::Named(Some(id)) => destination_ports
                    .iter()
                    .any(|p| p.name == Some(id) && p.protocol == protocol && p.port == port),
                PortKind::Named(None) => false,
            }
    }
}

/// The `ports` of one rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ports {
    /// `ports` absent or empty: every port and protocol.
    Any,
    /// The union (OR) of the listed entries.
    Listed(Vec<PortMatch>),
}

impl Ports {
    #[inline]
    pub(crate) fn matches(
        &self,
        port: u16,
        protocol: Protocol,
        destination_ports: &[ResolvedPort],
    ) -> bool {
        match self {
            Ports::Any => true,
            Ports::Listed(list) => list
                .iter()
                .any(|m| m.matches(port, protocol, destination_ports)),
        }
    }
}

/// One ingress or egress rule: a flow matches when it matches the ports AND the peers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rule {
    pub(crate) peers: Peers,
    pub(crate) ports: Ports,
}

/// A validated, precomputed policy.
#[derive(Clone, Debug)]
pub(crate) struct CompiledPolicy {
    pub(crate) key: NamespacedName,
    /// The pods `spec.podSelector` selects (only in the policy's namespace).
    pub(crate) selected: BitSet,
    /// `Some` iff the effective policyTypes include Ingress; the list may be empty (deny all).
    pub(crate) ingress: Option<Vec<Rule>>,
    /// `Some` iff the effective policyTypes include Egress; the list may be empty (deny all).
    pub(crate) egress: Option<Vec<Rule>>,
}

/// Compiles `policy` (already known to live in namespace index `namespace`), appending every
/// validation problem to `errors`. The result is meaningless when errors were added.
pub(crate) fn compile_policy(
    policy: &NetworkPolicy,
    key: NamespacedName,
    namespace: usize,
    index: &Index<'_>,
    errors: &mut Vec<FieldError>,
) -> CompiledPolicy {
    // A policy without `spec` is the empty spec: it selects every pod of its namespace and,
    // by the defaulting below, isolates them for ingress with no rule (deny all ingress).
    let empty = NetworkPolicySpec::default();
    let spec = policy.spec.as_ref().unwrap_or(&empty);

    // An absent podSelector is the empty selector: every pod in the policy's namespace.
    let everything = LabelSelector::default();
    let pod_selector = Selector::compile(
        spec.pod_selector.as_ref().unwrap_or(&everything),
        "spec.podSelector",
        errors,
    );
    let mut selected = BitSet::new(index.pods.len());
    for &pod in index.pods_by_namespace.get(namespace).into_iter().flatten() {
        if pod_selector.matches(&index.pods[pod].labels) {
            selected.insert(pod);
        }
    }

    let (has_ingress, has_egress) = policy_types(spec, errors);

    // Rules of both directions are validated even when their direction is not in policyTypes
    // (the API server validates them too), but only kept for the directions that apply: a
    // policy with `policyTypes: [Egress]` ignores its `ingress` section entirely.
    let ingress: Vec<Rule> = spec
        .ingress
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, rule)| {
            let at = format!("spec.ingress[{i}]");
            compile_rule(
                rule.from.as_deref(),
                &format!("{at}.from"),
                rule.ports.as_deref(),
                &format!("{at}.ports"),
                namespace,
                index,
                errors,
            )
        })
        .collect();
    let egress: Vec<Rule> = spec
        .egress
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, rule)| {
            let at = format!("spec.egress[{i}]");
            compile_rule(
                rule.to.as_deref(),
                &format!("{at}.to"),
                rule.ports.as_deref(),
                &format!("{at}.ports"),
                namespace,
                index,
                errors,
            )
        })
        .collect();

    CompiledPolicy {
        key,
        selected,
        ingress: has_ingress.then_some(ingress),
        egress: has_egress.then_some(egress),
    }
}

/// The effective policy types (ingress, egress).
///
/// When `policyTypes` is omitted or empty, the API server defaults it (SetDefaults_NetworkPolicy)
/// to `["Ingress"]`, plus `"Egress"` iff `len(spec.egress) != 0`. So `egress: []` without
/// `policyTypes` does NOT make the policy an egress policy: after decoding, an empty list and an
/// absent field are indistinguishable to that defaulting code, and we follow what a cluster
/// stores rather than the looser wording of the API reference ("contain an egress section").
/// A policy that wants to deny all egress must say `policyTypes: [Egress]`.
fn policy_types(spec: &NetworkPolicySpec, errors: &mut Vec<FieldError>) -> (bool, bool) {
    let types = spec.policy_types.as_deref().unwrap_or_default();
    if types.is_empty() {
        let has_egress_rules = spec.egress.as_ref().is_some_and(|rules| !rules.is_empty());
        return (true, has_egress_rules);
    }
    let (mut ingress, mut egress) = (false, false);
    for (i, t) in types.iter().enumerate() {
        match t.as_str() {
            "Ingress" => ingress = true,
            "Egress" => egress = true,
            other => errors.push(FieldError::new(
                format!("spec.policyTypes[{i}]"),
                format!("unsupported policy type {other:?}; allowed: Ingress, Egress"),
            )),
        }
    }
    (ingress, egress)
}

fn compile_rule(
    peers: Option<&[NetworkPolicyPeer]>,
    peers_path: &str,
    ports: Option<&[NetworkPolicyPort]>,
    ports_path: &str,
    namespace: usize,
    index: &Index<'_>,
    errors: &mut Vec<FieldError>,
) -> Rule {
    // An absent or empty `from`/`to` admits every peer; an absent or empty `ports` every port.
    // Together this is why the empty rule `{}` allows everything.
    let peers = match peers {
        None | Some([]) => Peers::Any,
        Some(list) => {
            let mut pods = BitSet::new(index.pods.len());
            let mut blocks = Vec::new();
            for (i, peer) in list.iter().enumerate() {
                compile_peer(
                    peer,
                    &format!("{peers_path}[{i}]"),
                    namespace,
                    index,
                    &mut pods,
                    &mut blocks,
                    errors,
                );
            }
            Peers::Listed { pods, blocks }
        }
    };
    let ports = match ports {
        None | Some([]) => Ports::Any,
        Some(list) => Ports::Listed(
            list.iter()
                .enumerate()
                .filter_map(|(i, port)| {
                    compile_port(port, &format!("{ports_path}[{i}]"), index, errors)
                })
                .collect(),
        ),
    };
    Rule { peers, ports }
}

/// Adds the pods `peer` matches to `pods` (OR across peers) and its ipBlock to `blocks`.
fn compile_peer(
    peer: &NetworkPolicyPeer,
    path: &str,
    namespace: usize,
    index: &Index<'_>,
    pods: &mut BitSet,
    blocks: &mut Vec<IpBlock>,
    errors: &mut Vec<FieldError>,
) {
    if let Some(block) = &peer.ip_block {
        // The API server forbids mixing ipBlock with selectors in one peer.
        if peer.pod_selector.is_some() || peer.namespace_selector.is_some() {
            errors.push(FieldError::new(
                path,
                "may not specify both ipBlock and another peer (podSelector/namespaceSelector)",
            ));
            return;
        }
        let Some(block) = compile_ip_block(block, &format!("{path}.ipBlock"), errors) else {
            return;
        };
        // Kubernetes leaves ipBlock matching of pod IPs implementation-defined (a CNI may see
        // the pod IP or a NATed address). We treat pod IPs as matchable, like most CNIs
        // (Calico, Cilium, kube-router) do for traffic that is not NATed: a pod matches when any
        // of its addresses is in the block.
        for (i, pod) in index.pods.iter().enumerate() {
            if pod.ips.iter().any(|&ip| block.matches(ip)) {
                pods.insert(i);
            }
        }
        blocks.push(block);
        return;
    }

    let pod_selector = peer
        .pod_selector
        .as_ref()
        .map(|s| Selector::compile(s, &format!("{path}.podSelector"), errors));
    let namespace_selector = peer
        .namespace_selector
        .as_ref()
        .map(|s| Selector::compile(s, &format!("{path}.namespaceSelector"), errors));

    let namespaces: Vec<usize> = match (&namespace_selector, &pod_selector) {
        (None, None) => {
            errors.push(FieldError::new(
                path,
                "must specify a peer: podSelector, namespaceSelector or ipBlock",
            ));
            return;
        }
        // podSelector alone: pods of the policy's own namespace.
        (None, Some(_)) => vec![namespace],
        // namespaceSelector (alone or with podSelector): pods of every matching namespace.
        (Some(ns_selector), _) => index
            .namespaces
            .iter()
            .enumerate()
            .filter(|(_, ns)| ns_selector.matches(&ns.labels))
            .map(|(i, _)| i)
            .collect(),
    };
    for ns in namespaces {
        for &pod in index.pods_by_namespace.get(ns).into_iter().flatten() {
            // Both selectors in one peer are ANDed: the pod must match podSelector too (an
            // absent podSelector next to a namespaceSelector means every pod).
            if pod_selector
                .as_ref()
                .is_none_or(|s| s.matches(&index.pods[pod].labels))
            {
                debug_assert_eq!(index.pod_namespace.get(pod), Some(&ns));
                pods.insert(pod);
            }
        }
    }
}

fn compile_ip_block(block: &IPBlock, path: &str, errors: &mut Vec<FieldError>) -> Option<IpBlock> {
    let cidr = match Cidr::parse(&block.cidr) {
        Ok(cidr) => cidr,
        Err(message) => {
            errors.push(FieldError::new(format!("{path}.cidr"), message));
            return None;
        }
    };
    let mut except = Vec::new();
    let mut ok = true;
    for (i, text) in block.except.iter().flatten().enumerate() {
        let at = format!("{path}.except[{i}]");
        match Cidr::parse(text) {
            // As the API server requires, each exception lies strictly inside `cidr`: same
            // family, contained, and a longer prefix. This also rules out mixed families.
            Ok(e) if cidr.covers(&e) && e.prefix() > cidr.prefix() => except.push(e),
            Ok(_) => {
                ok = false;
                errors.push(FieldError::new(
                    at,
                    format!("{text:?} must be a strict subset of cidr {:?}", block.cidr),
                ));
            }
            Err(message) => {
                ok = false;
                errors.push(FieldError::new(at, message));
            }
        }
    }
    ok.then_some(IpBlock { cidr, except })
}

fn compile_port(
    port: &NetworkPolicyPort,
    path: &str,
    index: &Index<'_>,
    errors: &mut Vec<FieldError>,
) -> Option<PortMatch> {
    let before = errors.len();
    // `protocol` defaults to TCP when omitted, as the API server defaults it.
    let protocol = match port.protocol.as_deref() {
        None => Protocol::Tcp,
        Some(text) => text.parse().unwrap_or_else(|message: String| {
            errors.push(FieldError::new(format!("{path}.protocol"), message));
            Protocol::Tcp
        }),
    };
    let kind = match (&port.port, port.end_port) {
        // No port: all ports of the protocol. endPort needs a numeric port to extend.
        (None, None) => PortKind::All,
        (None, Some(end)) => {
            errors.push(FieldError::new(
                format!("{path}.endPort"),
                format!("{end} may not be specified when `port` is not specified"),
            ));
            PortKind::All
        }
        (Some(IntOrString::Int(number)), end) => {
            let lo = valid_port_number(*number, &format!("{path}.port"), errors);
            let hi = match end {
                None => lo,
                Some(end) => {
                    let hi = valid_port_number(end, &format!("{path}.endPort"), errors);
                    if end < *number {
                        errors.push(FieldError::new(
                            format!("{path}.endPort"),
                            format!("{end} must be greater than or equal to `port` ({number})"),
                        ));
                    }
                    hi
                }
            };
            PortKind::Range(lo, hi)
        }
        (Some(IntOrString::String(name)), end) => {
            if let Some(end) = end {
                errors.push(FieldError::new(
                    format!("{path}.endPort"),
                    format!("{end} may not be specified when `port` is non-numeric"),
                ));
            }
            if let Err(message) = validate_port_name(name) {
                errors.push(FieldError::new(format!("{path}.port"), message));
            }
            PortKind::Named(index.port_names.get(name).copied())
        }
    };
    (errors.len() == before).then_some(PortMatch { protocol, kind })
}

fn valid_port_number(number: i32, path: &str, errors: &mut Vec<FieldError>) -> u16 {
    match u16::try_from(number) {
        Ok(port) if port != 0 => port,
        _ => {
            errors.push(FieldError::new(
                path,
                format!("{number} is not a valid port number; must be 1..=65535"),
            ));
            0
        }
    }
}

/// Checks a port name the way the API server does (an IANA service name): 1 to 15 characters
/// of `a-z`, `0-9` and `-`, at least one letter, no leading, trailing or doubled hyphen.
pub fn validate_port_name(name: &str) -> Result<(), String> {
    let problem = if name.is_empty() || name.len() > 15 {
        "must be 1 to 15 characters long"
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        "must contain only lowercase letters (a-z), digits (0-9) and hyphens (-)"
    } else if !name.bytes().any(|b| b.is_ascii_lowercase()) {
        "must contain at least one letter (a-z)"
    } else if name.starts_with('-') || name.ends_with('-') {
        "must not begin or end with a hyphen"
    } else if name.contains("--") {
        "must not contain consecutive hyphens"
    } else {
        return Ok(());
    };
    Err(format!("invalid port name {name:?}: {problem}"))
}
