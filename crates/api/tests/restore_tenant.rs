//! OpenBaoRestore and OpenBaoTenant: upstream-shaped manifests decode strictly and validate;
//! invalid ones are refused with errors naming the path, the value and what is allowed; the
//! CRDs carry upstream's names and the CEL rules.

use api::conditions::{reasons, types};
use api::decode::{
    Manifest, restore_from_value, restore_from_yaml_str, tenant_from_value, tenant_from_yaml_str,
};
use api::{
    FieldError, OpenBaoRestore, OpenBaoTenant, RestorePhase, TargetLifecycle, ValidationErrors,
    validate_restore, validate_restore_update, validate_tenant, validate_tenant_scope,
    validate_tenant_update,
};
use kube::CustomResourceExt;
use serde_json::{Value, json};

const DIGEST: &str = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/// An in-place restore into an existing cluster, forced past a stuck backup's lock, reading from
/// an in-cluster MinIO over plain http (allowed for a cluster-local Service).
const IN_PLACE_FORCED: &str = r#"
apiVersion: openbao.org/v1alpha1
kind: OpenBaoRestore
metadata:
  name: bao-restore-0102
  namespace: vault-prod
spec:
  cluster: bao
  force: true
  overrideOperationLock: true
  jwtAuthRole: openbao-operator-restore
  image: ghcr.io/example/openbao-backup:1.1.0
  source:
    target:
      endpoint: http://minio.storage.svc.cluster.local:9000
      bucket: openbao-backups
      pathPrefix: clusters
      usePathStyle: true
      credentialsSecretRef:
        name: minio-credentials
    key: clusters/vault-prod/bao/2026-01-02T030000Z.snap
"#;

/// A restore into a fresh, disposable cluster built from a template (upstream 0.6).
const FRESH_TARGET: &str = r#"
apiVersion: openbao.org/v1alpha1
kind: OpenBaoRestore
metadata:
  name: recovery-drill
  namespace: recovery
spec:
  cluster: recovered-bao
  targetLifecycle: Disposable
  cleanupAfterSeconds: 600
  force: true
  source:
    target:
      provider: s3
      endpoint: https://objects.example.net
      bucket: bao-snapshots
      region: eu-central-1
      credentialsSecretRef:
        name: snapshot-reader
    key: prod/openbao/2026-01-02-030000.snap
    expectedClusterID: 3f0c2a61-5d7e-4b9a-8c1e-0a2b3c4d5e6f
    expectedVersion: "2.7.0"
    expectedDigest: sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    expectedSize: 52428800
  clusterTemplate:
    version: "2.7.0"
    storage:
      size: 5Gi
    tls:
      enabled: true
      mode: OperatorManaged
      rotationPeriod: 720h
    unseal:
      type: transit
      credentialsSecretRef:
        name: drill-transit-token
      transit:
        address: https://seal.example.net:8200
        mountPath: transit
        keyName: prod-unseal
        tlsCACert: /etc/bao/seal-creds/ca.crt
"#;

/// The shape of upstream's basic sample: no force, a token Secret, AWS S3.
const IN_PLACE_PLAIN: &str = r#"
apiVersion: openbao.org/v1alpha1
kind: OpenBaoRestore
metadata:
  name: restore-sample
spec:
  cluster: bao-sample
  tokenSecretRef:
    name: restore-token
  source:
    target:
      endpoint: https://s3.amazonaws.com
      bucket: example-openbao-backups
      region: us-east-1
      credentialsSecretRef:
        name: s3-credentials
    key: clusters/bao-sample/2026-01-01-120000.snap
"#;

const TENANT: &str = r#"
apiVersion: openbao.org/v1alpha1
kind: OpenBaoTenant
metadata:
  name: team-a-tenant
  namespace: openbao-operator-system
spec:
  targetNamespace: team-a
  quota:
    hard:
      requests.cpu: "4"
      requests.memory: 8Gi
      count/openbaoclusters.openbao.org: "3"
    scopeSelector:
      matchExpressions:
      - scopeName: PriorityClass
        operator: In
        values: [high]
  limitRange:
    limits:
    - type: Container
      default:
        cpu: 500m
        memory: 512Mi
      max:
        memory: 2Gi
"#;

fn yaml(s: &str) -> Value {
    serde_yaml::from_str(s).expect("test YAML parses")
}

