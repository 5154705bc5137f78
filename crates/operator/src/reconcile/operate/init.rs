//! The initialization state machine and the key store: OpenBao is initialized exactly once,
//! through pod 0, and its root token and recovery keys are stored before anything else.
//!
//! The state machine runs around the `<cluster>-root-token` Secret:
//!
//! ```text
//! Absent --create placeholder--> Pending --sys/init--> (keys in memory) --store--> Stored
//! ```
//!
//! - the placeholder is only ever created, never applied, and the keys replace it under its
//!   `resourceVersion`: no later write from any process can remove stored keys;
//! - `sys/init` is called only when every expected member answers and reports uninitialized,
//!   status has never said initialized, and the placeholder write succeeded (so the keys have
//!   somewhere to go);
//! - once any member reports initialized, `sys/init` is never called again;
//! - a Pending placeholder next to an initialized member means the keys were lost between the
//!   init response and the Secret write (the process died): that is reported loudly
//!   (`InitializationKeysLost`) and nothing is retried;
//! - Stored keys next to members that are all uninitialized belong to a previous cluster whose
//!   data is gone: they are never overwritten.
//!
//! The decision is the pure [`decide`]; IO sits behind [`KeyStore`] and the members' clients.

use std::{collections::BTreeMap, time::Duration};

use bao_client::{InitRequest, InitResponse, SecretString};
use k8s_openapi::{
    ByteString, api::core::v1::Secret, apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use kube::{Api, ResourceExt, api::PostParams};

use super::{Member, Observation, OperateError};
use crate::faults;

/// Recovery key shares and threshold requested at initialization (auto-unseal seals have
/// recovery keys instead of unseal keys).
pub const RECOVERY_SHARES: u32 = 5;
/// See [`RECOVERY_SHARES`].
pub const RECOVERY_THRESHOLD: u32 = 3;
pub use api::names::{
    ANNOTATION_INIT_STATE, INIT_STATE_ROOT_TOKEN_REVOKED, secret_keys::ROOT_TOKEN as ROOT_TOKEN_KEY,
};

/// The state of the root-token Secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyState {
    /// No Secret.
    Absent,
    /// A placeholder written before `sys/init`; no keys.
    Pending,
    /// Root token and recovery keys stored.
    Stored,
}

/// What to do about initialization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Call `sys/init` through pod 0.
    Initialize,
    /// Initialized by the operator, keys stored.
    Initialized,
    /// Initialized, but not by the operator (no keys here).
    InitializedExternally,
    /// Initialized while only a placeholder exists: the keys were lost.
    KeysLost,
    /// Status says initialized but every member is uninitialized: the data is gone.
    DataLost,
    /// Stored keys of an earlier cluster, members uninitialized: refuse to overwrite them.
    StaleKeys,
    /// Preconditions not met yet.
    Wait(String),
    /// OpenBao initialized itself from `spec.selfInit`: no keys, no root token.
    SelfInitialized,
    /// A self-initialization request failed (the message says which and why); OpenBao refuses
    /// to unseal such a cluster.
    SelfInitFailed(String),
}

/// Decide about initialization from what the members said (`expected` of them), the Secret's
/// state and whether status ever recorded the cluster as initialized.
pub fn decide(
    observations: &[Observation],
    expected: usize,
    keys: KeyState,
    status_initialized: bool,
) -> Decision {
    if observations.iter().any(Observation::initialized) {
        return match keys {
            KeyState::Stored => Decision::Initialized,
            KeyState::Pending => Decision::KeysLost,
            KeyState::Absent => Decision::InitializedExternally,
        };
    }
    if data_lost(observations, expected, status_initialized) {
        return Decision::DataLost;
    }
    if status_initialized {
        return Decision::Wait("members are not answering yet".to_string());
    }
    let answering = observations.iter().filter(|o| o.uninitialized()).count();
    if keys == KeyState::Stored {
        return Decision::StaleKeys;
    }
    // Every expected member must answer "uninitialized": a member that holds data but is
    // briefly unreachable must never lead to a second, split cluster.
    let unreachable: Vec<&str> = observations
        .iter()
        .filter(|o| !o.uninitialized())
        .map(|o| o.pod.as_str())
        .collect();
    if observations.len() < expected || !unreachable.is_empty() {
        return Decision::Wait(format!(
            "waiting for all {expected} members to answer before initializing ({} answering{})",
            answering,
            if unreachable.is_empty() {
                String::new()
            } else {
                format!("; not yet: {}", unreachable.join(", "))
            }
        ));
    }
    Decision::Initialize
}

