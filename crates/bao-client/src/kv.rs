//! A minimal KV version 2 surface (mount, write, read): enough for tests and smoke checks to
//! prove data survives restarts, failovers and snapshot restores.

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use crate::{BaoClient, Error, client::Auth, types::DataEnvelope};

/// How long [`BaoClient::mount_kv_v2`] waits for a fresh mount's upgrade step to finish.
const KV_UPGRADE_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// `data` of a KV v2 write.
#[derive(Deserialize)]
struct WriteData {
    version: u64,
}

/// `data` of a KV v2 read.
#[derive(Deserialize)]
struct ReadData {
    data: Option<Value>,
}

impl BaoClient {
    /// `POST /v1/sys/mounts/<mount>` (token): mounts a KV version 2 engine at `mount`, then
    /// waits until it serves.
    ///
    /// A fresh KV v2 mount first runs its "upgrade from non-versioned data" step and answers
    /// every request with 400 until that finishes (tens of milliseconds, longer on a loaded
    /// machine); returning before then hands the caller a mount whose first write fails.
    pub async fn mount_kv_v2(&self, mount: &str) -> Result<(), Error> {
        let mount = mount.trim_matches('/');
        self.call_unit(
            Method::POST,
            &format!("sys/mounts/{mount}"),
            Auth::Token,
            Some(serde_json::json!({ "type": "kv", "options": { "version": "2" } })),
        )
        .await?;
        let config = format!("{mount}/config");
        let deadline = tokio::time::Instant::now() + KV_UPGRADE_WAIT;
        loop {
            let (status, body) = self
                .call_raw(Method::GET, &config, Auth::Token, None)
                .await?;
            if status.is_success() {
                return Ok(());
            }
            let error = Error::from_status(&config, status, &body);
            let upgrading = matches!(&error, Error::Api { status: 400, errors, .. }
                if errors.iter().any(|e| e.contains("Upgrading from non-versioned")));
            if !upgrading || tokio::time::Instant::now() >= deadline {
                return Err(error);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// `POST /v1/<mount>/data/<key>` (token): writes `data` (a JSON object) as a new version
    /// and returns its version number.
    pub async fn kv_v2_put(&self, mount: &str, key: &str, data: &Value) -> Result<u64, Error> {
        let path = kv_path(mount, key);
        let written: DataEnvelope<WriteData> = self
            .call_json(
                Method::POST,
                &path,
                Auth::Token,
                Some(serde_json::json!({ "data": data })),
            )
            .await?;
        Ok(written.data.version)
    }

    /// `GET /v1/<mount>/data/<key>` (token): the latest version's data, or `None` when the
    /// key does not exist (or its latest version is deleted).
    pub async fn kv_v2_get(&self, mount: &str, key: &str) -> Result<Option<Value>, Error> {
        let path = kv_path(mount, key);
        let (status, body) = self.call_raw(Method::GET, &path, Auth::Token, None).await?;
        // KV answers a missing key with 404 and an empty `errors` array; a 404 that says
        // something (no such mount, for example) is a real error.
        if status.as_u16() == 404 {
            let error = Error::from_status(&path, status, &body);
            return match &error {
                Error::Api { errors, .. } if errors.is_empty() => Ok(None),
                _ => Err(error),
            };
        }
        if !status.is_success() {
            return Err(Error::from_status(&path, status, &body));
        }
        let read: DataEnvelope<ReadData> =
            serde_json::from_slice(&body).map_err(|e| Error::decode(&path, &e))?;
        Ok(read.data.data)
    }
}

fn kv_path(mount: &str, key: &str) -> String {
    format!("{}/data/{}", mount.trim_matches('/'), key.trim_matches('/'))
}
