use serde_json::{Value, json};

use super::payload::{File, Kind, Lookups, build};
use super::*;

fn pod(volumes: Value) -> Value {
    json!({
        "metadata": {"name": "web-1", "namespace": "shop", "uid": "u-1",
                     "labels": {"app": "web", "tier": "front"}},
        "spec": {"nodeName": "linux-1", "volumes": volumes,
                 "containers": [{"name": "web", "resources": {"limits": {"memory": "64Mi", "cpu": "250m"}}}]},
        "status": {"podIP": "127.192.0.9"},
    })
}

fn lookups_with<'a>(
    config_map: &'a dyn Fn(&str) -> Option<Value>,
    secret: &'a dyn Fn(&str) -> Option<Value>,
) -> Lookups<'a> {
    Lookups {
        config_map,
        secret,
        token: &|audience: &str| format!("token-for-{audience}"),
    }
}

fn routes(name: &str) -> Option<Value> {
    (name == "routes").then(|| {
        json!({"data": {"routes.yaml": "sum: in-process", "extra": "x"},
                                        "binaryData": {"blob": "AAE="}})
    })
}

fn creds(name: &str) -> Option<Value> {
    (name == "creds").then(|| json!({"data": {"password": "czNjcmV0"}}))
}

fn managed(kind: Option<Kind>) -> super::payload::Payload {
    match kind {
        Some(Kind::Managed(p)) => p,
        other => panic!("not a managed volume: {other:?}"),
    }
}

#[test]
fn config_maps_and_secrets_become_files_with_their_modes() {
    let lookups = lookups_with(&routes, &creds);
    let all = managed(
        build(
            &json!({"configMap": {"name": "routes"}}),
            &pod(json!([])),
            &lookups,
        )
        .expect("built"),
    );
    assert_eq!(all["routes.yaml"].data, b"sum: in-process");
    assert_eq!(all["blob"].data, [0u8, 1]);
    assert_eq!(all["extra"].mode, 0o644);
    let items = managed(
        build(
            &json!({"configMap": {"name": "routes", "defaultMode": 0o600,
                    "items": [{"key": "routes.yaml", "path": "conf/routes.yaml", "mode": 0o400}, {"key": "extra", "path": "e"}]}}),
            &pod(json!([])),
            &lookups,
        )
        .expect("built"),
    );
    assert_eq!(items.keys().collect::<Vec<_>>(), ["conf/routes.yaml", "e"]);
    assert_eq!(items["conf/routes.yaml"].mode, 0o400);
    assert_eq!(items["e"].mode, 0o600);
    let secret = managed(
        build(
            &json!({"secret": {"secretName": "creds"}}),
            &pod(json!([])),
            &lookups,
        )
        .expect("built"),
    );
    assert_eq!(
        secret["password"],
        File {
            data: b"s3cret".to_vec(),
            mode: 0o644
        }
    );
}

#[test]
fn missing_sources_are_refused_in_the_kubelets_words_unless_optional() {
    let lookups = lookups_with(&routes, &creds);
    let empty = pod(json!([]));
    assert_eq!(
        build(&json!({"configMap": {"name": "nope"}}), &empty, &lookups),
        Err("configmap \"nope\" not found".to_owned())
    );
    assert_eq!(
        build(&json!({"secret": {"secretName": "nope"}}), &empty, &lookups),
        Err("secret \"nope\" not found".to_owned())
    );
    assert_eq!(
        build(
            &json!({"configMap": {"name": "routes", "items": [{"key": "missing", "path": "m"}]}}),
            &empty,
            &lookups
        ),
        Err("configmap references non-existent config key: missing".to_owned())
    );
    let optional = build(
        &json!({"configMap": {"name": "nope", "optional": true}}),
        &empty,
        &lookups,
    );
    assert_eq!(managed(optional.expect("optional")).len(), 0);
}

