//! The window: a connection view, the board, the calculator panel, events, and pod details.
//! Each panel is its own struct drawing from one [`ConsoleState`]; this file lays them out,
//! applies the backend's events to the state, and carries out what the panels ask for.

pub mod board;
pub mod calculator;
pub mod connection;
pub mod eks;
mod failure;
pub mod log;
pub mod migration;
mod move_charts;
mod move_plan_dialog;
pub mod node_groups;
mod palette;
pub mod pod;
pub mod readiness;
mod state;
pub mod tour;

use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

pub use state::{
    CalculatorView, ConsoleState, CostView, EksState, LogView, MoveRequest, MoveView,
    NodeGroupView, Panel, ReadinessView, Request, Shown,
};

use crate::backend::Backend;
use crate::cluster::connection::ConnectionTarget;
use crate::live::embedded::EmbeddedOptions;
use crate::model::ClusterSnapshot;
use crate::model::migration_plan::MigrationPlan;
use crate::model::move_progress::MoveProgress;
use crate::model::pod_details::PodDetails;
use crate::model::tour::{TourProgress, TourStep};
use crate::protocol::{Command, ConnectionStatus, EmbeddedAwsState, Event};

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
    /// Where the operator is in the tour (`None`: never started, so it opens on the embedded
    /// cluster).
    #[serde(default)]
    pub tour: Option<TourProgress>,
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
    /// The node-group dialogs the EKS view opens.
    pub node_groups: node_groups::NodeGroupDialogs,
    /// The readiness window.
    pub readiness: readiness::ReadinessWindow,
    /// The guided tour.
    pub tour: tour::TourPanel,
    exit_when_ready: bool,
}

/// The app's icon (`assets/icon/`, as the package installs it) for the window.
pub fn window_icon() -> Result<egui::IconData, String> {
    eframe::icon_data::from_png_bytes(include_bytes!(
        "../../../assets/icon/hybrid-console-256.png"
    ))
    .map_err(|e| e.to_string())
}

impl ConsoleApp {
    /// Starts the backend and connects to `target`. `repaint` wakes the window when an event
    /// arrives (egui's `Context::request_repaint`). `exit_when_ready` closes the window once the
    /// calculator's monolith shows Ready (for measuring startup). `embedded` says how the
    /// embedded cluster starts, if `target` is it.
    pub fn new(
        repaint: impl Fn() + Send + Sync + 'static,
        target: ConnectionTarget,
        kubeconfig: Option<std::path::PathBuf>,
        plan: Arc<MigrationPlan>,
        persisted: Persisted,
        exit_when_ready: bool,
        embedded: EmbeddedOptions,
    ) -> ConsoleApp {
        let backend = Backend::start(repaint, plan.clone(), embedded);
        backend.send(Command::Connect(target.clone()));
        let events_namespace = persisted
            .namespace
            .clone()
            .unwrap_or_else(|| plan.monolith.namespace.clone());
        backend.send(Command::EventsNamespace(events_namespace.clone()));
        let mut board = board::BoardView::default();
        board.namespace = persisted.namespace.clone();
        // A first start on the embedded cluster opens the tour; later starts find it where the
        // operator left it.
        let tour = persisted.tour.unwrap_or(TourProgress {
            step: TourStep::default(),
            open: matches!(target, ConnectionTarget::Local),
        });
        ConsoleApp {
            backend,
            state: ConsoleState::new(target, plan, events_namespace),
            board,
            calculator: calculator::CalculatorPanel {
                settings: persisted.calculator,
            },
            connection: connection::ConnectionView { kubeconfig },
            log: log::LogPanel,
            moves: migration::MovePanel::default(),
            pod: pod::PodPanel,
            eks: eks::EksPanel {
                settings: persisted.eks,
                ..eks::EksPanel::default()
            },
            node_groups: node_groups::NodeGroupDialogs::default(),
            readiness: readiness::ReadinessWindow::default(),
            tour: tour::TourPanel {
                progress: tour,
                aws: Default::default(),
            },
            exit_when_ready,
        }
    }

