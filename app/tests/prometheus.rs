//! A progressive move's numbers from a real Prometheus (Debian's `prometheus`, installed by
//! scripts/install-deps.sh) scraping the calculator's monolith pods every second: the same
//! window as the pods' own /metrics give, and a whole progressive move judged from it
//! (`--prometheus`). Debian builds Prometheus without its Kubernetes service discovery, so the
//! test discovers the pods itself (through the API, as that discovery would) and hands them to
//! Prometheus as a `file_sd` target file with the labels the usual kubernetes-pods job sets.

#![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hybrid_console::cluster::connection::{self, ConnectionTarget};
use hybrid_console::cluster::proxy::proxy_get;
use hybrid_console::migration::readings::{MetricsSource, read};
use hybrid_console::model::analysis::Window;
use support::{TestCluster, free_port, move_record, text};

const MONOLITH: &str = "app.kubernetes.io/component=monolith";

/// Prometheus, scraping the cluster's `calculator` pods every second; stopped on drop.
struct Prometheus {
    child: Child,
    url: String,
    log: std::path::PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    fn start(cluster: &TestCluster) -> Prometheus {
        let dir = cluster.path("prometheus");
        std::fs::create_dir_all(&dir).unwrap();
        // The running monolith pods, each with its pod and namespace labels.
        let pods = cluster.kubectl().ok(&[
            "get",
            "pods",
            "-n",
            "calculator",
            "-l",
            MONOLITH,
            "-o",
            "jsonpath={range .items[*]}{.metadata.name} {.status.podIP}{\"\\n\"}{end}",
        ]);
        let targets: Vec<serde_json::Value> = pods
            .lines()
            .filter_map(|line| line.split_once(' '))
            .map(|(name, ip)| {
                serde_json::json!({
                    "targets": [format!("{ip}:3000")],
                    "labels": {"pod": name, "namespace": "calculator"},
                })
            })
            .collect();
        assert_eq!(targets.len(), 2, "{pods}");
        std::fs::write(
            dir.join("targets.json"),
            serde_json::to_string(&targets).unwrap(),
        )
        .unwrap();
        let config = format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nscrape_configs:\n  - job_name: kubernetes-pods\n    file_sd_configs: [{{files: ['{}'], refresh_interval: 1s}}]\n",
            dir.join("targets.json").display()
        );
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
            .spawn()
            .expect("prometheus (Debian's package; scripts/install-deps.sh installs it)");
        Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log: dir.join("prometheus.log"),
        }
    }

    /// What it logged, for a failure's message.
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn connect(
    cluster: &TestCluster,
) -> (
    tokio::runtime::Runtime,
    hybrid_console::cluster::connection::Connection,
) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let target = ConnectionTarget::Kubeconfig {
        path: Some(cluster.kubeconfig.clone()),
        context: None,
    };
    let connection = runtime.block_on(connection::open(&target, None)).unwrap();
    (runtime, connection)
}

#[test]
fn prometheus_gives_the_same_window_as_the_pods() {
    let cluster = TestCluster::start(true);
    let prometheus = Prometheus::start(&cluster);
    let (runtime, connection) = connect(&cluster);
    let source = MetricsSource::Prometheus(prometheus.url.clone());
    runtime.block_on(async {
        let proxy = &connection.proxy;
        // Prometheus has found and scraped both monolith pods.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let readings = read(&source, proxy, "calculator", MONOLITH, "http").await;
            match readings {
                Ok(r) if r.reading.len() == 2 && r.unread.is_empty() => break,
                other => assert!(
                    Instant::now() < deadline,
                    "Prometheus never had both pods: {other:?}\n{}",
                    prometheus.log()
                ),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let pods_before = read(&MetricsSource::PodProxy, proxy, "calculator", MONOLITH, "http")
            .await
            .unwrap();
        let prom_before = read(&source, proxy, "calculator", MONOLITH, "http").await.unwrap();
        for n in 0..30 {
            let (status, _) = proxy_get(
                proxy,
                &format!(
                    "/api/v1/namespaces/calculator/services/calculator:http/proxy/api/calculate?a={n}&b=2"
                ),
            )
            .await
            .unwrap();
            assert_eq!(status, 200);
        }
        // Scraped at least once more after the last answer (every second).
        tokio::time::sleep(Duration::from_secs(3)).await;
        let pods_after = read(&MetricsSource::PodProxy, proxy, "calculator", MONOLITH, "http")
            .await
            .unwrap();
        let prom_after = read(&source, proxy, "calculator", MONOLITH, "http").await.unwrap();
        let from_pods = Window::inside("sum", &pods_before.reading, &pods_after.reading);
        let from_prometheus = Window::inside("sum", &prom_before.reading, &prom_after.reading);
        assert_eq!(from_pods.monolith.answered, 30, "{from_pods:?}");
        // Prometheus's `before` may be up to a scrape older than the pods', so it can count
        // sums made just before the window; none of the 30 is missed.
        assert!(
            (30..=32).contains(&from_prometheus.monolith.answered),
            "{from_prometheus:?}"
        );
        assert_eq!(from_prometheus.monolith.failed, 0);
        assert!(from_prometheus.monolith.p99_ms.is_some());
    });
    // A bad URL is a clear error, not a hang.
    let wrong = MetricsSource::Prometheus(format!("http://127.0.0.1:{}", free_port()));
    let error = runtime
        .block_on(read(
            &wrong,
            &connection.proxy,
            "calculator",
            MONOLITH,
            "http",
        ))
        .unwrap_err()
        .to_string();
    assert!(error.contains("cannot be reached"), "{error}");
}

#[test]
fn a_progressive_move_is_judged_from_prometheus() {
    let cluster = TestCluster::start(true);
    let prometheus = Prometheus::start(&cluster);
    // Traffic for the steps: the calculator's sum through the front Service, 20 a second.
    let (runtime, connection) = connect(&cluster);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let probe = {
        let stop = stop.clone();
        let proxy = connection.proxy.clone();
        runtime.spawn(async move {
            let mut failed = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let answer = proxy_get(
                    &proxy,
                    "/api/v1/namespaces/calculator/services/calculator:http/proxy/api/calculate?a=6&b=3",
                )
                .await;
                if !matches!(answer, Ok((200, _))) {
                    failed += 1;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            failed
        })
    };
    let output = support::migrate(
        &cluster,
        &[
            "sum",
            "--to",
            "linux",
            "--progressive",
            "--prometheus",
            &prometheus.url,
            "--weights",
            "50",
            "--hold",
            "6s",
            "--shadow",
            "40",
            "--settle",
            "2s",
            "--yes",
        ],
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let failed = runtime.block_on(probe).unwrap();
    let said = text(&output);
    assert!(output.status.success(), "{said}\n{}", prometheus.log());
    assert_eq!(failed, 0);
    assert!(said.contains("0 mismatched"), "{said}");
    assert!(
        said.contains("50 % of sum answered by the service, held 6 s: service "),
        "{said}"
    );
    assert!(move_record(&cluster).is_none());
}
