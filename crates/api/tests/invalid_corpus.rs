//! The corpus in `tests/invalid/` at the workspace root: every manifest has exactly one problem,
//! announced on its first line as `# expect: <field path>`, and decoding plus validation must
//! report exactly one error there. The `render` binary is checked against the same corpus.

use std::path::{Path, PathBuf};

use api::validate::ValidationErrors;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/invalid")
}

fn corpus() -> Vec<(String, String, String)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/invalid exists")
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("UTF-8 file name")
                .to_string();
            let text = std::fs::read_to_string(&path).expect("readable corpus file");
            let expect = text
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("# expect: "))
                .unwrap_or_else(|| panic!("{name}: first line must be `# expect: <path>`"))
                .trim()
                .to_string();
            (name, expect, text)
        })
        .collect()
}

fn errors_of(text: &str) -> ValidationErrors {
    match api::decode::cluster_from_yaml_str(text) {
        Err(errors) => errors,
        Ok(cluster) => api::validate(&cluster).err().unwrap_or_default(),
    }
}

/// `path` is `expected` or a field below it (`expected.x`, `expected[0]`, `expected["k"]`).
fn is_at_or_below(path: &str, expected: &str) -> bool {
    path == expected
        || path
            .strip_prefix(expected)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}

#[test]
fn the_corpus_has_at_least_forty_distinct_well_named_manifests() {
    let corpus = corpus();
    assert!(corpus.len() >= 40, "only {} corpus files", corpus.len());
    let mut texts: Vec<&str> = corpus.iter().map(|(_, _, t)| t.as_str()).collect();
    texts.sort();
    texts.dedup();
    assert_eq!(texts.len(), corpus.len(), "corpus files must be distinct");
    for (name, _, _) in &corpus {
        let (number, rest) = name.split_once('-').expect("NN-short-name.yaml");
        assert!(
            number.len() == 2 && number.bytes().all(|b| b.is_ascii_digit()),
            "{name}"
        );
        assert!(rest.ends_with(".yaml") && rest.len() > 5, "{name}");
    }
}

#[test]
fn every_corpus_manifest_fails_with_exactly_one_error_at_the_expected_path() {
    let mut failures = Vec::new();
    for (name, expected, text) in corpus() {
        let errors = errors_of(&text);
        let hit = errors.iter().any(|e| is_at_or_below(&e.path, &expected));
        if !hit || errors.len() != 1 {
            failures.push(format!(
                "{name}: expected one error at {expected}, got [{errors}]"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_corpus_manifest_is_a_complete_manifest_with_api_version_kind_metadata_and_spec() {
    for (name, _, text) in corpus() {
        for key in ["apiVersion:", "kind:", "metadata:", "spec:"] {
            assert!(
                text.lines().any(|l| l.starts_with(key)),
                "{name}: missing top-level {key}"
            );
        }
    }
}

#[test]
fn the_corpus_covers_decode_errors_and_validate_errors() {
    let (mut decode, mut validate) = (0, 0);
    for (_, _, text) in corpus() {
        match api::decode::cluster_from_yaml_str(&text) {
            Err(_) => decode += 1,
            Ok(_) => validate += 1,
        }
    }
    assert!(decode >= 10, "{decode} decode cases");
    assert!(validate >= 30, "{validate} validate cases");
}
