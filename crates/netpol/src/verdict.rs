//! Flows (source, destination, port, protocol) and the explained verdicts evaluation returns.

use std::fmt;
use std::net::IpAddr;

use crate::model::Protocol;
use crate::world::{PodId, PolicyId, World};

/// One end of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// A pod of the world.
    Pod(PodId),
    /// An address outside the cluster's pods. It has no policies of its own; only `ipBlock`
    /// peers can match it.
    External(IpAddr),
}

/// The destination port of a flow.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FlowPort {
    /// A port number.
    Number(u16),
    /// A port name, resolved against the destination pod's declared container ports.
    Named(String),
}

impl fmt::Display for FlowPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlowPort::Number(n) => write!(f, "{n}"),
            FlowPort::Named(name) => f.write_str(name),
        }
    }
}

/// A connection attempt to evaluate.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Flow {
    /// Who opens the connection.
    pub from: Endpoint,
    /// Who receives it.
    pub to: Endpoint,
    /// The destination port.
    pub port: FlowPort,
    /// The protocol.
    pub protocol: Protocol,
}

/// A policy direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// Traffic into the selected pods (`spec.ingress`, `from`).
    Ingress,
    /// Traffic out of the selected pods (`spec.egress`, `to`).
    Egress,
}

impl Direction {
    /// `ingress` or `egress`, as in the spec's field names.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule of a policy: `spec.<direction>[index]` of `policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RuleRef {
    /// The policy.
    pub policy: PolicyId,
    /// `spec.ingress` or `spec.egress`.
    pub direction: Direction,
    /// The rule's index in that list.
    pub index: usize,
}

/// The outcome for one direction (the source's egress or the destination's ingress).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirectionVerdict<'w> {
    /// The endpoint is an external address: no policy applies, allowed.
    External,
    /// The flow goes from a pod to itself: always allowed.
    SamePod,
    /// No policy selects the pod for this direction: allowed.
    NotIsolated,
    /// The pod is isolated by `isolated_by` and `rule` allows the flow.
    Allowed {
        /// The policies that select the pod for this direction.
        isolated_by: &'w [PolicyId],
        /// The first rule (policy order, then rule order) that allows the flow.
        rule: RuleRef,
    },
    /// The pod is isolated by `isolated_by` and none of their rules allows the flow.
    Denied {
        /// The policies that select the pod for this direction.
        isolated_by: &'w [PolicyId],
    },
}

impl DirectionVerdict<'_> {
    /// Whether this direction lets the flow through.
    pub fn allowed(&self) -> bool {
        !matches!(self, DirectionVerdict::Denied { .. })
    }

    /// The policies isolating the pod for this direction (empty when not isolated).
    pub fn isolated_by(&self) -> &[PolicyId] {
        match self {
            DirectionVerdict::Allowed { isolated_by, .. }
            | DirectionVerdict::Denied { isolated_by } => isolated_by,
            _ => &[],
        }
    }
}

/// The decision for one flow, with an explanation per direction. Its `Display` is the
/// human-readable reason.
#[derive(Clone, Copy, Debug)]
pub struct Verdict<'w> {
    pub(crate) world: &'w World,
    /// The source.
    pub from: Endpoint,
    /// The destination.
    pub to: Endpoint,
    /// The destination port number (named ports resolved).
    pub port: u16,
    /// The protocol.
    pub protocol: Protocol,
    /// Whether the flow is allowed: egress AND ingress allow it.
    pub allowed: bool,
    /// The source's egress side.
    pub egress: DirectionVerdict<'w>,
    /// The destination's ingress side.
    pub ingress: DirectionVerdict<'w>,
}

impl Verdict<'_> {
    fn policy_list(&self, ids: &[PolicyId]) -> String {
        ids.iter()
            .map(|&id| {
                self.world
                    .policy_name(id)
                    .map_or_else(|| format!("#{}", id.index()), ToString::to_string)
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn side(
        &self,
        f: &mut fmt::Formatter<'_>,
        direction: Direction,
        verdict: &DirectionVerdict<'_>,
    ) -> fmt::Result {
        let (me, peer) = match direction {
            Direction::Egress => (self.from, self.to),
            Direction::Ingress => (self.to, self.from),
        };
        let me = self.world.endpoint_name(me);
        match verdict {
            DirectionVerdict::External => {
                write!(f, "{direction}: {me} is external, no policy applies")
            }
            DirectionVerdict::SamePod => write!(f, "{direction}: a pod may always reach itself"),
            DirectionVerdict::NotIsolated => {
                write!(f, "{direction}: {me} is not isolated for {direction}")
            }
            DirectionVerdict::Allowed { isolated_by, rule } => {
                let policy = self
                    .world
                    .policy_name(rule.policy)
                    .map_or_else(|| format!("#{}", rule.policy.index()), ToString::to_string);
                write!(
                    f,
                    "{direction}: allowed by {policy} {}[{}] ({me} isolated by {})",
                    rule.direction,
                    rule.index,
                    self.policy_list(isolated_by)
                )
            }
            DirectionVerdict::Denied { isolated_by } => write!(
                f,
                "{direction}: denied, {me} is isolated by {} and no {direction} rule allows {} {} on {}/{}",
                self.policy_list(isolated_by),
                match direction {
                    Direction::Egress => "traffic to",
                    Direction::Ingress => "traffic from",
                },
                self.world.endpoint_name(peer),
                self.port,
                self.protocol
            ),
        }
    }
}

impl fmt::Display for Verdict<'_> {
    /// E.g. `egress: x/a is not isolated for egress; ingress: allowed by y/allow-x ingress[0]
    /// (y/b isolated by y/allow-x, y/deny-all)`. Denied sides are listed first.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.egress == DirectionVerdict::SamePod {
            return f.write_str("a pod may always reach itself");
        }
        let sides = [
            (Direction::Egress, &self.egress),
            (Direction::Ingress, &self.ingress),
        ];
        let mut first = true;
        // Denials decide the verdict, so they come first.
        for denied in [true, false] {
            for (direction, verdict) in sides {
                if verdict.allowed() == denied {
                    continue;
                }
                if !first {
                    f.write_str("; ")?;
                }
                first = false;
                self.side(f, direction, verdict)?;
            }
        }
        Ok(())
    }
}
