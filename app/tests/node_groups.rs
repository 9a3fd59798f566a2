//! Node groups, start and finish: added from the project's eksctl file or from flags (with the
//! readiness findings first), and taken out of service only when no workload pod runs on them —
//! cordoned and drained through evictions, then scaled to zero or deleted — against moto server
//! and a local cluster that follows its node groups.

#![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

mod support;

use std::process::Output;
use std::time::Duration;

use support::moto::in_aws_env;
use support::{TestCluster, text};

const REGION: &str = "us-west-2";
const CLUSTER_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../manifests/cluster/hybrid-cluster.yaml"
);
const NODE_ROLE: &str = "arn:aws:iam::123456789012:role/node";

/// `hybrid-console --kubeconfig <cluster> <args>` in this process's AWS environment.
fn console(cluster: &TestCluster, args: &[&str]) -> Output {
    console_as(cluster, &cluster.kubeconfig, args)
}

/// The same as the user of `kubeconfig`.
fn console_as(cluster: &TestCluster, kubeconfig: &std::path::Path, args: &[&str]) -> Output {
    let kubeconfig = kubeconfig.to_string_lossy().into_owned();
    let mut all = vec!["--kubeconfig", kubeconfig.as_str()];
    all.extend_from_slice(args);
    std::process::Command::new(env!("CARGO_BIN_EXE_hybrid-console"))
        .args(&all)
        .env("HOME", cluster.dir())
        .env_remove("KUBECONFIG")
        .output()
        .unwrap()
}

fn wait_until(what: &str, seconds: u64, mut done: impl FnMut() -> bool) {
    test_harness::wait_for(seconds, what, || done().then_some(()));
}

