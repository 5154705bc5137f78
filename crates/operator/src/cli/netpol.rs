//! `openbao-operator netpol check` and `netpol matrix`: load Namespaces, Pods and
//! NetworkPolicies from YAML into a `netpol` world, evaluate probes or the full reachability
//! matrix, and print JSON or tables. Also the pure helpers `netpol verify` reuses (loading a
//! world, aligned tables, truth tables).
//!
//! Exit codes: 0 when everything was evaluated (whatever the verdicts), 2 on bad input (with
//! every problem on stderr, naming the object or probe and the field), 1 when stdout cannot be
//! written.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use netpol::{Endpoint, Flow, FlowPort, Protocol, World, WorldBuilder};
use serde_yaml::Value;

use super::EXIT_BAD_INPUT;

/// How results are printed.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputFormat {
    /// Aligned columns for people.
    #[default]
    Table,
    /// A JSON array, for tools.
    Json,
}

/// Arguments of `netpol check`.
#[derive(clap::Args, Debug, Clone)]
pub struct CheckArgs {
    /// Namespaces, Pods and NetworkPolicies: multi-document YAML, a YAML list, or a `kind: List`.
    #[arg(long, value_name = "FILE")]
    pub objects: PathBuf,
    /// Probes: a YAML list of `{from, to, port, protocol}`; `from`/`to` are `NS/POD` or
    /// `ip:ADDRESS` (an address outside the pods: no policies of its own, only ipBlocks match
    /// it, even if a pod has the same IP), `port` a number or a port name of the destination
    /// pod, `protocol` TCP (the default), UDP or SCTP.
    #[arg(long, value_name = "FILE")]
    pub probes: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// Arguments of `netpol matrix`.
#[derive(clap::Args, Debug, Clone)]
pub struct MatrixArgs {
    /// Namespaces, Pods and NetworkPolicies: multi-document YAML, a YAML list, or a `kind: List`.
    #[arg(long, value_name = "FILE")]
    pub objects: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// Bad input: every problem found, one message each (object or probe, field, what is wrong).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    /// The messages, in input order.
    pub messages: Vec<String>,
}

impl InputError {
    fn one(message: impl Into<String>) -> Self {
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

/// A port as written: a number or a name (serialised without a tag).
#[derive(serde::Serialize)]
#[serde(untagged)]
enum PortJson<'a> {
    Number(u16),
    Name(&'a str),
}

/// One probe result in the JSON output; fields in the documented order.
#[derive(serde::Serialize)]
struct ProbeJson<'a> {
    from: &'a str,
    to: &'a str,
    port: PortJson<'a>,
    protocol: &'static str,
    allowed: bool,
    reason: &'a str,
}

/// The JSON array of probe results: `{from, to, port, protocol, allowed, reason}` each, with
/// `port` as written (number or name).
pub fn probes_json(results: &[ProbeResult]) -> String {
    let items: Vec<ProbeJson<'_>> = results
        .iter()
        .map(|r| ProbeJson {
            from: &r.probe.from,
            to: &r.probe.to,
            port: match &r.probe.port {
                FlowPort::Number(n) => PortJson::Number(*n),
                FlowPort::Named(name) => PortJson::Name(name),
            },
            protocol: r.probe.protocol.as_str(),
            allowed: r.allowed,
            reason: &r.reason,
        })
        .collect();
    pretty(&items)
}

fn pretty<T: serde::Serialize>(value: &T) -> String {
    // Serialising these plain structs (string keys, no maps) cannot fail.
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// Aligns `rows` under `header` (two spaces between columns, no trailing spaces).
pub fn format_table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: [&str; N]| {
        let mut text = String::new();
        for (cell, width) in cells.iter().zip(widths) {
            text.push_str(cell);
            let pad = width.saturating_sub(cell.chars().count()) + 2;
            text.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header);
    for row in rows {
        line(row.each_ref().map(String::as_str));
    }
    out
}

/// The probe results as a table: FROM, TO, PORT, PROTOCOL, VERDICT (ALLOW/DENY), REASON.
pub fn probes_table(results: &[ProbeResult]) -> String {
    let rows: Vec<[String; 6]> = results
        .iter()
        .map(|r| {
            [
                r.probe.from.clone(),
                r.probe.to.clone(),
                r.probe.port.to_string(),
                r.probe.protocol.to_string(),
                if r.allowed { "ALLOW" } else { "DENY" }.to_owned(),
                r.reason.clone(),
            ]
        })
        .collect();
    format_table(
        ["FROM", "TO", "PORT", "PROTOCOL", "VERDICT", "REASON"],
        &rows,
    )
}

/// A grid of verdicts: one row per source, one column per destination.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TruthTable {
    /// A heading line (e.g. `80/TCP`).
    pub title: String,
    /// Row labels (sources).
    pub rows: Vec<String>,
    /// Column labels (destinations).
    pub columns: Vec<String>,
    /// `cells[row][column]`: `Some(allowed)`, or `None` when the pair was not evaluated.
    pub cells: Vec<Vec<Option<bool>>>,
}

impl TruthTable {
    /// Renders the grid: `.` allowed, `X` denied, blank not evaluated; the title first.
    pub fn render(&self) -> String {
        let label_width = self
            .rows
            .iter()
            .map(|r| r.chars().count())
            .max()
            .unwrap_or(0);
        let mut out = format!("{}\n", self.title);
        let mut header = " ".repeat(label_width);
        for column in &self.columns {
            header.push_str("  ");
            header.push_str(column);
        }
        out.push_str(header.trim_end());
        out.push('\n');
        for (r, label) in self.rows.iter().enumerate() {
            let mut line = format!("{label:<label_width$}");
            for (c, column) in self.columns.iter().enumerate() {
                let cell = match self
                    .cells
                    .get(r)
                    .and_then(|row| row.get(c))
                    .copied()
                    .flatten()
                {
                    Some(true) => ".",
                    Some(false) => "X",
                    None => " ",
                };
                line.push_str("  ");
                line.push_str(cell);
                line.extend(std::iter::repeat_n(
                    ' ',
                    column.chars().count().saturating_sub(1),
                ));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
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

/// One matrix cell in the JSON output; fields in the documented order.
#[derive(serde::Serialize)]
struct MatrixJson<'a> {
    from: &'a str,
    to: &'a str,
    port: u16,
    protocol: &'static str,
    allowed: bool,
}

/// The JSON array `{from, to, port, protocol, allowed}` of the matrix.
pub fn matrix_json(rows: &[MatrixRow]) -> String {
    let items: Vec<MatrixJson<'_>> = rows
        .iter()
        .map(|r| MatrixJson {
            from: &r.from,
            to: &r.to,
            port: r.port,
            protocol: r.protocol.as_str(),
            allowed: r.allowed,
        })
        .collect();
    pretty(&items)
}

/// One truth table per port/protocol (ascending): every pod as a source, the pods declaring
/// that port as destinations.
pub fn matrix_tables(rows: &[MatrixRow]) -> Vec<TruthTable> {
    use std::collections::HashMap;
    // First pass: sources in order, and per port/protocol the destinations in order.
    let mut sources: Vec<&str> = Vec::new();
    let mut source_index: HashMap<&str, usize> = HashMap::new();
    /// Per port/protocol: destinations in first-seen order, and their column index.
    type Columns<'a> = (Vec<&'a str>, HashMap<&'a str, usize>);
    let mut ports: BTreeMap<(u16, Protocol), Columns<'_>> = BTreeMap::new();
    for row in rows {
        source_index.entry(&row.from).or_insert_with(|| {
            sources.push(&row.from);
            sources.len() - 1
        });
        let (columns, index) = ports.entry((row.port, row.protocol)).or_default();
        index.entry(&row.to).or_insert_with(|| {
            columns.push(&row.to);
            columns.len() - 1
        });
    }
    // Second pass: fill the cells.
    let mut tables: BTreeMap<(u16, Protocol), TruthTable> = ports
        .iter()
        .map(|(&(port, protocol), (columns, _))| {
            let table = TruthTable {
                title: format!("{port}/{protocol}"),
                rows: sources.iter().map(|s| (*s).to_owned()).collect(),
                columns: columns.iter().map(|c| (*c).to_owned()).collect(),
                cells: vec![vec![None; columns.len()]; sources.len()],
            };
            ((port, protocol), table)
        })
        .collect();
    for row in rows {
        let key = (row.port, row.protocol);
        let column = ports
            .get(&key)
            .and_then(|(_, index)| index.get(row.to.as_str()));
        let source = source_index.get(row.from.as_str());
        if let (Some(table), Some(&column), Some(&source)) = (tables.get_mut(&key), column, source)
            && let Some(cell) = table.cells.get_mut(source).and_then(|r| r.get_mut(column))
        {
            *cell = Some(row.allowed);
        }
    }
    tables.into_values().collect()
}

/// The matrix as text: a legend, then one truth table per port/protocol.
pub fn matrix_table(rows: &[MatrixRow]) -> String {
    let mut out =
        String::from("rows: source pods; columns: destination pods; . allowed, X denied\n");
    for table in matrix_tables(rows) {
        out.push('\n');
        out.push_str(&table.render());
    }
    out
}

fn read(path: &Path, what: &str) -> Result<String, InputError> {
    std::fs::read_to_string(path)
        .map_err(|e| InputError::one(format!("cannot read {what} file {}: {e}", path.display())))
}

/// `netpol check` without IO: objects and probes text in, output text and warnings out.
pub fn check_to_string(
    objects: &str,
    probes: &str,
    format: OutputFormat,
) -> Result<(String, Vec<String>), InputError> {
    let (world, warnings) = load_world(objects)?;
    let probes = parse_probes(probes, &world)?;
    let results = run_probes(&world, &probes)?;
    let text = match format {
        OutputFormat::Json => probes_json(&results),
        OutputFormat::Table => probes_table(&results),
    };
    Ok((text, warnings))
}

/// `netpol matrix` without IO: objects text in, output text and warnings out.
pub fn matrix_to_string(
    objects: &str,
    format: OutputFormat,
) -> Result<(String, Vec<String>), InputError> {
    let (world, warnings) = load_world(objects)?;
    let rows = matrix_rows(&world);
    let text = match format {
        OutputFormat::Json => matrix_json(&rows),
        OutputFormat::Table => matrix_table(&rows),
    };
    Ok((text, warnings))
}

/// Writes warnings and the output, or the errors; returns the exit code.
fn finish(result: Result<(String, Vec<String>), InputError>) -> ExitCode {
    let mut stderr = std::io::stderr().lock();
    match result {
        Ok((text, warnings)) => {
            for warning in warnings {
                let _ = writeln!(stderr, "warning: {warning}");
            }
            let mut stdout = std::io::stdout().lock();
            match stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
            {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    let _ = writeln!(stderr, "error: cannot write the output: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(error) => {
            for message in &error.messages {
                let _ = writeln!(stderr, "error: {message}");
            }
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// Runs `netpol check`: evaluates every probe and prints the verdicts.
pub fn check(args: &CheckArgs) -> ExitCode {
    finish(read(&args.objects, "objects").and_then(|objects| {
        let probes = read(&args.probes, "probes")?;
        check_to_string(&objects, &probes, args.output)
    }))
}

/// Runs `netpol matrix`: prints the verdict for every pod pair and declared port.
pub fn matrix(args: &MatrixArgs) -> ExitCode {
    finish(
        read(&args.objects, "objects").and_then(|objects| matrix_to_string(&objects, args.output)),
    )
}
