//! Every manifest parses into typed Kubernetes objects and keeps the invariants the console and
//! the local cluster rely on: OS placement, probes, labels, routing variables, one image source.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use calc_services::Operation;
use calc_services::default_service_url;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Namespace, PodSpec, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

fn manifests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests")
}

/// All objects of one manifest file, each as the typed object and as the raw document.
#[derive(Default)]
struct Objects {
    deployments: BTreeMap<String, Deployment>,
    services: BTreeMap<String, Service>,
    namespaces: Vec<Namespace>,
}

/// Parses a typed object and fails when the typed form dropped a field of the document, which is
/// what a misspelt key (`readinesProbe`) looks like after parsing.
fn typed<T: serde::de::DeserializeOwned + serde::Serialize>(
    doc: &serde_yaml::Value,
    file: &Path,
) -> T {
    let json = serde_json::to_value(doc).expect("YAML is JSON-compatible");
    let object: T =
        serde_json::from_value(json.clone()).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let back = serde_json::to_value(&object).expect("serialize");
    assert_eq!(
        back,
        json,
        "{}: a field was not understood (typo?)",
        file.display()
    );
    object
}

fn load(dir: &Path, recursive: bool) -> Objects {
    let mut objects = Objects::default();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("dir entry").path())
        .collect();
    files.sort();
    for path in files {
        if path.is_dir() {
            if recursive {
                let nested = load(&path, true);
                objects.deployments.extend(nested.deployments);
                objects.services.extend(nested.services);
                objects.namespaces.extend(nested.namespaces);
            }
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read manifest");
        for document in serde_yaml::Deserializer::from_str(&text) {
            let doc = serde_yaml::Value::deserialize(document)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let kind = doc["kind"].as_str().unwrap_or_default().to_owned();
            let api_version = doc["apiVersion"].as_str().unwrap_or_default().to_owned();
            match (api_version.as_str(), kind.as_str()) {
                ("apps/v1", "Deployment") => {
                    let d: Deployment = typed(&doc, &path);
                    objects
                        .deployments
                        .insert(d.metadata.name.clone().expect("name"), d);
                }
                ("v1", "Service") => {
                    let s: Service = typed(&doc, &path);
                    objects
                        .services
                        .insert(s.metadata.name.clone().expect("name"), s);
                }
                ("v1", "Namespace") => objects.namespaces.push(typed(&doc, &path)),
                other => panic!("{}: unexpected object {other:?}", path.display()),
            }
        }
    }
    objects
}

use serde::Deserialize as _;

fn pod_spec(d: &Deployment) -> &PodSpec {
    d.spec.template.spec.as_ref().expect("pod spec")
}

fn container(d: &Deployment) -> &Container {
    let spec = pod_spec(d);
    assert_eq!(spec.containers.len(), 1, "one container per calculator pod");
    &spec.containers[0]
}

fn labels(d: &Deployment) -> BTreeMap<String, String> {
    d.spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default()
}

fn env_names(c: &Container) -> Vec<String> {
    c.env.iter().flatten().map(|e| e.name.clone()).collect()
}

/// The image named once, in manifests/kustomization.yaml.
fn kustomization_image() -> String {
    let text =
        std::fs::read_to_string(manifests_dir().join("kustomization.yaml")).expect("kustomization");
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("kustomization YAML");
    let image = &doc["images"][0];
    format!(
        "{}:{}",
        image["name"].as_str().expect("name"),
        image["newTag"].as_str().expect("newTag")
    )
}

