//! Starting, probing and stopping one control plane: etcd, kube-apiserver,
//! kube-controller-manager and optionally kube-scheduler, all on 127.0.0.1.

use std::{
    fs,
    net::TcpListener,
    path::{Path, PathBuf},
    sync::{Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use anyhow::{Context, Result, anyhow, bail};
use k8s_openapi::api::{
    authentication::v1::{TokenRequest, TokenRequestSpec},
    core::v1::ServiceAccount,
};
use kube::api::{Api, PostParams};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    time::{Instant, sleep, timeout},
};
use tracing::{instrument::WithSubscriber, subscriber::NoSubscriber};

use crate::{
    binaries::BinaryPaths,
    kubeconfig,
    node::{ControlPlaneFacts, Node, NodeOptions},
    pki::{Pki, SERVICE_CIDR, SERVICE_VIP},
    process::{self, Process, RunDir},
};

/// The issuer (and default audience) of service-account tokens, as in a kubeadm cluster.
const SERVICE_ACCOUNT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// Lifetime of minted service-account tokens: longer than any test or demo session.
const MINTED_TOKEN_SECONDS: i64 = 24 * 3600;

/// How long stopped components get between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Lines of each component log shown when a start fails.
const LOG_TAIL_LINES: usize = 25;

/// Controllers the controller-manager runs: what workloads, ownership, namespaces and
/// service accounts need, without node, volume-attach or cloud machinery that has nothing to
/// act on here. Extra `--controllers=...` in [`Options::controller_manager_args`] append to it
/// (pflag semantics), `-name` removes one.
const CONTROLLERS: &[&str] = &[
    "garbage-collector-controller",
    "namespace-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "root-ca-certificate-publisher-controller",
    "clusterrole-aggregation-controller",
    "statefulset-controller",
    "replicaset-controller",
    "deployment-controller",
    "job-controller",
    "cronjob-controller",
    "ttl-after-finished-controller",
    "disruption-controller",
    "endpointslice-controller",
    "pod-garbage-collector-controller",
    "resourcequota-controller",
    // The admission chain adds protection finalizers to PVCs and PVs; without these two a
    // namespace holding a StatefulSet's PVCs would never finish deleting.
    "persistentvolumeclaim-protection-controller",
    "persistentvolume-protection-controller",
    "persistentvolume-binder-controller",
    "service-cidr-controller",
    "validatingadmissionpolicy-status-controller",
];

/// How to start a control plane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Also run kube-scheduler. Pods then get bound to nodes; without [`Options::node`] there
    /// is no node to bind them to.
    pub scheduler: bool,
    /// Also run a node agent ([`crate::Node`]) that registers a Ready node and runs the pods
    /// bound to it as real processes. Implies [`Options::scheduler`]. Needs root.
    pub node: bool,
    /// How the node runs (name, image table); used only with [`Options::node`].
    pub node_options: NodeOptions,
    /// Extra kube-apiserver flags (`--name=value`), appended after ours.
    pub apiserver_args: Vec<String>,
    /// Extra kube-controller-manager flags, appended after ours.
    pub controller_manager_args: Vec<String>,
    /// Upper bound for start-to-ready. Generous, because a loaded 2-core CI runner is slow.
    pub startup_timeout: Duration,
    /// Binaries to run; `None` means [`BinaryPaths::from_env`].
    pub binaries: Option<BinaryPaths>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            scheduler: false,
            node: false,
            node_options: NodeOptions::default(),
            apiserver_args: Vec::new(),
            controller_manager_args: Vec::new(),
            startup_timeout: Duration::from_secs(90),
            binaries: None,
        }
    }
}

/// When each component became ready, counted from the start of [`ControlPlane::start_with`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StartupTimings {
    pub etcd: Duration,
    pub apiserver: Duration,
    pub controller_manager: Duration,
    pub scheduler: Option<Duration>,
    /// The node registered and its agent running.
    pub node: Option<Duration>,
    /// Everything ready (the value [`ControlPlane::start`] took).
    pub total: Duration,
}

