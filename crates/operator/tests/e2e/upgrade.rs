//! Rollouts end to end: a version upgrade from the previous OpenBao release to the pinned one
//! while a client writes, and a member that cannot start on a new pod template.

use super::*;

/// What each member of `bao` says about itself and the last lines of its OpenBao log, for a
/// failure message: the stuck upgrade this test once hit under load (every member unsealed,
/// none active) is only explained by the members' own view.
async fn member_diagnosis(cp: &ControlPlane, client: &Client, n: &str) -> String {
    let mut out = String::new();
    for ordinal in 0..3 {
        let pod = format!("bao-{ordinal}");
        let health = match try_member_of(client, n, "bao", ordinal).await {
            Some(bao) => format!("{:?} / leader {:?}", bao.health().await, bao.leader().await),
            None => "no pod with an IP".to_string(),
        };
        let log = cp
            .node()
            .and_then(|node| node.container_log(n, &pod, "openbao"))
            .and_then(|path| std::fs::read_to_string(path).ok())
            .unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n    ");
        out.push_str(&format!("\n{pod}: {health}\n    {tail}"));
    }
    out
}

/// The image each server pod of `bao` runs, by pod name.
async fn pod_images(client: &Client, n: &str) -> Vec<(String, String, String)> {
    pods(client, n)
        .await
        .iter()
        .map(|p| {
            let image = p
                .spec
                .as_ref()
                .and_then(|s| s.containers.first())
                .and_then(|c| c.image.clone())
                .unwrap_or_default();
            (p.name_any(), image, p.uid().unwrap_or_default())
        })
        .collect()
}

