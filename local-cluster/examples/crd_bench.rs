//! CustomResourceDefinition benchmark of local-cluster: how soon a new definition's kind is in
//! aggregated discovery and takes objects, how soon a deleted one is gone, and how fast custom
//! objects with a schema and a CEL rule are created.
//!
//! cargo run --release -p local-cluster --example crd_bench -- [definitions] [objects]

use std::time::{Duration, Instant};

use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, PostParams};
use kube::discovery::ApiResource;
use local_cluster::{ClusterConfig, LocalCluster};
use serde_json::json;

/// `/apis` as aggregated discovery, as kubectl and kube-rs ask for it first.
async fn aggregated_discovery(client: &Client) -> anyhow::Result<String> {
    let request = http::Request::get("/apis")
        .header(
            "Accept",
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
        )
        .body(Vec::new())?;
    Ok(client.request_text(request).await?)
}

fn definition(plural: &str, kind: &str) -> serde_json::Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.bench.example.com")},
        "spec": {
            "group": "bench.example.com",
            "scope": "Namespaced",
            "names": {"plural": plural, "kind": kind},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {"spec": {
                    "type": "object",
                    "required": ["size"],
                    "x-kubernetes-validations": [{"rule": "self.size <= self.max", "message": "size above max"}],
                    "properties": {
                        "size": {"type": "integer", "minimum": 0},
                        "max": {"type": "integer", "default": 100},
                        "color": {"type": "string", "enum": ["red", "blue"], "default": "red"}
                    }
                }}
            }}}]
        }
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn report(what: &str, mut millis: Vec<f64>) {
    millis.sort_by(f64::total_cmp);
    println!(
        "{what}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} runs)",
        percentile(&millis, 50.0),
        percentile(&millis, 99.0),
        millis.last().copied().unwrap_or_default(),
        millis.len()
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let definitions = args.first().copied().unwrap_or(50);
    let objects = args.get(1).copied().unwrap_or(1_000);

    let dir = tempfile::tempdir()?;
    let kubeconfig = dir.path().join("kubeconfig");
    let _cluster = LocalCluster::start(ClusterConfig {
        kubeconfig_path: Some(kubeconfig.clone()),
        ..ClusterConfig::default()
    })
    .await?;
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&kubeconfig)?,
        &kube::config::KubeConfigOptions::default(),
    )
    .await?;
    let client = Client::try_from(config)?;
    let crds: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource {
            group: "apiextensions.k8s.io".into(),
            version: "v1".into(),
            api_version: "apiextensions.k8s.io/v1".into(),
            kind: "CustomResourceDefinition".into(),
            plural: "customresourcedefinitions".into(),
        },
    );

    let mut discovered = Vec::new();
    let mut usable = Vec::new();
    let mut withdrawn = Vec::new();
    for i in 0..definitions {
        let plural = format!("gauges{i}");
        let kind = format!("Gauge{i}");
        let resource = ApiResource {
            group: "bench.example.com".into(),
            version: "v1".into(),
            api_version: "bench.example.com/v1".into(),
            kind: kind.clone(),
            plural: plural.clone(),
        };
        let body: DynamicObject = serde_json::from_value(definition(&plural, &kind))?;
        let started = Instant::now();
        crds.create(&PostParams::default(), &body).await?;
        let needle = format!("\"resource\":\"{plural}\"");
        while !aggregated_discovery(&client).await?.contains(&needle) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        discovered.push(started.elapsed().as_secs_f64() * 1e3);
        let gauges: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource);
        let object: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "bench.example.com/v1", "kind": kind,
            "metadata": {"name": "first"}, "spec": {"size": 1}
        }))?;
        gauges.create(&PostParams::default(), &object).await?;
        usable.push(started.elapsed().as_secs_f64() * 1e3);

        let name = format!("{plural}.bench.example.com");
        let started = Instant::now();
        crds.delete(&name, &DeleteParams::default()).await?;
        while aggregated_discovery(&client).await?.contains(&needle) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        withdrawn.push(started.elapsed().as_secs_f64() * 1e3);
    }
    report("created -> in aggregated discovery", discovered);
    report("created -> first object created", usable);
    report(
        "deleted (one object) -> out of discovery (includes the 1 s drain)",
        withdrawn,
    );

    // Objects through the schema (defaults, bounds, enum) and a CEL rule, one client, in turn.
    let body: DynamicObject = serde_json::from_value(definition("meters", "Meter"))?;
    crds.create(&PostParams::default(), &body).await?;
    let resource = ApiResource {
        group: "bench.example.com".into(),
        version: "v1".into(),
        api_version: "bench.example.com/v1".into(),
        kind: "Meter".into(),
        plural: "meters".into(),
    };
    let meters: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource);
    loop {
        let probe: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "bench.example.com/v1", "kind": "Meter",
            "metadata": {"name": "probe"}, "spec": {"size": 1}
        }))?;
        if meters.create(&PostParams::default(), &probe).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = Instant::now();
    for i in 0..objects {
        let object: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "bench.example.com/v1", "kind": "Meter",
            "metadata": {"name": format!("m{i}")}, "spec": {"size": i % 100}
        }))?;
        meters.create(&PostParams::default(), &object).await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{objects} custom objects created (schema + CEL rule): {seconds:.2} s, {:.0} objects/s",
        objects as f64 / seconds
    );

    let configmaps: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(client.clone(), "default");
    let started = Instant::now();
    for i in 0..objects {
        let object = serde_json::from_value(json!({
            "metadata": {"name": format!("c{i}")}, "data": {"size": (i % 100).to_string()}
        }))?;
        configmaps.create(&PostParams::default(), &object).await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{objects} ConfigMaps created, for comparison: {seconds:.2} s, {:.0} objects/s",
        objects as f64 / seconds
    );
    Ok(())
}
