//! Decoding, validation and warnings never panic, whatever the input: arbitrary JSON values,
//! arbitrary text as YAML, and the valid fixture with any one field replaced by anything.

mod common;

use common::*;
use proptest::prelude::*;
use serde_json::Value;

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[a-zA-Z0-9./:*@ _-]{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "openbao.org/v1alpha1",
            "OpenBaoCluster",
            "0.0.0.0/0",
            "10.0.0.0/8",
            "TCP",
            "In",
            "Exists",
            "static",
            "transit",
            "External",
            "s3",
            "filesystem",
            "720h",
            "10Gi",
            "* * * * *",
            "2.4.1",
            "https://x",
            "",
        ])
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "apiVersion",
                    "kind",
                    "metadata",
                    "name",
                    "spec",
                    "version",
                    "replicas",
                    "tls",
                    "mode",
                    "network",
                    "ingressRules",
                    "egressRules",
                    "from",
                    "to",
                    "ports",
                    "port",
                    "endPort",
                    "protocol",
                    "ipBlock",
                    "cidr",
                    "except",
                    "namespaceSelector",
                    "podSelector",
                    "matchLabels",
                    "matchExpressions",
                    "key",
                    "operator",
                    "values",
                    "unseal",
                    "type",
                    "backup",
                    "schedule",
                    "target",
                    "provider",
                    "gateway",
                    "enabled",
                    "x",
                ])
                .prop_map(str::to_string),
                inner,
                0..5,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every JSON pointer of `v`.
fn pointers(v: &Value, prefix: String, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let p = format!("{prefix}/{k}");
                out.push(p.clone());
                pointers(child, p, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let p = format!("{prefix}/{i}");
                out.push(p.clone());
                pointers(child, p, out);
            }
        }
        _ => {}
    }
}

fn exercise(v: Value) {
    if let Ok(cluster) = api::decode::cluster_from_value(v) {
        let _ = api::validate(&cluster);
        let _ = api::validate::warnings(&cluster);
        let _ = api::validate::validate_update(&valid_cluster(), &cluster);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_json_values_never_panic(v in arbitrary_json()) {
        exercise(v);
    }

    #[test]
    fn arbitrary_text_as_yaml_never_panics(s in "(?s).{0,200}") {
        let _ = api::decode::cluster_from_yaml_str(&s);
    }

    #[test]
    fn replacing_any_field_of_a_valid_manifest_never_panics(index in any::<prop::sample::Index>(), replacement in arbitrary_json()) {
        let mut v = valid_value();
        let mut all = Vec::new();
        pointers(&v, String::new(), &mut all);
        let pointer = index.get(&all).clone();
        if let Some(slot) = v.pointer_mut(&pointer) {
            *slot = replacement;
        }
        exercise(v);
    }

    #[test]
    fn arbitrary_strings_in_string_fields_never_panic(index in any::<prop::sample::Index>(), s in "(?s).{0,40}") {
        let mut v = valid_value();
        let mut all = Vec::new();
        pointers(&v, String::new(), &mut all);
        let strings: Vec<&String> = all.iter().filter(|p| v.pointer(p).is_some_and(Value::is_string)).collect();
        let pointer = index.get(&strings).to_string();
        if let Some(slot) = v.pointer_mut(&pointer) {
            *slot = Value::String(s);
        }
        exercise(v);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn format_rules_never_panic_on_any_string(s in "(?s).{0,64}") {
        use api::validate::rules::*;
        let _ = parse_quantity(&s);
        let _ = parse_go_duration(&s);
        let _ = parse_cron(&s);
        let _ = parse_cidr(&s);
        let _ = parse_ip(&s);
        let _ = check_image_reference(&s);
        let _ = check_http_url(&s);
        let _ = check_semver(&s);
        let _ = check_qualified_name(&s);
        let _ = check_label_value(&s);
        let _ = check_s3_bucket_name(&s);
        let _ = check_gcs_bucket_name(&s);
        let _ = check_azure_container_name(&s);
        let _ = is_dns_name(&s, true);
        let _ = is_iana_svc_name(&s);
        let _ = is_aws_region(&s);
    }

    #[test]
    fn format_rules_never_panic_on_near_miss_strings(s in "[0-9a-zA-Z.:/@*, +-]{0,24}") {
        use api::validate::rules::*;
        let _ = parse_quantity(&s);
        let _ = parse_go_duration(&s);
        let _ = parse_cron(&s);
        let _ = parse_cidr(&s);
        let _ = check_image_reference(&s);
        let _ = check_http_url(&s);
    }
}
