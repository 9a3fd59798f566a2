//! The console's background side: a tokio runtime on its own thread that receives the window's
//! [`Command`]s, hands each to the feature that carries it out, and passes their [`Event`]s
//! back. The UI thread never awaits and never touches the network.

mod dispatch;

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use tokio::sync::mpsc as async_mpsc;

use crate::model::migration_plan::MigrationPlan;
use crate::protocol::{Command, ConnectionStatus, Event, EventSink};

/// The running backend: its thread, the command channel and the event queue.
pub struct Backend {
    commands: async_mpsc::UnboundedSender<Command>,
    events: mpsc::Receiver<Event>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Backend {
    /// Starts the backend thread for `plan`; `repaint` is called after every event (egui's
    /// `Context::request_repaint`).
    pub fn start(repaint: impl Fn() + Send + Sync + 'static, plan: Arc<MigrationPlan>) -> Backend {
        let (commands, receiver) = async_mpsc::unbounded_channel();
        let (sender, events) = mpsc::channel();
        let sink = EventSink::new(sender, Arc::new(repaint));
        let thread = std::thread::Builder::new()
            .name("hybrid-console-backend".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        sink.send(Event::Connection(ConnectionStatus::Failed {
                            target: String::new(),
                            error: format!("cannot start the background runtime: {e}"),
                        }));
                        return;
                    }
                };
                runtime.block_on(dispatch::supervise(receiver, sink, plan));
                // Let tasks (the local cluster's containers) stop before the runtime goes.
                runtime.shutdown_timeout(Duration::from_secs(5));
            })
            .ok();
        Backend {
            commands,
            events,
            thread,
        }
    }

    /// Sends a command; the backend answers with events.
    pub fn send(&self, command: Command) {
        let _ = self.commands.send(command);
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
