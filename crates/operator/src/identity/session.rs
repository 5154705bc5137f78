//! The operator's session with OpenBao (IO): its own ServiceAccount token for the OpenBao
//! audience (TokenRequest, never a long-lived Secret), what OpenBao must trust to verify it
//! (the issuer and the API server's signing keys, from `/openid/v1/jwks`), and one OpenBao
//! token per cluster from logging in, each cached until shortly before it expires.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use bao_client::{BaoClient, SecretString};
use base64::Engine as _;
use k8s_openapi::api::{
    authentication::v1::{TokenRequest, TokenRequestSpec},
    core::v1::ServiceAccount,
};
use kube::{Api, Client, api::PostParams};
use serde::Deserialize;

use super::{AUDIENCE, AUTH_MOUNT, OPERATOR_ROLE, OperatorIdentity, jwks};

/// Lifetime requested for the ServiceAccount token (the API server's minimum is 10 minutes).
const SERVICE_ACCOUNT_TOKEN_SECONDS: i64 = 600;
/// Part of a credential's lifetime after which it is renewed.
const RENEW_AT: f64 = 0.8;

/// Why the operator has no identity or no token.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The TokenRequest for the operator's own ServiceAccount failed.
    #[error(
        "cannot request a token for the operator's ServiceAccount {namespace}/{name} (it needs \
         create on serviceaccounts/token for itself): {source}"
    )]
    TokenRequest {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// The API error.
        source: kube::Error,
    },
    /// The token's claims could not be read.
    #[error("the ServiceAccount token is not a readable JWT: {0}")]
    Claims(String),
    /// The API server's signing keys could not be read.
    #[error("cannot read the API server's signing keys from /openid/v1/jwks: {0}")]
    Jwks(String),
    /// Logging in to OpenBao failed.
    #[error("cannot log in to OpenBao as {role} on auth/{mount}: {source}")]
    Login {
        /// The auth mount.
        mount: &'static str,
        /// The role.
        role: &'static str,
        /// OpenBao's error.
        source: bao_client::Error,
    },
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
}

/// The ServiceAccount token and what it proves.
struct Current {
    jwt: SecretString,
    identity: OperatorIdentity,
    renew_at: Instant,
}

/// The operator's identity and OpenBao tokens, shared by every reconcile.
pub struct Session {
    client: Client,
    namespace: String,
    service_account: String,
    current: tokio::sync::Mutex<Option<Current>>,
    tokens: std::sync::Mutex<HashMap<String, (SecretString, Instant)>>,
}

