//! The AWS API emulator (moto server) the console starts beside its embedded cluster when moto is
//! installed: the talk's EKS cluster `hybrid-calculator` with its Linux and Windows node groups
//! from `manifests/cluster/hybrid-cluster.yaml`, as `scripts/eks-offline.sh` sets it up, so the
//! end of the story (scale the Windows node group to zero, watch the lane empty) runs with no AWS
//! account.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_eks::types::VpcConfigRequest;
use local_cluster::eks_follow::FollowedGroup;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::{Aws, AwsError};
use crate::model::eks::{AwsTarget, EksctlError, NodeGroupProposal};

/// The talk's cluster, as `manifests/cluster/hybrid-cluster.yaml` names it.
pub const CLUSTER: &str = "hybrid-calculator";
/// Its region, as the same file gives it.
pub const REGION: &str = "us-east-1";
/// The node groups made from that file, in order.
pub const NODE_GROUPS: [&str; 2] = ["linux", "windows"];

const CLUSTER_FILE: &str = include_str!("../../../manifests/cluster/hybrid-cluster.yaml");
/// The IAM roles the emulator is told (it checks only their shape).
const CLUSTER_ROLE: &str = "arn:aws:iam::123456789012:role/eks";
const NODE_ROLE: &str = "arn:aws:iam::123456789012:role/eksctl-hybrid-calculator-NodeInstanceRole";
/// moto's server (`python -m moto.server`'s `main`), stopped when its stdin reaches its end.
const RUN_UNTIL_STDIN_CLOSES: &str = "\
import os, sys, threading
def stop_when_stdin_closes():
    sys.stdin.buffer.read()
    os._exit(0)
threading.Thread(target=stop_when_stdin_closes, daemon=True).start()
from moto.server import main
main(sys.argv[1:])
";

/// How long moto may take to listen (about a second here; a cold Python start on a slow disk,
/// much more).
const LISTEN_WITHIN: Duration = Duration::from_secs(30);

/// Why there is no emulator beside the embedded cluster.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The Python interpreter is not there.
    #[error(
        "{python} was not found: the AWS emulator is a Python program (moto); install Python 3 and run `pip install 'moto[server]'` (or scripts/install-deps.sh), then restart the console"
    )]
    NoPython {
        /// The interpreter asked for.
        python: String,
    },
    /// Python is there, moto is not.
    #[error(
        "moto is not installed for {python}: run `pip install 'moto[server]'` (or scripts/install-deps.sh), then restart the console"
    )]
    NotInstalled {
        /// The interpreter asked.
        python: String,
    },
    /// moto started and stopped, or never listened.
    #[error("the AWS emulator (moto) did not start: {0}")]
    DidNotStart(String),
    /// It listened but refused the talk's cluster or node groups.
    #[error("the AWS emulator (moto) did not take the talk's EKS cluster: {0}")]
    Setup(#[from] AwsError),
    /// The node groups' file could not be read (a broken build).
    #[error("manifests/cluster/hybrid-cluster.yaml: {0}")]
    ClusterFile(#[from] EksctlError),
}

/// A running moto server holding the talk's EKS cluster; stopped when dropped.
#[derive(Debug)]
pub struct EmbeddedAws {
    /// Where the console and the embedded cluster reach it.
    pub endpoint: String,
    _server: Child,
}

impl EmbeddedAws {
    /// The console's way to it.
    pub fn target(&self) -> AwsTarget {
        AwsTarget::emulator(&self.endpoint, REGION)
    }
}

/// A moto server that listens but holds nothing yet; stopped when dropped.
#[derive(Debug)]
pub struct Listening {
    /// Its URL.
    pub endpoint: String,
    server: Child,
}

/// Starts moto with `python` on a free local port and waits until it listens (about half a
/// second); a missing Python or moto is told here.
pub async fn listen(python: &Path) -> Result<Listening, EmulatorError> {
    let python_name = python.display().to_string();
    let port = free_port().map_err(|e| EmulatorError::DidNotStart(e.to_string()))?;
    // The server's stdin is a pipe the console holds (in `Child`) and never writes: however the
    // console ends — closed, killed, crashed — the pipe closes and the server goes with it.
    let mut server = Command::new(python)
        .args(["-c", RUN_UNTIL_STDIN_CLOSES, "-H", "127.0.0.1", "-p"])
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => EmulatorError::NoPython {
                python: python_name.clone(),
            },
            _ => EmulatorError::DidNotStart(format!("{python_name}: {e}")),
        })?;
    // moto logs every request on stderr: it is read to the end so the pipe never fills, and its
    // first lines are kept to say why it stopped, if it does.
    let said = Arc::new(Mutex::new(Vec::<String>::new()));
    if let Some(stderr) = server.stderr.take() {
        let said = Arc::clone(&said);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(mut kept) = said.lock()
                    && kept.len() < 20
                {
                    kept.push(line);
                }
            }
        });
    }
    wait_listening(&mut server, port, &said, &python_name).await?;
    Ok(Listening {
        endpoint: format!("http://127.0.0.1:{port}"),
        server,
    })
}