    /// What should survive a restart.
    pub fn persisted(&self) -> Persisted {
        Persisted {
            calculator: self.calculator.settings.clone(),
            namespace: self.board.namespace.clone(),
            eks: self.eks.settings.clone(),
            tour: Some(self.tour.progress),
        }
    }

    /// Carries out what a panel asked for.
    fn dispatch(&mut self, request: Request) {
        match request {
            Request::Backend(command) => self.send(command),
            Request::CheckReadiness(eks) => {
                // The window's own fields say what to check for.
                if let Some(command) = self.readiness.request(eks) {
                    self.send(command);
                }
            }
            Request::RetireNodeGroup {
                aws,
                cluster,
                group,
                retirement,
            } => {
                self.node_groups
                    .open_retire(aws.clone(), &cluster, &group, retirement);
                // What the group costs, for the saving the dialog names.
                if self.state.costs.ask(&aws, &cluster) {
                    self.send(Command::AskCosts {
                        aws: aws.clone(),
                        cluster: cluster.clone(),
                    });
                }
                self.send(Command::SurveyNodeGroup {
                    aws,
                    cluster,
                    group,
                    retirement,
                });
            }
            Request::AddNodeGroup { aws, cluster } => {
                self.state.node_groups = NodeGroupView::default();
                self.node_groups.open_add(aws, cluster);
            }
            Request::Dismiss(shown) => match shown {
                Shown::MoveProblem => self.state.moves.problem = None,
                Shown::MovePlan => self.state.moves.planned = None,
                Shown::MoveProgress => self.state.moves.progress = None,
                Shown::NodeGroupDialog => self.state.node_groups = NodeGroupView::default(),
                Shown::BackendStopped => self.state.backend_stopped = None,
            },
        }
    }

    /// Costs from `prices` (the `--prices` file), and asked of Cost Explorer for `cost_explorer`
    /// (`--cost-explorer`; a connection through EKS asks about its own cluster).
    pub fn with_costs(
        mut self,
        prices: crate::model::cost::PriceList,
        cost_explorer: Option<(crate::model::eks::AwsTarget, String)>,
    ) -> ConsoleApp {
        self.state.costs = CostView::new(prices);
        if let Some((aws, cluster)) = cost_explorer
            && self.state.costs.ask(&aws, &cluster)
        {
            self.send(Command::AskCosts { aws, cluster });
        }
        self
    }

    /// Applies what a command changes in the window at once, then sends it to the backend.
    fn send(&mut self, command: Command) {
        let state = &mut self.state;
        match &command {
            Command::Connect(target) => {
                state.target = target.clone();
                state.snapshot = Arc::new(ClusterSnapshot::default());
                state.details = None;
                // Reached through EKS: what its node groups cost is asked of Cost Explorer.
                if let ConnectionTarget::Eks { aws, cluster } = target
                    && state.costs.ask(aws, cluster)
                {
                    self.backend.send(Command::AskCosts {
                        aws: aws.clone(),
                        cluster: cluster.clone(),
                    });
                }
            }
            Command::SelectPod(Some((namespace, name))) => {
                state.details = Some(PodDetails::loading(namespace, name));
            }
            Command::SelectPod(None) => state.details = None,
            Command::Calculate { request, .. } => {
                state.calculator.request = *request;
                state.calculator.waiting = true;
            }
            Command::Probe { per_second, .. } => {
                if per_second.is_some() && !state.calculator.probing {
                    state.calculator.samples.clear();
                }
                state.calculator.probing = per_second.is_some();
            }
            Command::AskCosts { .. } => {}
            Command::ListEks(target) => {
                state.eks.listing = true;
                state.eks.region = match &target.emulator {
                    Some(emulator) => emulator.region.clone(),
                    None => target.region.clone().unwrap_or_default(),
                };
            }
            Command::EventsNamespace(namespace) => {
                if *namespace == state.events_namespace {
                    return;
                }
                state.events_namespace = namespace.clone();
            }
            Command::PlanMove {
                service,
                direction,
                progressive,
            } => {
                if state.moves.running() {
                    return;
                }
                state.moves.problem = None;
                state.moves.planning = Some(MoveRequest {
                    service: service.clone(),
                    direction: *direction,
                    progressive: *progressive,
                });
            }
            Command::StartMove { plan, .. } => {
                state.moves.planned = None;
                state.moves.steered = None;
                let mut progress = MoveProgress::new(
                    &plan.plan,
                    &plan.service,
                    plan.direction,
                    "",
                    &plan.steps,
                    SystemTime::now(),
                );
                let shares: Vec<Option<u8>> =
                    (0..plan.steps.len()).map(|i| plan.share_at(i)).collect();
                progress.set_shares(&shares);
                state.moves.progress = Some(progress);
            }
            Command::ResumeMove | Command::RollBackMove => state.moves.progress = None,
            Command::Retire(_) => {
                state.moves.retiring = true;
                state.moves.retired = None;
            }
            Command::CheckReadiness { .. } => state.readiness.running = true,
            Command::SurveyNodeGroup { .. } => state.node_groups = NodeGroupView::default(),
            Command::ReviewNodeGroup { .. } => {
                state.node_groups.running = true;
                state.node_groups.review = None;
                state.node_groups.done = None;
            }
            Command::RetireNodeGroup { .. } | Command::AddNodeGroup { .. } => {
                state.node_groups.running = true;
            }
            Command::AbortMove => {}
            Command::SteerMove(control) => state.moves.steered = *control,
        }
        self.backend.send(command);
    }

