//! The Secrets the operator generates: the CA (`<cluster>-tls-ca`), the server certificate
//! (`<cluster>-tls`, renewed before expiry) and the static unseal key (`<cluster>-unseal-key`).
//!
//! Rules: a Secret that exists is never regenerated (creation uses POST, which fails if it
//! exists, so two operators can never overwrite each other); the unseal key is created immutable
//! and is never created for a cluster that already holds data (its loss must be loud, not papered
//! over with a new key that cannot decrypt anything); Secrets carry no owner reference, so
//! deleting the cluster leaves them to `spec.deletionPolicy`; their contents are never logged.

use std::collections::BTreeMap;

use api::{TlsMode, UnsealType, names};
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

use super::{Context, Error};
use crate::{
    build::{ValidatedCluster, config_hcl},
    pki,
};

/// Annotation: start of the server certificate's validity (RFC 3339).
pub const ANNOTATION_NOT_BEFORE: &str = "openbao.org/not-before";
/// Annotation: end of the server certificate's validity (RFC 3339).
pub const ANNOTATION_NOT_AFTER: &str = "openbao.org/not-after";
/// Annotation: fingerprint of the certificate's SANs.
pub const ANNOTATION_SANS: &str = "openbao.org/sans";

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
}

async fn get_secret(api: &Api<Secret>, name: &str) -> Result<Option<Secret>, Error> {
    api.get_opt(name).await.map_err(|source| Error::Kube {
        action: format!("read Secret {name}"),
        source,
    })
}

/// Create `secret`; an existing Secret of that name wins (someone else created it first).
async fn create_secret(api: &Api<Secret>, secret: &Secret) -> Result<bool, Error> {
    let name = secret.name_any();
    match api.create(&PostParams::default(), secret).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
        Err(source) => Err(Error::Kube {
            action: format!("create Secret {name}"),
            source,
        }),
    }
}

/// Make sure every generated Secret exists and the server certificate is current.
pub async fn ensure(
    ctx: &Context,
    cluster: &ValidatedCluster,
    initialized: bool,
) -> Result<SecretsOutcome, Error> {
    let api = Api::<Secret>::namespaced(ctx.client.clone(), cluster.namespace());
    let mut outcome = SecretsOutcome::default();
    match cluster.spec().tls.mode {
        TlsMode::OperatorManaged => ensure_tls(&api, cluster, &mut outcome).await?,
        TlsMode::External => check_external_tls(&api, cluster, &mut outcome).await?,
    }
    if cluster.spec().unseal.type_ == UnsealType::Static {
        ensure_unseal_key(ctx, &api, cluster, initialized, &mut outcome).await?;
    }
    Ok(outcome)
}

async fn ensure_tls(
    api: &Api<Secret>,
    cluster: &ValidatedCluster,
    outcome: &mut SecretsOutcome,
) -> Result<(), Error> {
    let names = cluster.names();
    let now = OffsetDateTime::now_utc();

    let ca_secret = match get_secret(api, &names.ca_secret()).await? {
        Some(secret) => secret,
        None => {
            let ca = pki::generate_ca(cluster, now)?;
            let secret = Secret {
                metadata: secret_meta(cluster, names.ca_secret()),
                type_: Some("Opaque".to_string()),
                data: Some(BTreeMap::from([
                    ("ca.crt".to_string(), ByteString(ca.cert_pem.into_bytes())),
                    ("ca.key".to_string(), ByteString(ca.key_pem.0.into_bytes())),
                ])),
                ..Secret::default()
            };
            if create_secret(api, &secret).await? {
                outcome.written.push(names.ca_secret());
            }
            // Read back whatever won (ours, or a concurrent creator's).
            get_secret(api, &names.ca_secret()).await?.ok_or_else(|| {
                Error::Missing(format!(
                    "Secret {} vanished after creation",
                    names.ca_secret()
                ))
            })?
        }
    };
    let (Some(ca_cert), Some(ca_key)) = (text(&ca_secret, "ca.crt"), text(&ca_secret, "ca.key"))
    else {
        outcome.blocking = Some((
            api::conditions::reasons::TLS_SECRET_INVALID.to_string(),
            format!(
                "Secret {} must hold ca.crt and ca.key; it is not regenerated while it exists: restore it or delete it to get a new CA",
                names.ca_secret()
            ),
        ));
        return Ok(());
    };
    let ca = pki::Ca {
        cert_pem: ca_cert,
        key_pem: pki::PrivateKeyPem(ca_key),
    };
    outcome.ca_pem = Some(ca.cert_pem.clone().into_bytes());

    let sans = pki::server_sans(cluster);
    let fingerprint = pki::sans_fingerprint(&sans);
    let lifetime = api::validate::rules::parse_go_duration(&cluster.spec().tls.rotation_period)
        .unwrap_or(std::time::Duration::from_secs(720 * 3600));
    let existing = get_secret(api, &names.server_tls_secret()).await?;
    let current = existing.as_ref().and_then(|secret| {
        let cert = text(secret, "tls.crt")?;
        text(secret, "tls.key")?;
        let (not_before, not_after) = pki::validity(&cert).ok()?;
        let same_sans = secret.annotations().get(ANNOTATION_SANS) == Some(&fingerprint);
        let fresh = !pki::needs_renewal(not_before, not_after, now);
        let same_ca = text(secret, "ca.crt").as_deref() == Some(ca.cert_pem.as_str())
            && pki::issued_by(&cert, &ca.cert_pem);
        (same_sans && fresh && same_ca).then_some((not_before, not_after))
    });
    if let Some((not_before, not_after)) = current {
        outcome.renew_at = Some(pki::renewal_time(not_before, not_after));
        return Ok(());
    }

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
    let secret = Secret {
        metadata,
        type_: Some("kubernetes.io/tls".to_string()),
        data: Some(BTreeMap::from([
            (
                "tls.crt".to_string(),
                ByteString(issued.cert_pem.into_bytes()),
            ),
            (
                "tls.key".to_string(),
                ByteString(issued.key_pem.0.into_bytes()),
            ),
            ("ca.crt".to_string(), ByteString(ca.cert_pem.into_bytes())),
        ])),
        ..Secret::default()
    };
    match existing {
        None => {
            if create_secret(api, &secret).await? {
                outcome.written.push(names.server_tls_secret());
            }
        }
        Some(old) => {
            // Replace with the resourceVersion we read: a concurrent renewal makes this fail
            // with a conflict and the next pass re-evaluates.
            let mut replacement = secret;
            replacement.metadata.resource_version = old.resource_version();
            api.replace(
                &names.server_tls_secret(),
                &PostParams::default(),
                &replacement,
            )
            .await
            .map_err(|source| Error::Kube {
                action: format!("renew Secret {}", names.server_tls_secret()),
                source,
            })?;
            outcome.written.push(names.server_tls_secret());
        }
    }
    outcome.renew_at = Some(pki::renewal_time(issued.not_before, issued.not_after));
    Ok(())
}

