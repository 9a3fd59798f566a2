//! HorizontalPodAutoscalers (`autoscaling/v2`): every sync period, each autoscaler's target
//! (a Deployment, StatefulSet or ReplicaSet) is scaled by the CPU or memory its pods use —
//! measured by the kubelets, as the cluster's `metrics.k8s.io` serves it — against their
//! requests, with the real controller's tolerance, stabilization windows, scaling policies and
//! bounds ([`recommend`]), and the status and conditions `kubectl describe hpa` reads.

pub mod recommend;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::ObjectRef;
use super::runtime::{Action, Context, Controller};
use crate::clock::now;
use crate::conditions::{Condition, merge};
use crate::events::EventType;
use crate::kubelet::Usage;
use crate::quotas::amounts;
use crate::registry::{Part, Registry, WriteOptions};
use crate::resources;
use crate::validation::selector_matches;
use recommend::{Direction, History, Limited};

/// What a container uses now: `(namespace, pod, container)` → usage (`None`: not running).
pub type UsageSource = Arc<dyn Fn(&str, &str, &str) -> Option<Usage> + Send + Sync>;

/// Starts the controller, looking at every autoscaler each `sync` (the real controller's
/// `--horizontal-pod-autoscaler-sync-period`, 15 s).
pub fn start(registry: Arc<Registry>, usage: UsageSource, sync: Duration) -> Vec<JoinHandle<()>> {
    let histories: Arc<Mutex<HashMap<String, History>>> = Arc::default();
    Controller::new(
        registry,
        resources::horizontalpodautoscalers(),
        "horizontal-pod-autoscaler",
    )
    .resync_every(sync)
    .run(move |context, key, hpa| {
        reconcile(context, key, hpa, &usage, &histories)?;
        Ok(Action::requeue(sync))
    })
    .tasks
}

/// The autoscaler's conditions (they carry no generation).
fn conditions(old: &Value, wanted: Vec<Condition>) -> Value {
    merge(old, wanted, None, &now())
}

/// A metric the autoscaler reads: a resource, and a target utilization or average value.
struct Metric {
    resource: String,
    /// `averageUtilization` (% of requests).
    utilization: Option<i64>,
    /// `averageValue`, in the resource's unit (millicores, bytes).
    average: Option<i64>,
}

fn metrics(hpa: &Value) -> Result<Vec<Metric>, String> {
    let mut out = Vec::new();
    for metric in hpa["spec"]["metrics"].as_array().into_iter().flatten() {
        let kind = metric["type"].as_str().unwrap_or_default();
        if kind != "Resource" {
            return Err(format!(
                "metric type {kind:?} is not served by the local cluster (only Resource: cpu, memory)"
            ));
        }
        let resource = metric["resource"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let target = &metric["resource"]["target"];
        out.push(Metric {
            utilization: target["averageUtilization"].as_i64(),
            average: target["averageValue"]
                .as_str()
                .and_then(|v| amounts::parse(&resource, v)),
            resource,
        });
    }
    if out.is_empty() {
        // autoscaling/v2's default: 80 % of the CPU requested.
        out.push(Metric {
            resource: "cpu".into(),
            utilization: Some(80),
            average: None,
        });
    }
    Ok(out)
}

fn direction(behavior: &Value, default: Direction) -> Direction {
    if !behavior.is_object() {
        return default;
    }
    let policies: Vec<(String, i64, Duration)> = behavior["policies"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["type"].as_str().unwrap_or("Pods").to_owned(),
                p["value"].as_i64().unwrap_or(1),
                Duration::from_secs(p["periodSeconds"].as_u64().unwrap_or(15)),
            )
        })
        .collect();
    Direction {
        window: behavior["stabilizationWindowSeconds"]
            .as_u64()
            .map_or(default.window, Duration::from_secs),
        policies: if policies.is_empty() {
            default.policies
        } else {
            policies
        },
        select: behavior["selectPolicy"]
            .as_str()
            .map_or(default.select, str::to_owned),
    }
}

/// What one resource's pods use: the replica count it asks for, and the current figures.
struct Measured {
    /// The resource measured (`cpu`).
    name: String,
    wanted: i64,
    current: Value,
    /// What the scaling is from, for events and conditions.
    resource: String,
}

