//! `sys/` endpoints: health, seal status, initialization, leader and step-down.

use reqwest::Method;
use zeroize::Zeroize;

use crate::{
    BaoClient, Error, Health, HealthInfo, InitRequest, InitResponse, Leader, SealStatus,
    client::Auth,
};

/// Every status code spelled out, so a server-side default or a proxy rewriting the query can
/// never make a standby answer 200 (we never pass `standbyok`/`perfstandbyok`). Unknown
/// parameters are ignored by servers that predate them.
const HEALTH_QUERY: &str = "activecode=200&standbycode=429&perfstandbycode=473\
                            &drsecondarycode=472&uninitcode=501&sealedcode=503";

impl BaoClient {
    /// `GET /v1/sys/health`: the node's state. Sealed, uninitialized and standby nodes are
    /// [`Health`] values, not errors; any other status is an error.
    pub async fn health(&self) -> Result<Health, Error> {
        let path = "sys/health";
        let request = self.request(Method::GET, path, Some(HEALTH_QUERY), Auth::None)?;
        let (status, body) = self.execute(request, Method::GET, path).await?;
        let state: fn(HealthInfo) -> Health = match status.as_u16() {
            200 => Health::Active,
            429 => Health::Standby,
            473 => Health::PerformanceStandby,
            472 => Health::DrSecondary,
            501 => Health::Uninitialized,
            503 => Health::Sealed,
            _ => return Err(Error::from_status(path, status, &body)),
        };
        let info: HealthInfo =
            serde_json::from_slice(&body).map_err(|e| Error::decode(path, &e))?;
        Ok(state(info))
    }

    /// `GET /v1/sys/seal-status` (no token needed).
    pub async fn seal_status(&self) -> Result<SealStatus, Error> {
        self.call_json(Method::GET, "sys/seal-status", Auth::None, None)
            .await
    }

    /// `PUT /v1/sys/init`: initializes the barrier. This succeeds exactly once per cluster;
    /// the response holds the only copy of the root token and key shares, so persist it
    /// before doing anything else. A second call fails with [`Error::Api`] (400, "already
    /// initialized").
    pub async fn init(&self, request: &InitRequest) -> Result<InitResponse, Error> {
        let path = "sys/init";
        let body = serde_json::to_value(request).map_err(|e| Error::decode(path, &e))?;
        let (status, mut bytes) = self
            .call_raw(Method::PUT, path, Auth::None, Some(body))
            .await?;
        if !status.is_success() {
            return Err(Error::from_status(path, status, &bytes));
        }
        let decoded = serde_json::from_slice::<InitResponse>(&bytes);
        // The raw body holds every secret in clear text; wipe it as soon as it is decoded.
        // (Best effort: hyper's buffers are outside our reach.)
        bytes.zeroize();
        decoded.map_err(|e| Error::decode(path, &e))
    }

    /// `GET /v1/sys/leader` (no token needed). A sealed node answers 503 ([`Error::Sealed`]).
    pub async fn leader(&self) -> Result<Leader, Error> {
        self.call_json(Method::GET, "sys/leader", Auth::None, None)
            .await
    }

    /// `PUT /v1/sys/step-down` (token): the active node gives up leadership; another voter
    /// takes over. Sent to a standby, it is forwarded to the active node.
    pub async fn step_down(&self) -> Result<(), Error> {
        self.call_unit(Method::PUT, "sys/step-down", Auth::Token, None)
            .await
    }
}
