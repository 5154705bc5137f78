//! Kubeconfig files: the admin's and the components' (client certificates) and minted
//! service-account ones (bearer tokens). All are self-contained (data embedded, no file
//! references), so they keep working when copied elsewhere.

use std::path::Path;

use anyhow::{Context, Result};
use base64::{Engine, engine::general_purpose::STANDARD};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::{Value, json};

use crate::pki::{CertKey, write_file};

/// A kubeconfig for `user` authenticating with a client certificate.
pub(crate) fn with_client_cert(server: &str, ca_pem: &str, user: &str, cert: &CertKey) -> Value {
    document(
        server,
        ca_pem,
        user,
        json!({
            "client-certificate-data": STANDARD.encode(&cert.cert_pem),
            "client-key-data": STANDARD.encode(&cert.key_pem),
        }),
        "default",
    )
}

/// A kubeconfig for `user` authenticating with a bearer token, defaulting to `namespace`.
pub(crate) fn with_token(
    server: &str,
    ca_pem: &str,
    user: &str,
    token: &str,
    namespace: &str,
) -> Value {
    document(server, ca_pem, user, json!({ "token": token }), namespace)
}

fn document(server: &str, ca_pem: &str, user: &str, auth: Value, namespace: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": "localcluster",
            "cluster": {
                "server": server,
                "certificate-authority-data": STANDARD.encode(ca_pem),
            },
        }],
        "users": [{ "name": user, "user": auth }],
        "contexts": [{
            "name": "localcluster",
            "context": { "cluster": "localcluster", "user": user, "namespace": namespace },
        }],
        "current-context": "localcluster",
    })
}

/// Writes the kubeconfig (mode 0600: it holds credentials) and returns it parsed.
pub(crate) fn write(path: &Path, doc: &Value) -> Result<Kubeconfig> {
    let yaml = serde_yaml::to_string(doc)?;
    write_file(path, &yaml, 0o600)?;
    Kubeconfig::from_yaml(&yaml).with_context(|| format!("parsing {}", path.display()))
}

/// The client configuration a kubeconfig describes (its current context).
pub(crate) async fn config_from(kubeconfig: Kubeconfig) -> Result<kube::Config> {
    Ok(kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?)
}

/// A client for the current context of the kubeconfig at `path`, bound to the calling tokio
/// runtime.
pub async fn client_from_kubeconfig(path: &Path) -> Result<kube::Client> {
    let kubeconfig =
        Kubeconfig::read_from(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(kube::Client::try_from(config_from(kubeconfig).await?)?)
}
