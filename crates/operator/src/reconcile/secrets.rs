//! The Secrets the operator generates: the CA (`<cluster>-tls-ca`), the server certificate
//! (`<cluster>-tls`, renewed before expiry) and the static unseal key (`<cluster>-unseal-key`);
//! and, in ACME mode, the roots the operator verifies members with (a private ACME CA's root
//! from the user's Secret, or the system roots for a public one).
//!
//! Rules: a Secret that exists is never regenerated (creation uses POST, which fails if it
//! exists, so two operators can never overwrite each other); the unseal key is created immutable
//! and is never created for a cluster that already holds data (its loss must be loud, not papered
//! over with a new key that cannot decrypt anything); a key the user supplies
//! (`spec.unseal.credentialsSecretRef` on a static seal) is only checked, never generated; Secrets
//! carry no owner reference, so deleting the cluster leaves them to `spec.deletionPolicy`; their
//! contents are never logged.

use std::collections::BTreeMap;

use api::{AcmeTrust, TlsMode, UnsealType, conditions::reasons, names};
use k8s_openapi::{
    ByteString,
    api::core::v1::{PersistentVolumeClaim, Secret},
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use kube::{
    Api, ResourceExt,
    api::{ListParams, PostParams},
};
use time::OffsetDateTime;

use super::Context;
use crate::{
    desired::{ValidatedCluster, config_hcl},
    pki,
};

pub use api::names::{ANNOTATION_NOT_AFTER, ANNOTATION_NOT_BEFORE, ANNOTATION_SANS};

/// Data keys of the generated Secrets (defined once, in `api::names`).
pub use api::names::secret_keys as keys;

/// What the Secret stage found or did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecretsOutcome {
    /// A problem that keeps pods from starting (External TLS Secret incomplete, unseal key lost).
    pub blocking: Option<(String, String)>,
    /// When the server certificate is next due for renewal.
    pub renew_at: Option<OffsetDateTime>,
    /// Secrets created or replaced in this pass (names only).
    pub written: Vec<String>,
    /// The CA that signs the server certificate (what the operator trusts when it talks to
    /// the members).
    pub ca_pem: Option<Vec<u8>>,
    /// The static seal's fingerprint (recorded with each backup), when the key is known.
    pub seal_fingerprint: Option<String>,
}

/// What the stage derived from Secret bodies for one cluster, and what it depends on: the
/// cluster (uid, generation, whether it was initialized) and the `resourceVersion` of every
/// Secret it read. While all of them stand, the next pass takes the outcome from here and reads
/// no Secret at all. It holds no key material: the CA's public certificate and fingerprints.
#[derive(Clone, Debug)]
pub struct Memo {
    uid: Option<String>,
    generation: Option<i64>,
    initialized: bool,
    /// `(name, resourceVersion)` of each Secret the outcome was derived from.
    versions: Vec<(String, String)>,
    outcome: SecretsOutcome,
}

impl Memo {
    /// The memo of `outcome`, when one can be kept: nothing was written, and every Secret the
    /// stage read existed (an absent one may appear without a cached trace: the user's own
    /// Secrets are not labelled, so the metadata cache cannot vouch for their absence).
    fn of(
        cluster: &ValidatedCluster,
        initialized: bool,
        read: &[(String, Option<String>)],
        outcome: &SecretsOutcome,
    ) -> Option<Memo> {
        if !outcome.written.is_empty() {
            return None;
        }
        let versions = read
            .iter()
            .map(|(name, version)| Some((name.clone(), version.clone()?)))
            .collect::<Option<Vec<_>>>()?;
        let meta = &cluster.cluster().metadata;
        Some(Memo {
            uid: meta.uid.clone(),
            generation: meta.generation,
            initialized,
            versions,
            outcome: outcome.clone(),
        })
    }

    /// The outcome, when it still holds for `cluster` at `now`, given the `resourceVersion` the
    /// metadata cache shows for a Secret name.
    fn still_holds(
        &self,
        cluster: &ValidatedCluster,
        initialized: bool,
        now: OffsetDateTime,
        cached_version: impl Fn(&str) -> Option<String>,
    ) -> Option<SecretsOutcome> {
        let meta = &cluster.cluster().metadata;
        let same_cluster = self.uid == meta.uid
            && self.generation == meta.generation
            && self.initialized == initialized;
        let not_due = self.outcome.renew_at.is_none_or(|at| now < at);
        let unchanged = self
            .versions
            .iter()
            .all(|(name, version)| cached_version(name).as_deref() == Some(version.as_str()));
        (same_cluster && not_due && unchanged).then(|| self.outcome.clone())
    }
}

/// What the Secret stage read: the Secrets that exist (bodies held for this pass only) and
/// whether the cluster holds data (asked only when it matters: the unseal key is missing).
#[derive(Clone, Debug, Default)]
pub struct SecretsObserved {
    /// `<cluster>-tls-ca` (OperatorManaged TLS).
    pub ca: Option<Secret>,
    /// `<cluster>-tls` (OperatorManaged TLS).
    pub server: Option<Secret>,
    /// The user's Secret (External TLS).
    pub external: Option<Secret>,
    /// `<cluster>-unseal-key` (static seal), or the user's key Secret when
    /// `spec.unseal.credentialsSecretRef` supplies the key.
    pub unseal_key: Option<Secret>,
    /// OpenBao was initialized, or volumes of the cluster exist.
    pub holds_data: bool,
    /// ACME mode with a private CA: the Secret holding its root (read, never written).
    pub acme_trust: Option<Secret>,
    /// ACME mode with a public CA: the system roots, as PEM (empty when none were found).
    pub system_roots: Option<Vec<u8>>,
    /// Every Secret read, by name, with its `resourceVersion` (`None`: it does not exist).
    pub read: Vec<(String, Option<String>)>,
}

/// One write the plan asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Create a Secret; an existing one of that name wins (never overwritten).
    Create(Secret),
    /// Replace a Secret under the `resourceVersion` it carries (a concurrent writer makes this
    /// fail, and the next pass plans again).
    Replace(Secret),
}

impl Effect {
    fn secret(&self) -> &Secret {
        match self {
            Effect::Create(s) | Effect::Replace(s) => s,
        }
    }
}

