//! ResourceQuota and LimitRange, enforced when an object is created, as the real server's
//! LimitRanger and ResourceQuota admission plugins do (in that order): a pod gets its
//! namespace's LimitRange defaults and is checked against its limits; then any object a quota
//! of its namespace counts is refused when it would take the namespace past the quota — "exceeded
//! quota: compute, requested: requests.cpu=500m, used: requests.cpu=1500m, limited:
//! requests.cpu=2" — or when it does not say the requests or limits the quota tracks.
//!
//! Usage is counted from the stored objects at each admission (and kept in each quota's
//! `status.used` by `controllers::resource_quota`), not from the quota's status: there is no
//! window in which two creations both see the old status, beyond the store's own ordering.

pub mod amounts;
pub mod limit_ranges;

use serde_json::Value;

use crate::resources::{self, ResourceKind};
use crate::store::Store;
use amounts::Amounts;

fn list(store: &Store, kind: &'static ResourceKind, namespace: &str) -> Vec<Value> {
    store
        .list(kind, Some(namespace), |_| true, 0, None)
        .items
        .iter()
        .map(|s| s.value())
        .collect()
}

/// What the namespace uses now of each resource named in `tracked`.
pub fn usage<'a>(
    store: &Store,
    namespace: &str,
    tracked: impl Iterator<Item = &'a String>,
) -> Amounts {
    let tracked: Vec<&String> = tracked.collect();
    let mut used: Amounts = tracked.iter().map(|r| ((*r).clone(), 0)).collect();
    let wants = |prefix: &str| tracked.iter().any(|r| r.starts_with(prefix));
    let pod_resources = tracked.iter().any(|r| {
        matches!(r.as_str(), "pods" | "cpu" | "memory" | "count/pods")
            || r.starts_with("requests.")
            || r.starts_with("limits.")
    });
    if pod_resources {
        for pod in list(store, resources::pods(), namespace) {
            if amounts::pod_counts(&pod) {
                amounts::add(&mut used, &amounts::of_pod(&pod));
            }
        }
    }
    // Object counts: the built-in kinds a quota names (`services`, `count/deployments.apps`).
    for kind in crate::resources::RESOURCES.iter().filter(|k| k.namespaced) {
        if std::ptr::eq(kind, resources::pods()) {
            continue;
        }
        let core_name = kind.group.is_empty().then_some(kind.plural);
        let count_name = if kind.group.is_empty() {
            format!("count/{}", kind.plural)
        } else {
            format!("count/{}.{}", kind.plural, kind.group)
        };
        let named = core_name.is_some_and(|n| tracked.iter().any(|r| r.as_str() == n))
            || tracked.iter().any(|r| **r == count_name)
            || (kind.plural == "services" && kind.group.is_empty() && wants("services."));
        if !named {
            continue;
        }
        for object in list(store, kind, namespace) {
            amounts::add(
                &mut used,
                &amounts::counted_as(kind.plural, kind.group, &object),
            );
        }
    }
    used.retain(|resource, _| tracked.contains(&resource));
    used
}

/// A quota's `spec.hard`, read.
pub fn hard(quota: &Value) -> Amounts {
    quota["spec"]["hard"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(resource, q)| {
            let text = match q {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Some((resource.clone(), amounts::parse(resource, &text)?))
        })
        .collect()
}

/// Admission of a new object of `kind` in `namespace`; `Err` is the refusal, as the plugins
/// word it (after `pods "web" is forbidden: `).
pub fn admit(
    store: &Store,
    kind: &'static ResourceKind,
    namespace: &str,
    object: &mut Value,
) -> Result<(), String> {
    if namespace.is_empty() || !kind.namespaced {
        return Ok(());
    }
    let is_pod = std::ptr::eq(kind, resources::pods());
    if is_pod {
        let ranges = list(store, resources::limitranges(), namespace);
        limit_ranges::admit(&ranges, object)?;
    }
    let mut quotas = list(store, resources::resourcequotas(), namespace);
    if quotas.is_empty() {
        return Ok(());
    }
    quotas.sort_by_key(|q| {
        q["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    });
    let delta = if is_pod {
        amounts::of_pod(object)
    } else {
        amounts::counted_as(kind.plural, kind.group, object)
    };
    for quota in &quotas {
        let name = quota["metadata"]["name"].as_str().unwrap_or_default();
        let hard = hard(quota);
        if is_pod {
            let missing = missing_resources(&hard, object);
            if !missing.is_empty() {
                return Err(format!(
                    "failed quota: {name}: must specify {}",
                    missing.join("; ")
                ));
            }
        }
        let touched: Vec<&String> = hard
            .keys()
            .filter(|r| delta.get(*r).is_some_and(|d| *d > 0))
            .collect();
        if touched.is_empty() {
            continue;
        }
        let used = usage(store, namespace, touched.iter().copied());
        let mut requested = Amounts::new();
        let mut used_shown = Amounts::new();
        let mut limited = Amounts::new();
        for resource in touched {
            let (wanted, now, limit) = (
                delta[resource],
                used.get(resource).copied().unwrap_or(0),
                hard[resource],
            );
            if now + wanted > limit {
                requested.insert(resource.clone(), wanted);
                used_shown.insert(resource.clone(), now);
                limited.insert(resource.clone(), limit);
            }
        }
        if !requested.is_empty() {
            return Err(format!(
                "exceeded quota: {name}, requested: {}, used: {}, limited: {}",
                amounts::listed(&requested),
                amounts::listed(&used_shown),
                amounts::listed(&limited)
            ));
        }
    }
    Ok(())
}

/// The compute resources a quota tracks that some container of `pod` does not state:
/// `limits.cpu for: web,worker` items, as the plugin lists them.
fn missing_resources(hard: &Amounts, pod: &Value) -> Vec<String> {
    let mut missing = Vec::new();
    for (tracked, section, name) in [
        ("limits.cpu", "limits", "cpu"),
        ("limits.memory", "limits", "memory"),
        ("requests.cpu", "requests", "cpu"),
        ("requests.memory", "requests", "memory"),
    ] {
        let plain = if section == "requests" {
            Some(name)
        } else {
            None
        };
        if !hard.contains_key(tracked) && !plain.is_some_and(|p| hard.contains_key(p)) {
            continue;
        }
        let lacking: Vec<&str> = pod["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| amounts::container_amount(c, section, name).is_none())
            .filter_map(|c| c["name"].as_str())
            .collect();
        if !lacking.is_empty() {
            missing.push(format!("{tracked} for: {}", lacking.join(",")));
        }
    }
    missing
}
