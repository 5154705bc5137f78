//! The controller's own NetworkPolicy (deploy manifests): the seed's "Controller Network
//! Security" tables. Ingress only to metrics (from monitoring namespaces), probes and the
//! webhook; egress only to the API server, DNS and OpenBao pods on 8200.
//!
//! The seed's controller egress table lists only the API server and webhooks; health checks,
//! initialization and step-down also need OpenBao's 8200, so that flow is allowed and documented.

use std::collections::BTreeMap;

use api::names;
use k8s_openapi::{
    api::networking::v1::{
        NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
        NetworkPolicySpec,
    },
    apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement, ObjectMeta},
};

use crate::desired::{
    meta::{match_labels, namespace_named},
    network_policy::{cidr_peer, namespace_peer, tcp, udp},
};

// The operator's own names and ports are defined once, in `install::names`; re-exported here
// because this policy and its callers speak of them.
pub use super::names::{
    CONTROLLER_POLICY_NAME, HEALTH_PORT, LEADER_LEASE, METRICS_PORT, METRICS_READER_ROLE,
    METRICS_SERVICE, OPERATOR_NAME, RESTORE_WEBHOOK_PATH, SECURE_METRICS_PORT, TENANT_WEBHOOK_PATH,
    WEBHOOK_CERT_SECRET, WEBHOOK_CONFIGURATION, WEBHOOK_PATH, WEBHOOK_PORT, WEBHOOK_SERVICE,
};

/// Tunables of the controller's policy.
#[derive(Clone, Debug, PartialEq)]
pub struct ControllerPolicyOptions {
    /// Namespace the operator runs in.
    pub namespace: String,
    /// Namespaces allowed to scrape metrics (8080, 8443).
    pub metrics_namespace_selector: LabelSelector,
    /// Where the API server is; `None` allows 443/6443 to any address (documented as the
    /// portable default; set a CIDR to tighten it).
    pub api_server_cidr: Option<String>,
    /// Namespace whose pods serve DNS.
    pub dns_namespace: String,
}

impl ControllerPolicyOptions {
    /// Defaults: metrics from the namespace `monitoring`, DNS in kube-system, any API address.
    pub fn new(namespace: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            metrics_namespace_selector: namespace_named("monitoring"),
            api_server_cidr: None,
            dns_namespace: "kube-system".to_string(),
        }
    }
}

/// OpenBao server pods of any cluster managed by this operator, in any namespace.
pub fn managed_openbao_pods() -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector::default()),
        pod_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([
                (names::LABEL_NAME.to_string(), names::APP_NAME.to_string()),
                (
                    names::LABEL_MANAGED_BY.to_string(),
                    names::MANAGER.to_string(),
                ),
            ])),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: names::LABEL_COMPONENT.to_string(),
                operator: "NotIn".to_string(),
                values: Some(vec![
                    names::COMPONENT_BACKUP.to_string(),
                    names::COMPONENT_RESTORE.to_string(),
                ]),
            }]),
        }),
        ip_block: None,
    }
}

/// The controller's NetworkPolicy.
pub fn controller_policy(options: &ControllerPolicyOptions) -> NetworkPolicy {
    let ingress = vec![
        // Monitoring | 8080 / 8443 | metrics
        NetworkPolicyIngressRule {
            from: Some(vec![NetworkPolicyPeer {
                namespace_selector: Some(options.metrics_namespace_selector.clone()),
                ..NetworkPolicyPeer::default()
            }]),
            ports: Some(vec![tcp(METRICS_PORT), tcp(SECURE_METRICS_PORT)]),
        },
        // Kubelet | 8081 | probes (kubelet traffic comes from the node, whose address varies)
        NetworkPolicyIngressRule {
            from: None,
            ports: Some(vec![tcp(HEALTH_PORT)]),
        },
        // API server | 9443 | admission webhook (the API server's source address varies)
        NetworkPolicyIngressRule {
            from: None,
            ports: Some(vec![tcp(WEBHOOK_PORT)]),
        },
    ];
    let api_to = options
        .api_server_cidr
        .as_deref()
        .map(|cidr| vec![cidr_peer(cidr)]);
    let egress = vec![
        // Kubernetes API | 443, 6443
        NetworkPolicyEgressRule {
            to: api_to,
            ports: Some(vec![
                tcp(names::KUBE_API_SERVICE_PORT),
                tcp(names::KUBE_API_ENDPOINT_PORT),
            ]),
        },
        // DNS
        NetworkPolicyEgressRule {
            to: Some(vec![namespace_peer(&options.dns_namespace)]),
            ports: Some(vec![udp(names::DNS_PORT), tcp(names::DNS_PORT)]),
        },
        // OpenBao pods | 8200 | health, initialization, step-down
        NetworkPolicyEgressRule {
            to: Some(vec![managed_openbao_pods()]),
            ports: Some(vec![tcp(names::API_PORT)]),
        },
    ];
    NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(CONTROLLER_POLICY_NAME.to_string()),
            namespace: Some(options.namespace.clone()),
            labels: Some(names::operator_pod_labels()),
            ..ObjectMeta::default()
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(match_labels(names::operator_pod_labels())),
            policy_types: Some(vec!["Ingress".to_string(), "Egress".to_string()]),
            ingress: Some(ingress),
            egress: Some(egress),
        }),
    }
}