/// A running control plane. Stopped (processes terminated, directory removed) by
/// [`ControlPlane::stop`] or on drop, also while a test panics.
pub struct ControlPlane {
    run: RunDir,
    processes: Mutex<Vec<Process>>,
    /// Removes the run directory when this process dies without dropping us (see `janitor`).
    janitor: Mutex<Option<Process>>,
    /// The node agent, with [`Options::node`]; stopped before the other components.
    node: Mutex<Option<Node>>,
    server_url: String,
    ca_pem: String,
    ca_path: PathBuf,
    admin_kubeconfig: PathBuf,
    admin_config: kube::Config,
    timings: StartupTimings,
    /// `OPENBAO_LOCALCLUSTER_KEEP=1`, or a failed start: the directory (logs) outlives us.
    keep_dir: bool,
    stopped: bool,
}

impl std::fmt::Debug for ControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlane")
            .field("server_url", &self.server_url)
            .field("dir", &self.run.path)
            .finish_non_exhaustive()
    }
}

/// Free loopback ports, each held by a listener until just before its component binds it.
struct Ports(Vec<Option<TcpListener>>);

impl Ports {
    fn reserve(count: usize) -> Result<Self> {
        let listeners = (0..count)
            .map(|_| TcpListener::bind("127.0.0.1:0").map(Some))
            .collect::<std::io::Result<Vec<_>>>()
            .context("reserving loopback ports")?;
        Ok(Self(listeners))
    }

    fn port(&self, index: usize) -> Result<u16> {
        match self.0.get(index) {
            Some(Some(listener)) => Ok(listener.local_addr()?.port()),
            _ => Err(anyhow!("port {index} is not reserved")),
        }
    }

    /// Closes the listener so the component can bind the port.
    fn release(&mut self, indices: &[usize]) {
        for &i in indices {
            if let Some(slot) = self.0.get_mut(i) {
                slot.take();
            }
        }
    }
}

const ETCD_CLIENT: usize = 0;
const ETCD_PEER: usize = 1;
const APISERVER: usize = 2;
const CONTROLLER_MANAGER: usize = 3;
const SCHEDULER: usize = 4;

/// What exists before the first process starts.
struct Setup {
    pki: Pki,
    ports: Ports,
    admin_kubeconfig: PathBuf,
    admin_config: kube::Config,
    controller_manager_kubeconfig: PathBuf,
    scheduler_kubeconfig: PathBuf,
}

impl Setup {
    async fn new(run: &RunDir) -> Result<Self> {
        let pki = Pki::generate(&run.path.join("pki"))?;
        let ports = Ports::reserve(5)?;
        let server_url = format!("https://127.0.0.1:{}", ports.port(APISERVER)?);
        let dir = run.path.join("kubeconfigs");
        fs::create_dir_all(&dir)?;
        let write = |file: &str, user: &str, cert| {
            let path = dir.join(file);
            let doc = kubeconfig::with_client_cert(&server_url, &pki.ca_pem, user, cert);
            kubeconfig::write(&path, &doc).map(|parsed| (path, parsed))
        };
        let (admin_kubeconfig, admin) = write("admin.yaml", "kubernetes-admin", &pki.admin)?;
        let (controller_manager_kubeconfig, _) = write(
            "kube-controller-manager.yaml",
            "system:kube-controller-manager",
            &pki.controller_manager,
        )?;
        let (scheduler_kubeconfig, _) = write(
            "kube-scheduler.yaml",
            "system:kube-scheduler",
            &pki.scheduler,
        )?;
        let admin_config = kubeconfig::config_from(admin).await?;
        Ok(Self {
            pki,
            ports,
            admin_kubeconfig,
            admin_config,
            controller_manager_kubeconfig,
            scheduler_kubeconfig,
        })
    }
}

impl ControlPlane {
    /// Starts etcd, kube-apiserver and kube-controller-manager and waits until all are ready.
    pub async fn start() -> Result<Self> {
        Self::start_with(Options::default()).await
    }

    /// Like [`ControlPlane::start`], with options (e.g. kube-scheduler).
    pub async fn start_with(mut options: Options) -> Result<Self> {
        // A node without a scheduler would never get a pod.
        options.scheduler |= options.node;
        let binaries = options
            .binaries
            .clone()
            .unwrap_or_else(BinaryPaths::from_env);
        binaries.check(options.scheduler)?;
        // Ports are picked free but released just before each component binds them, so another
        // process may grab one in between. That shows up as "address already in use" and is
        // worth two more tries with fresh ports.
        let mut attempt = 1;
        loop {
            match Self::try_start(&options, &binaries).await {
                Ok(control_plane) => return Ok(control_plane),
                Err((error, true)) if attempt < 3 => {
                    tracing::warn!(
                        attempt,
                        "a port was taken during start-up, retrying: {error:#}"
                    );
                    attempt += 1;
                }
                Err((error, _)) => return Err(error),
            }
        }
    }

