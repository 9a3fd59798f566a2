//! What the window shows, in one place: the connection, the latest board, and what each view
//! received from the backend (the move, the readiness report, the calculator's answers, the
//! node-group dialogs' surveys and reviews, the log). It is written only by the application —
//! backend events in [`super::ConsoleApp::apply_event`], panel requests in its dispatch — and
//! read by every panel; a panel keeps only what the operator is typing.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::cluster::connection::{ConnectionTarget, ContextEntry};
use crate::model::ClusterSnapshot;
use crate::model::calculation::{CalcOutcome, ProbeSample};
use crate::model::cost::{self, CostReport, DayCost, PriceList};
use crate::model::eks::{AwsTarget, EksCluster, GroupSurvey, NodeGroupProposal, Retirement};
use crate::model::events::LogEntry;
use crate::model::migration_plan::MigrationPlan;
use crate::model::move_plan::{MovePlan, ProgressiveWay};
use crate::model::move_progress::MoveProgress;
use crate::model::moves::{Control, Direction};
use crate::model::pod_details::PodDetails;
use crate::model::readiness::{Finding, ReadinessReport};
use crate::protocol::{ActionError, Command, ConnectionStatus, EmbeddedAwsState, Task};

/// A part of the window. Every panel draws from the same state and says what the user asked
/// for as [`Request`]s; none talks to the backend or changes the state itself.
pub trait Panel {
    /// Draws the panel; the user's requests go to `requests`.
    fn ui(&mut self, ui: &mut egui::Ui, state: &ConsoleState, requests: &mut Vec<Request>);
}

/// What a panel asks for.
#[derive(Clone, Debug)]
pub enum Request {
    /// Work for the backend.
    Backend(Command),
    /// Open the readiness window and check (with that EKS cluster's node groups, if given).
    CheckReadiness(Option<(AwsTarget, String)>),
    /// Open the dialog that takes a node group out of service, and read the group.
    RetireNodeGroup {
        /// Region and profile.
        aws: AwsTarget,
        /// The cluster.
        cluster: String,
        /// The node group.
        group: String,
        /// Scale to zero or delete.
        retirement: Retirement,
    },
    /// Open the dialog that adds a node group to a cluster.
    AddNodeGroup {
        /// Region and profile.
        aws: AwsTarget,
        /// The cluster.
        cluster: String,
    },
    /// Forget what a view shows (a closed result, a cancelled plan).
    Dismiss(Shown),
}

impl From<Command> for Request {
    fn from(command: Command) -> Request {
        Request::Backend(command)
    }
}

/// Something a view shows until the operator closes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    /// Why a plan or a move could not be made.
    MoveProblem,
    /// The plan waiting for the operator.
    MovePlan,
    /// A finished move's step list.
    MoveProgress,
    /// The node-group dialog's results (it was closed).
    NodeGroupDialog,
    /// The banner saying the backend stopped.
    BackendStopped,
}

/// A move the operator asked for (by dragging a chip, its menu, or the keyboard).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MoveRequest {
    /// The plan's service.
    pub service: String,
    /// Which way.
    pub direction: Direction,
    /// In proven steps, shared where it says; `None`: at once.
    pub progressive: Option<ProgressiveWay>,
}

impl MoveRequest {
    /// `Move sum to Linux` / `Move sum back into the monolith`.
    pub fn title(&self, target_os: &str) -> String {
        match self.direction {
            Direction::Extract => format!("Move {} to {target_os}", self.service),
            Direction::Return => format!("Move {} back into the monolith", self.service),
        }
    }
}

/// The move, as the window follows it.
#[derive(Clone, Debug, Default)]
pub struct MoveView {
    /// Waiting for the backend's plan of this request.
    pub planning: Option<MoveRequest>,
    /// The plan on show, waiting for the operator.
    pub planned: Option<MovePlan>,
    /// Why the last plan or move could not be made.
    pub problem: Option<ActionError>,
    /// The move this console drives (or drove last).
    pub progress: Option<MoveProgress>,
    /// The last retire stage's result.
    pub retired: Option<Result<String, ActionError>>,
    /// Whether a retire stage runs now.
    pub retiring: bool,
    /// The operator's last word on the progressive move (Pause shown as held).
    pub steered: Option<Control>,
}

impl MoveView {
    /// Whether a move runs in this console now.
    pub fn running(&self) -> bool {
        self.progress.as_ref().is_some_and(|p| !p.finished())
    }
}

/// The readiness check, as the window follows it.
#[derive(Clone, Debug, Default)]
pub struct ReadinessView {
    /// A check is on its way.
    pub running: bool,
    /// The last report, or why there is none.
    pub report: Option<Result<ReadinessReport, ActionError>>,
}

/// The calculator's answers, as the window follows them.
#[derive(Clone, Debug, Default)]
pub struct CalculatorView {
    /// The last calculation.
    pub last: Option<CalcOutcome>,
    /// Whether a calculation is on its way.
    pub waiting: bool,
    /// The number of the latest request; answers to earlier ones are dropped.
    pub request: u64,
    /// Probing now.
    pub probing: bool,
    /// Recent probe samples.
    pub samples: VecDeque<ProbeSample>,
}

