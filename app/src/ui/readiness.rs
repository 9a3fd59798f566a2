//! The readiness window: the hybrid readiness findings for the connected cluster, each with its
//! severity, evidence and fix (copyable), the taint to expect on Windows nodes, and the Windows
//! AMI upgrade to judge.

use egui::{Color32, RichText};

use super::failure::failure_ui;
use super::{ConsoleState, Panel, Request};
use crate::model::NodeOs;
use crate::model::eks::{AwsTarget, CURRENT_WINDOWS_AMI_TYPES};
use crate::model::readiness::{ExpectedTaint, Severity};
use crate::model::readiness::{ReadinessOptions, UpgradeQuestion};
use crate::protocol::{Command, NextAction};

/// The window's state.
pub struct ReadinessWindow {
    /// Shown.
    pub open: bool,
    /// The taint Windows nodes should carry, as typed.
    pub taint: String,
    /// DaemonSets every Windows node must run, as typed (`namespace/name`, comma separated).
    pub required: String,
    /// The EKS cluster whose node groups are checked too, if one was chosen in the EKS view.
    pub eks: Option<(AwsTarget, String)>,
    /// Why the fields cannot be checked as typed.
    pub invalid: Option<String>,
    /// The Windows AMI type whose upgrade is judged too (`None`: none).
    pub upgrade_to: Option<&'static str>,
    /// The node group the upgrade is for (`None`: every Windows node group).
    pub upgrade_group: Option<String>,
}

impl Default for ReadinessWindow {
    fn default() -> Self {
        ReadinessWindow {
            open: false,
            taint: ExpectedTaint::default().to_string(),
            required: String::new(),
            eks: None,
            invalid: None,
            upgrade_to: None,
            upgrade_group: None,
        }
    }
}

/// The colour of a severity's tag.
pub fn severity_color(severity: Severity) -> Color32 {
    match severity {
        Severity::Passed => Color32::from_rgb(46, 160, 67),
        Severity::Warning => Color32::from_rgb(210, 153, 34),
        Severity::Failed => Color32::from_rgb(218, 54, 51),
        Severity::Skipped => Color32::GRAY,
    }
}

/// Draws findings: tag, title and summary; evidence and the fix below.
pub fn findings_ui(ui: &mut egui::Ui, findings: &[crate::model::readiness::Finding]) {
    for f in findings {
        ui.horizontal_wrapped(|ui| {
            ui.label(
                RichText::new(f.severity.tag())
                    .monospace()
                    .strong()
                    .color(severity_color(f.severity)),
            );
            ui.label(RichText::new(f.title).strong());
        });
        ui.indent(("finding", f.check), |ui| {
            ui.label(&f.summary);
            if !f.evidence.is_empty() {
                egui::CollapsingHeader::new(format!("evidence ({})", f.evidence.len()))
                    .id_salt(("evidence", f.check))
                    .default_open(f.severity >= Severity::Warning)
                    .show(ui, |ui| {
                        for line in &f.evidence {
                            ui.label(RichText::new(line).small().monospace());
                        }
                    });
            }
            if let Some(fix) = f.fix.as_ref().filter(|_| f.severity >= Severity::Warning) {
                ui.horizontal_wrapped(|ui| {
                    ui.label(RichText::new("fix:").strong());
                    ui.label(RichText::new(fix).monospace().small());
                    if ui.small_button("Copy").clicked() {
                        ui.ctx().copy_text(fix.clone());
                    }
                });
            }
        });
        ui.add_space(4.0);
    }
}

impl ReadinessWindow {
    /// Opens the window and asks for a check (`eks`: that cluster's node groups too).
    pub fn request(&mut self, eks: Option<(AwsTarget, String)>) -> Option<Command> {
        self.open = true;
        self.eks = eks;
        self.command()
    }

    fn command(&mut self) -> Option<Command> {
        let taint = match self.taint.parse::<ExpectedTaint>() {
            Ok(t) => t,
            Err(why) => {
                self.invalid = Some(format!("Windows taint: {why}"));
                return None;
            }
        };
        self.invalid = None;
        Some(Command::CheckReadiness {
            options: ReadinessOptions {
                windows_taint: taint,
                required_daemonsets: self
                    .required
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                upgrade: self.upgrade_to.map(|ami| UpgradeQuestion {
                    ami_type: ami.to_owned(),
                    node_group: self.upgrade_group.clone(),
                }),
                read_registries: true,
            },
            eks: self.eks.clone(),
        })
    }
}

