//! The operator's own identity in OpenBao: no root token in steady state. Each cluster gets a
//! JWT auth method (`auth/jwt-operator`) that trusts the API server's service-account signing
//! keys offline, a policy with exactly the calls the operator makes ([`policy`]), and a role
//! bound to the operator's ServiceAccount and an audience. The operator logs in with a
//! short-lived, audience-bound token of its own ServiceAccount ([`session`]).
//!
//! Why JWT with static keys and not the `kubernetes` auth method: OpenBao verifies the token's
//! signature itself and never calls TokenReview, so the OpenBao pods need no egress to the
//! API server for it and no `system:auth-delegator` binding; the price is that a rotation of
//! the API server's signing keys must be written to `auth/jwt-operator/config` (the operator
//! does that when a login fails and it still holds a way in; see `docs/security.md`).
//!
//! The same requests ([`bootstrap_requests`]) run in two places: as `initialize` blocks of a
//! self-initialized cluster, and over HTTP with the root token right after `sys/init`.

pub mod jwks;
pub mod policy;
pub mod session;

use serde_json::{Value, json};

/// Where the operator's JWT auth method is mounted.
pub const AUTH_MOUNT: &str = "jwt-operator";
/// The operator's role on [`AUTH_MOUNT`].
pub const OPERATOR_ROLE: &str = "openbao-operator";
/// The audience of the operator's tokens (upstream's default, so a migrated cluster's roles
/// keep working).
pub const AUDIENCE: &str = "openbao-internal";
/// Lifetime of an operator token in OpenBao. Batch tokens: a login writes nothing to Raft.
pub const TOKEN_TTL: &str = "10m";

/// What OpenBao needs to trust the operator: the issuer and public keys of the API server's
/// service-account tokens, and the operator's subject and audience.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorIdentity {
    /// `iss` of service-account tokens.
    pub issuer: String,
    /// PEM public keys that sign them.
    pub public_keys: Vec<String>,
    /// `system:serviceaccount:<namespace>:<name>` of the operator.
    pub subject: String,
    /// The audience the operator requests its tokens for.
    pub audience: String,
}

impl OperatorIdentity {
    /// The identity `render` shows for an operator in `operator_namespace` under its default
    /// ServiceAccount: the real issuer and keys are read from the API server at run time.
    pub fn illustrative(operator_namespace: &str) -> Self {
        Self {
            issuer: "https://kubernetes.default.svc.cluster.local".to_string(),
            public_keys: vec![
                "<the API server's service-account signing keys, read from /openid/v1/jwks at run time>"
                    .to_string(),
            ],
            subject: service_account_subject(
                operator_namespace,
                crate::install::controller::OPERATOR_NAME,
            ),
            audience: AUDIENCE.to_string(),
        }
    }
}

/// The ServiceAccounts of one cluster's Jobs, each bound to its own role: backup Jobs may only
/// read snapshots, restore Jobs may only install them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobSubjects {
    /// Subject of the backup Jobs' ServiceAccount.
    pub backup: String,
    /// Subject of the restore Jobs' ServiceAccount.
    pub restore: String,
}

impl JobSubjects {
    /// The Jobs' ServiceAccounts of cluster `name` in `namespace`: `<name>-backup` and
    /// `<name>-restore`.
    pub fn of(namespace: &str, name: &str) -> Self {
        Self {
            backup: service_account_subject(namespace, &format!("{name}-{BACKUP_ROLE}")),
            restore: service_account_subject(namespace, &format!("{name}-{RESTORE_ROLE}")),
        }
    }
}

/// The backup Jobs' role on [`AUTH_MOUNT`].
pub const BACKUP_ROLE: &str = "backup";
/// The restore Jobs' role on [`AUTH_MOUNT`].
pub const RESTORE_ROLE: &str = "restore";
/// Lifetime of a Job's token: a snapshot of a large cluster takes a while, and the request that
/// streams it is authorized when it starts.
pub const JOB_TOKEN_TTL: &str = "1h";

/// One request of the identity bootstrap (all are `update` operations).
#[derive(Clone, Debug, PartialEq)]
pub struct BootstrapRequest {
    /// Block name in `initialize`.
    pub name: &'static str,
    /// API path.
    pub path: String,
    /// JSON body.
    pub data: Value,
}

/// The requests that give the operator (and the cluster's Jobs) their identity in a cluster,
/// in order: enable the auth method, trust the API server's keys, write the policies, create
/// the roles.
pub fn bootstrap_requests(
    identity: &OperatorIdentity,
    jobs: &JobSubjects,
) -> Vec<BootstrapRequest> {
    let mut requests = vec![BootstrapRequest {
        name: "operator-auth-method",
        path: format!("sys/auth/{AUTH_MOUNT}"),
        data: json!({
            "type": "jwt",
            "description": "openbao-operator: the operator's own identity (do not remove)",
        }),
    }];
    requests.extend(configure_requests(identity, jobs));
    requests
}

