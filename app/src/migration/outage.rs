//! An API server that stops answering mid-move: every step and every part of a rollback is safe
//! to repeat, so the move waits for the server (saying so) and repeats what failed, up to
//! [`Timeouts::outage`](super::Timeouts); a server away longer leaves the move recorded for
//! `migrate --resume` or `--rollback`.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::mover::{Mover, Reporter};
use crate::cluster::liveness::{self, Liveness};
use crate::model::move_progress::MoveEvent;

/// What became of the API server after something failed.
pub(super) enum Outage {
    /// It answers: the failure stands.
    None,
    /// It had stopped answering and answers again: what failed can be repeated.
    Over,
    /// The operator aborted while it did not answer.
    Aborted,
    /// It did not come back in time: why, in words.
    Lasting(String),
}

/// How many outages one move or rollback waits out before it stops asking.
pub(super) const OUTAGES_WAITED_OUT: usize = 10;

impl Mover {
    /// Whether the API server answers at all: any HTTP answer counts, even a refusal; a refused
    /// or reset connection, or none within five seconds, does not.
    async fn server_answers(&self) -> bool {
        let answer = liveness::ask(&self.client, Duration::from_secs(5)).await;
        if let Liveness::Unreachable(e) = &answer {
            tracing::debug!(error = %e, "the API server does not answer");
        }
        answer.answered_at_all()
    }

    /// After something failed: when the API server has stopped answering, waits (saying so)
    /// until it answers again, for at most `timeouts.outage`, before `doing` (in words: what is
    /// repeated).
    pub(super) async fn outlast_outage(
        &self,
        report: &Reporter,
        doing: &str,
        abort: Option<&CancellationToken>,
    ) -> Outage {
        if self.server_answers().await {
            return Outage::None;
        }
        let since = tokio::time::Instant::now();
        let patience = self.timeouts.outage;
        report(MoveEvent::Explain(format!(
            "the API server does not answer; waiting up to {} s for it before {doing}",
            patience.as_secs()
        )));
        let mut pause = Duration::from_millis(250);
        loop {
            let aborted = async {
                match abort {
                    Some(abort) => abort.cancelled().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = aborted => return Outage::Aborted,
            }
            if self.server_answers().await {
                report(MoveEvent::Explain(format!(
                    "the API server answers again after {:.1} s; {doing}",
                    since.elapsed().as_secs_f64()
                )));
                return Outage::Over;
            }
            if since.elapsed() >= patience {
                return Outage::Lasting(format!(
                    "the API server did not answer for {} s; the move stays recorded on the monolith: once it answers, finish it with `hybrid-console migrate --resume` or undo it with `hybrid-console migrate --rollback`",
                    patience.as_secs()
                ));
            }
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }
}
