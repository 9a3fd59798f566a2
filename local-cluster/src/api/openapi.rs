//! `/openapi/v2` and `/openapi/v3`: the schemas of every served kind (generated from
//! k8s-openapi's types, descriptions included) and the operations kubectl inspects.
//!
//! kubectl's default `--validate=strict` reads the v3 document of the group-version, finds the
//! `patch` operation for the kind and, seeing `fieldValidation` among its parameters, leaves
//! validation to the server. `kubectl explain` walks the same schemas.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use super::json_response;
use crate::custom_resources::CustomKinds;
use crate::errors::ApiError;
use crate::resources::{self, RESOURCES, ResourceKind};
use crate::strategic::{self, ListStrategy};

/// The documents of the built-in kinds, rendered once at start; custom kinds' documents are
/// rendered when asked for, from the definitions served then.
pub(super) struct Documents {
    v2: Bytes,
    v3_index: Map<String, Value>,
    v3: BTreeMap<String, Bytes>,
    info: Value,
    /// The `meta.k8s.io` schemas a custom kind's document refers to (ObjectMeta and what it
    /// uses, Patch).
    meta_schemas: Map<String, Value>,
}

/// The schema name (`io.k8s.api.apps.v1.Deployment`) of every kind, and its definitions.
fn generate(
    settings: SchemaSettings,
) -> (Map<String, Value>, Vec<(&'static ResourceKind, String)>) {
    use k8s_openapi::api::{
        apps::v1 as apps, authentication::v1 as authentication, authorization::v1 as authorization,
        coordination::v1 as coordination, core::v1 as core, discovery::v1 as discovery,
        policy::v1 as policy, rbac::v1 as rbac,
    };
    use schemars::JsonSchema;
    let mut generator = settings.into_generator();
    let mut names = Vec::new();
    macro_rules! add {
        ($kind:expr, $t:ty) => {{
            generator.subschema_for::<$t>();
            names.push(($kind, <$t as JsonSchema>::schema_name().into_owned()));
        }};
    }
    add!(resources::namespaces(), core::Namespace);
    add!(resources::nodes(), core::Node);
    add!(resources::pods(), core::Pod);
    add!(resources::services(), core::Service);
    add!(resources::endpoints(), core::Endpoints);
    add!(resources::configmaps(), core::ConfigMap);
    add!(resources::secrets(), core::Secret);
    add!(resources::events(), core::Event);
    add!(resources::events_v1(), k8s_openapi::api::events::v1::Event);
    add!(resources::serviceaccounts(), core::ServiceAccount);
    add!(resources::resourcequotas(), core::ResourceQuota);
    add!(resources::limitranges(), core::LimitRange);
    add!(
        resources::horizontalpodautoscalers(),
        k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler
    );
    add!(resources::deployments(), apps::Deployment);
    add!(resources::replicasets(), apps::ReplicaSet);
    add!(resources::daemonsets(), apps::DaemonSet);
    add!(resources::statefulsets(), apps::StatefulSet);
    add!(
        resources::replicationcontrollers(),
        core::ReplicationController
    );
    add!(resources::jobs(), k8s_openapi::api::batch::v1::Job);
    add!(resources::cronjobs(), k8s_openapi::api::batch::v1::CronJob);
    add!(
        resources::poddisruptionbudgets(),
        policy::PodDisruptionBudget
    );
    add!(resources::endpointslices(), discovery::EndpointSlice);
    add!(resources::leases(), coordination::Lease);
    add!(
        resources::runtimeclasses(),
        k8s_openapi::api::node::v1::RuntimeClass
    );
    add!(
        resources::networkpolicies(),
        k8s_openapi::api::networking::v1::NetworkPolicy
    );
    add!(
        resources::ingresses(),
        k8s_openapi::api::networking::v1::Ingress
    );
    add!(
        resources::ingressclasses(),
        k8s_openapi::api::networking::v1::IngressClass
    );
    add!(
        resources::apiservices(),
        k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService
    );
    add!(
        resources::customresourcedefinitions(),
        k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition
    );
    add!(resources::roles(), rbac::Role);
    add!(resources::rolebindings(), rbac::RoleBinding);
    add!(resources::clusterroles(), rbac::ClusterRole);
    add!(resources::clusterrolebindings(), rbac::ClusterRoleBinding);
    add!(
        resources::selfsubjectreviews(),
        authentication::SelfSubjectReview
    );
    add!(
        resources::selfsubjectaccessreviews(),
        authorization::SelfSubjectAccessReview
    );
    add!(
        resources::selfsubjectrulesreviews(),
        authorization::SelfSubjectRulesReview
    );
    // Not kinds of their own, but bodies of subresources (`scale`, `eviction`, `binding`).
    generator.subschema_for::<k8s_openapi::api::autoscaling::v1::Scale>();
    generator.subschema_for::<policy::Eviction>();
    generator.subschema_for::<core::Binding>();
    let mut definitions = generator.take_definitions(true);
    for (name, schema) in definitions.iter_mut() {
        add_list_extensions(name, schema);
    }
    for (kind, name) in &names {
        if let Some(schema) = definitions.get_mut(name).and_then(Value::as_object_mut) {
            schema.insert("x-kubernetes-group-version-kind".into(), json!([gvk(kind)]));
        }
    }
    definitions.insert(
        "io.k8s.apimachinery.pkg.apis.meta.v1.Patch".into(),
        json!({"type": "object", "description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body."}),
    );
    (definitions, names)
}

/// Every schema by its name (`io.k8s.api.core.v1.PodSpec`), for the Protobuf decoder's JSON
/// field names.
pub(super) fn definitions() -> Map<String, Value> {
    generate(SchemaSettings::openapi3()).0
}

/// Declares how each list property merges (`x-kubernetes-patch-merge-key`, list-map keys), as
/// the real document does: kubectl's client-side apply computes its three-way patch from these,
/// and without them would treat every list as atomic.
fn add_list_extensions(definition: &str, schema: &mut Value) {
    let owner = definition.rsplit('.').next().unwrap_or(definition);
    let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for (field, property) in properties.iter_mut() {
        let Some(map) = property.as_object_mut() else {
            continue;
        };
        if map.get("type").and_then(Value::as_str) != Some("array") {
            continue;
        }
        match strategic::list_strategy_in(owner, field) {
            ListStrategy::MergeBy(keys) => {
                map.insert("x-kubernetes-patch-strategy".into(), json!("merge"));
                map.insert("x-kubernetes-patch-merge-key".into(), json!(keys[0]));
                map.insert("x-kubernetes-list-type".into(), json!("map"));
                map.insert("x-kubernetes-list-map-keys".into(), json!(keys));
            }
            ListStrategy::MergePrimitives => {
                map.insert("x-kubernetes-patch-strategy".into(), json!("merge"));
                map.insert("x-kubernetes-list-type".into(), json!("set"));
            }
            ListStrategy::Replace => {
                map.insert("x-kubernetes-list-type".into(), json!("atomic"));
            }
        }
    }
}

fn gvk(kind: &ResourceKind) -> Value {
    json!({"group": kind.group, "version": kind.version, "kind": kind.kind})
}

fn query_parameter(name: &str, description: &str, v3: bool) -> Value {
    if v3 {
        json!({"name": name, "in": "query", "description": description, "schema": {"type": "string", "uniqueItems": true}})
    } else {
        json!({"name": name, "in": "query", "description": description, "type": "string", "uniqueItems": true})
    }
}

fn write_parameters(v3: bool, apply: bool) -> Vec<Value> {
    let mut parameters = vec![
        query_parameter(
            "dryRun",
            "When present, indicates that modifications should not be persisted. Valid values: All",
            v3,
        ),
        query_parameter(
            "fieldManager",
            "fieldManager is a name associated with the actor or entity that is making these changes.",
            v3,
        ),
        query_parameter(
            "fieldValidation",
            "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields. Valid values are: Ignore, Warn (the default), Strict.",
            v3,
        ),
    ];
    if apply {
        parameters.push(query_parameter(
            "force",
            "Force is going to \"force\" Apply requests.",
            v3,
        ));
    }
    parameters
}

fn operation_id(verb: &str, kind: &ResourceKind, namespaced: bool) -> String {
    let group: String = kind
        .group
        .split('.')
        .next()
        .unwrap_or_default()
        .chars()
        .enumerate()
        .map(|(i, c)| if i == 0 { c.to_ascii_uppercase() } else { c })
        .collect();
    let version = {
        let mut v = kind.version.to_owned();
        v[..1].make_ascii_uppercase();
        v
    };
    let scope = if namespaced { "Namespaced" } else { "" };
    format!(
        "{verb}{}{version}{scope}{}",
        if group.is_empty() {
            "Core".to_owned()
        } else {
            group
        },
        kind.kind
    )
}

fn operation(
    verb: &str,
    action: &str,
    kind: &ResourceKind,
    schema_ref: &str,
    v3: bool,
    parameters: Vec<Value>,
    body_types: &[&str],
) -> Value {
    let mut op = json!({
        "operationId": operation_id(verb, kind, kind.namespaced),
        "description": format!("{action} the specified {}", kind.kind),
        "parameters": parameters,
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk(kind),
    });
    if v3 {
        op["responses"] = json!({"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": schema_ref}}}}});
        if !body_types.is_empty() {
            let body_schema = if action == "patch" {
                "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
            } else {
                schema_ref
            };
            let content: Map<String, Value> = body_types
                .iter()
                .map(|t| ((*t).to_owned(), json!({"schema": {"$ref": body_schema}})))
                .collect();
            op["requestBody"] = json!({"content": content, "required": true});
        }
    } else {
        op["responses"] = json!({"200": {"description": "OK", "schema": {"$ref": schema_ref}}});
        op["consumes"] = json!(body_types);
        op["produces"] = json!(["application/json"]);
    }
    op
}

