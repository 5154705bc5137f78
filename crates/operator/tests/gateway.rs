//! With the Gateway API installed: an enabled gateway gets an HTTPRoute and the gateway's
//! ingress row; disabling it prunes the route and the row. Its BackendTLSPolicy (on by default,
//! as upstream) trusts the CA certificate published in a ConfigMap, is repaired after a foreign
//! edit, and goes (with the ConfigMap) when backendTLS is disabled. (Without the Gateway API, see
//! `reconciler.rs`: a Degraded condition and everything else reconciled.)

mod support;

use api::OpenBaoCluster;
use k8s_openapi::api::{
    core::v1::{ConfigMap, Secret},
    networking::v1::NetworkPolicy,
};
use kube::{
    Api,
    api::{Patch, PatchParams},
};
use operator::desired::{BackendTLSPolicy, HTTPRoute};
use support::{absent, cluster, create, present, until};

#[tokio::test]
async fn an_enabled_gateway_gets_a_route_and_disabling_it_prunes_route_and_ingress_row() {
    let cp = support::env_with_gateway_api().await;
    let ns = localcluster::TestNamespace::create(cp, "gateway")
        .await
        .expect("namespace");
    let n = ns.name();
    let client = cp.client().expect("client");
    create(
        &client,
        &cluster(
            "bao",
            n,
            "version: \"2.7.2\"\ngateway: {enabled: true, gatewayRef: {name: public, namespace: gateway-system}, hostname: bao.example.com, listenerName: https}",
        ),
    )
    .await;
    let routes = Api::<HTTPRoute>::namespaced(client.clone(), n);
    let route = until("the HTTPRoute", || {
        let routes = routes.clone();
        async move { Ok(routes.get_opt("bao").await?) }
    })
    .await;
    assert_eq!(route.spec.hostnames, ["bao.example.com"]);
    assert_eq!(route.spec.parent_refs[0].name, "public");
    assert_eq!(
        route.spec.parent_refs[0].namespace.as_deref(),
        Some("gateway-system")
    );
    assert_eq!(
        route.spec.parent_refs[0].section_name.as_deref(),
        Some("https")
    );
    assert_eq!(route.spec.rules[0].backend_refs[0].port, 8200);
    let c = support::until_condition(&client, n, "bao", "Degraded", "False").await;
    assert!(c.status.is_some());

    let policies = Api::<NetworkPolicy>::namespaced(client.clone(), n);
    let gateway_rows = |p: &NetworkPolicy| {
        p.spec
            .as_ref()
            .and_then(|s| s.ingress.as_ref())
            .map_or(0, |rules| {
                rules
                    .iter()
                    .filter(|r| {
                        r.from.as_ref().is_some_and(|f| {
                            f.iter().any(|peer| {
                                peer.namespace_selector
                                    .as_ref()
                                    .and_then(|s| s.match_labels.as_ref())
                                    .and_then(|l| l.get("kubernetes.io/metadata.name"))
                                    .map(String::as_str)
                                    == Some("gateway-system")
                            })
                        })
                    })
                    .count()
            })
    };
    let policy = until("the policy", || {
        let policies = policies.clone();
        async move { Ok(policies.get_opt("bao-network-policy").await?) }
    })
    .await;
    assert_eq!(gateway_rows(&policy), 1);

    Api::<OpenBaoCluster>::namespaced(client.clone(), n)
        .patch(
            "bao",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"gateway": {"enabled": false}}})),
        )
        .await
        .expect("disable the gateway");
    until("the HTTPRoute to be pruned", || {
        let routes = routes.clone();
        async move { Ok(routes.get_opt("bao").await?.is_none().then_some(())) }
    })
    .await;
    until("the gateway row to be removed", || {
        let policies = policies.clone();
        async move {
            let p = policies.get("bao-network-policy").await?;
            Ok((gateway_rows(&p) == 0).then_some(()))
        }
    })
    .await;
}

#[tokio::test]
async fn a_gateway_gets_a_backend_tls_policy_trusting_the_published_ca_repaired_and_removed_when_disabled()
 {
    let cp = support::env_with_gateway_api().await;
    let ns = localcluster::TestNamespace::create(cp, "backend-tls")
        .await
        .expect("namespace");
    let n = ns.name();
    let client = cp.client().expect("client");
    create(
        &client,
        &cluster(
            "bao",
            n,
            "version: \"2.7.2\"\ngateway: {enabled: true, gatewayRef: {name: public, namespace: gateway-system}, hostname: bao.example.com}",
        ),
    )
    .await;
    let policy: BackendTLSPolicy = present(&client, n, "bao-backend-tls-policy").await;
    assert_eq!(policy.spec.target_refs[0].kind, "Service");
    assert_eq!(policy.spec.target_refs[0].name, "bao");
    assert_eq!(policy.spec.validation.hostname, format!("bao.{n}.svc"));
    assert_eq!(
        policy.spec.validation.ca_certificate_refs[0].name,
        "bao-tls-ca"
    );

    // The ConfigMap publishes exactly the CA certificate of the operator-managed CA, never its key.
    let map: ConfigMap = present(&client, n, "bao-tls-ca").await;
    let ca_secret: Secret = present(&client, n, "bao-tls-ca").await;
    let ca_cert = ca_secret
        .data
        .as_ref()
        .and_then(|d| d.get("ca.crt"))
        .map(|b| String::from_utf8(b.0.clone()).expect("PEM"))
        .expect("the CA Secret holds ca.crt");
    let data = map.data.clone().expect("data");
    assert_eq!(data.keys().collect::<Vec<_>>(), ["ca.crt"]);
    assert_eq!(data["ca.crt"], ca_cert);
    assert!(!data["ca.crt"].contains("PRIVATE KEY"));
    assert!(map.binary_data.is_none());

    // A foreign edit of the verified hostname is repaired.
    let policies = Api::<BackendTLSPolicy>::namespaced(client.clone(), n);
    policies
        .patch(
            "bao-backend-tls-policy",
            &PatchParams::default(),
            &Patch::Merge(
                serde_json::json!({"spec": {"validation": {"hostname": "evil.example.com"}}}),
            ),
        )
        .await
        .expect("edit the policy");
    until("the policy's hostname to be repaired", || {
        let policies = policies.clone();
        let want = format!("bao.{n}.svc");
        async move {
            let p = policies.get("bao-backend-tls-policy").await?;
            Ok((p.spec.validation.hostname == want).then_some(()))
        }
    })
    .await;

    Api::<OpenBaoCluster>::namespaced(client.clone(), n)
        .patch(
            "bao",
            &PatchParams::default(),
            &Patch::Merge(
                serde_json::json!({"spec": {"gateway": {"backendTLS": {"enabled": false}}}}),
            ),
        )
        .await
        .expect("disable backendTLS");
    absent::<BackendTLSPolicy>(&client, n, "bao-backend-tls-policy").await;
    absent::<ConfigMap>(&client, n, "bao-tls-ca").await;
    // The route stays: only the policy was turned off.
    let _: HTTPRoute = present(&client, n, "bao").await;
    let _: Secret = present(&client, n, "bao-tls-ca").await;
}