/// Status says initialized, yet every one of the `expected` members answers uninitialized:
/// the Raft data is gone (the operator never initializes over it).
fn data_lost(observations: &[Observation], expected: usize, status_initialized: bool) -> bool {
    let answering = observations.iter().filter(|o| o.uninitialized()).count();
    status_initialized && answering > 0 && answering == observations.len() && answering >= expected
}

/// [`decide`] for a cluster that initializes itself: the operator only watches, and never
/// calls `sys/init`. Only pod 0 runs until it is initialized.
///
/// The first time, "initialized" needs a member that is also unsealed: OpenBao reports its
/// barrier initialized before it has finished setting itself up, and once status records the
/// cluster initialized the `initialize` blocks are gone from the configuration for good. A CI
/// run under heavy load once ended with status initialized and every member uninitialized
/// (`MembersLostData`), consistent with pod 0 stopping inside that window; waiting for an
/// unsealed member closes it.
pub fn decide_self_init(
    observations: &[Observation],
    expected: usize,
    status_initialized: bool,
) -> Decision {
    let done = if status_initialized {
        observations.iter().any(Observation::initialized)
    } else {
        observations.iter().any(Observation::serving)
    };
    if done {
        return Decision::SelfInitialized;
    }
    if data_lost(observations, expected, status_initialized) {
        return Decision::DataLost;
    }
    Decision::Wait(match observations.first() {
        Some(first) => format!(
            "waiting for {} to initialize itself from spec.selfInit",
            first.pod
        ),
        None => "waiting for the first member to initialize itself from spec.selfInit".to_string(),
    })
}

/// How [`self_init_failure`] reports a start after a failed self-initialization.
pub const EARLIER_FAILURE: &str = "an earlier self-initialization failed";

/// The failure of a self-initialization that `message` (a container's termination message,
/// the tail of its log) reports, in one line: which request failed and why. `None` when the
/// message is about something else. OpenBao logs `failed to initialize: ... request.[<name>
/// (<i>)]: <error>` when a request fails, and `self-initialization failed: refusing to unseal`
/// on every start after that.
pub fn self_init_failure(message: &str) -> Option<String> {
    if let Some(at) = message.find("request.[") {
        let rest = &message[at + "request.[".len()..];
        let name = rest.split([' ', ']']).next().unwrap_or_default();
        let cause: Vec<&str> = rest
            .split_once("]:")
            .map(|(_, cause)| cause)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let l = l.trim().trim_start_matches('|').trim();
                let l = l.trim_start_matches("\\t").trim_start_matches('*').trim();
                l.trim_start_matches("failed to evaluate request:").trim()
            })
            .filter(|l| !l.is_empty() && !l.ends_with("occurred:"))
            .take(2)
            .collect();
        let block = if message[..at].contains("spec-requests") {
            "spec.selfInit.requests"
        } else {
            "the operator's identity bootstrap"
        };
        return Some(format!(
            "request {name} of {block} failed: {}",
            cause.join("; ")
        ));
    }
    message
        .contains("self-initialization failed")
        .then(|| format!("{EARLIER_FAILURE} (OpenBao refuses to unseal)"))
}

/// Where the root token and recovery keys go.
pub trait KeyStore {
    /// The Secret's state.
    fn state(&self) -> impl std::future::Future<Output = Result<KeyState, OperateError>> + Send;
    /// Prove the Secret can be written, before any key exists.
    fn write_placeholder(
        &self,
    ) -> impl std::future::Future<Output = Result<(), OperateError>> + Send;
    /// Store the keys.
    fn store(
        &self,
        response: &InitResponse,
    ) -> impl std::future::Future<Output = Result<(), OperateError>> + Send;
    /// The root token, if stored.
    fn root_token(
        &self,
    ) -> impl std::future::Future<Output = Result<Option<SecretString>, OperateError>> + Send;
}