/// What [`plan`] decided: the writes, and what status and the requeue need to know.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SecretsPlan {
    /// Writes to perform; independent of each other, so they may be sent together.
    pub effects: Vec<Effect>,
    /// A problem that keeps pods from starting.
    pub blocking: Option<(String, String)>,
    /// When the server certificate is due next.
    pub renew_at: Option<OffsetDateTime>,
    /// The CA the members' certificates chain to.
    pub ca_pem: Option<Vec<u8>>,
    /// Read and plan again after the effects: a CA was just created, and the certificate must
    /// be issued by whichever CA won a concurrent creation.
    pub again: bool,
    /// The static seal's fingerprint, when its key is present and usable.
    pub seal_fingerprint: Option<String>,
}

fn secret_meta(cluster: &ValidatedCluster, name: String) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some(cluster.namespace().to_string()),
        labels: Some(cluster.names().labels()),
        ..ObjectMeta::default()
    }
}

fn text(secret: &Secret, key: &str) -> Option<String> {
    secret
        .data
        .as_ref()?
        .get(key)
        .and_then(|b| String::from_utf8(b.0.clone()).ok())
        .filter(|t| !t.is_empty())
}

fn blocking(reason: &str, message: String) -> Option<(String, String)> {
    Some((reason.to_string(), message))
}

/// Decide, without IO, what the cluster's Secrets need at `now`. Rules: a Secret that exists is
/// never regenerated (only the server certificate is renewed, under the same CA); the unseal key
/// is never created for a cluster that holds data.
pub fn plan(
    cluster: &ValidatedCluster,
    observed: &SecretsObserved,
    now: OffsetDateTime,
) -> Result<SecretsPlan, pki::PkiError> {
    let mut plan = SecretsPlan::default();
    match cluster.spec().tls.mode {
        TlsMode::OperatorManaged => plan_tls(cluster, observed, now, &mut plan)?,
        TlsMode::External => plan_external_tls(cluster, observed, &mut plan),
        TlsMode::Acme => plan_acme_trust(cluster, observed, &mut plan),
    }
    if cluster.spec().unseal.type_ == UnsealType::Static {
        plan_unseal_key(cluster, observed, &mut plan)?;
        plan.seal_fingerprint = seal_fingerprint(cluster, observed.unseal_key.as_ref());
    }
    Ok(plan)
}

/// The fingerprint of `cluster`'s static seal from its key Secret
/// ([`crate::backup::manifest::seal_fingerprint`]): `None` for other seals, for a key read from
/// elsewhere than the Secret (`spec.unseal.static.currentKey`), or when the Secret holds no
/// usable key. Keys in any encoding OpenBao accepts are decoded first, so a copy of the key in
/// another encoding has the same fingerprint.
pub fn seal_fingerprint(cluster: &ValidatedCluster, secret: Option<&Secret>) -> Option<String> {
    let unseal = &cluster.spec().unseal;
    let options = unseal.r#static.as_ref();
    if unseal.type_ != UnsealType::Static || options.is_some_and(|s| s.current_key.is_some()) {
        return None;
    }
    let key = secret?.data.as_ref()?.get(config_hcl::UNSEAL_KEY_FILE)?;
    let key = static_key(&key.0)?;
    let id = options
        .and_then(|s| s.current_key_id.as_deref())
        .unwrap_or(config_hcl::STATIC_KEY_ID);
    Some(crate::backup::manifest::seal_fingerprint(id, &key))
}

fn plan_tls(
    cluster: &ValidatedCluster,
    observed: &SecretsObserved,
    now: OffsetDateTime,
    plan: &mut SecretsPlan,
) -> Result<(), pki::PkiError> {
    let names = cluster.names();
    let Some(ca_secret) = &observed.ca else {
        let ca = pki::generate_ca(cluster, now)?;
        plan.effects.push(Effect::Create(Secret {
            metadata: secret_meta(cluster, names.ca_secret()),
            type_: Some("Opaque".to_string()),
            data: Some(BTreeMap::from([
                (
                    keys::CA_CERT.to_string(),
                    ByteString(ca.cert_pem.into_bytes()),
                ),
                (
                    keys::CA_KEY.to_string(),
                    ByteString(ca.key_pem.0.into_bytes()),
                ),
            ])),
            ..Secret::default()
        }));
        plan.again = true;
        return Ok(());
    };
    let (Some(ca_cert), Some(ca_key)) = (
        text(ca_secret, keys::CA_CERT),
        text(ca_secret, keys::CA_KEY),
    ) else {
        plan.blocking = blocking(
            reasons::TLS_SECRET_INVALID,
            format!(
                "Secret {} must hold {} and {}; it is not regenerated while it exists: restore it or delete it to get a new CA",
                names.ca_secret(),
                keys::CA_CERT,
                keys::CA_KEY
            ),
        );
        return Ok(());
    };
    let ca = pki::Ca {
        cert_pem: ca_cert,
        key_pem: pki::PrivateKeyPem(ca_key),
    };
    plan.ca_pem = Some(ca.cert_pem.clone().into_bytes());

    let sans = pki::server_sans(cluster);
    let fingerprint = pki::sans_fingerprint(&sans);
    let current = observed.server.as_ref().and_then(|secret| {
        let cert = text(secret, keys::TLS_CERT)?;
        text(secret, keys::TLS_KEY)?;
        let same_ca = text(secret, keys::CA_CERT).as_deref() == Some(ca.cert_pem.as_str());
        let stored_sans = secret
            .annotations()
            .get(ANNOTATION_SANS)
            .map(String::as_str);
        let due = pki::renewal_reason(&cert, &ca.cert_pem, stored_sans, &fingerprint, now);
        match (same_ca, due) {
            (true, None) => pki::validity(&cert).ok(),
            _ => None,
        }
    });
    if let Some((not_before, not_after)) = current {
        plan.renew_at = Some(pki::renewal_time(not_before, not_after));
        return Ok(());
    }

    let lifetime = api::validate::rules::parse_go_duration(&cluster.spec().tls.rotation_period)
        .unwrap_or(std::time::Duration::from_secs(720 * 3600));
    let issued = pki::issue_server_cert(&ca, &sans, lifetime, now)?;
    let mut metadata = secret_meta(cluster, names.server_tls_secret());
    let rfc3339 = |t: OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    metadata.annotations = Some(BTreeMap::from([
        (
            ANNOTATION_NOT_BEFORE.to_string(),
            rfc3339(issued.not_before),
        ),
        (ANNOTATION_NOT_AFTER.to_string(), rfc3339(issued.not_after)),
        (ANNOTATION_SANS.to_string(), fingerprint),
    ]));
    let mut secret = Secret {
        metadata,
        type_: Some("kubernetes.io/tls".to_string()),
        data: Some(BTreeMap::from([
            (
                keys::TLS_CERT.to_string(),
                ByteString(issued.cert_pem.into_bytes()),
            ),
            (
                keys::TLS_KEY.to_string(),
                ByteString(issued.key_pem.0.into_bytes()),
            ),
            (
                keys::CA_CERT.to_string(),
                ByteString(ca.cert_pem.into_bytes()),
            ),
        ])),
        ..Secret::default()
    };
    plan.effects.push(match &observed.server {
        None => Effect::Create(secret),
        Some(old) => {
            secret.metadata.resource_version = old.resource_version();
            Effect::Replace(secret)
        }
    });
    plan.renew_at = Some(pki::renewal_time(issued.not_before, issued.not_after));
    Ok(())
}

