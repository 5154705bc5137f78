//! The per-cluster posture contract (`docs/network-security.md`, sections
//! "`<cluster>-network-policy`" and "`<cluster>-jobs-network-policy`") as data, and the check
//! that proves rendered policies implement it: a synthetic environment (operator, impostor,
//! peers, kube-system, DNS, gateway, unrelated pods, Job pods, external addresses) evaluated with
//! `netpol`, flow by flow.
//!
//! Every flow touching an OpenBao server pod or a Job pod is compared, per direction, with the
//! rows below: a row that does not get through fails, and so does any allowance no row explains,
//! unless it comes from a user rule (which is additive).

use std::{collections::BTreeMap, fmt, net::IpAddr};

use api::names::{self, ClusterNames};
use k8s_openapi::{
    api::networking::v1::NetworkPolicy, apimachinery::pkg::apis::meta::v1::LabelSelector,
};
use netpol::{Cidr, Direction, DirectionVerdict, Protocol};

use super::{Actor, Check, Environment, Report, Role, VerifyError};
use crate::desired::{self, Facts, ValidatedCluster};

/// The facts the expectations depend on, derived from the spec and the operator's facts.
#[derive(Clone, Debug)]
pub struct Context {
    names: ClusterNames,
    namespace: String,
    operator_namespace: String,
    gateway_namespace: Option<String>,
    /// The Gateway's pods, when it shares the cluster's namespace (only they are admitted).
    gateway_pods: Option<LabelSelector>,
    kube_system_ingress: bool,
    dns_namespace: String,
    api_server: Option<Cidr>,
    api_endpoints: Vec<IpAddr>,
    jobs_egress_locked: bool,
}

impl Context {
    fn new(cluster: &ValidatedCluster, facts: &Facts) -> Self {
        let spec = cluster.spec();
        Self {
            names: cluster.names().clone(),
            namespace: cluster.namespace().to_string(),
            operator_namespace: facts.operator_namespace.clone(),
            gateway_namespace: spec
                .enabled_gateway()
                .map(|_| desired::http_route::gateway_namespace(cluster)),
            gateway_pods: spec
                .enabled_gateway()
                .filter(|g| g.shares_namespace(cluster.namespace()))
                .map(|g| g.pod_selector.clone().unwrap_or_default()),
            kube_system_ingress: spec.network.kube_system_ingress,
            dns_namespace: spec.network.dns_namespace.clone(),
            api_server: desired::api_server_cidr(cluster, facts).and_then(|c| Cidr::parse(&c).ok()),
            api_endpoints: spec
                .network
                .api_server_endpoint_ips
                .iter()
                .filter_map(|ip| ip.parse().ok())
                .collect(),
            jobs_egress_locked: spec
                .backup
                .as_ref()
                .is_some_and(|b| b.egress_rules.is_some()),
        }
    }

    fn is_server(&self, actor: &Actor) -> bool {
        actor.in_namespace(&self.namespace)
            && actor.has_labels(&self.names.selector_labels())
            && !actor.labels.contains_key(names::LABEL_COMPONENT)
    }

    fn is_job(&self, actor: &Actor) -> bool {
        actor.in_namespace(&self.namespace)
            && actor.has_labels(&self.names.selector_labels())
            && matches!(
                actor.labels.get(names::LABEL_COMPONENT).map(String::as_str),
                Some(names::COMPONENT_BACKUP | names::COMPONENT_RESTORE)
            )
    }
}

/// Which pods a row constrains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    /// This cluster's OpenBao server pods (`<cluster>-network-policy`).
    OpenBao,
    /// This cluster's backup/restore Job pods (`<cluster>-jobs-network-policy`).
    Jobs,
}

