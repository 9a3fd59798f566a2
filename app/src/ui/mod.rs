//! The window: a connection view, the board, the calculator panel, events, and pod details.
//! Each panel is its own struct; this file only lays them out and routes backend events.

pub mod board;
pub mod calculator;
pub mod connection;
pub mod log;
pub mod migration;
pub mod pod;

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::backend::{
    Backend, Command, ConnectionStatus, ConnectionTarget, ContextEntry, Event, PodDetails,
};
use crate::model::{ClusterSnapshot, MigrationPlan};

/// Settings kept across restarts (eframe persistence).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Persisted {
    /// Calculator fields.
    pub calculator: calculator::CalculatorSettings,
    /// Namespace filter.
    pub namespace: Option<String>,
}

/// Everything the UI shows, updated only from backend events.
pub struct ConsoleState {
    /// The connection.
    pub status: ConnectionStatus,
    /// What is (being) connected to.
    pub target: ConnectionTarget,
    /// Contexts for the connection view.
    pub contexts: Vec<ContextEntry>,
    /// The latest board.
    pub snapshot: Arc<ClusterSnapshot>,
    /// When the window opened (for the startup time).
    pub opened: Instant,
    /// When the first live board arrived.
    pub first_live: Option<std::time::Duration>,
    /// The selected pod's details.
    pub details: Option<PodDetails>,
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
    /// The migration plan moves follow.
    pub plan: Arc<MigrationPlan>,
    events_namespace: String,
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
            .unwrap_or_else(|| "calculator".into());
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
                opened: Instant::now(),
                first_live: None,
                details: None,
            },
            board,
            calculator: calculator::CalculatorPanel {
                settings: persisted.calculator,
                ..Default::default()
            },
            connection: connection::ConnectionView { kubeconfig },
            log: log::LogPanel::default(),
            moves: migration::MovePanel::default(),
            plan,
            events_namespace,
            exit_when_ready,
        }
    }

    /// What should survive a restart.
    pub fn persisted(&self) -> Persisted {
        Persisted {
            calculator: self.calculator.settings.clone(),
            namespace: self.board.namespace.clone(),
        }
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
                            self.log.push(crate::backend::LogEntry {
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
                Event::Calculated(outcome) => {
                    self.calculator.waiting = false;
                    self.calculator.last = Some(outcome);
                }
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
                    let now = SystemTime::now();
                    match self.moves.progress.as_mut() {
                        Some(progress) => progress.apply(&event, now),
                        None => {
                            let mut progress = crate::model::moves::MoveProgress::new(
                                "",
                                "",
                                crate::model::moves::Direction::Extract,
                                "",
                                &[],
                                now,
                            );
                            progress.apply(&event, now);
                            self.moves.progress = Some(progress);
                        }
                    }
                }
                Event::MoveNotStarted(why) => {
                    self.moves.progress = None;
                    self.moves.problem = Some(why);
                }
                Event::Retired(result) => {
                    self.moves.retiring = false;
                    self.moves.retired = Some(result);
                }
            }
        }
    }

    fn status_bar(&mut self, ui: &mut egui::Ui) {
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
            let snapshot = self.state.snapshot.clone();
            let current = self
                .board
                .namespace
                .clone()
                .unwrap_or_else(|| "all namespaces".into());
            let label = ui.label("Namespace");
            egui::ComboBox::from_id_salt("namespace")
                .selected_text(current)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.board.namespace, None, "all namespaces");
                    for ns in &snapshot.namespaces {
                        ui.selectable_value(&mut self.board.namespace, Some(ns.clone()), ns);
                    }
                })
                .response
                .labelled_by(label.id);
            ui.add(
                egui::TextEdit::singleline(&mut self.board.search)
                    .hint_text("search name or label")
                    .desired_width(180.0),
            );
            if ui
                .button("−")
                .on_hover_text("Zoom out (Ctrl+wheel)")
                .clicked()
            {
                self.board.zoom = (self.board.zoom / 1.25).max(0.1);
            }
            ui.label(format!("{:.0}%", self.board.zoom * 100.0));
            if ui
                .button("+")
                .on_hover_text("Zoom in (Ctrl+wheel)")
                .clicked()
            {
                self.board.zoom = (self.board.zoom * 1.25).min(4.0);
            }
            if ui.button("Fit").clicked() {
                self.board.fit();
            }
            ui.label(
                egui::RichText::new(format!(
                    "{} nodes · {} pods",
                    snapshot.nodes().count(),
                    snapshot.pod_count
                ))
                .weak(),
            );
        });
        let namespace = self
            .board
            .namespace
            .clone()
            .unwrap_or_else(|| "calculator".into());
        if namespace != self.events_namespace {
            self.events_namespace = namespace.clone();
            self.backend.send(Command::EventsNamespace(namespace));
        }
    }

    /// Lays out and draws every panel.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.apply_events();
        egui::Panel::top("status").show(ui, |ui| self.status_bar(ui));
        egui::Panel::bottom("log")
            .resizable(true)
            .default_size(180.0)
            .size_range(80.0..=500.0)
            .show(ui, |ui| {
                let namespace = self.events_namespace.clone();
                self.log.ui(ui, &namespace);
            });
        egui::Panel::left("connection")
            .resizable(true)
            .default_size(200.0)
            .size_range(160.0..=260.0)
            .show(ui, |ui| {
                if let Some(command) = self.connection.ui(
                    ui,
                    &self.state.contexts,
                    &self.state.target,
                    &self.state.status,
                ) {
                    if let Command::Connect(target) = &command {
                        self.state.target = target.clone();
                        self.state.snapshot = Arc::new(ClusterSnapshot::default());
                        self.state.details = None;
                    }
                    self.backend.send(command);
                }
            });
        egui::Panel::right("calculator")
            .resizable(true)
            .default_size(430.0)
            .size_range(340.0..=520.0)
            .show(ui, |ui| {
                let snapshot = self.state.snapshot.clone();
                for command in self.calculator.ui(ui, &snapshot) {
                    self.backend.send(command);
                }
            });
        egui::CentralPanel::default().show(ui, |ui| {
            let snapshot = self.state.snapshot.clone();
            let stale = matches!(self.state.status, ConnectionStatus::Reconnecting { .. });
            if snapshot.nodes().next().is_none() {
                match &self.state.status {
                    ConnectionStatus::Failed { error, .. } => {
                        ui.colored_label(egui::Color32::from_rgb(218, 54, 51), error);
                    }
                    ConnectionStatus::Connecting { stage, .. } => {
                        ui.horizontal(|ui| {
                            ui.spinner();
                            ui.label(stage);
                        });
                    }
                    _ => {
                        ui.label("Waiting for the cluster…");
                    }
                }
                return;
            }
            if stale {
                ui.colored_label(
                    egui::Color32::from_rgb(210, 153, 34),
                    "reconnecting… showing the last known state",
                );
            }
            let response = self.board.ui(ui, &snapshot, stale, Some(&self.plan));
            if let Some(request) = response.move_request
                && !self.moves.running()
            {
                self.moves.problem = None;
                self.backend.send(Command::PlanMove {
                    service: request.service.clone(),
                    direction: request.direction,
                });
                self.moves.planning = Some(request);
            }
            if let Some((namespace, name)) = response.selected {
                self.state.details = Some(PodDetails {
                    namespace: namespace.clone(),
                    name: name.clone(),
                    node: None,
                    phase: "loading…".into(),
                    ip: None,
                    containers: Vec::new(),
                    events: Vec::new(),
                    log_tail: String::new(),
                    problem: None,
                });
                self.backend
                    .send(Command::SelectPod(Some((namespace, name))));
            }
        });
        let snapshot = self.state.snapshot.clone();
        for command in self.moves.ui(ui.ctx(), &snapshot) {
            self.backend.send(command);
        }
        if let Some(problem) = self.moves.problem.clone() {
            let mut open = true;
            egui::Window::new("The move cannot go ahead")
                .id(egui::Id::unique("move-problem"))
                .open(&mut open)
                .anchor(egui::Align2::CENTER_TOP, [0.0, 60.0])
                .show(ui.ctx(), |ui| {
                    ui.colored_label(egui::Color32::from_rgb(218, 54, 51), problem);
                });
            if !open {
                self.moves.problem = None;
            }
        }
        if let Some(details) = &self.state.details
            && !pod::ui(ui.ctx(), details)
        {
            self.state.details = None;
            self.backend.send(Command::SelectPod(None));
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
