//! The client's error type: one variant per way a call can fail that a caller acts on
//! differently, plus a stable [`Error::category`] for metric labels.

use std::error::Error as StdError;

use reqwest::StatusCode;
use serde::Deserialize;

/// Everything a call can fail with.
///
/// States that OpenBao reports through `GET /v1/sys/health` (sealed, uninitialized, standby)
/// are *not* errors there: [`crate::BaoClient::health`] returns them as [`crate::Health`]. The
/// `Sealed` and `Uninitialized` variants are for the other endpoints, which answer with an
/// error status in those states.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The client could not be built from its configuration (bad CA bundle, bad server name,
    /// token that is not a valid header value).
    #[error("invalid OpenBao client configuration: {0}")]
    Config(String),

    /// The endpoint needs a token and the client has none; see [`crate::BaoClient::with_token`].
    #[error("{path} needs an OpenBao token and the client has none")]
    MissingToken {
        /// The API path, e.g. `sys/step-down`.
        path: String,
    },

    /// No connection could be made: refused, unroutable, DNS failure or connect timeout.
    #[error("OpenBao is unreachable ({path}): {reason}")]
    Unreachable {
        /// The API path of the request.
        path: String,
        /// The innermost cause, e.g. `Connection refused (os error 111)`.
        reason: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },

    /// The TLS handshake failed: unknown CA, certificate not valid for the server name,
    /// expired certificate, or an alert from the server.
    #[error("TLS handshake with OpenBao failed ({path}): {reason}")]
    Tls {
        /// The API path of the request.
        path: String,
        /// What rustls reported, e.g. `invalid peer certificate: UnknownIssuer`.
        reason: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },

    /// Connected, but the request or its response did not finish within the request timeout.
    #[error("OpenBao request timed out ({path})")]
    Timeout {
        /// The API path of the request.
        path: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },

    /// HTTP 403: the token is missing, unknown, expired or lacks a policy for the path.
    #[error("OpenBao denied permission ({path}): {}", errors.join("; "))]
    PermissionDenied {
        /// The API path of the request.
        path: String,
        /// OpenBao's `errors` array.
        errors: Vec<String>,
    },

    /// HTTP 503 from an endpoint other than health: the node is sealed.
    #[error("OpenBao is sealed ({path}): {}", errors.join("; "))]
    Sealed {
        /// The API path of the request.
        path: String,
        /// OpenBao's `errors` array.
        errors: Vec<String>,
    },

    /// HTTP 501, or an error that says the server is not initialized.
    #[error("OpenBao is not initialized ({path}): {}", errors.join("; "))]
    Uninitialized {
        /// The API path of the request.
        path: String,
        /// OpenBao's `errors` array.
        errors: Vec<String>,
    },

    /// Any other non-success status, with OpenBao's `{"errors": [...]}` messages.
    #[error("OpenBao answered {status} ({path}): {}", errors.join("; "))]
    Api {
        /// The API path of the request.
        path: String,
        /// The HTTP status.
        status: u16,
        /// OpenBao's `errors` array (or the start of a non-JSON body).
        errors: Vec<String>,
    },

    /// A success status with a body that is not what the endpoint documents.
    #[error("unexpected response body from OpenBao ({path}): {reason}")]
    Decode {
        /// The API path of the request.
        path: String,
        /// What did not match. Never contains body text: bodies can hold secrets.
        reason: String,
    },

    /// The response body is larger than the client reads into memory. Only snapshots are
    /// larger, and they are streamed; anything else this large is not OpenBao's answer.
    #[error(
        "OpenBao's response to {path} is larger than {limit} bytes, the most this client reads \
         into memory for anything but a snapshot; it was not read further"
    )]
    ResponseTooLarge {
        /// The API path of the request.
        path: String,
        /// The cap, [`crate::MAX_RESPONSE_BYTES`].
        limit: usize,
    },

    /// Reading or writing a local stream failed (the snapshot destination, for example).
    #[error("I/O error while streaming {path}: {source}")]
    Io {
        /// The API path of the request.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// Any other transport failure (connection reset mid-response, a request body stream that
    /// failed, a protocol error).
    #[error("HTTP request to OpenBao failed ({path}): {reason}")]
    Http {
        /// The API path of the request.
        path: String,
        /// The innermost cause.
        reason: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
}

impl Error {
    /// A short, stable label for metrics, Event reasons and requeue policies.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Config(_) => "config",
            Error::MissingToken { .. } => "missing_token",
            Error::Unreachable { .. } => "unreachable",
            Error::Tls { .. } => "tls",
            Error::Timeout { .. } => "timeout",
            Error::PermissionDenied { .. } => "permission_denied",
            Error::Sealed { .. } => "sealed",
            Error::Uninitialized { .. } => "uninitialized",
            Error::Api { .. } => "api",
            Error::Decode { .. } => "decode",
            Error::ResponseTooLarge { .. } => "response_too_large",
            Error::Io { .. } => "io",
            Error::Http { .. } => "http",
        }
    }

    /// The HTTP status OpenBao answered with, when the failure was an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::PermissionDenied { .. } => Some(403),
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Classifies a transport error. TLS comes first because a failed handshake is also a
    /// "connect" error for reqwest, and a caller must tell "wrong certificate" (a
    /// configuration problem that retrying will not fix) from "nobody listening".
    pub(crate) fn from_transport(path: &str, source: reqwest::Error) -> Self {
        let path = path.to_owned();
        if let Some(tls) = find_rustls_error(&source) {
            return Error::Tls {
                path,
                reason: tls.to_string(),
                source,
            };
        }
        if source.is_connect() {
            // A connect timeout lands here too: nothing accepted the connection in time, which
            // for a caller is the same as "not reachable".
            return Error::Unreachable {
                path,
                reason: innermost_cause(&source),
                source,
            };
        }
        if source.is_timeout() {
            return Error::Timeout { path, source };
        }
        Error::Http {
            path,
            reason: innermost_cause(&source),
            source,
        }
    }

    /// Turns a non-success response into the matching variant.
    pub(crate) fn from_status(path: &str, status: StatusCode, body: &[u8]) -> Self {
        let errors = error_messages(body);
        let path = path.to_owned();
        match status.as_u16() {
            403 => Error::PermissionDenied { path, errors },
            503 => Error::Sealed { path, errors },
            501 => Error::Uninitialized { path, errors },
            // Some endpoints report the uninitialized state with 400 or 500 and only say so in
            // the message ("Vault is not initialized"; newer builds say "OpenBao").
            _ if errors.iter().any(|e| e.contains("not initialized")) => {
                Error::Uninitialized { path, errors }
            }
            status => Error::Api {
                path,
                status,
                errors,
            },
        }
    }

    /// A decode error that carries no body text. serde_json's messages quote offending values
    /// ("invalid type: string \"s.abc…\"") and an init response holds the root token, so only
    /// the error class and position are kept.
    pub(crate) fn decode(path: &str, err: &serde_json::Error) -> Self {
        let class = match err.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "JSON does not match the expected shape",
            serde_json::error::Category::Eof => "truncated JSON",
        };
        Error::Decode {
            path: path.to_owned(),
            reason: format!("{class} at line {} column {}", err.line(), err.column()),
        }
    }
}

