//! The guided tour of the talk: its steps in order, where the operator is in it (kept across
//! restarts), and what the cluster shows of each step's work. Pure data: the window draws it
//! and carries out a step's work with the same commands as the board and the move window.

use serde::{Deserialize, Serialize};

use super::move_plan::Location;
use super::topology::MonolithTopology;

/// One screen of the tour.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TourStep {
    /// The hybrid cluster and its two lanes.
    #[default]
    Lanes,
    /// The Windows monolith and the services it computes in-process.
    Monolith,
    /// The readiness check.
    Readiness,
    /// The first move: `sum`.
    MoveSum,
    /// The other services, `ui` last.
    MoveRest,
    /// The monolith retired.
    Retire,
    /// The Windows node group scaled to zero.
    WindowsGroup,
    /// Where to go from here.
    WhatNext,
}

impl TourStep {
    /// Every step, in the talk's order.
    pub const ALL: [TourStep; 8] = [
        TourStep::Lanes,
        TourStep::Monolith,
        TourStep::Readiness,
        TourStep::MoveSum,
        TourStep::MoveRest,
        TourStep::Retire,
        TourStep::WindowsGroup,
        TourStep::WhatNext,
    ];

    /// Its place, from 1.
    pub fn number(self) -> usize {
        Self::ALL.iter().position(|s| *s == self).unwrap_or(0) + 1
    }

    /// The step after this one (the last has none).
    pub fn next(self) -> Option<TourStep> {
        Self::ALL.get(self.number()).copied()
    }

    /// The step before this one (the first has none).
    pub fn previous(self) -> Option<TourStep> {
        self.number()
            .checked_sub(2)
            .and_then(|i| Self::ALL.get(i).copied())
    }

    /// Its heading.
    pub fn title(self) -> &'static str {
        match self {
            TourStep::Lanes => "A hybrid cluster: two lanes",
            TourStep::Monolith => "The Windows monolith",
            TourStep::Readiness => "Is the cluster ready for a move?",
            TourStep::MoveSum => "Move sum to Linux",
            TourStep::MoveRest => "Move the rest, the page last",
            TourStep::Retire => "Retire the monolith",
            TourStep::WindowsGroup => "Scale the Windows node group to zero",
            TourStep::WhatNext => "What next",
        }
    }

    /// What the step shows, in the operator's words.
    pub fn story(self) -> &'static str {
        match self {
            TourStep::Lanes => {
                "The board groups nodes by operating system: Windows on the left, Linux on the right, each node with the pods placed on it. Windows nodes carry the taint os=windows:NoSchedule so that only pods which tolerate it (and select kubernetes.io/os: windows) land there; a Linux image scheduled onto Windows could never start. On EKS every Windows pod takes an IP address of the node's one ENI and Windows pods cannot use host networking, so Windows nodes hold fewer pods than Linux nodes of the same size."
            }
            TourStep::Monolith => {
                "The calculator started as one Windows application: the monolith computes sum, subtraction, multiplication and division in-process and serves the page. Its chips on the board say \"in-process\". Each operation has a routing variable: empty means the monolith computes it itself; a URL means it forwards the call there. Moving a service means deploying it on Linux, pointing that variable at it, and redeploying the monolith, one service at a time (the strangler fig). Try the calculator on the right: \"served by\" names the pod, node and OS that answered."
            }
            TourStep::Readiness => {
                "Before the first move, the readiness check looks at what a hybrid cluster needs: Windows nodes tainted and Windows workloads tolerating it, node selectors on both sides, the Windows builds of nodes and images, the VPC CNI's Windows IP management on EKS. Each finding names its evidence and its fix."
            }
            TourStep::MoveSum => {
                "A move deploys the Linux service, verifies it on its own, re-routes the monolith to it with a rolling redeploy and checks the whole application through its front door; if any step fails it rolls back by itself. Drag the sum chip from the monolith to the Linux lane, or press the button below: the plan opens first and nothing changes until you press Move. Then watch the calculator's \"served by\" change to a Linux pod."
            }
            TourStep::MoveRest => {
                "The other operations move the same way, one at a time, and the page (ui) last: once it runs on Linux the monolith serves nothing. The button plans the next service still in the monolith."
            }
            TourStep::Retire => {
                "A monolith that serves nothing can go. Retiring scales its Deployment to zero and checks the application through its front Service once its pods are gone; its Deployment stays, so the Undo button scales it back up to the replicas it had (the move window's offer deletes it later)."
            }
            TourStep::WindowsGroup => {
                "With no workload left on Windows, the Windows node group is only a bill: on EKS the console scales it to zero (drained first, as EKS does) from its EKS view, and its lane empties."
            }
            TourStep::WhatNext => {
                "Connect your own cluster from the left (a kubeconfig context or an EKS cluster), check its readiness, and write a plan for your own monolith: `hybrid-console plan init --monolith NAMESPACE/DEPLOYMENT` writes one from the live objects for you to finish, and `hybrid-console plan check PLAN` checks it against the cluster."
            }
        }
    }
}

