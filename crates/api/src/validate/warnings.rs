//! `warnings()`: legal but risky settings, reported as admission warnings and by `render`.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::NetworkPolicyPeer;

use super::rules;
use crate::spec::{OpenBaoCluster, ServiceType, TlsMode, UnsealType};

/// An `apiServerCIDR` with a shorter prefix than this is warned about: it no longer names the
/// API server but a network.
pub const API_SERVER_CIDR_WARN_PREFIX: u8 = 16;

/// Legal but risky settings of `cluster`, one sentence each, naming the field path. The
/// webhook returns them as admission warnings and `render` prints them.
pub fn warnings(cluster: &OpenBaoCluster) -> Vec<String> {
    let spec = &cluster.spec;
    let mut out = Vec::new();
    if spec.replicas == 1 {
        out.push(
            "spec.replicas: 1 member gives no high availability; use 3 or 5 in production"
                .to_string(),
        );
    } else if spec.replicas > 1 && spec.replicas % 2 == 0 {
        out.push(format!(
            "spec.replicas: {} is even; Raft needs a majority, so {} members tolerate no more \
             failures than {}; use an odd number",
            spec.replicas,
            spec.replicas,
            spec.replicas - 1
        ));
    }
    out.extend(super::upgrade::upgrade_warning(cluster));
    if let Some(self_init) = spec.self_init.as_deref().filter(|s| s.enabled)
        && !super::enables_user_auth(self_init)
    {
        out.push(
            "spec.selfInit.requests: no request enables an auth method, and a self-initialized \
             cluster has no root token: only the operator (with its fixed, narrow policy) can log \
             in; add a request under sys/auth/ (userpass, jwt, kubernetes, ...) and a policy for it"
                .to_string(),
        );
    }
    if spec.self_init.as_deref().is_some_and(|s| s.enabled)
        && spec
            .initialization
            .as_ref()
            .is_some_and(|i| i.revoke_root_token)
    {
        out.push(
            "spec.initialization.revokeRootToken: has no effect with spec.selfInit.enabled: a \
             self-initialized cluster never has a root token"
                .to_string(),
        );
    }
    if spec.network.kube_system_ingress {
        out.push(
            "spec.network.kubeSystemIngress: true admits traffic on every port from the \
             kube-system namespace; set it to false unless your CNI or DNS health checks need it"
                .to_string(),
        );
    }
    if let Some(cidr) = &spec.network.api_server_cidr
        && let Ok(net) = cidr.parse::<ipnet::IpNet>()
        && net.prefix_len() < API_SERVER_CIDR_WARN_PREFIX
    {
        out.push(format!(
            "spec.network.apiServerCIDR: {cidr:?} is wider than a /{API_SERVER_CIDR_WARN_PREFIX}: \
             the OpenBao pods may open connections to every address in it on 443 and 6443; \
             use the API server's own address (/32 or /128) or its smallest covering range"
        ));
    }
    match spec.tls.mode {
        TlsMode::External => {
            out.push(format!(
                "spec.tls.mode: External: you provide and renew the certificate in Secret {:?}; \
                 the operator does not rotate it, and if its CA is self-signed, distributing \
                 ca.crt to clients is up to you",
                crate::names::ClusterNames::new(cluster.metadata.name.clone().unwrap_or_default())
                    .tls_secret(&spec.tls)
            ));
            if !spec.tls.extra_sans.is_empty() {
                out.push(
                    "spec.tls.extraSANs: ignored when spec.tls.mode is External; put the names \
                     in your certificate"
                        .to_string(),
                );
            }
        }
        TlsMode::OperatorManaged => {
            if spec.tls.external_secret_name.is_some() {
                out.push(
                    "spec.tls.externalSecretName: ignored unless spec.tls.mode is External"
                        .to_string(),
                );
            }
        }
        TlsMode::Acme => {
            if spec.network.egress_rules.is_empty() {
                out.push(
                    "spec.network.egressRules: spec.tls.mode is ACME but there are no egress \
                     rules; the default-deny posture blocks the pods from reaching the ACME \
                     directory, so no certificate is obtained and the listener serves no TLS \
                     until you add an egress rule for the directory's address (port 443)"
                        .to_string(),
                );
            }
            if spec.network.ingress_rules.is_empty()
                && spec.network.trusted_ingress_peers.is_empty()
            {
                out.push(format!(
                    "spec.network.ingressRules: spec.tls.mode is ACME and OpenBao answers the \
                     TLS-ALPN-01 challenge on its listener (port {}); an ACME CA that validates \
                     over the network reaches the pods only through an ingress rule (or \
                     trustedIngressPeers) for its validation servers",
                    crate::names::API_PORT
                ));
            }
            if !spec.tls.extra_sans.is_empty() {
                out.push(
                    "spec.tls.extraSANs: ignored when spec.tls.mode is ACME; list the names in \
                     spec.tls.acme.domains"
                        .to_string(),
                );
            }
            if spec.tls.external_secret_name.is_some() {
                out.push(
                    "spec.tls.externalSecretName: ignored unless spec.tls.mode is External"
                        .to_string(),
                );
            }
        }
    }
    if spec.tls.mode != TlsMode::Acme && spec.configuration.acme_ca_root.is_some() {
        out.push(
            "spec.configuration.acmeCARoot: ignored unless spec.tls.mode is ACME (it is \
             OpenBao's tls_acme_ca_root, the trust for the ACME directory)"
                .to_string(),
        );
    }
    if spec.unseal.type_ != UnsealType::Static && spec.network.egress_rules.is_empty() {
        out.push(format!(
            "spec.network.egressRules: spec.unseal.type is {} but there are no egress rules; \
             the default-deny posture blocks the pods from reaching the seal's endpoint, so \
             add an egress rule for it",
            spec.unseal.type_.as_str()
        ));
    }
    if spec.unseal.type_ == UnsealType::Transit && spec.unseal.credentials_secret_ref.is_none() {
        out.push(
            "spec.unseal.credentialsSecretRef: the transit seal needs a token (VAULT_TOKEN); \
             without a credentials Secret OpenBao cannot authenticate to the transit server"
                .to_string(),
        );
    }
    if spec.service.type_ != ServiceType::ClusterIP && spec.network.ingress_rules.is_empty() {
        out.push(format!(
            "spec.service.type: {} exposes the Service, but the NetworkPolicy admits no outside \
             traffic until you add spec.network.ingressRules",
            spec.service.type_.as_str()
        ));
    }
    if let Some(ingress) = spec.enabled_ingress() {
        ingress_warnings(spec, ingress, &mut out);
    }
    for (i, rule) in spec.network.ingress_rules.iter().enumerate() {
        let path = format!("spec.network.ingressRules[{i}]");
        let peers = rule.from.as_deref().unwrap_or_default();
        if peers.is_empty() {
            out.push(format!(
                "{path}.from: no peers, so this rule admits traffic from every source{}",
                if rule.ports.as_ref().is_none_or(Vec::is_empty) {
                    " on every port"
                } else {
                    ""
                }
            ));
        }
        for (j, peer) in peers.iter().enumerate() {
            peer_warnings(peer, &format!("{path}.from[{j}]"), "admits", &mut out);
        }
    }
    let egress_lists = [
        ("spec.network.egressRules", Some(&spec.network.egress_rules)),
        (
            "spec.backup.egressRules",
            spec.backup.as_ref().and_then(|b| b.egress_rules.as_ref()),
        ),
    ];
    for (base, list) in egress_lists {
        for (i, rule) in list.into_iter().flatten().enumerate() {
            let path = format!("{base}[{i}]");
            let peers = rule.to.as_deref().unwrap_or_default();
            if peers.is_empty() {
                out.push(format!(
                    "{path}.to: no peers, so this rule allows egress to every destination"
                ));
            }
            for (j, peer) in peers.iter().enumerate() {
                peer_warnings(
                    peer,
                    &format!("{path}.to[{j}]"),
                    "allows egress to",
                    &mut out,
                );
            }
        }
    }
    if let Some(backup) = &spec.backup
        && backup.egress_rules.as_ref().is_some_and(Vec::is_empty)
    {
        out.push(
            "spec.backup.egressRules: an empty list limits backup Jobs to DNS, the API \
             server and this cluster, so they cannot reach the object store; add a rule \
             for its endpoint or remove the field"
                .to_string(),
        );
    }
    super::upstream::upstream_warnings(spec, &mut out);
    out
}

