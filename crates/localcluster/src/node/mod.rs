//! A node agent that makes the local control plane a working cluster: it registers a Ready
//! `Node`, and runs every pod the real kube-scheduler binds to it as real processes, each pod
//! in its own network namespace and each container in its own mount namespace.
//!
//! # Network
//!
//! ```text
//!  root netns                     node netns  olc-<pid>-<start>-<n>-node
//!  ───────────                    ───────────────────────────────────────────
//!  olc<N> 10.244.N.253/30 ══veth══ uplink 10.244.N.254/30     lo: 10.96.0.1/32 ◀─ API proxy
//!  route 10.244.N.0/24                  (ip_forward=1, no default route)            │
//!        via 10.244.N.254          br0 10.244.N.1/24 ──┬── vp0 ══veth══ eth0 10.244.N.2  pod netns
//!  kube-apiserver 127.0.0.1:P ◀────────────────────────┼── vp1 ══veth══ eth0 10.244.N.3  pod netns
//!            (proxied TCP)                             └── ...
//! ```
//!
//! - The pod CIDR `10.244.N.0/24` is chosen per run: the first N whose /24 no root route
//!   touches and whose link name `olc<N>` is free (creating the link is the atomic claim), so
//!   concurrent runs never share one. The root namespace reaches it only through the `olc<N>`
//!   veth pair into the node namespace, created before any pod starts and removed with the
//!   node namespace at the end; the root namespace itself never forwards.
//! - Pods route everything through the bridge gateway; the node namespace has no default
//!   route, so pod traffic can reach pods, the node and the root link address, nothing else.
//! - The API server listens on 127.0.0.1 in the root namespace, which pods cannot reach. The
//!   node therefore owns the `kubernetes` Service VIP (10.96.0.1/32 on the node namespace's
//!   loopback) and a TCP proxy listens there on port 443 and forwards to the API server. The
//!   listener is bound by a thread that `setns`es into the node namespace (see
//!   [`network::NodeNetwork::bind_tcp`]); the proxy itself runs in this process. Pods get
//!   `KUBERNETES_SERVICE_HOST=10.96.0.1`, `KUBERNETES_SERVICE_PORT=443`, exactly as in a real
//!   cluster, and the serving certificate already names 10.96.0.1.
//!
//! # Names ([`dns`])
//!
//! Every pod's `/etc/hosts` lists what cluster DNS would answer (from EndpointSlices): pod
//! hostnames under their Service (`<pod>.<svc>.<ns>.svc[.cluster.local]`), Service names
//! (mapped to ready endpoints' pod IPs) and `kubernetes.default.svc`, rebuilt as endpoints
//! change. There is no DNS server.
//!
//! # NetworkPolicy ([`firewall`], opt-in)
//!
//! By default NetworkPolicies are stored but not applied. With
//! [`NodeOptions::enforce_network_policy`] (or `OPENBAO_LOCALCLUSTER_ENFORCE=1`) the node runs
//! kube-router's firewall in the node namespace, with bridge netfilter on there, and waits
//! until it has hooked its chains in; it stops it at shutdown, and deleting the node namespace
//! removes its chains and ipsets. Probes then connect from the node namespace (the node's IP),
//! which the firewall lets in as it lets a kubelet's probes in; traffic from the root namespace
//! (tests, an operator run outside the cluster) comes from outside the node and is subject to
//! the policies.
//!
//! # Volumes ([`volumes`], [`storage`])
//!
//! ConfigMap, Secret, downward API and projected volumes (ServiceAccount tokens minted through
//! TokenRequest, bound to the pod, without trailing newline) are written atomically under the
//! pod's directory and re-synced; emptyDir is a directory; PersistentVolumeClaims are bound to
//! hostPath PersistentVolumes the node provisions per claim (`<run>/node/claims/<ns>/<claim>`),
//! so a recreated StatefulSet pod finds its data again.
//!
//! The node runs as root, so every host path it is handed is confined (see `crate::paths`):
//! the run directory is a 0700 directory of ours; `hostPath` volumes, the paths of
//! PersistentVolumes and `subPath`s must resolve (symlinks followed) inside `<run>/node`; a
//! released volume's directory is deleted only when it is the claim directory the node itself
//! provisioned. Secret values and ServiceAccount tokens the pod leaves at the default mode are
//! written 0600 for the pod's user (0640 with `fsGroup`) rather than Kubernetes' 0644, unless
//! that would lock one of its containers out (see [`volumes`]).
//!
//! # Containers ([`container`], [`images`], [`oci`], [`pod`], [`pod_status`])
//!
//! Images come from two places. The node's local OCI image store ([`NodeOptions::oci_images`],
//! `$OPENBAO_LOCALCLUSTER_IMAGES`, `localcluster up --image`): `oci-archive` tars or layout
//! directories, verified blob by blob and unpacked once per digest under
//! `<run>/node/images/rootfs/` at node start ([`Node::stored_images`] lists them). A pod whose
//! image names one exactly (`repository:tag`) runs from the image's own root (copy-on-write
//! over the unpacked layers, nothing of the node inside), with Kubernetes' rules for its
//! ENTRYPOINT/CMD against `command`/`args`, its `Env` under the pod's variables, its
//! `WorkingDir` unless the pod sets one, and its `User` (`uid[:gid]`, names looked up in the
//! image's `/etc/passwd`) unless the pod sets `runAsUser`; a user name under `runAsNonRoot`
//! or an effective uid 0 under it leaves the container in `CreateContainerConfigError`.
//! Otherwise an image is a name for a local binary: `*/openbao/openbao[:tag]` runs the pinned
//! `bao` whatever the tag, `*/e2e-test-images/agnhost[:tag]` the cached `agnhost` (Kubernetes'
//! e2e test server, entrypoint `agnhost`), for the images that cannot be built here; other
//! images wait with `ErrImagePull` and a message naming what is supported. Such a container
//! is `bao` (or any program of the node's root filesystem, e.g. `/bin/sh`) in a copy-on-write
//! view of the node's root, as the pod's `runAsUser`/`runAsGroup`/`fsGroup` (root when unset).
//! Either kind starts in the pod's network namespace, a private mount namespace with the
//! volumes bind-mounted, with exactly its environment (see [`container`] for how the final exec
//! works without a shell in the image). Restart policies with the kubelet's backoff,
//! startup/readiness/liveness probes and the status subresource work as in a real cluster;
//! deletion stops processes (SIGTERM, SIGKILL after the grace period), removes the sandbox and
//! deletes the pod object (grace 0).
//!
//! Not provided: a kubelet API (no `kubectl logs/exec`: use [`Node::container_log`] and
//! [`Node::exec`]), resource limits, image pulls (only the local store: no registry, no
//! `imagePullPolicy`/`imagePullSecrets`, no zstd layers, one platform per index), a user
//! namespace or seccomp/AppArmor profiles, a minimal `/dev` (containers get the node's), DNS
//! server, kube-proxy (ClusterIPs other than the API server's do not route from pods; the API
//! server itself reaches webhooks and aggregated APIs behind a Service at a ready endpoint's
//! pod IP, `--enable-aggregator-routing`, over the routed pod CIDR), ephemeral containers,
//! sidecar restart semantics, NetworkPolicy enforcement unless requested (see above).

