//! The API server as kube-rs sees it: typed Api calls, every patch type, server-side apply,
//! status subresources, pagination, watcher and reflector.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Node};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use serde_json::json;
use support::Cluster;

fn configmap(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>()},
        "data": {"k": "v"},
    }))
    .expect("a valid ConfigMap")
}

#[tokio::test]
async fn typed_api_verbs_and_every_patch_type() {
    let cluster = Cluster::start();
    let client = cluster.client().await;
    let nodes: Api<Node> = Api::all(client.clone());
    let list = nodes
        .list(&ListParams::default().labels("kubernetes.io/os=windows"))
        .await
        .unwrap();
    assert_eq!(list.items.len(), 2);
    assert!(list.metadata.resource_version.is_some());

    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = maps
        .create(&PostParams::default(), &configmap("typed", &[("app", "a")]))
        .await
        .unwrap();
    assert!(created.metadata.uid.is_some() && created.metadata.creation_timestamp.is_some());
    let err = maps
        .create(&PostParams::default(), &configmap("typed", &[]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.reason == "AlreadyExists" && s.code == 409),
        "{err}"
    );

    // replace with a stale resourceVersion is a 409 Conflict.
    let mut fresh = maps.get("typed").await.unwrap();
    fresh
        .data
        .get_or_insert_default()
        .insert("k".into(), "v2".into());
    let replaced = maps
        .replace("typed", &PostParams::default(), &fresh)
        .await
        .unwrap();
    let err = maps
        .replace("typed", &PostParams::default(), &fresh)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.reason == "Conflict"),
        "{err}"
    );
    assert_ne!(
        replaced.metadata.resource_version,
        fresh.metadata.resource_version
    );

    maps.patch(
        "typed",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"merge": "1"}})),
    )
    .await
    .unwrap();
    maps.patch(
        "typed",
        &PatchParams::default(),
        &Patch::Strategic(json!({"metadata": {"labels": {"s": "1"}}})),
    )
    .await
    .unwrap();
    let ops: json_patch::Patch =
        serde_json::from_value(json!([{"op": "add", "path": "/data/json", "value": "1"}])).unwrap();
    maps.patch("typed", &PatchParams::default(), &Patch::Json::<()>(ops))
        .await
        .unwrap();
    let got = maps.get("typed").await.unwrap();
    let data = got.data.unwrap();
    assert_eq!(
        (
            data["k"].as_str(),
            data["merge"].as_str(),
            data["json"].as_str()
        ),
        ("v2", "1", "1")
    );
    assert_eq!(got.metadata.labels.unwrap()["s"], "1");

    // Server-side apply creates when missing, then merges; a conflicting manager needs force.
    let applied = maps
        .patch("applied", &PatchParams::apply("tests"), &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"a": "1"}})))
        .await
        .unwrap();
    assert_eq!(
        applied.metadata.managed_fields.as_ref().unwrap()[0]
            .manager
            .as_deref(),
        Some("tests")
    );
    let err = maps
        .patch("applied", &PatchParams::apply("other"), &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"a": "2"}})))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 409 && s.message.contains("conflict with \"tests\"")),
        "{err}"
    );
    let forced = maps
        .patch("applied", &PatchParams::apply("other").force(), &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"a": "2"}})))
        .await
        .unwrap();
    assert_eq!(forced.data.unwrap()["a"], "2");

    // Deletion honours preconditions.
    let wrong_uid = DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some("not-it".into()),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    let err = maps.delete("typed", &wrong_uid).await.unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 409 && s.message.contains("Precondition failed")),
        "{err}"
    );
    maps.delete("typed", &DeleteParams::default())
        .await
        .unwrap();
    let err = maps.get("typed").await.unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 404 && s.message == "configmaps \"typed\" not found"),
        "{err}"
    );
}

#[tokio::test]
async fn status_subresource_and_generation() {
    let cluster = Cluster::start();
    let client = cluster.client().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "example.com/web:1"}]}}},
    }))
    .unwrap();
    let created = deployments
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    assert_eq!(created.spec.replicas, Some(1), "defaulted");

    let spec = deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 2}})),
        )
        .await
        .unwrap();
    assert_eq!(
        (spec.spec.replicas, spec.metadata.generation),
        (Some(2), Some(2))
    );
    let labelled = deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .unwrap();
    assert_eq!(
        labelled.metadata.generation,
        Some(2),
        "metadata changes keep the generation"
    );
    let scale = deployments.get_scale("web").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(2));

    // The status subresource, on a Node no kubelet here manages: writing status leaves spec
    // alone, and writing the object leaves status alone.
    let nodes: Api<Node> = Api::all(client);
    let node: Node = serde_json::from_value(
        json!({"metadata": {"name": "spare"}, "status": {"capacity": {"pods": "10"}}}),
    )
    .unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    let status = nodes
        .patch_status(
            "spare",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"status": {"capacity": {"pods": "42"}}, "spec": {"unschedulable": true}}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(status.spec.and_then(|s| s.unschedulable), None);
    assert_eq!(
        status.status.and_then(|s| s.capacity).unwrap()["pods"].0,
        "42"
    );
    let spec = nodes
        .patch(
            "spare",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"spec": {"unschedulable": true}, "status": {"capacity": {"pods": "1"}}}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(spec.spec.and_then(|s| s.unschedulable), Some(true));
    assert_eq!(
        spec.status.and_then(|s| s.capacity).unwrap()["pods"].0,
        "42"
    );
}