/// Where the operator is in the tour: kept across restarts with the window's settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TourProgress {
    /// The step shown.
    pub step: TourStep,
    /// Whether the tour is shown.
    pub open: bool,
}

/// What the cluster shows that a step looks at.
#[derive(Clone, Copy, Debug)]
pub struct Seen<'a> {
    /// The plan's view of the cluster (none before the first snapshot).
    pub topology: Option<&'a MonolithTopology>,
    /// Ready Windows and Linux nodes.
    pub nodes: (usize, usize),
    /// Whether a readiness report has come.
    pub readiness_checked: bool,
    /// Windows node groups the console knows on EKS (of the cluster it connected through, or
    /// listed in its EKS view): their size can be changed from here.
    pub windows_groups: usize,
    /// On the embedded cluster with no AWS emulator beside it: why (what to install).
    pub no_emulator: Option<&'a str>,
}

/// How far a step's work is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Done, with what shows it.
    Done(String),
    /// Still to do, with what the cluster shows now.
    ToDo(String),
    /// Cannot be done here, with why and what would make it possible.
    NotHere(String),
}

impl Progress {
    /// Whether the step's work is done.
    pub fn is_done(&self) -> bool {
        matches!(self, Progress::Done(_))
    }
}

/// The services of the plan still served by the monolith, in the plan's order with `ui` last
/// (the page goes once every operation is on Linux).
pub fn still_in_monolith(topology: &MonolithTopology) -> Vec<&str> {
    let mut left: Vec<&str> = topology
        .services
        .iter()
        .filter(|s| s.location == Location::InMonolith)
        .map(|s| s.name.as_str())
        .collect();
    left.sort_by_key(|name| *name == "ui");
    left
}

/// The services already moved out, in the plan's order.
pub fn moved_out(topology: &MonolithTopology) -> Vec<&str> {
    topology
        .services
        .iter()
        .filter(|s| s.location == Location::Extracted)
        .map(|s| s.name.as_str())
        .collect()
}