#[test]
fn the_downward_api_and_projections_read_the_pod() {
    let lookups = lookups_with(&routes, &creds);
    let the_pod = pod(json!([]));
    let downward = managed(
        build(
            &json!({"downwardAPI": {"items": [
                {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
                {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                {"path": "tier", "fieldRef": {"fieldPath": "metadata.labels['tier']"}},
                {"path": "mem", "resourceFieldRef": {"containerName": "web", "resource": "limits.memory", "divisor": "1Mi"}},
                {"path": "cpu", "resourceFieldRef": {"containerName": "web", "resource": "limits.cpu"}},
            ]}}),
            &the_pod,
            &lookups,
        )
        .expect("built"),
    );
    let read = |k: &str| String::from_utf8(downward[k].data.clone()).expect("utf-8");
    assert_eq!(read("name"), "web-1");
    assert_eq!(read("labels"), "app=\"web\"\ntier=\"front\"");
    assert_eq!(read("tier"), "front");
    assert_eq!(read("mem"), "64");
    assert_eq!(read("cpu"), "1", "250m rounds up to one core");
    let projected = managed(
        build(
            &json!({"projected": {"sources": [
                {"configMap": {"name": "routes", "items": [{"key": "routes.yaml", "path": "routes.yaml"}]}},
                {"secret": {"name": "creds"}},
                {"downwardAPI": {"items": [{"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
                {"serviceAccountToken": {"path": "token", "audience": "vault"}},
            ]}}),
            &the_pod,
            &lookups,
        )
        .expect("built"),
    );
    assert_eq!(
        projected.keys().collect::<Vec<_>>(),
        ["ns", "password", "routes.yaml", "token"]
    );
    assert_eq!(projected["token"].data, b"token-for-vault");
    assert_eq!(
        build(
            &json!({"downwardAPI": {"items": [{"path": "x", "fieldRef": {"fieldPath": "spec.bogus"}}]}}),
            &the_pod,
            &lookups
        ),
        Err("unsupported fieldPath: spec.bogus".to_owned())
    );
    assert_eq!(
        build(&json!({"emptyDir": {}}), &the_pod, &lookups),
        Ok(Some(Kind::EmptyDir))
    );
}

#[test]
fn a_pod_syncs_its_volumes_and_mounts_them_in_its_containers_root() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lookups = lookups_with(&routes, &creds);
    let the_pod = pod(json!([
        {"name": "config", "configMap": {"name": "routes"}},
        {"name": "scratch", "emptyDir": {}},
    ]));
    let mut volumes = PodVolumes::new(dir.path(), "u-1");
    assert_eq!(
        volumes.sync(&the_pod, &lookups),
        Ok(vec!["config".to_owned()])
    );
    assert_eq!(
        volumes.sync(&the_pod, &lookups),
        Ok(vec![]),
        "nothing changed"
    );
    let root = volumes
        .mount(&json!({"name": "web", "volumeMounts": [
            {"name": "config", "mountPath": "/etc/calculator"},
            {"name": "config", "mountPath": "/etc/routes.yaml", "subPath": "routes.yaml"},
            {"name": "scratch", "mountPath": "/tmp/work"},
        ]}))
        .expect("mounted");
    assert_eq!(root, container_root(&pod_dir(dir.path(), "u-1"), "web"));
    let read = |p: &str| std::fs::read_to_string(root.join(p)).expect("read");
    assert_eq!(read("etc/calculator/routes.yaml"), "sum: in-process");
    assert_eq!(read("etc/routes.yaml"), "sum: in-process");
    std::fs::write(root.join("tmp/work/shared"), "w").expect("emptyDir writable");

    // The ConfigMap changes: the mounted directory follows, the subPath copy does not.
    let changed =
        |name: &str| (name == "routes").then(|| json!({"data": {"routes.yaml": "sum: service"}}));
    let lookups = lookups_with(&changed, &creds);
    assert_eq!(
        volumes.sync(&the_pod, &lookups),
        Ok(vec!["config".to_owned()])
    );
    assert_eq!(read("etc/calculator/routes.yaml"), "sum: service");
    assert!(
        !root.join("etc/calculator/extra").exists(),
        "a removed key goes"
    );
    assert_eq!(read("etc/routes.yaml"), "sum: in-process");

    // A missing source is said with the volume's name.
    let gone = |_: &str| None;
    let lookups = lookups_with(&gone, &creds);
    assert_eq!(
        volumes.sync(&the_pod, &lookups),
        Err(
            "MountVolume.SetUp failed for volume \"config\" : configmap \"routes\" not found"
                .to_owned()
        )
    );
    volumes.remove();
    assert!(!pod_dir(dir.path(), "u-1").exists());
}
