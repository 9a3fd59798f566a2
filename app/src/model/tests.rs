use serde_json::json;

use super::*;

fn node(name: &str, os: &str, group: Option<(&str, &str)>) -> Node {
    let mut labels =
        json!({"kubernetes.io/os": os, "node.kubernetes.io/instance-type": "t3.large"});
    if let Some((key, value)) = group {
        labels[key] = json!(value);
    }
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels},
        "spec": if os == "windows" { json!({"taints": [{"key": "os", "value": "windows", "effect": "NoSchedule"}]}) } else { json!({}) },
        "status": {
            "allocatable": {"cpu": "1930m", "memory": "4Gi", "pods": "35"},
            "conditions": [{"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
        },
    }))
    .unwrap()
}

fn pod(
    namespace: &str,
    name: &str,
    node: Option<&str>,
    status: serde_json::Value,
    labels: serde_json::Value,
) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i", "resources": {"requests": {"cpu": "250m", "memory": "128Mi"}}}]},
        "status": status,
    }))
    .unwrap()
}

fn running() -> serde_json::Value {
    json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [{"name": "c", "image": "i", "imageID": "", "ready": true, "restartCount": 0, "state": {"running": {}}}]})
}

#[test]
fn nodes_group_by_os_then_node_group() {
    let nodes = [
        node(
            "w1",
            "windows",
            Some(("eks.amazonaws.com/nodegroup", "win")),
        ),
        node(
            "l1",
            "linux",
            Some(("alpha.eksctl.io/nodegroup-name", "lin")),
        ),
        node("l2", "linux", None),
    ];
    let snapshot = ClusterSnapshot::build(&nodes, &[], &[], [], None);
    let lanes: Vec<String> = snapshot.lanes.iter().map(|l| l.os.title()).collect();
    assert_eq!(lanes, ["Windows", "Linux"]);
    let windows = snapshot.lane(&NodeOs::Windows).unwrap();
    assert_eq!(windows.groups[0].name, "win");
    assert_eq!(windows.groups[0].nodes[0].taints, ["os=windows:NoSchedule"]);
    let linux = snapshot.lane(&NodeOs::Linux).unwrap();
    let groups: Vec<&str> = linux.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(groups, ["lin", "ungrouped"]);
    // An empty Windows lane still shows: that is where the migration ends.
    let only_linux = ClusterSnapshot::build(&nodes[1..], &[], &[], [], None);
    assert_eq!(only_linux.lane(&NodeOs::Windows).unwrap().node_count(), 0);
}

#[test]
fn pods_are_placed_on_their_node_with_requests_counted() {
    let nodes = [node("w1", "windows", None), node("l1", "linux", None)];
    let pods = [
        pod("a", "p1", Some("w1"), running(), json!({})),
        pod("a", "p2", Some("w1"), running(), json!({})),
        pod(
            "a",
            "p3",
            None,
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/2 nodes are available"}]}),
            json!({}),
        ),
    ];
    let snapshot = ClusterSnapshot::build(&nodes, &pods, &[], [], None);
    let w1 = snapshot.node("w1").unwrap();
    assert_eq!(w1.pods.len(), 2);
    assert_eq!(
        (w1.cpu_requested_millis, w1.memory_requested_bytes),
        (500, 256 * 1024 * 1024)
    );
    assert_eq!(w1.cpu_allocatable_millis, 1930);
    assert_eq!(snapshot.unscheduled.len(), 1);
    let pending = &snapshot.unscheduled[0];
    assert_eq!(
        (pending.state, pending.reason.as_deref()),
        (PodState::Pending, Some("Unschedulable"))
    );
    assert_eq!(pending.message.as_deref(), Some("0/2 nodes are available"));
}