    /// One start attempt; the flag in the error says whether a port clash caused it.
    async fn try_start(
        options: &Options,
        binaries: &BinaryPaths,
    ) -> std::result::Result<Self, (anyhow::Error, bool)> {
        let started = Instant::now();
        let run = RunDir::create(&process::runs_root()).map_err(|e| (e, false))?;
        let setup = match Setup::new(&run).await {
            Ok(setup) => setup,
            Err(e) => {
                let _ = fs::remove_dir_all(&run.path);
                return Err((e, false));
            }
        };
        let mut control_plane = Self {
            processes: Mutex::new(Vec::new()),
            janitor: Mutex::new(None),
            node: Mutex::new(None),
            server_url: setup
                .admin_config
                .cluster_url
                .to_string()
                .trim_end_matches('/')
                .to_owned(),
            ca_pem: setup.pki.ca_pem.clone(),
            ca_path: setup.pki.ca_file.clone(),
            admin_kubeconfig: setup.admin_kubeconfig.clone(),
            admin_config: setup.admin_config.clone(),
            timings: StartupTimings::default(),
            keep_dir: std::env::var_os("OPENBAO_LOCALCLUSTER_KEEP").is_some_and(|v| v == "1"),
            stopped: false,
            run,
        };
        // From here on `control_plane` owns every process: an early return drops it, which
        // stops them.
        match control_plane
            .launch(options, binaries, setup, started)
            .await
        {
            Ok(mut timings) => {
                if options.node {
                    // A node that cannot start is no port clash: not retried, logs kept.
                    if let Err(e) = control_plane.start_node(options).await {
                        control_plane.keep_dir = true;
                        let kept = control_plane.run.log_dir();
                        return Err((
                            e.context(format!(
                                "the local node failed to start (logs kept in {})",
                                kept.display()
                            )),
                            false,
                        ));
                    }
                    timings.node = Some(started.elapsed());
                    timings.total = started.elapsed();
                }
                control_plane.timings = timings;
                tracing::info!(
                    server = %control_plane.server_url,
                    dir = %control_plane.run.path.display(),
                    seconds = timings.total.as_secs_f64(),
                    "control plane ready"
                );
                Ok(control_plane)
            }
            Err(error) => Err(control_plane.start_failed(error)),
        }
    }