fn peer_warnings(peer: &NetworkPolicyPeer, path: &str, verb: &str, out: &mut Vec<String>) {
    if let Some(block) = &peer.ip_block
        && let Ok(net) = rules::parse_cidr(&block.cidr)
        && net.prefix_len() == 0
    {
        out.push(format!(
            "{path}.ipBlock.cidr: {net} {verb} every {} address, including the internet",
            if net.addr().is_ipv4() { "IPv4" } else { "IPv6" }
        ));
    }
    if let Some(selector) = &peer.namespace_selector
        && selector
            .match_labels
            .as_ref()
            .is_none_or(BTreeMap::is_empty)
        && selector
            .match_expressions
            .as_ref()
            .is_none_or(Vec::is_empty)
    {
        out.push(format!(
            "{path}.namespaceSelector: {{}} selects every namespace, so this peer {verb} \
             {}pods in all namespaces",
            if peer.pod_selector.is_some() {
                "matching "
            } else {
                "all "
            }
        ));
    }
}

/// Annotation keys (or key suffixes) by which known Ingress controllers are told to speak HTTPS
/// to the backend, on the Ingress: ingress-nginx and the AWS load balancer controller
/// (`.../backend-protocol`), HAProxy (`haproxy.org/server-ssl`).
const BACKEND_HTTPS_INGRESS_ANNOTATIONS: &[&str] = &["/backend-protocol", "haproxy.org/server-ssl"];
/// The same on the client Service: Traefik (upstream's Ingress sample uses it).
const BACKEND_HTTPS_SERVICE_ANNOTATIONS: &[&str] =
    &["traefik.ingress.kubernetes.io/service.serversscheme"];

