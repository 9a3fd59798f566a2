//! The EKS view beside the kubeconfig contexts: a region and profile, the region's clusters, and
//! each cluster's node groups with the OS its AMI type runs and its scaling.

use egui::RichText;
use serde::{Deserialize, Serialize};

use super::failure::failure_ui;
use super::{ConsoleState, Panel, Request};
use crate::cluster::connection::ConnectionTarget;
use crate::model::NodeOs;
use crate::model::eks::Retirement;
use crate::model::eks::{AwsTarget, EksCluster};
use crate::protocol::Command;

/// What survives a restart: where to look.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct EksSettings {
    /// The region (empty: the SDK's default).
    pub region: String,
    /// The named profile (empty: the SDK's default).
    pub profile: String,
}

impl EksSettings {
    /// Region and profile as the SDK takes them (empty: its defaults).
    pub fn target(&self) -> AwsTarget {
        let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        AwsTarget {
            region: some(&self.region),
            profile: some(&self.profile),
            emulator: None,
        }
    }
}

/// The panel.
pub struct EksPanel {
    /// Region and profile fields.
    pub settings: EksSettings,
    /// Whether to look at the AWS emulator the embedded cluster follows (when it follows one)
    /// rather than at the region and profile above.
    pub use_emulator: bool,
}

impl Default for EksPanel {
    fn default() -> Self {
        EksPanel {
            settings: EksSettings::default(),
            use_emulator: true,
        }
    }
}

impl EksPanel {
    /// Where the panel looks: the embedded cluster's AWS emulator, or the region and profile.
    pub fn target(&self, state: &ConsoleState) -> AwsTarget {
        match state.eks.emulator() {
            Some((aws, _)) if self.use_emulator => aws.clone(),
            _ => self.settings.target(),
        }
    }
}

impl Panel for EksPanel {
    fn ui(&mut self, ui: &mut egui::Ui, state: &ConsoleState, requests: &mut Vec<Request>) {
        ui.heading("Amazon EKS");
        let emulator = state
            .eks
            .emulator()
            .and_then(|(aws, _)| aws.emulator.clone());
        if let Some(emulator) = &emulator {
            ui.checkbox(&mut self.use_emulator, "The AWS emulator")
                .on_hover_text(format!(
                    "moto at {}, started with the local hybrid cluster, which follows its EKS cluster's node groups: scaling one changes the board's nodes",
                    emulator.endpoint
                ));
        }
        let on_emulator = emulator.is_some() && self.use_emulator;
        if !on_emulator {
            self.target_fields(ui);
        }
        ui.horizontal(|ui| {
            if ui.button("List clusters").clicked() {
                requests.push(Command::ListEks(self.target(state)).into());
            }
            if state.eks.listing {
                ui.spinner();
            }
        });
        match &state.eks.clusters {
            None => {}
            Some(Err(why)) if failure_ui(ui, why).is_some() => {
                requests.push(Command::ListEks(self.target(state)).into());
            }
            Some(Err(_)) => {}
            Some(Ok(clusters)) if clusters.is_empty() => {
                ui.label(RichText::new(format!("No clusters in {}", state.eks.region)).weak());
            }
            Some(Ok(clusters)) => {
                for cluster in clusters {
                    egui::CollapsingHeader::new(format!("{} · {}", cluster.name, cluster.status))
                        .id_salt(("eks-cluster", &cluster.name))
                        .default_open(true)
                        .show(ui, |ui| {
                            self.cluster_ui(ui, state, cluster, on_emulator, requests);
                        });
                }
            }
        }
    }
}

impl EksPanel {
    fn target_fields(&mut self, ui: &mut egui::Ui) {
        egui::Grid::new("eks-target").num_columns(2).show(ui, |ui| {
            let label = ui.label("Region");
            ui.add(
                egui::TextEdit::singleline(&mut self.settings.region)
                    .hint_text("AWS_REGION")
                    .desired_width(110.0),
            )
            .labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Profile");
            ui.add(
                egui::TextEdit::singleline(&mut self.settings.profile)
                    .hint_text("default")
                    .desired_width(110.0),
            )
            .labelled_by(label.id);
            ui.end_row();
        });
    }