/// ACME mode: no serving certificate (OpenBao obtains it); the operator trusts the private
/// ACME CA's root from the user's Secret, or the system roots for a public CA. A missing root
/// holds the pods back (they would not start without the mounted file) with the reason.
fn plan_acme_trust(cluster: &ValidatedCluster, observed: &SecretsObserved, plan: &mut SecretsPlan) {
    match cluster.spec().acme_trust() {
        None => {}
        Some(AcmeTrust::SystemRoots) => match observed.system_roots.as_ref() {
            Some(pem) if !pem.is_empty() => plan.ca_pem = Some(pem.clone()),
            _ => {
                plan.blocking = blocking(
                    reasons::ACME_TRUST_UNAVAILABLE,
                    "spec.tls.mode ACME: the operator found no system root certificates to \
                     verify the members' ACME certificates with; for a private ACME CA set \
                     spec.tls.acme.caSecretName to a Secret holding its root as ca.crt"
                        .to_string(),
                )
            }
        },
        Some(AcmeTrust::Secret { secret, key, .. }) => {
            let root = observed
                .acme_trust
                .as_ref()
                .and_then(|s| s.data.as_ref()?.get(&key).map(|v| v.0.clone()))
                .filter(|pem| !pem.is_empty());
            match root {
                Some(pem) => plan.ca_pem = Some(pem),
                None => {
                    plan.blocking = blocking(
                        reasons::ACME_TRUST_UNAVAILABLE,
                        format!(
                            "spec.tls.mode ACME: Secret {secret:?} in namespace {} must hold \
                             {key} (the private ACME CA's root, PEM): members and the operator \
                             verify the certificates OpenBao obtains against it",
                            cluster.namespace()
                        ),
                    )
                }
            }
        }
    }
}

fn plan_external_tls(
    cluster: &ValidatedCluster,
    observed: &SecretsObserved,
    plan: &mut SecretsPlan,
) {
    let name = cluster.names().tls_secret(&cluster.spec().tls);
    let problem = match &observed.external {
        None => Some(format!(
            "spec.tls.mode External: Secret {name:?} does not exist in namespace {}; create it with tls.crt, tls.key and ca.crt",
            cluster.namespace()
        )),
        Some(secret) => {
            let missing: Vec<&str> = [keys::TLS_CERT, keys::TLS_KEY, keys::CA_CERT]
                .into_iter()
                .filter(|key| {
                    secret
                        .data
                        .as_ref()
                        .is_none_or(|d| d.get(*key).is_none_or(|v| v.0.is_empty()))
                })
                .collect();
            if missing.is_empty() {
                plan.ca_pem = secret
                    .data
                    .as_ref()
                    .and_then(|d| d.get(keys::CA_CERT))
                    .map(|v| v.0.clone());
            }
            (!missing.is_empty()).then(|| {
                format!(
                    "spec.tls.externalSecretName: Secret {name:?} is missing {}; it must hold tls.crt, tls.key and ca.crt",
                    missing.join(", ")
                )
            })
        }
    };
    if let Some(message) = problem {
        plan.blocking = blocking(reasons::TLS_SECRET_INVALID, message);
    }
}

fn plan_unseal_key(
    cluster: &ValidatedCluster,
    observed: &SecretsObserved,
    plan: &mut SecretsPlan,
) -> Result<(), pki::PkiError> {
    if let Some(user) = &cluster.spec().unseal.credentials_secret_ref {
        plan_user_unseal_key(cluster, &user.name, observed, plan);
        return Ok(());
    }
    let name = cluster.names().unseal_key_secret();
    if let Some(secret) = &observed.unseal_key {
        let valid = secret
            .data
            .as_ref()
            .and_then(|d| d.get(config_hcl::UNSEAL_KEY_FILE))
            .is_some_and(|k| k.0.len() == 32);
        if !valid {
            plan.blocking = blocking(
                reasons::UNSEAL_KEY_INVALID,
                format!(
                    "Secret {name} must hold a 32-byte key under {:?}; it is never regenerated while it exists",
                    config_hcl::UNSEAL_KEY_FILE
                ),
            );
        }
        return Ok(());
    }
    // No key. A cluster that was initialized, or whose volumes survive (the cluster object was
    // recreated), holds data sealed with the lost key: a new key would silently brick it.
    if observed.holds_data {
        plan.blocking = blocking(
            reasons::UNSEAL_KEY_MISSING,
            format!(
                "Secret {name} with the static unseal key is missing but the cluster holds data; \
                 restore the Secret from your backup (a new key could not unseal the existing data)"
            ),
        );
        return Ok(());
    }
    let key = pki::generate_unseal_key()?;
    plan.effects.push(Effect::Create(Secret {
        metadata: secret_meta(cluster, name),
        type_: Some("Opaque".to_string()),
        immutable: Some(true),
        data: Some(BTreeMap::from([(
            config_hcl::UNSEAL_KEY_FILE.to_string(),
            ByteString(key.to_vec()),
        )])),
        ..Secret::default()
    }));
    Ok(())
}

