//! A progressive move's steps: the monolith's routing file written for the step's share
//! (shadow, a canary share, all of it) and waited for in every monolith pod
//! ([`super::monolith_routing`]), then the step's window judged from the pods' own metrics
//! until it passes or a number breaks its limit; the operator's Pause, Promote and Abort read
//! from the monolith (so another console or the CLI can give them); the file's entry handed over
//! to the routing variable at the end.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Service;
use kube::Api;

use super::errors::{MoveError, StepFailure};
use super::mover::{Mover, StepReport};
use super::readings;
use super::wait::WaitReport;
use crate::cluster::proxy::proxy_get;
use crate::model::analysis::{Number, Progression, Reading, StepState, Window};
use crate::model::edge_route;
use crate::model::move_plan::MovePlan;
use crate::model::move_progress::{MoveEvent, StepFigures};
use crate::model::moves::{Control, RoutingFileBefore, StepKind};
use crate::model::routing_file::{self, RouteEntry};

/// How often a step's window is read and judged.
const ANALYSIS_INTERVAL: Duration = Duration::from_secs(1);

/// How many of the monolith's recorded mismatches a breach quotes.
const EXAMPLES: usize = 3;

impl Mover {
    /// Runs a progressive step (shadow, canary at `share`, all, settle, hand-over).
    pub(super) async fn progressive_step(
        &self,
        step: StepKind,
        share: Option<u8>,
        plan: &MovePlan,
        progress: &StepReport<'_>,
    ) -> Result<String, StepFailure> {
        let progression = plan
            .progression
            .as_ref()
            .ok_or_else(|| StepFailure::plain(format!("{} is a progressive step", step.title())))?;
        if step == StepKind::Handover {
            return self.hand_over(plan).await;
        }
        if let Some(rule) = &plan.before.edge_rule {
            return self
                .edge_step(step, share, plan, rule, progression, progress)
                .await;
        }
        let url = self.service_url(plan).await?;
        let entry = match step {
            StepKind::Shadow => RouteEntry::Shadow { url },
            StepKind::Canary => RouteEntry::Split {
                url,
                percent: share
                    .ok_or_else(|| StepFailure::plain("a canary step without its share".into()))?,
            },
            _ => RouteEntry::Service { url },
        };
        self.route(plan, &entry, progress).await?;
        let routed = format!(
            "{} of {} answered by the service",
            percent(entry.share()),
            plan.service
        );
        self.judged(
            step,
            plan,
            &Source::Inside,
            entry.share(),
            &routed,
            progression,
            progress,
        )
        .await
    }

    /// The URL the monolith is given for the service (its cluster IP when the plan's URL names
    /// the service's own Service).
    async fn service_url(&self, plan: &MovePlan) -> Result<String, StepFailure> {
        let plan_url = plan
            .route_changes
            .iter()
            .find(|c| c.deployment == plan.monolith)
            .and_then(|c| c.value.clone())
            .ok_or_else(|| {
                StepFailure::plain("the plan gives the monolith no URL for the service".into())
            })?;
        let service = Api::<Service>::namespaced(self.client.clone(), self.namespace())
            .get_opt(plan.service_name())
            .await
            .map_err(|e| {
                StepFailure::plain(format!("cannot read Service {}: {e}", plan.service_name()))
            })?;
        let ip = service.and_then(|s| s.spec).and_then(|s| s.cluster_ip);
        Ok(routing_file::service_url(
            &plan_url,
            plan.service_name(),
            ip.as_deref(),
        ))
    }

    /// Writes `entry` for the service into the routing file and waits until every monolith pod
    /// routes by it.
    async fn route(
        &self,
        plan: &MovePlan,
        entry: &RouteEntry,
        progress: &StepReport<'_>,
    ) -> Result<(), StepFailure> {
        let file = routing_file_of(plan)?;
        let text = self.routing_text(file).await.map_err(failed)?;
        let new = routing_file::with_entry(text.as_deref(), &plan.service, entry)
            .map_err(|e| StepFailure::plain(e.to_string()))?;
        if text.as_deref() != Some(new.as_str()) {
            self.write_routing_text(file, Some(new))
                .await
                .map_err(failed)?;
        }
        let shown = entry.shown();
        self.wait_routes(
            plan,
            |route| route == Some(shown.as_str()),
            &shown,
            progress,
        )
        .await
    }

