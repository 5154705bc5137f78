//! `spec.tls`: the TLS mode, the external Secret, extra SANs, the rotation period, and ACME
//! mode (`spec.tls.acme`, with the trust and cache rules that keep it verifiable).

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::ValidationErrors;
use super::checks::{HOUR, check_subdomain};
use super::rules;
use crate::names::paths;
use crate::spec::{AcmeSpec, OpenBaoClusterSpec, SharedVolumeMode, TlsMode, UnsealType};

pub(super) fn validate_tls(spec: &OpenBaoClusterSpec, errs: &mut ValidationErrors) {
    let tls = &spec.tls;
    if !tls.enabled {
        errs.add(
            "spec.tls.enabled",
            false,
            "must be true: every flow of the network posture, Raft replication and the \
             operator's own calls assume TLS, so this operator refuses to run OpenBao without it",
        );
    }
    if tls.mode == TlsMode::Acme {
        match &tls.acme {
            Some(acme) => validate_acme(spec, acme, errs),
            None => errs.add(
                "spec.tls.acme",
                "null",
                "required when spec.tls.mode is ACME: at least directoryURL and domains",
            ),
        }
    } else if let Some(acme) = &tls.acme {
        errs.add(
            "spec.tls.acme",
            &acme.directory_url,
            "only allowed when spec.tls.mode is ACME",
        );
    }
    match &tls.external_secret_name {
        None => {}
        Some(name) => check_subdomain(
            errs,
            "spec.tls.externalSecretName",
            name,
            "the name of a Secret in the cluster's namespace",
        ),
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, san) in tls.extra_sans.iter().enumerate() {
        let path = format!("spec.tls.extraSANs[{i}]");
        let canonical = if let Ok(ip) = san.parse::<IpAddr>() {
            ip.to_string()
        } else if rules::is_dns_name(san, true) {
            san.clone()
        } else {
            errs.add(
                &path,
                san,
                "must be a lowercase DNS name such as bao.example.com (a leading \"*.\" \
                 wildcard is allowed) or an IP address such as 10.0.0.1 or fd00::1",
            );
            continue;
        };
        if let Some(first) = seen.insert(canonical, i) {
            errs.add(
                &path,
                san,
                format!("duplicate of spec.tls.extraSANs[{first}]; list each name once"),
            );
        }
    }
    let path = "spec.tls.rotationPeriod";
    let period = &tls.rotation_period;
    match rules::parse_go_duration(period) {
        Err(why) => errs.add(
            path,
            period,
            format!("{why}; must be a duration such as 720h, 1h30m or 90m, between 1h and 8760h"),
        ),
        Ok(d) if d < HOUR => errs.add(
            path,
            period,
            "must be at least 1h: shorter certificate lifetimes would keep the operator \
             reissuing and OpenBao reloading certificates",
        ),
        Ok(d) if d > 8760 * HOUR => errs.add(
            path,
            period,
            "must be at most 8760h (one year): a server certificate cannot outlive the \
             operator's CA, whose lifetime bounds it",
        ),
        Ok(_) => {}
    }
}

/// Most domains one listener asks certificates for (Let's Encrypt's SAN limit).
const MAX_ACME_DOMAINS: usize = 100;

fn validate_acme(spec: &OpenBaoClusterSpec, acme: &AcmeSpec, errs: &mut ValidationErrors) {
    let url = "spec.tls.acme.directoryURL";
    if let Err(why) = rules::check_http_url(&acme.directory_url) {
        errs.add(
            url,
            &acme.directory_url,
            format!(
                "must be an https URL such as https://acme-v02.api.letsencrypt.org/directory: {why}"
            ),
        );
    } else if !acme.directory_url.starts_with("https://") {
        errs.add(
            url,
            &acme.directory_url,
            "must be an https URL: the account key and certificate orders travel over it, and \
             OpenBao verifies the directory (system roots, or spec.configuration.acmeCARoot)",
        );
    }
    if let (false, Some(domain)) = (acme.domains.is_empty(), &acme.domain) {
        errs.add(
            "spec.tls.acme.domain",
            domain,
            "set only spec.tls.acme.domains: domain is upstream's earlier spelling of it",
        );
    }
    let domains = acme.effective_domains();
    let list_path = if acme.domains.is_empty() && acme.domain.is_some() {
        "spec.tls.acme.domain"
    } else {
        "spec.tls.acme.domains"
    };
    if domains.is_empty() {
        errs.add(
            list_path,
            "[]",
            "must list at least one DNS name to obtain a certificate for, such as \
             bao.example.com; this operator creates no default <cluster>-acme Service name",
        );
    } else if domains.len() > MAX_ACME_DOMAINS {
        errs.add(
            list_path,
            format!("{} names", domains.len()),
            format!("must list at most {MAX_ACME_DOMAINS} names"),
        );
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, domain) in domains.iter().enumerate() {
        let path = if acme.domains.is_empty() {
            list_path.to_string()
        } else {
            format!("spec.tls.acme.domains[{i}]")
        };
        if domain.starts_with("*.") {
            errs.add(
                &path,
                domain,
                "must not be a wildcard: OpenBao answers the TLS-ALPN-01 challenge, which \
                 cannot validate wildcard names, and it matches the name a client asks for \
                 exactly",
            );
        } else if domain.parse::<IpAddr>().is_ok() || !rules::is_dns_name(domain, false) {
            errs.add(
                &path,
                domain,
                "must be a lowercase DNS name such as bao.example.com or \
                 bao.openbao.svc (no IP addresses, no trailing dot)",
            );
        } else if let Some(first) = seen.insert(domain, i) {
            errs.add(
                &path,
                domain,
                format!("duplicate of spec.tls.acme.domains[{first}]; list each name once"),
            );
        }
    }
    if let Some(email) = &acme.email
        && !is_email(email)
    {
        errs.add(
            "spec.tls.acme.email",
            email,
            "must be an email address such as ops@example.com (the ACME account's contact)",
        );
    }
    if let Some(secret) = &acme.ca_secret_name {
        check_subdomain(
            errs,
            "spec.tls.acme.caSecretName",
            secret,
            "the name of a Secret in the cluster's namespace",
        );
    }
    validate_shared_cache(spec, acme, errs);
    validate_acme_ca_root(spec, acme, errs);
}