    /// One cluster, inside its header: its version, how to reach it, and its node groups.
    fn cluster_ui(
        &mut self,
        ui: &mut egui::Ui,
        state: &ConsoleState,
        cluster: &EksCluster,
        on_emulator: bool,
        requests: &mut Vec<Request>,
    ) {
        ui.label(
            RichText::new(format!(
                "Kubernetes {} · {}",
                cluster.version, cluster.platform_version
            ))
            .weak(),
        );
        let aws = if on_emulator {
            self.target(state)
        } else {
            AwsTarget {
                region: Some(cluster.region.clone()),
                profile: self.settings.target().profile,
                emulator: None,
            }
        };
        if state
            .eks
            .emulator()
            .is_some_and(|(_, followed)| on_emulator && followed == cluster.name)
        {
            // The emulator's cluster has no API server of its own: the local one stands in.
            ui.label(RichText::new("The local hybrid cluster follows its node groups").weak());
        } else {
            let target = ConnectionTarget::Eks {
                aws: aws.clone(),
                cluster: cluster.name.clone(),
            };
            let active = state.target == target;
            if ui
                .add_enabled(
                    !active,
                    egui::Button::new(if active { "Connected" } else { "Connect" }),
                )
                .on_hover_text(
                    "Reach it with the console's own EKS tokens: no kubeconfig, no aws CLI",
                )
                .clicked()
            {
                requests.push(Command::Connect(target).into());
            }
        }
        ui.horizontal(|ui| {
            if ui
                .button("Check readiness")
                .on_hover_text("The hybrid readiness findings: its node groups from EKS, nodes and pods from the connected cluster")
                .clicked()
            {
                requests.push(Request::CheckReadiness(Some((
                    aws.clone(),
                    cluster.name.clone(),
                ))));
            }
            if ui.button("Add node group…").clicked() {
                requests.push(Request::AddNodeGroup {
                    aws: aws.clone(),
                    cluster: cluster.name.clone(),
                });
            }
        });
        if cluster.node_groups.is_empty() {
            ui.label(RichText::new("no managed node groups").weak());
        }
        for group in &cluster.node_groups {
            let color = match group.os {
                NodeOs::Windows => egui::Color32::from_rgb(0, 120, 212),
                _ => egui::Color32::from_rgb(240, 160, 40),
            };
            ui.colored_label(
                color,
                format!(
                    "{} · {} · {} nodes ({}–{})",
                    group.name,
                    group.os.title(),
                    group.desired,
                    group.min,
                    group.max
                ),
            )
            .on_hover_text(format!(
                "AMI type {}\ninstance types {}\nmin / desired / max {} / {} / {}\nstatus {}{}",
                group.ami_type,
                group.instance_types.join(", "),
                group.min,
                group.desired,
                group.max,
                group.status,
                group
                    .health_issues
                    .iter()
                    .map(|i| format!("\nhealth: {i}"))
                    .collect::<String>()
            ));
            self.retirement_offer(ui, state, &aws, &cluster.name, group, requests);
        }
    }
}

impl EksPanel {
    /// Under a Windows node group whose nodes the board shows: once no workload pod runs there
    /// any more (DaemonSet pods aside), the offer to scale it to zero or delete it; until then,
    /// how many are left. (The CLI takes any group; the window offers the end of the story.)
    fn retirement_offer(
        &mut self,
        ui: &mut egui::Ui,
        state: &ConsoleState,
        aws: &AwsTarget,
        cluster: &str,
        group: &crate::model::eks::EksNodeGroup,
        requests: &mut Vec<Request>,
    ) {
        let on_board = state.snapshot.nodes().any(|n| n.group == group.name);
        if !on_board || group.desired == 0 || group.os != NodeOs::Windows {
            return;
        }
        let workloads = state.snapshot.workload_pods_of_group(&group.name);
        ui.indent(("retire", &group.name), |ui| {
            if workloads.is_empty() {
                ui.label(RichText::new("no workload pods on its nodes any more").weak());
                ui.horizontal(|ui| {
                    if ui.small_button("Scale to 0…").clicked() {
                        requests.push(Request::RetireNodeGroup {
                            aws: aws.clone(),
                            cluster: cluster.to_owned(),
                            group: group.name.clone(),
                            retirement: Retirement::ScaleToZero,
                        });
                    }
                    if ui.small_button("Delete…").clicked() {
                        requests.push(Request::RetireNodeGroup {
                            aws: aws.clone(),
                            cluster: cluster.to_owned(),
                            group: group.name.clone(),
                            retirement: Retirement::Delete,
                        });
                    }
                });
            } else {
                ui.label(
                    RichText::new(format!("{} workload pod(s) on its nodes", workloads.len()))
                        .weak(),
                )
                .on_hover_text(
                    workloads
                        .iter()
                        .map(|p| p.key())
                        .collect::<Vec<_>>()
                        .join("\n"),
                );
            }
        });
    }
}
