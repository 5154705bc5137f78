//! `warnings`: legal but risky settings, each naming its field path.

mod common;

use api::validate::warnings;
use common::*;
use serde_json::json;

fn warnings_with(change: impl FnOnce(&mut serde_json::Value)) -> Vec<String> {
    warnings(&cluster_with(change))
}

fn assert_warns(warnings: &[String], path: &str) {
    assert!(
        warnings.iter().any(|w| w.starts_with(&format!("{path}:"))),
        "expected a warning for {path}, got {warnings:#?}"
    );
}

#[test]
fn the_full_fixture_raises_no_warning() {
    assert_eq!(warnings(&valid_cluster()), Vec::<String>::new());
}

#[test]
fn fields_without_effect_here_are_named_in_warnings() {
    let w = warnings_with(|v| {
        set(v, "/spec/breakGlassAck", json!("abc"));
        set(
            v,
            "/spec/initContainer",
            json!({"enabled": true, "image": "example.com/init:1"}),
        );
    });
    assert_warns(&w, "spec.breakGlassAck");
    assert_warns(&w, "spec.initContainer.image");
}

#[test]
fn an_ingress_peer_open_to_every_address_is_named() {
    for any in ["0.0.0.0/0", "::/0"] {
        let w = warnings_with(|v| {
            set(
                v,
                "/spec/network/ingressRules/0/from/1/ipBlock",
                json!({"cidr": any}),
            )
        });
        assert_warns(&w, "spec.network.ingressRules[0].from[1].ipBlock.cidr");
    }
}

#[test]
fn an_empty_namespace_selector_selecting_every_namespace_is_named() {
    let w = warnings_with(|v| {
        set(
            v,
            "/spec/network/ingressRules/0/from/0/namespaceSelector",
            json!({}),
        )
    });
    assert_warns(&w, "spec.network.ingressRules[0].from[0].namespaceSelector");
}

#[test]
fn kube_system_ingress_left_on_suggests_turning_it_off() {
    let w = warnings_with(|v| remove(v, "/spec/network/kubeSystemIngress"));
    assert_warns(&w, "spec.network.kubeSystemIngress");
    assert!(w.iter().any(|w| w.contains("false")));
}

#[test]
fn an_even_replica_count_warns_about_raft_quorum() {
    let w = warnings_with(|v| set(v, "/spec/replicas", json!(4)));
    assert_warns(&w, "spec.replicas");
    assert!(w.iter().any(|w| w.contains("Raft")));
}

#[test]
fn a_single_replica_warns_about_high_availability() {
    let w = warnings_with(|v| set(v, "/spec/replicas", json!(1)));
    assert_warns(&w, "spec.replicas");
}

#[test]
fn external_tls_reminds_that_the_ca_is_on_the_user() {
    let w = warnings_with(|v| {
        set(
            v,
            "/spec/tls",
            json!({"mode": "External", "externalSecretName": "bao-tls"}),
        )
    });
    assert_warns(&w, "spec.tls.mode");
}

#[test]
fn a_kms_seal_without_egress_rules_reminds_to_add_one() {
    let w = warnings_with(|v| remove(v, "/spec/network/egressRules"));
    assert_warns(&w, "spec.network.egressRules");
    let w = warnings_with(|v| {
        remove(v, "/spec/network/egressRules");
        set(v, "/spec/unseal", json!({"type": "static"}));
    });
    assert!(
        !w.iter().any(|w| w.starts_with("spec.network.egressRules:")),
        "{w:#?}"
    );
}

#[test]
fn rules_without_peers_open_to_everything_are_named() {
    let w = warnings_with(|v| {
        set(
            v,
            "/spec/network/ingressRules/0",
            json!({"ports": [{"port": 8200}]}),
        )
    });
    assert_warns(&w, "spec.network.ingressRules[0].from");
    let w = warnings_with(|v| set(v, "/spec/backup/egressRules/0", json!({})));
    assert_warns(&w, "spec.backup.egressRules[0].to");
}

#[test]
fn an_exposed_service_without_ingress_rules_is_named() {
    let w = warnings_with(|v| {
        set(v, "/spec/service/type", json!("LoadBalancer"));
        remove(v, "/spec/network/ingressRules");
    });
    assert_warns(&w, "spec.service.type");
}

#[test]
fn an_api_server_cidr_wider_than_a_slash_sixteen_is_named() {
    let w = warnings_with(|v| set(v, "/spec/network/apiServerCIDR", json!("10.0.0.0/8")));
    assert_warns(&w, "spec.network.apiServerCIDR");
    for narrow in ["10.96.0.1/32", "10.96.0.0/16", "fd00::1/128"] {
        let w = warnings_with(|v| set(v, "/spec/network/apiServerCIDR", json!(narrow)));
        assert!(
            !w.iter()
                .any(|w| w.starts_with("spec.network.apiServerCIDR")),
            "{narrow}: {w:#?}"
        );
    }
}

#[test]
fn revoking_the_root_token_of_a_self_initialized_cluster_is_named_as_without_effect() {
    let w = warnings_with(|v| {
        set(v, "/spec/selfInit", json!({"enabled": true}));
        set(v, "/spec/initialization", json!({"revokeRootToken": true}));
    });
    assert_warns(&w, "spec.initialization.revokeRootToken");
    let plain = warnings_with(|v| set(v, "/spec/initialization", json!({"revokeRootToken": true})));
    assert!(
        !plain.iter().any(|w| w.contains("revokeRootToken")),
        "{plain:#?}"
    );
}

#[test]
fn an_unknown_field_under_initialization_is_refused_by_its_path() {
    let errors = decode_errors_with(|v| {
        set(v, "/spec/initialization", json!({"revokeRootTokens": true}));
    });
    assert_path(&errors, "spec.initialization.revokeRootTokens");
}
