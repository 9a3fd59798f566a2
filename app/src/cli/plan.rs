//! `plan check`: a migration plan against the cluster, each problem with the plan's file, line
//! and field, before any move.

use std::path::Path;

use anyhow::Context;

use super::Output;
use super::args::Cli;
use crate::cluster::connection::Connection;
use crate::model::migration_plan::{MigrationPlan, PlanFiles};
use crate::model::plan_check;

/// The plan at `path` (or the built-in one) and its text.
pub fn read(path: Option<&Path>) -> anyhow::Result<(MigrationPlan, String)> {
    let plan = crate::migration::plan_file::load(path)?;
    let text = match path {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?,
        None => PlanFiles::built_in().plan,
    };
    Ok((plan, text))
}

/// Checks `plan` (whose file reads `text`) against the cluster: the findings, and whether
/// there were none.
pub async fn check(
    cli: &Cli,
    plan: &MigrationPlan,
    text: &str,
    connection: &Connection,
) -> anyhow::Result<(String, bool)> {
    let live =
        crate::migration::access::live_objects(&connection.api, &plan.monolith.namespace).await?;
    let findings = plan_check::check(plan, text, &live);
    let fits = findings.is_empty();
    let out = match cli.output {
        Output::Json => {
            serde_json::to_string_pretty(&serde_json::json!({
                "plan": plan.origin,
                "server": connection.server,
                "findings": findings,
            }))? + "\n"
        }
        Output::Table => {
            let mut out = if fits {
                format!(
                    "plan {} fits the cluster at {}: monolith {}/{}, {} services\n",
                    plan.origin,
                    connection.server,
                    plan.monolith.namespace,
                    plan.monolith.deployment,
                    plan.services.len()
                )
            } else {
                format!(
                    "plan {} does not fit the cluster at {} ({} problem{}):\n",
                    plan.origin,
                    connection.server,
                    findings.len(),
                    if findings.len() == 1 { "" } else { "s" }
                )
            };
            for finding in &findings {
                let at = match finding.line {
                    Some(line) => format!("{}:{line}", plan.origin),
                    None => plan.origin.clone(),
                };
                out.push_str(&format!("{at}: {}: {}\n", finding.field, finding.problem));
            }
            out
        }
    };
    Ok((out, fits))
}
