//! The audit of the live posture (`posture::audit`): the operator's rendered policies with the
//! live members prove the contract; any other policy of the namespace that opens a forbidden
//! flow, whoever it admits, is found and named; a member that escapes the operator's policy is
//! found; policies that only touch other pods, or only deny, change nothing.

#[path = "support/fixtures.rs"]
mod fixtures;

use std::collections::BTreeMap;

use fixtures::{facts, from_yaml};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use operator::{
    desired::{self, ValidatedCluster},
    posture::audit::{self, Audit, LiveState},
};

const CLUSTER: &str = r#"
apiVersion: openbao.org/v1alpha1
kind: OpenBaoCluster
metadata: {name: bao, namespace: team-a}
spec: {version: "2.7.2", replicas: 3}
"#;

fn cluster() -> ValidatedCluster {
    from_yaml(CLUSTER)
}

/// The operator's two policies and three members with the labels the StatefulSet gives them.
fn rendered(cluster: &ValidatedCluster) -> LiveState {
    let resources = desired::build(cluster, &facts());
    let labels = cluster.names().server_pod_labels();
    LiveState {
        policies: vec![resources.network_policy, resources.jobs_network_policy],
        members: (0..3)
            .map(|i| (cluster.names().pod(i), labels.clone()))
            .collect(),
    }
}

fn policy(yaml: &str) -> NetworkPolicy {
    serde_yaml::from_str(yaml).expect("test policy parses")
}

fn prove(cluster: &ValidatedCluster, live: &LiveState) -> Audit {
    audit::audit(cluster, &facts(), live).expect("the audit runs")
}

fn violations(proof: &Audit) -> Vec<String> {
    proof
        .violations()
        .map(|c| {
            format!(
                "{} -> {} {}/{} by {:?}",
                c.from.name, c.to.name, c.port, c.protocol, c.culprits
            )
        })
        .collect()
}

#[test]
fn the_rendered_policies_with_their_members_prove_the_contract() {
    let c = cluster();
    let proof = prove(&c, &rendered(&c));
    assert!(proof.verified(), "{:#?}", violations(&proof));
    assert!(proof.flows_checked() > 1000, "{}", proof.flows_checked());
    assert!(proof.offending_policies().is_empty());
    assert!(
        proof.summary().contains("allow exactly"),
        "{}",
        proof.summary()
    );
}

#[test]
fn an_allow_all_ingress_policy_in_the_namespace_is_a_violation_that_names_it() {
    let c = cluster();
    let mut live = rendered(&c);
    live.policies.push(policy(
        "metadata: {name: allow-all, namespace: team-a}\n\
         spec: {podSelector: {}, ingress: [{}], policyTypes: [Ingress]}",
    ));
    let proof = prove(&c, &live);
    assert!(!proof.verified());
    assert!(proof.widened());
    assert_eq!(proof.offending_policies(), vec!["allow-all".to_string()]);
    let found = violations(&proof);
    assert!(
        found
            .iter()
            .any(|v| v.starts_with("posture-elsewhere/client -> team-a/bao-0 8200/TCP")),
        "{found:#?}"
    );
    let summary = proof.summary();
    assert!(summary.contains("because of allow-all"), "{summary}");
    assert!(
        summary.contains("and ") && summary.contains("more"),
        "{summary}"
    );
}

#[test]
fn a_policy_that_selects_only_other_pods_changes_nothing() {
    let c = cluster();
    let mut live = rendered(&c);
    live.policies.push(policy(
        "metadata: {name: web, namespace: team-a}\n\
         spec: {podSelector: {matchLabels: {app: web}}, ingress: [{}], egress: [{}]}",
    ));
    let proof = prove(&c, &live);
    assert!(proof.verified(), "{:#?}", violations(&proof));
}

#[test]
fn a_deny_all_ingress_policy_only_narrows_and_the_contract_still_holds() {
    let c = cluster();
    let mut live = rendered(&c);
    live.policies.push(policy(
        "metadata: {name: default-deny, namespace: team-a}\n\
         spec: {podSelector: {}, policyTypes: [Ingress]}",
    ));
    let proof = prove(&c, &live);
    assert!(proof.verified(), "{:#?}", violations(&proof));
}

#[test]
fn a_deny_all_egress_policy_closes_the_backup_jobs_way_out_and_is_reported_as_narrowing() {
    // The contract leaves the Jobs' egress open (they reach object storage); a namespace-wide
    // default-deny egress closes it, which breaks backups: reported, but not as a widening.
    let c = cluster();
    let mut live = rendered(&c);
    live.policies.push(policy(
        "metadata: {name: default-deny, namespace: team-a}\n\
         spec: {podSelector: {}, policyTypes: [Ingress, Egress]}",
    ));
    let proof = prove(&c, &live);
    assert!(!proof.verified());
    assert!(!proof.widened(), "{:#?}", violations(&proof));
    assert_eq!(proof.offending_policies(), vec!["default-deny".to_string()]);
    let found = violations(&proof);
    assert!(
        found.iter().all(
            |v| v.starts_with("team-a/bao-backup ->") || v.starts_with("team-a/bao-restore ->")
        ),
        "{found:#?}"
    );
    assert!(
        proof.summary().contains("is closed by default-deny"),
        "{}",
        proof.summary()
    );
}

