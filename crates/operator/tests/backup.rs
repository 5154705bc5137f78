//! The backup data path against real parts: real `bao` members (the operator's own
//! configuration) and moto's S3 server with signature checking on. A snapshot streams into the
//! bucket with its digest and restores deleted data; a damaged, truncated, unmanifested or
//! unreadable snapshot is refused before OpenBao is touched; retention keeps the newest; an
//! upload cut off midway leaves no backup behind.

mod support;

use support::{bao, moto};

use std::{sync::Arc, time::Duration};

use bao_client::{BaoClient, InitRequest};
use futures::TryStreamExt;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, path::Path};
use operator::backup::{
    self, BackupError, Credentials, SnapshotKey,
    retention::{self, Policy},
    snapshot::DEFAULT_PART_SIZE,
};

fn target(moto: &moto::Moto) -> api::spec::BackupTarget {
    serde_json::from_value(serde_json::json!({
        "provider": "s3",
        "endpoint": moto.endpoint,
        "bucket": moto.bucket,
        "usePathStyle": true,
        "region": "us-east-1",
    }))
    .expect("target")
}

fn store(moto: &moto::Moto, secret: &str) -> Arc<dyn ObjectStore> {
    let credentials = Credentials {
        access_key_id: Some(moto.access_key_id.clone()),
        secret_access_key: Some(bao_client::SecretString::new(secret.to_string())),
        ..Credentials::default()
    };
    backup::open(&target(moto), &credentials).expect("open the bucket")
}

