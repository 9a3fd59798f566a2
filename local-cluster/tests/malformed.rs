//! A stream of malformed requests — wrong methods, paths, content types, bodies cut short, bodies
//! of random bytes, JSON of the wrong shape, oversized bodies — against the real binary: every
//! one is answered with a 4xx Status (never a 500, never a dropped connection), and the server
//! answers normally afterwards.

#![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

mod support;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use support::Cluster;

const PATHS: &[&str] = &[
    "/api/v1/namespaces/default/pods",
    "/api/v1/namespaces/default/pods/p",
    "/api/v1/namespaces/default/pods/p/status",
    "/api/v1/namespaces/default/pods/p/eviction",
    "/api/v1/namespaces/default/pods/p/binding",
    "/api/v1/namespaces/default/configmaps",
    "/api/v1/namespaces/default/configmaps/c",
    "/apis/apps/v1/namespaces/default/deployments",
    "/apis/apps/v1/namespaces/default/deployments/d/scale",
    "/api/v1/nodes/n",
    "/api/v1/namespaces",
    "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
    "/api/v1/pods/x",
    "/apis/nope/v9/things",
    "/api/v1/namespaces/default/pods?labelSelector=a%20in%20(b&fieldSelector=spec.nope=1",
    "/api/v1/namespaces/default/pods?watch=1&resourceVersion=abc",
    "/api/v1/namespaces/default/pods?limit=-5&continue=%ff",
];

const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
    "text/plain",
    "",
];

const BODIES: &[&str] = &[
    "",
    "{",
    "[]",
    "null",
    "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{}]}}",
    "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"p\"},\"spec\":\"wrong\"}",
    "{\"metadata\":{\"name\":12,\"labels\":{\"a\":[]}}}",
    "[{\"op\":\"explode\",\"path\":\"/spec\"}]",
    "[{\"op\":\"replace\",\"path\":\"/metadata/name\",\"value\":\"other\"}]",
    "{\"$patch\":\"delete\"}",
    "{\"spec\":{\"containers\":[{\"$patch\":\"nope\"}]}}",
    "apiVersion: v1\nkind: Pod\nmetadata: {name: [}",
    "k8s\u{0}garbage",
    "{\"apiVersion\":\"v1\",\"kind\":\"Binding\",\"target\":{}}",
    "{\"spec\":{\"replicas\":-1}}",
    "{\"spec\":{\"replicas\":\"many\"}}",
];

#[derive(Debug, Clone)]
struct Malformed {
    method: &'static str,
    path: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
}

fn malformed() -> impl Strategy<Value = Malformed> {
    (
        prop::sample::select(vec![
            "POST", "POST", "PUT", "PATCH", "PATCH", "PATCH", "GET", "DELETE", "OPTIONS",
        ]),
        prop::sample::select(PATHS.to_vec()),
        prop::sample::select(CONTENT_TYPES.to_vec()),
        prop_oneof![
            prop::sample::select(BODIES.to_vec()).prop_map(|b| b.as_bytes().to_vec()),
            // A good body cut short.
            (prop::sample::select(BODIES.to_vec()), 0usize..60)
                .prop_map(|(b, n)| b.as_bytes()[..n.min(b.len())].to_vec()),
            prop::collection::vec(any::<u8>(), 0..300),
        ],
    )
        .prop_map(|(method, path, content_type, body)| Malformed {
            method,
            path,
            content_type,
            body,
        })
}

/// Sends `request` and checks the answer: below 500, and a Status with a message when it is a
/// 4xx. Returns the status code; `what` names the request in a failure.
fn answered_without_5xx(
    runtime: &tokio::runtime::Runtime,
    client: &kube::Client,
    request: http::Request<Vec<u8>>,
    what: &dyn std::fmt::Debug,
) -> Result<u16, TestCaseError> {
    let response = runtime
        .block_on(client.send(request.map(Into::into)))
        .map_err(|e| TestCaseError::fail(format!("no answer: {e}")))?;
    let status = response.status().as_u16();
    let body = runtime
        .block_on(response.into_body().collect_bytes())
        .map_err(|e| TestCaseError::fail(format!("answer cut: {e}")))?;
    prop_assert!(
        status < 500,
        "{what:?} answered {status}: {}",
        String::from_utf8_lossy(&body)
    );
    if status >= 400 {
        let said: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
            TestCaseError::fail(format!("{what:?}: {status} without a Status: {e}"))
        })?;
        prop_assert_eq!(&said["kind"], "Status");
        prop_assert!(!said["message"].as_str().unwrap_or_default().is_empty());
    }
    Ok(status)
}