    /// Applies every backend event that arrived.
    pub fn apply_events(&mut self) {
        for event in self.backend.drain() {
            self.apply_event(event);
        }
    }

    /// Applies one backend event to what the window shows: the one place events are read.
    pub fn apply_event(&mut self, event: Event) {
        let state = &mut self.state;
        match event {
            Event::Connection(status) => state.status = status,
            Event::EmbeddedAws(embedded) => {
                // The emulator's node groups are the board's lanes: the EKS view lists them
                // at once, as the tour's last steps need.
                let list = match &embedded {
                    EmbeddedAwsState::Following { aws, .. } => {
                        (state.eks.embedded.as_ref() != Some(&embedded)).then(|| aws.clone())
                    }
                    EmbeddedAwsState::Without { .. } => None,
                };
                state.eks.embedded = Some(embedded);
                if let Some(aws) = list
                    && self.eks.use_emulator
                {
                    self.send(Command::ListEks(aws));
                }
            }
            Event::Contexts(list) => state.contexts = list,
            Event::Snapshot(snapshot) => {
                if state.first_live.is_none() && snapshot.nodes().next().is_some() {
                    let monolith_ready = snapshot
                        .topology
                        .as_ref()
                        .and_then(|t| t.monolith.as_ref())
                        .is_some_and(|m| m.ready.0 > 0 && m.ready.0 >= m.ready.1);
                    if monolith_ready || !matches!(state.target, ConnectionTarget::Local) {
                        let took = state.opened.elapsed();
                        state.first_live = Some(took);
                        state.log.console(
                            "Ready",
                            format!(
                                "cluster shown {:.2} s after the window opened",
                                took.as_secs_f64()
                            ),
                        );
                    }
                }
                state.snapshot = snapshot;
                state.costs.refresh(&state.snapshot);
            }
            Event::Calculated(outcome) => state.calculator.answered(outcome),
            Event::Probe(sample) => state.calculator.record(sample),
            Event::PodDetails(details) => {
                if state
                    .details
                    .as_ref()
                    .is_some_and(|d| d.namespace == details.namespace && d.name == details.name)
                {
                    state.details = Some(*details);
                }
            }
            Event::ClusterEvents(list) => state.log.cluster = list,
            Event::Log(entry) => state.log.push(entry),
            Event::MovePlanned(planned) => {
                state.moves.planning = None;
                match planned {
                    Ok(plan) => {
                        state.moves.planned = Some(*plan);
                        state.moves.problem = None;
                    }
                    Err(why) => state.moves.problem = Some(why),
                }
            }
            Event::Move(event) => {
                MoveProgress::follow(&mut state.moves.progress, &event, SystemTime::now());
            }
            Event::MoveNotStarted(why) => {
                state.moves.progress = None;
                state.moves.problem = Some(why);
            }
            Event::EksClusters { region, clusters } => {
                state.eks.listing = false;
                state.eks.region = region;
                state.eks.clusters = Some(clusters);
            }
            Event::Readiness(report) => {
                state.readiness.running = false;
                state.readiness.report = Some(report);
            }
            Event::NodeGroupSurvey { retirement, survey } => {
                if state.node_groups.survey.is_none() {
                    state.node_groups.survey = Some((retirement, survey.map(|s| *s)));
                }
            }
            Event::NodeGroupReview(review) => {
                state.node_groups.running = false;
                state.node_groups.review = Some(review.map(|(p, f)| (*p, f)));
            }
            Event::NodeGroupChanged(outcome) => {
                state.node_groups.running = false;
                let changed = outcome.is_ok();
                state.node_groups.done = Some(outcome);
                if changed {
                    self.send(Command::ListEks(self.eks.target(&self.state)));
                }
            }
            Event::Retired(result) => {
                state.moves.retiring = false;
                state.moves.retired = Some(result);
            }
            Event::NodeGroupCosts { cluster, days } => {
                state.costs.answered(&cluster, days, &state.snapshot);
            }
            Event::TaskFailed { task, why } => state.task_failed(task, why),
            Event::BackendStopped { why } => state.backend_stopped(why),
        }
    }