fn nodes_of_group(cluster: &TestCluster, group: &str) -> Vec<String> {
    let out = cluster.kubectl().ok(&[
        "get",
        "nodes",
        "-l",
        &format!("eks.amazonaws.com/nodegroup={group}"),
        "-o",
        "jsonpath={.items[*].metadata.name}",
    ]);
    out.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn node_groups_are_added_and_retired_only_once_no_workload_runs_there() {
    const NAME: &str = "node_groups_are_added_and_retired_only_once_no_workload_runs_there";
    let Some(moto_url) = in_aws_env(NAME, REGION, |moto| moto.hybrid_cluster(REGION, "hybrid"))
    else {
        return;
    };
    // The local cluster's nodes are moto's node groups: 2 Windows, 2 Linux, the monolith on
    // the Windows ones.
    let cluster = TestCluster::start_following("hybrid", &moto_url, true);
    assert_eq!(nodes_of_group(&cluster, "windows").len(), 2);
    assert_eq!(nodes_of_group(&cluster, "linux").len(), 2);

    // Adding: the project's eksctl file names a group that exists already; an Arm instance
    // type cannot run Windows. Both are refused with the finding, before anything is created.
    let out = console(
        &cluster,
        &[
            "eks",
            "add-nodegroup",
            "--cluster",
            "hybrid",
            "--config",
            CLUSTER_FILE,
            "--nodegroup",
            "windows",
            "--node-role",
            NODE_ROLE,
            "--yes",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("cluster hybrid already has a node group named windows"),
        "{}",
        text(&out)
    );
    let out = console(
        &cluster,
        &[
            "eks",
            "add-nodegroup",
            "--cluster",
            "hybrid",
            "--name",
            "windows-2025",
            "--ami-type",
            "WINDOWS_CORE_2025_x86_64",
            "--instance-type",
            "m6g.large",
            "--node-role",
            NODE_ROLE,
            "--yes",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(
            "instance type m6g.large is Arm but AMI type WINDOWS_CORE_2025_x86_64 is x86_64"
        ),
        "{}",
        text(&out)
    );
    // Without a terminal to confirm on, nothing happens without --yes.
    let add_windows_2025 = [
        "eks",
        "add-nodegroup",
        "--cluster",
        "hybrid",
        "--name",
        "windows-2025",
        "--ami-type",
        "WINDOWS_CORE_2025_x86_64",
        "--instance-type",
        "t3.large",
        "--desired",
        "1",
        "--taint",
        "os=windows:NoSchedule",
        "--node-role",
        NODE_ROLE,
    ];
    let out = console(&cluster, &add_windows_2025);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("pass --yes"), "{}", text(&out));
    let out = console(&cluster, &[&add_windows_2025[..], &["--yes"]].concat());
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("PASS  Windows IP address management"),
        "{}",
        text(&out)
    );
    // EKS has it, and its node joins the cluster with the group's taint.
    let listed = console(&cluster, &["eks", "clusters", "-o", "json"]);
    let clusters: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let added = clusters[0]["nodeGroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "windows-2025")
        .cloned()
        .unwrap();
    assert_eq!(
        (added["os"].as_str(), added["desired"].as_i64()),
        (Some("windows"), Some(1))
    );
    wait_until("the new group's node", 20, || {
        nodes_of_group(&cluster, "windows-2025").len() == 1
    });
    let node = nodes_of_group(&cluster, "windows-2025")[0].clone();
    let taints = cluster
        .kubectl()
        .ok(&["get", "node", &node, "-o", "jsonpath={.spec.taints}"]);
    assert!(
        taints.contains("\"key\":\"os\"") && taints.contains("\"value\":\"windows\""),
        "{taints}"
    );

    // Retiring: refused while the monolith runs on the Windows nodes, naming its pods.
    for args in [
        vec![
            "eks",
            "scale-nodegroup",
            "--cluster",
            "hybrid",
            "--nodegroup",
            "windows",
            "--size",
            "0",
            "--yes",
        ],
        vec![
            "eks",
            "delete-nodegroup",
            "--cluster",
            "hybrid",
            "--nodegroup",
            "windows",
            "--yes",
        ],
    ] {
        let out = console(&cluster, &args);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let said = text(&out);
        assert!(
            said.contains("Refusing to")
                && said.contains("workload pod(s) still run on its nodes: calculator/monolith-"),
            "{said}"
        );
    }
    let unchanged = cluster.kubectl().ok(&[
        "get",
        "nodes",
        "-o",
        "jsonpath={.items[*].spec.unschedulable}",
    ]);
    assert!(
        !unchanged.contains("true"),
        "a refusal cordons nothing: {unchanged}"
    );

    // A Windows DaemonSet's pods do not hold a group back.
    cluster.apply(
        r#"
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: log-agent, namespace: kube-system}
spec:
  selector: {matchLabels: {app: log-agent}}
  template:
    metadata: {labels: {app: log-agent}}
    spec:
      nodeSelector: {kubernetes.io/os: windows}
      tolerations: [{operator: Exists}]
      containers: [{name: agent, image: "mcr.microsoft.com/windows/nanoserver:ltsc2022"}]
"#,
    );
    cluster.kubectl().ok(&[
        "-n",
        "kube-system",
        "rollout",
        "status",
        "ds/log-agent",
        "--timeout=60s",
    ]);
    // A Cluster Autoscaler could scale the group up again: the console says so.
    cluster.apply(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: cluster-autoscaler, namespace: kube-system}
spec:
  selector: {matchLabels: {app: cluster-autoscaler}}
  template:
    metadata: {labels: {app: cluster-autoscaler}}
    spec:
      nodeSelector: {kubernetes.io/os: linux}
      containers: [{name: cluster-autoscaler, image: "registry.k8s.io/autoscaling/cluster-autoscaler:v1.33.0"}]
"#,
    );
    // Once the monolith is gone from Windows, the group is drained and scaled to zero: EKS
    // says 0 and its nodes leave the cluster.
    cluster.kubectl().ok(&[
        "-n",
        "calculator",
        "scale",
        "deployment",
        "monolith",
        "--replicas=0",
    ]);
    wait_until("the monolith's pods to go", 30, || {
        cluster
            .kubectl()
            .ok(&[
                "-n",
                "calculator",
                "get",
                "pods",
                "-l",
                "app.kubernetes.io/component=monolith",
                "-o",
                "name",
            ])
            .trim()
            .is_empty()
    });
    let out = console(
        &cluster,
        &[
            "eks",
            "scale-nodegroup",
            "--cluster",
            "hybrid",
            "--nodegroup",
            "windows",
            "--size",
            "0",
            "--yes",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("cordoned ip-"), "{said}");
    assert!(
        said.contains(
            "warning: Cluster Autoscaler runs in this cluster (kube-system/cluster-autoscaler)"
        ),
        "{said}"
    );
    assert!(
        said.contains("EKS is scaling node group windows of cluster hybrid to 0 nodes"),
        "{said}"
    );
    wait_until("the Windows group's nodes to leave", 30, || {
        nodes_of_group(&cluster, "windows").is_empty()
    });
    let listed = console(&cluster, &["eks", "clusters", "-o", "json"]);
    let clusters: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let windows = clusters[0]["nodeGroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "windows")
        .cloned()
        .unwrap();
    assert_eq!(
        (windows["min"].as_i64(), windows["desired"].as_i64()),
        (Some(0), Some(0))
    );

    // The added group is deleted the same way; EKS no longer lists it, and its node leaves.
    let out = console(
        &cluster,
        &[
            "eks",
            "delete-nodegroup",
            "--cluster",
            "hybrid",
            "--nodegroup",
            "windows-2025",
            "--yes",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("EKS is deleting node group windows-2025"),
        "{}",
        text(&out)
    );
    wait_until("the deleted group's node to leave", 30, || {
        nodes_of_group(&cluster, "windows-2025").is_empty()
    });
    let listed = console(&cluster, &["eks", "clusters", "-o", "json"]);
    let clusters: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert!(
        !clusters[0]["nodeGroups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "windows-2025"),
        "{clusters:#}"
    );
    // An unknown group is named with the ones there are.
    let out = console(
        &cluster,
        &[
            "eks",
            "delete-nodegroup",
            "--cluster",
            "hybrid",
            "--nodegroup",
            "gpu",
            "--yes",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("cluster hybrid has no node group \"gpu\" (it has: linux, windows)"),
        "{}",
        text(&out)
    );
}

#[test]
fn the_drain_waits_for_the_disruption_budget_and_then_evicts() {
    let cluster = TestCluster::start(false);
    let linux = cluster.nodes_of("linux");
    // Two replicas, both on one Linux node (the other is cordoned), and a budget that needs both.
    cluster.kubectl().ok(&["cordon", &linux[1]]);
    cluster.apply(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeSelector: {kubernetes.io/os: linux}
      containers: [{name: web, image: "nginx:1.27"}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: default}
spec:
  minAvailable: 2
  selector: {matchLabels: {app: web}}
"#,
    );
    cluster
        .kubectl()
        .ok(&["rollout", "status", "deploy/web", "--timeout=60s"]);
    cluster.kubectl().ok(&["uncordon", &linux[1]]);
    wait_until("the budget's status", 20, || {
        cluster.kubectl().ok(&[
            "get",
            "pdb",
            "web",
            "-o",
            "jsonpath={.status.currentHealthy}",
        ]) == "2"
    });
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let target = hybrid_console::cluster::connection::ConnectionTarget::Kubeconfig {
        path: Some(cluster.kubeconfig.clone()),
        context: None,
    };
    let connection = runtime
        .block_on(hybrid_console::cluster::connection::open(&target, None))
        .unwrap();
    let seen = std::sync::Mutex::new(Vec::<String>::new());
    let progress = |line: String| seen.lock().unwrap().push(line);
    let nodes = vec![linux[0].clone()];
    let refused = runtime.block_on(hybrid_console::eks::retirement::drain(
        &connection,
        &nodes,
        Duration::from_secs(3),
        Duration::from_millis(500),
        &progress,
    ));
    let message = refused.unwrap_err().to_string();
    assert!(
        message.contains("the drain did not finish within 3 s")
            && message
                .contains("Cannot evict pod as it would violate the pod's disruption budget."),
        "{message}"
    );
    assert!(message.contains("default/web-"), "{message}");
    assert_eq!(
        cluster.kubectl().ok(&[
            "get",
            "node",
            &linux[0],
            "-o",
            "jsonpath={.spec.unschedulable}"
        ]),
        "true"
    );
    // With room in the budget, one goes, its replacement lands on the other node, then the
    // second goes.
    cluster.kubectl().ok(&[
        "patch",
        "pdb",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec":{"minAvailable":1}}"#,
    ]);
    let evicted = runtime
        .block_on(hybrid_console::eks::retirement::drain(
            &connection,
            &nodes,
            Duration::from_secs(60),
            Duration::from_millis(500),
            &progress,
        ))
        .unwrap();
    assert_eq!(evicted, 2, "{:?}", seen.lock().unwrap());
    let placed = cluster.kubectl().ok(&[
        "get",
        "pods",
        "-l",
        "app=web",
        "-o",
        "jsonpath={.items[*].spec.nodeName}",
    ]);
    assert!(!placed.contains(&linux[0]), "{placed}");
}

#[test]
fn eks_check_judges_the_node_groups_from_the_eks_api() {
    const NAME: &str = "eks_check_judges_the_node_groups_from_the_eks_api";
    // A Windows group on Graviton (Windows runs only on x86_64), and no Linux group.
    let Some(_) = in_aws_env(NAME, REGION, |moto| {
        moto.python(
            REGION,
            "eks.create_cluster(name='arm', version='1.33', roleArn='arn:aws:iam::123456789012:role/eks', resourcesVpcConfig={'subnetIds': ['subnet-1']})
eks.create_nodegroup(clusterName='arm', nodegroupName='windows', nodeRole='arn:aws:iam::123456789012:role/node', subnets=['subnet-1'], amiType='WINDOWS_CORE_2022_x86_64', instanceTypes=['m6g.large'], scalingConfig={'minSize': 0, 'desiredSize': 2, 'maxSize': 2})
",
        );
    }) else {
        return;
    };
    let cluster = TestCluster::start(false);
    let out = console(
        &cluster,
        &["eks", "check", "--cluster", "arm", "-o", "json"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let finding = |id: &str| {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["check"] == id)
            .cloned()
            .unwrap()
    };
    let groups = finding("windows-node-groups");
    assert_eq!(groups["severity"], "failed");
    assert!(
        groups["evidence"][0].as_str().unwrap().contains(
            "windows: instance type m6g.large is Arm (Graviton); Windows on EKS runs only on x86_64"
        ),
        "{groups:#}"
    );
    // Linux nodes exist (the stand-in's), but EKS manages no Linux group.
    assert_eq!(finding("linux-nodes")["severity"], "warning");
    assert_eq!(report["cluster"], "arm");
    // The same check without the EKS API skips what only EKS knows.
    let out = console(&cluster, &["check", "-o", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let skipped = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "windows-node-groups")
        .cloned()
        .unwrap();
    assert_eq!(skipped["severity"], "skipped");
}

#[test]
fn taking_a_group_out_of_service_needs_the_drain_role_from_the_rbac_manifest() {
    const NAME: &str = "taking_a_group_out_of_service_needs_the_drain_role_from_the_rbac_manifest";
    let Some(moto_url) = in_aws_env(NAME, REGION, |moto| moto.hybrid_cluster(REGION, "hybrid"))
    else {
        return;
    };
    let cluster = TestCluster::start_following("hybrid", &moto_url, true);
    let manifest = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../manifests/console/rbac.yaml"
    );
    cluster.kubectl().ok(&["apply", "-f", manifest]);
    let viewer = cluster.user_in_groups("vera", &["hybrid-console:viewers"]);
    let operator = cluster.user_in_groups("otto", &["hybrid-console:node-operators"]);
    let scale_linux_to_zero = [
        "eks",
        "scale-nodegroup",
        "--cluster",
        "hybrid",
        "--nodegroup",
        "linux",
        "--size",
        "0",
        "--yes",
    ];
    let linux = nodes_of_group(&cluster, "linux");
    assert_eq!(linux.len(), 2);

    // A viewer is refused before any node is cordoned or EKS asked, told what is missing.
    let out = console_as(&cluster, &viewer, &scale_linux_to_zero);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("not allowed: patch nodes, create pods/eviction (cluster-wide)")
            && said.contains("hybrid-console:drain"),
        "{said}"
    );
    let cordoned = cluster.kubectl().ok(&[
        "get",
        "nodes",
        "-o",
        "jsonpath={.items[*].spec.unschedulable}",
    ]);
    assert_eq!(cordoned.trim(), "", "a node was cordoned: {said}");
    assert_eq!(nodes_of_group(&cluster, "linux"), linux);

    // A node operator (viewer as well, by the manifest's bindings) takes the group out.
    let out = console_as(&cluster, &operator, &scale_linux_to_zero);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("cordoned ip-"), "{said}");
    assert!(
        said.contains("EKS is scaling node group linux of cluster hybrid to 0 nodes"),
        "{said}"
    );
    wait_until("the Linux group's nodes to leave", 30, || {
        nodes_of_group(&cluster, "linux").is_empty()
    });
}

#[test]
fn instance_facts_come_from_ec2_and_previous_generations_are_warned_of() {
    const NAME: &str = "instance_facts_come_from_ec2_and_previous_generations_are_warned_of";
    // Windows groups on a previous-generation type without ENA (m4.large), the one M4 with ENA
    // (m4.16xlarge, no nodes), and a type the console never had in a table (i3en.xlarge: 15
    // IPv4 per interface, where the local cluster's nodes advertise 9).
    let Some(moto_url) = in_aws_env(NAME, REGION, |moto| {
        moto.python(
            REGION,
            "eks.create_cluster(name='facts', version='1.33', roleArn='arn:aws:iam::123456789012:role/eks', resourcesVpcConfig={'subnetIds': ['subnet-1']})
for group, ami, types, size in [('legacy', 'WINDOWS_CORE_2022_x86_64', ['m4.large'], 1), ('big', 'WINDOWS_CORE_2022_x86_64', ['m4.16xlarge'], 0), ('wide', 'WINDOWS_CORE_2022_x86_64', ['i3en.xlarge'], 1), ('linux', 'AL2023_x86_64_STANDARD', ['t3.medium'], 2)]:
    eks.create_nodegroup(clusterName='facts', nodegroupName=group, nodeRole='arn:aws:iam::123456789012:role/node', subnets=['subnet-1'], amiType=ami, instanceTypes=types, scalingConfig={'minSize': 0, 'desiredSize': size, 'maxSize': 4})
",
        );
    }) else {
        return;
    };
    let cluster = TestCluster::start_following("facts", &moto_url, false);
    assert_eq!(nodes_of_group(&cluster, "wide").len(), 1);
    let check = |extra_env: &[(&str, &str)]| {
        let kubeconfig = cluster.kubeconfig.to_string_lossy().into_owned();
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_hybrid-console"));
        command
            .args(["--kubeconfig", kubeconfig.as_str()])
            .args([
                "eks",
                "check",
                "--cluster",
                "facts",
                "--no-registry",
                "-o",
                "json",
            ])
            .env("HOME", cluster.dir())
            .env_remove("KUBECONFIG");
        for (k, v) in extra_env {
            command.env(k, v);
        }
        let out = command.output().unwrap();
        let report: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
        let finding = |id: &str| {
            report["findings"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["check"] == id)
                .cloned()
                .unwrap()
        };
        (
            finding("windows-node-groups"),
            finding("windows-pod-capacity"),
        )
    };
    let (groups, capacity) = check(&[]);
    assert_eq!(groups["severity"], "warning", "{groups:#}");
    let evidence = groups["evidence"].to_string();
    assert!(
        evidence.contains("legacy: instance type m4.large is of a previous generation without ENA")
            && evidence.contains("current documentation no longer does"),
        "{groups:#}"
    );
    assert!(!evidence.contains("m4.16xlarge is"), "{groups:#}");
    let wide = nodes_of_group(&cluster, "wide")[0].clone();
    let capacity_evidence = capacity["evidence"].to_string();
    assert!(
        capacity_evidence.contains(&format!(
            "{wide}: 0 of 14 pod addresses used (i3en.xlarge: 15 IPv4 per ENI − 1, from EC2)"
        )),
        "{capacity:#}"
    );
    assert!(
        capacity_evidence.contains("m4.large: 10 IPv4 per ENI − 1, from EC2"),
        "{capacity:#}"
    );

    // EC2 out of reach: nothing fails; the nodes' own figures stand in, and the check says why.
    let (groups, capacity) = check(&[("AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:9/")]);
    assert_eq!(groups["severity"], "passed", "{groups:#}");
    assert!(
        groups["evidence"].to_string().contains(
            "EC2's instance-type facts could not be read (EC2: cannot reach it in us-west-2"
        ),
        "{groups:#}"
    );
    assert!(
        capacity["evidence"].to_string().contains(&format!(
            "{wide}: 0 of 9 pod addresses used (i3en.xlarge: 9 advertised by the node (EC2 could not be read: EC2: cannot reach it"
        )),
        "{capacity:#}"
    );

    // The add dialog's review (here the CLI's): EC2's facts of the type and the warning, and
    // nothing added without --yes.
    let out = console(
        &cluster,
        &[
            "eks",
            "add-nodegroup",
            "--cluster",
            "facts",
            "--name",
            "windows-m4",
            "--ami-type",
            "WINDOWS_CORE_2022_x86_64",
            "--instance-type",
            "m4.large",
            "--taint",
            "os=windows:NoSchedule",
            "--node-role",
            NODE_ROLE,
        ],
    );
    let said = text(&out);
    assert!(
        said.contains(
            "m4.large: 2 vCPU, 8 GiB, 2 ENIs × 10 IPv4, x86_64; a node holds 9 Windows pods"
        ),
        "{said}"
    );
    assert!(
        said.contains("on a previous-generation instance type without ENA"),
        "{said}"
    );
    assert_eq!(out.status.code(), Some(1), "{said}");
}

/// One `GetCostAndUsage` answer: daily costs by `eks:nodegroup-name` (`""` is untagged cost).
fn cost_answer(days: &[(&str, &str, f64)]) -> serde_json::Value {
    let mut by_day: std::collections::BTreeMap<&str, Vec<serde_json::Value>> = Default::default();
    for (day, group, amount) in days {
        by_day.entry(day).or_default().push(serde_json::json!({
            "Keys": [format!("eks:nodegroup-name${group}")],
            "Metrics": {"UnblendedCost": {"Amount": amount.to_string(), "Unit": "USD"}},
        }));
    }
    serde_json::json!({
        "ResultsByTime": by_day.into_iter().map(|(day, groups)| serde_json::json!({
            "TimePeriod": {"Start": day, "End": day},
            "Total": {},
            "Groups": groups,
            "Estimated": false,
        })).collect::<Vec<_>>(),
        "DimensionValueAttributes": [],
    })
}

fn costs_of(out: &Output) -> serde_json::Value {
    let status: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)));
    status["costs"].clone()
}

fn group_cost<'a>(costs: &'a serde_json::Value, group: &str) -> &'a serde_json::Value {
    costs["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == group)
        .unwrap_or_else(|| panic!("no group {group} in {costs:#}"))
}

