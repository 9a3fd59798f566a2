//! The embedded local hybrid cluster the console starts when no cluster is given: with the
//! calculator monolith, and — when moto is installed — following the talk's EKS cluster in an AWS
//! emulator started beside it, so the node groups the EKS view shows are the lanes the board
//! shows, and scaling the Windows one to zero empties its lane.

use std::path::PathBuf;

use local_cluster::eks_follow::{EmulatorKeys, ExpectedGroups, FollowConfig};
use local_cluster::{ClusterConfig, LocalCluster};
use tokio::sync::watch;
use tokio_util::task::AbortOnDropHandle;

use crate::cluster::connection::ConnectError;
use crate::eks::emulator::{self, EmbeddedAws, Listening};
use crate::model::eks::AwsEmulator;
use crate::protocol::EmbeddedAwsState;

/// How the embedded cluster is started.
#[derive(Clone, Debug)]
pub struct EmbeddedOptions {
    /// The Python that runs moto (`None`: no emulator, the cluster keeps 2 + 2 nodes of its own).
    pub python: Option<PathBuf>,
    /// How pods' processes are started (`None`: this executable, as in the console).
    pub launcher: Option<local_cluster::kubelet::Launcher>,
    /// Where its kubeconfig is also written, for `kubectl` beside the console.
    pub kubeconfig_path: Option<PathBuf>,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        EmbeddedOptions {
            python: Some(PathBuf::from("python3")),
            launcher: None,
            kubeconfig_path: None,
        }
    }
}

/// The running embedded cluster and the emulator it follows, if any.
pub struct Embedded {
    /// The cluster.
    pub cluster: LocalCluster,
    /// What the window is told about EKS on it (`None` while the emulator is being set up).
    pub state: watch::Receiver<Option<EmbeddedAwsState>>,
    /// Sets the emulator up, then holds it until the console exits (stopping it when aborted).
    emulator: Option<AbortOnDropHandle<()>>,
}

impl Embedded {
    /// Starts the cluster. When moto is installed, the emulator is started first; once it
    /// listens, the cluster starts with the node groups the emulator is being given while it is
    /// given them (moto's first calls take over a second), and follows them from then on.
    /// Without moto, or when the emulator cannot take the groups, the cluster's nodes stay as
    /// they are and `state` says why.
    pub async fn start(options: &EmbeddedOptions) -> Result<Embedded, ConnectError> {
        let prepared = match &options.python {
            None => Err("the console was started without the AWS emulator".to_owned()),
            Some(python) => emulator::listen(python)
                .await
                .and_then(|l| Ok((l, emulator::expected_groups()?)))
                .map_err(|e| e.to_string()),
        };
        let (follow_eks, set_up) = match prepared {
            Ok((listening, groups)) => {
                let (ready_tx, ready) = watch::channel(false);
                let follow = FollowConfig {
                    region: Some(emulator::REGION.to_owned()),
                    emulator_keys: Some(EmulatorKeys {
                        access_key_id: AwsEmulator::ACCESS_KEY_ID.to_owned(),
                        secret_access_key: AwsEmulator::SECRET_ACCESS_KEY.to_owned(),
                    }),
                    expected: Some(ExpectedGroups { groups, ready }),
                    ..FollowConfig::new(emulator::CLUSTER, Some(listening.endpoint.clone()))
                };
                (Some(follow), Ok((listening, ready_tx)))
            }
            Err(why) => (None, Err(why)),
        };
        // The emulator is set up while the cluster starts (aborted, and moto stopped, if the
        // cluster does not).
        let (state_tx, state) = watch::channel(None);
        let emulator = match set_up {
            Ok((listening, ready)) => Some(AbortOnDropHandle::new(tokio::spawn(set_up_and_hold(
                listening, ready, state_tx,
            )))),
            Err(why) => {
                tracing::info!("no AWS emulator for the embedded cluster: {why}");
                let _ = state_tx.send(Some(EmbeddedAwsState::Without { why }));
                None
            }
        };
        let cluster = LocalCluster::start(ClusterConfig {
            with_calculator: true,
            launcher: options.launcher.clone(),
            kubeconfig_path: options.kubeconfig_path.clone(),
            follow_eks,
            ..ClusterConfig::default()
        })
        .await
        .map_err(|e| ConnectError::LocalCluster(e.to_string()))?;
        Ok(Embedded {
            cluster,
            state,
            emulator,
        })
    }

    /// Stops the cluster, then the emulator.
    pub async fn shutdown(self) {
        self.cluster.shutdown().await;
        drop(self.emulator);
    }
}

/// Gives the emulator the talk's cluster and node groups, tells the follower it may read them
/// and the window what it follows (or why not), then keeps the emulator running.
async fn set_up_and_hold(
    listening: Listening,
    ready: watch::Sender<bool>,
    state: watch::Sender<Option<EmbeddedAwsState>>,
) {
    let aws: EmbeddedAws = match listening.set_up().await {
        Ok(aws) => aws,
        Err(e) => {
            // The follower never reads (`ready` goes without `true`): the nodes stay as they are.
            tracing::warn!("the AWS emulator could not be set up: {e}");
            let _ = state.send(Some(EmbeddedAwsState::Without { why: e.to_string() }));
            return;
        }
    };
    let _ = ready.send(true);
    let _ = state.send(Some(EmbeddedAwsState::Following {
        aws: aws.target(),
        cluster: emulator::CLUSTER.to_owned(),
    }));
    // Held (and stopped with the task) until the console exits.
    std::future::pending::<()>().await;
    drop(aws);
}
