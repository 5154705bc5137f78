//! `spec.configuration`, `spec.telemetry`, `spec.audit`, `spec.auditFileStorage` and
//! `spec.plugins`: the OpenBao server settings rendered into `config.hcl`, under upstream's
//! names. The operator owns the listener addresses, storage and service registration.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// OpenBao server settings.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Configuration {
    /// Serve the web UI on the API listener. Default true.
    #[serde(default = "default_true")]
    pub ui: bool,
    /// Server log level: trace, debug, info (default), warn or err ("error" is accepted too).
    #[serde(default)]
    pub log_level: LogLevel,
    /// Log format, file and rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<Logging>,
    /// Tuning of the TCP listener (the operator owns its addresses and certificate files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener: Option<ListenerConfiguration>,
    /// Raft tuning.
    #[serde(default)]
    pub raft: RaftConfiguration,
    /// Plugin catalog behaviour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<PluginConfiguration>,
    /// ACME mode: file (PEM) OpenBao trusts for the ACME directory's HTTPS (the listener's
    /// `tls_acme_ca_root`): /etc/bao/acme-ca/ca.crt with spec.tls.acme.caSecretName, or a key
    /// of the seal credentials Secret under /etc/bao/seal-creds (then that Secret's
    /// `pki-ca.crt` is the ACME issuer's root). Ignored in other modes.
    #[serde(
        default,
        rename = "acmeCARoot",
        skip_serializing_if = "Option::is_none"
    )]
    pub acme_ca_root: Option<String>,
    /// Default lease TTL, a duration such as "768h" (`default_lease_ttl`).
    #[serde(
        default,
        rename = "defaultLeaseTTL",
        skip_serializing_if = "Option::is_none"
    )]
    pub default_lease_ttl: Option<String>,
    /// Maximum lease TTL, a duration such as "8760h" (`max_lease_ttl`).
    #[serde(
        default,
        rename = "maxLeaseTTL",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_lease_ttl: Option<String>,
    /// Size of the read cache in entries (`cache_size`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub cache_size: Option<i64>,
    /// Disable the read cache (`disable_cache`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_cache: Option<bool>,
    /// Watch the state lock for deadlocks (`detect_deadlocks = "statelock"`); a debugging aid,
    /// refused by the Hardened profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detect_deadlocks: Option<bool>,
    /// Expose `sys/raw` (`raw_storage_endpoint`); refused by the Hardened profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_storage_endpoint: Option<bool>,
    /// Expose introspection endpoints (`introspection_endpoint`); refused by the Hardened profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<bool>,
    /// `imprecise_lease_role_tracking`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imprecise_lease_role_tracking: Option<bool>,
    /// Allow creating audit devices through the API (`unsafe_allow_api_audit_creation`);
    /// refused by the Hardened profile.
    #[serde(
        default,
        rename = "unsafeAllowAPIAuditCreation",
        skip_serializing_if = "Option::is_none"
    )]
    pub unsafe_allow_api_audit_creation: Option<bool>,
    /// `allow_audit_log_prefixing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_audit_log_prefixing: Option<bool>,
    /// `enable_response_header_hostname`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_response_header_hostname: Option<bool>,
    /// `enable_response_header_raft_node_id`.
    #[serde(
        default,
        rename = "enableResponseHeaderRaftNodeID",
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_response_header_raft_node_id: Option<bool>,
    /// Found in one of upstream's samples but in no schema; only false (the default) is
    /// accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_standby_reads: Option<bool>,
}

fn default_true() -> bool {
    true
}

impl Default for Configuration {
    fn default() -> Self {
        Self {
            ui: true,
            log_level: LogLevel::Info,
            logging: None,
            listener: None,
            raft: RaftConfiguration::default(),
            plugin: None,
            acme_ca_root: None,
            default_lease_ttl: None,
            max_lease_ttl: None,
            cache_size: None,
            disable_cache: None,
            detect_deadlocks: None,
            raw_storage_endpoint: None,
            introspection_endpoint: None,
            imprecise_lease_role_tracking: None,
            unsafe_allow_api_audit_creation: None,
            allow_audit_log_prefixing: None,
            enable_response_header_hostname: None,
            enable_response_header_raft_node_id: None,
            disable_standby_reads: None,
        }
    }
}

/// OpenBao log levels.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Most verbose.
    Trace,
    /// Debugging output.
    Debug,
    /// Normal operation.
    #[default]
    Info,
    /// Warnings and errors only.
    Warn,
    /// Errors only (upstream's spelling).
    Err,
    /// Errors only.
    Error,
}

impl LogLevel {
    /// The spelling OpenBao expects.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Err | Self::Error => "error",
        }
    }
}

