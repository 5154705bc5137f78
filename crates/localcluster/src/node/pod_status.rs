//! The Pod status as Kubernetes computes it from container states: the phase (the kubelet's
//! `getPhase`), the conditions the kubelet owns with their transition times, the container
//! statuses, and the whole `status` the pod worker ([`super::pod`]) patches through the status
//! subresource.
//!
//! Pure: the worker describes its state as a [`PodView`] and [`render`]s it. Nothing here does
//! IO or reads the clock; the only memory is [`Transitions`], which the worker keeps between
//! renders so a condition's `lastTransitionTime` moves only when its status does.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{
        ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
        ContainerStatus, PodCondition,
    },
    apimachinery::pkg::apis::meta::v1::Time,
    jiff::Timestamp,
};
use serde_json::{Value, json};

/// The conditions the kubelet owns: the rest (`PodScheduled` from the scheduler, readiness
/// gates from their controllers) are carried over as the API object has them.
const KUBELET_CONDITIONS: [&str; 4] = [
    "PodReadyToStartContainers",
    "Initialized",
    "ContainersReady",
    "Ready",
];

/// `spec.restartPolicy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum RestartPolicy {
    #[default]
    Always,
    OnFailure,
    Never,
}

impl RestartPolicy {
    /// The policy a pod spec names; unset is `Always`. The API server admits only the three
    /// values; anything else is taken as `Never` (nothing restarts).
    pub(crate) fn of(spec: Option<&str>) -> Self {
        match spec {
            None | Some("Always") => Self::Always,
            Some("OnFailure") => Self::OnFailure,
            Some(_) => Self::Never,
        }
    }
}

/// `status.phase`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Pending,
    Running,
    Succeeded,
    Failed,
}

impl Phase {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Running => "Running",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
        }
    }

    /// Succeeded or Failed: nothing runs again.
    pub(crate) fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }
}

/// Where a container is in its life.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum State {
    /// Not running: being created, backing off after a crash, or unable to start; `message`
    /// is empty when there is nothing to say.
    Waiting {
        reason: String,
        message: String,
    },
    Running {
        started_at: Timestamp,
    },
    Terminated(ContainerStateTerminated),
}

impl State {
    fn exited_with_failure(&self) -> bool {
        matches!(self, Self::Terminated(t) if t.exit_code != 0)
    }
}

/// One container (init or regular) as its status shows it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ContainerView {
    pub(crate) name: String,
    /// The image the spec names.
    pub(crate) image: String,
    /// What the image resolved to (empty until it did).
    pub(crate) image_id: String,
    /// The current (or last) process.
    pub(crate) container_id: Option<String>,
    pub(crate) state: State,
    /// How the previous run ended, for a container that was restarted (`lastState`).
    pub(crate) last_terminated: Option<ContainerStateTerminated>,
    pub(crate) restart_count: i32,
    /// Past its startup probe (or it has none) since it last started.
    pub(crate) started: bool,
    /// Its readiness probe passes, or it has none.
    pub(crate) ready: bool,
    /// An init container that exited successfully and will not run again.
    pub(crate) done: bool,
}

impl ContainerView {
    fn running(&self) -> bool {
        matches!(self.state, State::Running { .. })
    }

    /// Kubernetes' `ready`: running, past its startup probe and passing its readiness probe.
    fn is_ready(&self) -> bool {
        self.running() && self.started && self.ready
    }
}

/// Everything the status of one pod is computed from.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PodView {
    /// `metadata.generation`, reported back as `observedGeneration`.
    pub(crate) generation: Option<i64>,
    pub(crate) restart_policy: RestartPolicy,
    /// Succeeded or Failed once the worker has [`settled`] it; it then stays, whatever the
    /// containers show.
    pub(crate) settled: Option<Phase>,
    /// The sandbox (network namespace and address) exists.
    pub(crate) sandbox: bool,
    pub(crate) host_ip: String,
    /// The sandbox's address, or the one already reported while there is no sandbox.
    pub(crate) pod_ip: Option<String>,
    pub(crate) start_time: Timestamp,
    /// The condition types of `spec.readinessGates`.
    pub(crate) readiness_gates: Vec<String>,
    /// The conditions the API object has now.
    pub(crate) conditions: Vec<PodCondition>,
    /// Why the pod cannot go on (its sandbox or volumes failed), as `status.message`.
    pub(crate) message: Option<String>,
    pub(crate) init_containers: Vec<ContainerView>,
    pub(crate) containers: Vec<ContainerView>,
}

