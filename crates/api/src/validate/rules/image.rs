//! Container image references `[registry[:port]/]repository[:tag][@sha256:digest]`.

use super::names::is_lower_alnum;

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`: one component of an image repository path.
fn is_image_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_lower_alnum(b[0]) || !is_lower_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_lower_alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_lower_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `host[:port]` of an image registry.
fn is_registry_host(s: &str) -> bool {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return false;
        }
        match after.strip_prefix(':') {
            Some(port) => ("", Some(port)),
            None if after.is_empty() => ("", None),
            None => return false,
        }
    } else {
        match s.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (s, None),
        }
    };
    let host_ok = s.starts_with('[')
        || (!host.is_empty()
            && host.split('.').all(|l| {
                let b = l.as_bytes();
                !b.is_empty()
                    && b[0].is_ascii_alphanumeric()
                    && b[b.len() - 1].is_ascii_alphanumeric()
                    && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
            }));
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0));
    host_ok && port_ok
}

/// Check a container image reference `[registry[:port]/]repository[:tag][@sha256:<64 hex>]`
/// (the grammar of the distribution project, with digests limited to sha256).
pub fn check_image_reference(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".to_string());
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain whitespace".to_string());
    }
    let (rest, digest) = match s.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (s, None),
    };
    if let Some(digest) = digest {
        let ok = digest.strip_prefix("sha256:").is_some_and(|hex| {
            hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if !ok {
            return Err(
                "the digest must be sha256: followed by 64 lowercase hex digits".to_string(),
            );
        }
    }
    let last_slash = rest.rfind('/');
    let tag_at = rest
        .rfind(':')
        .filter(|&colon| last_slash.is_none_or(|slash| colon > slash));
    let (name, tag) = match tag_at {
        Some(at) => (&rest[..at], Some(&rest[at + 1..])),
        None => (rest, None),
    };
    if let Some(tag) = tag {
        let b = tag.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= 128
            && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
            && b.iter()
                .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
        if !ok {
            return Err(
                "the tag must be 1 to 128 letters, digits, '_', '.' and '-', not \
                        starting with '.' or '-'"
                    .to_string(),
            );
        }
    }
    if name.is_empty() {
        return Err("the repository must not be empty".to_string());
    }
    if name.len() > 255 {
        return Err("the repository must be at most 255 characters".to_string());
    }
    let components: Vec<&str> = name.split('/').collect();
    let first = components[0];
    let has_registry = components.len() > 1
        && (first.contains('.')
            || first.contains(':')
            || first == "localhost"
            || first.bytes().any(|b| b.is_ascii_uppercase()));
    let path = if has_registry {
        if !is_registry_host(first) {
            return Err(format!(
                "the registry {first:?} must be a host name or IP address with an optional \
                 port, such as quay.io or registry.local:5000"
            ));
        }
        &components[1..]
    } else {
        &components[..]
    };
    for component in path {
        if component.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err("the repository must be lowercase".to_string());
        }
        if !is_image_path_component(component) {
            return Err(format!(
                "the repository component {component:?} must be lowercase letters and \
                 digits, separated by '.', '_', '__' or '-'"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_follow_the_distribution_grammar() {
        for ok in [
            "openbao",
            "openbao/openbao:2.4.1",
            "quay.io/openbao/openbao:2.4.1",
            "registry.local:5000/team/bao",
            "localhost/bao:dev",
            "[fd00::1]:5000/bao",
            "ghcr.io/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "ghcr.io/a/b:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "my_repo/a__b/c--d:latest",
        ] {
            assert!(check_image_reference(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "quay.io/OpenBao/openbao:2.4.1",
            "quay.io/openbao/openbao:",
            "openbao:2.4 .1",
            "openbao@sha256:abc",
            "openbao@md5:0123456789abcdef0123456789abcdef",
            "quay.io//openbao",
            "-bao",
            "bao:.tag",
            "bad host!/x",
        ] {
            assert!(check_image_reference(bad).is_err(), "{bad}");
        }
        assert_eq!(
            check_image_reference("Quay.io/Foo").expect_err("uppercase"),
            "the repository must be lowercase"
        );
    }
}