#[tokio::test]
#[ignore = "open bug (issue 17): once, under more load than CI's, the two members left with the \
            third down served no write for 4 minutes; a stale-status bug that stalled the pause \
            is fixed, and it passed 5 of 5 full e2e runs on 2026-12-03. Un-ignored once the \
            cause is found (a failure now prints each member's view and log). Run with \
            `cargo test -p openbao-operator --test e2e an_upgrade -- --ignored`"]
async fn an_upgrade_replaces_one_member_at_a_time_leader_last_loses_no_write_and_pauses_on_a_member_that_cannot_start()
 {
    let (cp, ns, client) = setup("e2e-upgrade").await;
    let n = ns.name();
    let previous = localcluster::OPENBAO_PREVIOUS_VERSION;
    // OpenBao's default Raft timing (performanceMultiplier 5), not the tests' fast one: under
    // the load of the concurrent e2e tests a fast timing lets elections happen by themselves,
    // and this test counts leader changes.
    let spec = format!("version: \"{previous}\"\nreplicas: 3\nupgrade: {{memberTimeout: 20s}}");
    create(&client, &cluster("bao", n, &spec)).await;
    until_cluster(&client, n, "Running on the previous version", |c| {
        running_with(3)(c)
            && c.status.as_ref().and_then(|s| s.current_version.as_deref()) == Some(previous)
    })
    .await;
    let root = root_member(&client, n, 0).await;
    root.mount_kv_v2("secret").await.expect("kv");
    let token = root_token(&client, n).await;

    // A client writes one entry every 100 ms through whichever member answers, and records
    // what was acknowledged and the longest time no write succeeded.
    let writer = support::writes::Writer::start(&client, n, "bao", &token).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let before = pod_images(&client, n).await;
    Api::<OpenBaoCluster>::namespaced(client.clone(), n)
        .patch(
            "bao",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"version": "2.7.2"}})),
        )
        .await
        .expect("upgrade");
    // Watch the rollout: the leader changes once, to a member already replaced, and
    // currentVersion stays until every member runs the new version.
    let mut leaders: Vec<String> = Vec::new();
    // Three members replaced one after another, each back and caught up before the next.
    let deadline = Instant::now() + 2 * E2E_DEADLINE;
    loop {
        let c = Api::<OpenBaoCluster>::namespaced(client.clone(), n)
            .get("bao")
            .await
            .expect("cluster");
        let status = c.status.clone().unwrap_or_default();
        if let Some(leader) = status.leader.clone()
            && leaders.last() != Some(&leader)
        {
            leaders.push(leader);
        }
        let images = pod_images(&client, n).await;
        let all_new =
            images.len() == 3 && images.iter().all(|(_, image, _)| image.ends_with(":2.7.2"));
        if !all_new {
            assert_eq!(
                status.current_version.as_deref(),
                Some(previous),
                "currentVersion moves only when every member runs the new version"
            );
        }
        if all_new && status.upgrade.is_none() && running_with(3)(&c) {
            assert_eq!(status.current_version.as_deref(), Some("2.7.2"));
            break;
        }
        if Instant::now() >= deadline {
            panic!(
                "the upgrade never completed: {}\nmembers:{}",
                serde_json::to_string_pretty(&c.status).unwrap_or_default(),
                member_diagnosis(cp, &client, n).await
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let written = writer.finish().await;
    let (acked, longest) = (&written.acked, written.longest_gap);
    assert!(
        acked.len() > 20,
        "the client kept writing: {} writes",
        acked.len()
    );
    assert_eq!(
        leaders.len(),
        2,
        "the leader changed exactly once: {leaders:?}"
    );
    // Every pod was replaced, once; the new leader's pod before the old leader's: leadership
    // moved to a member already on the new version.
    let after = pod_images(&client, n).await;
    let created = |name: &str| {
        let client = client.clone();
        let name = name.to_string();
        async move {
            Api::<Pod>::namespaced(client, n)
                .get(&name)
                .await
                .expect("pod")
                .metadata
                .creation_timestamp
                .expect("created")
        }
    };
    let (old_leader, new_leader) = (&leaders[0], &leaders[1]);
    assert!(
        created(new_leader).await.0 < created(old_leader).await.0,
        "{new_leader} ran the new version before {old_leader} was replaced"
    );
    for (name, _, uid) in &before {
        assert!(
            after.iter().any(|(n2, _, u2)| n2 == name && u2 != uid),
            "{name} was replaced: {after:?}"
        );
    }
    // Every acknowledged write is readable from the active member (a standby serves reads
    // from its own, possibly lagging, copy).
    let leader = until_cluster(&client, n, "a leader", |c| {
        c.status.as_ref().is_some_and(|s| s.leader.is_some())
    })
    .await
    .status
    .and_then(|s| s.leader)
    .expect("leader");
    let ordinal: i32 = leader.trim_start_matches("bao-").parse().expect("ordinal");
    let bao = root_member(&client, n, ordinal).await;
    let lost = support::writes::lost(&bao, &written).await;
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    eprintln!(
        "upgrade: {} writes acknowledged, longest window without a successful write {longest:?}",
        acked.len()
    );

    // A pod template the node cannot run: the first replaced member never comes back, the
    // rollout pauses after it with a Degraded condition naming it, nothing else is touched and
    // the cluster keeps serving; reverting the spec recovers.
    let before = pod_images(&client, n).await;
    Api::<OpenBaoCluster>::namespaced(client.clone(), n)
        .patch(
            "bao",
            &PatchParams::default(),
            &Patch::Merge(
                serde_json::json!({"spec": {"image": "registry.example/broken/server:1.0"}}),
            ),
        )
        .await
        .expect("broken image");
    let paused = until_cluster(&client, n, "the rollout paused", |c| {
        c.status
            .as_ref()
            .and_then(|s| s.upgrade.as_ref())
            .is_some_and(|u| u.failure.is_some())
    })
    .await;
    let status = paused.status.expect("status");
    let stuck = status
        .upgrade
        .as_ref()
        .and_then(|u| u.current_member.clone())
        .expect("the member it waits for");
    let degraded = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Degraded")
        .expect("Degraded");
    assert_eq!(degraded.status, "True");
    assert_eq!(degraded.reason, "RolloutPaused");
    assert!(degraded.message.contains(&stuck), "{}", degraded.message);
    let now = pod_images(&client, n).await;
    for (name, _, uid) in &before {
        if *name != stuck {
            assert!(
                now.iter().any(|(n2, _, u2)| n2 == name && u2 == uid),
                "{name} was touched while the rollout waited for {stuck}: before {before:?}, \
                 now {now:?}, status.upgrade {:?}",
                status.upgrade
            );
        }
    }
    // Through the active member (a standby answers writes with a redirect to it), whichever
    // of the two others it is now.
    let deadline = Instant::now() + E2E_DEADLINE;
    let mut last = String::from("no leader other than the stuck member in status");
    loop {
        let leader = Api::<OpenBaoCluster>::namespaced(client.clone(), n)
            .get("bao")
            .await
            .expect("cluster")
            .status
            .and_then(|s| s.leader)
            .filter(|l| *l != stuck);
        if let Some(leader) = leader {
            let ordinal = leader.trim_start_matches("bao-").parse().expect("ordinal");
            let written = root_member(&client, n, ordinal)
                .await
                .kv_v2_put("secret", "during-pause", &serde_json::json!({"ok": true}))
                .await;
            match written {
                Ok(_) => break,
                Err(e) => last = format!("write through {leader}: {e}"),
            }
        }
        if Instant::now() >= deadline {
            panic!(
                "the cluster never served a write with {stuck} down ({last})\nmembers:{}",
                member_diagnosis(cp, &client, n).await
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Api::<OpenBaoCluster>::namespaced(client.clone(), n)
        .patch(
            "bao",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"image": null}})),
        )
        .await
        .expect("revert");
    until_cluster(&client, n, "recovered after the revert", |c| {
        running_with(3)(c) && c.status.as_ref().is_some_and(|s| s.upgrade.is_none())
    })
    .await;
}

#[tokio::test]
async fn a_pre_upgrade_snapshot_lands_before_any_pod_is_replaced_and_a_failed_one_holds_the_upgrade()
 {
    let (cp, ns, client) = setup("e2e-preupgrade").await;
    let n = ns.name();
    let previous = localcluster::OPENBAO_PREVIOUS_VERSION;
    let (moto, target) = moto_in_cluster(cp, &client, n, "e2e-pre-upgrade").await;
    // Credentials moto refuses first: the snapshot fails.
    put_secret(
        &client,
        n,
        "s3-credentials",
        &[
            ("accessKeyId", &moto.access_key_id),
            ("secretAccessKey", "not-the-key"),
        ],
    )
    .await;
    let spec = format!(
        "version: \"{previous}\"\nreplicas: 1\nconfiguration: {{raft: {{performanceMultiplier: 1}}}}\n\
         upgrade: {{preUpgradeSnapshot: true}}\nbackup: {}",
        serde_json::json!({"schedule": "0 3 * * *", "target": target})
    );
    create(&client, &cluster("bao", n, &spec)).await;
    until_cluster(&client, n, "Running on the previous version", |c| {
        running_with(1)(c)
            && c.status.as_ref().and_then(|s| s.current_version.as_deref()) == Some(previous)
    })
    .await;
    let before = pod_images(&client, n).await;
    let api = Api::<OpenBaoCluster>::namespaced(client.clone(), n);
    let set_version = |version: &str| {
        let (api, version) = (api.clone(), version.to_string());
        async move {
            api.patch(
                "bao",
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"spec": {"version": version}})),
            )
            .await
            .expect("set the version");
        }
    };

    // The snapshot fails: the upgrade is held with the reason, and no pod is touched.
    set_version("2.7.2").await;
    let held = until_cluster(&client, n, "the upgrade held by the failed snapshot", |c| {
        c.status
            .as_ref()
            .and_then(|s| s.upgrade.as_ref())
            .and_then(|u| u.failure.as_ref())
            .is_some_and(|f| f.reason.as_deref() == Some("PreUpgradeSnapshotFailed"))
    })
    .await;
    let status = held.status.expect("status");
    let upgrade = status.upgrade.clone().expect("upgrade");
    assert!(
        upgrade.pre_upgrade_snapshot_job_name.is_some(),
        "{upgrade:?}"
    );
    assert_eq!(upgrade.pre_upgrade_snapshot, None);
    assert!(upgrade.completed_pods.is_empty() && upgrade.current_member.is_none());
    let degraded = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Degraded")
        .expect("Degraded");
    assert!(
        degraded.status == "True" && degraded.message.contains("pre-upgrade snapshot failed"),
        "{degraded:?}"
    );
    assert!(
        !degraded.message.contains("not-the-key"),
        "no credential in status: {degraded:?}"
    );
    assert_eq!(pod_images(&client, n).await, before, "no pod was replaced");

    // Back to the running version: nothing to roll out. With working credentials the upgrade
    // takes its snapshot first, then replaces the pod.
    set_version(previous).await;
    until_cluster(&client, n, "no rollout after the revert", |c| {
        running_with(1)(c) && c.status.as_ref().is_some_and(|s| s.upgrade.is_none())
    })
    .await;
    Api::<Secret>::namespaced(client.clone(), n)
        .delete("s3-credentials", &DeleteParams::default())
        .await
        .expect("delete the credentials");
    put_moto_credentials(&client, n, &moto).await;
    set_version("2.7.2").await;
    let upgraded = until_cluster(&client, n, "upgraded after its snapshot", |c| {
        running_with(1)(c)
            && c.status.as_ref().is_some_and(|s| {
                s.upgrade.is_none() && s.current_version.as_deref() == Some("2.7.2")
            })
    })
    .await;
    assert!(upgraded.status.is_some());
    let events = events_in(&client, n).await;
    let taken = events
        .iter()
        .find(|e| e.reason.as_deref() == Some("PreUpgradeSnapshotTaken"))
        .unwrap_or_else(|| panic!("no PreUpgradeSnapshotTaken Event: {events:?}"));
    let note = taken.message.clone().unwrap_or_default();
    let job_name = note
        .split_whitespace()
        .nth(1)
        .expect("the Job's name")
        .to_string();
    let job = Api::<k8s_openapi::api::batch::v1::Job>::namespaced(client.clone(), n)
        .get(&job_name)
        .await
        .expect("the snapshot Job");
    let completed = job
        .status
        .and_then(|s| s.completion_time)
        .expect("the snapshot Job completed");
    let pod = Api::<Pod>::namespaced(client.clone(), n)
        .get("bao-0")
        .await
        .expect("bao-0");
    let created = pod.metadata.creation_timestamp.expect("created");
    assert!(
        completed.0 <= created.0,
        "the snapshot ({completed:?}) landed before the pod was replaced ({created:?})"
    );
    assert_ne!(pod_images(&client, n).await, before, "the pod was replaced");
    // The snapshot is in the bucket and matches its manifest.
    let key = note
        .split("pre-upgrade snapshot ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .expect("the snapshot's key")
        .to_string();
    let verified = verified_snapshot(moto_store(&moto).as_ref(), &key).await;
    assert_eq!(verified.manifest.cluster, format!("{n}/bao"));
}
