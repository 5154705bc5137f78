//! Fault injection for tests: named points where a build with the `fault-injection` feature
//! kills the process when `OPENBAO_OPERATOR_FAULT` names that point, or runs a hook a test
//! registered for that point and one cluster (to cut the network at an exact moment, say). In
//! every other build the points compile to nothing, so production binaries cannot be made to
//! crash or stall this way.

/// After the `<cluster>-root-token` placeholder is written, before `sys/init` is called.
pub const AFTER_PLACEHOLDER: &str = "after-placeholder";
/// After `sys/init` answered, before its keys are stored.
pub const AFTER_INIT_RESPONSE: &str = "after-init-response";

/// The environment variable naming the fault point to trigger.
pub const FAULT_ENV: &str = "OPENBAO_OPERATOR_FAULT";

#[cfg(feature = "fault-injection")]
type Hooks = std::sync::Mutex<Vec<(String, String, Box<dyn Fn() + Send>)>>;

#[cfg(feature = "fault-injection")]
static HOOKS: Hooks = std::sync::Mutex::new(Vec::new());

/// Run `hook` whenever `point` is reached for `cluster` (`namespace/name` or the name the
/// caller passes). Only in fault-injection builds; tests use it to inject a fault a real part
/// cannot produce on cue.
#[cfg(feature = "fault-injection")]
pub fn on(point: &str, cluster: &str, hook: impl Fn() + Send + 'static) {
    if let Ok(mut hooks) = HOOKS.lock() {
        hooks.push((point.to_string(), cluster.to_string(), Box::new(hook)));
    }
}

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

/// Like [`point`], and also run the hooks registered for `point` and `cluster`.
#[inline]
pub fn point_for(point: &str, cluster: &str) {
    self::point(point);
    #[cfg(feature = "fault-injection")]
    if let Ok(hooks) = HOOKS.lock() {
        for (_, _, hook) in hooks.iter().filter(|(p, c, _)| p == point && c == cluster) {
            hook();
        }
    }
    #[cfg(not(feature = "fault-injection"))]
    let _ = cluster;
}