/// How far `step`'s work is, from what the cluster shows.
pub fn progress(step: TourStep, seen: &Seen<'_>) -> Progress {
    let (windows, linux) = seen.nodes;
    let Some(topology) = seen.topology else {
        return Progress::ToDo("waiting for the cluster…".into());
    };
    match step {
        TourStep::Lanes => Progress::Done(format!(
            "{windows} Windows and {linux} Linux nodes on the board"
        )),
        TourStep::Monolith => match &topology.monolith {
            Some(m) if m.in_process.is_empty() => Progress::Done(format!(
                "the monolith {}/{} computes nothing in-process any more",
                m.namespace, m.deployment
            )),
            Some(m) => Progress::Done(format!(
                "the monolith {}/{} serves {} in-process",
                m.namespace,
                m.deployment,
                m.in_process.join(", ")
            )),
            None => Progress::Done("the monolith has been retired".into()),
        },
        TourStep::Readiness if seen.readiness_checked => {
            Progress::Done("checked: the findings are in the readiness window".into())
        }
        TourStep::Readiness => Progress::ToDo("not checked yet".into()),
        TourStep::MoveSum => match topology.service("sum").map(|s| &s.location) {
            Some(Location::Extracted) => Progress::Done(
                "sum runs in its own pods on Linux; the monolith forwards to it".into(),
            ),
            Some(Location::InMonolith) => Progress::ToDo("sum is computed in the monolith".into()),
            Some(Location::Elsewhere(url)) => {
                Progress::ToDo(format!("the monolith forwards sum to {url}"))
            }
            None => Progress::NotHere("the plan has no service named sum".into()),
        },
        TourStep::MoveRest => {
            let left = still_in_monolith(topology);
            if left.is_empty() {
                Progress::Done("every service runs on Linux".into())
            } else {
                Progress::ToDo(format!("still in the monolith: {}", left.join(", ")))
            }
        }
        TourStep::Retire => match &topology.monolith {
            None => Progress::Done("the monolith is gone".into()),
            Some(m) if m.ready.1 == 0 => Progress::Done(format!(
                "the monolith {}/{} is at zero replicas",
                m.namespace, m.deployment
            )),
            Some(_) if topology.retirable => {
                Progress::ToDo("the monolith serves nothing any more and can go".into())
            }
            Some(_) => Progress::ToDo(format!(
                "the monolith still serves {}: move them first",
                still_in_monolith(topology).join(", ")
            )),
        },
        TourStep::WindowsGroup if windows == 0 => {
            Progress::Done("no Windows node is left: the lane is empty".into())
        }
        TourStep::WindowsGroup if seen.windows_groups == 0 => {
            Progress::NotHere(no_windows_group(seen.no_emulator))
        }
        TourStep::WindowsGroup => Progress::ToDo(format!(
            "{windows} Windows nodes: scale their node group to zero (drained first)"
        )),
        TourStep::WhatNext => Progress::Done("the tour is over".into()),
    }
}