fn set(v: &mut Value, pointer: &str, new: Value) {
    let (parent, key) = pointer.rsplit_once('/').expect("pointer has a parent");
    let parent = if parent.is_empty() {
        &mut *v
    } else {
        v.pointer_mut(parent).expect("parent exists")
    };
    parent
        .as_object_mut()
        .expect("parent is an object")
        .insert(key.to_string(), new);
}

fn remove(v: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').expect("pointer has a parent");
    v.pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .expect("parent is an object")
        .remove(key);
}

fn restore(base: &str, edit: impl FnOnce(&mut Value)) -> OpenBaoRestore {
    let mut v = yaml(base);
    edit(&mut v);
    restore_from_value(v).expect("the changed manifest still decodes")
}

fn restore_errors(base: &str, edit: impl FnOnce(&mut Value)) -> ValidationErrors {
    validate_restore(&restore(base, edit)).expect_err("the change makes validation fail")
}

fn tenant(edit: impl FnOnce(&mut Value)) -> OpenBaoTenant {
    let mut v = yaml(TENANT);
    edit(&mut v);
    tenant_from_value(v).expect("the changed manifest still decodes")
}

fn tenant_errors(edit: impl FnOnce(&mut Value)) -> ValidationErrors {
    validate_tenant(&tenant(edit)).expect_err("the change makes validation fail")
}

fn at<'a>(errors: &'a ValidationErrors, path: &str) -> &'a FieldError {
    errors
        .iter()
        .find(|e| e.path == path)
        .unwrap_or_else(|| panic!("no error at {path}; got: {errors}"))
}

// ---------------------------------------------------------------- OpenBaoRestore: valid input

#[test]
fn an_in_place_restore_forced_past_an_operation_lock_decodes_and_validates() {
    let restore = restore_from_yaml_str(IN_PLACE_FORCED).expect("decodes");
    assert!(restore.spec.force && restore.spec.override_operation_lock);
    assert_eq!(restore.spec.cluster, "bao");
    assert_eq!(restore.spec.source.target.bucket, "openbao-backups");
    validate_restore(&restore).unwrap_or_else(|e| panic!("valid: {e}"));
}

#[test]
fn a_restore_into_a_fresh_disposable_cluster_decodes_and_validates() {
    let restore = restore_from_yaml_str(FRESH_TARGET).expect("decodes");
    assert_eq!(
        restore.spec.target_lifecycle,
        Some(TargetLifecycle::Disposable)
    );
    assert_eq!(restore.spec.source.expected_size, Some(52_428_800));
    assert_eq!(restore.spec.source.expected_digest.as_deref(), Some(DIGEST));
    let template = restore.spec.cluster_template.as_ref().expect("template");
    assert_eq!(template.version, "2.7.0");
    validate_restore(&restore).unwrap_or_else(|e| panic!("valid: {e}"));
}

#[test]
fn upstreams_basic_sample_shape_with_a_token_secret_decodes_and_validates() {
    let restore = restore_from_yaml_str(IN_PLACE_PLAIN).expect("decodes");
    assert!(!restore.spec.force, "force defaults to false");
    assert!(!restore.spec.override_operation_lock);
    validate_restore(&restore).unwrap_or_else(|e| panic!("valid: {e}"));
}

#[test]
fn a_retained_fresh_target_without_cleanup_validates() {
    let restore = restore(FRESH_TARGET, |v| {
        set(v, "/spec/targetLifecycle", json!("Retain"));
        remove(v, "/spec/cleanupAfterSeconds");
    });
    validate_restore(&restore).unwrap_or_else(|e| panic!("valid: {e}"));
}

#[test]
fn a_restore_status_round_trips_with_its_phase_and_conditions() {
    let mut v = yaml(IN_PLACE_FORCED);
    set(
        &mut v,
        "/status",
        json!({
            "phase": "Pending",
            "conditions": [{
                "type": types::NOT_IMPLEMENTED,
                "status": "True",
                "reason": reasons::RESTORE_NOT_IMPLEMENTED,
                "message": api::conditions::RESTORE_NOT_IMPLEMENTED_MESSAGE,
                "lastTransitionTime": "2026-01-02T03:00:00Z"
            }]
        }),
    );
    let restore = restore_from_value(v).expect("decodes");
    let status = restore.status.as_ref().expect("status");
    assert_eq!(status.phase, Some(RestorePhase::Pending));
    assert_eq!(status.conditions[0].type_, "NotImplemented");
    assert_eq!(status.conditions[0].reason, "RestoreNotImplemented");
}