/// A static seal whose key the user supplies (`spec.unseal.credentialsSecretRef`, entry `key`):
/// the operator never generates nor writes that Secret; it only says, before a pod would fail
/// to start, that it is missing or holds no usable key.
fn plan_user_unseal_key(
    cluster: &ValidatedCluster,
    name: &str,
    observed: &SecretsObserved,
    plan: &mut SecretsPlan,
) {
    let key = config_hcl::UNSEAL_KEY_FILE;
    let problem = match &observed.unseal_key {
        None => Some((
            reasons::UNSEAL_KEY_MISSING,
            format!(
                "spec.unseal.credentialsSecretRef: Secret {name:?} does not exist in namespace \
                 {}; create it with the static unseal key under {key:?} (the operator never \
                 generates a key for a cluster whose key you supply)",
                cluster.namespace()
            ),
        )),
        Some(secret) => {
            let usable = secret
                .data
                .as_ref()
                .and_then(|d| d.get(key))
                .is_some_and(|k| is_usable_static_key(&k.0));
            (!usable).then(|| {
                (
                    reasons::UNSEAL_KEY_INVALID,
                    format!(
                        "spec.unseal.credentialsSecretRef: Secret {name:?} must hold the static \
                         unseal key under {key:?}: 32 raw bytes, 64 hexadecimal characters or 44 \
                         base64 characters, with no trailing newline"
                    ),
                )
            })
        }
    };
    if let Some((reason, message)) = problem {
        plan.blocking = blocking(reason, message);
    }
}

fn is_usable_static_key(key: &[u8]) -> bool {
    static_key(key).is_some()
}

/// The 32 key bytes of a static seal key file, in the encodings OpenBao's static seal accepts
/// (it reads the file without trimming): 32 raw bytes, 64 hexadecimal characters, 44 standard
/// base64 characters or 43 URL-safe base64 characters without padding.
fn static_key(key: &[u8]) -> Option<[u8; 32]> {
    use base64::{
        Engine, alphabet,
        engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
    };
    // Go's decoders ignore the unused bits of the last character; so does this.
    let lenient = |padding| {
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(padding)
    };
    let decoded = match key.len() {
        32 => key.to_vec(),
        64 => hex::decode(key).ok()?,
        44 => GeneralPurpose::new(&alphabet::STANDARD, lenient(DecodePaddingMode::Indifferent))
            .decode(key)
            .ok()?,
        43 => GeneralPurpose::new(&alphabet::URL_SAFE, lenient(DecodePaddingMode::RequireNone))
            .decode(key)
            .ok()?,
        _ => return None,
    };
    decoded.try_into().ok()
}

/// What the secrets stage can fail with; the variant is the metrics category.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// Reading or writing a Secret (or listing the claims that tell whether data exists) failed.
    #[error("{action}: {source}")]
    Kube {
        /// What was attempted, naming the object.
        action: String,
        /// Cause.
        #[source]
        source: kube::Error,
    },
    /// Key material could not be generated or parsed.
    #[error(transparent)]
    Pki(#[from] pki::PkiError),
    /// A Secret the stage created is still not visible.
    #[error("Secret {0} is still missing after it was created")]
    StillMissing(String),
}

impl SecretsError {
    /// Short category for metrics, Events and requeue decisions.
    pub fn category(&self) -> &'static str {
        match self {
            SecretsError::Kube { .. } => "KubernetesAPIError",
            SecretsError::Pki(_) => "KeyMaterialError",
            SecretsError::StillMissing(_) => "MissingObject",
        }
    }
}

/// Read Secret `name` (`None`: it does not exist).
async fn get_secret(api: &Api<Secret>, name: String) -> Result<Option<Secret>, SecretsError> {
    api.get_opt(&name)
        .await
        .map_err(|source| SecretsError::Kube {
            action: format!("read Secret {name}"),
            source,
        })
}

/// Which field of [`SecretsObserved`] a read fills.
#[derive(Clone, Copy)]
enum Slot {
    Ca,
    Server,
    External,
    AcmeTrust,
    UnsealKey,
}

impl SecretsObserved {
    fn slot(&mut self, slot: Slot) -> &mut Option<Secret> {
        match slot {
            Slot::Ca => &mut self.ca,
            Slot::Server => &mut self.server,
            Slot::External => &mut self.external,
            Slot::AcmeTrust => &mut self.acme_trust,
            Slot::UnsealKey => &mut self.unseal_key,
        }
    }

    /// Put `secret`, just written by this stage, where a read would have put it (the
    /// operator's own Secrets only; the user's are never written).
    fn record_written(&mut self, cluster: &ValidatedCluster, secret: Secret) {
        let names = cluster.names();
        let name = secret.name_any();
        let slot = if name == names.ca_secret() {
            Slot::Ca
        } else if name == names.server_tls_secret() {
            Slot::Server
        } else if name == names.unseal_key_secret() {
            Slot::UnsealKey
        } else {
            return;
        };
        let version = secret.metadata.resource_version.clone();
        *self.slot(slot) = Some(secret);
        match self.read.iter_mut().find(|(read, _)| *read == name) {
            Some(entry) => entry.1 = version,
            None => self.read.push((name, version)),
        }
    }
}

