//! The controller's own posture contract (`docs/network-security.md`, section "The operator's
//! own policy") as data, checked with `netpol` the way [`super::cluster`] checks the per-cluster
//! policies: a synthetic environment around one operator pod, every flow into and out of it on a
//! set of probe ports, compared with the rows below.
//!
//! Anything no row explains must be denied, and the operator pod must be isolated in both
//! directions.

use std::{collections::BTreeMap, net::IpAddr};

use api::names;
use k8s_openapi::{
    api::networking::v1::NetworkPolicy, apimachinery::pkg::apis::meta::v1::LabelSelector,
};
use netpol::{Cidr, Direction, DirectionVerdict, Protocol};

use super::{Actor, Check, Environment, Report, Role, VerifyError};
use crate::install::controller::{self, ControllerPolicyOptions, OPERATOR_NAME};

/// The facts the expectations depend on.
#[derive(Clone, Debug)]
pub struct Context {
    operator_namespace: String,
    monitoring_namespace: String,
    monitoring_labels: BTreeMap<String, String>,
    dns_namespace: String,
    api_server: Option<Cidr>,
    api_server_ip: IpAddr,
}

impl Context {
    /// The context for `options`; `api_server_ip` places the API server when no CIDR is given.
    pub fn new(options: &ControllerPolicyOptions, api_server_ip: IpAddr) -> Result<Self, String> {
        let api_server = options
            .api_server_cidr
            .as_deref()
            .map(|c| Cidr::parse(c).map_err(|e| format!("API server CIDR {c:?}: {e}")))
            .transpose()?;
        let (monitoring_namespace, monitoring_labels) =
            monitoring_namespace(&options.metrics_namespace_selector);
        Ok(Self {
            operator_namespace: options.namespace.clone(),
            monitoring_namespace,
            monitoring_labels,
            dns_namespace: options.dns_namespace.clone(),
            api_server,
            api_server_ip,
        })
    }
}

/// A namespace the metrics selector selects: named by `kubernetes.io/metadata.name` when the
/// selector pins it, carrying the selector's required labels (an `In` takes its first value,
/// `Exists` gets `"true"`).
fn monitoring_namespace(selector: &LabelSelector) -> (String, BTreeMap<String, String>) {
    let mut labels = selector.match_labels.clone().unwrap_or_default();
    for requirement in selector.match_expressions.iter().flatten() {
        match requirement.operator.as_str() {
            "In" => {
                if let Some(value) = requirement.values.iter().flatten().next() {
                    labels.insert(requirement.key.clone(), value.clone());
                }
            }
            "Exists" => {
                labels.insert(requirement.key.clone(), "true".to_string());
            }
            _ => {}
        }
    }
    let name = labels
        .remove(names::LABEL_NAMESPACE_NAME)
        .unwrap_or_else(|| "posture-monitoring".to_string());
    (name, labels)
}

/// Ports a row allows.
type Ports = &'static [(u16, Protocol)];

/// One row of the controller's contract.
#[derive(Clone, Copy)]
pub struct Row {
    /// Short identifier shown in reports.
    pub id: &'static str,
    /// The row of `docs/network-security.md` this comes from.
    pub source: &'static str,
    /// Ingress into, or egress out of, the operator pod.
    pub direction: Direction,
    /// Whether `peer` is the row's peer.
    pub peer: fn(&Context, &Actor) -> bool,
    /// Allowed ports.
    pub ports: Ports,
}

// Port numbers are written out rather than imported from the builders, for the reason given at
// the top of the cluster contract (`super::cluster`).
const METRICS: Ports = &[(8080, Protocol::Tcp), (8443, Protocol::Tcp)];
const HEALTH: Ports = &[(8081, Protocol::Tcp)];
const WEBHOOK: Ports = &[(9443, Protocol::Tcp)];
const KUBE_API: Ports = &[(443, Protocol::Tcp), (6443, Protocol::Tcp)];
const DNS: Ports = &[(53, Protocol::Udp), (53, Protocol::Tcp)];
const OPENBAO_API: Ports = &[(8200, Protocol::Tcp)];

fn is_managed_openbao_server(peer: &Actor) -> bool {
    peer.namespace.is_some()
        && peer.label(names::LABEL_NAME) == Some(names::APP_NAME)
        && peer.label(names::LABEL_MANAGED_BY) == Some(names::MANAGER)
        && !matches!(
            peer.label(names::LABEL_COMPONENT),
            Some(names::COMPONENT_BACKUP | names::COMPONENT_RESTORE)
        )
}

