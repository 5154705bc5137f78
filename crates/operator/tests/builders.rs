//! What each pure builder produces for representative specs: the StatefulSet's security and
//! probes, config.hcl, Services, RBAC, PDB, HTTPRoute, the controller's policy, and that no
//! valid spec makes a builder panic.

#[path = "support/fixtures.rs"]
mod fixtures;

use std::net::IpAddr;

use fixtures::facts;
use k8s_openapi::{
    api::{apps::v1::StatefulSet, core::v1::Container},
    apimachinery::pkg::util::intstr::IntOrString,
};
use operator::{
    desired::{self, Facts, ValidatedCluster, config_hcl, rbac, statefulset::tls_secret_name},
    install::controller,
};
use proptest::prelude::*;

/// The cluster `bao` in `team-a` with `spec` (YAML).
fn cluster(spec: &str) -> ValidatedCluster {
    fixtures::validated("bao", "team-a", spec)
}

fn statefulset(c: &ValidatedCluster) -> StatefulSet {
    desired::build(c, &facts())
        .statefulset
        .expect("statefulset with a known API server")
}

fn container(s: &StatefulSet) -> Container {
    s.spec.template.spec.as_ref().expect("pod spec").containers[0].clone()
}

fn env(c: &Container, name: &str) -> Option<String> {
    c.env
        .as_ref()?
        .iter()
        .find(|e| e.name == name)
        .and_then(|e| e.value.clone())
}

#[test]
fn the_statefulset_runs_parallel_with_stable_names_and_retained_claims() {
    let c =
        cluster("version: \"2.7.2\"\nreplicas: 5\nstorage: {size: 5Gi, storageClassName: fast}");
    let s = statefulset(&c);
    let spec = &s.spec;
    assert_eq!(s.metadata.name.as_deref(), Some("bao"));
    assert_eq!(spec.replicas, Some(5));
    assert_eq!(spec.service_name.as_deref(), Some("bao-internal"));
    assert_eq!(spec.pod_management_policy.as_deref(), Some("Parallel"));
    let retention = spec
        .persistent_volume_claim_retention_policy
        .as_ref()
        .expect("retention");
    assert_eq!(retention.when_deleted.as_deref(), Some("Retain"));
    assert_eq!(retention.when_scaled.as_deref(), Some("Retain"));
    let claim = &spec.volume_claim_templates.as_ref().expect("claims")[0];
    let claim_spec = claim.spec.as_ref().expect("claim spec");
    assert_eq!(claim_spec.storage_class_name.as_deref(), Some("fast"));
    assert_eq!(
        claim_spec
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .map(|r| r["storage"].0.clone()),
        Some("5Gi".to_string())
    );
    // The selector picks server pods only (never Job pods) and matches the template.
    let selector = spec.selector.match_labels.as_ref().expect("labels");
    assert_eq!(
        selector
            .get("app.kubernetes.io/component")
            .map(String::as_str),
        Some("server")
    );
    let template_labels = spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.as_ref())
        .expect("labels");
    for (k, v) in selector {
        assert_eq!(template_labels.get(k), Some(v));
    }
}

#[test]
fn pods_run_restricted_non_root_with_a_read_only_root_filesystem() {
    let s = statefulset(&cluster("version: \"2.7.2\""));
    let pod = s.spec.template.spec.as_ref().expect("pod spec");
    let pod_security = pod.security_context.as_ref().expect("pod security context");
    assert_eq!(pod_security.run_as_non_root, Some(true));
    assert_eq!(
        pod_security
            .seccomp_profile
            .as_ref()
            .map(|p| p.type_.as_str()),
        Some("RuntimeDefault")
    );
    let security = container(&s)
        .security_context
        .expect("container security context");
    assert_eq!(security.allow_privilege_escalation, Some(false));
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(
        security.capabilities.and_then(|c| c.drop),
        Some(vec!["ALL".to_string()])
    );
    assert_eq!(pod.service_account_name.as_deref(), Some("bao"));
}

#[test]
fn probes_check_sys_health_over_https_with_standbys_ready_and_sealed_pods_alive() {
    let c = container(&statefulset(&cluster("version: \"2.7.2\"")));
    let readiness = c
        .readiness_probe
        .and_then(|p| p.http_get)
        .expect("readiness httpGet");
    assert_eq!(readiness.scheme.as_deref(), Some("HTTPS"));
    assert_eq!(readiness.port, IntOrString::Int(8200));
    let path = readiness.path.expect("path");
    assert!(path.starts_with("/v1/sys/health?") && path.contains("standbyok=true"));
    assert!(!path.contains("sealedcode"), "a sealed pod is not ready");
    let liveness = c
        .liveness_probe
        .and_then(|p| p.http_get)
        .expect("liveness httpGet");
    let path = liveness.path.expect("path");
    assert!(path.contains("sealedcode=204") && path.contains("uninitcode=204"));
}