/// When each kubelet condition last changed its status: the condition type → (status, when).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Transitions(BTreeMap<String, (String, Timestamp)>);

impl Transitions {
    /// The condition `type_` with status `ok`, transitioned `now` unless it had that status
    /// already.
    fn condition(
        &mut self,
        generation: Option<i64>,
        now: Timestamp,
        type_: &str,
        ok: bool,
        reason: Option<&str>,
        message: Option<String>,
    ) -> PodCondition {
        let status = if ok { "True" } else { "False" };
        let entry = self
            .0
            .entry(type_.to_owned())
            .or_insert_with(|| (status.to_owned(), now));
        if entry.0 != status {
            *entry = (status.to_owned(), now);
        }
        PodCondition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            last_transition_time: Some(Time(entry.1)),
            reason: reason.map(str::to_owned),
            message,
            // The generation of the spec this verdict is about, as the kubelet reports it.
            observed_generation: generation,
            ..PodCondition::default()
        }
    }
}

/// The kubelet's `getPhase`: Pending until the sandbox exists, every init container has
/// succeeded and every container has started; Running while any container runs or will run
/// again; Succeeded or Failed once none will, by their exit codes.
pub(crate) fn phase(pod: &PodView) -> Phase {
    if let Some(phase) = pod.settled {
        return phase;
    }
    // A failed init container under `Never` fails the pod.
    if pod.restart_policy == RestartPolicy::Never
        && pod
            .init_containers
            .iter()
            .any(|c| c.state.exited_with_failure())
    {
        return Phase::Failed;
    }
    if pod.init_containers.iter().any(|c| !c.done) || !pod.sandbox {
        return Phase::Pending;
    }
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for c in &pod.containers {
        match &c.state {
            State::Running { .. } => running += 1,
            State::Terminated(t) => {
                stopped += 1;
                if t.exit_code == 0 {
                    succeeded += 1;
                }
            }
            // Backing off after a run: it has stopped, and will run again.
            State::Waiting { .. } if c.last_terminated.is_some() => stopped += 1,
            State::Waiting { .. } => waiting += 1,
        }
    }
    if waiting > 0 {
        return Phase::Pending;
    }
    if running > 0 {
        return Phase::Running;
    }
    match pod.restart_policy {
        RestartPolicy::Always => Phase::Running,
        RestartPolicy::OnFailure if stopped == succeeded => Phase::Succeeded,
        RestartPolicy::OnFailure => Phase::Running,
        RestartPolicy::Never if stopped == succeeded => Phase::Succeeded,
        RestartPolicy::Never => Phase::Failed,
    }
}

/// Whether a pod whose (regular) containers are in `states` is finished for good: never
/// under `Always`; otherwise once every container has terminated, Failed when one of them
/// exited non-zero.
pub(crate) fn settled<'a>(
    policy: RestartPolicy,
    states: impl IntoIterator<Item = &'a State>,
) -> Option<Phase> {
    if policy == RestartPolicy::Always {
        return None;
    }
    let mut failed = false;
    for state in states {
        match state {
            State::Terminated(t) => failed |= t.exit_code != 0,
            State::Waiting { .. } | State::Running { .. } => return None,
        }
    }
    Some(if failed {
        Phase::Failed
    } else {
        Phase::Succeeded
    })
}