/// A practical address check: one '@', a non-empty local part, a DNS-like domain, nothing that
/// would end the `mailto:` URI OpenBao builds from it.
fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    value.len() <= 254
        && !local.is_empty()
        && !local.contains('@')
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, ',' | '<' | '>' | '?'))
        && rules::is_dns_name(&domain.to_ascii_lowercase(), false)
        && domain.contains('.')
}

fn validate_shared_cache(spec: &OpenBaoClusterSpec, acme: &AcmeSpec, errs: &mut ValidationErrors) {
    let Some(cache) = &acme.shared_cache else {
        if spec.replicas > 1 {
            errs.add(
                "spec.tls.acme.sharedCache",
                "null",
                format!(
                    "required with more than one replica (spec.replicas is {}): the ACME CA \
                     validates a domain by connecting to whichever pod serves it, and a pod can \
                     only answer a challenge its own cache knows; use a ReadWriteMany claim \
                     (mode ExistingPVC), or one replica (upstream's rule too)",
                    spec.replicas
                ),
            );
        }
        return;
    };
    let path = "spec.tls.acme.sharedCache";
    match cache.mode {
        SharedVolumeMode::ManagedPVC => {
            super::audit::validate_managed_claim(path, cache, "<cluster>-acme-cache", errs)
        }
        SharedVolumeMode::ExistingPVC => {
            match &cache.existing_claim_name {
                Some(claim) => check_subdomain(
                    errs,
                    &format!("{path}.existingClaimName"),
                    claim,
                    "the name of a ReadWriteMany PersistentVolumeClaim in the cluster's namespace",
                ),
                None => errs.add(
                    format!("{path}.existingClaimName"),
                    "null",
                    "required when mode is ExistingPVC: the name of a ReadWriteMany \
                     PersistentVolumeClaim in the cluster's namespace",
                ),
            }
            for (field, value) in [
                ("size", &cache.size),
                ("storageClassName", &cache.storage_class_name),
            ] {
                if let Some(value) = value {
                    errs.add(
                        format!("{path}.{field}"),
                        value,
                        "only allowed when mode is ManagedPVC (upstream's rule)",
                    );
                }
            }
        }
    }
    if let Some(mount) = &cache.mount_path {
        errs.add(
            format!("{path}.mountPath"),
            mount,
            format!(
                "is not a field of the ACME cache (upstream's schema has none); the cache is \
                 mounted at {}",
                paths::ACME_SHARED_CACHE_DIR
            ),
        );
    }
}

/// `spec.configuration.acmeCARoot` is OpenBao's `tls_acme_ca_root`, a file in the pod: it must
/// be one the operator mounts, and members need the issuer's root beside it.
fn validate_acme_ca_root(spec: &OpenBaoClusterSpec, acme: &AcmeSpec, errs: &mut ValidationErrors) {
    let Some(root) = &spec.configuration.acme_ca_root else {
        return;
    };
    let path = "spec.configuration.acmeCARoot";
    let seal_creds = format!("{}/", paths::SEAL_CREDENTIALS_DIR);
    let acme_ca = format!("{}/", paths::ACME_CA_DIR);
    // A Secret volume is flat: its files are its keys, directly in the mount directory.
    let file_in = |dir: &str| {
        root.strip_prefix(dir)
            .is_some_and(|key| !key.is_empty() && !key.contains('/'))
    };
    if acme.ca_secret_name.is_some()
        && *root == format!("{acme_ca}{}", crate::names::secret_keys::CA_CERT)
    {
        return;
    }
    if file_in(&seal_creds) {
        let credentials = spec.unseal.credentials_secret_ref.as_ref();
        if spec.unseal.type_ == UnsealType::Static || credentials.is_none() {
            errs.add(
                path,
                root,
                format!(
                    "names a file of the seal credentials Secret, which is mounted at {} only \
                     for a non-static spec.unseal.type with spec.unseal.credentialsSecretRef; \
                     give the private ACME CA's root in spec.tls.acme.caSecretName instead",
                    paths::SEAL_CREDENTIALS_DIR
                ),
            );
        }
        return;
    }
    errs.add(
        path,
        root,
        format!(
            "must be a file the pods mount: {acme_ca}ca.crt (with spec.tls.acme.caSecretName) or \
             {seal_creds}<key> (upstream's convention: a key of the seal credentials Secret, \
             with the ACME issuer's root as {} beside it); unset, OpenBao trusts the system \
             roots for the directory",
            paths::ACME_PKI_CA_KEY
        ),
    );
}