mod container;
mod dns;
mod env;
mod firewall;
mod images;
mod network;
mod oci;
mod pod;
mod pod_status;
mod probe;
mod registration;
mod storage;
mod volumes;

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    fs,
    net::{Ipv4Addr, SocketAddr},
    path::PathBuf,
    process::ExitStatus,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    thread,
    time::Duration,
};

use anyhow::{Context as _, Result, anyhow, bail};
use futures::StreamExt;
use k8s_openapi::api::{core::v1::Pod, discovery::v1::EndpointSlice};
use kube::{
    Api,
    runtime::{
        WatchStreamExt,
        events::{Event as KubeEvent, EventType, Recorder, Reporter},
        reflector::{self, Store},
        watcher::{self, Event},
    },
};
use nix::sys::signal::Signal;
use tokio::{
    io::copy_bidirectional,
    net::{TcpListener, TcpStream},
    sync::{oneshot, watch},
};
use tokio_rustls::rustls::ClientConfig;

pub use images::{AGNHOST_REPOSITORY, OPENBAO_REPOSITORY};
pub(crate) use network::sweep_dead_netns;
pub use oci::{ImageConfig, ImageSource, StoredImage};

use crate::process::{self, Process, RunDir};
use container::Identity;
use dns::OwnPod;
use network::NodeNetwork;

/// The port of the `kubernetes` Service, where pods reach the API server.
const API_SERVICE_PORT: u16 = 443;
/// How long stopping waits for pod processes after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// The variable that turns [`NodeOptions::enforce_network_policy`] on by default (`1`).
pub const ENFORCE_ENV: &str = "OPENBAO_LOCALCLUSTER_ENFORCE";

