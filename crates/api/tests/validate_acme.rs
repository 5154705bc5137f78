//! `spec.tls.mode: ACME`: the directory, the domains, the account contact, the shared cache
//! that HA needs, where members find the issuer's root, and the posture warnings and Hardened
//! rule about reaching the directory. Each refusal names the field, the value and what is
//! allowed.

mod common;

use api::{AcmeTrust, validate::warnings};
use common::*;
use serde_json::{Value, json};

/// The fixture in ACME mode: one replica (no shared cache needed), a public CA.
fn acme(v: &mut Value) {
    set(v, "/spec/replicas", json!(1));
    set(
        v,
        "/spec/tls",
        json!({
            "mode": "ACME",
            "acme": {
                "directoryURL": "https://acme-v02.api.letsencrypt.org/directory",
                "domains": ["bao.example.com"],
                "email": "ops@example.com"
            }
        }),
    );
}

fn message_at(errors: &api::ValidationErrors, path: &str) -> String {
    errors
        .iter()
        .find(|e| e.path == path)
        .map(ToString::to_string)
        .unwrap_or_else(|| panic!("expected an error at {path}, got: {errors}"))
}

#[test]
fn an_acme_cluster_with_a_directory_and_a_domain_is_valid() {
    assert_valid_with(acme);
    let cluster = cluster_with(acme);
    assert_eq!(cluster.spec.acme_trust(), Some(AcmeTrust::SystemRoots));
}

#[test]
fn acme_mode_without_an_acme_block_is_refused() {
    let errors = errors_with(|v| {
        acme(v);
        remove(v, "/spec/tls/acme");
    });
    assert!(message_at(&errors, "spec.tls.acme").contains("required when spec.tls.mode is ACME"));
}

#[test]
fn the_directory_must_be_an_https_url() {
    for bad in [
        "http://acme.example.com/directory",
        "acme.example.com",
        "https://",
    ] {
        let errors = errors_with(|v| {
            acme(v);
            set(v, "/spec/tls/acme/directoryURL", json!(bad));
        });
        let message = message_at(&errors, "spec.tls.acme.directoryURL");
        assert!(
            message.contains(bad) && message.contains("https"),
            "{message}"
        );
    }
}

#[test]
fn domains_must_be_lowercase_dns_names_without_wildcards_ips_or_duplicates() {
    for (bad, why) in [
        ("Bao.Example.com", "lowercase DNS name"),
        ("*.example.com", "wildcard"),
        ("10.0.0.1", "no IP addresses"),
        ("bao.example.com.", "lowercase DNS name"),
    ] {
        let errors = errors_with(|v| {
            acme(v);
            set(v, "/spec/tls/acme/domains", json!(["ok.example.com", bad]));
        });
        let message = message_at(&errors, "spec.tls.acme.domains[1]");
        assert!(message.contains(why), "{bad}: {message}");
    }
    let errors = errors_with(|v| {
        acme(v);
        set(
            v,
            "/spec/tls/acme/domains",
            json!(["a.example.com", "a.example.com"]),
        );
    });
    assert!(
        message_at(&errors, "spec.tls.acme.domains[1]")
            .contains("duplicate of spec.tls.acme.domains[0]")
    );
}

#[test]
fn at_least_one_domain_is_required_and_the_earlier_single_domain_spelling_counts() {
    let errors = errors_with(|v| {
        acme(v);
        remove(v, "/spec/tls/acme/domains");
    });
    assert!(message_at(&errors, "spec.tls.acme.domains").contains("at least one DNS name"));
    assert_valid_with(|v| {
        acme(v);
        remove(v, "/spec/tls/acme/domains");
        set(v, "/spec/tls/acme/domain", json!("bao.example.com"));
    });
    let errors = errors_with(|v| {
        acme(v);
        set(v, "/spec/tls/acme/domain", json!("other.example.com"));
    });
    assert!(message_at(&errors, "spec.tls.acme.domain").contains("set only spec.tls.acme.domains"));
}

#[test]
fn the_account_email_must_be_an_address() {
    for bad in [
        "ops",
        "ops@",
        "@example.com",
        "ops@example",
        "a b@example.com",
        "ops@example.com,x@y.z",
    ] {
        let errors = errors_with(|v| {
            acme(v);
            set(v, "/spec/tls/acme/email", json!(bad));
        });
        assert!(
            message_at(&errors, "spec.tls.acme.email").contains("email address"),
            "{bad}"
        );
    }
}

#[test]
fn more_than_one_replica_needs_a_shared_cache_claim() {
    let errors = errors_with(|v| {
        acme(v);
        set(v, "/spec/replicas", json!(3));
    });
    let message = message_at(&errors, "spec.tls.acme.sharedCache");
    assert!(
        message.contains("spec.replicas is 3") && message.contains("ExistingPVC"),
        "{message}"
    );
    assert_valid_with(|v| {
        acme(v);
        set(v, "/spec/replicas", json!(3));
        set(
            v,
            "/spec/tls/acme/sharedCache",
            json!({"mode": "ExistingPVC", "existingClaimName": "bao-acme"}),
        );
    });
}

