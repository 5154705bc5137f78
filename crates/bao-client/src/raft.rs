//! `sys/storage/raft/` endpoints: peer set, autopilot, peer removal and snapshots.

use reqwest::{Method, header::CONTENT_TYPE};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_util::io::ReaderStream;

use crate::{
    AutopilotConfiguration, AutopilotConfigurationUpdate, AutopilotState, BaoClient, Error,
    MAX_RESPONSE_BYTES, RaftConfiguration, RestoreMode,
    client::{Auth, read_capped},
    types::DataEnvelope,
};

/// `{"data": {"config": {...}}}` of the configuration endpoint.
#[derive(serde::Deserialize)]
struct ConfigEnvelope {
    config: RaftConfiguration,
}

impl BaoClient {
    /// `GET /v1/sys/storage/raft/configuration` (token): every Raft peer, voter or not.
    pub async fn raft_configuration(&self) -> Result<RaftConfiguration, Error> {
        let envelope: DataEnvelope<ConfigEnvelope> = self
            .call_json(
                Method::GET,
                "sys/storage/raft/configuration",
                Auth::Token,
                None,
            )
            .await?;
        Ok(envelope.data.config)
    }

    /// `GET /v1/sys/storage/raft/autopilot/state` (token): health and failure tolerance as
    /// autopilot sees them.
    pub async fn autopilot_state(&self) -> Result<AutopilotState, Error> {
        let envelope: DataEnvelope<AutopilotState> = self
            .call_json(
                Method::GET,
                "sys/storage/raft/autopilot/state",
                Auth::Token,
                None,
            )
            .await?;
        Ok(envelope.data)
    }

    /// `GET /v1/sys/storage/raft/autopilot/configuration` (token).
    pub async fn autopilot_configuration(&self) -> Result<AutopilotConfiguration, Error> {
        let envelope: DataEnvelope<AutopilotConfiguration> = self
            .call_json(
                Method::GET,
                "sys/storage/raft/autopilot/configuration",
                Auth::Token,
                None,
            )
            .await?;
        Ok(envelope.data)
    }

    /// `POST /v1/sys/storage/raft/autopilot/configuration` (token): changes the fields that
    /// are set in `update`, keeps the others.
    pub async fn set_autopilot_configuration(
        &self,
        update: &AutopilotConfigurationUpdate,
    ) -> Result<(), Error> {
        let path = "sys/storage/raft/autopilot/configuration";
        let body = serde_json::to_value(update).map_err(|e| Error::decode(path, &e))?;
        self.call_unit(Method::POST, path, Auth::Token, Some(body))
            .await
    }

    /// `POST /v1/sys/storage/raft/remove-peer` (token): removes `server_id` from the peer set.
    pub async fn remove_raft_peer(&self, server_id: &str) -> Result<(), Error> {
        self.call_unit(
            Method::POST,
            "sys/storage/raft/remove-peer",
            Auth::Token,
            Some(serde_json::json!({ "server_id": server_id })),
        )
        .await
    }

    /// `GET /v1/sys/storage/raft/snapshot` (token), streamed chunk by chunk into `out` (never
    /// held in memory whole). Returns the number of bytes written; `out` is flushed. Works
    /// against a standby too, which forwards to the active node.
    ///
    /// On error `out` may hold a partial snapshot; the caller decides whether to delete it.
    pub async fn save_snapshot<W>(&self, out: &mut W) -> Result<u64, Error>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        let path = "sys/storage/raft/snapshot";
        let request = self
            .request(Method::GET, path, None, Auth::Token)?
            .timeout(self.snapshot_timeout());
        let mut response = self.send(request, &Method::GET, path).await?;
        let status = response.status();
        if !status.is_success() {
            let body = read_capped(response, path, MAX_RESPONSE_BYTES).await?;
            return Err(Error::from_status(path, status, &body));
        }
        let mut written: u64 = 0;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| Error::from_transport(path, e))?
        {
            out.write_all(&chunk).await.map_err(|source| Error::Io {
                path: path.to_owned(),
                source,
            })?;
            written += chunk.len() as u64;
        }
        out.flush().await.map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        tracing::debug!(path, bytes = written, "OpenBao snapshot saved");
        Ok(written)
    }

    /// Restores a Raft snapshot read from `snapshot` (streamed, never held whole) with
    /// `POST /v1/sys/storage/raft/snapshot[-force]` (token).
    ///
    /// OpenBao answers as soon as the snapshot is installed, but reads keep failing for about
    /// five seconds while the active node invalidates its caches: poll before relying on the
    /// restored data.
    pub async fn restore_snapshot<R>(&self, snapshot: R, mode: RestoreMode) -> Result<(), Error>
    where
        R: AsyncRead + Send + 'static,
    {
        self.restore_snapshot_body(
            reqwest::Body::wrap_stream(ReaderStream::new(snapshot)),
            mode,
        )
        .await
    }

    /// Like [`BaoClient::restore_snapshot`], with any request body (a file, a byte buffer, or
    /// a stream from object storage wrapped with `reqwest::Body::wrap_stream`).
    pub async fn restore_snapshot_body(
        &self,
        body: reqwest::Body,
        mode: RestoreMode,
    ) -> Result<(), Error> {
        let path = match mode {
            RestoreMode::SameCluster => "sys/storage/raft/snapshot",
            RestoreMode::Force => "sys/storage/raft/snapshot-force",
        };
        let request = self
            .request(Method::POST, path, None, Auth::Token)?
            .timeout(self.snapshot_timeout())
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(body);
        let (status, response) = self.execute(request, Method::POST, path).await?;
        if !status.is_success() {
            return Err(Error::from_status(path, status, &response));
        }
        Ok(())
    }
}
