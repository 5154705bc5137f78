//! The per-cluster NetworkPolicies: the default-deny posture of the seed, row by row (DESIGN.md
//! section 4), with the user's rules appended after the core rows.
//!
//! Every rule is a separate entry so that each row of the posture table maps to exactly one rule
//! index, which `netpol verify` and the posture tests report when a flow is allowed.

use api::names;
use k8s_openapi::{
    api::networking::v1::{
        IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule,
        NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec,
    },
    apimachinery::pkg::{
        apis::meta::v1::{LabelSelector, LabelSelectorRequirement},
        util::intstr::IntOrString,
    },
};

use super::{
    Facts, ValidatedCluster, http_route,
    meta::{job_pods, match_labels, namespace_named, object_meta, server_pods},
};

/// A TCP port.
pub fn tcp(port: i32) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::Int(port)),
        protocol: Some("TCP".to_string()),
        end_port: None,
    }
}

/// A UDP port.
pub fn udp(port: i32) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::Int(port)),
        protocol: Some("UDP".to_string()),
        end_port: None,
    }
}

/// A peer of pods selected by `pods` in the policy's own namespace.
pub fn pods_peer(pods: LabelSelector) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(pods),
        ..NetworkPolicyPeer::default()
    }
}

/// The Gateway's peer: its whole namespace when that is another namespace; only its pods
/// (`spec.gateway.podSelector`) when it shares the cluster's namespace, so 8200 is never open to
/// every pod there. Validation requires the selector in that case; without one (a spec that
/// bypassed validation) the peer selects nothing rather than everything.
pub fn gateway_peer(cluster: &ValidatedCluster, gateway: &api::GatewaySpec) -> NetworkPolicyPeer {
    if !gateway.shares_namespace(cluster.namespace()) {
        return namespace_peer(&http_route::gateway_namespace(cluster));
    }
    // A label required and forbidden at once: valid for the API server, matched by no pod.
    pods_peer(
        gateway
            .pod_selector
            .clone()
            .unwrap_or_else(|| LabelSelector {
                match_labels: Some(std::collections::BTreeMap::from([(
                    names::LABEL_NAME.to_string(),
                    "gateway".to_string(),
                )])),
                match_expressions: Some(vec![LabelSelectorRequirement {
                    key: names::LABEL_NAME.to_string(),
                    operator: "DoesNotExist".to_string(),
                    values: None,
                }]),
            }),
    )
}

/// A peer of every pod in the namespace `namespace`.
pub fn namespace_peer(namespace: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(namespace_named(namespace)),
        ..NetworkPolicyPeer::default()
    }
}

/// A peer of the single CIDR `cidr`.
pub fn cidr_peer(cidr: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        ip_block: Some(IPBlock {
            cidr: cidr.to_string(),
            except: None,
        }),
        ..NetworkPolicyPeer::default()
    }
}

/// The operator's pods: its namespace AND its labels, in one peer (both must match).
pub fn operator_peer(operator_namespace: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(namespace_named(operator_namespace)),
        pod_selector: Some(match_labels(names::operator_pod_labels())),
        ip_block: None,
    }
}

fn ingress(
    from: Option<Vec<NetworkPolicyPeer>>,
    ports: Option<Vec<NetworkPolicyPort>>,
) -> NetworkPolicyIngressRule {
    NetworkPolicyIngressRule { from, ports }
}

fn egress(to: Vec<NetworkPolicyPeer>, ports: Vec<NetworkPolicyPort>) -> NetworkPolicyEgressRule {
    NetworkPolicyEgressRule {
        to: Some(to),
        ports: Some(ports),
    }
}

/// Egress to the API server: the service VIP (or `apiServerCIDR`) on 443 and each endpoint
/// address on 6443. Shared by the OpenBao pods' and the locked-down Job pods' policies.
fn api_server_egress(
    cluster: &ValidatedCluster,
    api_server_cidr: Option<&str>,
) -> Vec<NetworkPolicyEgressRule> {
    let mut rules = Vec::new();
    if let Some(cidr) = api_server_cidr {
        rules.push(egress(
            vec![cidr_peer(cidr)],
            vec![tcp(names::KUBE_API_SERVICE_PORT)],
        ));
    }
    let endpoints = &cluster.spec().network.api_server_endpoint_ips;
    if !endpoints.is_empty() {
        let peers = endpoints
            .iter()
            .filter_map(|ip| ip.parse().ok())
            .map(|ip| cidr_peer(&super::single_address_cidr(&ip)))
            .collect();
        rules.push(egress(peers, vec![tcp(names::KUBE_API_ENDPOINT_PORT)]));
    }
    rules
}

/// Egress to DNS: every pod of `spec.network.dnsNamespace`, 53 over UDP and TCP.
fn dns_egress(cluster: &ValidatedCluster) -> NetworkPolicyEgressRule {
    egress(
        vec![namespace_peer(&cluster.spec().network.dns_namespace)],
        vec![udp(names::DNS_PORT), tcp(names::DNS_PORT)],
    )
}

