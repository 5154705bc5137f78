//! The operator's own object names and ports, defined once: its Deployment and ServiceAccount,
//! Services, webhook registration and certificate, Lease, metrics reader role, and the ports of
//! its servers. (A cluster's names are in `api::names`.)

/// Plain-HTTP metrics port (in-namespace and monitoring scraping).
pub const METRICS_PORT: i32 = 8080;
/// HTTPS metrics port (TokenReview + SubjectAccessReview protected).
pub const SECURE_METRICS_PORT: i32 = 8443;
/// Health probes port (`/healthz`, `/readyz`).
pub const HEALTH_PORT: i32 = 8081;
/// Admission webhook port.
pub const WEBHOOK_PORT: i32 = 9443;
/// Name of the controller's NetworkPolicy.
pub const CONTROLLER_POLICY_NAME: &str = "openbao-operator-controller";
/// Name of the operator's Deployment and ServiceAccount.
pub const OPERATOR_NAME: &str = "openbao-operator";
/// Service in front of the admission webhook (port 443 -> 9443).
pub const WEBHOOK_SERVICE: &str = "openbao-operator-webhook";
/// Service in front of the metrics endpoints (8080, 8443).
pub const METRICS_SERVICE: &str = "openbao-operator-metrics";
/// The ValidatingWebhookConfiguration (cluster-scoped).
pub const WEBHOOK_CONFIGURATION: &str = "openbao-operator";
/// Path the webhook serves OpenBaoCluster validation on.
pub const WEBHOOK_PATH: &str = "/validate-openbao-org-v1alpha1-openbaocluster";
/// Path the webhook serves OpenBaoRestore validation on.
pub const RESTORE_WEBHOOK_PATH: &str = "/validate-openbao-org-v1alpha1-openbaorestore";
/// Path the webhook serves OpenBaoTenant validation on.
pub const TENANT_WEBHOOK_PATH: &str = "/validate-openbao-org-v1alpha1-openbaotenant";
/// Secret (operator namespace) holding the webhook's serving certificate and its CA.
pub const WEBHOOK_CERT_SECRET: &str = "openbao-operator-webhook-tls";
/// Lease used for leader election (operator namespace).
pub const LEADER_LEASE: &str = "openbao-operator-leader";
/// ClusterRole granting GET on the non-resource URL /metrics (bind it to Prometheus).
pub const METRICS_READER_ROLE: &str = "openbao-operator-metrics-reader";
