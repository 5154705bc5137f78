//! PodDisruptionBudget: at most one member down through voluntary disruptions (drains), so a
//! Raft cluster of three or more keeps quorum.

use k8s_openapi::{
    api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec},
    apimachinery::pkg::util::intstr::IntOrString,
};

use super::{
    ValidatedCluster,
    meta::{match_labels, object_meta},
};

/// The PDB for the server pods.
pub fn pod_disruption_budget(cluster: &ValidatedCluster) -> PodDisruptionBudget {
    let names = cluster.names();
    PodDisruptionBudget {
        metadata: object_meta(cluster, names.pdb()),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(match_labels(names.server_selector_labels())),
            // A sealed or crash-looping member is not serving anyway; let drains evict it.
            unhealthy_pod_eviction_policy: Some("AlwaysAllow".to_string()),
            ..PodDisruptionBudgetSpec::default()
        }),
        status: None,
    }
}
