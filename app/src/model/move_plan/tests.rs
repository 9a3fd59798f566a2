//! Planning against hand-built clusters, checked against golden files
//! (`UPDATE_GOLDEN=1 cargo test -p hybrid-console --lib` rewrites them after a deliberate change).

use serde_json::json;

use super::*;
use k8s_openapi::api::core::v1::Node;

use super::planning::set_env as set_container_env;
use crate::model::access::Permission;
use crate::model::fixtures;
use crate::model::migration_plan::MigrationPlan;
use crate::model::migration_plan::PlanFiles;
use crate::model::moves::MovePhase;
use crate::model::moves::{Direction, MoveRecord, RoutingBefore, StepKind};

fn node(name: &str, os: &str) -> Node {
    let taints = if os == "windows" {
        json!([{"key": "os", "value": "windows", "effect": "NoSchedule"}])
    } else {
        json!([])
    };
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/os": os, "eks.amazonaws.com/nodegroup": os}},
        "spec": {"taints": taints},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "allocatable": {"pods": "29", "cpu": "1930m", "memory": "7Gi"},
        },
    }))
    .unwrap()
}

/// The calculator as `kubectl apply -f manifests/calculator/` leaves it, on 2 + 2 nodes.
fn starting_point() -> LiveObjects {
    LiveObjects {
        nodes: vec![
            node("win-a", "windows"),
            node("win-b", "windows"),
            node("lin-a", "linux"),
            node("lin-b", "linux"),
        ],
        ..fixtures::starting_point()
    }
}

fn calculator() -> MigrationPlan {
    MigrationPlan::parse(&PlanFiles::built_in()).unwrap()
}

/// The parts of a plan a person reviews, as stable JSON.
fn reviewable(plan: &MovePlan) -> serde_json::Value {
    json!({
        "service": plan.service,
        "direction": plan.direction,
        "targetOs": plan.target_os,
        "images": plan.images,
        "changes": plan.changes,
        "routeChanges": plan.route_changes,
        "frontPin": plan.front_pin,
        "frontSwitch": plan.front_switch,
        "redeploys": plan.redeploys,
        "nodes": plan.nodes,
        "permissions": plan.permissions.iter().map(Permission::describe).collect::<Vec<_>>(),
        "refusals": plan.refusals,
        "before": plan.before,
        "creates": plan.creates,
        "steps": plan.steps,
        "env": plan.deployment.spec.template.spec.as_ref().map(|s| s.containers[0].env.clone()),
    })
}

fn golden(name: &str, value: &serde_json::Value) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/model/golden")
        .join(format!("{name}.json"));
    let text = serde_json::to_string_pretty(value).unwrap() + "\n";
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} is missing; run with UPDATE_GOLDEN=1", path.display()));
    assert_eq!(text, expected, "{name} differs from its golden file");
}

fn set_env(live: &mut LiveObjects, deployment: &str, variable: &str, value: &str) {
    let d = live
        .deployments
        .iter_mut()
        .find(|d| d.metadata.name.as_deref() == Some(deployment))
        .unwrap();
    set_container_env(d, "calculator", variable, value);
}

#[test]
fn moving_sum_out_deploys_it_on_linux_and_reroutes_the_monolith() {
    let plan = plan_move(
        &calculator(),
        "sum",
        Direction::Extract,
        None,
        &starting_point(),
        Recorded::Nothing,
    )
    .unwrap();
    assert!(plan.allowed(), "{:?}", plan.refusals);
    golden("sum-extract", &reviewable(&plan));
    assert!(plan.digest.starts_with("sha256:"));
}

#[test]
fn moving_sum_back_reroutes_first_and_removes_the_service_last() {
    let mut live = starting_point();
    set_env(
        &mut live,
        "monolith",
        "SUM_SERVICE_URL",
        "http://sum-service:3000",
    );
    let plan = plan_move(
        &calculator(),
        "sum",
        Direction::Return,
        None,
        &live,
        Recorded::Nothing,
    )
    .unwrap();
    assert!(plan.allowed(), "{:?}", plan.refusals);
    golden("sum-return", &reviewable(&plan));
}

#[test]
fn moving_the_ui_pins_the_front_then_switches_it_and_reaches_what_stays_in_the_monolith() {
    let mut live = starting_point();
    set_env(
        &mut live,
        "monolith",
        "SUM_SERVICE_URL",
        "http://sum-service:3000",
    );
    let plan = plan_move(
        &calculator(),
        "ui",
        Direction::Extract,
        None,
        &live,
        Recorded::Nothing,
    )
    .unwrap();
    assert!(plan.allowed(), "{:?}", plan.refusals);
    golden("ui-extract", &reviewable(&plan));
}