/// Ports a row allows.
#[derive(Clone, Copy, Debug)]
pub enum Ports {
    /// Every port and protocol.
    Any,
    /// Exactly these.
    Only(&'static [(u16, Protocol)]),
}

impl Ports {
    fn contains(self, port: u16, protocol: Protocol) -> bool {
        match self {
            Ports::Any => true,
            Ports::Only(list) => list.contains(&(port, protocol)),
        }
    }
}

impl fmt::Display for Ports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ports::Any => f.write_str("any"),
            Ports::Only(list) => {
                let parts: Vec<String> = list
                    .iter()
                    .map(|(p, proto)| format!("{p}/{proto}"))
                    .collect();
                f.write_str(&parts.join(", "))
            }
        }
    }
}

/// One row of the posture contract.
#[derive(Clone, Copy)]
pub struct Row {
    /// Short identifier shown in reports.
    pub id: &'static str,
    /// The row of `docs/network-security.md` this comes from.
    pub source: &'static str,
    /// Ingress into, or egress out of, the subject.
    pub direction: Direction,
    /// The pods the row is about.
    pub subject: Subject,
    /// Whether the row exists for this spec.
    pub applies: fn(&Context) -> bool,
    /// Whether `peer` is the row's peer.
    pub peer: fn(&Context, &Actor) -> bool,
    /// Allowed ports.
    pub ports: Ports,
}

// The port numbers of the contract (8200, 8201, 53, 443, 6443, here and in `PROBE_PORTS`)
// repeat the builders' on purpose instead of importing their constants: the contract is an
// independent oracle for the builders, so a wrong port in a builder cannot move the expectation
// with it.

const API: &[(u16, Protocol)] = &[(8200, Protocol::Tcp)];
const API_AND_CLUSTER: &[(u16, Protocol)] = &[(8200, Protocol::Tcp), (8201, Protocol::Tcp)];
const KUBE_API: &[(u16, Protocol)] = &[(443, Protocol::Tcp)];
const KUBE_API_ENDPOINT: &[(u16, Protocol)] = &[(6443, Protocol::Tcp)];
const DNS: &[(u16, Protocol)] = &[(53, Protocol::Udp), (53, Protocol::Tcp)];

fn always(_: &Context) -> bool {
    true
}

fn is_operator(ctx: &Context, peer: &Actor) -> bool {
    peer.in_namespace(&ctx.operator_namespace) && peer.has_labels(&names::operator_pod_labels())
}

fn is_api_server(ctx: &Context, peer: &Actor) -> bool {
    peer.namespace.is_none() && ctx.api_server.is_some_and(|c| c.contains(peer.ip))
}

fn is_api_endpoint(ctx: &Context, peer: &Actor) -> bool {
    peer.namespace.is_none() && ctx.api_endpoints.contains(&peer.ip)
}

fn is_dns(ctx: &Context, peer: &Actor) -> bool {
    peer.in_namespace(&ctx.dns_namespace)
}

