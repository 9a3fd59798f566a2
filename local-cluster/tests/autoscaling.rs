//! A HorizontalPodAutoscaler made with `kubectl autoscale` scaling a Deployment of real
//! calculator processes up while they are loaded (their CPU measured by the kubelets, against
//! their requests) and back down once the load stops and the scale-down window has passed.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use support::Cluster;

const WEB: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: auto}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: auto}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeSelector: {kubernetes.io/os: linux}
      containers:
        - name: calculator
          image: ghcr.io/hybrid-console/calculator:0.1.0
          args: ["sum"]
          ports: [{name: http, containerPort: 3000}]
          env: [{name: RUST_LOG, value: warn}]
          resources: {requests: {cpu: 10m}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: auto}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
"#;

fn replicas(cluster: &Cluster) -> i64 {
    cluster
        .ok(&[
            "get",
            "deployment",
            "web",
            "-n",
            "auto",
            "-o",
            "jsonpath={.spec.replicas}",
        ])
        .parse()
        .unwrap_or(-1)
}

#[test]
fn an_autoscaler_scales_a_deployment_up_under_load_and_back_down() {
    let cluster = Cluster::start_with(&["--hpa-sync-period", "1"]);
    cluster.ok_stdin(&["apply", "-f", "-"], WEB);
    cluster.ok(&[
        "rollout",
        "status",
        "deployment/web",
        "-n",
        "auto",
        "--timeout=60s",
    ]);
    let made = cluster.ok(&[
        "autoscale",
        "deployment",
        "web",
        "-n",
        "auto",
        "--cpu-percent=50",
        "--min=1",
        "--max=3",
    ]);
    assert!(made.contains("autoscaled"), "{made}");
    // A short scale-down window, so the test sees it end.
    cluster.ok(&[
        "patch",
        "hpa",
        "web",
        "-n",
        "auto",
        "--type=merge",
        "-p",
        r#"{"spec": {"behavior": {"scaleDown": {"stabilizationWindowSeconds": 3}}}}"#,
    ]);
    let hpa = cluster.wait_for(20, "the autoscaler's first measurement", |c| {
        let hpa = c.json(&["get", "hpa", "web", "-n", "auto"]);
        hpa["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"]
            .is_i64()
            .then_some(hpa)
    });
    assert_eq!(hpa["apiVersion"], "autoscaling/v2");
    let conditions = hpa["status"]["conditions"].to_string();
    assert!(conditions.contains("ValidMetricFound"), "{conditions}");
    let printed = cluster.ok(&["get", "hpa", "-n", "auto"]);
    assert!(
        printed.contains("Deployment/web") && printed.contains("/50%"),
        "{printed}"
    );

    // Load through the Service: the process's CPU goes far above 50 % of its 10m request.
    let address = cluster.ok(&[
        "get",
        "service",
        "web",
        "-n",
        "auto",
        "-o",
        "jsonpath={.spec.clusterIP}",
    ]);
    let url = format!("http://{address}:80/sum/1/2");
    let loading = Arc::new(AtomicBool::new(true));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let load = runtime.spawn({
        let loading = loading.clone();
        async move {
            let client = test_harness::http_client();
            let mut sent = 0u64;
            while loading.load(Ordering::Relaxed) {
                let _ = client.get(&url).send().await;
                sent += 1;
            }
            sent
        }
    });
    cluster.wait_for(60, "the Deployment scaled up", |c| {
        (replicas(c) > 1).then_some(())
    });
    let event = cluster.wait_for(10, "the SuccessfulRescale event", |c| {
        let events = c.json(&[
            "get",
            "events",
            "-n",
            "auto",
            "--field-selector",
            "reason=SuccessfulRescale",
        ]);
        events["items"][0]["message"].as_str().map(str::to_owned)
    });
    assert!(
        event.starts_with("New size: ")
            && event.contains("cpu resource utilization (percentage of request) above target"),
        "{event}"
    );
    loading.store(false, Ordering::Relaxed);
    let sent = runtime.block_on(load).expect("the load");
    assert!(sent > 100, "{sent} requests");

    // Idle again: back to the minimum once the window has passed.
    cluster.wait_for(60, "the Deployment scaled back down", |c| {
        (replicas(c) == 1).then_some(())
    });
    let hpa = cluster.json(&["get", "hpa", "web", "-n", "auto"]);
    assert_eq!(hpa["status"]["desiredReplicas"], 1, "{hpa}");
    std::thread::sleep(Duration::from_millis(100));
}
