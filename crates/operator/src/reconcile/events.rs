//! Events: publishing one about a cluster, and what a failed pass records before it is retried.

use std::{sync::Arc, time::Duration};

use api::OpenBaoCluster;
use kube::{
    Resource, ResourceExt,
    runtime::{
        controller::Action,
        events::{Event, EventType},
    },
};
use tracing::warn;

use super::{Context, Error, error::is_waiting};

fn object_ref(cluster: &OpenBaoCluster) -> k8s_openapi::api::core::v1::ObjectReference {
    cluster.object_ref(&())
}

/// Publish an Event about `cluster`; failures are logged, never fatal.
pub async fn publish(
    ctx: &Context,
    cluster: &OpenBaoCluster,
    type_: EventType,
    reason: &str,
    action: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.to_string(),
        note: Some(truncate(note, 1000)),
        action: action.to_string(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &object_ref(cluster)).await {
        warn!(error = %e, reason, "cannot publish event");
    }
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// What happens after a failed pass: an Event, a log line, and a requeue by category.
pub fn error_policy(cluster: Arc<OpenBaoCluster>, error: &Error, ctx: Arc<Context>) -> Action {
    if is_waiting(error) {
        tracing::debug!(cluster = %cluster.name_any(), namespace = ?cluster.namespace(), %error, "waiting");
        ctx.metrics.requeued("waiting");
        return Action::requeue(Duration::from_secs(2));
    }
    ctx.metrics.requeued("error");
    warn!(cluster = %cluster.name_any(), namespace = ?cluster.namespace(), category = error.category(), error = %error, "reconcile failed");
    let reason = error.category();
    let note = error.to_string();
    let cluster = cluster.clone();
    let ctx = ctx.clone();
    tokio::spawn(async move {
        publish(
            &ctx,
            &cluster,
            EventType::Warning,
            reason,
            "Reconcile",
            note,
        )
        .await;
    });
    Action::requeue(error.requeue())
}
