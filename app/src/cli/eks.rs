//! `hybrid-console eks …`: the region's clusters and node groups, the bearer token as a kubeconfig
//! exec plugin prints it, and a kubeconfig context that uses it — no `aws` CLI involved.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_yaml::Value;

use super::args::{AddNodegroupArgs, Cli, EksArgs, EksCommand, Output};
use crate::eks::retirement;
use crate::eks::{Aws, token};
use crate::model::eks::EksCluster;
use crate::model::eks::Retirement;

/// Asks the operator to type `answer` to go ahead, unless `yes`. Without a terminal to ask on,
/// refuses: a script must say --yes.
fn confirm(question: &str, answer: &str, yes: bool) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("{question}: this needs confirmation; run it in a terminal, or pass --yes");
    }
    eprint!("{question}\nType {answer:?} to confirm: ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if line.trim() != answer {
        anyhow::bail!("not confirmed; nothing was changed");
    }
    Ok(())
}

/// The Kubernetes side of an EKS command: the kubeconfig context given with --kubeconfig or
/// --context (for clusters reached through a tunnel or a proxy, or a local stand-in), else the
/// cluster's endpoint with the console's own tokens.
async fn kube_side(
    cli: &Cli,
    aws: &Aws,
    cluster: &str,
    access: &crate::eks::ClusterAccess,
) -> anyhow::Result<crate::cluster::connection::Connection> {
    if cli.kubeconfig.is_some() || cli.context.is_some() {
        let target = crate::cluster::connection::ConnectionTarget::Kubeconfig {
            path: cli.kubeconfig.clone(),
            context: cli.context.clone(),
        };
        return Ok(crate::cluster::connection::open(&target, None).await?);
    }
    Ok(crate::eks::connect::open(std::sync::Arc::new(aws.clone()), cluster, access).await?)
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
        EksCommand::AddNodegroup(args) => add_nodegroup(cli, &aws, args).await,
        EksCommand::ScaleNodegroup {
            cluster,
            nodegroup,
            size,
            yes,
            timeout,
        } => {
            let (described, access) = aws.cluster(cluster).await?;
            let group = described.group(nodegroup)?.clone();
            if *size > 0 {
                // Above zero EKS drains the nodes it removes itself, as managed node groups do.
                confirm(
                    &format!(
                        "Scale node group {nodegroup} of cluster {cluster} from {} to {size} node(s)?",
                        group.desired
                    ),
                    nodegroup,
                    *yes,
                )?;
                aws.scale_node_group(cluster, &group, *size).await?;
                return Ok((
                    format!(
                        "EKS is scaling node group {nodegroup} of cluster {cluster} to {size} node(s).\n"
                    ),
                    true,
                ));
            }
            let connection = kube_side(cli, &aws, cluster, &access).await?;
            retire_group(
                &aws,
                &connection,
                cluster,
                nodegroup,
                Retirement::ScaleToZero,
                *yes,
                *timeout,
            )
            .await
        }
        EksCommand::DeleteNodegroup {
            cluster,
            nodegroup,
            yes,
            timeout,
        } => {
            let (_, access) = aws.cluster(cluster).await?;
            let connection = kube_side(cli, &aws, cluster, &access).await?;
            retire_group(
                &aws,
                &connection,
                cluster,
                nodegroup,
                Retirement::Delete,
                *yes,
                *timeout,
            )
            .await
        }
        EksCommand::Check { cluster, readiness } => {
            let (described, access) = aws.cluster(cluster).await?;
            let connection = kube_side(cli, &aws, cluster, &access).await?;
            let report = crate::readiness::check(
                &connection.api,
                &described.name,
                Some(&described),
                &cli.aws(),
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

/// Surveys, refuses or confirms, drains, then scales to zero or deletes.
async fn retire_group(
    aws: &Aws,
    connection: &crate::cluster::connection::Connection,
    cluster: &str,
    nodegroup: &str,
    retirement: Retirement,
    yes: bool,
    timeout: u64,
) -> anyhow::Result<(String, bool)> {
    let (_, survey) = retirement::survey(aws, &connection.api, cluster, nodegroup).await?;
    if let Some(refusal) = survey.refusal(retirement) {
        anyhow::bail!(refusal);
    }
    for warning in survey.warnings() {
        eprintln!("warning: {warning}");
    }
    let question = format!(
        "{} (cordon and drain {} node(s): {})?",
        capitalized(&retirement.describe(cluster, nodegroup)),
        survey.nodes.len(),
        if survey.nodes.is_empty() {
            "none".to_owned()
        } else {
            survey.nodes.join(", ")
        }
    );
    confirm(&question, nodegroup, yes)?;
    let progress = |line: String| eprintln!("{line}");
    let done = retirement::retire(
        aws,
        connection,
        &survey,
        retirement,
        std::time::Duration::from_secs(timeout),
        &progress,
    )
    .await?;
    Ok((done + "\n", true))
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}

/// Shows the findings for the proposed group, refuses on a failed one, confirms, creates it.
async fn add_nodegroup(
    cli: &Cli,
    aws: &Aws,
    args: &AddNodegroupArgs,
) -> anyhow::Result<(String, bool)> {
    let proposal = args.proposal()?;
    let windows_taint: crate::model::readiness::ExpectedTaint =
        args.windows_taint.parse().map_err(anyhow::Error::msg)?;
    let (described, access) = aws.cluster(&args.cluster).await?;
    // The VPC CNI's settings come from the cluster, when it can be reached.
    let connection = match kube_side(cli, aws, &args.cluster, &access).await {
        Ok(connection) => Some(connection),
        Err(e) => {
            eprintln!(
                "warning: the cluster's API is not reachable, so Windows IPAM is not checked: {e:#}"
            );
            None
        }
    };
    let catalog = aws.instance_types(&proposal.instance_types).await;
    let report = crate::readiness::review_node_group(
        &described,
        &proposal,
        connection.as_ref().map(|c| &c.api),
        &windows_taint,
        &catalog,
    )
    .await?;
    let text = super::readiness::table(
        &report,
        &format!("node group {} as proposed", proposal.name),
    );
    if cli.output == Output::Table {
        eprint!("{text}");
    }
    if report.worst() == crate::model::readiness::Severity::Failed {
        anyhow::bail!(
            "not adding node group {} to cluster {}: a check above failed; fix it and try again",
            proposal.name,
            described.name
        );
    }
    confirm(
        &format!(
            "Add node group {} ({}, {}, min {} / desired {} / max {}) to cluster {}?",
            proposal.name,
            proposal.ami_type,
            proposal.instance_types.join(","),
            proposal.min,
            proposal.desired,
            proposal.max,
            described.name
        ),
        &proposal.name,
        args.yes,
    )?;
    aws.create_node_group(&described, &proposal).await?;
    Ok(match cli.output {
        Output::Json => (serde_json::to_string_pretty(&proposal)? + "\n", true),
        Output::Table => (
            format!(
                "EKS is creating node group {} in cluster {}.\n",
                proposal.name, described.name
            ),
            true,
        ),
    })
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
    access: &crate::eks::ClusterAccess,
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
