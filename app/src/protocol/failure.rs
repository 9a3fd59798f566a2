//! Why something the operator asked for did not happen, in kinds the window can act on: each
//! kind has its next action (connect, try again, plan again, ask for a role, fix the input), so
//! the window never has to read an error's words to know what to offer.

use serde::Serialize;

/// Why an action did not happen. The message is the whole story in words; the kind is what the
/// window matches on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ActionError {
    /// No cluster is connected: connect first.
    #[error(
        "not connected to a cluster: connect to it first (the console works through that connection)"
    )]
    NotConnected,
    /// Someone else is doing it now (another move, another console's claim on it).
    #[error("{message}")]
    Busy {
        /// Who holds it and until when, in words.
        message: String,
    },
    /// The credentials in use may not do it.
    #[error("{message}")]
    Forbidden {
        /// What the server or AWS said, with what was asked.
        message: String,
        /// What the operator should ask for (a role, a policy), when the console knows it.
        ask_for: Option<String>,
    },
    /// What it works on changed underneath: read it again and decide again.
    #[error("{message}")]
    Conflict {
        /// What changed.
        message: String,
    },
    /// The API server (or the AWS API) did not answer.
    #[error("{message}")]
    ServerAway {
        /// What did not answer, and how.
        message: String,
    },
    /// Credentials are missing or expired: sign in again, then try again.
    #[error("{message}")]
    Credentials {
        /// What is missing and the command that fixes it.
        message: String,
    },
    /// What was given cannot be used as it is: change it.
    #[error("{message}")]
    Invalid {
        /// What is wrong, naming the field or file.
        message: String,
    },
    /// What it names does not exist (any more).
    #[error("{message}")]
    NotFound {
        /// What is missing, and what there is.
        message: String,
    },
    /// The console's own checks say no, with every reason.
    #[error("refused: {}", .reasons.join("; "))]
    Refused {
        /// Each reason, in words.
        reasons: Vec<String>,
    },
    /// Anything else, in the words of whoever failed.
    #[error("{message}")]
    Failed {
        /// What failed.
        message: String,
    },
}

/// What the window offers after a failure of each kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextAction {
    /// Connect (again) to the chosen cluster.
    Connect,
    /// Ask again, unchanged.
    TryAgain,
    /// Read the cluster again and make a new plan.
    PlanAgain,
    /// Change the input and ask again.
    FixInput,
    /// Nothing the console can do; the message says what the operator can.
    None,
}

impl ActionError {
    /// The error of a Kubernetes request made while `doing` (in words), classified by what
    /// the server answered: 403 is a permission, 409 a conflict, no answer a server away.
    pub fn from_kube(doing: &str, error: &kube::Error) -> ActionError {
        match error {
            kube::Error::Api(status) => {
                let message = format!(
                    "cannot {doing}: the API server answered {} {}: {}",
                    status.code, status.reason, status.message
                );
                match status.code {
                    401 => ActionError::Credentials { message },
                    403 => ActionError::Forbidden {
                        message,
                        ask_for: None,
                    },
                    404 => ActionError::NotFound { message },
                    409 => ActionError::Conflict { message },
                    422 | 400 => ActionError::Invalid { message },
                    429 | 500..=599 => ActionError::ServerAway { message },
                    _ => ActionError::Failed { message },
                }
            }
            other => ActionError::ServerAway {
                message: format!("cannot {doing}: {other}"),
            },
        }
    }

    /// An error that is only words (a file that does not read, a check that failed).
    pub fn failed(message: impl Into<String>) -> ActionError {
        ActionError::Failed {
            message: message.into(),
        }
    }

    /// What the window offers next.
    pub fn next_action(&self) -> NextAction {
        match self {
            ActionError::NotConnected => NextAction::Connect,
            ActionError::Busy { .. }
            | ActionError::ServerAway { .. }
            | ActionError::Credentials { .. }
            | ActionError::Forbidden { .. }
            | ActionError::Failed { .. } => NextAction::TryAgain,
            ActionError::Conflict { .. } => NextAction::PlanAgain,
            ActionError::Invalid { .. } => NextAction::FixInput,
            ActionError::NotFound { .. } | ActionError::Refused { .. } => NextAction::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> kube::Error {
        let mut status = kube::core::Status::failure("it says no", "Reason");
        status.code = code;
        kube::Error::Api(Box::new(status))
    }

    #[test]
    fn a_kubernetes_answer_becomes_the_kind_whose_next_action_fits() {
        let kind = |code| ActionError::from_kube("patch deployments", &status(code));
        assert!(matches!(kind(403), ActionError::Forbidden { .. }));
        assert_eq!(kind(403).next_action(), NextAction::TryAgain);
        assert!(matches!(kind(409), ActionError::Conflict { .. }));
        assert_eq!(kind(409).next_action(), NextAction::PlanAgain);
        assert!(matches!(kind(503), ActionError::ServerAway { .. }));
        assert!(matches!(kind(401), ActionError::Credentials { .. }));
        assert!(matches!(kind(422), ActionError::Invalid { .. }));
        assert_eq!(kind(422).next_action(), NextAction::FixInput);
        assert_eq!(
            kind(403).to_string(),
            "cannot patch deployments: the API server answered 403 Reason: it says no"
        );
        assert_eq!(ActionError::NotConnected.next_action(), NextAction::Connect);
    }
}
