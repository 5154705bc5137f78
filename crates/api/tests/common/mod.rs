//! Shared fixtures for the api crate's integration tests: one valid manifest that uses every
//! feature, and helpers to change one field and collect the errors.
#![allow(dead_code)]

use api::OpenBaoCluster;
use api::validate::ValidationErrors;
use serde_json::Value;

/// A complete, valid manifest exercising every block of the spec.
pub const VALID: &str = r#"
apiVersion: openbao.org/v1alpha1
kind: OpenBaoCluster
metadata:
  name: bao
  namespace: secrets
spec:
  version: 2.4.1
  image: quay.io/openbao/openbao:2.4.1
  replicas: 3
  tls:
    mode: OperatorManaged
    extraSANs: ["bao.example.com", "*.bao.example.com", "10.0.0.10", "fd00::10"]
    rotationPeriod: 720h
  storage:
    size: 10Gi
    storageClassName: fast-ssd
  unseal:
    type: transit
    transit:
      address: https://vault.example.com:8200
      keyName: openbao-unseal
      mountPath: transit/
      tlsCACert: /etc/bao/seal-creds/ca.crt
    credentialsSecretRef:
      name: transit-token
  network:
    dnsNamespace: kube-system
    kubeSystemIngress: false
    apiServerCIDR: 10.96.0.1/32
    apiServerEndpointIPs: ["172.18.0.2", "fd00::2"]
    ingressRules:
      - from:
          - namespaceSelector:
              matchLabels:
                kubernetes.io/metadata.name: apps
            podSelector:
              matchExpressions:
                - key: app.kubernetes.io/name
                  operator: In
                  values: [web, api]
                - key: tier
                  operator: Exists
          - ipBlock:
              cidr: 10.0.0.0/8
              except: [10.1.0.0/16]
        ports:
          - port: 8200
            protocol: TCP
    egressRules:
      - to:
          - ipBlock:
              cidr: 192.0.2.10/32
        ports:
          - port: 8200
            endPort: 8201
            protocol: TCP
          - port: https
  gateway:
    enabled: true
    gatewayRef:
      name: public
      namespace: gateway-system
    hostname: bao.example.com
    path: /
    listenerName: https
  service:
    type: ClusterIP
    annotations:
      example.com/owner: platform
  backup:
    schedule: "0 */6 * * *"
    target:
      provider: s3
      endpoint: https://s3.eu-west-1.amazonaws.com
      bucket: openbao-snapshots
      pathPrefix: prod/openbao/
      region: eu-west-1
      credentialsSecretRef:
        name: s3-credentials
    retention:
      maxCount: 30
      maxAge: 720h
    egressRules:
      - to:
          - ipBlock:
              cidr: 52.0.0.0/8
        ports:
          - port: 443
            protocol: TCP
  deletionPolicy: Retain
  configuration:
    ui: true
    logLevel: info
    raft:
      performanceMultiplier: 1
"#;

/// The valid manifest as a JSON value.
pub fn valid_value() -> Value {
    serde_yaml::from_str(VALID).expect("the fixture is YAML")
}

/// The valid manifest, decoded.
pub fn valid_cluster() -> OpenBaoCluster {
    api::decode::cluster_from_value(valid_value()).expect("the fixture decodes")
}

/// Set the field at a JSON pointer (`/spec/tls/mode`), creating objects on the way; an index
/// segment must address an existing element.
pub fn set(v: &mut Value, pointer: &str, value: Value) {
    let mut current = v;
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    let (last, parents) = parts.split_last().expect("a non-empty pointer");
    for part in parents {
        current = match current {
            Value::Array(items) => {
                let i: usize = part.parse().expect("an index");
                &mut items[i]
            }
            other => {
                if !other.is_object() {
                    *other = Value::Object(Default::default());
                }
                other
                    .as_object_mut()
                    .expect("an object")
                    .entry(part.to_string())
                    .or_insert_with(|| Value::Object(Default::default()))
            }
        };
    }
    match current {
        Value::Array(items) => {
            let i: usize = last.parse().expect("an index");
            items[i] = value;
        }
        other => {
            other
                .as_object_mut()
                .expect("an object")
                .insert(last.to_string(), value);
        }
    }
}

/// Remove the field at a JSON pointer.
pub fn remove(v: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
    if let Some(Value::Object(map)) = v.pointer_mut(parent) {
        map.remove(key);
    }
}

/// The valid manifest with one change, decoded (it must still decode).
pub fn cluster_with(change: impl FnOnce(&mut Value)) -> OpenBaoCluster {
    let mut v = valid_value();
    change(&mut v);
    api::decode::cluster_from_value(v).expect("the changed manifest still decodes")
}

/// The errors `validate` reports for the valid manifest with one change.
pub fn errors_with(change: impl FnOnce(&mut Value)) -> ValidationErrors {
    api::validate(&cluster_with(change)).expect_err("the change makes the spec invalid")
}

/// The errors decoding reports for the valid manifest with one change.
pub fn decode_errors_with(change: impl FnOnce(&mut Value)) -> ValidationErrors {
    let mut v = valid_value();
    change(&mut v);
    api::decode::cluster_from_value(v).expect_err("the change makes decoding fail")
}

/// Assert that some error's path is exactly `path`, showing every error otherwise.
pub fn assert_path(errors: &ValidationErrors, path: &str) {
    assert!(
        errors.iter().any(|e| e.path == path),
        "expected an error at {path}, got: {errors}"
    );
}

/// Assert that `change` makes `validate` report an error exactly at `path`.
pub fn assert_invalid_at(path: &str, change: impl FnOnce(&mut Value)) {
    let errors = errors_with(change);
    assert_path(&errors, path);
}

/// Assert that the valid manifest with `change` still passes `validate`.
pub fn assert_valid_with(change: impl FnOnce(&mut Value)) {
    let cluster = cluster_with(change);
    if let Err(errors) = api::validate(&cluster) {
        panic!("expected no errors, got: {errors}");
    }
}

/// The message of the error at `path` (panics with every error when there is none).
pub fn message_at(errors: &ValidationErrors, path: &str) -> String {
    errors
        .iter()
        .find(|e| e.path == path)
        .map(|e| e.message.clone())
        .unwrap_or_else(|| panic!("no error at {path}: {errors}"))
}
