//! Request bodies in Kubernetes' Protobuf encoding (`application/vnd.kubernetes.protobuf`), as
//! kubectl and client-go send them for built-in types (`kubectl create namespace|configmap|
//! secret|deployment|service`, `run`, `expose`, `auth can-i`, `drain`): the `k8s\0` magic,
//! then a `runtime.Unknown` envelope naming apiVersion and kind around the encoded object.
//!
//! Decoded generically into the JSON form the rest of the server handles: the tag, wire type
//! and type of every field of every message come from k8s-pb (the upstream-generated types,
//! read by `cargo xtask proto-schema` into `protobuf/schema.rs`), the JSON name of each field
//! from k8s-openapi's schemas (in the upstream protos the field names are the JSON names; prost
//! renames them, `podIPs` to `pod_ips`, so the two are matched ignoring case and underscores).
//! The well-known types whose JSON form is not their message (`IntOrString`, `Quantity`, `Time`,
//! `MicroTime`, `Duration`, `RawExtension`, `FieldsV1`, `ExtraValue`) are written as the real
//! server writes them.
//! Fields the schema does not know are skipped, as the Go decoder does, and so are empty
//! strings (Go sends every non-pointer string; empty is unset). A malformed body is a
//! 400 naming what is wrong, never a panic.

use std::collections::HashMap;
use std::sync::LazyLock;

use base64::Engine as _;
use prost::Message as _;
use serde_json::{Map, Value};

use crate::errors::ApiError;

/// The media type.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The four bytes every Protobuf-encoded Kubernetes object starts with.
const MAGIC: &[u8] = b"k8s\0";

/// How deep messages may nest (the Go decoder stops at 100 too; nothing real comes close).
const MAX_DEPTH: usize = 100;

mod schema;

use schema::{Field, Type};

/// Decodes `body`, which must hold a `kind_name` of `expected_version` (a subresource's body
/// is not the resource's own kind: `pods/eviction` takes a `policy/v1` Eviction).
pub fn decode_as(expected_version: &str, kind_name: &str, body: &[u8]) -> Result<Value, ApiError> {
    let object = decode_any(body)?;
    let (api_version, sent_kind) = (
        object["apiVersion"].as_str().unwrap_or_default(),
        object["kind"].as_str().unwrap_or_default(),
    );
    if api_version != expected_version || sent_kind != kind_name {
        return Err(bad(format!(
            "it holds a {sent_kind} of {api_version}, not a {kind_name} of {expected_version}"
        )));
    }
    Ok(object)
}

/// The envelope every Protobuf body comes in: apimachinery's `runtime.Unknown`, with the same
/// tags as its `generated.proto`. Declared here rather than taken from k8s-pb because it is the
/// one message the server decodes by type (the rest go through `MESSAGES`), and compiling
/// k8s-pb's thousand messages took 41 s of a first build (BENCHMARKS.md, "Time to first
/// window"); the tests encode with k8s-pb's own `Unknown`.
#[derive(Clone, PartialEq, prost::Message)]
struct Unknown {
    #[prost(message, optional, tag = "1")]
    type_meta: Option<TypeMeta>,
    #[prost(bytes = "vec", optional, tag = "2")]
    raw: Option<Vec<u8>>,
    #[prost(string, optional, tag = "3")]
    content_encoding: Option<String>,
    #[prost(string, optional, tag = "4")]
    content_type: Option<String>,
}

/// apimachinery's `runtime.TypeMeta`, inside [`Unknown`].
#[derive(Clone, PartialEq, prost::Message)]
struct TypeMeta {
    #[prost(string, optional, tag = "1")]
    api_version: Option<String>,
    #[prost(string, optional, tag = "2")]
    kind: Option<String>,
}

