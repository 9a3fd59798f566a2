//! `hybrid-console eks …`: the region's clusters and node groups, the bearer token as a kubeconfig
//! exec plugin prints it, and a kubeconfig context that uses it — no `aws` CLI involved.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_yaml::Value;

use super::{Cli, Output};
use crate::backend::eks::{Aws, token};
use crate::model::eks::EksCluster;

/// `eks` arguments.
#[derive(Debug, Args)]
pub struct EksArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: EksCommand,
}

/// `eks` subcommands.
#[derive(Debug, Subcommand)]
pub enum EksCommand {
    /// The region's clusters with their node groups (OS from the AMI type, scaling, status).
    Clusters,
    /// Prints an ExecCredential with a fresh bearer token for the cluster (for kubectl).
    Token {
        /// The cluster.
        #[arg(long)]
        cluster: String,
    },
    /// Writes a kubeconfig context for the cluster whose credentials come from `eks token`.
    Kubeconfig {
        /// The cluster.
        #[arg(long)]
        cluster: String,
    },
    /// Checks the cluster for hybrid readiness, from the EKS API and the cluster itself; exit
    /// code 1 if a check fails.
    Check {
        /// The cluster.
        #[arg(long)]
        cluster: String,
        /// What the check may be told.
        #[command(flatten)]
        readiness: super::readiness::ReadinessArgs,
    },
}

/// The clusters as text.
pub fn clusters_table(clusters: &[EksCluster], region: &str) -> String {
    if clusters.is_empty() {
        return format!("No EKS clusters in {region}.\n");
    }
    let mut out = String::new();
    for c in clusters {
        let _ = writeln!(
            out,
            "{}  {}  Kubernetes {}  {}  {}",
            c.name, c.status, c.version, c.platform_version, c.endpoint
        );
        if c.node_groups.is_empty() {
            let _ = writeln!(out, "  no managed node groups");
        }
        for g in &c.node_groups {
            let _ = writeln!(
                out,
                "  node group {}  {}  {}  {}  min {} / desired {} / max {}  {}",
                g.name,
                g.os.title(),
                g.ami_type,
                g.instance_types.join(","),
                g.min,
                g.desired,
                g.max,
                g.status
            );
            for issue in &g.health_issues {
                let _ = writeln!(out, "    health: {issue}");
            }
        }
    }
    out
}

/// Runs `eks`.
pub async fn eks(cli: &Cli, args: &EksArgs) -> anyhow::Result<(String, bool)> {
    let aws = Aws::load(&cli.aws()).await?;
    match &args.command {
        EksCommand::Clusters => {
            let clusters = aws.clusters().await?;
            Ok(match cli.output {
                Output::Json => (serde_json::to_string_pretty(&clusters)? + "\n", true),
                Output::Table => (clusters_table(&clusters, &aws.region), true),
            })
        }
        EksCommand::Check { cluster, readiness } => {
            let (described, access) = aws.cluster(cluster).await?;
            let connection = crate::backend::eks::connect::open(
                std::sync::Arc::new(aws.clone()),
                cluster,
                &access,
            )
            .await?;
            let report = crate::backend::readiness::check(
                &connection.api,
                &described.name,
                Some(&described),
                &readiness.options(),
            )
            .await?;
            let passed = report.worst() < crate::model::readiness::Severity::Failed;
            Ok(match cli.output {
                Output::Json => (serde_json::to_string_pretty(&report)? + "\n", passed),
                Output::Table => (
                    super::readiness::table(&report, &format!("EKS {}", aws.region)),
                    passed,
                ),
            })
        }
        EksCommand::Token { cluster } => {
            let token = aws.token(cluster).await?;
            Ok((
                serde_json::to_string(&token::exec_credential(&token))? + "\n",
                true,
            ))
        }
        EksCommand::Kubeconfig { cluster } => {
            let (described, access) = aws.cluster(cluster).await?;
            let path = cli
                .kubeconfig
                .clone()
                .or_else(|| {
                    std::env::var_os("KUBECONFIG").and_then(|k| std::env::split_paths(&k).next())
                })
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".kube/config")))
                .context("no kubeconfig path: pass --kubeconfig PATH")?;
            let program = std::env::current_exe()
                .context("cannot tell where this program is, to name it in the kubeconfig")?;
            let context = write_context(&path, &described, &access, &aws.profile, &program)?;
            Ok((
                format!(
                    "wrote context {context:?} to {} (credentials: {} eks token)\n",
                    path.display(),
                    program.display()
                ),
                true,
            ))
        }
    }
}

fn named(list: &mut Vec<Value>, name: &str, entry: Value) {
    match list
        .iter_mut()
        .find(|e| e.get("name").and_then(Value::as_str) == Some(name))
    {
        Some(existing) => *existing = entry,
        None => list.push(entry),
    }
}

/// Adds (or replaces) the cluster, user and context `arn` in the kubeconfig at `path`, keeping
/// everything else in it, and makes it the current context. Returns the context's name.
fn write_context(
    path: &Path,
    cluster: &EksCluster,
    access: &crate::backend::eks::ClusterAccess,
    profile: &Option<String>,
    program: &Path,
) -> anyhow::Result<String> {
    let mut config: Value = match std::fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => serde_yaml::from_str(&text)
            .with_context(|| format!("{} is not a kubeconfig file", path.display()))?,
        Ok(_) => Value::Null,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Value::Null,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    if !config.is_mapping() {
        config = serde_yaml::from_str("apiVersion: v1\nkind: Config\npreferences: {}\n")?;
    }
    // The context is named like `aws eks update-kubeconfig` names it: the cluster's ARN.
    let name = access.arn.clone();
    let mut args = vec![
        "eks".to_owned(),
        "token".into(),
        "--cluster".into(),
        cluster.name.clone(),
        "--region".into(),
        cluster.region.clone(),
    ];
    if let Some(p) = profile {
        args.extend(["--profile".into(), p.clone()]);
    }
    let entries: [(&str, Value); 3] = [
        (
            "clusters",
            serde_yaml::to_value(serde_json::json!({
                "name": name,
                "cluster": {"server": access.endpoint, "certificate-authority-data": access.certificate_authority},
            }))?,
        ),
        (
            "users",
            serde_yaml::to_value(serde_json::json!({
                "name": name,
                "user": {"exec": {
                    "apiVersion": "client.authentication.k8s.io/v1beta1",
                    "command": program.to_string_lossy(),
                    "args": args,
                    "interactiveMode": "Never",
                }},
            }))?,
        ),
        (
            "contexts",
            serde_yaml::to_value(serde_json::json!({
                "name": name,
                "context": {"cluster": name, "user": name},
            }))?,
        ),
    ];
    let map = config
        .as_mapping_mut()
        .context("the kubeconfig is not a YAML mapping")?;
    for (key, entry) in entries {
        let list = map
            .entry(Value::from(key))
            .or_insert_with(|| Value::Sequence(Vec::new()));
        if !list.is_sequence() {
            *list = Value::Sequence(Vec::new());
        }
        if let Some(seq) = list.as_sequence_mut() {
            named(seq, &name, entry);
        }
    }
    map.insert(Value::from("current-context"), Value::from(name.clone()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    write_private(path, &serde_yaml::to_string(&config)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(name)
}

/// Writes `text` readable by the user only (a kubeconfig names credentials).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        use std::os::unix::fs::PermissionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        // An existing file keeps its mode on open: tighten it too.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(text.as_bytes())
    }
    #[cfg(not(unix))]
    {
        std::fs::write(path, text)
    }
}
