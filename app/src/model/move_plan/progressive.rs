//! A progressive move's plan: the switch of a move made in proven steps — after the service is
//! verified, the service is shadowed, then given each of the plan's shares, then all of it:
//! inside the monolith by its routing file, or at the edge by the weights of the HTTPRoute
//! rule of its path; only then is the routing variable set (a rolling redeploy that changes
//! nothing any more, since the service already answers everything) and, inside, the file's
//! entry handed over to it.

use crate::model::access::Permission;
use crate::model::analysis::Progression;
use crate::model::moves::{Direction, EdgeRuleBefore, RoutingFileBefore, StepKind};

use super::contents::{MovePlan, PlannedChange, ProgressiveWay};

/// Why a move cannot be made progressive.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotProgressive {
    /// The plan has no `progressive` section.
    #[error(
        "the plan {0} has no `progressive` section (the monolith's routing file); add one or move without --progressive"
    )]
    NoRoutingFile(String),
    /// The service has no path at the edge.
    #[error(
        "the plan gives {0} no `edge` (an HTTPRoute and the path of its rule); add one or move it inside the monolith"
    )]
    NoEdge(String),
    /// The edge route has no rule for the path.
    #[error("HTTPRoute {route} has no rule matching the path {path} (its rules match: {found})")]
    NoEdgeRule {
        /// The route.
        route: String,
        /// The path looked for.
        path: String,
        /// The paths its rules match.
        found: String,
    },
    /// Only a move out of the monolith of a routed service goes by shares.
    #[error("{0} cannot move progressively: {1}")]
    Unsupported(String, &'static str),
    /// A share outside 1–99, or not rising.
    #[error("the shares {0:?} must rise, each between 1 and 99 %")]
    BadWeights(Vec<u8>),
}

/// Where a progressive move shares the traffic, as it is before the move.
#[derive(Clone, Debug, PartialEq)]
pub enum SharedAt {
    /// Inside the monolith, by its routing file.
    Inside(RoutingFileBefore),
    /// At the edge, by an HTTPRoute rule's weights.
    Edge(EdgeRuleBefore),
}

impl MovePlan {
    /// Makes the move progressive with `progression`, sharing the traffic `at`.
    pub fn make_progressive(
        &mut self,
        progression: Progression,
        at: SharedAt,
        frontend: bool,
    ) -> Result<(), NotProgressive> {
        if self.direction == Direction::Return {
            return Err(NotProgressive::Unsupported(
                self.service.clone(),
                "a move back into the monolith switches at once",
            ));
        }
        if frontend || self.route_changes.is_empty() {
            return Err(NotProgressive::Unsupported(
                self.service.clone(),
                "the monolith's router shares only the operations it routes by a variable",
            ));
        }
        let weights = &progression.weights;
        if weights.iter().any(|w| !(1..=99).contains(w)) || weights.windows(2).any(|p| p[0] >= p[1])
        {
            return Err(NotProgressive::BadWeights(weights.clone()));
        }
        let mut steps = vec![
            StepKind::Deploy,
            StepKind::WaitService,
            StepKind::VerifyService,
        ];
        // No answers to compare: no shadow step (an operation that must not run twice, such
        // as one that writes, is not shadowed).
        if progression.shadow_requests > 0 {
            steps.push(StepKind::Shadow);
        }
        steps.extend(weights.iter().map(|_| StepKind::Canary));
        steps.extend([
            StepKind::Full,
            StepKind::Settle,
            StepKind::Reroute,
            StepKind::WaitReroute,
            StepKind::VerifyFront,
        ]);
        let shares: Vec<String> = weights.iter().map(|w| format!("{w} %")).collect();
        let shadow = if progression.shadow_requests > 0 {
            "shadow, "
        } else {
            ""
        };
        match at {
            SharedAt::Inside(before) => {
                steps.push(StepKind::Handover);
                self.changes.push(PlannedChange {
                    action: if before.existed { "update" } else { "create" }.into(),
                    object: format!("ConfigMap/{}", before.config_map),
                    detail: format!(
                        "the monolith's routing of {}: {shadow}{}, 100 %, each judged by the pods' metrics; removed once the variable carries the route",
                        self.service,
                        shares.join(", ")
                    ),
                });
                for verb in ["get", "create", "update", "delete"] {
                    self.permissions.push(permission(
                        self,
                        ("", "configmaps"),
                        verb,
                        (verb != "create").then_some(before.config_map.as_str()),
                    ));
                }
                self.before.routing_file = Some(before);
            }
            SharedAt::Edge(before) => {
                self.changes.push(PlannedChange {
                    action: "patch".into(),
                    object: format!("HTTPRoute/{}", before.route),
                    detail: format!(
                        "rule {} ({}): {}{}, 100 % to Service {}, each judged by both sides' metrics; it stays at 100 %",
                        before.index,
                        self.service,
                        if shadow.is_empty() { "" } else { "mirrored, " },
                        shares.join(", "),
                        self.service_name()
                    ),
                });
                for verb in ["get", "patch"] {
                    self.permissions.push(permission(
                        self,
                        ("gateway.networking.k8s.io", "httproutes"),
                        verb,
                        Some(before.route.as_str()),
                    ));
                }
                self.before.edge_rule = Some(before);
            }
        }
        self.steps = steps;
        let mut proxy = permission(self, ("", "pods"), "get", None);
        proxy.subresource = Some("proxy".into());
        self.permissions.push(proxy);
        self.progression = Some(progression);
        Ok(())
    }

    /// Where this plan shares the traffic step by step (`None`: it switches at once).
    pub fn shared_way(&self) -> Option<ProgressiveWay> {
        self.progression.as_ref()?;
        if self.before.edge_rule.is_some() {
            Some(ProgressiveWay::Edge)
        } else {
            Some(ProgressiveWay::Inside)
        }
    }

    /// Where the move stands at `step` (with `share` at a canary step): its index in the steps.
    pub fn step_index(&self, step: StepKind, share: Option<u8>) -> Option<usize> {
        if step == StepKind::Canary {
            let weights = &self.progression.as_ref()?.weights;
            let nth = weights.iter().position(|w| Some(*w) == share)?;
            return self
                .steps
                .iter()
                .enumerate()
                .filter(|(_, s)| **s == StepKind::Canary)
                .nth(nth)
                .map(|(i, _)| i);
        }
        self.steps.iter().position(|s| *s == step)
    }

    /// The service's share of the traffic from the step of index `index` on, once a
    /// progressive move has begun to share it (the record's `share`).
    pub fn share_at(&self, index: usize) -> Option<u8> {
        let progression = self.progression.as_ref()?;
        match self.steps.get(index)? {
            StepKind::Shadow => Some(0),
            StepKind::Canary => {
                let nth = self.steps[..index]
                    .iter()
                    .filter(|s| **s == StepKind::Canary)
                    .count();
                progression.weights.get(nth).copied()
            }
            StepKind::Full
            | StepKind::Settle
            | StepKind::Reroute
            | StepKind::WaitReroute
            | StepKind::VerifyFront
            | StepKind::Handover => Some(100),
            _ => None,
        }
    }
}

fn permission(
    plan: &MovePlan,
    (group, resource): (&str, &str),
    verb: &str,
    name: Option<&str>,
) -> Permission {
    Permission {
        verb: verb.into(),
        group: group.into(),
        resource: resource.into(),
        subresource: None,
        namespace: plan.namespace.clone(),
        name: name.map(str::to_owned),
        allowed: None,
    }
}
