//! The control plane's PKI: one CA, serving and client certificates, the service-account key.
//!
//! Everything is ECDSA P-256 (rcgen's default), which kube-apiserver accepts for serving,
//! client certificates and `--service-account-signing-key-file`, and which is fast to generate:
//! a fresh PKI costs a few milliseconds, so every control plane gets its own.

use std::{
    fs,
    io::Write,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// The first address of `--service-cluster-ip-range`, which the API server gives the
/// `kubernetes` Service; in-cluster clients reach it there, so it is a SAN.
pub(crate) const SERVICE_VIP: &str = "10.96.0.1";
pub(crate) const SERVICE_CIDR: &str = "10.96.0.0/12";

/// A certificate and its key, both PEM.
pub(crate) struct CertKey {
    pub cert_pem: String,
    pub key_pem: String,
}

/// A certificate and key written to files (for flags that want paths).
pub(crate) struct CertKeyFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub(crate) struct Pki {
    pub ca_pem: String,
    pub ca_der: Vec<u8>,
    pub ca_file: PathBuf,
    pub apiserver_serving: CertKeyFiles,
    pub controller_manager_serving: CertKeyFiles,
    pub scheduler_serving: CertKeyFiles,
    /// `kubernetes-admin` in group `system:masters`: unrestricted, like kubeadm's admin.conf.
    pub admin: CertKey,
    /// The identities the default RBAC policy already grants what the components need.
    pub controller_manager: CertKey,
    pub scheduler: CertKey,
    /// PKCS#8 private key: signs tokens (apiserver) and legacy token Secrets (controller-manager).
    pub service_account_key: PathBuf,
    /// Its public half, which the API server uses to verify tokens.
    pub service_account_pub: PathBuf,
}

impl Pki {
    pub(crate) fn generate(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "openbao-localcluster-ca");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;
        let ca_pem = ca.pem();
        let ca_file = dir.join("ca.crt");
        write_file(&ca_file, &ca_pem, 0o644)?;

        let leaf = |cn: &str, orgs: &[&str], sans: &[&str], eku: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate()?;
            let mut params =
                CertificateParams::new(sans.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())?;
            params.distinguished_name.push(DnType::CommonName, cn);
            for org in orgs {
                params
                    .distinguished_name
                    .push(DnType::OrganizationName, *org);
            }
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.extended_key_usages = vec![eku];
            let cert = params.signed_by(&key, &ca)?;
            anyhow::Ok(CertKey {
                cert_pem: cert.pem(),
                key_pem: key.serialize_pem(),
            })
        };
        let serving = |name: &str, sans: &[&str]| -> Result<CertKeyFiles> {
            let pair = leaf(name, &[], sans, ExtendedKeyUsagePurpose::ServerAuth)?;
            let files = CertKeyFiles {
                cert: dir.join(format!("{name}.crt")),
                key: dir.join(format!("{name}.key")),
            };
            write_file(&files.cert, &pair.cert_pem, 0o644)?;
            write_file(&files.key, &pair.key_pem, 0o600)?;
            Ok(files)
        };
        let client =
            |cn: &str, orgs: &[&str]| leaf(cn, orgs, &[], ExtendedKeyUsagePurpose::ClientAuth);

        let apiserver_serving = serving(
            "kube-apiserver",
            &[
                "127.0.0.1",
                "localhost",
                SERVICE_VIP,
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ],
        )?;
        let loopback = ["127.0.0.1", "localhost"];
        let controller_manager_serving = serving("kube-controller-manager", &loopback)?;
        let scheduler_serving = serving("kube-scheduler", &loopback)?;

        let sa = KeyPair::generate()?;
        let service_account_key = dir.join("service-account.key");
        let service_account_pub = dir.join("service-account.pub");
        write_file(&service_account_key, &sa.serialize_pem(), 0o600)?;
        write_file(&service_account_pub, &sa.public_key_pem(), 0o644)?;

        Ok(Self {
            ca_der: ca.der().to_vec(),
            ca_pem,
            ca_file,
            apiserver_serving,
            controller_manager_serving,
            scheduler_serving,
            admin: client("kubernetes-admin", &["system:masters"])?,
            controller_manager: client("system:kube-controller-manager", &[])?,
            scheduler: client("system:kube-scheduler", &[])?,
            service_account_key,
            service_account_pub,
        })
    }
}

/// Writes a file with the given mode from the start (keys are never world-readable, not even
/// for an instant).
pub(crate) fn write_file(path: &Path, contents: &str, mode: u32) -> Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_pki_writes_every_file_the_flags_point_at() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = Pki::generate(dir.path()).expect("pki");
        for path in [
            &pki.ca_file,
            &pki.apiserver_serving.cert,
            &pki.apiserver_serving.key,
            &pki.controller_manager_serving.cert,
            &pki.scheduler_serving.key,
            &pki.service_account_key,
            &pki.service_account_pub,
        ] {
            let text = fs::read_to_string(path).expect("readable");
            assert!(text.starts_with("-----BEGIN "), "{}", path.display());
        }
        assert!(pki.admin.key_pem.contains("PRIVATE KEY"));
        let mode = fs::metadata(&pki.service_account_key)
            .expect("metadata")
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
    }
}