async fn check_external_tls(
    api: &Api<Secret>,
    cluster: &ValidatedCluster,
    outcome: &mut SecretsOutcome,
) -> Result<(), Error> {
    let Some(name) = cluster.spec().tls.external_secret_name.clone() else {
        return Ok(());
    };
    let problem = match get_secret(api, &name).await? {
        None => Some(format!(
            "spec.tls.externalSecretName: Secret {name:?} does not exist in namespace {}; create it with tls.crt, tls.key and ca.crt",
            cluster.namespace()
        )),
        Some(secret) => {
            let missing: Vec<&str> = ["tls.crt", "tls.key", "ca.crt"]
                .into_iter()
                .filter(|key| {
                    secret
                        .data
                        .as_ref()
                        .is_none_or(|d| d.get(*key).is_none_or(|v| v.0.is_empty()))
                })
                .collect();
            if missing.is_empty() {
                outcome.ca_pem = secret
                    .data
                    .as_ref()
                    .and_then(|d| d.get("ca.crt"))
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
        outcome.blocking = Some((
            api::conditions::reasons::TLS_SECRET_INVALID.to_string(),
            message,
        ));
    }
    Ok(())
}

async fn ensure_unseal_key(
    ctx: &Context,
    api: &Api<Secret>,
    cluster: &ValidatedCluster,
    initialized: bool,
    outcome: &mut SecretsOutcome,
) -> Result<(), Error> {
    let name = cluster.names().unseal_key_secret();
    if let Some(secret) = get_secret(api, &name).await? {
        let valid = secret
            .data
            .as_ref()
            .and_then(|d| d.get(config_hcl::UNSEAL_KEY_FILE))
            .is_some_and(|k| k.0.len() == 32);
        if !valid {
            outcome.blocking = Some((
                api::conditions::reasons::UNSEAL_KEY_INVALID.to_string(),
                format!(
                    "Secret {name} must hold a 32-byte key under {:?}; it is never regenerated while it exists",
                    config_hcl::UNSEAL_KEY_FILE
                ),
            ));
        }
        return Ok(());
    }
    // No key. A cluster that was initialized, or whose volumes survive (the cluster object was
    // recreated), holds data sealed with the lost key: a new key would silently brick it.
    let pvcs = Api::<PersistentVolumeClaim>::namespaced(ctx.client.clone(), cluster.namespace())
        .list_metadata(&ListParams::default().labels(&selector(cluster)).limit(1))
        .await
        .map_err(|source| Error::Kube {
            action: "list PersistentVolumeClaims".to_string(),
            source,
        })?;
    if initialized || !pvcs.items.is_empty() {
        outcome.blocking = Some((
            api::conditions::reasons::UNSEAL_KEY_MISSING.to_string(),
            format!(
                "Secret {name} with the static unseal key is missing but the cluster holds data; \
                 restore the Secret from your backup (a new key could not unseal the existing data)"
            ),
        ));
        return Ok(());
    }
    let key = pki::generate_unseal_key()?;
    let secret = Secret {
        metadata: secret_meta(cluster, name.clone()),
        type_: Some("Opaque".to_string()),
        immutable: Some(true),
        data: Some(BTreeMap::from([(
            config_hcl::UNSEAL_KEY_FILE.to_string(),
            ByteString(key.to_vec()),
        )])),
        ..Secret::default()
    };
    if create_secret(api, &secret).await? {
        outcome.written.push(name);
    }
    Ok(())
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
