//! `spec.service`: the Service's annotations.

use super::{ValidationErrors, key_path, rules};
use crate::spec::ServiceSpec;

pub(super) fn validate_service(service: &ServiceSpec, errs: &mut ValidationErrors) {
    const MAX_ANNOTATIONS_BYTES: usize = 256 * 1024;
    let mut total = 0usize;
    for (key, value) in &service.annotations {
        total += key.len() + value.len();
        if let Err(why) = rules::check_qualified_name(key) {
            errs.add(
                key_path("spec.service.annotations", key),
                key,
                format!(
                    "annotation keys must be qualified names such as \
                     service.beta.kubernetes.io/aws-load-balancer-type: {why}"
                ),
            );
        }
    }
    if total > MAX_ANNOTATIONS_BYTES {
        errs.add(
            "spec.service.annotations",
            format!("{total} bytes"),
            "annotations must total at most 256KiB",
        );
    }
}