    async fn launch(
        &mut self,
        options: &Options,
        binaries: &BinaryPaths,
        mut setup: Setup,
        started: Instant,
    ) -> Result<StartupTimings> {
        let deadline = started + options.startup_timeout;
        *lock(&self.janitor) = process::spawn_janitor(&self.run)?;
        let ports = &setup.ports;
        let (etcd_client, etcd_peer) = (ports.port(ETCD_CLIENT)?, ports.port(ETCD_PEER)?);
        let (api_port, cm_port) = (ports.port(APISERVER)?, ports.port(CONTROLLER_MANAGER)?);
        let scheduler_port = ports.port(SCHEDULER)?;
        let pki = &setup.pki;
        let dir = self.run.path.clone();
        let path = |p: &Path| p.display().to_string();

        // etcd first: the API server's storage layer gives up on a missing etcd quickly.
        let etcd_url = format!("http://127.0.0.1:{etcd_client}");
        let peer_url = format!("http://127.0.0.1:{etcd_peer}");
        let etcd_args = vec![
            "--name=localcluster".to_owned(),
            format!("--data-dir={}", dir.join("etcd").display()),
            format!("--listen-client-urls={etcd_url}"),
            format!("--advertise-client-urls={etcd_url}"),
            format!("--listen-peer-urls={peer_url}"),
            format!("--initial-advertise-peer-urls={peer_url}"),
            format!("--initial-cluster=localcluster={peer_url}"),
            // Throwaway data: skipping fsync makes every API write cheaper.
            "--unsafe-no-fsync=true".to_owned(),
            "--log-level=warn".to_owned(),
        ];
        setup.ports.release(&[ETCD_CLIENT, ETCD_PEER]);
        self.spawn("etcd", &binaries.etcd, &etcd_args, Some("ETCD_"))?;
        let etcd = self
            .await_ready("etcd /health", started, deadline, || {
                etcd_healthy(etcd_client)
            })
            .await?;

        let apiserver_args = [
            vec![
                format!("--etcd-servers={etcd_url}"),
                "--bind-address=127.0.0.1".to_owned(),
                format!("--secure-port={api_port}"),
                "--advertise-address=127.0.0.1".to_owned(),
                // The `kubernetes` Service keeps its VIP but gets no Endpoints: the API server
                // rejects loopback endpoint addresses, and nothing in-cluster could reach this
                // one anyway.
                "--endpoint-reconciler-type=none".to_owned(),
                // Webhooks and aggregated APIs behind a Service are dialled at a ready
                // endpoint's pod IP (from EndpointSlices) rather than the ClusterIP: there is
                // no kube-proxy in the root namespace, but the node's pod CIDR is routed here.
                // The TLS server name stays `<service>.<namespace>.svc`.
                "--enable-aggregator-routing=true".to_owned(),
                format!("--tls-cert-file={}", path(&pki.apiserver_serving.cert)),
                format!(
                    "--tls-private-key-file={}",
                    path(&pki.apiserver_serving.key)
                ),
                format!("--client-ca-file={}", path(&pki.ca_file)),
                "--authorization-mode=Node,RBAC".to_owned(),
                // The defaults already hold most of these; naming them keeps the contract
                // visible (webhooks and ValidatingAdmissionPolicy are what tests rely on).
                "--enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,\
                 NodeRestriction,PodSecurity,DefaultTolerationSeconds,ResourceQuota,\
                 StorageObjectInUseProtection,MutatingAdmissionPolicy,MutatingAdmissionWebhook,\
                 ValidatingAdmissionPolicy,ValidatingAdmissionWebhook"
                    .to_owned(),
                format!("--service-cluster-ip-range={SERVICE_CIDR}"),
                format!("--service-account-issuer={SERVICE_ACCOUNT_ISSUER}"),
                format!(
                    "--service-account-key-file={}",
                    path(&pki.service_account_pub)
                ),
                format!(
                    "--service-account-signing-key-file={}",
                    path(&pki.service_account_key)
                ),
                "--allow-privileged=true".to_owned(),
                format!("--cert-dir={}", dir.join("apiserver-certs").display()),
                "--profiling=false".to_owned(),
            ],
            options.apiserver_args.clone(),
        ]
        .concat();

        let component_args = |kubeconfig: &Path, port: u16, serving: &crate::pki::CertKeyFiles| {
            vec![
                format!("--kubeconfig={}", path(kubeconfig)),
                format!("--authentication-kubeconfig={}", path(kubeconfig)),
                format!("--authorization-kubeconfig={}", path(kubeconfig)),
                "--bind-address=127.0.0.1".to_owned(),
                format!("--secure-port={port}"),
                format!("--tls-cert-file={}", path(&serving.cert)),
                format!("--tls-private-key-file={}", path(&serving.key)),
                "--leader-elect=false".to_owned(),
                "--profiling=false".to_owned(),
            ]
        };
        let controller_manager_args = [
            component_args(
                &setup.controller_manager_kubeconfig,
                cm_port,
                &pki.controller_manager_serving,
            ),
            vec![
                format!("--controllers={}", CONTROLLERS.join(",")),
                // Each controller acts as its own ServiceAccount, so the RBAC it gets is the
                // one a real cluster gives it (garbage collection of our kinds included).
                "--use-service-account-credentials=true".to_owned(),
                format!("--root-ca-file={}", path(&pki.ca_file)),
                format!(
                    "--service-account-private-key-file={}",
                    path(&pki.service_account_key)
                ),
                format!("--service-cluster-ip-range={SERVICE_CIDR}"),
            ],
            options.controller_manager_args.clone(),
        ]
        .concat();

        setup.ports.release(&[APISERVER]);
        self.spawn(
            "kube-apiserver",
            &binaries.kube_apiserver,
            &apiserver_args,
            None,
        )?;
        let admin = probe_client(self.admin_config.clone())?;
        let apiserver = self
            .await_ready("kube-apiserver /readyz", started, deadline, || {
                get_ok(&admin, api_port, "/readyz")
            })
            .await?;

        // Only now: both exit at once when the API server is not there yet (they read the
        // request-header CA from a ConfigMap during start-up).
        setup.ports.release(&[CONTROLLER_MANAGER, SCHEDULER]);
        self.spawn(
            "kube-controller-manager",
            &binaries.kube_controller_manager,
            &controller_manager_args,
            None,
        )?;
        if options.scheduler {
            let args = component_args(
                &setup.scheduler_kubeconfig,
                scheduler_port,
                &pki.scheduler_serving,
            );
            self.spawn("kube-scheduler", &binaries.kube_scheduler, &args, None)?;
        }
        let controller_manager = component_client(cm_port, &pki.ca_der)?;
        let controller_manager = self
            .await_ready(
                "kube-controller-manager /healthz",
                started,
                deadline,
                || get_ok(&controller_manager, cm_port, "/healthz"),
            )
            .await?;
        let scheduler = if options.scheduler {
            let client = component_client(scheduler_port, &pki.ca_der)?;
            Some(
                self.await_ready("kube-scheduler /healthz", started, deadline, || {
                    get_ok(&client, scheduler_port, "/healthz")
                })
                .await?,
            )
        } else {
            None
        };
        Ok(StartupTimings {
            etcd,
            apiserver,
            controller_manager,
            scheduler,
            node: None,
            total: started.elapsed(),
        })
    }

