//! Installing the operator's CRDs into a test control plane, shared by both support trees
//! (`support/mod.rs` and `support/manager.rs`).

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{
    Api, Client, ResourceExt,
    api::{Patch, PatchParams},
};

/// How long a CRD may take to be established.
const CRD_SETTLE: Duration = Duration::from_secs(60);

/// Install the CRDs (OpenBaoCluster, OpenBaoRestore, OpenBaoTenant) and wait until the API
/// server serves them.
pub async fn install_crds(client: &Client, field_manager: &str) {
    let ssa = PatchParams::apply(field_manager).force();
    let crds = Api::<CustomResourceDefinition>::all(client.clone());
    for crd in operator::cli::crd::crds() {
        let name = crd.name_any();
        crds.patch(&name, &ssa, &Patch::Apply(&crd))
            .await
            .unwrap_or_else(|e| panic!("install CRD {name}: {e}"));
        localcluster::eventually(
            &format!("the CRD {name} to be established"),
            CRD_SETTLE,
            || {
                let (crds, name) = (crds.clone(), name.clone());
                async move {
                    let crd = crds.get(&name).await?;
                    let established = crd.status.and_then(|s| s.conditions).is_some_and(|c| {
                        c.iter()
                            .any(|c| c.type_ == "Established" && c.status == "True")
                    });
                    Ok(established.then_some(()))
                }
            },
        )
        .await
        .expect("CRD established");
    }
}
