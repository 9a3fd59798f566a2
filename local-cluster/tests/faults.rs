//! `local-cluster up --inject …`: refusals that say when to come back and change nothing, watch
//! streams cut, and the API server stopped and started again while the pods keep running —
//! seen by the real kubectl and kube-rs.

#![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use support::Cluster;

async fn send(
    client: &kube::Client,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, Option<String>, serde_json::Value) {
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("Content-Type", "application/json")
        .body(body.as_bytes().to_vec().into())
        .unwrap();
    let response = client.send(request).await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("Retry-After")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.into_body().collect_bytes().await.unwrap();
    (
        status,
        retry_after,
        serde_json::from_slice(&body).unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_requests_say_when_to_come_back_and_change_nothing() {
    let cluster = Cluster::start_with(&["--inject", "error-rate=0.5"]);
    let client = cluster.raw_client().await;

    // Health probes are exempt, as the real server's `probes` flow schema exempts them.
    for _ in 0..20 {
        assert_eq!(send(&client, "GET", "/readyz", "").await.0, 200);
    }

    let mut refused_codes = BTreeSet::new();
    let mut created = BTreeSet::new();
    for i in 0..40 {
        let name = format!("ns-{i}");
        let body = serde_json::json!({"metadata": {"name": name}}).to_string();
        let (status, retry_after, status_body) =
            send(&client, "POST", "/api/v1/namespaces", &body).await;
        match status {
            201 => {
                created.insert(name);
            }
            429 | 500 | 503 => {
                refused_codes.insert(status);
                assert_eq!(retry_after.as_deref(), Some("1"), "{status}: {status_body}");
                assert_eq!(status_body["kind"], "Status");
                assert_eq!(status_body["code"], status);
            }
            other => panic!("unexpected {other}: {status_body}"),
        }
    }
    assert!(!created.is_empty() && created.len() < 40, "{created:?}");
    assert_eq!(refused_codes, BTreeSet::from([429, 500, 503]));

    // kubectl (client-go) asks again when told to: its reads get through.
    let listed: serde_json::Value = cluster.json(&["get", "namespaces", "-o", "json"]);
    let listed: BTreeSet<String> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ns| ns["metadata"]["name"].as_str().unwrap().to_owned())
        .filter(|name| name.starts_with("ns-"))
        .collect();
    // Exactly the namespaces answered 201 exist: a refused write changed nothing.
    assert_eq!(listed, created);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_streams_are_cut_and_watchers_resume_without_missing_a_change() {
    let cluster = Cluster::start_with(&["--inject", "drop-watch-every=1"]);
    let client = cluster.client().await;
    let configmaps: Api<ConfigMap> = Api::namespaced(client, "default");

    // A watch's stream is aborted about a second after it opened (kube-rs, like client-go,
    // takes an aborted stream for an ended one and watches again; the raw body shows the cut).
    let raw = cluster.raw_client().await;
    let opened = Instant::now();
    let request = http::Request::get("/api/v1/namespaces/default/configmaps?watch=true")
        .body(Vec::new().into())
        .unwrap();
    let response = raw.send(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = tokio::time::timeout(
        Duration::from_secs(10),
        response.into_body().collect_bytes(),
    )
    .await
    .expect("the watch was not cut within 10 s");
    let lasted = opened.elapsed();
    assert!(
        body.is_err(),
        "the stream ended cleanly instead of being cut"
    );
    assert!(
        lasted >= Duration::from_millis(900) && lasted < Duration::from_secs(5),
        "{lasted:?}"
    );

    // A watcher resumes from where it was cut: every change arrives, across several cuts.
    let watcher = watcher(configmaps.clone(), watcher::Config::default())
        .default_backoff()
        .applied_objects()
        .filter_map(|event| async move { event.ok() })
        .map(|cm: ConfigMap| cm.metadata.name.unwrap_or_default());
    let mut watcher = watcher.boxed();
    let names: Vec<String> = (0..6).map(|i| format!("change-{i}")).collect();
    let writer = {
        let configmaps = configmaps.clone();
        let names = names.clone();
        tokio::spawn(async move {
            for name in names {
                tokio::time::sleep(Duration::from_millis(700)).await;
                let cm: ConfigMap =
                    serde_json::from_value(serde_json::json!({"metadata": {"name": name}}))
                        .unwrap();
                configmaps
                    .create(&PostParams::default(), &cm)
                    .await
                    .unwrap();
            }
        })
    };
    let mut seen = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !names.iter().all(|n| seen.contains(n)) {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, watcher.next()).await {
            Ok(Some(name)) => {
                seen.insert(name);
            }
            _ => panic!("changes missed by the watcher: saw {seen:?}"),
        }
    }
    writer.await.unwrap();
}

/// The pod as kubectl sees it, if the server answers.
fn pod(cluster: &Cluster, name: &str) -> Option<serde_json::Value> {
    let out = cluster.run(&["get", "pod", name, "-o", "json", "--request-timeout=2s"]);
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

#[test]
fn the_api_server_goes_away_and_comes_back_while_the_pods_keep_running() {
    // Gone 3 s of every 12, the first time 9 s after start.
    let cluster = Cluster::start_with(&["--inject", "outage-every=12,outage-for=3"]);
    cluster.wait_for(30, "the pod created", |c| {
        let out = c.run(&["run", "keeps-running", "--image=registry.k8s.io/pause:3.10"]);
        let exists = String::from_utf8_lossy(&out.stderr).contains("AlreadyExists");
        (out.status.success() || exists).then_some(())
    });
    let before = cluster.wait_for(30, "the pod Running", |c| {
        pod(c, "keeps-running").filter(|p| p["status"]["phase"] == "Running")
    });

    // Probe the port every 200 ms until the server has gone away and come back.
    let port: u16 = cluster.url.rsplit(':').next().unwrap().parse().unwrap();
    let mut timeline = Vec::new();
    let start = Instant::now();
    loop {
        let up = std::net::TcpStream::connect_timeout(
            &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            Duration::from_millis(500),
        )
        .is_ok();
        timeline.push(up);
        if up && timeline.contains(&false) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "no outage and recovery: {timeline:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let downs = timeline.iter().filter(|up| !**up).count();
    assert!(
        (8..=25).contains(&downs),
        "gone {downs} probes of 200 ms: {timeline:?}"
    );

    // The same pod, never restarted, while its node carried on without the API server.
    let after = cluster.wait_for(30, "the API server back", |c| pod(c, "keeps-running"));
    assert_eq!(after["metadata"]["uid"], before["metadata"]["uid"]);
    assert_eq!(after["status"]["phase"], "Running");
    let container = |pod: &serde_json::Value| pod["status"]["containerStatuses"][0].clone();
    assert_eq!(
        container(&after)["restartCount"],
        container(&before)["restartCount"]
    );
    assert_eq!(
        container(&after)["state"]["running"]["startedAt"],
        container(&before)["state"]["running"]["startedAt"]
    );
}

#[test]
fn a_bad_inject_text_is_refused_with_what_to_write() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_local-cluster"))
        .args(["up", "--inject", "latency=fast"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("fault latency=fast: milliseconds, a whole number from 0 to 60000"),
        "{stderr}"
    );
}
