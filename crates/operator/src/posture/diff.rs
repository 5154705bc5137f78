//! What a change of policies does to the flows: both versions evaluated over the same
//! endpoints, and the flows the change opens and closes. The operator puts the result into the
//! Event it records when it rewrites a cluster's policies; `netpol diff` prints it for files.

use std::{collections::BTreeSet, fmt};

use k8s_openapi::api::networking::v1::NetworkPolicy;
use netpol::Protocol;

use super::{VerifyError, cluster};
use crate::desired::{Facts, ValidatedCluster};

/// One flow: source, destination, port and protocol.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlowKey {
    /// Source (`NS/POD` or `ip:ADDRESS`).
    pub from: String,
    /// Destination.
    pub to: String,
    /// Port.
    pub port: u16,
    /// Protocol.
    pub protocol: Protocol,
}

impl fmt::Display for FlowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} -> {} {}/{}",
            self.from, self.to, self.port, self.protocol
        )
    }
}

/// The flows a change opens and closes, each sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff {
    /// Allowed after the change, refused before.
    pub opens: Vec<FlowKey>,
    /// Allowed before the change, refused after.
    pub closes: Vec<FlowKey>,
}

impl Diff {
    /// Whether the change moves no flow.
    pub fn is_empty(&self) -> bool {
        self.opens.is_empty() && self.closes.is_empty()
    }

    /// `opens: a, b, and N more; closes: c`, listing at most `limit` flows of each kind.
    pub fn summary(&self, limit: usize) -> String {
        let list = |flows: &[FlowKey]| {
            if flows.is_empty() {
                return "nothing".to_string();
            }
            let mut shown: Vec<String> =
                flows.iter().take(limit).map(ToString::to_string).collect();
            if flows.len() > limit {
                shown.push(format!("and {} more", flows.len() - limit));
            }
            shown.join(", ")
        };
        format!(
            "opens: {}; closes: {}",
            list(&self.opens),
            list(&self.closes)
        )
    }

    /// A table for people: one line per flow, `+` opened, `-` closed.
    pub fn table(&self) -> String {
        let mut out = String::new();
        for flow in &self.opens {
            out.push_str(&format!("+ opens   {flow}\n"));
        }
        for flow in &self.closes {
            out.push_str(&format!("- closes  {flow}\n"));
        }
        if out.is_empty() {
            out.push_str("no flow changes\n");
        }
        out
    }
}

/// The flows `before` and `after` (two versions of the cluster's policies) allow in the
/// cluster's synthetic environment, and what changes between them.
pub fn between(
    cluster: &ValidatedCluster,
    facts: &Facts,
    before: &[NetworkPolicy],
    after: &[NetworkPolicy],
) -> Result<Diff, VerifyError> {
    let allowed = |policies: &[NetworkPolicy]| -> Result<BTreeSet<FlowKey>, VerifyError> {
        let report = cluster::verify_policies(cluster, facts, policies)?;
        Ok(report
            .checks
            .into_iter()
            .filter(|c| c.actual)
            .map(|c| FlowKey {
                from: c.from.name.clone(),
                to: c.to.name.clone(),
                port: c.port,
                protocol: c.protocol,
            })
            .collect())
    };
    let (before, after) = (allowed(before)?, allowed(after)?);
    Ok(Diff {
        opens: after.difference(&before).cloned().collect(),
        closes: before.difference(&after).cloned().collect(),
    })
}

/// The same for two sets of matrix rows (`netpol diff` on files): flows allowed in one and not
/// the other, over the pods and declared ports both worlds hold.
pub fn between_rows(before: &[super::load::MatrixRow], after: &[super::load::MatrixRow]) -> Diff {
    let key = |r: &super::load::MatrixRow| FlowKey {
        from: r.from.clone(),
        to: r.to.clone(),
        port: r.port,
        protocol: r.protocol,
    };
    let evaluated =
        |rows: &[super::load::MatrixRow]| -> BTreeSet<FlowKey> { rows.iter().map(key).collect() };
    let allowed = |rows: &[super::load::MatrixRow]| -> BTreeSet<FlowKey> {
        rows.iter().filter(|r| r.allowed).map(key).collect()
    };
    let both: BTreeSet<FlowKey> = evaluated(before)
        .intersection(&evaluated(after))
        .cloned()
        .collect();
    let (before, after) = (allowed(before), allowed(after));
    Diff {
        opens: after
            .difference(&before)
            .filter(|f| both.contains(*f))
            .cloned()
            .collect(),
        closes: before
            .difference(&after)
            .filter(|f| both.contains(*f))
            .cloned()
            .collect(),
    }
}
