//! The messages themselves: [`Command`]s the window sends, [`Event`]s the backend answers
//! with, where the connection stands, and the sink events go through.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::SystemTime;

use serde::Serialize;

use super::failure::ActionError;
use super::task::Task;
use crate::cluster::connection::{ConnectError, ConnectionTarget, ContextEntry};
use crate::model::ClusterSnapshot;
use crate::model::calculation::{CalcOutcome, CalcTarget, ProbeSample};
use crate::model::cost::DayCost;
use crate::model::eks::{
    AwsTarget, EksCluster, GroupSurvey, NodeGroupProposal, ProposalSource, Retirement,
};
use crate::model::events::LogEntry;
use crate::model::move_plan::{MovePlan, ProgressiveWay};
use crate::model::move_progress::MoveEvent;
use crate::model::moves::{Control, Direction, RetireStage};
use crate::model::pod_details::PodDetails;
use crate::model::readiness::{ExpectedTaint, Finding, ReadinessOptions, ReadinessReport};

/// What the UI asks of the backend.
#[derive(Clone, Debug)]
pub enum Command {
    /// Connect (or switch) to a cluster.
    Connect(ConnectionTarget),
    /// Calculate once.
    Calculate {
        /// The panel's number for this request; the answer carries it back.
        request: u64,
        /// First number, as typed.
        a: String,
        /// Second number, as typed.
        b: String,
        /// Service proxy or URL.
        target: CalcTarget,
    },
    /// Start or stop probing the calculator continuously.
    Probe {
        /// `None` stops it; otherwise calls per second.
        per_second: Option<u32>,
        /// First number.
        a: String,
        /// Second number.
        b: String,
        /// Service proxy or URL.
        target: CalcTarget,
    },
    /// Show (and keep refreshing) the details of a pod; `None` stops.
    SelectPod(Option<(String, String)>),
    /// Which namespace's Events the log panel shows.
    EventsNamespace(String),
    /// Plan moving a service (answered with [`Event::MovePlanned`]).
    PlanMove {
        /// The plan's service.
        service: String,
        /// Which way.
        direction: Direction,
        /// In proven steps (shadow, the plan's shares, 100 %), shared where it says; `None`:
        /// at once.
        progressive: Option<ProgressiveWay>,
    },
    /// Carry out the plan the operator confirmed.
    StartMove {
        /// The plan shown and confirmed.
        plan: Box<MovePlan>,
        /// A Prometheus to read a progressive move's figures from (else the pods' /metrics).
        prometheus: Option<String>,
    },
    /// Abort the move this console drives; it rolls back.
    AbortMove,
    /// The operator's word on the progressive move in progress (`None` withdraws a Pause).
    SteerMove(Option<Control>),
    /// Finish the move recorded on the monolith.
    ResumeMove,
    /// Roll back the move recorded on the monolith.
    RollBackMove,
    /// One stage of retiring the monolith.
    Retire(RetireStage),
    /// List the EKS clusters (and node groups) of a region.
    ListEks(AwsTarget),
    /// Ask Cost Explorer what an EKS cluster's node groups cost.
    AskCosts {
        /// Region and profile.
        aws: AwsTarget,
        /// The EKS cluster.
        cluster: String,
    },
    /// Run the hybrid readiness check on the live connection; with `eks`, that cluster's node
    /// groups are checked too (an EKS connection brings its own).
    CheckReadiness {
        /// What the check is told.
        options: ReadinessOptions,
        /// Region/profile and cluster name.
        eks: Option<(AwsTarget, String)>,
    },
    /// Read a node group and what runs on its nodes, before taking it out of service.
    SurveyNodeGroup {
        /// Region and profile.
        aws: AwsTarget,
        /// The cluster.
        cluster: String,
        /// The node group.
        group: String,
        /// Scale to zero or delete.
        retirement: Retirement,
    },
    /// Take the surveyed node group out of service (the operator confirmed).
    RetireNodeGroup {
        /// Region and profile.
        aws: AwsTarget,
        /// What was surveyed and shown.
        survey: Box<GroupSurvey>,
        /// Scale to zero or delete.
        retirement: Retirement,
    },
    /// The findings that would apply to a node group about to be added.
    ReviewNodeGroup {
        /// Region and profile.
        aws: AwsTarget,
        /// The cluster.
        cluster: String,
        /// The node group, or the eksctl file to read it from.
        source: ProposalSource,
        /// The taint Windows nodes should carry, for the findings.
        windows_taint: ExpectedTaint,
    },
    /// Create the reviewed node group (the operator confirmed).
    AddNodeGroup {
        /// Region and profile.
        aws: AwsTarget,
        /// The cluster.
        cluster: String,
        /// The node group.
        proposal: Box<NodeGroupProposal>,
    },
}

