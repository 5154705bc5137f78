//! `spec.service`: the Service's annotations (and the annotation rules other objects share).

use super::{ValidationErrors, key_path, rules};
use crate::spec::ServiceSpec;

pub(super) fn validate_service(service: &ServiceSpec, errs: &mut ValidationErrors) {
    validate_annotations(&service.annotations, "spec.service.annotations", errs);
}

/// Annotations the user asks for on an object: qualified-name keys, at most 256KiB in all (the
/// API server's limit). Shared by the Service and the HTTPRoute.
pub(super) fn validate_annotations(
    annotations: &std::collections::BTreeMap<String, String>,
    base: &str,
    errs: &mut ValidationErrors,
) {
    const MAX_ANNOTATIONS_BYTES: usize = 256 * 1024;
    let mut total = 0usize;
    for (key, value) in annotations {
        total += key.len() + value.len();
        if let Err(why) = rules::check_qualified_name(key) {
            errs.add(
                key_path(base, key),
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
            base,
            format!("{total} bytes"),
            "annotations must total at most 256KiB",
        );
    }
}