impl Session {
    /// The session of ServiceAccount `namespace/service_account`, through `client`.
    pub fn new(client: Client, namespace: String, service_account: String) -> Self {
        Self {
            client,
            namespace,
            service_account,
            current: tokio::sync::Mutex::new(None),
            tokens: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// What OpenBao must trust to verify the operator's tokens.
    pub async fn identity(&self) -> Result<OperatorIdentity, IdentityError> {
        Ok(self.current().await?.1)
    }

    async fn current(&self) -> Result<(SecretString, OperatorIdentity), IdentityError> {
        let mut current = self.current.lock().await;
        if let Some(c) = current.as_ref().filter(|c| Instant::now() < c.renew_at) {
            return Ok((c.jwt.clone(), c.identity.clone()));
        }
        let requested = Instant::now();
        let jwt = self.request_token().await?;
        let claims = claims(&jwt)?;
        let jwks = self
            .client
            .request_text(
                http::Request::get("/openid/v1/jwks")
                    .body(Vec::new())
                    .map_err(|e| IdentityError::Jwks(e.to_string()))?,
            )
            .await
            .map_err(|e| IdentityError::Jwks(e.to_string()))?;
        let public_keys =
            jwks::public_keys_pem(&jwks).map_err(|e| IdentityError::Jwks(e.to_string()))?;
        let identity = OperatorIdentity {
            issuer: claims.iss,
            public_keys,
            subject: claims.sub,
            audience: AUDIENCE.to_string(),
        };
        let lifetime = Duration::from_secs(SERVICE_ACCOUNT_TOKEN_SECONDS as u64);
        *current = Some(Current {
            jwt: jwt.clone(),
            identity: identity.clone(),
            renew_at: requested + lifetime.mul_f64(RENEW_AT),
        });
        Ok((jwt, identity))
    }

    async fn request_token(&self) -> Result<SecretString, IdentityError> {
        let api = Api::<ServiceAccount>::namespaced(self.client.clone(), &self.namespace);
        let request = TokenRequest {
            spec: Some(TokenRequestSpec {
                audiences: Some(vec![AUDIENCE.to_string()]),
                expiration_seconds: Some(SERVICE_ACCOUNT_TOKEN_SECONDS),
                ..TokenRequestSpec::default()
            }),
            ..TokenRequest::default()
        };
        let answer = api
            .create_token_request(&self.service_account, &PostParams::default(), &request)
            .await
            .map_err(|source| IdentityError::TokenRequest {
                namespace: self.namespace.clone(),
                name: self.service_account.clone(),
                source,
            })?;
        answer
            .status
            .and_then(|s| s.token)
            .filter(|t| !t.is_empty())
            .map(SecretString::new)
            .ok_or_else(|| IdentityError::Claims("the TokenRequest answer holds no token".into()))
    }

    /// An OpenBao token for cluster `key`, logging in through `client` when none is cached.
    pub async fn token(
        &self,
        key: &str,
        client: &BaoClient,
    ) -> Result<SecretString, IdentityError> {
        if let Some(token) = self.cached(key) {
            return Ok(token);
        }
        let (jwt, _) = self.current().await?;
        let started = Instant::now();
        let login = client
            .jwt_login(AUTH_MOUNT, OPERATOR_ROLE, &jwt)
            .await
            .map_err(|source| IdentityError::Login {
                mount: AUTH_MOUNT,
                role: OPERATOR_ROLE,
                source,
            })?;
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(
                key.to_string(),
                (login.token.clone(), started + login.ttl.mul_f64(RENEW_AT)),
            );
        }
        Ok(login.token)
    }

    fn cached(&self, key: &str) -> Option<SecretString> {
        let tokens = self.tokens.lock().ok()?;
        tokens
            .get(key)
            .filter(|(_, renew_at)| Instant::now() < *renew_at)
            .map(|(token, _)| token.clone())
    }

    /// Drop the cached token of cluster `key` (it was refused, or the cluster is gone).
    pub fn forget(&self, key: &str) {
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.remove(key);
        }
    }
}

/// The claims of `jwt` that name the issuer and subject. The signature is not checked: this is
/// the operator's own token, fresh from the API server; OpenBao checks it.
fn claims(jwt: &SecretString) -> Result<Claims, IdentityError> {
    let payload = jwt
        .expose_secret()
        .split('.')
        .nth(1)
        .ok_or_else(|| IdentityError::Claims("not three dot-separated parts".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| IdentityError::Claims(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| IdentityError::Claims(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_come_from_the_payload_and_garbage_is_an_error_that_does_not_quote_it() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"iss":"https://kubernetes.default.svc","sub":"system:serviceaccount:ops:op","aud":["openbao-internal"]}"#);
        let jwt = SecretString::new(format!("eyJhbGciOiJFUzI1NiJ9.{payload}.c2ln"));
        let claims = claims(&jwt).expect("claims");
        assert_eq!(claims.iss, "https://kubernetes.default.svc");
        assert_eq!(claims.sub, "system:serviceaccount:ops:op");
        let err = claims_error("secret-looking-token");
        assert!(!err.contains("secret-looking-token"), "{err}");
    }

    fn claims_error(token: &str) -> String {
        match claims(&SecretString::new(token.to_string())) {
            Ok(_) => panic!("not a JWT"),
            Err(e) => e.to_string(),
        }
    }
}