/// Read what [`plan`] needs, every Secret at once.
async fn observe(
    ctx: &Context,
    api: &Api<Secret>,
    cluster: &ValidatedCluster,
    initialized: bool,
) -> Result<SecretsObserved, SecretsError> {
    let names = cluster.names();
    let spec = cluster.spec();
    let mut observed = SecretsObserved {
        holds_data: initialized,
        ..SecretsObserved::default()
    };
    let mut wanted: Vec<(Slot, String)> = Vec::new();
    match spec.tls.mode {
        TlsMode::OperatorManaged => {
            wanted.push((Slot::Ca, names.ca_secret()));
            wanted.push((Slot::Server, names.server_tls_secret()));
        }
        TlsMode::External => wanted.push((Slot::External, names.tls_secret(&spec.tls))),
        TlsMode::Acme => match spec.acme_trust() {
            Some(AcmeTrust::Secret { secret, .. }) => wanted.push((Slot::AcmeTrust, secret)),
            Some(AcmeTrust::SystemRoots) => observed.system_roots = Some(system_roots_pem()),
            None => {}
        },
    }
    if let (UnsealType::Static, Some(user)) =
        (spec.unseal.type_, &spec.unseal.credentials_secret_ref)
    {
        // The user's key Secret: read to report it missing or unusable, never written.
        wanted.push((Slot::UnsealKey, user.name.clone()));
    } else if spec.unseal.type_ == UnsealType::Static {
        wanted.push((Slot::UnsealKey, names.unseal_key_secret()));
    }
    // Whether the cluster already holds data decides whether a missing own unseal key may be
    // generated (never over data the new key could not unseal). When the metadata cache says
    // the key Secret is not there, the claims are listed alongside the Secret reads rather than
    // after them: a new cluster's first pass is one round trip shorter.
    let own_key = spec.unseal.type_ == UnsealType::Static
        && spec.unseal.credentials_secret_ref.is_none()
        && !initialized;
    let key_uncached = own_key
        && ctx
            .cached_secret_version(cluster.namespace(), &names.unseal_key_secret())
            .is_none();
    let reads =
        futures::future::try_join_all(wanted.iter().map(|(_, name)| get_secret(api, name.clone())));
    let (found, claims) = futures::future::try_join(reads, async {
        if key_uncached {
            claims_exist(ctx, cluster).await.map(Some)
        } else {
            Ok(None)
        }
    })
    .await?;
    for ((slot, name), secret) in wanted.into_iter().zip(found) {
        // A server certificate without its CA is planned as if absent: it is reissued under
        // whichever CA the next round finds.
        if matches!(slot, Slot::Server) && observed.ca.is_none() {
            continue;
        }
        let version = secret
            .as_ref()
            .and_then(|s| s.metadata.resource_version.clone());
        observed.read.push((name, version));
        *observed.slot(slot) = secret;
    }
    if own_key && observed.unseal_key.is_none() {
        observed.holds_data = match claims {
            Some(exist) => exist,
            None => claims_exist(ctx, cluster).await?,
        };
    }
    Ok(observed)
}

/// Whether any of the cluster's PersistentVolumeClaims exists (a consistent read: a claim is
/// the one sign of data when nothing else remembers the cluster).
async fn claims_exist(ctx: &Context, cluster: &ValidatedCluster) -> Result<bool, SecretsError> {
    let claims = Api::<PersistentVolumeClaim>::namespaced(ctx.client.clone(), cluster.namespace())
        .list_metadata(&ListParams::default().labels(&selector(cluster)).limit(1))
        .await
        .map_err(|source| SecretsError::Kube {
            action: "list PersistentVolumeClaims".to_string(),
            source,
        })?;
    Ok(!claims.items.is_empty())
}

/// The system's root certificates as one PEM bundle, read once per process (the operator's
/// image carries the usual CA bundle): what the operator trusts for a public ACME CA.
fn system_roots_pem() -> Vec<u8> {
    static ROOTS: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    ROOTS
        .get_or_init(|| {
            use base64::Engine;
            let found = rustls_native_certs::load_native_certs();
            let mut pem = String::new();
            for cert in found.certs {
                let b64 = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
                pem.push_str("-----BEGIN CERTIFICATE-----\n");
                for chunk in b64.as_bytes().chunks(64) {
                    pem.push_str(&String::from_utf8_lossy(chunk));
                    pem.push('\n');
                }
                pem.push_str("-----END CERTIFICATE-----\n");
            }
            pem.into_bytes()
        })
        .clone()
}

/// Perform `effect`; returns the Secret as written, or `None` when a create lost to an existing
/// Secret (which is never overwritten).
async fn perform(api: &Api<Secret>, effect: &Effect) -> Result<Option<Secret>, SecretsError> {
    let secret = effect.secret();
    let name = secret.name_any();
    let result = match effect {
        Effect::Create(secret) => api.create(&PostParams::default(), secret).await,
        Effect::Replace(secret) => api.replace(&name, &PostParams::default(), secret).await,
    };
    match result {
        Ok(written) => Ok(Some(written)),
        // Someone else created it first: theirs wins, it is never overwritten.
        Err(kube::Error::Api(status))
            if status.code == 409 && matches!(effect, Effect::Create(_)) =>
        {
            Ok(None)
        }
        Err(source) => Err(SecretsError::Kube {
            action: match effect {
                Effect::Create(_) => format!("create Secret {name}"),
                Effect::Replace(_) => format!("renew Secret {name}"),
            },
            source,
        }),
    }
}

/// Make sure every generated Secret exists and the server certificate is current: observe,
/// [`plan`], perform the planned writes (and plan once more after creating a CA).
///
/// A pass over Secrets that have not changed since the last one (their `resourceVersion`s in
/// the metadata cache, the cluster's generation, and no renewal due) reads none of them: the
/// last outcome still holds (see [`Memo`]).
pub async fn ensure(
    ctx: &Context,
    cluster: &ValidatedCluster,
    initialized: bool,
) -> Result<SecretsOutcome, SecretsError> {
    let key = format!("{}/{}", cluster.namespace(), cluster.names().cluster());
    let now = OffsetDateTime::now_utc();
    let memo = ctx
        .secrets_memo
        .lock()
        .ok()
        .and_then(|memos| memos.get(&key).cloned());
    if let Some(outcome) = memo.and_then(|memo| {
        memo.still_holds(cluster, initialized, now, |name| {
            ctx.cached_secret_version(cluster.namespace(), name)
        })
    }) {
        return Ok(outcome);
    }
    let api = Api::<Secret>::namespaced(ctx.client.clone(), cluster.namespace());
    let mut written = Vec::new();
    let mut carried: Option<SecretsObserved> = None;
    // Two rounds at most: the second only after a CA was created. It plans from what the first
    // read and wrote, and reads again only when a create lost to a Secret someone else created
    // meanwhile (theirs wins, so the certificate must be issued by their CA).
    for _ in 0..2 {
        let observed = match carried.take() {
            Some(observed) => observed,
            None => observe(ctx, &api, cluster, initialized).await?,
        };
        let planned = plan(cluster, &observed, now)?;
        // The writes of one plan are independent of each other (the certificate is planned
        // only once its CA exists): send them together.
        let results =
            futures::future::try_join_all(planned.effects.iter().map(|e| perform(&api, e))).await?;
        let mut next = observed.clone();
        let mut lost = false;
        for result in results {
            match result {
                Some(secret) => {
                    written.push(secret.name_any());
                    next.record_written(cluster, secret);
                }
                None => lost = true,
            }
        }
        if !lost {
            carried = Some(next);
        }
        if !planned.again {
            let outcome = SecretsOutcome {
                blocking: planned.blocking,
                renew_at: planned.renew_at,
                written,
                ca_pem: planned.ca_pem,
                seal_fingerprint: planned.seal_fingerprint,
            };
            if let Ok(mut memos) = ctx.secrets_memo.lock() {
                match Memo::of(cluster, initialized, &observed.read, &outcome) {
                    Some(memo) => memos.insert(key, memo),
                    None => memos.remove(&key),
                };
            }
            return Ok(outcome);
        }
    }
    Err(SecretsError::StillMissing(cluster.names().ca_secret()))
}

