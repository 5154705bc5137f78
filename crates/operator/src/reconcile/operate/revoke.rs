//! Revoking the root token a `sys/init` cluster stored (`spec.initialization.revokeRootToken`),
//! once the operator's own identity works, so no token with every right is left in Kubernetes.

use bao_client::BaoClient;

use super::{OperateError, SecretKeyStore, StoredRootToken};

/// What a revocation found and did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revocation {
    /// The stored token was valid; it is revoked now and gone from the Secret.
    Revoked,
    /// OpenBao no longer accepted the stored token (an earlier pass revoked it and stopped
    /// before the Secret was written, or a person did): it is gone from the Secret now.
    AlreadyInvalid,
    /// The Secret says an earlier pass revoked and removed it.
    AlreadyRemoved,
    /// The Secret holds no token and does not say it was revoked (someone removed it by hand):
    /// nothing to revoke, and nothing known about that token.
    NothingStored,
}

impl Revocation {
    /// Whether the root token is known to be revoked.
    pub fn is_revoked(self) -> bool {
        !matches!(self, Revocation::NothingStored)
    }
}

/// Revoke the root token stored in `store` through `member` (a client without a token, to the
/// active member `pod`), prove OpenBao refuses it afterwards, then remove it from the Secret.
/// Each step is safe to repeat: a pass that stops half-way finishes on the next one.
pub async fn revoke_root_token(
    pod: &str,
    member: &BaoClient,
    store: &SecretKeyStore,
) -> Result<Revocation, OperateError> {
    let token = match store.stored_root_token().await? {
        StoredRootToken::Stored(token) => token,
        StoredRootToken::Revoked => return Ok(Revocation::AlreadyRemoved),
        StoredRootToken::Missing => return Ok(Revocation::NothingStored),
    };
    let root = member.with_token(token.clone());
    let openbao = |source| OperateError::OpenBao {
        member: pod.to_string(),
        source,
    };
    let outcome = match root.revoke_self().await {
        Ok(()) => Revocation::Revoked,
        // OpenBao refuses a token it no longer knows with 403.
        Err(bao_client::Error::PermissionDenied { .. }) => Revocation::AlreadyInvalid,
        Err(e) => return Err(openbao(e)),
    };
    // The token leaves the Secret only once OpenBao is seen refusing it.
    if root.token_is_valid().await.map_err(openbao)? {
        return Err(openbao(bao_client::Error::Api {
            path: "auth/token/lookup-self".to_string(),
            status: 200,
            errors: vec!["the root token is still accepted after its revocation".to_string()],
        }));
    }
    store.remove_revoked_root_token(&token).await?;
    Ok(outcome)
}