#[tokio::test]
async fn paginated_lists_and_a_reflector_that_follows_changes() {
    let cluster = Cluster::start();
    let client = cluster.client().await;
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in 0..12 {
        maps.create(
            &PostParams::default(),
            &configmap(&format!("cm-{i:02}"), &[("set", "one")]),
        )
        .await
        .unwrap();
    }
    let first = maps
        .list(&ListParams::default().labels("set=one").limit(5))
        .await
        .unwrap();
    assert_eq!(first.items.len(), 5);
    let token = first.metadata.continue_.clone().expect("a continue token");
    let second = maps
        .list(
            &ListParams::default()
                .labels("set=one")
                .limit(5)
                .continue_token(&token),
        )
        .await
        .unwrap();
    assert_eq!(second.items[0].metadata.name.as_deref(), Some("cm-05"));

    // kube-runtime's watcher pages with limit=500, then watches from the list's version.
    let (reader, writer) = reflector::store::<ConfigMap>();
    let config = watcher::Config::default().labels("set").page_size(4);
    let stream = reflector(writer, watcher(maps.clone(), config)).applied_objects();
    let task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            if event.is_err() {
                break;
            }
        }
    });
    reader.wait_until_ready().await.unwrap();
    assert_eq!(reader.state().len(), 12);
    maps.create(
        &PostParams::default(),
        &configmap("late", &[("set", "two")]),
    )
    .await
    .unwrap();
    maps.delete("cm-00", &DeleteParams::default())
        .await
        .unwrap();
    // Leaving the selection is a deletion for this watch.
    maps.patch(
        "cm-01",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"set": null}}})),
    )
    .await
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let names: Vec<String> = reader
            .state()
            .iter()
            .filter_map(|c| c.metadata.name.clone())
            .collect();
        if names.len() == 11
            && names.contains(&"late".to_owned())
            && !names.contains(&"cm-00".to_owned())
            && !names.contains(&"cm-01".to_owned())
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "reflector never caught up: {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    task.abort();

    // A raw watcher sees the event types in order.
    let events = watcher(
        maps.clone(),
        watcher::Config::default().fields("metadata.name=late"),
    )
    .touched_objects()
    .take(1)
    .try_collect::<Vec<_>>()
    .await
    .unwrap();
    assert_eq!(events[0].metadata.name.as_deref(), Some("late"));
}