/// Decodes whatever object `body` holds, with its apiVersion and kind from the envelope.
pub fn decode_any(body: &[u8]) -> Result<Value, ApiError> {
    let envelope = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| bad("it does not start with the k8s\\0 magic".into()))?;
    let unknown = Unknown::decode(envelope).map_err(|e| bad(e.to_string()))?;
    let type_meta = unknown.type_meta.unwrap_or_default();
    let (api_version, kind) = (
        type_meta.api_version.unwrap_or_default(),
        type_meta.kind.unwrap_or_default(),
    );
    if api_version.is_empty() || kind.is_empty() {
        return Err(bad("its envelope names no apiVersion and kind".into()));
    }
    let message = message_of(&api_version, &kind).ok_or_else(|| {
        bad(format!(
            "no kind \"{kind}\" is registered for version \"{api_version}\""
        ))
    })?;
    let raw = unknown.raw.unwrap_or_default();
    let mut object = CODEC
        .message(message, &raw, 0)
        .map_err(|p| bad(format!("{kind} {p}")))?;
    if let Value::Object(map) = &mut object {
        map.insert("apiVersion".into(), Value::String(api_version));
        map.insert("kind".into(), Value::String(kind));
    }
    Ok(object)
}

/// What is wrong with a body, and where (`spec.template.metadata.name`).
#[derive(Debug)]
struct Problem {
    /// Innermost first.
    path: Vec<String>,
    why: String,
}

impl Problem {
    fn within(mut self, field: &str) -> Problem {
        self.path.push(field.to_owned());
        self
    }
}

impl From<String> for Problem {
    fn from(why: String) -> Problem {
        Problem {
            path: Vec::new(),
            why,
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path: Vec<&str> = self.path.iter().rev().map(String::as_str).collect();
        write!(f, "{}: {}", path.join("."), self.why)
    }
}

type Decoded<T> = Result<T, Problem>;

fn bad(why: String) -> ApiError {
    ApiError::bad_request(format!("cannot decode the Protobuf body: {why}"))
}

/// The message of a kind: `apps/v1` Deployment is `api.apps.v1.Deployment`, core `v1` Pod is
/// `api.core.v1.Pod`, `rbac.authorization.k8s.io/v1` Role is `api.rbac.v1.Role` (the proto
/// package is the group's first label).
fn message_of(api_version: &str, kind: &str) -> Option<&'static str> {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let package = match group {
        "" => "core",
        "internal.apiserver.k8s.io" => "apiserverinternal",
        group => group.split('.').next().unwrap_or(group),
    };
    let name = format!("api.{package}.{version}.{kind}");
    CODEC.messages.get(name.as_str()).map(|m| m.name)
}

/// The schema, indexed, with the JSON name of every field.
struct Codec {
    messages: HashMap<&'static str, Indexed>,
}

struct Indexed {
    name: &'static str,
    /// Each field with its JSON name; `None` for an embedded struct whose fields Go's JSON
    /// writes inline (a Probe's `ProbeHandler`, a Volume's `VolumeSource`).
    fields: HashMap<u32, (&'static Field, Option<String>)>,
}

static CODEC: LazyLock<Codec> = LazyLock::new(Codec::build);

impl Codec {
    fn build() -> Codec {
        let definitions = super::openapi::definitions();
        let normal = |name: &str| name.replace('_', "").to_ascii_lowercase();
        let messages = schema::MESSAGES
            .iter()
            .map(|message| {
                let definition = definitions.get(&format!("io.k8s.{}", message.name));
                let properties: HashMap<String, &str> = definition
                    .and_then(|d| d.get("properties"))
                    .and_then(Value::as_object)
                    .map(|p| p.keys().map(|k| (normal(k), k.as_str())).collect())
                    .unwrap_or_default();
                let fields = message
                    .fields
                    .iter()
                    .map(|field| {
                        let named = properties.get(&normal(field.name)).map(|k| (*k).to_owned());
                        let inline = named.is_none()
                            && !properties.is_empty()
                            && !field.repeated
                            && matches!(field.ty, Type::Message(_));
                        let json = match named {
                            Some(name) => Some(name),
                            None if inline => None,
                            None => Some(lower_camel(field.name)),
                        };
                        (field.tag, (field, json))
                    })
                    .collect();
                (
                    message.name,
                    Indexed {
                        name: message.name,
                        fields,
                    },
                )
            })
            .collect();
        Codec { messages }
    }

