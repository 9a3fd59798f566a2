//! CustomResourceDefinitions as kubectl meets them: a definition's whole life (established,
//! discovered, its objects validated, defaulted, pruned, printed with its columns, scaled, their
//! status written apart, watched) and its deletion taking its objects and its API with it.

mod support;

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use serde_json::json;
use support::Cluster;

const WIDGETS: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names:
    plural: widgets
    kind: Widget
    shortNames: [wd]
    categories: [all]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Color, type: string, jsonPath: .spec.color}
    - {name: Ready, type: string, jsonPath: '.status.conditions[?(@.type=="Ready")].status'}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, minimum: 1, maximum: 10}
              color: {type: string, enum: [red, blue], default: red}
              name: {type: string, pattern: '^[a-z]+$'}
              port: {x-kubernetes-int-or-string: true}
              replicas: {type: integer}
              extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
          status:
            type: object
            properties:
              replicas: {type: integer}
              conditions:
                type: array
                items:
                  type: object
                  properties:
                    type: {type: string}
                    status: {type: string}
"#;

fn widget(name: &str, spec: &str) -> String {
    format!("apiVersion: example.com/v1\nkind: Widget\nmetadata: {{name: {name}}}\nspec: {spec}\n")
}

fn raw_json(cluster: &Cluster, path: &str) -> serde_json::Value {
    serde_json::from_str(&cluster.ok(&["get", "--raw", path])).expect("JSON")
}

/// Waits until the definition `name` is Established, as kubectl sees it.
fn wait_established(cluster: &Cluster, name: &str) {
    cluster.ok(&[
        "wait",
        "--for=condition=Established",
        &format!("crd/{name}"),
        "--timeout=10s",
    ]);
}

/// Applies the Widget definition and waits until kubectl can use it.
fn install_widgets(cluster: &Cluster) {
    cluster.ok_stdin(&["apply", "-f", "-"], WIDGETS);
    wait_established(cluster, "widgets.example.com");
}

