//! The calculator's monolith routed by its mounted ConfigMap, as a progressive move drives it:
//! a change of `monolith-routing` is in force in every monolith pod within seconds, with no
//! restart — a split sends its share to the Linux service, a shadow compares, and removing the
//! ConfigMap brings the operation back in-process; and at the edge, the shipped Gateway and
//! HTTPRoute serving every path, an operation moved by its rule's weights.

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

/// Waits until every pod's `/api/routes` says `expected` for `sum`.
async fn wait_for_sum_route(client: &reqwest::Client, ips: &[String], expected: &str) {
    let started = Instant::now();
    loop {
        let mut in_force = true;
        for ip in ips {
            in_force &=
                get_json(client, &format!("http://{ip}:3000/api/routes")).await["sum"] == expected;
        }
        if in_force {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "sum is not routed {expected} in every monolith pod"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Applies the calculator's starting point and its sum service (and `extra` manifests).
fn apply_calculator_and_sum(cluster: &Cluster, extra: &[&str]) {
    let mut args = vec!["apply".to_owned()];
    for file in [
        format!("{MANIFESTS}/00-namespace.yaml"),
        format!("{MANIFESTS}/monolith.yaml"),
        format!("{MANIFESTS}/calculator-service.yaml"),
        format!("{MANIFESTS}/services/sum-service.yaml"),
    ]
    .into_iter()
    .chain(extra.iter().map(|f| (*f).to_owned()))
    {
        args.extend(["-f".to_owned(), file]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    cluster.ok(&args);
}

/// Waits for the monolith's and the sum service's rollouts.
fn wait_for_rollouts(cluster: &Cluster) {
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
}

/// `http://CLUSTER-IP:3000` of the sum service. The monolith pods started before the Service
/// existed, so their environment does not name it (and the local cluster has no DNS): a routing
/// file gives its ClusterIP.
fn sum_service_url(cluster: &Cluster) -> String {
    let ip = cluster.ok(&[
        "get",
        "service",
        "sum-service",
        "-n",
        "calculator",
        "-o",
        "jsonpath={.spec.clusterIP}",
    ]);
    format!("http://{}:3000", ip.trim())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_monolith_follows_its_routing_configmap_without_a_restart() {
    let cluster = Cluster::start_with(&["--volume-sync-period", "1"]);
    apply_calculator_and_sum(&cluster, &[]);
    wait_for_rollouts(&cluster);
    let before = monolith_pods(&cluster);
    assert_eq!(before.len(), 2);
    let ips: Vec<String> = before.iter().map(|(_, ip, _)| ip.clone()).collect();
    let service = sum_service_url(&cluster);
    let client = test_harness::http_client();
    assert_eq!(
        get_json(&client, &format!("http://{}:3000/api/routes", ips[0])).await["sum"],
        "in-process"
    );

    route(
        &cluster,
        &format!("sum:\n  mode: split\n  percent: 50\n  service: {service}\n"),
    );
    // Taken up with no restart (how fast: scripts/bench-reload.sh).
    wait_for_sum_route(&client, &ips, &format!("split 50% {service}")).await;
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

#[tokio::test(flavor = "multi_thread")]
async fn the_calculator_s_edge_route_serves_every_path_and_moves_an_operation_by_weight() {
    let cluster = Cluster::start();
    let gateway_api = concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests/gateway-api");
    cluster.ok(&["apply", "-f", &format!("{gateway_api}/standard-crds.yaml")]);
    cluster.ok(&[
        "wait",
        "--for=condition=Accepted",
        "gatewayclass/local-cluster",
        "--timeout=20s",
    ]);
    apply_calculator_and_sum(&cluster, &[&format!("{gateway_api}/calculator-edge.yaml")]);
    wait_for_rollouts(&cluster);
    cluster.ok(&[
        "wait",
        "--for=condition=Programmed",
        "gateway/calculator",
        "-n",
        "calculator",
        "--timeout=20s",
    ]);
    let address = cluster.ok(&[
        "get",
        "gateway",
        "calculator",
        "-n",
        "calculator",
        "-o",
        "jsonpath={.status.addresses[0].value}",
    ]);
    let edge = format!("http://{}:8080", address.trim());
    let client = test_harness::http_client();
    let page = client
        .get(format!("{edge}/"))
        .send()
        .await
        .expect("the page through the gateway")
        .text()
        .await
        .expect("page text");
    assert!(page.contains("Calculate"), "{page}");
    let answer = get_json(&client, &format!("{edge}/api/calculate?a=6&b=3")).await;
    assert_eq!(answer["results"][2]["total"], 18, "{answer}");

    /// Who served `n` answers of `/sum/2/3` through the gateway: (monolith, sum service).
    async fn shares(client: &reqwest::Client, edge: &str, n: usize) -> (usize, usize) {
        let (mut monolith, mut sum) = (0, 0);
        for _ in 0..n {
            let answer = get_json(client, &format!("{edge}/sum/2/3")).await;
            assert_eq!(answer["total"], 5, "{answer}");
            match answer["served-by"]["service"].as_str() {
                Some("monolith") => monolith += 1,
                Some("sum") => sum += 1,
                other => panic!("served by {other:?}"),
            }
        }
        (monolith, sum)
    }
    assert_eq!(shares(&client, &edge, 20).await, (20, 0));

    // An edge step: the /sum rule's weights, monolith 90 to the new service 10.
    let weights = |monolith: u32, service: u32| {
        serde_json::json!([{
            "op": "replace",
            "path": "/spec/rules/0/backendRefs",
            "value": [
                {"name": "monolith", "port": 3000, "weight": monolith},
                {"name": "sum-service", "port": 3000, "weight": service},
            ],
        }])
        .to_string()
    };
    for (monolith, service, expected) in [(90, 10, (90, 10)), (0, 100, (0, 100))] {
        cluster.ok(&[
            "patch",
            "httproute",
            "calculator",
            "-n",
            "calculator",
            "--type=json",
            "-p",
            &weights(monolith, service),
        ]);
        // The gateway serves the new weights once its status has seen the route's generation
        // (the data plane is swapped before the status is written); then the shares are
        // exact (smooth weighted round-robin).
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let route = cluster.json(&["get", "httproute", "calculator", "-n", "calculator"]);
            let generation = &route["metadata"]["generation"];
            let seen = route["status"]["parents"][0]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Accepted" && &c["observedGeneration"] == generation);
            if seen {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the weights were not taken up: {route}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let counted = shares(&client, &edge, 100).await;
        let off = counted.1.abs_diff(expected.1);
        assert!(off <= 1, "{counted:?} instead of {expected:?}");
    }
    // The other operations stay with the monolith.
    let answer = get_json(&client, &format!("{edge}/division/6/3")).await;
    assert_eq!(answer["served-by"]["service"], "monolith");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drifting_build_chosen_by_its_tag_is_caught_by_the_monolith_s_shadow() {
    let cluster = Cluster::start();
    apply_calculator_and_sum(&cluster, &[]);
    // The sum service's drifting build: binary floating point, baked into its tag.
    cluster.ok(&[
        "set",
        "image",
        "deployment/sum-service",
        "-n",
        "calculator",
        "*=ghcr.io/hybrid-console/calculator:0.1.0-float",
    ]);
    wait_for_rollouts(&cluster);
    let ips: Vec<String> = monolith_pods(&cluster)
        .into_iter()
        .map(|(_, ip, _)| ip)
        .collect();
    let service = sum_service_url(&cluster);
    let client = test_harness::http_client();
    let drifting = get_json(&client, &format!("{service}/sum/0.1/0.2")).await;
    assert_eq!(drifting["total"].to_string(), "0.30000000000000004");

    route(
        &cluster,
        &format!("sum: {{mode: shadow, service: '{service}'}}\n"),
    );
    wait_for_sum_route(&client, &ips, &format!("shadow {service}")).await;
    for (a, b) in [("2", "3"), ("0.1", "0.2")] {
        let answer = get_json(&client, &format!("http://{}:3000/sum/{a}/{b}", ips[0])).await;
        assert_eq!(
            answer["served-by"]["service"], "monolith",
            "the client sees the monolith's"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let shadow = get_json(&client, &format!("http://{}:3000/api/shadow", ips[0])).await;
        if shadow["sum"]["compared"] == 2 {
            assert_eq!(shadow["sum"]["mismatched"], 1, "{shadow}");
            let example = &shadow["sum"]["mismatches"][0];
            assert_eq!(example["monolith"]["total"].to_string(), "0.3");
            assert_eq!(
                example["service"]["total"].to_string(),
                "0.30000000000000004"
            );
            break;
        }
        assert!(Instant::now() < deadline, "comparisons: {shadow}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
