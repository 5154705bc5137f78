//! The Gateway API BackendTLSPolicy created when the gateway is enabled and
//! `spec.gateway.backendTLS` is not disabled (upstream's default): it tells the Gateway to speak
//! HTTPS to the client Service and to verify OpenBao's certificate for `backendTLS.hostname`
//! (default `<service>.<namespace>.svc`, a name the operator-managed certificate carries)
//! against the CA certificate in the ConfigMap `<cluster>-tls-ca`.
//!
//! The ConfigMap holds the CA certificate only (`ca.crt`): the operator-managed CA's
//! certificate, the `ca.crt` of the user's Secret in External mode, or a private ACME CA's root
//! in ACME mode (where the verified name defaults to the ACME domain; a public ACME CA is
//! verified with the Gateway's own roots, `wellKnownCACertificates: System`). Private keys never leave
//! their Secrets. Gateway API v1.4 made BackendTLSPolicy standard at `v1`, the version upstream
//! writes; the fields the operator writes are modelled here.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Facts, ValidatedCluster, meta::object_meta};

/// The key of the CA certificate in the ConfigMap (the one Gateway API implementations read).
pub const CA_KEY: &str = "ca.crt";

/// The subset of `gateway.networking.k8s.io/v1` BackendTLSPolicy spec the operator writes.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[kube(
    group = "gateway.networking.k8s.io",
    version = "v1",
    kind = "BackendTLSPolicy",
    plural = "backendtlspolicies",
    namespaced,
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct BackendTLSPolicySpec {
    /// The Services whose connections the policy configures.
    pub target_refs: Vec<PolicyTargetRef>,
    /// How the Gateway verifies the backend's certificate.
    pub validation: BackendTLSValidation,
}

/// A local object the policy applies to.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyTargetRef {
    /// API group ("" for core).
    pub group: String,
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
}

/// Certificate validation of the backend.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackendTLSValidation {
    /// ConfigMaps holding the trusted CA certificates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ca_certificate_refs: Vec<LocalObjectRef>,
    /// `System`: the Gateway's own trusted roots (a public ACME CA), instead of ConfigMaps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub well_known_ca_certificates: Option<String>,
    /// The SNI and the name verified in the backend's certificate.
    pub hostname: String,
}

/// A local object by group, kind and name.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalObjectRef {
    /// API group ("" for core).
    pub group: String,
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
}

/// The name the Gateway verifies: `backendTLS.hostname`, else the client Service's DNS name.
pub fn validation_hostname(cluster: &ValidatedCluster) -> String {
    cluster
        .spec()
        .gateway
        .as_ref()
        .and_then(|g| g.backend_tls.as_ref())
        .and_then(|b| b.hostname.clone())
        .filter(|h| !h.is_empty())
        // In ACME mode the certificate names the ACME domains, not the Service.
        .or_else(|| acme(cluster).and_then(|a| a.server_name()))
        .unwrap_or_else(|| {
            format!(
                "{}.{}.svc",
                cluster.names().client_service(),
                cluster.namespace()
            )
        })
}

fn acme(cluster: &ValidatedCluster) -> Option<&api::AcmeSpec> {
    let tls = &cluster.spec().tls;
    tls.acme.as_ref().filter(|_| tls.mode == api::TlsMode::Acme)
}

/// A public ACME CA's certificates are verified with the Gateway's own trusted roots (copying
/// every system root into a ConfigMap would trust the operator's bundle instead).
fn trusts_system_roots(cluster: &ValidatedCluster) -> bool {
    cluster.spec().acme_trust() == Some(api::AcmeTrust::SystemRoots)
}

/// The BackendTLSPolicy for `cluster`, or `None` when it is not wanted (see
/// `OpenBaoClusterSpec::backend_tls_enabled`).
pub fn backend_tls_policy(cluster: &ValidatedCluster) -> Option<BackendTLSPolicy> {
    if !cluster.spec().backend_tls_enabled() {
        return None;
    }
    let names = cluster.names();
    Some(BackendTLSPolicy {
        metadata: object_meta(cluster, names.backend_tls_policy()),
        spec: BackendTLSPolicySpec {
            target_refs: vec![PolicyTargetRef {
                group: String::new(),
                kind: "Service".to_string(),
                name: names.client_service(),
            }],
            validation: if trusts_system_roots(cluster) {
                BackendTLSValidation {
                    ca_certificate_refs: Vec::new(),
                    well_known_ca_certificates: Some("System".to_string()),
                    hostname: validation_hostname(cluster),
                }
            } else {
                BackendTLSValidation {
                    ca_certificate_refs: vec![LocalObjectRef {
                        group: String::new(),
                        kind: "ConfigMap".to_string(),
                        name: names.ca_config_map(),
                    }],
                    well_known_ca_certificates: None,
                    hostname: validation_hostname(cluster),
                }
            },
        },
    })
}