/// kube-rs's aggregated discovery (one request for `/api`, one for `/apis`) finds what the
/// legacy walk of every group-version finds, subresources included; a client that does not
/// ask for aggregated documents gets the legacy ones.
#[tokio::test]
async fn aggregated_discovery_matches_the_legacy_documents() {
    use kube::discovery::{Discovery, Scope};
    let cluster = Cluster::start();
    let client = cluster.client().await;
    let aggregated = Discovery::new(client.clone())
        .run_aggregated()
        .await
        .expect("aggregated discovery");
    let legacy = Discovery::new(client.clone())
        .run()
        .await
        .expect("legacy discovery");
    let summary = |d: &Discovery| {
        let mut out = Vec::new();
        for group in d.groups() {
            for (resource, caps) in group.recommended_resources() {
                let mut subs: Vec<String> = caps
                    .subresources
                    .iter()
                    .map(|(s, _)| s.plural.clone())
                    .collect();
                subs.sort();
                out.push(format!(
                    "{}/{} {} {} {:?} {}",
                    resource.group,
                    resource.version,
                    resource.plural,
                    resource.kind,
                    caps.scope == Scope::Namespaced,
                    subs.join(",")
                ));
            }
        }
        out.sort();
        out
    };
    let found = summary(&aggregated);
    assert_eq!(found, summary(&legacy));
    assert!(
        found.contains(&"apps/v1 deployments Deployment true scale,status".to_owned()),
        "{found:#?}"
    );
    assert!(
        found.iter().any(|r| r.starts_with("/v1 pods Pod true ")),
        "{found:#?}"
    );

    let plain = client
        .request_text(
            http::Request::get("/apis")
                .header("Accept", "application/json")
                .body(Vec::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(plain.contains("\"kind\":\"APIGroupList\""), "{plain}");
    let asked = client
        .request_text(
            http::Request::get("/api")
                .header(
                    "Accept",
                    kube::core::discovery::v2::ACCEPT_AGGREGATED_DISCOVERY_V2,
                )
                .body(Vec::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(
        asked.contains("\"kind\":\"APIGroupDiscoveryList\"")
            && asked.contains("\"apiVersion\":\"apidiscovery.k8s.io/v2\""),
        "{asked}"
    );
    // kubectl asks for the aggregated document too.
    let resources = cluster.ok(&["api-resources", "--api-group=apps"]);
    assert!(resources.contains("deployments"), "{resources}");
}

/// `events.k8s.io/v1` Events are the core Events seen through the newer version: written in
/// one, read, selected, patched and watched in the other.
#[tokio::test]
async fn events_k8s_io_is_a_view_of_the_core_events() {
    use k8s_openapi::api::core::v1::Event as CoreEvent;
    use k8s_openapi::api::events::v1::Event;
    let cluster = Cluster::start();
    let client = cluster.client().await;
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let core: Api<CoreEvent> = Api::namespaced(client.clone(), "default");
    let mut watch = watcher(
        events.clone(),
        watcher::Config::default().fields("regarding.name=sum-1"),
    )
    .applied_objects()
    .boxed();

    let created: Event = serde_json::from_value(json!({
        "metadata": {"name": "sum-1.started"},
        "eventTime": "2026-11-26T10:00:00.000000Z",
        "reportingController": "example.com/probe",
        "reportingInstance": "probe-1",
        "action": "Probe",
        "reason": "Answered",
        "type": "Normal",
        "note": "sum answered 9",
        "regarding": {"kind": "Pod", "namespace": "default", "name": "sum-1"},
    }))
    .unwrap();
    let created = events
        .create(&PostParams::default(), &created)
        .await
        .unwrap();
    assert_eq!(created.note.as_deref(), Some("sum answered 9"));

    // The same object, through core v1.
    let same = core.get("sum-1.started").await.unwrap();
    assert_eq!(same.message.as_deref(), Some("sum answered 9"));
    assert_eq!(same.involved_object.name.as_deref(), Some("sum-1"));
    assert_eq!(
        same.reporting_component.as_deref(),
        Some("example.com/probe")
    );

    // The watcher with a field selector in the new version's names saw it.
    let seen = tokio::time::timeout(Duration::from_secs(10), watch.try_next())
        .await
        .expect("the watch delivered the event")
        .unwrap()
        .unwrap();
    assert_eq!(seen.note.as_deref(), Some("sum answered 9"));

    // A merge patch in the new names changes the core fields.
    events
        .patch(
            "sum-1.started",
            &PatchParams::default(),
            &Patch::Merge(json!({"note": "sum answered 10"})),
        )
        .await
        .unwrap();
    assert_eq!(
        core.get("sum-1.started").await.unwrap().message.as_deref(),
        Some("sum answered 10")
    );

    // kubectl reads the list in either version.
    let listed = cluster.json(&["get", "events.v1.events.k8s.io", "-o", "json"]);

    let ours: Vec<&serde_json::Value> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["metadata"]["name"] == "sum-1.started")
        .collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0]["apiVersion"], "events.k8s.io/v1");
    assert_eq!(ours[0]["note"], "sum answered 10");
    assert!(ours[0].get("message").is_none());
    let table = cluster.ok(&[
        "get",
        "events.v1.events.k8s.io",
        "--field-selector",
        "regarding.name=sum-1",
    ]);
    assert!(table.contains("sum answered 10"), "{table}");
}

/// The kubelet summary read with a raw request and the node block decoded into the fields
/// kube-rs's `request_raw` example decodes (CPU by `usageNanoCores`, memory by `usageBytes`,
/// told apart by which one is there), then checked against the node's capacity.
#[tokio::test]
async fn raw_requests_read_the_kubelet_summary_as_kube_rs_example_does() {
    #[derive(serde::Deserialize, Debug)]
    struct NodeStats {
        cpu: Stat,
        memory: Stat,
    }
    #[derive(serde::Deserialize, Debug)]
    #[serde(untagged)]
    enum Stat {
        #[serde(rename_all = "camelCase")]
        Cpu { usage_nano_cores: u64 },
        #[serde(rename_all = "camelCase")]
        Memory {
            usage_bytes: u64,
            available_bytes: u64,
        },
    }
    let cluster = Cluster::start();
    let client = cluster.client().await;
    let nodes: Api<Node> = Api::all(client.clone());
    let list = nodes.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 4);
    for node in list.items {
        let name = node.metadata.name.unwrap_or_default();
        let request = http::Request::get(format!("/api/v1/nodes/{name}/proxy/stats/summary"))
            .body(Vec::new())
            .unwrap();
        let summary: serde_json::Value = client.request(request).await.unwrap();
        let stats: NodeStats = serde_json::from_value(summary["node"].clone())
            .unwrap_or_else(|e| panic!("{e}: {}", summary["node"]));
        let Stat::Cpu { usage_nano_cores } = stats.cpu else {
            panic!("the CPU block reads as memory: {stats:?}")
        };
        let Stat::Memory {
            usage_bytes,
            available_bytes,
        } = stats.memory
        else {
            panic!("the memory block reads as CPU: {stats:?}")
        };
        let capacity = node.status.unwrap_or_default().capacity.unwrap_or_default();
        let memory = kube_units::quantity::bytes(&capacity["memory"].0).unwrap() as u64;
        assert_eq!(usage_bytes + available_bytes, memory, "{name}");
        let cores = kube_units::quantity::cpu_millis(&capacity["cpu"].0).unwrap() as u64 / 1000;
        assert!(usage_nano_cores <= cores * 1_000_000_000, "{name}");
    }
}
