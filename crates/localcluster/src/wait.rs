//! Polling with a deadline: the only way tests and start-up wait (never a fixed sleep).

use std::{future::Future, time::Duration};

use anyhow::{Result, anyhow};
use tokio::time::{Instant, sleep};

/// How often [`eventually`] polls: short, because everything here is on loopback.
const INTERVAL: Duration = Duration::from_millis(50);

/// Calls `check` until it returns `Ok(Some(value))` or `timeout` passes. `Ok(None)` and `Err`
/// both mean "not yet"; on timeout the error names `what` and carries the last error seen, so a
/// failing wait says why it was still failing.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    let mut last_error = None;
    loop {
        match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(e) => last_error = Some(e),
        }
        if Instant::now() >= deadline {
            let why = last_error.map_or_else(
                || "the condition never held".to_owned(),
                |e| format!("last error: {e:#}"),
            );
            return Err(anyhow!(
                "timed out after {:.1} s waiting for {what}; {why}",
                timeout.as_secs_f64()
            ));
        }
        sleep(INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_timeout_reports_what_was_awaited_and_the_last_error() {
        let err = eventually::<(), _, _>("the answer", Duration::from_millis(120), || async {
            Err(anyhow!("still 41"))
        })
        .await
        .expect_err("never succeeds");
        let msg = err.to_string();
        assert!(
            msg.contains("the answer") && msg.contains("still 41"),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn a_condition_that_holds_returns_its_value() {
        let mut calls = 0;
        let value = eventually("the third call", Duration::from_secs(5), || {
            calls += 1;
            let done = calls >= 3;
            async move { Ok(done.then_some(calls)) }
        })
        .await
        .expect("holds");
        assert_eq!(value, 3);
    }
}