/// The ConfigMap with the CA certificate the policy trusts, or `None` when no policy is wanted
/// or the CA is not known yet (`facts.ca_pem`: known once the secrets stage ran; `render`
/// leaves it out).
pub fn ca_config_map(cluster: &ValidatedCluster, facts: &Facts) -> Option<ConfigMap> {
    if !cluster.spec().backend_tls_enabled() || trusts_system_roots(cluster) {
        return None;
    }
    let ca = facts.ca_pem.as_ref()?;
    Some(ConfigMap {
        metadata: object_meta(cluster, cluster.names().ca_config_map()),
        data: Some(BTreeMap::from([(CA_KEY.to_string(), ca.clone())])),
        ..ConfigMap::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    fn cluster(gateway_extra: &str) -> ValidatedCluster {
        let yaml = format!(
            "apiVersion: openbao.org/v1alpha1\nkind: OpenBaoCluster\nmetadata: {{name: bao, namespace: team}}\nspec:\n  version: \"2.7.2\"\n  gateway: {{enabled: true, gatewayRef: {{name: gw, namespace: edge}}, hostname: bao.example.com{gateway_extra}}}\n"
        );
        ValidatedCluster::new(serde_yaml::from_str(&yaml).expect("manifest parses"))
            .unwrap_or_else(|e| panic!("valid: {e}"))
    }

    fn facts() -> Facts {
        Facts::new("op", None).with_ca_pem(Some(CA.to_string()))
    }

    #[test]
    fn a_gateway_without_a_backend_tls_block_gets_a_policy_for_the_client_service_as_upstream() {
        let policy = backend_tls_policy(&cluster("")).expect("a policy by default");
        assert_eq!(
            policy.metadata.name.as_deref(),
            Some("bao-backend-tls-policy")
        );
        assert_eq!(
            policy.spec.target_refs,
            [PolicyTargetRef {
                group: String::new(),
                kind: "Service".to_string(),
                name: "bao".to_string()
            }]
        );
        assert_eq!(policy.spec.validation.hostname, "bao.team.svc");
        assert_eq!(
            policy.spec.validation.ca_certificate_refs[0].name,
            "bao-tls-ca"
        );
        assert_eq!(
            policy.spec.validation.ca_certificate_refs[0].kind,
            "ConfigMap"
        );
    }

    #[test]
    fn the_policy_verifies_the_hostname_the_user_names() {
        let policy = backend_tls_policy(&cluster(
            ", backendTLS: {enabled: true, hostname: vault.internal.example}",
        ))
        .expect("a policy");
        assert_eq!(policy.spec.validation.hostname, "vault.internal.example");
    }

    #[test]
    fn the_ca_config_map_holds_the_ca_certificate_only() {
        let map = ca_config_map(&cluster(""), &facts()).expect("a ConfigMap");
        assert_eq!(map.metadata.name.as_deref(), Some("bao-tls-ca"));
        let data = map.data.expect("data");
        assert_eq!(data.keys().collect::<Vec<_>>(), [CA_KEY]);
        assert_eq!(data[CA_KEY], CA);
        assert!(map.binary_data.is_none());
    }

    fn acme_cluster(acme_extra: &str) -> ValidatedCluster {
        let yaml = format!(
            "apiVersion: openbao.org/v1alpha1\nkind: OpenBaoCluster\nmetadata: {{name: bao, namespace: team}}\nspec:\n  version: \"2.7.2\"\n  replicas: 1\n  tls: {{mode: ACME, acme: {{directoryURL: \"https://acme.example.com/dir\", domains: [bao.example.com, bao.team.svc]{acme_extra}}}}}\n  gateway: {{enabled: true, gatewayRef: {{name: gw, namespace: edge}}, hostname: bao.example.com}}\n"
        );
        ValidatedCluster::new(serde_yaml::from_str(&yaml).expect("manifest parses"))
            .unwrap_or_else(|e| panic!("valid: {e}"))
    }

    #[test]
    fn in_acme_mode_the_policy_verifies_the_acme_domain_against_the_acme_roots() {
        // A public ACME CA: the Gateway's own roots, no ConfigMap of the operator's bundle.
        let public = acme_cluster("");
        let policy = backend_tls_policy(&public).expect("a policy");
        assert_eq!(policy.spec.validation.hostname, "bao.team.svc");
        assert_eq!(
            policy.spec.validation.well_known_ca_certificates.as_deref(),
            Some("System")
        );
        assert!(policy.spec.validation.ca_certificate_refs.is_empty());
        assert!(ca_config_map(&public, &facts()).is_none());
        // A private ACME CA: its root, published in the ConfigMap.
        let private = acme_cluster(", caSecretName: acme-root");
        let policy = backend_tls_policy(&private).expect("a policy");
        assert_eq!(policy.spec.validation.well_known_ca_certificates, None);
        assert_eq!(
            policy.spec.validation.ca_certificate_refs[0].name,
            "bao-tls-ca"
        );
        assert!(ca_config_map(&private, &facts()).is_some());
    }

    #[test]
    fn nothing_is_built_when_backend_tls_is_disabled_or_the_ca_is_unknown() {
        let disabled = cluster(", backendTLS: {enabled: false}");
        assert!(backend_tls_policy(&disabled).is_none());
        assert!(ca_config_map(&disabled, &facts()).is_none());
        assert!(ca_config_map(&cluster(""), &Facts::new("op", None)).is_none());
    }
}
