//! Hands each [`Command`] to the feature that carries it out, and keeps the handles of what
//! runs in the background (the live session, the probe, the followed pod, the move).

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::calculator;
use crate::cluster::connection::{self, Connection, ConnectionTarget};
use crate::eks;
use crate::live::{self, session::LocalSlot};
use crate::migration::desk::MoveDesk;
use crate::model::migration_plan::MigrationPlan;
use crate::protocol::{Command, Event, EventSink};

/// Runs until the command channel closes.
pub(super) async fn supervise(
    mut commands: mpsc::UnboundedReceiver<Command>,
    sink: EventSink,
    plan: Arc<MigrationPlan>,
) {
    let mut desk = MoveDesk::default();
    let local: LocalSlot = Arc::default();
    let (client_tx, client_rx) = watch::channel::<Option<Connection>>(None);
    let (namespace_tx, namespace_rx) = watch::channel("calculator".to_owned());
    let http = calculator::http_client();
    let mut session: Option<JoinHandle<()>> = None;
    let mut probe: Option<JoinHandle<()>> = None;
    let mut selected: Option<JoinHandle<()>> = None;
    while let Some(command) = commands.recv().await {
        match command {
            Command::Connect(target) => {
                if let Some(s) = session.take() {
                    s.abort();
                }
                let _ = client_tx.send(None);
                sink.send(Event::Contexts(connection::list_contexts(match &target {
                    ConnectionTarget::Kubeconfig { path, .. } => path.as_ref(),
                    ConnectionTarget::Local | ConnectionTarget::Eks { .. } => None,
                })));
                session = Some(tokio::spawn(live::session::run(
                    target,
                    sink.clone(),
                    local.clone(),
                    client_tx.clone(),
                    namespace_rx.clone(),
                    plan.clone(),
                )));
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
                tokio::spawn(async move {
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
            } => {
                if let Some(p) = probe.take() {
                    p.abort();
                }
                if let Some(rate) = per_second {
                    sink.log(
                        "Probe",
                        format!("probing the calculator {rate} times a second"),
                    );
                    probe = Some(tokio::spawn(calculator::probe(
                        rate,
                        a,
                        b,
                        target,
                        client_rx.clone(),
                        http.clone(),
                        sink.clone(),
                    )));
                } else {
                    sink.log("Probe", "probing stopped");
                }
            }
            Command::SelectPod(pod) => {
                if let Some(s) = selected.take() {
                    s.abort();
                }
                if let Some((namespace, name)) = pod {
                    selected = Some(tokio::spawn(live::details::follow(
                        namespace,
                        name,
                        client_rx.clone(),
                        sink.clone(),
                    )));
                }
            }
            Command::EventsNamespace(namespace) => {
                let _ = namespace_tx.send(namespace);
            }
            Command::PlanMove { service, direction } => {
                desk.plan(&plan, &client_rx, &sink, service, direction);
            }
            Command::StartMove(confirmed) => {
                desk.start(&plan, &client_rx, &sink, *confirmed);
            }
            Command::AbortMove => desk.abort(&sink),
            Command::ResumeMove => desk.recorded(&plan, &client_rx, &sink, true),
            Command::RollBackMove => desk.recorded(&plan, &client_rx, &sink, false),
            Command::Retire(stage) => desk.retire(&plan, &client_rx, &sink, stage),
            Command::CheckReadiness { options, eks } => {
                tokio::spawn(crate::readiness::desk::check(
                    options,
                    eks,
                    client_rx.clone(),
                    sink.clone(),
                ));
            }
            Command::SurveyNodeGroup {
                aws,
                cluster,
                group,
                retirement,
            } => {
                tokio::spawn(eks::desk::survey(
                    aws,
                    cluster,
                    group,
                    retirement,
                    client_rx.clone(),
                    sink.clone(),
                ));
            }
            Command::RetireNodeGroup {
                aws,
                survey,
                retirement,
            } => {
                tokio::spawn(eks::desk::retire(
                    aws,
                    *survey,
                    retirement,
                    client_rx.clone(),
                    sink.clone(),
                ));
            }
            Command::ReviewNodeGroup {
                aws,
                cluster,
                source,
            } => {
                tokio::spawn(crate::readiness::desk::review(
                    aws,
                    cluster,
                    source,
                    client_rx.clone(),
                    sink.clone(),
                ));
            }
            Command::AddNodeGroup {
                aws,
                cluster,
                proposal,
            } => {
                tokio::spawn(eks::desk::add(aws, cluster, *proposal, sink.clone()));
            }
            Command::ListEks(target) => {
                let sink = sink.clone();
                tokio::spawn(async move {
                    let (region, clusters) = match eks::Aws::load(&target).await {
                        Ok(aws) => {
                            let clusters = aws.clusters().await.map_err(|e| e.to_string());
                            (aws.region.clone(), clusters)
                        }
                        Err(e) => (
                            target.region.clone().unwrap_or_default(),
                            Err(e.to_string()),
                        ),
                    };
                    sink.send(Event::EksClusters { region, clusters });
                });
            }
        }
    }
    desk.stop();
    for task in [session, probe, selected].into_iter().flatten() {
        task.abort();
    }
    if let Some(cluster) = local.lock().await.take() {
        cluster.shutdown().await;
    }
}
