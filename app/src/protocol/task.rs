//! The kinds of background work the window waits on or watches, named so that when one dies the
//! window knows what stops waiting.

/// What a background task does for the window: what it answers, and what waits on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Task {
    /// The connection and its watches.
    Session,
    /// One calculation.
    Calculation,
    /// Calling the calculator continuously.
    Probe,
    /// Following the selected pod.
    PodDetails,
    /// Planning a move.
    MovePlan,
    /// Carrying out, finishing or rolling back a move.
    Move,
    /// Giving a progressive move the operator's word (Pause, Promote, Abort).
    Steer,
    /// A stage of retiring the monolith.
    Retire,
    /// The readiness check (or a node group's review).
    Readiness,
    /// Listing EKS clusters.
    EksClusters,
    /// Asking Cost Explorer.
    Costs,
    /// Surveying a node group before it is taken out of service.
    NodeGroupSurvey,
    /// Reviewing a node group before it is added.
    NodeGroupReview,
    /// Adding, draining or retiring a node group.
    NodeGroupChange,
}

impl Task {
    /// What it was doing, for the message when it fails.
    pub fn doing(self) -> &'static str {
        match self {
            Task::Session => "watching the cluster",
            Task::Calculation => "calling the calculator",
            Task::Probe => "probing the calculator",
            Task::PodDetails => "following the selected pod",
            Task::MovePlan => "planning the move",
            Task::Move => "driving the move",
            Task::Steer => "steering the move",
            Task::Retire => "retiring the monolith",
            Task::Readiness => "checking readiness",
            Task::EksClusters => "listing EKS clusters",
            Task::Costs => "asking Cost Explorer",
            Task::NodeGroupSurvey => "reading the node group",
            Task::NodeGroupReview => "reviewing the node group",
            Task::NodeGroupChange => "changing the node group",
        }
    }
}