/// Log format, file and rotation.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Logging {
    /// standard or json (`log_format`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<LogFormat>,
    /// Log file path (`log_file`); the container's log is kept as well.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Rotate the log file after this duration (`log_rotate_duration`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotate_duration: Option<String>,
    /// Rotate the log file after this many bytes (`log_rotate_bytes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub rotate_bytes: Option<i64>,
    /// Keep at most this many rotated files (`log_rotate_max_files`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub rotate_max_files: Option<i32>,
    /// PID file path (`pid_file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_file: Option<String>,
}

/// Log formats.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Standard,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// OpenBao's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Json => "json",
        }
    }
}

/// Listener tuning.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListenerConfiguration {
    /// Refused when true: every flow of the posture assumes TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_disable: Option<bool>,
    /// PROXY protocol behaviour (`proxy_protocol_behavior`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_protocol_behavior: Option<ProxyProtocolBehavior>,
    /// Lowest TLS version accepted: tls12 (default) or tls13.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_min_version: Option<TlsVersion>,
    /// Highest TLS version accepted: tls12 or tls13 (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_max_version: Option<TlsVersion>,
    /// Key-exchange groups in order of preference (`tls_key_exchange_preferences`; OpenBao
    /// 2.7 and later), including the hybrid post-quantum groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub tls_key_exchange_preferences: Option<Vec<KeyExchangeGroup>>,
}

/// PROXY protocol behaviours.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ProxyProtocolBehavior {
    /// Require the PROXY header on every connection.
    UseAlways,
    /// Upstream's spelling; refused, OpenBao 2.7 does not know it (use allow_authorized).
    AllowAny,
    /// Use the header only from authorized addresses.
    AllowAuthorized,
    /// Refuse connections whose header comes from an unauthorized address.
    DenyUnauthorized,
}

impl ProxyProtocolBehavior {
    /// OpenBao's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UseAlways => "use_always",
            Self::AllowAny => "allow_any",
            Self::AllowAuthorized => "allow_authorized",
            Self::DenyUnauthorized => "deny_unauthorized",
        }
    }
}

/// TLS protocol versions.
#[derive(
    JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord,
)]
#[serde(rename_all = "lowercase")]
pub enum TlsVersion {
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

impl TlsVersion {
    /// OpenBao's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tls12 => "tls12",
            Self::Tls13 => "tls13",
        }
    }
}

/// TLS key-exchange groups.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyExchangeGroup {
    /// Hybrid X25519 + ML-KEM-768.
    X25519MLKEM768,
    /// Hybrid P-256 + ML-KEM-768.
    SecP256r1MLKEM768,
    /// Hybrid P-384 + ML-KEM-1024.
    SecP384r1MLKEM1024,
    /// X25519.
    X25519,
    /// NIST P-256.
    CurveP256,
    /// NIST P-384.
    CurveP384,
    /// NIST P-521.
    CurveP521,
}

impl KeyExchangeGroup {
    /// The spelling in the spec and in OpenBao's configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::X25519MLKEM768 => "X25519MLKEM768",
            Self::SecP256r1MLKEM768 => "SecP256r1MLKEM768",
            Self::SecP384r1MLKEM1024 => "SecP384r1MLKEM1024",
            Self::X25519 => "X25519",
            Self::CurveP256 => "CurveP256",
            Self::CurveP384 => "CurveP384",
            Self::CurveP521 => "CurveP521",
        }
    }

    /// Whether the group is classical (no post-quantum part), usable with TLS 1.2.
    pub fn is_classical(self) -> bool {
        matches!(
            self,
            Self::X25519 | Self::CurveP256 | Self::CurveP384 | Self::CurveP521
        )
    }
}

/// Raft storage tuning.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RaftConfiguration {
    /// Raft timing multiplier (1 to 10): 1 is the fastest elections and failover, suited to
    /// fast networks and tests; OpenBao's default (unset) is 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 10))]
    pub performance_multiplier: Option<i32>,
    /// Autopilot settings, written to OpenBao's autopilot configuration through its API once
    /// the cluster is initialized (and again whenever they drift); unset fields keep OpenBao's
    /// values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autopilot: Option<AutopilotConfiguration>,
}

/// Raft autopilot settings.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AutopilotConfiguration {
    /// Remove dead servers automatically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup_dead_servers: Option<bool>,
    /// How long without contact before a server counts as dead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_server_last_contact_threshold: Option<String>,
    /// Minimum number of voters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 3))]
    pub min_quorum: Option<i32>,
    /// How long a server must be stable before it is promoted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_stabilization_time: Option<String>,
    /// Contact threshold for health.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_contact_threshold: Option<String>,
    /// Trailing logs threshold for health.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_trailing_logs: Option<i32>,
}

