//! Reading a `netpol` world from YAML (Namespaces, Pods and NetworkPolicies), parsing probes
//! against it, and evaluating them: the library behind `netpol check` and `netpol matrix`, and
//! the NetworkPolicy loader the posture checks use for exported or committed policies.
//!
//! Bad input is reported in full: every problem, one message each, naming the object or probe
//! and the field.

use std::{fmt, net::IpAddr};

use k8s_openapi::api::{core::v1 as core, networking::v1::NetworkPolicy};
use netpol::{Endpoint, Flow, FlowPort, Protocol, World, WorldBuilder};
use serde::Deserialize as _;
use serde_yaml::Value;

/// Bad input: every problem found, one message each (object or probe, field, what is wrong).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    /// The messages, in input order.
    pub messages: Vec<String>,
}

impl InputError {
    /// A single problem.
    pub fn one(message: impl Into<String>) -> Self {
        Self {
            messages: vec![message.into()],
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.messages.join("\n"))
    }
}

impl std::error::Error for InputError {}

/// The objects read from a file, converted, plus warnings about skipped objects.
#[derive(Clone, Debug, Default)]
pub struct Objects {
    /// Declared namespaces.
    pub namespaces: Vec<netpol::Namespace>,
    /// Pods.
    pub pods: Vec<netpol::Pod>,
    /// NetworkPolicies, as read.
    pub policies: Vec<NetworkPolicy>,
    /// One line per skipped object (kind and name), for stderr.
    pub warnings: Vec<String>,
}

impl Objects {
    /// Builds the world: implicit namespaces, the `kubernetes.io/metadata.name` label, and
    /// validation of every policy (errors name the object and field).
    pub fn build_world(&self) -> Result<World, InputError> {
        let mut builder = WorldBuilder::new();
        for ns in &self.namespaces {
            builder.namespace(ns.clone());
        }
        for pod in &self.pods {
            builder.pod(pod.clone());
        }
        for policy in &self.policies {
            builder.policy(policy.clone());
        }
        builder.build().map_err(|errors| InputError {
            messages: errors.0.iter().map(ToString::to_string).collect(),
        })
    }
}

/// A short description of an object for messages: `Pod x/a`.
fn describe(value: &Value) -> String {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_owned();
    let kind = text(value.get("kind"));
    let metadata = value.get("metadata");
    let name = text(metadata.and_then(|m| m.get("name")));
    let namespace = text(metadata.and_then(|m| m.get("namespace")));
    let kind = if kind.is_empty() { "object" } else { &kind };
    let name = if name.is_empty() { "<unnamed>" } else { &name };
    match kind {
        // These two default their namespace, so name them as they will be known.
        "Pod" | "NetworkPolicy" if namespace.is_empty() => {
            format!("{kind} {}/{name}", netpol::DEFAULT_NAMESPACE)
        }
        _ if namespace.is_empty() => format!("{kind} {name}"),
        _ => format!("{kind} {namespace}/{name}"),
    }
}

/// Deserialize `value` as `T`, naming the field path of a type error (e.g.
/// `spec.containers[0].ports[0].containerPort: invalid type: string "abc", expected i32`).
fn typed<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." || path.is_empty() {
            e.into_inner().to_string()
        } else {
            format!("{path}: {}", e.into_inner())
        }
    })
}

/// Parses objects from YAML: several documents, a YAML list of objects, or a `kind: List`
/// (any `*List` kind) with `items`; lists may nest. Namespace (`v1`), Pod (`v1`) and
/// NetworkPolicy (`networking.k8s.io/v1`) are read; any other kind or version is skipped with a
/// warning naming it. An object without `kind` is an error (it is probably not a manifest).
pub fn parse_objects(text: &str) -> Result<Objects, InputError> {
    let mut objects = Objects::default();
    let mut errors = Vec::new();
    for (d, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let place = format!("document {}", d + 1);
        match <Value as serde::Deserialize>::deserialize(document) {
            Ok(value) => collect(value, &place, &mut objects, &mut errors),
            Err(e) => {
                errors.push(format!("{place}: invalid YAML: {e}"));
                // The YAML stream cannot be resynchronised after a syntax error.
                break;
            }
        }
    }
    if errors.is_empty() {
        Ok(objects)
    } else {
        Err(InputError { messages: errors })
    }
}

