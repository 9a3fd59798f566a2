//! The console's background side: a tokio runtime on its own thread that receives the window's
//! [`Command`]s, hands each to the feature that carries it out, and passes their [`Event`]s
//! back. The UI thread never awaits and never touches the network.

mod dispatch;

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use tokio::sync::mpsc as async_mpsc;

use crate::live::embedded::EmbeddedOptions;
use crate::model::migration_plan::MigrationPlan;
use crate::protocol::{Command, Event, EventSink};

/// The running backend: its thread, the command channel and the event queue.
pub struct Backend {
    commands: async_mpsc::UnboundedSender<Command>,
    events: mpsc::Receiver<Event>,
    /// Tells the window when the backend is gone, so no command waits for an answer that
    /// cannot come.
    sink: EventSink,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Backend {
    /// Starts the backend thread for `plan`; `repaint` is called after every event (egui's
    /// `Context::request_repaint`). A backend that cannot start says so as
    /// [`Event::BackendStopped`].
    pub fn start(
        repaint: impl Fn() + Send + Sync + 'static,
        plan: Arc<MigrationPlan>,
        embedded: EmbeddedOptions,
    ) -> Backend {
        let (commands, receiver) = async_mpsc::unbounded_channel();
        let (sender, events) = mpsc::channel();
        let sink = EventSink::new(sender, Arc::new(repaint));
        let backend_sink = sink.clone();
        let thread = std::thread::Builder::new()
            .name("hybrid-console-backend".into())
            .spawn(move || run(receiver, backend_sink, plan, embedded));
        let thread = match thread {
            Ok(thread) => Some(thread),
            Err(e) => {
                sink.send(Event::BackendStopped {
                    why: format!(
                        "the console's background thread could not start ({e}): nothing can be done with the cluster; restart the console"
                    ),
                });
                None
            }
        };
        Backend {
            commands,
            events,
            sink,
            thread,
        }
    }

    /// Sends a command; the backend answers with events (or, when it has stopped, with
    /// [`Event::BackendStopped`]).
    pub fn send(&self, command: Command) {
        if self.commands.send(command).is_err() {
            self.sink.send(Event::BackendStopped {
                why: "the console's background side has stopped: restart the console".into(),
            });
        }
    }

    /// Every event that arrived since the last call.
    pub fn drain(&self) -> Vec<Event> {
        self.events.try_iter().collect()
    }

    /// Blocks up to `timeout` for the next event (for tests and the CLI).
    pub fn next_event(&self, timeout: Duration) -> Option<Event> {
        self.events.recv_timeout(timeout).ok()
    }
}

/// The backend thread: a runtime running the dispatcher until the window goes.
fn run(
    receiver: async_mpsc::UnboundedReceiver<Command>,
    sink: EventSink,
    plan: Arc<MigrationPlan>,
    embedded: EmbeddedOptions,
) {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            sink.send(Event::BackendStopped {
                why: format!(
                    "the console's background runtime could not start ({e}): restart the console"
                ),
            });
            return;
        }
    };
    let supervised = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(dispatch::supervise(receiver, sink.clone(), plan, embedded));
    }));
    if supervised.is_err() {
        sink.send(Event::BackendStopped {
            why: "the console's background side stopped unexpectedly (see the log): restart the console".into(),
        });
    }
    // Let tasks (the local cluster's containers) stop before the runtime goes.
    runtime.shutdown_timeout(Duration::from_secs(5));
}

impl Drop for Backend {
    fn drop(&mut self) {
        // Closing the command channel ends the supervisor, which stops the local cluster.
        let (dead, _) = async_mpsc::unbounded_channel();
        self.commands = dead;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