#[test]
fn costs_come_from_cost_explorer_by_node_group_and_the_estimate_says_why_when_it_cannot() {
    const NAME: &str =
        "costs_come_from_cost_explorer_by_node_group_and_the_estimate_says_why_when_it_cannot";
    let Some(moto_url) = in_aws_env(NAME, REGION, |moto| {
        moto.hybrid_cluster(REGION, "hybrid");
        // The first request (cluster hybrid) gets tagged costs; the next (another cluster) only
        // untagged ones, as when the tag is not activated for cost allocation.
        moto.queue_cost_results(&serde_json::json!([
            cost_answer(&[
                ("2026-12-05", "windows", 5.0),
                ("2026-12-05", "linux", 2.0),
                ("2026-12-06", "windows", 6.0),
                ("2026-12-06", "linux", 2.0),
                ("2026-12-06", "", 1.5),
            ]),
            cost_answer(&[("2026-12-06", "", 9.0)]),
        ]));
    }) else {
        return;
    };
    let cluster = TestCluster::start_following("hybrid", &moto_url, false);
    let days_a_month = 730.0 / 24.0;

    let out = console(
        &cluster,
        &["status", "-o", "json", "--cost-explorer", "hybrid"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let costs = costs_of(&out);
    let windows = group_cost(&costs, "windows");
    assert_eq!(windows["source"], "cost-explorer", "{costs:#}");
    assert_eq!(windows["last30Days"], 11.0);
    assert!((windows["monthly"].as_f64().unwrap() - 6.0 * days_a_month).abs() < 1e-6);
    // Cost Explorer does not split the licence out; the price file's share of it does.
    assert!(windows["windowsLicenceMonthly"].as_f64().unwrap() > 0.0);
    let linux = group_cost(&costs, "linux");
    assert_eq!(linux["last30Days"], 4.0);
    let lane = costs["lanes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["os"] == "windows")
        .unwrap();
    assert!((lane["monthly"].as_f64().unwrap() - 6.0 * days_a_month).abs() < 1e-6);
    assert!(costs.get("costExplorer").is_none(), "{costs:#}");
    // The text says the same on the lane and group lines.
    let out = console(&cluster, &["status", "--cost-explorer", "hybrid"]);
    let said = text(&out);
    assert!(
        said.contains("WINDOWS (2 nodes)  $183/month (Cost Explorer)")
            && said.contains("node group windows (2 nodes)  $183/month (Cost Explorer)"),
        "{said}"
    );

    // Costs without the tag: the estimate, and what to activate.
    let out = console(
        &cluster,
        &["status", "-o", "json", "--cost-explorer", "other"],
    );
    let costs = costs_of(&out);
    assert_eq!(group_cost(&costs, "windows")["source"], "estimate");
    assert!(
        costs["costExplorer"]
            .as_str()
            .unwrap()
            .contains("activate it as a cost allocation tag"),
        "{costs:#}"
    );
    // Two t3.large Windows nodes at the price file's $0.1108 an hour.
    let estimate = group_cost(&costs, "windows")["monthly"].as_f64().unwrap();
    assert!((estimate - 2.0 * 0.1108 * 730.0).abs() < 1e-6, "{costs:#}");

    // Without --cost-explorer (a kubeconfig connection), nothing is asked: the estimate alone.
    let out = console(&cluster, &["status", "-o", "json"]);
    let costs = costs_of(&out);
    assert!(costs.get("costExplorer").is_none(), "{costs:#}");
    assert_eq!(group_cost(&costs, "linux")["source"], "estimate");

    // A price file of one's own: its figures, and a broken one named with its line.
    let prices = cluster.dir().join("prices.yaml");
    std::fs::write(
        &prices,
        "asOf: '2026-12-01'\nsource: our contract\ncurrency: USD\nregions:\n  us-east-1: {t3.large: {linux: 0.05, windows: 0.10}}\n  us-west-2: {t3.large: {linux: 0.05, windows: 0.10}}\n",
    )
    .unwrap();
    let out = console(
        &cluster,
        &["status", "-o", "json", "--prices", prices.to_str().unwrap()],
    );
    let costs = costs_of(&out);
    assert!((group_cost(&costs, "windows")["monthly"].as_f64().unwrap() - 146.0).abs() < 1e-6);
    assert_eq!(costs["prices"], "our contract as of 2026-12-01");
    std::fs::write(&prices, "asOf: x\nregions:\n  us-east-1: [\n").unwrap();
    let out = console(&cluster, &["status", "--prices", prices.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("prices.yaml: "), "{}", text(&out));

    // An identity without ce:GetCostAndUsage (moto enforcing IAM): the permission is named.
    let strict = support::moto::Moto::start_enforcing_iam(3);
    let keys = strict.python(
        REGION,
        "import json\niam = boto3.client('iam', **kw)\niam.create_user(UserName='viewer')\nkey = iam.create_access_key(UserName='viewer')['AccessKey']\niam.put_user_policy(UserName='viewer', PolicyName='eks-only', PolicyDocument=json.dumps({'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': ['eks:*', 'sts:*'], 'Resource': '*'}]}))\nprint(key['AccessKeyId'], key['SecretAccessKey'])\n",
    );
    let keys = String::from_utf8(keys.stdout).unwrap();
    let (id, secret) = keys.trim().split_once(' ').unwrap();
    let kubeconfig = cluster.kubeconfig.to_string_lossy().into_owned();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hybrid-console"))
        .args(["--kubeconfig", kubeconfig.as_str()])
        .args(["status", "-o", "json", "--cost-explorer", "hybrid"])
        .env("HOME", cluster.dir())
        .env_remove("KUBECONFIG")
        .env("AWS_ENDPOINT_URL", &strict.url)
        .env("AWS_ACCESS_KEY_ID", id)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let costs = costs_of(&out);
    let why = costs["costExplorer"].as_str().unwrap();
    assert!(
        why.contains("this identity may not call ce:GetCostAndUsage")
            && why.contains("not authorized to perform: ce:GetCostAndUsage"),
        "{why}"
    );
    assert_eq!(group_cost(&costs, "windows")["source"], "estimate");
}
