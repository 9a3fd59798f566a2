//! A move of one service out of the monolith or back, as data: its direction and steps, the
//! record it keeps on the monolith (so a restarted console sees it), the events the executor
//! reports, and the progress a view shows. No I/O here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::analysis::Progression;

/// The annotation on the monolith Deployment that records a move in progress.
pub const MOVE_ANNOTATION: &str = "hybrid-console.io/move";

/// The annotation on the monolith by which an operator steers a progressive move in progress
/// from any console or the CLI (`migrate --pause | --promote | --abort`).
pub const CONTROL_ANNOTATION: &str = "hybrid-console.io/move-control";

/// The operator's word on a progressive move in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Control {
    /// Hold the step in progress past its time (a breach still rolls back).
    Pause,
    /// Pass the step in progress now (said once: cleared when obeyed).
    Promote,
    /// Stop: traffic back to the monolith, then the rollback.
    Abort,
}

impl Control {
    /// The annotation's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Control::Pause => "pause",
            Control::Promote => "promote",
            Control::Abort => "abort",
        }
    }

    /// Reads the annotation's value (anything else is no word at all).
    pub fn parse(value: &str) -> Option<Control> {
        [Control::Pause, Control::Promote, Control::Abort]
            .into_iter()
            .find(|c| c.as_str() == value.trim())
    }
}

/// The field manager of everything the console writes.
pub const FIELD_MANAGER: &str = "hybrid-console";

/// Which way a service goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Out of the monolith, into its own Deployment (on Linux, for the calculator).
    Extract,
    /// Back into the monolith; its own Deployment is removed.
    Return,
}

/// One step of a move (and of its rollback).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    /// Create (or update) the service's Deployment and Service.
    Deploy,
    /// Wait for its rollout.
    WaitService,
    /// Call it directly through its Service.
    VerifyService,
    /// Send traffic its new way: routing variables, or the front Service's selector.
    Reroute,
    /// Wait for the rerouted Deployments (or the front Service's endpoints).
    WaitReroute,
    /// Call the whole application through the front Service.
    VerifyFront,
    /// Remove the service's own Deployment and Service (when it returns).
    RemoveService,
    /// Progressive: the monolith answers and also asks the service, and compares.
    Shadow,
    /// Progressive: the service answers its share of the requests (the record's `share`).
    Canary,
    /// Progressive: the service answers every request, by the monolith's routing file.
    Full,
    /// Progressive: 100 % watched for a while before the move goes on.
    Settle,
    /// Progressive: the routing file's entry removed once the routing variable carries the
    /// route (after the re-route), so the file holds only moves in progress.
    Handover,
    /// Rollback: put the routing back as it was.
    RestoreRoute,
    /// Rollback: wait for the restored Deployments.
    WaitRestore,
    /// Rollback: remove what the move created.
    RemoveCreated,
}

impl StepKind {
    /// The steps of a move, in order.
    pub fn sequence(direction: Direction) -> &'static [StepKind] {
        match direction {
            Direction::Extract => &[
                StepKind::Deploy,
                StepKind::WaitService,
                StepKind::VerifyService,
                StepKind::Reroute,
                StepKind::WaitReroute,
                StepKind::VerifyFront,
            ],
            Direction::Return => &[
                StepKind::Reroute,
                StepKind::WaitReroute,
                StepKind::VerifyFront,
                StepKind::RemoveService,
            ],
        }
    }

    /// The steps of a rollback, in order.
    pub const ROLLBACK: &'static [StepKind] = &[
        StepKind::RestoreRoute,
        StepKind::WaitRestore,
        StepKind::RemoveCreated,
    ];

    /// Whether it is a step of a rollback (never run by the forward drive).
    pub fn is_rollback(self) -> bool {
        Self::ROLLBACK.contains(&self)
    }

    /// How the step list names it.
    pub fn title(self) -> &'static str {
        match self {
            StepKind::Deploy => "Deploy",
            StepKind::WaitService => "Wait for rollout",
            StepKind::VerifyService => "Verify service",
            StepKind::Reroute => "Re-route",
            StepKind::WaitReroute => "Wait for redeploy",
            StepKind::VerifyFront => "Verify end to end",
            StepKind::RemoveService => "Remove service",
            StepKind::Shadow => "Shadow and compare",
            StepKind::Canary => "Canary",
            StepKind::Full => "All traffic",
            StepKind::Settle => "Settle",
            StepKind::Handover => "Hand over to the variable",
            StepKind::RestoreRoute => "Restore routing",
            StepKind::WaitRestore => "Wait for restore",
            StepKind::RemoveCreated => "Remove created objects",
        }
    }

    /// Whether traffic may already go the new way once this step has started: from here on,
    /// abort means rolling the routing back.
    pub fn routes_traffic(self) -> bool {
        matches!(
            self,
            StepKind::Reroute
                | StepKind::WaitReroute
                | StepKind::VerifyFront
                | StepKind::RemoveService
                | StepKind::Shadow
                | StepKind::Canary
                | StepKind::Full
                | StepKind::Settle
                | StepKind::Handover
        )
    }
}

/// A Kubernetes object the move created, so a rollback removes exactly that.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectRef {
    /// `Deployment` or `Service`.
    pub kind: String,
    /// Its name (in the monolith's namespace).
    pub name: String,
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

