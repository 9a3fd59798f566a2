//! The node-group dialogs of the EKS view: taking a group out of service (what runs on it, the
//! refusal or the confirmation that names the cluster and group, the drain) and adding one (from
//! the project's eksctl file or field by field, with the findings that would apply first).

use egui::RichText;

use super::readiness::{findings_ui, severity_color};
use crate::model::NodeOs;
use crate::model::eks::AwsTarget;
use crate::model::eks::{CURRENT_WINDOWS_AMI_TYPES, GroupTaint, NodeGroupProposal, os_of_ami_type};
use crate::model::eks::{GroupSurvey, ProposalSource, Retirement};
use crate::model::readiness::{Finding, Severity};
use crate::protocol::Command;

/// Taking one node group out of service.
pub struct RetireDialog {
    /// Region and profile.
    pub aws: AwsTarget,
    /// The cluster.
    pub cluster: String,
    /// The node group.
    pub group: String,
    /// Scale to zero or delete.
    pub retirement: Retirement,
    /// What runs there (`None`: being read).
    pub survey: Option<Result<GroupSurvey, String>>,
    /// What the operator typed to confirm.
    pub typed: String,
    /// The drain and the EKS call are under way.
    pub running: bool,
    /// What was done, or why not.
    pub done: Option<Result<String, String>>,
}

/// How the new group is described.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddSource {
    /// From an eksctl ClusterConfig.
    Eksctl,
    /// Field by field.
    Fields,
}

/// Adding a node group.
pub struct AddDialog {
    /// Region and profile.
    pub aws: AwsTarget,
    /// The cluster.
    pub cluster: String,
    /// File or fields.
    pub source: AddSource,
    /// The eksctl file.
    pub path: String,
    /// The node group in it (or the new group's name).
    pub name: String,
    /// AMI type.
    pub ami_type: String,
    /// Instance type.
    pub instance_type: String,
    /// Min / desired / max.
    pub scaling: [i32; 3],
    /// Subnets, comma separated (empty: the cluster's).
    pub subnets: String,
    /// Node IAM role ARN.
    pub node_role: String,
    /// Put `os=windows:NoSchedule` on Windows nodes.
    pub windows_taint: bool,
    /// The reviewed proposal and its findings (`None`: not reviewed, or being reviewed).
    pub review: Option<Result<(NodeGroupProposal, Vec<Finding>), String>>,
    /// A review or the creation is under way.
    pub running: bool,
    /// What was done, or why not.
    pub done: Option<Result<String, String>>,
}

impl AddDialog {
    /// A dialog for `cluster`, starting from the project's eksctl file.
    pub fn new(aws: AwsTarget, cluster: String) -> AddDialog {
        AddDialog {
            aws,
            cluster,
            source: AddSource::Eksctl,
            path: "manifests/cluster/hybrid-cluster.yaml".into(),
            name: "windows".into(),
            ami_type: "WINDOWS_CORE_2022_x86_64".into(),
            instance_type: "t3.large".into(),
            scaling: [0, 2, 3],
            subnets: String::new(),
            node_role: String::new(),
            windows_taint: true,
            review: None,
            running: false,
            done: None,
        }
    }

    fn source(&self) -> ProposalSource {
        let role = Some(self.node_role.trim().to_owned()).filter(|r| !r.is_empty());
        match self.source {
            AddSource::Eksctl => ProposalSource::Eksctl {
                path: self.path.trim().into(),
                group: self.name.trim().to_owned(),
                node_role: role,
            },
            AddSource::Fields => {
                let windows = os_of_ami_type(&self.ami_type) == NodeOs::Windows;
                ProposalSource::Fields(Box::new(NodeGroupProposal {
                    name: self.name.trim().to_owned(),
                    ami_type: self.ami_type.clone(),
                    instance_types: vec![self.instance_type.trim().to_owned()],
                    min: self.scaling[0],
                    desired: self.scaling[1],
                    max: self.scaling[2],
                    labels: Default::default(),
                    taints: if windows && self.windows_taint {
                        vec![GroupTaint {
                            key: "os".into(),
                            value: Some("windows".into()),
                            effect: "NoSchedule".into(),
                        }]
                    } else {
                        Vec::new()
                    },
                    subnets: self
                        .subnets
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    node_role: role,
                }))
            }
        }
    }
}

/// The AMI types the dialog offers: the current Windows ones, then the common Linux ones.
const AMI_TYPES: &[&str] = &[
    "AL2023_x86_64_STANDARD",
    "AL2023_ARM_64_STANDARD",
    "BOTTLEROCKET_x86_64",
];

/// A labelled text field in a grid row; whether it changed.
fn field(ui: &mut egui::Ui, name: &str, value: &mut String) -> bool {
    let label = ui.label(name);
    let changed = ui
        .add(egui::TextEdit::singleline(value).desired_width(280.0))
        .labelled_by(label.id)
        .changed();
    ui.end_row();
    changed
}

/// The dialogs the EKS view can have open.
#[derive(Default)]
pub struct NodeGroupDialogs {
    /// Taking a group out of service.
    pub retire: Option<RetireDialog>,
    /// Adding a group.
    pub add: Option<AddDialog>,
}