impl ReadinessWindow {
    /// "Upgrade to [AMI type] · node group [all]": the question the upgrade finding answers.
    fn upgrade_ui(&mut self, ui: &mut egui::Ui, state: &ConsoleState) {
        let label = ui.label("Windows upgrade to");
        ui.horizontal(|ui| {
            egui::ComboBox::from_id_salt("upgrade-to")
                .selected_text(self.upgrade_to.unwrap_or("no upgrade"))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.upgrade_to, None, "no upgrade");
                    for ami in CURRENT_WINDOWS_AMI_TYPES {
                        ui.selectable_value(&mut self.upgrade_to, Some(*ami), *ami);
                    }
                })
                .response
                .labelled_by(label.id);
            if self.upgrade_to.is_some() {
                let groups: Vec<&str> = state
                    .snapshot
                    .lane(&NodeOs::Windows)
                    .into_iter()
                    .flat_map(|lane| lane.groups.iter().map(|g| g.name.as_str()))
                    .collect();
                egui::ComboBox::from_id_salt("upgrade-group")
                    .selected_text(match &self.upgrade_group {
                        Some(group) => format!("node group {group}"),
                        None => "every Windows node group".to_owned(),
                    })
                    .show_ui(ui, |ui| {
                        ui.selectable_value(
                            &mut self.upgrade_group,
                            None,
                            "every Windows node group",
                        );
                        for group in groups {
                            ui.selectable_value(
                                &mut self.upgrade_group,
                                Some(group.to_owned()),
                                format!("node group {group}"),
                            );
                        }
                    });
            }
        });
        ui.end_row();
    }
}

impl Panel for ReadinessWindow {
    fn ui(&mut self, ui: &mut egui::Ui, state: &ConsoleState, requests: &mut Vec<Request>) {
        let mut open = self.open;
        egui::Window::new("Hybrid readiness")
            .open(&mut open)
            .default_size([560.0, 560.0])
            // Over the board, leaving the EKS view that opened it in sight.
            .default_pos([600.0, 60.0])
            .vscroll(true)
            .show(ui.ctx(), |ui| {
                ui.label(
                    RichText::new(format!(
                        "Cluster: {}{}",
                        state.target.describe(),
                        self.eks
                            .as_ref()
                            .map(|(_, c)| format!(" · EKS node groups of {c}"))
                            .unwrap_or_default()
                    ))
                    .weak(),
                );
                egui::Grid::new("readiness-options")
                    .num_columns(2)
                    .show(ui, |ui| {
                        let label = ui.label("Windows taint");
                        ui.add(egui::TextEdit::singleline(&mut self.taint).desired_width(200.0))
                            .labelled_by(label.id);
                        ui.end_row();
                        let label = ui.label("Required DaemonSets");
                        ui.add(
                            egui::TextEdit::singleline(&mut self.required)
                                .hint_text("namespace/name, …")
                                .desired_width(200.0),
                        )
                        .labelled_by(label.id);
                        ui.end_row();
                        self.upgrade_ui(ui, state);
                    });
                ui.horizontal(|ui| {
                    if ui
                        .add_enabled(!state.readiness.running, egui::Button::new("Check"))
                        .clicked()
                        && let Some(command) = self.command()
                    {
                        requests.push(command.into());
                    }
                    if state.readiness.running {
                        ui.spinner();
                    }
                });
                if let Some(why) = &self.invalid {
                    ui.colored_label(severity_color(Severity::Failed), why);
                }
                ui.separator();
                match &state.readiness.report {
                    None => {
                        ui.label(RichText::new("No check run yet.").weak());
                    }
                    Some(Err(why)) => match failure_ui(ui, why) {
                        Some(NextAction::Connect) => {
                            requests.push(Command::Connect(state.target.clone()).into());
                        }
                        Some(_) => {
                            if let Some(command) = self.command() {
                                requests.push(command.into());
                            }
                        }
                        None => {}
                    },
                    Some(Ok(report)) => {
                        ui.label(
                            RichText::new(format!(
                                "{}: {} passed · {} warning(s) · {} failed · {} skipped",
                                report.cluster,
                                report.count(Severity::Passed),
                                report.count(Severity::Warning),
                                report.count(Severity::Failed),
                                report.count(Severity::Skipped)
                            ))
                            .strong()
                            .color(severity_color(report.worst().max(Severity::Passed))),
                        );
                        ui.add_space(4.0);
                        findings_ui(ui, &report.findings);
                    }
                }
            });
        self.open = open;
    }
}
