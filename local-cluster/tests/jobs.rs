//! Jobs as kubectl drives them: `kubectl create job` (a Protobuf body) runs to completion,
//! a failing Job stops at its backoff limit, and a finished Job with a TTL is deleted with its
//! pods.

mod support;

use support::Cluster;

#[test]
fn a_job_runs_its_pods_to_completion() {
    let cluster = Cluster::start();
    let out = cluster.ok(&[
        "create",
        "job",
        "hello",
        "--image=busybox:1.36",
        "--",
        "echo",
        "hi",
    ]);
    assert!(out.contains("job.batch/hello created"), "{out}");
    let job = cluster.json(&["get", "job", "hello"]);
    assert_eq!(job["spec"]["completions"], 1);
    assert_eq!(job["spec"]["backoffLimit"], 6);
    let uid = job["metadata"]["uid"].as_str().unwrap().to_owned();
    assert_eq!(
        job["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
        uid
    );
    cluster.ok(&[
        "wait",
        "--for=condition=complete",
        "job/hello",
        "--timeout=60s",
    ]);
    let job = cluster.json(&["get", "job", "hello"]);
    assert_eq!(job["status"]["succeeded"], 1);
    assert!(job["status"]["completionTime"].is_string());
    let pods = cluster.json(&["get", "pods", "-l", "job-name=hello"]);
    let pod = &pods["items"][0];
    assert_eq!(pod["status"]["phase"], "Succeeded");
    assert_eq!(
        pod["status"]["containerStatuses"][0]["state"]["terminated"]["reason"],
        "Completed"
    );
    let table = cluster.ok(&["get", "job", "hello"]);
    assert!(
        table.contains("Complete") && table.contains("1/1"),
        "{table}"
    );

    // Three completions, two at a time.
    cluster.ok_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: batch/v1
kind: Job
metadata: {name: batch, namespace: default}
spec:
  completions: 3
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: work, image: "busybox:1.36"}]
"#,
    );
    cluster.ok(&[
        "wait",
        "--for=condition=complete",
        "job/batch",
        "--timeout=60s",
    ]);
    let pods = cluster.json(&["get", "pods", "-l", "job-name=batch"]);
    assert_eq!(pods["items"].as_array().unwrap().len(), 3);

    // A Job's pods must not restart forever.
    let refused = cluster.fails_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: batch/v1
kind: Job
metadata: {name: forever, namespace: default}
spec:
  template:
    spec:
      restartPolicy: Always
      containers: [{name: work, image: "busybox:1.36"}]
"#,
    );
    assert!(
        refused.contains("spec.template.spec.restartPolicy: Unsupported value: \"Always\""),
        "{refused}"
    );
}

#[test]
fn failures_stop_at_the_backoff_limit_and_finished_jobs_expire() {
    let cluster = Cluster::start();
    cluster.ok_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: batch/v1
kind: Job
metadata: {name: flaky, namespace: default}
spec:
  backoffLimit: 1
  template:
    metadata:
      annotations: {local-cluster.hybrid-console.io/simulated-exit-code: "2"}
    spec:
      restartPolicy: Never
      containers: [{name: work, image: "busybox:1.36"}]
"#,
    );
    cluster.ok(&[
        "wait",
        "--for=condition=failed",
        "job/flaky",
        "--timeout=60s",
    ]);
    let job = cluster.json(&["get", "job", "flaky"]);
    assert_eq!(job["status"]["failed"], 2);
    let failed = job["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Failed")
        .unwrap();
    assert_eq!(failed["reason"], "BackoffLimitExceeded");
    let events = cluster.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=flaky",
    ]);
    assert!(events.contains("BackoffLimitExceeded"), "{events}");

    cluster.ok_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: batch/v1
kind: Job
metadata: {name: brief, namespace: default}
spec:
  ttlSecondsAfterFinished: 1
  template:
    spec:
      restartPolicy: OnFailure
      containers: [{name: work, image: "busybox:1.36"}]
"#,
    );
    cluster.ok(&["wait", "--for=delete", "job/brief", "--timeout=60s"]);
    cluster.wait_for(30, "the pods of the expired Job are gone", |cluster| {
        let pods = cluster.json(&["get", "pods", "-l", "job-name=brief"]);
        pods["items"]
            .as_array()
            .is_some_and(|i| i.is_empty())
            .then_some(())
    });
}