// ---------------------------------------------------------------- OpenBaoRestore: decoding

#[test]
fn an_unknown_restore_field_is_reported_with_its_full_path() {
    let mut v = yaml(IN_PLACE_FORCED);
    set(&mut v, "/spec/source/bukket", json!("x"));
    let errors = restore_from_value(v).expect_err("unknown field");
    let e = at(&errors, "spec.source.bukket");
    assert!(
        e.message
            .starts_with("unknown field; allowed fields are target, key"),
        "{e}"
    );
}

#[test]
fn upstreams_old_documented_source_shape_is_refused_by_name() {
    let mut v = yaml(IN_PLACE_PLAIN);
    set(&mut v, "/spec/source/type", json!("s3"));
    let errors = restore_from_value(v).expect_err("source.type is not a field");
    at(&errors, "spec.source.type");
}

#[test]
fn a_missing_snapshot_key_is_reported_as_a_required_field() {
    let mut v = yaml(IN_PLACE_PLAIN);
    remove(&mut v, "/spec/source/key");
    let errors = restore_from_value(v).expect_err("key is required");
    assert_eq!(
        at(&errors, "spec.source.key").message,
        "required field is missing"
    );
}

#[test]
fn a_cluster_manifest_is_not_decoded_as_a_restore() {
    let mut v = yaml(IN_PLACE_PLAIN);
    set(&mut v, "/kind", json!("OpenBaoCluster"));
    let errors = restore_from_value(v).expect_err("wrong kind");
    let e = at(&errors, "kind");
    assert_eq!(e.value, "OpenBaoCluster");
    assert!(e.message.contains("OpenBaoRestore"), "{e}");
    assert_eq!(<OpenBaoRestore as Manifest>::KIND, "OpenBaoRestore");
}

#[test]
fn a_restore_without_a_name_is_refused_when_decoding() {
    let mut v = yaml(IN_PLACE_PLAIN);
    remove(&mut v, "/metadata/name");
    let errors = restore_from_value(v).expect_err("no name");
    assert!(
        at(&errors, "metadata.name")
            .message
            .contains("restore's name"),
        "{errors}"
    );
}

#[test]
fn a_document_that_is_not_a_mapping_names_the_restore_kind() {
    let errors = restore_from_value(json!([1, 2])).expect_err("not a manifest");
    assert!(
        errors.to_string().contains("an OpenBaoRestore manifest"),
        "{errors}"
    );
}

// ---------------------------------------------------------------- OpenBaoRestore: validation

#[test]
fn overriding_the_operation_lock_requires_force() {
    let errors = restore_errors(IN_PLACE_FORCED, |v| set(v, "/spec/force", json!(false)));
    let e = at(&errors, "spec.overrideOperationLock");
    assert_eq!(e.value, "true");
    assert!(e.message.contains("requires spec.force"), "{e}");
}

#[test]
fn a_fresh_target_needs_lifecycle_force_cluster_id_and_the_templates_version() {
    let errors = restore_errors(FRESH_TARGET, |v| {
        remove(v, "/spec/targetLifecycle");
        remove(v, "/spec/cleanupAfterSeconds");
        set(v, "/spec/force", json!(false));
        remove(v, "/spec/source/expectedClusterID");
        set(v, "/spec/source/expectedVersion", json!("2.6.1"));
    });
    assert!(
        at(&errors, "spec.targetLifecycle")
            .message
            .starts_with("required with spec.clusterTemplate")
    );
    assert_eq!(at(&errors, "spec.force").value, "false");
    at(&errors, "spec.source.expectedClusterID");
    let e = at(&errors, "spec.source.expectedVersion");
    assert_eq!(e.value, "2.6.1");
    assert!(
        e.message
            .contains("must equal spec.clusterTemplate.version (2.7.0)"),
        "{e}"
    );
}

#[test]
fn a_fresh_target_refuses_a_token_secret_a_jwt_role_and_a_lock_override() {
    let errors = restore_errors(FRESH_TARGET, |v| {
        set(v, "/spec/tokenSecretRef", json!({"name": "restore-token"}));
        set(v, "/spec/jwtAuthRole", json!("restore"));
        set(v, "/spec/overrideOperationLock", json!(true));
    });
    assert_eq!(at(&errors, "spec.tokenSecretRef").value, "restore-token");
    assert_eq!(at(&errors, "spec.jwtAuthRole").value, "restore");
    assert!(
        at(&errors, "spec.overrideOperationLock")
            .message
            .contains("no operation lock")
    );
}

