//! OpenBao's `config.hcl`, rendered from the spec, and the ConfigMap that carries it.
//!
//! One file serves every pod, so nothing pod-specific lives in it: each pod's `api_addr`,
//! `cluster_addr` and Raft `node_id` come from the environment variables `BAO_API_ADDR`,
//! `BAO_CLUSTER_ADDR` and `BAO_RAFT_NODE_ID`, which the StatefulSet builds from the pod's own
//! name (`https://<pod>.<headless-service>.<namespace>.svc:8200`). OpenBao gives these variables
//! precedence over the file.

use std::{collections::BTreeMap, fmt::Write};

use api::{
    AcmeTrust, AuditDevice, AuditDeviceType, Configuration, ListenerConfiguration, Plugin,
    TelemetryConfiguration, TlsMode, TlsVersion,
    names::{self, paths},
};
use k8s_openapi::api::core::v1::ConfigMap;
use sha2::{Digest, Sha256};

use super::{ValidatedCluster, meta::object_meta};

/// Directory the ConfigMap is mounted at.
pub const CONFIG_DIR: &str = "/etc/bao/config";
/// Key of the configuration in the ConfigMap (and file name in `CONFIG_DIR`).
pub const CONFIG_FILE: &str = "config.hcl";
/// Directory holding `tls.crt`, `tls.key` and `ca.crt`.
pub const TLS_DIR: &str = "/etc/bao/tls";
/// Directory holding the static unseal key file `key`.
pub const UNSEAL_DIR: &str = "/etc/bao/unseal";
/// File name of the static unseal key in its Secret and directory.
pub const UNSEAL_KEY_FILE: &str = "key";
/// Directory where the seal credentials Secret is mounted.
pub const SEAL_CREDENTIALS_DIR: &str = paths::SEAL_CREDENTIALS_DIR;
/// Raft data directory (the PersistentVolumeClaim).
pub const DATA_DIR: &str = "/openbao/data";
/// The pods' plugin directory (`plugin_directory`): upstream's path. A pod-local volume when
/// OCI plugins are downloaded, else the image's own directory (preinstalled commands).
pub const PLUGIN_DIR: &str = api::validate::PLUGIN_DIRECTORY;
/// Key ID of the operator-generated static seal key.
pub const STATIC_KEY_ID: &str = "openbao-operator-1";