impl NodeGroupDialogs {
    /// Opens the retire dialog and asks for the survey.
    pub fn open_retire(
        &mut self,
        aws: AwsTarget,
        cluster: &str,
        group: &str,
        retirement: Retirement,
    ) -> Command {
        self.retire = Some(RetireDialog {
            aws: aws.clone(),
            cluster: cluster.to_owned(),
            group: group.to_owned(),
            retirement,
            survey: None,
            typed: String::new(),
            running: false,
            done: None,
        });
        Command::SurveyNodeGroup {
            aws,
            cluster: cluster.to_owned(),
            group: group.to_owned(),
            retirement,
        }
    }

    /// The survey arrived.
    pub fn surveyed(&mut self, retirement: Retirement, survey: Result<GroupSurvey, String>) {
        if let Some(d) = self
            .retire
            .as_mut()
            .filter(|d| d.retirement == retirement && d.survey.is_none())
        {
            d.survey = Some(survey);
        }
    }

    /// The findings for the proposed group arrived.
    pub fn reviewed(&mut self, review: Result<(NodeGroupProposal, Vec<Finding>), String>) {
        if let Some(d) = self.add.as_mut() {
            d.running = false;
            d.review = Some(review);
        }
    }

    /// A node group changed (or could not): the open dialog shows it.
    pub fn changed(&mut self, outcome: Result<String, String>) {
        if let Some(d) = self.retire.as_mut().filter(|d| d.running) {
            d.running = false;
            d.done = Some(outcome);
        } else if let Some(d) = self.add.as_mut().filter(|d| d.running) {
            d.running = false;
            d.done = Some(outcome);
        }
    }

    /// Draws whichever dialogs are open.
    pub fn ui(&mut self, ctx: &egui::Context, commands: &mut Vec<Command>) {
        self.retire_ui(ctx, commands);
        self.add_ui(ctx, commands);
    }

