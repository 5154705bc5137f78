//! Two clusters in one namespace must never derive the same object: cluster `x`'s Job policy
//! `x-jobs-network-policy` is the main policy of a cluster named `x-jobs`, and `x-internal`'s
//! client Service is `x`'s headless Service. For any two valid names, including a name plus
//! each suffix the operator appends, either nothing collides or the webhook refuses the
//! second cluster, naming both.
//!
//! `ClusterNames::derived_objects` is checked against what the real builders render (and the
//! Secrets the StatefulSet mounts), so the list cannot drift from them; the two Secrets only
//! the reconciler's IO writes (the CA and the root token) are the documented difference.

#[path = "support/fixtures.rs"]
mod fixtures;

use std::collections::BTreeSet;

use api::names::{self, ClusterNames, MAX_CLUSTER_NAME_LEN};
use operator::{
    desired::{self},
    webhook::admission::{self, AdmissionRequest},
};
use proptest::prelude::*;
use serde_json::{Value, json};

const NAMESPACE: &str = "team";

/// Every suffix the operator appends, their prefixes, and a pod ordinal.
const SUFFIXES: &[&str] = &[
    "-jobs",
    "-jobs-network",
    "-internal",
    "-config",
    "-discovery",
    "-registration",
    "-tls",
    "-tls-server",
    "-tls-ca",
    "-unseal",
    "-unseal-key",
    "-root",
    "-root-token",
    "-network",
    "-network-policy",
    "-audit",
    "-acme",
    "-acme-cache",
    "-backend",
    "-backend-tls",
    "-backend-tls-policy",
    "-0",
];

/// A manifest with every optional object turned on: the HTTPRoute and its BackendTLSPolicy, the
/// Ingress, the audit claim, operator-managed TLS and the static unseal key (the defaults).
fn manifest(name: &str) -> Value {
    json!({
        "apiVersion": "openbao.org/v1alpha1",
        "kind": "OpenBaoCluster",
        "metadata": { "name": name, "namespace": NAMESPACE },
        "spec": {
            "version": "2.7.2",
            "gateway": {
                "enabled": true,
                "gatewayRef": { "name": "gw", "namespace": "gateway-system" },
                "hostname": "bao.example.com",
            },
            "auditFileStorage": { "mode": "ManagedPVC", "size": "1Gi" },
            "ingress": { "enabled": true, "host": "bao.example.com" },
        },
    })
}

/// `(kind, name)` of every object the builders render for `name` (with the CA known, as after
/// the secrets stage), plus the Secrets its StatefulSet mounts.
fn rendered(name: &str) -> BTreeSet<(String, String)> {
    rendered_from(manifest(name))
}

/// The same as [`rendered`] for any manifest.
fn rendered_from(manifest: Value) -> BTreeSet<(String, String)> {
    let cluster = fixtures::from_json(manifest);
    let facts = fixtures::facts().with_ca_pem(Some("ca".to_string()));
    let mut objects = BTreeSet::new();
    for desired in desired::build(&cluster, &facts).in_apply_order() {
        let json = desired.to_json();
        let kind = json["kind"].as_str().expect("kind").to_string();
        let object_name = json["metadata"]["name"].as_str().expect("name").to_string();
        if kind == "StatefulSet" {
            for volume in json["spec"]["template"]["spec"]["volumes"]
                .as_array()
                .expect("volumes")
            {
                if let Some(secret) = volume["secret"]["secretName"].as_str() {
                    objects.insert(("Secret".to_string(), secret.to_string()));
                }
            }
        }
        objects.insert((kind, object_name));
    }
    objects
}

fn derived(name: &str) -> BTreeSet<(String, String)> {
    ClusterNames::new(name)
        .derived_objects()
        .into_iter()
        .map(|(kind, name)| (kind.to_string(), name))
        .collect()
}

/// The webhook's decision on creating `second` while `first` exists.
fn create_second(first: &str, second: &str) -> admission::Verdict {
    let object = serde_json::value::to_raw_value(&manifest(second)).expect("json");
    let request = AdmissionRequest {
        uid: "u".to_string(),
        operation: "CREATE".to_string(),
        name: second.to_string(),
        namespace: Some(NAMESPACE.to_string()),
        object: Some(&object),
        old_object: None,
    };
    admission::decide(&request, &[first.to_string()])
}

