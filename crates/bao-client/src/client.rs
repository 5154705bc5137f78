//! [`BaoClient`]: connection setup (TLS pinned to one CA, verified against a server name that
//! may differ from the address) and the request plumbing every endpoint shares.

use std::{
    fmt,
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::{Duration, Instant},
};

use reqwest::{
    Method, RequestBuilder, StatusCode,
    header::{CONTENT_TYPE, HeaderValue},
};
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use serde::de::DeserializeOwned;
use zeroize::Zeroize;

use crate::{Error, SecretString};

/// The header OpenBao reads the client token from (it kept Vault's name).
const TOKEN_HEADER: &str = "X-Vault-Token";

/// Largest response body read into memory, in bytes (1 MiB). Health, seal status, init, leader,
/// Raft configuration and autopilot answers are a few KiB even for large clusters, so anything
/// near this is not OpenBao speaking; without a cap a misbehaving server (or whatever answers
/// on a pod IP) could make the operator buffer an unbounded body. Snapshots are never read
/// through this path: [`BaoClient::save_snapshot`] streams them to a writer.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// How to reach one OpenBao server.
#[derive(Clone)]
pub struct ClientConfig {
    /// Where to connect, e.g. the pod IP and port 8200.
    pub address: SocketAddr,
    /// The name the server certificate must be valid for, e.g.
    /// `bao-0.bao-internal.prod.svc`. It is also the `Host` of every request. An IP address
    /// is allowed when the certificate has it as a SAN; it must then be `address`'s IP.
    pub server_name: String,
    /// PEM bundle of the CA certificates to trust. Only these are trusted: no system roots,
    /// because a cluster's serving certificates come from its own CA.
    pub ca_pem: Vec<u8>,
    /// Limit for establishing the TCP connection and TLS handshake (default 5 s).
    pub connect_timeout: Duration,
    /// Limit for a whole request including its response body (default 30 s).
    pub request_timeout: Duration,
    /// Limit for snapshot save and restore, which move the whole database (default 30 min).
    pub snapshot_timeout: Duration,
}

impl ClientConfig {
    /// A configuration with the default timeouts.
    pub fn new(
        address: SocketAddr,
        server_name: impl Into<String>,
        ca_pem: impl Into<Vec<u8>>,
    ) -> Self {
        Self {
            address,
            server_name: server_name.into(),
            ca_pem: ca_pem.into(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            snapshot_timeout: Duration::from_secs(30 * 60),
        }
    }

    /// Sets [`ClientConfig::connect_timeout`].
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`ClientConfig::request_timeout`].
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets [`ClientConfig::snapshot_timeout`].
    pub fn with_snapshot_timeout(mut self, timeout: Duration) -> Self {
        self.snapshot_timeout = timeout;
        self
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("address", &self.address)
            .field("server_name", &self.server_name)
            .field("ca_pem_bytes", &self.ca_pem.len())
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("snapshot_timeout", &self.snapshot_timeout)
            .finish()
    }
}

/// A client for one OpenBao server. Cheap to clone (the connection pool is shared).
///
/// Endpoints that need a token use the one set with [`BaoClient::with_token`]; the token is
/// sent as a sensitive header and never logged. Requests are logged at `debug` with method,
/// path, status and duration only.
#[derive(Clone)]
pub struct BaoClient {
    http: reqwest::Client,
    /// `https://<server_name>:<port>`; the host resolves to `address` inside this client only.
    base_url: Arc<str>,
    address: SocketAddr,
    server_name: Arc<str>,
    token: Option<SecretString>,
    request_timeout: Duration,
    snapshot_timeout: Duration,
}

impl fmt::Debug for BaoClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BaoClient")
            .field("address", &self.address)
            .field("server_name", &self.server_name)
            .field("has_token", &self.token.is_some())
            .finish()
    }
}

/// Whether a request carries the client token.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    None,
    Token,
}

impl BaoClient {
    /// Builds a client. Fails with [`Error::Config`] for a CA bundle without certificates, a
    /// server name that is not a valid DNS name or IP, or an IP server name other than the
    /// address's IP.
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let tls = tls_config(&config.ca_pem)?;
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(config.connect_timeout)
            // Pod IPs must never go through an HTTP(S)_PROXY from the environment.
            .no_proxy()
            // A redirect would carry the token header to whatever host it names, and reqwest
            // only strips `Authorization` on cross-host redirects; OpenBao forwards standby
            // requests itself, so a redirect is surfaced as an error instead.
            .redirect(reqwest::redirect::Policy::none())
            .https_only(true)
            .user_agent(concat!("openbao-bao-client/", env!("CARGO_PKG_VERSION")));