    /// Reads the monolith's pods every [`ANALYSIS_INTERVAL`] and judges the window since the
    /// step began, until it passes (its figures, in a line) or breaks a limit (the failure).
    #[allow(clippy::too_many_arguments)] // One judging loop for every kind of step and source.
    async fn judge(
        &self,
        plan: &MovePlan,
        source: &Source,
        shadow: bool,
        share: u8,
        progress: &StepReport<'_>,
        judgement: impl Fn(&Window, Duration) -> StepState,
    ) -> Result<String, StepFailure> {
        let ns = self.namespace();
        let port = self.metrics_port()?;
        let monolith = self.monolith_selector().await?;
        let service = selector_text(
            plan.deployment
                .spec
                .selector
                .match_labels
                .as_ref()
                .unwrap_or(&Default::default()),
        );
        let read_of = |selector: String, whose: &'static str| {
            let port = port.clone();
            async move {
                readings::read(&self.metrics, &self.proxy, ns, &selector, &port)
                    .await
                    .map(|r| r.reading)
                    .map_err(|e| {
                        StepFailure::plain(format!("cannot read the {whose}'s metrics: {e}"))
                    })
            }
        };
        // Inside, the monolith's pods count both ways; at the edge each side counts its own.
        let read = || async {
            let monolith = read_of(monolith.clone(), "monolith").await?;
            let service = match source {
                Source::Inside => Reading::default(),
                Source::Edge { .. } => read_of(service.clone(), "service").await?,
            };
            Ok::<_, StepFailure>((monolith, service))
        };
        let before = read().await?;
        let started = Instant::now();
        let mut paused_at: Option<Instant> = None;
        // The mismatches in full, asked for again only when more have been counted.
        let mut mismatches: (u64, Vec<String>) = (0, Vec::new());
        loop {
            tokio::time::sleep(ANALYSIS_INTERVAL).await;
            let after = read().await?;
            let window = match source {
                Source::Inside => Window::inside(&plan.service, &before.0, &after.0),
                Source::Edge { metrics_path } => {
                    Window::edge(metrics_path, (&before.0, &after.0), (&before.1, &after.1))
                }
            };
            let control = self.driver.control().await;
            let elapsed = started.elapsed();
            let state = judgement(&window, elapsed);
            let figures = window.summary(shadow);
            let counted = window.comparisons.mismatched;
            if counted > mismatches.0 && mismatches.1.len() < EXAMPLES {
                mismatches = (counted, self.mismatch_examples(plan, &before.0).await);
            }
            (progress.report)(MoveEvent::Figures(Box::new(StepFigures {
                step: progress.step,
                share: Some(share),
                seconds: elapsed.as_secs_f64(),
                window: window.clone(),
                waiting_for: match &state {
                    StepState::Running { waiting_for } => waiting_for.clone(),
                    _ => String::new(),
                },
                mismatches: mismatches.1.clone(),
            })));
            match (state, control) {
                (_, Some(Control::Abort)) => {
                    return Err(StepFailure::plain(format!(
                        "aborted by the operator at {} — {figures}",
                        progress.step.title().to_lowercase()
                    )));
                }
                (StepState::Breached(breach), _) => {
                    // The step's line shows what broke it, not what it last waited for.
                    progress.progress(
                        fraction(plan.progression.as_ref(), shadow, &window, elapsed),
                        format!("breached after {} s — {figures}", elapsed.as_secs()),
                    );
                    let mut reason = format!("{breach} — {figures}");
                    if breach.number == Number::Mismatches && !mismatches.1.is_empty() {
                        reason.push_str(&format!("; for example: {}", mismatches.1.join("; ")));
                    }
                    return Err(StepFailure::plain(reason));
                }
                (_, Some(Control::Promote)) => {
                    self.clear_control().await;
                    return Ok(format!(
                        "promoted by the operator after {} s: {figures}",
                        elapsed.as_secs()
                    ));
                }
                (_, Some(Control::Pause)) => {
                    let since = *paused_at.get_or_insert_with(Instant::now);
                    progress.progress(
                        0.0,
                        format!(
                            "paused {} s ago by the operator — {figures}",
                            since.elapsed().as_secs()
                        ),
                    );
                }
                (StepState::Passed, None) => return Ok(figures),
                (StepState::Running { waiting_for }, None) => {
                    paused_at = None;
                    progress.progress(
                        fraction(plan.progression.as_ref(), shadow, &window, elapsed),
                        format!("{waiting_for} — {figures}"),
                    );
                }
            }
        }
    }

    /// The first of the mismatches the monolith's pods recorded, in full: inputs and both
    /// answers, from their `GET /api/shadow`.
    async fn mismatch_examples(
        &self,
        plan: &MovePlan,
        pods: &crate::model::analysis::Reading,
    ) -> Vec<String> {
        let Ok(port) = self.metrics_port() else {
            return Vec::new();
        };
        let ns = self.namespace();
        let mut examples = Vec::new();
        for pod in pods.keys() {
            let path = format!("/api/v1/namespaces/{ns}/pods/{pod}:{port}/proxy/api/shadow");
            let Ok((200, body)) = proxy_get(&self.proxy, &path).await else {
                continue;
            };
            let Ok(report) = serde_json::from_slice::<serde_json::Value>(&body) else {
                continue;
            };
            if let Some(list) = report[&plan.service]["mismatches"].as_array() {
                examples.extend(list.iter().map(mismatch_line));
            }
            if examples.len() >= EXAMPLES {
                break;
            }
        }
        examples.truncate(EXAMPLES);
        examples
    }

    /// A step at the edge: the service's rule weighted (or mirrored) and taken up by the
    /// gateway, then judged from both sides' metrics of the path.
    async fn edge_step(
        &self,
        step: StepKind,
        share: Option<u8>,
        plan: &MovePlan,
        rule: &crate::model::moves::EdgeRuleBefore,
        progression: &Progression,
        progress: &StepReport<'_>,
    ) -> Result<String, StepFailure> {
        let edge = self
            .plan
            .service(&plan.service)
            .and_then(|s| s.edge.clone())
            .ok_or_else(|| {
                StepFailure::plain(format!("the plan gives {} no edge", plan.service))
            })?;
        let share = match step {
            StepKind::Shadow => 0,
            StepKind::Canary => {
                share.ok_or_else(|| StepFailure::plain("a canary step without its share".into()))?
            }
            _ => 100,
        };
        let port = plan
            .service_object
            .spec
            .as_ref()
            .and_then(|s| s.ports.as_ref())
            .and_then(|p| p.first())
            .map_or(80, |p| p.port);
        let shared = edge_route::shared_rule(
            &rule.rule,
            plan.service_name(),
            port,
            share,
            step == StepKind::Shadow,
        );
        self.write_edge_rule(rule, &shared, progress).await?;
        let source = Source::Edge {
            metrics_path: edge.metrics_path.clone(),
        };
        let routed = format!(
            "{} of {} at the edge (rule {} of HTTPRoute {}) answered by the service",
            percent(share),
            edge.path,
            rule.index,
            rule.route
        );
        self.judged(step, plan, &source, share, &routed, progression, progress)
            .await
    }

    /// Judges a step whose share is in force (`routed` says how, in words): shadow until its
    /// answers compare alike (at the edge, until the mirrored copies are answered well), a
    /// canary for its hold, 100 % for the settle time; the other steps need no judging.
    #[allow(clippy::too_many_arguments)] // The step, where it is routed, and how it is judged.
    async fn judged(
        &self,
        step: StepKind,
        plan: &MovePlan,
        source: &Source,
        share: u8,
        routed: &str,
        progression: &Progression,
        progress: &StepReport<'_>,
    ) -> Result<String, StepFailure> {
        let inside = matches!(source, Source::Inside);
        match step {
            StepKind::Shadow if inside => {
                let figures = self
                    .judge(plan, source, true, share, progress, |window, elapsed| {
                        progression.shadow(window, elapsed)
                    })
                    .await?;
                Ok(format!("shadowed: {figures}"))
            }
            StepKind::Shadow => {
                let figures = self
                    .judge(plan, source, false, share, progress, |window, elapsed| {
                        progression.mirror(window, elapsed)
                    })
                    .await?;
                Ok(format!("mirrored to the service: {figures}"))
            }
            StepKind::Canary => {
                let hold = Duration::from_secs(progression.hold_seconds);
                let figures = self
                    .judge(plan, source, false, share, progress, |window, elapsed| {
                        progression.canary(window, elapsed, hold)
                    })
                    .await?;
                Ok(format!("{routed}, held {} s: {figures}", hold.as_secs()))
            }
            StepKind::Settle => {
                let hold = Duration::from_secs(progression.settle_seconds);
                let figures = self
                    .judge(plan, source, false, share, progress, |window, elapsed| {
                        settled(progression, window, elapsed, hold)
                    })
                    .await?;
                Ok(format!("{routed}, watched {} s: {figures}", hold.as_secs()))
            }
            _ if inside => Ok(format!("{routed}, in force in every monolith pod")),
            _ => Ok(format!("{routed}, taken up by the gateway")),
        }
    }

    /// Removes the service's entry from the routing file, now that the routing variable
    /// carries the route in every monolith pod.
    async fn hand_over(&self, plan: &MovePlan) -> Result<String, StepFailure> {
        let file = routing_file_of(plan)?;
        let text = self.routing_text(file).await.map_err(failed)?;
        let left = routing_file::without_entry(text.as_deref(), &plan.service)
            .map_err(|e| StepFailure::plain(e.to_string()))?;
        if left.is_none() && !file.existed {
            self.delete_routing_file(file).await.map_err(failed)?;
            return Ok(format!(
                "deleted ConfigMap {} (the move had created it)",
                file.config_map
            ));
        }
        if left != text {
            self.write_routing_text(file, left).await.map_err(failed)?;
        }
        Ok(format!(
            "{}'s entry removed from ConfigMap {}; the routing variable routes it",
            plan.service, file.config_map
        ))
    }

    pub(super) fn metrics_port(&self) -> Result<String, StepFailure> {
        self.plan
            .progressive
            .as_ref()
            .map(|p| p.metrics_port.clone())
            .ok_or_else(|| StepFailure::plain("the plan has no progressive section".into()))
    }

    /// The service's figures inside the monolith over the next `over` (for a status display
    /// of a progressive move in progress, by whichever console).
    pub async fn figures_now(&self, service: &str, over: Duration) -> Result<Window, MoveError> {
        let ns = self.namespace();
        let port = self
            .metrics_port()
            .map_err(|f| MoveError::Cluster(f.reason))?;
        let selector = self
            .monolith_selector()
            .await
            .map_err(|f| MoveError::Cluster(f.reason))?;
        let read = || async {
            readings::read(&self.metrics, &self.proxy, ns, &selector, &port)
                .await
                .map_err(|e| MoveError::Cluster(format!("cannot read the monolith's metrics: {e}")))
        };
        let before = read().await?;
        tokio::time::sleep(over).await;
        let after = read().await?;
        Ok(Window::inside(service, &before.reading, &after.reading))
    }

    /// Removes a one-time word (Promote) once obeyed; one left there would pass the next
    /// step too, so a failure to remove it is logged.
    async fn clear_control(&self) {
        if let Err(e) = self.driver.set_control(None).await {
            tracing::warn!(error = %e, "the operator's Promote could not be cleared");
        }
    }

    /// Withdraws whatever word is left once a progressive move has ended (a Pause given at its
    /// last step), so it does not steer the next one.
    pub(super) async fn withdraw_control(&self) {
        if self.driver.control().await.is_some() {
            self.clear_control().await;
        }
    }
}

