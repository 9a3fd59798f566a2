//! The API server as kubectl sees it: discovery, tables, every verb and patch type, selectors,
//! pagination, watches, apply (client- and server-side), explain, and the real error messages.

mod support;

use support::Cluster;

const MANIFESTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests/calculator");

fn configmap(name: &str, labels: &str, data: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\n  labels: {{{labels}}}\ndata: {{{data}}}\n"
    )
}

#[test]
fn nodes_look_like_eks_windows_and_linux_nodes() {
    let cluster = Cluster::start();
    let nodes = cluster.json(&["get", "nodes"]);
    let items = nodes["items"].as_array().expect("items");
    assert_eq!(items.len(), 4);
    let windows: Vec<_> = items
        .iter()
        .filter(|n| n["metadata"]["labels"]["kubernetes.io/os"] == "windows")
        .collect();
    let linux: Vec<_> = items
        .iter()
        .filter(|n| n["metadata"]["labels"]["kubernetes.io/os"] == "linux")
        .collect();
    assert_eq!((windows.len(), linux.len()), (2, 2));
    for node in &windows {
        assert_eq!(
            node["metadata"]["labels"]["eks.amazonaws.com/nodegroup"],
            "windows"
        );
        assert_eq!(node["metadata"]["labels"]["kubernetes.io/arch"], "amd64");
        assert!(node["metadata"]["labels"]["node.kubernetes.io/instance-type"].is_string());
        assert_eq!(
            node["spec"]["taints"][0],
            serde_json::json!({"key": "os", "value": "windows", "effect": "NoSchedule"})
        );
        assert_eq!(node["status"]["nodeInfo"]["operatingSystem"], "windows");
        assert!(
            node["status"]["nodeInfo"]["osImage"]
                .as_str()
                .unwrap()
                .starts_with("Windows Server")
        );
    }
    for node in &linux {
        assert_eq!(
            node["metadata"]["labels"]["eks.amazonaws.com/nodegroup"],
            "linux"
        );
        assert!(node["spec"]["taints"].is_null());
        assert_eq!(node["status"]["nodeInfo"]["operatingSystem"], "linux");
    }
    for node in items {
        let ready = node["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap();
        assert_eq!(ready["status"], "True");
        assert!(
            node["status"]["capacity"]["cpu"].is_string()
                && node["status"]["allocatable"]["pods"].is_string()
        );
        let ip: std::net::IpAddr = node["status"]["addresses"][0]["address"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(ip.is_loopback());
        // Really reachable on this machine: a socket can be bound to it.
        std::net::TcpListener::bind((ip, 0)).expect("node IP is a local address");
    }
    let leases = cluster.json(&["get", "leases", "-n", "kube-node-lease"]);
    assert_eq!(
        leases["items"].as_array().unwrap().len(),
        4,
        "one heartbeat Lease per node"
    );

    let table = cluster.ok(&["get", "nodes"]);
    assert!(
        table.starts_with("NAME")
            && table.contains("STATUS")
            && table.contains("ROLES")
            && table.contains("VERSION"),
        "{table}"
    );
    assert!(table.contains("Ready"));
    let wide = cluster.ok(&["get", "nodes", "-o", "wide"]);
    for column in [
        "INTERNAL-IP",
        "OS-IMAGE",
        "KERNEL-VERSION",
        "CONTAINER-RUNTIME",
        "Windows Server 2022",
        "ip-127-",
    ] {
        assert!(wide.contains(column), "{column} missing from:\n{wide}");
    }
}

#[test]
fn apply_twice_is_unchanged_then_configured_and_server_side_apply_works() {
    let cluster = Cluster::start();
    let first = cluster.ok(&["apply", "-f", MANIFESTS]);
    assert!(
        first.contains("namespace/calculator created")
            && first.contains("deployment.apps/monolith created"),
        "{first}"
    );
    let second = cluster.ok(&["apply", "-f", MANIFESTS]);
    assert!(
        !second.contains("configured") && second.contains("deployment.apps/monolith unchanged"),
        "{second}"
    );

    let monolith = std::fs::read_to_string(format!("{MANIFESTS}/monolith.yaml"))
        .unwrap()
        .replace("replicas: 2", "replicas: 3");
    let third = cluster.ok_stdin(&["apply", "-f", "-"], &monolith);
    assert!(
        third.contains("deployment.apps/monolith configured"),
        "{third}"
    );
    let deployment = cluster.json(&["get", "deployment", "monolith", "-n", "calculator"]);
    assert_eq!(deployment["spec"]["replicas"], 3);
    assert_eq!(
        deployment["metadata"]["generation"], 2,
        "a spec change bumps generation"
    );
    assert!(
        deployment["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .is_string()
    );
    // Defaults a real server applies.
    assert_eq!(deployment["spec"]["progressDeadlineSeconds"], 600);
    assert_eq!(
        deployment["spec"]["template"]["spec"]["restartPolicy"],
        "Always"
    );
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["terminationMessagePath"],
        "/dev/termination-log"
    );

    let sum = format!("{MANIFESTS}/services/sum-service.yaml");
    let applied = cluster.ok(&["apply", "--server-side", "-f", &sum]);
    assert!(
        applied.contains("deployment.apps/sum-service serverside-applied"),
        "{applied}"
    );
    let deployment = cluster.json(&[
        "get",
        "deployment",
        "sum-service",
        "-n",
        "calculator",
        "--show-managed-fields",
    ]);
    let managers: Vec<&str> = deployment["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["manager"].as_str().unwrap())
        .collect();
    assert_eq!(managers, ["kubectl"]);
    assert!(
        deployment["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:replicas"].is_object()
    );

    // Another manager setting the same field to another value conflicts, unless forced.
    let scaled = std::fs::read_to_string(&sum)
        .unwrap()
        .replace("replicas: 2", "replicas: 4");
    let conflict = cluster.fails_stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager",
            "ops",
            "-f",
            "-",
        ],
        &scaled,
    );
    assert!(
        conflict.contains("Apply failed with 1 conflict: conflict with \"kubectl\"")
            && conflict.contains(".spec.replicas"),
        "{conflict}"
    );
    cluster.ok_stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager",
            "ops",
            "--force-conflicts",
            "-f",
            "-",
        ],
        &scaled,
    );
    assert_eq!(
        cluster.json(&["get", "deployment", "sum-service", "-n", "calculator"])["spec"]["replicas"],
        4
    );

    // Server-side dry run changes nothing.
    cluster.ok_stdin(
        &["apply", "--dry-run=server", "-f", "-"],
        &monolith.replace("replicas: 3", "replicas: 7"),
    );
    assert_eq!(
        cluster.json(&["get", "deployment", "monolith", "-n", "calculator"])["spec"]["replicas"],
        3
    );
}

