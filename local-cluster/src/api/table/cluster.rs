//! The printers of the cluster's other kinds: nodes, Services, Endpoints and EndpointSlices,
//! Events, namespaces, ConfigMaps, Secrets, ServiceAccounts, Leases.

use kube_units::durations::human_duration;
use serde_json::json;

use super::columns::{AGE, Column, Common, NAME, Printer, age_seconds, or_none, text};

/// `kubectl get nodes`.
pub(super) fn nodes() -> Printer {
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

/// `kubectl get services`.
pub(super) fn services() -> Printer {
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
pub(super) fn endpoints() -> Printer {
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
pub(super) fn events() -> Printer {
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
pub(super) fn namespaces() -> Printer {
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
pub(super) fn configmaps() -> Printer {
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
pub(super) fn secrets() -> Printer {
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
pub(super) fn serviceaccounts() -> Printer {
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
pub(super) fn leases() -> Printer {
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

/// `kubectl get resourcequotas`: `used/hard` of each resource, requests and counts apart
/// from limits, as kubectl prints them.
pub(super) fn resourcequotas() -> Printer {
    Printer {
        columns: vec![
            NAME,
            AGE,
            Column::string("Request", "The requested resources (used/hard)."),
            Column::string("Limit", "The limited resources (used/hard)."),
        ],
        cells: |o, Common { name, created }| {
            let (mut requests, mut limits) = (Vec::new(), Vec::new());
            for (resource, hard) in o["spec"]["hard"].as_object().into_iter().flatten() {
                let used = o["status"]["used"][resource].as_str().unwrap_or("0");
                let shown = format!("{resource}: {used}/{}", text(hard));
                if resource.starts_with("limits.") {
                    limits.push(shown);
                } else {
                    requests.push(shown);
                }
            }
            vec![
                name,
                json!(created),
                json!(requests.join(", ")),
                json!(limits.join(", ")),
            ]
        },
    }
}

/// `kubectl get limitranges`: its creation time, written out.
pub(super) fn limitranges() -> Printer {
    Printer {
        columns: vec![
            NAME,
            Column::string(
                "Created At",
                "CreationTimestamp is a timestamp representing the server time when this object was created.",
            ),
        ],
        cells: |o, Common { name, .. }| {
            vec![name, json!(text(&o["metadata"]["creationTimestamp"]))]
        },
    }
}

/// `kubectl get ingresses`: the class, the hosts its rules name (`*` for any), the addresses
/// its controller gave it, and its ports (443 too when it has TLS).
pub(super) fn ingresses() -> Printer {
    Printer {
        columns: vec![
            NAME,
            Column::string("Class", "The ingress class this ingress belongs to."),
            Column::string("Hosts", "The hosts this ingress matches."),
            Column::string("Address", "The addresses of the load balancer."),
            Column::string("Ports", "The ports this ingress listens on."),
            AGE,
        ],
        cells: |o, Common { name, created }| {
            let class = o["spec"]["ingressClassName"].as_str().unwrap_or("<none>");
            let hosts: Vec<&str> = o["spec"]["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["host"].as_str())
                .collect();
            let hosts = if hosts.is_empty() {
                "*".to_owned()
            } else {
                hosts.join(",")
            };
            let addresses: Vec<&str> = o["status"]["loadBalancer"]["ingress"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| i["ip"].as_str().or_else(|| i["hostname"].as_str()))
                .collect();
            let ports = if o["spec"]["tls"].as_array().is_some_and(|t| !t.is_empty()) {
                "80, 443"
            } else {
                "80"
            };
            vec![
                name,
                json!(class),
                json!(hosts),
                json!(addresses.join(",")),
                json!(ports),
                json!(created),
            ]
        },
    }
}

/// `kubectl get ingressclasses`: the controller that serves a class.
pub(super) fn ingressclasses() -> Printer {
    Printer {
        columns: vec![
            NAME,
            Column::string(
                "Controller",
                "Controller that is responsible for handling this class.",
            ),
            Column::string(
                "Parameters",
                "A reference to a resource with additional parameters.",
            ),
            AGE,
        ],
        cells: |o, Common { name, created }| {
            let parameters = &o["spec"]["parameters"];
            let shown = match parameters["name"].as_str() {
                Some(n) => format!("{}/{n}", text(&parameters["kind"])),
                None => "<none>".to_owned(),
            };
            vec![
                name,
                json!(text(&o["spec"]["controller"])),
                json!(shown),
                json!(created),
            ]
        },
    }
}

/// `kubectl get networkpolicies`: the pods a policy selects (`<none>` for all of them).
pub(super) fn networkpolicies() -> Printer {
    Printer {
        columns: vec![
            NAME,
            Column::string(
                "Pod-Selector",
                "Selects the pods to which this NetworkPolicy object applies.",
            ),
            AGE,
        ],
        cells: |o, Common { name, created }| {
            let selector = crate::api::table_selector(&o["spec"]["podSelector"]);
            let shown = if selector.is_empty() {
                "<none>".to_owned()
            } else {
                selector
            };
            vec![name, json!(shown), json!(created)]
        },
    }
}

/// `kubectl get runtimeclasses`: the handler the kubelet's runtime runs pods with.
pub(super) fn runtimeclasses() -> Printer {
    Printer {
        columns: vec![
            NAME,
            Column::string(
                "Handler",
                "Handler specifies the underlying runtime and configuration that the CRI implementation will use to handle pods of this class.",
            ),
            AGE,
        ],
        cells: |o, Common { name, created }| vec![name, json!(text(&o["handler"])), json!(created)],
    }
}

/// `kubectl get apiservices`: a local one's service is `Local`; availability is the
/// `Available` condition, with its reason when it is not `True`.
pub(super) fn apiservices() -> Printer {
    Printer {
        columns: vec![
            NAME,
            Column::string("Service", "The service the API is served by."),
            Column::string("Available", "Whether this service is available."),
            AGE,
        ],
        cells: |o, Common { name, created }| {
            let service = &o["spec"]["service"];
            let served_by = if service.is_object() {
                format!("{}/{}", text(&service["namespace"]), text(&service["name"]))
            } else {
                "Local".to_owned()
            };
            let available = o["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["type"] == "Available")
                .map(|c| match c["status"].as_str() {
                    Some("True") => "True".to_owned(),
                    other => format!("{} ({})", other.unwrap_or("Unknown"), text(&c["reason"])),
                })
                .unwrap_or_else(|| "Unknown".to_owned());
            vec![name, json!(served_by), json!(available), json!(created)]
        },
    }
}

/// `kubectl get endpointslices`.
pub(super) fn endpointslices() -> Printer {
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
