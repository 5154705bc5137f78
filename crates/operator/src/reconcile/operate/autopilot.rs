//! `spec.configuration.raft.autopilot`: OpenBao's autopilot settings live in Raft, not in
//! `config.hcl`, so they are written through `sys/storage/raft/autopilot/configuration` once the
//! cluster is initialized, and again whenever OpenBao's values drift from the spec.

use api::spec::AutopilotConfiguration as Spec;
use bao_client::{AutopilotConfiguration, AutopilotConfigurationUpdate};

/// `want` when it differs from `have`.
fn wanted<T: PartialEq>(want: Option<T>, have: T) -> Option<T> {
    want.filter(|want| *want != have)
}

/// The update that brings `current` to what `spec` sets, or `None` when every field the spec
/// sets already holds its value (fields the spec leaves unset are OpenBao's to keep). Pure.
pub fn update_for(
    spec: &Spec,
    current: &AutopilotConfiguration,
) -> Option<AutopilotConfigurationUpdate> {
    // Validation has parsed every duration; one that does not parse is left alone here.
    let duration = |value: &Option<String>| {
        value
            .as_deref()
            .and_then(|v| api::validate::rules::parse_go_duration(v).ok())
    };
    let update = AutopilotConfigurationUpdate {
        cleanup_dead_servers: wanted(spec.cleanup_dead_servers, current.cleanup_dead_servers),
        dead_server_last_contact_threshold: duration(&spec.dead_server_last_contact_threshold)
            .filter(|d| Some(*d) != current.dead_server_last_contact_threshold),
        last_contact_threshold: duration(&spec.last_contact_threshold)
            .filter(|d| Some(*d) != current.last_contact_threshold),
        max_trailing_logs: wanted(
            spec.max_trailing_logs.and_then(|n| u64::try_from(n).ok()),
            current.max_trailing_logs,
        ),
        min_quorum: wanted(
            spec.min_quorum.and_then(|n| u32::try_from(n).ok()),
            current.min_quorum,
        ),
        server_stabilization_time: duration(&spec.server_stabilization_time)
            .filter(|d| Some(*d) != current.server_stabilization_time),
    };
    (update != AutopilotConfigurationUpdate::default()).then_some(update)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn openbao_defaults() -> AutopilotConfiguration {
        AutopilotConfiguration {
            cleanup_dead_servers: false,
            dead_server_last_contact_threshold: Some(Duration::from_secs(24 * 3600)),
            last_contact_threshold: Some(Duration::from_secs(10)),
            max_trailing_logs: 1000,
            min_quorum: 0,
            server_stabilization_time: Some(Duration::from_secs(10)),
        }
    }

    #[test]
    fn only_the_fields_that_differ_from_openbao_are_sent() {
        let spec = Spec {
            cleanup_dead_servers: Some(true),
            dead_server_last_contact_threshold: Some("10m".into()),
            min_quorum: Some(3),
            last_contact_threshold: Some("10s".into()),
            ..Spec::default()
        };
        let update = update_for(&spec, &openbao_defaults()).expect("an update");
        assert_eq!(
            update,
            AutopilotConfigurationUpdate {
                cleanup_dead_servers: Some(true),
                dead_server_last_contact_threshold: Some(Duration::from_secs(600)),
                min_quorum: Some(3),
                ..AutopilotConfigurationUpdate::default()
            }
        );
    }

    #[test]
    fn settings_that_already_hold_need_no_write() {
        let spec = Spec {
            max_trailing_logs: Some(1000),
            server_stabilization_time: Some("10s".into()),
            ..Spec::default()
        };
        assert_eq!(update_for(&spec, &openbao_defaults()), None);
        assert_eq!(update_for(&Spec::default(), &openbao_defaults()), None);
    }
}
