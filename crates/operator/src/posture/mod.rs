//! The posture contract of `docs/network-security.md` as data, and the checks that prove
//! NetworkPolicies implement it: a synthetic environment of pods and addresses ([`Actor`]s),
//! loaded into a `netpol` world with the policies under test, every flow evaluated and compared
//! with the contract's rows ([`Check`]s in a [`Report`]).
//!
//! - [`cluster`]: the per-cluster policies (`<cluster>-network-policy`,
//!   `<cluster>-jobs-network-policy`).
//! - [`controller`]: the operator's own policy (deploy manifests, Helm chart).
//! - [`report`]: the truth table both checks are shown as, and the aligned tables of
//!   `netpol check` and `netpol matrix`.
//! - [`load`]: reading Namespaces, Pods, NetworkPolicies and probes from YAML.
//!
//! Both contracts are written in plain terms of namespaces, labels and addresses (who the peer
//! *is*), never in terms of the NetworkPolicy objects, so a builder bug cannot hide behind a
//! matching bug in the expectation.

use std::{collections::BTreeMap, net::IpAddr};

use k8s_openapi::api::networking::v1::NetworkPolicy;
use netpol::{Endpoint, Flow, FlowPort, Namespace, Pod, Protocol, Verdict, World, WorldBuilder};

pub mod audit;
pub mod cluster;
pub mod controller;
pub mod diff;
pub mod draw;
pub mod load;
pub mod report;

pub use cluster::verify_manifest;
pub use load::network_policies_from_yaml;
pub use report::truth_table;

/// Who a synthetic endpoint is. The cluster check and the controller check each place a subset
/// of these around the pod they prove.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// An OpenBao server pod: the one under test (`<cluster>-0`) in the cluster check, a
    /// managed cluster's server in the controller check.
    OpenBao,
    /// Another server pod of the same cluster (`<cluster>-1`).
    OpenBaoPeer,
    /// A server pod of another OpenBao cluster in the same namespace.
    OtherCluster,
    /// A backup Job pod (the cluster's own; in the controller check, a managed cluster's).
    BackupJob,
    /// A restore Job pod of the cluster.
    RestoreJob,
    /// A pod labelled `app.kubernetes.io/name=openbao` that the operator does not manage.
    UnmanagedOpenBao,
    /// The operator pod (operator namespace, operator labels); the pod under test in the
    /// controller check.
    Operator,
    /// A pod with the operator's labels in another namespace.
    OperatorImpostor,
    /// Another pod in the operator namespace.
    OperatorNamespace,
    /// A Prometheus pod in a namespace the metrics selector names.
    Monitoring,
    /// A pod in kube-system (CNI or node health checks).
    KubeSystem,
    /// A DNS pod in the DNS namespace.
    Dns,
    /// A gateway proxy pod in the Gateway's namespace.
    Gateway,
    /// A pod in the cluster's namespace without OpenBao labels.
    Unrelated,
    /// A pod in an unrelated namespace.
    Elsewhere,
    /// A node address (kubelet probes, API server webhook calls from the host network).
    Node,
    /// The Kubernetes API service address.
    ApiServer,
    /// An API server endpoint address (post-DNAT).
    ApiServerEndpoint,
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
    /// A pod `namespace/name`.
    fn pod(
        role: Role,
        namespace: &str,
        name: &str,
        labels: BTreeMap<String, String>,
        ip: IpAddr,
    ) -> Self {
        Self {
            role,
            name: format!("{namespace}/{name}"),
            namespace: Some(namespace.to_string()),
            labels,
            ip,
        }
    }

    /// An address outside the pods (`ip:address`).
    fn external(role: Role, ip: IpAddr) -> Self {
        Self {
            role,
            name: format!("ip:{ip}"),
            namespace: None,
            labels: BTreeMap::new(),
            ip,
        }
    }

    /// The pod's name without its namespace.
    fn pod_name(&self) -> &str {
        self.name.rsplit('/').next().unwrap_or(&self.name)
    }

    fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }

    fn has_labels(&self, wanted: &BTreeMap<String, String>) -> bool {
        self.namespace.is_some() && wanted.iter().all(|(k, v)| self.labels.get(k) == Some(v))
    }

    fn in_namespace(&self, namespace: &str) -> bool {
        self.namespace.as_deref() == Some(namespace)
    }
}

