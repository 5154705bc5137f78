//! Drawings of a posture: workloads and addresses as nodes, allowed ports on the edges, the
//! flows that break the contract in red. Graphviz `dot` text for people who have Graphviz, and
//! one self-contained HTML page (an SVG drawn here, and the table) for everyone else: no script,
//! no style sheet or font fetched from anywhere.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Write as _,
};

use super::{Report, load::MatrixRow};

/// A node: a pod (`NS/POD`) or an address (`ip:ADDRESS`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Node {
    /// The name the tables use.
    pub name: String,
    /// The namespace, for pods.
    pub namespace: Option<String>,
}

/// An edge: the ports allowed from one node to another, and whether any flow of the pair
/// breaks the contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    /// Source node name.
    pub from: String,
    /// Destination node name.
    pub to: String,
    /// Allowed ports (`8200/TCP`), in probe order; empty when only refused flows break the
    /// contract.
    pub ports: Vec<String>,
    /// Flows of this pair that break the contract (`8202/TCP opened`, `8200/TCP closed`).
    pub violations: Vec<String>,
}

/// What a drawing shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Graph {
    /// Every node, sorted.
    pub nodes: Vec<Node>,
    /// Every edge with an allowed port or a violation.
    pub edges: Vec<Edge>,
    /// How many ports were probed on each pair: an edge allowing all of them is labelled
    /// "all probed ports" (0: unknown, always list).
    pub probed_ports: usize,
}

impl Graph {
    /// The flows of a posture check: allowed ports per pair; violations in red.
    pub fn from_report(report: &Report) -> Self {
        let mut nodes = BTreeSet::new();
        let mut edges: BTreeMap<(String, String), Edge> = BTreeMap::new();
        for check in &report.checks {
            for actor in [&check.from, &check.to] {
                nodes.insert(Node {
                    name: actor.name.clone(),
                    namespace: actor.namespace.clone(),
                });
            }
            let port = format!("{}/{}", check.port, check.protocol);
            if !check.actual && check.ok {
                continue;
            }
            let edge = edges
                .entry((check.from.name.clone(), check.to.name.clone()))
                .or_insert_with(|| Edge {
                    from: check.from.name.clone(),
                    to: check.to.name.clone(),
                    ports: Vec::new(),
                    violations: Vec::new(),
                });
            if check.actual {
                edge.ports.push(port.clone());
            }
            if !check.ok {
                edge.violations.push(format!(
                    "{port} {}",
                    if check.actual { "opened" } else { "closed" }
                ));
            }
        }
        Self {
            nodes: nodes.into_iter().collect(),
            edges: edges.into_values().collect(),
            probed_ports: report.probe_ports.len(),
        }
    }

    /// The allowed flows of `netpol matrix` (a pod to itself left out).
    pub fn from_matrix(rows: &[MatrixRow]) -> Self {
        let mut nodes = BTreeSet::new();
        let mut edges: BTreeMap<(String, String), Edge> = BTreeMap::new();
        for row in rows {
            for name in [&row.from, &row.to] {
                nodes.insert(Node {
                    name: name.clone(),
                    namespace: name.split_once('/').map(|(ns, _)| ns.to_string()),
                });
            }
            if row.allowed && row.from != row.to {
                edges
                    .entry((row.from.clone(), row.to.clone()))
                    .or_insert_with(|| Edge {
                        from: row.from.clone(),
                        to: row.to.clone(),
                        ports: Vec::new(),
                        violations: Vec::new(),
                    })
                    .ports
                    .push(format!("{}/{}", row.port, row.protocol));
            }
        }
        Self {
            nodes: nodes.into_iter().collect(),
            edges: edges.into_values().collect(),
            probed_ports: 0,
        }
    }

    fn label(&self, edge: &Edge) -> String {
        let mut parts = Vec::new();
        if self.probed_ports > 0 && edge.ports.len() == self.probed_ports {
            parts.push("all probed ports".to_string());
        } else if !edge.ports.is_empty() {
            parts.push(edge.ports.join(", "));
        }
        if !edge.violations.is_empty() {
            parts.push(format!("VIOLATION: {}", edge.violations.join(", ")));
        }
        parts.join("\n")
    }