    fn message(&self, name: &str, buf: &[u8], depth: usize) -> Decoded<Value> {
        if depth > MAX_DEPTH {
            return Err(format!("messages nest deeper than {MAX_DEPTH}").into());
        }
        if let Some(value) = well_known(name, buf)? {
            return Ok(value);
        }
        let message = self
            .messages
            .get(name)
            .ok_or_else(|| format!("no message {name} in the schema"))?;
        let mut out = Map::new();
        for item in Wire::new(buf) {
            let (tag, value) = item?;
            let Some((field, json)) = message.fields.get(&tag) else {
                continue;
            };
            let Some(json) = json else {
                // An embedded struct: its fields are the parent's.
                let Type::Message(inner) = field.ty else {
                    continue;
                };
                let WireValue::Bytes(b) = value else {
                    return Err(Problem::from(format!(
                        "unexpected wire type {}",
                        value.wire_name()
                    ))
                    .within(field.name));
                };
                if let Value::Object(fields) = self.message(inner, b, depth + 1)? {
                    out.extend(fields);
                }
                continue;
            };
            let at = |e: Problem| e.within(json);
            if let Type::Map(value_type) = &field.ty {
                let WireValue::Bytes(entry) = value else {
                    return Err(at("a map entry is not length-delimited".to_owned().into()));
                };
                let (key, value) = self.map_entry(value_type, entry, depth).map_err(at)?;
                let map = out
                    .entry(json.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(map) = map {
                    map.insert(key, value);
                }
                continue;
            }
            let values = self
                .values(&field.ty, value, field.repeated, depth)
                .map_err(at)?;
            if field.repeated {
                let list = out
                    .entry(json.clone())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(list) = list {
                    list.extend(values);
                }
            } else if let Some(value) = values.into_iter().next_back() {
                // Go writes every non-pointer string, set or not; its JSON would leave an
                // unset one out, and the server's defaults look for it missing.
                if value != Value::String(String::new()) {
                    out.insert(json.clone(), value);
                }
            }
        }
        Ok(Value::Object(out))
    }

    /// One wire value as JSON values: more than one only for a packed repeated number.
    fn values(
        &self,
        ty: &Type,
        value: WireValue,
        repeated: bool,
        depth: usize,
    ) -> Decoded<Vec<Value>> {
        let one = |v: Value| Ok(vec![v]);
        match (ty, value) {
            (Type::String, WireValue::Bytes(b)) => one(Value::String(text(b)?)),
            (Type::Bytes, WireValue::Bytes(b)) => one(Value::String(
                base64::engine::general_purpose::STANDARD.encode(b),
            )),
            (Type::Bool, WireValue::Varint(v)) => one(Value::Bool(v != 0)),
            // Negative int32 values are sign-extended to ten bytes on the wire.
            (Type::Int32, WireValue::Varint(v)) => one(Value::from(v as i64 as i32)),
            (Type::Int64, WireValue::Varint(v)) => one(Value::from(v as i64)),
            (Type::Double, WireValue::Fixed64(v)) => {
                let number = serde_json::Number::from_f64(f64::from_bits(v))
                    .ok_or_else(|| Problem::from("a number is not finite".to_owned()))?;
                one(Value::Number(number))
            }
            (Type::Int32 | Type::Int64, WireValue::Bytes(packed)) if repeated => {
                let mut out = Vec::new();
                let mut rest = packed;
                while !rest.is_empty() {
                    let v = varint(&mut rest)?;
                    out.push(match ty {
                        Type::Int32 => Value::from(v as i64 as i32),
                        _ => Value::from(v as i64),
                    });
                }
                Ok(out)
            }
            (Type::Message(name), WireValue::Bytes(b)) => one(self.message(name, b, depth + 1)?),
            (_, value) => Err(format!("unexpected wire type {}", value.wire_name()).into()),
        }
    }

    fn map_entry(&self, value_type: &Type, entry: &[u8], depth: usize) -> Decoded<(String, Value)> {
        let (mut key, mut value) = (String::new(), None);
        for item in Wire::new(entry) {
            match item? {
                (1, WireValue::Bytes(b)) => {
                    key = text(b)?;
                }
                (2, v) => {
                    value = self
                        .values(value_type, v, false, depth + 1)
                        .map_err(|p| p.within(&key))?
                        .pop()
                }
                _ => {}
            }
        }
        // An entry with no value holds the type's zero value, as in Go.
        let value = value.unwrap_or_else(|| match value_type {
            Type::Message(_) => Value::Object(Map::new()),
            _ => Value::String(String::new()),
        });
        Ok((key, value))
    }
}

/// The messages whose JSON form is not an object of their fields.
fn well_known(name: &str, buf: &[u8]) -> Decoded<Option<Value>> {
    let short_name = short(name);
    let known = matches!(
        name,
        "apimachinery.pkg.util.intstr.IntOrString"
            | "apimachinery.pkg.api.resource.Quantity"
            | "apimachinery.pkg.apis.meta.v1.Time"
            | "apimachinery.pkg.apis.meta.v1.MicroTime"
            | "apimachinery.pkg.apis.meta.v1.Duration"
            | "apimachinery.pkg.apis.meta.v1.FieldsV1"
            | "apimachinery.pkg.runtime.RawExtension"
    ) || short_name == "ExtraValue"
        || name.ends_with("apiextensions.v1.JSON");
    if !known {
        return Ok(None);
    }
    let mut numbers: HashMap<u32, u64> = HashMap::new();
    let mut bytes: HashMap<u32, &[u8]> = HashMap::new();
    let mut items = Vec::new();
    for item in Wire::new(buf) {
        match item? {
            (tag, WireValue::Varint(v)) => {
                numbers.insert(tag, v);
            }
            (tag, WireValue::Bytes(b)) => {
                if tag == 1 {
                    items.push(text(b)?);
                }
                bytes.insert(tag, b);
            }
            _ => {}
        }
    }
    let number = |tag| numbers.get(&tag).copied().unwrap_or_default();
    let bytes_of = |tag| bytes.get(&tag).copied().unwrap_or_default();
    let value = match short_name {
        "IntOrString" if number(1) == 1 => Value::String(text(bytes_of(3))?),
        "IntOrString" => Value::from(number(2) as i64 as i32),
        "Quantity" => Value::String(text(bytes_of(1))?),
        "Time" | "MicroTime" => {
            let (seconds, nanos) = (number(1) as i64, number(2) as i64 as i32);
            // Go's zero time, which its JSON writes as null.
            if seconds == -62_135_596_800 && nanos == 0 {
                Value::Null
            } else {
                let at = jiff::Timestamp::new(seconds, nanos)
                    .map_err(|e| Problem::from(format!("a time is out of range: {e}")))?;
                let format = if short_name == "Time" {
                    "%Y-%m-%dT%H:%M:%SZ"
                } else {
                    "%Y-%m-%dT%H:%M:%S.%6fZ"
                };
                Value::String(at.strftime(format).to_string())
            }
        }
        "Duration" => Value::String(go_duration(number(1) as i64)),
        "ExtraValue" => Value::Array(items.into_iter().map(Value::String).collect()),
        // FieldsV1, RawExtension and JSON carry JSON (or a nested Protobuf object).
        _ => {
            let raw = bytes_of(1);
            if raw.starts_with(MAGIC) {
                decode_any(raw).map_err(|e| Problem::from(e.message))?
            } else if raw.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(raw)
                    .map_err(|e| Problem::from(format!("{short_name} holds no JSON: {e}")))?
            }
        }
    };
    Ok(Some(value))
}

fn text(b: &[u8]) -> Decoded<String> {
    std::str::from_utf8(b)
        .map(str::to_owned)
        .map_err(|_| Problem::from("a string is not UTF-8".to_owned()))
}

/// `api.core.v1.PodSpec` → `PodSpec`.
fn short(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

/// `termination_grace_period_seconds` → `terminationGracePeriodSeconds`, for a field
/// k8s-openapi's schemas do not name.
fn lower_camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A duration as Go prints it (`1h2m3.5s`, `150ms`), which is how metav1.Duration is JSON.
fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    let fraction = |value: u64, unit: u64| {
        let whole = value / unit;
        let rest = value % unit;
        if rest == 0 {
            whole.to_string()
        } else {
            let digits = unit.ilog10() as usize;
            let frac = format!("{rest:0digits$}");
            format!("{whole}.{}", frac.trim_end_matches('0'))
        }
    };
    if n < 1_000 {
        return format!("{sign}{n}ns");
    }
    if n < 1_000_000 {
        return format!("{sign}{}µs", fraction(n, 1_000));
    }
    if n < 1_000_000_000 {
        return format!("{sign}{}ms", fraction(n, 1_000_000));
    }
    let (hours, rest) = (n / 3_600_000_000_000, n % 3_600_000_000_000);
    let (minutes, rest) = (rest / 60_000_000_000, rest % 60_000_000_000);
    let seconds = fraction(rest, 1_000_000_000);
    match (hours, minutes) {
        (0, 0) => format!("{sign}{seconds}s"),
        (0, m) => format!("{sign}{m}m{seconds}s"),
        (h, m) => format!("{sign}{h}h{m}m{seconds}s"),
    }
}

/// One field as it is on the wire.
#[derive(Clone, Copy)]
enum WireValue<'a> {
    Varint(u64),
    Fixed64(u64),
    /// Kubernetes has no 32-bit fields (no `float`, no `fixed32`); skipped when unknown.
    Fixed32,
    Bytes(&'a [u8]),
}

impl WireValue<'_> {
    fn wire_name(&self) -> &'static str {
        match self {
            WireValue::Varint(_) => "varint",
            WireValue::Fixed64(_) => "64-bit",
            WireValue::Fixed32 => "32-bit",
            WireValue::Bytes(_) => "length-delimited",
        }
    }
}

