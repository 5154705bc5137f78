//! The client's cap on response bodies, against a real HTTPS server on loopback (rustls over a
//! std socket, one connection per test) that offers far more than the cap: the client fails
//! with `ResponseTooLarge` naming the cap, and the server sees it stop reading long before the
//! body ends.

mod support;

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpListener},
    sync::Arc,
    thread::JoinHandle,
    time::Duration,
};

use bao_client::{BaoClient, ClientConfig, Error, MAX_RESPONSE_BYTES};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use support::TestPki;

/// What the server offers when it is not cut off: 1 GiB.
const OFFERED: u64 = 1 << 30;
/// Body bytes the server may get rid of before the client's close stops it: the cap plus the
/// socket buffers on both sides (a few MiB on Linux). Far below what is offered.
const MAX_WRITTEN: u64 = 64 << 20;

/// How the server frames its 200 answer.
#[derive(Clone, Copy, Debug)]
enum Framing {
    /// `Content-Length: OFFERED`, then the body.
    Declared,
    /// `Transfer-Encoding: chunked`, 64 KiB chunks up to `OFFERED`.
    Chunked,
}

/// One HTTPS connection on 127.0.0.1 answered with `head` and then `body` (called with the
/// bytes written so far, returning the next piece or `None` at the end). The thread returns
/// the body bytes it managed to write before the client went away.
fn serve(
    pki: &TestPki,
    head: String,
    mut body: impl FnMut(u64) -> Option<Vec<u8>> + Send + 'static,
) -> (SocketAddr, JoinHandle<u64>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(pki.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .expect("certificate PEM");
    let key = PrivateKeyDer::from_pem_slice(pki.key_pem.as_bytes()).expect("key PEM");
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server certificate");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().expect("accept");
        // Bounded even if the client never closed: a stuck write ends the thread.
        tcp.set_write_timeout(Some(Duration::from_secs(10)))
            .expect("write timeout");
        tcp.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        let connection = rustls::ServerConnection::new(Arc::new(config)).expect("TLS server");
        let mut stream = rustls::StreamOwned::new(connection, tcp);
        let mut request = Vec::new();
        let mut byte = [0u8; 1];
        while !request.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte) {
                Ok(1) => request.push(byte[0]),
                _ => return 0,
            }
        }
        if stream.write_all(head.as_bytes()).is_err() {
            return 0;
        }
        let mut written = 0u64;
        while let Some(piece) = body(written) {
            if stream
                .write_all(&piece)
                .and_then(|()| stream.flush())
                .is_err()
            {
                break;
            }
            written += piece.len() as u64;
        }
        written
    });
    (address, server)
}

/// A server that answers 200 with a body of `OFFERED` bytes framed as `framing`.
fn oversized(pki: &TestPki, framing: Framing) -> (SocketAddr, JoinHandle<u64>) {
    const CHUNK: usize = 64 * 1024;
    match framing {
        Framing::Declared => serve(
            pki,
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {OFFERED}\r\n\r\n"
            ),
            |written| (written < OFFERED).then(|| vec![b' '; CHUNK]),
        ),
        Framing::Chunked => serve(
            pki,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                .to_string(),
            |written| {
                (written < OFFERED).then(|| {
                    let mut piece = format!("{CHUNK:x}\r\n").into_bytes();
                    piece.extend(std::iter::repeat_n(b' ', CHUNK));
                    piece.extend_from_slice(b"\r\n");
                    piece
                })
            },
        ),
    }
}

fn client(pki: &TestPki, address: SocketAddr) -> BaoClient {
    BaoClient::new(
        ClientConfig::new(address, "127.0.0.1", pki.ca_pem.clone())
            .with_request_timeout(Duration::from_secs(20)),
    )
    .expect("client")
}

fn assert_too_large(err: &Error, path: &str) {
    assert!(
        matches!(err, Error::ResponseTooLarge { limit, .. } if *limit == MAX_RESPONSE_BYTES),
        "{err:?}"
    );
    assert_eq!(err.category(), "response_too_large");
    let message = err.to_string();
    assert!(
        message.contains(path)
            && message.contains(&format!("larger than {MAX_RESPONSE_BYTES} bytes")),
        "{message}"
    );
}

async fn written(server: JoinHandle<u64>) -> u64 {
    let written = tokio::task::spawn_blocking(move || server.join().expect("server thread"))
        .await
        .expect("join");
    println!("the server wrote {written} body bytes of {OFFERED} offered");
    written
}

#[tokio::test]
async fn a_declared_gibibyte_health_answer_fails_on_its_length_before_the_body_is_read() {
    let pki = TestPki::generate(&[], &[]);
    let (address, server) = oversized(&pki, Framing::Declared);
    let err = client(&pki, address)
        .health()
        .await
        .expect_err("a 1 GiB answer is refused");
    assert_too_large(&err, "sys/health");
    let written = written(server).await;
    assert!(
        written < MAX_WRITTEN,
        "the server wrote {written} of {OFFERED} bytes before the client hung up"
    );
}

#[tokio::test]
async fn an_endless_chunked_answer_fails_once_the_bytes_read_pass_the_cap() {
    let pki = TestPki::generate(&[], &[]);
    let (address, server) = oversized(&pki, Framing::Chunked);
    let err = client(&pki, address)
        .seal_status()
        .await
        .expect_err("an endless answer is refused");
    assert_too_large(&err, "sys/seal-status");
    let written = written(server).await;
    assert!(
        written > MAX_RESPONSE_BYTES as u64,
        "the client read past the cap before refusing ({written} bytes written)"
    );
    assert!(
        written < MAX_WRITTEN,
        "the server wrote {written} of {OFFERED} bytes before the client hung up"
    );
}

#[tokio::test]
async fn an_answer_just_under_the_cap_is_read_whole_across_many_chunks() {
    let pki = TestPki::generate(&[], &[]);
    let json = br#"{"type":"static","initialized":true,"sealed":false}"#;
    // Whitespace after the JSON is still JSON; the body ends 1 KiB short of the cap.
    let mut body = json.to_vec();
    body.resize(MAX_RESPONSE_BYTES - 1024, b' ');
    let mut pieces = body
        .chunks(16 * 1024)
        .map(|c| {
            let mut piece = format!("{:x}\r\n", c.len()).into_bytes();
            piece.extend_from_slice(c);
            piece.extend_from_slice(b"\r\n");
            piece
        })
        .collect::<Vec<_>>()
        .into_iter();
    let mut last = Some(b"0\r\n\r\n".to_vec());
    let (address, server) = serve(
        &pki,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_string(),
        move |_| pieces.next().or_else(|| last.take()),
    );
    let status = client(&pki, address)
        .seal_status()
        .await
        .expect("a body under the cap is read");
    assert_eq!(status.seal_type, "static");
    assert!(status.initialized && !status.sealed, "{status:?}");
    assert!(written(server).await > (MAX_RESPONSE_BYTES - 1024) as u64);
}
