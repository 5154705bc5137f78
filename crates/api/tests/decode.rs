//! Decoding manifests: shape errors name the full field path, the offending value and what is
//! allowed; unknown fields are rejected even inside the k8s-openapi NetworkPolicy types.

mod common;

use api::decode::{DOCUMENT_PATH, cluster_from_value, cluster_from_yaml_str};
use common::*;
use serde_json::json;

#[test]
fn the_full_fixture_decodes_from_yaml_and_from_json() {
    let from_yaml = cluster_from_yaml_str(VALID).expect("valid YAML decodes");
    let from_json = cluster_from_value(valid_value()).expect("valid JSON decodes");
    assert_eq!(from_yaml, from_json);
    assert_eq!(from_yaml.metadata.name.as_deref(), Some("bao"));
}

#[test]
fn a_minimal_manifest_decodes_with_defaults() {
    let cluster = cluster_from_yaml_str(
        "apiVersion: openbao.org/v1alpha1\nkind: OpenBaoCluster\nmetadata:\n  name: bao\nspec:\n  version: 2.4.1\n",
    )
    .expect("minimal manifest decodes");
    assert_eq!(cluster.spec.replicas, 3);
    assert_eq!(cluster.spec.storage.size, "10Gi");
}

#[test]
fn an_unknown_spec_field_is_reported_with_its_path_and_the_allowed_fields() {
    let errors = decode_errors_with(|v| set(v, "/spec/replica", json!(3)));
    assert_path(&errors, "spec.replica");
    let e = errors
        .iter()
        .find(|e| e.path == "spec.replica")
        .expect("error");
    assert_eq!(e.value, "3");
    assert!(
        e.message
            .starts_with("unknown field; allowed fields are profile, version, image"),
        "{e}"
    );
}

#[test]
fn an_unknown_nested_field_names_the_full_path() {
    let errors = decode_errors_with(|v| set(v, "/spec/backup/target/bukket", json!("x")));
    assert_path(&errors, "spec.backup.target.bukket");
}

#[test]
fn a_wrong_type_names_the_path_the_value_and_the_expected_type() {
    let errors = decode_errors_with(|v| set(v, "/spec/replicas", json!("three")));
    let e = errors
        .iter()
        .find(|e| e.path == "spec.replicas")
        .expect("error");
    assert_eq!(e.value, "three");
    assert!(e.message.contains("expected an integer"), "{e}");
}

#[test]
fn a_fractional_port_is_a_type_error_at_the_port_path() {
    let errors =
        decode_errors_with(|v| set(v, "/spec/network/ingressRules/0/ports/0/port", json!(80.5)));
    let e = errors
        .iter()
        .find(|e| e.path == "spec.network.ingressRules[0].ports[0].port")
        .expect("error");
    assert_eq!(e.value, "80.5");
    assert!(e.message.contains("a port number or a named port"), "{e}");
}

#[test]
fn an_unknown_enum_value_lists_the_allowed_values() {
    let errors = decode_errors_with(|v| set(v, "/spec/tls/mode", json!("Manual")));
    let e = errors
        .iter()
        .find(|e| e.path == "spec.tls.mode")
        .expect("error");
    assert_eq!(e.value, "Manual");
    assert!(e.message.contains("OperatorManaged, External"), "{e}");
}

#[test]
fn an_unknown_unseal_type_is_reported_at_spec_unseal_type() {
    let errors = decode_errors_with(|v| set(v, "/spec/unseal/type", json!("hsm")));
    assert_path(&errors, "spec.unseal.type");
}

#[test]
fn a_missing_required_field_names_the_field_itself() {
    let errors = decode_errors_with(|v| remove(v, "/spec/version"));
    assert_path(&errors, "spec.version");
    let errors = decode_errors_with(|v| remove(v, "/spec/backup/target/bucket"));
    assert_path(&errors, "spec.backup.target.bucket");
}

#[test]
fn a_wrong_api_version_is_reported_at_api_version() {
    let errors = decode_errors_with(|v| set(v, "/apiVersion", json!("openbao.org/v1")));
    let e = errors
        .iter()
        .find(|e| e.path == "apiVersion")
        .expect("error");
    assert_eq!(e.value, "openbao.org/v1");
    assert!(e.message.contains("openbao.org/v1alpha1"));
}

#[test]
fn a_wrong_kind_is_reported_at_kind() {
    let errors = decode_errors_with(|v| set(v, "/kind", json!("openbaocluster")));
    assert_path(&errors, "kind");
    let errors = decode_errors_with(|v| remove(v, "/kind"));
    assert_path(&errors, "kind");
}

