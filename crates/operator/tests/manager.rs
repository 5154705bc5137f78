//! The manager against a real API server: readiness, metrics over HTTP and HTTPS (TokenReview
//! and SubjectAccessReview), and leader election between operator instances that run as the
//! operator's own ServiceAccount.

#[path = "support/manager.rs"]
mod support;

use std::time::{Duration, Instant};

use k8s_openapi::{
    api::{apps::v1::StatefulSet, coordination::v1::Lease},
    apimachinery::pkg::apis::meta::v1::MicroTime,
    jiff::Timestamp,
};
use kube::{Api, api::PostParams};
use operator::{
    install::controller::{LEADER_LEASE, METRICS_READER_ROLE},
    manager::{Stopped, leader::Lost},
    telemetry::server::{self, Readiness, stopped},
};
use reqwest::StatusCode;
use support::{
    Instance, InstanceSpec, bind_cluster_role, cluster, insecure_client, lease_holder,
    operator_namespace, service_account, token, until, until_leader,
};
use tokio::{net::TcpListener, sync::watch};

fn spec(namespace: &str, identity: &str) -> InstanceSpec {
    InstanceSpec {
        namespace: namespace.to_string(),
        identity: identity.to_string(),
        webhook: false,
    }
}

async fn status_and_body(client: &reqwest::Client, url: &str) -> (StatusCode, String) {
    let response = client.get(url).send().await.expect("request");
    let status = response.status();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn readyz_answers_503_naming_what_is_missing_until_every_gate_holds() {
    let readiness = Readiness::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let (stop, stop_rx) = watch::channel(false);
    let server = tokio::spawn(server::serve_http(
        listener,
        server::health_router(readiness.clone()),
        stopped(stop_rx),
    ));
    let http = insecure_client();
    let readyz = format!("http://{address}/readyz");

    let (status, body) = status_and_body(&http, &readyz).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("caches not synced"), "{body}");
    let (status, _) = status_and_body(&http, &format!("http://{address}/healthz")).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "liveness does not wait for readiness"
    );

    readiness.set_caches_synced();
    readiness.set_webhook_serving(true);
    assert_eq!(status_and_body(&http, &readyz).await.0, StatusCode::OK);

    readiness.set_leading(true);
    let (status, body) = status_and_body(&http, &readyz).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("controller not running"), "{body}");
    readiness.set_controller_running(true);
    assert_eq!(status_and_body(&http, &readyz).await.0, StatusCode::OK);

    readiness.set_stopping();
    assert_eq!(
        status_and_body(&http, &readyz).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let _ = stop.send(true);
    server.await.expect("server task").expect("server");
}

#[tokio::test]
async fn a_started_operator_leads_becomes_ready_and_serves_metrics_over_http() {
    let (ns, admin) = operator_namespace("ready").await;
    let n = ns.name();
    let instance = Instance::start(spec(n, "only")).await;
    let http = insecure_client();
    let readyz = instance.health_url("/readyz");
    until("the operator to become ready", || async {
        Ok((status_and_body(&http, &readyz).await.0 == StatusCode::OK).then_some(()))
    })
    .await;
    // Readiness does not wait for the Lease (a standby is ready too); the Lease follows the warm-up
    // at once, so wait for it rather than race it.
    until("the operator to hold the Lease", || async {
        Ok((lease_holder(&admin, n).await.as_deref() == Some("only")).then_some(()))
    })
    .await;

    let (status, body) = status_and_body(
        &http,
        &format!("http://{}/metrics", instance.addresses.metrics),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("openbao_operator_reconciles_total"), "{body}");
    assert_eq!(instance.stop().await, Ok(Stopped::Shutdown));
}

#[tokio::test]
async fn https_metrics_need_a_token_whose_user_may_get_metrics() {
    let (ns, admin) = operator_namespace("secure-metrics").await;
    let n = ns.name();
    service_account(&admin, n, "scraper").await;
    service_account(&admin, n, "stranger").await;
    bind_cluster_role(&admin, n, "scraper", METRICS_READER_ROLE, "scraper").await;
    let instance = Instance::start(spec(n, "metrics")).await;
    let url = format!("https://{}/metrics", instance.addresses.secure_metrics);
    let http = insecure_client();

    let (status, _) = status_and_body(&http, &url).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no token");
    let response = http
        .get(&url)
        .bearer_auth("not-a-token")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "unknown token");

    let stranger = token(&admin, n, "stranger").await;
    let response = http
        .get(&url)
        .bearer_auth(&stranger)
        .send()
        .await
        .expect("request");
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "no metrics-reader role"
    );
    let body = response.text().await.unwrap_or_default();
    assert!(
        body.contains(&format!("system:serviceaccount:{n}:stranger")),
        "{body}"
    );

    let scraper = token(&admin, n, "scraper").await;
    // The API server's RBAC cache may need a moment to see the new binding.
    let body = until("the scraper to be allowed", || async {
        let response = http.get(&url).bearer_auth(&scraper).send().await?;
        if response.status() != StatusCode::OK {
            return Ok(None);
        }
        Ok(Some(response.text().await?))
    })
    .await;
    assert!(body.contains("openbao_operator_reconciles_total"), "{body}");
    assert!(body.ends_with("# EOF\n"), "OpenMetrics text");
    assert_eq!(instance.stop().await, Ok(Stopped::Shutdown));
}