impl Listening {
    /// Creates the talk's cluster and node groups in it (about a second and a half: moto
    /// loads its EKS and EC2 models on first use).
    pub async fn set_up(self) -> Result<EmbeddedAws, EmulatorError> {
        let aws = Aws::load(&AwsTarget::emulator(&self.endpoint, REGION)).await?;
        create_talk_cluster(&aws).await?;
        tracing::info!(endpoint = %self.endpoint, "AWS emulator up with EKS cluster {CLUSTER}");
        Ok(EmbeddedAws {
            endpoint: self.endpoint,
            _server: self.server,
        })
    }
}

/// The node groups [`Listening::set_up`] creates, as a cluster following them sees them (for a
/// cluster that starts while the emulator is being set up).
pub fn expected_groups() -> Result<Vec<FollowedGroup>, EmulatorError> {
    NODE_GROUPS
        .iter()
        .map(|group| {
            let proposal = NodeGroupProposal::from_eksctl(CLUSTER_FILE, group)?;
            Ok(FollowedGroup::new(
                &proposal.name,
                &proposal.ami_type,
                proposal.instance_types.first().map(String::as_str),
                proposal.labels.clone(),
                proposal
                    .taints
                    .iter()
                    .map(|t| (t.key.as_str(), t.value.as_deref(), t.effect.as_str())),
                usize::try_from(proposal.desired).unwrap_or(0),
            ))
        })
        .collect()
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}