/// A JWT role bound to `subject` and the identity's audience, holding only `policy`.
fn role(identity: &OperatorIdentity, subject: &str, policy: &str, ttl: &str) -> Value {
    json!({
        "role_type": "jwt",
        "user_claim": "sub",
        "bound_subject": subject,
        "bound_audiences": [identity.audience],
        "token_policies": [policy],
        "token_no_default_policy": true,
        "token_type": "batch",
        "token_ttl": ttl,
        "token_max_ttl": ttl,
    })
}

/// A policy write.
fn policy_request(block: &'static str, name: &str, rules: &[policy::Rule]) -> BootstrapRequest {
    BootstrapRequest {
        name: block,
        path: format!("sys/policies/acl/{name}"),
        data: json!({ "policy": policy::policy_hcl(rules) }),
    }
}

/// A role write.
fn role_request(block: &'static str, name: &str, data: Value) -> BootstrapRequest {
    BootstrapRequest {
        name: block,
        path: format!("auth/{AUTH_MOUNT}/role/{name}"),
        data,
    }
}

/// The bootstrap without enabling the mount: what re-running it on an existing mount writes
/// (all idempotent).
pub fn configure_requests(
    identity: &OperatorIdentity,
    jobs: &JobSubjects,
) -> Vec<BootstrapRequest> {
    vec![
        BootstrapRequest {
            name: "operator-auth-config",
            path: format!("auth/{AUTH_MOUNT}/config"),
            data: json!({
                "bound_issuer": identity.issuer,
                "jwt_validation_pubkeys": identity.public_keys,
            }),
        },
        policy_request(
            "operator-policy",
            policy::OPERATOR_POLICY,
            policy::OPERATOR_RULES,
        ),
        role_request(
            "operator-role",
            OPERATOR_ROLE,
            role(
                identity,
                &identity.subject,
                policy::OPERATOR_POLICY,
                TOKEN_TTL,
            ),
        ),
        policy_request("backup-policy", policy::BACKUP_POLICY, policy::BACKUP_RULES),
        role_request(
            "backup-role",
            BACKUP_ROLE,
            role(identity, &jobs.backup, policy::BACKUP_POLICY, JOB_TOKEN_TTL),
        ),
        policy_request(
            "restore-policy",
            policy::RESTORE_POLICY,
            policy::RESTORE_RULES,
        ),
        role_request(
            "restore-role",
            RESTORE_ROLE,
            role(
                identity,
                &jobs.restore,
                policy::RESTORE_POLICY,
                JOB_TOKEN_TTL,
            ),
        ),
    ]
}

/// `system:serviceaccount:<namespace>:<name>`.
pub fn service_account_subject(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> OperatorIdentity {
        OperatorIdentity {
            issuer: "https://kubernetes.default.svc.cluster.local".into(),
            public_keys: vec![
                "-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----\n".into(),
            ],
            subject: service_account_subject("ops", "openbao-operator"),
            audience: AUDIENCE.into(),
        }
    }

    #[test]
    fn the_bootstrap_enables_the_method_and_binds_each_role_to_exactly_its_actor() {
        let jobs = JobSubjects::of("apps", "bao");
        let requests = bootstrap_requests(&identity(), &jobs);
        let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "sys/auth/jwt-operator",
                "auth/jwt-operator/config",
                "sys/policies/acl/openbao-operator",
                "auth/jwt-operator/role/openbao-operator",
                "sys/policies/acl/openbao-operator-backup",
                "auth/jwt-operator/role/backup",
                "sys/policies/acl/openbao-operator-restore",
                "auth/jwt-operator/role/restore",
            ]
        );
        assert_eq!(
            requests[5].data["bound_subject"],
            "system:serviceaccount:apps:bao-backup"
        );
        assert_eq!(
            requests[5].data["token_policies"],
            json!(["openbao-operator-backup"])
        );
        assert_eq!(
            requests[7].data["bound_subject"],
            "system:serviceaccount:apps:bao-restore"
        );
        let role = &requests[3].data;
        assert_eq!(
            role["bound_subject"],
            "system:serviceaccount:ops:openbao-operator"
        );
        assert_eq!(role["bound_audiences"], json!(["openbao-internal"]));
        assert_eq!(role["token_policies"], json!(["openbao-operator"]));
        assert_eq!(role["token_no_default_policy"], true);
        assert_eq!(
            requests[1].data["bound_issuer"],
            "https://kubernetes.default.svc.cluster.local"
        );
        assert_eq!(configure_requests(&identity(), &jobs)[..], requests[1..]);
    }
}
