//! Object metadata shared by every builder: names, namespace, standard labels and the owner
//! reference that lets Kubernetes garbage-collect children with their cluster.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{ContainerPort, EnvVar, EnvVarSource, ObjectFieldSelector},
    apimachinery::pkg::apis::meta::v1::{
        LabelSelector, LabelSelectorRequirement, ObjectMeta, OwnerReference,
    },
};
use kube::Resource;

use super::ValidatedCluster;

/// Metadata for an object named `name` in the cluster's namespace, with the standard labels and,
/// when the cluster has a UID (it came from the API server), a controller owner reference.
pub fn object_meta(cluster: &ValidatedCluster, name: String) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some(cluster.namespace().to_string()),
        labels: Some(cluster.names().labels()),
        owner_references: owner_reference(cluster).map(|o| vec![o]),
        ..ObjectMeta::default()
    }
}

/// The controller owner reference to the cluster, if it has a UID.
pub fn owner_reference(cluster: &ValidatedCluster) -> Option<OwnerReference> {
    cluster.cluster().controller_owner_ref(&())
}

/// A selector with only `matchLabels`.
pub fn match_labels(labels: BTreeMap<String, String>) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels),
        match_expressions: None,
    }
}

/// A selector for a namespace by its immutable `kubernetes.io/metadata.name` label.
pub fn namespace_named(namespace: &str) -> LabelSelector {
    match_labels(BTreeMap::from([(
        api::names::LABEL_NAMESPACE_NAME.to_string(),
        namespace.to_string(),
    )]))
}

/// This cluster's OpenBao server pods: the cluster's labels, excluding backup/restore Job pods
/// (which carry the same labels plus `openbao.org/component`).
pub fn server_pods(cluster: &ValidatedCluster) -> LabelSelector {
    LabelSelector {
        match_labels: Some(cluster.names().selector_labels()),
        match_expressions: Some(vec![component_requirement("NotIn")]),
    }
}

/// This cluster's backup and restore Job pods.
pub fn job_pods(cluster: &ValidatedCluster) -> LabelSelector {
    LabelSelector {
        match_labels: Some(cluster.names().selector_labels()),
        match_expressions: Some(vec![component_requirement("In")]),
    }
}

fn component_requirement(operator: &str) -> LabelSelectorRequirement {
    LabelSelectorRequirement {
        key: api::names::LABEL_COMPONENT.to_string(),
        operator: operator.to_string(),
        values: Some(vec![
            api::names::COMPONENT_BACKUP.to_string(),
            api::names::COMPONENT_RESTORE.to_string(),
        ]),
    }
}

/// An environment variable from the downward API (`metadata.name`, `metadata.namespace`, ...).
pub fn field_env(name: &str, field_path: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: None,
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                api_version: None,
                field_path: field_path.to_string(),
            }),
            ..EnvVarSource::default()
        }),
    }
}

/// A named TCP container port.
pub fn container_port(name: &str, port: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.to_string()),
        container_port: port,
        protocol: Some("TCP".to_string()),
        ..ContainerPort::default()
    }
}
