//! A container's environment and command line, resolved the way the kubelet does it: service
//! variables for the API server, `envFrom`, then `env` in order with `$(VAR)` expansion, field
//! and resource references, and ConfigMap/Secret keys.

use std::collections::BTreeMap;

use k8s_openapi::{
    ByteString,
    api::core::v1::{ConfigMap, Container, Pod, ResourceFieldSelector, Secret},
    apimachinery::pkg::api::resource::Quantity,
};
use kube::Api;

use super::registration::{ALLOCATABLE_CPU, ALLOCATABLE_MEMORY};

/// Replaces `$(NAME)` with `lookup(NAME)` when it has a value; `$$` is a literal `$`, and an
/// unknown or unterminated reference stays as written (Kubernetes' `expansion.Expand`).
pub(crate) fn expand(input: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('(') {
            match tail.find(')') {
                Some(close) => {
                    let name = &tail[..close];
                    match lookup(name) {
                        Some(value) => out.push_str(&value),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &tail[close + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = tail;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Whether `name` is a valid environment variable name (`envFrom` skips the keys that aren't).
fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '_' | '-' | '.'))
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Addresses the downward API and service variables need.
#[derive(Clone, Debug)]
pub(crate) struct Addresses {
    pub pod_ip: String,
    pub host_ip: String,
    pub api_host: String,
    pub api_port: u16,
}

/// Why an environment could not be built: the pod waits with `CreateContainerConfigError`.
#[derive(Debug)]
pub(crate) struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads ConfigMaps and Secrets of the pod's namespace once per resolution.
struct Sources {
    config_maps: Api<ConfigMap>,
    secrets: Api<Secret>,
    config_map_cache: BTreeMap<String, Option<ConfigMap>>,
    secret_cache: BTreeMap<String, Option<Secret>>,
}

impl Sources {
    async fn config_map(&mut self, name: &str) -> Result<Option<&ConfigMap>, ConfigError> {
        if !self.config_map_cache.contains_key(name) {
            let found = self
                .config_maps
                .get_opt(name)
                .await
                .map_err(|e| ConfigError(format!("reading configmap {name:?}: {e}")))?;
            self.config_map_cache.insert(name.to_owned(), found);
        }
        Ok(self.config_map_cache.get(name).and_then(Option::as_ref))
    }

    async fn secret(&mut self, name: &str) -> Result<Option<&Secret>, ConfigError> {
        if !self.secret_cache.contains_key(name) {
            let found = self
                .secrets
                .get_opt(name)
                .await
                .map_err(|e| ConfigError(format!("reading secret {name:?}: {e}")))?;
            self.secret_cache.insert(name.to_owned(), found);
        }
        Ok(self.secret_cache.get(name).and_then(Option::as_ref))
    }
}

/// All of a ConfigMap's keys as strings (binaryData included when it is UTF-8).
fn config_map_entries(config_map: &ConfigMap) -> BTreeMap<String, String> {
    let mut entries: BTreeMap<String, String> = config_map.data.clone().unwrap_or_default();
    for (key, value) in config_map.binary_data.iter().flatten() {
        entries.insert(key.clone(), String::from_utf8_lossy(&value.0).into_owned());
    }
    entries
}

fn secret_entries(secret: &Secret) -> BTreeMap<String, String> {
    let mut entries = BTreeMap::new();
    for (key, ByteString(bytes)) in secret.data.iter().flatten() {
        entries.insert(key.clone(), String::from_utf8_lossy(bytes).into_owned());
    }
    for (key, value) in secret.string_data.iter().flatten() {
        entries.insert(key.clone(), value.clone());
    }
    entries
}

/// The container's environment, in kubelet order; later duplicates win.
pub(crate) async fn environment(
    client: &kube::Client,
    pod: &Pod,
    container: &Container,
    addresses: &Addresses,
) -> Result<Vec<(String, String)>, ConfigError> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let mut sources = Sources {
        config_maps: Api::namespaced(client.clone(), &namespace),
        secrets: Api::namespaced(client.clone(), &namespace),
        config_map_cache: BTreeMap::new(),
        secret_cache: BTreeMap::new(),
    };
    // Insertion order is kept for the result; lookups go through `values`.
    let mut order: Vec<String> = Vec::new();
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    let set = |order: &mut Vec<String>,
               values: &mut BTreeMap<String, String>,
               name: String,
               value: String| {
        if values.insert(name.clone(), value).is_none() {
            order.push(name);
        }
    };

    // The `kubernetes` Service, as the kubelet always adds it (service links for the pod's
    // own namespace are not generated; OpenBao pods disable them anyway).
    let (host, port) = (&addresses.api_host, addresses.api_port);
    for (name, value) in [
        ("KUBERNETES_SERVICE_HOST", host.clone()),
        ("KUBERNETES_SERVICE_PORT", port.to_string()),
        ("KUBERNETES_SERVICE_PORT_HTTPS", port.to_string()),
        ("KUBERNETES_PORT", format!("tcp://{host}:{port}")),
        (
            &format!("KUBERNETES_PORT_{port}_TCP"),
            format!("tcp://{host}:{port}"),
        ),
        (&format!("KUBERNETES_PORT_{port}_TCP_PROTO"), "tcp".into()),
        (
            &format!("KUBERNETES_PORT_{port}_TCP_PORT"),
            port.to_string(),
        ),
        (&format!("KUBERNETES_PORT_{port}_TCP_ADDR"), host.clone()),
    ] {
        set(&mut order, &mut values, name.to_owned(), value);
    }

    for from in container.env_from.iter().flatten() {
        let prefix = from.prefix.clone().unwrap_or_default();
        let entries = if let Some(reference) = &from.config_map_ref {
            match sources.config_map(&reference.name).await? {
                Some(config_map) => config_map_entries(config_map),
                None if reference.optional == Some(true) => continue,
                None => {
                    return Err(ConfigError(format!(
                        "configmap {:?} not found",
                        reference.name
                    )));
                }
            }
        } else if let Some(reference) = &from.secret_ref {
            match sources.secret(&reference.name).await? {
                Some(secret) => secret_entries(secret),
                None if reference.optional == Some(true) => continue,
                None => {
                    return Err(ConfigError(format!(
                        "secret {:?} not found",
                        reference.name
                    )));
                }
            }
        } else {
            continue;
        };
        for (key, value) in entries {
            let name = format!("{prefix}{key}");
            if is_env_name(&name) {
                set(&mut order, &mut values, name, value);
            }
        }
    }

    for var in container.env.iter().flatten() {
        let value = if let Some(value) = &var.value {
            expand(value, |name| values.get(name).cloned())
        } else if let Some(from) = &var.value_from {
            if let Some(field) = &from.field_ref {
                field_value(pod, &field.field_path, addresses)?
            } else if let Some(resource) = &from.resource_field_ref {
                resource_value(pod, container, resource)?
            } else if let Some(key) = &from.config_map_key_ref {
                let optional = key.optional == Some(true);
                match sources.config_map(&key.name).await? {
                    Some(config_map) => match config_map_entries(config_map).remove(&key.key) {
                        Some(value) => value,
                        None if optional => continue,
                        None => {
                            return Err(ConfigError(format!(
                                "couldn't find key {} in ConfigMap {namespace}/{}",
                                key.key, key.name
                            )));
                        }
                    },
                    None if optional => continue,
                    None => {
                        return Err(ConfigError(format!("configmap {:?} not found", key.name)));
                    }
                }
            } else if let Some(key) = &from.secret_key_ref {
                let optional = key.optional == Some(true);
                match sources.secret(&key.name).await? {
                    Some(secret) => match secret_entries(secret).remove(&key.key) {
                        Some(value) => value,
                        None if optional => continue,
                        None => {
                            return Err(ConfigError(format!(
                                "couldn't find key {} in Secret {namespace}/{}",
                                key.key, key.name
                            )));
                        }
                    },
                    None if optional => continue,
                    None => {
                        return Err(ConfigError(format!("secret {:?} not found", key.name)));
                    }
                }
            } else {
                String::new()
            }
        } else {
            String::new()
        };
        set(&mut order, &mut values, var.name.clone(), value);
    }

    Ok(order
        .into_iter()
        .filter_map(|name| values.remove(&name).map(|value| (name, value)))
        .collect())
}

/// A downward-API field (`metadata.name`, `status.podIP`, `metadata.labels['x']`, ...).
pub(crate) fn field_value(
    pod: &Pod,
    path: &str,
    addresses: &Addresses,
) -> Result<String, ConfigError> {
    let meta = &pod.metadata;
    let spec = pod.spec.as_ref();
    let keyed = |prefix: &str, map: Option<&BTreeMap<String, String>>| -> Option<String> {
        let key = path
            .strip_prefix(prefix)?
            .strip_prefix("['")?
            .strip_suffix("']")?;
        Some(map.and_then(|m| m.get(key)).cloned().unwrap_or_default())
    };
    if let Some(value) = keyed("metadata.labels", meta.labels.as_ref()) {
        return Ok(value);
    }
    if let Some(value) = keyed("metadata.annotations", meta.annotations.as_ref()) {
        return Ok(value);
    }
    Ok(match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "metadata.labels" => format_map(meta.labels.as_ref()),
        "metadata.annotations" => format_map(meta.annotations.as_ref()),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.hostIP" | "status.hostIPs" => addresses.host_ip.clone(),
        "status.podIP" | "status.podIPs" => addresses.pod_ip.clone(),
        other => {
            return Err(ConfigError(format!(
                "unsupported fieldRef path {other:?} (the localcluster node supports \
                 metadata.name/namespace/uid/labels/annotations, spec.nodeName, \
                 spec.serviceAccountName, status.podIP(s), status.hostIP(s))"
            )));
        }
    })
}

/// The downward API's `key="value"` lines for labels and annotations.
pub(crate) fn format_map(map: Option<&BTreeMap<String, String>>) -> String {
    map.into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", serde_json::Value::String(v.clone())))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `limits.cpu`, `requests.memory`, ...: the container's value, or the node's allocatable
/// amount for an unset limit (what the kubelet reports), divided by the divisor and rounded up.
pub(crate) fn resource_value(
    pod: &Pod,
    container: &Container,
    selector: &ResourceFieldSelector,
) -> Result<String, ConfigError> {
    let target = match &selector.container_name {
        Some(name) if !name.is_empty() => pod
            .spec
            .iter()
            .flat_map(|s| {
                s.containers
                    .iter()
                    .chain(s.init_containers.iter().flatten())
            })
            .find(|c| &c.name == name)
            .ok_or_else(|| {
                ConfigError(format!("resourceFieldRef names unknown container {name}"))
            })?,
        _ => container,
    };
    let (kind, resource) = selector
        .resource
        .split_once('.')
        .ok_or_else(|| ConfigError(format!("unsupported resource {:?}", selector.resource)))?;
    let resources = target.resources.as_ref();
    let set = match kind {
        "limits" => resources.and_then(|r| r.limits.as_ref()),
        "requests" => resources.and_then(|r| r.requests.as_ref()),
        _ => None,
    };
    let fallback = match resource {
        "cpu" if kind == "limits" => ALLOCATABLE_CPU,
        "memory" if kind == "limits" => ALLOCATABLE_MEMORY,
        "cpu" | "memory" | "ephemeral-storage" => "0",
        _ => {
            return Err(ConfigError(format!(
                "unsupported resource {:?}",
                selector.resource
            )));
        }
    };
    let value = set
        .and_then(|m| m.get(resource))
        .map_or(fallback, |q| q.0.as_str());
    let value = parse_quantity(value)
        .ok_or_else(|| ConfigError(format!("cannot parse quantity {value:?}")))?;
    let divisor = selector
        .divisor
        .as_ref()
        .map_or(Some(1.0), |Quantity(d)| parse_quantity(d))
        .filter(|d| *d > 0.0)
        .ok_or_else(|| ConfigError("invalid resourceFieldRef divisor".to_owned()))?;
    Ok(format!("{}", (value / divisor).ceil()))
}

/// A Kubernetes quantity (`100m`, `2Gi`, `1e3`) as a number.
pub(crate) fn parse_quantity(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exponent => {
            let power: i32 = exponent.strip_prefix(['e', 'E'])?.parse().ok()?;
            10f64.powi(power)
        }
    };
    Some(number * factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn references_expand_like_the_kubelet() {
        let lookup = vars(&[("POD", "bao-0"), ("EMPTY", "")]);
        assert_eq!(
            expand("https://$(POD).bao-internal:8200", &lookup),
            "https://bao-0.bao-internal:8200"
        );
        assert_eq!(expand("$(UNKNOWN)-$(POD)", &lookup), "$(UNKNOWN)-bao-0");
        assert_eq!(expand("$$(POD) costs $5", &lookup), "$(POD) costs $5");
        assert_eq!(
            expand("x$(EMPTY)y $(unterminated", &lookup),
            "xy $(unterminated"
        );
        assert_eq!(expand("trailing $", &lookup), "trailing $");
    }

    #[test]
    fn quantities_parse_with_every_suffix() {
        assert_eq!(parse_quantity("100m"), Some(0.1));
        assert_eq!(parse_quantity("2Gi"), Some(2.0 * 1024.0 * 1024.0 * 1024.0));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("64"), Some(64.0));
        assert_eq!(parse_quantity("lots"), None);
    }

    #[test]
    fn env_from_keys_must_be_variable_names() {
        assert!(is_env_name("AWS_REGION"));
        assert!(is_env_name("my.key-1"));
        assert!(!is_env_name("1BAD"));
        assert!(!is_env_name("has space"));
    }
}
