//! The Gateway API as an operator meets it on the local cluster: the project's definitions
//! installed with kubectl, the `local-cluster` class added and accepted, a Gateway given a
//! loopback address and real listeners, HTTPRoutes routing real calculator processes by path,
//! header and method, splitting by weight, rewriting, mirroring, and changing under a steady
//! stream of requests without failing one; and statuses that say what is served and why not.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::Cluster;

const CRDS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../manifests/gateway-api/standard-crds.yaml"
);

/// Three copies of the calculator's `sum` service in namespace `edge`: `blue`, `green` and
/// `shadow`, each behind its Service on port 80; an answer names the pod that served it.
fn backends() -> String {
    let mut yaml = String::from("apiVersion: v1\nkind: Namespace\nmetadata: {name: edge}\n");
    for name in ["blue", "green", "shadow"] {
        yaml.push_str(&format!(
            r#"---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: edge}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      nodeSelector: {{kubernetes.io/os: linux}}
      containers:
        - name: calculator
          image: ghcr.io/hybrid-console/calculator:0.1.0
          args: ["sum"]
          ports: [{{name: http, containerPort: 3000}}]
          env:
            - {{name: POD_NAME, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}}
          readinessProbe: {{httpGet: {{path: /readyz, port: http}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: edge}}
spec:
  selector: {{app: {name}}}
  ports: [{{name: http, port: 80, targetPort: http}}]
"#
        ));
    }
    yaml
}

const GATEWAY: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: edge}
spec:
  gatewayClassName: local-cluster
  listeners:
    - {name: http, port: 8080, protocol: HTTP}
"#;

/// `/sum` split between blue and green by `weights`; with `x-lane: green` always green; a
/// DELETE to a Service that does not exist; `/calc/…` rewritten to `/…` on blue.
fn route(blue: u32, green: u32) -> String {
    format!(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: sum, namespace: edge}}
spec:
  parentRefs: [{{name: edge}}]
  rules:
    - matches: [{{path: {{type: PathPrefix, value: /sum}}}}]
      backendRefs:
        - {{name: blue, port: 80, weight: {blue}}}
        - {{name: green, port: 80, weight: {green}}}
    - matches: [{{path: {{type: PathPrefix, value: /sum}}, headers: [{{name: x-lane, value: green}}]}}]
      backendRefs: [{{name: green, port: 80}}]
    - matches: [{{path: {{type: PathPrefix, value: /sum}}, method: DELETE}}]
      backendRefs: [{{name: gone, port: 80}}]
    - matches: [{{path: {{type: PathPrefix, value: /calc}}}}]
      filters:
        - type: URLRewrite
          urlRewrite: {{path: {{type: ReplacePrefixMatch, replacePrefixMatch: /}}}}
      backendRefs: [{{name: blue, port: 80}}]
"#
    )
}

/// Installs the definitions and the backends, and waits for the class to be accepted and the
/// backends to be ready.
fn install(cluster: &Cluster) {
    cluster.ok(&["apply", "-f", CRDS]);
    cluster.ok(&[
        "wait",
        "--for=condition=Accepted",
        "gatewayclass/local-cluster",
        "--timeout=10s",
    ]);
    deploy_backends(cluster);
}

/// Deploys the backends and waits for them to be ready.
fn deploy_backends(cluster: &Cluster) {
    cluster.ok_stdin(&["apply", "-f", "-"], &backends());
    for name in ["blue", "green", "shadow"] {
        cluster.ok(&[
            "rollout",
            "status",
            &format!("deployment/{name}"),
            "-n",
            "edge",
            "--timeout=60s",
        ]);
    }
}

/// The Gateway's address once it is programmed.
fn programmed_address(cluster: &Cluster) -> String {
    cluster.ok(&[
        "wait",
        "-n",
        "edge",
        "--for=condition=Programmed",
        "gateway/edge",
        "--timeout=10s",
    ]);
    cluster.ok(&[
        "get",
        "gateway",
        "edge",
        "-n",
        "edge",
        "-o",
        "jsonpath={.status.addresses[0].value}",
    ])
}