        let server_name = config.server_name.trim().to_ascii_lowercase();
        let host = match server_name.parse::<IpAddr>() {
            Ok(ip) if ip == config.address.ip() => match ip {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => format!("[{v6}]"),
            },
            Ok(ip) => {
                return Err(Error::Config(format!(
                    "server name {ip} is an IP address other than the address {}; use a DNS \
                     name to verify against a different identity",
                    config.address
                )));
            }
            Err(_) => {
                ServerName::try_from(server_name.as_str()).map_err(|_| {
                    Error::Config(format!(
                        "server name {server_name:?} is not a valid DNS name"
                    ))
                })?;
                // The URL names the certificate identity; this override makes the connection
                // go to the address instead of asking DNS. rustls then verifies the
                // certificate against the URL's host, which is exactly the server name.
                builder = builder.resolve(&server_name, config.address);
                server_name.clone()
            }
        };
        let http = builder
            .build()
            .map_err(|e| Error::Config(format!("building the HTTP client: {e}")))?;
        Ok(Self {
            http,
            base_url: format!("https://{host}:{}", config.address.port()).into(),
            address: config.address,
            server_name: server_name.into(),
            token: None,
            request_timeout: config.request_timeout,
            snapshot_timeout: config.snapshot_timeout,
        })
    }

    /// A clone of this client that sends `token` with every request that needs one. The
    /// connection pool is shared, so this is cheap enough to do per call.
    pub fn with_token(&self, token: SecretString) -> Self {
        Self {
            token: Some(token),
            ..self.clone()
        }
    }

    /// The address this client connects to.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The name the server certificate is verified against.
    pub fn server_name(&self) -> &str {
        &self.server_name
    }

    /// Whether a token is set.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    pub(crate) fn snapshot_timeout(&self) -> Duration {
        self.snapshot_timeout
    }

    /// A request for `/v1/<path>[?<query>]` with the request timeout and, for
    /// [`Auth::Token`], the token.
    pub(crate) fn request(
        &self,
        method: Method,
        path: &str,
        query: Option<&str>,
        auth: Auth,
    ) -> Result<RequestBuilder, Error> {
        let url = match query {
            Some(query) => format!("{}/v1/{path}?{query}", self.base_url),
            None => format!("{}/v1/{path}", self.base_url),
        };
        let mut request = self.http.request(method, url).timeout(self.request_timeout);
        if auth == Auth::Token {
            let token = self.token.as_ref().ok_or_else(|| Error::MissingToken {
                path: path.to_owned(),
            })?;
            // A token with characters a header cannot carry is a configuration problem; the
            // message must not include it.
            let mut value = HeaderValue::from_str(token.expose_secret()).map_err(|_| {
                Error::Config("the token contains characters not allowed in an HTTP header".into())
            })?;
            // Keeps it out of `Debug` output of requests and out of header compression tables.
            value.set_sensitive(true);
            request = request.header(TOKEN_HEADER, value);
        }
        Ok(request)
    }

    /// Sends a request and logs method, path, status and duration (never headers or bodies).
    pub(crate) async fn send(
        &self,
        request: RequestBuilder,
        method: &Method,
        path: &str,
    ) -> Result<reqwest::Response, Error> {
        let started = Instant::now();
        match request.send().await {
            Ok(response) => {
                tracing::debug!(
                    %method,
                    path,
                    status = response.status().as_u16(),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "OpenBao request"
                );
                Ok(response)
            }
            Err(source) => {
                let err = Error::from_transport(path, source);
                tracing::debug!(
                    %method,
                    path,
                    error = err.category(),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "OpenBao request failed"
                );
                Err(err)
            }
        }
    }

    /// Sends a request and reads its (small) response body, at most [`MAX_RESPONSE_BYTES`].
    pub(crate) async fn execute(
        &self,
        request: RequestBuilder,
        method: Method,
        path: &str,
    ) -> Result<(StatusCode, Vec<u8>), Error> {
        let response = self.send(request, &method, path).await?;
        let status = response.status();
        let body = read_capped(response, path, MAX_RESPONSE_BYTES).await?;
        Ok((status, body))
    }

    /// A JSON call that expects a 2xx with a body of type `T`.
    pub(crate) async fn call_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        auth: Auth,
        body: Option<serde_json::Value>,
    ) -> Result<T, Error> {
        let (status, bytes) = self.call_raw(method, path, auth, body).await?;
        if !status.is_success() {
            return Err(Error::from_status(path, status, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| Error::decode(path, &e))
    }

    /// A JSON call that expects a 2xx and ignores the body (most writes answer 204).
    pub(crate) async fn call_unit(
        &self,
        method: Method,
        path: &str,
        auth: Auth,
        body: Option<serde_json::Value>,
    ) -> Result<(), Error> {
        let (status, bytes) = self.call_raw(method, path, auth, body).await?;
        if !status.is_success() {
            return Err(Error::from_status(path, status, &bytes));
        }
        Ok(())
    }

    /// A call with an optional JSON body; any status is returned to the caller.
    pub(crate) async fn call_raw(
        &self,
        method: Method,
        path: &str,
        auth: Auth,
        body: Option<serde_json::Value>,
    ) -> Result<(StatusCode, Vec<u8>), Error> {
        let mut request = self.request(method.clone(), path, None, auth)?;
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        self.execute(request, method, path).await
    }
}

/// The body of `response`, failing with [`Error::ResponseTooLarge`] as soon as it is known to
/// exceed `limit` bytes: from `Content-Length` before reading any of it, else once the chunks
/// read pass the limit. The rest is never read; dropping the response closes the connection.
///
/// Bodies can hold secrets (the init response holds the root token), so the buffer grows by
/// hand and every buffer it outgrows is wiped: `Vec`'s own growth would free old copies as they
/// are.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    path: &str,
    limit: usize,
) -> Result<Vec<u8>, Error> {
    let too_large = || Error::ResponseTooLarge {
        path: path.to_owned(),
        limit,
    };
    let declared = response.content_length();
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    let capacity = declared.map_or(0, |length| usize::try_from(length).unwrap_or(limit));
    let mut body = Vec::with_capacity(capacity);
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Error::from_transport(path, e))?
    {
        let needed = body.len() + chunk.len();
        if needed > limit {
            body.zeroize();
            return Err(too_large());
        }
        if needed > body.capacity() {
            let mut bigger = Vec::with_capacity(needed.max(body.capacity() * 2).min(limit));
            bigger.extend_from_slice(&body);
            body.zeroize();
            body = bigger;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A rustls client configuration that trusts exactly the certificates in `ca_pem`, with the
/// ring provider (the one kube uses, so a binary never carries two) and HTTP/1.1 over ALPN.
fn tls_config(ca_pem: &[u8]) -> Result<rustls::ClientConfig, Error> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        let cert =
            cert.map_err(|e| Error::Config(format!("the CA bundle is not valid PEM: {e}")))?;
        roots.add(cert).map_err(|e| {
            Error::Config(format!(
                "a CA bundle certificate cannot be used as a root: {e}"
            ))
        })?;
    }
    if roots.is_empty() {
        return Err(Error::Config(
            "the CA bundle contains no PEM certificate".into(),
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS protocol versions: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca_pem() -> String {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.self_signed(&key).expect("self-signed").pem()
    }

    fn addr() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 8200))
    }

    #[test]
    fn a_client_is_built_for_a_dns_name_that_differs_from_the_address() {
        let client = BaoClient::new(ClientConfig::new(
            addr(),
            "Bao-0.Bao-Internal.ns.svc",
            ca_pem(),
        ))
        .expect("client");
        assert_eq!(client.server_name(), "bao-0.bao-internal.ns.svc");
        assert_eq!(&*client.base_url, "https://bao-0.bao-internal.ns.svc:8200");
        assert!(!client.has_token());
        let with_token = client.with_token(SecretString::new("s.secret"));
        assert!(with_token.has_token());
        assert!(!format!("{with_token:?}").contains("s.secret"));
    }

    #[test]
    fn bad_configurations_are_rejected_with_config_errors() {
        let cases = [
            ClientConfig::new(addr(), "bao-0.svc", "not a pem"),
            ClientConfig::new(addr(), "bad name!", ca_pem()),
            ClientConfig::new(addr(), "127.0.0.2", ca_pem()),
        ];
        for config in cases {
            let debug = format!("{config:?}");
            match BaoClient::new(config) {
                Err(err) => assert_eq!(err.category(), "config", "{debug}: {err}"),
                Ok(_) => panic!("{debug} should be rejected"),
            }
        }
    }

    #[test]
    fn a_token_that_cannot_be_a_header_is_rejected_without_echoing_it() {
        let client =
            BaoClient::new(ClientConfig::new(addr(), "127.0.0.1", ca_pem())).expect("client");
        let err = client
            .with_token(SecretString::new("s.abc\ndef"))
            .request(Method::GET, "sys/leader", None, Auth::Token)
            .expect_err("newline is not allowed");
        assert_eq!(err.category(), "config");
        assert!(!err.to_string().contains("s.abc"), "{err}");
    }

    #[test]
    fn token_endpoints_fail_fast_without_a_token() {
        let client =
            BaoClient::new(ClientConfig::new(addr(), "127.0.0.1", ca_pem())).expect("client");
        let err = client
            .request(Method::PUT, "sys/step-down", None, Auth::Token)
            .expect_err("needs a token");
        assert_eq!(err.category(), "missing_token");
    }
}
