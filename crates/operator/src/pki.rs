//! Key material the operator generates: the cluster CA, server certificates (ECDSA P-256) and
//! the static unseal key. No IO here; the reconciler decides when to call these and stores the
//! results in Secrets that are never regenerated while they exist.

use std::fmt;

use api::names;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, SerialNumber,
};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::desired::ValidatedCluster;

/// Lifetime of an operator-generated CA. Server certificates (at most one year, see
/// `spec.tls.rotationPeriod`) are always well inside it.
pub const CA_LIFETIME: Duration = Duration::days(3650);

/// Why key material could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// Certificate generation failed (rcgen).
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// A stored certificate or key could not be parsed.
    #[error("stored {what} cannot be parsed: {reason}")]
    Parse {
        /// Which item.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The system random source failed.
    #[error("the system random number generator failed: {0}")]
    Random(String),
}

/// PEM text of a private key. Its `Debug` never prints the key.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKeyPem(pub String);

impl fmt::Debug for PrivateKeyPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKeyPem(<redacted>)")
    }
}

/// A CA certificate and its key.
#[derive(Clone, Debug)]
pub struct Ca {
    /// `ca.crt`.
    pub cert_pem: String,
    /// `ca.key`.
    pub key_pem: PrivateKeyPem,
}

/// A server certificate with its key and validity.
#[derive(Clone, Debug)]
pub struct ServerCert {
    /// `tls.crt`.
    pub cert_pem: String,
    /// `tls.key`.
    pub key_pem: PrivateKeyPem,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| PkiError::Random(e.to_string()))?;
    // A positive DER integer: clear the top bit.
    bytes[0] &= 0x7f;
    Ok(SerialNumber::from_slice(&bytes))
}

/// A new CA for `cluster`, valid from `now` for [`CA_LIFETIME`].
pub fn generate_ca(cluster: &ValidatedCluster, now: OffsetDateTime) -> Result<Ca, PkiError> {
    generate_named_ca(
        &format!(
            "{}/{} OpenBao CA",
            cluster.namespace(),
            cluster.names().cluster()
        ),
        CA_LIFETIME,
        now,
    )
}

/// A new ECDSA P-256 CA with common name `common_name`, valid from `now` for `lifetime` and
/// allowed to sign leaf certificates only (path length 0).
pub fn generate_named_ca(
    common_name: &str,
    lifetime: Duration,
    now: OffsetDateTime,
) -> Result<Ca, PkiError> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, names::MANAGER);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = now - Duration::minutes(5);
    params.not_after = now + lifetime;
    params.serial_number = Some(random_serial()?);
    let cert = params.self_signed(&key)?;
    Ok(Ca {
        cert_pem: cert.pem(),
        key_pem: PrivateKeyPem(key.serialize_pem()),
    })
}

