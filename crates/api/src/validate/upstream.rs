//! Upstream fields this operator does not build yet, or refuses on purpose: each set value is
//! an error naming the field, so nothing upstream defines is ever accepted and silently ignored.
//! Messages of features later work builds start with [`NOT_SUPPORTED_YET`].

use super::ValidationErrors;
use super::checks::json_of;
use crate::spec::{ControllerJwtMode, OpenBaoClusterSpec, UpgradeStrategy};

/// The start of every message about an upstream feature that is not built yet.
pub const NOT_SUPPORTED_YET: &str = "not supported yet";

/// Refuse every upstream feature `spec` sets that is not built yet.
pub(super) fn validate_not_yet_supported(spec: &OpenBaoClusterSpec, errs: &mut ValidationErrors) {
    let mut not_yet = |path: &str, value: String, feature: &str| {
        errs.add(path, value, format!("{NOT_SUPPORTED_YET}: {feature}"));
    };
    if let Some(read) = spec
        .read_replicas
        .as_ref()
        .filter(|r| r.replicas > 0 || r.service.as_ref().is_some_and(|s| s.enabled))
    {
        not_yet(
            "spec.readReplicas",
            json_of(read),
            "non-voting read replicas are not built; raise spec.replicas instead",
        );
    }
    const SELF_INIT: &str = "recovery-key ceremonies, policy reconciliation and per-cluster \
                             audiences are not built; the operator bootstraps its own identity \
                             and policy once";
    if let Some(keys) = spec.recovery_keys.as_ref().filter(|k| k.initial.is_some()) {
        not_yet("spec.recoveryKeys", json_of(keys), SELF_INIT);
    }
    if spec.reconcile_policies == Some(true) {
        not_yet("spec.reconcilePolicies", "true".into(), SELF_INIT);
    }
    if spec.controller_jwt_mode == Some(ControllerJwtMode::Target) {
        not_yet("spec.controllerJWTMode", "Target".into(), SELF_INIT);
    }
    if let Some(upgrade) = &spec.upgrade {
        const UPGRADES: &str = "rolling upgrades are built (one member at a time, the active \
                                member last, a pre-upgrade snapshot first when asked; see \
                                docs/upgrades.md); blue/green and upgrade requests are not yet";
        const NO_JOBS: &str = "the operator asks the active member to step down itself, under \
                               its own OpenBao role: there are no upgrade Jobs to configure; \
                               remove the field";
        if upgrade.strategy == UpgradeStrategy::BlueGreen {
            not_yet("spec.upgrade.strategy", "BlueGreen".into(), UPGRADES);
        }
        if let Some(blue_green) = &upgrade.blue_green {
            not_yet("spec.upgrade.blueGreen", json_of(blue_green), UPGRADES);
        }
        if let Some(requests) = &upgrade.requests {
            not_yet("spec.upgrade.requests", json_of(requests), UPGRADES);
        }
        if let Some(image) = &upgrade.image {
            not_yet("spec.upgrade.image", image.clone(), NO_JOBS);
        }
        if let Some(role) = &upgrade.jwt_auth_role {
            not_yet("spec.upgrade.jwtAuthRole", role.clone(), NO_JOBS);
        }
        if let Some(image) = &upgrade.executor_image {
            not_yet("spec.upgrade.executorImage", image.clone(), NO_JOBS);
        }
        if let Some(role) = &upgrade.kubernetes_auth_role {
            not_yet("spec.upgrade.kubernetesAuthRole", role.clone(), NO_JOBS);
        }
        if let Some(secret) = &upgrade.token_secret_ref {
            not_yet("spec.upgrade.tokenSecretRef", secret.name.clone(), NO_JOBS);
        }
    }
    if let Some(backup) = &spec.backup {
        if backup.target.provider != crate::spec::BackupProvider::S3 {
            not_yet(
                "spec.backup.target.provider",
                backup.target.provider.as_str().to_string(),
                "only s3 and S3-compatible stores are built; Google Cloud Storage serves an \
                 S3-compatible API at https://storage.googleapis.com (HMAC keys as accessKeyId \
                 and secretAccessKey), so provider s3 with that endpoint works",
            );
        }
        if let Some(test) = &backup.restore_test {
            not_yet(
                "spec.backup.restoreTest",
                json_of(test),
                "periodic restore tests into a disposable cluster are not built; verify \
                 snapshots with `openbao-operator backup verify` and restore with an \
                 OpenBaoRestore",
            );
        }
        if let Some(role) = &backup.kubernetes_auth_role {
            not_yet(
                "spec.backup.kubernetesAuthRole",
                role.clone(),
                "the backup Jobs log in with JWT (their projected ServiceAccount token); name \
                 the role in spec.backup.jwtAuthRole, or leave it unset for the operator's own \
                 backup role",
            );
        }
    }
    if spec
        .observability
        .as_ref()
        .and_then(|o| o.metrics.as_ref())
        .is_some_and(|m| m.enabled)
    {
        not_yet(
            "spec.observability.metrics.enabled",
            "true".into(),
            "ServiceMonitor objects are not created yet; OpenBao's Prometheus metrics are \
             served on /v1/sys/metrics regardless",
        );
    }
    for (path, verification) in [
        ("spec.imageVerification", &spec.image_verification),
        (
            "spec.operatorImageVerification",
            &spec.operator_image_verification,
        ),
    ] {
        if verification.as_ref().is_some_and(|v| v.enabled) {
            not_yet(
                &format!("{path}.enabled"),
                "true".into(),
                "Cosign image verification is not built yet; pin images by digest in \
                 spec.image instead",
            );
        }
    }
    if spec.configuration.disable_standby_reads == Some(true) {
        not_yet(
            "spec.configuration.disableStandbyReads",
            "true".into(),
            "standby reads are OpenBao's default and this setting is in no OpenBao 2.7 \
             configuration; remove it or set false",
        );
    }
    if spec
        .gateway
        .as_ref()
        .is_some_and(|g| g.tls_passthrough == Some(true))
    {
        not_yet(
            "spec.gateway.tlsPassthrough",
            "true".into(),
            "TLSRoute passthrough is not built yet; the HTTPRoute is used",
        );
    }
    if let Some(init) = &spec.init_container
        && !init.enabled
    {
        errs.add(
            "spec.initContainer.enabled",
            false,
            "must be true when set (upstream's rule); this operator renders the configuration \
             without an init container, so the field can simply be removed",
        );
    }
    if spec
        .configuration
        .listener
        .as_ref()
        .is_some_and(|l| l.tls_disable == Some(true))
    {
        errs.add(
            "spec.configuration.listener.tlsDisable",
            true,
            "must not be true: every flow of the network posture, Raft replication and the \
             operator's own calls assume TLS",
        );
    }
    if spec
        .telemetry
        .as_ref()
        .is_some_and(|t| t.circonus_api_key.is_some())
    {
        errs.add(
            "spec.telemetry.circonusAPIKey",
            "<redacted>",
            "must not be set: an API key in the spec would be stored in plain text in the \
             object and the rendered configuration; this operator keeps secrets out of specs",
        );
    }
}

