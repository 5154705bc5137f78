//! The sockets the manager serves on. They are bound before the manager starts, so a port that
//! is taken fails the start at once (not after the warm-up), and tests can bind `127.0.0.1:0`
//! and read the ports back.

use std::net::SocketAddr;

use tokio::net::TcpListener;

/// Where each server listens; `None` disables it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListenAddresses {
    /// `/healthz`, `/readyz`.
    pub health: Option<SocketAddr>,
    /// Plain-HTTP `/metrics`.
    pub metrics: Option<SocketAddr>,
    /// HTTPS `/metrics`.
    pub secure_metrics: Option<SocketAddr>,
    /// The admission webhook (`None` when the webhook is off).
    pub webhook: Option<SocketAddr>,
}

/// The bound sockets. `None` disables a server.
#[derive(Debug, Default)]
pub struct Listeners {
    /// `/healthz`, `/readyz`.
    pub health: Option<TcpListener>,
    /// Plain-HTTP `/metrics`.
    pub metrics: Option<TcpListener>,
    /// HTTPS `/metrics`.
    pub secure_metrics: Option<TcpListener>,
    /// The admission webhook (required when the webhook is enabled).
    pub webhook: Option<TcpListener>,
}

impl Listeners {
    /// Bind every address of `addresses`; the error names the server and the address.
    pub async fn bind(addresses: &ListenAddresses) -> std::io::Result<Self> {
        async fn bind(
            what: &str,
            address: Option<SocketAddr>,
        ) -> std::io::Result<Option<TcpListener>> {
            match address {
                None => Ok(None),
                Some(address) => TcpListener::bind(address).await.map(Some).map_err(|e| {
                    std::io::Error::new(
                        e.kind(),
                        format!("cannot listen on {address} ({what}): {e}"),
                    )
                }),
            }
        }
        Ok(Self {
            health: bind("health probes", addresses.health).await?,
            metrics: bind("metrics", addresses.metrics).await?,
            secure_metrics: bind("HTTPS metrics", addresses.secure_metrics).await?,
            webhook: bind("webhook", addresses.webhook).await?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_taken_port_fails_the_bind_naming_the_server_and_the_address() {
        let taken = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = taken.local_addr().expect("address");
        let error = Listeners::bind(&ListenAddresses {
            metrics: Some(address),
            ..ListenAddresses::default()
        })
        .await
        .expect_err("the port is taken");
        let message = error.to_string();
        assert!(message.contains(&address.to_string()), "{message}");
        assert!(message.contains("(metrics)"), "{message}");
    }

    #[tokio::test]
    async fn disabled_servers_get_no_socket() {
        let listeners = Listeners::bind(&ListenAddresses {
            health: Some("127.0.0.1:0".parse().expect("address")),
            ..ListenAddresses::default()
        })
        .await
        .expect("bind");
        assert!(listeners.health.is_some());
        assert!(listeners.metrics.is_none());
        assert!(listeners.secure_metrics.is_none());
        assert!(listeners.webhook.is_none());
    }
}
