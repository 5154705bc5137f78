//! The Gateway API HTTPRoute created when `spec.gateway.enabled`. Gateway API types are not part
//! of k8s-openapi, so the fields the operator writes are modelled here.

use api::names;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ValidatedCluster, meta::object_meta};

/// The subset of `gateway.networking.k8s.io/v1` HTTPRoute spec the operator writes.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[kube(
    group = "gateway.networking.k8s.io",
    version = "v1",
    kind = "HTTPRoute",
    plural = "httproutes",
    namespaced,
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct HTTPRouteSpec {
    /// Gateways this route attaches to.
    pub parent_refs: Vec<ParentRef>,
    /// Hostnames matched by this route.
    pub hostnames: Vec<String>,
    /// Routing rules.
    pub rules: Vec<RouteRule>,
}

/// A reference to a Gateway (and optionally one of its listeners).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParentRef {
    /// Gateway name.
    pub name: String,
    /// Gateway namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Listener name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
}

/// One rule: path matches routed to backends.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteRule {
    /// Request matches.
    pub matches: Vec<RouteMatch>,
    /// Backends.
    pub backend_refs: Vec<BackendRef>,
}

/// A request match.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteMatch {
    /// Path match.
    pub path: PathMatch,
}

/// A path match.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PathMatch {
    /// PathPrefix.
    #[serde(rename = "type")]
    pub type_: String,
    /// The path.
    pub value: String,
}

/// A backend Service and port.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackendRef {
    /// Service name.
    pub name: String,
    /// Service port.
    pub port: i32,
}

/// The HTTPRoute for `cluster`, or `None` when the gateway is not enabled.
pub fn http_route(cluster: &ValidatedCluster) -> Option<HTTPRoute> {
    let gateway = cluster.spec().enabled_gateway()?;
    let gateway_ref = gateway.gateway_ref.as_ref()?;
    let names = cluster.names();
    let mut metadata = object_meta(cluster, names.http_route());
    if !gateway.annotations.is_empty() {
        metadata.annotations = Some(gateway.annotations.clone());
    }
    Some(HTTPRoute {
        metadata,
        spec: HTTPRouteSpec {
            parent_refs: vec![ParentRef {
                name: gateway_ref.name.clone(),
                namespace: Some(gateway_namespace(cluster)),
                section_name: gateway.listener_name.clone(),
            }],
            hostnames: gateway.hostname.iter().cloned().collect(),
            rules: vec![RouteRule {
                matches: vec![RouteMatch {
                    path: PathMatch {
                        type_: "PathPrefix".to_string(),
                        value: gateway.path.clone(),
                    },
                }],
                backend_refs: vec![BackendRef {
                    name: names.client_service(),
                    port: names::API_PORT,
                }],
            }],
        },
    })
}

/// Namespace of the Gateway: `spec.gateway.gatewayRef.namespace`, else the cluster's.
pub fn gateway_namespace(cluster: &ValidatedCluster) -> String {
    cluster
        .spec()
        .gateway
        .as_ref()
        .and_then(|g| g.gateway_ref.as_ref())
        .and_then(|r| r.namespace.clone())
        .unwrap_or_else(|| cluster.namespace().to_string())
}
