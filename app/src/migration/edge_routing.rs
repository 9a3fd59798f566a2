//! The edge route a progressive move at the edge changes: the HTTPRoute read and its rule for
//! the service's path found, the rule rewritten for a step (mirror, a share, all) with a JSON
//! patch the server refuses if the rule was edited meanwhile, and the implementation waited for
//! until it has taken the change up (each parent's `Accepted` has seen the route's generation).

use std::time::{Duration, Instant};

use kube::Api;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};

use super::errors::{MoveError, StepFailure};
use super::mover::Mover;
use super::wait::WaitReport;
use crate::model::edge_mirroring::{self, Mirroring};
use crate::model::edge_route;
use crate::model::migration_plan::EdgeSpec;
use crate::model::move_plan::NotProgressive;
use crate::model::moves::{EdgeRuleBefore, FIELD_MANAGER};

fn gateway_api(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", kind),
        plural,
    )
}

fn routes(client: &kube::Client, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(
        client.clone(),
        namespace,
        &gateway_api("HTTPRoute", "httproutes"),
    )
}

impl Mover {
    /// The edge route's rule for the service's path as it is now, for a progressive plan, and
    /// whether the route's gateways can copy requests to shadow it.
    pub(super) async fn edge_rule_now(
        &self,
        edge: &EdgeSpec,
    ) -> Result<(EdgeRuleBefore, Mirroring), MoveError> {
        let route = routes(&self.client, self.namespace())
            .get(&edge.http_route)
            .await
            .map_err(|e| match e {
                kube::Error::Api(s) if s.code == 404 => MoveError::Refused(vec![format!(
                    "there is no HTTPRoute {:?} in namespace {:?} ({}); are the Gateway API definitions and the route installed?",
                    edge.http_route,
                    self.namespace(),
                    s.message
                )]),
                other => MoveError::kube(&format!("read HTTPRoute {}", edge.http_route), other),
            })?;
        let route = serde_json::to_value(route)
            .map_err(|e| MoveError::Cluster(format!("HTTPRoute {}: {e}", edge.http_route)))?;
        let (index, rule) = edge_route::rule_for(&route, &edge.path).map_err(|found| {
            MoveError::Refused(vec![
                NotProgressive::NoEdgeRule {
                    route: edge.http_route.clone(),
                    path: edge.path.clone(),
                    found: found.join(", "),
                }
                .to_string(),
            ])
        })?;
        let mirroring = self.mirroring(&route).await;
        let before = EdgeRuleBefore {
            route: edge.http_route.clone(),
            index,
            rule,
        };
        Ok((before, mirroring))
    }

    /// Whether the gateways `route` is attached to copy requests, as their classes declare.
    /// Not being allowed to read a Gateway or its class does not stop a move: it leaves the
    /// answer unknown.
    async fn mirroring(&self, route: &serde_json::Value) -> Mirroring {
        let classes: Api<DynamicObject> = Api::all_with(
            self.client.clone(),
            &gateway_api("GatewayClass", "gatewayclasses"),
        );
        let mut verdicts = Vec::new();
        for (namespace, name) in edge_mirroring::parent_gateways(route) {
            let gateways: Api<DynamicObject> = Api::namespaced_with(
                self.client.clone(),
                &namespace,
                &gateway_api("Gateway", "gateways"),
            );
            let verdict = match gateways.get(&name).await {
                Err(e) => Mirroring::Unknown(format!("Gateway {namespace}/{name}: {e}")),
                Ok(gateway) => match gateway.data["spec"]["gatewayClassName"].as_str() {
                    None => {
                        Mirroring::Unknown(format!("Gateway {namespace}/{name} names no class"))
                    }
                    Some(class) => match classes.get(class).await {
                        Err(e) => Mirroring::Unknown(format!("GatewayClass {class}: {e}")),
                        Ok(class) => serde_json::to_value(class).map_or_else(
                            |e| Mirroring::Unknown(e.to_string()),
                            |class| edge_mirroring::class_mirroring(&class),
                        ),
                    },
                },
            };
            verdicts.push(verdict);
        }
        let verdict = Mirroring::of_all(verdicts);
        tracing::debug!(?verdict, route = ?route["metadata"]["name"], "edge mirroring");
        verdict
    }

    /// Puts `rule` in place of the recorded rule and waits until the route's implementation
    /// has taken it up.
    pub(super) async fn write_edge_rule(
        &self,
        before: &EdgeRuleBefore,
        rule: &serde_json::Value,
        progress: &dyn WaitReport,
    ) -> Result<(), StepFailure> {
        let api = routes(&self.client, self.namespace());
        let patch = edge_route::rule_patch(before.index, &before.rule["matches"], rule);
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PatchParams::default()
        };
        let patch: json_patch::Patch =
            serde_json::from_value(patch).map_err(|e| StepFailure::plain(e.to_string()))?;
        api.patch(&before.route, &params, &Patch::Json::<()>(patch))
            .await
            .map_err(|e| {
                StepFailure::plain(format!(
                    "cannot change rule {} of HTTPRoute {} (was it edited since the move began?): {e}",
                    before.index, before.route
                ))
            })?;
        let started = Instant::now();
        let deadline = started + self.timeouts.rollout;
        loop {
            let route = api.get(&before.route).await.map_err(|e| {
                StepFailure::plain(format!("cannot read HTTPRoute {}: {e}", before.route))
            })?;
            let route = serde_json::to_value(route).unwrap_or_default();
            if edge_route::taken_up(&route) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(StepFailure::plain(format!(
                    "the gateway did not take up HTTPRoute {}'s change within {} s (no parent's Accepted condition saw generation {})",
                    before.route,
                    self.timeouts.rollout.as_secs(),
                    route["metadata"]["generation"]
                )));
            }
            progress.progress(
                0.0,
                format!(
                    "waiting {} s for the gateway to take up HTTPRoute {}",
                    started.elapsed().as_secs(),
                    before.route
                ),
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Puts the recorded rule back as it was before the move.
    pub(super) async fn restore_edge_rule(
        &self,
        before: &EdgeRuleBefore,
        progress: &dyn WaitReport,
    ) -> Result<(), MoveError> {
        self.write_edge_rule(before, &before.rule, progress)
            .await
            .map_err(|f| MoveError::Cluster(f.reason))
    }
}