#[test]
fn target_lifecycle_and_cleanup_are_refused_without_a_template() {
    let errors = restore_errors(IN_PLACE_PLAIN, |v| {
        set(v, "/spec/targetLifecycle", json!("Retain"));
        set(v, "/spec/cleanupAfterSeconds", json!(60));
    });
    assert!(
        at(&errors, "spec.targetLifecycle")
            .message
            .starts_with("requires spec.clusterTemplate")
    );
    assert!(
        at(&errors, "spec.cleanupAfterSeconds")
            .message
            .contains("requires spec.targetLifecycle Disposable")
    );
}

#[test]
fn cleanup_after_seconds_is_limited_to_one_day() {
    let errors = restore_errors(FRESH_TARGET, |v| {
        set(v, "/spec/cleanupAfterSeconds", json!(86_401));
    });
    assert_eq!(at(&errors, "spec.cleanupAfterSeconds").value, "86401");
}

#[test]
fn the_snapshot_pins_are_each_checked() {
    let errors = restore_errors(FRESH_TARGET, |v| {
        set(v, "/spec/source/key", json!("snap\u{7}shot"));
        set(v, "/spec/source/expectedDigest", json!("sha256:ABC"));
        set(v, "/spec/source/expectedSize", json!(8_589_934_593_i64));
        set(v, "/spec/source/expectedClusterID", json!("has space"));
        set(v, "/spec/source/expectedVersion", json!("v2.7.0"));
        set(v, "/spec/clusterTemplate/version", json!("v2.7.0"));
    });
    assert!(
        at(&errors, "spec.source.key")
            .message
            .contains("control characters")
    );
    assert!(
        at(&errors, "spec.source.expectedDigest")
            .message
            .contains("64 lowercase")
    );
    assert_eq!(at(&errors, "spec.source.expectedSize").value, "8589934593");
    assert!(
        at(&errors, "spec.source.expectedClusterID")
            .message
            .contains("whitespace")
    );
    assert!(
        at(&errors, "spec.source.expectedVersion")
            .message
            .contains("\"v\"")
    );
}

#[test]
fn an_empty_snapshot_key_is_required() {
    let errors = restore_errors(IN_PLACE_PLAIN, |v| set(v, "/spec/source/key", json!("")));
    assert!(
        at(&errors, "spec.source.key")
            .message
            .starts_with("required")
    );
}

#[test]
fn names_of_the_restore_and_its_cluster_must_be_dns_labels() {
    let errors = restore_errors(IN_PLACE_PLAIN, |v| {
        set(v, "/metadata/name", json!("Restore_1"));
        set(v, "/spec/cluster", json!("9bao"));
    });
    assert_eq!(at(&errors, "metadata.name").value, "Restore_1");
    let e = at(&errors, "spec.cluster");
    assert_eq!(e.value, "9bao");
    assert!(e.message.contains("DNS-1035 label of at most 40"), "{e}");
}

#[test]
fn the_snapshot_target_is_checked_with_the_backup_target_rules() {
    let errors = restore_errors(IN_PLACE_PLAIN, |v| {
        set(v, "/spec/source/target/bucket", json!("Bad_Bucket"));
        remove(v, "/spec/source/target/endpoint");
        set(v, "/spec/source/target/insecureSkipVerify", json!(true));
    });
    assert!(
        at(&errors, "spec.source.target.bucket")
            .message
            .contains("s3 bucket name")
    );
    assert!(
        at(&errors, "spec.source.target.endpoint")
            .message
            .starts_with("required when provider is s3")
    );
    at(&errors, "spec.source.target.insecureSkipVerify");
    assert!(
        errors.iter().all(|e| !e.path.starts_with("spec.backup")),
        "errors are moved to the restore's paths: {errors}"
    );
}