/// Render `config.hcl` for `cluster`.
pub fn render(cluster: &ValidatedCluster) -> String {
    let spec = cluster.spec();
    let names = cluster.names();
    let namespace = cluster.namespace();
    let mut out = String::new();
    let w = &mut out;

    line(
        w,
        "# Rendered by openbao-operator. Do not edit: changes are overwritten.",
    );
    line(
        w,
        "# api_addr, cluster_addr and the Raft node_id are set per pod through BAO_API_ADDR,",
    );
    line(
        w,
        "# BAO_CLUSTER_ADDR and BAO_RAFT_NODE_ID (https://<pod>.<headless-service>.<namespace>.svc).",
    );
    line(w, "");
    line(w, &format!("ui = {}", spec.configuration.ui));
    line(
        w,
        &format!(
            "log_level = {}",
            hcl_string(spec.configuration.log_level.as_str())
        ),
    );
    render_server_settings(w, &spec.configuration);
    if !spec.plugins.is_empty() {
        line(w, &format!("plugin_directory = {}", hcl_string(PLUGIN_DIR)));
    }
    line(
        w,
        &format!(
            "cluster_name = {}",
            hcl_string(&format!("{namespace}/{}", names.cluster()))
        ),
    );
    line(w, "");

    line(w, "listener \"tcp\" {");
    line(
        w,
        &format!("  address         = \"[::]:{}\"", names::API_PORT),
    );
    line(
        w,
        &format!("  cluster_address = \"[::]:{}\"", names::CLUSTER_PORT),
    );
    match acme_listener(spec) {
        Some(acme) => {
            for (key, value) in acme {
                line(w, &format!("  {key} = {value}"));
            }
        }
        None => {
            line(w, &format!("  tls_cert_file   = \"{TLS_DIR}/tls.crt\""));
            line(w, &format!("  tls_key_file    = \"{TLS_DIR}/tls.key\""));
        }
    }
    render_listener_tls(w, spec.configuration.listener.as_ref());
    line(w, "}");
    line(w, "");

    let selector = names::selector_string(&names.server_selector_labels());
    // go-discover's k8s provider lists Running, Ready pods matching the selector in this
    // namespace, through the ServiceAccount the Role grants; it joins them by pod IP, so the
    // leader's certificate is verified against the headless Service name every cert carries.
    let auto_join = format!("provider=k8s namespace={namespace} label_selector=\"{selector}\"");
    line(w, "storage \"raft\" {");
    line(w, &format!("  path = \"{DATA_DIR}\""));
    if let Some(multiplier) = spec.configuration.raft.performance_multiplier {
        line(w, &format!("  performance_multiplier = {multiplier}"));
    }
    line(w, "  retry_join {");
    line(
        w,
        &format!("    auto_join             = {}", hcl_string(&auto_join)),
    );
    line(w, "    auto_join_scheme      = \"https\"");
    line(
        w,
        &format!("    auto_join_port        = {}", names::API_PORT),
    );
    // Joins verify the leader's listener certificate: the operator's or the user's CA and the
    // headless Service name every such certificate carries; in ACME mode the ACME issuer's
    // root (none: the system roots) and the ACME domain every member obtains a certificate for.
    let (ca_file, server_name) = match spec.acme_trust() {
        Some(trust) => (
            match trust {
                AcmeTrust::SystemRoots => None,
                AcmeTrust::Secret { file, .. } => Some(file),
            },
            acme_server_name(spec),
        ),
        None => (
            Some(format!("{TLS_DIR}/ca.crt")),
            format!("{}.{namespace}.svc", names.headless_service()),
        ),
    };
    if let Some(ca_file) = ca_file {
        line(
            w,
            &format!("    leader_ca_cert_file   = {}", hcl_string(&ca_file)),
        );
    }
    line(
        w,
        &format!("    leader_tls_servername = {}", hcl_string(&server_name)),
    );
    line(w, "  }");
    line(w, "}");
    line(w, "");

    line(w, "service_registration \"kubernetes\" {}");
    line(w, "");

    render_telemetry(w, spec.telemetry.as_deref());
    line(w, "");
    // Audit devices only once the keys are stored: OpenBao enables them during the unseal
    // that `sys/init` performs, and a device that fails there makes `sys/init` answer an error
    // after the barrier was initialized, losing the root token and recovery keys (seen with
    // bao 2.7.2). Adding them afterwards rolls the pods once; a failing device then keeps a
    // member sealed, which is recoverable, instead of losing the keys.
    let initialized = cluster
        .cluster()
        .status
        .as_ref()
        .is_some_and(|s| s.initialized);
    if initialized {
        render_audit(w, &spec.audit);
    }
    // The same holds for plugins OpenBao registers in its catalog (secret, auth, database): it
    // registers them in the post-unseal setup, and one whose binary is missing (a failed
    // download, a wrong command) fails `sys/init` after the barrier was initialized (bao 2.7.2).
    // KMS plugins are never registered; the seal starts its plugin before anything else, so
    // they are rendered from the start.
    for plugin in spec
        .plugins
        .iter()
        .filter(|p| initialized || p.type_ == "kms")
    {
        w.push_str(&plugin_stanza(plugin));
        line(w, "");
    }

    super::seal_hcl::render_seal(w, cluster);
    out
}

