//! `openbao-operator crd`: the CustomResourceDefinition generated from the Rust types, the source
//! of the committed `deploy/crds/` copy.

use std::process::ExitCode;

use kube::CustomResourceExt;

/// Arguments of `crd` (none yet).
#[derive(clap::Args, Debug)]
pub struct CrdArgs {}

/// The CRD as YAML.
pub fn crd_yaml() -> Result<String, serde_yaml::Error> {
    serde_yaml::to_string(&api::OpenBaoCluster::crd())
}

/// Print the CRD.
pub fn run(_args: &CrdArgs) -> ExitCode {
    match crd_yaml() {
        Ok(yaml) => {
            print!("{yaml}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot serialize the CRD: {e}");
            ExitCode::FAILURE
        }
    }
}
