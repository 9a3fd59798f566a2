//! `hybrid-console migrate` and `retire`: the same executor the window drives, with the plan
//! printed before anything changes, a confirmation, progress lines as it goes, and an exit code
//! that says whether the service is where it was asked to go.

use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal, Write as _};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use tokio_util::sync::CancellationToken;

use super::args::{Cli, Destination, MigrateArgs, Output, RetireArgs, RetireChoice};
use crate::cluster::connection::Connection;
use crate::migration::readings::MetricsSource;
use crate::migration::{Mover, Reporter, direction_words};
use crate::model::analysis::Progression;
use crate::model::migration_plan::MigrationPlan;
use crate::model::move_plan::MovePlan;
use crate::model::move_progress::{MoveEvent, MoveOutcome, MoveProgress, event_line};
use crate::model::moves::RetireStage;
use crate::model::moves::{Control, Direction, StepKind};

/// The plan as a person reviews it.
pub fn plan_text(plan: &MovePlan, migration: &MigrationPlan, user: &str) -> String {
    let mut out = format!(
        "Move {} {} (plan {}, {})\n",
        plan.service,
        direction_words(plan.direction),
        plan.plan,
        migration.origin
    );
    let _ = writeln!(
        out,
        "  as {user} in namespace {}; image {}{}",
        plan.namespace,
        plan.images.join(", "),
        plan.target_os
            .as_deref()
            .filter(|_| plan.direction == Direction::Extract)
            .map(|os| format!("; its pods go to {os} nodes"))
            .unwrap_or_default()
    );
    let _ = writeln!(out, "\nChanges, in order:");
    let width = plan
        .changes
        .iter()
        .map(|c| c.object.len())
        .max()
        .unwrap_or(0);
    for change in &plan.changes {
        let _ = writeln!(
            out,
            "  {:<6}  {:<width$}  {}",
            change.action, change.object, change.detail
        );
    }
    if !plan.redeploys.is_empty() {
        let _ = writeln!(out, "\nRolls out new pods: {}", plan.redeploys.join(", "));
    }
    if !plan.nodes.is_empty() {
        let _ = writeln!(out, "\nNodes for the new pods:");
        for node in &plan.nodes {
            let verdict = match (&node.room, &node.why_not) {
                (Some(room), _) => format!("yes, room for {room}"),
                (None, Some(why)) => format!("no: {why}"),
                (None, None) => "no".into(),
            };
            let _ = writeln!(out, "  {} ({})  {verdict}", node.node, node.os);
        }
    }
    let (asked, missing) = plan.permissions_checked();
    let _ = writeln!(
        out,
        "\nPermissions (SelfSubjectAccessReview): {asked} checked, {}",
        if missing.is_empty() {
            "all allowed".to_owned()
        } else {
            format!("missing: {}", missing.join(", "))
        }
    );
    let steps: Vec<&str> = plan.steps.iter().map(|s| s.title()).collect();
    let _ = writeln!(out, "Steps: {}", steps.join(" → "));
    let _ = writeln!(out, "Digest: {}", plan.digest);
    for note in &plan.notes {
        let _ = writeln!(out, "\nNOTE: {note}");
    }
    for refusal in &plan.refusals {
        let _ = writeln!(out, "\nREFUSED: {refusal}");
    }
    out
}

/// Asks on the terminal; refuses to guess when there is none.
async fn confirm(question: String) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("stdin is not a terminal, so the move cannot be confirmed; pass --yes to go ahead");
    }
    tokio::task::spawn_blocking(move || {
        print!("{question} [y/N] ");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
    })
    .await?
}

/// Prints progress lines (table output) and keeps the progress for the JSON summary.
fn printer(json: bool) -> (Reporter, Arc<std::sync::Mutex<Option<MoveProgress>>>) {
    let started = Instant::now();
    let progress: Arc<std::sync::Mutex<Option<MoveProgress>>> = Arc::default();
    let kept = progress.clone();
    let report: Reporter = Arc::new(move |event: MoveEvent| {
        if let Ok(mut guard) = kept.lock() {
            MoveProgress::follow(&mut guard, &event, std::time::SystemTime::now());
        }
        if !json && let Some(line) = event_line(&event) {
            // The outcome is printed once, at the end.
            if !matches!(event, MoveEvent::Finished(_)) {
                println!("[{:>6.1}s] {line}", started.elapsed().as_secs_f64());
            }
        }
    });
    (report, progress)
}

