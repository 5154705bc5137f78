//! `spec.configuration`: OpenBao server settings (Raft).

use super::ValidationErrors;
use crate::spec::Configuration;

pub(super) fn validate_configuration(configuration: &Configuration, errs: &mut ValidationErrors) {
    if let Some(m) = configuration.raft.performance_multiplier
        && !(1..=10).contains(&m)
    {
        errs.add(
            "spec.configuration.raft.performanceMultiplier",
            m,
            "must be between 1 (fastest elections) and 10; OpenBao's default is 5",
        );
    }
}
