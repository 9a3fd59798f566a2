//! The defaults a real API server fills in, where clients and controllers rely on them
//! (a Deployment's strategy, a Service's port protocol, a pod's restartPolicy, …).

use serde_json::{Map, Value, json};

use crate::resources::ResourceKind;

fn set_default(map: &mut Map<String, Value>, key: &str, value: Value) {
    if map.get(key).is_none_or(Value::is_null) {
        map.insert(key.to_owned(), value);
    }
}

fn object_at<'a>(value: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    let map = value.as_object_mut()?;
    if map.get(key).is_none_or(Value::is_null) {
        map.insert(key.to_owned(), json!({}));
    }
    map.get_mut(key)?.as_object_mut()
}

/// Fills in defaults for `object`, a `kind`, in place.
pub fn apply(kind: &ResourceKind, object: &mut Value) {
    match (kind.group, kind.kind) {
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            crate::custom_resources::definition::default(object)
        }
        ("networking.k8s.io", "Ingress") => ingress_backend_ports(object),
        ("", "LimitRange") => crate::quotas::limit_ranges::complete(object),
        ("autoscaling", "HorizontalPodAutoscaler") => {
            if let Some(spec) = object_at(object, "spec") {
                set_default(spec, "minReplicas", json!(1));
                // autoscaling/v2's default metric: 80 % of the CPU requested.
                set_default(
                    spec,
                    "metrics",
                    json!([{"type": "Resource", "resource": {"name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 80}}}]),
                );
            }
        }
        ("", "Pod") => {
            if let Some(spec) = object.get_mut("spec") {
                pod_spec(spec);
                if let Some(map) = spec.as_object_mut() {
                    set_default(map, "enableServiceLinks", json!(true));
                    set_default(map, "priority", json!(0));
                    set_default(map, "serviceAccountName", json!("default"));
                    set_default(map, "serviceAccount", json!("default"));
                    set_default(map, "preemptionPolicy", json!("PreemptLowerPriority"));
                    default_tolerations(map);
                }
            }
            let qos = qos_class(&object["spec"]);
            if let Some(status) = object_at(object, "status") {
                set_default(status, "phase", json!("Pending"));
                set_default(status, "qosClass", json!(qos));
            }
        }
        ("apps", "Deployment") => {
            if let Some(spec) = object_at(object, "spec") {
                set_default(spec, "replicas", json!(1));
                set_default(spec, "revisionHistoryLimit", json!(10));
                set_default(spec, "progressDeadlineSeconds", json!(600));
                let strategy = spec.entry("strategy").or_insert_with(|| json!({}));
                if let Some(s) = strategy.as_object_mut() {
                    set_default(s, "type", json!("RollingUpdate"));
                    if s["type"] == "RollingUpdate" {
                        let rolling = s.entry("rollingUpdate").or_insert_with(|| json!({}));
                        if let Some(r) = rolling.as_object_mut() {
                            set_default(r, "maxSurge", json!("25%"));
                            set_default(r, "maxUnavailable", json!("25%"));
                        }
                    }
                }
            }
            if let Some(template) = object.pointer_mut("/spec/template/spec") {
                pod_spec(template);
            }
        }
        ("batch", "Job") => job(object),
        ("batch", "CronJob") => {
            if let Some(spec) = object_at(object, "spec") {
                set_default(spec, "concurrencyPolicy", json!("Allow"));
                set_default(spec, "suspend", json!(false));
                set_default(spec, "successfulJobsHistoryLimit", json!(3));
                set_default(spec, "failedJobsHistoryLimit", json!(1));
            }
            if let Some(template) = object.pointer_mut("/spec/jobTemplate/spec/template/spec") {
                pod_spec(template);
            }
        }
        ("", "ReplicationController") => {
            // With no selector, the server selects the template's labels (and labels the
            // controller with them).
            let labels = object["spec"]["template"]["metadata"]["labels"].clone();
            if let Some(spec) = object_at(object, "spec") {
                set_default(spec, "replicas", json!(1));
                set_default(spec, "minReadySeconds", json!(0));
                if labels.is_object() {
                    set_default(spec, "selector", labels.clone());
                }
            }
            if labels.is_object()
                && let Some(meta) = object_at(object, "metadata")
            {
                set_default(meta, "labels", labels);
            }
            if let Some(template) = object.pointer_mut("/spec/template/spec") {
                pod_spec(template);
            }
        }
        ("apps", "StatefulSet") => {
            if let Some(spec) = object_at(object, "spec") {
                set_default(spec, "replicas", json!(1));
                set_default(spec, "podManagementPolicy", json!("OrderedReady"));
                set_default(spec, "revisionHistoryLimit", json!(10));
                set_default(
                    spec,
                    "persistentVolumeClaimRetentionPolicy",
                    json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
                );
                let strategy = spec.entry("updateStrategy").or_insert_with(|| json!({}));
                if let Some(s) = strategy.as_object_mut() {
                    set_default(s, "type", json!("RollingUpdate"));
                    if s["type"] == "RollingUpdate" {
                        set_default(s, "rollingUpdate", json!({"partition": 0}));
                    }
                }
            }
            if let Some(template) = object.pointer_mut("/spec/template/spec") {
                pod_spec(template);
            }
        }
        ("apps", "DaemonSet") => {
            if let Some(spec) = object_at(object, "spec") {
                set_default(spec, "revisionHistoryLimit", json!(10));
                let strategy = spec.entry("updateStrategy").or_insert_with(|| json!({}));
                if let Some(s) = strategy.as_object_mut() {
                    set_default(s, "type", json!("RollingUpdate"));
                    if s["type"] == "RollingUpdate" {
                        let rolling = s.entry("rollingUpdate").or_insert_with(|| json!({}));
                        if let Some(r) = rolling.as_object_mut() {
                            set_default(r, "maxSurge", json!(0));
                            set_default(r, "maxUnavailable", json!(1));
                        }
                    }
                }
            }
            if let Some(template) = object.pointer_mut("/spec/template/spec") {
                pod_spec(template);
            }
        }
        ("apps", "ReplicaSet") => {
            if let Some(spec) = object_at(object, "spec") {
                set_default(spec, "replicas", json!(1));
            }
            if let Some(template) = object.pointer_mut("/spec/template/spec") {
                pod_spec(template);
            }
        }
        ("", "Service") => {
            if let Some(spec) = object_at(object, "spec") {
                set_default(spec, "type", json!("ClusterIP"));
                set_default(spec, "sessionAffinity", json!("None"));
                if spec["type"] != "ExternalName" {
                    set_default(spec, "ipFamilies", json!(["IPv4"]));
                    set_default(spec, "ipFamilyPolicy", json!("SingleStack"));
                    set_default(spec, "internalTrafficPolicy", json!("Cluster"));
                }
                if matches!(spec["type"].as_str(), Some("NodePort" | "LoadBalancer")) {
                    set_default(spec, "externalTrafficPolicy", json!("Cluster"));
                }
                if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
                    for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                        set_default(port, "protocol", json!("TCP"));
                        let number = port.get("port").cloned().unwrap_or(Value::Null);
                        // 0 and "" mean unset, as in Go (Protobuf bodies always carry it).
                        if port
                            .get("targetPort")
                            .is_some_and(|t| *t == json!(0) || *t == json!(""))
                        {
                            port.remove("targetPort");
                        }
                        set_default(port, "targetPort", number);
                    }
                }
            }
            // Clients read `status.loadBalancer.ingress` without checking for a status.
            if let Some(status) = object_at(object, "status") {
                set_default(status, "loadBalancer", json!({}));
            }
        }
        ("", "Namespace") => {
            let name = object["metadata"]["name"].clone();
            if let Some(meta) = object_at(object, "metadata") {
                let labels = meta.entry("labels").or_insert_with(|| json!({}));
                if let Some(l) = labels.as_object_mut() {
                    l.insert("kubernetes.io/metadata.name".into(), name);
                }
            }
            if let Some(spec) = object_at(object, "spec") {
                set_default(spec, "finalizers", json!(["kubernetes"]));
            }
            if let Some(status) = object_at(object, "status") {
                set_default(status, "phase", json!("Active"));
            }
        }
        ("", "Secret") => {
            if let Some(map) = object.as_object_mut() {
                set_default(map, "type", json!("Opaque"));
            }
        }
        ("discovery.k8s.io", "EndpointSlice") => {
            if let Some(ports) = object.get_mut("ports").and_then(Value::as_array_mut) {
                for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                    set_default(port, "protocol", json!("TCP"));
                }
            }
        }
        _ => {}
    }
}

