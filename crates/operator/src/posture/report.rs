//! Text renderings: the truth table both posture checks are shown as (`netpol verify`), and the
//! aligned tables, grids and JSON of `netpol check` and `netpol matrix`.

use std::{collections::BTreeMap, fmt::Write as _};

use netpol::{FlowPort, Protocol};

use super::{
    Check, Report,
    load::{MatrixRow, ProbeResult},
};

/// The truth table: one line per (source, destination) pair with the ports allowed, the ports
/// the contract expects and the rows behind them, then every failing flow with its reason.
/// A pair allowed or expected on every probed port shows "all probed".
pub fn truth_table(report: &Report) -> String {
    let probe_ports = report.probe_ports.len();
    struct Pair {
        allowed: Vec<String>,
        expected: Vec<String>,
        rows: Vec<&'static str>,
        user: bool,
        ok: bool,
    }
    let mut pairs: BTreeMap<(String, String), Pair> = BTreeMap::new();
    let mut order = Vec::new();
    for check in &report.checks {
        let key = (check.from.name.clone(), check.to.name.clone());
        let pair = pairs.entry(key.clone()).or_insert_with(|| {
            order.push(key);
            Pair {
                allowed: Vec::new(),
                expected: Vec::new(),
                rows: Vec::new(),
                user: false,
                ok: true,
            }
        });
        let port = format!("{}/{}", check.port, check.protocol);
        if check.actual {
            pair.allowed.push(port.clone());
        }
        if check.expected {
            pair.expected.push(port);
        }
        for row in &check.rows {
            if !pair.rows.contains(row) {
                pair.rows.push(row);
            }
        }
        pair.user |= check.via_user_rule;
        pair.ok &= check.ok;
    }
    let show = |ports: &[String]| {
        if ports.is_empty() {
            "-".to_string()
        } else if ports.len() == probe_ports {
            "all probed".to_string()
        } else {
            ports.join(",")
        }
    };
    let rows: Vec<[String; 6]> = order
        .iter()
        .filter_map(|key| pairs.get(key).map(|p| (key, p)))
        .map(|((from, to), p)| {
            let mut why = p.rows.join(",");
            if p.user {
                why.push_str(if why.is_empty() {
                    "user rule"
                } else {
                    ",user rule"
                });
            }
            [
                from.clone(),
                to.clone(),
                show(&p.allowed),
                show(&p.expected),
                if why.is_empty() { "-".to_string() } else { why },
                if p.ok { "ok" } else { "FAIL" }.to_string(),
            ]
        })
        .collect();
    let mut out = format_table(
        ["FROM", "TO", "ALLOWED", "EXPECTED", "ROWS", "RESULT"],
        &rows,
    );
    let failures: Vec<&Check> = report.failures().collect();
    let _ = writeln!(
        out,
        "\n{} flows checked over {probe_ports} ports, {} failing",
        report.checks.len(),
        failures.len()
    );
    for f in failures {
        let _ = writeln!(
            out,
            "FAIL {} -> {} {}/{}: expected {}, got {}: {}",
            f.from.name,
            f.to.name,
            f.port,
            f.protocol,
            if f.expected { "allowed" } else { "denied" },
            if f.actual { "allowed" } else { "denied" },
            f.reason
        );
    }
    out
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
