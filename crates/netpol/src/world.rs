//! The world: validated namespaces, pods and compiled policies with precomputed indexes, and the
//! evaluation of flows against them.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use k8s_openapi::api::networking::v1::NetworkPolicy;

use crate::compile::{CompiledPolicy, Index, PeerEnd, ResolvedPort, compile_policy};
use crate::error::{FieldError, FlowError, LoadError, LoadErrors, ObjectRef};
use crate::model::{Namespace, Pod, Protocol};
use crate::verdict::{Direction, DirectionVerdict, Endpoint, Flow, FlowPort, RuleRef, Verdict};

/// The label the API server puts on every namespace (and that selectors commonly use).
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// The namespace used when an object does not name one.
pub const DEFAULT_NAMESPACE: &str = "default";

/// A `namespace/name` pair.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NamespacedName {
    /// The namespace.
    pub namespace: String,
    /// The name.
    pub name: String,
}

impl fmt::Display for NamespacedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Identifies a pod of one [`World`] (an index into [`World::pods`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PodId(pub(crate) usize);

impl PodId {
    /// The index into [`World::pods`].
    pub fn index(self) -> usize {
        self.0
    }
}

/// Identifies a policy of one [`World`]. Policies are ordered by namespace, then name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyId(pub(crate) usize);

impl PolicyId {
    /// The policy's position in namespace/name order.
    pub fn index(self) -> usize {
        self.0
    }
}

/// Collects the objects of a world; [`WorldBuilder::build`] validates and indexes them.
#[derive(Clone, Debug, Default)]
pub struct WorldBuilder {
    namespaces: Vec<Namespace>,
    pods: Vec<Pod>,
    policies: Vec<NetworkPolicy>,
}

impl WorldBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares a namespace.
    pub fn namespace(&mut self, namespace: Namespace) -> &mut Self {
        self.namespaces.push(namespace);
        self
    }

    /// Adds a pod. Its namespace need not be declared (see [`WorldBuilder::build`]).
    pub fn pod(&mut self, pod: Pod) -> &mut Self {
        self.pods.push(pod);
        self
    }

    /// Adds a policy. A policy without `metadata.namespace` lives in `default`.
    pub fn policy(&mut self, policy: NetworkPolicy) -> &mut Self {
        self.policies.push(policy);
        self
    }

    /// Validates everything and precomputes the indexes evaluation uses.
    ///
    /// A namespace referenced by a pod or policy but not declared exists with no labels but
    /// `kubernetes.io/metadata.name`; every namespace gets that label set to its name, as the
    /// API server does (overriding any value the input gave it). Returns every problem found:
    /// duplicate objects, bad selectors, CIDRs, ports and policy types, each naming the object
    /// and field.
    pub fn build(&self) -> Result<World, LoadErrors> {
        let mut errors: Vec<LoadError> = Vec::new();

        // Namespaces: declared ones, then implicit ones, sorted by name.
        let mut namespaces: BTreeMap<String, Namespace> = BTreeMap::new();
        for ns in &self.namespaces {
            let object = ObjectRef::cluster("Namespace", &ns.name);
            if ns.name.is_empty() {
                errors.push(LoadError::at(
                    &object,
                    FieldError::new("metadata.name", "must not be empty"),
                ));
            } else if namespaces.insert(ns.name.clone(), ns.clone()).is_some() {
                errors.push(LoadError::at(
                    &object,
                    FieldError::new("metadata.name", "duplicate namespace"),
                ));
            }
        }
        let policy_namespace = |p: &NetworkPolicy| {
            // An empty namespace means "not set", as for kubectl.
            p.metadata
                .namespace
                .clone()
                .filter(|ns| !ns.is_empty())
                .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned())
        };
        let referenced = self
            .pods
            .iter()
            .map(|p| p.namespace.clone())
            .chain(self.policies.iter().map(policy_namespace));
        for name in referenced {
            if !name.is_empty() {
                namespaces
                    .entry(name.clone())
                    .or_insert_with(|| Namespace::new(name));
            }
        }
        let namespaces: Vec<Namespace> = namespaces
            .into_values()
            .map(|mut ns| {
                ns.labels
                    .insert(NAMESPACE_NAME_LABEL.to_owned(), ns.name.clone());
                ns
            })
            .collect();
        let namespace_index = |name: &str| {
            namespaces
                .binary_search_by(|ns| ns.name.as_str().cmp(name))
                .ok()
        };

        // Pods, sorted by namespace/name so ids and outputs are deterministic.
        let mut pods: Vec<Pod> = Vec::with_capacity(self.pods.len());
        for pod in &self.pods {
            let object = ObjectRef::namespaced("Pod", &pod.namespace, &pod.name);
            let before = errors.len();
            if pod.name.is_empty() {
                errors.push(LoadError::at(
                    &object,
                    FieldError::new("metadata.name", "must not be empty"),
                ));
            }
            if pod.namespace.is_empty() {
                errors.push(LoadError::at(
                    &object,
                    FieldError::new("metadata.namespace", "must not be empty"),
                ));
            }
            for (i, port) in pod.ports.iter().enumerate() {
                if port.port == 0 {
                    errors.push(LoadError::at(
                        &object,
                        FieldError::new(
                            format!("ports[{i}].containerPort"),
                            "0 is not a valid port number; must be 1..=65535",
                        ),
                    ));
                }
            }
            if errors.len() == before {
                pods.push(pod.clone());
            }
        }
        pods.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        for pair in pods.windows(2) {
            if let [a, b] = pair
                && a.namespace == b.namespace
                && a.name == b.name
            {
                errors.push(LoadError::at(
                    &ObjectRef::namespaced("Pod", &b.namespace, &b.name),
                    FieldError::new("metadata.name", "duplicate pod"),
                ));
            }
        }
        pods.dedup_by(|a, b| a.namespace == b.namespace && a.name == b.name);

        let mut pod_namespace = Vec::with_capacity(pods.len());
        let mut pods_by_namespace = vec![Vec::new(); namespaces.len()];
        for (i, pod) in pods.iter().enumerate() {
            // Every pod namespace was added above, so the lookup succeeds; a miss would only
            // leave the pod unselectable, never crash.
            let ns = namespace_index(&pod.namespace).unwrap_or(usize::MAX);
            pod_namespace.push(ns);
            if let Some(list) = pods_by_namespace.get_mut(ns) {
                list.push(i);
            }
        }

        // Port names are interned so named-port checks during evaluation compare integers.
        let mut port_names: HashMap<String, u32> = HashMap::new();
        let resolved_ports: Vec<Vec<ResolvedPort>> = pods
            .iter()
            .map(|pod| {
                pod.ports
                    .iter()
                    .map(|p| ResolvedPort {
                        name: p.name.as_ref().map(|name| {
                            let next = u32::try_from(port_names.len()).unwrap_or(u32::MAX);
                            *port_names.entry(name.clone()).or_insert(next)
                        }),
                        port: p.port,
                        protocol: p.protocol,
                    })
                    .collect()
            })
            .collect();

        // Policies, sorted by namespace/name: explanations list them in that order.
        let mut sources: Vec<(NamespacedName, &NetworkPolicy)> = Vec::new();
        for policy in &self.policies {
            let key = NamespacedName {
                namespace: policy_namespace(policy),
                name: policy.metadata.name.clone().unwrap_or_default(),
            };
            if key.name.is_empty() {
                errors.push(LoadError::at(
                    &ObjectRef::namespaced("NetworkPolicy", &key.namespace, ""),
                    FieldError::new("metadata.name", "must not be empty"),
                ));
                continue;
            }
            sources.push((key, policy));
        }
        sources.sort_by(|a, b| a.0.cmp(&b.0));
        for pair in sources.windows(2) {
            if let [a, b] = pair
                && a.0 == b.0
            {
                errors.push(LoadError::at(
                    &ObjectRef::namespaced("NetworkPolicy", &b.0.namespace, &b.0.name),
                    FieldError::new("metadata.name", "duplicate network policy"),
                ));
            }
        }
        sources.dedup_by(|a, b| a.0 == b.0);

        let index = Index {
            namespaces: &namespaces,
            pods: &pods,
            pod_namespace: &pod_namespace,
            pods_by_namespace: &pods_by_namespace,
            port_names: &port_names,
        };
        let mut policies = Vec::with_capacity(sources.len());
        for (key, policy) in sources {
            let object = ObjectRef::namespaced("NetworkPolicy", &key.namespace, &key.name);
            let Some(ns) = namespace_index(&key.namespace) else {
                errors.push(LoadError::at(
                    &object,
                    FieldError::new("metadata.namespace", "must not be empty"),
                ));
                continue;
            };
            let mut field_errors = Vec::new();
            let compiled = compile_policy(policy, key, ns, &index, &mut field_errors);
            errors.extend(
                field_errors
                    .into_iter()
                    .map(|error| LoadError::at(&object, error)),
            );
            policies.push(compiled);
        }

        if !errors.is_empty() {
            return Err(LoadErrors(errors));
        }

        // Per pod and direction, the policies that select it: a pod is isolated for a
        // direction iff at least one policy of its namespace selects it with that policy type.
        let mut entries: Vec<PodEntry> = resolved_ports
            .into_iter()
            .map(|ports| PodEntry {
                ingress: Vec::new(),
                egress: Vec::new(),
                ports,
            })
            .collect();
        for (id, policy) in policies.iter().enumerate() {
            for pod in policy.selected.iter() {
                if let Some(entry) = entries.get_mut(pod) {
                    if policy.ingress.is_some() {
                        entry.ingress.push(PolicyId(id));
                    }
                    if policy.egress.is_some() {
                        entry.egress.push(PolicyId(id));
                    }
                }
            }
        }

        Ok(World {
            namespaces,
            pods,
            entries,
            policies,
        })
    }
}