/// The pod's conditions: those the kubelet does not own as the API object has them, then
/// `PodReadyToStartContainers`, `Initialized` (every init container succeeded),
/// `ContainersReady` (every container ready) and `Ready` (that, and every readiness gate
/// `True`). A condition whose status is unchanged keeps its `lastTransitionTime`.
pub(crate) fn conditions(
    pod: &PodView,
    transitions: &mut Transitions,
    now: Timestamp,
) -> Vec<PodCondition> {
    let terminal = phase(pod).is_terminal();
    let mut condition = |type_: &str, ok: bool, reason: Option<&str>, message: Option<String>| {
        transitions.condition(pod.generation, now, type_, ok, reason, message)
    };
    let pending_init: Vec<&str> = pod
        .init_containers
        .iter()
        .filter(|c| !c.done)
        .map(|c| c.name.as_str())
        .collect();
    let unready: Vec<&str> = pod
        .containers
        .iter()
        .filter(|c| !c.is_ready())
        .map(|c| c.name.as_str())
        .collect();
    let gates_ok = pod.readiness_gates.iter().all(|g| {
        pod.conditions
            .iter()
            .any(|c| &c.type_ == g && c.status == "True")
    });
    let mut conditions: Vec<PodCondition> = pod
        .conditions
        .iter()
        .filter(|c| !KUBELET_CONDITIONS.contains(&c.type_.as_str()))
        .cloned()
        .collect();
    conditions.push(condition(
        "PodReadyToStartContainers",
        pod.sandbox && !terminal,
        None,
        None,
    ));
    conditions.push(if pending_init.is_empty() {
        condition("Initialized", true, None, None)
    } else {
        let message = format!(
            "containers with incomplete status: [{}]",
            pending_init.join(" ")
        );
        condition(
            "Initialized",
            false,
            Some("ContainersNotInitialized"),
            Some(message),
        )
    });
    let containers_ready = unready.is_empty() && !terminal;
    let (reason, message) = if terminal {
        (Some("PodCompleted"), None)
    } else if !containers_ready {
        (
            Some("ContainersNotReady"),
            Some(format!(
                "containers with unready status: [{}]",
                unready.join(" ")
            )),
        )
    } else {
        (None, None)
    };
    conditions.push(condition(
        "ContainersReady",
        containers_ready,
        reason,
        message.clone(),
    ));
    let (reason, message) = if containers_ready && !gates_ok {
        (
            Some("ReadinessGatesNotReady"),
            Some(format!(
                "the status of pod readiness gates is not \"True\": {:?}",
                pod.readiness_gates
            )),
        )
    } else {
        (reason, message)
    };
    conditions.push(condition(
        "Ready",
        containers_ready && gates_ok,
        reason,
        message,
    ));
    conditions
}

/// `containerStatuses` (or `initContainerStatuses`) of `containers`, in their order.
pub(crate) fn container_statuses(containers: &[ContainerView]) -> Vec<ContainerStatus> {
    containers
        .iter()
        .map(|c| {
            let state = match &c.state {
                State::Waiting { reason, message } => ContainerState {
                    waiting: Some(ContainerStateWaiting {
                        reason: Some(reason.clone()),
                        message: (!message.is_empty()).then(|| message.clone()),
                    }),
                    ..ContainerState::default()
                },
                State::Running { started_at } => ContainerState {
                    running: Some(ContainerStateRunning {
                        started_at: Some(Time(*started_at)),
                    }),
                    ..ContainerState::default()
                },
                State::Terminated(t) => ContainerState {
                    terminated: Some(t.clone()),
                    ..ContainerState::default()
                },
            };
            ContainerStatus {
                name: c.name.clone(),
                image: c.image.clone(),
                image_id: c.image_id.clone(),
                container_id: c.container_id.clone(),
                ready: c.is_ready(),
                started: Some(c.started && c.running()),
                restart_count: c.restart_count,
                state: Some(state),
                last_state: Some(ContainerState {
                    terminated: c.last_terminated.clone(),
                    ..ContainerState::default()
                }),
                ..ContainerStatus::default()
            }
        })
        .collect()
}

