//! The live view: connecting to the chosen cluster (and reconnecting when it goes away),
//! watching it into board snapshots, the namespace's Events, and the selected pod's details.

pub mod connect;
pub mod details;
pub mod embedded;
pub mod pods;
pub mod session;
mod watch;
