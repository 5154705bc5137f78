//! The headless Service (stable per-pod DNS names for Raft and TLS) and the client Service.

use api::names;
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{ValidatedCluster, meta::object_meta};

/// Headless Service `<cluster>-internal`: DNS for every pod, published before pods are ready
/// because members must find each other to become ready at all.
pub fn headless(cluster: &ValidatedCluster) -> Service {
    let names = cluster.names();
    Service {
        metadata: object_meta(cluster, names.headless_service()),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_string()),
            publish_not_ready_addresses: Some(true),
            selector: Some(names.server_selector_labels()),
            ports: Some(vec![
                port("api", names::API_PORT),
                port("cluster", names::CLUSTER_PORT),
            ]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// Client Service `<cluster>` on 8200 (ready pods only: active and standbys, which forward).
pub fn client(cluster: &ValidatedCluster) -> Service {
    let names = cluster.names();
    let spec = &cluster.spec().service;
    let mut metadata = object_meta(cluster, names.client_service());
    if !spec.annotations.is_empty() {
        metadata.annotations = Some(spec.annotations.clone());
    }
    Service {
        metadata,
        spec: Some(ServiceSpec {
            type_: Some(spec.type_.as_str().to_string()),
            selector: Some(names.server_selector_labels()),
            ports: Some(vec![port("api", names::API_PORT)]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

fn port(name: &str, number: i32) -> ServicePort {
    ServicePort {
        name: Some(name.to_string()),
        port: number,
        target_port: Some(IntOrString::Int(number)),
        protocol: Some("TCP".to_string()),
        app_protocol: Some("https".to_string()),
        ..ServicePort::default()
    }
}