/// Plugin catalog behaviour.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PluginConfiguration {
    /// Owner UID of plugin files (`plugin_file_uid`).
    #[serde(default, rename = "fileUID", skip_serializing_if = "Option::is_none")]
    pub file_uid: Option<i64>,
    /// Permissions of plugin files, octal such as "0755" (`plugin_file_permissions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_permissions: Option<String>,
    /// Download plugins from OCI registries (`plugin_auto_download`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_download: Option<bool>,
    /// Register downloaded plugins (`plugin_auto_register`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_register: Option<bool>,
    /// What a failed download does (`plugin_download_behavior`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_behavior: Option<PluginDownloadBehavior>,
}

/// Plugin download behaviours (upstream's current and earlier spellings).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PluginDownloadBehavior {
    /// Fail start-up.
    Fail,
    /// Continue without the plugin.
    Continue,
    /// Earlier spelling of `fail`.
    Standard,
    /// Earlier spelling of `continue`.
    Direct,
}

impl PluginDownloadBehavior {
    /// OpenBao's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fail | Self::Standard => "fail",
            Self::Continue | Self::Direct => "continue",
        }
    }
}

/// OpenBao's `telemetry` stanza. The operator always enables Prometheus metrics on
/// `/v1/sys/metrics`; these fields tune them or add other sinks.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TelemetryConfiguration {
    /// `usage_gauge_period`, a duration or "none".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_gauge_period: Option<String>,
    /// `maximum_gauge_cardinality`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub maximum_gauge_cardinality: Option<i32>,
    /// `disable_hostname` (default true: metric names do not carry the pod name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_hostname: Option<bool>,
    /// `enable_hostname_label`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_hostname_label: Option<bool>,
    /// `metrics_prefix`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_prefix: Option<String>,
    /// `lease_metrics_epsilon`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_metrics_epsilon: Option<String>,
    /// `prometheus_retention_time` (default "24h").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus_retention_time: Option<String>,
    /// `statsite_address`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statsite_address: Option<String>,
    /// `statsd_address`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statsd_address: Option<String>,
    /// `dogstatsd_addr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dog_statsd_address: Option<String>,
    /// `dogstatsd_tags`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dog_statsd_tags: Vec<String>,
    /// Circonus API key: not supported (a secret in the spec).
    #[serde(
        default,
        rename = "circonusAPIKey",
        skip_serializing_if = "Option::is_none"
    )]
    pub circonus_api_key: Option<String>,
    /// `circonus_api_app`.
    #[serde(
        default,
        rename = "circonusAPIApp",
        skip_serializing_if = "Option::is_none"
    )]
    pub circonus_api_app: Option<String>,
    /// `circonus_api_url`.
    #[serde(
        default,
        rename = "circonusAPIURL",
        skip_serializing_if = "Option::is_none"
    )]
    pub circonus_api_url: Option<String>,
    /// `circonus_submission_interval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circonus_submission_interval: Option<String>,
    /// `circonus_check_id`.
    #[serde(
        default,
        rename = "circonusCheckID",
        skip_serializing_if = "Option::is_none"
    )]
    pub circonus_check_id: Option<String>,
    /// `circonus_check_force_metric_activation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circonus_check_force_metric_activation: Option<String>,
    /// `circonus_check_instance_id`.
    #[serde(
        default,
        rename = "circonusCheckInstanceID",
        skip_serializing_if = "Option::is_none"
    )]
    pub circonus_check_instance_id: Option<String>,
    /// `circonus_check_search_tag`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circonus_check_search_tag: Option<String>,
    /// `circonus_check_display_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circonus_check_display_name: Option<String>,
    /// `circonus_check_tags`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circonus_check_tags: Option<String>,
    /// `circonus_broker_id`.
    #[serde(
        default,
        rename = "circonusBrokerID",
        skip_serializing_if = "Option::is_none"
    )]
    pub circonus_broker_id: Option<String>,
    /// `circonus_broker_select_tag`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circonus_broker_select_tag: Option<String>,
    /// `stackdriver_project_id`.
    #[serde(
        default,
        rename = "stackdriverProjectID",
        skip_serializing_if = "Option::is_none"
    )]
    pub stackdriver_project_id: Option<String>,
    /// `stackdriver_location`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stackdriver_location: Option<String>,
    /// `stackdriver_namespace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stackdriver_namespace: Option<String>,
    /// `stackdriver_debug_logs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stackdriver_debug_logs: Option<bool>,
}

