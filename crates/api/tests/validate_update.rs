//! `validate_update`: everything `validate` checks on the new object, plus fields that cannot
//! change after creation.

mod common;

use api::validate::validate_update;
use common::*;
use serde_json::json;

#[test]
fn an_unchanged_cluster_is_a_valid_update() {
    let cluster = valid_cluster();
    assert_eq!(validate_update(&cluster, &cluster), Ok(()));
}

#[test]
fn mutable_fields_may_change() {
    let old = valid_cluster();
    let new = cluster_with(|v| {
        set(v, "/spec/replicas", json!(5));
        set(v, "/spec/version", json!("2.5.0"));
        // The same size, spelled differently, is no change.
        set(v, "/spec/storage/size", json!("10240Mi"));
    });
    assert_eq!(validate_update(&old, &new), Ok(()));
}

#[test]
fn the_storage_size_may_grow_but_never_shrinks() {
    let old = valid_cluster();
    let smaller = cluster_with(|v| set(v, "/spec/storage/size", json!("5Gi")));
    let errors = validate_update(&old, &smaller).expect_err("shrinking is refused");
    assert_path(&errors, "spec.storage.size");
    assert!(errors.0[0].message.contains("cannot shrink"), "{errors}");
    assert!(
        errors.0[0].message.contains("10Gi"),
        "names the old size: {errors}"
    );
    let larger = cluster_with(|v| set(v, "/spec/storage/size", json!("20Gi")));
    assert_eq!(validate_update(&old, &larger), Ok(()));
}

#[test]
fn the_storage_class_is_immutable_including_setting_or_clearing_it() {
    let old = valid_cluster();
    for change in [json!("slow-hdd"), json!(null)] {
        let new = cluster_with(|v| set(v, "/spec/storage/storageClassName", change));
        let errors = validate_update(&old, &new).expect_err("immutable");
        assert_path(&errors, "spec.storage.storageClassName");
        assert!(
            errors.0[0].message.contains("volumeClaimTemplates"),
            "{errors}"
        );
    }
}

#[test]
fn the_unseal_type_is_immutable_and_the_message_mentions_seal_migration() {
    let old = valid_cluster();
    let new = cluster_with(|v| set(v, "/spec/unseal", json!({"type": "static"})));
    let errors = validate_update(&old, &new).expect_err("immutable");
    assert_eq!(errors.len(), 1, "{errors}");
    assert_path(&errors, "spec.unseal.type");
    assert!(errors.0[0].message.contains("seal migration"), "{errors}");
}

#[test]
fn an_update_also_reports_every_validate_error_of_the_new_object() {
    let old = valid_cluster();
    let new = cluster_with(|v| {
        set(v, "/spec/replicas", json!(0));
        set(v, "/spec/storage/storageClassName", json!("other"));
    });
    let errors = validate_update(&old, &new).expect_err("invalid");
    assert_eq!(errors.len(), 2, "{errors}");
    assert_path(&errors, "spec.replicas");
    assert_path(&errors, "spec.storage.storageClassName");
}
