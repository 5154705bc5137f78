//! `spec.configuration` and `spec.telemetry`: OpenBao server settings rendered into
//! `config.hcl` (Raft, logging, listener TLS, leases, plugins, telemetry sinks).

use super::ValidationErrors;
use super::rules;
use crate::spec::{
    AutopilotConfiguration, Configuration, OpenBaoClusterSpec, TelemetryConfiguration, TlsVersion,
};

pub(super) fn validate_configuration(spec: &OpenBaoClusterSpec, errs: &mut ValidationErrors) {
    let configuration = &spec.configuration;
    if let Some(m) = configuration.raft.performance_multiplier
        && !(1..=10).contains(&m)
    {
        errs.add(
            "spec.configuration.raft.performanceMultiplier",
            m,
            "must be between 1 (fastest elections) and 10; OpenBao's default is 5",
        );
    }
    validate_logging(configuration, errs);
    validate_leases(configuration, errs);
    if let Some(autopilot) = &configuration.raft.autopilot {
        validate_autopilot(autopilot, errs);
    }
    validate_listener(spec, errs);
    if let Some(plugin) = &configuration.plugin
        && let Some(permissions) = &plugin.file_permissions
        && !is_octal_mode(permissions)
    {
        errs.add(
            "spec.configuration.plugin.filePermissions",
            permissions,
            "must be an octal file mode such as 0755",
        );
    }
    for (path, value) in [
        ("spec.configuration.acmeCARoot", &configuration.acme_ca_root),
        (
            "spec.configuration.logging.file",
            &configuration.logging.as_ref().and_then(|l| l.file.clone()),
        ),
        (
            "spec.configuration.logging.pidFile",
            &configuration
                .logging
                .as_ref()
                .and_then(|l| l.pid_file.clone()),
        ),
    ] {
        if let Some(value) = value {
            check_absolute_path(errs, path, value);
        }
    }
    if let Some(telemetry) = &spec.telemetry {
        validate_telemetry(telemetry, errs);
    }
}

fn validate_logging(configuration: &Configuration, errs: &mut ValidationErrors) {
    if let Some(duration) = configuration
        .logging
        .as_ref()
        .and_then(|l| l.rotate_duration.as_ref())
    {
        check_duration(errs, "spec.configuration.logging.rotateDuration", duration);
    }
}

/// Autopilot settings, written to OpenBao's autopilot configuration once it is initialized.
fn validate_autopilot(autopilot: &AutopilotConfiguration, errs: &mut ValidationErrors) {
    let prefix = "spec.configuration.raft.autopilot";
    for (field, value) in [
        (
            "deadServerLastContactThreshold",
            &autopilot.dead_server_last_contact_threshold,
        ),
        (
            "serverStabilizationTime",
            &autopilot.server_stabilization_time,
        ),
        ("lastContactThreshold", &autopilot.last_contact_threshold),
    ] {
        if let Some(value) = value {
            check_duration(errs, &format!("{prefix}.{field}"), value);
        }
    }
    if let Some(min) = autopilot.min_quorum
        && min < 3
    {
        errs.add(
            format!("{prefix}.minQuorum"),
            min,
            "must be at least 3: autopilot never prunes dead servers below this many voters",
        );
    }
    if let Some(logs) = autopilot.max_trailing_logs
        && logs < 0
    {
        errs.add(
            format!("{prefix}.maxTrailingLogs"),
            logs,
            "must be 0 or more log entries",
        );
    }
}

fn validate_leases(configuration: &Configuration, errs: &mut ValidationErrors) {
    let default = configuration
        .default_lease_ttl
        .as_ref()
        .and_then(|d| check_duration(errs, "spec.configuration.defaultLeaseTTL", d));
    let max = configuration
        .max_lease_ttl
        .as_ref()
        .and_then(|d| check_duration(errs, "spec.configuration.maxLeaseTTL", d));
    if let (Some(default), Some(max)) = (default, max)
        && default > max
    {
        errs.add(
            "spec.configuration.defaultLeaseTTL",
            configuration
                .default_lease_ttl
                .as_deref()
                .unwrap_or_default(),
            "must not exceed spec.configuration.maxLeaseTTL",
        );
    }
}

