//! Startup, readiness and liveness probes, run as the pod specifies them (initial delay,
//! period, timeout, success and failure thresholds).
//!
//! `httpGet` and `tcpSocket` probes connect from the root namespace to the pod IP (routed
//! through the node namespace), as the kubelet connects from the host; HTTPS skips certificate
//! verification like the kubelet does. When the node enforces NetworkPolicies they connect from
//! the node namespace instead (source: the node's IP), because that is the host the firewall
//! protects: kube-router lets the node's own traffic reach its pods, as a kubelet's probes do. `exec` probes run inside the container with `nsenter`.
//! `grpc` probes are not supported and always fail with a message saying so.

use std::{
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    sync::Arc,
    time::Duration,
};

use anyhow::{Context, Result, anyhow, bail};
use k8s_openapi::{
    api::core::v1::{ContainerPort, HTTPGetAction, Probe},
    apimachinery::pkg::util::intstr::IntOrString,
};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::TcpStream,
    sync::mpsc,
    task::JoinHandle,
    time::{sleep, timeout},
};
use tokio_rustls::{
    TlsConnector,
    rustls::{
        self, ClientConfig, DigitallySignedStruct, SignatureScheme,
        client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
        crypto::CryptoProvider,
        pki_types::{CertificateDer, ServerName, UnixTime},
    },
};

use super::container::{self, Identity};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Startup,
    Readiness,
    Liveness,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Startup => "Startup",
            Kind::Readiness => "Readiness",
            Kind::Liveness => "Liveness",
        }
    }
}

/// A probe's verdict changed (after its thresholds).
#[derive(Debug)]
pub(crate) struct Outcome {
    pub container: String,
    /// The container's start count when the probe began; stale outcomes are ignored.
    pub generation: u32,
    pub kind: Kind,
    pub success: bool,
    pub message: String,
}

/// What a probe needs to reach its container.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub container: String,
    pub generation: u32,
    pub ip: IpAddr,
    pub pid: u32,
    pub identity: Identity,
    pub env: Vec<(String, String)>,
    pub ports: Vec<ContainerPort>,
    /// The namespace TCP and HTTP probes connect from; `None`: this (the root) one.
    pub source_netns: Option<PathBuf>,
}

/// Runs `probe` until the receiver goes away (or, for startup probes, until the first
/// success), reporting every change of verdict.
pub(crate) fn spawn(
    kind: Kind,
    probe: Probe,
    target: Target,
    tls: Arc<ClientConfig>,
    outcomes: mpsc::Sender<Outcome>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let seconds = |v: Option<i32>, default: u64| {
            Duration::from_secs(v.and_then(|v| u64::try_from(v).ok()).unwrap_or(default))
        };
        let initial_delay = seconds(probe.initial_delay_seconds, 0);
        let period = seconds(probe.period_seconds, 10).max(Duration::from_secs(1));
        let limit = seconds(probe.timeout_seconds, 1).max(Duration::from_secs(1));
        let success_threshold = probe.success_threshold.unwrap_or(1).max(1);
        let failure_threshold = probe.failure_threshold.unwrap_or(3).max(1);
        // The kubelet's initial verdicts: not ready until proven, alive until proven dead.
        let mut verdict = match kind {
            Kind::Readiness | Kind::Startup => false,
            Kind::Liveness => true,
        };
        let (mut successes, mut failures) = (0, 0);
        sleep(initial_delay).await;
        loop {
            let result = match timeout(limit, run_once(&probe, &target, &tls, limit)).await {
                Ok(result) => result,
                Err(_) => Err(anyhow!("timed out after {}s", limit.as_secs())),
            };
            let message = match &result {
                Ok(()) => {
                    successes += 1;
                    failures = 0;
                    String::new()
                }
                Err(e) => {
                    failures += 1;
                    successes = 0;
                    format!("{} probe failed: {e:#}", kind.name())
                }
            };
            let changed = if !verdict && successes >= success_threshold {
                verdict = true;
                true
            } else if verdict && failures >= failure_threshold {
                verdict = false;
                true
            } else {
                // Readiness and startup start out failing; report their first failures too,
                // so the pod's events say why it is not ready yet.
                false
            };
            if changed || (failures == failure_threshold && !verdict && kind != Kind::Liveness) {
                let outcome = Outcome {
                    container: target.container.clone(),
                    generation: target.generation,
                    kind,
                    success: verdict,
                    message: message.clone(),
                };
                if outcomes.send(outcome).await.is_err() {
                    return;
                }
            }
            if kind == Kind::Startup && verdict {
                return;
            }
            if outcomes.is_closed() {
                return;
            }
            sleep(period).await;
        }
    })
}