#[test]
fn create_replace_patch_scale_and_delete() {
    let cluster = Cluster::start();
    let out = cluster.ok_stdin(
        &["create", "-f", "-"],
        &configmap("settings", "app: demo", "mode: a"),
    );
    assert!(out.contains("configmap/settings created"));
    let exists = cluster.fails_stdin(
        &["create", "-f", "-"],
        &configmap("settings", "app: demo", "mode: a"),
    );
    assert!(
        exists.contains("AlreadyExists")
            && exists.contains("configmaps \"settings\" already exists"),
        "{exists}"
    );

    // replace with the current resourceVersion works; a stale one is a conflict.
    let current = cluster.json(&["get", "configmap", "settings"]);
    let stale_version = current["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut replaced = current.clone();
    replaced["data"]["mode"] = serde_json::json!("b");
    cluster.ok_stdin(&["replace", "-f", "-"], &replaced.to_string());
    let mut stale = current.clone();
    stale["data"]["mode"] = serde_json::json!("c");
    stale["metadata"]["resourceVersion"] = serde_json::json!(stale_version);
    let conflict = cluster.fails_stdin(&["replace", "-f", "-"], &stale.to_string());
    assert!(conflict.contains("the object has been modified; please apply your changes to the latest version and try again"), "{conflict}");

    cluster.ok(&[
        "patch",
        "configmap",
        "settings",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"merged":"yes"}}"#,
    ]);
    cluster.ok(&[
        "patch",
        "configmap",
        "settings",
        "--type",
        "json",
        "-p",
        r#"[{"op":"replace","path":"/data/mode","value":"json"}]"#,
    ]);
    cluster.ok(&[
        "patch",
        "configmap",
        "settings",
        "-p",
        r#"{"metadata":{"labels":{"patched":"strategic"}}}"#,
    ]);
    let patched = cluster.json(&["get", "configmap", "settings"]);
    assert_eq!(
        patched["data"],
        serde_json::json!({"mode": "json", "merged": "yes"})
    );
    assert_eq!(
        patched["metadata"]["labels"],
        serde_json::json!({"app": "demo", "patched": "strategic"})
    );
    let failed_test = cluster.fails(&[
        "patch",
        "configmap",
        "settings",
        "--type",
        "json",
        "-p",
        r#"[{"op":"test","path":"/data/mode","value":"other"}]"#,
    ]);
    assert!(
        failed_test.contains("Invalid") || failed_test.contains("rejected"),
        "{failed_test}"
    );

    // Strategic merge by container name, and the scale subresource.
    cluster.ok(&["apply", "-f", &format!("{MANIFESTS}/00-namespace.yaml")]);
    cluster.ok(&[
        "apply",
        "-f",
        &format!("{MANIFESTS}/services/division-service.yaml"),
    ]);
    cluster.ok(&["patch", "deployment", "division-service", "-n", "calculator", "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"calculator","env":[{"name":"EXTRA","value":"1"}]}]}}}}"#]);
    let d = cluster.json(&["get", "deployment", "division-service", "-n", "calculator"]);
    let env: Vec<&str> = d["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        env,
        ["POD_NAME", "POD_NAMESPACE", "NODE_NAME", "EXTRA"],
        "env merged by name"
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "ghcr.io/hybrid-console/calculator:0.1.0"
    );
    cluster.ok(&[
        "scale",
        "deployment",
        "division-service",
        "-n",
        "calculator",
        "--replicas=5",
    ]);
    let scale = cluster.ok(&[
        "get",
        "--raw",
        "/apis/apps/v1/namespaces/calculator/deployments/division-service/scale",
    ]);
    let scale: serde_json::Value = serde_json::from_str(&scale).unwrap();
    assert_eq!(
        (scale["kind"].as_str(), scale["spec"]["replicas"].as_i64()),
        (Some("Scale"), Some(5))
    );

    let deleted = cluster.ok(&["delete", "configmap", "settings"]);
    assert!(
        deleted.contains("configmap \"settings\" deleted"),
        "{deleted}"
    );
    let gone = cluster.fails(&["get", "configmap", "settings"]);
    assert!(
        gone.contains("Error from server (NotFound): configmaps \"settings\" not found"),
        "{gone}"
    );
    // dry-run create and delete write nothing.
    cluster.ok_stdin(
        &["create", "--dry-run=server", "-f", "-"],
        &configmap("ghost", "a: b", "x: z"),
    );
    assert!(
        cluster
            .fails(&["get", "configmap", "ghost"])
            .contains("not found")
    );
}

#[test]
fn label_and_field_selectors_filter_lists() {
    let cluster = Cluster::start();
    let objects = [
        configmap("a", "app: web, tier: front, env: prod", "k: v"),
        configmap("b", "app: web, tier: back, env: dev", "k: v"),
        configmap("c", "app: db, env: prod, legacy: \"yes\"", "k: v"),
    ]
    .join("---\n");
    cluster.ok_stdin(&["create", "-f", "-"], &objects);
    let names = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["get", "configmaps", "-o", "name"];
        all.extend_from_slice(args);
        let mut out: Vec<String> = cluster
            .ok(&all)
            .lines()
            .map(|l| l.trim_start_matches("configmap/").to_owned())
            .collect();
        out.sort();
        out
    };
    assert_eq!(names(&["-l", "app=web"]), ["a", "b"]);
    assert_eq!(names(&["-l", "app==web,tier!=front"]), ["b"]);
    assert_eq!(names(&["-l", "env in (prod,staging)"]), ["a", "c"]);
    assert_eq!(names(&["-l", "env notin (prod)"]), ["b"]);
    assert_eq!(names(&["-l", "legacy"]), ["c"]);
    assert_eq!(names(&["-l", "!legacy,app"]), ["a", "b"]);
    assert_eq!(names(&["--field-selector", "metadata.name=b"]), ["b"]);
    assert_eq!(
        names(&[
            "--field-selector",
            "metadata.name!=b,metadata.namespace=default",
            "-l",
            "app"
        ]),
        ["a", "c"]
    );
    let bad = cluster.fails(&["get", "configmaps", "--field-selector", "spec.nodeName=x"]);
    assert!(
        bad.contains("field label not supported: spec.nodeName"),
        "{bad}"
    );

    // Pods select by spec.nodeName and status.phase.
    let pod = |name: &str, node: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: default\nspec:\n  nodeName: {node}\n  containers:\n  - name: c\n    image: example.com/app:1\n"
        )
    };
    let nodes = cluster.ok(&["get", "nodes", "-o", "name"]);
    let first = nodes
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("node/")
        .to_owned();
    cluster.ok_stdin(
        &["create", "-f", "-"],
        &format!("{}---\n{}", pod("p1", &first), pod("p2", "elsewhere")),
    );
    let out = cluster.ok(&[
        "get",
        "pods",
        "--field-selector",
        &format!("spec.nodeName={first}"),
        "-o",
        "name",
    ]);
    assert_eq!(out.trim(), "pod/p1");
    let out = cluster.ok(&[
        "get",
        "pods",
        "--field-selector",
        "status.phase=Pending",
        "-o",
        "name",
    ]);
    assert_eq!(out.lines().count(), 2);
    let wide = cluster.ok(&["get", "pods", "-o", "wide"]);
    for column in [
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
        "IP",
        "NODE",
        "NOMINATED NODE",
        "READINESS GATES",
        "0/1",
        "Pending",
    ] {
        assert!(wide.contains(column), "{column} missing from\n{wide}");
    }
}

