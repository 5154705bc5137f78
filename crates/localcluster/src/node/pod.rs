//! One pod's life on the node, as the kubelet lives it: sandbox (network namespace, address,
//! hosts file), volumes, init containers in order, containers with restarts and backoff,
//! probes, status (computed by [`super::pod_status`]) through the status subresource, and on
//! deletion: stop the processes (SIGTERM, SIGKILL after the grace period), remove the sandbox
//! and delete the pod object.

use std::{
    fs,
    net::IpAddr,
    os::unix::{
        fs::{OpenOptionsExt, PermissionsExt},
        process::ExitStatusExt,
    },
    path::{Path, PathBuf},
    process::ExitStatus,
    sync::Arc,
    time::Duration,
};

use anyhow::{Context, Result};
use k8s_openapi::{
    api::core::v1::{Container, ContainerStateTerminated, Pod},
    apimachinery::pkg::apis::meta::v1::Time,
    jiff::Timestamp,
};
use kube::{
    Api, Resource,
    api::{DeleteParams, Patch, PatchParams},
    runtime::events::EventType,
};
use nix::sys::signal::Signal;
use serde_json::{Value, json};
use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
    time::{Instant, sleep},
};

use super::{
    Context as NodeContext,
    container::{self, DEFAULT_PATH, Identity, Launch, Mount},
    dns::{self, OwnPod},
    env::{self, Addresses},
    images,
    network::Sandbox,
    pod_status::{self, ContainerView, Phase, PodView, RestartPolicy, State, Transitions},
    probe::{self, Kind},
    volumes::PodVolumes,
};

/// How often a pod's processes are checked for exits (cheap: `waitpid` with WNOHANG).
const TICK: Duration = Duration::from_millis(100);
/// How often ConfigMap/Secret/projected volumes are re-synced once they are in place.
const VOLUME_RESYNC: Duration = Duration::from_secs(3);
/// Retry interval while something a pod needs (a Secret, a bound claim) is missing.
const RETRY: Duration = Duration::from_secs(1);
/// The kubelet's crash-loop backoff: 10 s doubling to 5 min; the first restart is immediate.
const BACKOFF_START: Duration = Duration::from_secs(10);
const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// A container that ran this long before exiting restarts without backoff again.
const BACKOFF_RESET: Duration = Duration::from_secs(600);
/// The default `terminationGracePeriodSeconds`.
const DEFAULT_GRACE: Duration = Duration::from_secs(30);
/// The image's default arguments (its CMD) when a pod sets neither command nor args.
const IMAGE_CMD: [&str; 3] = ["server", "-dev", "-dev-no-store-token"];
/// `bao` subcommands the image's entrypoint prefixes with `bao`.
const BAO_SUBCOMMANDS: [&str; 16] = [
    "server", "status", "operator", "version", "login", "read", "write", "list", "delete", "kv",
    "secrets", "auth", "policy", "token", "agent", "proxy",
];

struct Ctr {
    spec: Container,
    init: bool,
    state: State,
    last_terminated: Option<ContainerStateTerminated>,
    starts: i32,
    generation: u32,
    /// Startup probe passed (or there is none) since the last start.
    started: bool,
    ready: bool,
    /// The next crash waits this long (zero: restart at once).
    backoff: Duration,
    /// Do not (re)start before this.
    not_before: Instant,
    probes: Vec<JoinHandle<()>>,
    /// SIGKILL at this instant when a stop (liveness failure, image change) is in progress.
    kill_at: Option<Instant>,
    /// Init container finished successfully.
    done: bool,
    image_id: String,
    container_id: Option<String>,
}

impl Ctr {
    fn new(spec: Container, init: bool) -> Self {
        Self {
            spec,
            init,
            state: State::Waiting {
                reason: if init {
                    "PodInitializing"
                } else {
                    "ContainerCreating"
                }
                .to_owned(),
                message: String::new(),
            },
            last_terminated: None,
            starts: 0,
            generation: 0,
            started: false,
            ready: false,
            backoff: Duration::ZERO,
            not_before: Instant::now(),
            probes: Vec::new(),
            kill_at: None,
            done: false,
            image_id: String::new(),
            container_id: None,
        }
    }

    fn running(&self) -> bool {
        matches!(self.state, State::Running { .. })
    }

    /// This container as its status shows it.
    fn view(&self) -> ContainerView {
        ContainerView {
            name: self.spec.name.clone(),
            image: self.spec.image.clone().unwrap_or_default(),
            image_id: self.image_id.clone(),
            container_id: self.container_id.clone(),
            state: self.state.clone(),
            last_terminated: self.last_terminated.clone(),
            restart_count: (self.starts - 1).max(0),
            started: self.started,
            ready: self.ready || self.spec.readiness_probe.is_none(),
            done: self.done,
        }
    }

    fn stop_probes(&mut self) {
        for probe in self.probes.drain(..) {
            probe.abort();
        }
    }
}

/// Runs one pod until it is deleted (or the node stops, which drops this task).
pub(crate) async fn run(
    ctx: Arc<NodeContext>,
    uid: String,
    mut updates: watch::Receiver<Option<Pod>>,
) {
    let Some(pod) = updates.borrow_and_update().clone() else {
        return;
    };
    let mut worker = Worker::new(ctx, uid, pod);
    worker.live(updates).await;
}

struct Worker {
    ctx: Arc<NodeContext>,
    uid: String,
    pod: Pod,
    namespace: String,
    name: String,
    dir: PathBuf,
    sandbox: Option<Sandbox>,
    sandbox_error: Option<String>,
    next_sandbox_try: Instant,
    volumes: PodVolumes,
    volumes_ready: bool,
    volume_error: Option<String>,
    next_volume_sync: Instant,
    containers: Vec<Ctr>,
    /// When each condition the worker reports last changed.
    transitions: Transitions,
    start_time: Timestamp,
    probe_tx: mpsc::Sender<probe::Outcome>,
    probe_rx: mpsc::Receiver<probe::Outcome>,
    last_status: Option<Value>,
    /// Succeeded or Failed: nothing runs any more, the sandbox is gone.
    terminal_phase: Option<Phase>,
    /// Reason+message of events already sent, so a retry loop does not flood them.
    sent_events: std::collections::BTreeSet<String>,
    /// The pod had finished before this worker saw it: its status is left as it is.
    adopted_terminal: bool,
}