    async fn start_node(&self, options: &Options) -> Result<()> {
        let api_server = self
            .admin_config
            .cluster_url
            .port_u16()
            .map(|port| std::net::SocketAddr::from(([127, 0, 0, 1], port)))
            .ok_or_else(|| anyhow!("the API server URL has no port"))?;
        let facts = ControlPlaneFacts {
            run: self.run.clone(),
            config: self.admin_config.clone(),
            api_server,
            service_vip: SERVICE_VIP.parse()?,
            service_cidr: SERVICE_CIDR.to_owned(),
            admin_kubeconfig: self.admin_kubeconfig.clone(),
        };
        let node = Node::start(facts, options.node_options.clone()).await?;
        *lock(&self.node) = Some(node);
        Ok(())
    }

    fn spawn(
        &self,
        name: &str,
        binary: &Path,
        args: &[String],
        env_remove_prefix: Option<&str>,
    ) -> Result<()> {
        let child = process::spawn(&self.run, name, binary, args, env_remove_prefix)?;
        lock(&self.processes).push(child);
        Ok(())
    }

    /// Polls `probe` until it succeeds; fails at `deadline` or as soon as a component exits.
    async fn await_ready<F, Fut>(
        &self,
        what: &str,
        started: Instant,
        deadline: Instant,
        mut probe: F,
    ) -> Result<Duration>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<()>>,
    {
        let mut last_error;
        loop {
            if let Some(exited) = self.exited_component() {
                bail!("{exited} while waiting for {what}");
            }
            // Failed probes are expected while a component starts; kube's client would log each
            // 5xx at ERROR level, so the probe runs with tracing silenced.
            let quiet = probe().with_subscriber(NoSubscriber::default());
            match timeout(Duration::from_secs(2), quiet).await {
                Ok(Ok(())) => return Ok(started.elapsed()),
                Ok(Err(e)) => last_error = format!("{e:#}"),
                Err(_) => last_error = "the probe took longer than 2 s".to_owned(),
            }
            if Instant::now() >= deadline {
                bail!(
                    "{what} did not succeed within {:.0} s of the start; last probe error: \
                     {last_error}",
                    (deadline - started).as_secs_f64()
                );
            }
            sleep(Duration::from_millis(50)).await;
        }
    }

    /// "kube-apiserver exited with exit status: 1" for the first component that is gone.
    fn exited_component(&self) -> Option<String> {
        lock(&self.processes).iter_mut().find_map(|p| {
            p.exit_status()
                .map(|s| format!("{} exited with {s}", p.name))
        })
    }

