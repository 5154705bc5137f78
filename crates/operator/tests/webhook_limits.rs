//! What one hostile AdmissionReview costs the webhook in memory: the peak heap bytes allocated
//! while `admission::handle` answers it, counted by a global allocator that tracks the peak.
//!
//! The counter is process-wide, so this binary holds only these tests and they run one at a
//! time (`alone`); the body is built before counting starts, so the figures are what answering
//! costs on top of the buffered body. `cargo test -p openbao-operator --test webhook_limits --
//! --nocapture` prints them. For comparison, the decoder these tests replaced (the whole review
//! as a `serde_json::Value`, the object cloned for decoding) peaked at ~143 MB (45x) for either
//! 3 MiB list and at ~9 MB for the object just under the item limit.

use std::sync::{Mutex, MutexGuard};

use operator::{
    telemetry::Metrics,
    webhook::{
        MAX_REVIEW_BYTES,
        admission::{self, MAX_DEPTH, MAX_ITEMS},
    },
};
use peak_alloc::PeakAlloc;
use serde_json::json;

#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

/// The allocator's counters are global, so a test building its body while another measures
/// would count against it: each test holds this for its whole run.
static SERIAL: Mutex<()> = Mutex::new(());

fn alone() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The size of the pathological bodies: within the 6 MiB cap, so they reach the decoder.
const BODY_BYTES: usize = 3 * 1024 * 1024;

/// How the answer to one review went, and what it cost.
#[derive(Debug)]
struct Measured {
    /// `Some(allowed)` for an AdmissionReview answer, `None` for a 400 (not a review).
    allowed: Option<bool>,
    /// Why it was denied, or why it is not a review.
    message: String,
    /// Peak heap bytes above what was allocated before the call.
    peak: usize,
}

fn answer(body: &[u8]) -> Measured {
    let metrics = Metrics::new();
    let base = HEAP.current_usage();
    HEAP.reset_peak_usage();
    let result = admission::handle(body, &metrics, |_| vec!["x".to_string()]);
    let peak = HEAP.peak_usage().saturating_sub(base);
    let (allowed, message) = match result {
        Ok((_, verdict)) => (Some(verdict.allowed), verdict.message.unwrap_or_default()),
        Err(e) => (None, e.to_string()),
    };
    let measured = Measured {
        allowed,
        message,
        peak,
    };
    println!(
        "body {} bytes: peak {} bytes ({:.2}x), allowed {:?}: {}",
        body.len(),
        measured.peak,
        measured.peak as f64 / body.len() as f64,
        measured.allowed,
        measured.message.chars().take(160).collect::<String>()
    );
    measured
}

/// A CREATE review whose `object` is the JSON text `object`.
fn review(object: &str) -> Vec<u8> {
    let envelope = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "u-limits",
            "operation": "CREATE",
            "name": "bao",
            "namespace": "team",
            "object": "OBJECT",
        },
    })
    .to_string();
    envelope.replacen("\"OBJECT\"", object, 1).into_bytes()
}

/// `[0,0,...,0]` of about `bytes` bytes.
fn flat_list(bytes: usize) -> String {
    format!("[{}0]", "0,".repeat(bytes / 2))
}

/// A cluster manifest with `extra` as the value of its `status`.
fn cluster_with_status(extra: &str) -> String {
    format!(
        "{{\"apiVersion\":\"openbao.org/v1alpha1\",\"kind\":\"OpenBaoCluster\",\
         \"metadata\":{{\"name\":\"bao\",\"namespace\":\"team\"}},\
         \"spec\":{{\"version\":\"2.7.2\"}},\"status\":{extra}}}"
    )
}

fn assert_bounded(measured: &Measured, body: &[u8]) {
    assert!(
        measured.peak <= 4 * body.len(),
        "answering a {} byte review peaked at {} bytes, more than 4x the body",
        body.len(),
        measured.peak
    );
}

#[test]
fn a_three_mib_review_whose_object_is_a_flat_list_is_denied_at_a_fraction_of_its_size() {
    let _alone = alone();
    let body = review(&flat_list(BODY_BYTES));
    assert!(body.len() >= BODY_BYTES && body.len() < MAX_REVIEW_BYTES);
    let measured = answer(&body);
    assert_eq!(measured.allowed, Some(false), "{measured:?}");
    assert!(
        measured.message.contains("must be a mapping"),
        "{measured:?}"
    );
    assert_bounded(&measured, &body);
}

#[test]
fn a_three_mib_mapping_holding_a_huge_list_is_denied_before_a_tree_is_built() {
    let _alone = alone();
    let body = review(&cluster_with_status(&flat_list(BODY_BYTES)));
    let measured = answer(&body);
    assert_eq!(measured.allowed, Some(false), "{measured:?}");
    assert!(
        measured
            .message
            .contains(&format!("more than {MAX_ITEMS} JSON values")),
        "{measured:?}"
    );
    assert_bounded(&measured, &body);
}

#[test]
fn three_mib_of_nesting_is_refused_with_400_before_it_is_parsed() {
    let _alone = alone();
    let depth = BODY_BYTES / 2;
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    // Many 100-deep nests side by side, each deeper than any cluster.
    let one = format!("{}{}", "[".repeat(100), "]".repeat(100));
    let many = format!("[{}]", vec![one.as_str(); BODY_BYTES / 201].join(","));
    for object in [
        nested.clone(),
        cluster_with_status(&nested),
        cluster_with_status(&many),
    ] {
        let body = review(&object);
        let measured = answer(&body);
        assert_eq!(measured.allowed, None, "a 400, not a review: {measured:?}");
        assert!(
            measured
                .message
                .contains(&format!("nested more than {} levels", MAX_DEPTH + 2)),
            "{measured:?}"
        );
        assert_bounded(&measured, &body);
    }
}

#[test]
fn an_object_just_under_the_item_limit_in_its_costliest_shape_decodes_within_eight_mib() {
    let _alone = alone();
    // One-key mappings are the costliest items: a B-tree node each. Just under the limit the
    // object passes the scan, is decoded, and is denied for its status; what that costs is
    // bounded by MAX_ITEMS, not by the body size.
    let maps = (MAX_ITEMS - 100) / 3;
    let list = format!("[{}]", vec!["{\"a\":0}"; maps].join(","));
    let body = review(&cluster_with_status(&list));
    let measured = answer(&body);
    assert_eq!(measured.allowed, Some(false), "{measured:?}");
    assert!(measured.message.contains("status"), "{measured:?}");
    assert!(
        measured.peak <= 8 * 1024 * 1024,
        "an object at the item limit peaked at {} bytes",
        measured.peak
    );
}