/// A declarative audit device.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditDevice {
    /// file, syslog, socket or http.
    #[serde(rename = "type")]
    pub type_: AuditDeviceType,
    /// Mount path of the device.
    #[schemars(length(min = 1))]
    pub path: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Options of a file device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_options: Option<AuditFileOptions>,
    /// Options of an http device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_options: Option<AuditHttpOptions>,
    /// Options of a syslog device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syslog_options: Option<AuditSyslogOptions>,
    /// Options of a socket device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket_options: Option<AuditSocketOptions>,
    /// Raw options (upstream's backward-compatible form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::spec::any_object")]
    pub options: Option<serde_json::Value>,
}

/// Audit device types.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AuditDeviceType {
    /// A file (or stdout).
    File,
    /// Syslog.
    Syslog,
    /// A socket.
    Socket,
    /// An HTTP endpoint.
    Http,
}

/// File audit device options.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditFileOptions {
    /// "stdout", "discard", or a file under spec.auditFileStorage's mountPath (default
    /// /openbao/audit), such as /openbao/audit/audit.log.
    #[schemars(length(min = 1))]
    pub file_path: String,
    /// File mode, octal (default "0600").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

/// HTTP audit device options.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditHttpOptions {
    /// Target URI.
    #[schemars(length(min = 1))]
    pub uri: String,
    /// Headers to send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::spec::any_object")]
    pub headers: Option<serde_json::Value>,
}

/// Syslog audit device options.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditSyslogOptions {
    /// Facility (default AUTH).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facility: Option<String>,
    /// Tag (default openbao).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// Socket audit device options.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditSocketOptions {
    /// Address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// tcp (default) or udp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket_type: Option<String>,
    /// Write timeout (default "2s").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_timeout: Option<String>,
}

/// A volume for file audit logs (`spec.auditFileStorage`), mounted into every OpenBao pod; each
/// pod writes into its own sub-directory (named after the pod) of the claim, so every pod can
/// use the same file path. Also the shape of the ACME cache (`tls.acme.sharedCache`).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SharedVolume {
    /// ManagedPVC: the operator creates the ReadWriteMany claim `<cluster>-audit` (kept or
    /// deleted with the data claims, per spec.deletionPolicy). ExistingPVC: mount the
    /// ReadWriteMany claim existingClaimName.
    pub mode: SharedVolumeMode,
    /// The existing claim in the cluster's namespace (ExistingPVC only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing_claim_name: Option<String>,
    /// Where the volume is mounted in the OpenBao container (default /openbao/audit); file
    /// audit devices write under it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_path: Option<String>,
    /// Size of the managed claim, such as 20Gi (required with ManagedPVC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// StorageClass of the managed claim; it must provision ReadWriteMany volumes (ManagedPVC
    /// only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

/// Where a shared volume comes from.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharedVolumeMode {
    /// The operator creates the claim.
    ManagedPVC,
    /// An existing claim.
    ExistingPVC,
}

/// A declarative plugin: a `plugin "<type>" "<name>"` stanza of config.hcl. Either an OCI
/// `image` OpenBao downloads at start-up into the pods' plugin directory /openbao/plugins
/// (needs configuration.plugin.autoDownload and an egress rule to the registry), or a
/// `command` already in the OpenBao image's /openbao/plugins. Secret, auth and database
/// plugins are registered once the cluster is initialized; a kms plugin is started by the seal
/// that names it.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Plugin {
    /// The plugin type: secret, auth, database or kms.
    #[serde(rename = "type")]
    #[schemars(length(min = 1))]
    pub type_: String,
    /// The plugin's name in OpenBao's catalog (a kms plugin: the name the seal uses).
    #[schemars(length(min = 1))]
    pub name: String,
    /// OCI image holding the plugin, such as ghcr.io/openbao/openbao-plugin-secrets-aws
    /// (exclusive with command).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// File name of a binary already in the OpenBao image's /openbao/plugins (exclusive with
    /// image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The plugin's semantic version, such as v1.0.0; also the image tag when the image has
    /// none. OpenBao 2.7 infers it from a tagged image; command-based kms plugins on 2.7 may
    /// leave it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// File name of the binary inside the image (OpenBao 2.7 infers it from the image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary_name: Option<String>,
    /// SHA-256 of the plugin binary, 64 hex characters; OpenBao refuses to run a binary that
    /// does not match. Required below OpenBao 2.7 and in the Hardened profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256sum: Option<String>,
    /// Arguments OpenBao passes to the plugin process.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Environment of the plugin process, NAME=value; never secrets (configure credentials
    /// through OpenBao's API after mounting the plugin).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
}