#[test]
fn each_pod_gets_its_own_api_and_cluster_address_from_its_name() {
    let c = container(&statefulset(&cluster("version: \"2.7.2\"")));
    assert_eq!(
        env(&c, "BAO_API_ADDR").as_deref(),
        Some("https://$(BAO_K8S_POD_NAME).bao-internal.team-a.svc:8200")
    );
    assert_eq!(
        env(&c, "BAO_CLUSTER_ADDR").as_deref(),
        Some("https://$(BAO_K8S_POD_NAME).bao-internal.team-a.svc:8201")
    );
    assert_eq!(
        env(&c, "BAO_RAFT_NODE_ID").as_deref(),
        Some("$(BAO_K8S_POD_NAME)")
    );
    let env_vars = c.env.expect("env");
    let pod_name = env_vars
        .iter()
        .find(|e| e.name == "BAO_K8S_POD_NAME")
        .expect("pod name");
    assert_eq!(
        pod_name
            .value_from
            .as_ref()
            .and_then(|v| v.field_ref.as_ref())
            .map(|f| f.field_path.as_str()),
        Some("metadata.name")
    );
    // Kubernetes expands $(VAR) only for variables defined earlier in the list.
    let position = |name: &str| {
        env_vars
            .iter()
            .position(|e| e.name == name)
            .expect("present")
    };
    assert!(position("BAO_K8S_POD_NAME") < position("BAO_API_ADDR"));
    assert_eq!(c.image.as_deref(), Some("quay.io/openbao/openbao:2.7.2"));
}

#[test]
fn the_config_hash_changes_with_the_configuration_and_only_then() {
    let hash = |spec: &str| {
        statefulset(&cluster(spec))
            .spec
            .template
            .metadata
            .and_then(|m| m.annotations)
            .and_then(|a| a.get("openbao.org/config-hash").cloned())
            .expect("hash annotation")
    };
    let base = hash("version: \"2.7.2\"");
    assert_eq!(base, hash("version: \"2.7.2\""));
    assert_ne!(
        base,
        hash("version: \"2.7.2\"\nconfiguration: {logLevel: debug}")
    );
    assert_eq!(
        base,
        hash("version: \"2.7.2\"\nreplicas: 5"),
        "scaling does not restart pods"
    );
}

#[test]
fn config_hcl_has_the_tls_listener_raft_auto_join_service_registration_and_static_seal() {
    let hcl = config_hcl::render(&cluster(
        "version: \"2.7.2\"\nconfiguration: {ui: true, logLevel: warn, raft: {performanceMultiplier: 1}}",
    ));
    for expected in [
        "ui = true",
        "log_level = \"warn\"",
        "address         = \"[::]:8200\"",
        "cluster_address = \"[::]:8201\"",
        "tls_cert_file   = \"/etc/bao/tls/tls.crt\"",
        "storage \"raft\" {",
        "performance_multiplier = 1",
        "auto_join             = \"provider=k8s namespace=team-a label_selector=\\\"app.kubernetes.io/component=server,app.kubernetes.io/instance=bao,app.kubernetes.io/name=openbao,openbao.org/cluster=bao\\\"\"",
        "auto_join_scheme      = \"https\"",
        "leader_tls_servername = \"bao-internal.team-a.svc\"",
        "service_registration \"kubernetes\" {}",
        "seal \"static\" {",
        "current_key    = \"file:///etc/bao/unseal/key\"",
    ] {
        assert!(hcl.contains(expected), "missing {expected:?} in\n{hcl}");
    }
    assert!(
        !hcl.contains("performance_multiplier")
            || hcl.matches("performance_multiplier").count() == 1
    );
    let default = config_hcl::render(&cluster("version: \"2.7.2\""));
    assert!(
        !default.contains("performance_multiplier"),
        "OpenBao's default unless set"
    );
    // Upstream's default: the UI is served unless turned off.
    assert!(default.contains("ui = true"));
    // Prometheus metrics on /v1/sys/metrics are always on.
    assert!(
        default.contains("prometheus_retention_time = \"24h\""),
        "{default}"
    );
    let off = config_hcl::render(&cluster("version: \"2.7.2\"\nconfiguration: {ui: false}"));
    assert!(off.contains("ui = false"));
}