/// Every name and address the server certificate must carry: each pod's DNS name (a wildcard
/// under the headless Service, so scaling needs no new certificate), the headless Service itself
/// (`leader_tls_servername` of Raft joins), the client Service, localhost and the loopback
/// addresses (probes and the in-pod CLI), `spec.tls.extraSANs`, and the Ingress host when the
/// Ingress serves it with this certificate (no `spec.ingress.tlsSecretName`, upstream's default).
pub fn server_sans(cluster: &ValidatedCluster) -> Vec<String> {
    let names = cluster.names();
    let ns = cluster.namespace();
    let headless = names.headless_service();
    let client = names.client_service();
    let mut sans = vec![
        format!("*.{headless}.{ns}.svc"),
        format!("*.{headless}.{ns}.svc.cluster.local"),
        format!("{headless}.{ns}.svc"),
        format!("{headless}.{ns}.svc.cluster.local"),
        client.clone(),
        format!("{client}.{ns}"),
        format!("{client}.{ns}.svc"),
        format!("{client}.{ns}.svc.cluster.local"),
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let ingress_host = cluster
        .spec()
        .enabled_ingress()
        .filter(|i| i.tls_secret_name().is_none())
        .map(|i| &i.host);
    for extra in cluster.spec().tls.extra_sans.iter().chain(ingress_host) {
        if !sans.contains(extra) {
            sans.push(extra.clone());
        }
    }
    sans
}

/// A short fingerprint of a SAN list, stored on the certificate Secret so a change of
/// `extraSANs` (or of the namespace layout) triggers reissuance.
pub fn sans_fingerprint(sans: &[String]) -> String {
    let digest = Sha256::digest(sans.join(",").as_bytes());
    hex::encode(&digest[..8])
}

/// Issue a server certificate for `sans`, signed by `ca`, valid for `lifetime` from `now`.
pub fn issue_server_cert(
    ca: &Ca,
    sans: &[String],
    lifetime: std::time::Duration,
    now: OffsetDateTime,
) -> Result<ServerCert, PkiError> {
    let ca_key = KeyPair::from_pem(&ca.key_pem.0).map_err(|e| PkiError::Parse {
        what: "CA key (ca.key)",
        reason: e.to_string(),
    })?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert_pem, ca_key).map_err(|e| PkiError::Parse {
        what: "CA certificate (ca.crt)",
        reason: e.to_string(),
    })?;
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(
        DnType::CommonName,
        sans.iter()
            .find(|s| !s.starts_with('*'))
            .cloned()
            .unwrap_or_else(|| "openbao".to_string()),
    );
    params.subject_alt_names = sans
        .iter()
        .map(|san| match san.parse::<std::net::IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => san.clone().try_into().map(SanType::DnsName),
        })
        .collect::<Result<_, _>>()?;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    // Raft peers present this certificate as clients too (request forwarding, joins).
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.use_authority_key_identifier_extension = true;
    let lifetime = Duration::try_from(lifetime).unwrap_or(Duration::days(30));
    let not_before = now - Duration::minutes(5);
    let not_after = now + lifetime;
    params.not_before = not_before;
    params.not_after = not_after;
    params.serial_number = Some(random_serial()?);
    let cert = params.signed_by(&key, &issuer)?;
    Ok(ServerCert {
        cert_pem: cert.pem(),
        key_pem: PrivateKeyPem(key.serialize_pem()),
        not_before,
        not_after,
    })
}

/// Validity of a PEM certificate (`not_before`, `not_after`).
pub fn validity(cert_pem: &str) -> Result<(OffsetDateTime, OffsetDateTime), PkiError> {
    let parse_error = |reason: String| PkiError::Parse {
        what: "certificate",
        reason,
    };
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes())
        .map_err(|e| parse_error(e.to_string()))?;
    let cert = pem.parse_x509().map_err(|e| parse_error(e.to_string()))?;
    let validity = cert.validity();
    Ok((
        validity.not_before.to_datetime(),
        validity.not_after.to_datetime(),
    ))
}

/// Whether a certificate valid from `not_before` to `not_after` should be renewed at `now`:
/// once two thirds of its lifetime have passed, so a failed renewal has time to be retried.
pub fn needs_renewal(
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    now: OffsetDateTime,
) -> bool {
    let lifetime = not_after - not_before;
    now >= not_before + lifetime * 2 / 3
}

/// When a certificate valid from `not_before` to `not_after` becomes due for renewal.
pub fn renewal_time(not_before: OffsetDateTime, not_after: OffsetDateTime) -> OffsetDateTime {
    not_before + (not_after - not_before) * 2 / 3
}

/// Whether `cert_pem` was issued by the CA `ca_pem` (so a replaced CA forces reissuance).
pub fn issued_by(cert_pem: &str, ca_pem: &str) -> bool {
    let parse = |pem: &str| -> Option<Vec<u8>> {
        let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok()?;
        Some(pem.contents)
    };
    let (Some(cert_der), Some(ca_der)) = (parse(cert_pem), parse(ca_pem)) else {
        return false;
    };
    let (Ok((_, cert)), Ok((_, ca))) = (
        x509_parser::parse_x509_certificate(&cert_der),
        x509_parser::parse_x509_certificate(&ca_der),
    ) else {
        return false;
    };
    cert.issuer() == ca.subject() && cert.verify_signature(Some(ca.public_key())).is_ok()
}

