//! `plan check`: a migration plan against the cluster, each problem with the plan's file, line
//! and field, before any move; `plan init`: a plan skeleton written from the live objects.

use std::path::Path;

use anyhow::Context;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};

use super::Output;
use super::args::Cli;
use crate::cluster::connection::Connection;
use crate::model::migration_plan::{MigrationPlan, PlanFiles};
use crate::model::{plan_check, plan_init};

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

/// Writes a skeleton plan for the monolith `NAMESPACE/DEPLOYMENT`, with the path rules of the
/// HTTPRoute `edge` when given; to `out` (a new file) or as the printed text.
pub async fn init(
    monolith: &str,
    edge: Option<&str>,
    out: Option<&Path>,
    connection: &Connection,
) -> anyhow::Result<(String, bool)> {
    let (namespace, name) = monolith.split_once('/').with_context(|| {
        format!("--monolith {monolith:?} is not NAMESPACE/DEPLOYMENT (e.g. calculator/monolith)")
    })?;
    if let Some(out) = out
        && out.exists()
    {
        anyhow::bail!(
            "{} exists; choose another --out, or remove it first",
            out.display()
        );
    }
    let live = crate::migration::access::live_objects(&connection.api, namespace).await?;
    let route = match edge {
        None => None,
        Some(edge) => {
            let (route_namespace, route_name) = edge.split_once('/').unwrap_or((namespace, edge));
            let resource = ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "HTTPRoute"),
                "httproutes",
            );
            let routes: Api<DynamicObject> =
                Api::namespaced_with(connection.api.clone(), route_namespace, &resource);
            let route = routes.get(route_name).await.map_err(|e| match e {
                kube::Error::Api(status) if status.code == 404 => anyhow::anyhow!(
                    "there is no HTTPRoute {route_name:?} in namespace {route_namespace:?} ({}); are the Gateway API definitions installed?",
                    status.message
                ),
                other => anyhow::Error::new(other).context(format!("cannot read HTTPRoute {route_namespace}/{route_name}")),
            })?;
            Some(serde_json::to_value(route)?)
        }
    };
    let text = plan_init::skeleton(
        &live,
        namespace,
        name,
        route.as_ref(),
        &format!("the cluster at {}", connection.server),
    )?;
    match out {
        Some(out) => {
            std::fs::write(out, &text)
                .with_context(|| format!("cannot write {}", out.display()))?;
            let marked = text.lines().filter(|l| l.contains("FILL")).count();
            Ok((
                format!(
                    "wrote {} ({marked} lines marked FILL to finish); then: hybrid-console plan check {}\n",
                    out.display(),
                    out.display()
                ),
                true,
            ))
        }
        None => Ok((text, true)),
    }
}
