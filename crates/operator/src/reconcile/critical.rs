//! Work that must finish once started, whatever happens to the pass that started it: between
//! `sys/init` and storing its keys, the keys exist only in this process. Such work runs in its
//! own task (dropping the reconcile future, as losing the Lease or a shutdown does, does not
//! cancel it) under a [`CriticalWork`] guard, and the manager waits for every guard to be
//! released before it lets the process exit.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use tokio::sync::Notify;

/// Counts critical work in flight.
#[derive(Debug, Default)]
pub struct CriticalWork {
    in_flight: AtomicUsize,
    changed: Notify,
}

/// Held while one piece of critical work runs; dropping it (also on panic) releases it.
#[derive(Debug)]
pub struct CriticalGuard {
    work: Arc<CriticalWork>,
}

impl CriticalWork {
    /// A new, idle tracker.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Mark one piece of critical work as started.
    pub fn enter(self: &Arc<Self>) -> CriticalGuard {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        CriticalGuard { work: self.clone() }
    }

    /// How many pieces are in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Resolves once nothing is in flight.
    pub async fn idle(&self) {
        loop {
            let changed = self.changed.notified();
            if self.in_flight() == 0 {
                return;
            }
            changed.await;
        }
    }
}

impl Drop for CriticalGuard {
    fn drop(&mut self) {
        self.work.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.work.changed.notify_waiters();
    }
}

/// Run `work` to completion in its own task under a guard of `tracker`, and wait for it. If the
/// caller is dropped meanwhile, the work still finishes (the task is detached, not aborted).
pub async fn run_to_completion<T: Send + 'static>(
    tracker: &Arc<CriticalWork>,
    work: impl Future<Output = T> + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    let guard = tracker.enter();
    tokio::spawn(async move {
        let _guard = guard;
        work.await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn work_whose_caller_is_dropped_still_finishes_and_idle_waits_for_it() {
        let tracker = CriticalWork::new();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let caller = run_to_completion(&tracker, async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let _ = done_tx.send(());
        });
        // The caller (a reconcile pass) is dropped mid-way, as on a lost Lease.
        let _ = tokio::time::timeout(Duration::from_millis(20), caller).await;
        assert_eq!(tracker.in_flight(), 1, "the work is still running");
        tokio::time::timeout(Duration::from_secs(5), tracker.idle())
            .await
            .expect("idle once the work finished");
        assert!(done_rx.await.is_ok(), "the work ran to its end");
        assert_eq!(tracker.in_flight(), 0);
    }

    #[tokio::test]
    async fn idle_returns_at_once_when_nothing_runs() {
        let tracker = CriticalWork::new();
        tokio::time::timeout(Duration::from_millis(100), tracker.idle())
            .await
            .expect("idle");
    }
}