#[test]
fn lists_paginate_with_limit_and_continue() {
    let cluster = Cluster::start();
    let many: Vec<String> = (0..25)
        .map(|i| configmap(&format!("page-{i:02}"), "paged: \"yes\"", "k: v"))
        .collect();
    cluster.ok_stdin(&["create", "-f", "-"], &many.join("---\n"));
    // kubectl follows continue tokens itself.
    let all = cluster.ok(&[
        "get",
        "configmaps",
        "-l",
        "paged",
        "--chunk-size=7",
        "-o",
        "name",
    ]);
    assert_eq!(all.lines().count(), 25);
    // And by hand.
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut versions = Vec::new();
    loop {
        let mut path =
            "/api/v1/namespaces/default/configmaps?labelSelector=paged&limit=7".to_owned();
        if !token.is_empty() {
            path.push_str(&format!("&continue={token}"));
        }
        let page: serde_json::Value =
            serde_json::from_str(&cluster.ok(&["get", "--raw", &path])).unwrap();
        assert_eq!(page["kind"], "ConfigMapList");
        versions.push(
            page["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["metadata"]["name"].as_str().unwrap().to_owned()),
        );
        match page["metadata"]["continue"].as_str() {
            Some(t) => token = t.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    assert_eq!(
        seen,
        (0..25).map(|i| format!("page-{i:02}")).collect::<Vec<_>>(),
        "pages are in key order, no repeats"
    );
    assert!(
        versions.windows(2).all(|w| w[0] == w[1]),
        "every page reports the first page's resourceVersion"
    );
    let bad = cluster.fails(&[
        "get",
        "--raw",
        "/api/v1/namespaces/default/configmaps?limit=2&continue=not-a-token",
    ]);
    assert!(bad.contains("continue key is not valid"), "{bad}");
}

#[test]
fn watches_stream_changes_and_expire_old_versions() {
    let cluster = Cluster::start_with(&["--watch-history", "5"]);
    cluster.ok_stdin(
        &["create", "-f", "-"],
        &configmap("watched", "w: \"1\"", "v: \"0\""),
    );
    let version = cluster.json(&["get", "configmap", "watched"])["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    cluster.ok(&[
        "patch",
        "configmap",
        "watched",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"v":"1"}}"#,
    ]);
    cluster.ok(&["delete", "configmap", "watched"]);
    let path = format!(
        "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={version}&timeoutSeconds=2&fieldSelector=metadata.name%3Dwatched"
    );
    let events: Vec<serde_json::Value> = cluster
        .ok(&["get", "--raw", &path])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["MODIFIED", "DELETED"]);
    assert_eq!(events[0]["object"]["data"]["v"], "1");

    // A watch with no resourceVersion starts with the current state as ADDED.
    cluster.ok_stdin(
        &["create", "-f", "-"],
        &configmap("present", "w: \"1\"", "v: \"0\""),
    );
    let out = cluster.ok(&[
        "get",
        "--raw",
        "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1&labelSelector=w",
    ]);
    assert!(
        out.lines()
            .next()
            .unwrap()
            .starts_with(r#"{"type":"ADDED","object":{"#),
        "{out}"
    );

    // Streaming list: ADDED for everything, then the initial-events-end bookmark.
    let out = cluster.ok(&["get", "--raw", "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"]);
    let last: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(last["type"], "BOOKMARK");
    assert_eq!(
        last["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    let refused = cluster.fails(&[
        "get",
        "--raw",
        "/api/v1/namespaces/default/configmaps?watch=true&sendInitialEvents=true",
    ]);
    assert!(refused.contains("resourceVersionMatch"), "{refused}");

    // After more changes than the history keeps, the old version is gone: 410 as an ERROR event.
    for i in 0..8 {
        cluster.ok(&[
            "patch",
            "configmap",
            "present",
            "--type",
            "merge",
            "-p",
            &format!(r#"{{"data":{{"v":"{i}"}}}}"#),
        ]);
    }
    let out = cluster.ok(&["get", "--raw", &format!("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={version}&timeoutSeconds=1")]);
    let event: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(event["type"], "ERROR");
    assert_eq!(
        (
            event["object"]["code"].as_i64(),
            event["object"]["reason"].as_str()
        ),
        (Some(410), Some("Expired"))
    );
    assert!(
        event["object"]["message"]
            .as_str()
            .unwrap()
            .starts_with("too old resource version")
    );

    // kubectl get -w prints live changes as table rows.
    let watch = std::process::Command::new("kubectl")
        .env("KUBECONFIG", &cluster.kubeconfig)
        .args([
            "get",
            "configmaps",
            "-w",
            "--output-watch-events",
            "--request-timeout=3s",
            "-l",
            "w",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    cluster.ok(&["label", "configmap", "present", "touched=yes"]);
    let output = watch
        .wait_with_output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    assert!(
        output.contains("EVENT") && output.contains("ADDED") && output.contains("MODIFIED"),
        "{output}"
    );
}

#[test]
fn errors_read_like_the_real_server() {
    let cluster = Cluster::start();
    // A body over 3 MiB is refused before it is read, as by a real server.
    let huge = configmap(
        "huge",
        "a: b",
        &format!("k: {}", "x".repeat(3 * 1024 * 1024 + 1)),
    );
    let too_large = cluster.fails_stdin(&["create", "-f", "-"], &huge);
    assert!(
        too_large.contains("Request entity too large: limit is 3145728"),
        "{too_large}"
    );
    let unknown = cluster.fails_stdin(
        &["apply", "-f", "-"],
        &(configmap("x", "a: b", "k: v") + "bogus: true\n"),
    );
    assert!(
        unknown.contains("strict decoding error: unknown field \"bogus\""),
        "{unknown}"
    );
    let old =
        "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata:\n  name: old\nspec: {}\n";
    let no_kind = cluster.fails_stdin(&["apply", "-f", "-"], old);
    assert!(
        no_kind.contains("no matches for kind \"Deployment\" in version \"extensions/v1beta1\""),
        "{no_kind}"
    );
    let mismatch = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: default\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: other}\n    spec:\n      containers:\n      - name: web\n        image: nginx\n";
    let invalid = cluster.fails_stdin(&["apply", "-f", "-"], mismatch);
    // kubectl rewrites Invalid errors from the Status details: "The Deployment "web" is invalid".
    assert!(
        invalid.contains(
            "The Deployment \"web\" is invalid: spec.template.metadata.labels: Invalid value"
        ) && invalid.contains("`selector` does not match template `labels`"),
        "{invalid}"
    );
    let no_ns = cluster.fails_stdin(
        &["apply", "-f", "-"],
        &configmap("x", "a: b", "k: v").replace("namespace: default", "namespace: nowhere"),
    );
    assert!(
        no_ns.contains("namespaces \"nowhere\" not found"),
        "{no_ns}"
    );
    let missing = cluster.fails(&["get", "deployment", "nope"]);
    assert!(
        missing.contains("Error from server (NotFound): deployments.apps \"nope\" not found"),
        "{missing}"
    );

    // A wrong token is 401, as kubectl reports it.
    let kubeconfig = std::fs::read_to_string(&cluster.kubeconfig).unwrap();
    let token = kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .unwrap()
        .to_owned();
    let bad = cluster.path("bad-kubeconfig");
    std::fs::write(&bad, kubeconfig.replace(&token, "wrong")).unwrap();
    let out = std::process::Command::new("kubectl")
        .env("KUBECONFIG", &bad)
        .args(["get", "nodes"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The same words kubectl prints against EKS with an expired token.
    assert!(
        !out.status.success() && stderr.contains("You must be logged in to the server"),
        "{stderr}"
    );
    let raw = std::process::Command::new("curl")
        .args([
            "-sk",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("{}/api/v1/namespaces", cluster.url),
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&raw.stdout),
        "401",
        "no token, no access"
    );
}

#[test]
fn explain_and_discovery_describe_the_served_kinds() {
    let cluster = Cluster::start();
    let explain = cluster.ok(&["explain", "deployment.spec"]);
    assert!(
        explain.contains("KIND:       Deployment")
            && explain.contains("FIELDS:")
            && explain.contains("replicas"),
        "{explain}"
    );
    let explain = cluster.ok(&["explain", "pod.spec.containers.readinessProbe"]);
    assert!(
        explain.contains("Periodic probe of container service readiness"),
        "{explain}"
    );
    let resources = cluster.ok(&["api-resources"]);
    for line in [
        "deployments",
        "deploy",
        "apps/v1",
        "endpointslices",
        "leases",
        "configmaps",
        "cm",
    ] {
        assert!(resources.contains(line), "{line} missing from\n{resources}");
    }
    let version = cluster.ok(&["version"]);
    assert!(version.contains("Server Version: v1.33"), "{version}");
}

/// Every served group version has its APIService, as on a real server (where the aggregator
/// lists them), so `kubectl get apiservices` and clients that read them see what is served.
#[test]
fn every_served_group_version_has_an_api_service() {
    let cluster = Cluster::start();
    let table = cluster.ok(&["get", "apiservices"]);
    let metrics = table
        .lines()
        .find(|line| line.starts_with("v1beta1.metrics.k8s.io "))
        .unwrap_or_else(|| panic!("no metrics APIService in\n{table}"));
    let columns: Vec<&str> = metrics.split_whitespace().collect();
    assert_eq!(columns[1..3], ["Local", "True"], "{table}");
    for name in ["v1.", "v1.apps", "v1.batch", "v1.coordination.k8s.io"] {
        assert!(
            table
                .lines()
                .any(|line| line.starts_with(&format!("{name} "))),
            "{name} missing from\n{table}"
        );
    }
    let apps = cluster.json(&["get", "apiservice", "v1.apps"]);
    assert_eq!(apps["spec"]["group"], "apps");
    assert_eq!(apps["spec"]["version"], "v1");
    assert_eq!(apps["status"]["conditions"][0]["type"], "Available");
    assert_eq!(apps["status"]["conditions"][0]["status"], "True");

    let mine = "apiVersion: apiregistration.k8s.io/v1\nkind: APIService\nmetadata:\n  name: v1alpha1.example.com\nspec:\n  group: example.com\n  version: v1alpha1\n  groupPriorityMinimum: 1000\n  versionPriority: 15\n";
    cluster.ok_stdin(&["create", "-f", "-"], mine);
    let again = cluster.fails_stdin(&["create", "-f", "-"], mine);
    assert!(
        again
            .contains("apiservices.apiregistration.k8s.io \"v1alpha1.example.com\" already exists"),
        "{again}"
    );
    let misnamed = cluster.fails_stdin(
        &["create", "-f", "-"],
        &mine.replace("name: v1alpha1.example.com", "name: example"),
    );
    assert!(
        misnamed.contains("must be `spec.version+\".\"+spec.group`: \"v1alpha1.example.com\""),
        "{misnamed}"
    );
    cluster.ok(&["delete", "apiservice", "v1alpha1.example.com"]);
    let gone = cluster.fails(&["get", "apiservice", "v1alpha1.example.com"]);
    assert!(gone.contains("not found"), "{gone}");
}

/// The imperative commands send Protobuf bodies for built-in kinds, as kubectl does against
/// any real server; each creates what it says, with the fields it was given.
#[test]
fn imperative_create_run_and_expose_send_protobuf_and_work() {
    let cluster = Cluster::start();
    assert!(
        cluster
            .ok(&["create", "namespace", "demo"])
            .contains("namespace/demo created")
    );
    assert_eq!(
        cluster.json(&["get", "namespace", "demo"])["status"]["phase"],
        "Active"
    );

    let out = cluster.ok(&[
        "-n",
        "demo",
        "create",
        "configmap",
        "settings",
        "--from-literal=mode=fast",
        "--from-literal=level=3",
    ]);
    assert!(out.contains("configmap/settings created"), "{out}");
    let map = cluster.json(&["-n", "demo", "get", "configmap", "settings"]);
    assert_eq!(
        map["data"],
        serde_json::json!({"mode": "fast", "level": "3"})
    );

    let out = cluster.ok(&[
        "-n",
        "demo",
        "create",
        "secret",
        "generic",
        "token",
        "--from-literal=token=s3cret",
    ]);
    assert!(out.contains("secret/token created"), "{out}");
    let secret = cluster.json(&["-n", "demo", "get", "secret", "token"]);
    assert_eq!(secret["data"]["token"], "czNjcmV0");
    assert_eq!(secret["type"], "Opaque");

    let out = cluster.ok(&[
        "-n",
        "demo",
        "create",
        "deployment",
        "web",
        "--image=calculator/sum:latest",
        "--replicas=2",
        "--port=8080",
    ]);
    assert!(out.contains("deployment.apps/web created"), "{out}");
    let deployment = cluster.json(&["-n", "demo", "get", "deployment", "web"]);
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(deployment["spec"]["selector"]["matchLabels"]["app"], "web");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "calculator/sum:latest");
    assert_eq!(container["ports"][0]["containerPort"], 8080);
    // The server filled in the defaults, as it does for a JSON body.
    assert_eq!(
        deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"],
        "25%"
    );

    let out = cluster.ok(&[
        "-n",
        "demo",
        "create",
        "service",
        "clusterip",
        "web-svc",
        "--tcp=80:8080",
    ]);
    assert!(out.contains("service/web-svc created"), "{out}");
    let service = cluster.json(&["-n", "demo", "get", "service", "web-svc"]);
    assert_eq!(service["spec"]["ports"][0]["port"], 80);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], 8080);
    assert_eq!(service["status"], serde_json::json!({"loadBalancer": {}}));

    let out = cluster.ok(&[
        "-n",
        "demo",
        "run",
        "probe",
        "--image=calculator/sum:latest",
        "--labels=role=probe",
        "--env=MODE=check",
        "--",
        "--port",
        "9000",
    ]);
    assert!(out.contains("pod/probe created"), "{out}");
    let pod = cluster.json(&["-n", "demo", "get", "pod", "probe"]);
    assert_eq!(pod["metadata"]["labels"]["role"], "probe");
    assert_eq!(pod["spec"]["containers"][0]["env"][0]["value"], "check");
    assert_eq!(
        pod["spec"]["containers"][0]["args"],
        serde_json::json!(["--port", "9000"])
    );

    let out = cluster.ok(&[
        "-n",
        "demo",
        "expose",
        "deployment",
        "web",
        "--name=web-public",
        "--port=80",
        "--target-port=8080",
    ]);
    assert!(out.contains("service/web-public exposed"), "{out}");
    let exposed = cluster.json(&["-n", "demo", "get", "service", "web-public"]);
    assert_eq!(exposed["spec"]["selector"]["app"], "web");
    assert_eq!(exposed["spec"]["ports"][0]["targetPort"], 8080);

    // A dry run decodes the same body and stores nothing.
    let out = cluster.ok(&["create", "namespace", "ghost", "--dry-run=server"]);
    assert!(
        out.contains("namespace/ghost created (server dry run)"),
        "{out}"
    );
    assert!(
        cluster
            .fails(&["get", "namespace", "ghost"])
            .contains("NotFound")
    );
}

/// NetworkPolicies are stored, listed and watched as on any cluster; nothing enforces them
/// here (the README says so), as on a cluster without a network plugin that does.
#[test]
fn network_policies_are_stored_and_listed() {
    let cluster = Cluster::start();
    cluster.ok_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: default}
spec:
  podSelector: {}
  policyTypes: [Ingress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ui-to-sum, namespace: default}
spec:
  podSelector: {matchLabels: {app: sum}}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: ui}}
    ports:
    - {protocol: TCP, port: 8080}
"#,
    );
    let table = cluster.ok(&["get", "netpol"]);
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], vec!["NAME", "POD-SELECTOR", "AGE"], "{table}");
    assert_eq!(rows[1][..2], ["deny-all", "<none>"], "{table}");
    assert_eq!(rows[2][..2], ["ui-to-sum", "app=sum"], "{table}");
    let policy = cluster.json(&["get", "networkpolicy", "ui-to-sum"]);
    assert_eq!(policy["spec"]["ingress"][0]["ports"][0]["port"], 8080);
    let wrong = cluster.fails_stdin(
        &["apply", "-f", "-"],
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: bad}\nspec: {podSelector: {}, policyTypes: Ingress}\n",
    );
    assert!(
        wrong.contains("NetworkPolicy in version \"v1\" cannot be handled as a NetworkPolicy"),
        "{wrong}"
    );
    cluster.ok(&["delete", "netpol", "deny-all"]);
    assert!(!cluster.ok(&["get", "netpol"]).contains("deny-all"));
}
