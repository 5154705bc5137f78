//! A client that keeps writing to an OpenBao cluster on the node while something happens to it
//! (an upgrade): one KV entry every 100 ms through whichever member answers, recording what was
//! acknowledged and the longest time no write succeeded. Shared by the upgrade e2e test and the
//! rolling-upgrade benchmark, which judge the same numbers.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use bao_client::{BaoClient, SecretString};
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::{Api, Client};

/// A client (no token) for member `ordinal` of cluster `cluster` in `ns`, trusting the cluster's
/// CA (the operator's, or in External mode the one the user's Secret carries); `None` while the
/// pod does not exist or has no IP (it is being replaced).
pub async fn member_of(
    client: &Client,
    ns: &str,
    cluster: &str,
    ordinal: i32,
) -> Option<BaoClient> {
    let secrets = Api::<Secret>::namespaced(client.clone(), ns);
    let mut ca = None;
    for name in [format!("{cluster}-tls-ca"), format!("{cluster}-tls-server")] {
        if let Some(secret) = secrets.get_opt(&name).await.expect("read Secret") {
            ca = secret
                .data
                .and_then(|d| d.get("ca.crt").map(|c| c.0.clone()));
            break;
        }
    }
    let ca = ca.expect("the cluster's CA certificate");
    let pod_name = format!("{cluster}-{ordinal}");
    let pod = Api::<Pod>::namespaced(client.clone(), ns)
        .get_opt(&pod_name)
        .await
        .expect("read pod")?;
    let ip: std::net::IpAddr = pod.status?.pod_ip?.parse().expect("IP");
    let names = api::names::ClusterNames::new(cluster);
    Some(
        operator::reconcile::operate::Member::new(
            &pod_name,
            std::net::SocketAddr::new(ip, 8200),
            names.pod_dns(ordinal, ns),
            &ca,
        )
        .expect("member client")
        .client,
    )
}

/// A client with `token` for every member of `cluster` (of `replicas`) that has a pod with an
/// IP now.
pub async fn live_members(
    client: &Client,
    ns: &str,
    cluster: &str,
    replicas: i32,
    token: &SecretString,
) -> Vec<BaoClient> {
    let mut out = Vec::new();
    for ordinal in 0..replicas {
        if let Some(bao) = member_of(client, ns, cluster, ordinal).await {
            out.push(bao.with_token(token.clone()));
        }
    }
    out
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
    pub async fn start(
        client: &Client,
        ns: &str,
        cluster: &str,
        replicas: i32,
        token: &SecretString,
    ) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let (client, ns, cluster, token, flag) = (
            client.clone(),
            ns.to_string(),
            cluster.to_string(),
            token.clone(),
            stop.clone(),
        );
        let task = tokio::spawn(async move {
            let mut members = live_members(&client, &ns, &cluster, replicas, &token).await;
            let mut acked: Vec<String> = Vec::new();
            let mut longest = Duration::ZERO;
            let mut failing_since: Option<Instant> = None;
            let mut i = 0u64;
            while !flag.load(Ordering::Relaxed) {
                let key = format!("w{i}");
                let mut written = false;
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
                    members = live_members(&client, &ns, &cluster, replicas, &token).await;
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