fn collect(value: Value, place: &str, objects: &mut Objects, errors: &mut Vec<String>) {
    match value {
        // Empty documents (a trailing `---`, comments only) carry nothing.
        Value::Null => {}
        Value::Sequence(items) => {
            for (i, item) in items.into_iter().enumerate() {
                collect(item, &format!("{place}, item {}", i + 1), objects, errors);
            }
        }
        Value::Mapping(_) => {
            let kind = value.get("kind").and_then(Value::as_str).map(str::to_owned);
            let api_version = value
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            match kind.as_deref() {
                None => errors.push(format!(
                    "{} ({place}): missing `kind`; expected Namespace, Pod or NetworkPolicy objects",
                    describe(&value)
                )),
                Some(list) if list.ends_with("List") => match value.get("items") {
                    Some(Value::Sequence(_)) | None | Some(Value::Null) => {
                        if let Some(items) = value.get("items").cloned() {
                            collect(items, place, objects, errors);
                        }
                    }
                    Some(_) => errors.push(format!("{place}: {list}.items: must be a list")),
                },
                Some("Namespace") if matches!(api_version.as_str(), "v1" | "") => {
                    let what = format!("{} ({place})", describe(&value));
                    match typed::<core::Namespace>(strip_type(value)) {
                        Ok(ns) => match netpol::namespace_from_k8s(&ns) {
                            Ok(ns) => objects.namespaces.push(ns),
                            Err(es) => errors.extend(es.iter().map(|e| format!("{e} ({place})"))),
                        },
                        Err(e) => errors.push(format!("{what}: {e}")),
                    }
                }
                Some("Pod") if matches!(api_version.as_str(), "v1" | "") => {
                    let what = format!("{} ({place})", describe(&value));
                    match typed::<core::Pod>(strip_type(value)) {
                        Ok(pod) => match netpol::pod_from_k8s(&pod) {
                            Ok(pod) => objects.pods.push(pod),
                            Err(es) => errors.extend(es.iter().map(|e| format!("{e} ({place})"))),
                        },
                        Err(e) => errors.push(format!("{what}: {e}")),
                    }
                }
                Some("NetworkPolicy")
                    if matches!(api_version.as_str(), "networking.k8s.io/v1" | "") =>
                {
                    let what = format!("{} ({place})", describe(&value));
                    match typed::<NetworkPolicy>(strip_type(value)) {
                        Ok(policy) => objects.policies.push(policy),
                        Err(e) => errors.push(format!("{what}: {e}")),
                    }
                }
                Some(_) => {
                    let version = if api_version.is_empty() {
                        String::new()
                    } else {
                        format!(", apiVersion {api_version}")
                    };
                    objects.warnings.push(format!(
                        "skipping {} ({place}{version}): only Namespace and Pod (v1) and \
                         NetworkPolicy (networking.k8s.io/v1) objects are read",
                        describe(&value)
                    ));
                }
            }
        }
        other => errors.push(format!(
            "{place}: expected an object or a list of objects, found {}",
            yaml_type(&other)
        )),
    }
}

/// Removes `apiVersion` and `kind` (already checked by the caller), because k8s-openapi's
/// deserializers reject an empty `apiVersion` that we accept.
fn strip_type(mut value: Value) -> Value {
    if let Some(map) = value.as_mapping_mut() {
        map.remove("apiVersion");
        map.remove("kind");
    }
    value
}

fn yaml_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// Parses objects and builds the world; returns the warnings about skipped objects with it.
pub fn load_world(text: &str) -> Result<(World, Vec<String>), InputError> {
    let objects = parse_objects(text)?;
    let world = objects.build_world()?;
    Ok((world, objects.warnings))
}

/// One probe, resolved against a world.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// `from` as written.
    pub from: String,
    /// `to` as written.
    pub to: String,
    /// The port as written (a number or a port name).
    pub port: FlowPort,
    /// The protocol.
    pub protocol: Protocol,
    /// The flow to evaluate.
    pub flow: Flow,
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} -> {} port {} {}",
            self.from, self.to, self.port, self.protocol
        )
    }
}

/// A probe's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeResult {
    /// The probe.
    pub probe: Probe,
    /// Whether the flow is allowed.
    pub allowed: bool,
    /// Why: the deciding policies and rules, or the isolation that denied it.
    pub reason: String,
}