#[test]
fn a_pod_that_moves_nodes_is_grouped_under_its_new_node() {
    let nodes = [
        node("w1", "windows", None),
        node("l1", "linux", None),
        node("l2", "linux", None),
    ];
    let before = ClusterSnapshot::build(
        &nodes,
        &[pod("a", "p", Some("l1"), running(), json!({}))],
        &[],
        [],
        None,
    );
    let after = ClusterSnapshot::build(
        &nodes,
        &[pod("a", "p", Some("l2"), running(), json!({}))],
        &[],
        [],
        None,
    );
    assert_eq!(before.node("l1").unwrap().pods.len(), 1);
    assert!(after.node("l1").unwrap().pods.is_empty());
    assert_eq!(after.node("l2").unwrap().pods[0].name, "p");
    assert_eq!(after.pod("a", "p").unwrap().node.as_deref(), Some("l2"));
}

#[test]
fn pod_states_follow_kubectls_reading_of_status() {
    let waiting = |reason: &str, message: &str| json!({"phase": "Pending", "containerStatuses": [{"name": "c", "image": "i", "imageID": "", "ready": false, "restartCount": 3, "state": {"waiting": {"reason": reason, "message": message}}}]});
    let crash = PodPlacement::of(&pod(
        "a",
        "c",
        Some("n"),
        waiting("CrashLoopBackOff", "back-off"),
        json!({}),
    ));
    assert_eq!(
        (crash.state, crash.reason.as_deref(), crash.restarts),
        (PodState::Failing, Some("CrashLoopBackOff"), 3)
    );
    let mismatch = PodPlacement::of(&pod(
        "a",
        "m",
        Some("n"),
        waiting(
            "ImagePullBackOff",
            "failed to pull and unpack image: no match for platform in manifest: not found",
        ),
        json!({}),
    ));
    assert_eq!(mismatch.state, PodState::Failing);
    assert_eq!(mismatch.image_mismatch, Some(ImageMismatch::Os));
    let starting = PodPlacement::of(&pod(
        "a",
        "s",
        Some("n"),
        waiting("ContainerCreating", ""),
        json!({}),
    ));
    assert_eq!(
        (starting.state, starting.reason),
        (PodState::Starting, None)
    );
    let mut terminating = pod("a", "t", Some("n"), running(), json!({}));
    terminating.metadata.deletion_timestamp = Some(
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now()),
    );
    assert_eq!(PodPlacement::of(&terminating).state, PodState::Terminating);
    assert_eq!(
        PodPlacement::of(&pod("a", "r", Some("n"), running(), json!({}))).state,
        PodState::Ready
    );
}

#[test]
fn the_plan_says_what_the_monolith_still_serves_and_who_serves_the_rest() {
    let plan = MigrationPlan::parse(&migration_plan::PlanFiles::built_in()).unwrap();
    let deployment = |name: &str, component: &str, env: serde_json::Value| -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "calculator"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app.kubernetes.io/component": component}}, "template": {"spec": {"containers": [{"name": "calculator", "env": env}]}}},
            "status": {"readyReplicas": 2},
        }))
        .unwrap()
    };
    let deployments = [
        deployment(
            "monolith",
            "monolith",
            json!([{"name": "SUM_SERVICE_URL", "value": "http://sum-service:3000"}, {"name": "DIVISION_SERVICE_URL", "value": ""}]),
        ),
        deployment("sum-service", "sum", json!([])),
    ];
    let front: Service = serde_json::from_value(json!({
        "metadata": {"name": "calculator", "namespace": "calculator"},
        "spec": {"selector": {"app.kubernetes.io/name": "calculator", "hybrid-console.io/frontend": "true"}},
    }))
    .unwrap();
    let pods = [
        pod(
            "calculator",
            "monolith-1",
            Some("w1"),
            running(),
            json!({"app.kubernetes.io/component": "monolith"}),
        ),
        pod(
            "calculator",
            "sum-service-1",
            Some("l1"),
            running(),
            json!({"app.kubernetes.io/component": "sum"}),
        ),
    ];
    let snapshot = ClusterSnapshot::build(
        &[node("w1", "windows", None), node("l1", "linux", None)],
        &pods,
        &deployments,
        [&front],
        Some(&plan),
    );
    let topology = snapshot.topology.as_ref().unwrap();
    let monolith = topology.monolith.as_ref().unwrap();
    assert_eq!(
        monolith.in_process,
        ["subtraction", "multiplication", "division", "ui"]
    );
    assert_eq!(
        monolith.forwarded,
        [("sum".to_string(), "http://sum-service:3000".to_string())]
    );
    assert_eq!(
        snapshot.pod("calculator", "monolith-1").unwrap().holds,
        ["subtraction", "multiplication", "division", "ui"]
    );
    assert_eq!(
        snapshot
            .pod("calculator", "sum-service-1")
            .unwrap()
            .serves
            .as_deref(),
        Some("sum")
    );
    assert_eq!(topology.service("sum").unwrap().ready, Some((2, 2)));
    assert!(!topology.retirable);
    assert!(topology.moving.is_none());
}

