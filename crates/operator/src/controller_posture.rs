//! The controller's own posture contract (DESIGN.md section 4, the seed's "Controller Network
//! Security" tables) as data, checked with `netpol` the way [`crate::posture`] checks the
//! per-cluster policies: a synthetic environment around one operator pod, every flow into and
//! out of it on a set of probe ports, compared with the rows below.
//!
//! As in `posture`, the expectation is written in terms of who the peer *is* (its namespace,
//! labels and address), never in terms of the NetworkPolicy, so a builder bug cannot hide behind
//! a matching bug in the expectation. Anything no row explains must be denied, and the operator
//! pod must be isolated in both directions.

use std::{collections::BTreeMap, net::IpAddr, path::Path, process::ExitCode};

use api::names;
use k8s_openapi::{
    api::networking::v1::NetworkPolicy, apimachinery::pkg::apis::meta::v1::LabelSelector,
};
use netpol::{
    Cidr, Direction, DirectionVerdict, Endpoint, Flow, FlowPort, Namespace, Pod, Protocol,
    WorldBuilder,
};

use crate::{
    build::{
        controller::{self, ControllerPolicyOptions, OPERATOR_NAME},
        deploy::label_selector_from_str,
    },
    cli::{EXIT_BAD_INPUT, EXIT_CHECK_FAILED},
    posture::{VerifyError, network_policies_from_yaml},
};

/// Who a synthetic endpoint is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// The operator pod under test (operator namespace, operator labels).
    Controller,
    /// A Prometheus pod in a namespace the metrics selector names.
    Monitoring,
    /// Another pod in the operator namespace.
    OperatorNamespace,
    /// A DNS pod in the DNS namespace.
    Dns,
    /// An OpenBao server pod of a managed cluster (another namespace).
    OpenBao,
    /// A backup Job pod of a managed cluster (same labels plus `openbao.org/component`).
    OpenBaoJob,
    /// A pod labelled `app.kubernetes.io/name=openbao` that this operator does not manage.
    UnmanagedOpenBao,
    /// A pod in an unrelated namespace.
    Elsewhere,
    /// A node address (kubelet probes, API server webhook calls from the host network).
    Node,
    /// The Kubernetes API server.
    ApiServer,
    /// An arbitrary address on the internet.
    Internet,
}

/// A synthetic endpoint: a pod (namespace and labels) or an external address.
#[derive(Clone, Debug)]
pub struct Actor {
    /// Who it is.
    pub role: Role,
    /// Display name (`namespace/pod` or `ip:address`).
    pub name: String,
    /// Namespace for pods, `None` for external addresses.
    pub namespace: Option<String>,
    /// Pod labels.
    pub labels: BTreeMap<String, String>,
    /// Address.
    pub ip: IpAddr,
}

impl Actor {
    fn pod_name(&self) -> &str {
        self.name.rsplit('/').next().unwrap_or(&self.name)
    }

    fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }
}

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
    /// The seed or DESIGN.md row this comes from.
    pub source: &'static str,
    /// Ingress into, or egress out of, the operator pod.
    pub direction: Direction,
    /// Whether `peer` is the row's peer.
    pub peer: fn(&Context, &Actor) -> bool,
    /// Allowed ports.
    pub ports: Ports,
}

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
        source: "seed: Monitoring | 8080 / 8443 | metrics (monitoring namespaces only)",
        direction: Direction::Ingress,
        peer: |ctx, peer| peer.namespace.as_deref() == Some(ctx.monitoring_namespace.as_str()),
        ports: METRICS,
    },
    Row {
        id: "in-health",
        source: "seed: Kubelet | 8081 | healthz/readyz probes (any source)",
        direction: Direction::Ingress,
        peer: |_, _| true,
        ports: HEALTH,
    },
    Row {
        id: "in-webhook",
        source: "seed: Webhook | 9443 | API server admission requests (any source)",
        direction: Direction::Ingress,
        peer: |_, _| true,
        ports: WEBHOOK,
    },
    Row {
        id: "out-api-server",
        source: "seed: Kubernetes API | 443, 6443 | to the API server CIDR, any address without one",
        direction: Direction::Egress,
        peer: |ctx, peer| ctx.api_server.as_ref().is_none_or(|c| c.contains(peer.ip)),
        ports: KUBE_API,
    },
    Row {
        id: "out-dns",
        source: "DESIGN: DNS | 53/UDP, 53/TCP | pods in the DNS namespace",
        direction: Direction::Egress,
        peer: |ctx, peer| peer.namespace.as_deref() == Some(ctx.dns_namespace.as_str()),
        ports: DNS,
    },
    Row {
        id: "out-openbao",
        source: "DESIGN (beyond the seed): OpenBao server pods | 8200/TCP | health, init, step-down",
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
    let pod = |role, namespace: &str, name: &str, labels: BTreeMap<String, String>, ip| Actor {
        role,
        name: format!("{namespace}/{name}"),
        namespace: Some(namespace.to_string()),
        labels,
        ip,
    };
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
            Role::Controller,
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
            Role::OpenBaoJob,
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
    let external = |role, ip: IpAddr| Actor {
        role,
        name: format!("ip:{ip}"),
        namespace: None,
        labels: BTreeMap::new(),
        ip,
    };
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

/// The outcome of one flow into or out of the operator pod, compared with the contract.
#[derive(Clone, Debug)]
pub struct Check {
    /// Ingress (peer -> operator) or egress (operator -> peer).
    pub direction: Direction,
    /// Source.
    pub from: Actor,
    /// Destination.
    pub to: Actor,
    /// Port.
    pub port: u16,
    /// Protocol.
    pub protocol: Protocol,
    /// What the contract says.
    pub expected: bool,
    /// What the policies do.
    pub actual: bool,
    /// The rows that allow the flow.
    pub rows: Vec<&'static str>,
    /// The evaluator's explanation.
    pub reason: String,
    /// Whether it matches the contract (and the operator pod is isolated on that side).
    pub ok: bool,
}

/// The result of verifying the controller's policies.
pub type Report = crate::posture::Report<Check>;

// The controller's policy takes no user rules.
crate::posture::impl_flow_outcome!(Check, no_user_rules);

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
    let mut builder = WorldBuilder::new();
    let mut namespaces: Vec<&str> = actors
        .iter()
        .filter_map(|a| a.namespace.as_deref())
        .collect();
    namespaces.sort_unstable();
    namespaces.dedup();
    for ns in namespaces {
        let mut namespace = Namespace::new(ns);
        if ns == ctx.monitoring_namespace {
            for (key, value) in &ctx.monitoring_labels {
                namespace = namespace.with_label(key.clone(), value.clone());
            }
        }
        builder.namespace(namespace);
    }
    for actor in &actors {
        if let Some(ns) = &actor.namespace {
            let mut pod = Pod::new(ns.clone(), actor.pod_name()).with_ip(actor.ip);
            pod.labels = actor.labels.clone();
            builder.pod(pod);
        }
    }
    for policy in policies {
        builder.policy(policy.clone());
    }
    let world = builder
        .build()
        .map_err(|e| VerifyError::Load(e.to_string()))?;
    let endpoint = |actor: &Actor| match &actor.namespace {
        Some(ns) => world.pod_id(ns, actor.pod_name()).map(Endpoint::Pod),
        None => Some(Endpoint::External(actor.ip)),
    };
    let Some(controller) = actors.first() else {
        return Ok(Report { checks: Vec::new() });
    };
    let Some(controller_ep) = endpoint(controller) else {
        return Err(VerifyError::Load("the operator pod is missing".to_string()));
    };

    let mut checks = Vec::new();
    for peer in actors.iter().skip(1) {
        let Some(peer_ep) = endpoint(peer) else {
            continue;
        };
        for direction in [Direction::Ingress, Direction::Egress] {
            let (from, to, from_ep, to_ep) = match direction {
                Direction::Ingress => (peer, controller, peer_ep, controller_ep),
                Direction::Egress => (controller, peer, controller_ep, peer_ep),
            };
            for &(port, protocol) in PROBE_PORTS {
                let flow = Flow {
                    from: from_ep,
                    to: to_ep,
                    port: FlowPort::Number(port),
                    protocol,
                };
                let verdict = world.evaluate(&flow).map_err(|e| {
                    VerifyError::Flow(
                        format!("{} -> {} {port}/{protocol}", from.name, to.name),
                        e.to_string(),
                    )
                })?;
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
                checks.push(Check {
                    direction,
                    from: from.clone(),
                    to: to.clone(),
                    port,
                    protocol,
                    expected,
                    actual,
                    rows,
                    reason: verdict.to_string(),
                    ok: isolated && actual == expected,
                });
            }
        }
    }
    Ok(Report { checks })
}

