//! The monolith's routing file and the routes its pods report: the file read, written (the
//! ConfigMap created when there is none) and put back as it was before a progressive move, and
//! the monolith's pods asked through the API server's pod proxy how they route an operation
//! now, until each routes it as a step wants.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::Api;
use kube::api::{DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;

use super::errors::{MoveError, StepFailure};
use super::mover::Mover;
use super::wait::WaitReport;
use crate::cluster::proxy::proxy_get;
use crate::model::migration_plan::ProgressiveSpec;
use crate::model::move_plan::MovePlan;
use crate::model::moves::{FIELD_MANAGER, RoutingFileBefore};

impl Mover {
    /// The routing file as it is now, for a progressive plan.
    pub(super) async fn routing_file_now(
        &self,
        spec: &ProgressiveSpec,
    ) -> Result<RoutingFileBefore, MoveError> {
        let found = self
            .config_maps()
            .get_opt(&spec.routing_config_map)
            .await
            .map_err(|e| {
                MoveError::kube(&format!("read ConfigMap {}", spec.routing_config_map), e)
            })?;
        Ok(RoutingFileBefore {
            config_map: spec.routing_config_map.clone(),
            key: spec.routing_key.clone(),
            existed: found.is_some(),
            text: found
                .and_then(|c| c.data)
                .and_then(|mut d| d.remove(&spec.routing_key)),
        })
    }

    /// Waits until every running monolith pod reports the service's route as `wanted` says.
    pub(super) async fn wait_routes(
        &self,
        plan: &MovePlan,
        wanted: impl Fn(Option<&str>) -> bool,
        described: &str,
        progress: &dyn WaitReport,
    ) -> Result<(), StepFailure> {
        // A kubelet refreshes a mounted ConfigMap on its own period (up to a minute or more
        // on EKS), so this may take as long as a rollout.
        let deadline = Instant::now() + self.timeouts.rollout;
        let started = Instant::now();
        loop {
            let routes = self.routes_shown(plan).await?;
            let lagging: Vec<String> = routes
                .iter()
                .filter(|(_, route)| !wanted(route.as_deref()))
                .map(|(pod, route)| {
                    format!("{pod} ({})", route.as_deref().unwrap_or("not answering"))
                })
                .collect();
            if !routes.is_empty() && lagging.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(StepFailure::plain(format!(
                    "the monolith's pods did not take up the route \"{described}\" within {} s: {}",
                    self.timeouts.rollout.as_secs(),
                    if routes.is_empty() {
                        "no monolith pod is running".to_owned()
                    } else {
                        lagging.join(", ")
                    }
                )));
            }
            progress.progress(
                0.0,
                format!(
                    "waiting {} s for the monolith's pods to route {} as \"{described}\": {} of {} not yet",
                    started.elapsed().as_secs(),
                    plan.service,
                    lagging.len(),
                    routes.len()
                ),
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Each running monolith pod and how it routes the service now (`None`: it did not say).
    pub(super) async fn routes_shown(
        &self,
        plan: &MovePlan,
    ) -> Result<Vec<(String, Option<String>)>, StepFailure> {
        let ns = self.namespace();
        let port = self.metrics_port()?;
        let pods = Api::<Pod>::namespaced(self.client.clone(), ns)
            .list(
                &ListParams::default()
                    .labels(&self.monolith_selector().await?)
                    .fields("status.phase=Running"),
            )
            .await
            .map_err(|e| StepFailure::plain(format!("cannot list the monolith's pods: {e}")))?;
        let mut routes = Vec::new();
        for pod in pods
            .items
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
        {
            let Some(name) = pod.metadata.name.clone() else {
                continue;
            };
            let path = format!("/api/v1/namespaces/{ns}/pods/{name}:{port}/proxy/api/routes");
            let route = match proxy_get(&self.proxy, &path).await {
                Ok((200, body)) => serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| {
                        v.get(&plan.service)
                            .and_then(|r| r.as_str())
                            .map(str::to_owned)
                    }),
                _ => None,
            };
            routes.push((name, route));
        }
        Ok(routes)
    }

    /// Puts the routing file back as it was before the move and waits (a little) until the
    /// monolith's pods no longer share the service's traffic by it.
    pub(super) async fn restore_routing_file(
        &self,
        service: &str,
        file: &RoutingFileBefore,
        progress: &dyn WaitReport,
    ) -> Result<(), MoveError> {
        if file.existed {
            self.write_routing_text(file, file.text.clone()).await?;
        } else {
            self.delete_routing_file(file).await?;
        }
        let deadline = Instant::now() + self.timeouts.rollout;
        let Ok(selector) = self.monolith_selector().await else {
            return Ok(());
        };
        loop {
            let Ok(port) = self.metrics_port() else {
                return Ok(());
            };
            let pods = Api::<Pod>::namespaced(self.client.clone(), self.namespace())
                .list(
                    &ListParams::default()
                        .labels(&selector)
                        .fields("status.phase=Running"),
                )
                .await
                .map_err(|e| MoveError::kube("list the monolith's pods", e))?;
            let mut sharing = Vec::new();
            for name in pods.items.iter().filter_map(|p| p.metadata.name.clone()) {
                let path = format!(
                    "/api/v1/namespaces/{}/pods/{name}:{port}/proxy/api/routes",
                    self.namespace()
                );
                if let Ok((200, body)) = proxy_get(&self.proxy, &path).await
                    && let Ok(routes) = serde_json::from_slice::<serde_json::Value>(&body)
                    && routes[service]
                        .as_str()
                        .is_some_and(|r| r.starts_with("shadow ") || r.starts_with("split "))
                {
                    sharing.push(name);
                }
            }
            if sharing.is_empty() || Instant::now() >= deadline {
                return Ok(());
            }
            progress.progress(
                0.0,
                format!(
                    "waiting for {} to route {service} as before the move",
                    sharing.join(", ")
                ),
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn config_maps(&self) -> Api<ConfigMap> {
        Api::namespaced(self.client.clone(), self.namespace())
    }

    /// The routing file's text now (`None`: no ConfigMap, or no such key).
    pub(super) async fn routing_text(
        &self,
        file: &RoutingFileBefore,
    ) -> Result<Option<String>, MoveError> {
        let found = self
            .config_maps()
            .get_opt(&file.config_map)
            .await
            .map_err(|e| MoveError::kube(&format!("read ConfigMap {}", file.config_map), e))?;
        Ok(found
            .and_then(|c| c.data)
            .and_then(|mut d| d.remove(&file.key)))
    }

    /// Writes the routing file's text (`None` removes the key), creating the ConfigMap if
    /// there is none.
    pub(super) async fn write_routing_text(
        &self,
        file: &RoutingFileBefore,
        text: Option<String>,
    ) -> Result<(), MoveError> {
        let api = self.config_maps();
        let context = format!("write ConfigMap {}", file.config_map);
        let exists = api
            .get_opt(&file.config_map)
            .await
            .map_err(|e| MoveError::kube(&context, e))?
            .is_some();
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PatchParams::default()
        };
        match (exists, text) {
            (true, text) => api
                .patch(
                    &file.config_map,
                    &params,
                    &Patch::Merge(json!({"data": {file.key.as_str(): text}})),
                )
                .await
                .map(|_| ()),
            (false, None) => Ok(()),
            (false, Some(text)) => api
                .create(
                    &PostParams {
                        field_manager: Some(FIELD_MANAGER.into()),
                        ..PostParams::default()
                    },
                    &ConfigMap {
                        metadata: ObjectMeta {
                            name: Some(file.config_map.clone()),
                            namespace: Some(self.namespace().to_owned()),
                            ..ObjectMeta::default()
                        },
                        data: Some(BTreeMap::from([(file.key.clone(), text)])),
                        ..ConfigMap::default()
                    },
                )
                .await
                .map(|_| ()),
        }
        .map_err(|e| MoveError::kube(&context, e))
    }

    pub(super) async fn delete_routing_file(
        &self,
        file: &RoutingFileBefore,
    ) -> Result<(), MoveError> {
        match self
            .config_maps()
            .delete(&file.config_map, &DeleteParams::default())
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(MoveError::kube(
                &format!("delete ConfigMap {}", file.config_map),
                e,
            )),
        }
    }

    /// The monolith's pod selector, as a label selector string.
    pub(super) async fn monolith_selector(&self) -> Result<String, StepFailure> {
        let answerers = self.monolith_pods().await?;
        Ok(answerers
            .selector
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","))
    }
}
