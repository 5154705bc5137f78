//! Everything that can fail in a pass; the category is the Event reason, the metric label
//! and the requeue delay.

use std::time::Duration;

use kube::runtime::finalizer::{self};

use super::operate;

/// Everything that can fail in a pass. The category is the Event reason, the metric label and
/// the requeue delay.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Applying an object failed.
    #[error("apply {kind} {name}: {source}")]
    Apply {
        /// Kind.
        kind: String,
        /// `namespace/name`.
        name: String,
        /// Cause.
        #[source]
        source: kube::Error,
    },
    /// Another API call failed.
    #[error("{action}: {source}")]
    Kube {
        /// What was attempted.
        action: String,
        /// Cause.
        #[source]
        source: kube::Error,
    },
    /// Key material could not be generated or parsed.
    #[error(transparent)]
    Pki(#[from] crate::pki::PkiError),
    /// An object could not be serialized.
    #[error("cannot serialize {0}")]
    Serialize(String),
    /// Something expected was missing.
    #[error("{0}")]
    Missing(String),
    /// Talking to OpenBao or storing its keys failed.
    #[error(transparent)]
    Operate(#[from] operate::OperateError),
    /// Not an error: a step waits for Kubernetes (deletion waits for the pods to be gone before
    /// it releases their policies); retried soon, without a warning Event.
    #[error("waiting: {0}")]
    Waiting(String),
    /// The finalizer helper failed.
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<finalizer::Error<Error>>),
}

impl Error {
    /// Short category for metrics, Events and requeue decisions.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Apply { .. } => "ApplyFailed",
            Error::Kube { .. } => "KubernetesAPIError",
            Error::Pki(_) => "KeyMaterialError",
            Error::Serialize(_) => "InternalError",
            Error::Missing(_) => "MissingObject",
            Error::Operate(e) => e.category(),
            Error::Waiting(_) => "Waiting",
            Error::Finalizer(inner) => match inner.as_ref() {
                finalizer::Error::ApplyFailed(e) | finalizer::Error::CleanupFailed(e) => {
                    e.category()
                }
                _ => "FinalizerError",
            },
        }
    }

    pub(super) fn requeue(&self) -> Duration {
        match self {
            // A conflict or a transient API error clears quickly.
            Error::Apply { .. } | Error::Kube { .. } | Error::Finalizer(_) => {
                Duration::from_secs(5)
            }
            Error::Missing(_) | Error::Operate(_) => Duration::from_secs(10),
            Error::Pki(_) | Error::Serialize(_) => Duration::from_secs(60),
            Error::Waiting(_) => Duration::from_secs(2),
        }
    }
}

pub(super) fn is_waiting(error: &Error) -> bool {
    match error {
        Error::Waiting(_) => true,
        Error::Finalizer(inner) => matches!(
            inner.as_ref(),
            finalizer::Error::CleanupFailed(Error::Waiting(_))
        ),
        _ => false,
    }
}