/// The truth table of the controller's flows (see [`crate::cli::verify::truth_table`]).
pub fn truth_table(report: &Report) -> String {
    crate::cli::verify::truth_table(report, PROBE_PORTS.len())
}

/// The `netpol verify --controller` flags (flattened into `netpol verify`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ControllerVerifyArgs {
    /// Check the controller's own NetworkPolicy (deploy manifests) instead of a cluster's:
    /// rendered from the flags below, or read from --policies.
    #[arg(long, conflicts_with = "file")]
    pub controller: bool,
    /// Namespaces allowed to scrape metrics on 8080/8443, as `key=value[,key=value]`
    /// (default: kubernetes.io/metadata.name=monitoring).
    #[arg(long, value_name = "SELECTOR", conflicts_with = "file")]
    pub metrics_namespace_selector: Option<String>,
    /// The API server's CIDR; egress on 443/6443 must then reach only it (default: any address).
    #[arg(long, value_name = "CIDR", conflicts_with = "file")]
    pub api_server_cidr: Option<String>,
    /// Namespace whose pods serve DNS (default: kube-system).
    #[arg(long, value_name = "NS", conflicts_with = "file")]
    pub dns_namespace: Option<String>,
}

impl ControllerVerifyArgs {
    /// The policy options these flags describe, for the operator in `operator_namespace`.
    pub fn options(&self, operator_namespace: &str) -> Result<ControllerPolicyOptions, String> {
        let mut options = ControllerPolicyOptions::new(operator_namespace);
        if let Some(selector) = &self.metrics_namespace_selector {
            options.metrics_namespace_selector = label_selector_from_str(selector)
                .map_err(|e| format!("--metrics-namespace-selector: {e}"))?;
        }
        if let Some(cidr) = &self.api_server_cidr {
            Cidr::parse(cidr).map_err(|e| {
                format!("--api-server-cidr {cidr:?}: {e} (allowed: an IPv4 or IPv6 CIDR)")
            })?;
            options.api_server_cidr = Some(cidr.clone());
        }
        if let Some(ns) = &self.dns_namespace {
            options.dns_namespace = ns.clone();
        }
        Ok(options)
    }
}

/// Run `netpol verify --controller`: print the truth table; exit 0 when every flow matches the
/// contract, 1 when one does not, 2 on bad input. `policies` replaces the rendered policy with
/// the NetworkPolicies of a file (other kinds in it are ignored).
pub fn run(
    args: &ControllerVerifyArgs,
    operator_namespace: &str,
    api_server_ip: IpAddr,
    policies: Option<&Path>,
) -> ExitCode {
    let options = match args.options(operator_namespace) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let result = match policies {
        None => verify(&options, api_server_ip),
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| network_policies_from_yaml(&text))
        {
            Ok(policies) => verify_policies(&options, api_server_ip, &policies),
            Err(e) => {
                eprintln!("error: {}: {e}", path.display());
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        },
    };
    match result {
        Ok(report) => {
            print!("{}", truth_table(&report));
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_CHECK_FAILED)
            }
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}