#[test]
fn a_managed_cache_claim_needs_its_size_and_existing_claims_are_checked() {
    assert_valid_with(|v| {
        acme(v);
        set(v, "/spec/replicas", json!(3));
        set(
            v,
            "/spec/tls/acme/sharedCache",
            json!({"mode": "ManagedPVC", "size": "1Gi", "storageClassName": "rwx"}),
        );
    });
    let errors = errors_with(|v| {
        acme(v);
        set(
            v,
            "/spec/tls/acme/sharedCache",
            json!({"mode": "ManagedPVC", "existingClaimName": "mine"}),
        );
    });
    assert!(
        message_at(&errors, "spec.tls.acme.sharedCache.size").contains("required"),
        "{errors}"
    );
    assert!(
        message_at(&errors, "spec.tls.acme.sharedCache.existingClaimName")
            .contains("<cluster>-acme-cache"),
        "{errors}"
    );
    let errors = errors_with(|v| {
        acme(v);
        set(
            v,
            "/spec/tls/acme/sharedCache",
            json!({"mode": "ExistingPVC", "size": "1Gi", "mountPath": "/x"}),
        );
    });
    assert_path(&errors, "spec.tls.acme.sharedCache.existingClaimName");
    assert!(
        message_at(&errors, "spec.tls.acme.sharedCache.size")
            .contains("only allowed when mode is ManagedPVC")
    );
    assert_path(&errors, "spec.tls.acme.sharedCache.mountPath");
}

#[test]
fn a_private_ca_root_comes_from_the_ca_secret_and_is_what_members_trust() {
    let cluster = cluster_with(|v| {
        acme(v);
        set(v, "/spec/tls/acme/caSecretName", json!("acme-root"));
        set(
            v,
            "/spec/configuration",
            json!({"acmeCARoot": "/etc/bao/acme-ca/ca.crt"}),
        );
    });
    api::validate(&cluster).expect("valid");
    assert_eq!(
        cluster.spec.acme_trust(),
        Some(AcmeTrust::Secret {
            secret: "acme-root".into(),
            key: "ca.crt".into(),
            file: "/etc/bao/acme-ca/ca.crt".into(),
        })
    );
}

#[test]
fn upstreams_convention_puts_the_issuer_root_beside_acme_ca_root_in_the_seal_credentials() {
    // The fixture's transit seal mounts transit-token at /etc/bao/seal-creds.
    let cluster = cluster_with(|v| {
        acme(v);
        set(
            v,
            "/spec/configuration",
            json!({"acmeCARoot": "/etc/bao/seal-creds/ca.crt"}),
        );
    });
    api::validate(&cluster).expect("valid");
    assert_eq!(
        cluster.spec.acme_trust(),
        Some(AcmeTrust::Secret {
            secret: "transit-token".into(),
            key: "pki-ca.crt".into(),
            file: "/etc/bao/seal-creds/pki-ca.crt".into(),
        })
    );
}

#[test]
fn an_acme_ca_root_the_pods_do_not_mount_is_refused_with_where_it_may_live() {
    let errors = errors_with(|v| {
        acme(v);
        set(
            v,
            "/spec/configuration",
            json!({"acmeCARoot": "/opt/ca.pem"}),
        );
    });
    let message = message_at(&errors, "spec.configuration.acmeCARoot");
    assert!(
        message.contains("/opt/ca.pem") && message.contains("caSecretName"),
        "{message}"
    );
    let errors = errors_with(|v| {
        acme(v);
        set(v, "/spec/unseal", json!({"type": "static"}));
        set(
            v,
            "/spec/configuration",
            json!({"acmeCARoot": "/etc/bao/seal-creds/ca.crt"}),
        );
    });
    assert!(message_at(&errors, "spec.configuration.acmeCARoot").contains("non-static"));
}

#[test]
fn acme_settings_are_refused_outside_acme_mode() {
    assert_invalid_at("spec.tls.acme", |v| {
        set(
            v,
            "/spec/tls/acme",
            json!({"directoryURL": "https://acme.example.com/dir", "domains": ["a.example.com"]}),
        );
    });
}

#[test]
fn acme_without_egress_rules_is_warned_in_development_and_refused_when_hardened() {
    let found = warnings(&cluster_with(|v| {
        acme(v);
        remove(v, "/spec/network/egressRules");
        remove(v, "/spec/network/ingressRules");
        set(v, "/spec/unseal", json!({"type": "static"}));
    }));
    assert!(
        found
            .iter()
            .any(|w| w.starts_with("spec.network.egressRules:") && w.contains("ACME directory")),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .any(|w| w.starts_with("spec.network.ingressRules:") && w.contains("TLS-ALPN-01")),
        "{found:#?}"
    );
    let errors = errors_with(|v| {
        acme(v);
        set(v, "/spec/profile", json!("Hardened"));
        remove(v, "/spec/network/egressRules");
    });
    assert!(
        message_at(&errors, "spec.network.egressRules").contains("ACME mode needs an egress rule")
    );
}

#[test]
fn acme_ca_root_outside_acme_mode_is_accepted_with_a_warning_that_it_has_no_effect() {
    let found = warnings(&cluster_with(|v| {
        set(
            v,
            "/spec/configuration",
            json!({"acmeCARoot": "/etc/bao/seal-creds/ca.crt"}),
        );
    }));
    assert!(
        found
            .iter()
            .any(|w| w.starts_with("spec.configuration.acmeCARoot: ignored")),
        "{found:#?}"
    );
}

#[test]
fn an_ingress_in_acme_mode_without_its_own_certificate_secret_is_warned_about() {
    let ingress = |secret: Option<&'static str>| {
        move |v: &mut Value| {
            acme(v);
            let mut spec = json!({"enabled": true, "host": "bao.example.com"});
            if let Some(secret) = secret {
                spec["tlsSecretName"] = json!(secret);
            }
            set(v, "/spec/ingress", spec);
        }
    };
    let warned = |cluster: api::OpenBaoCluster| {
        warnings(&cluster)
            .iter()
            .any(|w| w.starts_with("spec.ingress.tlsSecretName"))
    };
    assert!(warned(cluster_with(ingress(None))));
    assert!(!warned(cluster_with(ingress(Some("bao-edge-tls")))));
}
