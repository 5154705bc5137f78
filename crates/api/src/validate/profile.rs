//! `spec.profile`: what the Hardened profile refuses (upstream's rules, checked here so the
//! webhook and the reconciler agree), and the settings that make a cluster a security risk.

use k8s_openapi::api::networking::v1::NetworkPolicyPeer;

use super::ValidationErrors;
use super::rules;
use crate::spec::{OpenBaoClusterSpec, Profile, TlsMode, UnsealType};

/// The effective profile: unset behaves as Development.
pub fn effective_profile(spec: &OpenBaoClusterSpec) -> Profile {
    spec.profile.unwrap_or(Profile::Development)
}

/// Refuse what the Hardened profile forbids.
pub(super) fn validate_profile(spec: &OpenBaoClusterSpec, errs: &mut ValidationErrors) {
    if effective_profile(spec) == Profile::Hardened {
        hardened_rules(spec, errs);
    }
}

/// What the Hardened profile would refuse in `spec`, whatever its profile: the settings that
/// make a Development cluster a security risk (its `SecurityRisk` condition lists them).
pub fn hardened_findings(spec: &OpenBaoClusterSpec) -> ValidationErrors {
    let mut errs = ValidationErrors::default();
    hardened_rules(spec, &mut errs);
    errs
}

fn hardened_rules(spec: &OpenBaoClusterSpec, errs: &mut ValidationErrors) {
    let mut hardened = |path: &str, value: String, why: &str| {
        errs.add(
            path,
            value,
            format!("refused by the Hardened profile: {why}"),
        );
    };
    if spec.tls.mode == TlsMode::OperatorManaged {
        hardened(
            "spec.tls.mode",
            "OperatorManaged".into(),
            "use External (certificates from your PKI) or ACME, or the Development profile",
        );
    }
    if spec.tls.mode == TlsMode::Acme && spec.network.egress_rules.is_empty() {
        hardened(
            "spec.network.egressRules",
            "[]".into(),
            "ACME mode needs an egress rule that names the ACME directory (its address and \
             port 443): the default-deny posture blocks every other destination",
        );
    }
    if spec.unseal.type_ == UnsealType::Static {
        hardened(
            "spec.unseal.type",
            "static".into(),
            "a static key lives in a Kubernetes Secret next to the data it protects; use a KMS \
             or HSM seal (transit, awskms, gcpckms, azurekeyvault, kmip, kms, ocikms, pkcs11)",
        );
    }
    if let Some(kms) = spec.unseal.kms.as_ref().filter(|k| !k.config.is_empty()) {
        hardened(
            "spec.unseal.kms.config",
            format!("{} key(s)", kms.config.len()),
            "must be empty: plugin settings come from the credentials Secret",
        );
    }
    for (i, plugin) in spec.plugins.iter().enumerate() {
        if plugin.sha256sum.is_none() {
            hardened(
                &format!("spec.plugins[{i}].sha256sum"),
                String::new(),
                "required: OpenBao runs only a plugin binary whose SHA-256 matches, whatever \
                 OpenBao could infer (a digest pins the image, not the binary it runs)",
            );
        }
        if let Some(image) = plugin
            .image
            .as_ref()
            .filter(|_| spec.network.egress_rules.is_empty())
        {
            hardened(
                &format!("spec.plugins[{i}].image"),
                image.clone(),
                "an OCI plugin is downloaded from its registry at start-up, which needs \
                 spec.network.egressRules naming the registry and its port",
            );
        }
    }
    if !spec.self_init.as_ref().is_some_and(|s| s.enabled) {
        hardened(
            "spec.selfInit.enabled",
            "false".into(),
            "must be true: a Hardened cluster initializes itself and no root token exists",
        );
    }
    if spec.replicas < 3 {
        hardened(
            "spec.replicas",
            spec.replicas.to_string(),
            "at least 3 replicas are required so Raft keeps quorum when a member fails",
        );
    }
    if !spec.network.ingress_rules.is_empty() {
        hardened(
            "spec.network.ingressRules",
            format!("{} rule(s)", spec.network.ingress_rules.len()),
            "use spec.network.trustedIngressPeers, which opens only the API port to named peers",
        );
    }
    if spec.enabled_gateway().is_some_and(|g| {
        g.tls_passthrough != Some(true)
            && g.backend_tls.as_ref().and_then(|b| b.enabled) == Some(false)
    }) {
        hardened(
            "spec.gateway.backendTLS.enabled",
            "false".into(),
            "the Gateway must speak verified TLS to OpenBao (a BackendTLSPolicy); remove \
             backendTLS.enabled or set it true",
        );
    }
    if spec.enabled_ingress().is_some() && spec.network.trusted_ingress_peers.is_empty() {
        hardened(
            "spec.network.trustedIngressPeers",
            "[]".into(),
            "spec.ingress.enabled needs at least one entry naming the Ingress controller's pods, \
             so port 8200 is opened to them only",
        );
    }
    for (i, rule) in spec.network.egress_rules.iter().enumerate() {
        let path = format!("spec.network.egressRules[{i}]");
        let to = rule.to.as_deref().unwrap_or_default();
        let ports = rule.ports.as_deref().unwrap_or_default();
        if to.is_empty() {
            hardened(
                &format!("{path}.to"),
                "[]".into(),
                "an egress rule must name its destinations (an empty list allows every address)",
            );
        }
        if ports.is_empty() || ports.iter().any(|p| p.port.is_none()) {
            hardened(
                &format!("{path}.ports"),
                serde_json::to_string(&rule.ports).unwrap_or_default(),
                "an egress rule must name every port (no list, or a port without a number, \
                 allows all ports)",
            );
        }
        for (j, peer) in to.iter().enumerate() {
            if let Some(why) = wildcard_peer(peer) {
                hardened(
                    &format!("{path}.to[{j}]"),
                    serde_json::to_string(peer).unwrap_or_default(),
                    why,
                );
            }
        }
    }
    for (i, peer) in spec.network.trusted_ingress_peers.iter().enumerate() {
        if let Some(why) = wildcard_peer(peer) {
            hardened(
                &format!("spec.network.trustedIngressPeers[{i}]"),
                serde_json::to_string(peer).unwrap_or_default(),
                why,
            );
        }
    }
    if let Some(backup) = &spec.backup {
        if spec.network.egress_rules.is_empty() {
            hardened(
                "spec.network.egressRules",
                "[]".into(),
                "a cluster with spec.backup needs explicit egress rules for its object store",
            );
        }
        let target = &backup.target;
        if let Some(endpoint) = target
            .endpoint
            .as_deref()
            .filter(|e| !(e.starts_with("https://") || e.starts_with("s3://")))
        {
            hardened(
                "spec.backup.target.endpoint",
                endpoint.into(),
                "the object store must be reached over https",
            );
        }
        let identity = target.credentials_secret_ref.is_some()
            || target.role_arn.as_deref().is_some_and(|r| !r.is_empty())
            || target.workload_identity.as_ref().is_some_and(|w| {
                !w.service_account_annotations.is_empty() || !w.pod_labels.is_empty()
            });
        if !identity {
            hardened(
                "spec.backup.target",
                target.bucket.clone(),
                "needs an explicit storage identity: credentialsSecretRef, roleArn or \
                 workloadIdentity",
            );
        }
    }
    let c = &spec.configuration;
    for (path, value) in [
        ("spec.configuration.detectDeadlocks", c.detect_deadlocks),
        (
            "spec.configuration.rawStorageEndpoint",
            c.raw_storage_endpoint,
        ),
        (
            "spec.configuration.introspectionEndpoint",
            c.introspection_endpoint,
        ),
        (
            "spec.configuration.unsafeAllowAPIAuditCreation",
            c.unsafe_allow_api_audit_creation,
        ),
    ] {
        if value == Some(true) {
            hardened(path, "true".into(), "a debugging or unsafe endpoint");
        }
    }
    for (path, verification) in [
        ("spec.imageVerification", &spec.image_verification),
        (
            "spec.operatorImageVerification",
            &spec.operator_image_verification,
        ),
    ] {
        if verification.as_ref().is_some_and(|v| !v.enabled) {
            hardened(
                &format!("{path}.enabled"),
                "false".into(),
                "a verification block that is present must be enabled",
            );
        }
        if let Some(policy) = verification
            .as_ref()
            .and_then(|v| v.failure_policy.as_deref())
            .filter(|p| *p == "Warn")
        {
            hardened(
                &format!("{path}.failurePolicy"),
                policy.into(),
                "a failed verification must block the image",
            );
        }
    }
    if let Some(sc) = &spec.security_context {
        let p = "spec.securityContext";
        if sc.run_as_non_root == Some(false) {
            hardened(
                &format!("{p}.runAsNonRoot"),
                "false".into(),
                "pods run as non-root",
            );
        }
        if sc
            .seccomp_profile
            .as_ref()
            .is_some_and(|s| s.type_ == "Unconfined")
        {
            hardened(
                &format!("{p}.seccompProfile.type"),
                "Unconfined".into(),
                "use RuntimeDefault or Localhost",
            );
        }
        for (field, id) in [
            ("runAsUser", sc.run_as_user),
            ("runAsGroup", sc.run_as_group),
            ("fsGroup", sc.fs_group),
        ] {
            if id == Some(0) {
                hardened(&format!("{p}.{field}"), "0".into(), "root IDs are refused");
            }
        }
        if sc
            .supplemental_groups
            .as_ref()
            .is_some_and(|g| g.contains(&0))
        {
            hardened(
                &format!("{p}.supplementalGroups"),
                "0".into(),
                "the root group is refused",
            );
        }
        if sc.sysctls.as_ref().is_some_and(|s| !s.is_empty()) {
            hardened(&format!("{p}.sysctls"), "set".into(), "sysctls are refused");
        }
        if sc.windows_options.is_some() {
            hardened(
                &format!("{p}.windowsOptions"),
                "set".into(),
                "Windows options are refused",
            );
        }
    }
}

/// Why `peer` selects too much for a Hardened cluster, if it does.
fn wildcard_peer(peer: &NetworkPolicyPeer) -> Option<&'static str> {
    let selects = |s: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>| {
        s.as_ref().map(|s| {
            s.match_labels.as_ref().is_some_and(|m| !m.is_empty())
                || s.match_expressions.as_ref().is_some_and(|e| !e.is_empty())
        })
    };
    if let Some(block) = &peer.ip_block {
        return match rules::parse_cidr(&block.cidr) {
            Ok(net) if net.prefix_len() == 0 => {
                Some("an ipBlock must not cover every address (prefix length 0)")
            }
            _ => None,
        };
    }
    match (
        selects(&peer.namespace_selector),
        selects(&peer.pod_selector),
    ) {
        (Some(false), _) => Some("an empty namespaceSelector selects every namespace"),
        (None, Some(false)) => Some("an empty podSelector selects every pod of the namespace"),
        (None, None) => Some("a peer must select namespaces, pods or an address block"),
        _ => None,
    }
}
