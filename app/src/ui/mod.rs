//! The window: a connection view, the board, the calculator panel, events, and pod details.
//! Each panel is its own struct; this file only lays them out and routes backend events.

pub mod board;
pub mod calculator;
pub mod connection;
pub mod eks;
pub mod log;
pub mod migration;
pub mod node_groups;
pub mod pod;
pub mod readiness;

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::cluster::connection::{ConnectionTarget, ContextEntry};
use crate::model::move_progress::MoveProgress;
use crate::model::pod_details::PodDetails;
use crate::model::{ClusterSnapshot, MigrationPlan};
use crate::protocol::{Command, ConnectionStatus, Event};

/// Settings kept across restarts (eframe persistence).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Persisted {
    /// Calculator fields.
    pub calculator: calculator::CalculatorSettings,
    /// Namespace filter.
    pub namespace: Option<String>,
    /// Where the EKS view looks.
    #[serde(default)]
    pub eks: eks::EksSettings,
}

/// What the EKS view shows, from the backend.
#[derive(Default)]
pub struct EksState {
    /// A listing is on its way.
    pub listing: bool,
    /// The region listed last.
    pub region: String,
    /// The clusters, or why there are none.
    pub clusters: Option<Result<Vec<crate::model::eks::EksCluster>, String>>,
}

/// Everything the panels read, updated only from backend events and the commands the panels
/// issue (both applied in one place, [`ConsoleApp`]).
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
}

impl ConsoleState {
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
}

/// A part of the window. Every panel draws from the same state and says what the user asked
/// for as [`Command`]s; none talks to the backend itself.
pub trait Panel {
    /// Draws the panel; the user's requests go to `commands`.
    fn ui(&mut self, ui: &mut egui::Ui, state: &ConsoleState, commands: &mut Vec<Command>);
}

/// The application.
pub struct ConsoleApp {
    backend: Backend,
    /// What the UI shows.
    pub state: ConsoleState,
    /// Board panel.
    pub board: board::BoardView,
    /// Calculator panel.
    pub calculator: calculator::CalculatorPanel,
    /// Connection panel.
    pub connection: connection::ConnectionView,
    /// Events panel.
    pub log: log::LogPanel,
    /// The move: its plan, progress, and the monolith's retirement.
    pub moves: migration::MovePanel,
    /// The selected pod's window.
    pub pod: pod::PodPanel,
    /// The EKS view.
    pub eks: eks::EksPanel,
    /// The readiness window.
    pub readiness: readiness::ReadinessWindow,
    exit_when_ready: bool,
}

impl ConsoleApp {
    /// Starts the backend and connects to `target`. `repaint` wakes the window when an event
    /// arrives (egui's `Context::request_repaint`). `exit_when_ready` closes the window once the
    /// calculator's monolith shows Ready (for measuring startup).
    pub fn new(
        repaint: impl Fn() + Send + Sync + 'static,
        target: ConnectionTarget,
        kubeconfig: Option<std::path::PathBuf>,
        plan: Arc<MigrationPlan>,
        persisted: Persisted,
        exit_when_ready: bool,
    ) -> ConsoleApp {
        let backend = Backend::start(repaint, plan.clone());
        backend.send(Command::Connect(target.clone()));
        let events_namespace = persisted
            .namespace
            .clone()
            .unwrap_or_else(|| plan.monolith.namespace.clone());
        backend.send(Command::EventsNamespace(events_namespace.clone()));
        let mut board = board::BoardView::default();
        board.namespace = persisted.namespace.clone();
        ConsoleApp {
            backend,
            state: ConsoleState {
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
            },
            board,
            calculator: calculator::CalculatorPanel {
                settings: persisted.calculator,
                ..Default::default()
            },
            connection: connection::ConnectionView { kubeconfig },
            log: log::LogPanel::default(),
            moves: migration::MovePanel::default(),
            pod: pod::PodPanel,
            eks: eks::EksPanel {
                settings: persisted.eks,
                ..Default::default()
            },
            readiness: readiness::ReadinessWindow::default(),
            exit_when_ready,
        }
    }