async fn run_once(
    probe: &Probe,
    target: &Target,
    tls: &Arc<ClientConfig>,
    limit: Duration,
) -> Result<()> {
    if let Some(action) = &probe.http_get {
        return http_get(action, target, tls).await;
    }
    if let Some(action) = &probe.tcp_socket {
        let port = resolve_port(&action.port, &target.ports)?;
        let host = match &action.host {
            Some(h) if !h.is_empty() => h.parse().context("tcpSocket.host is not an IP")?,
            _ => target.ip,
        };
        connect(SocketAddr::new(host, port), target).await?;
        return Ok(());
    }
    if let Some(action) = &probe.exec {
        let argv = action.command.clone().unwrap_or_default();
        if argv.is_empty() {
            bail!("exec probe without a command");
        }
        let command = container::exec_command(target.pid, &target.identity, &target.env, &argv);
        let mut child = tokio::process::Command::new(&command[0]);
        child
            .args(&command[1..])
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        let output = timeout(limit, child.output())
            .await
            .map_err(|_| anyhow!("timed out"))??;
        if output.status.success() {
            return Ok(());
        }
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        bail!(
            "command {argv:?} exited with {}: {}",
            output.status.code().unwrap_or(-1),
            text.trim()
        );
    }
    if probe.grpc.is_some() {
        bail!("grpc probes are not supported by the localcluster node");
    }
    bail!("the probe names no action")
}

/// A connection to `addr` from the probe's source namespace.
async fn connect(addr: SocketAddr, target: &Target) -> Result<TcpStream> {
    match &target.source_netns {
        None => Ok(TcpStream::connect(addr).await?),
        Some(netns) => {
            let netns = netns.clone();
            let socket =
                tokio::task::spawn_blocking(move || super::network::tcp_socket_in(&netns, addr))
                    .await??;
            Ok(socket.connect(addr).await?)
        }
    }
}

fn resolve_port(port: &IntOrString, ports: &[ContainerPort]) -> Result<u16> {
    match port {
        IntOrString::Int(n) => Ok(u16::try_from(*n)?),
        IntOrString::String(name) => {
            if let Ok(n) = name.parse() {
                return Ok(n);
            }
            let found = ports
                .iter()
                .find(|p| p.name.as_deref() == Some(name.as_str()))
                .with_context(|| format!("no container port named {name:?}"))?;
            Ok(u16::try_from(found.container_port)?)
        }
    }
}

async fn http_get(action: &HTTPGetAction, target: &Target, tls: &Arc<ClientConfig>) -> Result<()> {
    let port = resolve_port(&action.port, &target.ports)?;
    let host: IpAddr = match &action.host {
        Some(h) if !h.is_empty() => h.parse().context("httpGet.host is not an IP")?,
        _ => target.ip,
    };
    let path = action.path.clone().unwrap_or_else(|| "/".to_owned());
    let mut request = format!("GET {path} HTTP/1.1\r\n");
    let mut host_header = format!("{host}:{port}");
    let mut extra = String::new();
    for header in action.http_headers.iter().flatten() {
        if header.name.eq_ignore_ascii_case("host") {
            host_header = header.value.clone();
        } else {
            extra.push_str(&format!("{}: {}\r\n", header.name, header.value));
        }
    }
    request.push_str(&format!(
        "Host: {host_header}\r\nUser-Agent: kube-probe/1.37\r\nAccept: */*\r\n{extra}Connection: close\r\n\r\n"
    ));
    let stream = connect(SocketAddr::new(host, port), target).await?;
    let status = if action.scheme.as_deref() == Some("HTTPS") {
        let stream = TlsConnector::from(tls.clone())
            .connect(ServerName::IpAddress(host.into()), stream)
            .await
            .context("TLS handshake")?;
        status_code(stream, &request).await?
    } else {
        status_code(stream, &request).await?
    };
    if (200..400).contains(&status) {
        Ok(())
    } else {
        bail!("HTTP probe failed with statuscode: {status}")
    }
}

/// Sends `request` and reads the status code of the answer.
async fn status_code<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: &str,
) -> Result<u16> {
    stream.write_all(request.as_bytes()).await?;
    let mut buffer = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    while !buffer.windows(2).any(|w| w == b"\r\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 || buffer.len() > 8192 {
            break;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let line = String::from_utf8_lossy(&buffer);
    let line = line.lines().next().unwrap_or_default();
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("not an HTTP response: {line:?}"))
}

/// A TLS client that accepts any server certificate (as kubelet probes do) but still checks
/// the handshake signatures.
pub(crate) fn insecure_tls() -> Result<Arc<ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_ports_resolve_through_the_container_ports() {
        let ports = vec![ContainerPort {
            name: Some("api".into()),
            container_port: 8200,
            ..ContainerPort::default()
        }];
        assert_eq!(
            resolve_port(&IntOrString::String("api".into()), &ports).ok(),
            Some(8200)
        );
        assert_eq!(
            resolve_port(&IntOrString::Int(8201), &ports).ok(),
            Some(8201)
        );
        assert!(resolve_port(&IntOrString::String("nope".into()), &ports).is_err());
    }

    #[tokio::test]
    async fn the_status_code_is_read_from_the_first_line() {
        let (client, mut server) = tokio::io::duplex(1024);
        let answer = tokio::spawn(async move {
            let mut request = [0u8; 64];
            let _ = server.read(&mut request).await;
            server
                .write_all(b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\n\r\n")
                .await
                .expect("write");
        });
        let code = status_code(client, "GET / HTTP/1.1\r\n\r\n")
            .await
            .expect("a code");
        assert_eq!(code, 429);
        answer.await.expect("server task");
    }
}
