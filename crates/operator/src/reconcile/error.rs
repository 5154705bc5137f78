//! Everything that can fail in a pass; the category is the Event reason, the metric label
//! and the requeue delay.

use std::time::Duration;

use kube::runtime::finalizer::{self};

use super::{apply, operate, secrets};

/// Everything that can fail in a pass. The category is the Event reason, the metric label and
/// the requeue delay.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The secrets stage failed.
    #[error(transparent)]
    Secrets(#[from] secrets::SecretsError),
    /// The apply stage failed.
    #[error(transparent)]
    Apply(#[from] apply::ApplyError),
    /// Another API call (the status patch, a cleanup step) failed.
    #[error("{action}: {source}")]
    Kube {
        /// What was attempted.
        action: String,
        /// Cause.
        #[source]
        source: kube::Error,
    },
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
            Error::Secrets(e) => e.category(),
            Error::Apply(e) => e.category(),
            Error::Kube { .. } => "KubernetesAPIError",
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
            Error::Apply(apply::ApplyError::Write { .. })
            | Error::Secrets(secrets::SecretsError::Kube { .. })
            | Error::Kube { .. }
            | Error::Finalizer(_) => Duration::from_secs(5),
            Error::Secrets(secrets::SecretsError::StillMissing(_)) | Error::Operate(_) => {
                Duration::from_secs(10)
            }
            Error::Secrets(secrets::SecretsError::Pki(_))
            | Error::Apply(apply::ApplyError::Serialize(_)) => Duration::from_secs(60),
            Error::Waiting(_) | Error::Apply(apply::ApplyError::Pending(_)) => {
                Duration::from_secs(2)
            }
        }
    }
}

pub(super) fn is_waiting(error: &Error) -> bool {
    match error {
        Error::Waiting(_) | Error::Apply(apply::ApplyError::Pending(_)) => true,
        Error::Finalizer(inner) => matches!(
            inner.as_ref(),
            finalizer::Error::CleanupFailed(Error::Waiting(_))
        ),
        _ => false,
    }
}