#[test]
fn a_definition_serves_its_kind_with_validation_defaults_and_columns() {
    let cluster = Cluster::start();
    install_widgets(&cluster);
    let definition = cluster.json(&["get", "crd", "widgets.example.com"]);
    assert_eq!(definition["spec"]["names"]["listKind"], "WidgetList");
    assert_eq!(definition["spec"]["names"]["singular"], "widget");
    assert_eq!(definition["status"]["acceptedNames"]["kind"], "Widget");
    assert_eq!(definition["status"]["storedVersions"], json!(["v1"]));
    let conditions: Vec<(String, String)> = definition["status"]["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .map(|c| {
            (
                c["type"].as_str().unwrap_or_default().to_owned(),
                c["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(conditions.contains(&("NamesAccepted".into(), "True".into())));
    assert!(conditions.contains(&("Established".into(), "True".into())));

    // Discovery: its plural, short name and category.
    let resources = cluster.ok(&["api-resources", "--api-group=example.com"]);
    assert!(
        resources.contains("widgets") && resources.contains("wd") && resources.contains("Widget"),
        "{resources}"
    );

    // Defaults from the schema; unknown fields pruned (with --validate=false) or refused.
    cluster.ok_stdin(
        &["apply", "-f", "-"],
        &widget("w1", "{size: 3, port: http}"),
    );
    let w1 = cluster.json(&["get", "widget", "w1"]);
    assert_eq!(w1["spec"]["color"], "red");
    assert_eq!(w1["spec"]["port"], "http");
    assert_eq!(w1["metadata"]["generation"], 1);
    let unknown = cluster.fails_stdin(&["apply", "-f", "-"], &widget("w2", "{size: 2, bogus: 1}"));
    assert!(
        unknown.contains(
            "Widget in version \"v1\" cannot be handled as a Widget: strict decoding error: unknown field \"spec.bogus\""
        ),
        "{unknown}"
    );
    cluster.ok_stdin(
        &["apply", "--validate=false", "-f", "-"],
        &widget("w2", "{size: 2, bogus: 1, extra: {kept: {deep: true}}}"),
    );
    let w2 = cluster.json(&["get", "wd", "w2"]);
    assert!(w2["spec"]["bogus"].is_null(), "{w2}");
    assert_eq!(w2["spec"]["extra"]["kept"]["deep"], true);

    // The schema's rules, in the real server's words.
    let invalid = cluster.fails_stdin(
        &["create", "-f", "-"],
        &widget("w3", "{size: 30, color: pink, name: Bad, port: 1.5}"),
    );
    for expected in [
        "The Widget \"w3\" is invalid",
        "spec.size: Invalid value: 30: spec.size in body should be less than or equal to 10",
        "spec.color: Unsupported value: \"pink\": supported values: \"red\", \"blue\"",
        "spec.name: Invalid value: \"Bad\": spec.name in body should match '^[a-z]+$'",
        "spec.port: Invalid value: 1.5: spec.port in body must be of type integer or string: \"number\"",
    ] {
        assert!(invalid.contains(expected), "{expected}\nnot in\n{invalid}");
    }
    let missing = cluster.fails_stdin(&["create", "-f", "-"], &widget("w3", "{color: blue}"));
    assert!(
        missing.contains("The Widget \"w3\" is invalid: spec.size: Required value"),
        "{missing}"
    );
    let typed = cluster.fails(&[
        "patch",
        "widget",
        "w1",
        "--type=merge",
        "-p",
        r#"{"spec":{"size":"big"}}"#,
    ]);
    assert!(
        typed.contains("spec.size: Invalid value: \"big\": spec.size in body must be of type integer: \"string\""),
        "{typed}"
    );
    let strategic = cluster.fails(&["patch", "widget", "w1", "-p", r#"{"spec":{"size":4}}"#]);
    assert!(
        strategic.contains("application/strategic-merge-patch+json is not supported"),
        "{strategic}"
    );

    // Status is its own subresource: a main write keeps it, a status write changes only it.
    cluster.ok(&[
        "patch",
        "widget",
        "w1",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"replicas":2,"conditions":[{"type":"Ready","status":"True"}]},"spec":{"size":9}}"#,
    ]);
    cluster.ok(&[
        "patch",
        "widget",
        "w1",
        "--type=merge",
        "-p",
        r#"{"spec":{"size":4},"status":{"replicas":7}}"#,
    ]);
    let w1 = cluster.json(&["get", "widget", "w1"]);
    assert_eq!(
        (w1["spec"]["size"].clone(), w1["status"]["replicas"].clone()),
        (json!(4), json!(2))
    );
    assert_eq!(w1["metadata"]["generation"], 2);

    // The scale subresource at the definition's paths.
    cluster.ok(&["scale", "widget", "w1", "--replicas=5"]);
    let scale = raw_json(
        &cluster,
        "/apis/example.com/v1/namespaces/default/widgets/w1/scale",
    );
    assert_eq!(scale["spec"]["replicas"], 5);
    assert_eq!(scale["status"]["replicas"], 2);

    // The definition's printer columns, and the category.
    let table = cluster.ok(&["get", "widgets"]);
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], vec!["NAME", "SIZE", "COLOR", "READY"], "{table}");
    assert_eq!(lines[1], vec!["w1", "4", "red", "True"], "{table}");
    // A column with nothing at its path is left blank, as kubectl shows a null cell.
    assert_eq!(lines[2], vec!["w2", "2", "red"], "{table}");
    let all = cluster.ok(&["get", "all"]);
    assert!(all.contains("widget.example.com/w1"), "{all}");

    // Selectors and server-side apply work on custom objects as on any other.
    cluster.ok(&["label", "widget", "w2", "tier=edge"]);
    let selected = cluster.ok(&["get", "widgets", "-l", "tier=edge", "-o", "name"]);
    assert_eq!(selected.trim(), "widget.example.com/w2");
    cluster.ok_stdin(
        &["apply", "--server-side", "--field-manager=ci", "-f", "-"],
        &widget("w4", "{size: 1}"),
    );
    let w4 = cluster.json(&["get", "widget", "w4", "--show-managed-fields"]);
    assert_eq!(w4["metadata"]["managedFields"][0]["manager"], "ci");
    assert_eq!(w4["spec"]["color"], "red");

    // kubectl explain reads the definition's schema from OpenAPI v3.
    let explained = cluster.ok(&["explain", "widget.spec"]);
    assert!(
        explained.contains("size") && explained.contains("-required-"),
        "{explained}"
    );
}

#[test]
fn deleting_a_definition_takes_its_objects_and_its_api_with_it() {
    let cluster = Cluster::start();
    install_widgets(&cluster);
    cluster.ok(&["create", "namespace", "team"]);
    cluster.ok_stdin(&["apply", "-f", "-"], &widget("w1", "{size: 1}"));
    cluster.ok_stdin(
        &["apply", "-n", "team", "-f", "-"],
        &widget("w2", "{size: 2}"),
    );
    let mut watch = cluster.spawn(&["get", "widgets", "-A", "--watch", "--output-watch-events"]);
    let stdout = watch.stdout.take().expect("watch stdout");
    // Wait for the watch's initial events, so the deletions are seen live.
    let mut lines = BufReader::new(stdout).lines();
    let mut added = 0;
    while added < 2 {
        let line = lines.next().expect("the watch goes on").expect("a line");
        if line.starts_with("ADDED") {
            added += 1;
        }
    }

    let started = Instant::now();
    cluster.ok(&["delete", "crd", "widgets.example.com", "--wait=false"]);
    // While its objects go, none may be made.
    let refused = cluster.fails_stdin(&["create", "-f", "-"], &widget("late", "{size: 1}"));
    assert!(
        refused.contains("create not allowed while custom resource definition is terminating"),
        "{refused}"
    );
    cluster.ok(&[
        "wait",
        "--for=delete",
        "crd/widgets.example.com",
        "--timeout=20s",
    ]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // kubectl keeps what it discovered on disk; a fresh look (as `api-resources` takes) finds
    // the kind gone.
    let resources = cluster.ok(&["api-resources"]);
    assert!(!resources.contains("example.com"), "{resources}");
    let gone = cluster.fails(&["get", "widgets", "-A"]);
    assert!(
        gone.contains("the server doesn't have a resource type \"widgets\""),
        "{gone}"
    );
    let raw = cluster.fails(&["get", "--raw", "/apis/example.com/v1/widgets"]);
    assert!(raw.contains("NotFound"), "{raw}");
    let groups = raw_json(&cluster, "/apis");
    assert!(
        !groups.to_string().contains("example.com"),
        "the group is still discovered: {groups}"
    );
    let _ = watch.kill();
    let _ = watch.wait();
    let seen: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        seen.iter().filter(|l| l.starts_with("DELETED")).count() == 2,
        "both objects' deletions reach the watch: {seen:?}"
    );

    // Made again, it starts empty.
    install_widgets(&cluster);
    let listed = cluster.json(&["get", "widgets", "-A"]);
    assert_eq!(listed["items"], json!([]));

    // A namespace's deletion takes its custom objects with it.
    cluster.ok(&["create", "namespace", "short-lived"]);
    cluster.ok_stdin(
        &["apply", "-n", "short-lived", "-f", "-"],
        &widget("w3", "{size: 3}"),
    );
    cluster.ok(&["delete", "namespace", "short-lived", "--timeout=20s"]);
    let left = raw_json(&cluster, "/apis/example.com/v1/widgets");
    assert_eq!(left["items"], json!([]), "{left}");
}

#[test]
fn a_definition_whose_names_are_taken_waits_until_they_are_free() {
    let cluster = Cluster::start();
    install_widgets(&cluster);
    let rival = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gizmos.example.com}
spec:
  group: example.com
  scope: Cluster
  names: {plural: gizmos, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"#;
    cluster.ok_stdin(&["apply", "-f", "-"], rival);
    let refused = cluster.wait_for(10, "the rival's names refused", |c| {
        let crd = c.json(&["get", "crd", "gizmos.example.com"]);
        crd["status"]["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == "NamesAccepted").cloned())
    });
    assert_eq!(refused["status"], "False");
    assert_eq!(refused["reason"], "KindConflict");
    assert_eq!(refused["message"], "\"Widget\" is already in use");
    cluster.fails(&["get", "gizmos"]);

    cluster.ok(&["delete", "crd", "widgets.example.com"]);
    wait_established(&cluster, "gizmos.example.com");
    // kubectl still maps Widget to the old, namespaced widgets until it discovers again.
    cluster.ok(&["api-resources"]);
    cluster.ok_stdin(
        &["apply", "-f", "-"],
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: g1}\nanything: {goes: here}\n",
    );
    let g1 = cluster.json(&["get", "gizmos", "g1"]);
    assert_eq!(g1["anything"]["goes"], "here");
    assert!(
        g1["metadata"]["namespace"].is_null(),
        "cluster-scoped: {g1}"
    );
}

#[test]
fn a_bad_definition_is_refused_with_each_problem_named() {
    let cluster = Cluster::start();
    let bad = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: things.example.com}
spec:
  group: example.com
  scope: Global
  names: {plural: widgets, kind: Widget}
  versions:
  - {name: v1, served: true, storage: false, schema: {openAPIV3Schema: {type: object, properties: {a: {type: string, pattern: "("}}}}}
"#;
    let refused = cluster.fails_stdin(&["apply", "-f", "-"], bad);
    for expected in [
        "The CustomResourceDefinition \"things.example.com\" is invalid",
        "metadata.name: Invalid value: \"things.example.com\": must be spec.names.plural+\".\"+spec.group",
        "spec.scope: Unsupported value: \"Global\": supported values: \"Cluster\", \"Namespaced\"",
        "must have exactly one version marked as storage version",
        "spec.versions[0].schema.openAPIV3Schema.properties[a].pattern: Invalid value: \"(\"",
    ] {
        assert!(refused.contains(expected), "{expected}\nnot in\n{refused}");
    }
    cluster.fails(&["get", "crd", "things.example.com"]);
}

