//! `meta.k8s.io/v1 Table` renderings, with the columns the real server prints for each kind, so
//! `kubectl get` (and `-o wide`) look the same as against EKS.

use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::resources::ResourceKind;
use kube_units::durations::human_duration;

/// What each row carries besides its cells (`includeObject`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeObject {
    /// Nothing.
    None,
    /// `PartialObjectMetadata` (the default).
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Reads `includeObject`.
    pub fn parse(value: Option<&str>) -> Result<IncludeObject, ApiError> {
        match value {
            None | Some("") | Some("Metadata") => Ok(IncludeObject::Metadata),
            Some("None") => Ok(IncludeObject::None),
            Some("Object") => Ok(IncludeObject::Object),
            Some(other) => Err(ApiError::bad_request(format!(
                "includeObject: Unsupported value: \"{other}\": supported values: \"Metadata\", \"None\", \"Object\""
            ))),
        }
    }
}

/// One column of a table, as the server describes it to kubectl.
#[derive(Clone, Copy, Debug)]
struct Column {
    name: &'static str,
    /// The OpenAPI type of its cells: `string`, `integer`, `date`.
    kind: &'static str,
    /// A format hint (`name` for the object's name).
    format: &'static str,
    /// 0: always shown; 1: only with `-o wide`.
    priority: u8,
    description: &'static str,
}

impl Column {
    /// A text column shown by default.
    const fn string(name: &'static str, description: &'static str) -> Column {
        Column::typed(name, "string", description)
    }

    /// A column of another type, shown by default.
    const fn typed(name: &'static str, kind: &'static str, description: &'static str) -> Column {
        Column {
            name,
            kind,
            format: "",
            priority: 0,
            description,
        }
    }

    /// With a format hint.
    const fn format(self, format: &'static str) -> Column {
        Column { format, ..self }
    }

    /// Shown only with `-o wide`.
    const fn wide(self) -> Column {
        Column {
            priority: 1,
            ..self
        }
    }
}

/// A kind's table: its columns and the cells of one object's row, in the same order.
struct Printer {
    columns: Vec<Column>,
    cells: fn(&Value, Common) -> Vec<Value>,
}

/// What most rows start with, made once for every printer.
struct Common {
    /// The Name cell.
    name: Value,
    /// The Age cell's text.
    created: String,
}

impl Common {
    fn of(object: &Value) -> Common {
        Common {
            name: json!(text(&object["metadata"]["name"])),
            created: age(&object["metadata"]["creationTimestamp"]),
        }
    }
}

const NAME: Column =
    Column::string("Name", "Name must be unique within a namespace.").format("name");
const AGE: Column = Column::string(
    "Age",
    "CreationTimestamp is a timestamp representing the server time when this object was created.",
);
/// The wide columns of every kind with a pod template.
const CONTAINERS: Column =
    Column::string("Containers", "Names of each container in the template.").wide();
const IMAGES: Column = Column::string(
    "Images",
    "Images referenced by each container in the template.",
)
.wide();

/// The printer of `kind`'s table: its columns and how a row's cells are made, side by side so
/// they cannot drift apart.
fn printer(kind: &ResourceKind) -> Printer {
    match (kind.group, kind.kind) {
        ("", "Pod") => pods(),
        ("", "Node") => nodes(),
        ("apps", "Deployment") => deployments(),
        ("apps", "StatefulSet") => statefulsets(),
        ("batch", "CronJob") => cronjobs(),
        ("batch", "Job") => jobs(),
        ("apps", "DaemonSet") => daemonsets(),
        ("policy", "PodDisruptionBudget") => poddisruptionbudgets(),
        ("apps", "ReplicaSet") | ("", "ReplicationController") => replicasets(),
        ("", "Service") => services(),
        ("", "Endpoints") => endpoints(),
        ("", "Event") => events(),
        ("", "Namespace") => namespaces(),
        ("", "ConfigMap") => configmaps(),
        ("", "Secret") => secrets(),
        ("", "ServiceAccount") => serviceaccounts(),
        ("coordination.k8s.io", "Lease") => leases(),
        ("discovery.k8s.io", "EndpointSlice") => endpointslices(),
        _ => any_kind(),
    }
}

