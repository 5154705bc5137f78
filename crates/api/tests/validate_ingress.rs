//! `spec.ingress` and `spec.gateway.backendTLS`: bad values are refused naming the field, the
//! value and what is allowed; the Hardened profile refuses what upstream's refuses; legal but
//! non-working settings are warned about.

mod common;

use api::validate::warnings;
use common::*;
use serde_json::{Value, json};

const PEERS: &str = "/spec/network/trustedIngressPeers";

fn with_ingress(v: &mut Value, ingress: Value) {
    set(v, "/spec/ingress", ingress);
    set(
        v,
        PEERS,
        json!([{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}]),
    );
}

fn ingress(extra: Value) -> Value {
    let mut base = json!({
        "enabled": true,
        "host": "bao.example.com",
        "annotations": {"nginx.ingress.kubernetes.io/backend-protocol": "HTTPS"}
    });
    if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
        base.extend(extra.clone());
    }
    base
}

/// The message of the error at `path` after `change`, which must exist.
fn message_at(path: &str, change: impl FnOnce(&mut Value)) -> String {
    let errors = errors_with(change);
    errors
        .iter()
        .find(|e| e.path == path)
        .map(ToString::to_string)
        .unwrap_or_else(|| panic!("expected an error at {path}, got: {errors}"))
}

#[test]
fn a_complete_ingress_and_a_backend_tls_block_are_accepted() {
    assert_valid_with(|v| {
        with_ingress(
            v,
            ingress(
                json!({"className": "nginx", "path": "/bao", "pathType": "Exact",
                           "tlsSecretName": "edge-tls", "readinessMode": "Created"}),
            ),
        );
        set(
            v,
            "/spec/gateway/backendTLS",
            json!({"enabled": true, "hostname": "bao.team.svc"}),
        );
    });
    // A disabled Ingress is not checked, as upstream.
    assert_valid_with(|v| set(v, "/spec/ingress", json!({"enabled": false, "host": ""})));
}

#[test]
fn an_empty_or_ip_or_ported_host_is_refused_naming_the_field() {
    let m = message_at("spec.ingress.host", |v| {
        with_ingress(v, ingress(json!({"host": ""})))
    });
    assert!(m.contains("required"), "{m}");
    for (host, expected) in [
        ("192.0.2.1", "not an IP address"),
        ("bao.example.com:443", "must not include a port"),
        ("Bao_Example", "lowercase DNS name"),
    ] {
        let m = message_at("spec.ingress.host", |v| {
            with_ingress(v, ingress(json!({"host": host})))
        });
        assert!(m.contains(expected) && m.contains(host), "{host}: {m}");
    }
    assert_valid_with(|v| with_ingress(v, ingress(json!({"host": "*.example.com"}))));
}

#[test]
fn a_path_must_be_absolute_and_plain_unless_its_type_is_implementation_specific() {
    let m = message_at("spec.ingress.path", |v| {
        with_ingress(v, ingress(json!({"path": "bao"})))
    });
    assert!(m.contains("must start with '/'"), "{m}");
    for path in ["/a//b", "/a/../b", "/a%2Fb", "/bao(/|$)(.*)"] {
        let m = message_at("spec.ingress.path", |v| {
            with_ingress(v, ingress(json!({"path": path})))
        });
        assert!(m.contains("pathType Prefix"), "{path}: {m}");
    }
    assert_valid_with(|v| {
        with_ingress(
            v,
            ingress(json!({"path": "/bao(/|$)(.*)", "pathType": "ImplementationSpecific"})),
        )
    });
}

#[test]
fn an_unknown_path_type_or_readiness_mode_is_refused_at_decoding_with_the_allowed_values() {
    for (field, value, allowed) in [
        ("pathType", "Regex", "ImplementationSpecific"),
        ("readinessMode", "Ready", "LoadBalancerPublished"),
    ] {
        let errors = decode_errors_with(|v| with_ingress(v, ingress(json!({field: value}))));
        let path = format!("spec.ingress.{field}");
        let e = errors
            .iter()
            .find(|e| e.path == path)
            .unwrap_or_else(|| panic!("expected an error at {path}, got: {errors}"));
        let text = e.to_string();
        assert!(text.contains(value) && text.contains(allowed), "{text}");
    }
}