    /// What should survive a restart.
    pub fn persisted(&self) -> Persisted {
        Persisted {
            calculator: self.calculator.settings.clone(),
            namespace: self.board.namespace.clone(),
            eks: self.eks.settings.clone(),
        }
    }

    /// Applies what a command changes in the window at once, then sends it to the backend.
    fn dispatch(&mut self, command: Command) {
        match &command {
            Command::Connect(target) => {
                self.state.target = target.clone();
                self.state.snapshot = Arc::new(ClusterSnapshot::default());
                self.state.details = None;
            }
            Command::SelectPod(Some((namespace, name))) => {
                self.state.details = Some(PodDetails::loading(namespace, name));
            }
            Command::SelectPod(None) => self.state.details = None,
            Command::CheckReadiness { eks, .. } => {
                // The window's own fields say what to check for.
                if let Some(command) = self.readiness.request(eks.clone()) {
                    self.backend.send(command);
                }
                return;
            }
            Command::ListEks(target) => {
                self.state.eks.listing = true;
                self.state.eks.region = target.region.clone().unwrap_or_default();
            }
            Command::EventsNamespace(namespace) => {
                if *namespace == self.state.events_namespace {
                    return;
                }
                self.state.events_namespace = namespace.clone();
            }
            Command::PlanMove { service, direction } => {
                if self.moves.running() {
                    return;
                }
                self.moves.problem = None;
                self.moves.planning = Some(migration::MoveRequest {
                    service: service.clone(),
                    direction: *direction,
                });
            }
            _ => {}
        }
        self.backend.send(command);
    }

    /// Applies every backend event that arrived.
    pub fn apply_events(&mut self) {
        for event in self.backend.drain() {
            match event {
                Event::Connection(status) => self.state.status = status,
                Event::Contexts(list) => self.state.contexts = list,
                Event::Snapshot(snapshot) => {
                    if self.state.first_live.is_none() && snapshot.nodes().next().is_some() {
                        let monolith_ready = snapshot
                            .topology
                            .as_ref()
                            .and_then(|t| t.monolith.as_ref())
                            .is_some_and(|m| m.ready.0 > 0 && m.ready.0 >= m.ready.1);
                        if monolith_ready || !matches!(self.state.target, ConnectionTarget::Local) {
                            let took = self.state.opened.elapsed();
                            self.state.first_live = Some(took);
                            self.log.push(crate::model::events::LogEntry {
                                at: SystemTime::now(),
                                kind: "Console".into(),
                                reason: "Ready".into(),
                                object: String::new(),
                                message: format!(
                                    "cluster shown {:.2} s after the window opened",
                                    took.as_secs_f64()
                                ),
                                count: 1,
                            });
                        }
                    }
                    self.state.snapshot = snapshot;
                }
                Event::Calculated(outcome) => self.calculator.answered(outcome),
                Event::Probe(sample) => self.calculator.record(sample),
                Event::PodDetails(details) => {
                    if self
                        .state
                        .details
                        .as_ref()
                        .is_some_and(|d| d.namespace == details.namespace && d.name == details.name)
                    {
                        self.state.details = Some(*details);
                    }
                }
                Event::ClusterEvents(list) => self.log.cluster = list,
                Event::Log(entry) => self.log.push(entry),
                Event::MovePlanned(planned) => {
                    self.moves.planning = None;
                    match planned {
                        Ok(plan) => {
                            self.moves.planned = Some(*plan);
                            self.moves.problem = None;
                        }
                        Err(why) => self.moves.problem = Some(why),
                    }
                }
                Event::Move(event) => {
                    MoveProgress::follow(&mut self.moves.progress, &event, SystemTime::now());
                }
                Event::MoveNotStarted(why) => {
                    self.moves.progress = None;
                    self.moves.problem = Some(why);
                }
                Event::EksClusters { region, clusters } => {
                    self.state.eks.listing = false;
                    self.state.eks.region = region;
                    self.state.eks.clusters = Some(clusters);
                }
                Event::Readiness(report) => {
                    self.readiness.running = false;
                    self.readiness.report = Some(report);
                }
                Event::NodeGroupSurvey { retirement, survey } => {
                    self.eks.dialogs.surveyed(retirement, survey.map(|s| *s));
                }
                Event::NodeGroupReview(review) => {
                    self.eks.dialogs.reviewed(review.map(|(p, f)| (*p, f)));
                }
                Event::NodeGroupChanged(outcome) => {
                    let changed = outcome.is_ok();
                    self.eks.dialogs.changed(outcome);
                    if changed {
                        self.dispatch(Command::ListEks(self.eks.settings.target()));
                    }
                }
                Event::Retired(result) => {
                    self.moves.retiring = false;
                    self.moves.retired = Some(result);
                }
            }
        }
    }

