//! The node-group dialogs of the EKS view: taking a group out of service (what runs on it, the
//! refusal or the confirmation that names the cluster and group, the drain) and adding one (from
//! the project's eksctl file or field by field, with the findings that would apply first,
//! judged against the Windows taint the operator names). What the backend answered is in the
//! state's [`NodeGroupView`]; the dialogs keep what the operator types.

use egui::RichText;

use super::failure::failure_ui;
use super::readiness::{findings_ui, severity_color};
use super::{ConsoleState, NodeGroupView, Panel, Request, Shown};
use crate::model::NodeOs;
use crate::model::cost::{CostReport, dollars};
use crate::model::eks::{
    AwsTarget, CURRENT_WINDOWS_AMI_TYPES, GroupTaint, NodeGroupProposal, ProposalSource,
    Retirement, os_of_ami_type,
};
use crate::model::readiness::{ExpectedTaint, Severity};
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
    /// What the operator typed to confirm.
    pub typed: String,
}

impl RetireDialog {
    /// The same request again, from a fresh survey (the drain may have moved on).
    fn again(&self) -> Request {
        Request::RetireNodeGroup {
            aws: self.aws.clone(),
            cluster: self.cluster.clone(),
            group: self.group.clone(),
            retirement: self.retirement,
        }
    }
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
    /// The taint Windows nodes should carry (`key=value:Effect`), as typed: the findings are
    /// judged against it, and a new Windows group's nodes get it when [`Self::taint_nodes`].
    pub windows_taint: String,
    /// Put the Windows taint on a new Windows group's nodes.
    pub taint_nodes: bool,
    /// The review on show belongs to what the fields say now.
    pub reviewed: bool,
    /// Why the fields cannot be reviewed as typed.
    pub invalid: Option<String>,
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
            windows_taint: ExpectedTaint::default().to_string(),
            taint_nodes: true,
            reviewed: false,
            invalid: None,
        }
    }

    /// The review of what the fields say, or why they cannot be reviewed.
    fn review_command(&mut self) -> Option<Command> {
        let taint = match self.windows_taint.parse::<ExpectedTaint>() {
            Ok(taint) => taint,
            Err(why) => {
                self.invalid = Some(format!("Windows taint: {why}"));
                return None;
            }
        };
        self.invalid = None;
        self.reviewed = true;
        Some(Command::ReviewNodeGroup {
            aws: self.aws.clone(),
            cluster: self.cluster.clone(),
            source: self.source(&taint),
            windows_taint: taint,
        })
    }

    fn source(&self, windows_taint: &ExpectedTaint) -> ProposalSource {
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
                    taints: if windows && self.taint_nodes {
                        vec![GroupTaint {
                            key: windows_taint.key.clone(),
                            value: windows_taint.value.clone(),
                            effect: windows_taint.effect.clone(),
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

/// "Retiring this group saves about $X a month", with how it was computed.
fn saving_ui(ui: &mut egui::Ui, costs: &CostReport, group: &str) {
    match costs.group(group).filter(|g| g.monthly > 0.0) {
        Some(cost) => {
            let licence = cost
                .windows_licence_monthly
                .map(|l| format!(" (of which about {} Windows licences)", dollars(l)))
                .unwrap_or_default();
            ui.label(
                RichText::new(format!(
                    "Retiring this group saves about {} a month{licence}.",
                    dollars(cost.monthly)
                ))
                .strong()
                .color(severity_color(Severity::Passed)),
            );
            ui.label(RichText::new(&cost.basis).weak().small());
            if let Some(why) = &costs.cost_explorer {
                ui.label(
                    RichText::new(format!("Estimated, not measured: {why}"))
                        .weak()
                        .small(),
                );
            }
        }
        None => {
            ui.label(
                RichText::new(format!(
                    "What it saves is not known: none of its nodes has a price ({}).",
                    costs.prices
                ))
                .weak(),
            );
        }
    }
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
    /// Opens the retire dialog (the survey is asked for beside it).
    pub fn open_retire(
        &mut self,
        aws: AwsTarget,
        cluster: &str,
        group: &str,
        retirement: Retirement,
    ) {
        self.add = None;
        self.retire = Some(RetireDialog {
            aws,
            cluster: cluster.to_owned(),
            group: group.to_owned(),
            retirement,
            typed: String::new(),
        });
    }

    /// Opens the add dialog.
    pub fn open_add(&mut self, aws: AwsTarget, cluster: String) {
        self.retire = None;
        self.add = Some(AddDialog::new(aws, cluster));
    }

    fn retire_ui(
        &mut self,
        ctx: &egui::Context,
        state: &NodeGroupView,
        costs: &CostReport,
        requests: &mut Vec<Request>,
    ) {
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
                let survey = match (&state.survey, &state.done) {
                    (Some((_, Ok(survey))), _) => survey,
                    (Some((_, Err(why))), _) | (None, Some(Err(why))) => {
                        if failure_ui(ui, why).is_some() {
                            requests.push(dialog.again());
                        }
                        return;
                    }
                    (None, _) => {
                        ui.horizontal(|ui| {
                            ui.spinner();
                            ui.label("reading the node group and its nodes…");
                        });
                        return;
                    }
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
                saving_ui(ui, costs, &dialog.group);
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
                match &state.done {
                    Some(Ok(what)) => {
                        ui.colored_label(severity_color(Severity::Passed), what);
                        return;
                    }
                    Some(Err(why)) => {
                        // Trying again starts from a fresh survey: the drain may have moved on.
                        if failure_ui(ui, why).is_some() {
                            requests.push(dialog.again());
                        }
                        return;
                    }
                    None => {}
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
                        .add_enabled(confirmed && !state.running, egui::Button::new(verb))
                        .clicked()
                    {
                        requests.push(
                            Command::RetireNodeGroup {
                                aws: dialog.aws.clone(),
                                survey: Box::new(survey.clone()),
                                retirement: dialog.retirement,
                            }
                            .into(),
                        );
                    }
                    if state.running {
                        ui.spinner();
                        ui.label("draining… (see the events below)");
                    }
                });
            });
        if !open && !state.running {
            self.retire = None;
            requests.push(Request::Dismiss(Shown::NodeGroupDialog));
        }
    }

    fn add_ui(&mut self, ctx: &egui::Context, state: &NodeGroupView, requests: &mut Vec<Request>) {
        let Some(dialog) = self.add.as_mut() else {
            return;
        };
        let mut open = true;
        let mut review = false;
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
                                    ui.label("Taint its nodes");
                                    edited |= ui
                                        .checkbox(&mut dialog.taint_nodes, "with the Windows taint")
                                        .changed();
                                    ui.end_row();
                                }
                            }
                        }
                        edited |= field(ui, "Node role ARN", &mut dialog.node_role);
                        edited |= field(ui, "Windows taint", &mut dialog.windows_taint);
                    });
                // What was reviewed no longer matches what is shown.
                if edited || before != dialog.source {
                    dialog.reviewed = false;
                }
                if let Some(why) = &dialog.invalid {
                    ui.colored_label(severity_color(Severity::Failed), why);
                }
                ui.horizontal(|ui| {
                    if ui
                        .add_enabled(!state.running, egui::Button::new("Review"))
                        .clicked()
                    {
                        review = true;
                    }
                    if state.running {
                        ui.spinner();
                    }
                });
                match state.review.as_ref().filter(|_| dialog.reviewed) {
                    None => {}
                    Some(Err(why)) if failure_ui(ui, why).is_some() => review = true,
                    Some(Err(_)) => {}
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
                        match &state.done {
                            Some(Ok(what)) => {
                                ui.colored_label(severity_color(Severity::Passed), what);
                            }
                            Some(Err(why)) => {
                                if failure_ui(ui, why).is_some() {
                                    review = true;
                                }
                            }
                            None => {
                                if ui
                                    .add_enabled(
                                        !blocked && !state.running,
                                        egui::Button::new(format!(
                                            "Add {} to {}",
                                            proposal.name, dialog.cluster
                                        )),
                                    )
                                    .clicked()
                                {
                                    requests.push(
                                        Command::AddNodeGroup {
                                            aws: dialog.aws.clone(),
                                            cluster: dialog.cluster.clone(),
                                            proposal: Box::new(proposal.clone()),
                                        }
                                        .into(),
                                    );
                                }
                            }
                        }
                    }
                }
            });
        if review && let Some(command) = dialog.review_command() {
            requests.push(command.into());
        }
        if !open && !state.running {
            self.add = None;
            requests.push(Request::Dismiss(Shown::NodeGroupDialog));
        }
    }
}

impl Panel for NodeGroupDialogs {
    fn ui(&mut self, ui: &mut egui::Ui, state: &ConsoleState, requests: &mut Vec<Request>) {
        let ctx = ui.ctx().clone();
        self.retire_ui(&ctx, &state.node_groups, &state.costs.report, requests);
        self.add_ui(&ctx, &state.node_groups, requests);
    }
}
