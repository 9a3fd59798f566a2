//! ResourceQuota and LimitRange as kubectl meets them: defaults filled into pods, limits and
//! quotas refused with the admission plugins' words, a ReplicaSet held at its namespace's quota
//! until room is made, and the quota's `status.used` following the namespace.

mod support;

use support::Cluster;

const NAMESPACE: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: compute, namespace: team}
spec:
  hard: {pods: "2", requests.cpu: "1", requests.memory: 256Mi, count/deployments.apps: "1"}
---
apiVersion: v1
kind: LimitRange
metadata: {name: defaults, namespace: team}
spec:
  limits:
    - type: Container
      default: {cpu: 500m, memory: 128Mi}
      defaultRequest: {cpu: 250m, memory: 64Mi}
      max: {cpu: "1"}
"#;

fn used(cluster: &Cluster, resource: &str) -> String {
    cluster.ok(&[
        "get",
        "resourcequota",
        "compute",
        "-n",
        "team",
        "-o",
        &format!("jsonpath={{.status.used.{}}}", resource.replace('.', "\\.")),
    ])
}

fn run(cluster: &Cluster, name: &str, resources: &str) -> std::process::Output {
    let overrides = format!(
        r#"{{"spec": {{"containers": [{{"name": "{name}", "image": "nginx:1.27", "resources": {resources}}}]}}}}"#
    );
    cluster.run(&[
        "run",
        name,
        "-n",
        "team",
        "--image=nginx:1.27",
        &format!("--overrides={overrides}"),
    ])
}

fn refusal(output: &std::process::Output) -> String {
    assert!(!output.status.success(), "should have been refused");
    String::from_utf8_lossy(&output.stderr).trim().to_owned()
}

#[test]
fn quotas_and_limit_ranges_are_enforced_at_admission_with_the_real_words() {
    let cluster = Cluster::start();
    cluster.ok_stdin(&["apply", "-f", "-"], NAMESPACE);
    cluster.wait_for(10, "the quota's status", |c| {
        (used(c, "pods") == "0").then_some(())
    });
    let listed = cluster.ok(&["get", "quota", "-n", "team"]);
    assert!(
        listed.contains("REQUEST") && listed.contains("pods: 0/2"),
        "{listed}"
    );
    assert!(
        cluster
            .ok(&["get", "limits", "-n", "team"])
            .contains("defaults")
    );

    // Defaults from the LimitRange, said in the pod's annotation.
    assert!(run(&cluster, "a", "{}").status.success());
    let a = cluster.json(&["get", "pod", "a", "-n", "team"]);
    assert_eq!(
        a["spec"]["containers"][0]["resources"]["requests"]["cpu"], "250m",
        "{a}"
    );
    assert_eq!(
        a["spec"]["containers"][0]["resources"]["limits"]["memory"], "128Mi",
        "{a}"
    );
    assert_eq!(
        a["metadata"]["annotations"]["kubernetes.io/limit-ranger"],
        "LimitRanger plugin set: cpu, memory request for container a; cpu, memory limit for container a"
    );

    // Over the LimitRange's max.
    let over_max = refusal(&run(&cluster, "big", r#"{"limits": {"cpu": "2"}}"#));
    assert!(
        over_max.ends_with(
            "pods \"big\" is forbidden: maximum cpu usage per Container is 1, but limit is 2"
        ),
        "{over_max}"
    );

    // Over the quota's CPU: 900m more on 250m used of 1.
    let over_cpu = refusal(&run(
        &cluster,
        "b",
        r#"{"requests": {"cpu": "900m"}, "limits": {"cpu": "1"}}"#,
    ));
    assert!(
        over_cpu.ends_with(
            "pods \"b\" is forbidden: exceeded quota: compute, requested: requests.cpu=900m, used: requests.cpu=250m, limited: requests.cpu=1"
        ),
        "{over_cpu}"
    );
    assert!(run(&cluster, "c", "{}").status.success());
    cluster.wait_for(10, "two pods counted", |c| {
        (used(c, "pods") == "2").then_some(())
    });
    assert_eq!(used(&cluster, "requests.cpu"), "500m");
    assert_eq!(used(&cluster, "requests.memory"), "128Mi");

    // The third pod is one too many.
    let over_pods = refusal(&run(&cluster, "d", "{}"));
    assert!(
        over_pods.ends_with(
            "pods \"d\" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=2, limited: pods=2"
        ),
        "{over_pods}"
    );

    // A Deployment's ReplicaSet is held at the quota (its event says why) until room is made.
    cluster.ok(&[
        "create",
        "deployment",
        "web",
        "-n",
        "team",
        "--image=nginx:1.27",
    ]);
    let event = cluster.wait_for(20, "the ReplicaSet's FailedCreate", |c| {
        let events = c.json(&[
            "get",
            "events",
            "-n",
            "team",
            "--field-selector",
            "reason=FailedCreate",
        ]);
        events["items"][0]["message"].as_str().map(str::to_owned)
    });
    assert!(
        event.contains("is forbidden: exceeded quota: compute, requested: pods=1, used: pods=2, limited: pods=2"),
        "{event}"
    );
    let second = cluster.fails(&[
        "create",
        "deployment",
        "web2",
        "-n",
        "team",
        "--image=nginx:1.27",
    ]);
    assert!(
        second.contains("exceeded quota: compute, requested: count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1"),
        "{second}"
    );
    cluster.ok(&[
        "delete",
        "pod",
        "a",
        "-n",
        "team",
        "--grace-period=0",
        "--force",
    ]);
    cluster.ok(&[
        "rollout",
        "status",
        "deployment/web",
        "-n",
        "team",
        "--timeout=60s",
    ]);
    cluster.wait_for(10, "the quota to follow", |c| {
        (used(c, "pods") == "2").then_some(())
    });
}
