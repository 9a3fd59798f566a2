//! What the window and the backend say to each other: [`Command`]s in, [`Event`]s out, and the
//! [`EventSink`] features write their progress to. It sits below every feature (they all send
//! events) and above the cluster access they report on; it runs nothing itself.

mod failure;
mod messages;
mod task;
mod tasks;

pub use failure::{ActionError, NextAction};
pub use messages::{Command, ConnectionStatus, EmbeddedAwsState, Event, EventSink};
pub use task::Task;
pub use tasks::Tasks;