impl Worker {
    fn new(ctx: Arc<NodeContext>, uid: String, pod: Pod) -> Self {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let dir = ctx.pods_dir.join(format!("{namespace}_{name}_{uid}"));
        let spec = pod.spec.clone().unwrap_or_default();
        let containers = spec
            .init_containers
            .into_iter()
            .flatten()
            .map(|c| Ctr::new(c, true))
            .chain(spec.containers.into_iter().map(|c| Ctr::new(c, false)))
            .collect();
        let (probe_tx, probe_rx) = mpsc::channel(64);
        // A pod that already finished (seen again after a watch restart) stays as it is.
        let terminal_phase = match pod.status.as_ref().and_then(|s| s.phase.as_deref()) {
            Some("Succeeded") => Some(Phase::Succeeded),
            Some("Failed") => Some(Phase::Failed),
            _ => None,
        };
        Self {
            volumes: PodVolumes::new(dir.join("volumes"), ctx.node_dir.clone()),
            ctx,
            uid,
            pod,
            namespace,
            name,
            dir,
            sandbox: None,
            sandbox_error: None,
            next_sandbox_try: Instant::now(),
            volumes_ready: false,
            volume_error: None,
            next_volume_sync: Instant::now(),
            containers,
            transitions: Transitions::default(),
            start_time: Timestamp::now(),
            probe_tx,
            probe_rx,
            last_status: None,
            adopted_terminal: terminal_phase.is_some(),
            terminal_phase,
            sent_events: std::collections::BTreeSet::new(),
        }
    }

    async fn live(&mut self, mut updates: watch::Receiver<Option<Pod>>) {
        let mut gone = false;
        loop {
            if gone || self.pod.metadata.deletion_timestamp.is_some() {
                self.finish(gone).await;
                return;
            }
            if self.terminal_phase.is_none() {
                self.step().await;
            }
            if !self.adopted_terminal {
                self.publish().await;
            }
            tokio::select! {
                changed = updates.changed() => {
                    match changed.ok().and_then(|()| updates.borrow_and_update().clone()) {
                        Some(pod) => self.pod = pod,
                        None => gone = true,
                    }
                }
                Some(outcome) = self.probe_rx.recv() => self.on_probe(outcome).await,
                () = sleep(TICK) => {}
            }
        }
    }

    fn spec_restart_policy(&self) -> RestartPolicy {
        RestartPolicy::of(
            self.pod
                .spec
                .as_ref()
                .and_then(|s| s.restart_policy.as_deref()),
        )
    }

    fn addresses(&self) -> Addresses {
        Addresses {
            pod_ip: self
                .sandbox
                .as_ref()
                .map(|s| s.ip.to_string())
                .unwrap_or_default(),
            host_ip: self.ctx.network.gateway().to_string(),
            api_host: self.ctx.api_address.to_string(),
            api_port: self.ctx.api_port,
        }
    }

    async fn step(&mut self) {
        if self.sandbox.is_none() {
            if Instant::now() < self.next_sandbox_try {
                return;
            }
            match self.create_sandbox().await {
                Ok(()) => self.sandbox_error = None,
                Err(e) => {
                    let message = format!("{e:#}");
                    self.event(EventType::Warning, "FailedCreatePodSandBox", &message)
                        .await;
                    self.sandbox_error = Some(message);
                    self.next_sandbox_try = Instant::now() + RETRY;
                    return;
                }
            }
        }
        if Instant::now() >= self.next_volume_sync {
            let addresses = self.addresses();
            let store = self.ctx.store.clone();
            // A store image's own user reads the pod's volumes unless runAsUser says otherwise.
            let image_uid = |image: &str| {
                image_user(store.find(image)?, None, false)
                    .ok()
                    .and_then(|(uid, _)| uid)
            };
            match self
                .volumes
                .sync(&self.ctx.client, &self.pod, &addresses, &image_uid)
                .await
            {
                Ok(()) => {
                    self.volumes_ready = true;
                    self.volume_error = None;
                    self.next_volume_sync = Instant::now() + VOLUME_RESYNC;
                }
                Err(message) => {
                    self.event(EventType::Warning, "FailedMount", &message)
                        .await;
                    self.volume_error = Some(message);
                    self.next_volume_sync = Instant::now() + RETRY;
                }
            }
        }
        if !self.volumes_ready {
            return;
        }
        self.reap().await;
        self.enforce_kills();
        // Init containers one after another; regular containers once all have succeeded.
        let mut initialized = true;
        for i in 0..self.containers.len() {
            let ctr = &self.containers[i];
            if ctr.init {
                if ctr.done {
                    continue;
                }
                initialized = false;
                if !ctr.running() && self.due(i) {
                    self.start(i).await;
                }
                break;
            }
        }
        if !initialized {
            return;
        }
        for i in 0..self.containers.len() {
            if self.containers[i].init {
                continue;
            }
            if self.containers[i].running() {
                self.restart_on_image_change(i).await;
            } else if self.due(i) {
                self.start(i).await;
            }
        }
        self.settle_phase().await;
    }

    /// Whether a waiting container may be started now.
    fn due(&self, i: usize) -> bool {
        let ctr = &self.containers[i];
        match &ctr.state {
            State::Waiting { .. } => Instant::now() >= ctr.not_before,
            State::Running { .. } | State::Terminated(_) => false,
        }
    }

    async fn create_sandbox(&mut self) -> Result<()> {
        let spec = self.pod.spec.clone().unwrap_or_default();
        let host_network = spec.host_network == Some(true);
        let network = self.ctx.network.clone();
        let sandbox = tokio::task::spawn_blocking(move || network.add_pod(host_network)).await??;
        let hostname = if host_network {
            self.ctx.node_name.clone()
        } else {
            spec.hostname.clone().unwrap_or_else(|| self.name.clone())
        };
        let files = fs::create_dir_all(self.dir.join("logs"))
            .and_then(|()| {
                fs::write(
                    self.dir.join("resolv.conf"),
                    dns::resolv_conf(&self.namespace),
                )
            })
            .and_then(|()| fs::write(self.dir.join("hostname"), format!("{hostname}\n")));
        if let Err(e) = files {
            // Not half a sandbox: the next attempt starts from scratch.
            let network = self.ctx.network.clone();
            let _ = tokio::task::spawn_blocking(move || network.remove_pod(&sandbox)).await;
            return Err(e).context("writing the pod's resolv.conf and hostname");
        }
        let own = OwnPod {
            namespace: self.namespace.clone(),
            ip: sandbox.ip,
            hostname,
            subdomain: spec.subdomain.clone().filter(|s| !s.is_empty()),
        };
        self.ctx.registry.add_pod(
            &self.uid,
            &self.namespace,
            &self.name,
            &sandbox.netns,
            own,
            self.dir.join("hosts"),
        );
        self.sandbox = Some(sandbox);
        // The hosts file must exist before a container bind-mounts it.
        self.ctx.refresh_hosts();
        Ok(())
    }