/// Waits until the route's status is written for its current generation: the data plane
/// serves that generation from then on (the status is written after the routes are swapped).
fn route_in_effect(cluster: &Cluster, name: &str) {
    cluster.wait_for(10, "the route's status for its generation", |c| {
        let route = c.json(&["get", "httproute", name, "-n", "edge"]);
        let generation = &route["metadata"]["generation"];
        route["status"]["parents"][0]["conditions"]
            .as_array()?
            .iter()
            .all(|c| &c["observedGeneration"] == generation)
            .then_some(())
    });
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Status and body of a request.
async fn send(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    header: Option<(&str, &str)>,
) -> Result<(u16, String), reqwest::Error> {
    let mut request = client.request(method, url);
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

/// Which Deployment's pod served an answer (`blue-…` → `blue`).
fn served_by(body: &str) -> String {
    let answer: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let pod = answer["served-by"]["pod"].as_str().unwrap_or("?");
    pod.split('-').next().unwrap_or("?").to_owned()
}

/// Sends `count` GETs to `url` and counts who served them.
fn tally(runtime: &tokio::runtime::Runtime, url: &str, count: usize) -> BTreeMap<String, usize> {
    runtime.block_on(async {
        let client = test_harness::http_client();
        let mut counts = BTreeMap::new();
        for _ in 0..count {
            let (status, body) = send(&client, reqwest::Method::GET, url, None)
                .await
                .expect("request through the gateway");
            assert_eq!(status, 200, "{body}");
            *counts.entry(served_by(&body)).or_insert(0) += 1;
        }
        counts
    })
}

fn share(counts: &BTreeMap<String, usize>, name: &str) -> usize {
    counts.get(name).copied().unwrap_or(0)
}

#[test]
fn a_gateway_routes_by_weight_header_method_and_rewrite() {
    let cluster = Cluster::start();
    install(&cluster);
    cluster.ok_stdin(&["apply", "-f", "-"], GATEWAY);
    cluster.ok_stdin(&["apply", "-f", "-"], &route(10, 90));
    let address = programmed_address(&cluster);
    assert!(address.starts_with("127."), "{address}");
    route_in_effect(&cluster, "sum");
    let printed = cluster.ok(&["get", "gateways", "-n", "edge"]);
    assert!(
        printed.contains("CLASS")
            && printed.contains("local-cluster")
            && printed.contains(&address),
        "{printed}"
    );
    let base = format!("http://{address}:8080");
    let runtime = runtime();

    // 10/90 over 1,000 requests: within ±3 points.
    let counts = tally(&runtime, &format!("{base}/sum/1/2"), 1000);
    assert!((70..=130).contains(&share(&counts, "blue")), "{counts:?}");
    assert!((870..=930).contains(&share(&counts, "green")), "{counts:?}");
    assert_eq!(share(&counts, "shadow"), 0, "{counts:?}");

    // 50/50.
    cluster.ok_stdin(&["apply", "-f", "-"], &route(50, 50));
    route_in_effect(&cluster, "sum");
    let counts = tally(&runtime, &format!("{base}/sum/1/2"), 1000);
    assert!((470..=530).contains(&share(&counts, "blue")), "{counts:?}");
    assert!((470..=530).contains(&share(&counts, "green")), "{counts:?}");

    // A weight of 0 gets nothing.
    cluster.ok_stdin(&["apply", "-f", "-"], &route(0, 1));
    route_in_effect(&cluster, "sum");
    let counts = tally(&runtime, &format!("{base}/sum/1/2"), 200);
    assert_eq!(share(&counts, "green"), 200, "{counts:?}");

    runtime.block_on(async {
        let client = test_harness::http_client();
        // A header match outranks the plain path match.
        cluster.ok_stdin(&["apply", "-f", "-"], &route(1, 0));
        route_in_effect(&cluster, "sum");
        for _ in 0..20 {
            let (status, body) = send(
                &client,
                reqwest::Method::GET,
                &format!("{base}/sum/2/2"),
                Some(("x-lane", "green")),
            )
            .await
            .expect("header-matched request");
            assert_eq!(
                (status, served_by(&body)),
                (200, "green".to_owned()),
                "{body}"
            );
        }
        // The method match sends DELETE to a Service that does not exist: a 500 naming it.
        let (status, body) = send(
            &client,
            reqwest::Method::DELETE,
            &format!("{base}/sum/1/1"),
            None,
        )
        .await
        .expect("DELETE");
        assert_eq!(status, 500, "{body}");
        assert!(body.contains("service \"gone\" not found"), "{body}");
        // The rewrite strips `/calc`.
        let (status, body) = send(
            &client,
            reqwest::Method::GET,
            &format!("{base}/calc/sum/3/4"),
            None,
        )
        .await
        .expect("rewritten");
        assert_eq!(status, 200, "{body}");
        let answer: Value = serde_json::from_str(&body).expect("JSON answer");
        assert_eq!(answer["total"], 7, "{body}");
        assert_eq!(served_by(&body), "blue");
        // Nothing matches: 404.
        let (status, _) = send(
            &client,
            reqwest::Method::GET,
            &format!("{base}/elsewhere"),
            None,
        )
        .await
        .expect("unrouted");
        assert_eq!(status, 404);
    });

    // The route says its DELETE backend does not resolve, and is still accepted.
    let route = cluster.json(&["get", "httproute", "sum", "-n", "edge"]);
    let conditions = &route["status"]["parents"][0]["conditions"];
    let find = |kind: &str| {
        conditions
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == kind))
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(find("Accepted")["status"], "True", "{route}");
    assert_eq!(find("ResolvedRefs")["status"], "False", "{route}");
    assert_eq!(find("ResolvedRefs")["reason"], "BackendNotFound", "{route}");
    let gateway = cluster.json(&["get", "gateway", "edge", "-n", "edge"]);
    assert_eq!(
        gateway["status"]["listeners"][0]["attachedRoutes"], 1,
        "{gateway}"
    );

    // The Gateway deleted: its port closes.
    cluster.ok(&["delete", "gateway", "edge", "-n", "edge"]);
    cluster.wait_for(10, "the listener to close", |_| {
        std::net::TcpStream::connect(format!("{address}:8080"))
            .is_err()
            .then_some(())
    });
}

/// A route sending `/sum` to `to`, mirrored to `shadow`.
fn mirrored_route(blue: u32, green: u32) -> String {
    format!(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: mirrored, namespace: edge}}
spec:
  parentRefs: [{{name: edge}}]
  rules:
    - matches: [{{path: {{type: PathPrefix, value: /sum}}}}]
      filters:
        - type: RequestMirror
          requestMirror: {{backendRef: {{name: shadow, port: 80}}}}
      backendRefs:
        - {{name: blue, port: 80, weight: {blue}}}
        - {{name: green, port: 80, weight: {green}}}
"#
    )
}

