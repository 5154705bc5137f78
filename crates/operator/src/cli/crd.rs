//! `openbao-operator crd`: the CustomResourceDefinitions generated from the Rust types
//! (OpenBaoCluster, OpenBaoRestore, OpenBaoTenant), the source of the committed `deploy/crds/`
//! copies (one file per CRD, [`crd_files`]).

use std::process::ExitCode;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// Arguments of `crd` (none yet).
#[derive(clap::Args, Debug)]
pub struct CrdArgs {}

/// Every CRD the operator serves, OpenBaoCluster first.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        api::OpenBaoCluster::crd(),
        api::OpenBaoRestore::crd(),
        api::OpenBaoTenant::crd(),
    ]
}

/// One CRD as committed under `deploy/crds/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrdFile {
    /// `<group>_<plural>.yaml`, such as `openbao.org_openbaoclusters.yaml`.
    pub name: String,
    /// The CRD as YAML.
    pub yaml: String,
}

/// Every CRD as its own file, in the order of [`crds`].
pub fn crd_files() -> Result<Vec<CrdFile>, serde_yaml::Error> {
    crds()
        .iter()
        .map(|crd| {
            Ok(CrdFile {
                name: format!("{}_{}.yaml", crd.spec.group, crd.spec.names.plural),
                yaml: serde_yaml::to_string(crd)?,
            })
        })
        .collect()
}

/// Every CRD as one multi-document YAML stream (what `crd` prints): the files of
/// [`crd_files`], in order, separated by `---`.
pub fn crd_yaml() -> Result<String, serde_yaml::Error> {
    Ok(crd_files()?
        .into_iter()
        .map(|file| file.yaml)
        .collect::<Vec<_>>()
        .join("---\n"))
}

/// Print the CRDs.
pub fn run(_args: &CrdArgs) -> ExitCode {
    match crd_yaml() {
        Ok(yaml) => {
            print!("{yaml}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot serialize the CRDs: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_gets_its_own_file_named_after_its_group_and_plural() {
        let files = crd_files().expect("CRDs serialize");
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "openbao.org_openbaoclusters.yaml",
                "openbao.org_openbaorestores.yaml",
                "openbao.org_openbaotenants.yaml",
            ]
        );
        let stream = crd_yaml().expect("CRDs serialize");
        assert_eq!(stream.matches("\n---\n").count(), 2);
        assert!(stream.starts_with(&files[0].yaml));
    }
}
