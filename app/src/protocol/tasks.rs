//! The backend's background work, every task owned: spawned into one keyed set, so a task that
//! panics is heard (as [`Event::TaskFailed`], naming what it was) instead of leaving the window
//! waiting for an answer that will never come; one-of-a-kind tasks (the live session, the
//! probe, the move) are replaced or stopped by what they are.

use std::future::Future;

use tokio_util::task::JoinMap;

use super::messages::{Event, EventSink};
use super::task::Task;

/// A task's key: what it is, and which one (0 for the one-of-a-kind).
type Key = (Task, u64);

/// Every background task of the backend, each heard of when it ends.
pub struct Tasks {
    running: JoinMap<Key, ()>,
    next: u64,
    sink: EventSink,
}

impl Tasks {
    /// An empty set reporting to `sink`.
    pub fn new(sink: EventSink) -> Tasks {
        Tasks {
            running: JoinMap::new(),
            next: 1,
            sink,
        }
    }

    /// Runs `work` beside any others of its kind.
    pub fn spawn(&mut self, task: Task, work: impl Future<Output = ()> + Send + 'static) {
        let key = (task, self.next);
        self.next += 1;
        self.running.spawn(key, work);
    }

    /// Runs `work` as the only task of its kind, stopping the one before.
    pub fn replace(&mut self, task: Task, work: impl Future<Output = ()> + Send + 'static) {
        // A JoinMap aborts the task already under the key.
        self.running.spawn((task, 0), work);
    }

    /// Whether the only task of its kind runs.
    pub fn running(&self, task: Task) -> bool {
        self.running.contains_key(&(task, 0))
    }

    /// Stops the only task of its kind, if it runs.
    pub fn stop(&mut self, task: Task) {
        self.running.abort(&(task, 0));
    }

    /// Waits for the next task to end; a panic becomes [`Event::TaskFailed`]. Pending for ever
    /// while nothing runs (for `select!`).
    pub async fn ended(&mut self) {
        match self.running.join_next().await {
            Some(((task, _), Err(error))) if error.is_panic() => {
                let why = panic_words(error.into_panic());
                tracing::error!(task = ?task, %why, "a background task panicked");
                self.sink.send(Event::TaskFailed {
                    task,
                    why: format!("{} stopped unexpectedly: {why}", task.doing()),
                });
            }
            Some(_) => {}
            None => std::future::pending().await,
        }
    }

    /// Stops everything.
    pub fn stop_all(&mut self) {
        self.running.abort_all();
    }
}

/// A panic's message, as `panic!` was given it.
fn panic_words(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, mpsc};
    use std::time::Duration;

    use super::*;

    fn sink() -> (EventSink, mpsc::Receiver<Event>) {
        let (sender, events) = mpsc::channel();
        (EventSink::new(sender, Arc::new(|| {})), events)
    }

    #[tokio::test]
    async fn a_task_that_panics_is_named_in_an_event_and_one_that_ends_is_not() {
        let (sink, events) = sink();
        let mut tasks = Tasks::new(sink);
        tasks.spawn(Task::Calculation, async {});
        tasks.spawn(Task::Readiness, async { panic!("the check fell over") });
        for _ in 0..2 {
            tokio::time::timeout(Duration::from_secs(5), tasks.ended())
                .await
                .expect("both tasks end");
        }
        let got: Vec<Event> = events.try_iter().collect();
        assert_eq!(got.len(), 1, "{got:?}");
        match &got[0] {
            Event::TaskFailed { task, why } => {
                assert_eq!(*task, Task::Readiness);
                assert_eq!(
                    why,
                    "checking readiness stopped unexpectedly: the check fell over"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_one_of_a_kind_task_is_replaced_and_stopped_by_what_it_is() {
        let (sink, events) = sink();
        let mut tasks = Tasks::new(sink);
        let (first_tx, mut first_rx) = tokio::sync::oneshot::channel::<()>();
        tasks.replace(Task::Probe, async move {
            // Held open until aborted: the sender drops with the task.
            let _keep = first_tx;
            std::future::pending::<()>().await;
        });
        assert!(tasks.running(Task::Probe));
        tasks.replace(Task::Probe, std::future::pending());
        // The first probe was aborted (and taken out of the set): its sender is gone.
        let first = tokio::time::timeout(Duration::from_secs(5), &mut first_rx)
            .await
            .expect("the replaced probe ends");
        assert!(first.is_err(), "it was dropped, not finished");
        assert!(tasks.running(Task::Probe));
        tasks.stop(Task::Probe);
        tokio::time::timeout(Duration::from_secs(5), tasks.ended())
            .await
            .expect("the stopped probe ends");
        assert!(!tasks.running(Task::Probe));
        assert!(events.try_iter().next().is_none(), "aborts are no failures");
    }
}
