//! Semantic versions `X.Y.Z[-pre.release]`, as used for `spec.version` and the image tag.

/// One numeric identifier without leading zeros.
fn is_numeric_identifier(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
}

/// Check a semantic version `X.Y.Z` with an optional `-pre.release`, no leading `v` and no
/// `+build` metadata (the version becomes an image tag, and tags cannot contain '+').
pub fn check_semver(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".to_string());
    }
    if s.starts_with('v') || s.starts_with('V') {
        return Err("must not start with \"v\"".to_string());
    }
    if s.contains('+') {
        return Err(
            "build metadata (+...) is not allowed: the version is used as the \
                    image tag, and tags cannot contain '+'"
                .to_string(),
        );
    }
    if s.len() > 128 {
        return Err("must be at most 128 characters (it becomes an image tag)".to_string());
    }
    let (core, pre) = match s.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (s, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3 || !parts.iter().all(|p| is_numeric_identifier(p)) {
        return Err("must have three numeric parts X.Y.Z without leading zeros".to_string());
    }
    if let Some(pre) = pre {
        let ok = pre.split('.').all(|id| {
            !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && (!id.bytes().all(|b| b.is_ascii_digit()) || is_numeric_identifier(id))
        });
        if !ok {
            return Err(
                "the pre-release must be dot-separated identifiers of letters, \
                        digits and '-' (numeric ones without leading zeros)"
                    .to_string(),
            );
        }
    }
    Ok(())
}

/// Whether semantic version `version` is at least `min`; a pre-release of `min` is not.
/// An unparsable version is not (validation reports it separately).
pub fn version_at_least(version: &str, min: (u64, u64, u64)) -> bool {
    let (core, pre) = match version.split_once('-') {
        Some((core, _)) => (core, true),
        None => (version, false),
    };
    let parts: Vec<u64> = core.split('.').filter_map(|p| p.parse().ok()).collect();
    let [major, minor, patch] = parts[..] else {
        return false;
    };
    let v = (major, minor, patch);
    v > min || (v == min && !pre)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semantic_versions_have_three_parts_and_an_optional_prerelease() {
        for ok in ["2.4.1", "0.0.0", "10.20.30", "2.5.0-beta1", "2.5.0-rc.1"] {
            assert!(check_semver(ok).is_ok(), "{ok}");
        }
        for bad in [
            "v2.4.1",
            "2.4",
            "2.4.1.1",
            "02.4.1",
            "2.4.1+build",
            "2.4.1-",
            "2.4.1-a..b",
            "2.4.1-01",
        ] {
            assert!(check_semver(bad).is_err(), "{bad}");
        }
    }
}