#[test]
fn a_transit_seal_renders_its_stanza_and_credentials_instead_of_the_static_key() {
    let c = cluster(
        "version: \"2.7.2\"\nunseal:\n  type: transit\n  transit: {address: \"https://kms.example.com:8200\", keyName: autounseal, tlsCACert: /etc/bao/seal-creds/ca.pem}\n  credentialsSecretRef: {name: transit-token}",
    );
    let hcl = config_hcl::render(&c);
    assert!(hcl.contains("seal \"transit\" {"));
    assert!(
        hcl.contains("address     = \"https://kms.example.com:8200\""),
        "{hcl}"
    );
    assert!(hcl.contains("mount_path  = \"transit/\""));
    assert!(hcl.contains("tls_ca_cert = \"/etc/bao/seal-creds/ca.pem\""));
    assert!(!hcl.contains("seal \"static\""));
    let s = statefulset(&c);
    let pod = s.spec.template.spec.as_ref().expect("pod");
    let volumes: Vec<&str> = pod
        .volumes
        .as_ref()
        .expect("volumes")
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    assert!(!volumes.contains(&"unseal-key"));
    assert!(volumes.contains(&"seal-creds"));
    let openbao = container(&s);
    let env_from = openbao.env_from.expect("envFrom");
    assert_eq!(
        env_from[0].secret_ref.as_ref().map(|r| r.name.as_str()),
        Some("transit-token")
    );
    // The Secret's `token` entry is the transit seal's token variable, optional.
    let token = openbao
        .env
        .expect("env")
        .into_iter()
        .find(|e| e.name == "VAULT_TOKEN")
        .and_then(|e| e.value_from)
        .and_then(|v| v.secret_key_ref)
        .expect("VAULT_TOKEN from the Secret");
    assert_eq!(
        (token.name.as_str(), token.key.as_str(), token.optional),
        ("transit-token", "token", Some(true))
    );
}

#[test]
fn external_tls_mounts_the_users_secret() {
    let c = cluster("version: \"2.7.2\"\ntls: {mode: External, externalSecretName: my-certs}");
    assert_eq!(tls_secret_name(&c), "my-certs");
    let s = statefulset(&c);
    let pod = s.spec.template.spec.as_ref().expect("pod");
    let tls = pod
        .volumes
        .as_ref()
        .expect("volumes")
        .iter()
        .find(|v| v.name == "tls")
        .expect("tls volume");
    assert_eq!(
        tls.secret.as_ref().and_then(|s| s.secret_name.as_deref()),
        Some("my-certs")
    );
    assert_eq!(
        tls_secret_name(&cluster("version: \"2.7.2\"")),
        "bao-tls-server"
    );
    // External without a name reads upstream's Secret name.
    assert_eq!(
        tls_secret_name(&cluster("version: \"2.7.2\"\ntls: {mode: External}")),
        "bao-tls-server"
    );
}

#[test]
fn services_publish_pod_dns_before_readiness_and_carry_user_annotations() {
    let c = cluster(
        "version: \"2.7.2\"\nservice: {type: LoadBalancer, annotations: {example.com/lb: internal}}",
    );
    let resources = desired::build(&c, &facts());
    let headless = resources.headless_service.spec.expect("spec");
    assert_eq!(headless.cluster_ip.as_deref(), Some("None"));
    assert_eq!(headless.publish_not_ready_addresses, Some(true));
    let ports: Vec<i32> = headless
        .ports
        .expect("ports")
        .iter()
        .map(|p| p.port)
        .collect();
    assert_eq!(ports, [8200, 8201]);
    let client = resources.client_service;
    assert_eq!(
        client.spec.as_ref().and_then(|s| s.type_.as_deref()),
        Some("LoadBalancer")
    );
    assert_eq!(
        client
            .metadata
            .annotations
            .and_then(|a| a.get("example.com/lb").cloned())
            .as_deref(),
        Some("internal")
    );
}

