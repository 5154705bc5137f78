//! Leader election on a `coordination.k8s.io/v1` Lease, so exactly one replica reconciles while
//! the others stand by (serving the webhook and metrics) ready to take over.
//!
//! The algorithm is client-go's `leaderelection`: read the Lease, and take or renew it with a
//! `replace` carrying the resourceVersion read, so concurrent candidates cannot both win. A
//! candidate judges expiry with its own monotonic clock, from the moment it last saw the record
//! change, never by comparing the holder's timestamps with its clock: clock skew between nodes
//! cannot make two leaders.
//!
//! Timing ([`LeaseSettings::new`]): lease 10 s, renew deadline 7 s, retry 2 s. The leader renews
//! every 2 s and gives up leadership when no renewal succeeded for 7 s, before any standby can
//! consider the lease expired (10 s after it last saw it change). A standby polls every 2 s, so
//! it takes over at most about 14 s after the leader's last renewal (about 10 s in the tests). On
//! a clean shutdown the leader releases the Lease (no holder, 1 s duration) and a standby takes
//! over on its next poll.

use std::time::Duration;

use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta},
    jiff::Timestamp,
};
use kube::{Api, Client, api::PostParams};
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// Timing and identity of one candidate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseSettings {
    /// Namespace of the Lease (the operator namespace).
    pub namespace: String,
    /// Name of the Lease.
    pub name: String,
    /// This candidate's identity (its pod name, or hostname plus a random suffix).
    pub identity: String,
    /// How long a standby waits after the last change it saw before taking over.
    pub lease_duration: Duration,
    /// How long the leader keeps leading without a successful renewal.
    pub renew_deadline: Duration,
    /// How often the leader renews and a standby polls.
    pub retry_period: Duration,
}

impl LeaseSettings {
    /// Lease `namespace/name` for `identity`: 10 s lease, 7 s renew deadline, 2 s retry.
    pub fn new(
        namespace: impl Into<String>,
        name: impl Into<String>,
        identity: impl Into<String>,
    ) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(10),
            renew_deadline: Duration::from_secs(7),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// An identity for a process without a pod name: the hostname and a random suffix, so two
/// processes on one host never share it.
pub fn generated_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "openbao-operator".to_string());
    let mut suffix = [0u8; 4];
    // Without randomness the hostname alone still identifies the process on most hosts.
    if getrandom::fill(&mut suffix).is_err() {
        return format!("{host}_{}", std::process::id());
    }
    format!("{host}_{}", hex::encode(suffix))
}

/// Why leadership ended.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Lost {
    /// No renewal succeeded within the renew deadline.
    #[error("no renewal of the lease succeeded for {0:?}")]
    RenewDeadline(Duration),
    /// Another candidate holds the Lease now.
    #[error("the lease is now held by {0}")]
    TakenOver(String),
}

/// The result of one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// This candidate holds the Lease (acquired or renewed).
    Leading,
    /// Another candidate holds an unexpired Lease.
    Standby {
        /// Its identity.
        holder: String,
    },
    /// The write lost a race (409); try again.
    Contended,
}

/// What a candidate may do with a Lease, given what it observed (pure).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Renew: this candidate holds it.
    Renew,
    /// Take it: no holder, or the holder's record has not changed for its lease duration.
    Acquire,
    /// Leave it: someone else holds it and it has not expired.
    Wait {
        /// The holder.
        holder: String,
    },
}

/// Decide about `spec`, whose record this candidate has seen unchanged for `unchanged_for`.
pub fn decide(spec: &LeaseSpec, identity: &str, unchanged_for: Duration) -> Decision {
    let holder = spec.holder_identity.as_deref().filter(|h| !h.is_empty());
    match holder {
        None => Decision::Acquire,
        Some(holder) if holder == identity => Decision::Renew,
        Some(holder) => {
            let duration = Duration::from_secs(
                u64::try_from(spec.lease_duration_seconds.unwrap_or(0).max(1)).unwrap_or(1),
            );
            if unchanged_for >= duration {
                Decision::Acquire
            } else {
                Decision::Wait {
                    holder: holder.to_string(),
                }
            }
        }
    }
}