/// The posture contract: the rows of `docs/network-security.md`, with their precise peers and
/// ports.
pub const ROWS: &[Row] = &[
    Row {
        id: "in-operator",
        source: "docs/network-security.md <cluster>-network-policy: in | operator pods: operator namespace AND operator labels | 8200/TCP",
        direction: Direction::Ingress,
        subject: Subject::OpenBao,
        applies: always,
        peer: is_operator,
        ports: Ports::Only(API),
    },
    Row {
        id: "in-peers",
        source: "docs/network-security.md <cluster>-network-policy: in | this cluster's OpenBao pods | 8200/TCP, 8201/TCP",
        direction: Direction::Ingress,
        subject: Subject::OpenBao,
        applies: always,
        peer: |ctx, peer| ctx.is_server(peer),
        ports: Ports::Only(API_AND_CLUSTER),
    },
    Row {
        id: "in-gateway",
        source: "docs/network-security.md <cluster>-network-policy: in | the Gateway's namespace, only when spec.gateway.enabled | 8200/TCP",
        direction: Direction::Ingress,
        subject: Subject::OpenBao,
        applies: |ctx| ctx.gateway_namespace.is_some(),
        peer: |ctx, peer| {
            ctx.gateway_namespace
                .as_deref()
                .is_some_and(|ns| peer.in_namespace(ns))
                && ctx.gateway_pods.as_ref().is_none_or(|selector| {
                    netpol::label_selector_matches(
                        selector,
                        &peer.labels,
                        "spec.gateway.podSelector",
                    )
                    .unwrap_or(false)
                })
        },
        ports: Ports::Only(API),
    },
    Row {
        id: "in-kube-system",
        source: "docs/network-security.md <cluster>-network-policy: in | namespace kube-system (unless spec.network.kubeSystemIngress: false) | any",
        direction: Direction::Ingress,
        subject: Subject::OpenBao,
        applies: |ctx| ctx.kube_system_ingress,
        peer: |_, peer| peer.in_namespace("kube-system"),
        ports: Ports::Any,
    },
    Row {
        id: "in-jobs",
        source: "docs/network-security.md <cluster>-network-policy: in | this cluster's backup/restore Job pods | 8200/TCP",
        direction: Direction::Ingress,
        subject: Subject::OpenBao,
        applies: always,
        peer: |ctx, peer| ctx.is_job(peer),
        ports: Ports::Only(API),
    },
    Row {
        id: "out-api-server",
        source: "docs/network-security.md <cluster>-network-policy: out | the Kubernetes API (Service VIP or spec.network.apiServerCIDR) | 443/TCP",
        direction: Direction::Egress,
        subject: Subject::OpenBao,
        applies: |ctx| ctx.api_server.is_some(),
        peer: is_api_server,
        ports: Ports::Only(KUBE_API),
    },
    Row {
        id: "out-api-endpoints",
        source: "docs/network-security.md <cluster>-network-policy: out | each spec.network.apiServerEndpointIPs address | 6443/TCP",
        direction: Direction::Egress,
        subject: Subject::OpenBao,
        applies: |ctx| !ctx.api_endpoints.is_empty(),
        peer: is_api_endpoint,
        ports: Ports::Only(KUBE_API_ENDPOINT),
    },
    Row {
        id: "out-dns",
        source: "docs/network-security.md <cluster>-network-policy: out | pods in spec.network.dnsNamespace | 53/UDP, 53/TCP",
        direction: Direction::Egress,
        subject: Subject::OpenBao,
        applies: always,
        peer: is_dns,
        ports: Ports::Only(DNS),
    },
    Row {
        id: "out-peers",
        source: "docs/network-security.md <cluster>-network-policy: out | this cluster's OpenBao pods | 8200/TCP, 8201/TCP",
        direction: Direction::Egress,
        subject: Subject::OpenBao,
        applies: always,
        peer: |ctx, peer| ctx.is_server(peer),
        ports: Ports::Only(API_AND_CLUSTER),
    },
    Row {
        id: "jobs-out-any",
        source: "docs/network-security.md <cluster>-jobs-network-policy: egress not restricted (without spec.backup.egressRules)",
        direction: Direction::Egress,
        subject: Subject::Jobs,
        applies: |ctx| !ctx.jobs_egress_locked,
        peer: |_, _| true,
        ports: Ports::Any,
    },
    Row {
        id: "jobs-out-dns",
        source: "docs/network-security.md <cluster>-jobs-network-policy: spec.backup.egressRules locks Job egress to DNS, ...",
        direction: Direction::Egress,
        subject: Subject::Jobs,
        applies: |ctx| ctx.jobs_egress_locked,
        peer: is_dns,
        ports: Ports::Only(DNS),
    },
    Row {
        id: "jobs-out-openbao",
        source: "docs/network-security.md <cluster>-jobs-network-policy: ... this cluster's OpenBao pods on 8200, ...",
        direction: Direction::Egress,
        subject: Subject::Jobs,
        applies: |ctx| ctx.jobs_egress_locked,
        peer: |ctx, peer| ctx.is_server(peer),
        ports: Ports::Only(API),
    },
    Row {
        id: "jobs-out-api-server",
        source: "docs/network-security.md <cluster>-jobs-network-policy: ... the API server, ...",
        direction: Direction::Egress,
        subject: Subject::Jobs,
        applies: |ctx| ctx.jobs_egress_locked && ctx.api_server.is_some(),
        peer: is_api_server,
        ports: Ports::Only(KUBE_API),
    },
    Row {
        id: "jobs-out-api-endpoints",
        source: "docs/network-security.md <cluster>-jobs-network-policy: ... the API server (endpoint addresses), ...",
        direction: Direction::Egress,
        subject: Subject::Jobs,
        applies: |ctx| ctx.jobs_egress_locked && !ctx.api_endpoints.is_empty(),
        peer: is_api_endpoint,
        ports: Ports::Only(KUBE_API_ENDPOINT),
    },
];