#[test]
fn plain_http_outside_the_cluster_and_loopback_endpoints_are_refused() {
    let errors = restore_errors(IN_PLACE_PLAIN, |v| {
        set(
            v,
            "/spec/source/target/endpoint",
            json!("http://s3.example.com"),
        );
    });
    assert!(
        at(&errors, "spec.source.target.endpoint")
            .message
            .contains("plain http is only allowed to an in-cluster Service")
    );
    let errors = restore_errors(IN_PLACE_PLAIN, |v| {
        set(
            v,
            "/spec/source/target/endpoint",
            json!("https://169.254.169.254"),
        );
    });
    assert!(
        at(&errors, "spec.source.target.endpoint")
            .message
            .contains("link-local")
    );
}

#[test]
fn the_cluster_template_is_checked_with_the_cluster_rules_at_its_own_paths() {
    let errors = restore_errors(FRESH_TARGET, |v| {
        set(v, "/spec/clusterTemplate/tls/enabled", json!(false));
        set(v, "/spec/clusterTemplate/storage/size", json!("lots"));
        set(v, "/spec/clusterTemplate/image", json!("Not An Image"));
    });
    at(&errors, "spec.clusterTemplate.tls.enabled");
    at(&errors, "spec.clusterTemplate.storage.size");
    at(&errors, "spec.clusterTemplate.image");
    assert!(
        errors
            .iter()
            .all(|e| e.path.starts_with("spec.clusterTemplate.")),
        "only template errors: {errors}"
    );
    assert!(
        errors.iter().all(|e| !e.message.contains("spec.tls")),
        "mentions of cluster fields are moved under the template: {errors}"
    );
}

#[test]
fn a_template_seal_needs_its_credentials_and_no_inline_token() {
    let errors = restore_errors(FRESH_TARGET, |v| {
        remove(v, "/spec/clusterTemplate/unseal/credentialsSecretRef");
        set(
            v,
            "/spec/clusterTemplate/unseal/transit/token",
            json!("s.secret"),
        );
        set(
            v,
            "/spec/clusterTemplate/unseal/transit/tlsSkipVerify",
            json!(true),
        );
    });
    at(&errors, "spec.clusterTemplate.unseal.credentialsSecretRef");
    let token = at(&errors, "spec.clusterTemplate.unseal.transit.token");
    assert!(
        !token.value.contains("s.secret"),
        "the token is not echoed: {token}"
    );
    at(&errors, "spec.clusterTemplate.unseal.transit.tlsSkipVerify");
    assert_eq!(
        errors
            .iter()
            .filter(|e| e.path == "spec.clusterTemplate.unseal.transit.token")
            .count(),
        1,
        "one error per field: {errors}"
    );
}

#[test]
fn a_static_template_needs_a_secret_with_the_snapshots_key() {
    let errors = restore_errors(FRESH_TARGET, |v| {
        set(v, "/spec/clusterTemplate/unseal", json!({"type": "static"}));
    });
    let e = at(&errors, "spec.clusterTemplate.unseal.credentialsSecretRef");
    assert!(
        e.message
            .contains("static key the snapshot was sealed with"),
        "{e}"
    );
    let restore = restore(FRESH_TARGET, |v| {
        set(
            v,
            "/spec/clusterTemplate/unseal",
            json!({"type": "static", "credentialsSecretRef": {"name": "prod-key-copy"}}),
        );
    });
    validate_restore(&restore).unwrap_or_else(|e| panic!("valid: {e}"));
}

#[test]
fn a_template_seal_moved_out_of_openbao_needs_a_kms_plugin() {
    let errors = restore_errors(FRESH_TARGET, |v| {
        set(
            v,
            "/spec/clusterTemplate/unseal",
            json!({"type": "awskms", "awskms": {"region": "eu-west-1", "kmsKeyID": "alias/bao"}}),
        );
    });
    let at_type: Vec<_> = errors
        .iter()
        .filter(|e| e.path == "spec.clusterTemplate.unseal.type")
        .collect();
    assert!(at_type.iter().all(|e| e.value == "awskms"), "{errors}");
    assert!(
        at_type
            .iter()
            .any(|e| e.message.contains("plugin") && e.message.contains("awskms")),
        "{errors}"
    );
}

#[test]
fn secrets_must_not_be_operator_secrets_or_in_another_namespace() {
    let errors = restore_errors(IN_PLACE_FORCED, |v| {
        set(
            v,
            "/spec/tokenSecretRef",
            json!({"name": "bao-root-token", "namespace": "elsewhere"}),
        );
    });
    let e = at(&errors, "spec.tokenSecretRef.name");
    assert!(e.message.contains("ends in -root-token"), "{e}");
    let e = at(&errors, "spec.tokenSecretRef.namespace");
    assert_eq!(e.value, "elsewhere");
    assert!(e.message.contains("\"vault-prod\""), "{e}");
}