/// The `<cluster>-root-token` Secret. No owner reference (deletion follows
/// `spec.deletionPolicy`); never logged.
///
/// No write to it can remove keys, whoever sends it and whenever it lands: the placeholder is
/// only ever *created* (a create fails when any Secret of that name exists), and the keys are
/// written by a replace that carries the placeholder's `resourceVersion` as an optimistic
/// concurrency precondition, so it succeeds only over the exact placeholder that was read and
/// never over stored keys. A second operator (no leader election, a second install, a deposed
/// leader) can therefore neither erase nor overwrite them.
#[derive(Clone)]
pub struct SecretKeyStore {
    api: Api<Secret>,
    name: String,
    labels: BTreeMap<String, String>,
}

/// How often [`SecretKeyStore::store`] re-reads the Secret after a lost optimistic-concurrency
/// race before it gives up (each retry reads the latest version, so one is almost always enough).
const STORE_CONFLICT_RETRIES: u32 = 3;

impl SecretKeyStore {
    /// The root-token Secret `name` in `api`'s namespace, labelled with `labels`.
    pub fn new(api: Api<Secret>, name: String, labels: BTreeMap<String, String>) -> Self {
        Self { api, name, labels }
    }

    fn error(&self, source: kube::Error) -> OperateError {
        OperateError::KeyStore {
            name: self.name.clone(),
            source,
        }
    }

    fn secret(
        &self,
        state: &str,
        data: BTreeMap<String, ByteString>,
        resource_version: Option<String>,
    ) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                labels: Some(self.labels.clone()),
                annotations: Some(BTreeMap::from([(
                    ANNOTATION_INIT_STATE.to_string(),
                    state.to_string(),
                )])),
                resource_version,
                ..ObjectMeta::default()
            },
            type_: Some("Opaque".to_string()),
            data: Some(data),
            ..Secret::default()
        }
    }
}

/// The keys of an init response, as the Secret's data.
fn key_data(response: &InitResponse) -> BTreeMap<String, ByteString> {
    let mut data = BTreeMap::from([(
        ROOT_TOKEN_KEY.to_string(),
        ByteString(response.root_token.expose_secret().as_bytes().to_vec()),
    )]);
    for (i, key) in response.recovery_keys_base64.iter().enumerate() {
        data.insert(
            format!("recovery-key-{i}"),
            ByteString(key.expose_secret().as_bytes().to_vec()),
        );
    }
    for (i, key) in response.keys_base64.iter().enumerate() {
        data.insert(
            format!("unseal-key-{i}"),
            ByteString(key.expose_secret().as_bytes().to_vec()),
        );
    }
    data.insert(
        "recovery-threshold".to_string(),
        ByteString(RECOVERY_THRESHOLD.to_string().into_bytes()),
    );
    data
}

/// The state a Secret of the key store's name is in.
fn key_state(secret: Option<&Secret>) -> KeyState {
    let Some(secret) = secret else {
        return KeyState::Absent;
    };
    let has_token = secret
        .data
        .as_ref()
        .and_then(|d| d.get(ROOT_TOKEN_KEY))
        .is_some_and(|t| !t.0.is_empty());
    if has_token {
        KeyState::Stored
    } else if secret
        .annotations()
        .get(ANNOTATION_INIT_STATE)
        .map(String::as_str)
        == Some("pending")
    {
        KeyState::Pending
    } else {
        // A Secret of that name the operator did not write: treat it as stored keys (never
        // overwrite what someone put there).
        KeyState::Stored
    }
}

fn is_status(error: &kube::Error, code: u16) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == code)
}

impl SecretKeyStore {
    /// The Secret's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Secret's state and the `resourceVersion` it was read at (`None` when absent).
    pub async fn state_at(&self) -> Result<(KeyState, Option<String>), OperateError> {
        let secret = self
            .api
            .get_opt(&self.name)
            .await
            .map_err(|e| self.error(e))?;
        let version = secret
            .as_ref()
            .and_then(|s| s.metadata.resource_version.clone());
        Ok((key_state(secret.as_ref()), version))
    }
}

/// The root token as the Secret holds it, for a revocation.
#[derive(Debug)]
pub enum StoredRootToken {
    /// A token is stored.
    Stored(SecretString),
    /// The operator revoked it and removed it earlier.
    Revoked,
    /// No token (a placeholder, no Secret, or someone removed the token by hand).
    Missing,
}