/// OpenBao's error body.
#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<String>,
}

/// The `errors` array of an error body; for a body that is not OpenBao JSON (a proxy's HTML
/// page, say) the start of its text, so the message still says something.
fn error_messages(body: &[u8]) -> Vec<String> {
    if let Ok(parsed) = serde_json::from_slice::<ErrorBody>(body) {
        return parsed.errors;
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return Vec::new();
    }
    const MAX: usize = 200;
    let cut = text
        .char_indices()
        .nth(MAX)
        .map_or(text.len(), |(index, _)| index);
    vec![text[..cut].to_owned()]
}

/// Finds a rustls error anywhere in the source chain. hyper-rustls wraps it in an
/// `io::Error`, and `io::Error::source()` skips its own payload, so payloads are searched with
/// `get_ref` as well.
fn find_rustls_error<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut current = Some(err);
    while let Some(err) = current {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
        {
            let inner: &(dyn StdError + 'static) = inner;
            if let Some(tls) = find_rustls_error(inner) {
                return Some(tls);
            }
        }
        current = err.source();
    }
    None
}

/// The last message in the source chain; reqwest's own text ("error sending request for url
/// ...") says little, the root cause ("Connection refused") says what happened.
fn innermost_cause(err: &(dyn StdError + 'static)) -> String {
    let mut last = err;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_the_documented_variants() {
        let denied = Error::from_status(
            "sys/x",
            StatusCode::FORBIDDEN,
            br#"{"errors":["permission denied"]}"#,
        );
        assert_eq!(denied.category(), "permission_denied");
        assert_eq!(
            denied.to_string(),
            "OpenBao denied permission (sys/x): permission denied"
        );

        let sealed = Error::from_status(
            "sys/leader",
            StatusCode::SERVICE_UNAVAILABLE,
            br#"{"errors":["Vault is sealed"]}"#,
        );
        assert_eq!(sealed.category(), "sealed");

        let uninit = Error::from_status(
            "sys/x",
            StatusCode::BAD_REQUEST,
            br#"{"errors":["OpenBao is not initialized"]}"#,
        );
        assert_eq!(uninit.category(), "uninitialized");

        let other = Error::from_status("sys/x", StatusCode::INTERNAL_SERVER_ERROR, b"<html>oops");
        match other {
            Error::Api { status, errors, .. } => {
                assert_eq!(status, 500);
                assert_eq!(errors, vec!["<html>oops".to_owned()]);
            }
            other => panic!("expected Api, got {other:?}"),
        }
    }

    #[test]
    fn decode_errors_never_quote_the_body() {
        let err = serde_json::from_str::<u32>("\"s.root-token\"").expect_err("not a number");
        let decoded = Error::decode("sys/init", &err);
        assert!(!decoded.to_string().contains("s.root-token"), "{decoded}");
        assert_eq!(decoded.category(), "decode");
    }
}