#[test]
fn every_served_version_shows_the_same_objects_in_its_own_version() {
    let cluster = Cluster::start();
    let two_versions = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: gadgets, kind: Gadget}
  versions:
  - name: v1beta1
    served: true
    storage: false
    schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object, properties: {size: {type: integer}}}}}}
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object, properties: {size: {type: integer, default: 1}, shape: {type: string}}}}}}
  - name: v1alpha1
    served: false
    storage: false
    schema: {openAPIV3Schema: {type: object}}
"#;
    cluster.ok_stdin(&["apply", "-f", "-"], two_versions);
    wait_established(&cluster, "gadgets.example.com");
    // The preferred version is the highest, whatever the definition's order.
    let group = raw_json(&cluster, "/apis/example.com");
    assert_eq!(group["preferredVersion"]["version"], "v1", "{group}");
    let versions: Vec<&str> = group["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .filter_map(|v| v["version"].as_str())
        .collect();
    assert_eq!(
        versions,
        vec!["v1", "v1beta1"],
        "an unserved version is not listed"
    );
    cluster.fails(&["get", "--raw", "/apis/example.com/v1alpha1/gadgets"]);

    // Written through v1beta1 (its schema prunes `shape`), read through both.
    cluster.ok_stdin(
        &["apply", "--validate=false", "-f", "-"],
        "apiVersion: example.com/v1beta1\nkind: Gadget\nmetadata: {name: g1}\nspec: {size: 4, shape: round}\n",
    );
    let beta = raw_json(
        &cluster,
        "/apis/example.com/v1beta1/namespaces/default/gadgets/g1",
    );
    let ga = raw_json(
        &cluster,
        "/apis/example.com/v1/namespaces/default/gadgets/g1",
    );
    assert_eq!(beta["apiVersion"], "example.com/v1beta1");
    assert_eq!(ga["apiVersion"], "example.com/v1");
    assert_eq!(
        (beta["spec"].clone(), ga["spec"].clone()),
        (json!({"size": 4}), json!({"size": 4}))
    );
    let listed = raw_json(&cluster, "/apis/example.com/v1beta1/gadgets");
    assert_eq!(listed["apiVersion"], "example.com/v1beta1");
    assert_eq!(listed["items"][0]["apiVersion"], "example.com/v1beta1");
    // kubectl uses the preferred version.
    let through_kubectl = cluster.json(&["get", "gadget", "g1"]);
    assert_eq!(through_kubectl["apiVersion"], "example.com/v1");
}