/// Defaults of a PodSpec (in pods and in pod templates).
pub fn pod_spec(spec: &mut Value) {
    let Some(map) = spec.as_object_mut() else {
        return;
    };
    set_default(map, "restartPolicy", json!("Always"));
    set_default(map, "terminationGracePeriodSeconds", json!(30));
    set_default(map, "dnsPolicy", json!("ClusterFirst"));
    set_default(map, "securityContext", json!({}));
    set_default(map, "schedulerName", json!("default-scheduler"));
    for list in ["containers", "initContainers"] {
        if let Some(containers) = map.get_mut(list).and_then(Value::as_array_mut) {
            containers.iter_mut().for_each(container);
        }
    }
}

fn container(c: &mut Value) {
    let image = c["image"].as_str().unwrap_or_default().to_owned();
    let Some(map) = c.as_object_mut() else { return };
    set_default(map, "terminationMessagePath", json!("/dev/termination-log"));
    set_default(map, "terminationMessagePolicy", json!("File"));
    set_default(map, "resources", json!({}));
    // Same rule as the real defaulter: no tag or `:latest` means Always.
    let last = image.rsplit('/').next().unwrap_or_default();
    let tagged = last.contains(':') && !last.ends_with(":latest");
    let by_digest = image.contains('@');
    set_default(
        map,
        "imagePullPolicy",
        json!(if tagged || by_digest {
            "IfNotPresent"
        } else {
            "Always"
        }),
    );
    if let Some(ports) = map.get_mut("ports").and_then(Value::as_array_mut) {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            set_default(port, "protocol", json!("TCP"));
        }
    }
    for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
        if let Some(p) = map.get_mut(probe).and_then(Value::as_object_mut) {
            set_default(p, "timeoutSeconds", json!(1));
            set_default(p, "periodSeconds", json!(10));
            set_default(p, "successThreshold", json!(1));
            set_default(p, "failureThreshold", json!(3));
            if let Some(get) = p.get_mut("httpGet").and_then(Value::as_object_mut) {
                set_default(get, "scheme", json!("HTTP"));
                set_default(get, "path", json!("/"));
            }
        }
    }
}