/// Per-pod precomputed facts.
#[derive(Clone, Debug)]
struct PodEntry {
    /// Policies isolating the pod for ingress, in namespace/name order.
    ingress: Vec<PolicyId>,
    /// Policies isolating the pod for egress, in namespace/name order.
    egress: Vec<PolicyId>,
    /// Declared ports with interned names.
    ports: Vec<ResolvedPort>,
}

/// One cell of the reachability matrix (see [`World::matrix`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatrixEntry {
    /// The source pod.
    pub from: PodId,
    /// The destination pod.
    pub to: PodId,
    /// A port the destination declares.
    pub port: u16,
    /// That port's protocol.
    pub protocol: Protocol,
    /// Whether the flow is allowed.
    pub allowed: bool,
}

/// A validated set of namespaces, pods and policies, ready to evaluate flows.
#[derive(Clone, Debug)]
pub struct World {
    namespaces: Vec<Namespace>,
    pods: Vec<Pod>,
    entries: Vec<PodEntry>,
    policies: Vec<CompiledPolicy>,
}

impl World {
    /// The namespaces (declared and implicit), sorted by name, with their effective labels.
    pub fn namespaces(&self) -> &[Namespace] {
        &self.namespaces
    }

    /// The pods, sorted by namespace then name; `PodId(i)` is `pods()[i]`.
    pub fn pods(&self) -> &[Pod] {
        &self.pods
    }