/// The variable that adds OCI images to every node's store: a comma-separated list of
/// `[REF=]PATH` (archive or layout directory; see [`NodeOptions::oci_images`]).
pub const IMAGES_ENV: &str = "OPENBAO_LOCALCLUSTER_IMAGES";

/// How to run the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeOptions {
    /// The `Node` object's name (also its `kubernetes.io/hostname` label).
    pub name: String,
    /// Extra image rules, `repository` (any tag) or `repository:tag` → binary, on top of the
    /// default `openbao/openbao` → [`crate::bao_binary`] (which a rule with that key replaces).
    pub images: BTreeMap<String, PathBuf>,
    /// OCI images for the node's local store, imported (verified and unpacked) at start: an
    /// `oci-archive` tar or an OCI layout directory each, under the given reference and under
    /// every `org.opencontainers.image.ref.name` its `index.json` annotates. A pod's image
    /// that names one of them exactly (`repository:tag`, tag `latest` by default) runs from
    /// the image's own root filesystem, entrypoint, environment and user, in preference to
    /// [`NodeOptions::images`]. The sources of `$OPENBAO_LOCALCLUSTER_IMAGES` ([`IMAGES_ENV`])
    /// are added at start.
    pub oci_images: Vec<ImageSource>,
    /// Enforce NetworkPolicies: run kube-router's firewall ([`crate::kube_router_binary`]) in
    /// the node namespace, with bridge netfilter on there (see `firewall`). Off unless
    /// `$OPENBAO_LOCALCLUSTER_ENFORCE` is `1`; without it policies are stored but not applied.
    pub enforce_network_policy: bool,
}

impl Default for NodeOptions {
    fn default() -> Self {
        Self {
            name: "localnode".to_owned(),
            images: BTreeMap::new(),
            oci_images: Vec::new(),
            enforce_network_policy: std::env::var(ENFORCE_ENV).is_ok_and(|v| v == "1"),
        }
    }
}

/// A running node agent. Cheap to clone (a handle); stopped with its control plane.
#[derive(Clone)]
pub struct Node {
    shared: Arc<Shared>,
}

struct Shared {
    name: String,
    store: Arc<oci::ImageStore>,
    network: Arc<NodeNetwork>,
    registry: Arc<Registry>,
    /// kube-router, with [`NodeOptions::enforce_network_policy`].
    firewall: Mutex<Option<firewall::Firewall>>,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    thread: Mutex<Option<thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.shared.name)
            .field("pod_cidr", &self.shared.network.pod_cidr())
            .finish_non_exhaustive()
    }
}

/// What every pod worker shares.
pub(crate) struct Context {
    pub client: kube::Client,
    pub node_name: String,
    pub network: Arc<NodeNetwork>,
    pub registry: Arc<Registry>,
    pub run: RunDir,
    /// `<run>/node`: pods, claims, and the only place hostPath and PersistentVolume paths may
    /// lead (see [`volumes`]).
    pub node_dir: PathBuf,
    pub pods_dir: PathBuf,
    pub images: BTreeMap<String, PathBuf>,
    /// The node's OCI images (see `oci`), which take precedence over `images`.
    pub store: Arc<oci::ImageStore>,
    pub api_address: Ipv4Addr,
    pub api_port: u16,
    pub tls: Arc<ClientConfig>,
    /// NetworkPolicies are enforced: probes connect from the node namespace (see `probe`).
    pub enforce_network_policy: bool,
    slices: Store<EndpointSlice>,
    recorder: Recorder,
}

impl Context {
    /// The namespace probes connect from: the node's when NetworkPolicies are enforced (the
    /// firewall lets the node's own traffic in, as it does for a kubelet), else the root one.
    pub fn probe_netns(&self) -> Option<PathBuf> {
        self.enforce_network_policy
            .then(|| network::netns_path(&self.network.node_netns))
    }

    /// Rewrites the hosts file of every pod whose view changed.
    pub fn refresh_hosts(&self) {
        let state = self.slices.state();
        let records = dns::records(state.iter().map(AsRef::as_ref));
        self.registry.write_hosts(&records, self.api_address);
    }

