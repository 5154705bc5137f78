//! Conversions from the Kubernetes API objects (`core/v1` Pod and Namespace) to the input model.

use std::net::IpAddr;

use k8s_openapi::api::core::v1 as core;

use crate::error::{FieldError, LoadError, ObjectRef};
use crate::model::{ContainerPort, Namespace, Pod, Protocol};
use crate::world::DEFAULT_NAMESPACE;

/// Converts a `v1/Namespace`: its name and labels.
pub fn namespace_from_k8s(namespace: &core::Namespace) -> Result<Namespace, Vec<LoadError>> {
    let name = namespace.metadata.name.clone().unwrap_or_default();
    if name.is_empty() {
        return Err(vec![LoadError::at(
            &ObjectRef::cluster("Namespace", ""),
            FieldError::new("metadata.name", "is required"),
        )]);
    }
    Ok(Namespace {
        name,
        labels: namespace.metadata.labels.clone().unwrap_or_default(),
    })
}

/// Converts a `v1/Pod`: namespace (`default` when omitted), name, labels, addresses from
/// `status.podIPs` and `status.podIP`, and the ports of `spec.containers` and
/// `spec.initContainers` (sidecar init containers can serve named ports too).
///
/// Every problem is reported: missing name, unparsable IP, out-of-range port, bad protocol.
pub fn pod_from_k8s(pod: &core::Pod) -> Result<Pod, Vec<LoadError>> {
    let namespace = pod
        .metadata
        .namespace
        .clone()
        .filter(|ns| !ns.is_empty())
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
    let name = pod.metadata.name.clone().unwrap_or_default();
    let object = ObjectRef::namespaced("Pod", &namespace, &name);
    let mut errors = Vec::new();
    if name.is_empty() {
        errors.push(FieldError::new("metadata.name", "is required"));
    }

    let mut ips: Vec<IpAddr> = Vec::new();
    let mut add_ip =
        |text: &str, field: String, errors: &mut Vec<FieldError>| match text.parse::<IpAddr>() {
            Ok(ip) => {
                if !ips.contains(&ip) {
                    ips.push(ip);
                }
            }
            Err(_) => errors.push(FieldError::new(
                field,
                format!("{text:?} is not an IPv4 or IPv6 address"),
            )),
        };
    if let Some(status) = &pod.status {
        if let Some(ip) = &status.pod_ip {
            add_ip(ip, "status.podIP".to_owned(), &mut errors);
        }
        for (i, ip) in status.pod_ips.iter().flatten().enumerate() {
            add_ip(&ip.ip, format!("status.podIPs[{i}].ip"), &mut errors);
        }
    }

    let mut ports = Vec::new();
    if let Some(spec) = &pod.spec {
        let groups = [
            ("containers", spec.containers.as_slice()),
            (
                "initContainers",
                spec.init_containers.as_deref().unwrap_or_default(),
            ),
        ];
        for (list, containers) in groups {
            for (c, container) in containers.iter().enumerate() {
                for (p, port) in container.ports.iter().flatten().enumerate() {
                    let at = format!("spec.{list}[{c}].ports[{p}]");
                    let number = match u16::try_from(port.container_port) {
                        Ok(n) if n != 0 => Some(n),
                        _ => {
                            errors.push(FieldError::new(
                                format!("{at}.containerPort"),
                                format!(
                                    "{} is not a valid port number; must be 1..=65535",
                                    port.container_port
                                ),
                            ));
                            None
                        }
                    };
                    let protocol = match port.protocol.as_deref() {
                        None => Some(Protocol::Tcp),
                        Some(text) => match text.parse() {
                            Ok(protocol) => Some(protocol),
                            Err(message) => {
                                errors.push(FieldError::new(format!("{at}.protocol"), message));
                                None
                            }
                        },
                    };
                    if let (Some(port_number), Some(protocol)) = (number, protocol) {
                        ports.push(ContainerPort {
                            name: port.name.clone().filter(|n| !n.is_empty()),
                            port: port_number,
                            protocol,
                        });
                    }
                }
            }
        }
    }

    if !errors.is_empty() {
        return Err(errors
            .into_iter()
            .map(|e| LoadError::at(&object, e))
            .collect());
    }
    Ok(Pod {
        namespace,
        name,
        labels: pod.metadata.labels.clone().unwrap_or_default(),
        ips,
        ports,
    })
}
