//! The embedded local hybrid cluster the console starts when no cluster is given: with the
//! calculator monolith, and — when moto is installed — following the talk's EKS cluster in an AWS
//! emulator started beside it, so the node groups the EKS view shows are the lanes the board
//! shows, and scaling the Windows one to zero empties its lane.

use std::path::PathBuf;
use std::time::Instant;

use local_cluster::eks_follow::{EmulatorKeys, FollowConfig};
use local_cluster::{ClusterConfig, LocalCluster};

use crate::cluster::connection::ConnectError;
use crate::eks::emulator::{self, EmbeddedAws};
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
    /// The emulator (dropped after the cluster, which reads it until it stops).
    aws: Option<EmbeddedAws>,
    /// What the window is told about EKS on it.
    pub state: EmbeddedAwsState,
}

impl Embedded {
    /// Starts the emulator (when asked and installed) and the cluster following it; without
    /// one, the cluster with nodes of its own, and why there is no emulator.
    pub async fn start(options: &EmbeddedOptions) -> Result<Embedded, ConnectError> {
        let aws = match &options.python {
            None => Err("the console was started without the AWS emulator".to_owned()),
            Some(python) => {
                let started = Instant::now();
                match emulator::start(python).await {
                    Ok(aws) => {
                        tracing::info!(
                            endpoint = %aws.endpoint,
                            seconds = started.elapsed().as_secs_f64(),
                            "AWS emulator started for the embedded cluster"
                        );
                        Ok(aws)
                    }
                    Err(e) => {
                        tracing::info!("no AWS emulator for the embedded cluster: {e}");
                        Err(e.to_string())
                    }
                }
            }
        };
        let follow_eks = aws.as_ref().ok().map(|aws| FollowConfig {
            region: Some(emulator::REGION.to_owned()),
            emulator_keys: Some(EmulatorKeys {
                access_key_id: AwsEmulator::ACCESS_KEY_ID.to_owned(),
                secret_access_key: AwsEmulator::SECRET_ACCESS_KEY.to_owned(),
            }),
            ..FollowConfig::new(emulator::CLUSTER, Some(aws.endpoint.clone()))
        });
        let cluster = LocalCluster::start(ClusterConfig {
            with_calculator: true,
            launcher: options.launcher.clone(),
            kubeconfig_path: options.kubeconfig_path.clone(),
            follow_eks,
            ..ClusterConfig::default()
        })
        .await
        .map_err(|e| ConnectError::LocalCluster(e.to_string()))?;
        let (aws, state) = match aws {
            Ok(aws) => {
                let state = EmbeddedAwsState::Following {
                    aws: aws.target(),
                    cluster: emulator::CLUSTER.to_owned(),
                };
                (Some(aws), state)
            }
            Err(why) => (None, EmbeddedAwsState::Without { why }),
        };
        Ok(Embedded {
            cluster,
            aws,
            state,
        })
    }

    /// Stops the cluster, then the emulator.
    pub async fn shutdown(self) {
        self.cluster.shutdown().await;
        drop(self.aws);
    }

    /// What is running, in a sentence for the log.
    pub fn describe(&self) -> String {
        match &self.aws {
            Some(aws) => format!(
                "local hybrid cluster up at {}, following EKS cluster {} in the AWS emulator at {}",
                self.cluster.url(),
                emulator::CLUSTER,
                aws.endpoint
            ),
            None => format!("local hybrid cluster up at {}", self.cluster.url()),
        }
    }
}
