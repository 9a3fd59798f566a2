//! The printers of workloads: pods, Deployments, StatefulSets, CronJobs, Jobs, DaemonSets,
//! ReplicaSets, PodDisruptionBudgets and HorizontalPodAutoscalers.

use kube_units::durations::human_duration;
use serde_json::{Value, json};

use super::columns::{
    AGE, CONTAINERS, Column, Common, IMAGES, NAME, Printer, age, age_seconds, or_none,
    selector_text, template_columns, text,
};

/// `kubectl get pods`.
pub(super) fn pods() -> Printer {
    Printer {
        columns: vec![
            NAME,
            Column::string(
                "Ready",
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            Column::string(
                "Status",
                "The aggregate status of the containers in this pod.",
            ),
            Column::string(
                "Restarts",
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            ),
            AGE,
            Column::string(
                "IP",
                "IP address allocated to the pod. Routable at least within the cluster.",
            )
            .wide(),
            Column::string(
                "Node",
                "NodeName is a request to schedule this pod onto a specific node.",
            )
            .wide(),
            Column::string(
                "Nominated Node",
                "nominatedNodeName is set when this pod preempts other pods on the node.",
            )
            .wide(),
            Column::string(
                "Readiness Gates",
                "If specified, all readiness gates will be evaluated for pod readiness.",
            )
            .wide(),
        ],
        cells: |o, Common { name, created }| {
            let (reason, ready, total, restarts) = pod_status(o);
            let last_restart = o["status"]["containerStatuses"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| age_seconds(&c["lastState"]["terminated"]["finishedAt"]))
                .min();
            let restarts_text = match last_restart {
                Some(ago) if restarts > 0 => format!("{restarts} ({} ago)", human_duration(ago)),
                _ => restarts.to_string(),
            };
            let gates = o["spec"]["readinessGates"]
                .as_array()
                .map(Vec::len)
                .unwrap_or(0);
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(reason),
                json!(restarts_text),
                json!(created),
                json!(or_none(text(&o["status"]["podIP"]))),
                json!(or_none(text(&o["spec"]["nodeName"]))),
                json!(or_none(text(&o["status"]["nominatedNodeName"]))),
                json!(if gates == 0 {
                    "<none>".to_owned()
                } else {
                    format!("0/{gates}")
                }),
            ]
        },
    }
}

/// `kubectl get deployments`.
pub(super) fn deployments() -> Printer {
    Printer {
        columns: vec![
            NAME,
            Column::string("Ready", "Number of the pod with ready state"),
            Column::string("Up-to-date", "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
            Column::string("Available", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
            AGE,
            CONTAINERS,
            IMAGES,
            Column::string("Selector", "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.").wide(),
        ],
        cells: |o, Common { name, created }| {
            let s = &o["status"];
            let (containers, images) = template_columns(&o["spec"]);
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    s["readyReplicas"].as_i64().unwrap_or(0),
                    o["spec"]["replicas"].as_i64().unwrap_or(0)
                )),
                json!(s["updatedReplicas"].as_i64().unwrap_or(0)),
                json!(s["availableReplicas"].as_i64().unwrap_or(0)),
                json!(created),
                json!(containers),
                json!(images),
                json!(selector_text(&o["spec"]["selector"])),
            ]

        },
    }
}

/// `kubectl get statefulsets`.
pub(super) fn statefulsets() -> Printer {
    Printer {
        columns: vec![
            NAME,
            Column::string("Ready", "Number of the pod with ready state"),
            AGE,
            CONTAINERS,
            IMAGES,
        ],
        cells: |o, Common { name, created }| {
            let (containers, images) = template_columns(&o["spec"]);
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    o["status"]["readyReplicas"].as_i64().unwrap_or(0),
                    o["spec"]["replicas"].as_i64().unwrap_or(0)
                )),
                json!(created),
                json!(containers),
                json!(images),
            ]
        },
    }
}

