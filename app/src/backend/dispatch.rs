//! Hands each [`Command`] to the feature that carries it out. Everything it starts runs in one
//! owned set of [`Tasks`]: the live session, the probe and the followed pod are one of a kind
//! (a new one replaces the old), the rest run side by side, and a task that panics is reported
//! to the window instead of leaving it waiting.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use crate::calculator;
use crate::cluster::connection::{self, Connection, ConnectionTarget};
use crate::eks;
use crate::live::embedded::EmbeddedOptions;
use crate::live::{self, session::EmbeddedSlot, session::LocalSlot};
use crate::migration::desk::{MoveAsked, MoveDesk};
use crate::model::eks::AwsTarget;
use crate::model::migration_plan::MigrationPlan;
use crate::protocol::{Command, Event, EventSink, Task, Tasks};
use crate::readiness;

/// Runs until the command channel closes.
pub(super) async fn supervise(
    mut commands: mpsc::UnboundedReceiver<Command>,
    sink: EventSink,
    plan: Arc<MigrationPlan>,
    embedded: EmbeddedOptions,
) {
    let mut tasks = Tasks::new(sink.clone());
    let mut desk = MoveDesk::default();
    let local: LocalSlot = Arc::new(EmbeddedSlot::new(embedded));
    let (client_tx, client_rx) = watch::channel::<Option<Connection>>(None);
    let (namespace_tx, namespace_rx) = watch::channel("calculator".to_owned());
    let http = calculator::http_client();
    // The EKS cluster the connection goes through, if it does: the readiness check then checks
    // its node groups with the same identity.
    let mut through_eks: Option<(AwsTarget, String)> = None;
    loop {
        let command = tokio::select! {
            command = commands.recv() => match command {
                Some(command) => command,
                None => break,
            },
            () = tasks.ended() => continue,
        };
        match command {
            Command::Connect(target) => {
                let _ = client_tx.send(None);
                sink.send(Event::Contexts(connection::list_contexts(match &target {
                    ConnectionTarget::Kubeconfig { path, .. } => path.as_ref(),
                    ConnectionTarget::Local | ConnectionTarget::Eks { .. } => None,
                })));
                through_eks = match &target {
                    ConnectionTarget::Eks { aws, cluster } => Some((aws.clone(), cluster.clone())),
                    ConnectionTarget::Local | ConnectionTarget::Kubeconfig { .. } => None,
                };
                tasks.replace(
                    Task::Session,
                    live::session::run(
                        target,
                        sink.clone(),
                        local.clone(),
                        client_tx.clone(),
                        namespace_rx.clone(),
                        plan.clone(),
                    ),
                );
            }
            Command::Calculate {
                request,
                a,
                b,
                target,
            } => {
                let (sink, client, http) = (
                    sink.clone(),
                    client_rx.borrow().as_ref().map(|c| c.proxy.clone()),
                    http.clone(),
                );
                tasks.spawn(Task::Calculation, async move {
                    let outcome =
                        calculator::calculate(request, client.as_ref(), &http, &target, &a, &b)
                            .await;
                    sink.send(Event::Calculated(outcome));
                });
            }
            Command::Probe {
                per_second,
                a,
                b,
                target,
            } => match per_second {
                Some(rate) => {
                    sink.log(
                        "Probe",
                        format!("probing the calculator {rate} times a second"),
                    );
                    tasks.replace(
                        Task::Probe,
                        calculator::probe(
                            rate,
                            a,
                            b,
                            target,
                            client_rx.clone(),
                            http.clone(),
                            sink.clone(),
                        ),
                    );
                }
                None => {
                    tasks.stop(Task::Probe);
                    sink.log("Probe", "probing stopped");
                }
            },
            Command::SelectPod(pod) => match pod {
                Some((namespace, name)) => tasks.replace(
                    Task::PodDetails,
                    live::details::follow(namespace, name, client_rx.clone(), sink.clone()),
                ),
                None => tasks.stop(Task::PodDetails),
            },
            Command::EventsNamespace(namespace) => {
                let _ = namespace_tx.send(namespace);
            }
            Command::PlanMove {
                service,
                direction,
                progressive,
            } => {
                let asked = MoveAsked {
                    service,
                    direction,
                    progressive,
                };
                desk.plan(&mut tasks, &plan, &client_rx, &sink, asked);
            }
            Command::StartMove {
                plan: confirmed,
                prometheus,
            } => {
                desk.start(&mut tasks, &plan, &client_rx, &sink, *confirmed, prometheus);
            }
            Command::AbortMove => desk.abort(&tasks, &sink),
            Command::SteerMove(control) => {
                desk.steer(&mut tasks, &plan, &client_rx, &sink, control)
            }
            Command::ResumeMove => desk.recorded(&mut tasks, &plan, &client_rx, &sink, true),
            Command::RollBackMove => desk.recorded(&mut tasks, &plan, &client_rx, &sink, false),
            Command::Retire(stage) => desk.retire(&mut tasks, &plan, &client_rx, &sink, stage),
            Command::CheckReadiness { options, eks } => {
                tasks.spawn(
                    Task::Readiness,
                    readiness::desk::check(
                        options,
                        eks.or_else(|| through_eks.clone()),
                        client_rx.clone(),
                        sink.clone(),
                    ),
                );
            }
            Command::SurveyNodeGroup {
                aws,
                cluster,
                group,
                retirement,
            } => {
                tasks.spawn(
                    Task::NodeGroupSurvey,
                    eks::desk::survey(
                        aws,
                        cluster,
                        group,
                        retirement,
                        client_rx.clone(),
                        sink.clone(),
                    ),
                );
            }
            Command::RetireNodeGroup {
                aws,
                survey,
                retirement,
            } => {
                tasks.spawn(
                    Task::NodeGroupChange,
                    eks::desk::retire(aws, *survey, retirement, client_rx.clone(), sink.clone()),
                );
            }
            Command::ReviewNodeGroup {
                aws,
                cluster,
                source,
                windows_taint,
            } => {
                tasks.spawn(
                    Task::NodeGroupReview,
                    readiness::desk::review(
                        aws,
                        cluster,
                        source,
                        windows_taint,
                        client_rx.clone(),
                        sink.clone(),
                    ),
                );
            }
            Command::AddNodeGroup {
                aws,
                cluster,
                proposal,
            } => {
                tasks.spawn(
                    Task::NodeGroupChange,
                    eks::desk::add(aws, cluster, *proposal, sink.clone()),
                );
            }
            Command::ListEks(target) => {
                tasks.spawn(Task::EksClusters, eks::desk::list(target, sink.clone()));
            }
            Command::AskCosts { aws, cluster } => {
                tasks.spawn(Task::Costs, eks::desk::costs(aws, cluster, sink.clone()));
            }
        }
    }
    // The console is closing: a move left half-way stays recorded on the monolith for the next
    // console (its Lease is released as its task is dropped).
    tasks.stop_all();
    local.shutdown().await;
}
