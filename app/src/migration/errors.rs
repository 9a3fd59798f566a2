//! How a move can fail before it starts ([`MoveError`]: it did not start, resume or roll back)
//! and how one of its steps can fail ([`StepFailure`]: the move then rolls back).

use crate::model::rollout::PodProblem;
use crate::protocol::ActionError;

/// Why a move could not be started, resumed or rolled back (a move that started and failed
/// ends with a [`MoveOutcome`] instead).
#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    /// A request to the API server failed.
    #[error("cannot {context}: {detail}")]
    Kube {
        /// What the console was doing.
        context: String,
        /// The server's or the transport's words.
        detail: String,
        /// The HTTP status the server answered with; `None` when it did not answer.
        code: Option<u16>,
    },
    /// Another console drives a move on this monolith.
    #[error("another console ({holder}) is driving a move on this monolith{}; wait for it, or for its claim to expire if it has stopped", if until.is_empty() { String::new() } else { format!(" (its claim runs until {until})") })]
    Busy {
        /// Its identity.
        holder: String,
        /// When its Lease expires.
        until: String,
    },
    /// The record on the monolith is not the one expected.
    #[error("{0}")]
    Conflict(String),
    /// The plan says no.
    #[error("the move is refused: {}", .0.join("; "))]
    Refused(Vec<String>),
    /// Something in the cluster is not as a move needs it.
    #[error("{0}")]
    Cluster(String),
}

impl MoveError {
    pub(super) fn kube(context: &str, error: kube::Error) -> MoveError {
        let (detail, code) = match &error {
            kube::Error::Api(status) => (status.message.clone(), Some(status.code)),
            other => (other.to_string(), None),
        };
        MoveError::Kube {
            context: context.to_owned(),
            detail,
            code,
        }
    }
}

/// The role that lets a console move services (`manifests/console/rbac.yaml`).
const MOVER_ROLE: &str =
    "the hybrid-console:movers group (its Roles are in manifests/console/rbac.yaml)";

impl From<MoveError> for ActionError {
    fn from(error: MoveError) -> ActionError {
        let message = error.to_string();
        match error {
            MoveError::Kube { code, .. } => match code {
                Some(401) => ActionError::Credentials { message },
                Some(403) => ActionError::Forbidden {
                    message,
                    ask_for: Some(MOVER_ROLE.into()),
                },
                Some(404) => ActionError::NotFound { message },
                Some(409) => ActionError::Conflict { message },
                None | Some(429 | 500..=599) => ActionError::ServerAway { message },
                Some(_) => ActionError::Failed { message },
            },
            MoveError::Busy { .. } => ActionError::Busy { message },
            MoveError::Conflict(_) => ActionError::Conflict { message },
            MoveError::Refused(reasons) => ActionError::Refused { reasons },
            MoveError::Cluster(_) => ActionError::Failed { message },
        }
    }
}

/// Why a step failed, with the pod that said so when one did.
#[derive(Clone, Debug)]
pub struct StepFailure {
    /// In words.
    pub reason: String,
    /// The pod's reason and message.
    pub problem: Option<PodProblem>,
}

impl StepFailure {
    pub(super) fn plain(reason: String) -> StepFailure {
        StepFailure {
            reason,
            problem: None,
        }
    }
}