impl SecretKeyStore {
    /// The root token the Secret holds, or why none.
    pub async fn stored_root_token(&self) -> Result<StoredRootToken, OperateError> {
        let secret = self
            .api
            .get_opt(&self.name)
            .await
            .map_err(|e| self.error(e))?;
        let revoked = secret.as_ref().is_some_and(|s| {
            s.annotations()
                .get(ANNOTATION_INIT_STATE)
                .map(String::as_str)
                == Some(INIT_STATE_ROOT_TOKEN_REVOKED)
        });
        Ok(match root_token_of(secret.as_ref()) {
            Some(token) => StoredRootToken::Stored(token),
            None if revoked => StoredRootToken::Revoked,
            None => StoredRootToken::Missing,
        })
    }

    /// Remove `revoked` (a root token OpenBao no longer accepts) from the Secret and mark the
    /// Secret revoked; every other key (the recovery keys) stays. The replace carries the
    /// `resourceVersion` it read, and nothing is removed when the Secret holds another token by
    /// then (someone stored a new one): that one is not known to be revoked.
    pub async fn remove_revoked_root_token(
        &self,
        revoked: &SecretString,
    ) -> Result<(), OperateError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let Some(mut secret) = self
                .api
                .get_opt(&self.name)
                .await
                .map_err(|e| self.error(e))?
            else {
                return Ok(());
            };
            match root_token_of(Some(&secret)) {
                None => return Ok(()),
                Some(token) if token.expose_secret() != revoked.expose_secret() => {
                    return Err(OperateError::KeysConflict {
                        name: self.name.clone(),
                    });
                }
                Some(_) => {}
            }
            if let Some(data) = secret.data.as_mut() {
                data.remove(ROOT_TOKEN_KEY);
            }
            secret.annotations_mut().insert(
                ANNOTATION_INIT_STATE.to_string(),
                INIT_STATE_ROOT_TOKEN_REVOKED.to_string(),
            );
            match self
                .api
                .replace(&self.name, &PostParams::default(), &secret)
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if is_status(&e, 409) && attempt <= STORE_CONFLICT_RETRIES => {}
                Err(e) => return Err(self.error(e)),
            }
        }
    }
}

/// The non-empty root token `secret` holds.
fn root_token_of(secret: Option<&Secret>) -> Option<SecretString> {
    secret
        .and_then(|s| s.data.as_ref())
        .and_then(|d| d.get(ROOT_TOKEN_KEY))
        .and_then(|t| String::from_utf8(t.0.clone()).ok())
        .filter(|t| !t.is_empty())
        .map(SecretString::new)
}

impl KeyStore for SecretKeyStore {
    async fn state(&self) -> Result<KeyState, OperateError> {
        Ok(self.state_at().await?.0)
    }

    async fn write_placeholder(&self) -> Result<(), OperateError> {
        let placeholder = self.secret("pending", BTreeMap::new(), None);
        match self.api.create(&PostParams::default(), &placeholder).await {
            Ok(_) => Ok(()),
            // Whatever exists (a placeholder from an earlier attempt, or stored keys) stays as
            // it is; `decide` reads its state before anything calls `sys/init`.
            Err(e) if is_status(&e, 409) => Ok(()),
            Err(e) => Err(self.error(e)),
        }
    }

