//! `metadata`: the cluster's name and namespace.

use super::ValidationErrors;
use super::checks::check_label;
use super::rules;
use crate::names::MAX_CLUSTER_NAME_LEN;
use crate::spec::OpenBaoCluster;

pub(super) fn validate_metadata(cluster: &OpenBaoCluster, errs: &mut ValidationErrors) {
    match cluster.metadata.name.as_deref() {
        None | Some("") => errs.add(
            "metadata.name",
            "",
            format!(
                "required: a DNS-1035 label of at most {MAX_CLUSTER_NAME_LEN} characters, such \
                 as \"bao\""
            ),
        ),
        Some(name) => {
            if name.len() > MAX_CLUSTER_NAME_LEN {
                errs.add(
                    "metadata.name",
                    name,
                    format!(
                        "must be at most {MAX_CLUSTER_NAME_LEN} characters (it has {}): pod, \
                         Service and Job names and label values are derived from it (for \
                         example `<name>-backup-<timestamp>` and the StatefulSet's \
                         controller-revision-hash label), and Kubernetes limits those to 63",
                        name.len()
                    ),
                );
            }
            if !rules::is_dns1035_label_shape(name) {
                errs.add(
                    "metadata.name",
                    name,
                    "must be a DNS-1035 label: lowercase letters, digits and '-', starting with \
                     a letter and ending with a letter or digit (it names Services and DNS \
                     records)",
                );
            }
        }
    }
    if let Some(namespace) = cluster.metadata.namespace.as_deref()
        && !namespace.is_empty()
    {
        check_label(errs, "metadata.namespace", namespace, "a namespace name");
    }
}