fn check_common(name: &str, d: &Deployment, component: &str, image: &str) {
    let spec = &d.spec;
    let selector = spec.selector.match_labels.clone().expect("matchLabels");
    let template_labels = labels(d);
    for (k, v) in &selector {
        assert_eq!(
            template_labels.get(k),
            Some(v),
            "{name}: selector {k} must match the pod labels"
        );
    }
    assert_eq!(
        template_labels["app.kubernetes.io/name"], "calculator",
        "{name}"
    );
    assert_eq!(
        template_labels["app.kubernetes.io/component"], component,
        "{name}"
    );
    assert_eq!(
        template_labels["app.kubernetes.io/part-of"], "calculator",
        "{name}"
    );
    assert_eq!(
        d.metadata.namespace.as_deref(),
        Some("calculator"),
        "{name}"
    );

    let strategy = spec.strategy.as_ref().expect("strategy");
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"), "{name}");
    let rolling = strategy.rolling_update.as_ref().expect("rollingUpdate");
    assert_eq!(
        rolling.max_unavailable,
        Some(IntOrString::Int(0)),
        "{name}: no downtime on redeploy"
    );

    let c = container(d);
    assert_eq!(
        c.image.as_deref(),
        Some(image),
        "{name}: image comes from the kustomization"
    );
    assert_eq!(
        c.args.as_deref(),
        Some(&[component.to_owned()][..]),
        "{name}: runs its role"
    );
    let port = c
        .ports
        .iter()
        .flatten()
        .find(|p| p.name.as_deref() == Some("http"))
        .expect("http port");
    assert_eq!(port.container_port, 3000, "{name}");
    for (probe, path) in [
        (&c.readiness_probe, "/readyz"),
        (&c.liveness_probe, "/healthz"),
    ] {
        let get = probe
            .as_ref()
            .and_then(|p| p.http_get.as_ref())
            .unwrap_or_else(|| panic!("{name}: {path} probe"));
        assert_eq!(get.path.as_deref(), Some(path), "{name}");
        assert_eq!(get.port, IntOrString::String("http".into()), "{name}");
    }
    let requests = c
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .expect("resource requests");
    assert!(
        requests.contains_key("cpu") && requests.contains_key("memory"),
        "{name}: cpu and memory requests"
    );
    for (var, field) in [
        ("POD_NAME", "metadata.name"),
        ("POD_NAMESPACE", "metadata.namespace"),
        ("NODE_NAME", "spec.nodeName"),
    ] {
        let env = c
            .env
            .iter()
            .flatten()
            .find(|e| e.name == var)
            .unwrap_or_else(|| panic!("{name}: {var}"));
        let field_ref = env
            .value_from
            .as_ref()
            .and_then(|v| v.field_ref.as_ref())
            .expect("fieldRef");
        assert_eq!(field_ref.field_path, field, "{name}: {var}");
    }
}

fn tolerates_windows(spec: &PodSpec) -> bool {
    spec.tolerations.iter().flatten().any(|t| {
        t.key.as_deref() == Some("os")
            && t.value.as_deref() == Some("windows")
            && t.effect.as_deref() == Some("NoSchedule")
    })
}

#[test]
fn the_starting_point_is_the_windows_monolith_behind_the_front_service() {
    let image = kustomization_image();
    let objects = load(&manifests_dir().join("calculator"), false);
    assert_eq!(objects.namespaces.len(), 1);
    assert_eq!(
        objects.namespaces[0].metadata.name.as_deref(),
        Some("calculator")
    );
    assert_eq!(objects.deployments.keys().collect::<Vec<_>>(), ["monolith"]);

    let monolith = &objects.deployments["monolith"];
    check_common("monolith", monolith, "monolith", &image);
    let spec = pod_spec(monolith);
    assert_eq!(
        spec.node_selector.as_ref().expect("nodeSelector")["kubernetes.io/os"],
        "windows"
    );
    assert!(
        tolerates_windows(spec),
        "the monolith tolerates os=windows:NoSchedule"
    );
    let routing: Vec<String> = Operation::ALL
        .iter()
        .map(|op| op.routing_variable().to_owned())
        .collect();
    assert!(
        env_names(container(monolith))
            .iter()
            .all(|n| !routing.contains(n)),
        "at the start every operation is in-process"
    );
    assert_eq!(labels(monolith)["hybrid-console.io/frontend"], "true");
    // The routing file a progressive move writes: an optional ConfigMap mounted where
    // CALC_ROUTING_FILE points.
    let file = container(monolith)
        .env
        .iter()
        .flatten()
        .find(|e| e.name == "CALC_ROUTING_FILE")
        .and_then(|e| e.value.clone())
        .expect("CALC_ROUTING_FILE is set");
    let mount = container(monolith)
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| file.starts_with(&format!("{}/", m.mount_path)))
        .expect("CALC_ROUTING_FILE is under a mount");
    let volume = spec
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == mount.name)
        .expect("the mount's volume");
    let config_map = volume.config_map.as_ref().expect("a ConfigMap volume");
    assert_eq!(
        (config_map.name.as_str(), config_map.optional),
        ("monolith-routing", Some(true))
    );
    assert!(file.ends_with("/routing.yaml"), "{file}");

    let front = &objects.services["calculator"];
    let front_spec = front.spec.as_ref().expect("spec");
    assert_eq!(front_spec.type_.as_deref(), Some("NodePort"));
    let port = &front_spec.ports.as_ref().expect("ports")[0];
    assert_eq!(
        (port.name.as_deref(), port.port, port.node_port),
        (Some("http"), 80, Some(30000))
    );
    assert_eq!(port.target_port, Some(IntOrString::String("http".into())));
    let selector = front_spec.selector.as_ref().expect("selector");
    assert!(
        selector
            .iter()
            .all(|(k, v)| labels(monolith).get(k) == Some(v)),
        "front Service selects the monolith"
    );
}

