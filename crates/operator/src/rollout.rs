//! Rolling replacement of the server pods (pure). The StatefulSet's update strategy is
//! `OnDelete`: a new pod template (a version upgrade, or any other change of the pods) reaches a
//! pod only when the operator deletes it, so the operator alone decides the order. [`plan`]
//! decides, from what the last pass recorded (`status.upgrade`) and what the members say now,
//! the one thing to do next:
//!
//! - a pod on the old revision that serves nothing (not ready, sealed) is replaced first: it
//!   holds no vote the cluster relies on;
//! - otherwise a pod is replaced only when every member serves, votes and is healthy (so Raft
//!   keeps quorum with one member away), followers first from the highest ordinal, and the
//!   active member last: it is asked to step down once every other member runs the new
//!   revision, so leadership moves once, to an upgraded member;
//! - after each replacement the rollout waits until the new pod is back (ready, unsealed, a
//!   voter, healthy in autopilot's view, which includes being caught up); a member that is not
//!   back within the timeout pauses the rollout: nothing else is touched until it recovers or
//!   the spec changes (a revert is a new revision, and the stuck pod, now outdated and serving
//!   nothing, is replaced first).
//!
//! Why not the StatefulSet's own `RollingUpdate` with a `partition`: it replaces pods from the
//! highest ordinal down, and nothing can make an arbitrary ordinal (the leader) go last.

use api::{UpgradeFailure, UpgradeProgress};
use time::{Duration, OffsetDateTime};

use crate::backup::scheduler::{from_time, to_time};

/// Reason of a paused rollout (status and the Degraded condition).
pub const REASON_MEMBER_NOT_BACK: &str = "MemberNotBack";
/// Reason of a rollout held because its pre-upgrade snapshot failed.
pub const REASON_SNAPSHOT_FAILED: &str = "PreUpgradeSnapshotFailed";
/// How long after a step-down the rollout waits for leadership to move before asking again.
pub const STEP_DOWN_RETRY: Duration = Duration::seconds(30);
/// The default time a replaced member has to come back (`spec.upgrade.memberTimeout`).
pub const DEFAULT_MEMBER_TIMEOUT: Duration = Duration::minutes(10);

/// One server pod, as the rollout sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// StatefulSet ordinal.
    pub ordinal: i32,
    /// Pod name.
    pub pod: String,
    /// The pod runs the StatefulSet's update revision.
    pub updated: bool,
    /// Ready, initialized and unsealed.
    pub serving: bool,
    /// A Raft voter (`None`: not known this pass).
    pub voter: Option<bool>,
    /// Autopilot's verdict: healthy and caught up (`None`: not known this pass).
    pub healthy: Option<bool>,
    /// The active member.
    pub leader: bool,
}

impl Member {
    /// Back in the cluster: serving, and neither known to be a non-voter nor unhealthy.
    fn back(&self) -> bool {
        self.serving && self.voter != Some(false) && self.healthy != Some(false)
    }
}

/// Whether the pre-upgrade snapshot (`spec.upgrade.preUpgradeSnapshot`) lets the rollout
/// touch its first pod. The reconciler's stage takes the snapshot; the plan only obeys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotGate {
    /// No snapshot is asked for, or it landed.
    Open,
    /// Being taken, or waiting for another backup Job to end first: what it waits for.
    Waiting(String),
    /// The snapshot failed: why, and what happens next. No pod is touched.
    Failed(String),
}

/// What [`plan`] decides from.
#[derive(Clone, Debug)]
pub struct Inputs<'a> {
    /// `spec.replicas`.
    pub replicas: i32,
    /// The server pods that exist and are not terminating, any order.
    pub members: &'a [Member],
    /// The StatefulSet's update revision (`None` before the StatefulSet reported one).
    pub revision: Option<&'a str>,
    /// `spec.version`.
    pub version: &'a str,
    /// `status.currentVersion`.
    pub current_version: Option<&'a str>,
    /// `status.upgrade` as the last pass left it.
    pub previous: Option<&'a UpgradeProgress>,
    /// OpenBao is initialized (before, there is no data and no quorum to protect).
    pub initialized: bool,
    /// How long a replaced member has to come back.
    pub member_timeout: Duration,
    /// The pre-upgrade snapshot's verdict (asked only before the first pod is replaced).
    pub snapshot: &'a SnapshotGate,
    /// Now.
    pub now: OffsetDateTime,
}