#[test]
fn cel_rules_hold_on_create_and_transition_rules_on_update() {
    let cluster = Cluster::start();
    let autoscalers = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: autoscalers.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: autoscalers, kind: Autoscaler}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            x-kubernetes-validations:
            - {rule: "self.minReplicas <= self.maxReplicas", message: "minReplicas must not exceed maxReplicas"}
            properties:
              minReplicas: {type: integer}
              maxReplicas: {type: integer}
              tier:
                type: string
                x-kubernetes-validations:
                - {rule: "self == oldSelf", message: "tier is immutable"}
"#;
    cluster.ok_stdin(&["apply", "-f", "-"], autoscalers);
    wait_established(&cluster, "autoscalers.example.com");
    let object = |min: i64, max: i64, tier: &str| {
        format!(
            "apiVersion: example.com/v1\nkind: Autoscaler\nmetadata: {{name: web}}\nspec: {{minReplicas: {min}, maxReplicas: {max}, tier: {tier}}}\n"
        )
    };
    let refused = cluster.fails_stdin(&["create", "-f", "-"], &object(9, 5, "standard"));
    assert!(
        refused.contains(
            "The Autoscaler \"web\" is invalid: spec: Invalid value: \"object\": minReplicas must not exceed maxReplicas"
        ),
        "{refused}"
    );
    cluster.ok_stdin(&["create", "-f", "-"], &object(1, 5, "standard"));
    let changed = cluster.fails_stdin(&["apply", "-f", "-"], &object(1, 5, "premium"));
    assert!(
        changed.contains("spec.tier: Invalid value: \"string\": tier is immutable"),
        "{changed}"
    );
    cluster.ok_stdin(&["apply", "-f", "-"], &object(2, 5, "standard"));

    // A rule that does not compile refuses the definition.
    let broken = autoscalers
        .replace("autoscalers.example.com", "brokens.example.com")
        .replace(
            "plural: autoscalers, kind: Autoscaler",
            "plural: brokens, kind: Broken",
        )
        .replace("self == oldSelf", "self ==");
    let refused = cluster.fails_stdin(&["apply", "-f", "-"], &broken);
    assert!(
        refused.contains(
            "x-kubernetes-validations[0].rule: Invalid value: \"self ==\": compilation failed"
        ),
        "{refused}"
    );
}