/// Where a step's figures come from.
enum Source {
    /// Inside the monolith: its pods' answers by route.
    Inside,
    /// At the edge: each side's pods' HTTP answers of the path as their metrics count it.
    Edge {
        /// The path template (`/sum/{a}/{b}`).
        metrics_path: String,
    },
}

fn selector_text(labels: &std::collections::BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// 100 % watched: breached like a canary; passed once watched for `hold` (answers or not: a
/// quiet service at 100 % has nothing to prove wrong).
fn settled(
    progression: &Progression,
    window: &Window,
    elapsed: Duration,
    hold: Duration,
) -> StepState {
    match progression.canary(window, elapsed, hold) {
        StepState::Running { .. } if elapsed >= hold => StepState::Passed,
        other => other,
    }
}

/// How far a step has come, for its progress bar.
fn fraction(
    progression: Option<&Progression>,
    shadow: bool,
    window: &Window,
    elapsed: Duration,
) -> f32 {
    let Some(p) = progression else {
        return 0.0;
    };
    let by_time = |seconds: u64| elapsed.as_secs_f32() / seconds.max(1) as f32;
    let f = if shadow {
        (window.comparisons.compared() as f32 / p.shadow_requests.max(1) as f32)
            .max(by_time(p.shadow_seconds))
    } else {
        by_time(p.hold_seconds)
    };
    f.clamp(0.0, 1.0)
}

fn percent(share: u8) -> String {
    format!("{share} %")
}

/// One recorded mismatch in a line: `0.1 + 0.2: the monolith 0.3, the service 0.30000000000000004`.
fn mismatch_line(m: &serde_json::Value) -> String {
    let answer = |v: &serde_json::Value| -> String {
        if let Some(total) = v.get("total") {
            total.to_string()
        } else if let Some(code) = v.pointer("/error/code").and_then(|c| c.as_str()) {
            format!("error {code}")
        } else {
            v.to_string()
        }
    };
    format!(
        "a={} b={}: the monolith answered {}, the service {}",
        m["a"],
        m["b"],
        answer(&m["monolith"]),
        answer(&m["service"])
    )
}

fn routing_file_of(plan: &MovePlan) -> Result<&RoutingFileBefore, StepFailure> {
    plan.before
        .routing_file
        .as_ref()
        .ok_or_else(|| StepFailure::plain("the move has no routing file".into()))
}

fn failed(e: MoveError) -> StepFailure {
    StepFailure::plain(e.to_string())
}