    /// Collects exited containers and decides about restarts.
    async fn reap(&mut self) {
        for i in 0..self.containers.len() {
            if !self.containers[i].running() {
                continue;
            }
            let name = self.containers[i].spec.name.clone();
            if let Some(status) = self.ctx.registry.try_wait(&self.uid, &name) {
                self.on_exit(i, status).await;
            }
        }
    }

    fn enforce_kills(&mut self) {
        for ctr in &mut self.containers {
            if let Some(at) = ctr.kill_at
                && Instant::now() >= at
                && ctr.running()
            {
                self.ctx
                    .registry
                    .signal(&self.uid, &ctr.spec.name, Signal::SIGKILL);
                ctr.kill_at = None;
            }
        }
    }

    async fn on_exit(&mut self, i: usize, status: ExitStatus) {
        let policy = self.spec_restart_policy();
        let ctr = &mut self.containers[i];
        ctr.stop_probes();
        ctr.ready = false;
        ctr.started = false;
        ctr.kill_at = None;
        let started_at = match &ctr.state {
            State::Running { started_at } => *started_at,
            _ => Timestamp::now(),
        };
        let code = status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        // The termination message: what the container wrote to its message file (outside /dev,
        // see `prepare`), else, with `terminationMessagePolicy: FallbackToLogsOnError` and a
        // failure, the tail of its log, as the kubelet does.
        let written = termination_message_target(&ctr.spec)
            .and_then(|_| {
                fs::read(termination_message_file(
                    &self.dir.join("containers").join(&ctr.spec.name),
                ))
                .ok()
            })
            .filter(|m| !m.is_empty())
            .map(|m| {
                String::from_utf8_lossy(&m[..m.len().min(TERMINATION_MESSAGE_BYTES)]).to_string()
            });
        let fallback =
            ctr.spec.termination_message_policy.as_deref() == Some("FallbackToLogsOnError");
        let message = written.or_else(|| {
            (fallback && code != 0)
                .then(|| log_tail(&self.dir.join("logs").join(format!("{}.log", ctr.spec.name))))
                .flatten()
        });
        let terminated = ContainerStateTerminated {
            container_id: ctr.container_id.clone(),
            exit_code: code,
            finished_at: Some(Time(Timestamp::now())),
            reason: Some(if code == 0 { "Completed" } else { "Error" }.to_owned()),
            signal: status.signal(),
            started_at: Some(Time(started_at)),
            message,
        };
        let restart = if ctr.init {
            // Init containers never restart after success; `Always` means `OnFailure` for them.
            code != 0 && policy != RestartPolicy::Never
        } else {
            policy == RestartPolicy::Always || (policy == RestartPolicy::OnFailure && code != 0)
        };
        if ctr.init && code == 0 {
            ctr.done = true;
        }
        if !restart {
            ctr.state = State::Terminated(terminated);
            return;
        }
        let ran = Timestamp::now().duration_since(started_at);
        if Duration::try_from(ran).unwrap_or_default() >= BACKOFF_RESET {
            ctr.backoff = Duration::ZERO;
        }
        let delay = ctr.backoff;
        ctr.backoff = if delay.is_zero() {
            BACKOFF_START
        } else {
            (delay * 2).min(BACKOFF_MAX)
        };
        ctr.last_terminated = Some(terminated);
        ctr.not_before = Instant::now() + delay;
        let message = format!(
            "back-off {}s restarting failed container={} pod={}_{}({})",
            delay.as_secs(),
            ctr.spec.name,
            self.name,
            self.namespace,
            self.uid
        );
        ctr.state = State::Waiting {
            reason: "CrashLoopBackOff".to_owned(),
            message: message.clone(),
        };
        if !delay.is_zero() {
            self.event(EventType::Warning, "BackOff", &message).await;
        }
    }

    /// The kubelet restarts a container whose image was changed in the pod spec.
    async fn restart_on_image_change(&mut self, i: usize) {
        let Some(spec) = self.pod.spec.as_ref() else {
            return;
        };
        let ctr = &self.containers[i];
        let Some(current) = spec.containers.iter().find(|c| c.name == ctr.spec.name) else {
            return;
        };
        if current.image == ctr.spec.image || ctr.kill_at.is_some() {
            return;
        }
        let message = format!(
            "Container {} definition changed, will be restarted",
            ctr.spec.name
        );
        self.containers[i].spec.image = current.image.clone();
        self.event(EventType::Normal, "Killing", &message).await;
        self.stop_container(i, self.grace());
    }

    fn grace(&self) -> Duration {
        let seconds = self.pod.metadata.deletion_grace_period_seconds.or_else(|| {
            self.pod
                .spec
                .as_ref()
                .and_then(|s| s.termination_grace_period_seconds)
        });
        seconds
            .and_then(|s| u64::try_from(s).ok())
            .map_or(DEFAULT_GRACE, Duration::from_secs)
    }

    /// SIGTERM now, SIGKILL after `grace` (enforced by `enforce_kills`); the exit is handled
    /// like any other.
    fn stop_container(&mut self, i: usize, grace: Duration) {
        let ctr = &mut self.containers[i];
        self.ctx
            .registry
            .signal(&self.uid, &ctr.spec.name, Signal::SIGTERM);
        ctr.kill_at = Some(Instant::now() + grace);
    }

    async fn start(&mut self, i: usize) {
        match self.prepare(i).await {
            Ok(launch) => {
                if let Err(e) = self.launch(i, launch).await {
                    let message = format!("{e:#}");
                    self.wait_with(i, "RunContainerError", &message, BACKOFF_START);
                    self.event(EventType::Warning, "Failed", &message).await;
                }
            }
            Err((reason, message, retry)) => {
                self.wait_with(i, reason, &message, retry);
                self.event(EventType::Warning, "Failed", &message).await;
            }
        }
    }

    fn wait_with(&mut self, i: usize, reason: &str, message: &str, retry: Duration) {
        let ctr = &mut self.containers[i];
        ctr.state = State::Waiting {
            reason: reason.to_owned(),
            message: message.to_owned(),
        };
        ctr.not_before = Instant::now() + retry;
    }