/// The one action of this pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing to do, or waiting.
    None,
    /// Delete this pod; the StatefulSet recreates it on the update revision.
    Replace(String),
    /// Ask this pod, the active member, to step down.
    StepDown(String),
}

/// The decision of one pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// What to do now.
    pub action: Action,
    /// The new `status.upgrade` (`None`: no rollout in progress).
    pub progress: Option<UpgradeProgress>,
    /// Every pod runs the update revision and serves: `status.currentVersion` is `spec.version`.
    pub complete: bool,
}

/// Decide the next step of the rollout.
pub fn plan(inputs: &Inputs<'_>) -> Plan {
    let Some(revision) = inputs.revision else {
        return Plan {
            action: Action::None,
            progress: inputs.previous.cloned(),
            complete: false,
        };
    };
    let members = inputs.members;
    let all_present = members.len() >= usize::try_from(inputs.replicas).unwrap_or(0);
    let outdated: Vec<&Member> = members.iter().filter(|m| !m.updated).collect();
    let complete = all_present && outdated.is_empty() && members.iter().all(|m| m.serving);
    if complete {
        return Plan {
            action: Action::None,
            progress: None,
            complete: true,
        };
    }
    if outdated.is_empty() && inputs.previous.is_none_or(|p| p.current_member.is_none()) {
        // Pods are starting on the current revision (creation, scale-up): not a rollout.
        return Plan {
            action: Action::None,
            progress: None,
            complete: false,
        };
    }
    let mut progress = match inputs.previous {
        Some(previous) if previous.revision == revision => previous.clone(),
        // A new revision (first change, or the spec changed again mid-rollout): a new rollout.
        _ => UpgradeProgress {
            target_version: inputs.version.to_string(),
            from_version: inputs.current_version.unwrap_or(inputs.version).to_string(),
            started_at: Some(to_time(inputs.now)),
            revision: revision.to_string(),
            ..UpgradeProgress::default()
        },
    };
    let decided = |action: Action, progress: UpgradeProgress| Plan {
        action,
        progress: Some(progress),
        complete: false,
    };

    // The member replaced last must be back before anything else is touched.
    if let Some(pod) = progress.current_member.clone() {
        let member = members.iter().find(|m| m.pod == pod);
        match member {
            Some(m) if m.updated && (m.back() || !inputs.initialized) => {
                if !progress.completed_pods.contains(&m.ordinal) {
                    progress.completed_pods.push(m.ordinal);
                }
                progress.current_member = None;
                progress.member_started_at = None;
                progress.failure = None;
            }
            _ => {
                let since = progress
                    .member_started_at
                    .as_ref()
                    .and_then(from_time)
                    .unwrap_or(inputs.now);
                let what = match member {
                    None => "its pod does not exist yet",
                    Some(m) if !m.updated => "its pod still runs the old revision",
                    Some(m) if !m.serving => "it is not ready and unsealed",
                    Some(m) if m.voter == Some(false) => "it is not a Raft voter",
                    Some(_) => "autopilot does not report it healthy (caught up)",
                };
                if inputs.now - since > inputs.member_timeout {
                    let message = format!(
                        "{pod} did not come back on revision {revision} within {}: {what}. The \
                         rollout is paused and no other pod is touched; fix the member, or change \
                         the spec back (the stuck pod is then replaced first)",
                        human(inputs.member_timeout)
                    );
                    if progress.failure.is_none() {
                        progress.failure = Some(UpgradeFailure {
                            reason: Some(REASON_MEMBER_NOT_BACK.to_string()),
                            message: Some(message.clone()),
                            at: Some(to_time(inputs.now)),
                        });
                    }
                    progress.message = Some(message);
                } else {
                    progress.message = Some(format!("waiting for {pod} to come back: {what}"));
                }
                return decided(Action::None, progress);
            }
        }
    }

    // A member already on the new revision that is not back, with none recorded as replaced:
    // the record of its replacement was lost (a pass that read an older status wrote over it,
    // or the pod restarted by itself). It is waited for as if just replaced, so its timeout
    // applies instead of an endless wait.
    if inputs.initialized
        && let Some(m) = members
            .iter()
            .filter(|m| m.updated && !m.back())
            .max_by_key(|m| m.ordinal)
    {
        progress.current_member = Some(m.pod.clone());
        progress.member_started_at = Some(to_time(inputs.now));
        progress.message = Some(format!(
            "waiting for {} to come back: it runs the new revision but does not serve yet",
            m.pod
        ));
        return decided(Action::None, progress);
    }

    let replace = |mut progress: UpgradeProgress, m: &Member, why: &str| {
        progress.current_member = Some(m.pod.clone());
        progress.member_started_at = Some(to_time(inputs.now));
        progress.message = Some(format!("replacing {} ({why})", m.pod));
        Plan {
            action: Action::Replace(m.pod.clone()),
            progress: Some(progress),
            complete: false,
        }
    };

    // Before initialization there is no data and no quorum: replace what is outdated.
    if !inputs.initialized {
        return match highest(&outdated) {
            Some(m) => replace(progress, m, "not initialized yet"),
            None => {
                progress.message = Some("waiting for the pods to start".to_string());
                decided(Action::None, progress)
            }
        };
    }
    // Nothing is replaced before the pre-upgrade snapshot landed.
    let untouched = progress.completed_pods.is_empty() && progress.current_member.is_none();
    let snapshot_failed = |p: &UpgradeProgress| {
        p.failure
            .as_ref()
            .is_some_and(|f| f.reason.as_deref() == Some(REASON_SNAPSHOT_FAILED))
    };
    match inputs.snapshot {
        SnapshotGate::Waiting(what) if untouched => {
            // Taking another after a failure: the failure is over until this one fails too.
            if snapshot_failed(&progress) {
                progress.failure = None;
            }
            progress.message = Some(what.clone());
            return decided(Action::None, progress);
        }
        SnapshotGate::Failed(why) if untouched => {
            if !snapshot_failed(&progress) {
                progress.failure = Some(UpgradeFailure {
                    reason: Some(REASON_SNAPSHOT_FAILED.to_string()),
                    message: Some(why.clone()),
                    at: Some(to_time(inputs.now)),
                });
            }
            progress.message = Some(why.clone());
            return decided(Action::None, progress);
        }
        _ => {}
    }
    if snapshot_failed(&progress) {
        progress.failure = None;
    }
    // An outdated member that serves nothing holds no vote the cluster relies on.
    let broken: Vec<&Member> = outdated.iter().copied().filter(|m| !m.serving).collect();
    if let Some(m) = highest(&broken) {
        return replace(progress, m, "on the old revision and not serving");
    }
    if outdated.is_empty() {
        progress.message = Some("waiting for every member to serve".to_string());
        return decided(Action::None, progress);
    }
    // Every member must serve, vote and be healthy: one away, Raft keeps its quorum.
    let unwell: Vec<&str> = members
        .iter()
        .filter(|m| !m.back())
        .map(|m| m.pod.as_str())
        .collect();
    if !all_present || !unwell.is_empty() {
        progress.message = Some(if unwell.is_empty() {
            format!(
                "waiting for all {} members before replacing the next",
                inputs.replicas
            )
        } else {
            format!(
                "waiting for {} to serve, vote and be healthy before replacing the next",
                unwell.join(", ")
            )
        });
        return decided(Action::None, progress);
    }
    let followers: Vec<&Member> = outdated.iter().copied().filter(|m| !m.leader).collect();
    if let Some(m) = highest(&followers) {
        return replace(progress, m, "a follower");
    }
    // Only the active member is left.
    let Some(leader) = outdated.iter().copied().find(|m| m.leader) else {
        progress.message = Some("waiting for an active member".to_string());
        return decided(Action::None, progress);
    };
    if members.len() == 1 {
        return replace(progress, leader, "the only member");
    }
    let asked_recently = progress
        .last_step_down_time
        .as_ref()
        .and_then(from_time)
        .is_some_and(|t| inputs.now - t < STEP_DOWN_RETRY);
    if asked_recently {
        progress.message = Some(format!(
            "waiting for leadership to move from {} to an upgraded member",
            leader.pod
        ));
        return decided(Action::None, progress);
    }
    progress.last_step_down_time = Some(to_time(inputs.now));
    progress.message = Some(format!(
        "asking {} to step down; it is replaced once another member leads",
        leader.pod
    ));
    decided(Action::StepDown(leader.pod.clone()), progress)
}

