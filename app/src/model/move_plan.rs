//! Planning a move before anything changes: what the plan is made against ([`LiveObjects`]),
//! the plan itself ([`MovePlan`]: objects, routing, nodes, permissions, refusals) and how it
//! is made ([`plan_move`]). Pure: the same live objects give the same plan and digest.

mod contents;
mod live;
mod planning;
mod progressive;

pub use contents::{MovePlan, PlannedChange, ProgressiveWay, Recorded, RouteChange};
pub use live::{LiveObjects, Location, env_value, is_route_variable, location};
pub use planning::{UnknownService, plan_move};
pub use progressive::{NotProgressive, SharedAt};

#[cfg(test)]
mod tests;
