//! The calculator's monolith routed by its mounted ConfigMap, as a progressive move drives it:
//! a change of `monolith-routing` is in force in every monolith pod within seconds, with no
//! restart — a split sends its share to the Linux service, a shadow compares, and removing the
//! ConfigMap brings the operation back in-process.

mod support;

use std::time::{Duration, Instant};

use support::Cluster;

const MANIFESTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests/calculator");

/// `(name, podIP, restartCount)` of each monolith pod.
fn monolith_pods(cluster: &Cluster) -> Vec<(String, String, i64)> {
    let pods = cluster.json(&[
        "get",
        "pods",
        "-n",
        "calculator",
        "-l",
        "app.kubernetes.io/component=monolith",
    ]);
    let mut pods: Vec<_> = pods["items"]
        .as_array()
        .expect("pod list")
        .iter()
        .map(|pod| {
            (
                pod["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                pod["status"]["podIP"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                pod["status"]["containerStatuses"][0]["restartCount"]
                    .as_i64()
                    .unwrap_or(-1),
            )
        })
        .collect();
    pods.sort();
    pods
}

async fn get_json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    let response = client
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    response
        .json()
        .await
        .unwrap_or_else(|e| panic!("{url} answered non-JSON: {e}"))
}

/// Sets the routing ConfigMap's `routing.yaml` (creating it the first time).
fn route(cluster: &Cluster, text: &str) {
    let manifest = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "monolith-routing", "namespace": "calculator"},
        "data": {"routing.yaml": text},
    });
    cluster.ok_stdin(&["apply", "-f", "-"], &manifest.to_string());
}

/// Waits until every pod's `/api/routes` says `expected` for `sum`; returns how long it took.
async fn wait_for_sum_route(client: &reqwest::Client, ips: &[String], expected: &str) -> Duration {
    let started = Instant::now();
    loop {
        let mut in_force = true;
        for ip in ips {
            in_force &=
                get_json(client, &format!("http://{ip}:3000/api/routes")).await["sum"] == expected;
        }
        if in_force {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "sum is not routed {expected} in every monolith pod"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_monolith_follows_its_routing_configmap_without_a_restart() {
    let cluster = Cluster::start_with(&["--volume-sync-period", "1"]);
    cluster.ok(&[
        "apply",
        "-f",
        &format!("{MANIFESTS}/00-namespace.yaml"),
        "-f",
        &format!("{MANIFESTS}/monolith.yaml"),
        "-f",
        &format!("{MANIFESTS}/calculator-service.yaml"),
        "-f",
        &format!("{MANIFESTS}/services/sum-service.yaml"),
    ]);
    for deployment in ["monolith", "sum-service"] {
        cluster.ok(&[
            "rollout",
            "status",
            &format!("deployment/{deployment}"),
            "-n",
            "calculator",
            "--timeout=120s",
        ]);
    }
    let before = monolith_pods(&cluster);
    assert_eq!(before.len(), 2);
    let ips: Vec<String> = before.iter().map(|(_, ip, _)| ip.clone()).collect();
    // The monolith pods started before the Service existed, so their environment does not name
    // it (and the local cluster has no DNS): the routing file gives its ClusterIP.
    let service_ip = cluster.ok(&[
        "get",
        "service",
        "sum-service",
        "-n",
        "calculator",
        "-o",
        "jsonpath={.spec.clusterIP}",
    ]);
    let service = format!("http://{}:3000", service_ip.trim());
    let client = reqwest::Client::new();
    assert_eq!(
        get_json(&client, &format!("http://{}:3000/api/routes", ips[0])).await["sum"],
        "in-process"
    );

    route(
        &cluster,
        &format!("sum:\n  mode: split\n  percent: 50\n  service: {service}\n"),
    );
    let took = wait_for_sum_route(&client, &ips, &format!("split 50% {service}")).await;
    // The kubelet's sync (1 s here) plus the monolith's own poll (0.5 s).
    assert!(took < Duration::from_secs(4), "took {took:?}");
    let (mut by_monolith, mut by_sum) = (0, 0);
    for _ in 0..100 {
        let answer = get_json(&client, &format!("http://{}:3000/sum/2/3", ips[0])).await;
        assert_eq!(answer["total"], 5, "{answer}");
        match answer["served-by"]["service"].as_str() {
            Some("monolith") => by_monolith += 1,
            Some("sum") => {
                by_sum += 1;
                assert_eq!(answer["served-by"]["os"], "linux");
            }
            other => panic!("served by {other:?}"),
        }
    }
    assert_eq!((by_monolith, by_sum), (50, 50));

    route(
        &cluster,
        &format!("sum: {{mode: shadow, service: '{service}'}}\n"),
    );
    wait_for_sum_route(&client, &ips, &format!("shadow {service}")).await;
    for _ in 0..10 {
        let answer = get_json(&client, &format!("http://{}:3000/sum/0.1/0.2", ips[1])).await;
        assert_eq!(answer["served-by"]["service"], "monolith");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let shadow = get_json(&client, &format!("http://{}:3000/api/shadow", ips[1])).await;
        if shadow["sum"]["matched"] == 10 {
            assert_eq!(shadow["sum"]["mismatched"], 0);
            break;
        }
        assert!(Instant::now() < deadline, "comparisons: {shadow}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    cluster.ok(&[
        "delete",
        "configmap",
        "monolith-routing",
        "-n",
        "calculator",
    ]);
    wait_for_sum_route(&client, &ips, "in-process").await;
    // The same pods throughout, never restarted.
    assert_eq!(monolith_pods(&cluster), before);
    assert!(
        before.iter().all(|(_, _, restarts)| *restarts == 0),
        "{before:?}"
    );
}
