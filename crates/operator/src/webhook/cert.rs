//! The webhook's serving certificate: an operator CA and a server certificate (ECDSA P-256,
//! rcgen) kept in the Secret `WEBHOOK_CERT_SECRET` of the operator namespace, so every replica
//! serves the same certificate and a restart reuses it.
//!
//! Every replica calls [`ensure`] at start and then periodically. It reuses what is stored and
//! writes only when something is due: the server certificate is reissued (under the same CA) at
//! two thirds of its lifetime or when its names change; the CA is replaced at two thirds of its
//! lifetime, and the previous CA stays in the bundle until it expires, so certificates the other
//! replicas still serve keep verifying. Writes use `create` or `replace` with the
//! resourceVersion read, so when two replicas race, one wins and the other adopts its result.
//! Key material is never logged.

use std::collections::BTreeMap;

use api::names;
use k8s_openapi::{
    ByteString, api::core::v1::Secret, apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use kube::{Api, api::PostParams};
use time::{Duration, OffsetDateTime};
use tracing::info;

use crate::pki::{self, Ca, PkiError, PrivateKeyPem};

/// Lifetime of the webhook CA.
pub const CA_LIFETIME: Duration = Duration::days(5 * 365);
/// Lifetime of the webhook's server certificate.
pub const SERVING_LIFETIME: Duration = Duration::days(365);

/// `ca.crt`: the current CA.
pub const KEY_CA_CERT: &str = "ca.crt";
/// `ca.key`: its key.
pub const KEY_CA_KEY: &str = "ca.key";
/// `ca-previous.crt`: the CA before the last CA rotation, trusted until it expires.
pub const KEY_PREVIOUS_CA: &str = "ca-previous.crt";
/// `tls.crt`: the server certificate.
pub const KEY_TLS_CERT: &str = "tls.crt";
/// `tls.key`: its key.
pub const KEY_TLS_KEY: &str = "tls.key";
/// The names fingerprint annotation (shared with the OpenBao certificates).
pub use api::names::ANNOTATION_SANS;

/// How many times [`ensure`] re-reads after losing a write race before giving up.
const WRITE_ATTEMPTS: usize = 5;

/// The names the server certificate carries: the webhook Service's in-cluster names, loopback
/// for development (`--webhook-url https://127.0.0.1:9443`), and the host of a configured URL.
pub fn serving_names(service: &str, namespace: &str, url_host: Option<&str>) -> Vec<String> {
    let mut names = vec![
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if let Some(host) = url_host
        && !names.iter().any(|n| n == host)
    {
        names.push(host.to_string());
    }
    names
}

/// The certificate material, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Material {
    /// The current CA certificate.
    pub ca_cert: String,
    /// Its key.
    pub ca_key: PrivateKeyPem,
    /// The previous CA, kept in the bundle until it expires.
    pub previous_ca: Option<String>,
    /// The server certificate.
    pub cert: String,
    /// Its key.
    pub key: PrivateKeyPem,
    /// Fingerprint of the names the server certificate was issued for.
    pub sans: String,
}

impl Material {
    /// The PEM bundle clients must trust: the current CA, and the previous one while valid.
    pub fn ca_bundle(&self, now: OffsetDateTime) -> String {
        let mut bundle = self.ca_cert.clone();
        if let Some(previous) = &self.previous_ca
            && pki::validity(previous).is_ok_and(|(_, not_after)| not_after > now)
        {
            if !bundle.ends_with('\n') {
                bundle.push('\n');
            }
            bundle.push_str(previous);
        }
        bundle
    }

    fn from_secret(secret: &Secret) -> Partial {
        let text = |key: &str| {
            secret
                .data
                .as_ref()?
                .get(key)
                .and_then(|b| String::from_utf8(b.0.clone()).ok())
                .filter(|s| !s.trim().is_empty())
        };
        Partial {
            ca_cert: text(KEY_CA_CERT),
            ca_key: text(KEY_CA_KEY).map(PrivateKeyPem),
            previous_ca: text(KEY_PREVIOUS_CA),
            cert: text(KEY_TLS_CERT),
            key: text(KEY_TLS_KEY).map(PrivateKeyPem),
            sans: secret
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(ANNOTATION_SANS))
                .cloned(),
        }
    }

    fn to_secret(&self, name: &str, namespace: &str, resource_version: Option<String>) -> Secret {
        let data = [
            (KEY_CA_CERT, Some(&self.ca_cert)),
            (KEY_CA_KEY, Some(&self.ca_key.0)),
            (KEY_PREVIOUS_CA, self.previous_ca.as_ref()),
            (KEY_TLS_CERT, Some(&self.cert)),
            (KEY_TLS_KEY, Some(&self.key.0)),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_string(), ByteString(v?.clone().into_bytes()))))
        .collect();
        Secret {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                namespace: Some(namespace.to_string()),
                labels: Some(BTreeMap::from([
                    (
                        names::LABEL_NAME.to_string(),
                        names::OPERATOR_APP_NAME.to_string(),
                    ),
                    (
                        names::LABEL_APP_COMPONENT.to_string(),
                        "webhook".to_string(),
                    ),
                ])),
                annotations: Some(BTreeMap::from([(
                    ANNOTATION_SANS.to_string(),
                    self.sans.clone(),
                )])),
                resource_version,
                ..ObjectMeta::default()
            },
            type_: Some("kubernetes.io/tls".to_string()),
            data: Some(data),
            ..Secret::default()
        }
    }
}