/// The controller's contract.
pub const ROWS: &[Row] = &[
    Row {
        id: "in-metrics",
        source: "docs/network-security.md operator policy: in | monitoring namespaces (a configurable namespace selector) | 8080, 8443",
        direction: Direction::Ingress,
        peer: |ctx, peer| peer.namespace.as_deref() == Some(ctx.monitoring_namespace.as_str()),
        ports: METRICS,
    },
    Row {
        id: "in-health",
        source: "docs/network-security.md operator policy: in | any (kubelet probes come from the node) | 8081",
        direction: Direction::Ingress,
        peer: |_, _| true,
        ports: HEALTH,
    },
    Row {
        id: "in-webhook",
        source: "docs/network-security.md operator policy: in | any (the API server's source address varies) | 9443",
        direction: Direction::Ingress,
        peer: |_, _| true,
        ports: WEBHOOK,
    },
    Row {
        id: "out-api-server",
        source: "docs/network-security.md operator policy: out | the API server (any address, or a CIDR you configure) | 443, 6443",
        direction: Direction::Egress,
        peer: |ctx, peer| ctx.api_server.as_ref().is_none_or(|c| c.contains(peer.ip)),
        ports: KUBE_API,
    },
    Row {
        id: "out-dns",
        source: "docs/network-security.md operator policy: out | DNS pods | 53/UDP, 53/TCP",
        direction: Direction::Egress,
        peer: |ctx, peer| peer.namespace.as_deref() == Some(ctx.dns_namespace.as_str()),
        ports: DNS,
    },
    Row {
        id: "out-openbao",
        source: "docs/network-security.md operator policy: out | OpenBao server pods of managed clusters | 8200",
        direction: Direction::Egress,
        peer: |_, peer| is_managed_openbao_server(peer),
        ports: OPENBAO_API,
    },
];

/// Ports probed on every flow: every port a row names, and neighbours that must stay closed.
pub const PROBE_PORTS: &[(u16, Protocol)] = &[
    (8080, Protocol::Tcp),
    (8443, Protocol::Tcp),
    (8081, Protocol::Tcp),
    (9443, Protocol::Tcp),
    (8081, Protocol::Udp),
    (8200, Protocol::Tcp),
    (8201, Protocol::Tcp),
    (443, Protocol::Tcp),
    (6443, Protocol::Tcp),
    (53, Protocol::Udp),
    (53, Protocol::Tcp),
    (80, Protocol::Tcp),
    (22, Protocol::Tcp),
    (9090, Protocol::Tcp),
    (5353, Protocol::Udp),
    (3868, Protocol::Sctp),
];

/// Namespace of the OpenBao cluster the operator manages in the synthetic environment.
const OPENBAO_NAMESPACE: &str = "posture-openbao";
/// Namespace of the unrelated client pod (and the unmanaged OpenBao).
const ELSEWHERE_NAMESPACE: &str = "posture-elsewhere";
/// A node address (RFC 1918), outside the pod range.
const NODE: &str = "192.168.10.5";
/// An address from TEST-NET-3 (RFC 5737): never routed, only evaluated.
const INTERNET: &str = "203.0.113.10";

/// The synthetic environment around the operator pod (first).
pub fn actors(ctx: &Context) -> Vec<Actor> {
    let mut index = 10u8;
    let mut next_ip = || {
        index = index.wrapping_add(1);
        IpAddr::from([10, 244, 0, index])
    };
    let pod = Actor::pod;
    let openbao = |component: Option<&str>| {
        let mut labels = BTreeMap::from([
            (names::LABEL_NAME.to_string(), names::APP_NAME.to_string()),
            (names::LABEL_INSTANCE.to_string(), "vault".to_string()),
            (
                names::LABEL_MANAGED_BY.to_string(),
                names::MANAGER.to_string(),
            ),
            (names::LABEL_CLUSTER.to_string(), "vault".to_string()),
        ]);
        if let Some(component) = component {
            labels.insert(names::LABEL_COMPONENT.to_string(), component.to_string());
        }
        labels
    };
    let app = |value: &str| BTreeMap::from([("app".to_string(), value.to_string())]);
    let mut actors = vec![
        pod(
            Role::Operator,
            &ctx.operator_namespace,
            OPERATOR_NAME,
            names::operator_pod_labels(),
            next_ip(),
        ),
        pod(
            Role::Monitoring,
            &ctx.monitoring_namespace,
            "prometheus",
            app("prometheus"),
            next_ip(),
        ),
        pod(
            Role::OperatorNamespace,
            &ctx.operator_namespace,
            "neighbour",
            app("neighbour"),
            next_ip(),
        ),
        pod(
            Role::Dns,
            &ctx.dns_namespace,
            "coredns",
            BTreeMap::from([("k8s-app".to_string(), "kube-dns".to_string())]),
            next_ip(),
        ),
        pod(
            Role::OpenBao,
            OPENBAO_NAMESPACE,
            "vault-0",
            openbao(None),
            next_ip(),
        ),
        pod(
            Role::BackupJob,
            OPENBAO_NAMESPACE,
            "vault-backup",
            openbao(Some(names::COMPONENT_BACKUP)),
            next_ip(),
        ),
        pod(
            Role::UnmanagedOpenBao,
            ELSEWHERE_NAMESPACE,
            "openbao-0",
            BTreeMap::from([(names::LABEL_NAME.to_string(), names::APP_NAME.to_string())]),
            next_ip(),
        ),
        pod(
            Role::Elsewhere,
            ELSEWHERE_NAMESPACE,
            "client",
            app("client"),
            next_ip(),
        ),
    ];
    let external = Actor::external;
    // The API server stands at the given address, or at the CIDR's base address when that
    // address lies outside the CIDR.
    let api_ip = match ctx.api_server {
        Some(cidr) if !cidr.contains(ctx.api_server_ip) => match cidr {
            Cidr::V4 { network, .. } => IpAddr::from(std::net::Ipv4Addr::from(network)),
            Cidr::V6 { network, .. } => IpAddr::from(std::net::Ipv6Addr::from(network)),
        },
        _ => ctx.api_server_ip,
    };
    actors.push(external(Role::ApiServer, api_ip));
    for (role, text) in [(Role::Node, NODE), (Role::Internet, INTERNET)] {
        if let Ok(ip) = text.parse() {
            actors.push(external(role, ip));
        }
    }
    actors
}