#[test]
fn an_egress_policy_opening_the_internet_to_the_openbao_pods_is_reported() {
    let c = cluster();
    let mut live = rendered(&c);
    live.policies.push(policy(
        "metadata: {name: open-egress, namespace: team-a}\n\
         spec:\n  podSelector: {matchLabels: {app.kubernetes.io/name: openbao}}\n  \
         egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0}}]}]\n  policyTypes: [Egress]",
    ));
    let proof = prove(&c, &live);
    assert!(!proof.verified());
    assert_eq!(proof.offending_policies(), vec!["open-egress".to_string()]);
    let found = violations(&proof);
    assert!(
        found
            .iter()
            .any(|v| v.starts_with("team-a/bao-0 -> ip:203.0.113.10 443/TCP")),
        "{found:#?}"
    );
}

#[test]
fn a_narrow_peer_of_another_policy_is_found_through_a_witness_pod() {
    // No synthetic pod carries `app: debug`: only a witness built from the rule finds it.
    let c = cluster();
    let mut live = rendered(&c);
    live.policies.push(policy(
        "metadata: {name: debug-access, namespace: team-a}\n\
         spec:\n  podSelector: {matchLabels: {openbao.org/cluster: bao}}\n  \
         ingress: [{from: [{podSelector: {matchLabels: {app: debug}}}], ports: [{port: 8200}]}]\n  \
         policyTypes: [Ingress]",
    ));
    let proof = prove(&c, &live);
    assert!(!proof.verified());
    let found = violations(&proof);
    assert!(
        found
            .iter()
            .any(|v| v.contains("audit-witness-0-0 -> team-a/bao-") && v.contains("8200/TCP")),
        "{found:#?}"
    );
    assert_eq!(proof.offending_policies(), vec!["debug-access".to_string()]);
}

#[test]
fn a_namespace_selector_on_another_namespace_is_found_and_an_odd_port_is_probed() {
    let c = cluster();
    let mut live = rendered(&c);
    live.policies.push(policy(
        "metadata: {name: from-tools, namespace: team-a}\n\
         spec:\n  podSelector: {}\n  \
         ingress: [{from: [{namespaceSelector: {matchLabels: {team: tools}}}], ports: [{port: 7777}]}]",
    ));
    let proof = prove(&c, &live);
    let found = violations(&proof);
    assert!(
        found.iter().any(|v| v.contains("-> team-a/bao-1 7777/TCP")),
        "{found:#?}"
    );
}

#[test]
fn a_member_whose_labels_were_changed_by_hand_escapes_the_policy_and_is_reported() {
    let c = cluster();
    let mut live = rendered(&c);
    let escaped: BTreeMap<String, String> = c
        .names()
        .server_pod_labels()
        .into_iter()
        .filter(|(k, _)| k != "app.kubernetes.io/name")
        .collect();
    live.members[2].1 = escaped;
    let proof = prove(&c, &live);
    assert!(!proof.verified());
    let found = violations(&proof);
    assert!(
        found.iter().any(|v| v.contains("team-a/bao-2")),
        "{found:#?}"
    );
    assert_eq!(
        proof.offending_policies(),
        vec![c.names().network_policy()],
        "the operator's own policy is named as the one the member escapes"
    );
}

#[test]
fn the_users_own_additive_rules_are_not_violations_but_the_same_rule_in_another_policy_is() {
    let c = from_yaml(
        r#"
apiVersion: openbao.org/v1alpha1
kind: OpenBaoCluster
metadata: {name: bao, namespace: team-a}
spec:
  version: "2.7.2"
  network:
    ingressRules:
      - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: posture-elsewhere}}}]
        ports: [{port: 8200}]
"#,
    );
    let proof = prove(&c, &rendered(&c));
    assert!(proof.verified(), "{:#?}", violations(&proof));

    let plain = cluster();
    let mut live = rendered(&plain);
    live.policies.push(policy(
        "metadata: {name: same-rule, namespace: team-a}\n\
         spec:\n  podSelector: {matchLabels: {app.kubernetes.io/name: openbao}}\n  \
         ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: posture-elsewhere}}}], ports: [{port: 8200}]}]",
    ));
    let proof = prove(&plain, &live);
    assert_eq!(proof.offending_policies(), vec!["same-rule".to_string()]);
}

#[test]
fn an_invalid_foreign_policy_is_an_error_not_a_proof() {
    let c = cluster();
    let mut live = rendered(&c);
    live.policies.push(policy(
        "metadata: {name: broken, namespace: team-a}\n\
         spec:\n  podSelector: {matchExpressions: [{key: app, operator: Sideways}]}\n  ingress: [{}]",
    ));
    let error = audit::audit(&c, &facts(), &live).expect_err("an invalid policy is reported");
    assert!(error.to_string().contains("broken"), "{error}");
}