/// The managed Ingress cannot work unless the controller's pods may reach 8200 and speak HTTPS.
fn ingress_warnings(
    spec: &crate::spec::OpenBaoClusterSpec,
    ingress: &crate::spec::IngressSpec,
    out: &mut Vec<String>,
) {
    if spec.tls.mode == crate::spec::TlsMode::Acme && ingress.tls_secret_name().is_none() {
        out.push(
            "spec.ingress.tlsSecretName: unset while spec.tls.mode is ACME: the Ingress then names \
             the cluster's server certificate Secret, which does not exist in ACME mode (OpenBao \
             keeps its ACME certificate in its own cache); name a Secret for the Ingress host \
             (for example one cert-manager fills)"
                .to_string(),
        );
    }
    if spec.network.trusted_ingress_peers.is_empty() && spec.network.ingress_rules.is_empty() {
        out.push(
            "spec.ingress.enabled: no spec.network.trustedIngressPeers (or ingressRules) admit \
             the Ingress controller, so the default-deny posture blocks its traffic to port \
             8200; name the controller's pods in spec.network.trustedIngressPeers (upstream and \
             the Hardened profile require it)"
                .to_string(),
        );
    }
    let on_ingress = ingress.annotations.keys().any(|key| {
        BACKEND_HTTPS_INGRESS_ANNOTATIONS
            .iter()
            .any(|known| key.ends_with(known))
    });
    let on_service = spec
        .service
        .annotations
        .keys()
        .any(|key| BACKEND_HTTPS_SERVICE_ANNOTATIONS.contains(&key.as_str()));
    if !on_ingress && !on_service {
        out.push(
            "spec.ingress.annotations: OpenBao serves only HTTPS on 8200, and no annotation \
             telling the Ingress controller to use HTTPS to the backend was found; for \
             ingress-nginx add nginx.ingress.kubernetes.io/backend-protocol: HTTPS, for Traefik \
             the spec.service annotation traefik.ingress.kubernetes.io/service.serversscheme: \
             https (other controllers have their own setting)"
                .to_string(),
        );
    }
}