    fn status_bar(&mut self, ui: &mut egui::Ui, commands: &mut Vec<Command>) {
        ui.horizontal(|ui| {
            ui.heading("hybrid-console");
            ui.separator();
            match &self.state.status {
                ConnectionStatus::Live { target, .. } => {
                    ui.colored_label(
                        egui::Color32::from_rgb(46, 160, 67),
                        format!("Live · {target}"),
                    );
                }
                ConnectionStatus::Reconnecting {
                    target,
                    last_update,
                    ..
                } => {
                    ui.colored_label(
                        egui::Color32::from_rgb(210, 153, 34),
                        format!(
                            "reconnecting… {target} · last update {} ago",
                            log::age(*last_update)
                        ),
                    );
                }
                ConnectionStatus::Resuming { target, .. } => {
                    ui.colored_label(
                        egui::Color32::from_rgb(210, 153, 34),
                        format!("resuming a watch… {target} · the board may be behind"),
                    );
                }
                ConnectionStatus::Connecting { target, stage } => {
                    ui.spinner();
                    ui.label(format!("{target}: {stage}"));
                }
                ConnectionStatus::Failed { target, .. } => {
                    ui.colored_label(
                        egui::Color32::from_rgb(218, 54, 51),
                        format!("cannot connect to {target}"),
                    );
                }
                ConnectionStatus::Idle => {}
            }
            ui.separator();
            if ui
                .button("Readiness")
                .on_hover_text("Check the cluster for hybrid readiness")
                .clicked()
            {
                commands.push(Command::CheckReadiness {
                    options: Default::default(),
                    eks: None,
                });
            }
            ui.separator();
            self.board.toolbar(ui, &self.state, commands);
        });
    }

    /// Lays out and draws every panel, then carries out what the user asked for.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.apply_events();
        let mut commands = Vec::new();
        egui::Panel::top("status").show(ui, |ui| self.status_bar(ui, &mut commands));
        egui::Panel::bottom("log")
            .resizable(true)
            .default_size(180.0)
            .size_range(80.0..=500.0)
            .show(ui, |ui| self.log.ui(ui, &self.state, &mut commands));
        egui::Panel::left("connection")
            .resizable(true)
            .default_size(200.0)
            .size_range(160.0..=260.0)
            .show(ui, |ui| {
                self.connection.ui(ui, &self.state, &mut commands);
                ui.separator();
                egui::ScrollArea::vertical()
                    .id_salt("eks-scroll")
                    .show(ui, |ui| self.eks.ui(ui, &self.state, &mut commands));
            });
        egui::Panel::right("calculator")
            .resizable(true)
            .default_size(430.0)
            .size_range(340.0..=520.0)
            .show(ui, |ui| self.calculator.ui(ui, &self.state, &mut commands));
        egui::CentralPanel::default().show(ui, |ui| self.board.ui(ui, &self.state, &mut commands));
        self.moves.ui(ui, &self.state, &mut commands);
        self.pod.ui(ui, &self.state, &mut commands);
        self.readiness.ui(ui, &self.state, &mut commands);
        // Dialogs after the board, so they stay above it for the pointer as well as the eye.
        self.eks.dialogs.ui(ui.ctx(), &mut commands);
        for command in commands {
            self.dispatch(command);
        }
        if self.exit_when_ready
            && let Some(took) = self.state.first_live
        {
            // Once: the window takes a frame or two to close.
            self.exit_when_ready = false;
            println!("ready {:.3} s after the window opened", took.as_secs_f64());
            ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
        }
        // Ages and the probe chart move even without events.
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_millis(500));
    }
}

impl eframe::App for ConsoleApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        ConsoleApp::ui(self, ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.persisted());
    }
}