    fn status_bar(&mut self, ui: &mut egui::Ui, requests: &mut Vec<Request>) {
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
                requests.push(Request::CheckReadiness(None));
            }
            if ui
                .selectable_label(self.tour.progress.open, "Tour")
                .on_hover_text("The talk, step by step, on this cluster")
                .clicked()
            {
                self.tour.toggle();
            }
            ui.separator();
            self.board.toolbar(ui, &self.state, requests);
        });
    }

    /// Lays out and draws every panel, then carries out what the user asked for.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.apply_events();
        let mut requests = Vec::new();
        egui::Panel::top("status").show(ui, |ui| self.status_bar(ui, &mut requests));
        if let Some(why) = &self.state.backend_stopped {
            egui::Panel::top("backend-stopped").show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.colored_label(egui::Color32::from_rgb(218, 54, 51), why);
                    if ui.small_button("Dismiss").clicked() {
                        requests.push(Request::Dismiss(Shown::BackendStopped));
                    }
                });
            });
        }
        egui::Panel::bottom("log")
            .resizable(true)
            .default_size(180.0)
            .size_range(80.0..=500.0)
            .show(ui, |ui| self.log.ui(ui, &self.state, &mut requests));
        egui::Panel::left("connection")
            .resizable(true)
            .default_size(200.0)
            .size_range(160.0..=260.0)
            .show(ui, |ui| {
                self.connection.ui(ui, &self.state, &mut requests);
                ui.separator();
                egui::ScrollArea::vertical()
                    .id_salt("eks-scroll")
                    .show(ui, |ui| {
                        self.eks.ui(ui, &self.state, &mut requests);
                    });
            });
        egui::Panel::right("calculator")
            .resizable(true)
            .default_size(430.0)
            .size_range(340.0..=520.0)
            .show(ui, |ui| self.calculator.ui(ui, &self.state, &mut requests));
        egui::CentralPanel::default().show(ui, |ui| self.board.ui(ui, &self.state, &mut requests));
        self.moves.ui(ui, &self.state, &mut requests);
        self.pod.ui(ui, &self.state, &mut requests);
        self.readiness.ui(ui, &self.state, &mut requests);
        self.tour.aws = self.eks.target(&self.state);
        self.tour.ui(ui, &self.state, &mut requests);
        // Dialogs after the board, so they stay above it for the pointer as well as the eye.
        self.node_groups.ui(ui, &self.state, &mut requests);
        for request in requests {
            self.dispatch(request);
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

    /// Often enough that a console killed mid-tour (not closed) comes back at the step it showed.
    fn auto_save_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(5)
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.persisted());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_window_icon_is_the_packaged_one() {
        let icon = super::window_icon().expect("the committed PNG decodes");
        assert_eq!((icon.width, icon.height), (256, 256));
        assert_eq!(icon.rgba.len(), 256 * 256 * 4);
    }
}