/// The final text and whether it is a success: a completed move, or a completed rollback
/// when that is what was asked for.
fn outcome_result(
    outcome: MoveOutcome,
    progress: &std::sync::Mutex<Option<MoveProgress>>,
    output: Output,
    rollback_asked: bool,
) -> anyhow::Result<(String, bool)> {
    let ok = outcome.completed()
        || (rollback_asked && matches!(outcome, MoveOutcome::RolledBack { .. }));
    let text = match output {
        Output::Json => {
            let progress = progress.lock().ok().and_then(|p| p.clone());
            serde_json::to_string_pretty(&serde_json::json!({
                "outcome": outcome,
                "progress": progress,
            }))? + "\n"
        }
        Output::Table if ok => format!("{}\n", outcome.describe()),
        Output::Table => {
            eprintln!("error: the move {}", outcome.describe());
            String::new()
        }
    };
    Ok((text, ok))
}

/// Runs `migrate`.
pub async fn migrate(
    cli: &Cli,
    args: &MigrateArgs,
    plan: MigrationPlan,
    connection: &Connection,
) -> anyhow::Result<(String, bool)> {
    let plan = Arc::new(plan);
    let mut mover = Mover::new(connection, plan.clone()).await;
    if let Some(url) = &args.prometheus {
        mover.metrics = MetricsSource::Prometheus(url.clone());
    }
    let json = cli.output == Output::Json;
    if args.status {
        let recorded = mover.recorded().await?;
        // A progressive move's figures: what the monolith's pods answer over two seconds.
        let figures = match &recorded {
            Some(record) if record.progression.is_some() => Some(
                mover
                    .figures_now(&record.service, std::time::Duration::from_secs(2))
                    .await
                    .map_err(|e| e.to_string()),
            ),
            _ => None,
        };
        return Ok(match (recorded, cli.output) {
            (record, Output::Json) => {
                // The record as it is (null: none), with a progressive move's figures added.
                let mut value = serde_json::to_value(&record)?;
                if let (Some(fields), Some(figures)) = (value.as_object_mut(), &figures) {
                    let figures = match figures {
                        Ok(window) => serde_json::to_value(window)?,
                        Err(why) => serde_json::json!({"unread": why}),
                    };
                    fields.insert("figures".into(), figures);
                }
                (serde_json::to_string_pretty(&value)? + "\n", true)
            }
            (Some(record), Output::Table) => {
                let mut text = format!("{}\n", record.summary());
                match figures {
                    Some(Ok(window)) => {
                        let _ = writeln!(
                            text,
                            "over the last 2 s: {}",
                            window.summary(record.step == StepKind::Shadow)
                        );
                    }
                    Some(Err(why)) => {
                        let _ = writeln!(text, "the figures could not be read: {why}");
                    }
                    None => {}
                }
                (text, true)
            }
            (None, Output::Table) => ("no move is in progress\n".into(), true),
        });
    }
    if let Some(control) = steering(args) {
        return steer(&mover, control, cli.output).await;
    }
    let abort = CancellationToken::new();
    let on_interrupt = abort.clone();
    // Stopped with the command: a Ctrl-C after it has nothing to abort.
    let _interrupt = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\ninterrupted: aborting the move and rolling back (this takes a moment)");
            on_interrupt.cancel();
        }
    }));
    let (report, progress) = printer(json);
    if args.resume || args.rollback {
        let Some(record) = mover.recorded().await? else {
            bail!("no move is in progress");
        };
        let what = if args.resume { "Finish" } else { "Roll back" };
        if !args.yes
            && !confirm(format!(
                "{what} the move in progress ({})?",
                record.summary()
            ))
            .await?
        {
            return Ok(("cancelled; nothing changed\n".into(), false));
        }
        if args.resume {
            let outcome = mover.resume(report, abort).await?;
            return outcome_result(outcome, &progress, cli.output, false);
        }
        let outcome = mover.roll_back_recorded(report).await?;
        return outcome_result(outcome, &progress, cli.output, true);
    }
    let service = args
        .service
        .as_deref()
        .context("name the service to move")?;
    let direction = match args.to {
        Some(Destination::Monolith) => Direction::Return,
        _ => Direction::Extract,
    };
    let move_plan = if args.progressive {
        if direction != Direction::Extract {
            bail!(
                "--progressive moves a service out of the monolith (--to linux); a move back switches at once"
            );
        }
        let progression = progression(args, &plan);
        mover
            .prepare_progressive(service, args.image.as_deref(), progression, args.at.into())
            .await?
    } else {
        mover
            .prepare(service, direction, args.image.as_deref())
            .await?
    };
    if direction == Direction::Extract
        && let Some(os) = move_plan.target_os.as_deref()
        && os != "linux"
    {
        bail!("{service} is deployed to {os} nodes by its manifest, not linux");
    }
    if args.dry_run {
        let text = match cli.output {
            Output::Json => serde_json::to_string_pretty(&move_plan)? + "\n",
            Output::Table => plan_text(&move_plan, &plan, mover.user()),
        };
        return Ok((text, move_plan.allowed()));
    }
    if !json {
        print!("{}", plan_text(&move_plan, &plan, mover.user()));
        println!();
    }
    if !move_plan.allowed() {
        bail!("the move is refused: {}", move_plan.refusals.join("; "));
    }
    if !args.yes && !confirm("Go ahead?".into()).await? {
        return Ok(("cancelled; nothing changed\n".into(), false));
    }
    let outcome = mover.execute(move_plan, report, abort).await?;
    outcome_result(outcome, &progress, cli.output, false)
}