/// The DefaultTolerationSeconds admission plugin: pods tolerate a not-ready or unreachable node
/// for 300 s before eviction.
fn default_tolerations(spec: &mut Map<String, Value>) {
    let tolerations = spec.entry("tolerations").or_insert_with(|| json!([]));
    let Some(list) = tolerations.as_array_mut() else {
        return;
    };
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let present = list
            .iter()
            .any(|t| t["key"] == key && (t["effect"] == "NoExecute" || t["effect"].is_null()));
        if !present {
            list.push(json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}));
        }
    }
}

/// BestEffort, Burstable or Guaranteed, from the containers' requests and limits.
pub fn qos_class(spec: &Value) -> &'static str {
    let containers: Vec<&Value> = spec["containers"]
        .as_array()
        .map(|c| c.iter().collect())
        .unwrap_or_default();
    let mut any = false;
    let mut guaranteed = !containers.is_empty();
    for c in containers {
        let requests = c["resources"]["requests"].as_object();
        let limits = c["resources"]["limits"].as_object();
        if requests.is_some_and(|r| !r.is_empty()) || limits.is_some_and(|l| !l.is_empty()) {
            any = true;
        }
        for resource in ["cpu", "memory"] {
            let limit = limits.and_then(|l| l.get(resource));
            let request = requests.and_then(|r| r.get(resource)).or(limit);
            if limit.is_none() || request != limit {
                guaranteed = false;
            }
        }
    }
    if guaranteed {
        "Guaranteed"
    } else if any {
        "Burstable"
    } else {
        "BestEffort"
    }
}

/// A Job's defaults, and the selector and labels the server gives it: its pods carry the Job's
/// uid and name, and its selector is the uid (unless `manualSelector` says the user chose one).
fn job(object: &mut Value) {
    let uid = object["metadata"]["uid"].clone();
    let name = object["metadata"]["name"].clone();
    let manual = object["spec"]["manualSelector"] == json!(true);
    if let Some(spec) = object_at(object, "spec") {
        let unset = |map: &Map<String, Value>, key: &str| map.get(key).is_none_or(Value::is_null);
        if unset(spec, "completions") && unset(spec, "parallelism") {
            spec.insert("completions".into(), json!(1));
        }
        set_default(spec, "parallelism", json!(1));
        set_default(spec, "backoffLimit", json!(6));
        set_default(spec, "completionMode", json!("NonIndexed"));
        set_default(spec, "suspend", json!(false));
        set_default(spec, "podReplacementPolicy", json!("TerminatingOrFailed"));
        if !manual && uid.is_string() {
            set_default(
                spec,
                "selector",
                json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}),
            );
        }
    }
    if !manual
        && uid.is_string()
        && let Some(template) = object
            .pointer_mut("/spec/template")
            .and_then(Value::as_object_mut)
    {
        let metadata = template.entry("metadata").or_insert_with(|| json!({}));
        if let Some(metadata) = metadata.as_object_mut() {
            let labels = metadata.entry("labels").or_insert_with(|| json!({}));
            if let Some(labels) = labels.as_object_mut() {
                for (key, value) in [
                    ("batch.kubernetes.io/controller-uid", &uid),
                    ("batch.kubernetes.io/job-name", &name),
                    ("controller-uid", &uid),
                    ("job-name", &name),
                ] {
                    labels.entry(key).or_insert_with(|| value.clone());
                }
            }
        }
    }
    if let Some(template) = object.pointer_mut("/spec/template/spec") {
        pod_spec(template);
    }
}

/// A Protobuf body carries an Ingress backend's unset port number as 0; the real server's JSON
/// leaves it out (`omitempty`), so a port named by name reads as only its name.
fn ingress_backend_ports(object: &mut Value) {
    let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let mut backends: Vec<&mut Value> = Vec::new();
    for (key, value) in spec.iter_mut() {
        match key.as_str() {
            "defaultBackend" => backends.push(value),
            "rules" => {
                for rule in value.as_array_mut().into_iter().flatten() {
                    let paths = rule
                        .get_mut("http")
                        .and_then(|h| h.get_mut("paths"))
                        .and_then(Value::as_array_mut);
                    backends.extend(
                        paths
                            .into_iter()
                            .flatten()
                            .filter_map(|p| p.get_mut("backend")),
                    );
                }
            }
            _ => {}
        }
    }
    for backend in backends {
        if let Some(port) = backend
            .get_mut("service")
            .and_then(|s| s.get_mut("port"))
            .and_then(Value::as_object_mut)
            && port.get("number") == Some(&json!(0))
        {
            port.remove("number");
        }
    }
}