#[test]
fn search_matches_names_namespaces_and_labels() {
    let p = PodPlacement::of(&pod(
        "calculator",
        "sum-service-abc",
        Some("n"),
        running(),
        json!({"app.kubernetes.io/component": "sum"}),
    ));
    let finds = |typed: &str| Search::new(typed).finds(&p);
    assert!(
        finds("sum-serv")
            && finds("CALC")
            && finds("app.kubernetes.io/component=sum")
            && finds("APP.kubernetes.io/component=SUM")
            && finds("")
    );
    assert!(!finds("division") && !finds("app.kubernetes.io/component=division"));
}

#[test]
fn nodes_and_pods_sort_as_a_person_counts() {
    let nodes = [
        node("ip-10-0-0-10", "linux", None),
        node("ip-10-0-0-9", "linux", None),
        node("ip-10-0-0-100", "linux", None),
    ];
    let pods = [
        pod("a", "web-10", Some("ip-10-0-0-9"), running(), json!({})),
        pod("a", "web-9", Some("ip-10-0-0-9"), running(), json!({})),
    ];
    let snapshot = ClusterSnapshot::build(&nodes, &pods, &[], [], None);
    let linux = snapshot.lane(&NodeOs::Linux).unwrap();
    let names: Vec<&str> = linux.groups[0]
        .nodes
        .iter()
        .map(|n| n.name.as_str())
        .collect();
    assert_eq!(names, ["ip-10-0-0-9", "ip-10-0-0-10", "ip-10-0-0-100"]);
    let on_first: Vec<&str> = linux.groups[0].nodes[0]
        .pods
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(on_first, ["web-9", "web-10"]);
}

#[test]
fn node_usage_is_read_from_a_node_metrics_list_and_set_on_the_tiles() {
    let list = json!({"kind": "NodeMetricsList", "items": [
        {"metadata": {"name": "w1"}, "usage": {"cpu": "250m", "memory": "1Gi"}},
        {"metadata": {"name": "l1"}, "usage": {"cpu": "1500000n", "memory": "512Ki"}},
        {"metadata": {"name": "broken"}, "usage": {"cpu": "lots", "memory": "1Gi"}},
    ]});
    let usage = node_usage_from_metrics(&list);
    assert_eq!(usage.len(), 2, "{usage:?}");
    assert_eq!(
        usage["w1"],
        NodeUsage {
            cpu_millis: 250,
            memory_bytes: 1 << 30
        }
    );
    assert_eq!(usage["l1"].cpu_millis, 2, "1.5 millicores round up");
    let nodes = [node("w1", "windows", None), node("l2", "linux", None)];
    let mut snapshot = ClusterSnapshot::build(&nodes, &[], [], [], None);
    assert!(!snapshot.has_usage());
    snapshot.apply_usage(&usage);
    assert!(snapshot.has_usage());
    let w1 = snapshot.nodes().find(|n| n.name == "w1").unwrap();
    // 250m of 1930m allocatable.
    assert!((w1.pressure(Pressure::CpuUsage) - 250.0 / 1930.0).abs() < 1e-4);
    assert_eq!(
        snapshot.nodes().find(|n| n.name == "l2").unwrap().usage,
        None
    );
}