fn probe_label(index: usize, item: &Value) -> String {
    let field = |key: &str| match item.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => format!("<{}>", yaml_type(other)),
        None => "?".to_owned(),
    };
    let protocol = match item.get("protocol") {
        None => "TCP".to_owned(),
        Some(_) => field("protocol"),
    };
    format!(
        "probes[{index}] ({} -> {} port {} {protocol})",
        field("from"),
        field("to"),
        field("port")
    )
}

fn endpoint(world: &World, text: &str) -> Result<Endpoint, String> {
    if let Some(address) = text.strip_prefix("ip:") {
        return address
            .parse::<IpAddr>()
            .map(Endpoint::External)
            .map_err(|_| format!("{address:?} is not an IPv4 or IPv6 address"));
    }
    match text.split_once('/') {
        Some((ns, pod)) if !ns.is_empty() && !pod.is_empty() => world
            .pod_id(ns, pod)
            .map(Endpoint::Pod)
            .ok_or_else(|| format!("unknown pod {text:?}; the objects file declares no such pod")),
        _ => Err(format!("{text:?} is neither NAMESPACE/POD nor ip:ADDRESS")),
    }
}

/// Parses the probes file (a YAML list; an empty file means no probes) against `world`.
/// Every problem is reported: unknown keys, missing fields, unknown pods, bad addresses, ports
/// and protocols, and named ports the destination pod does not declare.
pub fn parse_probes(text: &str, world: &World) -> Result<Vec<Probe>, InputError> {
    let value: Value = serde_yaml::from_str(text)
        .map_err(|e| InputError::one(format!("probes: invalid YAML: {e}")))?;
    let items = match value {
        Value::Null => Vec::new(),
        Value::Sequence(items) => items,
        other => {
            return Err(InputError::one(format!(
                "probes: expected a list of {{from, to, port, protocol}}, found {}",
                yaml_type(&other)
            )));
        }
    };
    let mut probes = Vec::new();
    let mut errors = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let label = probe_label(i, item);
        match parse_probe(item, world) {
            Ok(probe) => probes.push(probe),
            Err(problems) => errors.extend(problems.into_iter().map(|p| format!("{label}: {p}"))),
        }
    }
    if errors.is_empty() {
        Ok(probes)
    } else {
        Err(InputError { messages: errors })
    }
}

fn parse_probe(item: &Value, world: &World) -> Result<Probe, Vec<String>> {
    let Some(map) = item.as_mapping() else {
        return Err(vec![format!(
            "expected a mapping {{from, to, port, protocol}}, found {}",
            yaml_type(item)
        )]);
    };
    let mut problems = Vec::new();
    for key in map.keys() {
        match key.as_str() {
            Some("from" | "to" | "port" | "protocol") => {}
            _ => problems.push(format!(
                "unknown field {}; allowed: from, to, port, protocol",
                serde_yaml::to_string(key)
                    .map(|s| s.trim().to_owned())
                    .unwrap_or_default()
            )),
        }
    }
    let mut end = |key: &str| match item.get(key) {
        Some(Value::String(text)) => match endpoint(world, text) {
            Ok(endpoint) => Some((text.clone(), endpoint)),
            Err(problem) => {
                problems.push(format!("{key}: {problem}"));
                None
            }
        },
        None => {
            problems.push(format!("{key}: required (NAMESPACE/POD or ip:ADDRESS)"));
            None
        }
        Some(other) => {
            problems.push(format!(
                "{key}: expected a string (NAMESPACE/POD or ip:ADDRESS), found {}",
                yaml_type(other)
            ));
            None
        }
    };
    let from = end("from");
    let to = end("to");
    let protocol = match item.get("protocol") {
        None | Some(Value::Null) => Some(Protocol::Tcp),
        Some(Value::String(text)) => match text.parse::<Protocol>() {
            Ok(protocol) => Some(protocol),
            Err(problem) => {
                problems.push(format!("protocol: {problem}"));
                None
            }
        },
        Some(other) => {
            problems.push(format!(
                "protocol: expected TCP, UDP or SCTP, found {}",
                yaml_type(other)
            ));
            None
        }
    };
    let port = match item.get("port") {
        None => {
            problems.push("port: required (a number 1..=65535 or a port name)".to_owned());
            None
        }
        Some(Value::Number(n)) => match n.as_u64().and_then(|n| u16::try_from(n).ok()) {
            Some(n) if n != 0 => Some(FlowPort::Number(n)),
            _ => {
                problems.push(format!(
                    "port: {n} is not a valid port number; must be 1..=65535"
                ));
                None
            }
        },
        // A quoted number is still a number: port names must contain a letter.
        Some(Value::String(text))
            if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) =>
        {
            match text.parse::<u16>() {
                Ok(n) if n != 0 => Some(FlowPort::Number(n)),
                _ => {
                    problems.push(format!(
                        "port: {text} is not a valid port number; must be 1..=65535"
                    ));
                    None
                }
            }
        }
        Some(Value::String(text)) => match netpol::validate_port_name(text) {
            Ok(()) => Some(FlowPort::Named(text.clone())),
            Err(problem) => {
                problems.push(format!("port: {problem}"));
                None
            }
        },
        Some(other) => {
            problems.push(format!(
                "port: expected a number or a port name, found {}",
                yaml_type(other)
            ));
            None
        }
    };
    match (from, to, port, protocol) {
        (Some((from, from_end)), Some((to, to_end)), Some(port), Some(protocol))
            if problems.is_empty() =>
        {
            let flow = Flow {
                from: from_end,
                to: to_end,
                port: port.clone(),
                protocol,
            };
            // Resolve a named port now, so an unknown name is a probe error, not a verdict.
            if let Err(e) = world.evaluate(&flow) {
                return Err(vec![format!("port: {e}")]);
            }
            Ok(Probe {
                from,
                to,
                port,
                protocol,
                flow,
            })
        }
        _ => Err(problems),
    }
}