/// Ports probed for every pair of endpoints: every port a row names, and neighbours that must
/// stay closed.
pub const PROBE_PORTS: &[(u16, Protocol)] = &[
    (8200, Protocol::Tcp),
    (8201, Protocol::Tcp),
    (8200, Protocol::Udp),
    (443, Protocol::Tcp),
    (6443, Protocol::Tcp),
    (53, Protocol::Udp),
    (53, Protocol::Tcp),
    (80, Protocol::Tcp),
    (22, Protocol::Tcp),
    (8080, Protocol::Tcp),
    (9443, Protocol::Tcp),
    (8202, Protocol::Tcp),
    (5353, Protocol::Udp),
    (3868, Protocol::Sctp),
];

/// Namespace of the impostor pod (operator labels, wrong namespace).
const IMPOSTOR_NAMESPACE: &str = "posture-impostor";
/// Namespace of the unrelated client pod.
const ELSEWHERE_NAMESPACE: &str = "posture-elsewhere";
/// Gateway namespace used when the gateway is disabled (its pod must be denied).
const DEFAULT_GATEWAY_NAMESPACE: &str = "gateway-system";
/// An address from TEST-NET-3 (RFC 5737): never routed, only evaluated.
const INTERNET: &str = "203.0.113.10";

/// The synthetic environment for `cluster`.
pub fn actors(cluster: &ValidatedCluster, facts: &Facts) -> Vec<Actor> {
    let ctx = Context::new(cluster, facts);
    let ns = ctx.namespace.clone();
    let other = ClusterNames::new(format!("{}-other", ctx.names.cluster()));
    let mut pod_index = 10u8;
    let mut next_ip = || {
        pod_index = pod_index.wrapping_add(1);
        IpAddr::from([10, 244, 0, pod_index])
    };
    let pod = Actor::pod;
    let gateway_ns = ctx
        .gateway_namespace
        .clone()
        .unwrap_or_else(|| DEFAULT_GATEWAY_NAMESPACE.to_string());
    let mut actors = vec![
        pod(
            Role::OpenBao,
            &ns,
            &ctx.names.pod(0),
            ctx.names.server_pod_labels(),
            next_ip(),
        ),
        pod(
            Role::OpenBaoPeer,
            &ns,
            &ctx.names.pod(1),
            ctx.names.server_pod_labels(),
            next_ip(),
        ),
        pod(
            Role::Operator,
            &ctx.operator_namespace,
            "openbao-operator",
            names::operator_pod_labels(),
            next_ip(),
        ),
        pod(
            Role::OperatorImpostor,
            IMPOSTOR_NAMESPACE,
            "openbao-operator",
            names::operator_pod_labels(),
            next_ip(),
        ),
        pod(
            Role::KubeSystem,
            "kube-system",
            "node-health",
            BTreeMap::from([("k8s-app".to_string(), "cilium".to_string())]),
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
            Role::Gateway,
            &gateway_ns,
            "gateway-proxy",
            ctx.gateway_pods.as_ref().map_or_else(
                || BTreeMap::from([("app".to_string(), "gateway".to_string())]),
                netpol::labels_selected_by,
            ),
            next_ip(),
        ),
        pod(
            Role::Unrelated,
            &ns,
            "unrelated",
            BTreeMap::from([("app".to_string(), "unrelated".to_string())]),
            next_ip(),
        ),
        pod(
            Role::OtherCluster,
            &ns,
            &other.pod(0),
            other.server_pod_labels(),
            next_ip(),
        ),
        pod(
            Role::Elsewhere,
            ELSEWHERE_NAMESPACE,
            "client",
            BTreeMap::from([("app".to_string(), "client".to_string())]),
            next_ip(),
        ),
        pod(
            Role::BackupJob,
            &ns,
            &format!("{}-backup", ctx.names.cluster()),
            ctx.names.job_labels(names::COMPONENT_BACKUP),
            next_ip(),
        ),
        pod(
            Role::RestoreJob,
            &ns,
            &format!("{}-restore", ctx.names.cluster()),
            ctx.names.job_labels(names::COMPONENT_RESTORE),
            next_ip(),
        ),
    ];
    let external = Actor::external;
    // The API server stands at the service VIP, or at the base address of apiServerCIDR.
    let api_address = desired::api_server_cidr(cluster, facts)
        .and_then(|cidr| cidr.split('/').next().and_then(|ip| ip.parse().ok()));
    if let Some(ip) = api_address {
        actors.push(external(Role::ApiServer, ip));
    }
    for ip in &ctx.api_endpoints {
        actors.push(external(Role::ApiServerEndpoint, *ip));
    }
    if let Ok(ip) = INTERNET.parse() {
        actors.push(external(Role::Internet, ip));
    }
    actors
}