    /// Publishes an Event about `reference` (failures are only logged: events are advisory).
    pub async fn event(
        &self,
        reference: &k8s_openapi::api::core::v1::ObjectReference,
        type_: EventType,
        reason: &str,
        note: &str,
    ) {
        let mut note = note.to_owned();
        note.truncate(1000);
        let event = KubeEvent {
            type_,
            reason: reason.to_owned(),
            note: Some(note),
            action: reason.to_owned(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, reference).await {
            tracing::debug!("publishing event {reason}: {e}");
        }
    }
}

/// What the node needs from its control plane.
pub(crate) struct ControlPlaneFacts {
    pub run: RunDir,
    pub config: kube::Config,
    /// The API server's `127.0.0.1:<port>`.
    pub api_server: SocketAddr,
    /// The `kubernetes` Service VIP.
    pub service_vip: Ipv4Addr,
    /// `--service-cluster-ip-range`.
    pub service_cidr: String,
    /// The admin kubeconfig (the firewall's credentials).
    pub admin_kubeconfig: PathBuf,
}

impl Node {
    /// Checks the tools, builds the network, registers the Node and starts the agent on a
    /// thread of its own (with its own runtime, so it outlives the caller's runtime, as the
    /// shared control plane does).
    pub(crate) async fn start(facts: ControlPlaneFacts, options: NodeOptions) -> Result<Self> {
        check_host()?;
        let mut images = BTreeMap::new();
        if !options.images.contains_key(OPENBAO_REPOSITORY) {
            images.insert(OPENBAO_REPOSITORY.to_owned(), crate::bao_binary()?);
        }
        // Whether or not it is built: a pod of this image then waits with ErrImagePull and
        // the command that builds it (the node itself does not need it).
        images.insert(
            AGNHOST_REPOSITORY.to_owned(),
            crate::binaries::agnhost_path(),
        );
        images.extend(options.images.clone());
        let mut sources = options.oci_images.clone();
        if let Ok(list) = std::env::var(IMAGES_ENV) {
            sources.extend(oci::parse_sources(&list).with_context(|| format!("${IMAGES_ENV}"))?);
        }
        let images_dir = facts.run.path.join("node").join("images");
        let store =
            tokio::task::spawn_blocking(move || oci::import(&images_dir, &sources)).await??;
        let store = Arc::new(store);
        let run = facts.run.clone();
        let vip = facts.service_vip;
        let firewall_inputs = options.enforce_network_policy.then(|| {
            (
                facts.run.clone(),
                facts.admin_kubeconfig.clone(),
                facts.service_cidr.clone(),
            )
        });
        let network = tokio::task::spawn_blocking(move || {
            sweep_dead_netns();
            NodeNetwork::create(&run, vip)
        })
        .await??;
        let network = Arc::new(network);
        let listener = match network.bind_tcp(SocketAddr::from((vip, API_SERVICE_PORT))) {
            Ok(listener) => listener,
            Err(e) => {
                network.teardown();
                return Err(e.context("binding the API proxy in the node namespace"));
            }
        };
        let registry = Arc::new(Registry::default());
        let (ready_tx, ready_rx) = oneshot::channel::<Result<()>>();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let agent = Agent {
            facts,
            name: options.name.clone(),
            enforce_network_policy: options.enforce_network_policy,
            images,
            store: store.clone(),
            network: network.clone(),
            registry: registry.clone(),
        };
        let thread = thread::Builder::new()
            .name("localcluster-node".into())
            .spawn(move || agent.run(listener, ready_tx, stop_rx))
            .context("starting the node thread")?;
        let node = Self {
            shared: Arc::new(Shared {
                name: options.name,
                store,
                network,
                registry,
                firewall: Mutex::new(None),
                stop: Mutex::new(Some(stop_tx)),
                thread: Mutex::new(Some(thread)),
            }),
        };
        let started = match ready_rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(anyhow!("the node thread ended during start-up")),
        };
        // The firewall watches the API server through the node's proxy and reads the Node
        // object: both exist once the agent is ready.
        let started = match (started, firewall_inputs) {
            (Ok(()), Some((run, admin_kubeconfig, service_cidr))) => {
                let network = node.shared.network.clone();
                let name = node.shared.name.clone();
                tokio::task::spawn_blocking(move || {
                    firewall::Firewall::start(
                        &run,
                        &network,
                        &name,
                        &admin_kubeconfig,
                        &vip.to_string(),
                        &service_cidr,
                    )
                })
                .await
                .map_err(anyhow::Error::from)
                .and_then(|started| started)
                .map(|firewall| *lock(&node.shared.firewall) = Some(firewall))
                .context("starting the NetworkPolicy firewall (kube-router)")
            }
            (started, _) => started,
        };
        match started {
            Ok(()) => Ok(node),
            Err(e) => {
                node.shutdown();
                Err(e)
            }
        }
    }