    async fn store(&self, response: &InitResponse) -> Result<(), OperateError> {
        let data = key_data(response);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let live = self
                .api
                .get_opt(&self.name)
                .await
                .map_err(|e| self.error(e))?;
            let result = match key_state(live.as_ref()) {
                // The placeholder vanished (deleted by hand): create the Secret with the keys; a
                // create never replaces anything.
                KeyState::Absent => self
                    .api
                    .create(
                        &PostParams::default(),
                        &self.secret("complete", data.clone(), None),
                    )
                    .await
                    .map(drop),
                KeyState::Pending => {
                    let version = live.and_then(|s| s.metadata.resource_version);
                    self.api
                        .replace(
                            &self.name,
                            &PostParams::default(),
                            &self.secret("complete", data.clone(), version),
                        )
                        .await
                        .map(drop)
                }
                KeyState::Stored => {
                    // Stored already: by an earlier attempt of this very write whose answer was
                    // lost (then the token matches), or by someone else (then these keys are not
                    // ours to put there, and nothing is overwritten).
                    let same = live
                        .as_ref()
                        .and_then(|s| s.data.as_ref())
                        .and_then(|d| d.get(ROOT_TOKEN_KEY))
                        == data.get(ROOT_TOKEN_KEY);
                    return if same {
                        Ok(())
                    } else {
                        Err(OperateError::KeysConflict {
                            name: self.name.clone(),
                        })
                    };
                }
            };
            match result {
                Ok(()) => return Ok(()),
                // Lost a race (409 on create or on the resourceVersion precondition): read
                // again and decide again.
                Err(e) if is_status(&e, 409) && attempt <= STORE_CONFLICT_RETRIES => {}
                Err(e) => return Err(self.error(e)),
            }
        }
    }

    async fn root_token(&self) -> Result<Option<SecretString>, OperateError> {
        let secret = self
            .api
            .get_opt(&self.name)
            .await
            .map_err(|e| self.error(e))?;
        Ok(root_token_of(secret.as_ref()))
    }
}

/// Initialize through `pod0`: placeholder first, then `sys/init`, then the keys, stored with
/// retries. If storing keeps failing the response is handed back inside the error's keeper so
/// the caller can hold it in memory and store it on the next pass.
pub async fn initialize(
    cluster: &str,
    pod0: &Member,
    store: &impl KeyStore,
) -> Result<(), (OperateError, Option<InitResponse>)> {
    store.write_placeholder().await.map_err(|e| (e, None))?;
    faults::point(faults::AFTER_PLACEHOLDER);
    let response = pod0
        .init_client
        .init(&InitRequest::recovery(RECOVERY_SHARES, RECOVERY_THRESHOLD))
        .await
        .map_err(|source| {
            (
                OperateError::OpenBao {
                    member: pod0.pod.clone(),
                    source,
                },
                None,
            )
        })?;
    faults::point_for(faults::AFTER_INIT_RESPONSE, cluster);
    match store_with_retries(store, &response).await {
        Ok(()) => Ok(()),
        Err(source) => Err((
            OperateError::KeysNotStored {
                cluster: cluster.to_string(),
                source: Box::new(source),
            },
            Some(response),
        )),
    }
}

/// How long storing an init response keeps being retried. Once `sys/init` answered, its keys
/// exist nowhere else: an API server that is briefly unreachable (a restart, a network blip,
/// a lost lease) must not turn into lost keys. The operator's `terminationGracePeriodSeconds`
/// covers [`INIT_TIMEOUT`] plus this.
pub const STORE_DEADLINE: Duration = Duration::from_secs(120);
/// The longest pause between two attempts to store the keys.
const STORE_MAX_DELAY: Duration = Duration::from_secs(5);