    /// Everything a start needs; `Err((reason, message, retry after))` leaves it waiting.
    async fn prepare(
        &mut self,
        i: usize,
    ) -> std::result::Result<Launch, (&'static str, String, Duration)> {
        let spec = self.pod.spec.clone().unwrap_or_default();
        let container = self.containers[i].spec.clone();
        let image = container.image.clone().unwrap_or_default();
        let config_error = |message: String| ("CreateContainerConfigError", message, RETRY);
        // The store first; the binary table for the images that cannot be built here.
        let stored = self.ctx.store.find(&image).cloned();
        let binary = match &stored {
            Some(stored) => {
                self.containers[i].image_id = stored.digest.clone();
                None
            }
            None => {
                let binary = images::resolve(&self.ctx.images, &image)
                    .and_then(|binary| images::check_binary(&image, binary).map(|()| binary))
                    .map_err(|message| {
                        let stored = self.ctx.store.list();
                        let message = if stored.is_empty() {
                            message
                        } else {
                            let names: Vec<&str> = stored.keys().map(String::as_str).collect();
                            format!(
                                "{message}; nor is it in the node's OCI image store, which \
                                 holds [{}] (an exact repository:tag match)",
                                names.join(", ")
                            )
                        };
                        ("ErrImagePull", message, Duration::from_secs(30))
                    })?
                    .to_owned();
                self.containers[i].image_id = format!("localcluster://{}", binary.display());
                Some(binary)
            }
        };

        let pod_security = spec.security_context.clone().unwrap_or_default();
        let security = container.security_context.clone().unwrap_or_default();
        let mut uid = security.run_as_user.or(pod_security.run_as_user);
        let mut gid = security.run_as_group.or(pod_security.run_as_group);
        let non_root = security.run_as_non_root.or(pod_security.run_as_non_root) == Some(true);
        let pod_sets_uid = uid.is_some();
        if let Some(stored) = &stored {
            let (image_uid, image_gid) = image_user(stored, uid, non_root).map_err(config_error)?;
            uid = uid.or(image_uid);
            gid = gid.or(image_gid);
        }
        if non_root && uid.unwrap_or(0) == 0 {
            return Err(config_error(if pod_sets_uid {
                "container's runAsUser breaks non-root policy".to_owned()
            } else if stored.is_some() {
                "container has runAsNonRoot and image will run as root".to_owned()
            } else {
                "container has runAsNonRoot and image will run as root (the localcluster \
                 node runs images as root unless runAsUser is set)"
                    .to_owned()
            }));
        }
        let to_u32 = |v: i64| u32::try_from(v).map_err(|_| config_error(format!("invalid id {v}")));
        let user = match uid {
            Some(uid) if uid != 0 || gid.is_some_and(|g| g != 0) => {
                let mut groups = Vec::new();
                if let Some(fs_group) = pod_security.fs_group {
                    groups.push(to_u32(fs_group)?);
                }
                for g in pod_security.supplemental_groups.iter().flatten() {
                    groups.push(to_u32(*g)?);
                }
                Some((to_u32(uid)?, to_u32(gid.unwrap_or(0))?, groups))
            }
            _ => None,
        };
        let drop_capabilities = security
            .capabilities
            .as_ref()
            .and_then(|c| c.drop.clone())
            .unwrap_or_default();
        let working_dir = container
            .working_dir
            .clone()
            .filter(|w| !w.is_empty())
            .or_else(|| {
                let config = &stored.as_ref()?.config;
                config.working_dir.clone().filter(|w| !w.is_empty())
            })
            .unwrap_or_else(|| "/".to_owned());
        let identity = Identity {
            user,
            no_new_privs: security.allow_privilege_escalation == Some(false),
            drop_capabilities,
            image_workdir: stored.as_ref().map(|_| working_dir.clone()),
        };

        let addresses = self.addresses();
        let pod_environment = env::environment(&self.ctx.client, &self.pod, &container, &addresses)
            .await
            .map_err(|e| config_error(e.0))?;
        // The image's Env first; the pod's variables override them by name.
        let mut environment = stored
            .as_ref()
            .map(|s| image_environment(&s.config))
            .unwrap_or_default();
        for (name, value) in pod_environment {
            match environment.iter_mut().find(|(k, _)| *k == name) {
                Some(entry) => entry.1 = value,
                None => environment.push((name, value)),
            }
        }
        let hostname = fs::read_to_string(self.dir.join("hostname"))
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| self.name.clone());
        // What the image and the runtime add when the pod does not set them.
        let has = |env: &[(String, String)], name: &str| env.iter().any(|(k, _)| k == name);
        let home = if identity.user.is_some() {
            "/"
        } else {
            "/root"
        };
        for (name, value) in [
            ("PATH", DEFAULT_PATH),
            ("HOME", home),
            ("HOSTNAME", hostname.as_str()),
        ] {
            if !has(&environment, name) {
                environment.insert(0, (name.to_owned(), value.to_owned()));
            }
        }
        let lookup = |name: &str| {
            environment
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let argv = match &stored {
            Some(stored) => image_command_line(&container, &stored.config, &lookup),
            None => command_line(&container, images::entrypoint(&image), &lookup),
        };
        if argv.is_empty() {
            return Err(config_error(format!(
                "no command specified: image {image:?} has no ENTRYPOINT or CMD and the \
                 container sets no command"
            )));
        }

        let mut mounts = Vec::new();
        for mount in container.volume_mounts.iter().flatten() {
            let prepared = self.volumes.get(&mount.name).ok_or_else(|| {
                config_error(format!(
                    "the pod has no volume {:?} (volumeMount {})",
                    mount.name, mount.mount_path
                ))
            })?;
            let sub = match (&mount.sub_path, &mount.sub_path_expr) {
                (Some(sub), _) if !sub.is_empty() => Some(sub.clone()),
                (_, Some(expr)) if !expr.is_empty() => Some(env::expand(expr, lookup)),
                _ => None,
            };
            let source = match sub {
                Some(sub) => subpath_source(&prepared.path, &sub, prepared.read_only)
                    .map_err(|e| config_error(format!("{e:#}")))?,
                None => prepared.path.clone(),
            };
            mounts.push(Mount {
                source,
                target: mount.mount_path.clone(),
                read_only: mount.read_only == Some(true) || prepared.read_only,
            });
        }
        let ctr_dir = self.dir.join("containers").join(&container.name);
        // The termination message file, as the kubelet mounts it, emptied for every start. Only
        // outside /dev: here /dev is the node's own, where nothing may be created.
        if let Some(target) = termination_message_target(&container) {
            let file = termination_message_file(&ctr_dir);
            fs::create_dir_all(&ctr_dir)
                .and_then(|()| fs::write(&file, b""))
                .and_then(|()| fs::set_permissions(&file, fs::Permissions::from_mode(0o666)))
                .map_err(|e| config_error(format!("termination message file: {e}")))?;
            mounts.push(Mount {
                source: file,
                target,
                read_only: false,
            });
        }
        Ok(Launch {
            rootfs: ctr_dir.join("rootfs"),
            scratch: ctr_dir.join("scratch"),
            binary,
            image_root: stored.map(|s| s.rootfs),
            hosts: self.dir.join("hosts"),
            resolv_conf: self.dir.join("resolv.conf"),
            hostname_file: self.dir.join("hostname"),
            hostname,
            mounts,
            read_only_root: security.read_only_root_filesystem == Some(true),
            working_dir,
            identity,
            env: environment,
            argv,
        })
    }