/// The progressive move's shares and allowances: the plan's, with the command line's options
/// over them.
fn progression(args: &MigrateArgs, plan: &MigrationPlan) -> Progression {
    let mut progression = plan
        .progressive
        .as_ref()
        .map(|p| p.analysis.clone())
        .unwrap_or_default();
    if let Some(weights) = &args.weights {
        progression.weights = weights.clone();
    }
    if let Some(hold) = args.hold {
        progression.hold_seconds = hold;
    }
    if let Some(shadow) = args.shadow {
        progression.shadow_requests = shadow;
    }
    if let Some(seconds) = args.shadow_time {
        progression.shadow_seconds = seconds;
    }
    if let Some(settle) = args.settle {
        progression.settle_seconds = settle;
    }
    progression
}

/// The operator's word the command gives, if it gives one (`None` withdraws a Pause).
fn steering(args: &MigrateArgs) -> Option<Option<Control>> {
    if args.pause {
        Some(Some(Control::Pause))
    } else if args.promote {
        Some(Some(Control::Promote))
    } else if args.abort {
        Some(Some(Control::Abort))
    } else if args.continue_ {
        Some(None)
    } else {
        None
    }
}

/// Gives the console driving the progressive move in progress the operator's word.
async fn steer(
    mover: &Mover,
    control: Option<Control>,
    output: Output,
) -> anyhow::Result<(String, bool)> {
    let Some(record) = mover.recorded().await? else {
        bail!("no move is in progress");
    };
    if record.progression.is_none() {
        bail!(
            "the move in progress is not progressive ({}); only --rollback stops it",
            record.summary()
        );
    }
    mover.steer(control).await?;
    let said = match control {
        Some(Control::Pause) => "paused: the step is held until --continue or --promote",
        Some(Control::Promote) => "promoted: the step in progress passes at its next reading",
        Some(Control::Abort) => {
            "aborting: traffic goes back to the monolith, then the move is rolled back"
        }
        None => "going on: the step passes once its numbers are proven",
    };
    Ok(match output {
        Output::Json => (
            serde_json::to_string_pretty(&serde_json::json!({
                "control": control,
                "move": record,
            }))? + "\n",
            true,
        ),
        Output::Table => (format!("{said} ({})\n", record.summary()), true),
    })
}

/// Runs `retire`.
pub async fn retire(
    cli: &Cli,
    args: &RetireArgs,
    plan: MigrationPlan,
    connection: &Connection,
) -> anyhow::Result<(String, bool)> {
    let mover = Mover::new(connection, Arc::new(plan)).await;
    let blockers = match args.stage {
        // Undoing needs nothing of the monolith but that it is at zero (the executor checks).
        RetireChoice::ScaleBack => Vec::new(),
        RetireChoice::ScaleToZero | RetireChoice::Delete => mover.retire_blockers().await?,
    };
    if !blockers.is_empty() {
        bail!("the monolith cannot be retired: {}", blockers.join("; "));
    }
    let (stage, question) = match args.stage {
        RetireChoice::ScaleToZero => (
            RetireStage::ScaleToZero,
            format!(
                "Scale the monolith {}/{} to zero replicas?",
                mover.plan().monolith.namespace,
                mover.plan().monolith.deployment
            ),
        ),
        RetireChoice::ScaleBack => (
            RetireStage::ScaleBack,
            format!(
                "Scale the monolith {}/{} back up to the replicas it had?",
                mover.plan().monolith.namespace,
                mover.plan().monolith.deployment
            ),
        ),
        RetireChoice::Delete => (
            RetireStage::Delete,
            format!(
                "Delete the monolith's Deployment {0}/{1} and Service {0}/{2}?",
                mover.plan().monolith.namespace,
                mover.plan().monolith.deployment,
                mover.plan().monolith.service
            ),
        ),
    };
    if !args.yes && !confirm(question).await? {
        return Ok(("cancelled; nothing changed\n".into(), false));
    }
    let (report, _) = printer(cli.output == Output::Json);
    let message = mover.retire(stage, report).await?;
    Ok(match cli.output {
        Output::Json => (
            serde_json::to_string_pretty(&serde_json::json!({"stage": stage, "message": message}))?
                + "\n",
            true,
        ),
        Output::Table => (format!("{message}\n"), true),
    })
}