/// `kubectl get cronjobs`.
pub(super) fn cronjobs() -> Printer {
    Printer {
        columns: vec![
            NAME,
            Column::string(
                "Schedule",
                "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.",
            ),
            Column::string(
                "Timezone",
                "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones.",
            ),
            Column::typed(
                "Suspend",
                "boolean",
                "This flag tells the controller to suspend subsequent executions.",
            ),
            Column::typed(
                "Active",
                "integer",
                "A list of pointers to currently running jobs.",
            ),
            Column::string(
                "Last Schedule",
                "Information when was the last time the job was successfully scheduled.",
            ),
            AGE,
            CONTAINERS,
            IMAGES,
            Column::string(
                "Selector",
                "A label query over pods that should match the pod count.",
            )
            .wide(),
        ],
        cells: |o, Common { name, created }| {
            let (containers, images) = template_columns(&o["spec"]["jobTemplate"]["spec"]);
            let last = match o["status"]["lastScheduleTime"].as_str() {
                Some(_) => age(&o["status"]["lastScheduleTime"]),
                None => "<none>".to_owned(),
            };
            vec![
                name,
                json!(text(&o["spec"]["schedule"])),
                json!(o["spec"]["timeZone"].as_str().unwrap_or("<none>")),
                json!(o["spec"]["suspend"] == true),
                json!(o["status"]["active"].as_array().map_or(0, Vec::len)),
                json!(last),
                json!(created),
                json!(containers),
                json!(images),
                json!(selector_text(&o["spec"]["jobTemplate"]["spec"]["selector"])),
            ]
        },
    }
}

/// `kubectl get jobs`.
pub(super) fn jobs() -> Printer {
    Printer {
        columns: vec![
            NAME,
            Column::string("Status", "Status of the job."),
            Column::string("Completions", "The completion status of the job."),
            Column::string("Duration", "Time required to complete the job."),
            AGE,
            CONTAINERS,
            IMAGES,
            Column::string(
                "Selector",
                "Selector is a label query over pods that should match the pod count.",
            )
            .wide(),
        ],
        cells: |o, Common { name, created }| {
            let s = &o["status"];
            let (containers, images) = template_columns(&o["spec"]);
            let condition = |t: &str| {
                s["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c["type"] == t && c["status"] == "True")
            };
            // kubectl's words for a Job's state.
            let status = if condition("Failed") {
                "Failed"
            } else if condition("Complete") {
                "Complete"
            } else if condition("Suspended") || o["spec"]["suspend"] == true {
                "Suspended"
            } else if condition("FailureTarget") {
                "FailureTarget"
            } else if condition("SuccessCriteriaMet") {
                "SuccessCriteriaMet"
            } else {
                "Running"
            };
            let completions = match o["spec"]["completions"].as_i64() {
                Some(c) => format!("{}/{c}", s["succeeded"].as_i64().unwrap_or(0)),
                None => format!(
                    "{}/1 of {}",
                    s["succeeded"].as_i64().unwrap_or(0),
                    o["spec"]["parallelism"].as_i64().unwrap_or(1)
                ),
            };
            let started = s["startTime"]
                .as_str()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok());
            let ended = s["completionTime"]
                .as_str()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .unwrap_or_else(jiff::Timestamp::now);
            let duration = started.map_or(String::new(), |start| {
                human_duration(ended.duration_since(start).as_secs())
            });
            vec![
                name,
                json!(status),
                json!(completions),
                json!(duration),
                json!(created),
                json!(containers),
                json!(images),
                json!(selector_text(&o["spec"]["selector"])),
            ]
        },
    }
}