#[test]
fn any_spec_change_is_refused_on_update_and_names_the_changed_field() {
    let old = restore_from_yaml_str(IN_PLACE_FORCED).expect("decodes");
    let new = restore(IN_PLACE_FORCED, |v| {
        set(v, "/spec/source/key", json!("clusters/other.snap"));
    });
    let errors = validate_restore_update(&old, &new).expect_err("spec is immutable");
    assert_eq!(errors.len(), 1, "{errors}");
    let e = at(&errors, "spec.source.key");
    assert_eq!(e.value, "clusters/other.snap");
    assert!(
        e.message
            .starts_with("is immutable (it was clusters/vault-prod"),
        "{e}"
    );
    assert!(e.message.contains("create a new OpenBaoRestore"), "{e}");
}

#[test]
fn adding_an_optional_field_on_update_is_refused_too() {
    let old = restore_from_yaml_str(IN_PLACE_PLAIN).expect("decodes");
    let new = restore(IN_PLACE_PLAIN, |v| {
        set(v, "/spec/image", json!("ghcr.io/example/restore:1"));
    });
    let errors = validate_restore_update(&old, &new).expect_err("spec is immutable");
    assert!(at(&errors, "spec.image").message.contains("(it was unset)"));
}

#[test]
fn a_status_or_label_update_with_the_same_spec_is_accepted() {
    let old = restore_from_yaml_str(IN_PLACE_FORCED).expect("decodes");
    let new = restore(IN_PLACE_FORCED, |v| {
        set(v, "/metadata/labels", json!({"team": "a"}));
        set(v, "/status", json!({"phase": "Failed", "message": "x"}));
    });
    validate_restore_update(&old, &new).unwrap_or_else(|e| panic!("valid: {e}"));
}

// ---------------------------------------------------------------- OpenBaoTenant

#[test]
fn an_upstream_tenant_with_quota_and_limit_range_decodes_and_validates() {
    let tenant = tenant_from_yaml_str(TENANT).expect("decodes");
    assert_eq!(tenant.spec.target_namespace, "team-a");
    let quota = tenant.spec.quota.as_ref().expect("quota");
    assert_eq!(
        quota.hard.as_ref().expect("hard")["requests.memory"].0,
        "8Gi"
    );
    validate_tenant(&tenant).unwrap_or_else(|e| panic!("valid: {e}"));
    validate_tenant_scope(&tenant, "openbao-operator-system")
        .unwrap_or_else(|e| panic!("the operator's namespace may onboard any: {e}"));
}

#[test]
fn a_minimal_upstream_tenant_decodes_and_validates() {
    let tenant = tenant_from_yaml_str(
        "apiVersion: openbao.org/v1alpha1\nkind: OpenBaoTenant\nmetadata:\n  name: openbao-tenant\n  namespace: openbao-operator-system\nspec:\n  targetNamespace: openbao\n",
    )
    .expect("decodes");
    validate_tenant(&tenant).unwrap_or_else(|e| panic!("valid: {e}"));
}

#[test]
fn a_misspelt_quota_field_is_refused_instead_of_silently_dropped() {
    let mut v = yaml(TENANT);
    set(&mut v, "/spec/quota/hrad", json!({"pods": "10"}));
    set(
        &mut v,
        "/spec/limitRange/limits/0/maximum",
        json!({"cpu": "1"}),
    );
    set(
        &mut v,
        "/spec/quota/scopeSelector/matchExpressions/0/operater",
        json!("In"),
    );
    let errors = tenant_from_value(v).expect_err("unknown fields");
    assert!(
        at(&errors, "spec.quota.hrad")
            .message
            .contains("allowed fields are hard, scopeSelector, scopes")
    );
    at(&errors, "spec.limitRange.limits[0].maximum");
    at(
        &errors,
        "spec.quota.scopeSelector.matchExpressions[0].operater",
    );
}

#[test]
fn a_tenant_without_a_target_namespace_is_refused_when_decoding() {
    let mut v = yaml(TENANT);
    remove(&mut v, "/spec/targetNamespace");
    let errors = tenant_from_value(v).expect_err("required");
    assert_eq!(
        at(&errors, "spec.targetNamespace").message,
        "required field is missing"
    );
}