    async fn launch(&mut self, i: usize, launch: Launch) -> Result<()> {
        let sandbox = self.sandbox.clone().context("the pod has no sandbox")?;
        let name = self.containers[i].spec.name.clone();
        let script = container::script(&launch)?;
        let ctr_dir = self.dir.join("containers").join(&name);
        fs::create_dir_all(&launch.rootfs)?;
        fs::create_dir_all(&launch.scratch)?;
        let script_path = ctr_dir.join("start.sh");
        // The script holds the environment, Secret values included: root only.
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o700)
            .open(&script_path)?;
        std::io::Write::write_all(&mut file, script.as_bytes())?;
        drop(file);
        let log = self.dir.join("logs").join(format!("{name}.log"));
        let netns = sandbox.netns_path();
        let args = vec![
            format!("--net={}", netns.display()),
            "--".to_owned(),
            "unshare".to_owned(),
            "--mount".to_owned(),
            "--uts".to_owned(),
            "--propagation".to_owned(),
            "private".to_owned(),
            "--".to_owned(),
            "/bin/sh".to_owned(),
            script_path.display().to_string(),
        ];
        let process = crate::process::spawn_logged(
            &self.ctx.run,
            &format!("pod {}/{} {name}", self.namespace, self.name),
            Path::new("nsenter"),
            &args,
            &log,
        )
        .map_err(|e| {
            if e.chain().any(|c| c.to_string().contains("No such file")) {
                anyhow::anyhow!(
                    "{e:#}; the localcluster node needs nsenter and unshare (Debian package \
                     util-linux), mount/umount (mount) and setpriv (util-linux)"
                )
            } else {
                e
            }
        })?;
        let pid = process.pid();
        self.ctx.registry.add_container(
            &self.uid,
            &name,
            process,
            launch.identity.clone(),
            launch.env.clone(),
            log,
        );
        let ctr = &mut self.containers[i];
        ctr.starts += 1;
        ctr.generation += 1;
        ctr.container_id = Some(format!("localcluster://{pid}"));
        ctr.state = State::Running {
            started_at: Timestamp::now(),
        };
        ctr.ready = false;
        ctr.started = false;
        let target = probe::Target {
            container: name.clone(),
            generation: ctr.generation,
            ip: IpAddr::V4(sandbox.ip),
            pid,
            identity: launch.identity,
            env: launch.env,
            ports: ctr.spec.ports.clone().unwrap_or_default(),
            source_netns: self.ctx.probe_netns(),
        };
        match ctr.spec.startup_probe.clone() {
            Some(startup) => ctr.probes.push(probe::spawn(
                Kind::Startup,
                startup,
                target,
                self.ctx.tls.clone(),
                self.probe_tx.clone(),
            )),
            None => {
                ctr.started = true;
                self.spawn_probes(i, target);
            }
        }
        self.event(
            EventType::Normal,
            "Started",
            &format!("Started container {name} (pid {pid})"),
        )
        .await;
        Ok(())
    }

    fn spawn_probes(&mut self, i: usize, target: probe::Target) {
        let ctr = &mut self.containers[i];
        for (kind, probe) in [
            (Kind::Readiness, ctr.spec.readiness_probe.clone()),
            (Kind::Liveness, ctr.spec.liveness_probe.clone()),
        ] {
            if let Some(probe) = probe {
                ctr.probes.push(probe::spawn(
                    kind,
                    probe,
                    target.clone(),
                    self.ctx.tls.clone(),
                    self.probe_tx.clone(),
                ));
            }
        }
    }

    async fn on_probe(&mut self, outcome: probe::Outcome) {
        let Some(i) = self.containers.iter().position(|c| {
            c.spec.name == outcome.container && c.generation == outcome.generation && c.running()
        }) else {
            return;
        };
        if !outcome.success {
            self.event(EventType::Warning, "Unhealthy", &outcome.message)
                .await;
        }
        match (outcome.kind, outcome.success) {
            (Kind::Startup, true) => {
                self.containers[i].started = true;
                let Some(pid) = self.ctx.registry.pid(&self.uid, &outcome.container) else {
                    return;
                };
                let (identity, env) = self
                    .ctx
                    .registry
                    .exec_context(&self.uid, &outcome.container)
                    .unwrap_or_default();
                let target = probe::Target {
                    container: outcome.container,
                    generation: outcome.generation,
                    ip: IpAddr::V4(
                        self.sandbox
                            .as_ref()
                            .map_or(self.ctx.network.gateway(), |s| s.ip),
                    ),
                    pid,
                    identity,
                    env,
                    ports: self.containers[i].spec.ports.clone().unwrap_or_default(),
                    source_netns: self.ctx.probe_netns(),
                };
                self.spawn_probes(i, target);
            }
            (Kind::Readiness, ready) => self.containers[i].ready = ready,
            (Kind::Startup | Kind::Liveness, false) => {
                let message = format!(
                    "Container {} failed {} probe, will be restarted",
                    outcome.container,
                    outcome.kind.name().to_ascii_lowercase()
                );
                self.event(EventType::Normal, "Killing", &message).await;
                let grace = self.containers[i]
                    .spec
                    .liveness_probe
                    .as_ref()
                    .and_then(|p| p.termination_grace_period_seconds)
                    .and_then(|s| u64::try_from(s).ok())
                    .map_or_else(|| self.grace(), Duration::from_secs);
                self.containers[i].stop_probes();
                self.stop_container(i, grace);
            }
            (Kind::Liveness, true) => {}
        }
    }

    /// Decides Succeeded/Failed for pods whose containers will not run again.
    async fn settle_phase(&mut self) {
        let states = self.containers.iter().filter(|c| !c.init).map(|c| &c.state);
        let Some(phase) = pod_status::settled(self.spec_restart_policy(), states) else {
            return;
        };
        self.terminal_phase = Some(phase);
        self.teardown_sandbox().await;
    }

    async fn teardown_sandbox(&mut self) {
        for ctr in &mut self.containers {
            ctr.stop_probes();
        }
        self.ctx.registry.forget_pod(&self.uid);
        self.ctx.refresh_hosts();
        if let Some(sandbox) = self.sandbox.clone() {
            let network = self.ctx.network.clone();
            let _ = tokio::task::spawn_blocking(move || network.remove_pod(&sandbox)).await;
        }
        // Volumes and root filesystems go; logs stay for `Node::container_log`.
        let _ = fs::remove_dir_all(self.dir.join("volumes"));
        let _ = fs::remove_dir_all(self.dir.join("containers"));
    }

    /// Deletion: stop everything within the grace period, tear down, delete the object.
    async fn finish(&mut self, gone: bool) {
        let grace = self.grace();
        let running: Vec<usize> = (0..self.containers.len())
            .filter(|&i| self.containers[i].running())
            .collect();
        if !running.is_empty() {
            self.event(
                EventType::Normal,
                "Killing",
                &format!(
                    "Stopping pod {} (grace period {} s)",
                    self.name,
                    grace.as_secs()
                ),
            )
            .await;
        }
        for &i in &running {
            self.containers[i].stop_probes();
            self.ctx
                .registry
                .signal(&self.uid, &self.containers[i].spec.name, Signal::SIGTERM);
        }
        let deadline = Instant::now() + grace;
        // A process that survives SIGKILL this long is stuck in the kernel; the pod object is
        // deleted anyway and the node's shutdown retries the kill.
        let give_up = deadline + Duration::from_secs(10);
        loop {
            let mut alive = false;
            for &i in &running {
                let name = self.containers[i].spec.name.clone();
                if self.containers[i].running() {
                    match self.ctx.registry.try_wait(&self.uid, &name) {
                        Some(status) => {
                            let code = status
                                .code()
                                .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
                            self.containers[i].state =
                                State::Terminated(ContainerStateTerminated {
                                    container_id: self.containers[i].container_id.clone(),
                                    exit_code: code,
                                    finished_at: Some(Time(Timestamp::now())),
                                    reason: Some(
                                        if code == 0 { "Completed" } else { "Error" }.to_owned(),
                                    ),
                                    signal: status.signal(),
                                    ..ContainerStateTerminated::default()
                                });
                        }
                        None => alive = true,
                    }
                }
            }
            if !alive {
                break;
            }
            if Instant::now() >= give_up {
                tracing::warn!(pod = %format!("{}/{}", self.namespace, self.name), "a container process survived SIGKILL");
                break;
            }
            if Instant::now() >= deadline {
                for &i in &running {
                    self.ctx.registry.signal(
                        &self.uid,
                        &self.containers[i].spec.name,
                        Signal::SIGKILL,
                    );
                }
            }
            sleep(Duration::from_millis(50)).await;
        }
        self.teardown_sandbox().await;
        if gone {
            return;
        }
        let pods: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &self.namespace);
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(kube::api::Preconditions {
                uid: Some(self.uid.clone()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match pods.delete(&self.name, &params).await {
            Ok(_) => {}
            // Gone already, or replaced by a pod of the same name (another uid).
            Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => {}
            Err(e) => {
                tracing::warn!(pod = %format!("{}/{}", self.namespace, self.name), "final delete: {e}")
            }
        }
    }

    /// The pod as its status is computed from: the worker's state and the API object's.
    fn view(&self) -> PodView {
        let in_order = |init: bool| {
            self.containers
                .iter()
                .filter(|c| c.init == init)
                .map(Ctr::view)
                .collect()
        };
        PodView {
            generation: self.pod.metadata.generation,
            restart_policy: self.spec_restart_policy(),
            settled: self.terminal_phase,
            sandbox: self.sandbox.is_some(),
            host_ip: self.ctx.network.gateway().to_string(),
            pod_ip: self
                .sandbox
                .as_ref()
                .map(|s| s.ip.to_string())
                .or_else(|| self.pod.status.as_ref().and_then(|s| s.pod_ip.clone())),
            start_time: self.start_time,
            readiness_gates: self
                .pod
                .spec
                .as_ref()
                .and_then(|s| s.readiness_gates.as_ref())
                .into_iter()
                .flatten()
                .map(|g| g.condition_type.clone())
                .collect(),
            conditions: self
                .pod
                .status
                .as_ref()
                .and_then(|s| s.conditions.clone())
                .unwrap_or_default(),
            message: self
                .sandbox_error
                .clone()
                .or_else(|| self.volume_error.clone()),
            init_containers: in_order(true),
            containers: in_order(false),
        }
    }

    async fn publish(&mut self) {
        let status = pod_status::render(&self.view(), &mut self.transitions, Timestamp::now());
        if self.last_status.as_ref() == Some(&status) {
            return;
        }
        let pods: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &self.namespace);
        match pods
            .patch_status(
                &self.name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "status": status })),
            )
            .await
        {
            Ok(_) => self.last_status = Some(status),
            Err(kube::Error::Api(s)) if s.code == 404 => self.last_status = Some(status),
            Err(e) => {
                tracing::debug!(pod = %format!("{}/{}", self.namespace, self.name), "status update: {e}")
            }
        }
    }

    async fn event(&mut self, type_: EventType, reason: &str, note: &str) {
        let key = format!("{reason}\0{note}");
        if !self.sent_events.insert(key) {
            return;
        }
        let reference = self.pod.object_ref(&());
        self.ctx.event(&reference, type_, reason, note).await;
    }
}