#[test]
fn a_stream_of_malformed_requests_gets_4xx_answers_and_no_500() {
    let cluster = Cluster::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(cluster.raw_client());
    let mut runner = TestRunner::new(Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    });
    let codes = std::cell::RefCell::new(std::collections::BTreeMap::<u16, usize>::new());
    runner
        .run(&malformed(), |request| {
            let mut builder = http::Request::builder()
                .method(request.method)
                .uri(request.path);
            if !request.content_type.is_empty() {
                builder = builder.header("Content-Type", request.content_type);
            }
            let sent = builder.body(request.body.clone()).unwrap();
            let status = answered_without_5xx(&runtime, &client, sent, &request)?;
            *codes.borrow_mut().entry(status).or_default() += 1;
            Ok(())
        })
        .unwrap();
    let codes = codes.into_inner();
    eprintln!("answers by code: {codes:?}");
    assert!(codes.keys().any(|c| (400..500).contains(c)));

    // Still answering as usual.
    cluster.ok(&["create", "configmap", "after", "--from-literal=a=b"]);
    assert_eq!(
        cluster.ok(&["get", "configmap", "after", "-o", "jsonpath={.data.a}"]),
        "b"
    );
}

#[test]
fn bodies_over_3_mib_are_refused_with_413_for_every_verb() {
    let cluster = Cluster::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(cluster.raw_client());
    let huge = vec![b' '; 3 * 1024 * 1024 + 1];
    for (method, path, content_type) in [
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "application/json",
        ),
        (
            "PUT",
            "/api/v1/namespaces/default/configmaps/c",
            "application/json",
        ),
        (
            "PATCH",
            "/api/v1/namespaces/default/configmaps/c",
            "application/merge-patch+json",
        ),
        (
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            "application/json",
        ),
        (
            "POST",
            "/apis/events.k8s.io/v1/namespaces/default/events",
            "application/json",
        ),
    ] {
        let request = http::Request::builder()
            .method(method)
            .uri(path)
            .header("Content-Type", content_type)
            .body(huge.clone().into())
            .unwrap();
        let response = runtime.block_on(client.send(request)).unwrap();
        assert_eq!(response.status().as_u16(), 413, "{method} {path}");
    }
}

/// Found by the stream above: `DELETE /api/v1/namespaces` deleted every namespace, where a real
/// server allows no deletecollection of namespaces.
#[test]
fn namespaces_cannot_be_deleted_as_a_collection() {
    let cluster = Cluster::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(cluster.raw_client());
    let request = http::Request::delete("/api/v1/namespaces")
        .body(Vec::new().into())
        .unwrap();
    let response = runtime.block_on(client.send(request)).unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(
        cluster
            .ok(&["get", "namespace", "default", "-o", "name"])
            .trim(),
        "namespace/default"
    );
    let verbs = cluster.ok(&["api-resources", "--api-group=", "-o", "wide"]);
    let namespaces = verbs
        .lines()
        .find(|l| l.starts_with("namespaces "))
        .unwrap();
    assert!(!namespaces.contains("deletecollection"), "{namespaces}");
}

/// Where a patch of a Deployment may point: fields that exist, that do not, that may not change,
/// and paths that are not paths.
const PATCH_PATHS: &[&str] = &[
    "/spec/replicas",
    "/spec/template/spec/containers/0/image",
    "/spec/template/spec/containers/-",
    "/spec/template/spec/containers/5",
    "/spec/template/metadata/labels/app",
    "/spec/selector/matchLabels/app",
    "/metadata/labels/team",
    "/metadata/labels/a~1b",
    "/metadata/name",
    "/metadata/uid",
    "/status",
    "/nope/deeper",
    "",
    "spec",
    "/~2",
];

/// A JSON patch that moves a value into the root and then fails is refused (found by the
/// random patches below: the patch library's undo of such a move panicked, and the request was
/// dropped with no answer). The same for the scale subresource.
#[test]
fn a_json_patch_that_fails_after_moving_into_the_root_is_refused() {
    let cluster = Cluster::start();
    cluster.ok(&[
        "create",
        "deployment",
        "d",
        "--image=nginx:1",
        "--replicas=0",
    ]);
    let patch = r#"[{"op":"move","from":"/spec/template/metadata/labels/app","path":""},{"op":"add","path":"/spec/replicas","value":1}]"#;
    let refused = cluster.fails(&["patch", "deployment", "d", "--type=json", "-p", patch]);
    assert!(
        refused.contains("the server rejected our request due to an error in our request"),
        "{refused}"
    );
    let scale = r#"[{"op":"move","from":"/spec/replicas","path":""},{"op":"add","path":"/spec/replicas","value":1}]"#;
    let refused = cluster.fails(&[
        "patch",
        "deployment",
        "d",
        "--subresource=scale",
        "--type=json",
        "-p",
        scale,
    ]);
    assert!(
        refused.contains("Error from server (BadRequest)"),
        "{refused}"
    );
    let stored = cluster.json(&["get", "deployment", "d"]);
    assert_eq!(stored["spec"]["replicas"], 0);
    assert_eq!(stored["spec"]["template"]["metadata"]["labels"]["app"], "d");
}