#[test]
fn a_target_namespace_must_be_a_namespace_name() {
    let errors = tenant_errors(|v| set(v, "/spec/targetNamespace", json!("Team_A")));
    let e = at(&errors, "spec.targetNamespace");
    assert_eq!(e.value, "Team_A");
    assert!(e.message.contains("DNS-1123 label"), "{e}");
}

#[test]
fn bad_quantities_scopes_and_limit_types_are_each_reported() {
    let errors = tenant_errors(|v| {
        set(v, "/spec/quota/hard/requests.cpu", json!("four"));
        set(v, "/spec/quota/hard/limits.memory", json!("-1Gi"));
        set(
            v,
            "/spec/quota/scopes",
            json!(["BestEffort", "Sometimes", "BestEffort"]),
        );
        set(
            v,
            "/spec/quota/scopeSelector/matchExpressions/0/operator",
            json!("Exists"),
        );
        set(v, "/spec/limitRange/limits/0/type", json!("Node"));
    });
    assert_eq!(
        at(&errors, "spec.quota.hard[\"requests.cpu\"]").value,
        "four"
    );
    assert!(
        at(&errors, "spec.quota.hard[\"limits.memory\"]")
            .message
            .contains("negative")
    );
    assert!(
        at(&errors, "spec.quota.scopes[1]")
            .message
            .starts_with("must be one of")
    );
    assert!(
        at(&errors, "spec.quota.scopes[2]")
            .message
            .starts_with("duplicate of")
    );
    assert!(
        at(
            &errors,
            "spec.quota.scopeSelector.matchExpressions[0].values"
        )
        .message
        .contains("must be empty when operator is Exists")
    );
    assert_eq!(at(&errors, "spec.limitRange.limits[0].type").value, "Node");
}

#[test]
fn pod_limits_take_no_defaults() {
    let errors = tenant_errors(|v| set(v, "/spec/limitRange/limits/0/type", json!("Pod")));
    assert!(
        at(&errors, "spec.limitRange.limits[0].default")
            .message
            .contains("type Pod")
    );
}

#[test]
fn the_target_namespace_cannot_change_on_update() {
    let old = tenant_from_yaml_str(TENANT).expect("decodes");
    let new = tenant(|v| set(v, "/spec/targetNamespace", json!("team-b")));
    let errors = validate_tenant_update(&old, &new).expect_err("immutable");
    let e = at(&errors, "spec.targetNamespace");
    assert_eq!(e.value, "team-b");
    assert!(
        e.message.starts_with("is immutable (it was \"team-a\")"),
        "{e}"
    );
    let quota_only = tenant(|v| set(v, "/spec/quota/hard/pods", json!("20")));
    validate_tenant_update(&old, &quota_only).unwrap_or_else(|e| panic!("valid: {e}"));
}

#[test]
fn a_self_service_tenant_may_only_onboard_its_own_namespace() {
    let elsewhere = tenant(|v| set(v, "/metadata/namespace", json!("team-b")));
    let errors = validate_tenant_scope(&elsewhere, "openbao-operator-system")
        .expect_err("team-b cannot onboard team-a");
    assert!(
        at(&errors, "spec.targetNamespace")
            .message
            .contains("the tenant's own namespace")
    );
    let own = tenant(|v| set(v, "/metadata/namespace", json!("team-a")));
    validate_tenant_scope(&own, "openbao-operator-system")
        .unwrap_or_else(|e| panic!("self-service: {e}"));
}

// ---------------------------------------------------------------- CRDs and conditions

