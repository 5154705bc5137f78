//! Cloud provider names: AWS regions and S3, GCS and Azure Blob bucket (container) names.

use super::names::{is_label_shape, is_lower_alnum};

/// Whether `s` has the shape of an AWS region: lowercase words joined by '-' and a final
/// number, such as `eu-west-1` or `us-gov-west-1`.
pub fn is_aws_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts
            .last()
            .is_some_and(|n| (1..=2).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()))
        && parts[..parts.len() - 1]
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
}

/// Check an S3 bucket name: 3 to 63 lowercase letters, digits, '.' and '-', starting and
/// ending with a letter or digit, no "..", not shaped like an IP address.
pub fn check_s3_bucket_name(s: &str) -> Result<(), String> {
    if !(3..=63).contains(&s.len()) {
        return Err(format!("must be 3 to 63 characters (it has {})", s.len()));
    }
    if !s
        .bytes()
        .all(|b| is_lower_alnum(b) || b == b'.' || b == b'-')
    {
        return Err("must consist of lowercase letters, digits, '.' and '-'".to_string());
    }
    let b = s.as_bytes();
    if !is_lower_alnum(b[0]) || !is_lower_alnum(b[b.len() - 1]) {
        return Err("must start and end with a lowercase letter or digit".to_string());
    }
    if s.contains("..") || s.contains(".-") || s.contains("-.") {
        return Err("must not contain \"..\", \".-\" or \"-.\"".to_string());
    }
    if s.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err("must not be formatted as an IP address".to_string());
    }
    if s.starts_with("xn--") || s.ends_with("-s3alias") || s.ends_with("--ol-s3") {
        return Err(
            "must not start with xn-- or end with -s3alias or --ol-s3 (reserved by S3)".to_string(),
        );
    }
    Ok(())
}

/// Check a Google Cloud Storage bucket name: 3 to 63 characters (222 with dots, each part
/// at most 63), lowercase letters, digits, '-', '_' and '.', starting and ending with a
/// letter or digit.
pub fn check_gcs_bucket_name(s: &str) -> Result<(), String> {
    let max = if s.contains('.') { 222 } else { 63 };
    if s.len() < 3 || s.len() > max {
        return Err(format!(
            "must be 3 to 63 characters, or up to 222 with dots (it has {})",
            s.len()
        ));
    }
    if !s
        .bytes()
        .all(|b| is_lower_alnum(b) || matches!(b, b'.' | b'-' | b'_'))
    {
        return Err("must consist of lowercase letters, digits, '-', '_' and '.'".to_string());
    }
    let b = s.as_bytes();
    if !is_lower_alnum(b[0]) || !is_lower_alnum(b[b.len() - 1]) {
        return Err("must start and end with a lowercase letter or digit".to_string());
    }
    if s.split('.').any(|p| p.is_empty() || p.len() > 63) {
        return Err("each dot-separated part must be 1 to 63 characters".to_string());
    }
    if s.parse::<std::net::Ipv4Addr>().is_ok() || s.starts_with("goog") {
        return Err("must not be an IP address or start with \"goog\"".to_string());
    }
    Ok(())
}

/// Check an Azure Blob Storage container name: 3 to 63 lowercase letters, digits and '-',
/// starting and ending with a letter or digit, no "--".
pub fn check_azure_container_name(s: &str) -> Result<(), String> {
    if !(3..=63).contains(&s.len()) {
        return Err(format!("must be 3 to 63 characters (it has {})", s.len()));
    }
    if !is_label_shape(s) || s.contains("--") {
        return Err(
            "must consist of lowercase letters, digits and single '-', starting \
                    and ending with a letter or digit"
                .to_string(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_regions_are_words_and_a_number() {
        for ok in [
            "eu-west-1",
            "us-gov-west-1",
            "ap-southeast-2",
            "il-central-1",
        ] {
            assert!(is_aws_region(ok), "{ok}");
        }
        for bad in ["", "eu-west", "EU-west-1", "euwest1", "eu-west-1a", "eu--1"] {
            assert!(!is_aws_region(bad), "{bad}");
        }
    }

    #[test]
    fn bucket_names_follow_each_provider_rules() {
        assert!(check_s3_bucket_name("my-bucket.v1").is_ok());
        for bad in [
            "ab",
            "My-Bucket",
            "a..b",
            "a_b",
            "192.168.0.1",
            "-ab",
            "xn--ab",
            "a.-b",
        ] {
            assert!(check_s3_bucket_name(bad).is_err(), "{bad}");
        }
        assert!(check_gcs_bucket_name("my_bucket").is_ok());
        assert!(check_gcs_bucket_name("googbucket").is_err());
        assert!(check_azure_container_name("snapshots-1").is_ok());
        assert!(check_azure_container_name("a--b").is_err());
        assert!(check_azure_container_name("a.b").is_err());
    }
}