/// Store `response`, retrying failures (with backoff, up to [`STORE_DEADLINE`]); a conflict
/// with other stored keys is final.
pub async fn store_with_retries(
    store: &impl KeyStore,
    response: &InitResponse,
) -> Result<(), OperateError> {
    let deadline = tokio::time::Instant::now() + STORE_DEADLINE;
    let mut delay = Duration::from_millis(200);
    loop {
        match store.store(response).await {
            Ok(()) => return Ok(()),
            Err(e @ OperateError::KeysConflict { .. }) => return Err(e),
            Err(e) if tokio::time::Instant::now() + delay >= deadline => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?delay, "cannot store the init keys yet; retrying");
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(STORE_MAX_DELAY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bao_client::Health;
    use bao_client::HealthInfo;

    fn obs(pod: &str, health: Option<Health>) -> Observation {
        Observation {
            pod: pod.to_string(),
            // Any error stands for "could not be asked"; Config is the one constructible here.
            health: health.ok_or(bao_client::Error::Config("unreachable".to_string())),
        }
    }

    fn uninit() -> Option<Health> {
        Some(Health::Uninitialized(HealthInfo::default()))
    }

    fn active() -> Option<Health> {
        Some(Health::Active(HealthInfo {
            initialized: true,
            ..HealthInfo::default()
        }))
    }

    #[test]
    fn initialization_waits_until_every_member_answers_uninitialized() {
        let some = [obs("b-0", uninit()), obs("b-1", None)];
        assert!(
            matches!(decide(&some, 2, KeyState::Absent, false), Decision::Wait(m) if m.contains("b-1"))
        );
        let few = [obs("b-0", uninit())];
        assert!(matches!(
            decide(&few, 3, KeyState::Absent, false),
            Decision::Wait(_)
        ));
        let all = [obs("b-0", uninit()), obs("b-1", uninit())];
        assert_eq!(
            decide(&all, 2, KeyState::Absent, false),
            Decision::Initialize
        );
        assert_eq!(
            decide(&all, 2, KeyState::Pending, false),
            Decision::Initialize,
            "a retry after a crash before init"
        );
    }

    #[test]
    fn an_initialized_member_is_never_initialized_again() {
        let one = [obs("b-0", active()), obs("b-1", uninit())];
        assert_eq!(
            decide(&one, 2, KeyState::Stored, true),
            Decision::Initialized
        );
        assert_eq!(
            decide(&one, 2, KeyState::Pending, false),
            Decision::KeysLost
        );
        assert_eq!(
            decide(&one, 2, KeyState::Absent, false),
            Decision::InitializedExternally
        );
    }

    #[test]
    fn stored_keys_of_a_vanished_cluster_are_never_overwritten() {
        let all = [obs("b-0", uninit()), obs("b-1", uninit())];
        assert_eq!(
            decide(&all, 2, KeyState::Stored, false),
            Decision::StaleKeys
        );
        assert_eq!(decide(&all, 2, KeyState::Stored, true), Decision::DataLost);
    }

    #[test]
    fn a_secret_whose_root_token_was_revoked_still_counts_as_stored_keys() {
        let revoked = Secret {
            metadata: ObjectMeta {
                annotations: Some(BTreeMap::from([(
                    ANNOTATION_INIT_STATE.to_string(),
                    INIT_STATE_ROOT_TOKEN_REVOKED.to_string(),
                )])),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([(
                "recovery-key-0".to_string(),
                ByteString(b"a2V5".to_vec()),
            )])),
            ..Secret::default()
        };
        // Stored keys are never overwritten and a cluster with them is never initialized again.
        assert_eq!(key_state(Some(&revoked)), KeyState::Stored);
        assert!(root_token_of(Some(&revoked)).is_none());
    }

    #[test]
    fn a_self_initializing_cluster_is_never_initialized_by_the_operator() {
        let fresh = [obs("b-0", uninit())];
        assert!(matches!(
            decide_self_init(&fresh, 3, false),
            Decision::Wait(m) if m.contains("b-0") && m.contains("spec.selfInit")
        ));
        let done = [obs("b-0", active())];
        assert_eq!(decide_self_init(&done, 3, false), Decision::SelfInitialized);
        // Initialized but still sealed the first time: not yet (it may still come back
        // uninitialized); once recorded, a sealed member is an initialized one.
        let sealed = [obs(
            "b-0",
            Some(Health::Sealed(HealthInfo {
                initialized: true,
                ..HealthInfo::default()
            })),
        )];
        assert!(matches!(
            decide_self_init(&sealed, 3, false),
            Decision::Wait(_)
        ));
        assert_eq!(
            decide_self_init(&sealed, 3, true),
            Decision::SelfInitialized
        );
        let wiped = [
            obs("b-0", uninit()),
            obs("b-1", uninit()),
            obs("b-2", uninit()),
        ];
        assert_eq!(decide_self_init(&wiped, 3, true), Decision::DataLost);
    }

    #[test]
    fn a_failed_self_init_request_is_named_with_its_cause() {
        let log = "2026-12-02T15:36:09.185Z [ERROR] failed to initialize:\n  error=\n  | initialize.[spec-requests (1)]: request.[bad-path (0)]: failed to evaluate request: 1 error occurred:\n  | \t* unsupported path\n  | \n";
        let failure = self_init_failure(log).expect("a failure");
        assert_eq!(
            failure,
            "request bad-path of spec.selfInit.requests failed: unsupported path"
        );
        let restart = "[ERROR] error unsealing core: error=\"unseal with stored key failed: self-initialization failed: refusing to unseal\"";
        assert!(self_init_failure(restart).is_some_and(|m| m.contains("refuses to unseal")));
        assert_eq!(self_init_failure("panic: something else"), None);
    }
}