/// What a Secret holds (any part may be missing or empty).
#[derive(Clone, Debug, Default)]
pub struct Partial {
    ca_cert: Option<String>,
    ca_key: Option<PrivateKeyPem>,
    previous_ca: Option<String>,
    cert: Option<String>,
    key: Option<PrivateKeyPem>,
    sans: Option<String>,
}

/// What [`plan`] decided.
#[derive(Clone, Debug)]
pub enum Plan {
    /// The stored material is complete and not due.
    Reuse(Material),
    /// New material must be written; the reason is for the log.
    Write(Material, &'static str),
}

fn generate_ca(now: OffsetDateTime) -> Result<Ca, PkiError> {
    pki::generate_named_ca("openbao-operator webhook CA", CA_LIFETIME, now)
}

fn issue(
    ca: &Ca,
    sans: &[String],
    now: OffsetDateTime,
) -> Result<(String, PrivateKeyPem), PkiError> {
    let lifetime = std::time::Duration::try_from(SERVING_LIFETIME)
        .unwrap_or(std::time::Duration::from_secs(365 * 86_400));
    let cert = pki::issue_server_cert(ca, sans, lifetime, now)?;
    Ok((cert.cert_pem, cert.key_pem))
}

fn due(cert_pem: &str, now: OffsetDateTime) -> bool {
    pki::validity(cert_pem).map_or(true, |(nb, na)| pki::needs_renewal(nb, na, now))
}

/// Decide, without IO, whether `stored` can be served for `sans` at `now`, and produce what
/// to write otherwise.
pub fn plan(
    stored: Option<&Partial>,
    sans: &[String],
    now: OffsetDateTime,
) -> Result<Plan, PkiError> {
    let fingerprint = pki::sans_fingerprint(sans);
    let stored = stored.cloned().unwrap_or_default();
    let ca = match (&stored.ca_cert, &stored.ca_key) {
        (Some(cert), Some(key)) if !due(cert, now) => Some(Ca {
            cert_pem: cert.clone(),
            key_pem: key.clone(),
        }),
        _ => None,
    };
    let Some(ca) = ca else {
        let reason = if stored.ca_cert.is_some() {
            "the webhook CA is due for renewal"
        } else {
            "no webhook CA yet"
        };
        // The outgoing CA stays trusted until it expires: replicas still serving a certificate
        // it issued must keep verifying until they load the new one.
        let previous_ca = stored
            .ca_cert
            .filter(|c| pki::validity(c).is_ok_and(|(_, not_after)| not_after > now));
        let ca = generate_ca(now)?;
        let (cert, key) = issue(&ca, sans, now)?;
        return Ok(Plan::Write(
            Material {
                ca_cert: ca.cert_pem,
                ca_key: ca.key_pem,
                previous_ca,
                cert,
                key,
                sans: fingerprint,
            },
            reason,
        ));
    };
    // The same renewal rule as the OpenBao members' certificates.
    let reason = match (&stored.cert, &stored.key) {
        (Some(cert), Some(_)) => pki::renewal_reason(
            cert,
            &ca.cert_pem,
            stored.sans.as_deref(),
            &fingerprint,
            now,
        ),
        _ => Some("no serving certificate yet"),
    };
    match (reason, stored.cert, stored.key) {
        (None, Some(cert), Some(key)) => Ok(Plan::Reuse(Material {
            ca_cert: ca.cert_pem,
            ca_key: ca.key_pem,
            previous_ca: stored.previous_ca,
            cert,
            key,
            sans: fingerprint,
        })),
        (reason, _, _) => {
            let (cert, key) = issue(&ca, sans, now)?;
            Ok(Plan::Write(
                Material {
                    ca_cert: ca.cert_pem,
                    ca_key: ca.key_pem,
                    previous_ca: stored.previous_ca,
                    cert,
                    key,
                    sans: fingerprint,
                },
                reason.unwrap_or("no serving certificate yet"),
            ))
        }
    }
}

/// Why the certificate could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// Generating key material failed.
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// An API call failed.
    #[error("{action} Secret {name}: {source}")]
    Kube {
        /// What was attempted.
        action: &'static str,
        /// The Secret.
        name: String,
        /// Cause.
        #[source]
        source: kube::Error,
    },
    /// Other replicas kept winning the write race.
    #[error("Secret {0} kept changing while it was being written")]
    Contended(String),
}