/// `command` + `args` with `$(VAR)` expanded; without a command, the image's entrypoint
/// behaviour: its default arguments, and `bao` in front of a `bao` subcommand or a flag
/// (`server` also listens on 0.0.0.0:8200 in dev mode, as the image's entrypoint arranges).
pub(crate) fn command_line(
    container: &Container,
    entrypoint: Option<&str>,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Vec<String> {
    let (command, args) = pod_command_and_args(container, lookup);
    if !command.is_empty() {
        return command.into_iter().chain(args).collect();
    }
    if let Some(entrypoint) = entrypoint {
        return std::iter::once(entrypoint.to_owned()).chain(args).collect();
    }
    let args = if args.is_empty() {
        IMAGE_CMD.iter().map(|s| (*s).to_owned()).collect()
    } else {
        args
    };
    let first = args[0].as_str();
    if first == "server" {
        let mut argv = vec![
            "bao".to_owned(),
            "server".to_owned(),
            "-dev-listen-address=0.0.0.0:8200".to_owned(),
        ];
        argv.extend(args.into_iter().skip(1));
        argv
    } else if first.starts_with('-') || BAO_SUBCOMMANDS.contains(&first) {
        std::iter::once("bao".to_owned()).chain(args).collect()
    } else {
        args
    }
}

/// The container's own `command` and `args`, with `$(VAR)` expanded.
fn pod_command_and_args(
    container: &Container,
    lookup: &impl Fn(&str) -> Option<String>,
) -> (Vec<String>, Vec<String>) {
    let expand = |list: &Option<Vec<String>>| -> Vec<String> {
        list.iter()
            .flatten()
            .map(|s| env::expand(s, lookup))
            .collect()
    };
    (expand(&container.command), expand(&container.args))
}

/// `command` + `args` of a store image with Kubernetes' rules: `command` replaces the
/// ENTRYPOINT and drops the CMD, `args` replaces the CMD; `$(VAR)` is expanded in what the pod
/// gives, not in what the image says.
pub(crate) fn image_command_line(
    container: &Container,
    config: &super::oci::ImageConfig,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Vec<String> {
    let (command, args) = pod_command_and_args(container, lookup);
    if !command.is_empty() {
        return command.into_iter().chain(args).collect();
    }
    let args = if args.is_empty() {
        config.cmd.clone().unwrap_or_default()
    } else {
        args
    };
    config
        .entrypoint
        .clone()
        .unwrap_or_default()
        .into_iter()
        .chain(args)
        .collect()
}

/// The image config's `Env` (`NAME=value` entries) as pairs.
fn image_environment(config: &super::oci::ImageConfig) -> Vec<(String, String)> {
    config
        .env
        .iter()
        .flatten()
        .map(|entry| match entry.split_once('=') {
            Some((name, value)) => (name.to_owned(), value.to_owned()),
            None => (entry.clone(), String::new()),
        })
        .collect()
}

/// The uid and gid the image's `User` (`uid[:gid]`, names looked up in the image's
/// `/etc/passwd` and `/etc/group`) contributes when the pod sets no `runAsUser`; with one,
/// only the primary group of that uid in the image's `/etc/passwd`. `Err` is the message of
/// `CreateContainerConfigError`, e.g. a user name under `runAsNonRoot` (the kubelet cannot
/// verify it is not root either).
fn image_user(
    image: &super::oci::StoredImage,
    pod_uid: Option<i64>,
    non_root: bool,
) -> std::result::Result<(Option<i64>, Option<i64>), String> {
    let passwd = fs::read_to_string(image.rootfs.join("etc/passwd")).unwrap_or_default();
    let group = fs::read_to_string(image.rootfs.join("etc/group")).unwrap_or_default();
    // (name, id, primary gid) of /etc/passwd, (name, id) of /etc/group.
    let entries = |text: &str| -> Vec<Vec<String>> {
        text.lines()
            .map(|l| l.split(':').map(str::to_owned).collect::<Vec<_>>())
            .filter(|f| f.len() >= 3)
            .collect()
    };
    let users = entries(&passwd);
    let groups = entries(&group);
    let primary_gid = |uid: i64| -> Option<i64> {
        users
            .iter()
            .find(|f| f[2].parse::<i64>().ok() == Some(uid))
            .and_then(|f| f.get(3)?.parse().ok())
    };
    if let Some(uid) = pod_uid {
        return Ok((None, primary_gid(uid)));
    }
    let spec = image.config.user.clone().unwrap_or_default();
    if spec.is_empty() {
        return Ok((Some(0), None));
    }
    let (user, group_spec) = match spec.split_once(':') {
        Some((u, g)) => (u.to_owned(), Some(g.to_owned())),
        None => (spec.clone(), None),
    };
    let uid = match user.parse::<i64>() {
        Ok(uid) => uid,
        Err(_) if non_root => {
            return Err(format!(
                "container has runAsNonRoot and image has non-numeric user ({user}), cannot \
                 verify user is non-root"
            ));
        }
        Err(_) => users
            .iter()
            .find(|f| f[0] == user)
            .and_then(|f| f[2].parse().ok())
            .ok_or_else(|| {
                format!("unable to find user {user}: no matching entries in passwd file")
            })?,
    };
    let gid = match group_spec {
        Some(g) => Some(match g.parse::<i64>() {
            Ok(gid) => gid,
            Err(_) => groups
                .iter()
                .find(|f| f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| {
                    format!("unable to find group {g}: no matching entries in group file")
                })?,
        }),
        None => primary_gid(uid),
    };
    Ok((Some(uid), gid))
}

/// The host directory a `subPath` of the volume at `volume` mounts, created when missing on a
/// writable volume. A pod can plant symlinks in its writable volumes, so the path must
/// resolve inside the volume: otherwise root would create and bind-mount wherever the
/// symlink points (the kubelet's subPath CVE-2017-1002101).
fn subpath_source(volume: &Path, sub: &str, read_only: bool) -> Result<PathBuf> {
    if Path::new(sub)
        .components()
        .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        anyhow::bail!("invalid subPath {sub:?}: only a relative path without `..` is allowed");
    }
    let confined = || {
        crate::paths::confine(volume, Path::new(sub)).with_context(|| format!("subPath {sub:?}"))
    };
    let source = confined()?;
    if !read_only && !source.exists() {
        // Only the directories created here change mode, never one that existed.
        let created: Vec<PathBuf> = source
            .ancestors()
            .take_while(|dir| !dir.exists())
            .map(Path::to_path_buf)
            .collect();
        fs::create_dir_all(&source)
            .with_context(|| format!("creating subPath {sub:?} at {}", source.display()))?;
        // As the kubelet does: a created sub-directory gets the volume root's mode, so the
        // fsGroup's write bit (and setgid) carry over and a non-root container can write into
        // it (the group follows from the setgid root).
        let mode = fs::metadata(volume)?.permissions().mode() & 0o7777;
        for dir in created {
            fs::set_permissions(&dir, fs::Permissions::from_mode(mode))
                .with_context(|| format!("chmod subPath {sub:?} at {}", dir.display()))?;
        }
    }
    // Again after creating: a symlink swapped in meanwhile is refused here, not mounted.
    confined()
}

/// The most of a termination message file the kubelet keeps.
const TERMINATION_MESSAGE_BYTES: usize = 4096;

/// Where `container` wants its termination message file, when the node can give it one: any
/// path but the default under `/dev` (the container's `/dev` is the node's).
fn termination_message_target(container: &Container) -> Option<String> {
    container
        .termination_message_path
        .clone()
        .filter(|p| p.starts_with('/') && !p.starts_with("/dev/") && p != "/dev")
}

/// The node's copy of a container's termination message file.
fn termination_message_file(container_dir: &Path) -> PathBuf {
    container_dir.join("termination-log")
}

/// The kubelet's limits for a termination message taken from the log: the last 80 lines, at
/// most 2048 bytes (whichever is smaller).
const LOG_TAIL_LINES: usize = 80;
/// See [`LOG_TAIL_LINES`].
const LOG_TAIL_BYTES: usize = 2048;

/// The last lines of the log at `path`, within the kubelet's limits; `None` when it is empty
/// or unreadable.
fn log_tail(path: &Path) -> Option<String> {
    let bytes = fs::read(path).ok()?;
    let start = bytes.len().saturating_sub(LOG_TAIL_BYTES);
    let text = String::from_utf8_lossy(&bytes[start..]);
    // A cut in the middle of a line drops that partial line.
    let text = if start > 0 {
        text.split_once('\n').map_or("", |(_, rest)| rest)
    } else {
        &text
    };
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n");
    (!tail.trim().is_empty()).then_some(tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(command: &[&str], args: &[&str]) -> Container {
        let list =
            |v: &[&str]| (!v.is_empty()).then(|| v.iter().map(|s| (*s).to_owned()).collect());
        Container {
            name: "c".into(),
            command: list(command),
            args: list(args),
            ..Container::default()
        }
    }

    #[test]
    fn a_subpath_through_a_symlink_the_pod_planted_is_refused_and_nothing_is_created_there() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = fs::canonicalize(dir.path()).expect("canonical");
        let volume = base.join("claim");
        let outside = base.join("outside");
        fs::create_dir(&volume).expect("mkdir");
        fs::create_dir(&outside).expect("mkdir");
        std::os::unix::fs::symlink(&outside, volume.join("link")).expect("symlink");

        let inside = subpath_source(&volume, "data/x", false).expect("a plain subPath");
        assert_eq!(inside, volume.join("data/x"));
        assert!(inside.is_dir(), "created on a writable volume");

        let message = format!(
            "{:#}",
            subpath_source(&volume, "link/x", false).expect_err("through the symlink")
        );
        assert!(
            message.contains("subPath \"link/x\"") && message.contains("outside"),
            "{message}"
        );
        assert!(
            !outside.join("x").exists(),
            "nothing created outside the volume"
        );
        let message = format!(
            "{:#}",
            subpath_source(&volume, "../outside", false).expect_err("dot-dot")
        );
        assert!(message.contains("invalid subPath"), "{message}");
    }

    #[test]
    fn a_created_subpath_takes_the_volume_roots_mode_so_the_fs_group_can_write_into_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let volume = fs::canonicalize(dir.path())
            .expect("canonical")
            .join("claim");
        fs::create_dir(&volume).expect("mkdir");
        fs::set_permissions(&volume, fs::Permissions::from_mode(0o2770)).expect("chmod");
        fs::create_dir(volume.join("kept")).expect("mkdir");
        fs::set_permissions(volume.join("kept"), fs::Permissions::from_mode(0o700)).expect("chmod");

        let created = subpath_source(&volume, "kept/bao-0", false).expect("a subPath");
        let mode = |p: &Path| fs::metadata(p).expect("stat").permissions().mode() & 0o7777;
        assert_eq!(
            mode(&created),
            0o2770,
            "the new directory has the root's mode"
        );
        assert_eq!(
            mode(&volume.join("kept")),
            0o700,
            "an existing one is left alone"
        );
    }

    #[test]
    fn the_command_line_follows_the_image_entrypoint_when_no_command_is_given() {
        let lookup = |name: &str| (name == "POD").then(|| "bao-0".to_owned());
        assert_eq!(
            command_line(
                &container(&["bao", "server"], &["-config=/c/$(POD).hcl"]),
                None,
                &lookup
            ),
            ["bao", "server", "-config=/c/bao-0.hcl"]
        );
        assert_eq!(
            command_line(&container(&[], &[]), None, &lookup),
            [
                "bao",
                "server",
                "-dev-listen-address=0.0.0.0:8200",
                "-dev",
                "-dev-no-store-token"
            ]
        );
        assert_eq!(
            command_line(&container(&[], &["status"]), None, &lookup),
            ["bao", "status"]
        );
        assert_eq!(
            command_line(&container(&[], &["/bin/sh", "-c", "x"]), None, &lookup),
            ["/bin/sh", "-c", "x"]
        );
        // The agnhost image's entrypoint is agnhost; a command still replaces it.
        assert_eq!(
            command_line(
                &container(&[], &["netexec", "--http-port=8080"]),
                Some("agnhost"),
                &lookup
            ),
            ["agnhost", "netexec", "--http-port=8080"]
        );
        assert_eq!(
            command_line(
                &container(&["/bin/sh"], &["-c", "x"]),
                Some("agnhost"),
                &lookup
            ),
            ["/bin/sh", "-c", "x"]
        );
    }

    #[test]
    fn a_termination_message_from_the_log_is_its_last_whole_lines_within_the_kubelets_limits() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("c.log");
        assert_eq!(log_tail(&path), None, "no log, no message");
        let many: String = (0..200).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, &many).expect("write");
        let tail = log_tail(&path).expect("a message");
        assert_eq!(tail.lines().count(), LOG_TAIL_LINES);
        assert!(
            tail.starts_with("line 120") && tail.ends_with("line 199"),
            "{tail}"
        );
        let long = format!("{}\nthe error\n", "x".repeat(5000));
        std::fs::write(&path, &long).expect("write");
        assert_eq!(log_tail(&path).as_deref(), Some("the error"));
    }
}