/// A DNS-1035 label short enough that any suffix keeps it within the name limit.
fn base() -> impl Strategy<Value = String> {
    "[a-z]([-a-z0-9]{0,18}[a-z0-9])?"
}

/// Two distinct valid names, most of them adversarial: one is the other plus a suffix.
fn pair() -> impl Strategy<Value = (String, String)> {
    let suffix = proptest::sample::select(SUFFIXES);
    prop_oneof![
        (base(), suffix.clone()).prop_map(|(b, s)| (b.clone(), format!("{b}{s}"))),
        (base(), suffix).prop_map(|(b, s)| (format!("{b}{s}"), b)),
        (base(), base()),
    ]
    .prop_filter("two different clusters", |(a, b)| a != b)
}

#[test]
fn the_derived_objects_are_what_the_builders_render_plus_what_only_io_writes_or_removes() {
    let name = "a".repeat(MAX_CLUSTER_NAME_LEN);
    let names = ClusterNames::new(&name);
    let mut only_io: BTreeSet<(String, String)> = [names.ca_secret(), names.root_token_secret()]
        .into_iter()
        .map(|secret| ("Secret".to_string(), secret))
        .collect();
    // The discovery Role and RoleBinding of earlier versions: only ever removed.
    only_io.insert(("Role".to_string(), names.role()));
    only_io.insert(("RoleBinding".to_string(), names.role()));
    let rendered = rendered(&name);
    let derived = derived(&name);
    // The managed ACME cache claim exists only in ACME mode, which has no operator-managed
    // server certificate: a second manifest renders it.
    let acme_claim = (
        "PersistentVolumeClaim".to_string(),
        names.acme_cache_claim(),
    );
    let mut acme = manifest(&name);
    acme["spec"]["replicas"] = json!(3);
    acme["spec"]["tls"] = json!({"mode": "ACME", "acme": {
        "directoryURL": "https://acme.example.com/directory", "domains": ["bao.example.com"],
        "sharedCache": {"mode": "ManagedPVC", "size": "1Gi"}}});
    acme["spec"]["network"] = json!({"trustedIngressPeers": [{"podSelector": {}}]});
    acme["spec"]["ingress"]["tlsSecretName"] = json!("edge");
    let acme = rendered_from(acme);
    assert!(acme.contains(&acme_claim), "{acme:?}");
    assert!(acme.is_subset(&derived), "{acme:?} vs {derived:?}");
    only_io.insert(acme_claim);
    assert_eq!(
        derived
            .difference(&rendered)
            .cloned()
            .collect::<BTreeSet<_>>(),
        only_io
    );
    assert!(rendered.is_subset(&derived), "{rendered:?} vs {derived:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_two_clusters_either_share_no_object_or_the_second_is_refused_naming_both(
        (first, second) in pair()
    ) {
        let (first_rendered, second_rendered) = (rendered(&first), rendered(&second));
        // The oracle: the list matches the builders for both names.
        for (name, rendered) in [(&first, &first_rendered), (&second, &second_rendered)] {
            prop_assert!(
                rendered.is_subset(&derived(name)),
                "{name}: the builders render {:?}, not in derived_objects",
                rendered.difference(&derived(name)).collect::<Vec<_>>()
            );
        }
        let shared: BTreeSet<(String, String)> = names::collisions(
            &ClusterNames::new(&second),
            &ClusterNames::new(&first),
        )
        .into_iter()
        .map(|(kind, name)| (kind.to_string(), name))
        .collect();
        let rendered_shared: BTreeSet<_> =
            first_rendered.intersection(&second_rendered).cloned().collect();
        prop_assert!(
            rendered_shared.is_subset(&shared),
            "the builders of {first} and {second} share {rendered_shared:?}, collisions() says {shared:?}"
        );

        let verdict = create_second(&first, &second);
        if shared.is_empty() {
            prop_assert!(verdict.allowed, "{second} next to {first}: {verdict:?}");
        } else {
            prop_assert!(!verdict.allowed, "{second} next to {first} shares {shared:?}");
            let message = verdict.message.unwrap_or_default();
            prop_assert!(message.contains(&format!("{NAMESPACE}/{second}")), "{message}");
            prop_assert!(message.contains(&format!("OpenBaoCluster {first:?}")), "{message}");
            for (kind, name) in &shared {
                prop_assert!(message.contains(&format!("{kind} {name:?}")), "{message}");
            }
        }
    }
}