fn rules_at(crd: &Value, pointer: &str) -> Vec<String> {
    crd.pointer(pointer)
        .and_then(|v| v.get("x-kubernetes-validations"))
        .and_then(Value::as_array)
        .map(|rules| {
            rules
                .iter()
                .filter_map(|r| r["rule"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

const SCHEMA: &str = "/spec/versions/0/schema/openAPIV3Schema";

#[test]
fn the_restore_crd_has_upstreams_names_columns_and_cel_rules() {
    let crd = serde_json::to_value(OpenBaoRestore::crd()).expect("the CRD serializes");
    serde_yaml::to_string(&OpenBaoRestore::crd()).expect("and renders as YAML");
    assert_eq!(crd["metadata"]["name"], "openbaorestores.openbao.org");
    assert_eq!(crd["spec"]["group"], "openbao.org");
    assert_eq!(crd["spec"]["scope"], "Namespaced");
    assert_eq!(crd["spec"]["names"]["kind"], "OpenBaoRestore");
    assert_eq!(crd["spec"]["names"]["plural"], "openbaorestores");
    assert_eq!(crd["spec"]["names"]["shortNames"], json!(["obrestore"]));
    assert_eq!(crd["spec"]["names"]["categories"], json!(["openbao"]));
    let version = &crd["spec"]["versions"][0];
    assert_eq!(version["name"], "v1alpha1");
    assert_eq!(version["subresources"]["status"], json!({}));
    let columns: Vec<&str> = version["additionalPrinterColumns"]
        .as_array()
        .expect("columns")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(columns, ["Cluster", "Phase", "Age"]);
    assert!(
        rules_at(&crd, SCHEMA)
            .iter()
            .any(|r| r.contains("self.metadata.name.matches")),
        "the name is a DNS label even without the webhook"
    );
    let spec_rules = rules_at(&crd, &format!("{SCHEMA}/properties/spec"));
    for rule in [
        "self == oldSelf",
        "!has(self.targetLifecycle) || has(self.clusterTemplate)",
        "!has(self.cleanupAfterSeconds) || (has(self.targetLifecycle) && self.targetLifecycle == 'Disposable')",
        "!has(self.overrideOperationLock) || !self.overrideOperationLock || (has(self.force) && self.force)",
    ] {
        assert!(
            spec_rules.iter().any(|r| r == rule),
            "{rule} in {spec_rules:?}"
        );
    }
    let target = format!("{SCHEMA}/properties/spec/properties/source/properties/target");
    assert!(
        rules_at(&crd, &target)
            .iter()
            .any(|r| r.starts_with("self.provider != 's3'")),
        "the backup target's rules travel with it"
    );
    let source = &crd
        .pointer(&format!(
            "{SCHEMA}/properties/spec/properties/source/properties"
        ))
        .expect("source");
    assert_eq!(source["expectedDigest"]["pattern"], "^sha256:[a-f0-9]{64}$");
    assert_eq!(source["expectedSize"]["maximum"], json!(8_589_934_592.0));
    let spec = &crd
        .pointer(&format!("{SCHEMA}/properties/spec"))
        .expect("spec");
    assert_eq!(spec["required"], json!(["cluster", "source"]));
    assert_eq!(spec["properties"]["force"]["default"], json!(false));
    assert_eq!(
        spec["properties"]["targetLifecycle"]["enum"],
        json!(["Retain", "Disposable"])
    );
    assert!(
        spec["properties"]["cluster"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("OpenBaoCluster")),
        "fields are documented for kubectl explain"
    );
}

#[test]
fn the_tenant_crd_has_upstreams_names_and_an_immutable_target_namespace() {
    let crd = serde_json::to_value(OpenBaoTenant::crd()).expect("the CRD serializes");
    assert_eq!(crd["metadata"]["name"], "openbaotenants.openbao.org");
    assert_eq!(crd["spec"]["group"], "openbao.org");
    assert_eq!(crd["spec"]["scope"], "Namespaced");
    assert_eq!(crd["spec"]["names"]["kind"], "OpenBaoTenant");
    assert_eq!(crd["spec"]["names"]["shortNames"], json!(["obt"]));
    let version = &crd["spec"]["versions"][0];
    assert_eq!(version["name"], "v1alpha1");
    assert_eq!(version["subresources"]["status"], json!({}));
    let target = format!("{SCHEMA}/properties/spec/properties/targetNamespace");
    assert_eq!(rules_at(&crd, &target), ["self == oldSelf"]);
    let spec = crd
        .pointer(&format!("{SCHEMA}/properties/spec"))
        .expect("spec");
    assert_eq!(spec["required"], json!(["targetNamespace"]));
    assert!(spec["properties"]["quota"]["properties"]["hard"].is_object());
    assert!(spec["properties"]["limitRange"]["properties"]["limits"].is_object());
}

#[test]
fn the_not_implemented_condition_has_a_type_and_a_reason_per_kind() {
    assert_eq!(types::NOT_IMPLEMENTED, "NotImplemented");
    assert_eq!(reasons::RESTORE_NOT_IMPLEMENTED, "RestoreNotImplemented");
    assert_eq!(reasons::TENANT_NOT_IMPLEMENTED, "TenantNotImplemented");
}