/// Why a stored serving certificate must be reissued at `now`, or `None` when it can be served:
/// not issued by `ca_pem` (the CA changed), due for renewal (or unreadable), or issued for other
/// names than `sans_fingerprint` (`stored_sans` is the fingerprint recorded when it was issued).
/// One rule for the OpenBao members' certificates and the webhook's.
pub fn renewal_reason(
    cert_pem: &str,
    ca_pem: &str,
    stored_sans: Option<&str>,
    sans_fingerprint: &str,
    now: OffsetDateTime,
) -> Option<&'static str> {
    if !issued_by(cert_pem, ca_pem) {
        return Some("the serving certificate was not issued by the stored CA");
    }
    let due = validity(cert_pem).map_or(true, |(nb, na)| needs_renewal(nb, na, now));
    if due {
        return Some("the serving certificate is due for renewal");
    }
    if stored_sans != Some(sans_fingerprint) {
        return Some("the serving certificate's names changed");
    }
    None
}

/// 32 random bytes for `seal "static"`.
pub fn generate_unseal_key() -> Result<[u8; 32], PkiError> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| PkiError::Random(e.to_string()))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::OpenBaoCluster;

    fn cluster() -> ValidatedCluster {
        let c: OpenBaoCluster = serde_yaml::from_str(
            "apiVersion: openbao.org/v1alpha1\nkind: OpenBaoCluster\nmetadata: {name: bao, namespace: ns}\nspec: {version: \"2.7.2\", tls: {extraSANs: [bao.example.com, 10.1.2.3]}}",
        )
        .expect("parses");
        ValidatedCluster::new(c).expect("valid")
    }

    #[test]
    fn a_server_certificate_chains_to_its_ca_and_carries_every_san() {
        let now = OffsetDateTime::now_utc();
        let ca = generate_ca(&cluster(), now).expect("ca");
        let sans = server_sans(&cluster());
        assert!(sans.contains(&"*.bao-internal.ns.svc".to_string()));
        assert!(sans.contains(&"bao.example.com".to_string()));
        assert!(sans.contains(&"10.1.2.3".to_string()));
        let cert =
            issue_server_cert(&ca, &sans, std::time::Duration::from_secs(3600), now).expect("cert");
        assert!(issued_by(&cert.cert_pem, &ca.cert_pem));
        let other = generate_ca(&cluster(), now).expect("other ca");
        assert!(!issued_by(&cert.cert_pem, &other.cert_pem));
        let (from, to) = validity(&cert.cert_pem).expect("validity");
        assert_eq!(to.unix_timestamp(), cert.not_after.unix_timestamp());
        assert!(from < now && to > now);
        let (_, pem) = x509_parser::pem::parse_x509_pem(cert.cert_pem.as_bytes()).expect("pem");
        let x509 = pem.parse_x509().expect("x509");
        let san_ext = x509
            .subject_alternative_name()
            .expect("ext")
            .expect("present");
        let text = format!("{:?}", san_ext.value.general_names);
        for needle in ["bao-internal.ns.svc", "bao.example.com", "localhost"] {
            assert!(text.contains(needle), "{needle} in {text}");
        }
    }

    #[test]
    fn renewal_is_due_after_two_thirds_of_the_lifetime() {
        let start = OffsetDateTime::UNIX_EPOCH;
        let end = start + Duration::hours(30);
        assert!(!needs_renewal(start, end, start + Duration::hours(19)));
        assert!(needs_renewal(start, end, start + Duration::hours(20)));
        assert_eq!(renewal_time(start, end), start + Duration::hours(20));
    }

    #[test]
    fn private_keys_never_show_in_debug_output() {
        let ca = generate_ca(&cluster(), OffsetDateTime::now_utc()).expect("ca");
        let debug = format!("{ca:?}");
        assert!(!debug.contains("PRIVATE KEY"), "{debug}");
        assert!(debug.contains("<redacted>"));
    }

    #[test]
    fn unseal_keys_are_32_random_bytes() {
        let a = generate_unseal_key().expect("key");
        let b = generate_unseal_key().expect("key");
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