/// The listener's ACME settings in ACME mode (`None` otherwise): OpenBao's ACME client obtains
/// a certificate for a domain the first time a client asks for that name (SNI), answering the
/// TLS-ALPN-01 challenge on this listener. HTTP-01 is disabled: it needs plain HTTP on port
/// 80, which this TLS-only listener does not serve. No EAB: its MAC key would sit in this
/// ConfigMap, and OpenBao reads it from nowhere else.
fn acme_listener(spec: &api::OpenBaoClusterSpec) -> Option<Vec<(&'static str, String)>> {
    let acme = spec
        .tls
        .acme
        .as_ref()
        .filter(|_| spec.tls.mode == TlsMode::Acme)?;
    let domains: Vec<String> = acme
        .effective_domains()
        .iter()
        .map(|d| hcl_string(d))
        .collect();
    let mut attrs = vec![
        ("tls_acme_ca_directory", hcl_string(&acme.directory_url)),
        ("tls_acme_domains", format!("[{}]", domains.join(", "))),
    ];
    if let Some(email) = &acme.email {
        attrs.push(("tls_acme_email", hcl_string(email)));
    }
    let cache = if acme.shared_cache.is_some() {
        paths::ACME_SHARED_CACHE_DIR
    } else {
        paths::ACME_CACHE_ON_DATA_DIR
    };
    attrs.push(("tls_acme_cache_path", hcl_string(cache)));
    attrs.push(("tls_acme_disable_http_challenge", "true".to_string()));
    // The directory's HTTPS: the user's file, else a private CA's root, else system roots.
    let ca_root = spec.configuration.acme_ca_root.clone().or_else(|| {
        acme.ca_secret_name
            .as_ref()
            .map(|_| format!("{}/{}", paths::ACME_CA_DIR, names::secret_keys::CA_CERT))
    });
    if let Some(root) = ca_root {
        attrs.push(("tls_acme_ca_root", hcl_string(&root)));
    }
    Some(attrs)
}

/// The name members and the operator verify in ACME mode (validation guarantees a domain).
pub fn acme_server_name(spec: &api::OpenBaoClusterSpec) -> String {
    spec.tls
        .acme
        .as_ref()
        .and_then(api::AcmeSpec::server_name)
        .unwrap_or_default()
}

/// Top-level server settings from `spec.configuration`, each only when set (OpenBao's defaults
/// apply otherwise), in the order of the spec.
fn render_server_settings(w: &mut String, c: &Configuration) {
    let mut attrs: Vec<(&str, String)> = Vec::new();
    if let Some(logging) = &c.logging {
        if let Some(format) = logging.format {
            attrs.push(("log_format", hcl_string(format.as_str())));
        }
        if let Some(file) = &logging.file {
            attrs.push(("log_file", hcl_string(file)));
        }
        if let Some(duration) = &logging.rotate_duration {
            attrs.push(("log_rotate_duration", hcl_string(duration)));
        }
        if let Some(bytes) = logging.rotate_bytes {
            attrs.push(("log_rotate_bytes", bytes.to_string()));
        }
        if let Some(files) = logging.rotate_max_files {
            attrs.push(("log_rotate_max_files", files.to_string()));
        }
        if let Some(pid) = &logging.pid_file {
            attrs.push(("pid_file", hcl_string(pid)));
        }
    }
    if let Some(plugin) = &c.plugin {
        if let Some(uid) = plugin.file_uid {
            attrs.push(("plugin_file_uid", uid.to_string()));
        }
        if let Some(permissions) = &plugin.file_permissions {
            attrs.push(("plugin_file_permissions", hcl_string(permissions)));
        }
        if let Some(download) = plugin.auto_download {
            attrs.push(("plugin_auto_download", download.to_string()));
        }
        if let Some(register) = plugin.auto_register {
            attrs.push(("plugin_auto_register", register.to_string()));
        }
        if let Some(behavior) = plugin.download_behavior {
            attrs.push(("plugin_download_behavior", hcl_string(behavior.as_str())));
        }
    }
    if let Some(ttl) = &c.default_lease_ttl {
        attrs.push(("default_lease_ttl", hcl_string(ttl)));
    }
    if let Some(ttl) = &c.max_lease_ttl {
        attrs.push(("max_lease_ttl", hcl_string(ttl)));
    }
    if let Some(size) = c.cache_size {
        attrs.push(("cache_size", size.to_string()));
    }
    // OpenBao takes a list of lock names here, not a boolean; the state lock is the one worth
    // watching.
    if c.detect_deadlocks == Some(true) {
        attrs.push(("detect_deadlocks", hcl_string("statelock")));
    }
    for (key, value) in [
        ("disable_cache", c.disable_cache),
        ("raw_storage_endpoint", c.raw_storage_endpoint),
        ("introspection_endpoint", c.introspection_endpoint),
        (
            "imprecise_lease_role_tracking",
            c.imprecise_lease_role_tracking,
        ),
        (
            "unsafe_allow_api_audit_creation",
            c.unsafe_allow_api_audit_creation,
        ),
        ("allow_audit_log_prefixing", c.allow_audit_log_prefixing),
        (
            "enable_response_header_hostname",
            c.enable_response_header_hostname,
        ),
        (
            "enable_response_header_raft_node_id",
            c.enable_response_header_raft_node_id,
        ),
    ] {
        if let Some(value) = value {
            attrs.push((key, value.to_string()));
        }
    }
    for (key, value) in attrs {
        line(w, &format!("{key} = {value}"));
    }
}

