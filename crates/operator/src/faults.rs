//! Fault injection for tests: named points where a build with the `fault-injection` feature
//! kills the process when `OPENBAO_OPERATOR_FAULT` names that point. In every other build the
//! points compile to nothing, so production binaries cannot be made to crash this way.

/// After the `<cluster>-root-token` placeholder is written, before `sys/init` is called.
pub const AFTER_PLACEHOLDER: &str = "after-placeholder";
/// After `sys/init` answered, before its keys are stored.
pub const AFTER_INIT_RESPONSE: &str = "after-init-response";

/// The environment variable naming the fault point to trigger.
pub const FAULT_ENV: &str = "OPENBAO_OPERATOR_FAULT";

/// Abort the process here if this is a fault-injection build and `point` is the configured
/// fault. Abort (not exit) so no destructor or buffered write can run: like a SIGKILL.
#[inline]
pub fn point(point: &str) {
    #[cfg(feature = "fault-injection")]
    if std::env::var(FAULT_ENV).is_ok_and(|wanted| wanted == point) {
        eprintln!("fault injection: aborting at {point}");
        std::process::abort();
    }
    #[cfg(not(feature = "fault-injection"))]
    let _ = point;
}
