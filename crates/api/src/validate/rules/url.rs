//! `http://` and `https://` URLs of remote endpoints (seal servers, object stores).

use super::names::{DNS_LABEL_MAX_LEN, DNS_SUBDOMAIN_MAX_LEN};

/// Check an `http://` or `https://` URL with a host, an optional port and an optional path;
/// credentials in the URL are refused because they belong in a Secret.
pub fn check_http_url(s: &str) -> Result<(), String> {
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain whitespace".to_string());
    }
    let Some(rest) = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
    else {
        return Err("must start with https:// or http://".to_string());
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.is_empty() {
        return Err("must include a host".to_string());
    }
    if authority.contains('@') {
        return Err(
            "must not contain credentials (user:password@); put them in the \
                    credentials Secret"
                .to_string(),
        );
    }
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let Some((v6, after)) = inner.split_once(']') else {
            return Err("an IPv6 host must be written in brackets, such as [fd00::1]".into());
        };
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("{v6:?} is not an IPv6 address"));
        }
        match after.strip_prefix(':') {
            Some(port) => (None, Some(port)),
            None if after.is_empty() => (None, None),
            None => return Err("unexpected characters after the IPv6 host".to_string()),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(authority), None),
        }
    };
    if let Some(host) = host {
        let ok = host.parse::<std::net::Ipv4Addr>().is_ok()
            || (host.len() <= DNS_SUBDOMAIN_MAX_LEN
                && host.split('.').all(|l| {
                    let b = l.as_bytes();
                    !b.is_empty()
                        && b.len() <= DNS_LABEL_MAX_LEN
                        && b[0].is_ascii_alphanumeric()
                        && b[b.len() - 1].is_ascii_alphanumeric()
                        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
                }));
        if !ok {
            return Err(format!(
                "the host {host:?} must be a DNS name or an IP address (IPv6 in brackets)"
            ));
        }
    }
    if let Some(port) = port {
        let ok = !port.is_empty()
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u16>().is_ok_and(|n| n > 0);
        if !ok {
            return Err(format!(
                "the port {port:?} must be a number from 1 to 65535"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls_need_a_scheme_a_host_and_no_credentials() {
        for ok in [
            "https://vault.example.com:8200",
            "http://10.0.0.1",
            "https://[fd00::1]:8200/v1",
            "https://s3.eu-west-1.amazonaws.com/path?x=1",
        ] {
            assert!(check_http_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "vault.example.com",
            "ftp://x",
            "https://",
            "https://u:p@host",
            "https://host:0",
            "https://host:99999",
            "https://ho st",
            "https://-host",
            "https://[zz]:1",
        ] {
            assert!(check_http_url(bad).is_err(), "{bad}");
        }
    }
}