/// Measures `metric` over `pods` (running, of the target).
fn measure(
    metric: &Metric,
    pods: &[Value],
    usage: &UsageSource,
    current_replicas: i64,
) -> Result<Option<Measured>, String> {
    let resource = metric.resource.as_str();
    let (mut used, mut requested, mut counted) = (0i64, 0i64, 0i64);
    for pod in pods {
        let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
        let name = pod["metadata"]["name"].as_str().unwrap_or_default();
        let mut pod_used = 0;
        let mut measured = true;
        for container in pod["spec"]["containers"].as_array().into_iter().flatten() {
            let container_name = container["name"].as_str().unwrap_or_default();
            if metric.utilization.is_some() {
                let request = amounts::container_amount(container, "requests", resource)
                    .ok_or_else(|| {
                        format!("failed to get {resource} utilization: missing request for {resource} in container {container_name} of Pod {name}")
                    })?;
                requested += request;
            }
            match usage(namespace, name, container_name) {
                Some(u) if resource == "cpu" => pod_used += (u.cpu_nanocores / 1_000_000) as i64,
                Some(u) => pod_used += u.memory_bytes as i64,
                None => measured = false,
            }
        }
        if measured {
            used += pod_used;
            counted += 1;
        }
    }
    if counted == 0 {
        return Ok(None);
    }
    let average = used / counted;
    let shown = amounts::format(resource, average);
    if let Some(target) = metric.utilization {
        let utilization = if requested > 0 {
            used * 100 / requested
        } else {
            0
        };
        return Ok(Some(Measured {
            name: metric.resource.clone(),
            wanted: recommend::by_utilization(
                counted.min(current_replicas.max(1)),
                utilization,
                target,
            ),
            current: json!({"averageUtilization": utilization, "averageValue": shown}),
            resource: format!("{resource} resource utilization (percentage of request)"),
        }));
    }
    let target = metric.average.unwrap_or(1).max(1);
    let ratio = average as f64 / target as f64;
    let base = counted.min(current_replicas.max(1));
    let wanted = if (ratio - 1.0).abs() <= recommend::TOLERANCE {
        base
    } else {
        (ratio * base as f64).ceil() as i64
    };
    Ok(Some(Measured {
        name: metric.resource.clone(),
        wanted,
        current: json!({"averageValue": shown}),
        resource: format!("{resource} resource"),
    }))
}