fn paths_for(kind: &ResourceKind, schema: &str, v3: bool) -> Vec<(String, Value)> {
    let prefix = if kind.group.is_empty() {
        format!("/api/{}", kind.version)
    } else {
        format!("/apis/{}/{}", kind.group, kind.version)
    };
    let scope = if kind.namespaced {
        "/namespaces/{namespace}"
    } else {
        ""
    };
    let schema_ref = if v3 {
        format!("#/components/schemas/{schema}")
    } else {
        format!("#/definitions/{schema}")
    };
    let collection = format!("{prefix}{scope}/{}", kind.plural);
    let item = format!("{collection}/{{name}}");
    // Custom kinds take no strategic merge patch (it needs the Go types' merge keys).
    let patch_types: &[&str] = if kind.is_custom() {
        &[
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/apply-patch+yaml",
        ]
    } else {
        &[
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
            "application/apply-patch+yaml",
        ]
    };
    if kind.is_review() {
        // A review is only ever created: there is nothing to list, read or change.
        return vec![(
            collection,
            json!({"post": operation("create", "post", kind, &schema_ref, v3, write_parameters(v3, false), &["application/json"])}),
        )];
    }
    vec![
        (
            collection,
            json!({
                "get": operation("list", "list", kind, &schema_ref, v3, vec![], &[]),
                "post": operation("create", "post", kind, &schema_ref, v3, write_parameters(v3, false), &["application/json"]),
            }),
        ),
        (
            item,
            json!({
                "get": operation("read", "get", kind, &schema_ref, v3, vec![], &[]),
                "put": operation("replace", "put", kind, &schema_ref, v3, write_parameters(v3, false), &["application/json"]),
                "patch": operation("patch", "patch", kind, &schema_ref, v3, write_parameters(v3, true), patch_types),
                "delete": operation("delete", "delete", kind, &schema_ref, v3, vec![], &["application/json"]),
            }),
        ),
    ]
}