/// One `audit "<type>" "<path>"` stanza per device; OpenBao enables them at unseal. Typed
/// options win over the raw `options` of the same name.
fn render_audit(w: &mut String, devices: &[AuditDevice]) {
    for device in devices {
        let type_ = audit_type(device.type_);
        let options = audit_options(device);
        line(
            w,
            &format!(
                "audit {} {} {{",
                hcl_string(type_),
                hcl_string(&device.path)
            ),
        );
        if let Some(description) = &device.description {
            line(w, &format!("  description = {}", hcl_string(description)));
        }
        if !options.is_empty() {
            line(w, "  options {");
            for (key, value) in &options {
                // Keys come from the spec: quoted, so any key stays one HCL attribute.
                line(
                    w,
                    &format!("    {} = {}", hcl_string(key), hcl_string(value)),
                );
            }
            line(w, "  }");
        }
        line(w, "}");
        line(w, "");
    }
}

/// OpenBao's name of an audit device type.
pub fn audit_type(type_: AuditDeviceType) -> &'static str {
    match type_ {
        AuditDeviceType::File => "file",
        AuditDeviceType::Http => "http",
        AuditDeviceType::Syslog => "syslog",
        AuditDeviceType::Socket => "socket",
    }
}

/// A device's options under OpenBao's names: the raw `options`, with the typed options of its
/// type winning over them.
pub fn audit_options(device: &AuditDevice) -> BTreeMap<String, String> {
    let mut options: BTreeMap<String, String> = device
        .options
        .as_ref()
        .and_then(|o| o.as_object())
        .map(|o| {
            o.iter()
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => (k.clone(), s.clone()),
                    other => (k.clone(), other.to_string()),
                })
                .collect()
        })
        .unwrap_or_default();
    let mut typed = |key: &str, value: &Option<String>| {
        if let Some(value) = value {
            options.insert(key.to_string(), value.clone());
        }
    };
    if let Some(file) = &device.file_options {
        typed("file_path", &Some(file.file_path.clone()));
        typed("mode", &file.mode);
    }
    if let Some(http) = &device.http_options {
        typed("uri", &Some(http.uri.clone()));
    }
    if let Some(syslog) = &device.syslog_options {
        typed("facility", &syslog.facility);
        typed("tag", &syslog.tag);
    }
    if let Some(socket) = &device.socket_options {
        typed("address", &socket.address);
        typed("socket_type", &socket.socket_type);
        typed("write_timeout", &socket.write_timeout);
    }
    options
}

