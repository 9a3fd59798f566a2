//! Following an EKS cluster's managed node groups (on AWS, or on an emulator such as moto
//! server): each group's desired size becomes that many Ready nodes with the group's labels,
//! taints and instance type. Scaling down (or deleting a group) cordons and drains the nodes
//! through evictions first, as managed node groups do, then removes them.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::BehaviorVersion;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::node_pool::{GroupShape, NodePool};
use crate::nodes::NodeOs;

/// Which cluster to follow, and where.
#[derive(Clone, Debug)]
pub struct FollowConfig {
    /// The EKS cluster's name.
    pub cluster: String,
    /// The EKS API endpoint (an emulator's URL); `None`: the SDK's (AWS_ENDPOINT_URL honoured).
    pub endpoint: Option<String>,
    /// The region; `None`: the SDK's (AWS_REGION, the profile's).
    pub region: Option<String>,
    /// Keys to sign with instead of the SDK's credential chain: an emulator's, which takes any
    /// (a console that starts one for its embedded cluster has no AWS credentials to lend).
    pub emulator_keys: Option<EmulatorKeys>,
    /// The node groups as they will be once EKS can be asked (an emulator still being set up):
    /// the cluster starts with their nodes instead of reading them, so it starts while the
    /// emulator is set up.
    pub expected: Option<ExpectedGroups>,
    /// How often the node groups are read.
    pub every: Duration,
    /// How long to wait before trying a refused eviction again.
    pub drain_retry: Duration,
}

impl FollowConfig {
    /// Follows `cluster` at `endpoint`, reading every second.
    pub fn new(cluster: impl Into<String>, endpoint: Option<String>) -> FollowConfig {
        FollowConfig {
            cluster: cluster.into(),
            endpoint,
            region: None,
            emulator_keys: None,
            expected: None,
            every: Duration::from_secs(1),
            drain_retry: Duration::from_secs(2),
        }
    }
}

/// Node groups known before EKS can be asked, and the word that it can.
#[derive(Clone, Debug)]
pub struct ExpectedGroups {
    /// The groups.
    pub groups: Vec<FollowedGroup>,
    /// Becomes `true` once EKS holds them: until then the groups are not read (a cluster
    /// created but not yet given its node groups would read as none, and drain every node).
    /// Dropped without `true`, the groups are never followed.
    pub ready: tokio::sync::watch::Receiver<bool>,
}

/// An access key pair for an AWS API emulator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmulatorKeys {
    /// The access key ID.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
}

/// Why the node groups could not be read.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot read the node groups of EKS cluster {cluster:?}{}: {detail}",
    endpoint.as_deref().map(|e| format!(" at {e}")).unwrap_or_default()
)]
pub struct FollowError {
    cluster: String,
    endpoint: Option<String>,
    detail: String,
}

/// One node group as EKS describes it.
#[derive(Clone, Debug)]
pub struct FollowedGroup {
    /// How its nodes look.
    pub shape: GroupShape,
    /// How many nodes it wants.
    pub desired: usize,
}

/// A node group's taint: key, value, and effect as Kubernetes spells it (`NoSchedule`).
pub type GroupTaint<'a> = (&'a str, Option<&'a str>, &'a str);

impl FollowedGroup {
    /// Group `name` of AMI type `ami_type` (its OS and Windows release), with `desired` nodes.
    pub fn new<'a>(
        name: &str,
        ami_type: &str,
        instance_type: Option<&str>,
        labels: BTreeMap<String, String>,
        taints: impl IntoIterator<Item = GroupTaint<'a>>,
        desired: usize,
    ) -> FollowedGroup {
        let taints: Vec<Value> = taints
            .into_iter()
            .map(|(key, value, effect)| {
                let mut taint = json!({ "key": key, "effect": effect });
                if let Some(v) = value {
                    taint["value"] = json!(v);
                }
                taint
            })
            .collect();
        FollowedGroup {
            shape: GroupShape {
                group: name.to_owned(),
                os: if ami_type.starts_with("WINDOWS_") {
                    NodeOs::Windows
                } else {
                    NodeOs::Linux
                },
                windows_server: crate::nodes::WindowsServer::of_ami_type(ami_type)
                    .unwrap_or_default(),
                instance_type: instance_type.unwrap_or("t3.medium").to_owned(),
                labels,
                taints: Some(Value::Array(taints)),
            },
            desired,
        }
    }
}

/// The EKS client for `config` (region and credentials from the usual AWS environment unless
/// `config` gives them).
pub async fn client(config: &FollowConfig) -> aws_sdk_eks::Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
    if let Some(region) = &config.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(keys) = &config.emulator_keys {
        loader = loader.credentials_provider(aws_sdk_eks::config::Credentials::new(
            &keys.access_key_id,
            &keys.secret_access_key,
            None,
            None,
            "emulator",
        ));
    }
    let sdk = loader.load().await;
    let mut builder = aws_sdk_eks::config::Builder::from(&sdk);
    if let Some(endpoint) = &config.endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    aws_sdk_eks::Client::from_conf(builder.build())
}

