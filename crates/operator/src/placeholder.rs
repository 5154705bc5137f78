//! The controller of the kind whose machinery is not built yet: OpenBaoTenant (restores have
//! their own controller, `crate::restore`). Its objects are accepted (the webhook validates
//! them) but nothing provisions a namespace yet, so that nothing is silently ignored each object
//! gets two conditions:
//!
//! - `NotImplemented`: True, reason `TenantNotImplemented`, with
//!   [`api::conditions::TENANT_NOT_IMPLEMENTED_MESSAGE`];
//! - `Valid`: the same validation the webhook runs (which may be absent, or may have been added
//!   after the object was stored): True, or False with reason `InvalidSpec` naming every field
//!   error.
//!
//! Both carry the object's `metadata.generation` as `observedGeneration`. A pass writes status
//! (server-side apply of `status.conditions`) only when a condition is missing or differs
//! (a new generation, a changed verdict); a pass over an object that already carries them writes
//! nothing, so its own write wakes it once and then it is quiet: no hot loop. Conditions of
//! other types are carried over untouched.
//!
//! Like the cluster controller, one instance runs per watched namespace (or one for all).

use std::{fmt::Debug, future::Future, sync::Arc, time::Duration};

use api::{
    OpenBaoTenant, ValidationErrors,
    conditions::{TENANT_NOT_IMPLEMENTED_MESSAGE, reasons, types},
    names,
};
use futures::{FutureExt, StreamExt, future};
use k8s_openapi::{
    NamespaceResourceScope,
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
    jiff::Timestamp,
};
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{Patch, PatchParams},
    runtime::{Controller, controller::Action, watcher},
};
use serde::{Serialize, de::DeserializeOwned};
use tracing::{debug, info, warn};

/// How soon a failed status write is retried.
const RETRY: Duration = Duration::from_secs(10);

/// Where the controller runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Namespace the operator runs in (a tenant there may onboard any namespace).
    pub operator_namespace: String,
    /// Only objects in this namespace; `None`: every namespace.
    pub watch_namespace: Option<String>,
}

/// A kind that is accepted and validated, and only gets the NotImplemented condition.
pub trait Placeholder:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Debug
    + DeserializeOwned
    + Serialize
    + Send
    + Sync
    + 'static
{
    /// Reason of NotImplemented.
    const REASON: &'static str;
    /// Message of NotImplemented.
    const MESSAGE: &'static str;
    /// Every semantic error, as the webhook judges a CREATE.
    fn validate(&self, operator_namespace: &str) -> Result<(), ValidationErrors>;
    /// The conditions the object carries.
    fn conditions(&self) -> &[Condition];
}

impl Placeholder for OpenBaoTenant {
    const REASON: &'static str = reasons::TENANT_NOT_IMPLEMENTED;
    const MESSAGE: &'static str = TENANT_NOT_IMPLEMENTED_MESSAGE;
    fn validate(&self, operator_namespace: &str) -> Result<(), ValidationErrors> {
        let mut errors = api::validate_tenant(self).err().unwrap_or_default();
        for error in api::validate_tenant_scope(self, operator_namespace)
            .err()
            .unwrap_or_default()
        {
            errors.push(error);
        }
        errors.into_result()
    }
    fn conditions(&self) -> &[Condition] {
        self.status.as_ref().map_or(&[], |s| &s.conditions)
    }
}

fn condition(
    type_: &str,
    ok: bool,
    reason: &str,
    message: String,
    generation: Option<i64>,
) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: if ok { "True" } else { "False" }.to_string(),
        reason: reason.to_string(),
        message,
        observed_generation: generation,
        last_transition_time: Time(Timestamp::UNIX_EPOCH),
    }
}