/// Number of core rules (before the user's) in each direction of the cluster policy.
fn core_rule_counts(cluster: &ValidatedCluster, facts: &Facts) -> (usize, usize) {
    let mut core = cluster.cluster().clone();
    core.spec.network.ingress_rules.clear();
    core.spec.network.egress_rules.clear();
    // The trusted peers and node-local DNS addresses are the user's additive rules too.
    core.spec.network.trusted_ingress_peers.clear();
    core.spec.network.dns_endpoint_ips.clear();
    if let Some(backup) = core.spec.backup.as_mut()
        && let Some(rules) = backup.egress_rules.as_mut()
    {
        rules.clear();
    }
    let api_server = desired::api_server_cidr(cluster, facts);
    let policy = ValidatedCluster::new(core)
        .map(|c| desired::network_policy::cluster_policy(&c, facts, api_server.as_deref()))
        .ok();
    let spec = policy.and_then(|p| p.spec);
    (
        spec.as_ref()
            .and_then(|s| s.ingress.as_ref())
            .map_or(0, Vec::len),
        spec.as_ref()
            .and_then(|s| s.egress.as_ref())
            .map_or(0, Vec::len),
    )
}

fn core_job_egress_count(cluster: &ValidatedCluster, facts: &Facts) -> usize {
    let user = cluster
        .spec()
        .backup
        .as_ref()
        .and_then(|b| b.egress_rules.as_ref())
        .map_or(0, Vec::len);
    let api_server = desired::api_server_cidr(cluster, facts);
    let total = desired::network_policy::jobs_policy(cluster, api_server.as_deref())
        .spec
        .and_then(|s| s.egress)
        .map_or(0, |e| e.len());
    total.saturating_sub(user)
}

/// Render `cluster`'s policies and check every flow of the synthetic environment against
/// [`ROWS`].
pub fn verify(cluster: &ValidatedCluster, facts: &Facts) -> Result<Report, VerifyError> {
    let resources = desired::build(cluster, facts);
    verify_policies(
        cluster,
        facts,
        &[resources.network_policy, resources.jobs_network_policy],
    )
}