/// Build the controller's policy from `options` and check it.
pub fn verify(options: &ControllerPolicyOptions, api_server_ip: IpAddr) -> Result<Report, String> {
    verify_policies(
        options,
        api_server_ip,
        &[controller::controller_policy(options)],
    )
}

/// Check `policies` (for example read back from the kustomize base or a Helm render) against the
/// controller's contract for `options`.
pub fn verify_policies(
    options: &ControllerPolicyOptions,
    api_server_ip: IpAddr,
    policies: &[NetworkPolicy],
) -> Result<Report, String> {
    let ctx = Context::new(options, api_server_ip)?;
    check(&ctx, policies).map_err(|e| e.to_string())
}

fn check(ctx: &Context, policies: &[NetworkPolicy]) -> Result<Report, VerifyError> {
    let actors = actors(ctx);
    let namespace_labels = BTreeMap::from([(
        ctx.monitoring_namespace.clone(),
        ctx.monitoring_labels.clone(),
    )]);
    let env = Environment::build(&actors, &namespace_labels, policies)?;
    let Some(controller) = actors.first() else {
        return Ok(Report {
            checks: Vec::new(),
            probe_ports: PROBE_PORTS.to_vec(),
        });
    };
    let Some(controller_at) = env.locate(controller) else {
        return Err(VerifyError::Load("the operator pod is missing".to_string()));
    };

    let mut checks = Vec::new();
    for peer in actors.iter().skip(1) {
        let Some(peer_at) = env.locate(peer) else {
            continue;
        };
        for direction in [Direction::Ingress, Direction::Egress] {
            let (from, to) = match direction {
                Direction::Ingress => (&peer_at, &controller_at),
                Direction::Egress => (&controller_at, &peer_at),
            };
            for &(port, protocol) in PROBE_PORTS {
                let verdict = env.evaluate(from, to, port, protocol)?;
                // Only the operator pod's side is judged: the peers carry no policies here.
                let side: &DirectionVerdict<'_> = match direction {
                    Direction::Ingress => &verdict.ingress,
                    Direction::Egress => &verdict.egress,
                };
                let rows: Vec<&'static str> = ROWS
                    .iter()
                    .filter(|r| {
                        r.direction == direction
                            && (r.peer)(ctx, peer)
                            && r.ports.contains(&(port, protocol))
                    })
                    .map(|r| r.id)
                    .collect();
                let expected = !rows.is_empty();
                let isolated = !side.isolated_by().is_empty();
                let actual = side.allowed();
                let ok = isolated && actual == expected;
                checks.push(Check {
                    from: std::sync::Arc::new(from.actor.clone()),
                    to: std::sync::Arc::new(to.actor.clone()),
                    port,
                    protocol,
                    expected,
                    actual,
                    rows,
                    // The controller's policy takes no user rules.
                    via_user_rule: false,
                    reason: if ok {
                        String::new()
                    } else {
                        verdict.to_string()
                    },
                    ok,
                    culprits: Vec::new(),
                });
            }
        }
    }
    Ok(Report {
        checks,
        probe_ports: PROBE_PORTS.to_vec(),
    })
}
