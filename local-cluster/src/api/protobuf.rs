//! Request bodies in Kubernetes' Protobuf encoding (`application/vnd.kubernetes.protobuf`), as
//! kubectl and client-go send them for built-in types: the `k8s\0` magic, then a
//! `runtime.Unknown` envelope naming apiVersion and kind around the encoded object. Decoded
//! with the upstream-generated types of k8s-pb.
//!
//! Only the review kinds and `policy/v1` Evictions are decoded so far (`kubectl auth can-i`,
//! `auth whoami` and `drain` send nothing else); other kinds are refused with 415, which makes a client retry in JSON where it
//! can, and names the media type where it cannot.

use prost::Message;
use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::resources::ResourceKind;

/// The media type.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The four bytes every Protobuf-encoded Kubernetes object starts with.
const MAGIC: &[u8] = b"k8s\0";

/// Decodes `body` for `kind` into the JSON form the rest of the server handles.
pub fn decode(kind: &ResourceKind, body: &[u8]) -> Result<Value, ApiError> {
    decode_as(&kind.api_version(), kind.kind, body)
}

/// Decodes `body`, which must hold a `kind_name` of `expected_version` (a subresource's body
/// is not the resource's own kind: `pods/eviction` takes a `policy/v1` Eviction).
pub fn decode_as(expected_version: &str, kind_name: &str, body: &[u8]) -> Result<Value, ApiError> {
    use k8s_pb::api::{
        authentication::v1 as authn, authorization::v1 as authz, policy::v1 as policy,
    };
    use k8s_pb::apimachinery::pkg::runtime::Unknown;
    let bad =
        |why: String| ApiError::bad_request(format!("cannot decode the Protobuf body: {why}"));
    let envelope = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| bad("it does not start with the k8s\\0 magic".into()))?;
    let unknown = Unknown::decode(envelope).map_err(|e| bad(e.to_string()))?;
    let type_meta = unknown.type_meta.unwrap_or_default();
    let (api_version, sent_kind) = (
        type_meta.api_version.unwrap_or_default(),
        type_meta.kind.unwrap_or_default(),
    );
    if api_version != expected_version || sent_kind != kind_name {
        return Err(bad(format!(
            "it holds a {sent_kind} of {api_version}, not a {kind_name} of {expected_version}"
        )));
    }
    let raw = unknown.raw.unwrap_or_default();
    let spec = match kind_name {
        "Eviction" => {
            let eviction =
                policy::Eviction::decode(raw.as_slice()).map_err(|e| bad(e.to_string()))?;
            let meta = eviction.metadata.unwrap_or_default();
            let mut out = json!({
                "apiVersion": api_version,
                "kind": sent_kind,
                "metadata": strings([("name", meta.name), ("namespace", meta.namespace)]),
            });
            if let Some(options) = eviction.delete_options {
                let mut d = json!({});
                if let Some(g) = options.grace_period_seconds {
                    d["gracePeriodSeconds"] = json!(g);
                }
                if let Some(p) = options.propagation_policy {
                    d["propagationPolicy"] = json!(p);
                }
                if !options.dry_run.is_empty() {
                    d["dryRun"] = json!(options.dry_run);
                }
                if let Some(p) = options.preconditions {
                    d["preconditions"] =
                        strings([("uid", p.uid), ("resourceVersion", p.resource_version)]);
                }
                out["deleteOptions"] = d;
            }
            return Ok(out);
        }
        "SelfSubjectAccessReview" => {
            let review = authz::SelfSubjectAccessReview::decode(raw.as_slice())
                .map_err(|e| bad(e.to_string()))?;
            let spec = review.spec.unwrap_or_default();
            let mut out = json!({});
            if let Some(r) = spec.resource_attributes {
                out["resourceAttributes"] = strings([
                    ("namespace", r.namespace),
                    ("verb", r.verb),
                    ("group", r.group),
                    ("version", r.version),
                    ("resource", r.resource),
                    ("subresource", r.subresource),
                    ("name", r.name),
                ]);
            }
            if let Some(n) = spec.non_resource_attributes {
                out["nonResourceAttributes"] = strings([("path", n.path), ("verb", n.verb)]);
            }
            out
        }
        "SelfSubjectRulesReview" => {
            let review = authz::SelfSubjectRulesReview::decode(raw.as_slice())
                .map_err(|e| bad(e.to_string()))?;
            strings([("namespace", review.spec.unwrap_or_default().namespace)])
        }
        "SelfSubjectReview" => {
            authn::SelfSubjectReview::decode(raw.as_slice()).map_err(|e| bad(e.to_string()))?;
            json!({})
        }
        _ => return Err(ApiError::unsupported_media_type(MEDIA_TYPE)),
    };
    Ok(json!({"apiVersion": api_version, "kind": sent_kind, "spec": spec}))
}

/// A JSON object of the string fields that are set.
fn strings<const N: usize>(fields: [(&str, Option<String>); N]) -> Value {
    Value::Object(
        fields
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), Value::String(v))))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources;

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
        let value = decode(resources::selfsubjectaccessreviews(), &body).unwrap();
        assert_eq!(
            value["spec"]["resourceAttributes"],
            json!({"namespace": "calculator", "verb": "patch", "group": "apps", "resource": "deployments"})
        );
    }

    #[test]
    fn an_eviction_decodes_with_its_delete_options() {
        use k8s_pb::api::policy::v1 as policy;
        use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
        let eviction = policy::Eviction {
            metadata: Some(meta::ObjectMeta {
                name: Some("web-1".into()),
                namespace: Some("default".into()),
                ..Default::default()
            }),
            delete_options: Some(meta::DeleteOptions {
                grace_period_seconds: Some(5),
                ..Default::default()
            }),
        };
        let body = envelope("policy/v1", "Eviction", eviction.encode_to_vec());
        let value = decode_as("policy/v1", "Eviction", &body).unwrap();
        assert_eq!(value["metadata"]["name"], "web-1");
        assert_eq!(value["deleteOptions"]["gracePeriodSeconds"], 5);
        let wrong = envelope("policy/v1beta1", "Eviction", Vec::new());
        assert_eq!(
            decode_as("policy/v1", "Eviction", &wrong).unwrap_err().code,
            400
        );
    }

    #[test]
    fn bad_bodies_are_refused_with_a_reason_not_a_panic() {
        let kind = resources::selfsubjectaccessreviews();
        for body in [
            &b""[..],
            b"k8s",
            b"{\"kind\":\"SelfSubjectAccessReview\"}",
            b"k8s\0\xff\xff\xff\xff",
        ] {
            let err = decode(kind, body).unwrap_err();
            assert_eq!(err.code, 400, "{body:?}");
        }
        let wrong = envelope("v1", "Pod", Vec::new());
        assert!(
            decode(kind, &wrong)
                .unwrap_err()
                .message
                .contains("holds a Pod of v1")
        );
        let pod = envelope("v1", "Pod", Vec::new());
        assert_eq!(decode(resources::pods(), &pod).unwrap_err().code, 415);
    }
}