/// Label selector of everything the cluster owns (PVCs from the claim template included).
pub fn selector(cluster: &ValidatedCluster) -> String {
    let mut labels = cluster.names().selector_labels();
    labels.insert(
        names::LABEL_MANAGED_BY.to_string(),
        names::MANAGER.to_string(),
    );
    names::selector_string(&labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(extra: &str) -> ValidatedCluster {
        let yaml = format!(
            "apiVersion: openbao.org/v1alpha1\nkind: OpenBaoCluster\nmetadata: {{name: bao, namespace: team}}\nspec:\n  version: \"2.7.2\"\n{extra}"
        );
        let cluster: api::OpenBaoCluster = serde_yaml::from_str(&yaml).expect("manifest");
        ValidatedCluster::new(cluster).expect("valid")
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    /// The Secrets a first plan creates, as the API server would hold them.
    fn created(plan: &SecretsPlan) -> Vec<Secret> {
        plan.effects
            .iter()
            .map(|e| {
                let mut s = e.secret().clone();
                s.metadata.resource_version = Some("1".to_string());
                s
            })
            .collect()
    }

    fn named<'a>(secrets: &'a [Secret], name: &str) -> Option<&'a Secret> {
        secrets.iter().find(|s| s.name_any() == name)
    }

    fn kinds(plan: &SecretsPlan) -> Vec<(String, &'static str)> {
        plan.effects
            .iter()
            .map(|e| {
                (
                    e.secret().name_any(),
                    match e {
                        Effect::Create(_) => "create",
                        Effect::Replace(_) => "replace",
                    },
                )
            })
            .collect()
    }

    #[test]
    fn a_fresh_cluster_creates_its_ca_and_unseal_key_then_plans_the_certificate_under_that_ca() {
        let c = cluster("");
        let first = plan(&c, &SecretsObserved::default(), now()).expect("plan");
        assert_eq!(
            kinds(&first),
            [
                ("bao-tls-ca".to_string(), "create"),
                ("bao-unseal-key".to_string(), "create")
            ]
        );
        assert!(first.again, "the certificate waits for whichever CA won");
        assert!(first.blocking.is_none());
        let secrets = created(&first);
        let second = plan(
            &c,
            &SecretsObserved {
                ca: named(&secrets, "bao-tls-ca").cloned(),
                unseal_key: named(&secrets, "bao-unseal-key").cloned(),
                ..SecretsObserved::default()
            },
            now(),
        )
        .expect("plan");
        assert_eq!(kinds(&second), [("bao-tls-server".to_string(), "create")]);
        assert!(!second.again);
        let cert = text(second.effects[0].secret(), keys::TLS_CERT).expect("cert");
        let ca = text(named(&secrets, "bao-tls-ca").expect("ca"), keys::CA_CERT).expect("ca");
        assert!(pki::issued_by(&cert, &ca));
        assert_eq!(second.ca_pem.as_deref(), Some(ca.as_bytes()));
        assert!(second.renew_at.is_some());
    }

    fn settled(c: &ValidatedCluster) -> SecretsObserved {
        let first = created(&plan(c, &SecretsObserved::default(), now()).expect("plan"));
        let mut observed = SecretsObserved {
            ca: named(&first, &c.names().ca_secret()).cloned(),
            unseal_key: named(&first, &c.names().unseal_key_secret()).cloned(),
            ..SecretsObserved::default()
        };
        let second = created(&plan(c, &observed, now()).expect("plan"));
        observed.server = named(&second, &c.names().server_tls_secret()).cloned();
        observed
    }

    #[test]
    fn a_settled_cluster_plans_no_write_and_reports_when_to_renew() {
        let c = cluster("");
        let observed = settled(&c);
        let planned = plan(&c, &observed, now()).expect("plan");
        assert!(planned.effects.is_empty(), "{:?}", kinds(&planned));
        let renew_at = planned.renew_at.expect("renewal time");
        assert!(renew_at > now());
    }

    #[test]
    fn a_certificate_due_for_renewal_is_replaced_under_the_same_ca_and_version() {
        let c = cluster("");
        let observed = settled(&c);
        let later = now() + time::Duration::days(29);
        let planned = plan(&c, &observed, later).expect("plan");
        assert_eq!(kinds(&planned), [("bao-tls-server".to_string(), "replace")]);
        let replacement = planned.effects[0].secret();
        assert_eq!(replacement.metadata.resource_version.as_deref(), Some("1"));
        assert_eq!(
            text(replacement, keys::CA_CERT),
            text(observed.ca.as_ref().expect("ca"), keys::CA_CERT),
            "renewal keeps the CA"
        );
    }

    #[test]
    fn new_names_reissue_the_certificate() {
        let c = cluster("");
        let observed = settled(&c);
        let renamed = cluster("  tls: {extraSANs: [bao.example.com]}");
        let planned = plan(&renamed, &observed, now()).expect("plan");
        assert_eq!(kinds(&planned), [("bao-tls-server".to_string(), "replace")]);
    }

    #[test]
    fn an_incomplete_ca_secret_blocks_and_is_never_regenerated() {
        let c = cluster("");
        let mut observed = settled(&c);
        if let Some(data) = observed.ca.as_mut().and_then(|s| s.data.as_mut()) {
            data.remove(keys::CA_KEY);
        }
        let planned = plan(&c, &observed, now()).expect("plan");
        assert!(planned.effects.is_empty());
        let (reason, message) = planned.blocking.expect("blocking");
        assert_eq!(reason, reasons::TLS_SECRET_INVALID);
        assert!(message.contains("bao-tls-ca") && message.contains(keys::CA_KEY));
    }

    #[test]
    fn external_tls_missing_a_key_blocks_and_names_what_is_missing() {
        let c = cluster("  tls: {mode: External, externalSecretName: mine}");
        let absent = plan(&c, &SecretsObserved::default(), now()).expect("plan");
        assert!(
            absent
                .blocking
                .expect("blocking")
                .1
                .contains("does not exist")
        );
        let partial = Secret {
            data: Some(BTreeMap::from([
                (keys::TLS_CERT.to_string(), ByteString(b"cert".to_vec())),
                (keys::CA_CERT.to_string(), ByteString(b"ca".to_vec())),
            ])),
            ..Secret::default()
        };
        let planned = plan(
            &c,
            &SecretsObserved {
                external: Some(partial),
                ..SecretsObserved::default()
            },
            now(),
        )
        .expect("plan");
        let (reason, message) = planned.blocking.expect("blocking");
        assert_eq!(reason, reasons::TLS_SECRET_INVALID);
        assert!(message.contains("missing tls.key"), "{message}");
        assert!(
            planned.ca_pem.is_none(),
            "no CA is trusted from an incomplete Secret"
        );
        assert!(
            planned
                .effects
                .iter()
                .all(|e| e.secret().name_any() != "mine"),
            "the user's Secret is never written"
        );
    }

    #[test]
    fn a_missing_unseal_key_next_to_data_blocks_instead_of_creating_a_new_key() {
        let c = cluster("");
        let mut observed = settled(&c);
        observed.unseal_key = None;
        observed.holds_data = true;
        let planned = plan(&c, &observed, now()).expect("plan");
        assert!(planned.effects.is_empty(), "{:?}", kinds(&planned));
        assert_eq!(
            planned.blocking.expect("blocking").0,
            reasons::UNSEAL_KEY_MISSING
        );
    }

    #[test]
    fn an_unseal_key_of_the_wrong_size_blocks_and_is_kept() {
        let c = cluster("");
        let mut observed = settled(&c);
        observed.unseal_key = Some(Secret {
            data: Some(BTreeMap::from([(
                config_hcl::UNSEAL_KEY_FILE.to_string(),
                ByteString(vec![0; 16]),
            )])),
            ..Secret::default()
        });
        let planned = plan(&c, &observed, now()).expect("plan");
        assert!(planned.effects.is_empty());
        assert_eq!(
            planned.blocking.expect("blocking").0,
            reasons::UNSEAL_KEY_INVALID
        );
    }

    /// A static cluster whose key comes from the user's Secret `restored-key`.
    fn user_key_cluster() -> ValidatedCluster {
        cluster("  unseal: {type: static, credentialsSecretRef: {name: restored-key}}")
    }

    fn user_key_secret(key: &[u8]) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some("restored-key".to_string()),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([(
                config_hcl::UNSEAL_KEY_FILE.to_string(),
                ByteString(key.to_vec()),
            )])),
            ..Secret::default()
        }
    }

    #[test]
    fn the_seal_fingerprint_is_the_keys_in_whatever_encoding_and_only_for_a_key_the_operator_reads()
    {
        use base64::Engine;
        let raw = [7u8; 32];
        let user = user_key_cluster();
        let print = seal_fingerprint(&user, Some(&user_key_secret(&raw))).expect("a print");
        for copy in [
            hex::encode(raw).into_bytes(),
            base64::engine::general_purpose::STANDARD
                .encode(raw)
                .into_bytes(),
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(raw)
                .into_bytes(),
        ] {
            assert_eq!(
                seal_fingerprint(&user, Some(&user_key_secret(&copy))).as_deref(),
                Some(print.as_str())
            );
        }
        // The operator's own key Secret, same key and key ID: the same seal.
        let own = cluster("");
        assert_eq!(
            seal_fingerprint(&own, Some(&user_key_secret(&raw))).as_deref(),
            Some(print.as_str())
        );
        assert_ne!(
            seal_fingerprint(&own, Some(&user_key_secret(&[8; 32]))),
            Some(print.clone())
        );
        for unknown in [
            seal_fingerprint(&user, None),
            seal_fingerprint(&user, Some(&user_key_secret(b"short"))),
            seal_fingerprint(
                &cluster("  unseal: {type: static, static: {currentKey: \"file:///elsewhere\"}}"),
                Some(&user_key_secret(&raw)),
            ),
        ] {
            assert_eq!(unknown, None);
        }
    }

    #[test]
    fn a_static_seal_keyed_by_the_users_secret_never_plans_an_unseal_key_secret() {
        let c = user_key_cluster();
        for observed in [
            SecretsObserved::default(),
            SecretsObserved {
                unseal_key: Some(user_key_secret(&[7; 32])),
                ..SecretsObserved::default()
            },
        ] {
            let planned = plan(&c, &observed, now()).expect("plan");
            let names: Vec<String> = planned
                .effects
                .iter()
                .map(|e| e.secret().name_any())
                .collect();
            assert!(
                names
                    .iter()
                    .all(|n| n != "bao-unseal-key" && n != "restored-key"),
                "{names:?}"
            );
        }
    }

    #[test]
    fn a_missing_user_key_secret_blocks_and_names_the_field() {
        let planned = plan(&user_key_cluster(), &SecretsObserved::default(), now()).expect("plan");
        let (reason, message) = planned.blocking.expect("blocking");
        assert_eq!(reason, reasons::UNSEAL_KEY_MISSING);
        assert!(
            message.contains("credentialsSecretRef") && message.contains("restored-key"),
            "{message}"
        );
    }

    #[test]
    fn a_user_key_is_accepted_in_every_encoding_the_static_seal_reads() {
        let c = user_key_cluster();
        let hex = "0123456789abcdef".repeat(4);
        let base64 = format!("{}=", "A".repeat(43));
        let url_safe = "a-_".repeat(14) + "b";
        for key in [
            vec![0u8; 32],
            hex.into_bytes(),
            base64.into_bytes(),
            url_safe.into_bytes(),
        ] {
            let observed = SecretsObserved {
                unseal_key: Some(user_key_secret(&key)),
                ..SecretsObserved::default()
            };
            let planned = plan(&c, &observed, now()).expect("plan");
            assert!(planned.blocking.is_none(), "{:?}", planned.blocking);
        }
        for bad in [
            b"short".to_vec(),
            format!("{}\n", "ab".repeat(32)).into_bytes(),
        ] {
            let observed = SecretsObserved {
                unseal_key: Some(user_key_secret(&bad)),
                ..SecretsObserved::default()
            };
            let planned = plan(&c, &observed, now()).expect("plan");
            assert_eq!(
                planned.blocking.expect("blocking").0,
                reasons::UNSEAL_KEY_INVALID
            );
        }
    }

    const ACME_PRIVATE: &str = "  replicas: 1\n  tls:\n    mode: ACME\n    acme:\n      directoryURL: https://ca.pki.svc/dir\n      domains: [bao.team.svc]\n      caSecretName: acme-root\n";

    #[test]
    fn acme_mode_creates_no_tls_secrets_and_trusts_the_private_roots_secret() {
        let c = cluster(ACME_PRIVATE);
        let root = Secret {
            metadata: ObjectMeta {
                name: Some("acme-root".into()),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([(
                "ca.crt".to_string(),
                ByteString(b"PEM".to_vec()),
            )])),
            ..Secret::default()
        };
        let observed = SecretsObserved {
            acme_trust: Some(root),
            ..settled(&c)
        };
        let planned = plan(&c, &observed, now()).expect("plan");
        assert!(planned.blocking.is_none(), "{:?}", planned.blocking);
        assert_eq!(planned.ca_pem.as_deref(), Some(&b"PEM"[..]));
        assert!(
            !kinds(&planned).iter().any(|(n, _)| n.contains("tls")),
            "no TLS Secrets in ACME mode: {:?}",
            kinds(&planned)
        );
    }

    #[test]
    fn a_missing_private_acme_root_holds_the_pods_back_with_the_secret_and_key() {
        let c = cluster(ACME_PRIVATE);
        let planned = plan(&c, &settled(&c), now()).expect("plan");
        let (reason, message) = planned.blocking.expect("blocking");
        assert_eq!(reason, reasons::ACME_TRUST_UNAVAILABLE);
        assert!(
            message.contains("\"acme-root\"") && message.contains("ca.crt"),
            "{message}"
        );
        assert!(planned.ca_pem.is_none());
    }

    #[test]
    fn a_public_acme_ca_is_verified_against_the_system_roots() {
        let c = cluster(&ACME_PRIVATE.replace("      caSecretName: acme-root\n", ""));
        let observed = SecretsObserved {
            system_roots: Some(b"ROOTS".to_vec()),
            ..settled(&c)
        };
        let planned = plan(&c, &observed, now()).expect("plan");
        assert_eq!(planned.ca_pem.as_deref(), Some(&b"ROOTS"[..]));
        let none = SecretsObserved {
            system_roots: Some(Vec::new()),
            ..settled(&c)
        };
        let planned = plan(&c, &none, now()).expect("plan");
        assert_eq!(
            planned.blocking.map(|(reason, _)| reason).as_deref(),
            Some(reasons::ACME_TRUST_UNAVAILABLE)
        );
    }

    fn memo_cluster(generation: i64) -> ValidatedCluster {
        let mut c = cluster("").cluster().clone();
        c.metadata.uid = Some("uid-1".to_string());
        c.metadata.generation = Some(generation);
        ValidatedCluster::new(c).expect("valid")
    }

    fn read(versions: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
        versions
            .iter()
            .map(|(name, v)| (name.to_string(), v.map(str::to_string)))
            .collect()
    }

    fn settled_outcome(renew_at: Option<OffsetDateTime>) -> SecretsOutcome {
        SecretsOutcome {
            renew_at,
            ca_pem: Some(b"CA".to_vec()),
            ..SecretsOutcome::default()
        }
    }

    #[test]
    fn a_pass_over_unchanged_secrets_takes_the_last_outcome_and_any_change_reads_them_again() {
        let c = memo_cluster(1);
        let at = now();
        let versions = read(&[("bao-tls-ca", Some("10")), ("bao-tls", Some("11"))]);
        let outcome = settled_outcome(Some(at + time::Duration::days(30)));
        let memo = Memo::of(&c, true, &versions, &outcome).expect("memo of a settled pass");
        let cache = |ca: &'static str| {
            move |name: &str| match name {
                "bao-tls-ca" => Some(ca.to_string()),
                "bao-tls" => Some("11".to_string()),
                _ => None,
            }
        };
        assert_eq!(memo.still_holds(&c, true, at, cache("10")), Some(outcome));
        // A Secret changed (someone edited or replaced it).
        assert_eq!(memo.still_holds(&c, true, at, cache("12")), None);
        // A Secret the cache no longer shows (deleted).
        assert_eq!(memo.still_holds(&c, true, at, |_: &str| None), None);
        // The spec changed, or the cluster was recreated under the same name.
        assert_eq!(
            memo.still_holds(&memo_cluster(2), true, at, cache("10")),
            None
        );
        let mut recreated = memo_cluster(1).cluster().clone();
        recreated.metadata.uid = Some("uid-2".to_string());
        let recreated = ValidatedCluster::new(recreated).expect("valid");
        assert_eq!(memo.still_holds(&recreated, true, at, cache("10")), None);
        // Initialization changes what a missing unseal key means.
        assert_eq!(memo.still_holds(&c, false, at, cache("10")), None);
        // The certificate fell due.
        let due = at + time::Duration::days(31);
        assert_eq!(memo.still_holds(&c, true, due, cache("10")), None);
    }

    #[test]
    fn nothing_is_kept_from_a_pass_that_wrote_or_found_a_secret_missing() {
        let c = memo_cluster(1);
        let outcome = settled_outcome(None);
        let missing = read(&[("bao-tls-ca", Some("10")), ("bao-unseal-key", None)]);
        assert!(Memo::of(&c, true, &missing, &outcome).is_none());
        let wrote = SecretsOutcome {
            written: vec!["bao-tls".to_string()],
            ..outcome
        };
        let present = read(&[("bao-tls-ca", Some("10"))]);
        assert!(Memo::of(&c, true, &present, &wrote).is_none());
    }
}