/// A record and when this candidate first saw it.
struct Observed {
    spec: LeaseSpec,
    at: Instant,
}

/// One candidate for the Lease.
pub struct LeaderElector {
    api: Api<Lease>,
    settings: LeaseSettings,
    observed: Option<Observed>,
}

fn now() -> MicroTime {
    MicroTime(Timestamp::now())
}

fn seconds(duration: Duration) -> i32 {
    i32::try_from(duration.as_secs().max(1)).unwrap_or(i32::MAX)
}

impl LeaderElector {
    /// A candidate using `client`.
    pub fn new(client: Client, settings: LeaseSettings) -> Self {
        Self {
            api: Api::namespaced(client, &settings.namespace),
            settings,
            observed: None,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &LeaseSettings {
        &self.settings
    }

    fn observe(&mut self, spec: &LeaseSpec) -> Duration {
        let now = Instant::now();
        match &self.observed {
            Some(seen) if seen.spec == *spec => now.saturating_duration_since(seen.at),
            _ => {
                self.observed = Some(Observed {
                    spec: spec.clone(),
                    at: now,
                });
                Duration::ZERO
            }
        }
    }

    /// One attempt to acquire or renew the Lease.
    pub async fn try_acquire_or_renew(&mut self) -> Result<Attempt, kube::Error> {
        let name = self.settings.name.clone();
        let identity = self.settings.identity.clone();
        let Some(mut lease) = self.api.get_opt(&name).await? else {
            let stamp = now();
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(self.settings.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(identity),
                    lease_duration_seconds: Some(seconds(self.settings.lease_duration)),
                    acquire_time: Some(stamp.clone()),
                    renew_time: Some(stamp),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(created) => {
                    self.observe(&created.spec.unwrap_or_default());
                    Ok(Attempt::Leading)
                }
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(Attempt::Contended),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let unchanged_for = self.observe(&spec);
        let decision = decide(&spec, &identity, unchanged_for);
        if let Decision::Wait { holder } = decision {
            return Ok(Attempt::Standby { holder });
        }
        let stamp = now();
        let mut next = spec.clone();
        next.holder_identity = Some(identity);
        next.lease_duration_seconds = Some(seconds(self.settings.lease_duration));
        next.renew_time = Some(stamp.clone());
        if decision == Decision::Acquire {
            next.acquire_time = Some(stamp);
            next.lease_transitions = Some(spec.lease_transitions.unwrap_or(0).saturating_add(1));
        }
        lease.spec = Some(next);
        // `lease` carries the resourceVersion read above: a concurrent write makes this a 409.
        match self
            .api
            .replace(&name, &PostParams::default(), &lease)
            .await
        {
            Ok(written) => {
                self.observe(&written.spec.unwrap_or_default());
                Ok(Attempt::Leading)
            }
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(Attempt::Contended),
            Err(e) => Err(e),
        }
    }

    /// Retry every `retry_period` until this candidate leads. Cancel-safe: drop the future to
    /// stop trying.
    pub async fn acquire(&mut self) {
        let mut last_holder: Option<String> = None;
        let mut last_error: Option<String> = None;
        loop {
            match self.try_acquire_or_renew().await {
                Ok(Attempt::Leading) => {
                    info!(
                        lease = %self.settings.name,
                        namespace = %self.settings.namespace,
                        identity = %self.settings.identity,
                        "acquired the leader lease"
                    );
                    return;
                }
                Ok(Attempt::Standby { holder }) => {
                    if last_holder.as_ref() != Some(&holder) {
                        info!(lease = %self.settings.name, %holder, "another replica leads; standing by");
                        last_holder = Some(holder);
                    }
                }
                Ok(Attempt::Contended) => debug!("lost a race for the leader lease"),
                Err(e) => {
                    let message = e.to_string();
                    // Log a persistent failure once, not every retry.
                    if last_error.as_ref() != Some(&message) {
                        warn!(lease = %self.settings.name, error = %message, "cannot read or write the leader lease; retrying");
                        last_error = Some(message);
                    }
                }
            }
            tokio::time::sleep(self.settings.retry_period).await;
        }
    }

    /// Renew every `retry_period` while leading; returns when leadership is lost: no renewal
    /// succeeded within `renew_deadline`, or another candidate took the Lease. Call right after
    /// [`LeaderElector::acquire`].
    pub async fn hold(&mut self) -> Lost {
        let renew_deadline = self.settings.renew_deadline;
        let retry = self.settings.retry_period;
        let mut last_renewal = Instant::now();
        loop {
            let deadline = last_renewal + renew_deadline;
            let attempt = async {
                tokio::time::sleep(retry).await;
                let started = Instant::now();
                (started, self.try_acquire_or_renew().await)
            };
            tokio::select! {
                // Also bounds a renewal request that hangs.
                () = tokio::time::sleep_until(deadline) => return Lost::RenewDeadline(renew_deadline),
                (started, result) = attempt => match result {
                    Ok(Attempt::Leading) => last_renewal = started,
                    Ok(Attempt::Standby { holder }) => return Lost::TakenOver(holder),
                    Ok(Attempt::Contended) => debug!("a renewal of the leader lease lost a race; retrying"),
                    Err(e) => warn!(error = %e, "cannot renew the leader lease; retrying"),
                },
            }
        }
    }

    /// Give the Lease up (no holder, 1 s duration) so a standby takes over on its next poll.
    /// Returns whether this candidate held it.
    pub async fn release(&mut self) -> Result<bool, kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.settings.name).await? else {
            return Ok(false);
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.settings.identity.as_str()) {
            return Ok(false);
        }
        let stamp = now();
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(stamp.clone());
        spec.acquire_time = Some(stamp);
        match self
            .api
            .replace(&self.settings.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            // Someone else wrote it meanwhile: it is no longer ours to release.
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held_by(holder: Option<&str>, seconds: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: holder.map(str::to_string),
            lease_duration_seconds: Some(seconds),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn a_lease_without_holder_is_taken_at_once() {
        assert_eq!(
            decide(&held_by(None, 10), "me", Duration::ZERO),
            Decision::Acquire
        );
        assert_eq!(
            decide(&held_by(Some(""), 1), "me", Duration::ZERO),
            Decision::Acquire
        );
    }

    #[test]
    fn another_holders_lease_expires_only_after_it_stayed_unchanged_for_its_duration() {
        let spec = held_by(Some("other"), 10);
        assert_eq!(
            decide(&spec, "me", Duration::from_secs(9)),
            Decision::Wait {
                holder: "other".to_string()
            }
        );
        assert_eq!(
            decide(&spec, "me", Duration::from_secs(10)),
            Decision::Acquire
        );
    }

    #[test]
    fn the_holder_renews_its_own_lease() {
        assert_eq!(
            decide(&held_by(Some("me"), 10), "me", Duration::from_secs(60)),
            Decision::Renew
        );
    }

    #[test]
    fn the_leader_gives_up_before_any_standby_may_take_over() {
        let settings = LeaseSettings::new("ns", "lease", "me");
        assert!(settings.renew_deadline + settings.retry_period < settings.lease_duration);
        // A standby sees the last renewal at most one retry late and polls once more after
        // expiry: the worst case stays within 15 s of the leader's death.
        assert!(settings.lease_duration + 2 * settings.retry_period <= Duration::from_secs(15));
    }

    #[test]
    fn generated_identities_differ_between_calls() {
        assert_ne!(generated_identity(), generated_identity());
    }
}