/// Check `policies` (for example read back from a rendered file or a live cluster) against the
/// contract for `cluster`. The policies are expected under their builder names.
pub fn verify_policies(
    cluster: &ValidatedCluster,
    facts: &Facts,
    policies: &[NetworkPolicy],
) -> Result<Report, VerifyError> {
    let world = World {
        actors: actors(cluster, facts),
        namespace_labels: BTreeMap::new(),
        policies,
        ports: PROBE_PORTS.to_vec(),
    };
    check(cluster, facts, &world)
}

/// What a check evaluates: the endpoints, the labels of their namespaces, the policies and the
/// ports probed on every pair.
pub(crate) struct World<'a> {
    pub actors: Vec<Actor>,
    pub namespace_labels: BTreeMap<String, BTreeMap<String, String>>,
    pub policies: &'a [NetworkPolicy],
    pub ports: Vec<(u16, Protocol)>,
}

/// Which of the operator's policies `actor` is the subject of: the server and Job roles by who
/// they are (a live member whose labels were changed by hand is still a member), any other pod
/// by the labels the policies select.
fn subject_of(ctx: &Context, actor: &Actor) -> Option<Subject> {
    match actor.role {
        Role::OpenBao | Role::OpenBaoPeer => Some(Subject::OpenBao),
        Role::BackupJob | Role::RestoreJob => Some(Subject::Jobs),
        _ if ctx.is_server(actor) => Some(Subject::OpenBao),
        _ if ctx.is_job(actor) => Some(Subject::Jobs),
        _ => None,
    }
}