/// The outcome of one flow, compared with the contract.
#[derive(Clone, Debug)]
pub struct Check {
    /// Source (shared by every check of the endpoint).
    pub from: std::sync::Arc<Actor>,
    /// Destination.
    pub to: std::sync::Arc<Actor>,
    /// Port.
    pub port: u16,
    /// Protocol.
    pub protocol: Protocol,
    /// What the contract says (rows, or an additive user rule).
    pub expected: bool,
    /// What the policies do.
    pub actual: bool,
    /// The contract rows that allow the flow.
    pub rows: Vec<&'static str>,
    /// Whether the flow gets through only thanks to a user rule (additive, acceptable; the
    /// controller's policy takes no user rules).
    pub via_user_rule: bool,
    /// The evaluator's explanation, for a check that fails (empty when it matches: formatting
    /// it for every flow would cost more than evaluating them).
    pub reason: String,
    /// Whether it matches the contract (and the pods under test are isolated as required).
    pub ok: bool,
    /// When it does not: the policies that decide the wrong verdict (the one whose rule lets
    /// a forbidden flow through, or those isolating a pod from a flow the contract requires);
    /// empty when no policy selects a pod the contract says must be isolated.
    pub culprits: Vec<String>,
}

/// The result of a verification: every flow checked.
#[derive(Clone, Debug)]
pub struct Report {
    /// Every flow checked.
    pub checks: Vec<Check>,
    /// The ports probed on every pair of endpoints.
    pub probe_ports: Vec<(u16, Protocol)>,
}

impl Report {
    /// The checks that do not match the contract.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.ok)
    }

    /// True when every flow matches the contract.
    pub fn passed(&self) -> bool {
        self.failures().next().is_none()
    }
}

/// Why a verification could not run.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The policies could not be loaded by the evaluator (a builder bug).
    #[error("the rendered policies cannot be evaluated: {0}")]
    Load(String),
    /// A flow could not be evaluated.
    #[error("flow {0} cannot be evaluated: {1}")]
    Flow(String, String),
}

/// The synthetic environment as a `netpol` world: every actor's namespace and pod, and the
/// policies under test.
struct Environment {
    world: World,
}

/// An actor and where it stands in the world.
struct Located<'a> {
    actor: &'a Actor,
    endpoint: Endpoint,
}

impl Environment {
    /// Declares the namespaces of `actors` (with `namespace_labels` where given), their pods,
    /// and `policies`.
    fn build(
        actors: &[Actor],
        namespace_labels: &BTreeMap<String, BTreeMap<String, String>>,
        policies: &[NetworkPolicy],
    ) -> Result<Self, VerifyError> {
        let mut builder = WorldBuilder::new();
        let mut namespaces: Vec<&str> = actors
            .iter()
            .filter_map(|a| a.namespace.as_deref())
            .collect();
        namespaces.sort_unstable();
        namespaces.dedup();
        for ns in namespaces {
            let mut namespace = Namespace::new(ns);
            for (key, value) in namespace_labels.get(ns).into_iter().flatten() {
                namespace = namespace.with_label(key.clone(), value.clone());
            }
            builder.namespace(namespace);
        }
        for actor in actors {
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
        Ok(Self { world })
    }

    fn world(&self) -> &World {
        &self.world
    }

    /// `actor`'s pod, or its external address; `None` for a pod the world does not hold.
    fn locate<'a>(&self, actor: &'a Actor) -> Option<Located<'a>> {
        let endpoint = match &actor.namespace {
            Some(ns) => Endpoint::Pod(self.world.pod_id(ns, actor.pod_name())?),
            None => Endpoint::External(actor.ip),
        };
        Some(Located { actor, endpoint })
    }

    /// The verdict on `from -> to` at `port`/`protocol`.
    fn evaluate(
        &self,
        from: &Located<'_>,
        to: &Located<'_>,
        port: u16,
        protocol: Protocol,
    ) -> Result<Verdict<'_>, VerifyError> {
        let flow = Flow {
            from: from.endpoint,
            to: to.endpoint,
            port: FlowPort::Number(port),
            protocol,
        };
        self.world.evaluate(&flow).map_err(|e| {
            VerifyError::Flow(
                format!("{} -> {} {port}/{protocol}", from.actor.name, to.actor.name),
                e.to_string(),
            )
        })
    }
}