#[test]
fn an_operation_moved_after_the_ui_reroutes_the_ui_too() {
    let mut live = starting_point();
    let mut ui = calculator().service("ui").unwrap().deployment.clone();
    set_container_env(
        &mut ui,
        "calculator",
        "DIVISION_SERVICE_URL",
        "http://monolith:3000",
    );
    live.deployments.push(ui);
    let plan = plan_move(
        &calculator(),
        "division",
        Direction::Extract,
        None,
        &live,
        Recorded::Nothing,
    )
    .unwrap();
    let targets: Vec<(&str, Option<&str>)> = plan
        .route_changes
        .iter()
        .map(|c| (c.deployment.as_str(), c.value.as_deref()))
        .collect();
    assert_eq!(
        targets,
        [
            ("monolith", Some("http://division-service:3000")),
            ("ui-service", Some("http://division-service:3000"))
        ]
    );
    assert_eq!(
        plan.before.variables.get("ui-service"),
        Some(&Some("http://monolith:3000".to_owned()))
    );
}

#[test]
fn refusals_say_why() {
    let calc = calculator();
    // Already out.
    let mut live = starting_point();
    set_env(
        &mut live,
        "monolith",
        "SUM_SERVICE_URL",
        "http://sum-service:3000",
    );
    let plan = plan_move(
        &calc,
        "sum",
        Direction::Extract,
        None,
        &live,
        Recorded::Nothing,
    )
    .unwrap();
    assert_eq!(
        plan.refusals,
        ["sum has already left the monolith (served by calculator/sum-service)"]
    );
    // Not out.
    let plan = plan_move(
        &calc,
        "sum",
        Direction::Return,
        None,
        &starting_point(),
        Recorded::Nothing,
    )
    .unwrap();
    assert_eq!(plan.refusals, ["sum is already served by the monolith"]);
    // No Linux node.
    let mut live = starting_point();
    live.nodes.retain(|n| {
        n.metadata
            .name
            .as_deref()
            .is_some_and(|n| n.starts_with("win"))
    });
    let plan = plan_move(
        &calc,
        "sum",
        Direction::Extract,
        None,
        &live,
        Recorded::Nothing,
    )
    .unwrap();
    assert_eq!(
        plan.refusals,
        [
            "no node can take a pod of sum-service: 0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector"
        ]
    );
    // Another move going on.
    let record = MoveRecord {
        plan: "calculator".into(),
        service: "division".into(),
        direction: Direction::Extract,
        step: StepKind::Reroute,
        phase: MovePhase::Running,
        started_at: "2026-11-26T12:00:00Z".into(),
        by: "bob".into(),
        digest: String::new(),
        image: None,
        created: Vec::new(),
        before: RoutingBefore::default(),
        progression: None,
        share: None,
    };
    let plan = plan_move(
        &calc,
        "sum",
        Direction::Extract,
        None,
        &starting_point(),
        Recorded::Other(&record),
    )
    .unwrap();
    assert!(plan.refusals[0].starts_with("another move is in progress (moving division out of the monolith: step \"Re-route\", started by bob"), "{:?}", plan.refusals);
    // Unknown service.
    let err = plan_move(
        &calc,
        "modulo",
        Direction::Extract,
        None,
        &starting_point(),
        Recorded::Nothing,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the plan calculator has no service \"modulo\"; it has: sum, subtraction, multiplication, division, ui"
    );
    // Missing permissions are named.
    let mut plan = plan_move(
        &calc,
        "sum",
        Direction::Extract,
        None,
        &starting_point(),
        Recorded::Nothing,
    )
    .unwrap();
    let answers: Vec<bool> = plan
        .permissions
        .iter()
        .map(|p| p.verb != "patch" || p.resource != "deployments")
        .collect();
    plan.record_permissions(&answers);
    assert_eq!(plan.refusals.len(), 1);
    assert!(
        plan.refusals[0].starts_with("not allowed: patch deployments.apps monolith, patch deployments.apps sum-service (in namespace calculator)"),
        "{}",
        plan.refusals[0]
    );
}

#[test]
fn the_digest_changes_with_what_is_applied() {
    let calc = calculator();
    let a = plan_move(
        &calc,
        "sum",
        Direction::Extract,
        None,
        &starting_point(),
        Recorded::Nothing,
    )
    .unwrap();
    let b = plan_move(
        &calc,
        "sum",
        Direction::Extract,
        Some("calculator:other"),
        &starting_point(),
        Recorded::Nothing,
    )
    .unwrap();
    let again = plan_move(
        &calc,
        "sum",
        Direction::Extract,
        None,
        &starting_point(),
        Recorded::Nothing,
    )
    .unwrap();
    assert_ne!(a.digest, b.digest);
    assert_eq!(a.digest, again.digest);
    assert_eq!(b.images, ["calculator:other"]);
}

fn routing_file(existed: bool) -> crate::model::moves::RoutingFileBefore {
    crate::model::moves::RoutingFileBefore {
        config_map: "monolith-routing".into(),
        key: "routing.yaml".into(),
        existed,
        text: None,
    }
}