/// Upstream's earlier spellings that have a current one: both at once is ambiguous; a Secret
/// reference's earlier `namespace` may only name the cluster's own namespace.
pub(super) fn validate_legacy_spellings(
    cluster: &crate::spec::OpenBaoCluster,
    errs: &mut ValidationErrors,
) {
    let spec = &cluster.spec;
    let namespace = cluster.metadata.namespace.as_deref().unwrap_or("default");
    if let Some(backup) = &spec.backup {
        for (path, secret) in [
            (
                "spec.backup.target.credentialsSecretRef.namespace",
                &backup.target.credentials_secret_ref,
            ),
            (
                "spec.backup.tokenSecretRef.namespace",
                &backup.token_secret_ref,
            ),
        ] {
            if let Some(other) = secret
                .as_ref()
                .and_then(|s| s.namespace.as_deref())
                .filter(|ns| *ns != namespace)
            {
                errs.add(
                    path,
                    other,
                    format!(
                        "must be the cluster's own namespace ({namespace}) or unset: Secrets are \
                         only read from the cluster's namespace"
                    ),
                );
            }
        }
    }
    if let Some(backup) = &spec.backup
        && backup.image.is_some()
        && backup.executor_image.is_some()
    {
        errs.add(
            "spec.backup.executorImage",
            backup.executor_image.as_deref().unwrap_or_default(),
            "is upstream's earlier name of spec.backup.image; set only spec.backup.image",
        );
    }
    if let (Some(runtime), Some(maintenance)) = (
        spec.runtime.as_ref().and_then(|r| r.restart_at.as_ref()),
        spec.maintenance
            .as_ref()
            .and_then(|m| m.restart_at.as_ref()),
    ) && runtime != maintenance
    {
        errs.add(
            "spec.maintenance.restartAt",
            maintenance,
            "is upstream's earlier place of spec.runtime.restartAt; set only \
             spec.runtime.restartAt",
        );
    }
    if !spec.unseal.options.is_empty() {
        errs.add(
            "spec.unseal.options",
            json_of(&spec.unseal.options),
            "upstream's earliest generic seal options are not accepted: set the options in \
             the block of the seal type (for example spec.unseal.transit), where each one is \
             checked",
        );
    }
}