/// Keys a merge, strategic or apply patch of a Deployment may carry, ordinary and directive.
fn deployment_key() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "spec",
        "replicas",
        "template",
        "metadata",
        "labels",
        "name",
        "containers",
        "image",
        "selector",
        "matchLabels",
        "app",
        "status",
        "$patch",
        "$retainKeys",
        "$setElementOrder/containers",
        "x",
    ])
    .prop_map(str::to_owned)
}

fn patch_json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-3i64..5).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(vec!["web", "nginx:1", "delete", "replace", "merge", ""])
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(deployment_key(), inner, 0..5)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A patch of one of the four types, well-formed as that type's JSON but random in what it says.
fn typed_patch() -> impl Strategy<Value = (&'static str, serde_json::Value)> {
    let operation = (
        prop::sample::select(vec![
            "add", "remove", "replace", "move", "copy", "test", "explode",
        ]),
        prop::sample::select(PATCH_PATHS.to_vec()),
        prop::sample::select(PATCH_PATHS.to_vec()),
        patch_json(),
    )
        .prop_map(|(op, path, from, value)| {
            serde_json::json!({"op": op, "path": path, "from": from, "value": value})
        });
    prop_oneof![
        prop::collection::vec(operation, 0..4)
            .prop_map(|ops| ("application/json-patch+json", serde_json::Value::Array(ops))),
        patch_json().prop_map(|p| ("application/merge-patch+json", p)),
        patch_json().prop_map(|p| ("application/strategic-merge-patch+json", p)),
        patch_json().prop_map(|mut p| {
            // An apply configuration names what it applies; the rest is random.
            if let Some(object) = p.as_object_mut() {
                object.insert("apiVersion".into(), "apps/v1".into());
                object.insert("kind".into(), "Deployment".into());
                object
                    .entry("metadata")
                    .or_insert_with(|| serde_json::json!({}));
                if let Some(metadata) = object["metadata"].as_object_mut() {
                    metadata.insert("name".into(), "d".into());
                }
            }
            ("application/apply-patch+yaml", p)
        }),
    ]
}

#[test]
fn random_patches_of_every_type_are_applied_or_refused_and_the_object_stays_valid() {
    let cluster = Cluster::start();
    cluster.ok(&[
        "create",
        "deployment",
        "d",
        "--image=nginx:1",
        "--replicas=0",
    ]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(cluster.raw_client());
    let path = "/apis/apps/v1/namespaces/default/deployments/d";
    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    let codes = std::cell::RefCell::new(std::collections::BTreeMap::<String, usize>::new());
    runner
        .run(&typed_patch(), |(content_type, patch)| {
            // Server-side apply needs a field manager, and force takes the fields over.
            let uri = if content_type == "application/apply-patch+yaml" {
                format!("{path}?fieldManager=proptest&force=true")
            } else {
                path.to_owned()
            };
            let request = http::Request::patch(uri)
                .header("Content-Type", content_type)
                .body(serde_json::to_vec(&patch).unwrap())
                .unwrap();
            let status = answered_without_5xx(
                &runtime,
                &client,
                request,
                &format!("{content_type} {patch}"),
            )?;
            let kind = content_type.trim_start_matches("application/");
            *codes
                .borrow_mut()
                .entry(format!("{kind} {status}"))
                .or_default() += 1;
            // Whatever was answered, what is stored is still a Deployment named d, readable by a
            // typed client.
            let stored = runtime
                .block_on(client.request::<k8s_openapi::api::apps::v1::Deployment>(
                    http::Request::get(path).body(Vec::new()).unwrap(),
                ))
                .map_err(|e| TestCaseError::fail(format!("after {content_type} {patch}: {e}")))?;
            prop_assert_eq!(stored.metadata.name.as_deref(), Some("d"));
            prop_assert!(
                stored.spec.replicas.is_none_or(|r| r >= 0),
                "after {} {}: negative replicas stored",
                content_type,
                patch
            );
            Ok(())
        })
        .unwrap();
    let codes = codes.into_inner();
    eprintln!("answers by patch type and code: {codes:?}");
    // Each type was both applied and refused at least once, or the patches were not varied.
    for kind in [
        "json-patch+json",
        "merge-patch+json",
        "strategic-merge-patch+json",
        "apply-patch+yaml",
    ] {
        assert!(
            codes.keys().any(|c| c.starts_with(&format!("{kind} 2"))),
            "no {kind} patch applied: {codes:?}"
        );
        assert!(
            codes.keys().any(|c| c.starts_with(&format!("{kind} 4"))),
            "no {kind} patch refused: {codes:?}"
        );
    }
}