/// The pod's whole `status`, as the worker merge-patches it.
pub(crate) fn render(pod: &PodView, transitions: &mut Transitions, now: Timestamp) -> Value {
    let phase = phase(pod);
    let conditions = conditions(pod, transitions, now);
    let mut status = json!({
        "observedGeneration": pod.generation,
        "phase": phase.as_str(),
        "conditions": conditions,
        "hostIP": pod.host_ip,
        "hostIPs": [{ "ip": pod.host_ip }],
        "startTime": Time(pod.start_time),
        "containerStatuses": container_statuses(&pod.containers),
    });
    if !pod.init_containers.is_empty() {
        status["initContainerStatuses"] = json!(container_statuses(&pod.init_containers));
    }
    if let Some(ip) = &pod.pod_ip {
        status["podIP"] = json!(ip);
        status["podIPs"] = json!([{ "ip": ip }]);
    }
    if let Some(message) = &pod.message {
        status["message"] = json!(message);
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `second` seconds after 2026-01-01T00:00:00Z.
    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_767_225_600 + second).expect("a valid instant")
    }

    fn exited(code: i32) -> ContainerStateTerminated {
        ContainerStateTerminated {
            container_id: Some("localcluster://41".to_owned()),
            exit_code: code,
            reason: Some(if code == 0 { "Completed" } else { "Error" }.to_owned()),
            started_at: Some(Time(at(1))),
            finished_at: Some(Time(at(2))),
            ..ContainerStateTerminated::default()
        }
    }

    fn container(name: &str, state: State) -> ContainerView {
        let running = matches!(state, State::Running { .. });
        ContainerView {
            name: name.to_owned(),
            image: "quay.io/openbao/openbao:2.7.2".to_owned(),
            image_id: "localcluster:///usr/local/bin/bao".to_owned(),
            container_id: Some("localcluster://42".to_owned()),
            state,
            last_terminated: None,
            restart_count: 0,
            started: running,
            ready: true,
            done: false,
        }
    }

    fn running(name: &str) -> ContainerView {
        container(name, State::Running { started_at: at(3) })
    }

    fn waiting(name: &str, reason: &str) -> ContainerView {
        ContainerView {
            container_id: None,
            ..container(
                name,
                State::Waiting {
                    reason: reason.to_owned(),
                    message: String::new(),
                },
            )
        }
    }

    fn terminated(name: &str, code: i32) -> ContainerView {
        container(name, State::Terminated(exited(code)))
    }

    /// Exited with `code` and waits to be started again.
    fn backing_off(name: &str, code: i32) -> ContainerView {
        ContainerView {
            last_terminated: Some(exited(code)),
            restart_count: 1,
            ..container(
                name,
                State::Waiting {
                    reason: "CrashLoopBackOff".to_owned(),
                    message: format!("back-off 10s restarting failed container={name}"),
                },
            )
        }
    }

    fn init_done(name: &str) -> ContainerView {
        ContainerView {
            done: true,
            ..terminated(name, 0)
        }
    }

    fn condition_at(type_: &str, status: &str, second: i64) -> PodCondition {
        PodCondition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            last_transition_time: Some(Time(at(second))),
            ..PodCondition::default()
        }
    }

    fn pod(
        policy: RestartPolicy,
        init_containers: Vec<ContainerView>,
        containers: Vec<ContainerView>,
    ) -> PodView {
        PodView {
            generation: Some(1),
            restart_policy: policy,
            settled: None,
            sandbox: true,
            host_ip: "10.244.7.1".to_owned(),
            pod_ip: Some("10.244.7.2".to_owned()),
            start_time: at(0),
            readiness_gates: Vec::new(),
            conditions: vec![condition_at("PodScheduled", "True", 0)],
            message: None,
            init_containers,
            containers,
        }
    }

    fn find<'a>(conditions: &'a [PodCondition], type_: &str) -> &'a PodCondition {
        conditions
            .iter()
            .find(|c| c.type_ == type_)
            .unwrap_or_else(|| panic!("no {type_} condition in {conditions:?}"))
    }

    /// (status, reason, message) of the condition `type_`.
    fn verdict(
        conditions: &[PodCondition],
        type_: &str,
    ) -> (String, Option<String>, Option<String>) {
        let c = find(conditions, type_);
        (c.status.clone(), c.reason.clone(), c.message.clone())
    }

    fn owned(
        status: &str,
        reason: Option<&str>,
        message: Option<&str>,
    ) -> (String, Option<String>, Option<String>) {
        (
            status.to_owned(),
            reason.map(str::to_owned),
            message.map(str::to_owned),
        )
    }

    fn transitioned(conditions: &[PodCondition], type_: &str) -> Timestamp {
        find(conditions, type_)
            .last_transition_time
            .as_ref()
            .expect("a transition time")
            .0
    }

    fn states(pod: &PodView) -> impl Iterator<Item = &State> {
        pod.containers.iter().map(|c| &c.state)
    }

    #[test]
    fn a_pod_is_pending_until_its_sandbox_exists_and_every_container_has_started() {
        let mut p = pod(
            RestartPolicy::Always,
            vec![],
            vec![
                waiting("a", "ContainerCreating"),
                waiting("b", "ContainerCreating"),
            ],
        );
        p.sandbox = false;
        assert_eq!(phase(&p), Phase::Pending, "no sandbox yet");
        p.sandbox = true;
        assert_eq!(phase(&p), Phase::Pending, "nothing started");
        p.containers[0] = running("a");
        assert_eq!(phase(&p), Phase::Pending, "b has not started");
        p.containers[1] = waiting("b", "ErrImagePull");
        assert_eq!(phase(&p), Phase::Pending, "b cannot start");
        p.containers[1] = running("b");
        assert_eq!(phase(&p), Phase::Running);
    }

    #[test]
    fn a_pod_is_running_while_any_container_runs_even_after_others_exited() {
        for policy in [
            RestartPolicy::Always,
            RestartPolicy::OnFailure,
            RestartPolicy::Never,
        ] {
            let p = pod(policy, vec![], vec![running("a"), terminated("b", 1)]);
            assert_eq!(phase(&p), Phase::Running, "{policy:?}");
            assert_eq!(settled(policy, states(&p)), None, "{policy:?}");
        }
    }

    #[test]
    fn a_pod_whose_containers_all_exited_zero_under_never_or_on_failure_succeeded() {
        for policy in [RestartPolicy::Never, RestartPolicy::OnFailure] {
            let p = pod(policy, vec![], vec![terminated("a", 0), terminated("b", 0)]);
            assert_eq!(phase(&p), Phase::Succeeded, "{policy:?}");
            assert_eq!(
                settled(policy, states(&p)),
                Some(Phase::Succeeded),
                "{policy:?}"
            );
        }
    }

    #[test]
    fn a_pod_with_a_container_that_exited_non_zero_under_never_failed() {
        let p = pod(
            RestartPolicy::Never,
            vec![],
            vec![terminated("a", 0), terminated("b", 2)],
        );
        assert_eq!(phase(&p), Phase::Failed);
        assert_eq!(
            settled(RestartPolicy::Never, states(&p)),
            Some(Phase::Failed)
        );
    }

    #[test]
    fn under_on_failure_a_container_that_exited_non_zero_restarts_so_the_pod_keeps_running() {
        let p = pod(
            RestartPolicy::OnFailure,
            vec![],
            vec![terminated("a", 0), backing_off("b", 1)],
        );
        assert_eq!(phase(&p), Phase::Running);
        assert_eq!(settled(RestartPolicy::OnFailure, states(&p)), None);
    }

    #[test]
    fn under_always_a_pod_keeps_running_after_its_containers_exit_and_they_show_crash_loop_back_off()
     {
        for code in [0, 1] {
            let p = pod(RestartPolicy::Always, vec![], vec![backing_off("a", code)]);
            assert_eq!(phase(&p), Phase::Running, "exit code {code}");
            assert_eq!(settled(RestartPolicy::Always, states(&p)), None);
            let status = &container_statuses(&p.containers)[0];
            let waiting = status
                .state
                .as_ref()
                .and_then(|s| s.waiting.as_ref())
                .expect("waiting");
            assert_eq!(waiting.reason.as_deref(), Some("CrashLoopBackOff"));
            assert_eq!(
                waiting.message.as_deref(),
                Some("back-off 10s restarting failed container=a")
            );
            let last = status
                .last_state
                .as_ref()
                .and_then(|s| s.terminated.as_ref())
                .expect("the run that ended");
            assert_eq!(last.exit_code, code);
            assert_eq!(
                (status.restart_count, status.ready, status.started),
                (1, false, Some(false))
            );
        }
        // Even with every container terminated, nothing settles under `Always`.
        let p = pod(RestartPolicy::Always, vec![], vec![terminated("a", 0)]);
        assert_eq!(phase(&p), Phase::Running);
    }

    #[test]
    fn a_settled_pod_keeps_its_phase_and_reports_pod_completed() {
        let mut p = pod(RestartPolicy::Never, vec![], vec![running("a")]);
        p.settled = Some(Phase::Succeeded);
        assert_eq!(phase(&p), Phase::Succeeded, "whatever the containers show");
        let conditions = conditions(&p, &mut Transitions::default(), at(10));
        assert_eq!(
            verdict(&conditions, "PodReadyToStartContainers"),
            owned("False", None, None)
        );
        assert_eq!(
            verdict(&conditions, "ContainersReady"),
            owned("False", Some("PodCompleted"), None)
        );
        assert_eq!(
            verdict(&conditions, "Ready"),
            owned("False", Some("PodCompleted"), None)
        );
    }

    #[test]
    fn a_failed_init_container_fails_the_pod_only_under_never() {
        let failed_init = || vec![terminated("init", 3)];
        let main = || vec![waiting("main", "ContainerCreating")];
        let p = pod(RestartPolicy::Never, failed_init(), main());
        assert_eq!(phase(&p), Phase::Failed);
        for policy in [RestartPolicy::OnFailure, RestartPolicy::Always] {
            let p = pod(policy, failed_init(), main());
            assert_eq!(phase(&p), Phase::Pending, "{policy:?} retries it");
        }
    }

    #[test]
    fn init_containers_gate_initialized_and_keep_the_pod_pending_until_all_succeeded() {
        let mut p = pod(
            RestartPolicy::Always,
            vec![
                waiting("first", "PodInitializing"),
                waiting("second", "PodInitializing"),
            ],
            vec![waiting("main", "ContainerCreating")],
        );
        let mut transitions = Transitions::default();
        let pending = conditions(&p, &mut transitions, at(10));
        assert_eq!(phase(&p), Phase::Pending);
        assert_eq!(
            verdict(&pending, "Initialized"),
            owned(
                "False",
                Some("ContainersNotInitialized"),
                Some("containers with incomplete status: [first second]")
            )
        );
        p.init_containers[0] = init_done("first");
        p.init_containers[1] = running("second");
        let one_left = conditions(&p, &mut transitions, at(20));
        assert_eq!(phase(&p), Phase::Pending);
        assert_eq!(
            verdict(&one_left, "Initialized").2.as_deref(),
            Some("containers with incomplete status: [second]")
        );
        p.init_containers[1] = init_done("second");
        p.containers[0] = running("main");
        let initialized = conditions(&p, &mut transitions, at(30));
        assert_eq!(phase(&p), Phase::Running);
        assert_eq!(
            verdict(&initialized, "Initialized"),
            owned("True", None, None)
        );
        assert_eq!(transitioned(&initialized, "Initialized"), at(30));
        let status = render(&p, &mut transitions, at(40));
        let names: Vec<&str> = status["initContainerStatuses"]
            .as_array()
            .expect("init container statuses")
            .iter()
            .filter_map(|s| s["name"].as_str())
            .collect();
        assert_eq!(names, ["first", "second"]);
    }

    #[test]
    fn the_pod_is_ready_only_when_every_container_is_ready() {
        let unready = ContainerView {
            ready: false,
            ..running("b")
        };
        let mut p = pod(RestartPolicy::Always, vec![], vec![running("a"), unready]);
        let not_ready = owned(
            "False",
            Some("ContainersNotReady"),
            Some("containers with unready status: [b]"),
        );
        let mut transitions = Transitions::default();
        let conds = conditions(&p, &mut transitions, at(10));
        assert_eq!(verdict(&conds, "ContainersReady"), not_ready);
        assert_eq!(verdict(&conds, "Ready"), not_ready);
        let ready: Vec<bool> = container_statuses(&p.containers)
            .iter()
            .map(|s| s.ready)
            .collect();
        assert_eq!(ready, [true, false]);

        // Passing readiness is not enough before the startup probe passed, nor when not running.
        p.containers[1] = ContainerView {
            started: false,
            ..running("b")
        };
        let conds = conditions(&p, &mut transitions, at(20));
        assert_eq!(verdict(&conds, "Ready"), not_ready);
        assert_eq!(container_statuses(&p.containers)[1].started, Some(false));
        p.containers[1] = waiting("b", "ContainerCreating");
        let conds = conditions(&p, &mut transitions, at(30));
        assert_eq!(verdict(&conds, "Ready"), not_ready);

        p.containers[1] = running("b");
        let conds = conditions(&p, &mut transitions, at(40));
        assert_eq!(
            verdict(&conds, "ContainersReady"),
            owned("True", None, None)
        );
        assert_eq!(verdict(&conds, "Ready"), owned("True", None, None));
    }

    #[test]
    fn readiness_gates_hold_ready_back_until_their_conditions_are_true() {
        let mut p = pod(RestartPolicy::Always, vec![], vec![running("a")]);
        p.readiness_gates = vec!["example.com/gate".to_owned()];
        let conds = conditions(&p, &mut Transitions::default(), at(10));
        assert_eq!(
            verdict(&conds, "ContainersReady"),
            owned("True", None, None)
        );
        assert_eq!(
            verdict(&conds, "Ready"),
            owned(
                "False",
                Some("ReadinessGatesNotReady"),
                Some("the status of pod readiness gates is not \"True\": [\"example.com/gate\"]")
            )
        );
        p.conditions
            .push(condition_at("example.com/gate", "False", 5));
        let conds = conditions(&p, &mut Transitions::default(), at(10));
        assert_eq!(verdict(&conds, "Ready").0, "False");
        p.conditions[1].status = "True".to_owned();
        let conds = conditions(&p, &mut Transitions::default(), at(10));
        assert_eq!(verdict(&conds, "Ready"), owned("True", None, None));
    }

    #[test]
    fn conditions_others_own_are_kept_first_and_the_kubelets_replace_those_the_object_had() {
        let mut p = pod(
            RestartPolicy::Always,
            vec![],
            vec![waiting("a", "ContainerCreating")],
        );
        p.conditions = vec![
            condition_at("PodScheduled", "True", 0),
            condition_at("Ready", "True", 1),
            condition_at("example.com/gate", "True", 2),
        ];
        let conds = conditions(&p, &mut Transitions::default(), at(10));
        let types: Vec<&str> = conds.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(
            types,
            [
                "PodScheduled",
                "example.com/gate",
                "PodReadyToStartContainers",
                "Initialized",
                "ContainersReady",
                "Ready"
            ]
        );
        assert_eq!(conds[0], p.conditions[0], "carried over untouched");
        assert_eq!(verdict(&conds, "Ready").0, "False", "the node's verdict");
        assert_eq!(transitioned(&conds, "Ready"), at(10));
        assert!(
            conds[2..].iter().all(|c| c.observed_generation == Some(1)),
            "{conds:?}"
        );
    }

    #[test]
    fn a_conditions_transition_time_moves_only_when_its_status_changes() {
        let unready = |name: &str| ContainerView {
            ready: false,
            ..running(name)
        };
        let mut p = pod(
            RestartPolicy::Always,
            vec![],
            vec![unready("a"), unready("b")],
        );
        let mut transitions = Transitions::default();
        let first = conditions(&p, &mut transitions, at(10));
        assert_eq!(
            conditions(&p, &mut transitions, at(20)),
            first,
            "nothing changed"
        );

        // The message changes, the status does not: the time stays.
        p.containers[0] = running("a");
        let second = conditions(&p, &mut transitions, at(30));
        assert_eq!(
            verdict(&second, "Ready").2.as_deref(),
            Some("containers with unready status: [b]")
        );
        assert_eq!(transitioned(&second, "Ready"), at(10));

        p.containers[1] = running("b");
        let third = conditions(&p, &mut transitions, at(40));
        for (type_, when) in [
            ("PodScheduled", at(0)),
            ("PodReadyToStartContainers", at(10)),
            ("Initialized", at(10)),
            ("ContainersReady", at(40)),
            ("Ready", at(40)),
        ] {
            assert_eq!(transitioned(&third, type_), when, "{type_}");
        }
        let fourth = conditions(&p, &mut transitions, at(50));
        assert_eq!(fourth, third);
    }

    #[test]
    fn a_running_pod_renders_exactly_the_status_the_worker_has_always_patched() {
        let restarted = ContainerView {
            last_terminated: Some(exited(137)),
            restart_count: 1,
            ..running("bao")
        };
        let p = pod(
            RestartPolicy::Always,
            vec![init_done("setup")],
            vec![restarted],
        );
        let status = render(&p, &mut Transitions::default(), at(10));
        let expected = concat!(
            r#"{"conditions":["#,
            r#"{"lastTransitionTime":"2026-01-01T00:00:00Z","status":"True","type":"PodScheduled"},"#,
            r#"{"lastTransitionTime":"2026-01-01T00:00:10Z","observedGeneration":1,"status":"True","type":"PodReadyToStartContainers"},"#,
            r#"{"lastTransitionTime":"2026-01-01T00:00:10Z","observedGeneration":1,"status":"True","type":"Initialized"},"#,
            r#"{"lastTransitionTime":"2026-01-01T00:00:10Z","observedGeneration":1,"status":"True","type":"ContainersReady"},"#,
            r#"{"lastTransitionTime":"2026-01-01T00:00:10Z","observedGeneration":1,"status":"True","type":"Ready"}],"#,
            r#""containerStatuses":[{"containerID":"localcluster://42","image":"quay.io/openbao/openbao:2.7.2","#,
            r#""imageID":"localcluster:///usr/local/bin/bao","#,
            r#""lastState":{"terminated":{"containerID":"localcluster://41","exitCode":137,"finishedAt":"2026-01-01T00:00:02Z","reason":"Error","startedAt":"2026-01-01T00:00:01Z"}},"#,
            r#""name":"bao","ready":true,"restartCount":1,"started":true,"#,
            r#""state":{"running":{"startedAt":"2026-01-01T00:00:03Z"}}}],"#,
            r#""hostIP":"10.244.7.1","hostIPs":[{"ip":"10.244.7.1"}],"#,
            r#""initContainerStatuses":[{"containerID":"localcluster://42","image":"quay.io/openbao/openbao:2.7.2","#,
            r#""imageID":"localcluster:///usr/local/bin/bao","lastState":{},"name":"setup","ready":false,"restartCount":0,"started":false,"#,
            r#""state":{"terminated":{"containerID":"localcluster://41","exitCode":0,"finishedAt":"2026-01-01T00:00:02Z","reason":"Completed","startedAt":"2026-01-01T00:00:01Z"}}}],"#,
            r#""observedGeneration":1,"phase":"Running","podIP":"10.244.7.2","podIPs":[{"ip":"10.244.7.2"}],"#,
            r#""startTime":"2026-01-01T00:00:00Z"}"#,
        );
        assert_eq!(
            serde_json::to_string(&status).expect("serializes"),
            expected
        );
    }

    #[test]
    fn a_pod_without_a_sandbox_shows_why_and_no_pod_ip_or_init_container_statuses() {
        let mut p = pod(
            RestartPolicy::Always,
            vec![],
            vec![waiting("a", "ContainerCreating")],
        );
        p.sandbox = false;
        p.pod_ip = None;
        p.message = Some("creating the network namespace: boom".to_owned());
        let status = render(&p, &mut Transitions::default(), at(10));
        assert_eq!(status["phase"], "Pending");
        assert_eq!(status["message"], "creating the network namespace: boom");
        for absent in ["podIP", "podIPs", "initContainerStatuses"] {
            assert!(status.get(absent).is_none(), "{absent} in {status}");
        }
        let conds = conditions(&p, &mut Transitions::default(), at(10));
        assert_eq!(verdict(&conds, "PodReadyToStartContainers").0, "False");
    }

    #[test]
    fn an_unset_restart_policy_is_always() {
        assert_eq!(RestartPolicy::of(None), RestartPolicy::Always);
        assert_eq!(
            RestartPolicy::of(Some("OnFailure")),
            RestartPolicy::OnFailure
        );
        assert_eq!(RestartPolicy::of(Some("Never")), RestartPolicy::Never);
    }
}