    /// Stops the agent: pod processes (SIGTERM, then SIGKILL), the agent thread, and the
    /// network (every pod namespace, the node namespace, the root link and route).
    /// Idempotent; blocking.
    pub(crate) fn shutdown(&self) {
        self.shared.registry.shutdown(STOP_GRACE);
        // Before the network: its chains and ipsets go with the node namespace.
        if let Some(mut firewall) = lock(&self.shared.firewall).take() {
            firewall.stop();
        }
        if let Some(stop) = lock(&self.shared.stop).take() {
            let _ = stop.send(());
        }
        if let Some(thread) = lock(&self.shared.thread).take()
            && thread.join().is_err()
        {
            tracing::warn!("the node thread panicked");
        }
        self.shared.network.teardown();
    }

    /// The images of the node's OCI store by `repository:tag` (several names may share one
    /// image), with their digest, unpacked root filesystem and config.
    pub fn stored_images(&self) -> BTreeMap<String, StoredImage> {
        self.shared.store.list()
    }

    /// The `Node` object's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Whether NetworkPolicies are enforced ([`NodeOptions::enforce_network_policy`]).
    pub fn enforces_network_policy(&self) -> bool {
        lock(&self.shared.firewall).is_some()
    }

    /// The log of the NetworkPolicy firewall (kube-router), when it runs.
    pub fn firewall_log(&self) -> Option<PathBuf> {
        lock(&self.shared.firewall)
            .as_ref()
            .map(firewall::Firewall::log)
    }

    /// The pid of the NetworkPolicy firewall (kube-router), when it runs.
    pub fn firewall_pid(&self) -> Option<u32> {
        lock(&self.shared.firewall)
            .as_ref()
            .map(firewall::Firewall::pid)
    }

    /// `Err` once a process the node itself runs (the NetworkPolicy firewall) has exited.
    pub fn check_running(&self) -> Result<()> {
        match lock(&self.shared.firewall).as_mut() {
            Some(firewall) => firewall.check_running(),
            None => Ok(()),
        }
    }

    /// The pod CIDR, `10.244.N.0/24` (N differs between concurrent runs).
    pub fn pod_cidr(&self) -> String {
        self.shared.network.pod_cidr()
    }

    /// The node's IP (the bridge gateway; pods' `hostIP`).
    pub fn host_ip(&self) -> Ipv4Addr {
        self.shared.network.gateway()
    }

    /// Where pods reach the API server: `10.96.0.1:443`.
    pub fn api_server_address(&self) -> SocketAddr {
        SocketAddr::from((
            crate::pki::SERVICE_VIP
                .parse::<Ipv4Addr>()
                .unwrap_or(Ipv4Addr::new(10, 96, 0, 1)),
            API_SERVICE_PORT,
        ))
    }

    /// The host's address on the node's link, in the root namespace: a test server bound here
    /// (an S3 server, an OpenBao outside the cluster) is reachable from every pod and from the
    /// test itself, and nothing else outside the node is.
    pub fn host_address(&self) -> Ipv4Addr {
        self.shared.network.root_address()
    }

    /// The node's network namespace (for `ip netns exec`).
    pub fn netns(&self) -> &str {
        &self.shared.network.node_netns
    }

    /// The network namespace of a pod that has a sandbox on this node.
    pub fn pod_netns(&self, namespace: &str, pod: &str) -> Option<String> {
        self.shared.registry.pod_netns(namespace, pod)
    }

    /// The pid of a running container's process.
    pub fn container_pid(&self, namespace: &str, pod: &str, container: &str) -> Option<u32> {
        self.shared
            .registry
            .find(namespace, pod, container)
            .map(|found| found.pid)
    }

    /// A container's log file (stdout and stderr of every start, appended), kept after the
    /// pod is gone until the control plane stops.
    pub fn container_log(&self, namespace: &str, pod: &str, container: &str) -> Option<PathBuf> {
        self.shared.registry.log(namespace, pod, container)
    }

    /// Runs `argv` inside a running container (its namespaces, root, user and environment),
    /// like `kubectl exec`, and returns its output.
    pub async fn exec(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        argv: &[&str],
    ) -> Result<std::process::Output> {
        let target = self
            .shared
            .registry
            .find(namespace, pod, container)
            .ok_or_else(|| {
                anyhow!(
                    "container {container} of pod {namespace}/{pod} is not running on this node"
                )
            })?;
        let argv: Vec<String> = argv.iter().map(|a| (*a).to_owned()).collect();
        let command = container::exec_command(target.pid, &target.identity, &target.env, &argv);
        tokio::process::Command::new(&command[0])
            .args(&command[1..])
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| network::missing_tool("nsenter", "util-linux", e))
    }
}