#[test]
fn every_extractable_service_is_a_linux_deployment_with_its_cluster_ip_service() {
    let image = kustomization_image();
    let all = load(&manifests_dir().join("calculator"), true);
    let extracted = load(&manifests_dir().join("calculator/services"), false);
    let components = ["sum", "subtraction", "multiplication", "division", "ui"];
    let expected: Vec<String> = components.iter().map(|c| format!("{c}-service")).collect();
    assert_eq!(
        extracted
            .deployments
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .len(),
        expected.len()
    );
    for (component, name) in components.iter().zip(&expected) {
        let d = extracted
            .deployments
            .get(name)
            .unwrap_or_else(|| panic!("{name} deployment"));
        check_common(name, d, component, &image);
        let spec = pod_spec(d);
        assert_eq!(
            spec.node_selector.as_ref().expect("nodeSelector")["kubernetes.io/os"],
            "linux",
            "{name}"
        );
        assert!(
            !tolerates_windows(spec),
            "{name} must not be placed on Windows"
        );

        let service = extracted
            .services
            .get(name)
            .unwrap_or_else(|| panic!("{name} Service"));
        let service_spec = service.spec.as_ref().expect("spec");
        assert_eq!(
            service_spec.type_.as_deref().unwrap_or("ClusterIP"),
            "ClusterIP",
            "{name}"
        );
        assert_eq!(
            service_spec.ports.as_ref().expect("ports")[0].port,
            3000,
            "{name}"
        );
        let selected: Vec<&String> = all
            .deployments
            .iter()
            .filter(|(_, d)| {
                service_spec
                    .selector
                    .iter()
                    .flatten()
                    .all(|(k, v)| labels(d).get(k) == Some(v))
            })
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            selected,
            [name],
            "{name} Service selects exactly its own pods"
        );
    }
    // The front Service reaches both frontends and no operation service.
    let front_selector = all.services["calculator"]
        .spec
        .as_ref()
        .and_then(|s| s.selector.clone())
        .expect("selector");
    for (name, d) in &all.deployments {
        let selected = front_selector
            .iter()
            .all(|(k, v)| labels(d).get(k) == Some(v));
        assert_eq!(
            selected,
            name == "monolith" || name == "ui-service",
            "{name}"
        );
    }
}

#[test]
fn service_names_match_the_routing_defaults_of_the_ui() {
    let extracted = load(&manifests_dir().join("calculator/services"), false);
    for op in Operation::ALL {
        let url = default_service_url(op);
        let host = url
            .as_str()
            .trim_start_matches("http://")
            .split(':')
            .next()
            .expect("host")
            .to_owned();
        assert!(
            extracted.services.contains_key(&host),
            "ui's default {} needs a Service {host}",
            url.as_str()
        );
        let port = extracted.services[&host]
            .spec
            .as_ref()
            .and_then(|s| s.ports.as_ref())
            .expect("ports")[0]
            .port;
        assert!(
            url.as_str().ends_with(&format!(":{port}")),
            "{}",
            url.as_str()
        );
    }
}

#[test]
fn eksctl_configs_describe_a_hybrid_cluster_then_a_linux_one() {
    let read = |file: &str| -> serde_yaml::Value {
        let text =
            std::fs::read_to_string(manifests_dir().join("cluster").join(file)).expect("read");
        serde_yaml::from_str(&text).expect("YAML")
    };
    let hybrid = read("hybrid-cluster.yaml");
    assert_eq!(hybrid["apiVersion"], "eksctl.io/v1alpha5");
    assert_eq!(hybrid["kind"], "ClusterConfig");
    let groups = hybrid["managedNodeGroups"]
        .as_sequence()
        .expect("node groups");
    let windows: Vec<_> = groups
        .iter()
        .filter(|g| g["amiFamily"].as_str().unwrap_or("").starts_with("Windows"))
        .collect();
    assert_eq!(windows.len(), 1, "one Windows managed node group");
    let taint = &windows[0]["taints"][0];
    assert_eq!(
        (
            taint["key"].as_str(),
            taint["value"].as_str(),
            taint["effect"].as_str()
        ),
        (Some("os"), Some("windows"), Some("NoSchedule"))
    );
    assert!(
        groups
            .iter()
            .any(|g| g["amiFamily"].as_str() == Some("AmazonLinux2023")),
        "a Linux node group"
    );

    let linux = read("linux-cluster.yaml");
    let groups = linux["managedNodeGroups"]
        .as_sequence()
        .expect("node groups");
    assert!(!groups.is_empty());
    assert!(
        groups
            .iter()
            .all(|g| !g["amiFamily"].as_str().unwrap_or("").starts_with("Windows")),
        "Linux only"
    );
    assert_eq!(
        linux["metadata"]["name"], hybrid["metadata"]["name"],
        "the same cluster, after the move"
    );
}