/// `<cluster>-network-policy`: selects the OpenBao server pods (never the Job pods) and allows
/// exactly the rows of the posture table, then the user's additive rules.
///
/// `api_server_cidr` is `None` when the address is unknown; the 443 row is then absent, never
/// widened, and the caller withholds the StatefulSet.
pub fn cluster_policy(
    cluster: &ValidatedCluster,
    facts: &Facts,
    api_server_cidr: Option<&str>,
) -> NetworkPolicy {
    let spec = cluster.spec();
    let api_port = names::API_PORT;
    let cluster_port = names::CLUSTER_PORT;

    let mut ingress_rules = vec![
        // in | operator pods (operator namespace AND operator labels) | 8200/TCP
        ingress(
            Some(vec![operator_peer(&facts.operator_namespace)]),
            Some(vec![tcp(api_port)]),
        ),
        // in | this cluster's OpenBao pods | 8200/TCP, 8201/TCP
        ingress(
            Some(vec![pods_peer(server_pods(cluster))]),
            Some(vec![tcp(api_port), tcp(cluster_port)]),
        ),
    ];
    // in | the Gateway's namespace, only when spec.gateway.enabled | 8200/TCP
    // (only the Gateway's own pods when it shares the cluster's namespace)
    if let Some(gateway) = spec.enabled_gateway() {
        ingress_rules.push(ingress(
            Some(vec![gateway_peer(cluster, gateway)]),
            Some(vec![tcp(api_port)]),
        ));
    }
    // in | namespace kube-system | any port (unless kubeSystemIngress is false)
    if spec.network.kube_system_ingress {
        ingress_rules.push(ingress(Some(vec![namespace_peer("kube-system")]), None));
    }
    // in | this cluster's backup/restore Job pods | 8200/TCP
    ingress_rules.push(ingress(
        Some(vec![pods_peer(job_pods(cluster))]),
        Some(vec![tcp(api_port)]),
    ));
    // in | spec.network.trustedIngressPeers | 8200/TCP, additive
    if !spec.network.trusted_ingress_peers.is_empty() {
        ingress_rules.push(ingress(
            Some(spec.network.trusted_ingress_peers.clone()),
            Some(vec![tcp(api_port)]),
        ));
    }
    // in | spec.network.ingressRules | additive
    ingress_rules.extend(spec.network.ingress_rules.iter().cloned());

    // out | Kubernetes API 443 (VIP or apiServerCIDR) and endpoint IPs 6443
    let mut egress_rules = api_server_egress(cluster, api_server_cidr);
    // out | DNS namespace | 53/UDP, 53/TCP
    egress_rules.push(dns_egress(cluster));
    // out | this cluster's OpenBao pods | 8200/TCP, 8201/TCP
    egress_rules.push(egress(
        vec![pods_peer(server_pods(cluster))],
        vec![tcp(api_port), tcp(cluster_port)],
    ));
    // out | spec.network.dnsEndpointIPs (node-local DNS) | 53/UDP, 53/TCP, additive
    let dns_endpoints: Vec<NetworkPolicyPeer> = spec
        .network
        .dns_endpoint_ips
        .iter()
        .filter_map(|ip| ip.parse().ok())
        .map(|ip| cidr_peer(&super::single_address_cidr(&ip)))
        .collect();
    if !dns_endpoints.is_empty() {
        egress_rules.push(egress(
            dns_endpoints,
            vec![udp(names::DNS_PORT), tcp(names::DNS_PORT)],
        ));
    }
    // out | spec.network.egressRules | additive
    egress_rules.extend(spec.network.egress_rules.iter().cloned());

    NetworkPolicy {
        metadata: object_meta(cluster, cluster.names().network_policy()),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(server_pods(cluster)),
            policy_types: Some(vec!["Ingress".to_string(), "Egress".to_string()]),
            ingress: Some(ingress_rules),
            egress: Some(egress_rules),
        }),
    }
}

/// `<cluster>-jobs-network-policy`: backup/restore Job pods accept no ingress at all. Their egress
/// is left open (object storage endpoints are arbitrary) unless `spec.backup.egressRules` is set,
/// which locks it to DNS, this cluster's 8200, the API server and those rules.
pub fn jobs_policy(cluster: &ValidatedCluster, api_server_cidr: Option<&str>) -> NetworkPolicy {
    let locked_egress = cluster
        .spec()
        .backup
        .as_ref()
        .and_then(|b| b.egress_rules.as_ref());
    let (policy_types, egress_rules) = match locked_egress {
        None => (vec!["Ingress".to_string()], None),
        Some(user_rules) => {
            let mut rules = vec![dns_egress(cluster)];
            rules.push(egress(
                vec![pods_peer(server_pods(cluster))],
                vec![tcp(names::API_PORT)],
            ));
            rules.extend(api_server_egress(cluster, api_server_cidr));
            rules.extend(user_rules.iter().cloned());
            (
                vec!["Ingress".to_string(), "Egress".to_string()],
                Some(rules),
            )
        }
    };
    NetworkPolicy {
        metadata: object_meta(cluster, cluster.names().jobs_network_policy()),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(job_pods(cluster)),
            policy_types: Some(policy_types),
            ingress: Some(Vec::new()),
            egress: egress_rules,
        }),
    }
}