/// The routing as it was before the move, so a rollback restores exactly that.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutingBefore {
    /// The routing variable the move changes, when it changes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variable: Option<String>,
    /// The container that carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Per Deployment, the routing variable's value (`None`: unset).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, Option<String>>,
    /// The front Service's selector, when the move changes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub front_selector: Option<BTreeMap<String, String>>,
    /// The monolith's routing file, when a progressive move changes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_file: Option<RoutingFileBefore>,
    /// The edge route's rule, when a progressive move at the edge changes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge_rule: Option<EdgeRuleBefore>,
}

/// An HTTPRoute's rule as it was before a progressive move at the edge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EdgeRuleBefore {
    /// The HTTPRoute (in the monolith's namespace).
    pub route: String,
    /// The rule's index in `spec.rules`.
    pub index: usize,
    /// The rule, whole.
    pub rule: serde_json::Value,
}

/// The monolith's routing file as it was before a progressive move.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutingFileBefore {
    /// The ConfigMap that holds it.
    pub config_map: String,
    /// Its key.
    pub key: String,
    /// Whether the ConfigMap existed (a rollback deletes one the move created).
    pub existed: bool,
    /// The file's text (`None`: the key was absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// Whether the move goes forward or is being undone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MovePhase {
    /// Going forward.
    Running,
    /// Being rolled back.
    RollingBack,
}

/// The move in progress, as recorded on the monolith (annotation [`MOVE_ANNOTATION`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MoveRecord {
    /// The plan's name.
    pub plan: String,
    /// The service moving.
    pub service: String,
    /// Which way.
    pub direction: Direction,
    /// The step reached.
    pub step: StepKind,
    /// Forward or rolling back.
    pub phase: MovePhase,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// Who started it (the Kubernetes user).
    pub by: String,
    /// The plan digest (objects and routing) it follows.
    pub digest: String,
    /// The image override it deploys, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// What it created.
    #[serde(default)]
    pub created: Vec<ObjectRef>,
    /// The routing before it.
    #[serde(default)]
    pub before: RoutingBefore,
    /// A progressive move's steps and allowances (absent: a move that switches at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progression: Option<Progression>,
    /// The service's share of the traffic at a canary step, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<u8>,
}

/// A move's record that is there but cannot be read (edited by hand, or by another version).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the {} annotation on the monolith cannot be read: {}", MOVE_ANNOTATION, .0)]
pub struct UnreadableRecord(pub String);

impl MoveRecord {
    /// Reads the record from the monolith's annotations; `None` when there is none, an error
    /// when there is one that cannot be read.
    pub fn from_annotations(
        annotations: Option<&BTreeMap<String, String>>,
    ) -> Option<Result<MoveRecord, UnreadableRecord>> {
        let text = annotations?.get(MOVE_ANNOTATION)?;
        Some(serde_json::from_str(text).map_err(|e| UnreadableRecord(e.to_string())))
    }

    /// The annotation's value.
    pub fn to_annotation(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// One line for status displays: `sum: extract, step wait-service, by alice since …`.
    pub fn summary(&self) -> String {
        let verb = match self.direction {
            Direction::Extract => "out of the monolith",
            Direction::Return => "back into the monolith",
        };
        let phase = match self.phase {
            MovePhase::Running => "",
            MovePhase::RollingBack => ", rolling back",
        };
        let share = match (self.step, self.share) {
            (StepKind::Canary, Some(share)) => format!(" at {share} %"),
            _ => String::new(),
        };
        format!(
            "moving {} {verb}: step \"{}\"{share}{phase}, started by {} at {}",
            self.service,
            self.step.title(),
            self.by,
            self.started_at
        )
    }
}

/// The two stages of retiring the monolith, and the undoing of the first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RetireStage {
    /// Scale its Deployment to zero replicas.
    ScaleToZero,
    /// Undo [`RetireStage::ScaleToZero`]: back to the replicas it had (recorded under
    /// [`REPLICAS_BEFORE_RETIRE`]), ready again.
    ScaleBack,
    /// Delete its Deployment and Service (once at zero).
    Delete,
}

/// The annotation on the monolith Deployment that keeps its replica count while it is scaled to
/// zero, so that scaling back brings what the operator had.
pub const REPLICAS_BEFORE_RETIRE: &str = "hybrid-console.io/replicas-before-retire";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_round_trips_through_its_annotation() {
        let record = MoveRecord {
            plan: "calculator".into(),
            service: "sum".into(),
            direction: Direction::Extract,
            step: StepKind::WaitService,
            phase: MovePhase::Running,
            started_at: "2026-11-26T12:00:00Z".into(),
            by: "alice".into(),
            digest: "sha256:00".into(),
            image: None,
            created: vec![ObjectRef {
                kind: "Deployment".into(),
                name: "sum-service".into(),
            }],
            before: RoutingBefore {
                variable: Some("SUM_SERVICE_URL".into()),
                container: Some("calculator".into()),
                variables: BTreeMap::from([("monolith".to_owned(), None)]),
                front_selector: None,
                routing_file: None,
                edge_rule: None,
            },
            progression: None,
            share: None,
        };
        let annotations = BTreeMap::from([(MOVE_ANNOTATION.to_owned(), record.to_annotation())]);
        assert_eq!(
            MoveRecord::from_annotations(Some(&annotations)),
            Some(Ok(record.clone()))
        );
        assert_eq!(MoveRecord::from_annotations(Some(&BTreeMap::new())), None);
        let broken = BTreeMap::from([(MOVE_ANNOTATION.to_owned(), "{".to_owned())]);
        assert!(matches!(
            MoveRecord::from_annotations(Some(&broken)),
            Some(Err(_))
        ));
        assert_eq!(
            record.summary(),
            "moving sum out of the monolith: step \"Wait for rollout\", started by alice at 2026-11-26T12:00:00Z"
        );
    }
}