/// `kubectl get daemonsets`.
pub(super) fn daemonsets() -> Printer {
    Printer {
        columns: vec![
            NAME,
            Column::typed(
                "Desired",
                "integer",
                "The number of nodes that should be running the daemon pod.",
            ),
            Column::typed(
                "Current",
                "integer",
                "The number of nodes running at least one daemon pod.",
            ),
            Column::typed(
                "Ready",
                "integer",
                "The number of nodes that should be running the daemon pod and have one or more running and ready.",
            ),
            Column::typed(
                "Up-to-date",
                "integer",
                "The total number of nodes that are running the updated daemon pod.",
            ),
            Column::typed(
                "Available",
                "integer",
                "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available.",
            ),
            Column::string(
                "Node Selector",
                "NodeSelector is a selector which must be true for the pod to fit on a node.",
            ),
            AGE,
            CONTAINERS,
            IMAGES,
            Column::string(
                "Selector",
                "A label query over pods that are managed by the daemon set.",
            )
            .wide(),
        ],
        cells: |o, Common { name, created }| {
            let s = &o["status"];
            let (containers, images) = template_columns(&o["spec"]);
            let count = |key: &str| json!(s[key].as_i64().unwrap_or(0));
            let node_selector: Vec<String> = o["spec"]["template"]["spec"]["nodeSelector"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect();
            vec![
                name,
                count("desiredNumberScheduled"),
                count("currentNumberScheduled"),
                count("numberReady"),
                count("updatedNumberScheduled"),
                count("numberAvailable"),
                json!(or_none(node_selector.join(","))),
                json!(created),
                json!(containers),
                json!(images),
                json!(selector_text(&o["spec"]["selector"])),
            ]
        },
    }
}

/// `kubectl get poddisruptionbudgets`.
pub(super) fn poddisruptionbudgets() -> Printer {
    Printer {
        columns: vec![
            NAME,
            Column::string(
                "Min Available",
                "The minimum number of pods that must be available simultaneously. This can be either an integer or a string specifying a percentage, e.g. \"28%\".",
            ),
            Column::string(
                "Max Unavailable",
                "The maximum number of pods that may be unavailable simultaneously. This can be either an integer or a string specifying a percentage, e.g. \"33%\".",
            ),
            Column::typed(
                "Allowed Disruptions",
                "integer",
                "Calculated number of pods that may be disrupted at this time.",
            ),
            AGE,
        ],
        cells: |o, Common { name, created }| {
            let spec = &o["spec"];
            let int_or_percent = |v: &Value| match v {
                Value::Null => "N/A".to_owned(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            vec![
                name,
                json!(int_or_percent(&spec["minAvailable"])),
                json!(int_or_percent(&spec["maxUnavailable"])),
                json!(o["status"]["disruptionsAllowed"].as_i64().unwrap_or(0)),
                json!(created),
            ]
        },
    }
}

/// `kubectl get replicasets`.
pub(super) fn replicasets() -> Printer {
    Printer {
        columns: vec![
            NAME,
            Column::typed(
                "Desired",
                "integer",
                "Replicas is the number of desired replicas.",
            ),
            Column::typed(
                "Current",
                "integer",
                "Replicas is the most recently observed number of replicas.",
            ),
            Column::typed(
                "Ready",
                "integer",
                "The number of ready replicas for this replica set.",
            ),
            AGE,
            CONTAINERS,
            IMAGES,
            Column::string(
                "Selector",
                "Selector is a label query over pods that should match the replica count.",
            )
            .wide(),
        ],
        cells: |o, Common { name, created }| {
            let s = &o["status"];
            let (containers, images) = template_columns(&o["spec"]);
            // A ReplicationController's selector is the label map itself.
            let selector = if o["kind"] == "ReplicationController" {
                json!({"matchLabels": o["spec"]["selector"]})
            } else {
                o["spec"]["selector"].clone()
            };
            vec![
                name,
                json!(o["spec"]["replicas"].as_i64().unwrap_or(0)),
                json!(s["replicas"].as_i64().unwrap_or(0)),
                json!(s["readyReplicas"].as_i64().unwrap_or(0)),
                json!(created),
                json!(containers),
                json!(images),
                json!(selector_text(&selector)),
            ]
        },
    }
}

/// The STATUS column of `kubectl get pods`, computed the way kubectl's printer does.
pub fn pod_status(pod: &Value) -> (String, usize, usize, i64) {
    let status = &pod["status"];
    let mut reason = text(&status["phase"]);
    if let Some(r) = status["reason"].as_str().filter(|r| !r.is_empty()) {
        reason = r.to_owned();
    }
    let statuses = status["containerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let total = pod["spec"]["containers"].as_array().map_or(0, Vec::len);
    let mut ready = 0;
    let mut restarts = 0;
    let mut running = false;
    for c in statuses.iter().rev() {
        restarts += c["restartCount"].as_i64().unwrap_or(0);
        let state = &c["state"];
        if let Some(r) = state["waiting"]["reason"]
            .as_str()
            .filter(|r| !r.is_empty())
        {
            reason = r.to_owned();
        } else if let Some(r) = state["terminated"]["reason"]
            .as_str()
            .filter(|r| !r.is_empty())
        {
            reason = r.to_owned();
        } else if state["terminated"].is_object() {
            reason = match state["terminated"]["signal"].as_i64() {
                Some(sig) if sig != 0 => format!("Signal:{sig}"),
                _ => format!(
                    "ExitCode:{}",
                    state["terminated"]["exitCode"].as_i64().unwrap_or(0)
                ),
            };
        } else if c["ready"] == true && state["running"].is_object() {
            running = true;
            ready += 1;
        }
    }
    if reason == "Completed" && running {
        let ready_condition = status["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True");
        reason = if ready_condition {
            "Running".into()
        } else {
            "NotReady".into()
        };
    }
    if pod["metadata"]["deletionTimestamp"].is_string() {
        reason = if status["reason"] == "NodeLost" {
            "Unknown".into()
        } else {
            "Terminating".into()
        };
    }
    (reason, ready, total, restarts)
}

/// `kubectl get hpa`: the target, each resource metric's current and target value, the bounds
/// and the replicas now.
pub(super) fn horizontalpodautoscalers() -> Printer {
    Printer {
        columns: vec![
            NAME,
            Column::string("Reference", "The reference to the target to scale."),
            Column::string("Targets", "The current and target values of each metric."),
            Column::string("MinPods", "The lower limit of replicas."),
            Column::typed("MaxPods", "integer", "The upper limit of replicas."),
            Column::typed("Replicas", "integer", "The current number of replicas."),
            AGE,
        ],
        cells: |o, Common { name, created }| {
            let reference = &o["spec"]["scaleTargetRef"];
            let targets: Vec<String> = o["spec"]["metrics"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|m| m["type"] == "Resource")
                .map(|m| {
                    let resource = text(&m["resource"]["name"]);
                    let current = o["status"]["currentMetrics"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|c| c["resource"]["name"] == resource.as_str())
                        .map(|c| &c["resource"]["current"]);
                    let target = &m["resource"]["target"];
                    match target["averageUtilization"].as_i64() {
                        Some(t) => {
                            let now = current
                                .and_then(|c| c["averageUtilization"].as_i64())
                                .map_or_else(|| "<unknown>".to_owned(), |u| format!("{u}%"));
                            format!("{resource}: {now}/{t}%")
                        }
                        None => {
                            let now = current
                                .and_then(|c| c["averageValue"].as_str())
                                .unwrap_or("<unknown>");
                            format!("{resource}: {now}/{}", text(&target["averageValue"]))
                        }
                    }
                })
                .collect();
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    text(&reference["kind"]),
                    text(&reference["name"])
                )),
                json!(if targets.is_empty() {
                    "<none>".to_owned()
                } else {
                    targets.join(", ")
                }),
                json!(o["spec"]["minReplicas"].as_i64().unwrap_or(1).to_string()),
                json!(o["spec"]["maxReplicas"].as_i64().unwrap_or(0)),
                json!(o["status"]["currentReplicas"].as_i64().unwrap_or(0)),
                json!(created),
            ]
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_status_prefers_container_reasons_and_terminating() {
        let pod = json!({"spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Pending",
            "containerStatuses": [{"restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        assert_eq!(pod_status(&pod), ("CrashLoopBackOff".into(), 0, 1, 4));
        let pod = json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}, "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Running", "containerStatuses": [{"ready": true, "restartCount": 0, "state": {"running": {}}}]}});
        assert_eq!(pod_status(&pod).0, "Terminating");
    }
}