#[test]
fn the_pods_permissions_come_from_one_namespaced_binding_to_the_fixed_cluster_role() {
    let resources = desired::build(&cluster("version: \"2.7.2\""), &facts());
    let binding = resources.registration_role_binding.clone();
    assert_eq!(binding.metadata.name.as_deref(), Some("bao-registration"));
    assert_eq!(binding.metadata.namespace.as_deref(), Some("team-a"));
    assert_eq!(binding.role_ref.kind, "ClusterRole");
    assert_eq!(binding.role_ref.name, rbac::SERVER_CLUSTER_ROLE);
    assert_eq!(
        binding.role_ref.api_group.as_deref(),
        Some("rbac.authorization.k8s.io")
    );
    let subjects = binding.subjects.expect("subjects");
    assert_eq!(subjects.len(), 1);
    assert_eq!(subjects[0].kind, "ServiceAccount");
    assert_eq!(subjects[0].name, "bao");
    assert_eq!(subjects[0].namespace.as_deref(), Some("team-a"));
    // The fixed ClusterRole it names: pods get/list (discovery, registration's lookup) and
    // patch (registration's labels), nothing else, on no named object.
    let role = rbac::server_cluster_role();
    assert_eq!(
        role.metadata.name.as_deref(),
        Some(rbac::SERVER_CLUSTER_ROLE)
    );
    let rules = role.rules.expect("rules");
    assert_eq!(rules.len(), 2);
    for rule in &rules {
        assert_eq!(rule.api_groups, Some(vec![String::new()]));
        assert_eq!(rule.resources, Some(vec!["pods".to_string()]));
        assert_eq!(rule.resource_names, None);
    }
    assert_eq!(rules[0].verbs, ["get", "list"]);
    assert_eq!(rules[1].verbs, ["patch"]);
    // No Role is made per cluster any more.
    let order = resources.in_apply_order();
    let kinds: Vec<serde_json::Value> = order.iter().map(|o| o.to_json()["kind"].clone()).collect();
    assert!(!kinds.contains(&serde_json::json!("Role")), "{kinds:?}");
    let bindings = kinds.iter().filter(|k| *k == "RoleBinding").count();
    assert_eq!(bindings, 1, "{kinds:?}");
}