/// The conditions `object` must carry, or `None` when it carries them already (nothing to
/// write). `now` is the transition time of a condition whose status changes; one whose status
/// stays keeps its time. Conditions of other types are kept, after these.
pub fn desired_conditions<K: Placeholder>(
    object: &K,
    operator_namespace: &str,
    now: Time,
) -> Option<Vec<Condition>> {
    let generation = object.meta().generation;
    let valid = match object.validate(operator_namespace) {
        Ok(()) => condition(
            types::VALID,
            true,
            reasons::SPEC_VALID,
            "the spec passed validation".to_string(),
            generation,
        ),
        Err(errors) => condition(
            types::VALID,
            false,
            reasons::INVALID_SPEC,
            errors.to_string(),
            generation,
        ),
    };
    let not_implemented = condition(
        types::NOT_IMPLEMENTED,
        true,
        K::REASON,
        K::MESSAGE.to_string(),
        generation,
    );
    let current = object.conditions();
    let mut conditions = vec![not_implemented, valid];
    for new in &mut conditions {
        new.last_transition_time = match current.iter().find(|c| c.type_ == new.type_) {
            Some(previous) if previous.status == new.status => {
                previous.last_transition_time.clone()
            }
            _ => now.clone(),
        };
    }
    if conditions.iter().all(|c| current.contains(c)) {
        return None;
    }
    for previous in current {
        if !conditions.iter().any(|c| c.type_ == previous.type_) {
            conditions.push(previous.clone());
        }
    }
    Some(conditions)
}

struct Context {
    client: Client,
    operator_namespace: String,
}

fn now() -> Time {
    let now = time::OffsetDateTime::now_utc();
    // The API server keeps seconds.
    Time(Timestamp::new(now.unix_timestamp(), 0).unwrap_or(Timestamp::UNIX_EPOCH))
}

async fn reconcile<K: Placeholder>(
    object: Arc<K>,
    ctx: Arc<Context>,
) -> Result<Action, kube::Error> {
    // A deleted object needs no more status.
    if object.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let Some(conditions) = desired_conditions(&*object, &ctx.operator_namespace, now()) else {
        return Ok(Action::await_change());
    };
    let (name, namespace) = (object.name_any(), object.namespace().unwrap_or_default());
    let api = Api::<K>::namespaced(ctx.client.clone(), &namespace);
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": { "conditions": conditions },
    });
    api.patch_status(
        &name,
        &PatchParams::apply(names::MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    info!(kind = %K::kind(&()), %namespace, %name, generation = ?object.meta().generation, "set the NotImplemented and Valid conditions");
    Ok(Action::await_change())
}

fn error_policy<K: Placeholder>(object: Arc<K>, error: &kube::Error, _: Arc<Context>) -> Action {
    warn!(kind = %K::kind(&()), namespace = ?object.namespace(), name = %object.name_any(), %error, "cannot write the NotImplemented condition; retrying");
    Action::requeue(RETRY)
}

async fn run_kind<K: Placeholder>(
    ctx: Arc<Context>,
    namespace: Option<String>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let api: Api<K> = match &namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    };
    Controller::new(api, watcher::Config::default())
        .graceful_shutdown_on(shutdown)
        .run(reconcile::<K>, error_policy::<K>, ctx)
        .for_each(|result| {
            if let Err(e) = result {
                debug!(kind = %K::kind(&()), error = %e, "placeholder reconcile error");
            }
            future::ready(())
        })
        .await;
}