async fn wait_listening(
    server: &mut Child,
    port: u16,
    said: &Mutex<Vec<String>>,
    python: &str,
) -> Result<(), EmulatorError> {
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = server.try_wait() {
            // Give the reader a moment to keep the last words.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let words = said.lock().map(|s| s.join("\n")).unwrap_or_default();
            // Python says `No module named 'moto'` (or 'moto.server' on a broken install).
            return Err(if words.contains("No module named 'moto") {
                EmulatorError::NotInstalled {
                    python: python.to_owned(),
                }
            } else {
                EmulatorError::DidNotStart(format!("it exited ({status}): {}", last_line(&words)))
            });
        }
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        if started.elapsed() > LISTEN_WITHIN {
            return Err(EmulatorError::DidNotStart(format!(
                "it did not listen on port {port} within {} s",
                LISTEN_WITHIN.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn last_line(words: &str) -> &str {
    words
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no output")
}

/// The cluster and its node groups, as `eksctl create cluster -f
/// manifests/cluster/hybrid-cluster.yaml` would make them.
async fn create_talk_cluster(aws: &Aws) -> Result<(), EmulatorError> {
    aws.eks()
        .create_cluster()
        .name(CLUSTER)
        .version("1.33")
        .role_arn(CLUSTER_ROLE)
        .resources_vpc_config(
            VpcConfigRequest::builder()
                .subnet_ids("subnet-0a")
                .subnet_ids("subnet-0b")
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws.sdk_error(e))?;
    let (cluster, _) = aws.cluster(CLUSTER).await?;
    for group in NODE_GROUPS {
        let mut proposal = NodeGroupProposal::from_eksctl(CLUSTER_FILE, group)?;
        proposal.node_role = Some(NODE_ROLE.to_owned());
        aws.create_node_group(&cluster, &proposal).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(future)
    }

    /// moto listening, or `None` (said) where it is not installed.
    async fn moto() -> Option<Listening> {
        match listen(Path::new("python3")).await {
            Ok(listening) => Some(listening),
            Err(e @ (EmulatorError::NotInstalled { .. } | EmulatorError::NoPython { .. })) => {
                eprintln!("skipped: {e}");
                None
            }
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn the_cluster_and_region_are_the_ones_the_eksctl_file_names() {
        let file: serde_yaml::Value = serde_yaml::from_str(CLUSTER_FILE).expect("yaml");
        assert_eq!(file["metadata"]["name"].as_str(), Some(CLUSTER));
        assert_eq!(file["metadata"]["region"].as_str(), Some(REGION));
        for group in NODE_GROUPS {
            NodeGroupProposal::from_eksctl(CLUSTER_FILE, group).expect("node group");
        }
    }

    #[test]
    fn a_missing_interpreter_is_told_with_how_to_get_moto() {
        let error =
            block_on(listen(Path::new("python3-that-is-not-here"))).expect_err("no interpreter");
        assert!(matches!(error, EmulatorError::NoPython { .. }), "{error}");
        assert!(error.to_string().contains("pip install 'moto[server]'"));
    }

    /// The pipe closing is what a console's end looks like to the server, however it ended.
    #[test]
    fn the_server_stops_when_its_stdin_closes() {
        block_on(async {
            let Some(mut listening) = moto().await else {
                return;
            };
            assert!(listening.server.try_wait().expect("wait").is_none());
            drop(listening.server.stdin.take());
            let exited = tokio::time::timeout(Duration::from_secs(10), listening.server.wait())
                .await
                .expect("moto still running 10 s after its stdin closed")
                .expect("wait");
            assert!(exited.success(), "{exited}");
        });
    }

    /// What a cluster starting beside the emulator assumes is what it then reads from it.
    #[test]
    fn the_expected_groups_are_the_ones_moto_then_holds() {
        use crate::model::eks::AwsEmulator;
        use local_cluster::eks_follow::{self, EmulatorKeys, FollowConfig};
        block_on(async {
            let Some(listening) = moto().await else {
                return;
            };
            let aws = listening.set_up().await.expect("set up");
            let follow = FollowConfig {
                region: Some(REGION.to_owned()),
                emulator_keys: Some(EmulatorKeys {
                    access_key_id: AwsEmulator::ACCESS_KEY_ID.into(),
                    secret_access_key: AwsEmulator::SECRET_ACCESS_KEY.into(),
                }),
                ..FollowConfig::new(CLUSTER, Some(aws.endpoint.clone()))
            };
            let client = eks_follow::client(&follow).await;
            let mut read = eks_follow::groups(&client, &follow).await.expect("groups");
            read.sort_by(|a, b| a.shape.group.cmp(&b.shape.group));
            let expected = expected_groups().expect("expected");
            assert_eq!(format!("{read:?}"), format!("{expected:?}"));
            assert_eq!(read.len(), 2);
            assert!(format!("{:?}", read[1].shape.taints).contains("NoSchedule"));
        });
    }

    /// A real Python without its site-packages (`-S`), so without moto.
    #[cfg(unix)]
    #[test]
    fn python_without_moto_is_told_how_to_install_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let python = dir.path().join("python-without-site-packages");
        std::fs::write(&python, "#!/bin/sh\nexec python3 -I -S \"$@\"\n").expect("write");
        std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let error = block_on(listen(&python)).expect_err("no moto");
        assert!(
            matches!(error, EmulatorError::NotInstalled { .. }),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .contains("run `pip install 'moto[server]'` (or scripts/install-deps.sh)")
        );
    }
}