    /// The ids of all pods, in namespace/name order.
    pub fn pod_ids(&self) -> impl ExactSizeIterator<Item = PodId> + '_ {
        (0..self.pods.len()).map(PodId)
    }

    /// The pod with this id, if it belongs to this world.
    pub fn pod(&self, id: PodId) -> Option<&Pod> {
        self.pods.get(id.0)
    }

    /// Looks a pod up by namespace and name.
    pub fn pod_id(&self, namespace: &str, name: &str) -> Option<PodId> {
        self.pods
            .binary_search_by(|p| (p.namespace.as_str(), p.name.as_str()).cmp(&(namespace, name)))
            .ok()
            .map(PodId)
    }

    /// The number of policies.
    pub fn policy_count(&self) -> usize {
        self.policies.len()
    }

    /// The namespace/name of a policy.
    pub fn policy_name(&self, id: PolicyId) -> Option<&NamespacedName> {
        self.policies.get(id.0).map(|p| &p.key)
    }

    /// Looks a policy up by namespace and name.
    pub fn policy_id(&self, namespace: &str, name: &str) -> Option<PolicyId> {
        self.policies
            .binary_search_by(|p| {
                (p.key.namespace.as_str(), p.key.name.as_str()).cmp(&(namespace, name))
            })
            .ok()
            .map(PolicyId)
    }

    /// The pods a policy's `podSelector` selects (whatever its policy types).
    pub fn selected_pods(&self, id: PolicyId) -> Vec<PodId> {
        self.policies
            .get(id.0)
            .map(|p| p.selected.iter().map(PodId).collect())
            .unwrap_or_default()
    }

    /// The policies isolating `pod` for `direction` (empty when it is not isolated).
    pub fn isolated_by(&self, pod: PodId, direction: Direction) -> &[PolicyId] {
        match self.entries.get(pod.0) {
            Some(entry) => match direction {
                Direction::Ingress => &entry.ingress,
                Direction::Egress => &entry.egress,
            },
            None => &[],
        }
    }

    /// Resolves a port name against a pod's declared container ports for `protocol`.
    pub fn resolve_port_name(
        &self,
        pod: PodId,
        name: &str,
        protocol: Protocol,
    ) -> Result<u16, FlowError> {
        let declared = self.pod(pod).ok_or(FlowError::UnknownPod(pod.0))?;
        declared
            .ports
            .iter()
            .find(|p| p.protocol == protocol && p.name.as_deref() == Some(name))
            .map(|p| p.port)
            .ok_or_else(|| FlowError::UnknownPortName {
                pod: format!("{}/{}", declared.namespace, declared.name),
                name: name.to_owned(),
                protocol,
                declared: declared
                    .ports
                    .iter()
                    .filter(|p| p.protocol == protocol)
                    .filter_map(|p| p.name.clone())
                    .collect(),
            })
    }

    /// Decides whether `flow` is allowed and explains why, per direction.
    ///
    /// A flow is allowed iff the source's egress allows it AND the destination's ingress allows
    /// it. Errors: a pod id from another world, or a named port the destination pod does not
    /// declare (or towards an external address).
    pub fn evaluate(&self, flow: &Flow) -> Result<Verdict<'_>, FlowError> {
        for endpoint in [flow.from, flow.to] {
            if let Endpoint::Pod(id) = endpoint
                && id.0 >= self.pods.len()
            {
                return Err(FlowError::UnknownPod(id.0));
            }
        }
        // A probe's named port is resolved against the destination pod's declared ports.
        let port = match &flow.port {
            FlowPort::Number(n) => *n,
            FlowPort::Named(name) => match flow.to {
                Endpoint::Pod(id) => self.resolve_port_name(id, name, flow.protocol)?,
                Endpoint::External(_) => {
                    return Err(FlowError::NamedPortToExternal { name: name.clone() });
                }
            },
        };

        // Traffic from a pod to itself is always allowed: Kubernetes does not let a pod
        // block access to itself, whatever its policies say.
        if let (Endpoint::Pod(a), Endpoint::Pod(b)) = (flow.from, flow.to)
            && a == b
        {
            return Ok(Verdict {
                world: self,
                from: flow.from,
                to: flow.to,
                port,
                protocol: flow.protocol,
                allowed: true,
                egress: DirectionVerdict::SamePod,
                ingress: DirectionVerdict::SamePod,
            });
        }

        // Named ports in rules resolve against the destination pod: for egress that is the
        // peer, for ingress the policy's own pod. External destinations have no named ports.
        let destination_ports: &[ResolvedPort] = match flow.to {
            Endpoint::Pod(id) => self.entries.get(id.0).map_or(&[], |e| &e.ports),
            Endpoint::External(_) => &[],
        };

        // An external endpoint has no policies, so its side of the flow is always allowed.
        let egress = match flow.from {
            Endpoint::External(_) => DirectionVerdict::External,
            Endpoint::Pod(src) => self.direction(
                Direction::Egress,
                src,
                peer_end(flow.to),
                port,
                flow.protocol,
                destination_ports,
            ),
        };
        let ingress = match flow.to {
            Endpoint::External(_) => DirectionVerdict::External,
            Endpoint::Pod(dst) => self.direction(
                Direction::Ingress,
                dst,
                peer_end(flow.from),
                port,
                flow.protocol,
                destination_ports,
            ),
        };
        Ok(Verdict {
            world: self,
            from: flow.from,
            to: flow.to,
            port,
            protocol: flow.protocol,
            allowed: egress.allowed() && ingress.allowed(),
            egress,
            ingress,
        })
    }

    /// Decides one direction for `pod` against the flow's other end `peer`.
    #[inline]
    fn direction(
        &self,
        direction: Direction,
        pod: PodId,
        peer: PeerEnd,
        port: u16,
        protocol: Protocol,
        destination_ports: &[ResolvedPort],
    ) -> DirectionVerdict<'_> {
        let isolated_by = self.isolated_by(pod, direction);
        // Not selected by any policy of this type: the pod is not isolated, all is allowed.
        if isolated_by.is_empty() {
            return DirectionVerdict::NotIsolated;
        }
        // Isolated: allowed iff some rule of some selecting policy (their union) matches both
        // the peer and the port. The first match in policy order, then rule order, is reported.
        for &policy in isolated_by {
            let Some(compiled) = self.policies.get(policy.0) else {
                continue;
            };
            let rules = match direction {
                Direction::Ingress => compiled.ingress.as_deref(),
                Direction::Egress => compiled.egress.as_deref(),
            };
            for (index, rule) in rules.unwrap_or_default().iter().enumerate() {
                if rule.ports.matches(port, protocol, destination_ports) && rule.peers.matches(peer)
                {
                    return DirectionVerdict::Allowed {
                        isolated_by,
                        rule: RuleRef {
                            policy,
                            direction,
                            index,
                        },
                    };
                }
            }
        }
        DirectionVerdict::Denied { isolated_by }
    }

    /// Every ordered pair of pods (a pod to itself included, always allowed) and every distinct
    /// port/protocol the destination declares, with the verdict; in pod order, then the
    /// destination's port order.
    pub fn matrix(&self) -> Matrix<'_> {
        let ports = self
            .pods
            .iter()
            .map(|pod| {
                let mut list: Vec<(u16, Protocol)> = Vec::new();
                for p in &pod.ports {
                    if !list.contains(&(p.port, p.protocol)) {
                        list.push((p.port, p.protocol));
                    }
                }
                list
            })
            .collect();
        Matrix {
            world: self,
            ports,
            from: 0,
            to: 0,
            port: 0,
        }
    }

    /// A short label for an endpoint: `namespace/name` or the IP address.
    pub fn endpoint_name(&self, endpoint: Endpoint) -> String {
        match endpoint {
            Endpoint::Pod(id) => self
                .pod(id)
                .map(|p| format!("{}/{}", p.namespace, p.name))
                .unwrap_or_else(|| format!("<pod #{}>", id.0)),
            Endpoint::External(ip) => ip.to_string(),
        }
    }
}