fn reconcile(
    context: &Context,
    (namespace, name): &ObjectRef,
    hpa: &Value,
    usage: &UsageSource,
    histories: &Mutex<HashMap<String, History>>,
) -> Result<(), crate::errors::ApiError> {
    let registry = &context.registry;
    let old_conditions = &hpa["status"]["conditions"];
    let reference = &hpa["spec"]["scaleTargetRef"];
    let target_kind = resources::find_kind(
        reference["apiVersion"].as_str().unwrap_or("apps/v1"),
        reference["kind"].as_str().unwrap_or_default(),
    )
    .filter(|k| matches!(k.kind, "Deployment" | "StatefulSet" | "ReplicaSet"));
    let target_name = reference["name"].as_str().unwrap_or_default();
    let target = target_kind.and_then(|k| registry.store.get(k, namespace, target_name));
    let (Some(kind), Some(target)) = (target_kind, target) else {
        let status = json!({
            "currentReplicas": 0, "desiredReplicas": 0,
            "conditions": conditions(old_conditions, vec![Condition {
                kind: "AbleToScale", status: false, reason: "FailedGetScale",
                message: format!("the HPA controller was unable to get the target's current scale: {} {target_name:?} not found",
                    target_kind.map_or_else(|| reference["kind"].as_str().unwrap_or_default().to_lowercase(), |k| k.qualified_plural())),
            }]),
        });
        return context.write_status(hpa, status);
    };
    let target = target.value();
    let current = target["spec"]["replicas"].as_i64().unwrap_or(1);
    let min = hpa["spec"]["minReplicas"].as_i64().unwrap_or(1);
    let max = hpa["spec"]["maxReplicas"].as_i64().unwrap_or(min).max(min);
    let mut status = json!({
        "currentReplicas": target["status"]["replicas"].as_i64().unwrap_or(current),
        "desiredReplicas": current,
    });
    if let Some(at) = hpa["status"]["lastScaleTime"].as_str() {
        status["lastScaleTime"] = json!(at);
    }
    if current == 0 {
        status["conditions"] = conditions(
            old_conditions,
            vec![
                Condition {
                    kind: "AbleToScale",
                    status: true,
                    reason: "SucceededGetScale",
                    message: "the HPA controller was able to get the target's current scale".into(),
                },
                Condition {
                    kind: "ScalingActive",
                    status: false,
                    reason: "ScalingDisabled",
                    message: "scaling is disabled since the replica count of the target is zero"
                        .into(),
                },
            ],
        );
        return context.write_status(hpa, status);
    }
    let selector = &target["spec"]["selector"];
    let pods: Vec<Value> = registry
        .store
        .list(resources::pods(), Some(namespace), |_| true, 0, None)
        .items
        .iter()
        .map(|p| p.value())
        .filter(|p| {
            selector_matches(selector, p["metadata"]["labels"].as_object())
                && p["metadata"]["deletionTimestamp"].is_null()
                && p["status"]["phase"] == "Running"
        })
        .collect();
    let measured: Result<Vec<Measured>, String> = metrics(hpa).and_then(|metrics| {
        metrics
            .iter()
            .filter_map(|m| measure(m, &pods, usage, current).transpose())
            .collect()
    });
    let measured = match measured {
        Ok(m) if !m.is_empty() => m,
        outcome => {
            let message = outcome.err().unwrap_or_else(|| {
                "the HPA was unable to compute the replica count: no metrics returned from resource metrics API".to_owned()
            });
            status["conditions"] = conditions(
                old_conditions,
                vec![
                    Condition {
                        kind: "AbleToScale",
                        status: true,
                        reason: "SucceededGetScale",
                        message: "the HPA controller was able to get the target's current scale"
                            .into(),
                    },
                    Condition {
                        kind: "ScalingActive",
                        status: false,
                        reason: "FailedGetResourceMetric",
                        message,
                    },
                ],
            );
            return context.write_status(hpa, status);
        }
    };
    let best = measured
        .iter()
        .max_by_key(|m| m.wanted)
        .map(|m| (m.wanted, m.resource.clone()))
        .unwrap_or((current, String::new()));
    let behavior = &hpa["spec"]["behavior"];
    let up = direction(&behavior["scaleUp"], Direction::default_up());
    let down = direction(&behavior["scaleDown"], Direction::default_down());
    let uid = hpa["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (next, limited) = histories
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(uid)
        .or_default()
        .recommend(Instant::now(), current, best.0, (min, max), &up, &down);
    let able = if next != current {
        registry.update_with(
            kind,
            namespace,
            target_name,
            Part::Main,
            &WriteOptions::default(),
            |t| {
                let mut t = t.clone();
                t["spec"]["replicas"] = json!(next);
                Ok(t)
            },
        )?;
        let why = if next > current {
            format!("{} above target", best.1)
        } else {
            "All metrics below target".to_owned()
        };
        context.recorder.record(
            resources::horizontalpodautoscalers(),
            hpa,
            EventType::Normal,
            "SuccessfulRescale",
            &format!("New size: {next}; reason: {why}"),
            None,
        );
        status["lastScaleTime"] = json!(now());
        tracing::info!(hpa = %name, from = current, to = next, "rescaled");
        Condition {
            kind: "AbleToScale",
            status: true,
            reason: "SucceededRescale",
            message: format!("the HPA controller was able to update the target scale to {next}"),
        }
    } else if best.0 < current {
        Condition { kind: "AbleToScale", status: true, reason: "ScaleDownStabilized", message: "recent recommendations were higher than current one, applying the highest recent recommendation".into() }
    } else {
        Condition {
            kind: "AbleToScale",
            status: true,
            reason: "ReadyForNewScale",
            message: "recommended size matches current size".into(),
        }
    };
    status["desiredReplicas"] = json!(next);
    status["currentMetrics"] = Value::Array(
        measured
            .iter()
            .map(
                |m| json!({"type": "Resource", "resource": {"name": m.name, "current": m.current}}),
            )
            .collect(),
    );
    let limited = match limited {
        Limited::No => Condition {
            kind: "ScalingLimited",
            status: false,
            reason: "DesiredWithinRange",
            message: "the desired count is within the acceptable range".into(),
        },
        Limited::TooFew => Condition {
            kind: "ScalingLimited",
            status: true,
            reason: "TooFewReplicas",
            message: "the desired replica count is less than the minimum replica count".into(),
        },
        Limited::TooMany => Condition {
            kind: "ScalingLimited",
            status: true,
            reason: "TooManyReplicas",
            message: "the desired replica count is more than the maximum replica count".into(),
        },
    };
    status["conditions"] = conditions(
        old_conditions,
        vec![
            able,
            Condition {
                kind: "ScalingActive",
                status: true,
                reason: "ValidMetricFound",
                message: format!(
                    "the HPA was able to successfully calculate a replica count from {}",
                    best.1
                ),
            },
            limited,
        ],
    );
    // The status is written from the object this reconcile read; a newer one is looked at on
    // the next sync.
    match context.write_status(hpa, status) {
        Err(e) if e.code == 409 => Ok(()),
        other => other,
    }
}
