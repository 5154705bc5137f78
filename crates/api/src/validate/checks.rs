//! Field checks shared by the spec sections: run one `rules` format check and record the
//! standard error at a path, plus the constants and helpers those messages use.

use std::time::Duration;

use super::ValidationErrors;
use super::rules;
use crate::spec::SecretRef;

const SUBDOMAIN_RULE: &str = "a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', \
                              starting and ending with a letter or digit, at most 253 characters";
const LABEL_RULE: &str = "a DNS-1123 label: lowercase letters, digits and '-', starting and \
                          ending with a letter or digit, at most 63 characters";
pub(super) const HOUR: Duration = Duration::from_secs(3600);

/// Compact JSON of a spec block, for the value of a "must not be set" error.
pub(super) fn json_of<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

pub(super) fn check_subdomain(errs: &mut ValidationErrors, path: &str, value: &str, what: &str) {
    if !rules::is_dns1123_subdomain(value) {
        errs.add(path, value, format!("must be {what} ({SUBDOMAIN_RULE})"));
    }
}

pub(super) fn check_label(errs: &mut ValidationErrors, path: &str, value: &str, what: &str) {
    if !rules::is_dns1123_label(value) {
        errs.add(path, value, format!("must be {what} ({LABEL_RULE})"));
    }
}

/// A required free-form token (key names, project IDs): non-empty, no whitespace.
pub(super) fn check_token(errs: &mut ValidationErrors, path: &str, value: &str, what: &str) {
    if value.is_empty() {
        errs.add(path, value, format!("required: {what}"));
    } else if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        errs.add(path, value, format!("must not contain whitespace: {what}"));
    }
}

pub(super) fn check_url(errs: &mut ValidationErrors, path: &str, value: &str, example: &str) {
    if value.is_empty() {
        errs.add(
            path,
            value,
            format!("required: an http(s) URL such as {example}"),
        );
    } else if let Err(why) = rules::check_http_url(value) {
        errs.add(
            path,
            value,
            format!("must be an http(s) URL such as {example}: {why}"),
        );
    }
}

pub(super) fn check_secret_ref(errs: &mut ValidationErrors, path: &str, secret: &SecretRef) {
    check_subdomain(
        errs,
        &format!("{path}.name"),
        &secret.name,
        "the name of a Secret in the cluster's namespace",
    );
}