/// How long probe samples are kept (the chart's width).
pub const PROBE_WINDOW: std::time::Duration = std::time::Duration::from_secs(120);

impl CalculatorView {
    /// Shows an answer, unless a newer request is on its way (quick clicks may be answered out
    /// of order).
    pub fn answered(&mut self, outcome: CalcOutcome) {
        if outcome.request != self.request {
            return;
        }
        self.waiting = false;
        self.last = Some(outcome);
    }

    /// Keeps a probe sample.
    pub fn record(&mut self, sample: ProbeSample) {
        self.samples.push_back(sample);
        let cutoff = SystemTime::now() - PROBE_WINDOW;
        while self.samples.front().is_some_and(|s| s.at < cutoff) {
            self.samples.pop_front();
        }
    }
}

/// What the node-group dialogs received.
#[derive(Clone, Debug, Default)]
pub struct NodeGroupView {
    /// The group being taken out of service: what runs there (`None` while being read).
    pub survey: Option<(Retirement, Result<GroupSurvey, ActionError>)>,
    /// The proposed group and its findings (`None`: not reviewed, or being reviewed).
    pub review: Option<Result<(NodeGroupProposal, Vec<Finding>), ActionError>>,
    /// A review, the drain or the EKS call is under way.
    pub running: bool,
    /// What was done, or why not.
    pub done: Option<Result<String, ActionError>>,
}

/// What the EKS view shows, from the backend.
#[derive(Clone, Debug, Default)]
pub struct EksState {
    /// A listing is on its way.
    pub listing: bool,
    /// The region listed last.
    pub region: String,
    /// The clusters, or why there are none.
    pub clusters: Option<Result<Vec<EksCluster>, ActionError>>,
    /// Whether the embedded cluster follows node groups in an AWS emulator (`None`: not on
    /// the embedded cluster, or not started yet).
    pub embedded: Option<EmbeddedAwsState>,
}

impl EksState {
    /// The emulator the embedded cluster follows, and its EKS cluster's name.
    pub fn emulator(&self) -> Option<(&AwsTarget, &str)> {
        match &self.embedded {
            Some(EmbeddedAwsState::Following { aws, cluster }) => Some((aws, cluster)),
            _ => None,
        }
    }
}

/// The log panel's entries.
#[derive(Clone, Debug, Default)]
pub struct LogView {
    /// The namespace's Kubernetes Events (newest first, from the backend).
    pub cluster: Vec<LogEntry>,
    /// The console's own actions.
    pub console: VecDeque<LogEntry>,
}

impl LogView {
    /// Keeps one of the console's actions (the last 500).
    pub fn push(&mut self, entry: LogEntry) {
        self.console.push_back(entry);
        while self.console.len() > 500 {
            self.console.pop_front();
        }
    }

    /// The console's own words, as an entry of its own.
    pub fn console(&mut self, reason: &str, message: String) {
        self.push(LogEntry::console(reason, message));
    }
}

/// Everything the panels read.
pub struct ConsoleState {
    /// The connection.
    pub status: ConnectionStatus,
    /// What is (being) connected to.
    pub target: ConnectionTarget,
    /// Contexts for the connection view.
    pub contexts: Vec<ContextEntry>,
    /// The latest board.
    pub snapshot: Arc<ClusterSnapshot>,
    /// The migration plan moves follow.
    pub plan: Arc<MigrationPlan>,
    /// The namespace whose Events the log panel shows.
    pub events_namespace: String,
    /// When the window opened (for the startup time).
    pub opened: Instant,
    /// When the first live board arrived.
    pub first_live: Option<std::time::Duration>,
    /// The selected pod's details.
    pub details: Option<PodDetails>,
    /// The EKS view's clusters.
    pub eks: EksState,
    /// The move.
    pub moves: MoveView,
    /// The readiness check.
    pub readiness: ReadinessView,
    /// The calculator.
    pub calculator: CalculatorView,
    /// The node-group dialogs.
    pub node_groups: NodeGroupView,
    /// Events and the console's actions.
    pub log: LogView,
    /// What the node groups and lanes cost.
    pub costs: CostView,
    /// The backend stopped (or never started): why. Nothing will be answered any more.
    pub backend_stopped: Option<String>,
}

impl ConsoleState {
    /// A state with nothing received yet.
    pub fn new(
        target: ConnectionTarget,
        plan: Arc<MigrationPlan>,
        events_namespace: String,
    ) -> Self {
        ConsoleState {
            status: ConnectionStatus::Idle,
            target,
            contexts: Vec::new(),
            snapshot: Arc::new(ClusterSnapshot::default()),
            plan,
            events_namespace,
            opened: Instant::now(),
            first_live: None,
            details: None,
            eks: EksState::default(),
            moves: MoveView::default(),
            readiness: ReadinessView::default(),
            calculator: CalculatorView::default(),
            node_groups: NodeGroupView::default(),
            log: LogView::default(),
            costs: CostView::default(),
            backend_stopped: None,
        }
    }