/// Where the connection stands.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ConnectionStatus {
    /// Nothing yet.
    Idle,
    /// Connecting; the text says what is happening (starting the local cluster, …).
    Connecting {
        /// Which target.
        target: String,
        /// What is being done.
        stage: String,
    },
    /// Watching a live cluster.
    Live {
        /// Which target.
        target: String,
        /// API server URL.
        server: String,
        /// Its Kubernetes version.
        version: String,
    },
    /// The cluster stopped answering; the board shows the last known state.
    Reconnecting {
        /// Which target.
        target: String,
        /// When the last successful update came.
        last_update: SystemTime,
        /// Why.
        error: String,
    },
    /// The server answers, but a watch failed lately and is being resumed: changes made
    /// meanwhile may not have reached the board yet.
    Resuming {
        /// Which target.
        target: String,
        /// What failed, in the server's words.
        error: String,
    },
    /// Connecting failed; nothing to show.
    Failed {
        /// Which target.
        target: String,
        /// Why, and what to do.
        error: ConnectError,
    },
}

/// Whether the embedded cluster follows EKS node groups in an AWS emulator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmbeddedAwsState {
    /// It follows EKS cluster `cluster`, reached with `aws` (the emulator).
    Following {
        /// The emulator.
        aws: AwsTarget,
        /// The EKS cluster whose node groups are its nodes.
        cluster: String,
    },
    /// It has nodes of its own; why there is no emulator, and how to get one.
    Without {
        /// Why, in a sentence that says what to install.
        why: String,
    },
}

/// What the backend tells the UI.
#[derive(Clone, Debug)]
pub enum Event {
    /// The connection changed.
    Connection(ConnectionStatus),
    /// The embedded cluster was started (or reached again): whether it follows an AWS emulator.
    EmbeddedAws(EmbeddedAwsState),
    /// The contexts the connection view can offer.
    Contexts(Vec<ContextEntry>),
    /// A new view of the cluster.
    Snapshot(Arc<ClusterSnapshot>),
    /// A calculation finished.
    Calculated(CalcOutcome),
    /// One probe call finished.
    Probe(ProbeSample),
    /// Details of the selected pod.
    PodDetails(Box<PodDetails>),
    /// The namespace's Events, newest first.
    ClusterEvents(Vec<LogEntry>),
    /// Something the console did or noticed.
    Log(LogEntry),
    /// The plan of a move, or why there is none.
    MovePlanned(Result<Box<MovePlan>, ActionError>),
    /// Progress of the move this console drives.
    Move(MoveEvent),
    /// A move could not start (refused, another console holds it, …).
    MoveNotStarted(ActionError),
    /// A stage of retiring the monolith finished.
    Retired(Result<String, ActionError>),
    /// The readiness findings, or why there are none.
    Readiness(Result<ReadinessReport, ActionError>),
    /// A node group read for taking it out of service, or why it could not be.
    NodeGroupSurvey {
        /// What the operator asked for.
        retirement: Retirement,
        /// The survey.
        survey: Result<Box<GroupSurvey>, ActionError>,
    },
    /// A proposed node group (read from its source) and the findings for it, or why not.
    NodeGroupReview(Result<(Box<NodeGroupProposal>, Vec<Finding>), ActionError>),
    /// A node group was added, scaled to zero or deleted (what was done), or why not.
    NodeGroupChanged(Result<String, ActionError>),
    /// A background task ended in a panic: whatever the window waited for from it will not
    /// come.
    TaskFailed {
        /// What it was.
        task: Task,
        /// What it was doing and what it said.
        why: String,
    },
    /// The backend itself stopped (or never started): nothing more will be answered.
    BackendStopped {
        /// Why, and what to do.
        why: String,
    },
    /// The EKS clusters of a region, or why there are none.
    EksClusters {
        /// The region listed.
        region: String,
        /// The clusters, or why not.
        clusters: Result<Vec<EksCluster>, ActionError>,
    },
    /// Cost Explorer's daily costs of a cluster's node groups, or why it could not say.
    NodeGroupCosts {
        /// The EKS cluster asked about.
        cluster: String,
        /// The days' costs, or the reason in words to show.
        days: Result<Vec<DayCost>, String>,
    },
}

/// Sends events to the UI and asks it to repaint.
#[derive(Clone)]
pub struct EventSink {
    sender: mpsc::Sender<Event>,
    repaint: Arc<dyn Fn() + Send + Sync>,
}

impl EventSink {
    /// A sink delivering to `sender`, calling `repaint` after each event.
    pub fn new(sender: mpsc::Sender<Event>, repaint: Arc<dyn Fn() + Send + Sync>) -> EventSink {
        EventSink { sender, repaint }
    }
}

impl EventSink {
    /// Delivers `event`; a UI that has gone away is not an error.
    pub fn send(&self, event: Event) {
        if self.sender.send(event).is_ok() {
            (self.repaint)();
        }
    }

    /// Logs one of the console's own actions.
    pub fn log(&self, reason: &str, message: impl Into<String>) {
        let message = message.into();
        tracing::info!(reason, %message);
        self.send(Event::Log(LogEntry::console(reason, message)));
    }
}