/// The fields of an encoded message, in order.
struct Wire<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Wire<'a> {
    fn new(buf: &'a [u8]) -> Wire<'a> {
        Wire {
            rest: buf,
            failed: false,
        }
    }

    fn next_field(&mut self) -> Result<(u32, WireValue<'a>), String> {
        let key = varint(&mut self.rest)?;
        let tag = u32::try_from(key >> 3)
            .ok()
            .filter(|t| *t > 0)
            .ok_or_else(|| format!("invalid field key {key}"))?;
        let value = match key & 7 {
            0 => WireValue::Varint(varint(&mut self.rest)?),
            1 => WireValue::Fixed64(u64::from_le_bytes(
                self.take(8)?.try_into().unwrap_or_default(),
            )),
            2 => {
                let len = usize::try_from(varint(&mut self.rest)?)
                    .map_err(|_| "a length does not fit in memory".to_owned())?;
                WireValue::Bytes(self.take(len)?)
            }
            5 => {
                self.take(4)?;
                WireValue::Fixed32
            }
            other => {
                return Err(format!(
                    "field {tag} has wire type {other}, which Kubernetes never uses"
                ));
            }
        };
        Ok((tag, value))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.rest.len() < n {
            return Err(format!("the body ends {} bytes early", n - self.rest.len()));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }
}

impl<'a> Iterator for Wire<'a> {
    type Item = Result<(u32, WireValue<'a>), String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.failed {
            return None;
        }
        let item = self.next_field();
        self.failed = item.is_err();
        Some(item)
    }
}

