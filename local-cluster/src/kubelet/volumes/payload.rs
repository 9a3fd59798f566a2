//! What a volume's files are: for each `configMap`, `secret`, `downwardAPI` and `projected`
//! volume, the relative paths and contents the kubelet writes, from the pod and the objects it
//! names. Pure: the objects come in as lookups, so every rule (items, modes, optional sources,
//! the kubelet's refusals) is tested without a cluster.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::Value;

/// One file of a volume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    /// Its bytes.
    pub data: Vec<u8>,
    /// Its permission bits (`defaultMode` or the item's `mode`).
    pub mode: u32,
}

/// Relative path → file.
pub type Payload = BTreeMap<String, File>;

/// What building a payload needs from the cluster.
pub struct Lookups<'a> {
    /// A ConfigMap of the pod's namespace.
    pub config_map: &'a dyn Fn(&str) -> Option<Value>,
    /// A Secret of the pod's namespace.
    pub secret: &'a dyn Fn(&str) -> Option<Value>,
    /// A token for the pod's service account, for `audience` (the API server's when empty).
    pub token: &'a dyn Fn(&str) -> String,
}

/// The kubelet's default file mode (0644).
const DEFAULT_MODE: u32 = 0o644;

/// How a volume is backed.
#[derive(Debug, PartialEq, Eq)]
pub enum Kind {
    /// Files the kubelet writes and keeps current (`configMap`, `secret`, `downwardAPI`,
    /// `projected`).
    Managed(Payload),
    /// An empty directory the pod's containers share (`emptyDir`).
    EmptyDir,
}

/// Why a volume cannot be set up, in the kubelet's words (after `MountVolume.SetUp failed for
/// volume "NAME" : `).
pub type SetUpError = String;

/// A string field, or empty.
pub(super) fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

fn mode(value: &Value, default: u32) -> u32 {
    value
        .as_u64()
        .and_then(|m| u32::try_from(m).ok())
        .unwrap_or(default)
}

/// The files `volume` (an item of `spec.volumes`) holds for `pod`; `Ok(None)` for volume types
/// this cluster does not back (they are mounted as empty directories by the caller's choice).
pub fn build(
    volume: &Value,
    pod: &Value,
    lookups: &Lookups<'_>,
) -> Result<Option<Kind>, SetUpError> {
    if volume["emptyDir"].is_object() {
        return Ok(Some(Kind::EmptyDir));
    }
    if let Some(source) = volume.get("configMap").filter(|v| v.is_object()) {
        let default = mode(&source["defaultMode"], DEFAULT_MODE);
        return object_files("configmap", source, &source["name"], default, lookups)
            .map(|p| Some(Kind::Managed(p)));
    }
    if let Some(source) = volume.get("secret").filter(|v| v.is_object()) {
        let default = mode(&source["defaultMode"], DEFAULT_MODE);
        return object_files("secret", source, &source["secretName"], default, lookups)
            .map(|p| Some(Kind::Managed(p)));
    }
    if let Some(source) = volume.get("downwardAPI").filter(|v| v.is_object()) {
        let default = mode(&source["defaultMode"], DEFAULT_MODE);
        return downward_files(&source["items"], pod, default).map(|p| Some(Kind::Managed(p)));
    }
    if let Some(source) = volume.get("projected").filter(|v| v.is_object()) {
        let default = mode(&source["defaultMode"], DEFAULT_MODE);
        let mut payload = Payload::new();
        for projection in source["sources"].as_array().into_iter().flatten() {
            let files = if projection["configMap"].is_object() {
                let s = &projection["configMap"];
                object_files("configmap", s, &s["name"], default, lookups)?
            } else if projection["secret"].is_object() {
                let s = &projection["secret"];
                object_files("secret", s, &s["name"], default, lookups)?
            } else if projection["downwardAPI"].is_object() {
                downward_files(&projection["downwardAPI"]["items"], pod, default)?
            } else if projection["serviceAccountToken"].is_object() {
                let s = &projection["serviceAccountToken"];
                let path = text(&s["path"]).to_owned();
                let token = (lookups.token)(text(&s["audience"]));
                Payload::from([(
                    path,
                    File {
                        data: token.into_bytes(),
                        mode: default,
                    },
                )])
            } else {
                Payload::new()
            };
            payload.extend(files);
        }
        return Ok(Some(Kind::Managed(payload)));
    }
    Ok(None)
}

