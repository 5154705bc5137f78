//! Why the operate stage failed; the category is the metric label and the Event reason.

/// Why the operate stage failed.
#[derive(Debug, thiserror::Error)]
pub enum OperateError {
    /// The root-token Secret could not be read or written.
    #[error("root-token Secret {name}: {source}")]
    KeyStore {
        /// Secret name.
        name: String,
        /// Cause.
        #[source]
        source: kube::Error,
    },
    /// OpenBao refused or failed a call.
    #[error("OpenBao member {member}: {source}")]
    OpenBao {
        /// Pod name.
        member: String,
        /// Cause.
        #[source]
        source: bao_client::Error,
    },
    /// The initialization task ended without an answer (it panicked or was cancelled).
    #[error("initialization task ended early: {0}")]
    Interrupted(String),
    /// The Secret holds other keys than the ones this response would store: they are never
    /// overwritten.
    #[error("root-token Secret {name} already holds other keys; they are never overwritten")]
    KeysConflict {
        /// Secret name.
        name: String,
    },
    /// The init response could not be stored after retries; the keys are held in memory and the
    /// next pass stores them.
    #[error("initialized {cluster}, but storing its keys failed after retries: {source}")]
    KeysNotStored {
        /// Cluster.
        cluster: String,
        /// Last cause.
        #[source]
        source: Box<OperateError>,
    },
}

impl OperateError {
    /// Short category for metrics and Events.
    pub fn category(&self) -> &'static str {
        match self {
            OperateError::KeyStore { .. } => "RootTokenSecretError",
            OperateError::OpenBao { source, .. } => source.category(),
            OperateError::KeysNotStored { .. } => "KeysNotStored",
            OperateError::KeysConflict { .. } => "RootTokenSecretConflict",
            OperateError::Interrupted(_) => "InitializationInterrupted",
        }
    }
}