async fn statefulset_appears(admin: &kube::Client, namespace: &str, name: &str) {
    let sets = Api::<StatefulSet>::namespaced(admin.clone(), namespace);
    until(&format!("StatefulSet {namespace}/{name}"), || async {
        Ok(sets.get_opt(name).await?.map(|_| ()))
    })
    .await;
}

#[tokio::test]
async fn a_standby_takes_over_within_15_seconds_when_the_leader_dies_and_reconciles() {
    let (ns, admin) = operator_namespace("failover").await;
    let n = ns.name();
    let first = Instance::start(spec(n, "first")).await;
    until_leader(&admin, n, "first", support::SETTLE).await;
    let second = Instance::start(spec(n, "second")).await;
    let http = insecure_client();
    let readyz = second.health_url("/readyz");
    until("the standby to become ready", || async {
        Ok((status_and_body(&http, &readyz).await.0 == StatusCode::OK).then_some(()))
    })
    .await;

    let clusters = Api::<api::OpenBaoCluster>::namespaced(admin.clone(), n);
    clusters
        .create(
            &PostParams::default(),
            &cluster("before", n, "version: \"2.7.2\""),
        )
        .await
        .expect("create cluster");
    statefulset_appears(&admin, n, "before").await;
    assert!(first.metrics.passes_finished() > 0, "the leader reconciles");
    assert_eq!(
        second.metrics.reconciles.get(),
        0,
        "a standby does not reconcile"
    );
    assert_eq!(lease_holder(&admin, n).await.as_deref(), Some("first"));

    let killed = Instant::now();
    first.kill().await;
    until_leader(&admin, n, "second", Duration::from_secs(30)).await;
    let takeover = killed.elapsed();
    eprintln!("the standby took over {takeover:?} after the leader died");
    assert!(
        takeover < Duration::from_secs(15),
        "the standby took over after {takeover:?}"
    );

    clusters
        .create(
            &PostParams::default(),
            &cluster("after", n, "version: \"2.7.2\""),
        )
        .await
        .expect("create cluster");
    statefulset_appears(&admin, n, "after").await;
    assert!(
        second.metrics.reconciles.get() > 0,
        "the new leader reconciles"
    );
    assert_eq!(second.stop().await, Ok(Stopped::Shutdown));
}

#[tokio::test]
async fn a_cleanly_stopped_leader_releases_the_lease_and_the_standby_takes_over_at_once() {
    let (ns, admin) = operator_namespace("release").await;
    let n = ns.name();
    let first = Instance::start(spec(n, "first")).await;
    until_leader(&admin, n, "first", support::SETTLE).await;
    let second = Instance::start(spec(n, "second")).await;
    let http = insecure_client();
    let readyz = second.health_url("/readyz");
    until("the standby to become ready", || async {
        Ok((status_and_body(&http, &readyz).await.0 == StatusCode::OK).then_some(()))
    })
    .await;

    let stopping = Instant::now();
    assert_eq!(first.stop().await, Ok(Stopped::Shutdown));
    until_leader(&admin, n, "second", Duration::from_secs(30)).await;
    let takeover = stopping.elapsed();
    eprintln!("the standby took over {takeover:?} after the leader was asked to stop");
    // Without the release the standby would wait out the 10 s lease duration.
    assert!(
        takeover < Duration::from_secs(6),
        "the standby took over after {takeover:?}"
    );
    assert_eq!(second.stop().await, Ok(Stopped::Shutdown));
    assert_eq!(
        lease_holder(&admin, n).await,
        None,
        "the last leader released the lease too"
    );
}

#[tokio::test]
async fn a_leader_whose_lease_is_taken_stops_and_reports_the_lost_leadership() {
    let (ns, admin) = operator_namespace("taken").await;
    let n = ns.name();
    let instance = Instance::start(spec(n, "leader")).await;
    until_leader(&admin, n, "leader", support::SETTLE).await;

    // Another holder appears with a fresh record, as after a partition the leader missed.
    let leases = Api::<Lease>::namespaced(admin.clone(), n);
    let mut lease = leases.get(LEADER_LEASE).await.expect("lease");
    let spec = lease.spec.get_or_insert_with(Default::default);
    spec.holder_identity = Some("intruder".to_string());
    spec.lease_duration_seconds = Some(60);
    spec.renew_time = Some(MicroTime(Timestamp::now()));
    leases
        .replace(LEADER_LEASE, &PostParams::default(), &lease)
        .await
        .expect("take the lease");

    let readiness = instance.readiness.clone();
    until("the leader to stop", || async {
        Ok((!readiness.is_ready()).then_some(()))
    })
    .await;
    assert_eq!(
        instance.stop().await,
        Ok(Stopped::LostLeadership(Lost::TakenOver(
            "intruder".to_string()
        )))
    );
    assert_eq!(lease_holder(&admin, n).await.as_deref(), Some("intruder"));
}