fn kubernetes_effect(effect: &str) -> &'static str {
    match effect {
        "NO_EXECUTE" => "NoExecute",
        "PREFER_NO_SCHEDULE" => "PreferNoSchedule",
        _ => "NoSchedule",
    }
}

/// Every node group of the cluster with its desired size (a group being deleted wants none).
pub async fn groups(
    client: &aws_sdk_eks::Client,
    config: &FollowConfig,
) -> Result<Vec<FollowedGroup>, FollowError> {
    let failed = |e: &dyn std::fmt::Display| FollowError {
        cluster: config.cluster.clone(),
        endpoint: config.endpoint.clone(),
        detail: e.to_string().lines().next().unwrap_or_default().to_owned(),
    };
    let mut names = Vec::new();
    let mut pages = client
        .list_nodegroups()
        .cluster_name(&config.cluster)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| failed(&aws_sdk_eks::error::DisplayErrorContext(e)))?;
        names.extend(page.nodegroups().iter().cloned());
    }
    let mut out = Vec::new();
    for name in names {
        let described = client
            .describe_nodegroup()
            .cluster_name(&config.cluster)
            .nodegroup_name(&name)
            .send()
            .await
            .map_err(|e| failed(&aws_sdk_eks::error::DisplayErrorContext(e)))?;
        let Some(group) = described.nodegroup() else {
            continue;
        };
        let deleting = group.status().is_some_and(|s| s.as_str() == "DELETING");
        let desired = if deleting {
            0
        } else {
            group
                .scaling_config()
                .and_then(|s| s.desired_size())
                .unwrap_or(0)
                .max(0) as usize
        };
        out.push(FollowedGroup::new(
            &name,
            group.ami_type().map(|a| a.as_str()).unwrap_or_default(),
            group.instance_types().first().map(String::as_str),
            group
                .labels()
                .map(|l| l.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            group.taints().iter().map(|t| {
                (
                    t.key().unwrap_or_default(),
                    t.value(),
                    kubernetes_effect(t.effect().map(|e| e.as_str()).unwrap_or_default()),
                )
            }),
            desired,
        ));
    }
    Ok(out)
}

/// Brings the pool in line with the node groups: missing nodes join at once; excess nodes (the
/// newest first) are drained and removed in the background. `leaving` holds the nodes on their
/// way out, so they are not counted twice.
pub fn reconcile(
    pool: &Arc<NodePool>,
    followed: &[FollowedGroup],
    leaving: &Arc<Mutex<HashSet<String>>>,
    drain_retry: Duration,
) -> Vec<JoinHandle<()>> {
    let mut wanted: BTreeMap<String, (usize, Option<&GroupShape>)> =
        pool.groups().into_iter().map(|g| (g, (0, None))).collect();
    for g in followed {
        wanted.insert(g.shape.group.clone(), (g.desired, Some(&g.shape)));
    }
    let mut drains = Vec::new();
    for (group, (desired, shape)) in wanted {
        let staying: Vec<String> = {
            let leaving = leaving.lock().unwrap_or_else(|e| e.into_inner());
            pool.group(&group)
                .into_iter()
                .filter(|n| !leaving.contains(n))
                .collect()
        };
        if staying.len() < desired
            && let Some(shape) = shape
        {
            for _ in staying.len()..desired {
                if let Err(e) = pool.join(shape) {
                    tracing::warn!(%group, error = %e, "a node could not join");
                }
            }
        }
        for node in staying.iter().skip(desired).rev() {
            leaving
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(node.clone());
            let (pool, leaving, node) = (pool.clone(), leaving.clone(), node.clone());
            tracing::info!(%node, %group, "scaling down: draining the node");
            drains.push(tokio::spawn(async move {
                match pool.drain(&node, drain_retry).await {
                    Ok(()) => {
                        if let Err(e) = pool.leave(&node) {
                            tracing::warn!(%node, error = %e, "the node could not be removed");
                        }
                    }
                    Err(e) => tracing::warn!(%node, error = %e, "the node could not be drained"),
                }
                leaving
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&node);
            }));
        }
    }
    drains
}

/// Follows the node groups until the task is aborted; errors reading them are logged and the
/// next round tries again.
pub async fn follow(pool: Arc<NodePool>, client: aws_sdk_eks::Client, config: FollowConfig) {
    if let Some(expected) = &config.expected {
        let mut ready = expected.ready.clone();
        if ready.wait_for(|ready| *ready).await.is_err() {
            tracing::warn!(cluster = %config.cluster, "the node groups never became readable: not followed");
            return;
        }
    }
    let leaving: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut interval = tokio::time::interval(config.every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        interval.tick().await;
        match groups(&client, &config).await {
            Ok(followed) => {
                if failing {
                    tracing::info!(cluster = %config.cluster, "reading the node groups again");
                    failing = false;
                }
                // The drains run on their own; their handles end with them.
                drop(reconcile(&pool, &followed, &leaving, config.drain_retry));
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "node groups not followed until they can be read");
                    failing = true;
                }
            }
        }
    }
}