/// Evaluates every probe, in order.
pub fn run_probes(world: &World, probes: &[Probe]) -> Result<Vec<ProbeResult>, InputError> {
    let mut results = Vec::with_capacity(probes.len());
    let mut errors = Vec::new();
    for (i, probe) in probes.iter().enumerate() {
        match world.evaluate(&probe.flow) {
            Ok(verdict) => {
                let mut reason = String::new();
                if let FlowPort::Named(name) = &probe.port {
                    reason = format!(
                        "port {name} is {}/{} on {}; ",
                        verdict.port, verdict.protocol, probe.to
                    );
                }
                reason.push_str(&verdict.to_string());
                results.push(ProbeResult {
                    probe: probe.clone(),
                    allowed: verdict.allowed,
                    reason,
                });
            }
            Err(e) => errors.push(format!("probes[{i}] ({probe}): port: {e}")),
        }
    }
    if errors.is_empty() {
        Ok(results)
    } else {
        Err(InputError { messages: errors })
    }
}

/// One cell of the matrix, by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatrixRow {
    /// Source pod, `NS/POD`.
    pub from: String,
    /// Destination pod, `NS/POD`.
    pub to: String,
    /// A port the destination declares.
    pub port: u16,
    /// Its protocol.
    pub protocol: Protocol,
    /// The verdict.
    pub allowed: bool,
}

/// Every ordered pair of pods (a pod to itself included; always allowed) and every distinct
/// port/protocol the destination's containers declare, in pod order.
pub fn matrix_rows(world: &World) -> Vec<MatrixRow> {
    let name = |id| world.endpoint_name(Endpoint::Pod(id));
    world
        .matrix()
        .map(|entry| MatrixRow {
            from: name(entry.from),
            to: name(entry.to),
            port: entry.port,
            protocol: entry.protocol,
            allowed: entry.allowed,
        })
        .collect()
}

/// The NetworkPolicy documents of multi-document YAML (other kinds are ignored).
pub fn network_policies_from_yaml(yaml: &str) -> Result<Vec<NetworkPolicy>, String> {
    let mut policies = Vec::new();
    for (index, document) in serde_yaml::Deserializer::from_str(yaml).enumerate() {
        let value = serde_json::Value::deserialize(document)
            .map_err(|e| format!("document {}: {e}", index + 1))?;
        if value.get("kind").and_then(|k| k.as_str()) == Some("NetworkPolicy") {
            let policy = serde_json::from_value(value)
                .map_err(|e| format!("document {}: not a valid NetworkPolicy: {e}", index + 1))?;
            policies.push(policy);
        }
    }
    Ok(policies)
}