#[test]
fn the_apply_waves_put_policies_first_the_statefulset_last_alone_and_the_binding_with_the_independent_children()
 {
    let spec = "version: \"2.7.2\"\ngateway: {enabled: true, gatewayRef: {name: public}, hostname: bao.example.com, podSelector: {matchLabels: {app: gateway}}}\ningress: {enabled: true, host: bao.example.com}";
    let resources = desired::build(&cluster(spec), &facts().with_ca_pem(Some("CA".into())));
    let waves: Vec<Vec<(String, String)>> = resources
        .in_waves()
        .iter()
        .map(|wave| {
            wave.iter()
                .map(desired::Desired::to_json)
                .map(|o| {
                    (
                        o["kind"].as_str().unwrap_or_default().to_string(),
                        o["metadata"]["name"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                    )
                })
                .collect()
        })
        .collect();
    fn kinds(wave: &[(String, String)]) -> Vec<&str> {
        let mut kinds: Vec<&str> = wave.iter().map(|(kind, _)| kind.as_str()).collect();
        kinds.dedup();
        kinds
    }
    assert_eq!(kinds(&waves[0]), ["NetworkPolicy"], "{waves:?}");
    assert_eq!(waves[0].len(), 2, "both policies in the first wave");
    let last = waves.last().expect("waves");
    assert_eq!(*last, [("StatefulSet".to_string(), "bao".to_string())]);
    let wave_of = |kind: &str| {
        waves
            .iter()
            .position(|w| w.iter().any(|(k, _)| k == kind))
            .unwrap_or_else(|| panic!("{kind} in a wave: {waves:?}"))
    };
    // The binding names a ClusterRole installed with the operator: nothing of this pass.
    assert_eq!(wave_of("RoleBinding"), wave_of("ServiceAccount"));
    assert_eq!(wave_of("RoleBinding"), 1);
    assert!(wave_of("ConfigMap") < wave_of("BackendTLSPolicy"));
    // Every object of the apply order is in exactly one wave.
    let flattened: usize = waves.iter().map(Vec::len).sum();
    assert_eq!(flattened, resources.in_apply_order().len());
    assert_eq!(waves.len(), 4, "{waves:?}");
}

#[test]
fn the_pdb_allows_one_member_down() {
    let pdb = desired::build(&cluster("version: \"2.7.2\""), &facts())
        .pdb
        .spec
        .expect("spec");
    assert_eq!(pdb.max_unavailable, Some(IntOrString::Int(1)));
}

#[test]
fn an_http_route_exists_only_when_the_gateway_is_enabled() {
    let off = cluster("version: \"2.7.2\"\ngateway: {enabled: false}");
    assert!(desired::build(&off, &facts()).http_route.is_none());
    let on = cluster(
        "version: \"2.7.2\"\ngateway: {enabled: true, gatewayRef: {name: public}, hostname: bao.example.com, path: /bao, podSelector: {matchLabels: {app: gateway}}}",
    );
    let route = desired::build(&on, &facts()).http_route.expect("route");
    assert_eq!(route.spec.hostnames, ["bao.example.com"]);
    assert_eq!(route.spec.parent_refs[0].name, "public");
    assert_eq!(
        route.spec.parent_refs[0].namespace.as_deref(),
        Some("team-a"),
        "defaults to the cluster's"
    );
    assert_eq!(route.spec.rules[0].matches[0].path.value, "/bao");
    assert_eq!(route.spec.rules[0].backend_refs[0].name, "bao");
    assert_eq!(route.spec.rules[0].backend_refs[0].port, 8200);
}

#[test]
fn owner_references_point_at_the_cluster_when_it_has_a_uid() {
    let c = fixtures::validated_with_uid("bao", "a", "1234", "version: \"2.7.2\"");
    for object in desired::build(&c, &facts()).in_apply_order() {
        let json = object.to_json();
        let owner = &json["metadata"]["ownerReferences"][0];
        assert_eq!(owner["uid"], "1234", "{}", json["kind"]);
        assert_eq!(owner["kind"], "OpenBaoCluster");
        assert_eq!(owner["controller"], true);
    }
}

#[test]
fn the_controller_policy_opens_metrics_probes_and_webhook_and_nothing_else() {
    let policy = controller::controller_policy(&controller::ControllerPolicyOptions::new("ops"));
    let spec = policy.spec.expect("spec");
    let ingress = spec.ingress.expect("ingress");
    let ports = |i: usize| -> Vec<IntOrString> {
        ingress[i]
            .ports
            .as_ref()
            .expect("ports")
            .iter()
            .filter_map(|p| p.port.clone())
            .collect()
    };
    assert_eq!(ports(0), [IntOrString::Int(8080), IntOrString::Int(8443)]);
    assert!(
        ingress[0]
            .from
            .as_ref()
            .is_some_and(|f| f[0].namespace_selector.is_some())
    );
    assert_eq!(ports(1), [IntOrString::Int(8081)]);
    assert_eq!(ports(2), [IntOrString::Int(9443)]);
    assert_eq!(ingress.len(), 3);
    let egress = spec.egress.expect("egress");
    assert_eq!(egress.len(), 3, "API server, DNS, OpenBao 8200");
    assert_eq!(
        spec.policy_types,
        Some(vec!["Ingress".to_string(), "Egress".to_string()])
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn no_valid_spec_makes_a_builder_panic(
        replicas in 1..=9i32,
        ui in any::<bool>(),
        level in prop::sample::select(vec!["trace", "debug", "info", "warn", "error"]),
        multiplier in prop::option::of(1..=10i32),
        kube_system in any::<bool>(),
        gateway in any::<bool>(),
        policy in prop::sample::select(vec!["Retain", "DeletePVCs", "DeleteAll"]),
        name in "[a-z][a-z0-9-]{0,38}[a-z0-9]",
        api_ip in prop::option::of(any::<[u8; 4]>()),
    ) {
        let mut spec = serde_json::json!({
            "version": "2.7.2",
            "replicas": replicas,
            "deletionPolicy": policy,
            "network": {"kubeSystemIngress": kube_system},
            "configuration": {"ui": ui, "logLevel": level},
        });
        if let Some(m) = multiplier {
            spec["configuration"]["raft"] = serde_json::json!({"performanceMultiplier": m});
        }
        if gateway {
            spec["gateway"] = serde_json::json!({"enabled": true, "gatewayRef": {"name": "gw"}, "hostname": "bao.example.com", "podSelector": {"matchLabels": {"app": "gw"}}});
        }
        let manifest = serde_json::json!({
            "apiVersion": "openbao.org/v1alpha1", "kind": "OpenBaoCluster",
            "metadata": {"name": name, "namespace": "ns"}, "spec": spec,
        });
        let cluster = fixtures::from_json(manifest);
        let facts = Facts::new("op", api_ip.map(IpAddr::from));
        let resources = desired::build(&cluster, &facts);
        prop_assert_eq!(resources.statefulset.is_some(), api_ip.is_some());
        for object in resources.in_apply_order() {
            prop_assert!(object.to_json()["metadata"]["name"].is_string());
        }
    }
}
