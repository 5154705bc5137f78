//! One control plane per test binary ([`shared`]) and a namespace per test ([`TestNamespace`]).
//!
//! Pattern for integration tests:
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! let control_plane = localcluster::shared().await?;
//! let ns = localcluster::TestNamespace::create(control_plane, "my-test").await?;
//! let client = control_plane.client()?; // a fresh client on *this* test's runtime
//! // ... use ns.name() ...
//! ns.delete().await?; // or let it drop
//! # Ok(()) }
//! ```
//!
//! Lifetimes: the shared control plane is started on a dedicated thread with its own runtime,
//! so no test's runtime owns it, and it lives in a static that is never dropped. Its processes
//! are stopped at process exit by the parent-death signal, and its directory is removed by the
//! janitor (see `process`). Clients are never shared across tests: each call to
//! [`crate::ControlPlane::client`] builds one on the caller's runtime, because a `kube::Client`
//! keeps running on the runtime that created it and breaks once that test's runtime is gone.

use std::{
    collections::BTreeMap,
    hash::{BuildHasher, Hasher, RandomState},
    sync::atomic::{AtomicU64, Ordering},
    thread,
    time::Duration,
};

use anyhow::{Result, anyhow, bail};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::{
    Resource,
    api::{Api, DeleteParams, ObjectMeta, PostParams},
};
use serde::de::DeserializeOwned;
use tokio::sync::{OnceCell, oneshot};

use crate::{ControlPlane, Options, wait::eventually};

/// Label on every [`TestNamespace`], so leftovers are easy to find in a kept cluster.
const TEST_NAMESPACE_LABEL: &str = "localcluster.openbao.org/test-namespace";

/// How long a new namespace may take to get its `default` ServiceAccount.
const SERVICE_ACCOUNT_TIMEOUT: Duration = Duration::from_secs(30);

type SharedCell = OnceCell<(Options, std::result::Result<ControlPlane, String>)>;
static SHARED: SharedCell = OnceCell::const_new();

/// The process-wide control plane with default [`Options`], started on first use.
///
/// A failed start is remembered: every later call returns the same error instead of trying
/// again (and taking as long) for each test.
pub async fn shared() -> Result<&'static ControlPlane> {
    shared_with(Options::default()).await
}

/// Like [`shared`] with options. All callers in one process must pass equal options, because
/// there is only one shared control plane; a mismatch is an error, not a silent surprise.
pub async fn shared_with(options: Options) -> Result<&'static ControlPlane> {
    let (started_with, result) = SHARED
        .get_or_init(|| async {
            let result = start_on_own_thread(options.clone()).await;
            (options.clone(), result)
        })
        .await;
    if *started_with != options {
        bail!(
            "the shared control plane was started with {started_with:?}; this caller wants \
             {options:?}. Use ControlPlane::start_with for a private one."
        );
    }
    result
        .as_ref()
        .map_err(|e| anyhow!("the shared control plane failed to start: {e}"))
}

async fn start_on_own_thread(options: Options) -> std::result::Result<ControlPlane, String> {
    let (tx, rx) = oneshot::channel();
    thread::Builder::new()
        .name("localcluster-shared".into())
        .spawn(move || {
            let result = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(anyhow::Error::from)
                .and_then(|rt| rt.block_on(ControlPlane::start_with(options)))
                .map_err(|e| format!("{e:#}"));
            // If nobody waits any more, the control plane in `result` is dropped: stopped.
            let _ = tx.send(result);
        })
        .map_err(|e| format!("spawning the start-up thread: {e}"))?;
    rx.await
        .unwrap_or_else(|_| Err("the start-up thread panicked".to_owned()))
}

/// A uniquely named namespace for one test, deleted by [`TestNamespace::delete`] or on drop.
///
/// Creation waits for the namespace's `default` ServiceAccount (made by the
/// controller-manager), because Pods cannot be created before it exists.
pub struct TestNamespace {
    name: String,
    client: kube::Client,
    config: kube::Config,
    deleted: bool,
}

impl TestNamespace {
    /// Creates `<prefix>-<random>`; `prefix` is lowercased and reduced to DNS-label characters.
    pub async fn create(control_plane: &ControlPlane, prefix: &str) -> Result<Self> {
        let client = control_plane.client()?;
        let name = unique_name(prefix);
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some(BTreeMap::from([(
                    TEST_NAMESPACE_LABEL.to_owned(),
                    "true".to_owned(),
                )])),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await?;
        let this = Self {
            name,
            client,
            config: control_plane.config().clone(),
            deleted: false,
        };
        let accounts: Api<ServiceAccount> = this.api();
        eventually(
            &format!("ServiceAccount {}/default", this.name),
            SERVICE_ACCOUNT_TIMEOUT,
            || async { Ok(accounts.get_opt("default").await?.map(|_| ())) },
        )
        .await?;
        Ok(this)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The admin client this namespace was created with (on the creating test's runtime).
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// An `Api` for a namespaced kind in this namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope> + Clone + DeserializeOwned,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }

    /// Deletes the namespace (the namespace controller removes its contents afterwards).
    pub async fn delete(mut self) -> Result<()> {
        self.deleted = true;
        delete_namespace(self.client.clone(), &self.name).await
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        if self.deleted {
            return;
        }
        // Drop may run on a runtime that is shutting down (the end of a #[tokio::test]) or on
        // none at all, so the delete gets its own short-lived runtime on its own thread.
        let (config, name) = (self.config.clone(), self.name.clone());
        let outcome = thread::spawn(move || -> Result<()> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async { delete_namespace(kube::Client::try_from(config)?, &name).await })
        })
        .join();
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("localcluster: deleting namespace {}: {e:#}", self.name),
            Err(_) => eprintln!("localcluster: deleting namespace {} panicked", self.name),
        }
    }
}

async fn delete_namespace(client: kube::Client, name: &str) -> Result<()> {
    match Api::<Namespace>::all(client)
        .delete(name, &DeleteParams::background())
        .await
    {
        Ok(_) => Ok(()),
        // Already gone (or going): what we wanted.
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// `<prefix>-<6 hex>`, a valid DNS label (at most 63 characters).
fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut cleaned: String = prefix
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    cleaned.truncate(52);
    let cleaned = cleaned.trim_matches('-');
    let cleaned = if cleaned.is_empty() { "test" } else { cleaned };
    // RandomState is randomly seeded per process; mixing in a counter and the pid keeps names
    // unique within and across test binaries without a rand dependency.
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    format!("{cleaned}-{:06x}", hasher.finish() & 0xff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_names_are_unique_dns_labels() {
        let a = unique_name("Webhook denies: ConfigMaps!");
        let b = unique_name("Webhook denies: ConfigMaps!");
        assert_ne!(a, b);
        assert!(a.starts_with("webhook-denies--configmaps-"), "{a}");
        let long = unique_name(&"x".repeat(100));
        assert!(long.len() <= 63, "{long}");
        assert!(
            long.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
        assert!(unique_name("--").starts_with("test-"));
    }
}
