//! The `networking.k8s.io/v1` Ingress created when `spec.ingress.enabled`: one rule for the
//! host and path to the client Service on 8200, TLS for the host, and the user's annotations.
//! Which controller pods may reach 8200 is the user's `network.trustedIngressPeers`, never a
//! flow of the core posture.

use api::names;
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
};

use super::{ValidatedCluster, meta::object_meta};

/// The TLS Secret the Ingress serves its host with: `spec.ingress.tlsSecretName`, else the
/// Secret the OpenBao pods mount (upstream's default; its certificate then names the host, see
/// `pki::server_sans`).
pub fn tls_secret(cluster: &ValidatedCluster) -> Option<String> {
    let ingress = cluster.spec().enabled_ingress()?;
    Some(match ingress.tls_secret_name() {
        Some(name) => name.to_string(),
        None => cluster.names().tls_secret(&cluster.spec().tls),
    })
}

/// The Ingress for `cluster`, or `None` when `spec.ingress` is not enabled.
pub fn ingress(cluster: &ValidatedCluster) -> Option<Ingress> {
    let spec = cluster.spec().enabled_ingress()?;
    let names = cluster.names();
    let mut metadata = object_meta(cluster, names.ingress());
    if !spec.annotations.is_empty() {
        metadata.annotations = Some(spec.annotations.clone());
    }
    Some(Ingress {
        metadata,
        spec: Some(IngressSpec {
            ingress_class_name: spec.class_name().map(str::to_string),
            rules: Some(vec![IngressRule {
                host: Some(spec.host.clone()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some(spec.path().to_string()),
                        path_type: spec.path_type.unwrap_or_default().as_str().to_string(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: names.client_service(),
                                port: Some(ServiceBackendPort {
                                    number: Some(names::API_PORT),
                                    name: None,
                                }),
                            }),
                            resource: None,
                        },
                    }],
                }),
            }]),
            tls: Some(vec![IngressTLS {
                hosts: Some(vec![spec.host.clone()]),
                secret_name: tls_secret(cluster),
            }]),
            default_backend: None,
        }),
        status: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(ingress: &str) -> ValidatedCluster {
        let yaml = format!(
            "apiVersion: openbao.org/v1alpha1\nkind: OpenBaoCluster\nmetadata: {{name: bao, namespace: team}}\nspec:\n  version: \"2.7.2\"\n  ingress: {ingress}\n"
        );
        ValidatedCluster::new(serde_yaml::from_str(&yaml).expect("manifest parses"))
            .unwrap_or_else(|e| panic!("valid: {e}"))
    }

    #[test]
    fn an_ingress_is_built_for_the_host_and_path_to_the_client_service_on_8200() {
        let ingress = ingress(&cluster(
            "{enabled: true, className: nginx, host: bao.example.com, path: /bao, pathType: Exact, \
             tlsSecretName: edge-tls, annotations: {nginx.ingress.kubernetes.io/backend-protocol: HTTPS}}",
        ))
        .expect("an Ingress");
        assert_eq!(ingress.metadata.name.as_deref(), Some("bao"));
        assert_eq!(ingress.metadata.namespace.as_deref(), Some("team"));
        assert_eq!(
            ingress
                .metadata
                .annotations
                .as_ref()
                .map(|a| a["nginx.ingress.kubernetes.io/backend-protocol"].as_str()),
            Some("HTTPS")
        );
        let spec = ingress.spec.expect("spec");
        assert_eq!(spec.ingress_class_name.as_deref(), Some("nginx"));
        let rule = &spec.rules.expect("rules")[0];
        assert_eq!(rule.host.as_deref(), Some("bao.example.com"));
        let path = &rule.http.as_ref().expect("http").paths[0];
        assert_eq!(path.path.as_deref(), Some("/bao"));
        assert_eq!(path.path_type, "Exact");
        let backend = path.backend.service.as_ref().expect("service backend");
        assert_eq!(backend.name, "bao");
        assert_eq!(backend.port.as_ref().and_then(|p| p.number), Some(8200));
        let tls = &spec.tls.expect("tls")[0];
        assert_eq!(
            tls.hosts.as_deref(),
            Some(&["bao.example.com".to_string()][..])
        );
        assert_eq!(tls.secret_name.as_deref(), Some("edge-tls"));
    }

    #[test]
    fn the_defaults_are_prefix_slash_the_default_class_and_the_clusters_own_tls_secret() {
        let ingress = ingress(&cluster(
            "{enabled: true, host: bao.example.com, className: \"\"}",
        ))
        .expect("an Ingress");
        assert!(ingress.metadata.annotations.is_none());
        let spec = ingress.spec.expect("spec");
        assert_eq!(spec.ingress_class_name, None);
        let rules = spec.rules.expect("rules");
        let path = &rules[0].http.as_ref().expect("http").paths[0];
        assert_eq!(path.path.as_deref(), Some("/"));
        assert_eq!(path.path_type, "Prefix");
        assert_eq!(
            spec.tls.expect("tls")[0].secret_name.as_deref(),
            Some("bao-tls-server")
        );
    }

    #[test]
    fn no_ingress_is_built_while_it_is_disabled() {
        assert!(ingress(&cluster("{enabled: false, host: bao.example.com}")).is_none());
        assert!(tls_secret(&cluster("{enabled: false}")).is_none());
    }
}