mod with_kube_rs {
    //! The way kube-rs's CRD examples (`crd_derive`, `crd_apply`, `crd_reflector`) use a
    //! definition: derived from a Rust type, applied server-side, awaited until established,
    //! its objects written through a typed `Api`, followed by a reflector, deleted.

    use super::support::Cluster;
    use futures::StreamExt;
    use kube::CustomResourceExt;
    use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
    use kube::runtime::wait::{await_condition, conditions};
    use kube::runtime::{WatchStreamExt, reflector, watcher};
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};
    use std::time::Duration;

    #[derive(kube::CustomResource, Deserialize, Serialize, Clone, Debug, JsonSchema)]
    #[kube(
        group = "clux.dev",
        version = "v1",
        kind = "Foo",
        namespaced,
        status = "FooStatus",
        scale(
            spec_replicas_path = ".spec.replicas",
            status_replicas_path = ".status.replicas"
        ),
        printcolumn(name = "Team", type_ = "string", json_path = ".spec.team")
    )]
    pub struct FooSpec {
        name: String,
        team: String,
        #[serde(default)]
        replicas: i32,
    }

    #[derive(Deserialize, Serialize, Clone, Debug, Default, JsonSchema)]
    pub struct FooStatus {
        replicas: i32,
    }

    #[tokio::test]
    async fn a_derived_definition_lives_through_kube_rs() {
        let cluster = Cluster::start();
        let client = cluster.client().await;
        let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
            Api::all(client.clone());
        let apply = PatchParams::apply("kube-rs-test").force();
        crds.patch("foos.clux.dev", &apply, &Patch::Apply(Foo::crd()))
            .await
            .expect("the derived definition is applied");
        tokio::time::timeout(
            Duration::from_secs(10),
            await_condition(
                crds.clone(),
                "foos.clux.dev",
                conditions::is_crd_established(),
            ),
        )
        .await
        .expect("established within 10 s")
        .expect("the wait works");

        let foos: Api<Foo> = Api::namespaced(client.clone(), "default");
        let (reader, writer) = reflector::store::<Foo>();
        let follow = tokio::spawn(
            reflector(writer, watcher(foos.clone(), watcher::Config::default()))
                .applied_objects()
                .for_each(|_| async {}),
        );
        let created = foos
            .create(
                &PostParams::default(),
                &Foo::new(
                    "baz",
                    FooSpec {
                        name: "baz".into(),
                        team: "edge".into(),
                        replicas: 1,
                    },
                ),
            )
            .await
            .expect("created through the typed Api");
        assert_eq!(created.spec.team, "edge");
        let patched = foos
            .patch(
                "baz",
                // The creator owns `team`: taking it over needs force, as on a real server.
                &PatchParams::apply("kube-rs-test").force(),
                &Patch::Apply(serde_json::json!({
                    "apiVersion": "clux.dev/v1", "kind": "Foo",
                    "spec": {"name": "baz", "team": "core"}
                })),
            )
            .await
            .expect("applied");
        assert_eq!(patched.spec.team, "core");
        let status = foos
            .patch_status(
                "baz",
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"status": {"replicas": 1}})),
            )
            .await
            .expect("status written");
        assert_eq!(status.status.map(|s| s.replicas), Some(1));
        let scale = foos.get_scale("baz").await.expect("scale read");
        assert_eq!(scale.spec.and_then(|s| s.replicas), Some(1));

        // The reflector sees what was written.
        let seen = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if reader.state().iter().any(|f| {
                    f.spec.team == "core" && f.status.as_ref().is_some_and(|s| s.replicas == 1)
                }) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        assert!(
            seen.is_ok(),
            "the reflector caught up: {:?}",
            reader.state()
        );

        // A custom object removed at once answers with a Status, as kube-rs expects.
        let deleted = foos
            .delete("baz", &DeleteParams::default())
            .await
            .expect("deleted");
        assert!(deleted.is_right(), "{deleted:?}");
        follow.abort();

        crds.delete("foos.clux.dev", &DeleteParams::default())
            .await
            .expect("definition deleted");
        tokio::time::timeout(
            Duration::from_secs(10),
            await_condition(crds.clone(), "foos.clux.dev", conditions::is_deleted("")),
        )
        .await
        .expect("gone within 10 s")
        .expect("the wait works");
    }
}