/// Why the node-group step cannot be done here: on the embedded cluster, why it has no emulator
/// (`no_emulator`); elsewhere, that no EKS group is known.
fn no_windows_group(no_emulator: Option<&str>) -> String {
    match no_emulator {
        Some(why) => format!(
            "The local hybrid cluster follows no EKS node groups here: {why}. With moto installed, the console starts an AWS emulator holding the talk's EKS cluster beside the local cluster, which then follows its node groups, and this step scales the Windows one to zero."
        ),
        None => "No Windows node group on EKS is known here: the console did not connect through EKS and its EKS view has listed no cluster with one. `scripts/eks-offline.sh` runs the whole talk against an AWS emulator (moto: `pip install 'moto[server]'`) with a local cluster that follows its node groups; there, or on a real EKS cluster, press List clusters in the EKS view on the left.".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::topology::{Monolith, ServiceState};

    fn topology(moved: &[&str], monolith_replicas: Option<i32>) -> MonolithTopology {
        let services: Vec<ServiceState> = ["sum", "subtraction", "ui", "division"]
            .iter()
            .map(|name| ServiceState {
                name: (*name).into(),
                location: if moved.contains(name) {
                    Location::Extracted
                } else {
                    Location::InMonolith
                },
                deployment: format!("{name}-service"),
                ready: None,
                selector: Default::default(),
            })
            .collect();
        MonolithTopology {
            plan: "calculator".into(),
            namespace: "calculator".into(),
            monolith: monolith_replicas.map(|r| Monolith {
                namespace: "calculator".into(),
                deployment: "monolith".into(),
                in_process: services
                    .iter()
                    .filter(|s| s.location == Location::InMonolith)
                    .map(|s| s.name.clone())
                    .collect(),
                forwarded: Vec::new(),
                ready: (r, r),
                selector: Default::default(),
            }),
            retirable: moved.len() == services.len(),
            services,
            moving: None,
            record_problem: None,
        }
    }

    fn seen(topology: &MonolithTopology) -> Seen<'_> {
        Seen {
            topology: Some(topology),
            nodes: (2, 2),
            readiness_checked: false,
            windows_groups: 0,
            no_emulator: None,
        }
    }

    #[test]
    fn steps_go_in_the_talks_order() {
        assert_eq!(TourStep::Lanes.number(), 1);
        assert_eq!(TourStep::WhatNext.number(), 8);
        assert_eq!(TourStep::Lanes.previous(), None);
        assert_eq!(TourStep::Lanes.next(), Some(TourStep::Monolith));
        assert_eq!(TourStep::WhatNext.next(), None);
        assert_eq!(TourStep::MoveRest.previous(), Some(TourStep::MoveSum));
    }

    #[test]
    fn the_page_moves_last() {
        let t = topology(&["sum"], Some(2));
        assert_eq!(still_in_monolith(&t), ["subtraction", "division", "ui"]);
        assert_eq!(moved_out(&t), ["sum"]);
    }

    #[test]
    fn each_steps_work_is_read_from_the_cluster() {
        let start = topology(&[], Some(2));
        assert!(!progress(TourStep::MoveSum, &seen(&start)).is_done());
        assert!(!progress(TourStep::Readiness, &seen(&start)).is_done());
        assert_eq!(
            progress(TourStep::Retire, &seen(&start)),
            Progress::ToDo(
                "the monolith still serves sum, subtraction, division, ui: move them first".into()
            )
        );
        let sum = topology(&["sum"], Some(2));
        assert!(progress(TourStep::MoveSum, &seen(&sum)).is_done());
        assert!(!progress(TourStep::MoveRest, &seen(&sum)).is_done());
        let all = topology(&["sum", "subtraction", "ui", "division"], Some(2));
        assert!(progress(TourStep::MoveRest, &seen(&all)).is_done());
        assert!(!progress(TourStep::Retire, &seen(&all)).is_done());
        let retired = topology(&["sum", "subtraction", "ui", "division"], None);
        assert!(progress(TourStep::Retire, &seen(&retired)).is_done());
        let at_zero = topology(&["sum", "subtraction", "ui", "division"], Some(0));
        assert!(progress(TourStep::Retire, &seen(&at_zero)).is_done());
    }

    #[test]
    fn the_windows_group_step_says_why_it_cannot_be_done_without_an_eks_group() {
        let t = topology(&[], Some(2));
        assert!(matches!(
            progress(TourStep::WindowsGroup, &seen(&t)),
            Progress::NotHere(why) if why.contains("moto")
        ));
        let listed = Seen {
            windows_groups: 1,
            ..seen(&t)
        };
        assert!(matches!(
            progress(TourStep::WindowsGroup, &listed),
            Progress::ToDo(_)
        ));
        let emptied = Seen {
            nodes: (0, 2),
            ..listed
        };
        assert!(progress(TourStep::WindowsGroup, &emptied).is_done());
    }

    #[test]
    fn on_the_embedded_cluster_without_moto_the_step_says_how_to_get_it() {
        let t = topology(&[], Some(2));
        let without = Seen {
            no_emulator: Some(
                "moto is not installed for python3: run `pip install 'moto[server]'`",
            ),
            ..seen(&t)
        };
        assert!(matches!(
            progress(TourStep::WindowsGroup, &without),
            Progress::NotHere(why) if why.contains("pip install 'moto[server]'") && why.contains("local hybrid cluster")
        ));
        // A group listed some other way (a real EKS region in the EKS view) is still offered.
        let listed = Seen {
            windows_groups: 1,
            ..without
        };
        assert!(matches!(
            progress(TourStep::WindowsGroup, &listed),
            Progress::ToDo(_)
        ));
    }

    #[test]
    fn progress_survives_a_restart_as_text() {
        let kept = TourProgress {
            step: TourStep::MoveRest,
            open: true,
        };
        let text = serde_json::to_string(&kept).unwrap_or_default();
        assert_eq!(text, r#"{"step":"move-rest","open":true}"#);
        let back: TourProgress = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(back, kept);
    }
}