fn peer_end(endpoint: Endpoint) -> PeerEnd {
    match endpoint {
        Endpoint::Pod(id) => PeerEnd::Pod(id.0),
        Endpoint::External(ip) => PeerEnd::External(ip),
    }
}

/// The iterator returned by [`World::matrix`].
#[derive(Debug)]
pub struct Matrix<'w> {
    world: &'w World,
    /// Distinct (port, protocol) pairs per destination pod.
    ports: Vec<Vec<(u16, Protocol)>>,
    from: usize,
    to: usize,
    port: usize,
}

impl Iterator for Matrix<'_> {
    type Item = MatrixEntry;

    fn next(&mut self) -> Option<MatrixEntry> {
        let count = self.world.pods.len();
        while self.from < count {
            if let Some(&(port, protocol)) = self.ports.get(self.to).and_then(|l| l.get(self.port))
            {
                self.port += 1;
                let (from, to) = (PodId(self.from), PodId(self.to));
                let allowed = self
                    .world
                    .evaluate(&Flow {
                        from: Endpoint::Pod(from),
                        to: Endpoint::Pod(to),
                        port: FlowPort::Number(port),
                        protocol,
                    })
                    .is_ok_and(|v| v.allowed);
                return Some(MatrixEntry {
                    from,
                    to,
                    port,
                    protocol,
                    allowed,
                });
            }
            // This destination's ports are done: next destination, then next source.
            self.port = 0;
            self.to += 1;
            if self.to >= count {
                self.to = 0;
                self.from += 1;
            }
        }
        None
    }
}
