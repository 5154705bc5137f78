//! The operator's RBAC and admission-policy objects as the deploy builders generate them, for a
//! cluster-wide and a namespaced install: what the operator may do, and what confines the
//! OpenBao pods' own grant.
#![allow(clippy::unwrap_used)]

#[path = "support/deploy.rs"]
mod deploy_support;

use api::names::DEFAULT_OPERATOR_NAMESPACE;
use operator::{
    desired::rbac,
    install::{
        controller::{self, METRICS_READER_ROLE, OPERATOR_NAME},
        deploy, operator_rbac, pod_label_policy,
    },
};
use serde_json::{Value, json};

use deploy_support::*;

#[test]
fn rbac_binds_the_reconcile_role_and_limits_namespace_grants_to_the_lease_webhook_secret_and_own_tokens()
 {
    let manifests = deploy::build(&deploy::DeployOptions::new("ops"));
    let binding = serde_json::to_value(&manifests.cluster_role_binding).unwrap();
    assert_eq!(binding["roleRef"]["name"], operator_rbac::CLUSTER_ROLE);
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": OPERATOR_NAME, "namespace": "ops"}])
    );
    assert_eq!(manifests.cluster_role, Some(operator_rbac::cluster_role()));
    assert!(manifests.watched_namespace_grants.is_empty());
    let role = serde_json::to_value(&manifests.role).unwrap();
    assert_eq!(role["metadata"]["namespace"], "ops");
    let grants: Vec<(String, Value, Value)> = role["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["resources"][0].as_str().unwrap().to_string(),
                r["resourceNames"].clone(),
                r["verbs"].clone(),
            )
        })
        .collect();
    assert_eq!(
        grants,
        [
            ("leases".to_string(), Value::Null, json!(["create"])),
            (
                "leases".to_string(),
                json!([controller::LEADER_LEASE]),
                json!(["get", "update"])
            ),
            ("secrets".to_string(), Value::Null, json!(["create"])),
            (
                "secrets".to_string(),
                json!([controller::WEBHOOK_CERT_SECRET]),
                json!(["get", "update", "patch"])
            ),
            // Tokens of its own ServiceAccount only (its identity in OpenBao).
            (
                "serviceaccounts/token".to_string(),
                json!([OPERATOR_NAME]),
                json!(["create"])
            ),
        ]
    );
    let reader = serde_json::to_value(&manifests.metrics_reader_role).unwrap();
    assert_eq!(reader["metadata"]["name"], METRICS_READER_ROLE);
    assert_eq!(
        reader["rules"],
        json!([{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}])
    );
    let manager = serde_json::to_value(&manifests.manager_cluster_role).unwrap();
    assert_eq!(
        manager["rules"][0]["resourceNames"],
        json!([controller::WEBHOOK_CONFIGURATION])
    );
}

#[test]
fn the_operator_never_creates_or_changes_a_pod_and_may_bind_only_the_openbao_server_role() {
    let rules = operator_rbac::rules();
    // Reads, and `delete` for rollouts (the StatefulSet recreates the pod from its template):
    // no verb that could write a pod's labels, spec or image.
    assert_eq!(
        grants(&rules, "pods"),
        [json!([
            [""],
            ["pods"],
            null,
            ["get", "list", "watch", "delete"]
        ])]
    );
    assert_eq!(
        grants(&rules, "clusterroles"),
        [json!([
            ["rbac.authorization.k8s.io"],
            ["clusterroles"],
            [rbac::SERVER_CLUSTER_ROLE],
            ["bind"]
        ])]
    );
    // `bind` and `escalate` appear nowhere else; no wildcard anywhere.
    for rule in &rules {
        let names = rule.resource_names.as_deref().unwrap_or_default();
        if rule.verbs.iter().any(|v| v == "bind" || v == "escalate") {
            assert_eq!(names, [rbac::SERVER_CLUSTER_ROLE], "{rule:?}");
            assert_eq!(rule.verbs, ["bind"], "{rule:?}");
        }
        let all = serde_json::to_string(rule).unwrap();
        assert!(!all.contains("\"*\""), "{all}");
    }
}