/// One `plugin "<type>" "<name>"` stanza, attributes in OpenBao's documented order.
pub fn plugin_stanza(plugin: &Plugin) -> String {
    let mut attrs: Vec<(&str, String)> = Vec::new();
    for (key, value) in [
        ("image", &plugin.image),
        ("command", &plugin.command),
        ("version", &plugin.version),
        ("binary_name", &plugin.binary_name),
        ("sha256sum", &plugin.sha256sum),
    ] {
        if let Some(value) = value {
            attrs.push((key, hcl_string(value)));
        }
    }
    for (key, list) in [("args", &plugin.args), ("env", &plugin.env)] {
        if !list.is_empty() {
            let items: Vec<String> = list.iter().map(|s| hcl_string(s)).collect();
            attrs.push((key, format!("[{}]", items.join(", "))));
        }
    }
    let mut out = String::new();
    line(
        &mut out,
        &format!(
            "plugin {} {} {{",
            hcl_string(&plugin.type_),
            hcl_string(&plugin.name)
        ),
    );
    let width = attrs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (key, value) in attrs {
        line(&mut out, &format!("  {key:<width$} = {value}"));
    }
    line(&mut out, "}");
    out
}

/// The listener's TLS versions and key-exchange groups (TLS 1.2 is the floor by default).
fn render_listener_tls(w: &mut String, listener: Option<&ListenerConfiguration>) {
    let min = listener
        .and_then(|l| l.tls_min_version)
        .unwrap_or(TlsVersion::Tls12);
    line(
        w,
        &format!("  tls_min_version = {}", hcl_string(min.as_str())),
    );
    let Some(listener) = listener else {
        return;
    };
    if let Some(max) = listener.tls_max_version {
        line(
            w,
            &format!("  tls_max_version = {}", hcl_string(max.as_str())),
        );
    }
    if let Some(groups) = &listener.tls_key_exchange_preferences {
        let list: Vec<String> = groups.iter().map(|g| hcl_string(g.as_str())).collect();
        line(
            w,
            &format!("  tls_key_exchange_preferences = [{}]", list.join(", ")),
        );
    }
    if let Some(behavior) = listener.proxy_protocol_behavior {
        line(
            w,
            &format!(
                "  proxy_protocol_behavior = {}",
                hcl_string(behavior.as_str())
            ),
        );
    }
}

/// The `telemetry` stanza: Prometheus metrics on `/v1/sys/metrics` are always on (a retention
/// time enables them; hostnames stay out of metric names so series survive pod restarts), and
/// the spec's settings are added.
fn render_telemetry(w: &mut String, telemetry: Option<&TelemetryConfiguration>) {
    let t = telemetry.cloned().unwrap_or_default();
    let mut attrs: Vec<(&str, String)> = vec![
        (
            "prometheus_retention_time",
            hcl_string(t.prometheus_retention_time.as_deref().unwrap_or("24h")),
        ),
        (
            "disable_hostname",
            t.disable_hostname.unwrap_or(true).to_string(),
        ),
    ];
    let strings = [
        ("usage_gauge_period", &t.usage_gauge_period),
        ("metrics_prefix", &t.metrics_prefix),
        ("lease_metrics_epsilon", &t.lease_metrics_epsilon),
        ("statsite_address", &t.statsite_address),
        ("statsd_address", &t.statsd_address),
        ("dogstatsd_addr", &t.dog_statsd_address),
        ("circonus_api_app", &t.circonus_api_app),
        ("circonus_api_url", &t.circonus_api_url),
        (
            "circonus_submission_interval",
            &t.circonus_submission_interval,
        ),
        ("circonus_check_id", &t.circonus_check_id),
        (
            "circonus_check_force_metric_activation",
            &t.circonus_check_force_metric_activation,
        ),
        ("circonus_check_instance_id", &t.circonus_check_instance_id),
        ("circonus_check_search_tag", &t.circonus_check_search_tag),
        (
            "circonus_check_display_name",
            &t.circonus_check_display_name,
        ),
        ("circonus_check_tags", &t.circonus_check_tags),
        ("circonus_broker_id", &t.circonus_broker_id),
        ("circonus_broker_select_tag", &t.circonus_broker_select_tag),
        ("stackdriver_project_id", &t.stackdriver_project_id),
        ("stackdriver_location", &t.stackdriver_location),
        ("stackdriver_namespace", &t.stackdriver_namespace),
    ];
    for (key, value) in strings {
        if let Some(value) = value {
            attrs.push((key, hcl_string(value)));
        }
    }
    if let Some(n) = t.maximum_gauge_cardinality {
        attrs.push(("maximum_gauge_cardinality", n.to_string()));
    }
    if let Some(label) = t.enable_hostname_label {
        attrs.push(("enable_hostname_label", label.to_string()));
    }
    if !t.dog_statsd_tags.is_empty() {
        let tags: Vec<String> = t.dog_statsd_tags.iter().map(|s| hcl_string(s)).collect();
        attrs.push(("dogstatsd_tags", format!("[{}]", tags.join(", "))));
    }
    if let Some(debug) = t.stackdriver_debug_logs {
        attrs.push(("stackdriver_debug_logs", debug.to_string()));
    }
    line(w, "telemetry {");
    let width = attrs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (key, value) in attrs {
        line(w, &format!("  {key:<width$} = {value}"));
    }
    line(w, "}");
}