/// Everything the agent thread owns.
struct Agent {
    facts: ControlPlaneFacts,
    name: String,
    enforce_network_policy: bool,
    images: BTreeMap<String, PathBuf>,
    store: Arc<oci::ImageStore>,
    network: Arc<NodeNetwork>,
    registry: Arc<Registry>,
}

impl Agent {
    fn run(
        self,
        listener: std::net::TcpListener,
        ready: oneshot::Sender<Result<()>>,
        stop: oneshot::Receiver<()>,
    ) {
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("localcluster-node-worker")
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => {
                let _ = ready.send(Err(e.into()));
                return;
            }
        };
        runtime.block_on(async move {
            let context = match self.prepare().await {
                Ok(ready_context) => ready_context,
                Err(e) => {
                    let _ = ready.send(Err(e));
                    return;
                }
            };
            let (context, writer) = context;
            let proxy = match TcpListener::from_std(listener) {
                Ok(listener) => listener,
                Err(e) => {
                    let _ = ready.send(Err(e.into()));
                    return;
                }
            };
            let tasks = vec![
                tokio::spawn(api_proxy(proxy, self.facts.api_server)),
                tokio::spawn(watch_endpoints(context.clone(), writer)),
                tokio::spawn(storage::run(
                    context.client.clone(),
                    self.name.clone(),
                    self.facts.run.path.join("node").join("claims"),
                )),
                tokio::spawn(registration::heartbeat(
                    context.client.clone(),
                    self.name.clone(),
                    self.network.gateway().to_string(),
                )),
                tokio::spawn(dispatch(context.clone())),
            ];
            let _ = ready.send(Ok(()));
            let _ = stop.await;
            for task in tasks {
                task.abort();
            }
        });
        // Pod workers still hold tasks; give them no time, their processes are already gone.
        runtime.shutdown_timeout(Duration::from_secs(1));
    }

    async fn prepare(&self) -> Result<(Arc<Context>, reflector::store::Writer<EndpointSlice>)> {
        let client = kube::Client::try_from(self.facts.config.clone())?;
        let pod_cidr = self.network.pod_cidr();
        let host_ip = self.network.gateway().to_string();
        registration::register(&client, &self.name, &pod_cidr, &host_ip).await?;
        let node_dir = self.facts.run.path.join("node");
        let pods_dir = node_dir.join("pods");
        fs::create_dir_all(&pods_dir)
            .with_context(|| format!("creating {}", pods_dir.display()))?;
        let (slices, writer) = reflector::store();
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: "kubelet".to_owned(),
                instance: Some(self.name.clone()),
            },
        );
        let context = Arc::new(Context {
            client,
            node_name: self.name.clone(),
            network: self.network.clone(),
            registry: self.registry.clone(),
            run: self.facts.run.clone(),
            node_dir,
            pods_dir,
            images: self.images.clone(),
            store: self.store.clone(),
            api_address: self.facts.service_vip,
            api_port: API_SERVICE_PORT,
            tls: probe::insecure_tls()?,
            enforce_network_policy: self.enforce_network_policy,
            slices,
            recorder,
        });
        Ok((context, writer))
    }
}

/// Forwards each connection to the `kubernetes` VIP to the API server on loopback (TLS passes
/// through untouched: pods verify the API server's own certificate).
async fn api_proxy(listener: TcpListener, upstream: SocketAddr) {
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            match TcpStream::connect(upstream).await {
                Ok(mut outbound) => {
                    let _ = copy_bidirectional(&mut inbound, &mut outbound).await;
                }
                Err(e) => tracing::warn!("API proxy: connecting to {upstream}: {e}"),
            }
        });
    }
}

/// Keeps the EndpointSlice cache current and the hosts files with it.
async fn watch_endpoints(context: Arc<Context>, writer: reflector::store::Writer<EndpointSlice>) {
    let api: Api<EndpointSlice> = Api::all(context.client.clone());
    let mut events = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .boxed();
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Init | Event::InitApply(_)) => {}
            Ok(_) => context.refresh_hosts(),
            Err(e) => tracing::debug!("watching EndpointSlices: {e}"),
        }
    }
}