    /// Whether what the board shows may be out of date (the cluster stopped answering, or a
    /// watch failed and may have missed changes).
    pub fn stale(&self) -> bool {
        self.stale_banner().is_some()
    }

    /// What the board says above itself while it may be out of date.
    pub fn stale_banner(&self) -> Option<&'static str> {
        match self.status {
            ConnectionStatus::Reconnecting { .. } => {
                Some("reconnecting… showing the last known state")
            }
            ConnectionStatus::Resuming { .. } => Some(
                "a watch failed and is being resumed: changes of the last seconds may be missing",
            ),
            _ => None,
        }
    }

    /// A background task died: whatever waited on it stops waiting and says why.
    pub fn task_failed(&mut self, task: Task, why: String) {
        let failed = || ActionError::Failed {
            message: why.clone(),
        };
        match task {
            Task::Calculation => self.calculator.waiting = false,
            Task::Probe => self.calculator.probing = false,
            Task::MovePlan => {
                self.moves.planning = None;
                self.moves.problem = Some(failed());
            }
            Task::Move => {
                if self.moves.running() {
                    self.moves.progress = None;
                }
                self.moves.problem = Some(failed());
            }
            Task::Retire => {
                self.moves.retiring = false;
                self.moves.retired = Some(Err(failed()));
            }
            Task::Readiness => {
                self.readiness.running = false;
                self.readiness.report = Some(Err(failed()));
            }
            Task::Costs => {
                if let Some(cluster) = self.costs.asked_for() {
                    let cluster = cluster.to_owned();
                    self.costs
                        .answered(&cluster, Err(failed().to_string()), &self.snapshot);
                }
            }
            Task::EksClusters => {
                self.eks.listing = false;
                self.eks.clusters = Some(Err(failed()));
            }
            Task::NodeGroupSurvey | Task::NodeGroupReview | Task::NodeGroupChange => {
                self.node_groups.running = false;
                self.node_groups.done = Some(Err(failed()));
            }
            Task::Steer => self.moves.steered = None,
            Task::Session | Task::PodDetails => {}
        }
        self.log.console("TaskFailed", why);
    }

    /// The backend is gone: nothing waits any more.
    pub fn backend_stopped(&mut self, why: String) {
        self.calculator.waiting = false;
        self.calculator.probing = false;
        self.moves.planning = None;
        self.moves.retiring = false;
        self.readiness.running = false;
        self.eks.listing = false;
        self.node_groups.running = false;
        self.log.console("BackendStopped", why.clone());
        self.backend_stopped = Some(why);
    }
}

/// What the node groups and lanes cost: the price file's estimate of the board, with Cost
/// Explorer's figures for the EKS cluster they were asked for once they come.
pub struct CostView {
    /// The price file.
    pub prices: Arc<PriceList>,
    /// The EKS cluster Cost Explorer is asked about, with its region and profile.
    pub cost_explorer: Option<(AwsTarget, String)>,
    /// Its answer.
    pub answer: Option<Result<Vec<DayCost>, String>>,
    /// The figures shown, made again with each board and answer.
    pub report: Arc<CostReport>,
}

impl Default for CostView {
    fn default() -> Self {
        CostView::new(PriceList::built_in())
    }
}

impl CostView {
    /// Costs from `prices`, nothing asked of Cost Explorer yet.
    pub fn new(prices: PriceList) -> CostView {
        let prices = Arc::new(prices);
        CostView {
            report: Arc::new(cost::estimate(&ClusterSnapshot::default(), &prices, None)),
            prices,
            cost_explorer: None,
            answer: None,
        }
    }

    /// The cluster Cost Explorer was asked about, if any.
    pub fn asked_for(&self) -> Option<&str> {
        self.cost_explorer.as_ref().map(|(_, c)| c.as_str())
    }

    /// Whether Cost Explorer is to be asked about `cluster` (not asked yet, or about another).
    pub fn ask(&mut self, aws: &AwsTarget, cluster: &str) -> bool {
        if self.asked_for() == Some(cluster) && self.answer.is_some() {
            return false;
        }
        self.cost_explorer = Some((aws.clone(), cluster.to_owned()));
        self.answer = None;
        true
    }

    /// Cost Explorer's answer about `cluster` (ignored when another was asked since).
    pub fn answered(
        &mut self,
        cluster: &str,
        days: Result<Vec<DayCost>, String>,
        snapshot: &ClusterSnapshot,
    ) {
        if self.asked_for() == Some(cluster) {
            self.answer = Some(days);
            self.refresh(snapshot);
        }
    }

    /// The figures again, for a new board.
    pub fn refresh(&mut self, snapshot: &ClusterSnapshot) {
        let estimate = cost::estimate(snapshot, &self.prices, None);
        self.report = Arc::new(match &self.cost_explorer {
            Some((_, cluster)) => {
                cost::combine(estimate, cluster, self.answer.as_ref(), &self.prices)
            }
            None => estimate,
        });
    }
}