pub(super) fn line(w: &mut String, text: &str) {
    // Writing into a String cannot fail.
    let _ = writeln!(w, "{text}");
}

/// `value` as an HCL quoted string: backslashes and quotes escaped, and template sequences
/// (`${`, `%{`) doubled so user input can never become an HCL interpolation.
pub fn hcl_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The ConfigMap carrying `config` and, for a cluster that initializes itself, `self_init`
/// (the content of [`super::self_init::SELF_INIT_FILE`]).
pub fn config_map(
    cluster: &ValidatedCluster,
    config: &str,
    self_init: Option<String>,
) -> ConfigMap {
    let mut data = BTreeMap::from([(CONFIG_FILE.to_string(), config.to_string())]);
    if let Some(self_init) = self_init {
        data.insert(super::self_init::SELF_INIT_FILE.to_string(), self_init);
    }
    ConfigMap {
        metadata: object_meta(cluster, cluster.names().config_map()),
        data: Some(data),
        ..ConfigMap::default()
    }
}

/// Hash of everything that must restart the pods when it changes (hex SHA-256).
pub fn config_hash(config: &str) -> String {
    hex::encode(Sha256::digest(config.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_devices_are_rendered_only_once_the_cluster_is_initialized() {
        let manifest = "apiVersion: openbao.org/v1alpha1\nkind: OpenBaoCluster\nmetadata: {name: bao, namespace: ns}\nspec:\n  version: \"2.7.2\"\n  audit: [{type: file, path: stdout, fileOptions: {filePath: stdout}}]";
        let mut cluster: api::OpenBaoCluster = serde_yaml::from_str(manifest).expect("manifest");
        let fresh = ValidatedCluster::new(cluster.clone()).expect("valid");
        assert!(!render(&fresh).contains("audit \""), "no audit before init");
        cluster.status = Some(api::OpenBaoClusterStatus {
            initialized: true,
            ..Default::default()
        });
        let initialized = ValidatedCluster::new(cluster).expect("valid");
        assert!(render(&initialized).contains("audit \"file\" \"stdout\" {"));
    }

    #[test]
    fn audit_devices_render_as_stanzas_with_typed_options_winning_over_raw_ones() {
        let devices: Vec<AuditDevice> = serde_json::from_value(serde_json::json!([
            {"type": "file", "path": "stdout", "description": "to the log",
             "fileOptions": {"filePath": "stdout", "mode": "0600"},
             "options": {"file_path": "discard", "format": "json"}},
            {"type": "socket", "path": "siem", "socketOptions": {"address": "10.0.0.5:9090"}}
        ]))
        .expect("devices");
        let mut out = String::new();
        render_audit(&mut out, &devices);
        assert!(out.contains("audit \"file\" \"stdout\" {"), "{out}");
        assert!(out.contains("  description = \"to the log\""), "{out}");
        assert!(out.contains("    \"file_path\" = \"stdout\""), "{out}");
        assert!(out.contains("    \"format\" = \"json\""), "{out}");
        assert!(!out.contains("discard"), "{out}");
        assert!(out.contains("audit \"socket\" \"siem\" {"), "{out}");
        assert!(out.contains("    \"address\" = \"10.0.0.5:9090\""), "{out}");
    }

    fn cluster_from(manifest: &str, initialized: bool) -> ValidatedCluster {
        let mut cluster: api::OpenBaoCluster = serde_yaml::from_str(manifest).expect("manifest");
        cluster.status = Some(api::OpenBaoClusterStatus {
            initialized,
            ..Default::default()
        });
        ValidatedCluster::new(cluster).expect("valid")
    }

    const PLUGINS: &str = "apiVersion: openbao.org/v1alpha1\nkind: OpenBaoCluster\nmetadata: {name: bao, namespace: ns}\nspec:\n  version: \"2.7.2\"\n  unseal: {type: kms, kms: {pluginName: corp-kms}}\n  network: {egressRules: [{to: [{ipBlock: {cidr: 192.0.2.1/32}}], ports: [{port: 443}]}]}\n  plugins:\n  - {type: kms, name: corp-kms, command: openbao-kms-corp, sha256sum: 3f2b6a1c9d8e7f60514a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e}\n  - {type: secret, name: azure, command: vault-plugin-secrets-azure, version: v0.16.0, args: [-log-level=info], env: [AZURE_ENVIRONMENT=AzurePublicCloud]}";

    #[test]
    fn a_kms_plugin_is_rendered_from_the_start_and_a_secret_plugin_only_once_initialized() {
        let fresh = render(&cluster_from(PLUGINS, false));
        assert!(
            fresh.contains("plugin_directory = \"/openbao/plugins\""),
            "{fresh}"
        );
        assert!(fresh.contains("plugin \"kms\" \"corp-kms\" {"), "{fresh}");
        assert!(fresh.contains("seal \"corp-kms\" {"), "{fresh}");
        assert!(!fresh.contains("plugin \"secret\""), "{fresh}");
        let initialized = render(&cluster_from(PLUGINS, true));
        assert!(
            initialized.contains("plugin \"secret\" \"azure\" {"),
            "{initialized}"
        );
    }

    #[test]
    fn a_plugin_stanza_carries_every_set_attribute_with_lists_as_hcl_lists() {
        let plugin: Plugin = serde_json::from_value(serde_json::json!({
            "type": "secret", "name": "aws", "image": "ghcr.io/openbao/openbao-plugin-secrets-aws",
            "version": "v1.0.0", "binaryName": "openbao-plugin-secrets-aws",
            "sha256sum": "9fdd8be7947e4a4caf7cce4f0e02695081b6c85178aa912df5d37be97363144c",
            "args": ["-a", "b\"c"], "env": ["X=${y}"]
        }))
        .expect("plugin");
        let out = plugin_stanza(&plugin);
        assert_eq!(
            out,
            "plugin \"secret\" \"aws\" {\n  \
             image       = \"ghcr.io/openbao/openbao-plugin-secrets-aws\"\n  \
             version     = \"v1.0.0\"\n  \
             binary_name = \"openbao-plugin-secrets-aws\"\n  \
             sha256sum   = \"9fdd8be7947e4a4caf7cce4f0e02695081b6c85178aa912df5d37be97363144c\"\n  \
             args        = [\"-a\", \"b\\\"c\"]\n  \
             env         = [\"X=$${y}\"]\n}\n"
        );
    }

    #[test]
    fn without_plugins_no_plugin_directory_is_rendered() {
        let manifest = "apiVersion: openbao.org/v1alpha1\nkind: OpenBaoCluster\nmetadata: {name: bao, namespace: ns}\nspec:\n  version: \"2.7.2\"";
        assert!(!render(&cluster_from(manifest, true)).contains("plugin"));
    }

    #[test]
    fn hcl_strings_escape_quotes_backslashes_and_template_sequences() {
        assert_eq!(hcl_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(hcl_string("${x} %{y} $z"), r#""$${x} %%{y} $z""#);
        assert_eq!(hcl_string("a\nb"), r#""a\nb""#);
    }

    fn render_yaml(extra: &str) -> String {
        let manifest = format!(
            "apiVersion: openbao.org/v1alpha1\nkind: OpenBaoCluster\nmetadata: {{name: bao, namespace: ns}}\nspec:\n  version: \"2.7.2\"\n{extra}"
        );
        let cluster: api::OpenBaoCluster = serde_yaml::from_str(&manifest).expect("manifest");
        render(&ValidatedCluster::new(cluster).expect("valid"))
    }

    #[test]
    fn acme_mode_renders_the_listener_acme_settings_instead_of_certificate_files() {
        let out = render_yaml(
            "  replicas: 1\n  tls:\n    mode: ACME\n    acme:\n      directoryURL: https://acme.example.com/dir\n      domains: [bao.example.com, bao.ns.svc]\n      email: ops@example.com\n",
        );
        for expected in [
            "  tls_acme_ca_directory = \"https://acme.example.com/dir\"",
            "  tls_acme_domains = [\"bao.example.com\", \"bao.ns.svc\"]",
            "  tls_acme_email = \"ops@example.com\"",
            "  tls_acme_cache_path = \"/openbao/data/acme\"",
            "  tls_acme_disable_http_challenge = true",
            // Joins verify the in-cluster domain against the system roots (no CA file).
            "    leader_tls_servername = \"bao.ns.svc\"",
        ] {
            assert!(out.contains(expected), "{expected} in:\n{out}");
        }
        for absent in [
            "tls_cert_file",
            "tls_key_file",
            "leader_ca_cert_file",
            "tls_acme_ca_root",
            "acme_ca_root =",
        ] {
            assert!(!out.contains(absent), "{absent} in:\n{out}");
        }
    }

    #[test]
    fn a_private_acme_ca_is_trusted_for_the_directory_and_for_joins() {
        let out = render_yaml(
            "  replicas: 3\n  tls:\n    mode: ACME\n    acme:\n      directoryURL: https://ca.pki.svc/dir\n      domain: bao.ns.svc\n      caSecretName: root\n      sharedCache: {mode: ExistingPVC, existingClaimName: cache}\n",
        );
        assert!(
            out.contains("  tls_acme_ca_root = \"/etc/bao/acme-ca/ca.crt\""),
            "{out}"
        );
        assert!(
            out.contains("    leader_ca_cert_file   = \"/etc/bao/acme-ca/ca.crt\""),
            "{out}"
        );
        assert!(
            out.contains("  tls_acme_cache_path = \"/openbao/acme-cache\""),
            "{out}"
        );
        assert!(
            out.contains("  tls_acme_domains = [\"bao.ns.svc\"]"),
            "{out}"
        );
        // Upstream's convention: acmeCARoot in the seal credentials, pki-ca.crt beside it.
        let out = render_yaml(
            "  replicas: 1\n  tls:\n    mode: ACME\n    acme:\n      directoryURL: https://ca.pki.svc/dir\n      domains: [bao.ns.svc]\n  configuration:\n    acmeCARoot: /etc/bao/seal-creds/ca.crt\n  unseal:\n    type: transit\n    transit: {address: https://t.example.com, keyName: k, mountPath: transit/}\n    credentialsSecretRef: {name: creds}\n",
        );
        assert!(
            out.contains("  tls_acme_ca_root = \"/etc/bao/seal-creds/ca.crt\""),
            "{out}"
        );
        assert!(
            out.contains("    leader_ca_cert_file   = \"/etc/bao/seal-creds/pki-ca.crt\""),
            "{out}"
        );
    }

    #[test]
    fn other_modes_keep_the_certificate_files_and_ignore_acme_ca_root() {
        let out = render_yaml("  configuration:\n    acmeCARoot: /etc/bao/seal-creds/ca.crt\n");
        assert!(
            out.contains("tls_cert_file   = \"/etc/bao/tls/tls.crt\""),
            "{out}"
        );
        assert!(
            out.contains("leader_ca_cert_file   = \"/etc/bao/tls/ca.crt\""),
            "{out}"
        );
        assert!(
            !out.contains("acme"),
            "OpenBao 2.7 has no top-level acme_ca_root:\n{out}"
        );
    }
}