#[test]
fn a_bad_class_name_tls_secret_or_annotation_key_is_refused_naming_the_field() {
    assert_invalid_at("spec.ingress.className", |v| {
        with_ingress(v, ingress(json!({"className": "Nginx_Class"})))
    });
    assert_invalid_at("spec.ingress.tlsSecretName", |v| {
        with_ingress(v, ingress(json!({"tlsSecretName": "bad/secret"})))
    });
    assert_invalid_at("spec.ingress.annotations[\"bad key\"]", |v| {
        with_ingress(v, ingress(json!({"annotations": {"bad key": "x"}})))
    });
    // An empty className means the default class, as upstream.
    assert_valid_with(|v| with_ingress(v, ingress(json!({"className": ""}))));
}

#[test]
fn a_backend_tls_hostname_must_be_a_plain_dns_name() {
    for host in ["*.example.com", "10.0.0.1", "Bao.Example"] {
        let m = message_at("spec.gateway.backendTLS.hostname", |v| {
            set(v, "/spec/gateway/backendTLS", json!({"hostname": host}))
        });
        assert!(m.contains(host), "{m}");
    }
}

#[test]
fn backend_tls_is_on_by_default_for_an_enabled_gateway_as_upstream() {
    assert!(valid_cluster().spec.backend_tls_enabled());
    let off = cluster_with(|v| set(v, "/spec/gateway/backendTLS", json!({"enabled": false})));
    assert!(!off.spec.backend_tls_enabled());
    let block = cluster_with(|v| set(v, "/spec/gateway/backendTLS", json!({"hostname": "x.y"})));
    assert!(block.spec.backend_tls_enabled());
    let no_gateway = cluster_with(|v| set(v, "/spec/gateway/enabled", json!(false)));
    assert!(!no_gateway.spec.backend_tls_enabled());
}

#[test]
fn the_hardened_profile_refuses_a_gateway_without_backend_tls_and_an_ingress_without_peers() {
    let errors = errors_with(|v| {
        set(v, "/spec/profile", json!("Hardened"));
        set(v, "/spec/gateway/backendTLS", json!({"enabled": false}));
        set(v, "/spec/ingress", ingress(json!({})));
    });
    assert_path(&errors, "spec.gateway.backendTLS.enabled");
    assert_path(&errors, "spec.network.trustedIngressPeers");
    let errors = errors_with(|v| {
        set(v, "/spec/profile", json!("Hardened"));
        with_ingress(v, ingress(json!({})));
    });
    assert!(
        !errors
            .iter()
            .any(|e| e.path == "spec.network.trustedIngressPeers"
                || e.path == "spec.gateway.backendTLS.enabled"),
        "{errors}"
    );
}

#[test]
fn an_ingress_without_peers_or_an_https_backend_annotation_is_warned_about() {
    let mut v = valid_value();
    remove(&mut v, "/spec/network/ingressRules");
    set(
        &mut v,
        "/spec/ingress",
        json!({"enabled": true, "host": "bao.example.com"}),
    );
    let found = warnings(&api::decode::cluster_from_value(v).expect("decodes"));
    assert!(
        found
            .iter()
            .any(|w| w.starts_with("spec.ingress.enabled:") && w.contains("trustedIngressPeers")),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .any(|w| w.starts_with("spec.ingress.annotations:") && w.contains("backend-protocol")),
        "{found:#?}"
    );
    let mut v = valid_value();
    with_ingress(&mut v, ingress(json!({})));
    let found = warnings(&api::decode::cluster_from_value(v).expect("decodes"));
    assert!(
        !found.iter().any(|w| w.starts_with("spec.ingress")),
        "{found:#?}"
    );
    // Traefik is told on the Service, as in upstream's Ingress sample.
    let mut v = valid_value();
    with_ingress(&mut v, json!({"enabled": true, "host": "bao.example.com"}));
    set(
        &mut v,
        "/spec/service/annotations",
        json!({"traefik.ingress.kubernetes.io/service.serversscheme": "https"}),
    );
    let found = warnings(&api::decode::cluster_from_value(v).expect("decodes"));
    assert!(
        !found.iter().any(|w| w.starts_with("spec.ingress")),
        "{found:#?}"
    );
}
