//! The operator's OpenBao policy, written once as data: every path the operator calls with a
//! token, the capabilities it needs there, and why. The policy document, the docs table and
//! the test that exercises each call against real OpenBao all read [`OPERATOR_RULES`].

use std::fmt::Write as _;

/// One `path` block of the policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The API path (no `/v1/`).
    pub path: &'static str,
    /// Capabilities granted on it.
    pub capabilities: &'static [&'static str],
    /// Why the operator calls it (for `docs/security.md`).
    pub why: &'static str,
}

/// Name of the operator's policy in OpenBao.
pub const OPERATOR_POLICY: &str = "openbao-operator";

/// Everything the operator may call with its token. Health, seal status and leader need no
/// token and are not listed; snapshots are taken and installed by the backup and restore Jobs
/// under their own roles, never by the operator.
pub const OPERATOR_RULES: &[Rule] = &[
    Rule {
        path: "sys/storage/raft/configuration",
        capabilities: &["read"],
        why: "Status reports each member's Raft membership and voting; readiness requires every \
              pod to be a peer; scale-down finds the peers of departed pods.",
    },
    Rule {
        path: "sys/storage/raft/remove-peer",
        capabilities: &["update"],
        why: "After a scale-down the removed pods' peers are removed explicitly, so they stop \
              counting against quorum.",
    },
    Rule {
        path: "sys/storage/raft/autopilot/configuration",
        capabilities: &["read", "update"],
        why: "spec.configuration.raft.autopilot lives in Raft, not in config.hcl: it is read and \
              written when it drifts.",
    },
    Rule {
        path: "sys/storage/raft/autopilot/state",
        capabilities: &["read"],
        why: "A rollout replaces the next pod only when autopilot reports every server healthy \
              (alive, a voter, caught up with the leader), and waits for a replaced one to be \
              healthy again.",
    },
    Rule {
        path: "sys/step-down",
        capabilities: &["update", "sudo"],
        why: "A rollout replaces the active member last: it is asked to step down once every \
              other member runs the new revision, so leadership moves once, to an upgraded \
              member.",
    },
];

/// Name of the backup Jobs' policy.
pub const BACKUP_POLICY: &str = "openbao-operator-backup";

/// What a backup Job may call: stream a snapshot, nothing else.
pub const BACKUP_RULES: &[Rule] = &[Rule {
    path: "sys/storage/raft/snapshot",
    capabilities: &["read"],
    why: "A backup Job streams the Raft snapshot from OpenBao into object storage.",
}];

/// Name of the restore Jobs' policy.
pub const RESTORE_POLICY: &str = "openbao-operator-restore";

/// What a restore Job may call: install a snapshot, of this cluster or (forced) of another.
pub const RESTORE_RULES: &[Rule] = &[
    Rule {
        path: "sys/storage/raft/snapshot",
        capabilities: &["update"],
        why: "A restore Job installs a snapshot of this cluster.",
    },
    Rule {
        path: "sys/storage/raft/snapshot-force",
        capabilities: &["update"],
        why: "A restore Job installs a snapshot of another cluster (disaster recovery); it must \
              be readable with this cluster's seal.",
    },
];

/// Every policy the operator writes, by name, with its rules (for the docs and the tests).
pub const POLICIES: &[(&str, &[Rule])] = &[
    (OPERATOR_POLICY, OPERATOR_RULES),
    (BACKUP_POLICY, BACKUP_RULES),
    (RESTORE_POLICY, RESTORE_RULES),
];

/// The policy document (HCL) of `rules`.
pub fn policy_hcl(rules: &[Rule]) -> String {
    let mut out = String::new();
    for rule in rules {
        let capabilities: Vec<String> = rule
            .capabilities
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect();
        // Writing into a String cannot fail.
        let _ = writeln!(
            out,
            "path \"{}\" {{\n  capabilities = [{}]\n}}",
            rule.path,
            capabilities.join(", ")
        );
    }
    out
}

/// The Markdown table of `rules` (path, capabilities, why), as `docs/security.md` shows it.
pub fn policy_table(rules: &[Rule]) -> String {
    let mut out = String::from("| Path | Capabilities | Why |\n| --- | --- | --- |\n");
    for rule in rules {
        let why: String = rule.why.split_whitespace().collect::<Vec<_>>().join(" ");
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            rule.path,
            rule.capabilities.join(", "),
            why
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_grants_exactly_the_listed_paths_and_nothing_with_a_wildcard() {
        let hcl = policy_hcl(OPERATOR_RULES);
        assert_eq!(hcl.matches("path \"").count(), OPERATOR_RULES.len());
        assert!(!hcl.contains('*') && !hcl.contains('+'), "{hcl}");
        assert!(!hcl.contains("root"), "{hcl}");
        // sudo only where OpenBao demands it: a step-down needs root privileges.
        assert_eq!(hcl.matches("sudo").count(), 1, "{hcl}");
        assert!(
            hcl.contains("path \"sys/step-down\" {\n  capabilities = [\"update\", \"sudo\"]\n}"),
            "{hcl}"
        );
        assert!(
            hcl.contains(
                "path \"sys/storage/raft/autopilot/configuration\" {\n  capabilities = [\"read\", \"update\"]\n}"
            ),
            "{hcl}"
        );
    }

    #[test]
    fn docs_security_md_shows_exactly_these_policies() {
        let docs = include_str!("../../../../docs/security.md");
        for (name, rules) in POLICIES {
            let begin = format!("<!-- policy {name}:begin -->\n");
            let start = docs
                .find(&begin)
                .unwrap_or_else(|| panic!("docs/security.md lacks {begin:?}"))
                + begin.len();
            let end = docs
                .find(&format!("<!-- policy {name}:end -->"))
                .unwrap_or_else(|| panic!("docs/security.md lacks the end marker of {name}"));
            assert_eq!(
                &docs[start..end],
                policy_table(rules),
                "docs/security.md's table of {name} drifted from its rules"
            );
        }
    }

    #[test]
    fn the_docs_table_has_one_row_per_rule() {
        let table = policy_table(OPERATOR_RULES);
        assert_eq!(table.lines().count(), OPERATOR_RULES.len() + 2);
        assert!(table.contains("| `sys/storage/raft/remove-peer` | update |"));
    }
}