fn digest(bytes: &[u8]) -> String {
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    format!("{:016X}", hasher.finish())
}

impl Documents {
    /// Renders every document.
    pub(super) fn build() -> Documents {
        let info = json!({"title": "Kubernetes", "version": format!("v1.{}.0", super::version::SERVER_MINOR)});

        let v2_settings = SchemaSettings::draft07().with(|s| {
            s.meta_schema = None;
            // Swagger 2 keeps description beside $ref, as the real document does.
            s.transforms.clear();
        });
        let (definitions, names) = generate(v2_settings);
        let mut paths = Map::new();
        for (kind, schema) in &names {
            for (path, item) in paths_for(kind, schema, false) {
                paths.insert(path, item);
            }
        }
        let v2 =
            json!({"swagger": "2.0", "info": info, "paths": paths, "definitions": definitions});

        let v3_settings = SchemaSettings::openapi3().with(|s| s.meta_schema = None);
        let (schemas, names) = generate(v3_settings);
        let mut v3 = BTreeMap::new();
        let info = json!(info);
        let mut index = Map::new();
        for (group, version) in resources::group_versions() {
            let key = if group.is_empty() {
                format!("api/{version}")
            } else {
                format!("apis/{group}/{version}")
            };
            let mut paths = Map::new();
            for (kind, schema) in names
                .iter()
                .filter(|(k, _)| k.group == group && k.version == version)
            {
                for (path, item) in paths_for(kind, schema, true) {
                    paths.insert(path, item);
                }
            }
            let document = json!({"openapi": "3.0.0", "info": info, "paths": paths, "components": {"schemas": schemas}});
            let bytes = Bytes::from(document.to_string());
            index.insert(
                key.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={}", digest(&bytes))}),
            );
            v3.insert(key, bytes);
        }
        // metrics.k8s.io has no schema here, as metrics-server's are not in k8s-openapi (a
        // real cluster gets them from the aggregated server).
        debug_assert_eq!(
            RESOURCES
                .iter()
                .filter(|r| r.group != "metrics.k8s.io")
                .count(),
            names.len(),
            "every served kind has a schema"
        );
        let meta_schemas = schemas
            .iter()
            .filter(|(name, _)| name.starts_with("io.k8s.apimachinery.pkg.apis.meta.v1."))
            .map(|(name, schema)| (name.clone(), schema.clone()))
            .collect();
        Documents {
            v2: Bytes::from(v2.to_string()),
            v3_index: index,
            v3,
            info,
            meta_schemas,
        }
    }
}