/// The keys of a ConfigMap or Secret as files: all of them, or its `items` renamed.
fn object_files(
    kind: &str,
    source: &Value,
    name: &Value,
    default_mode: u32,
    lookups: &Lookups<'_>,
) -> Result<Payload, SetUpError> {
    let name = text(name);
    let optional = source["optional"].as_bool().unwrap_or(false);
    let object = match kind {
        "secret" => (lookups.secret)(name),
        _ => (lookups.config_map)(name),
    };
    let Some(object) = object else {
        return if optional {
            Ok(Payload::new())
        } else {
            Err(format!("{kind} \"{name}\" not found"))
        };
    };
    let mut keys: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let decode = |v: &Value| {
        base64::engine::general_purpose::STANDARD
            .decode(text(v))
            .unwrap_or_default()
    };
    if kind == "secret" {
        for (key, value) in object["data"].as_object().into_iter().flatten() {
            keys.insert(key.clone(), decode(value));
        }
        for (key, value) in object["stringData"].as_object().into_iter().flatten() {
            keys.insert(key.clone(), text(value).as_bytes().to_vec());
        }
    } else {
        for (key, value) in object["data"].as_object().into_iter().flatten() {
            keys.insert(key.clone(), text(value).as_bytes().to_vec());
        }
        for (key, value) in object["binaryData"].as_object().into_iter().flatten() {
            keys.insert(key.clone(), decode(value));
        }
    }
    let mut payload = Payload::new();
    match source["items"].as_array().filter(|i| !i.is_empty()) {
        None => {
            for (key, data) in keys {
                payload.insert(
                    key,
                    File {
                        data,
                        mode: default_mode,
                    },
                );
            }
        }
        Some(items) => {
            for item in items {
                let key = text(&item["key"]);
                let Some(data) = keys.get(key) else {
                    if optional {
                        continue;
                    }
                    return Err(format!(
                        "{kind} references non-existent {} key: {key}",
                        if kind == "secret" { "secret" } else { "config" }
                    ));
                };
                payload.insert(
                    text(&item["path"]).to_owned(),
                    File {
                        data: data.clone(),
                        mode: mode(&item["mode"], default_mode),
                    },
                );
            }
        }
    }
    Ok(payload)
}

/// A map (labels, annotations) as the kubelet writes it: `key="value"` lines, sorted.
fn map_lines(map: &Value) -> String {
    let mut lines: Vec<String> = map
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={:?}", text(v)))
        .collect();
    lines.sort();
    lines.join("\n")
}

/// A `fieldRef` as the downward API reads it from the pod.
pub fn field(pod: &Value, path: &str) -> Result<String, SetUpError> {
    let meta = &pod["metadata"];
    Ok(match path {
        "metadata.name" => text(&meta["name"]).to_owned(),
        "metadata.namespace" => text(&meta["namespace"]).to_owned(),
        "metadata.uid" => text(&meta["uid"]).to_owned(),
        "metadata.labels" => map_lines(&meta["labels"]),
        "metadata.annotations" => map_lines(&meta["annotations"]),
        "spec.nodeName" => text(&pod["spec"]["nodeName"]).to_owned(),
        "spec.serviceAccountName" => text(&pod["spec"]["serviceAccountName"]).to_owned(),
        "status.podIP" => text(&pod["status"]["podIP"]).to_owned(),
        "status.hostIP" => text(&pod["status"]["hostIP"]).to_owned(),
        other => {
            if let Some(key) = other
                .strip_prefix("metadata.labels['")
                .and_then(|k| k.strip_suffix("']"))
            {
                text(&meta["labels"][key]).to_owned()
            } else if let Some(key) = other
                .strip_prefix("metadata.annotations['")
                .and_then(|k| k.strip_suffix("']"))
            {
                text(&meta["annotations"][key]).to_owned()
            } else {
                return Err(format!("unsupported fieldPath: {other}"));
            }
        }
    })
}

/// A `resourceFieldRef` (`limits.memory`, `requests.cpu`, …) of a container, in units of its
/// `divisor` (rounded up, as the kubelet does); a missing limit reads as the node's capacity
/// on a real node, here as 0.
fn resource(pod: &Value, reference: &Value) -> Result<String, SetUpError> {
    let container = text(&reference["containerName"]);
    let resource = text(&reference["resource"]);
    let spec = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == container)
        .ok_or_else(|| format!("container {container:?} not found"))?;
    let (section, name) = resource
        .split_once('.')
        .ok_or_else(|| format!("unsupported resource: {resource}"))?;
    // CPU in millicores, anything else in bytes (or plain units), divisor likewise.
    let amount = |text: &str| -> Option<i64> {
        if name == "cpu" {
            kube_units::quantity::cpu_millis(text)
        } else {
            kube_units::quantity::bytes(text)
        }
    };
    let value = amount(text(&spec["resources"][section][name])).unwrap_or(0);
    let divisor = amount(reference["divisor"].as_str().unwrap_or("1"))
        .filter(|d| *d > 0)
        .unwrap_or(1);
    // Rounded up, as the kubelet does (250m of CPU reads as 1 core).
    Ok((value.saturating_add(divisor - 1) / divisor).to_string())
}

fn downward_files(items: &Value, pod: &Value, default_mode: u32) -> Result<Payload, SetUpError> {
    let mut payload = Payload::new();
    for item in items.as_array().into_iter().flatten() {
        let content = if item["fieldRef"].is_object() {
            field(pod, text(&item["fieldRef"]["fieldPath"]))?
        } else if item["resourceFieldRef"].is_object() {
            resource(pod, &item["resourceFieldRef"])?
        } else {
            continue;
        };
        payload.insert(
            text(&item["path"]).to_owned(),
            File {
                data: content.into_bytes(),
                mode: mode(&item["mode"], default_mode),
            },
        );
    }
    Ok(payload)
}
