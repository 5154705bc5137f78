//! `spec.tls`: the TLS mode, the external Secret, extra SANs and the rotation period.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::ValidationErrors;
use super::checks::{HOUR, check_subdomain};
use super::rules;
use crate::spec::{TlsMode, TlsSpec};

pub(super) fn validate_tls(tls: &TlsSpec, errs: &mut ValidationErrors) {
    if !tls.enabled {
        errs.add(
            "spec.tls.enabled",
            false,
            "must be true: every flow of the network posture, Raft replication and the \
             operator's own calls assume TLS, so this operator refuses to run OpenBao without it",
        );
    }
    if tls.mode == TlsMode::Acme {
        errs.add(
            "spec.tls.mode",
            "ACME",
            "not supported yet: OpenBao's own ACME client is not configured by this operator \
             yet; use OperatorManaged or External",
        );
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
