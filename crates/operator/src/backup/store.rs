//! Opening the bucket of a `spec.backup.target`: S3 or an S3-compatible store, with the
//! credentials Secret's keys, path-style or virtual-hosted addressing, and a private CA when
//! the Secret carries one. Certificates are always verified.

use std::{collections::BTreeMap, sync::Arc};

use api::spec::{BackupProvider, BackupTarget};
use bao_client::SecretString;
use object_store::{Certificate, ClientOptions, ObjectStore, aws::AmazonS3Builder, path::Path};

use super::BackupError;

/// Keys of the credentials Secret (upstream's names).
pub mod keys {
    /// The access key ID.
    pub const ACCESS_KEY_ID: &str = "accessKeyId";
    /// The secret access key.
    pub const SECRET_ACCESS_KEY: &str = "secretAccessKey";
    /// A session token (temporary credentials).
    pub const SESSION_TOKEN: &str = "sessionToken";
    /// The region, overriding `target.region`.
    pub const REGION: &str = "region";
    /// PEM CA bundle of a private endpoint.
    pub const CA_CERT: &str = "caCert";
}

/// What the credentials Secret holds. Never printed.
#[derive(Clone, Default)]
pub struct Credentials {
    /// `accessKeyId`.
    pub access_key_id: Option<String>,
    /// `secretAccessKey`.
    pub secret_access_key: Option<SecretString>,
    /// `sessionToken`.
    pub session_token: Option<SecretString>,
    /// `region`.
    pub region: Option<String>,
    /// `caCert` (PEM).
    pub ca_cert: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .field("ca_cert", &self.ca_cert.is_some())
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// The credentials in a Secret's data (values as bytes; non-UTF-8 values are errors
    /// naming the key, never showing the value).
    pub fn from_secret_data(data: &BTreeMap<String, Vec<u8>>) -> Result<Self, BackupError> {
        let text = |key: &str| -> Result<Option<String>, BackupError> {
            data.get(key)
                .map(|v| {
                    String::from_utf8(v.clone()).map_err(|_| BackupError::Credentials {
                        reason: format!("key {key} is not UTF-8 text"),
                    })
                })
                .transpose()
                .map(|v| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
        };
        let credentials = Self {
            access_key_id: text(keys::ACCESS_KEY_ID)?,
            secret_access_key: text(keys::SECRET_ACCESS_KEY)?.map(SecretString::new),
            session_token: text(keys::SESSION_TOKEN)?.map(SecretString::new),
            region: text(keys::REGION)?,
            ca_cert: text(keys::CA_CERT)?,
        };
        if credentials.access_key_id.is_some() != credentials.secret_access_key.is_some() {
            return Err(BackupError::Credentials {
                reason: format!(
                    "{} and {} go together: set both or neither",
                    keys::ACCESS_KEY_ID,
                    keys::SECRET_ACCESS_KEY
                ),
            });
        }
        Ok(credentials)
    }
}

/// The object prefix of a cluster's snapshots: `target.pathPrefix` (trimmed of slashes), else
/// `<namespace>/<cluster>`.
pub fn prefix(target: &BackupTarget, namespace: &str, cluster: &str) -> Path {
    match target
        .path_prefix
        .as_deref()
        .map(|p| p.trim_matches('/'))
        .filter(|p| !p.is_empty())
    {
        Some(prefix) => Path::from(prefix),
        None => Path::from(format!("{namespace}/{cluster}")),
    }
}

/// Open the bucket `target` names with `credentials`.
pub fn open(
    target: &BackupTarget,
    credentials: &Credentials,
) -> Result<Arc<dyn ObjectStore>, BackupError> {
    if target.provider != BackupProvider::S3 {
        return Err(BackupError::Unsupported {
            what: format!(
                "spec.backup.target.provider {:?}: only s3 (and S3-compatible stores) is built",
                target.provider
            ),
        });
    }
    let region = credentials
        .region
        .clone()
        .or_else(|| target.region.clone())
        .unwrap_or_else(|| "us-east-1".to_string());
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(&target.bucket)
        .with_region(region)
        .with_virtual_hosted_style_request(!target.use_path_style);
    let mut client = ClientOptions::new();
    if let Some(endpoint) = &target.endpoint {
        builder = builder.with_endpoint(endpoint);
        // Plain HTTP only when the spec asks for it by URL (validation and the Hardened
        // profile decide whether that is allowed).
        client = client.with_allow_http(endpoint.starts_with("http://"));
    }
    if let (Some(id), Some(secret)) = (&credentials.access_key_id, &credentials.secret_access_key) {
        builder = builder
            .with_access_key_id(id)
            .with_secret_access_key(secret.expose_secret());
        if let Some(token) = &credentials.session_token {
            builder = builder.with_token(token.expose_secret());
        }
    }
    if let Some(pem) = &credentials.ca_cert {
        for certificate in
            Certificate::from_pem_bundle(pem.as_bytes()).map_err(|e| BackupError::Credentials {
                reason: format!("{} is not a PEM certificate bundle: {e}", keys::CA_CERT),
            })?
        {
            client = client.with_root_certificate(certificate);
        }
    }
    let store = builder
        .with_client_options(client)
        .build()
        .map_err(|e| BackupError::Store {
            action: "open the bucket".to_string(),
            source: e,
        })?;
    Ok(Arc::new(store))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(extra: &str) -> BackupTarget {
        serde_yaml::from_str(&format!(
            "{{bucket: snaps, endpoint: \"https://s3.example.com\"{extra}}}"
        ))
        .expect("target")
    }

    #[test]
    fn the_prefix_is_the_spec_s_or_the_cluster_s_own() {
        assert_eq!(prefix(&target(""), "ns", "bao").as_ref(), "ns/bao");
        assert_eq!(
            prefix(&target(", pathPrefix: /prod/openbao/"), "ns", "bao").as_ref(),
            "prod/openbao"
        );
    }

    #[test]
    fn credentials_come_in_pairs_and_never_print_their_secrets() {
        let data = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                .collect::<BTreeMap<_, _>>()
        };
        let ok = Credentials::from_secret_data(&data(&[
            ("accessKeyId", "AKIA1"),
            ("secretAccessKey", "very-secret"),
        ]))
        .expect("credentials");
        assert!(!format!("{ok:?}").contains("very-secret"));
        let half = Credentials::from_secret_data(&data(&[("accessKeyId", "AKIA1")]));
        assert!(matches!(half, Err(BackupError::Credentials { .. })));
        assert!(open(&target(""), &ok).is_ok());
        let gcs: BackupTarget = serde_yaml::from_str("{provider: gcs, bucket: b}").expect("target");
        assert!(matches!(
            open(&gcs, &ok),
            Err(BackupError::Unsupported { .. })
        ));
    }
}