    /// Turns a failed start into an error carrying the tail of every log, keeping the
    /// directory so the full logs can be read. Consumes (and thereby stops) the control plane.
    fn start_failed(mut self, error: anyhow::Error) -> (anyhow::Error, bool) {
        let mut report = String::new();
        let mut port_clash = false;
        for p in lock(&self.processes).iter() {
            let tail = process::tail(&p.log, LOG_TAIL_LINES);
            port_clash |= tail.contains("address already in use");
            report.push_str(&format!(
                "\n--- {} (last {LOG_TAIL_LINES} lines) ---\n{tail}",
                p.log.display()
            ));
        }
        // A clash is retried and its logs are noise; anything else is kept for reading.
        self.keep_dir |= !port_clash;
        let kept = if self.keep_dir {
            format!("logs kept in {}", self.run.log_dir().display())
        } else {
            "logs removed (the start is retried)".to_owned()
        };
        let error = error.context(format!(
            "the local control plane failed to start ({kept}){report}"
        ));
        (error, port_clash)
    }

    /// A new admin client (user `kubernetes-admin`, group `system:masters`).
    ///
    /// Each call builds a fresh client bound to the *calling* tokio runtime. That matters for
    /// [`crate::shared`]: every `#[tokio::test]` has its own runtime, and a client made on
    /// another test's (since dropped) runtime would fail. Must be called inside a runtime.
    pub fn client(&self) -> Result<kube::Client> {
        Ok(kube::Client::try_from(self.admin_config.clone())?)
    }

    /// The admin client configuration, to build clients with custom settings.
    pub fn config(&self) -> &kube::Config {
        &self.admin_config
    }

    /// Path of the admin kubeconfig (self-contained: certificates embedded).
    pub fn admin_kubeconfig_path(&self) -> &Path {
        &self.admin_kubeconfig
    }

    /// The API server URL, `https://127.0.0.1:<port>`.
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// PEM of the CA that signed the API server's certificate (and every other one here).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Path of [`ControlPlane::ca_pem`] on disk.
    pub fn ca_path(&self) -> &Path {
        &self.ca_path
    }