#[test]
fn a_missing_metadata_name_is_reported() {
    let errors = decode_errors_with(|v| remove(v, "/metadata/name"));
    assert_path(&errors, "metadata.name");
}

#[test]
fn metadata_that_is_not_a_mapping_is_rejected() {
    let errors = decode_errors_with(|v| set(v, "/metadata", json!("bao")));
    assert_path(&errors, "metadata");
    let errors = decode_errors_with(|v| set(v, "/metadata", json!(null)));
    assert_path(&errors, "metadata");
}

#[test]
fn unknown_metadata_and_top_level_fields_are_rejected() {
    let errors = decode_errors_with(|v| set(v, "/metadata/nmae", json!("x")));
    assert_path(&errors, "metadata.nmae");
    let errors = decode_errors_with(|v| set(v, "/specs", json!({})));
    assert_path(&errors, "specs");
}

#[test]
fn an_unknown_field_inside_a_network_policy_peer_is_rejected() {
    let errors = decode_errors_with(|v| {
        set(
            v,
            "/spec/network/ingressRules/0/from/0/namespaceSelectr",
            json!({}),
        )
    });
    let e = errors
        .iter()
        .find(|e| e.path == "spec.network.ingressRules[0].from[0].namespaceSelectr")
        .expect("error");
    assert!(
        e.message
            .contains("ipBlock, namespaceSelector, podSelector"),
        "{e}"
    );
}

#[test]
fn unknown_fields_in_rules_ports_ip_blocks_and_selectors_are_rejected() {
    let cases = [
        (
            "/spec/network/ingressRules/0/form",
            "spec.network.ingressRules[0].form",
        ),
        (
            "/spec/network/egressRules/0/ports/0/proto",
            "spec.network.egressRules[0].ports[0].proto",
        ),
        (
            "/spec/network/egressRules/0/to/0/ipBlock/exclude",
            "spec.network.egressRules[0].to[0].ipBlock.exclude",
        ),
        (
            "/spec/network/ingressRules/0/from/0/podSelector/matchExpressions/0/value",
            "spec.network.ingressRules[0].from[0].podSelector.matchExpressions[0].value",
        ),
        (
            "/spec/network/ingressRules/0/from/0/namespaceSelector/matchLabel",
            "spec.network.ingressRules[0].from[0].namespaceSelector.matchLabel",
        ),
        (
            "/spec/backup/egressRules/0/too",
            "spec.backup.egressRules[0].too",
        ),
    ];
    for (pointer, path) in cases {
        let errors = decode_errors_with(|v| set(v, pointer, json!("x")));
        assert_path(&errors, path);
    }
}

#[test]
fn every_decode_error_found_before_typing_is_reported() {
    let errors = decode_errors_with(|v| {
        set(v, "/apiVersion", json!("v1"));
        set(v, "/kind", json!("Secret"));
        set(v, "/spec/network/ingressRules/0/from/0/bogus", json!(1));
        set(v, "/spec/unknown", json!(1));
    });
    for path in [
        "apiVersion",
        "kind",
        "spec.network.ingressRules[0].from[0].bogus",
        "spec.unknown",
    ] {
        assert_path(&errors, path);
    }
}

#[test]
fn documents_that_are_not_mappings_or_not_yaml_are_rejected_at_the_document() {
    for input in ["", "- a\n- b\n", "just a string", "a: b\n---\nc: d\n"] {
        let errors = cluster_from_yaml_str(input).expect_err("not a manifest");
        assert_path(&errors, DOCUMENT_PATH);
    }
    let errors = cluster_from_value(json!(42)).expect_err("not a manifest");
    assert_path(&errors, DOCUMENT_PATH);
}

#[test]
fn a_yaml_syntax_error_names_where_parsing_stopped_and_the_line() {
    let errors = cluster_from_yaml_str("spec:\n  tls: [unclosed\n").expect_err("not YAML");
    assert_path(&errors, "spec.tls");
    assert!(errors.0[0].message.contains("line"), "{errors}");
}

#[test]
fn a_map_key_with_dots_is_quoted_in_the_path() {
    let errors = decode_errors_with(|v| {
        set(
            v,
            "/spec/service/annotations",
            json!({"example.com/owner": 5}),
        )
    });
    assert_path(&errors, "spec.service.annotations[\"example.com/owner\"]");
}

#[test]
fn an_out_of_range_integer_is_reported_with_its_value() {
    let errors = decode_errors_with(|v| set(v, "/spec/replicas", json!(99_999_999_999i64)));
    let e = errors
        .iter()
        .find(|e| e.path == "spec.replicas")
        .expect("error");
    assert_eq!(e.value, "99999999999");
}