/// Run the controller of OpenBaoTenants until `shutdown` resolves.
pub async fn run(
    client: Client,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let ctx = Arc::new(Context {
        client,
        operator_namespace: config.operator_namespace,
    });
    let shutdown = shutdown.shared();
    run_kind::<OpenBaoTenant>(ctx, config.watch_namespace, shutdown).await;
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use serde_json::json;

    use super::*;

    fn at(seconds: i64) -> Time {
        Time(Timestamp::new(seconds, 0).expect("timestamp"))
    }

    fn tenant(target: &str, generation: i64) -> OpenBaoTenant {
        let mut tenant: OpenBaoTenant = serde_json::from_value(json!({
            "apiVersion": "openbao.org/v1alpha1",
            "kind": "OpenBaoTenant",
            "metadata": { "name": "team-tenant", "namespace": "team" },
            "spec": { "targetNamespace": target },
        }))
        .expect("tenant");
        tenant.metadata = ObjectMeta {
            generation: Some(generation),
            ..tenant.metadata
        };
        tenant
    }

    fn with(mut tenant: OpenBaoTenant, conditions: Vec<Condition>) -> OpenBaoTenant {
        tenant.status = Some(api::OpenBaoTenantStatus {
            conditions,
            ..Default::default()
        });
        tenant
    }

    fn find<'c>(conditions: &'c [Condition], type_: &str) -> &'c Condition {
        conditions
            .iter()
            .find(|c| c.type_ == type_)
            .unwrap_or_else(|| panic!("{type_} in {conditions:?}"))
    }

    #[test]
    fn a_new_object_gets_not_implemented_and_valid_with_its_generation() {
        let conditions = desired_conditions(&tenant("team", 1), "ops", at(100)).expect("a write");
        let not_implemented = find(&conditions, types::NOT_IMPLEMENTED);
        assert_eq!(not_implemented.status, "True");
        assert_eq!(not_implemented.reason, reasons::TENANT_NOT_IMPLEMENTED);
        assert_eq!(not_implemented.message, TENANT_NOT_IMPLEMENTED_MESSAGE);
        assert_eq!(not_implemented.observed_generation, Some(1));
        assert_eq!(not_implemented.last_transition_time, at(100));
        let valid = find(&conditions, types::VALID);
        assert_eq!(
            (valid.status.as_str(), valid.reason.as_str()),
            ("True", reasons::SPEC_VALID)
        );
    }

    #[test]
    fn a_pass_over_an_object_that_carries_its_conditions_writes_nothing() {
        let written = desired_conditions(&tenant("team", 1), "ops", at(100)).expect("a write");
        let current = with(tenant("team", 1), written);
        assert_eq!(desired_conditions(&current, "ops", at(200)), None);
    }

    #[test]
    fn a_new_generation_is_written_again_keeping_the_transition_times() {
        let written = desired_conditions(&tenant("team", 1), "ops", at(100)).expect("a write");
        let current = with(tenant("team", 2), written);
        let conditions = desired_conditions(&current, "ops", at(200)).expect("stale");
        for condition in &conditions {
            assert_eq!(condition.observed_generation, Some(2), "{condition:?}");
            assert_eq!(condition.last_transition_time, at(100), "{condition:?}");
        }
    }

    #[test]
    fn an_invalid_object_gets_valid_false_naming_the_field_and_still_not_implemented() {
        // Outside the operator namespace a tenant may only onboard its own namespace.
        let conditions =
            desired_conditions(&tenant("elsewhere", 1), "ops", at(100)).expect("a write");
        let valid = find(&conditions, types::VALID);
        assert_eq!(valid.status, "False");
        assert_eq!(valid.reason, reasons::INVALID_SPEC);
        assert!(valid.message.contains("spec.targetNamespace"), "{valid:?}");
        assert_eq!(find(&conditions, types::NOT_IMPLEMENTED).status, "True");
        // Fixed later: Valid flips and gets a new transition time.
        let current = with(tenant("team", 2), conditions);
        let fixed = desired_conditions(&current, "ops", at(300)).expect("a write");
        let valid = find(&fixed, types::VALID);
        assert_eq!(
            (valid.status.as_str(), &valid.last_transition_time),
            ("True", &at(300))
        );
        assert_eq!(
            find(&fixed, types::NOT_IMPLEMENTED).last_transition_time,
            at(100)
        );
    }

    #[test]
    fn conditions_of_other_types_are_carried_over() {
        let other = condition(types::READY, false, "Waiting", "later".to_string(), Some(1));
        let current = with(tenant("team", 1), vec![other.clone()]);
        let conditions = desired_conditions(&current, "ops", at(100)).expect("a write");
        assert_eq!(conditions.len(), 3);
        assert!(conditions.contains(&other));
    }
}