/// Hands every pod bound to this node to its worker (one task per pod uid).
async fn dispatch(context: Arc<Context>) {
    let api: Api<Pod> = Api::all(context.client.clone());
    let config = watcher::Config::default().fields(&format!("spec.nodeName={}", context.node_name));
    let mut events = watcher::watcher(api, config).default_backoff().boxed();
    let mut workers: HashMap<String, watch::Sender<Option<Pod>>> = HashMap::new();
    let mut finished: HashSet<String> = HashSet::new();
    let mut listed: HashSet<String> = HashSet::new();
    while let Some(event) = events.next().await {
        let mut deliver = |pod: Pod| {
            let Some(uid) = pod.metadata.uid.clone() else {
                return;
            };
            if finished.contains(&uid) {
                return;
            }
            match workers.get(&uid) {
                Some(worker) => {
                    worker.send_replace(Some(pod));
                }
                None => {
                    let (tx, rx) = watch::channel(Some(pod));
                    tokio::spawn(pod::run(context.clone(), uid.clone(), rx));
                    workers.insert(uid, tx);
                }
            }
        };
        match event {
            Ok(Event::Apply(pod)) => deliver(pod),
            Ok(Event::Init) => listed.clear(),
            Ok(Event::InitApply(pod)) => {
                listed.extend(pod.metadata.uid.clone());
                deliver(pod);
            }
            Ok(Event::InitDone) => {
                // Pods that vanished while the watch was down were deleted without us.
                for (uid, worker) in &workers {
                    if !listed.contains(uid) {
                        worker.send_replace(None);
                    }
                }
            }
            Ok(Event::Delete(pod)) => {
                if let Some(worker) = pod.metadata.uid.as_ref().and_then(|u| workers.get(u)) {
                    worker.send_replace(None);
                }
            }
            Err(e) => tracing::debug!("watching pods: {e}"),
        }
        workers.retain(|uid, worker| {
            if worker.is_closed() {
                finished.insert(uid.clone());
                false
            } else {
                true
            }
        });
    }
}

/// Fails, naming the Debian packages, when a tool or kernel feature the node uses is missing.
fn check_host() -> Result<()> {
    let tools = [
        ("ip", "iproute2"),
        ("nsenter", "util-linux"),
        ("unshare", "util-linux"),
        ("setpriv", "util-linux"),
        ("pivot_root", "util-linux"),
        ("mount", "mount"),
        ("umount", "mount"),
        ("env", "coreutils"),
        ("sh", "dash"),
    ];
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .collect();
    let missing: Vec<String> = tools
        .iter()
        .filter(|(tool, _)| !dirs.iter().any(|d| d.join(tool).is_file()))
        .map(|(tool, package)| format!("{tool} (Debian package {package})"))
        .collect();
    if !missing.is_empty() {
        bail!(
            "the localcluster node needs tools that are not installed: {}",
            missing.join(", ")
        );
    }
    let filesystems = fs::read_to_string("/proc/filesystems").unwrap_or_default();
    if !filesystems
        .lines()
        .any(|l| l.trim_end().ends_with("overlay"))
    {
        bail!("the localcluster node needs overlayfs (the kernel lists no `overlay` filesystem)");
    }
    if !nix::unistd::Uid::effective().is_root() {
        bail!("the localcluster node needs root (network namespaces, mounts)");
    }
    Ok(())
}

// === registry ===

/// The node's live pods and container processes, shared by the workers, the helpers on
/// [`Node`] and the synchronous shutdown (which must work without the agent's runtime).
#[derive(Default)]
pub(crate) struct Registry {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    pods: BTreeMap<String, PodRecord>,
    /// (namespace, pod, container) → log file, kept after the pod is gone.
    logs: BTreeMap<(String, String, String), PathBuf>,
    /// Processes of forgotten pods that did not exit.
    stragglers: Vec<Process>,
    closed: bool,
}

struct PodRecord {
    namespace: String,
    name: String,
    netns: String,
    own: OwnPod,
    hosts: PathBuf,
    written: Option<String>,
    containers: BTreeMap<String, Running>,
}

/// A running container as `exec` needs it.
struct ExecTarget {
    pid: u32,
    identity: Identity,
    env: Vec<(String, String)>,
}

struct Running {
    process: Process,
    identity: Identity,
    env: Vec<(String, String)>,
}

impl Registry {
    fn inner(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }

    pub fn add_pod(
        &self,
        uid: &str,
        namespace: &str,
        name: &str,
        netns: &str,
        own: OwnPod,
        hosts: PathBuf,
    ) {
        self.inner().pods.insert(
            uid.to_owned(),
            PodRecord {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                netns: netns.to_owned(),
                own,
                hosts,
                written: None,
                containers: BTreeMap::new(),
            },
        );
    }

    /// Drops a pod whose processes have exited; one that has not (stuck despite SIGKILL) is
    /// kept for the node's shutdown to kill again.
    pub fn forget_pod(&self, uid: &str) {
        let mut inner = self.inner();
        if let Some(record) = inner.pods.remove(uid) {
            for (_, mut running) in record.containers {
                if running.process.exit_status().is_none() {
                    inner.stragglers.push(running.process);
                }
            }
        }
    }