#[test]
fn the_manifests_ship_the_openbao_server_role_and_the_policy_confining_it() {
    let manifests = deploy::build(&defaults());
    assert_eq!(manifests.server_cluster_role, rbac::server_cluster_role());
    let role = serde_json::to_value(&manifests.server_cluster_role).unwrap();
    assert_eq!(role["metadata"]["name"], rbac::SERVER_CLUSTER_ROLE);
    assert_eq!(
        role["rules"],
        json!([
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["patch"]}
        ])
    );

    let policy = serde_json::to_value(&manifests.pod_label_policy).unwrap();
    assert_eq!(policy["metadata"]["name"], pod_label_policy::POLICY);
    let spec = &policy["spec"];
    assert_eq!(spec["failurePolicy"], "Fail");
    assert_eq!(
        spec["matchConstraints"],
        json!({"resourceRules": [{
            "apiGroups": [""], "apiVersions": ["v1"], "operations": ["UPDATE"], "resources": ["pods"]
        }]})
    );
    let conditions: Vec<&str> = spec["matchConditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        conditions,
        [
            "namespace-service-account",
            "not-kube-system",
            "openbao-pod"
        ]
    );
    assert_eq!(
        spec["variables"],
        json!([{
            "name": "registrationLabels",
            "expression": "['openbao-active', 'openbao-initialized', 'openbao-perf-standby', 'openbao-sealed', 'openbao-version']"
        }])
    );
    // Each rule's message starts with its name, so a denial says which rule refused it.
    let messages: Vec<&str> = spec["validations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            assert_eq!(v["reason"], "Forbidden");
            v["message"].as_str().unwrap()
        })
        .collect();
    for (message, rule) in
        messages
            .iter()
            .zip(["own-pod-only:", "registration-labels-only:", "labels-only:"])
    {
        assert!(message.starts_with(rule), "{message}");
    }
    assert_eq!(messages.len(), 3);

    let binding = serde_json::to_value(&manifests.pod_label_policy_binding).unwrap();
    assert_eq!(
        binding["spec"],
        json!({"policyName": pod_label_policy::POLICY, "validationActions": ["Deny"]})
    );
}

// ---------------------------------------------------------------------------------------------
// A namespaced install

#[test]
fn a_namespaced_install_grants_the_reconcile_rules_by_a_role_in_each_watched_namespace_only() {
    let manifests = deploy::build(&namespaced_example());
    assert!(manifests.cluster_role.is_none());
    assert!(manifests.cluster_role_binding.is_none());
    let namespaces: Vec<&str> = manifests
        .watched_namespace_grants
        .iter()
        .map(|g| g.role.metadata.namespace.as_deref().unwrap())
        .collect();
    assert_eq!(namespaces, NAMESPACED_EXAMPLE);
    for grant in &manifests.watched_namespace_grants {
        let ns = grant.role.metadata.namespace.as_deref().unwrap();
        assert_eq!(grant.role, operator_rbac::watched_namespace_role(ns));
        assert_eq!(grant.role.rules, Some(operator_rbac::rules()));
        let binding = serde_json::to_value(&grant.role_binding).unwrap();
        assert_eq!(binding["metadata"]["namespace"], ns);
        assert_eq!(
            binding["metadata"]["name"],
            operator_rbac::WATCHED_NAMESPACE_ROLE
        );
        assert_eq!(
            binding["roleRef"],
            json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": operator_rbac::WATCHED_NAMESPACE_ROLE})
        );
        assert_eq!(
            binding["subjects"],
            json!([{"kind": "ServiceAccount", "name": OPERATOR_NAME, "namespace": DEFAULT_OPERATOR_NAMESPACE}])
        );
    }
    // What is cluster-wide by nature stays exactly as in a cluster-wide install.
    let cluster_wide = deploy::build(&defaults());
    assert_eq!(
        manifests.manager_cluster_role,
        cluster_wide.manager_cluster_role
    );
    assert_eq!(
        manifests.manager_cluster_role_binding,
        cluster_wide.manager_cluster_role_binding
    );
    assert_eq!(
        manifests.server_cluster_role,
        cluster_wide.server_cluster_role
    );
    assert_eq!(manifests.pod_label_policy, cluster_wide.pod_label_policy);
    assert_eq!(
        manifests.pod_label_policy_binding,
        cluster_wide.pod_label_policy_binding
    );
    assert_eq!(manifests.role, cluster_wide.role);
    assert_eq!(manifests.network_policy, cluster_wide.network_policy);
    // No cluster-scoped object of the install grants anything on Secrets.
    for document in manifests.documents().unwrap() {
        let object: Value = serde_yaml::from_str(&document.yaml).unwrap();
        if object["kind"] == "ClusterRole" {
            assert!(
                !object["rules"].to_string().contains("secrets"),
                "{}: {}",
                document.file,
                object["rules"]
            );
        }
    }
}

#[test]
fn a_namespaced_install_writes_each_namespaces_role_and_binding_in_place_of_the_cluster_role() {
    let files = file_names(&deploy::build(&namespaced_example()));
    assert_eq!(
        files[..8],
        [
            "namespace.yaml",
            "network-policy.yaml",
            "service-account.yaml",
            "reconcile-role.openbao-a.yaml",
            "reconcile-role-binding.openbao-a.yaml",
            "reconcile-role.openbao-b.yaml",
            "reconcile-role-binding.openbao-b.yaml",
            "manager-cluster-role.yaml",
        ]
    );
    assert!(!files.iter().any(|f| f.starts_with("cluster-role")));
}