/// Listener TLS: versions in order, key-exchange groups that TLS 1.2 clients can use unless
/// TLS 1.3 is the floor, and the OpenBao release that knows the setting.
fn validate_listener(spec: &OpenBaoClusterSpec, errs: &mut ValidationErrors) {
    let Some(listener) = &spec.configuration.listener else {
        return;
    };
    let p = "spec.configuration.listener";
    if listener.proxy_protocol_behavior == Some(crate::spec::ProxyProtocolBehavior::AllowAny) {
        errs.add(
            format!("{p}.proxyProtocolBehavior"),
            "allow_any",
            "OpenBao 2.7 refuses to start with allow_any; use use_always, allow_authorized or \
             deny_unauthorized",
        );
    }
    if let (Some(min), Some(max)) = (listener.tls_min_version, listener.tls_max_version)
        && min > max
    {
        errs.add(
            format!("{p}.tlsMaxVersion"),
            max.as_str(),
            format!("must not be lower than tlsMinVersion ({})", min.as_str()),
        );
    }
    let Some(groups) = &listener.tls_key_exchange_preferences else {
        return;
    };
    let path = format!("{p}.tlsKeyExchangePreferences");
    if groups.is_empty() {
        errs.add(&path, "[]", "must list at least one group when set");
    }
    for (i, group) in groups.iter().enumerate() {
        if groups[..i].contains(group) {
            errs.add(
                format!("{path}[{i}]"),
                group.as_str(),
                "duplicate group; list each once",
            );
        }
    }
    if !groups.is_empty()
        && !groups.iter().any(|g| g.is_classical())
        && listener.tls_min_version != Some(TlsVersion::Tls13)
    {
        errs.add(
            &path,
            groups
                .iter()
                .map(|g| g.as_str())
                .collect::<Vec<_>>()
                .join(","),
            "lists only hybrid post-quantum groups, which TLS 1.2 cannot use: add a classical \
             group (X25519, CurveP256, CurveP384, CurveP521) or set tlsMinVersion to tls13",
        );
    }
    if !rules::version_at_least(&spec.version, (2, 7, 0)) {
        errs.add(
            &path,
            &spec.version,
            "requires OpenBao 2.7.0 or later (spec.version)",
        );
    }
}

fn validate_telemetry(t: &TelemetryConfiguration, errs: &mut ValidationErrors) {
    for (field, value) in [
        ("prometheusRetentionTime", &t.prometheus_retention_time),
        ("leaseMetricsEpsilon", &t.lease_metrics_epsilon),
        (
            "circonusSubmissionInterval",
            &t.circonus_submission_interval,
        ),
    ] {
        if let Some(value) = value {
            check_duration(errs, &format!("spec.telemetry.{field}"), value);
        }
    }
    if let Some(period) = &t.usage_gauge_period
        && period != "none"
    {
        check_duration(errs, "spec.telemetry.usageGaugePeriod", period);
    }
}

/// A Go duration at `path`; `Some(duration)` when it parses.
fn check_duration(
    errs: &mut ValidationErrors,
    path: &str,
    value: &str,
) -> Option<std::time::Duration> {
    match rules::parse_go_duration(value) {
        Ok(d) => Some(d),
        Err(why) => {
            errs.add(
                path,
                value,
                format!("{why}; must be a duration such as 30s, 24h or 768h"),
            );
            None
        }
    }
}

fn check_absolute_path(errs: &mut ValidationErrors, path: &str, value: &str) {
    if !value.starts_with('/') || value.chars().any(char::is_control) {
        errs.add(
            path,
            value,
            "must be an absolute file path such as /openbao/logs/openbao.log",
        );
    }
}

fn is_octal_mode(value: &str) -> bool {
    (3..=4).contains(&value.len()) && value.bytes().all(|b| (b'0'..=b'7').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::rules::version_at_least as at_least;

    #[test]
    fn version_floors_compare_numerically_and_exclude_pre_releases_of_the_floor() {
        assert!(at_least("2.7.0", (2, 7, 0)));
        assert!(at_least("2.10.1", (2, 7, 0)));
        assert!(!at_least("2.7.0-beta1", (2, 7, 0)));
        assert!(!at_least("2.6.9", (2, 7, 0)));
        assert!(at_least("3.0.0-rc1", (2, 7, 0)));
    }
}