fn varint(buf: &mut &[u8]) -> Result<u64, String> {
    let mut value = 0u64;
    for (i, byte) in buf.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *buf = &buf[i + 1..];
            return Ok(value);
        }
    }
    Err("a number is cut off or longer than ten bytes".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
    use serde_json::json;

    fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
        use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
        let unknown = Unknown {
            type_meta: Some(TypeMeta {
                api_version: Some(api_version.into()),
                kind: Some(kind.into()),
            }),
            raw: Some(raw),
            content_encoding: Some(String::new()),
            content_type: Some(String::new()),
        };
        [MAGIC, &unknown.encode_to_vec()].concat()
    }

    fn metadata(name: &str) -> Option<meta::ObjectMeta> {
        Some(meta::ObjectMeta {
            name: Some(name.into()),
            namespace: Some("calculator".into()),
            labels: [("app".to_owned(), "sum".to_owned())].into(),
            creation_timestamp: Some(meta::Time {
                seconds: Some(1_700_000_000),
                nanos: Some(0),
            }),
            ..Default::default()
        })
    }

    /// What `kubectl create deployment` sends, and more: every well-known type a Deployment
    /// can hold comes out as the JSON a real server reads, and k8s-openapi reads it back.
    #[test]
    fn a_deployment_decodes_to_the_json_a_client_would_send() {
        use k8s_pb::api::{apps::v1 as apps, core::v1 as core};
        use k8s_pb::apimachinery::pkg::{api::resource::Quantity, util::intstr::IntOrString};
        let container = core::Container {
            name: Some("sum".into()),
            image: Some("calculator/sum:1".into()),
            args: vec!["--port".into(), "8080".into()],
            ports: vec![core::ContainerPort {
                container_port: Some(8080),
                ..Default::default()
            }],
            resources: Some(core::ResourceRequirements {
                requests: [(
                    "cpu".to_owned(),
                    Quantity {
                        string: Some("100m".into()),
                    },
                )]
                .into(),
                ..Default::default()
            }),
            readiness_probe: Some(core::Probe {
                handler: Some(core::ProbeHandler {
                    http_get: Some(core::HttpGetAction {
                        path: Some("/healthz".into()),
                        port: Some(IntOrString {
                            r#type: Some(1),
                            int_val: None,
                            str_val: Some("http".into()),
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let deployment = apps::Deployment {
            metadata: metadata("sum"),
            spec: Some(apps::DeploymentSpec {
                replicas: Some(2),
                selector: Some(meta::LabelSelector {
                    match_labels: [("app".to_owned(), "sum".to_owned())].into(),
                    ..Default::default()
                }),
                strategy: Some(apps::DeploymentStrategy {
                    r#type: Some("RollingUpdate".into()),
                    rolling_update: Some(apps::RollingUpdateDeployment {
                        max_unavailable: Some(IntOrString {
                            r#type: Some(0),
                            int_val: Some(0),
                            str_val: None,
                        }),
                        max_surge: Some(IntOrString {
                            r#type: Some(1),
                            int_val: None,
                            str_val: Some("25%".into()),
                        }),
                    }),
                }),
                template: Some(core::PodTemplateSpec {
                    metadata: Some(meta::ObjectMeta {
                        labels: [("app".to_owned(), "sum".to_owned())].into(),
                        ..Default::default()
                    }),
                    spec: Some(core::PodSpec {
                        containers: vec![container],
                        node_selector: [("kubernetes.io/os".to_owned(), "linux".to_owned())].into(),
                        termination_grace_period_seconds: Some(-1),
                        host_ipc: Some(false),
                        ..Default::default()
                    }),
                }),
                ..Default::default()
            }),
            status: None,
        };
        let body = envelope("apps/v1", "Deployment", deployment.encode_to_vec());
        let value = decode_as("apps/v1", "Deployment", &body).unwrap();
        assert_eq!(
            value["metadata"]["creationTimestamp"],
            "2023-11-14T22:13:20Z"
        );
        let spec = &value["spec"];
        assert_eq!(
            spec["strategy"]["rollingUpdate"],
            json!({"maxUnavailable": 0, "maxSurge": "25%"})
        );
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["terminationGracePeriodSeconds"], -1);
        assert_eq!(pod["hostIPC"], false, "the JSON name, not prost's host_ipc");
        assert_eq!(pod["nodeSelector"], json!({"kubernetes.io/os": "linux"}));
        let container = &pod["containers"][0];
        assert_eq!(container["args"], json!(["--port", "8080"]));
        assert_eq!(container["ports"], json!([{"containerPort": 8080}]));
        assert_eq!(container["resources"]["requests"]["cpu"], "100m");
        assert_eq!(container["readinessProbe"]["httpGet"]["port"], "http");
        let typed: k8s_openapi::api::apps::v1::Deployment =
            serde_json::from_value(value).expect("k8s-openapi reads the decoded Deployment");
        assert_eq!(typed.spec.replicas, Some(2));
    }

    #[test]
    fn secrets_pod_addresses_and_micro_times_keep_their_json_forms() {
        use k8s_pb::api::core::v1 as core;
        let secret = core::Secret {
            metadata: metadata("token"),
            data: [("token".to_owned(), b"s3cret\xff".to_vec())].into(),
            string_data: [("plain".to_owned(), "text".to_owned())].into(),
            r#type: Some("Opaque".into()),
            immutable: None,
        };
        let value = decode_any(&envelope("v1", "Secret", secret.encode_to_vec())).unwrap();
        assert_eq!(value["data"]["token"], "czNjcmV0/w==");
        assert_eq!(value["stringData"]["plain"], "text");
        assert_eq!(
            (&value["apiVersion"], &value["kind"]),
            (&json!("v1"), &json!("Secret"))
        );

        let pod = core::Pod {
            metadata: metadata("sum-1"),
            spec: None,
            status: Some(core::PodStatus {
                pod_ips: vec![core::PodIp {
                    ip: Some("10.0.0.7".into()),
                }],
                ..Default::default()
            }),
        };
        let value = decode_any(&envelope("v1", "Pod", pod.encode_to_vec())).unwrap();
        assert_eq!(value["status"]["podIPs"], json!([{"ip": "10.0.0.7"}]));

        let event = k8s_pb::api::events::v1::Event {
            metadata: metadata("sum.1"),
            event_time: Some(meta::MicroTime {
                seconds: Some(1_700_000_000),
                nanos: Some(123_456_000),
            }),
            ..Default::default()
        };
        let value = decode_any(&envelope(
            "events.k8s.io/v1",
            "Event",
            event.encode_to_vec(),
        ))
        .unwrap();
        assert_eq!(value["eventTime"], "2023-11-14T22:13:20.123456Z");
    }

    #[test]
    fn an_access_review_decodes_as_kubectl_sends_it() {
        use k8s_pb::api::authorization::v1 as authz;
        let review = authz::SelfSubjectAccessReview {
            spec: Some(authz::SelfSubjectAccessReviewSpec {
                resource_attributes: Some(authz::ResourceAttributes {
                    namespace: Some("calculator".into()),
                    verb: Some("patch".into()),
                    group: Some("apps".into()),
                    resource: Some("deployments".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let body = envelope(
            "authorization.k8s.io/v1",
            "SelfSubjectAccessReview",
            review.encode_to_vec(),
        );
        let value = decode_any(&body).unwrap();
        assert_eq!(
            value["spec"]["resourceAttributes"],
            json!({"namespace": "calculator", "verb": "patch", "group": "apps", "resource": "deployments"})
        );
    }

    #[test]
    fn an_eviction_decodes_with_its_delete_options() {
        use k8s_pb::api::policy::v1 as policy;
        let eviction = policy::Eviction {
            metadata: Some(meta::ObjectMeta {
                name: Some("web-1".into()),
                namespace: Some("default".into()),
                ..Default::default()
            }),
            delete_options: Some(meta::DeleteOptions {
                grace_period_seconds: Some(5),
                dry_run: vec!["All".into()],
                ..Default::default()
            }),
        };
        let body = envelope("policy/v1", "Eviction", eviction.encode_to_vec());
        let value = decode_as("policy/v1", "Eviction", &body).unwrap();
        assert_eq!(value["metadata"]["name"], "web-1");
        assert_eq!(value["deleteOptions"]["gracePeriodSeconds"], 5);
        assert_eq!(value["deleteOptions"]["dryRun"], json!(["All"]));
        let wrong = envelope("policy/v1beta1", "Eviction", Vec::new());
        assert_eq!(
            decode_as("policy/v1", "Eviction", &wrong).unwrap_err().code,
            400
        );
    }

    #[test]
    fn bad_bodies_are_refused_with_a_reason_not_a_panic() {
        for body in [
            &b""[..],
            b"k8s",
            b"{\"kind\":\"SelfSubjectAccessReview\"}",
            b"k8s\0\xff\xff\xff\xff",
        ] {
            let err = decode_any(body).unwrap_err();
            assert_eq!(err.code, 400, "{body:?}");
        }
        let wrong = envelope("v1", "Pod", Vec::new());
        assert!(
            decode_as("v1", "Namespace", &wrong)
                .unwrap_err()
                .message
                .contains("holds a Pod of v1")
        );
        let unknown = envelope("example.com/v1", "Widget", Vec::new());
        assert!(
            decode_any(&unknown)
                .unwrap_err()
                .message
                .contains("no kind \"Widget\" is registered for version \"example.com/v1\"")
        );
        // A string field holding invalid UTF-8, and a field of the wrong wire type.
        let not_utf8 = envelope("v1", "Namespace", vec![0x0a, 0x03, 0x0a, 0x01, 0xff]);
        let message = decode_any(&not_utf8).unwrap_err().message;
        assert!(
            message.ends_with("Namespace metadata.name: a string is not UTF-8"),
            "{message}"
        );
        let wrong_wire = envelope("v1", "Namespace", vec![0x08, 0x01]);
        assert!(
            decode_any(&wrong_wire)
                .unwrap_err()
                .message
                .contains("wire type")
        );
        // A schema nested in its own `not` two hundred deep is refused, not recursed into.
        let nested = |depth: usize| {
            let mut deep = Vec::new();
            for _ in 0..depth {
                let mut outer = vec![0xe2, 0x01]; // field 28, length-delimited
                let mut len = deep.len();
                while len >= 0x80 {
                    outer.push((len as u8 & 0x7f) | 0x80);
                    len >>= 7;
                }
                outer.push(len as u8);
                outer.extend(deep);
                deep = outer;
            }
            deep
        };
        let schema = "apiextensions_apiserver.pkg.apis.apiextensions.v1.JsonSchemaProps";
        let problem = CODEC.message(schema, &nested(200), 0).unwrap_err();
        assert!(problem.why.contains("nest deeper than 100"), "{problem}");
        let fifty = CODEC.message(schema, &nested(50), 0).unwrap();
        assert!(fifty["not"]["not"]["not"].is_object());
    }

    #[test]
    fn every_cut_of_a_valid_body_decodes_or_is_refused() {
        use k8s_pb::api::core::v1 as core;
        let map = core::ConfigMap {
            metadata: metadata("settings"),
            data: [("a".to_owned(), "1".to_owned())].into(),
            binary_data: [("b".to_owned(), vec![0, 1, 2])].into(),
            immutable: Some(true),
        };
        let body = envelope("v1", "ConfigMap", map.encode_to_vec());
        let whole = decode_any(&body).unwrap();
        assert_eq!(whole["binaryData"]["b"], "AAEC");
        assert_eq!(whole["immutable"], true);
        for end in 0..body.len() {
            if let Err(e) = decode_any(&body[..end]) {
                assert_eq!(e.code, 400, "cut at {end}");
            }
        }
    }

    #[test]
    fn go_durations_read_as_go_prints_them() {
        for (nanos, text) in [
            (0, "0s"),
            (1_500, "1.5µs"),
            (150_000_000, "150ms"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (-2_500_000_000, "-2.5s"),
        ] {
            assert_eq!(go_duration(nanos), text);
        }
    }
}