/// Accepted fields that have no effect here, said as admission warnings.
pub(super) fn upstream_warnings(spec: &OpenBaoClusterSpec, out: &mut Vec<String>) {
    if spec.network.egress_rules.is_empty()
        && let Some((i, device)) = spec
            .audit
            .iter()
            .enumerate()
            .find(|(_, d)| !matches!(d.type_, crate::spec::AuditDeviceType::File))
    {
        out.push(format!(
            "spec.audit[{i}]: the {} device {:?} sends audit logs over the network but there \
             are no egress rules; the default-deny posture blocks it (and OpenBao blocks \
             requests it cannot audit), so add an egress rule for its destination",
            json_of(&device.type_).trim_matches('"'),
            device.path
        ));
    }
    if spec.network.egress_rules.is_empty()
        && let Some((i, plugin)) = spec
            .plugins
            .iter()
            .enumerate()
            .find(|(_, p)| p.image.is_some())
    {
        out.push(format!(
            "spec.plugins[{i}].image: OpenBao downloads {:?} from its registry at start-up but \
             there are no egress rules; the default-deny posture blocks the download, so add an \
             egress rule for the registry (usually 443)",
            plugin.image.as_deref().unwrap_or_default()
        ));
    }
    if !spec.plugins.is_empty()
        && !crate::validate::rules::version_at_least(&spec.version, (2, 7, 0))
        && spec
            .configuration
            .plugin
            .as_ref()
            .and_then(|p| p.auto_register)
            != Some(true)
    {
        out.push(
            "spec.configuration.plugin.autoRegister: OpenBao below 2.7.0 registers declared \
             plugins in its catalog only when autoRegister is true (args and env apply only \
             then); without it, register them through OpenBao's API"
                .to_string(),
        );
    }
    if spec.break_glass_ack.is_some() {
        out.push(
            "spec.breakGlassAck: has no effect: this operator has no break-glass mode".to_string(),
        );
    }
    if spec
        .init_container
        .as_ref()
        .is_some_and(|i| i.image.is_some())
    {
        out.push(
            "spec.initContainer.image: has no effect: this operator renders the configuration \
             without an init container"
                .to_string(),
        );
    }
    if spec
        .restore
        .as_ref()
        .is_some_and(|r| r.jwt_auth_role.is_some())
    {
        out.push(
            "spec.restore.jwtAuthRole: kept for restores, which are not built yet".to_string(),
        );
    }
}