    fn retire_ui(&mut self, ctx: &egui::Context, commands: &mut Vec<Command>) {
        let Some(dialog) = self.retire.as_mut() else {
            return;
        };
        let mut open = true;
        let title = match dialog.retirement {
            Retirement::ScaleToZero => format!("Scale node group {} to zero", dialog.group),
            Retirement::Delete => format!("Delete node group {}", dialog.group),
        };
        let red = severity_color(Severity::Failed);
        egui::Window::new(title)
            .id(egui::Id::unique("retire-node-group"))
            .open(&mut open)
            .collapsible(false)
            .default_pos([560.0, 140.0])
            .default_width(460.0)
            .show(ctx, |ui| {
                ui.label(
                    RichText::new(format!("cluster {} · node group {}", dialog.cluster, dialog.group))
                        .strong(),
                );
                let Some(survey) = &dialog.survey else {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label("reading the node group and its nodes…");
                    });
                    return;
                };
                let survey = match survey {
                    Err(why) => {
                        ui.colored_label(red, why);
                        return;
                    }
                    Ok(s) => s,
                };
                ui.label(format!(
                    "{} node(s): {}",
                    survey.nodes.len(),
                    if survey.nodes.is_empty() {
                        "none".to_owned()
                    } else {
                        survey.nodes.join(", ")
                    }
                ));
                if let Some(refusal) = survey.refusal(dialog.retirement) {
                    ui.colored_label(red, refusal);
                    return;
                }
                for warning in survey.warnings() {
                    ui.colored_label(severity_color(Severity::Warning), warning);
                }
                ui.label(
                    "Its nodes are cordoned and drained through the Eviction API (disruption budgets respected) before EKS is asked.",
                );
                if let Some(done) = &dialog.done {
                    match done {
                        Ok(what) => ui.colored_label(severity_color(Severity::Passed), what),
                        Err(why) => ui.colored_label(red, why),
                    };
                    return;
                }
                ui.horizontal(|ui| {
                    let label = ui.label(format!("Type {} to confirm", dialog.group));
                    ui.add(egui::TextEdit::singleline(&mut dialog.typed).desired_width(140.0))
                        .labelled_by(label.id);
                });
                ui.horizontal(|ui| {
                    let verb = match dialog.retirement {
                        Retirement::ScaleToZero => "Scale to 0",
                        Retirement::Delete => "Delete",
                    };
                    let confirmed = dialog.typed.trim() == dialog.group;
                    if ui
                        .add_enabled(confirmed && !dialog.running, egui::Button::new(verb))
                        .clicked()
                    {
                        dialog.running = true;
                        commands.push(Command::RetireNodeGroup {
                            aws: dialog.aws.clone(),
                            survey: Box::new(survey.clone()),
                            retirement: dialog.retirement,
                        });
                    }
                    if dialog.running {
                        ui.spinner();
                        ui.label("draining… (see the events below)");
                    }
                });
            });
        if !open && !self.retire.as_ref().is_some_and(|d| d.running) {
            self.retire = None;
        }
    }

    fn add_ui(&mut self, ctx: &egui::Context, commands: &mut Vec<Command>) {
        let Some(dialog) = self.add.as_mut() else {
            return;
        };
        let mut open = true;
        egui::Window::new(format!("Add a node group to {}", dialog.cluster))
            .id(egui::Id::unique("add-node-group"))
            .open(&mut open)
            .collapsible(false)
            .default_pos([560.0, 80.0])
            .default_width(520.0)
            .show(ctx, |ui| {
                let before = dialog.source;
                ui.horizontal(|ui| {
                    ui.radio_value(&mut dialog.source, AddSource::Eksctl, "From an eksctl file");
                    ui.radio_value(&mut dialog.source, AddSource::Fields, "Field by field");
                });
                let mut edited = false;
                egui::Grid::new("add-node-group-fields")
                    .num_columns(2)
                    .show(ui, |ui| {
                        match dialog.source {
                            AddSource::Eksctl => {
                                edited |= field(ui, "eksctl file", &mut dialog.path);
                                edited |= field(ui, "Node group", &mut dialog.name);
                            }
                            AddSource::Fields => {
                                edited |= field(ui, "Name", &mut dialog.name);
                                ui.label("AMI type");
                                egui::ComboBox::from_id_salt("ami-type")
                                    .selected_text(&dialog.ami_type)
                                    .width(280.0)
                                    .show_ui(ui, |ui| {
                                        for t in CURRENT_WINDOWS_AMI_TYPES.iter().chain(AMI_TYPES) {
                                            edited |= ui
                                                .selectable_value(
                                                    &mut dialog.ami_type,
                                                    (*t).to_owned(),
                                                    *t,
                                                )
                                                .changed();
                                        }
                                    });
                                ui.end_row();
                                edited |= field(ui, "Instance type", &mut dialog.instance_type);
                                ui.label("Min / desired / max");
                                ui.horizontal(|ui| {
                                    for n in dialog.scaling.iter_mut() {
                                        edited |= ui
                                            .add(egui::DragValue::new(n).range(0..=100))
                                            .changed();
                                    }
                                });
                                ui.end_row();
                                edited |= field(ui, "Subnets", &mut dialog.subnets);
                                if os_of_ami_type(&dialog.ami_type) == NodeOs::Windows {
                                    ui.label("Taint");
                                    edited |= ui
                                        .checkbox(
                                            &mut dialog.windows_taint,
                                            "os=windows:NoSchedule",
                                        )
                                        .changed();
                                    ui.end_row();
                                }
                            }
                        }
                        edited |= field(ui, "Node role ARN", &mut dialog.node_role);
                    });
                // What was reviewed no longer matches what is shown.
                if edited || before != dialog.source {
                    dialog.review = None;
                    dialog.done = None;
                }
                ui.horizontal(|ui| {
                    if ui
                        .add_enabled(!dialog.running, egui::Button::new("Review"))
                        .clicked()
                    {
                        dialog.running = true;
                        dialog.review = None;
                        dialog.done = None;
                        commands.push(Command::ReviewNodeGroup {
                            aws: dialog.aws.clone(),
                            cluster: dialog.cluster.clone(),
                            source: dialog.source(),
                        });
                    }
                    if dialog.running {
                        ui.spinner();
                    }
                });
                match &dialog.review {
                    None => {}
                    Some(Err(why)) => {
                        ui.colored_label(severity_color(Severity::Failed), why);
                    }
                    Some(Ok((proposal, findings))) => {
                        ui.separator();
                        ui.label(
                            RichText::new(format!(
                                "{}: {} on {}, min {} / desired {} / max {}",
                                proposal.name,
                                proposal.ami_type,
                                proposal.instance_types.join(", "),
                                proposal.min,
                                proposal.desired,
                                proposal.max
                            ))
                            .strong(),
                        );
                        egui::ScrollArea::vertical()
                            .id_salt("proposed-findings")
                            .max_height(420.0)
                            .show(ui, |ui| findings_ui(ui, findings));
                        let blocked = findings.iter().any(|f| f.severity == Severity::Failed);
                        if blocked {
                            ui.colored_label(
                                severity_color(Severity::Failed),
                                "A check failed: fix it, then review again.",
                            );
                        }
                        match &dialog.done {
                            Some(Ok(what)) => {
                                ui.colored_label(severity_color(Severity::Passed), what);
                            }
                            Some(Err(why)) => {
                                ui.colored_label(severity_color(Severity::Failed), why);
                            }
                            None => {
                                if ui
                                    .add_enabled(
                                        !blocked && !dialog.running,
                                        egui::Button::new(format!(
                                            "Add {} to {}",
                                            proposal.name, dialog.cluster
                                        )),
                                    )
                                    .clicked()
                                {
                                    dialog.running = true;
                                    commands.push(Command::AddNodeGroup {
                                        aws: dialog.aws.clone(),
                                        cluster: dialog.cluster.clone(),
                                        proposal: Box::new(proposal.clone()),
                                    });
                                }
                            }
                        }
                    }
                }
            });
        if !open && !self.add.as_ref().is_some_and(|d| d.running) {
            self.add = None;
        }
    }
}
