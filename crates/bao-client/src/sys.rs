//! `sys/` endpoints: health, seal status, initialization, leader, step-down, the enabled
//! audit devices and Prometheus metrics.

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

    /// `GET /v1/sys/audit` (token): the enabled audit devices, by mount path (with its
    /// trailing `/`) to device type (`file`, `socket`, ...).
    pub async fn audit_devices(&self) -> Result<std::collections::BTreeMap<String, String>, Error> {
        #[derive(serde::Deserialize)]
        struct Device {
            #[serde(rename = "type")]
            type_: String,
        }
        let devices: std::collections::BTreeMap<String, serde_json::Value> = self
            .call_json(Method::GET, "sys/audit", Auth::Token, None)
            .await?;
        // The listing repeats the devices under `data`, next to request metadata.
        Ok(devices
            .into_iter()
            .filter_map(|(path, value)| {
                serde_json::from_value::<Device>(value)
                    .ok()
                    .map(|d| (path, d.type_))
            })
            .collect())
    }

    /// `GET /v1/sys/metrics?format=prometheus` (token): the Prometheus text exposition, served
    /// when the `telemetry` stanza sets a Prometheus retention time (an error otherwise).
    pub async fn metrics_prometheus(&self) -> Result<String, Error> {
        let path = "sys/metrics";
        let request = self.request(Method::GET, path, Some("format=prometheus"), Auth::Token)?;
        let (status, body) = self.execute(request, Method::GET, path).await?;
        if !status.is_success() {
            return Err(Error::from_status(path, status, &body));
        }
        String::from_utf8(body).map_err(|e| Error::Decode {
            path: path.to_owned(),
            reason: format!("not UTF-8 text at byte {}", e.utf8_error().valid_up_to()),
        })
    }

    /// `PUT /v1/sys/step-down` (token): the active node gives up leadership; another voter
    /// takes over. Sent to a standby, it is forwarded to the active node.
    pub async fn step_down(&self) -> Result<(), Error> {
        self.call_unit(Method::PUT, "sys/step-down", Auth::Token, None)
            .await
    }
}