#[test]
fn a_progressive_move_shadows_then_shares_then_switches_before_the_variable() {
    let plan = |name: &str, direction| {
        plan_move(
            &calculator(),
            name,
            direction,
            None,
            &starting_point(),
            Recorded::Nothing,
        )
        .unwrap()
    };
    let progression = crate::model::analysis::Progression::default();
    let mut sum = plan("sum", Direction::Extract);
    let permissions = sum.permissions.len();
    sum.make_progressive(
        progression.clone(),
        super::SharedAt::Inside(routing_file(false)),
        false,
    )
    .unwrap();
    use StepKind::*;
    assert_eq!(
        sum.steps,
        [
            Deploy,
            WaitService,
            VerifyService,
            Shadow,
            Canary,
            Canary,
            Full,
            Settle,
            Reroute,
            WaitReroute,
            VerifyFront,
            Handover
        ]
    );
    let shares: Vec<Option<u8>> = (0..sum.steps.len()).map(|i| sum.share_at(i)).collect();
    assert_eq!(
        shares,
        [
            None,
            None,
            None,
            Some(0),
            Some(10),
            Some(50),
            Some(100),
            Some(100),
            Some(100),
            Some(100),
            Some(100),
            Some(100)
        ]
    );
    // A recorded step is found again, each canary by its share.
    assert_eq!(sum.step_index(Canary, Some(50)), Some(5));
    assert_eq!(sum.step_index(Canary, Some(10)), Some(4));
    assert_eq!(sum.step_index(Canary, Some(30)), None);
    assert_eq!(sum.step_index(Settle, Some(100)), Some(7));
    // It asks for the routing file and the pods' proxy, and says what it will do to the file.
    assert_eq!(sum.permissions.len(), permissions + 5);
    assert!(
        sum.permissions
            .iter()
            .any(|p| p.resource == "pods" && p.subresource.as_deref() == Some("proxy"))
    );
    let change = sum.changes.last().unwrap();
    assert_eq!(
        (change.action.as_str(), change.object.as_str()),
        ("create", "ConfigMap/monolith-routing")
    );
    assert!(change.detail.contains("shadow, 10 %, 50 %, 100 %"));
    assert_eq!(sum.before.routing_file, Some(routing_file(false)));

    // No shadow step when none is asked for.
    let mut unshadowed = plan("sum", Direction::Extract);
    let quick = crate::model::analysis::Progression {
        shadow_requests: 0,
        weights: vec![25],
        ..progression.clone()
    };
    unshadowed
        .make_progressive(quick, super::SharedAt::Inside(routing_file(true)), false)
        .unwrap();
    assert_eq!(&unshadowed.steps[3..5], [Canary, Full]);
    assert_eq!(unshadowed.share_at(3), Some(25));
    assert_eq!(unshadowed.changes.last().unwrap().action, "update");

    // What cannot go by shares says why.
    let mut back = plan("sum", Direction::Extract);
    back.direction = Direction::Return;
    assert!(matches!(
        back.make_progressive(
            progression.clone(),
            super::SharedAt::Inside(routing_file(false)),
            false
        ),
        Err(NotProgressive::Unsupported(..))
    ));
    let mut ui = plan("ui", Direction::Extract);
    assert!(matches!(
        ui.make_progressive(
            progression.clone(),
            super::SharedAt::Inside(routing_file(false)),
            true
        ),
        Err(NotProgressive::Unsupported(..))
    ));
    for weights in [vec![50, 10], vec![0, 50], vec![10, 100], vec![10, 10]] {
        let mut bad = plan("sum", Direction::Extract);
        let error = bad
            .make_progressive(
                crate::model::analysis::Progression {
                    weights: weights.clone(),
                    ..progression.clone()
                },
                super::SharedAt::Inside(routing_file(false)),
                false,
            )
            .unwrap_err();
        assert_eq!(error, NotProgressive::BadWeights(weights));
    }
}

#[test]
fn a_progressive_move_at_the_edge_weights_a_rule_and_keeps_it() {
    let mut sum = plan_move(
        &calculator(),
        "sum",
        Direction::Extract,
        None,
        &starting_point(),
        Recorded::Nothing,
    )
    .unwrap();
    let rule = crate::model::moves::EdgeRuleBefore {
        route: "calculator".into(),
        index: 0,
        rule: json!({"matches": [{"path": {"type": "PathPrefix", "value": "/sum"}}]}),
    };
    sum.make_progressive(
        crate::model::analysis::Progression::default(),
        super::SharedAt::Edge(rule.clone()),
        false,
    )
    .unwrap();
    // No routing file to hand over: the route stays at 100 % to the service.
    assert_eq!(sum.steps.last(), Some(&StepKind::VerifyFront));
    assert!(!sum.steps.contains(&StepKind::Handover));
    assert_eq!(sum.before.edge_rule, Some(rule));
    assert!(sum.before.routing_file.is_none());
    let change = sum.changes.last().unwrap();
    assert_eq!(change.object, "HTTPRoute/calculator");
    assert!(
        change
            .detail
            .contains("mirrored, 10 %, 50 %, 100 % to Service sum-service")
    );
    assert!(
        sum.permissions
            .iter()
            .any(|p| p.group == "gateway.networking.k8s.io"
                && p.resource == "httproutes"
                && p.verb == "patch")
    );
}