/// How many `/sum` requests `service` answered, from its own metrics.
fn answered(cluster: &Cluster, service: &str) -> u64 {
    let metrics = cluster.ok(&[
        "get",
        "--raw",
        &format!("/api/v1/namespaces/edge/services/{service}:80/proxy/metrics"),
    ]);
    metrics
        .lines()
        .filter(|l| l.starts_with("calculator_http_requests_total{") && l.contains("/sum/"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[test]
fn a_mirror_gets_a_copy_and_route_changes_fail_no_request() {
    let cluster = Cluster::start();
    install(&cluster);
    cluster.ok_stdin(&["apply", "-f", "-"], GATEWAY);
    cluster.ok_stdin(&["apply", "-f", "-"], &mirrored_route(1, 0));
    let address = programmed_address(&cluster);
    route_in_effect(&cluster, "mirrored");
    let url = format!("http://{address}:8080/sum/20/22");
    let runtime = runtime();

    // Every answer comes from blue; the shadow gets a copy of each request.
    let before = answered(&cluster, "shadow");
    let counts = tally(&runtime, &url, 100);
    assert_eq!(share(&counts, "blue"), 100, "{counts:?}");
    cluster.wait_for(10, "the shadow to have answered 100 copies", |c| {
        (answered(c, "shadow") - before == 100).then_some(())
    });

    // A steady 50 requests/s while the route moves traffic from blue to green and back: not
    // one request fails, and both serve.
    let stream = runtime.spawn({
        let url = url.clone();
        async move {
            let client = test_harness::http_client();
            let mut ticks = tokio::time::interval(Duration::from_millis(20));
            let started = Instant::now();
            let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
            while started.elapsed() < Duration::from_secs(8) {
                ticks.tick().await;
                let outcome = match send(&client, reqwest::Method::GET, &url, None).await {
                    Ok((200, body)) => served_by(&body),
                    Ok((status, body)) => format!("failed {status}: {body}"),
                    Err(e) => format!("failed: {e}"),
                };
                *outcomes.entry(outcome).or_insert(0) += 1;
            }
            outcomes
        }
    });
    for (blue, green) in [(1, 1), (0, 1), (1, 0), (1, 1)] {
        std::thread::sleep(Duration::from_millis(1500));
        cluster.ok_stdin(&["apply", "-f", "-"], &mirrored_route(blue, green));
    }
    let outcomes = runtime.block_on(stream).expect("the stream");
    let failed: Vec<(&String, &usize)> = outcomes
        .iter()
        .filter(|(o, _)| o.starts_with("failed"))
        .collect();
    assert!(failed.is_empty(), "{outcomes:?}");
    let total: usize = outcomes.values().sum();
    assert!(total >= 300, "about 50 requests/s for 8 s: {outcomes:?}");
    assert!(
        share(&outcomes, "blue") > 0 && share(&outcomes, "green") > 0,
        "{outcomes:?}"
    );
}

#[test]
fn statuses_say_what_is_served_and_what_is_not() {
    let cluster = Cluster::start();
    install(&cluster);
    cluster.ok_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: edge}
spec:
  gatewayClassName: local-cluster
  listeners:
    - {name: http, port: 8080, protocol: HTTP}
    - {name: again, port: 8080, protocol: HTTP}
    - name: https
      port: 8443
      protocol: HTTPS
      tls: {certificateRefs: [{name: edge-tls}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: elsewhere}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: outsider, namespace: elsewhere}
spec:
  parentRefs: [{name: edge, namespace: edge}]
  rules:
    - backendRefs: [{name: blue, port: 80}]
"#,
    );
    // The class says what it can do, as tools read it before relying on a feature.
    let class = cluster.json(&["get", "gatewayclass", "local-cluster"]);
    let features: Vec<&str> = class["status"]["supportedFeatures"]
        .as_array()
        .map(|f| f.iter().filter_map(|f| f["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(features.contains(&"HTTPRouteRequestMirror"), "{class}");
    assert!(features.is_sorted(), "{features:?}");
    let address = programmed_address(&cluster);
    let gateway = cluster.wait_for(10, "listener statuses", |c| {
        let gateway = c.json(&["get", "gateway", "edge", "-n", "edge"]);
        (gateway["status"]["listeners"].as_array()?.len() == 3).then_some(gateway)
    });
    let listener = |name: &str, kind: &str| {
        let listener = gateway["status"]["listeners"]
            .as_array()
            .and_then(|l| l.iter().find(|l| l["name"] == name))
            .cloned()
            .unwrap_or(Value::Null);
        let condition = listener["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == kind))
            .cloned()
            .unwrap_or(Value::Null);
        (
            condition["status"].as_str().unwrap_or_default().to_owned(),
            condition["reason"].as_str().unwrap_or_default().to_owned(),
        )
    };
    assert_eq!(
        listener("http", "Programmed"),
        ("True".into(), "Programmed".into()),
        "{gateway}"
    );
    assert_eq!(
        listener("again", "Conflicted"),
        ("True".into(), "HostnameConflict".into()),
        "{gateway}"
    );
    assert_eq!(
        listener("https", "Accepted"),
        ("False".into(), "UnsupportedProtocol".into()),
        "{gateway}"
    );
    assert_eq!(
        gateway["status"]["listeners"][0]["supportedKinds"][0]["kind"],
        "HTTPRoute"
    );
    assert_eq!(
        gateway["status"]["listeners"][0]["attachedRoutes"], 0,
        "{gateway}"
    );

    // The route from another namespace is not allowed by a listener taking its own namespace's.
    let route = cluster.wait_for(10, "the outsider's status", |c| {
        let route = c.json(&["get", "httproute", "outsider", "-n", "elsewhere"]);
        route["status"]["parents"].as_array()?.first().cloned()
    });
    let accepted = route["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Accepted"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(accepted["status"], "False", "{route}");
    assert_eq!(accepted["reason"], "NotAllowedByListeners", "{route}");
    assert_eq!(
        route["controllerName"],
        "local-cluster.hybrid-console.dev/gateway-controller"
    );

    // The served listener answers (404: no route attached), the refused one is not opened.
    assert!(std::net::TcpStream::connect(format!("{address}:8080")).is_ok());
    assert!(std::net::TcpStream::connect(format!("{address}:8443")).is_err());

    // A Gateway of a class nobody serves is left alone.
    cluster.ok_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: foreign, namespace: edge}
spec:
  gatewayClassName: someone-else
  listeners: [{name: http, port: 8080, protocol: HTTP}]
"#,
    );
    std::thread::sleep(Duration::from_millis(500));
    let foreign = cluster.json(&["get", "gateway", "foreign", "-n", "edge"]);
    assert_eq!(
        foreign["status"]["conditions"][0]["reason"], "Pending",
        "{foreign}"
    );
    assert!(foreign["status"]["addresses"].is_null(), "{foreign}");
}

#[test]
fn an_ingress_of_the_local_class_routes_by_host_and_path() {
    // Port 80 needs root; the flag serves Ingresses on another port for anyone.
    let cluster = Cluster::start_with(&["--ingress-port", "8088"]);
    let classes = cluster.ok(&["get", "ingressclasses"]);
    assert!(
        classes.contains("local-cluster")
            && classes.contains("local-cluster.hybrid-console.dev/ingress-controller"),
        "{classes}"
    );
    deploy_backends(&cluster);
    // No class named: the default class (the local cluster's) is set at admission.
    cluster.ok(&[
        "create",
        "ingress",
        "web",
        "-n",
        "edge",
        "--rule=/sum/1/2=blue:80",
        "--rule=green.local/sum*=green:http",
        "--default-backend=shadow:80",
    ]);
    let address = cluster.wait_for(10, "the Ingress's address", |c| {
        let ip = c.ok(&[
            "get",
            "ingress",
            "web",
            "-n",
            "edge",
            "-o",
            "jsonpath={.status.loadBalancer.ingress[0].ip}",
        ]);
        (!ip.is_empty()).then_some(ip)
    });
    let printed = cluster.ok(&["get", "ingress", "-n", "edge"]);
    assert!(
        printed.contains("local-cluster")
            && printed.contains("green.local")
            && printed.contains(&address),
        "{printed}"
    );
    let ingress = cluster.json(&["get", "ingress", "web", "-n", "edge"]);
    assert_eq!(
        ingress["spec"]["defaultBackend"]["service"]["port"],
        serde_json::json!({"number": 80})
    );
    assert_eq!(
        ingress["spec"]["rules"][1]["http"]["paths"][0]["backend"]["service"]["port"],
        serde_json::json!({"name": "http"}),
        "a port named by name reads as its name only"
    );
    assert_eq!(ingress["metadata"]["generation"], 1);

    let base = format!("http://{address}:8088");
    runtime().block_on(async {
        let client = test_harness::http_client();
        let who = |host: Option<&'static str>, path: &'static str| {
            let client = client.clone();
            let url = format!("{base}{path}");
            async move {
                let (status, body) = send(
                    &client,
                    reqwest::Method::GET,
                    &url,
                    host.map(|h| ("host", h)),
                )
                .await
                .expect("request through the Ingress");
                assert_eq!(status, 200, "{body}");
                served_by(&body)
            }
        };
        assert_eq!(who(None, "/sum/1/2").await, "blue", "the exact path");
        assert_eq!(
            who(Some("green.local"), "/sum/1/2").await,
            "green",
            "its host's rule wins"
        );
        assert_eq!(who(Some("green.local"), "/sum/5/6").await, "green");
        assert_eq!(who(None, "/sum/3/3").await, "shadow", "the default backend");
    });

    cluster.ok(&["delete", "ingress", "web", "-n", "edge"]);
    cluster.wait_for(10, "the Ingress's port to close", |_| {
        std::net::TcpStream::connect(format!("{address}:8088"))
            .is_err()
            .then_some(())
    });
}