    /// The `kubernetes` Service's ClusterIP (first address of `--service-cluster-ip-range`).
    pub fn service_vip(&self) -> &'static str {
        SERVICE_VIP
    }

    /// The run directory (PKI, etcd data, logs, kubeconfigs).
    pub fn dir(&self) -> &Path {
        &self.run.path
    }

    /// Where each component logs (`<name>.log`).
    pub fn log_dir(&self) -> PathBuf {
        self.run.log_dir()
    }

    /// How long the start took, per component.
    pub fn timings(&self) -> StartupTimings {
        self.timings
    }

    /// The node agent ([`Options::node`]): pod CIDR, container pids and logs, exec.
    pub fn node(&self) -> Option<Node> {
        lock(&self.node).clone()
    }

    /// Name and pid (= process-group id) of each component, in start order.
    pub fn component_pids(&self) -> Vec<(String, u32)> {
        lock(&self.processes)
            .iter()
            .map(|p| (p.name.clone(), p.pid()))
            .collect()
    }

    /// Fails, with the tail of its log, if a component (or the node's NetworkPolicy firewall)
    /// has exited since the start.
    pub fn check_running(&self) -> Result<()> {
        {
            let mut processes = lock(&self.processes);
            if let Some((p, status)) = processes
                .iter_mut()
                .find_map(|p| p.exit_status().map(|s| (p, s)))
            {
                bail!(
                    "{} exited with {status}; last lines of {}:\n{}",
                    p.name,
                    p.log.display(),
                    process::tail(&p.log, LOG_TAIL_LINES)
                );
            }
        }
        match self.node() {
            Some(node) => node.check_running(),
            None => Ok(()),
        }
    }

    /// Mints a token for ServiceAccount `namespace/name` through the TokenRequest API and
    /// writes a kubeconfig using it (default namespace `namespace`). Returns its path. The
    /// ServiceAccount must exist; the token is valid for 24 hours.
    pub async fn kubeconfig_for_service_account(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<PathBuf> {
        let api: Api<ServiceAccount> = Api::namespaced(self.client()?, namespace);
        let request = TokenRequest {
            // No audiences means the API server's own, which is what a client needs.
            spec: Some(TokenRequestSpec {
                expiration_seconds: Some(MINTED_TOKEN_SECONDS),
                ..TokenRequestSpec::default()
            }),
            ..TokenRequest::default()
        };
        let minted = api
            .create_token_request(name, &PostParams::default(), &request)
            .await
            .with_context(|| format!("minting a token for ServiceAccount {namespace}/{name}"))?;
        let token = minted
            .status
            .and_then(|s| s.token)
            .ok_or_else(|| anyhow!("the TokenRequest for {namespace}/{name} returned no token"))?;
        let user = format!("system:serviceaccount:{namespace}:{name}");
        let doc = kubeconfig::with_token(self.server_url(), &self.ca_pem, &user, &token, namespace);
        let path = self
            .run
            .path
            .join("kubeconfigs")
            .join(format!("serviceaccount-{namespace}-{name}.yaml"));
        kubeconfig::write(&path, &doc)?;
        Ok(path)
    }

    /// A client acting as ServiceAccount `namespace/name` (see
    /// [`ControlPlane::kubeconfig_for_service_account`]).
    pub async fn client_for_service_account(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<kube::Client> {
        let path = self.kubeconfig_for_service_account(namespace, name).await?;
        kubeconfig::client_from_kubeconfig(&path).await
    }

    /// Stops every component and removes the run directory.
    pub async fn stop(mut self) -> Result<()> {
        // Waiting for processes blocks; keep it off the async workers.
        tokio::task::spawn_blocking(move || self.shutdown()).await?
    }

    fn shutdown(&mut self) -> Result<()> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        // Pods first, while the API server still answers their last requests; the node's
        // network goes with it.
        if let Some(node) = lock(&self.node).take() {
            node.shutdown();
        }
        let mut processes = std::mem::take(&mut *lock(&self.processes));
        // Clients of etcd first, so they exit cleanly instead of retrying a vanished etcd.
        let etcd_at = processes.iter().position(|p| p.name == "etcd");
        let mut etcd: Vec<Process> = etcd_at.map(|i| processes.remove(i)).into_iter().collect();
        process::terminate(&mut processes, STOP_GRACE);
        process::terminate(&mut etcd, STOP_GRACE);
        // Killed, not TERMed: TERM is the janitor's cue to delete the directory.
        if let Some(janitor) = lock(&self.janitor).take() {
            process::kill(janitor);
        }
        if self.keep_dir {
            return Ok(());
        }
        fs::remove_dir_all(&self.run.path)
            .with_context(|| format!("removing {}", self.run.path.display()))
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            // Drop cannot fail; the sweep at the next start removes what is left.
            tracing::warn!("stopping the local control plane: {e:#}");
        }
    }
}

/// A poisoned lock still guards valid data here (a list of children); keep going so that
/// shutdown works even after a panic.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// etcd's `/health` over plain HTTP/1.0 (etcd listens without TLS on loopback here), so that
/// no HTTP client stack is needed for one GET.
async fn etcd_healthy(port: u16) -> Result<()> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    if response.contains(r#""health":"true""#) {
        Ok(())
    } else {
        bail!(
            "etcd /health answered: {}",
            response.lines().last().unwrap_or_default()
        )
    }
}

/// GET `path` on 127.0.0.1:`port`; success means a 2xx answer.
async fn get_ok(client: &kube::Client, port: u16, path: &str) -> Result<()> {
    // A plain connect first: while the port is still closed this fails quietly, where the
    // kube client would log every refused connection at ERROR level.
    TcpStream::connect(("127.0.0.1", port)).await?;
    let request = http::Request::get(path).body(Vec::new())?;
    client.request_text(request).await?;
    Ok(())
}

/// An anonymous client for a component's serving port (certificate from our CA), used only
/// for `/healthz`, which the components allow without authentication.
fn component_client(port: u16, ca_der: &[u8]) -> Result<kube::Client> {
    let mut config = kube::Config::new(format!("https://127.0.0.1:{port}").parse()?);
    config.root_cert = Some(vec![ca_der.to_vec()]);
    probe_client(config)
}

/// A client for readiness probes: short timeouts, and no retries (the probe loop retries).
fn probe_client(mut config: kube::Config) -> Result<kube::Client> {
    config.connect_timeout = Some(Duration::from_secs(1));
    config.read_timeout = Some(Duration::from_secs(2));
    config.default_retry = false;
    Ok(kube::Client::try_from(config)?)
}