/// The media type the real server answers a protobuf `/openapi/v2` request with (the request's
/// `…v2@v1.0+protobuf` does not parse as a MIME type in Go).
const V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// An OpenAPI v2 `Document` in protobuf with only `swagger` and `info`: client-go reads v2 only
/// as protobuf, and only to validate kinds the v3 documents do not describe. An empty v2
/// document lets it skip those (as for a CRD) and report the real error, "no matches for kind".
fn minimal_v2_protobuf() -> Vec<u8> {
    fn field(number: u8, bytes: &[u8]) -> Vec<u8> {
        // Wire type 2 (length-delimited); every length here is below 128, one varint byte.
        let mut out = vec![(number << 3) | 2, bytes.len() as u8];
        out.extend_from_slice(bytes);
        out
    }
    let version = format!("v1.{}.0", super::version::SERVER_MINOR);
    let info = [field(1, b"Kubernetes"), field(2, version.as_bytes())].concat();
    [field(1, b"2.0"), field(2, &info)].concat()
}

/// `/openapi/v2`: JSON, or (for kubectl's first question) a minimal Protobuf document.
pub(super) fn v2(documents: &Documents, headers: &axum::http::HeaderMap) -> Response {
    let accept = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if accept.contains("protobuf") {
        return Response::builder()
            .status(StatusCode::OK)
            .header(axum::http::header::CONTENT_TYPE, V2_PROTOBUF)
            .body(axum::body::Body::from(minimal_v2_protobuf()))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    json_response(StatusCode::OK, documents.v2.clone())
}

/// `/openapi/v3`: the index of group-version documents, the custom ones as served now.
pub(super) fn v3_index(documents: &Documents, custom: &CustomKinds) -> Response {
    let mut index = documents.v3_index.clone();
    let served = custom.served();
    for (group, version) in crate::version_order::group_versions_of(
        served.iter().map(|s| (s.kind.group, s.kind.version)),
    ) {
        let key = format!("apis/{group}/{version}");
        let bytes = custom_document(documents, &served, group, version);
        index.insert(
            key.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={}", digest(&bytes))}),
        );
    }
    json_response(StatusCode::OK, json!({"paths": index}).to_string())
}

/// `/openapi/v3/{group-version}`.
pub(super) fn v3_document(documents: &Documents, custom: &CustomKinds, path: &str) -> Response {
    let key = path.trim_matches('/');
    if let Some(bytes) = documents.v3.get(key) {
        return json_response(StatusCode::OK, bytes.clone());
    }
    let served = custom.served();
    if let Some(["apis", group, version]) = Some(key.split('/').collect::<Vec<_>>().as_slice())
        && served
            .iter()
            .any(|s| s.kind.group == *group && s.kind.version == *version)
    {
        return json_response(
            StatusCode::OK,
            custom_document(documents, &served, group, version),
        );
    }
    ApiError::no_route(&format!("/openapi/v3/{path}")).into_response()
}

/// The schema name the real server gives a custom kind (`com.example.v1.Widget`).
fn custom_schema_name(kind: &ResourceKind) -> String {
    let reversed: Vec<&str> = kind.group.split('.').rev().collect();
    format!("{}.{}.{}", reversed.join("."), kind.version, kind.kind)
}

/// The OpenAPI v3 document of a custom group-version: each kind's schema as its definition
/// writes it, with `apiVersion`, `kind` and `metadata` as every object has them, and the
/// operations kubectl looks for.
fn custom_document(
    documents: &Documents,
    served: &[std::sync::Arc<crate::custom_resources::Served>],
    group: &str,
    version: &str,
) -> Bytes {
    let mut schemas = documents.meta_schemas.clone();
    let mut paths = Map::new();
    for s in served
        .iter()
        .filter(|s| s.kind.group == group && s.kind.version == version)
    {
        let name = custom_schema_name(s.kind);
        let mut schema = if s.schema.is_object() {
            s.schema.clone()
        } else {
            json!({"type": "object"})
        };
        schema["properties"]["apiVersion"] = json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."});
        schema["properties"]["kind"] = json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents."});
        schema["properties"]["metadata"] = json!({"allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}], "description": "Standard object's metadata."});
        schema["x-kubernetes-group-version-kind"] = json!([gvk(s.kind)]);
        schemas.insert(name.clone(), schema);
        for (path, item) in paths_for(s.kind, &name, true) {
            paths.insert(path, item);
        }
    }
    let document = json!({"openapi": "3.0.0", "info": documents.info, "paths": paths, "components": {"schemas": schemas}});
    Bytes::from(document.to_string())
}
