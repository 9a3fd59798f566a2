//! CronJobs as kubectl drives them: `kubectl create cronjob` (a Protobuf body) makes a Job at
//! the next minute, which runs to completion; `kubectl create job --from=cronjob/…` runs one
//! now; a schedule in a named time zone runs at that zone's wall-clock time; a bad schedule or
//! zone is refused.

mod support;

use support::Cluster;

#[test]
fn a_cronjob_makes_jobs_on_schedule_and_on_demand() {
    use chrono::Timelike;
    let cluster = Cluster::start();
    // A daily schedule at a wall-clock minute in Kolkata (UTC+05:30) about 90 s from now: it
    // runs today only if the schedule is read in that zone, not in UTC.
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(90))
        .with_timezone(&chrono_tz::Asia::Kolkata);
    let zoned = format!(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: chai, namespace: default}}\nspec:\n  schedule: \"{} {} * * *\"\n  timeZone: Asia/Kolkata\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{{name: c, image: \"busybox:1.36\"}}]\n",
        soon.minute(),
        soon.hour()
    );
    cluster.ok_stdin(&["apply", "-f", "-"], &zoned);
    let out = cluster.ok(&[
        "create",
        "cronjob",
        "tick",
        "--image=busybox:1.36",
        "--schedule=* * * * *",
        "--",
        "date",
    ]);
    assert!(out.contains("cronjob.batch/tick created"), "{out}");
    let cronjob = cluster.json(&["get", "cronjob", "tick"]);
    assert_eq!(cronjob["spec"]["concurrencyPolicy"], "Allow");
    assert_eq!(cronjob["spec"]["successfulJobsHistoryLimit"], 3);

    // On demand, as kubectl does it: a Job from the template, owned by the CronJob.
    let out = cluster.ok(&["create", "job", "--from=cronjob/tick", "tick-now"]);
    assert!(out.contains("job.batch/tick-now created"), "{out}");
    cluster.ok(&[
        "wait",
        "--for=condition=complete",
        "job/tick-now",
        "--timeout=60s",
    ]);

    // On schedule: within the next minute a Job named after the scheduled minute appears and
    // completes, and the CronJob records when.
    let scheduled = cluster.wait_for(75, "a scheduled Job", |c| {
        let jobs = c.json(&["get", "jobs"]);
        jobs["items"]
            .as_array()?
            .iter()
            .filter_map(|j| j["metadata"]["name"].as_str())
            .find(|n| n.starts_with("tick-") && *n != "tick-now")
            .map(str::to_owned)
    });
    let minutes: i64 = scheduled
        .trim_start_matches("tick-")
        .parse()
        .expect("named after the scheduled minute");
    assert!(minutes > 29_000_000, "{scheduled}");
    cluster.ok(&[
        "wait",
        "--for=condition=complete",
        &format!("job/{scheduled}"),
        "--timeout=60s",
    ]);
    let cronjob = cluster.wait_for(10, "lastScheduleTime", |c| {
        let cj = c.json(&["get", "cronjob", "tick"]);
        cj["status"]["lastScheduleTime"].is_string().then_some(cj)
    });
    assert!(
        cronjob["status"]["lastScheduleTime"]
            .as_str()
            .is_some_and(|t| t.ends_with(":00Z"))
    );
    let table = cluster.ok(&["get", "cronjob", "tick"]);
    assert!(table.contains("* * * * *"), "{table}");

    let refused = cluster.fails(&[
        "create",
        "cronjob",
        "bad",
        "--image=busybox:1.36",
        "--schedule=61 * * * *",
    ]);
    assert!(refused.contains("spec.schedule"), "{refused}");

    // The zoned CronJob ran at its Kolkata minute.
    cluster.wait_for(120, "the Kolkata job", |c| {
        let jobs = c.json(&["get", "jobs"]);
        jobs["items"]
            .as_array()?
            .iter()
            .filter_map(|j| j["metadata"]["name"].as_str())
            .find(|n| n.starts_with("chai-"))
            .map(str::to_owned)
    });
    let table = cluster.ok(&["get", "cronjob", "chai"]);
    assert!(table.contains("Asia/Kolkata"), "{table}");
    let unknown = cluster.fails_stdin(
        &["apply", "-f", "-"],
        &zoned
            .replace("name: chai", "name: nowhere")
            .replace("Asia/Kolkata", "Mars/Olympus_Mons"),
    );
    assert!(
        unknown.contains("spec.timeZone: Invalid value: \"Mars/Olympus_Mons\": unknown time zone Mars/Olympus_Mons"),
        "{unknown}"
    );
}