    /// Graphviz `dot`: one cluster box per namespace, pods as ellipses, addresses as boxes,
    /// ports on the edges, violations red and bold.
    pub fn to_dot(&self) -> String {
        let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        let mut out = String::from(
            "digraph posture {\n  rankdir=LR;\n  node [fontname=\"sans-serif\", fontsize=10];\n  \
             edge [fontname=\"sans-serif\", fontsize=9];\n",
        );
        let mut by_namespace: BTreeMap<Option<&str>, Vec<&Node>> = BTreeMap::new();
        for node in &self.nodes {
            by_namespace
                .entry(node.namespace.as_deref())
                .or_default()
                .push(node);
        }
        for (index, (namespace, nodes)) in by_namespace.iter().enumerate() {
            match namespace {
                Some(ns) => {
                    let _ = writeln!(
                        out,
                        "  subgraph cluster_{index} {{\n    label={};\n    style=rounded;",
                        quote(&format!("namespace {ns}"))
                    );
                    for node in nodes {
                        let short = node.name.rsplit('/').next().unwrap_or(&node.name);
                        let _ = writeln!(
                            out,
                            "    {} [label={}, shape=ellipse];",
                            quote(&node.name),
                            quote(short)
                        );
                    }
                    out.push_str("  }\n");
                }
                None => {
                    for node in nodes {
                        let _ = writeln!(
                            out,
                            "  {} [label={}, shape=box];",
                            quote(&node.name),
                            quote(node.name.trim_start_matches("ip:"))
                        );
                    }
                }
            }
        }
        for edge in &self.edges {
            let style = if edge.violations.is_empty() {
                String::new()
            } else if edge.ports.is_empty() {
                ", color=red, fontcolor=red, style=dashed".to_string()
            } else {
                ", color=red, fontcolor=red, penwidth=2".to_string()
            };
            let _ = writeln!(
                out,
                "  {} -> {} [label={}{style}];",
                quote(&edge.from),
                quote(&edge.to),
                quote(&self.label(edge))
            );
        }
        out.push_str("}\n");
        out
    }

    /// One self-contained HTML page: `title`, the graph as an inline SVG (nodes on a circle,
    /// grouped by namespace; edges with arrowheads and their ports; violations red), and
    /// `table` (the text table the CLI prints) below it.
    pub fn to_html(&self, title: &str, table: &str) -> String {
        let n = self.nodes.len().max(1);
        let radius = 120.0 + 14.0 * n as f64;
        let size = 2.0 * radius + 360.0;
        let center = size / 2.0;
        let position: BTreeMap<&str, (f64, f64)> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| {
                let angle = std::f64::consts::TAU * i as f64 / n as f64;
                (
                    node.name.as_str(),
                    (center + radius * angle.cos(), center + radius * angle.sin()),
                )
            })
            .collect();
        let mut svg = String::new();
        let _ = write!(
            svg,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{size:.0}\" height=\"{size:.0}\" \
             viewBox=\"0 0 {size:.0} {size:.0}\" role=\"img\" aria-label=\"{}\">\n\
             <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" \
             markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#555\"/></marker>\
             <marker id=\"arrow-red\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" \
             markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#c00\"/></marker></defs>\n",
            escape(title)
        );
        for edge in &self.edges {
            let (Some(&(x1, y1)), Some(&(x2, y2))) = (
                position.get(edge.from.as_str()),
                position.get(edge.to.as_str()),
            ) else {
                continue;
            };
            // Stop short of the destination's circle so the arrowhead shows.
            let (dx, dy) = (x2 - x1, y2 - y1);
            let length = (dx * dx + dy * dy).sqrt().max(1.0);
            let (ex, ey) = (x2 - dx / length * 9.0, y2 - dy / length * 9.0);
            let red = !edge.violations.is_empty();
            let _ = writeln!(
                svg,
                "<g class=\"edge{}\"><title>{} -&gt; {}: {}</title>\
                 <line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{ex:.1}\" y2=\"{ey:.1}\" stroke=\"{}\" \
                 stroke-width=\"{}\"{} marker-end=\"url(#{})\"/></g>",
                if red { " violation" } else { "" },
                escape(&edge.from),
                escape(&edge.to),
                escape(&self.label(edge).replace('\n', "; ")),
                if red { "#c00" } else { "#999" },
                if red { 2 } else { 1 },
                if red && edge.ports.is_empty() {
                    " stroke-dasharray=\"6 4\""
                } else {
                    ""
                },
                if red { "arrow-red" } else { "arrow" },
            );
        }
        for node in &self.nodes {
            let Some(&(x, y)) = position.get(node.name.as_str()) else {
                continue;
            };
            let anchor = if x < center - 1.0 { "end" } else { "start" };
            let offset = if anchor == "end" { -12.0 } else { 12.0 };
            let _ = writeln!(
                svg,
                "<g class=\"node\"><circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"8\" fill=\"{}\" stroke=\"#333\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" font-family=\"sans-serif\" font-size=\"11\" text-anchor=\"{anchor}\">{}</text></g>",
                if node.namespace.is_some() {
                    "#8cb4e0"
                } else {
                    "#e0c08c"
                },
                x + offset,
                y + 4.0,
                escape(&node.name)
            );
        }
        svg.push_str("</svg>");
        let violations: usize = self.edges.iter().map(|e| e.violations.len()).sum();
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n\
             <style>body{{font-family:sans-serif;margin:1.5em}}pre{{font-size:12px;background:#f6f6f6;padding:1em;overflow:auto}}\
             .violation line{{stroke:#c00}}</style>\n</head>\n<body>\n<h1>{title}</h1>\n\
             <p>{} nodes, {} edges with allowed ports, {violations} flows that break the contract (red).</p>\n\
             {svg}\n<h2>Every flow</h2>\n<pre id=\"table\">{}</pre>\n</body>\n</html>\n",
            self.nodes.len(),
            self.edges.iter().filter(|e| !e.ports.is_empty()).count(),
            escape(table),
            title = escape(title),
        )
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
