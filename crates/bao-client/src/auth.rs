//! Tokens and the few generic writes an identity bootstrap needs: logging in (a JWT role,
//! userpass), creating, checking and revoking tokens, the list of enabled auth methods, and a plain write of a
//! JSON object to any path (policies, roles, auth and engine configuration).

use std::{collections::BTreeSet, time::Duration};

use reqwest::Method;
use serde::Deserialize;
use zeroize::Zeroize;

use crate::{BaoClient, Error, SecretString, client::Auth};

/// A token obtained by logging in, or created.
pub struct Login {
    /// The client token (a batch or service token).
    pub token: SecretString,
    /// How long it is valid.
    pub ttl: Duration,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("token", &self.token)
            .field("ttl", &self.ttl)
            .finish()
    }
}

#[derive(Deserialize)]
struct LoginEnvelope {
    auth: Option<LoginAuth>,
}

#[derive(Deserialize)]
struct LoginAuth {
    client_token: String,
    #[serde(default)]
    lease_duration: u64,
}

impl BaoClient {
    /// `POST /v1/auth/<mount>/login` (no token): exchange `jwt` for an OpenBao token of
    /// `role`.
    pub async fn jwt_login(
        &self,
        mount: &str,
        role: &str,
        jwt: &SecretString,
    ) -> Result<Login, Error> {
        let path = format!("auth/{}/login", mount.trim_matches('/'));
        let body = serde_json::json!({ "role": role, "jwt": jwt.expose_secret() });
        self.token_answer(&path, Auth::None, body).await
    }

    /// `POST /v1/auth/userpass/login/<user>` (no token): a person's login, for smoke checks.
    pub async fn userpass_login(&self, user: &str, password: &str) -> Result<Login, Error> {
        let path = format!("auth/userpass/login/{user}");
        let body = serde_json::json!({ "password": password });
        self.token_answer(&path, Auth::None, body).await
    }

    /// `POST /v1/auth/token/create` (token): a child token with `policies`, renewable for
    /// `period` (an OpenBao duration such as `24h`), for a client such as a transit seal.
    pub async fn create_token(&self, policies: &[&str], period: &str) -> Result<Login, Error> {
        let body = serde_json::json!({ "policies": policies, "period": period });
        self.token_answer("auth/token/create", Auth::Token, body)
            .await
    }

    /// A call at `path` that answers with an `auth` block (a login, a created token); the
    /// answer's raw body is wiped after decoding.
    async fn token_answer(
        &self,
        path: &str,
        auth: Auth,
        body: serde_json::Value,
    ) -> Result<Login, Error> {
        let (status, mut bytes) = self.call_raw(Method::POST, path, auth, Some(body)).await?;
        if !status.is_success() {
            let error = Error::from_status(path, status, &bytes);
            bytes.zeroize();
            return Err(error);
        }
        let decoded = serde_json::from_slice::<LoginEnvelope>(&bytes);
        bytes.zeroize();
        let auth = decoded
            .map_err(|e| Error::decode(path, &e))?
            .auth
            .ok_or_else(|| Error::Decode {
                path: path.to_string(),
                reason: "the answer has no auth block".to_string(),
            })?;
        Ok(Login {
            token: SecretString::new(auth.client_token),
            ttl: Duration::from_secs(auth.lease_duration),
        })
    }

    /// `GET /v1/sys/auth` (token): the paths of the enabled auth methods, without their
    /// trailing slash.
    pub async fn auth_mounts(&self) -> Result<BTreeSet<String>, Error> {
        let mounts: serde_json::Map<String, serde_json::Value> = self
            .call_json::<serde_json::Value>(Method::GET, "sys/auth", Auth::Token, None)
            .await
            .map(|v| {
                // Newer servers wrap the map in `data`; older ones answer it at the top level
                // (next to request metadata, which has no trailing slash).
                v.get("data")
                    .and_then(|d| d.as_object())
                    .or_else(|| v.as_object())
                    .cloned()
                    .unwrap_or_default()
            })?;
        Ok(mounts
            .keys()
            .filter_map(|k| k.strip_suffix('/'))
            .map(str::to_string)
            .collect())
    }

    /// `POST /v1/auth/token/revoke-self` (token): revoke the client's own token and every
    /// token created under it. A token OpenBao no longer knows answers
    /// [`Error::PermissionDenied`].
    pub async fn revoke_self(&self) -> Result<(), Error> {
        self.call_unit(Method::POST, "auth/token/revoke-self", Auth::Token, None)
            .await
    }

    /// `GET /v1/auth/token/lookup-self` (token): whether OpenBao still accepts the client's
    /// token (`false` when it answers 403: revoked, expired or never issued). The answer,
    /// which repeats the token, is wiped unread.
    pub async fn token_is_valid(&self) -> Result<bool, Error> {
        let path = "auth/token/lookup-self";
        let (status, mut bytes) = self.call_raw(Method::GET, path, Auth::Token, None).await?;
        let answer = if status.is_success() {
            Ok(true)
        } else {
            match Error::from_status(path, status, &bytes) {
                Error::PermissionDenied { .. } => Ok(false),
                other => Err(other),
            }
        };
        bytes.zeroize();
        answer
    }

    /// `POST /v1/<path>` (token) with the JSON object `data`; the answer's body is ignored.
    pub async fn write(&self, path: &str, data: serde_json::Value) -> Result<(), Error> {
        self.call_unit(
            Method::POST,
            path.trim_matches('/'),
            Auth::Token,
            Some(data),
        )
        .await
    }
}