/// The material to serve, from the Secret `name` in `api`'s namespace, written first when
/// missing or due.
pub async fn ensure(
    api: &Api<Secret>,
    namespace: &str,
    name: &str,
    sans: &[String],
) -> Result<Material, CertError> {
    let kube_error = |action, source| CertError::Kube {
        action,
        name: name.to_string(),
        source,
    };
    for _ in 0..WRITE_ATTEMPTS {
        let existing = api.get_opt(name).await.map_err(|e| kube_error("read", e))?;
        let stored = existing.as_ref().map(Material::from_secret);
        let now = OffsetDateTime::now_utc();
        let (material, reason) = match plan(stored.as_ref(), sans, now)? {
            Plan::Reuse(material) => return Ok(material),
            Plan::Write(material, reason) => (material, reason),
        };
        let result = match &existing {
            None => {
                api.create(
                    &PostParams::default(),
                    &material.to_secret(name, namespace, None),
                )
                .await
            }
            Some(secret) => {
                let version = secret.metadata.resource_version.clone();
                api.replace(
                    name,
                    &PostParams::default(),
                    &material.to_secret(name, namespace, version),
                )
                .await
            }
        };
        match result {
            Ok(_) => {
                info!(
                    secret = name,
                    namespace, reason, "wrote the webhook serving certificate"
                );
                return Ok(material);
            }
            // Another replica wrote first: read again and adopt its material.
            Err(kube::Error::Api(status)) if status.code == 409 => continue,
            Err(e) => return Err(kube_error("write", e)),
        }
    }
    Err(CertError::Contended(name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        serving_names("hook", "ops", None)
    }

    fn stored(material: &Material) -> Partial {
        Material::from_secret(&material.to_secret("s", "ops", None))
    }

    fn write(plan: Plan) -> (Material, &'static str) {
        match plan {
            Plan::Write(material, reason) => (material, reason),
            Plan::Reuse(_) => panic!("expected a write"),
        }
    }

    #[test]
    fn nothing_stored_means_a_new_ca_and_a_certificate_for_the_service_and_loopback() {
        let now = OffsetDateTime::now_utc();
        let (material, reason) = write(plan(None, &names(), now).expect("plan"));
        assert_eq!(reason, "no webhook CA yet");
        assert!(pki::issued_by(&material.cert, &material.ca_cert));
        assert_eq!(material.ca_bundle(now), material.ca_cert);
        let secret = material.to_secret("s", "ops", None);
        assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
        assert!(format!("{material:?}").contains("<redacted>"));
        assert!(!format!("{material:?}").contains("PRIVATE KEY"));
    }

    #[test]
    fn stored_material_is_reused_until_the_certificate_is_due_and_then_reissued_under_the_same_ca()
    {
        let now = OffsetDateTime::now_utc();
        let (material, _) = write(plan(None, &names(), now).expect("plan"));
        let Plan::Reuse(reused) = plan(Some(&stored(&material)), &names(), now).expect("plan")
        else {
            panic!("fresh material is reused");
        };
        assert_eq!(reused, material);

        let later = now + Duration::days(300);
        let (renewed, reason) =
            write(plan(Some(&stored(&material)), &names(), later).expect("plan"));
        assert_eq!(reason, "the serving certificate is due for renewal");
        assert_eq!(renewed.ca_cert, material.ca_cert, "same CA");
        assert_ne!(renewed.cert, material.cert);
    }

    #[test]
    fn new_names_reissue_the_certificate() {
        let now = OffsetDateTime::now_utc();
        let (material, _) = write(plan(None, &names(), now).expect("plan"));
        let other = serving_names("hook", "ops", Some("webhook.example.test"));
        let (renewed, reason) = write(plan(Some(&stored(&material)), &other, now).expect("plan"));
        assert_eq!(reason, "the serving certificate's names changed");
        assert_eq!(renewed.ca_cert, material.ca_cert);
    }

    #[test]
    fn a_due_ca_is_replaced_and_the_old_one_stays_in_the_bundle_until_it_expires() {
        let now = OffsetDateTime::now_utc();
        let (material, _) = write(plan(None, &names(), now).expect("plan"));
        let later = now + Duration::days(4 * 365);
        let (rotated, reason) =
            write(plan(Some(&stored(&material)), &names(), later).expect("plan"));
        assert_eq!(reason, "the webhook CA is due for renewal");
        assert_ne!(rotated.ca_cert, material.ca_cert);
        assert_eq!(
            rotated.previous_ca.as_deref(),
            Some(material.ca_cert.as_str())
        );
        let bundle = rotated.ca_bundle(later);
        assert!(bundle.contains(&rotated.ca_cert) && bundle.contains(&material.ca_cert));
        assert_eq!(
            rotated.ca_bundle(now + Duration::days(6 * 365)),
            rotated.ca_cert
        );
    }

    #[test]
    fn a_certificate_from_another_ca_is_reissued() {
        let now = OffsetDateTime::now_utc();
        let (a, _) = write(plan(None, &names(), now).expect("plan"));
        let (b, _) = write(plan(None, &names(), now).expect("plan"));
        let mixed = Material {
            cert: b.cert,
            key: b.key,
            ..a
        };
        let (_, reason) = write(plan(Some(&stored(&mixed)), &names(), now).expect("plan"));
        assert_eq!(
            reason,
            "the serving certificate was not issued by the stored CA"
        );
    }
}
