//! Decoding stays within a spawned thread's default stack: upstream's whole API (with embedded
//! Kubernetes types) is large, so the rarely used sections are boxed. Without that a debug build
//! needed more than 2 MiB and overflowed the operator's worker threads.

mod common;

use common::valid_value;

/// A spawned thread's default stack in Rust and in tokio.
const DEFAULT_THREAD_STACK: usize = 2 << 20;

#[test]
fn every_manifest_of_the_corpora_decodes_and_validates_on_a_default_sized_thread_stack() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut documents: Vec<(String, String)> = Vec::new();
    for dir in ["tests/upstream", "examples"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("read");
            documents.push((file.display().to_string(), text));
        }
    }
    assert!(documents.len() > 50, "the corpora are present");
    let fixture = serde_json::to_string(&valid_value()).expect("fixture");
    let outcome = std::thread::Builder::new()
        .stack_size(DEFAULT_THREAD_STACK)
        .spawn(move || {
            for (name, text) in &documents {
                let cluster = api::decode::cluster_from_yaml_str(text)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                let _ = api::validate(&cluster);
            }
            let value: serde_json::Value = serde_json::from_str(&fixture).expect("json");
            api::decode::cluster_from_value(value).expect("the fixture decodes");
            documents.len()
        })
        .expect("spawn")
        .join();
    assert!(outcome.is_ok(), "decoding overflowed or panicked");
}

/// The boxed sections keep the spec small (it was 8,392 bytes with every section inline); print
/// the size for the note: `cargo test -p openbao-api --test decode_stack -- --nocapture`.
#[test]
fn the_spec_keeps_its_rarely_used_sections_boxed() {
    let size = std::mem::size_of::<api::OpenBaoClusterSpec>();
    eprintln!("size_of::<OpenBaoClusterSpec>() = {size} bytes");
    assert!(
        size < 4096,
        "OpenBaoClusterSpec is {size} bytes: box the large optional sections again"
    );
}
