//! One connection at a time: connect, watch, publish snapshots; when the server goes away, keep
//! the last state, say so, and reconnect by itself (re-reading the kubeconfig, whose credentials
//! or address may have changed).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{Mutex, watch};
use tokio_util::task::AbortOnDropHandle;

use super::connect;
use super::embedded::{Embedded, EmbeddedOptions};
use super::watch::watch_cluster;
use crate::cluster::connection::{ConnectError, Connection, ConnectionTarget};
use crate::model::migration_plan::MigrationPlan;
use crate::protocol::{ConnectionStatus, EmbeddedAwsState, Event, EventSink};

/// The embedded cluster: how to start it, and the one started on first use and kept until the
/// console exits.
#[derive(Default)]
pub struct EmbeddedSlot {
    options: EmbeddedOptions,
    running: Mutex<Option<Running>>,
}

struct Running {
    embedded: Embedded,
    /// Tells the window what the cluster follows once the emulator is set up.
    _telling: AbortOnDropHandle<()>,
}

/// The slot as the backend's tasks share it.
pub type LocalSlot = Arc<EmbeddedSlot>;

impl EmbeddedSlot {
    /// A slot that starts the embedded cluster as `options` say.
    pub fn new(options: EmbeddedOptions) -> EmbeddedSlot {
        EmbeddedSlot {
            options,
            running: Mutex::default(),
        }
    }

    /// Stops the embedded cluster (and its emulator), if it was started.
    pub async fn shutdown(&self) {
        if let Some(running) = self.running.lock().await.take() {
            running.embedded.shutdown().await;
        }
    }
}

/// Passes on what the embedded cluster follows each time it is known anew.
async fn tell(mut state: watch::Receiver<Option<EmbeddedAwsState>>, sink: EventSink) {
    loop {
        let known = state.borrow_and_update().clone();
        if let Some(known) = known {
            sink.log(
                "LocalCluster",
                match &known {
                    EmbeddedAwsState::Following { cluster, aws } => format!(
                        "following EKS cluster {cluster} in the AWS emulator at {}",
                        aws.emulator
                            .as_ref()
                            .map(|e| e.endpoint.as_str())
                            .unwrap_or_default()
                    ),
                    EmbeddedAwsState::Without { why } => {
                        format!("no EKS node groups to follow: {why}")
                    }
                },
            );
            sink.send(Event::EmbeddedAws(known));
        }
        if state.changed().await.is_err() {
            return;
        }
    }
}

async fn local_kubeconfig(
    local: &EmbeddedSlot,
    sink: &EventSink,
    label: &str,
) -> Result<String, ConnectError> {
    let mut slot = local.running.lock().await;
    if let Some(running) = slot.as_ref() {
        // A window that reconnects hears again what the cluster follows.
        if let Some(state) = running.embedded.state.borrow().clone() {
            sink.send(Event::EmbeddedAws(state));
        }
        return Ok(running.embedded.cluster.kubeconfig().to_owned());
    }
    sink.send(Event::Connection(ConnectionStatus::Connecting {
        target: label.to_owned(),
        stage: "Starting the local hybrid cluster (2 Windows + 2 Linux nodes), the calculator monolith and, when moto is installed, the AWS emulator it follows…".into(),
    }));
    let started = Instant::now();
    let embedded = Embedded::start(&local.options).await?;
    sink.log(
        "LocalCluster",
        format!(
            "local hybrid cluster up at {} with the calculator monolith ready, in {:.1} s",
            embedded.cluster.url(),
            started.elapsed().as_secs_f64()
        ),
    );
    let kubeconfig = embedded.cluster.kubeconfig().to_owned();
    let telling = AbortOnDropHandle::new(tokio::spawn(tell(embedded.state.clone(), sink.clone())));
    *slot = Some(Running {
        embedded,
        _telling: telling,
    });
    Ok(kubeconfig)
}

async fn connect_once(
    target: &ConnectionTarget,
    local: &LocalSlot,
    sink: &EventSink,
) -> Result<Connection, ConnectError> {
    let label = target.describe();
    let kubeconfig = match target {
        ConnectionTarget::Local => Some(local_kubeconfig(local, sink, &label).await?),
        ConnectionTarget::Kubeconfig { .. } | ConnectionTarget::Eks { .. } => None,
    };
    sink.send(Event::Connection(ConnectionStatus::Connecting {
        target: label,
        stage: "Contacting the API server…".into(),
    }));
    connect::open(target, kubeconfig.as_deref()).await
}

/// Errors a retry will not fix.
fn permanent(error: &ConnectError) -> bool {
    matches!(
        error,
        ConnectError::UnknownContext { .. }
            | ConnectError::Kubeconfig(_)
            | ConnectError::LocalCluster(_)
            | ConnectError::Forbidden { .. }
            | ConnectError::Aws(_)
    )
}

/// Connects to `target` and keeps the board live until the task is stopped, reconnecting when
/// the server goes away; `client_tx` carries the current connection to the features.
pub async fn run(
    target: ConnectionTarget,
    sink: EventSink,
    local: LocalSlot,
    client_tx: watch::Sender<Option<Connection>>,
    namespace: watch::Receiver<String>,
    plan: Arc<MigrationPlan>,
) {
    let label = target.describe();
    let mut last_update: Option<SystemTime> = None;
    loop {
        match connect_once(&target, &local, &sink).await {
            Ok(connected) => {
                let (server, version) = (connected.server.clone(), connected.version.clone());
                sink.log(
                    "Connected",
                    format!("{label}: {server} (Kubernetes {version})"),
                );
                // The features get the connection before the window hears it is live: a
                // command sent on seeing Live finds it.
                let _ = client_tx.send(Some(connected.clone()));
                sink.send(Event::Connection(ConnectionStatus::Live {
                    target: label.clone(),
                    server: server.clone(),
                    version: version.clone(),
                }));
                let lost = watch_cluster(
                    &connected,
                    &label,
                    &plan,
                    &sink,
                    namespace.clone(),
                    &mut last_update,
                )
                .await;
                let _ = client_tx.send(None);
                sink.log("Disconnected", format!("{label}: {lost}"));
                sink.send(Event::Connection(ConnectionStatus::Reconnecting {
                    target: label.clone(),
                    last_update: last_update.unwrap_or_else(SystemTime::now),
                    error: lost,
                }));
            }
            Err(error) => match last_update {
                // Never connected: say why. Retry only what a retry can fix.
                None => {
                    sink.send(Event::Connection(ConnectionStatus::Failed {
                        target: label.clone(),
                        error: error.clone(),
                    }));
                    if permanent(&error) {
                        return;
                    }
                }
                Some(at) => sink.send(Event::Connection(ConnectionStatus::Reconnecting {
                    target: label.clone(),
                    last_update: at,
                    error: error.to_string(),
                })),
            },
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
