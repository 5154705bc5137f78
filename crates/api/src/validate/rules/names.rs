//! Kubernetes names: DNS-1123 and DNS-1035 labels, subdomains and DNS names, qualified
//! names (label and annotation keys), label values, Secret data keys and IANA port names.

/// Longest DNS-1123 / DNS-1035 label.
pub const DNS_LABEL_MAX_LEN: usize = 63;
/// Longest DNS-1123 subdomain.
pub const DNS_SUBDOMAIN_MAX_LEN: usize = 253;
/// Longest label value and name part of a qualified name.
pub const LABEL_VALUE_MAX_LEN: usize = 63;

pub(super) fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?` without a length limit.
pub(super) fn is_label_shape(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) => {
            is_lower_alnum(first)
                && is_lower_alnum(last)
                && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
        }
        _ => false,
    }
}

/// DNS-1123 label (namespace names, most object names): 1 to 63 lowercase letters, digits
/// and '-', starting and ending with a letter or digit.
pub fn is_dns1123_label(s: &str) -> bool {
    s.len() <= DNS_LABEL_MAX_LEN && is_label_shape(s)
}

/// DNS-1035 label shape without the length limit: a DNS-1123 label that starts with a letter.
pub fn is_dns1035_label_shape(s: &str) -> bool {
    is_label_shape(s) && s.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
}

/// DNS-1035 label (Service names, the cluster name): like a DNS-1123 label but starting
/// with a letter, because these names end up as DNS labels that must not look numeric.
pub fn is_dns1035_label(s: &str) -> bool {
    s.len() <= DNS_LABEL_MAX_LEN && is_dns1035_label_shape(s)
}

/// DNS-1123 subdomain (Secret, StorageClass and most object names): at most 253
/// characters, dot-separated DNS-1123 label shapes (Kubernetes does not limit each part).
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= DNS_SUBDOMAIN_MAX_LEN && s.split('.').all(is_label_shape)
}

/// A DNS name for a certificate SAN or a Gateway hostname: a lowercase DNS-1123 subdomain
/// whose labels are at most 63 characters, optionally prefixed by `*.` when
/// `allow_wildcard`.
pub fn is_dns_name(s: &str, allow_wildcard: bool) -> bool {
    let name = match s.strip_prefix("*.") {
        Some(rest) if allow_wildcard => rest,
        _ => s,
    };
    is_dns1123_subdomain(name) && name.split('.').all(|l| l.len() <= DNS_LABEL_MAX_LEN)
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, the shape of label values and name parts.
fn is_label_name_shape(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && b.iter()
                    .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// Check a qualified name (label and annotation keys, selector keys): an optional
/// DNS-subdomain prefix and '/', then a name of at most 63 letters, digits, '-', '_' and
/// '.', starting and ending with a letter or digit.
pub fn check_qualified_name(s: &str) -> Result<(), String> {
    let (prefix, name) = match s.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, s),
    };
    if let Some(prefix) = prefix {
        if name.contains('/') {
            return Err("must contain at most one '/'".to_string());
        }
        if prefix.is_empty() {
            return Err("the prefix before '/' must not be empty".to_string());
        }
        if !is_dns1123_subdomain(prefix) {
            return Err(format!(
                "the prefix {prefix:?} must be a DNS subdomain such as example.com \
                 (lowercase letters, digits, '-' and '.', at most 253 characters)"
            ));
        }
    }
    if name.is_empty() {
        return Err("the name part must not be empty".to_string());
    }
    if name.len() > LABEL_VALUE_MAX_LEN {
        return Err(format!(
            "the name part must be at most {LABEL_VALUE_MAX_LEN} characters (it has {})",
            name.len()
        ));
    }
    if !is_label_name_shape(name) {
        return Err(
            "the name part must consist of letters, digits, '-', '_' or '.', and \
                    start and end with a letter or digit"
                .to_string(),
        );
    }
    Ok(())
}

/// Whether `s` is a qualified name (see [`check_qualified_name`]).
pub fn is_qualified_name(s: &str) -> bool {
    check_qualified_name(s).is_ok()
}

/// Check a label value: empty, or at most 63 letters, digits, '-', '_' and '.', starting
/// and ending with a letter or digit.
pub fn check_label_value(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Ok(());
    }
    if s.len() > LABEL_VALUE_MAX_LEN {
        return Err(format!(
            "must be at most {LABEL_VALUE_MAX_LEN} characters (it has {})",
            s.len()
        ));
    }
    if !is_label_name_shape(s) {
        return Err(
            "must be empty or consist of letters, digits, '-', '_' or '.', and \
                    start and end with a letter or digit"
                .to_string(),
        );
    }
    Ok(())
}

/// Whether `s` is a valid label value (see [`check_label_value`]).
pub fn is_label_value(s: &str) -> bool {
    check_label_value(s).is_ok()
}

/// A Secret data key: letters, digits, '-', '_' and '.', at most 253 characters.
pub fn is_config_map_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= DNS_SUBDOMAIN_MAX_LEN
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// An IANA service name (a named port): 1 to 15 lowercase letters, digits and '-', at
/// least one letter, no leading, trailing or double '-'.
pub fn is_iana_svc_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 15
        && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
        && b.iter().any(u8::is_ascii_lowercase)
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns1123_labels_accept_lowercase_alnum_and_inner_dashes() {
        for ok in ["a", "a-b", "0abc", "x".repeat(63).as_str()] {
            assert!(is_dns1123_label(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "A", "a.b", "a_b", "x".repeat(64).as_str()] {
            assert!(!is_dns1123_label(bad), "{bad}");
        }
    }

    #[test]
    fn dns1035_labels_must_start_with_a_letter() {
        assert!(is_dns1035_label("bao-1"));
        assert!(!is_dns1035_label("1bao"));
        assert!(!is_dns1035_label("bao-"));
        assert!(is_dns1035_label_shape(&"a".repeat(100)));
        assert!(!is_dns1035_label(&"a".repeat(64)));
    }

    #[test]
    fn dns1123_subdomains_are_dot_separated_labels_of_at_most_253() {
        assert!(is_dns1123_subdomain("my-secret.v1"));
        assert!(is_dns1123_subdomain("a"));
        for bad in ["", ".a", "a.", "a..b", "A.b", "a_b", "a-.b"] {
            assert!(!is_dns1123_subdomain(bad), "{bad}");
        }
        assert!(!is_dns1123_subdomain(&"a".repeat(254)));
    }

    #[test]
    fn dns_names_allow_a_leading_wildcard_only_when_asked() {
        assert!(is_dns_name("bao.example.com", false));
        assert!(is_dns_name("*.example.com", true));
        assert!(!is_dns_name("*.example.com", false));
        assert!(!is_dns_name("a.*.example.com", true));
        assert!(!is_dns_name("*", true));
        assert!(!is_dns_name(&format!("{}.com", "a".repeat(64)), false));
    }

    #[test]
    fn qualified_names_take_an_optional_subdomain_prefix() {
        for ok in ["app", "app.kubernetes.io/name", "a_b.c-d", "example.com/X9"] {
            assert!(is_qualified_name(ok), "{ok}");
        }
        for bad in ["", "/a", "a/", "a/b/c", "-a", "a-", "Ex.com/a", "a b"] {
            assert!(!is_qualified_name(bad), "{bad}");
        }
        assert!(!is_qualified_name(&"a".repeat(64)));
        assert!(is_qualified_name(&"a".repeat(63)));
    }

    #[test]
    fn label_values_may_be_empty_but_not_oddly_shaped() {
        assert!(is_label_value(""));
        assert!(is_label_value("v1.2_x-Y"));
        assert!(!is_label_value("-x"));
        assert!(!is_label_value("a/b"));
        assert!(!is_label_value(&"a".repeat(64)));
    }

    #[test]
    fn iana_service_names_need_a_letter_and_single_inner_dashes() {
        for ok in ["http", "https-alt", "h2", "a-b-c"] {
            assert!(is_iana_svc_name(ok), "{ok}");
        }
        for bad in [
            "",
            "8200",
            "-http",
            "http-",
            "ht--tp",
            "HTTP",
            "abcdefghijklmnop",
        ] {
            assert!(!is_iana_svc_name(bad), "{bad}");
        }
    }

    #[test]
    fn config_map_keys_are_letters_digits_and_dot_dash_underscore() {
        assert!(is_config_map_key("ca.crt"));
        assert!(is_config_map_key("VAULT_TOKEN"));
        assert!(!is_config_map_key("a/b"));
        assert!(!is_config_map_key(".."));
    }
}
