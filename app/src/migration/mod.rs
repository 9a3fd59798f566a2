//! The move: a service carried out of the monolith (or back) step by step against the cluster,
//! recorded on the monolith as it goes, reported as it runs, and rolled back by itself when a
//! step fails or the operator aborts. The window ([`desk`]) and the CLI both drive it through
//! the [`Mover`]; it knows nothing of calculators, only of the plan ([`plan_file`]).
//!
//! Inside, by phase: [`start`] (plan, claim, record, or take over a recorded move), `drive`
//! (the steps in order), `steps`, `rollback`, `outage` (waiting out an API server that stopped
//! answering); the record on the monolith and the Lease that claims the move; the cluster
//! actions, waits and verification the steps are made of; retiring the monolith; a progressive
//! move's steps (`progressive`), the monolith's routing file they write (`monolith_routing`)
//! and the pods' metrics they are judged by ([`readings`]).

pub mod access;
mod actions;
pub mod desk;
mod drive;
mod edge_routing;
mod errors;
mod lease;
mod monolith_routing;
mod mover;
mod outage;
pub mod plan_file;
mod progressive;
pub mod readings;
mod record;
mod retire;
mod rollback;
pub mod start;
mod steps;
mod verify;
mod wait;

pub use errors::{MoveError, StepFailure};
pub use lease::LEASE_SECONDS;
pub use mover::{Mover, Reporter, Timeouts, direction_words};
