//! A client that keeps writing to an OpenBao cluster on the node while something happens to it
//! (an upgrade): one KV entry every 100 ms through whichever member answers, recording what was
//! acknowledged and the longest time no write succeeded. Shared by the upgrade e2e test and the
//! rolling-upgrade benchmark, which judge the same numbers.

use std::{
    collections::BTreeMap,
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use bao_client::{BaoClient, SecretString};
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::{Api, Client, api::ListParams};

/// The CA certificate clients of `cluster` in `ns` trust: the operator's, or in External mode
/// the one the user's Secret carries.
async fn cluster_ca(client: &Client, ns: &str, cluster: &str) -> Vec<u8> {
    let secrets = Api::<Secret>::namespaced(client.clone(), ns);
    for name in [format!("{cluster}-tls-ca"), format!("{cluster}-tls-server")] {
        if let Some(secret) = secrets.get_opt(&name).await.expect("read Secret") {
            return secret
                .data
                .and_then(|d| d.get("ca.crt").map(|c| c.0.clone()))
                .expect("the cluster's CA certificate");
        }
    }
    panic!("cluster {cluster} in {ns} has no CA Secret")
}

/// A client (no token) for member `ordinal` of `cluster` at `ip`.
fn client_at(ns: &str, cluster: &str, ordinal: i32, ip: IpAddr, ca: &[u8]) -> BaoClient {
    let names = api::names::ClusterNames::new(cluster);
    operator::reconcile::operate::Member::new(
        format!("{cluster}-{ordinal}"),
        std::net::SocketAddr::new(ip, 8200),
        names.pod_dns(ordinal, ns),
        ca,
    )
    .expect("member client")
    .client
}

/// A client (no token) for member `ordinal` of cluster `cluster` in `ns`, trusting the cluster's
/// CA; `None` while the pod does not exist or has no IP (it is being replaced).
pub async fn member_of(
    client: &Client,
    ns: &str,
    cluster: &str,
    ordinal: i32,
) -> Option<BaoClient> {
    let ca = cluster_ca(client, ns, cluster).await;
    let pod = Api::<Pod>::namespaced(client.clone(), ns)
        .get_opt(&format!("{cluster}-{ordinal}"))
        .await
        .expect("read pod")?;
    let ip: IpAddr = pod.status?.pod_ip?.parse().expect("IP");
    Some(client_at(ns, cluster, ordinal, ip, &ca))
}

/// Clients for the members of a cluster as its pods are now, following replacements (a new pod
/// has a new IP) the way a client that resolves the pods' names would.
struct Members {
    ns: String,
    cluster: String,
    ca: Vec<u8>,
    token: SecretString,
    by_pod: BTreeMap<String, (IpAddr, BaoClient)>,
}

impl Members {
    /// The members with an IP now (one pod list; clients are rebuilt only for new addresses).
    async fn refresh(&mut self, client: &Client) -> Vec<BaoClient> {
        let selector = api::names::ClusterNames::new(&self.cluster)
            .server_selector_labels()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        let Ok(pods) = Api::<Pod>::namespaced(client.clone(), &self.ns)
            .list(&ListParams::default().labels(&selector))
            .await
        else {
            return self.by_pod.values().map(|(_, c)| c.clone()).collect();
        };
        let mut now = BTreeMap::new();
        for pod in pods.items {
            let name = pod.metadata.name.clone().unwrap_or_default();
            let Some(ordinal) = name
                .strip_prefix(&format!("{}-", self.cluster))
                .and_then(|o| o.parse::<i32>().ok())
            else {
                continue;
            };
            let Some(ip) = pod
                .status
                .and_then(|s| s.pod_ip)
                .and_then(|ip| ip.parse::<IpAddr>().ok())
                .filter(|_| pod.metadata.deletion_timestamp.is_none())
            else {
                continue;
            };
            let member = match self.by_pod.remove(&name) {
                Some((known, member)) if known == ip => member,
                _ => client_at(&self.ns, &self.cluster, ordinal, ip, &self.ca)
                    .with_token(self.token.clone()),
            };
            now.insert(name, (ip, member));
        }
        self.by_pod = now;
        self.by_pod.values().map(|(_, c)| c.clone()).collect()
    }
}

/// What the writer saw.
pub struct Written {
    /// Keys of the acknowledged writes (`w0`, `w1`, ...), in order.
    pub acked: Vec<String>,
    /// The longest time in which no write succeeded.
    pub longest_gap: Duration,
}

/// A running writer; [`Writer::finish`] stops it.
pub struct Writer {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Written>,
}

impl Writer {
    /// Start writing `{"i": n}` to `secret/w<n>` (a KV v2 mount) of `cluster` in `ns`.
    pub async fn start(client: &Client, ns: &str, cluster: &str, token: &SecretString) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let (client, ns, cluster, token, flag) = (
            client.clone(),
            ns.to_string(),
            cluster.to_string(),
            token.clone(),
            stop.clone(),
        );
        let mut tracked = Members {
            ca: cluster_ca(&client, &ns, &cluster).await,
            ns,
            cluster,
            token,
            by_pod: BTreeMap::new(),
        };
        let task = tokio::spawn(async move {
            let mut acked: Vec<String> = Vec::new();
            let mut longest = Duration::ZERO;
            let mut failing_since: Option<Instant> = None;
            let mut i = 0u64;
            while !flag.load(Ordering::Relaxed) {
                let key = format!("w{i}");
                let mut written = false;
                // Every round sees the pods as they are: a write fails only when no member
                // that exists now takes it, not because a replaced pod's old address is dead.
                let members = tracked.refresh(&client).await;
                for bao in &members {
                    let put = tokio::time::timeout(
                        Duration::from_secs(2),
                        bao.kv_v2_put("secret", &key, &serde_json::json!({"i": i})),
                    )
                    .await;
                    if matches!(put, Ok(Ok(_))) {
                        written = true;
                        break;
                    }
                }
                if written {
                    acked.push(key);
                    if let Some(since) = failing_since.take() {
                        longest = longest.max(since.elapsed());
                    }
                    i += 1;
                } else {
                    failing_since.get_or_insert_with(Instant::now);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if let Some(since) = failing_since {
                longest = longest.max(since.elapsed());
            }
            Written {
                acked,
                longest_gap: longest,
            }
        });
        Writer { stop, task }
    }

    /// Stop writing and report.
    pub async fn finish(self) -> Written {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("writer")
    }
}

/// The acknowledged writes in `written` that `leader` (a client with a token, to the active
/// member: a standby serves reads from its own, possibly lagging, copy) cannot read back.
pub async fn lost(leader: &BaoClient, written: &Written) -> Vec<String> {
    let mut lost = Vec::new();
    for key in &written.acked {
        if leader
            .kv_v2_get("secret", key)
            .await
            .expect("read")
            .is_none()
        {
            lost.push(key.clone());
        }
    }
    lost
}
