//! `spec.version`, `spec.image` and `spec.replicas`: what the StatefulSet runs and how many.

use super::ValidationErrors;
use super::rules;
use crate::spec::OpenBaoClusterSpec;

pub(super) fn validate_version(version: &str, errs: &mut ValidationErrors) {
    if let Err(why) = rules::check_semver(version) {
        errs.add(
            "spec.version",
            version,
            format!(
                "{why}; must be a semantic version X.Y.Z with an optional pre-release, such as \
                 2.4.1 or 2.5.0-beta1, without a leading \"v\""
            ),
        );
    }
}

pub(super) fn validate_image(image: &str, errs: &mut ValidationErrors) {
    if let Err(why) = rules::check_image_reference(image) {
        errs.add(
            "spec.image",
            image,
            format!(
                "{why}; must be an image reference [registry/]repository[:tag][@sha256:digest] \
                 with a lowercase repository, such as quay.io/openbao/openbao:2.4.1"
            ),
        );
    }
}

/// `spec.replicas`: the number of OpenBao pods, which are the Raft members.
pub(super) fn validate_replicas(spec: &OpenBaoClusterSpec, errs: &mut ValidationErrors) {
    if !(1..=9).contains(&spec.replicas) {
        errs.add(
            "spec.replicas",
            spec.replicas,
            "must be between 1 and 9; an odd number (3 or 5) is recommended so Raft keeps \
             quorum when a member fails",
        );
    }
}