/// The member of the highest ordinal among `candidates`.
fn highest<'a>(candidates: &[&'a Member]) -> Option<&'a Member> {
    candidates.iter().copied().max_by_key(|m| m.ordinal)
}

/// A duration as `10m`, `90s`.
fn human(d: Duration) -> String {
    let seconds = d.whole_seconds();
    if seconds % 60 == 0 {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_202_307;
    const NEW: &str = "bao-2222";

    fn at(unix: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix).expect("time")
    }

    fn member(ordinal: i32, updated: bool, leader: bool) -> Member {
        Member {
            ordinal,
            pod: format!("bao-{ordinal}"),
            updated,
            serving: true,
            voter: Some(true),
            healthy: Some(true),
            leader,
        }
    }

    fn inputs<'a>(members: &'a [Member], previous: Option<&'a UpgradeProgress>) -> Inputs<'a> {
        Inputs {
            replicas: i32::try_from(members.len()).expect("small"),
            members,
            revision: Some(NEW),
            version: "2.7.2",
            current_version: Some("2.6.2"),
            previous,
            initialized: true,
            member_timeout: DEFAULT_MEMBER_TIMEOUT,
            snapshot: &SnapshotGate::Open,
            now: at(NOW),
        }
    }

    /// Run the rollout of a 3-member cluster led by `leader` to its end, the way passes and the
    /// StatefulSet controller would, and return the actions in order.
    fn roll(leader: i32) -> Vec<Action> {
        let mut members: Vec<Member> = (0..3).map(|o| member(o, false, o == leader)).collect();
        let mut progress: Option<UpgradeProgress> = None;
        let mut actions = Vec::new();
        let mut now = NOW;
        for _ in 0..20 {
            now += 40;
            let planned = plan(&Inputs {
                now: at(now),
                ..inputs(&members, progress.as_ref())
            });
            progress = planned.progress.clone();
            match &planned.action {
                Action::Replace(pod) => {
                    // The pod comes back on the new revision, serving.
                    let m = members.iter_mut().find(|m| &m.pod == pod).expect("member");
                    assert!(!m.leader, "the leader is never replaced while it leads");
                    m.updated = true;
                }
                Action::StepDown(pod) => {
                    // Leadership moves to the most caught-up upgraded member.
                    let to = members
                        .iter()
                        .find(|m| m.updated && &m.pod != pod)
                        .map(|m| m.ordinal)
                        .expect("an upgraded member to lead");
                    for m in &mut members {
                        m.leader = m.ordinal == to;
                    }
                }
                Action::None if planned.complete => {
                    assert_eq!(planned.progress, None);
                    return actions;
                }
                Action::None => {}
            }
            if planned.action != Action::None {
                actions.push(planned.action);
            }
        }
        panic!("the rollout never completed: {actions:?}");
    }

    #[test]
    fn followers_go_first_from_the_highest_ordinal_and_the_leader_last_after_one_step_down() {
        for leader in 0..3 {
            let actions = roll(leader);
            let replaced: Vec<String> = actions
                .iter()
                .filter_map(|a| match a {
                    Action::Replace(p) => Some(p.clone()),
                    _ => None,
                })
                .collect();
            let followers: Vec<String> = [2, 1, 0]
                .into_iter()
                .filter(|o| *o != leader)
                .map(|o| format!("bao-{o}"))
                .collect();
            assert_eq!(replaced[..2], followers[..], "leader {leader}: {actions:?}");
            assert_eq!(replaced[2], format!("bao-{leader}"));
            let step_downs = actions
                .iter()
                .filter(|a| matches!(a, Action::StepDown(_)))
                .count();
            assert_eq!(step_downs, 1, "leadership moves once: {actions:?}");
            assert!(
                matches!(&actions[2], Action::StepDown(p) if *p == format!("bao-{leader}")),
                "the step-down comes after both followers: {actions:?}"
            );
        }
    }

    #[test]
    fn no_pod_is_touched_before_the_pre_upgrade_snapshot_landed_and_a_failed_one_holds_the_rollout()
    {
        let members = [
            member(0, false, true),
            member(1, false, false),
            member(2, false, false),
        ];
        let waiting = SnapshotGate::Waiting("taking the snapshot".into());
        let planned = plan(&Inputs {
            snapshot: &waiting,
            ..inputs(&members, None)
        });
        assert_eq!(planned.action, Action::None);
        let progress = planned.progress.expect("a rollout in progress");
        assert_eq!(progress.message.as_deref(), Some("taking the snapshot"));
        assert_eq!(progress.failure, None);

        let failed = SnapshotGate::Failed("the snapshot failed".into());
        let held = plan(&Inputs {
            snapshot: &failed,
            ..inputs(&members, Some(&progress))
        });
        assert_eq!(held.action, Action::None);
        let held = held.progress.expect("held");
        let failure = held.failure.clone().expect("failure");
        assert_eq!(failure.reason.as_deref(), Some(REASON_SNAPSHOT_FAILED));

        // Once it landed the rollout starts, and the old failure is gone.
        let landed = plan(&inputs(&members, Some(&held)));
        assert_eq!(landed.action, Action::Replace("bao-2".into()));
        assert_eq!(landed.progress.expect("progress").failure, None);

        // A rollout that already replaced a pod is not held back by the snapshot any more.
        let mut started = held.clone();
        started.completed_pods = vec![2];
        started.failure = None;
        let members = [
            member(0, false, true),
            member(1, false, false),
            member(2, true, false),
        ];
        let going = plan(&Inputs {
            snapshot: &waiting,
            ..inputs(&members, Some(&started))
        });
        assert_eq!(going.action, Action::Replace("bao-1".into()));
    }

    #[test]
    fn an_upgraded_member_that_is_not_back_is_waited_for_with_its_timeout_even_when_unrecorded() {
        let mut down = member(2, true, false);
        down.serving = false;
        let members = [member(0, false, true), member(1, false, false), down];
        // status.upgrade lost the record of bao-2's replacement.
        let planned = plan(&inputs(&members, None));
        assert_eq!(planned.action, Action::None);
        let progress = planned.progress.expect("progress");
        assert_eq!(progress.current_member.as_deref(), Some("bao-2"));
        let later = plan(&Inputs {
            now: at(NOW) + DEFAULT_MEMBER_TIMEOUT + Duration::seconds(1),
            ..inputs(&members, Some(&progress))
        });
        assert_eq!(later.action, Action::None);
        let failure = later.progress.and_then(|p| p.failure).expect("paused");
        assert_eq!(failure.reason.as_deref(), Some(REASON_MEMBER_NOT_BACK));
    }

    #[test]
    fn a_rollout_records_where_it_comes_from_and_which_member_it_waits_for() {
        let members = [member(0, false, true), member(1, false, false)];
        let planned = plan(&inputs(&members, None));
        assert_eq!(planned.action, Action::Replace("bao-1".into()));
        let progress = planned.progress.expect("progress");
        assert_eq!(progress.from_version, "2.6.2");
        assert_eq!(progress.target_version, "2.7.2");
        assert_eq!(progress.revision, NEW);
        assert_eq!(progress.current_member.as_deref(), Some("bao-1"));
        // The next pass: bao-1 is back on the new revision but not yet a voter: wait.
        let members = [
            member(0, false, true),
            Member {
                voter: Some(false),
                ..member(1, true, false)
            },
        ];
        let waiting = plan(&Inputs {
            now: at(NOW + 5),
            ..inputs(&members, Some(&progress))
        });
        assert_eq!(waiting.action, Action::None);
        let message = waiting.progress.and_then(|p| p.message).unwrap_or_default();
        assert!(
            message.contains("bao-1") && message.contains("voter"),
            "{message}"
        );
    }

    #[test]
    fn a_member_not_back_in_time_pauses_the_rollout_and_nothing_else_is_touched() {
        let members = [
            member(0, false, true),
            member(1, false, false),
            Member {
                serving: false,
                ..member(2, true, false)
            },
        ];
        let previous = UpgradeProgress {
            target_version: "2.7.2".into(),
            from_version: "2.6.2".into(),
            revision: NEW.into(),
            current_member: Some("bao-2".into()),
            member_started_at: Some(to_time(at(NOW))),
            ..UpgradeProgress::default()
        };
        let waiting = plan(&Inputs {
            now: at(NOW + 60),
            ..inputs(&members, Some(&previous))
        });
        assert_eq!(waiting.action, Action::None);
        assert_eq!(
            waiting.progress.as_ref().and_then(|p| p.failure.clone()),
            None
        );
        let paused = plan(&Inputs {
            now: at(NOW + 601),
            ..inputs(&members, Some(&previous))
        });
        assert_eq!(paused.action, Action::None);
        let failure = paused.progress.and_then(|p| p.failure).expect("a failure");
        assert_eq!(failure.reason.as_deref(), Some(REASON_MEMBER_NOT_BACK));
        let message = failure.message.unwrap_or_default();
        assert!(
            message.contains("bao-2") && message.contains("10m") && message.contains("paused"),
            "{message}"
        );
    }

    #[test]
    fn reverting_the_spec_replaces_the_stuck_member_first_without_waiting_for_it() {
        // bao-2 is stuck on the new revision; the spec goes back: the old revision is the
        // update revision again, bao-2 is outdated and serves nothing.
        let members = [
            member(0, true, true),
            member(1, true, false),
            Member {
                serving: false,
                ..member(2, false, false)
            },
        ];
        let stuck = UpgradeProgress {
            revision: NEW.into(),
            current_member: Some("bao-2".into()),
            member_started_at: Some(to_time(at(NOW - 3600))),
            ..UpgradeProgress::default()
        };
        let planned = plan(&Inputs {
            revision: Some("bao-1111"),
            version: "2.6.2",
            current_version: Some("2.6.2"),
            ..inputs(&members, Some(&stuck))
        });
        assert_eq!(planned.action, Action::Replace("bao-2".into()));
        let progress = planned.progress.expect("progress");
        assert_eq!(progress.revision, "bao-1111");
        assert_eq!(progress.failure, None, "a new rollout starts clean");
    }

    #[test]
    fn a_healthy_outdated_member_waits_while_another_member_is_unwell() {
        let members = [
            member(0, false, true),
            member(1, false, false),
            Member {
                healthy: Some(false),
                ..member(2, true, false)
            },
        ];
        let planned = plan(&inputs(&members, None));
        assert_eq!(planned.action, Action::None);
        let message = planned.progress.and_then(|p| p.message).unwrap_or_default();
        assert!(message.contains("bao-2"), "{message}");
        // A missing member blocks as well.
        let two = [member(0, false, true), member(1, false, false)];
        let planned = plan(&Inputs {
            replicas: 3,
            ..inputs(&two, None)
        });
        assert_eq!(planned.action, Action::None);
    }

    #[test]
    fn a_single_member_is_replaced_directly_and_pods_starting_on_the_new_revision_are_no_rollout() {
        let one = [member(0, false, true)];
        assert_eq!(
            plan(&inputs(&one, None)).action,
            Action::Replace("bao-0".into())
        );
        let starting = [Member {
            serving: false,
            ..member(0, true, false)
        }];
        let planned = plan(&inputs(&starting, None));
        assert_eq!(planned.action, Action::None);
        assert_eq!(planned.progress, None);
        assert!(!planned.complete);
        let done = [member(0, true, true)];
        let planned = plan(&inputs(&done, None));
        assert!(planned.complete);
        assert_eq!(planned.progress, None);
    }

    #[test]
    fn before_initialization_outdated_pods_are_replaced_without_health_gates() {
        let members = [
            Member {
                serving: false,
                voter: None,
                healthy: None,
                ..member(0, false, false)
            },
            Member {
                serving: false,
                voter: None,
                healthy: None,
                ..member(1, false, false)
            },
        ];
        let planned = plan(&Inputs {
            initialized: false,
            ..inputs(&members, None)
        });
        assert_eq!(planned.action, Action::Replace("bao-1".into()));
    }

    #[test]
    fn a_step_down_is_asked_again_only_after_the_retry_interval() {
        let members = [member(0, false, true), member(1, true, false)];
        let first = plan(&inputs(&members, None));
        assert_eq!(first.action, Action::StepDown("bao-0".into()));
        let progress = first.progress.expect("progress");
        let soon = plan(&Inputs {
            now: at(NOW + 10),
            ..inputs(&members, Some(&progress))
        });
        assert_eq!(soon.action, Action::None);
        let later = plan(&Inputs {
            now: at(NOW + 31),
            ..inputs(&members, Some(&progress))
        });
        assert_eq!(later.action, Action::StepDown("bao-0".into()));
    }
}