/// `kubectl get pods`.
fn pods() -> Printer {
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

/// `kubectl get nodes`.
fn nodes() -> Printer {
    Printer {
        columns: vec![
            NAME,
            Column::string("Status", "The status of the node"),
            Column::string("Roles", "The roles of the node"),
            AGE,
            Column::string("Version", "Kubelet Version reported by the node."),
            Column::string("Internal-IP", "List of addresses reachable to the node.").wide(),
            Column::string("External-IP", "List of addresses reachable to the node.").wide(),
            Column::string("OS-Image", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).").wide(),
            Column::string("Kernel-Version", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).").wide(),
            Column::string("Container-Runtime", "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).").wide(),
        ],
        cells: |o, Common { name, created }| {
            let conditions = o["status"]["conditions"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let mut status = match conditions
                .iter()
                .find(|c| c["type"] == "Ready")
                .map(|c| c["status"].clone())
            {
                Some(s) if s == "True" => "Ready".to_owned(),
                Some(s) if s == "False" => "NotReady".to_owned(),
                _ => "Unknown".to_owned(),
            };
            if o["spec"]["unschedulable"] == true {
                status.push_str(",SchedulingDisabled");
            }
            let roles: Vec<String> = o["metadata"]["labels"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, _)| {
                    k.strip_prefix("node-role.kubernetes.io/")
                        .map(str::to_owned)
                })
                .collect();
            let address = |t: &str| {
                o["status"]["addresses"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|a| a["type"] == t)
                    .map(|a| text(&a["address"]))
                    .unwrap_or_default()
            };
            let info = &o["status"]["nodeInfo"];
            vec![
                name,
                json!(status),
                json!(or_none(roles.join(","))),
                json!(created),
                json!(text(&info["kubeletVersion"])),
                json!(or_none(address("InternalIP"))),
                json!(or_none(address("ExternalIP"))),
                json!(text(&info["osImage"])),
                json!(text(&info["kernelVersion"])),
                json!(text(&info["containerRuntimeVersion"])),
            ]

        },
    }
}

/// `kubectl get deployments`.
fn deployments() -> Printer {
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
fn statefulsets() -> Printer {
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
fn cronjobs() -> Printer {
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
fn jobs() -> Printer {
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
fn daemonsets() -> Printer {
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
fn poddisruptionbudgets() -> Printer {
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
fn replicasets() -> Printer {
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

/// `kubectl get services`.
fn services() -> Printer {
    Printer {
        columns: vec![
            NAME,
            Column::string("Type", "type determines how the Service is exposed."),
            Column::string(
                "Cluster-IP",
                "clusterIP is the IP address of the service and is usually assigned randomly.",
            ),
            Column::string(
                "External-IP",
                "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.",
            ),
            Column::string(
                "Port(s)",
                "The list of ports that are exposed by this service.",
            ),
            AGE,
            Column::string(
                "Selector",
                "Route service traffic to pods with label keys and values matching this selector.",
            )
            .wide(),
        ],
        cells: |o, Common { name, created }| {
            let spec = &o["spec"];
            let kind_of = text(&spec["type"]);
            let ports: Vec<String> = spec["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    let protocol = p["protocol"].as_str().unwrap_or("TCP");
                    match p["nodePort"].as_i64() {
                        Some(n) => format!("{}:{n}/{protocol}", p["port"]),
                        None => format!("{}/{protocol}", p["port"]),
                    }
                })
                .collect();
            let external = match kind_of.as_str() {
                "LoadBalancer" => o["status"]["loadBalancer"]["ingress"]
                    .as_array()
                    .and_then(|i| i.first())
                    .map(|i| text(&i["ip"]).to_owned() + &text(&i["hostname"]))
                    .unwrap_or_else(|| "<pending>".into()),
                "ExternalName" => text(&spec["externalName"]),
                _ => spec["externalIPs"]
                    .as_array()
                    .map(|ips| ips.iter().map(text).collect::<Vec<_>>().join(","))
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "<none>".into()),
            };
            let selector: Vec<String> = spec["selector"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect();
            vec![
                name,
                json!(kind_of),
                json!(or_none(text(&spec["clusterIP"]))),
                json!(external),
                json!(or_none(ports.join(","))),
                json!(created),
                json!(or_none(selector.join(","))),
            ]
        },
    }
}

/// `kubectl get endpoints`.
fn endpoints() -> Printer {
    Printer {
        columns: vec![
            NAME,
            Column::string(
                "Endpoints",
                "Endpoints is the list of endpoints in the subsets.",
            ),
            AGE,
        ],
        cells: |o, Common { name, created }| {
            let mut all = Vec::new();
            for subset in o["subsets"].as_array().into_iter().flatten() {
                for address in subset["addresses"].as_array().into_iter().flatten() {
                    for port in subset["ports"].as_array().into_iter().flatten() {
                        all.push(format!("{}:{}", text(&address["ip"]), port["port"]));
                    }
                    if subset["ports"].as_array().is_none_or(|p| p.is_empty()) {
                        all.push(text(&address["ip"]));
                    }
                }
            }
            let shown = if all.len() > 3 {
                format!("{} + {} more...", all[..3].join(","), all.len() - 3)
            } else {
                or_none(all.join(","))
            };
            vec![name, json!(shown), json!(created)]
        },
    }
}

/// `kubectl get events`.
fn events() -> Printer {
    Printer {
        columns: vec![
            Column::string("Last Seen", "The last time this event was observed."),
            Column::string(
                "Type",
                "Type of this event (Normal, Warning), new types could be added in the future.",
            ),
            Column::string(
                "Reason",
                "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
            ),
            Column::string("Object", "The object that this event is about."),
            Column::string(
                "Subobject",
                "The subobject (e.g. container) that this event is about.",
            )
            .wide(),
            Column::string("Source", "The component reporting this event.").wide(),
            Column::string(
                "Message",
                "A human-readable description of the status of this operation.",
            ),
            Column::string(
                "First Seen",
                "The time at which the event was first recorded.",
            )
            .wide(),
            Column::string("Count", "The number of times this event has occurred.").wide(),
            Column::string("Name", "Name must be unique within a namespace.")
                .format("name")
                .wide(),
        ],
        cells: |o, Common { name, .. }| {
            let last = ["lastTimestamp", "eventTime", "firstTimestamp"]
                .iter()
                .find_map(|k| age_seconds(&o[*k]))
                .or_else(|| age_seconds(&o["metadata"]["creationTimestamp"]));
            let first = age_seconds(&o["firstTimestamp"]).or_else(|| age_seconds(&o["eventTime"]));
            let involved = &o["involvedObject"];
            let object = format!(
                "{}/{}",
                text(&involved["kind"]).to_lowercase(),
                text(&involved["name"])
            );
            let source = {
                let component = text(&o["source"]["component"]);
                let host = text(&o["source"]["host"]);
                let reporting = text(&o["reportingComponent"]);
                match (component.is_empty(), host.is_empty()) {
                    (false, false) => format!("{component}, {host}"),
                    (false, true) => component,
                    _ => reporting,
                }
            };
            vec![
                json!(
                    last.map(human_duration)
                        .unwrap_or_else(|| "<unknown>".into())
                ),
                json!(text(&o["type"])),
                json!(text(&o["reason"])),
                json!(object),
                json!(text(&involved["fieldPath"])),
                json!(source),
                json!(text(&o["message"]).trim().to_owned()),
                json!(
                    first
                        .map(human_duration)
                        .unwrap_or_else(|| "<unknown>".into())
                ),
                json!(o["count"].as_i64().unwrap_or(1).to_string()),
                name,
            ]
        },
    }
}

/// `kubectl get namespaces`.
fn namespaces() -> Printer {
    Printer {
        columns: vec![
            NAME,
            Column::string("Status", "The status of the namespace"),
            AGE,
        ],
        cells: |o, Common { name, created }| {
            vec![name, json!(text(&o["status"]["phase"])), json!(created)]
        },
    }
}

/// `kubectl get configmaps`.
fn configmaps() -> Printer {
    Printer {
        columns: vec![
            NAME,
            Column::string("Data", "Data contains the configuration data."),
            AGE,
        ],
        cells: |o, Common { name, created }| {
            let count = o["data"].as_object().map_or(0, |m| m.len())
                + o["binaryData"].as_object().map_or(0, |m| m.len());
            vec![name, json!(count.to_string()), json!(created)]
        },
    }
}

/// `kubectl get secrets`.
fn secrets() -> Printer {
    Printer {
        columns: vec![
            NAME,
            Column::string("Type", "The type of data stored in the secret"),
            Column::string("Data", "The number of entries in the data"),
            AGE,
        ],
        cells: |o, Common { name, created }| {
            let count = o["data"].as_object().map_or(0, |m| m.len());
            vec![
                name,
                json!(text(&o["type"])),
                json!(count.to_string()),
                json!(created),
            ]
        },
    }
}

/// `kubectl get serviceaccounts`.
fn serviceaccounts() -> Printer {
    Printer {
        columns: vec![
            NAME,
            Column::string(
                "Secrets",
                "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.",
            ),
            AGE,
        ],
        cells: |o, Common { name, created }| {
            vec![
                name,
                json!(o["secrets"].as_array().map_or(0, Vec::len).to_string()),
                json!(created),
            ]
        },
    }
}

/// `kubectl get leases`.
fn leases() -> Printer {
    Printer {
        columns: vec![
            NAME,
            Column::string("Holder", "The holder of the lease."),
            AGE,
        ],
        cells: |o, Common { name, created }| {
            vec![
                name,
                json!(text(&o["spec"]["holderIdentity"])),
                json!(created),
            ]
        },
    }
}

/// `kubectl get endpointslices`.
fn endpointslices() -> Printer {
    Printer {
        columns: vec![
            NAME,
            Column::string(
                "AddressType",
                "addressType specifies the type of address carried by this EndpointSlice.",
            ),
            Column::string(
                "Ports",
                "ports specifies the list of network ports exposed by each endpoint in this slice.",
            ),
            Column::string(
                "Endpoints",
                "endpoints is a list of unique endpoints in this slice.",
            ),
            AGE,
        ],
        cells: |o, Common { name, created }| {
            let ports: Vec<String> = o["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| p["port"].to_string())
                .collect();
            let addresses: Vec<String> = o["endpoints"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|e| e["addresses"].as_array().cloned().unwrap_or_default())
                .map(|a| text(&a))
                .collect();
            vec![
                name,
                json!(text(&o["addressType"])),
                json!(if ports.is_empty() {
                    "<unset>".into()
                } else {
                    ports.join(",")
                }),
                json!(or_none(addresses.join(","))),
                json!(created),
            ]
        },
    }
}

/// Any other kind: its name and when it was made.
fn any_kind() -> Printer {
    Printer {
        columns: vec![
            NAME,
            Column::typed(
                "Created At",
                "date",
                "CreationTimestamp is a timestamp representing the server time when this object was created.",
            ),
        ],
        cells: |o, Common { name, .. }| {
            vec![name, json!(text(&o["metadata"]["creationTimestamp"]))]
        },
    }
}

/// A Table of `objects`.
pub fn table(
    kind: &ResourceKind,
    objects: &[Value],
    revision: u64,
    token: Option<String>,
    remaining: Option<usize>,
    include: IncludeObject,
) -> Value {
    let printer = printer(kind);
    let definitions: Vec<Value> = printer
        .columns
        .iter()
        .map(|c| {
            json!({"name": c.name, "type": c.kind, "format": c.format, "description": c.description, "priority": c.priority})
        })
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            let mut row = json!({"cells": (printer.cells)(object, Common::of(object))});
            match include {
                IncludeObject::None => {}
                IncludeObject::Metadata => {
                    row["object"] = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": object["metadata"]});
                }
                IncludeObject::Object => row["object"] = object.clone(),
            }
            row
        })
        .collect();
    let mut meta = json!({"resourceVersion": revision.to_string()});
    if let Some(t) = token {
        meta["continue"] = json!(t);
    }
    if let Some(r) = remaining {
        meta["remainingItemCount"] = json!(r);
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": definitions, "rows": rows})
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn or_none(s: String) -> String {
    if s.is_empty() { "<none>".into() } else { s }
}

/// Seconds since an RFC 3339 timestamp, if it parses.
pub fn age_seconds(timestamp: &Value) -> Option<i64> {
    let t: jiff::Timestamp = timestamp.as_str()?.parse().ok()?;
    Some(jiff::Timestamp::now().duration_since(t).as_secs())
}

fn age(timestamp: &Value) -> String {
    age_seconds(timestamp)
        .map(human_duration)
        .unwrap_or_else(|| "<unknown>".into())
}

fn selector_text(selector: &Value) -> String {
    or_none(super::table_selector(selector))
}

fn template_columns(spec: &Value) -> (String, String) {
    let containers = spec["template"]["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<String> = containers.iter().map(|c| text(&c["name"])).collect();
    let images: Vec<String> = containers.iter().map(|c| text(&c["image"])).collect();
    (names.join(","), images.join(","))
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

    /// Every kind's row has one cell per column, for a bare object and for one with the
    /// fields the printers read, so the two lists of a printer cannot drift apart.
    #[test]
    fn every_printer_makes_one_cell_per_column() {
        let full = json!({
            "kind": "ReplicationController",
            "metadata": {"name": "x", "namespace": "default", "creationTimestamp": "2026-11-26T10:00:00Z"},
            "spec": {"replicas": 2, "selector": {"app": "x"}, "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}},
                "containers": [{"name": "c", "image": "i"}], "ports": [{"port": 80, "protocol": "TCP"}]},
            "status": {"replicas": 2, "conditions": [{"type": "Ready", "status": "True"}]},
        });
        for kind in crate::resources::RESOURCES {
            let printer = printer(kind);
            for object in [json!({}), full.clone()] {
                assert_eq!(
                    (printer.cells)(&object, Common::of(&object)).len(),
                    printer.columns.len(),
                    "{}",
                    kind.kind
                );
            }
        }
    }
}