#[test]
fn a_group_summary_counts_nodes_ready_and_pods_by_state() {
    let mut down = node("w2", "windows", None);
    if let Some(conditions) = down.status.as_mut().and_then(|s| s.conditions.as_mut()) {
        conditions[0].status = "False".into();
    }
    let nodes = [node("w1", "windows", None), down];
    let crash = json!({"phase": "Running", "containerStatuses": [{"name": "c", "image": "i", "imageID": "", "ready": false, "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]});
    let pods = [
        pod("a", "p1", Some("w1"), running(), json!({})),
        pod("a", "p2", Some("w1"), crash, json!({})),
        pod("a", "p3", Some("w2"), running(), json!({})),
    ];
    let snapshot = ClusterSnapshot::build(&nodes, &pods, [], [], None);
    let group = &snapshot.lanes[0].groups[0];
    let summary = group.summary();
    assert_eq!((summary.nodes, summary.ready), (2, 1));
    assert_eq!(
        (
            summary.pods.running,
            summary.pods.failing,
            summary.pods.placed
        ),
        (2, 1, 3)
    );
    assert_eq!(summary.pod_capacity, 70);
    assert_eq!(summary.cpu, (750, 3860));
    let w1 = &group.nodes[0];
    assert!(w1.has_problem());
    assert_eq!(w1.problems(), vec!["pod a/p2: CrashLoopBackOff".to_owned()]);
    assert_eq!(group.nodes[1].problems(), vec!["NotReady".to_owned()]);
}

#[test]
fn pods_by_node_stay_in_the_boards_order_as_they_come_and_go() {
    let placed = |name: &str, node: Option<&str>| {
        Arc::new(PodPlacement::of(&pod(
            "shop",
            name,
            node,
            running(),
            json!({}),
        )))
    };
    let names = |by_node: &PodsByNode, node: Option<&str>| -> Vec<String> {
        by_node
            .lists()
            .find(|(n, _)| *n == node)
            .map(|(_, list)| list.iter().map(|p| p.name.clone()).collect())
            .unwrap_or_default()
    };
    let mut by_node: PodsByNode = [placed("web-10", Some("n1")), placed("web-2", Some("n1"))]
        .into_iter()
        .collect();
    assert_eq!(names(&by_node, Some("n1")), ["web-2", "web-10"]);
    by_node.insert(placed("web-9", Some("n1")));
    by_node.insert(placed("web-09", Some("n1")));
    by_node.insert(placed("api", None));
    assert_eq!(
        names(&by_node, Some("n1")),
        ["web-2", "web-9", "web-09", "web-10"]
    );
    // A second version of a pod replaces the first.
    by_node.insert(placed("web-9", Some("n1")));
    assert_eq!(names(&by_node, Some("n1")).len(), 4);

    // A copy shares every list; a change then copies only the list it touches.
    let before = by_node.clone();
    by_node.remove(&placed("web-9", Some("n1")));
    by_node.insert(placed("web-9", Some("n2")));
    assert_eq!(names(&by_node, Some("n1")), ["web-2", "web-09", "web-10"]);
    assert_eq!(names(&by_node, Some("n2")), ["web-9"]);
    assert_eq!(names(&before, Some("n1")).len(), 4);
    let list = |b: &PodsByNode, node: Option<&str>| {
        b.lists().find(|(n, _)| *n == node).map(|(_, l)| l.clone())
    };
    assert!(Arc::ptr_eq(
        &list(&before, None).unwrap(),
        &list(&by_node, None).unwrap()
    ));
    // The last pod of a node gone, the node has no list.
    by_node.remove(&placed("api", None));
    assert!(list(&by_node, None).is_none());

    // Counts by namespace and node follow, without visiting the pods.
    assert_eq!(by_node.len(), 4);
    assert!(by_node.has_pods_of("shop", Some("n2")));
    assert!(!by_node.has_pods_of("shop", None));
    by_node.insert(Arc::new(PodPlacement::of(&pod(
        "calculator",
        "sum",
        Some("n2"),
        running(),
        json!({}),
    ))));
    assert_eq!(
        by_node.namespaces().collect::<Vec<_>>(),
        ["calculator", "shop"]
    );
    by_node.remove(&placed("web-9", Some("n2")));
    assert!(!by_node.has_pods_of("shop", Some("n2")));
    assert!(by_node.has_pods_of("calculator", Some("n2")));
    assert_eq!(by_node.len(), 4);
    // Grouping all at once counts the same.
    let regrouped: PodsByNode = by_node
        .lists()
        .flat_map(|(_, l)| l.iter().cloned())
        .collect();
    assert_eq!(regrouped.len(), 4);
    assert_eq!(
        regrouped.namespaces().collect::<Vec<_>>(),
        ["calculator", "shop"]
    );
}

#[test]
fn a_new_snapshot_shares_the_pods_of_nodes_that_did_not_change() {
    let mut nodes = [node("n1", "linux", None), node("n2", "linux", None)];
    for n in &mut nodes {
        n.metadata.resource_version = Some("7".into());
    }
    let placed = |name: &str, node: &str| {
        Arc::new(PodPlacement::of(&pod(
            "shop",
            name,
            Some(node),
            running(),
            json!({}),
        )))
    };
    let mut by_node: PodsByNode = [placed("a", "n1"), placed("b", "n2")].into_iter().collect();
    let first = ClusterSnapshot::from_placements(&nodes, &by_node, [], [], None, None);
    by_node.insert(placed("c", "n2"));
    let second = ClusterSnapshot::from_placements(&nodes, &by_node, [], [], None, Some(&first));
    let pods = |s: &ClusterSnapshot, n: &str| s.node(n).unwrap().pods.clone();
    assert!(Arc::ptr_eq(&pods(&first, "n1"), &pods(&second, "n1")));
    assert!(!Arc::ptr_eq(&pods(&first, "n2"), &pods(&second, "n2")));
    assert_eq!(pods(&second, "n2").len(), 2);
    assert_eq!(second.node("n2").unwrap().cpu_requested_millis, 500);
    assert_eq!(second.pod_count, 3);
    assert_ne!(first, second);
    // The unchanged node keeps its very tile; the changed one gets a new one.
    let tile = |s: &ClusterSnapshot, n: &str| {
        s.lanes
            .iter()
            .flat_map(|l| l.groups.iter().flat_map(|g| g.nodes.iter()))
            .find(|t| t.name == n)
            .unwrap()
            .clone()
    };
    assert!(Arc::ptr_eq(&tile(&first, "n1"), &tile(&second, "n1")));
    assert!(!Arc::ptr_eq(&tile(&first, "n2"), &tile(&second, "n2")));
    // A heartbeat (a new resourceVersion, nothing the board shows) makes a new tile, and a
    // snapshot equal to the one before: the window is not asked to redraw.
    nodes[0].metadata.resource_version = Some("8".into());
    let third = ClusterSnapshot::from_placements(&nodes, &by_node, [], [], None, Some(&second));
    assert!(!Arc::ptr_eq(&tile(&second, "n1"), &tile(&third, "n1")));
    assert_eq!(second, third);
    // Cordoned: a new tile that says so.
    nodes[0].spec = Some(k8s_openapi::api::core::v1::NodeSpec {
        unschedulable: Some(true),
        ..Default::default()
    });
    nodes[0].metadata.resource_version = Some("9".into());
    let fourth = ClusterSnapshot::from_placements(&nodes, &by_node, [], [], None, Some(&third));
    assert!(fourth.node("n1").unwrap().unschedulable);
}