/// One initialized member, a client holding its root token, and the token.
async fn openbao() -> (bao::BaoMembers, BaoClient, bao_client::SecretString) {
    let members = bao::BaoMembers::start("bao", "backups", 1).await;
    let member = members.member(0);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let init = loop {
        // sys/init through the member's ordinary client: one member with
        // performanceMultiplier 1 initializes in about a second.
        match member.client.init(&InitRequest::recovery(1, 1)).await {
            Ok(init) => break init,
            Err(e) => {
                assert!(std::time::Instant::now() < deadline, "init: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let token = init.root_token.clone();
    let root = member.client.with_token(init.root_token);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while root.mount_kv_v2("secret").await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "OpenBao never became active"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (members, root, token)
}

async fn put(bao: &BaoClient, key: &str, value: &str) {
    bao.kv_v2_put("secret", key, &serde_json::json!({ "v": value }))
        .await
        .expect("write");
}

async fn read(bao: &BaoClient, key: &str) -> Option<serde_json::Value> {
    bao.kv_v2_get("secret", key).await.ok().flatten()
}

async fn objects(store: &dyn ObjectStore, prefix: &Path) -> Vec<String> {
    let mut names: Vec<String> = store
        .list(Some(prefix))
        .map_ok(|o| o.location.to_string())
        .try_collect()
        .await
        .expect("list");
    names.sort();
    names
}

/// Where the snapshots of these tests come from (no seal fingerprint unless a test sets one).
const ORIGIN: backup::Origin<'static> = backup::Origin {
    cluster: "backups/bao",
    seal_fingerprint: None,
};
/// A seal fingerprint as the operator passes it.
const SEAL: &str = "static:00112233445566778899aabbccddeeff";

#[tokio::test]
async fn a_snapshot_streams_into_the_bucket_with_its_digest_and_restores_changed_secrets() {
    let moto = moto::Moto::start("snapshots");
    let (_members, bao, _) = openbao().await;
    for i in 0..200 {
        put(&bao, &format!("app-{i}"), &format!("original-{i}")).await;
    }
    let store = store(&moto, &moto.secret_access_key);
    let prefix = Path::from("prod/bao");
    let manifest = backup::save(&bao, store.clone(), &prefix, ORIGIN, DEFAULT_PART_SIZE)
        .await
        .expect("backup");
    assert!(manifest.size > 0);
    // The bucket holds exactly the bytes the manifest describes.
    let bytes = store
        .get(&Path::from(manifest.key.as_str()))
        .await
        .expect("get")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(bytes.len() as u64, manifest.size);
    assert_eq!(
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
        manifest.sha256
    );
    assert_eq!(
        objects(store.as_ref(), &prefix).await,
        [manifest.key.clone(), format!("{}.json", manifest.key)]
    );

    // Change the data, restore, and the original is back.
    put(&bao, "app-7", "changed").await;
    assert_eq!(
        read(&bao, "app-7").await,
        Some(serde_json::json!({"v": "changed"}))
    );
    let key = SnapshotKey(Path::from(manifest.key.as_str()));
    backup::restore(&bao, store.as_ref(), &key, false, &Default::default())
        .await
        .expect("restore");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if read(&bao, "app-7").await == Some(serde_json::json!({"v": "original-7"})) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the restored value never appeared"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        read(&bao, "app-199").await,
        Some(serde_json::json!({"v": "original-199"}))
    );
}

#[tokio::test]
async fn a_damaged_missing_unreadable_or_foreign_sealed_snapshot_is_refused_before_openbao_is_touched()
 {
    let moto = moto::Moto::start("damaged");
    let (_members, bao, _) = openbao().await;
    put(&bao, "app", "before").await;
    let store = store(&moto, &moto.secret_access_key);
    let prefix = Path::from("bao");
    let manifest = backup::save(
        &bao,
        store.clone(),
        &prefix,
        backup::Origin {
            seal_fingerprint: Some(SEAL),
            ..ORIGIN
        },
        DEFAULT_PART_SIZE,
    )
    .await
    .expect("backup");
    let key = SnapshotKey(Path::from(manifest.key.as_str()));
    put(&bao, "app", "after").await;
    let original = store
        .get(&key.0)
        .await
        .expect("get")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(manifest.seal_fingerprint.as_deref(), Some(SEAL));

    // Sealed with another key than the cluster it would go into.
    let other_seal = backup::snapshot::Expected {
        seal_fingerprint: Some("static:0123456789abcdef0123456789abcdef".into()),
        ..Default::default()
    };
    let err = backup::restore(&bao, store.as_ref(), &key, true, &other_seal)
        .await
        .expect_err("another seal");
    assert!(
        matches!(&err, BackupError::SealMismatch { snapshot, .. } if snapshot == SEAL),
        "{err}"
    );
    // Truncated.
    store
        .put(
            &key.0,
            PutPayload::from(original.slice(..original.len() / 2)),
        )
        .await
        .expect("truncate");
    let err = backup::restore(&bao, store.as_ref(), &key, false, &Default::default())
        .await
        .expect_err("a truncated snapshot");
    assert!(
        matches!(&err, BackupError::Corrupt { reason, .. } if reason.contains("size")),
        "{err}"
    );
    // Same size, one byte flipped.
    let mut flipped = original.to_vec();
    flipped[original.len() / 2] ^= 0xff;
    store
        .put(&key.0, PutPayload::from(flipped))
        .await
        .expect("corrupt");
    let err = backup::restore(&bao, store.as_ref(), &key, false, &Default::default())
        .await
        .expect_err("a corrupted snapshot");
    assert!(
        matches!(&err, BackupError::Corrupt { reason, .. } if reason.contains("SHA-256")),
        "{err}"
    );
    // No manifest: not a backup.
    store
        .put(&key.0, PutPayload::from(original.clone()))
        .await
        .expect("repair");
    store.delete(&key.manifest()).await.expect("drop manifest");
    let err = backup::restore(&bao, store.as_ref(), &key, false, &Default::default())
        .await
        .expect_err("no manifest");
    assert!(err.to_string().contains("manifest"), "{err}");
    assert!(
        retention::list(store.as_ref(), &prefix)
            .await
            .expect("list")
            .is_empty()
    );
    // Wrong credentials: refused by the store (signature checking is on).
    let wrong = self::store(&moto, "not-the-secret");
    let err = backup::verify(wrong.as_ref(), &key)
        .await
        .expect_err("wrong secret");
    assert!(matches!(err, BackupError::Store { .. }), "{err}");
    // OpenBao was never touched: the latest write is still there.
    assert_eq!(
        read(&bao, "app").await,
        Some(serde_json::json!({"v": "after"}))
    );
}

#[tokio::test]
async fn retention_keeps_the_newest_backups_and_a_cut_off_upload_leaves_nothing() {
    let moto = moto::Moto::start("retention");
    let (_members, bao, _) = openbao().await;
    put(&bao, "app", "v").await;
    let store = store(&moto, &moto.secret_access_key);
    let prefix = Path::from("bao");
    let mut keys = Vec::new();
    for _ in 0..3 {
        let manifest = backup::save(&bao, store.clone(), &prefix, ORIGIN, DEFAULT_PART_SIZE)
            .await
            .expect("backup");
        keys.push(manifest.key);
        // Keys have one-second resolution.
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let deleted = retention::apply(
        store.as_ref(),
        &prefix,
        Policy {
            max_count: Some(2),
            max_age: None,
        },
        time::OffsetDateTime::now_utc(),
    )
    .await
    .expect("retention");
    assert_eq!(deleted, [SnapshotKey(Path::from(keys[0].as_str()))]);
    let left: Vec<String> = retention::list(store.as_ref(), &prefix)
        .await
        .expect("list")
        .into_iter()
        .map(|(k, _)| k.0.to_string())
        .collect();
    assert_eq!(left, keys[1..]);
    assert!(!objects(store.as_ref(), &prefix).await.contains(&keys[0]));

    // An upload that never completes (the Job killed mid-stream) is no backup at all.
    let other = Path::from("cut");
    let cut = tokio::time::timeout(
        Duration::from_millis(5),
        backup::save(&bao, store.clone(), &other, ORIGIN, DEFAULT_PART_SIZE),
    )
    .await;
    assert!(cut.is_err(), "the upload was cut off");
    assert!(
        retention::list(store.as_ref(), &other)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(objects(store.as_ref(), &other).await.is_empty());
}

fn operator(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_openbao-operator"))
        .args(args)
        .output()
        .expect("run openbao-operator")
}

#[tokio::test]
async fn the_backup_commands_save_list_verify_and_restore_as_a_job_would() {
    let moto = moto::Moto::start("commands");
    let (members, bao, root) = openbao().await;
    put(&bao, "app", "saved").await;
    let dir = tempfile::tempdir().expect("dir");
    let file = |name: &str, content: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, content).expect("write");
        path.to_string_lossy().to_string()
    };
    let target = file(
        "target.yaml",
        &serde_json::to_string(&target(&moto)).expect("target"),
    );
    let credentials = dir.path().join("credentials");
    std::fs::create_dir(&credentials).expect("credentials dir");
    std::fs::write(credentials.join("accessKeyId"), &moto.access_key_id).expect("write");
    std::fs::write(credentials.join("secretAccessKey"), &moto.secret_access_key).expect("write");
    let credentials = credentials.to_string_lossy().to_string();
    let token = file("token", root.expose_secret());
    let ca = file("ca.crt", &members.ca_pem);
    let address = format!("https://{}:8200", members.ips[0]);
    let target_args = [
        "--target",
        &target,
        "--credentials-dir",
        &credentials,
        "--cluster",
        "backups/bao",
    ];
    let openbao_args = [
        "--openbao",
        &address,
        "--ca-file",
        &ca,
        "--token-file",
        &token,
    ];

    let saved = operator(
        &[
            &["backup", "save"][..],
            &openbao_args,
            &target_args,
            &["--max-count", "5"],
        ]
        .concat(),
    );
    assert!(
        saved.status.success(),
        "{}",
        String::from_utf8_lossy(&saved.stderr)
    );
    let manifest: serde_json::Value = serde_json::from_slice(&saved.stdout).expect("manifest JSON");
    let key = manifest["key"].as_str().expect("key").to_string();
    assert!(
        key.starts_with("backups/bao/") && key.ends_with(".snap"),
        "{key}"
    );

    let listed = operator(&[&["backup", "list"][..], &target_args].concat());
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("list JSON");
    assert_eq!(rows[0]["key"], key.as_str());

    let verified = operator(&[&["backup", "verify"][..], &target_args, &["--key", &key]].concat());
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&verified.stdout).expect("JSON")["sha256"],
        manifest["sha256"]
    );

    put(&bao, "app", "later").await;
    let restored = operator(
        &[
            &["backup", "restore"][..],
            &openbao_args,
            &target_args,
            &["--key", &key],
        ]
        .concat(),
    );
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while read(&bao, "app").await != Some(serde_json::json!({"v": "saved"})) {
        assert!(
            std::time::Instant::now() < deadline,
            "the restored value never appeared"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Bad input exits 2 naming the flag; a failure exits 1 naming the cause.
    let bad = operator(&[
        "backup",
        "list",
        "--target",
        &target,
        "--cluster",
        "no-slash",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--cluster"));
    std::fs::write(dir.path().join("credentials/secretAccessKey"), "wrong").expect("write");
    let refused = operator(&[&["backup", "verify"][..], &target_args, &["--key", &key]].concat());
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("object storage"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(
        !String::from_utf8_lossy(&refused.stderr).contains("wrong"),
        "no secret in errors"
    );
}