    pub fn add_container(
        &self,
        uid: &str,
        name: &str,
        mut process: Process,
        identity: Identity,
        env: Vec<(String, String)>,
        log: PathBuf,
    ) {
        let mut inner = self.inner();
        if inner.closed {
            // The node is stopping: this process must not outlive it.
            process::kill(process);
            return;
        }
        let Some(record) = inner.pods.get_mut(uid) else {
            process.signal_group(Signal::SIGKILL);
            return;
        };
        let key = (
            record.namespace.clone(),
            record.name.clone(),
            name.to_owned(),
        );
        record.containers.insert(
            name.to_owned(),
            Running {
                process,
                identity,
                env,
            },
        );
        inner.logs.insert(key, log);
    }

    /// The exit status of a container's process once it has exited (reaping it).
    pub fn try_wait(&self, uid: &str, name: &str) -> Option<ExitStatus> {
        let mut inner = self.inner();
        let running = inner.pods.get_mut(uid)?.containers.get_mut(name)?;
        running.process.exit_status()
    }

    pub fn signal(&self, uid: &str, name: &str, signal: Signal) {
        let mut inner = self.inner();
        if let Some(running) = inner
            .pods
            .get_mut(uid)
            .and_then(|p| p.containers.get_mut(name))
        {
            running.process.signal_group(signal);
        }
    }

    pub fn pid(&self, uid: &str, name: &str) -> Option<u32> {
        let mut inner = self.inner();
        let running = inner.pods.get_mut(uid)?.containers.get_mut(name)?;
        running
            .process
            .exit_status()
            .is_none()
            .then(|| running.process.pid())
    }

    pub fn exec_context(&self, uid: &str, name: &str) -> Option<(Identity, Vec<(String, String)>)> {
        let inner = self.inner();
        let running = inner.pods.get(uid)?.containers.get(name)?;
        Some((running.identity.clone(), running.env.clone()))
    }

    fn find(&self, namespace: &str, pod: &str, container: &str) -> Option<ExecTarget> {
        let mut inner = self.inner();
        let record = inner
            .pods
            .values_mut()
            .find(|p| p.namespace == namespace && p.name == pod)?;
        let running = record.containers.get_mut(container)?;
        if running.process.exit_status().is_some() {
            return None;
        }
        Some(ExecTarget {
            pid: running.process.pid(),
            identity: running.identity.clone(),
            env: running.env.clone(),
        })
    }

    fn pod_netns(&self, namespace: &str, pod: &str) -> Option<String> {
        self.inner()
            .pods
            .values()
            .find(|p| p.namespace == namespace && p.name == pod)
            .map(|p| p.netns.clone())
    }

    fn log(&self, namespace: &str, pod: &str, container: &str) -> Option<PathBuf> {
        self.inner()
            .logs
            .get(&(namespace.to_owned(), pod.to_owned(), container.to_owned()))
            .cloned()
    }

    /// Renders every pod's hosts file and rewrites the ones that changed. The file is
    /// rewritten in place: containers bind-mounted its inode, a rename would not reach them.
    fn write_hosts(&self, records: &[dns::Record], api_address: Ipv4Addr) {
        let mut inner = self.inner();
        for pod in inner.pods.values_mut() {
            let text = dns::render(&pod.own, records, api_address);
            if pod.written.as_deref() == Some(text.as_str()) {
                continue;
            }
            match fs::write(&pod.hosts, &text) {
                Ok(()) => pod.written = Some(text),
                Err(e) => tracing::warn!("writing {}: {e}", pod.hosts.display()),
            }
        }
    }

    /// SIGTERM to every container process, up to `grace`, then SIGKILL; no new ones after.
    fn shutdown(&self, grace: Duration) {
        let mut processes: Vec<Process> = {
            let mut inner = self.inner();
            inner.closed = true;
            let mut all: Vec<Process> = std::mem::take(&mut inner.stragglers);
            all.extend(
                inner
                    .pods
                    .values_mut()
                    .flat_map(|p| std::mem::take(&mut p.containers).into_values())
                    .map(|r| r.process),
            );
            all
        };
        process::terminate(&mut processes, grace);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_node_is_named_localnode_and_runs_openbao_images() {
        assert_eq!(NodeOptions::default().name, "localnode");
        assert_eq!(OPENBAO_REPOSITORY, "openbao/openbao");
    }
}