/// Every flow of `world` that touches a server or Job pod, compared with [`ROWS`]. Only rules
/// of the operator's two policies past their core rules count as the user's additive rules: a
/// flow that any other policy opens is a violation.
pub(crate) fn check(
    cluster: &ValidatedCluster,
    facts: &Facts,
    world: &World<'_>,
) -> Result<Report, VerifyError> {
    let ctx = Context::new(cluster, facts);
    let actors: Vec<std::sync::Arc<Actor>> = world
        .actors
        .iter()
        .cloned()
        .map(std::sync::Arc::new)
        .collect();
    let env = Environment::build(&world.actors, &world.namespace_labels, world.policies)?;
    let cluster_policy = env
        .world()
        .policy_id(&ctx.namespace, &cluster.names().network_policy());
    let jobs_policy = env
        .world()
        .policy_id(&ctx.namespace, &cluster.names().jobs_network_policy());
    let (core_ingress, core_egress) = core_rule_counts(cluster, facts);
    let core_jobs_egress = core_job_egress_count(cluster, facts);
    let policy_name = |id: netpol::PolicyId| {
        env.world()
            .policy_name(id)
            .map_or_else(|| format!("policy #{}", id.index()), |n| n.name.clone())
    };

    let mut checks = Vec::new();
    for from in &actors {
        for to in &actors {
            if from.name == to.name || (from.namespace.is_none() && to.namespace.is_none()) {
                continue;
            }
            let (from_subject, to_subject) = (subject_of(&ctx, from), subject_of(&ctx, to));
            if from_subject.is_none() && to_subject.is_none() {
                continue;
            }
            let (Some(from_at), Some(to_at)) = (env.locate(from), env.locate(to)) else {
                continue;
            };
            for &(port, protocol) in &world.ports {
                let verdict = env.evaluate(&from_at, &to_at, port, protocol)?;
                let mut rows = Vec::new();
                let mut culprits = Vec::new();
                let mut side_ok = |direction: Direction,
                                   subject: Option<Subject>,
                                   peer: &Actor,
                                   side: &DirectionVerdict<'_>|
                 -> (bool, bool, bool) {
                    // (expected, ok, via user rule)
                    let Some(subject) = subject else {
                        // Not a pod the operator's policies are for: they must not isolate it
                        // (what other policies do to other pods is not the contract's business).
                        let own: Vec<String> = side
                            .isolated_by()
                            .iter()
                            .filter(|id| Some(**id) == cluster_policy || Some(**id) == jobs_policy)
                            .map(|id| policy_name(*id))
                            .collect();
                        let ok = own.is_empty();
                        culprits.extend(own);
                        return (true, ok, false);
                    };
                    let matching: Vec<&'static str> = ROWS
                        .iter()
                        .filter(|r| {
                            r.direction == direction
                                && r.subject == subject
                                && (r.applies)(&ctx)
                                && (r.peer)(&ctx, peer)
                                && r.ports.contains(port, protocol)
                        })
                        .map(|r| r.id)
                        .collect();
                    let expected = !matching.is_empty();
                    rows.extend(matching);
                    let isolated = !side.isolated_by().is_empty();
                    let user_rule = match side {
                        DirectionVerdict::Allowed { rule, .. } => {
                            let core = match (Some(rule.policy), direction) {
                                (p, Direction::Ingress) if p == cluster_policy => {
                                    Some(core_ingress)
                                }
                                (p, Direction::Egress) if p == cluster_policy => Some(core_egress),
                                (p, Direction::Egress) if p == jobs_policy => {
                                    Some(core_jobs_egress)
                                }
                                _ => None,
                            };
                            core.is_some_and(|core| rule.index >= core)
                        }
                        _ => false,
                    };
                    let allowed = side.allowed();
                    // Job egress is deliberately left unisolated unless spec.backup.egressRules
                    // locks it; everything else the operator selects must be isolated.
                    let must_isolate = !(subject == Subject::Jobs
                        && direction == Direction::Egress
                        && !ctx.jobs_egress_locked);
                    let ok = (isolated || !must_isolate)
                        && (allowed == expected || (allowed && user_rule));
                    if !ok {
                        match side {
                            DirectionVerdict::Allowed { rule, .. } if !expected => {
                                culprits.push(policy_name(rule.policy));
                            }
                            DirectionVerdict::Denied { isolated_by } => {
                                culprits.extend(isolated_by.iter().map(|id| policy_name(*id)));
                            }
                            _ => {}
                        }
                    }
                    (expected, ok, allowed && !expected && user_rule)
                };
                let (exp_out, ok_out, user_out) =
                    side_ok(Direction::Egress, from_subject, to, &verdict.egress);
                let (exp_in, ok_in, user_in) =
                    side_ok(Direction::Ingress, to_subject, from, &verdict.ingress);
                let via_user_rule = user_out || user_in;
                culprits.sort();
                culprits.dedup();
                let ok = ok_out && ok_in;
                checks.push(Check {
                    from: from.clone(),
                    to: to.clone(),
                    port,
                    protocol,
                    expected: (exp_out || user_out) && (exp_in || user_in),
                    actual: verdict.allowed,
                    rows,
                    via_user_rule,
                    reason: if ok {
                        String::new()
                    } else {
                        verdict.to_string()
                    },
                    ok,
                    culprits,
                });
            }
        }
    }
    Ok(Report {
        checks,
        probe_ports: world.ports.clone(),
    })
}

/// Verify the cluster in `yaml` (an OpenBaoCluster manifest): its freshly rendered policies, or
/// `policies` when given (for example the NetworkPolicies of a committed golden file).
pub fn verify_manifest(
    yaml: &str,
    facts: &Facts,
    policies: Option<&[NetworkPolicy]>,
) -> Result<Report, String> {
    let cluster = api::decode::cluster_from_yaml_str(yaml).map_err(|e| e.to_string())?;
    let cluster = ValidatedCluster::new(cluster).map_err(|e| e.to_string())?;
    match policies {
        Some(policies) => verify_policies(&cluster, facts, policies),
        None => verify(&cluster, facts),
    }
    .map_err(|e| e.to_string())
}
