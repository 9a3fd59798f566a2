//! The numbers a progressive move is judged by, read as the console reads them: the calculator
//! pods' `/metrics` through the API server's pod proxy of a real (local) cluster, while the
//! monolith splits `sum` with the Linux service by its routing ConfigMap.

#![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

mod support;

use std::time::{Duration, Instant};

use hybrid_console::cluster::connection::{self, ConnectionTarget};
use hybrid_console::cluster::proxy::proxy_get;
use hybrid_console::migration::readings::{Unread, read_pods};
use hybrid_console::model::analysis::Window;
use support::TestCluster;

const SUM_SERVICE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../manifests/calculator/services/sum-service.yaml"
);
const MONOLITH: &str = "app.kubernetes.io/component=monolith";
const SUM: &str = "app.kubernetes.io/component=sum";

#[test]
fn a_split_is_read_per_route_through_the_pod_proxy() {
    let cluster = TestCluster::start(true);
    let kubectl = cluster.kubectl();
    kubectl.ok(&["apply", "-f", SUM_SERVICE]);
    kubectl.ok(&[
        "rollout",
        "status",
        "deployment/sum-service",
        "-n",
        "calculator",
        "--timeout=120s",
    ]);
    let service_ip = kubectl.ok(&[
        "get",
        "service",
        "sum-service",
        "-n",
        "calculator",
        "-o",
        "jsonpath={.spec.clusterIP}",
    ]);
    cluster.apply(&format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: monolith-routing, namespace: calculator}}\n\
         data:\n  routing.yaml: \"sum: {{mode: split, percent: 50, service: 'http://{}:3000'}}\"\n",
        service_ip.trim()
    ));
    let target = ConnectionTarget::Kubeconfig {
        path: Some(cluster.kubeconfig.clone()),
        context: None,
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let connection = connection::open(&target, None).await.expect("connected");
        let proxy = &connection.proxy;
        // Both monolith pods take up the ConfigMap (the kubelet's sync, then the monolith's poll).
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let readings = read_pods(proxy, "calculator", MONOLITH, "http")
                .await
                .expect("pods listed");
            let split = readings.reading.len() == 2 && {
                let mut all = true;
                for pod in readings.reading.keys() {
                    let (_, body) = proxy_get(
                        proxy,
                        &format!("/api/v1/namespaces/calculator/pods/{pod}:http/proxy/api/routes"),
                    )
                    .await
                    .expect("routes answered");
                    all &= String::from_utf8_lossy(&body).contains("split 50%");
                }
                all
            };
            if split {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the monolith pods did not take up the split"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        let monolith_before = read_pods(proxy, "calculator", MONOLITH, "http")
            .await
            .expect("read");
        let sum_before = read_pods(proxy, "calculator", SUM, "http")
            .await
            .expect("read");
        for _ in 0..40 {
            let (status, body) = proxy_get(
                proxy,
                "/api/v1/namespaces/calculator/services/calculator:http/proxy/sum/2/3",
            )
            .await
            .expect("answered");
            assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        }
        let monolith_after = read_pods(proxy, "calculator", MONOLITH, "http")
            .await
            .expect("read");
        let sum_after = read_pods(proxy, "calculator", SUM, "http")
            .await
            .expect("read");
        assert!(
            monolith_after.unread.is_empty(),
            "{:?}",
            monolith_after.unread
        );
        assert_eq!(sum_after.reading.len(), 2, "both sum pods read");

        // Inside the monolith: each pod sends exactly half of what it gets (rounded down) on.
        let inside = Window::inside("sum", &monolith_before.reading, &monolith_after.reading);
        assert_eq!(
            inside.monolith.answered + inside.service.answered,
            40,
            "{inside:?}"
        );
        assert!((19..=20).contains(&inside.service.answered), "{inside:?}");
        assert_eq!((inside.monolith.failed, inside.service.failed), (0, 0));
        assert!(inside.service.p99_ms.is_some() && inside.monolith.p50_ms.is_some());

        // Each side's own HTTP answers of the path: the monolith answered all 40, the service
        // the share the monolith sent it.
        let edge = Window::edge(
            "/sum/{a}/{b}",
            (&monolith_before.reading, &monolith_after.reading),
            (&sum_before.reading, &sum_after.reading),
        );
        assert_eq!(edge.monolith.answered, 40);
        assert_eq!(edge.service.answered, inside.service.answered);

        // Pods that do not answer on the port are named with why; the reading goes on.
        let readings = read_pods(proxy, "calculator", MONOLITH, "9999")
            .await
            .expect("listed");
        assert!(readings.reading.is_empty());
        assert_eq!(readings.unread.len(), 2, "{:?}", readings.unread);
        assert!(
            readings
                .unread
                .iter()
                .all(|(_, why)| matches!(why, Unread::Refused { .. } | Unread::Unreachable(_))),
            "{:?}",
            readings.unread
        );
    });
}
