//! What quotas count: amounts of a resource name (`requests.cpu`, `limits.memory`, `pods`,
//! `count/deployments.apps`) in one integer unit each (millicores for CPU, bytes for memory and
//! storage, items for counts), read from and written as Kubernetes quantities.

use std::collections::BTreeMap;

use serde_json::Value;

/// Resource name → amount.
pub type Amounts = BTreeMap<String, i64>;

/// Whether `resource` is measured in CPU (millicores).
fn is_cpu(resource: &str) -> bool {
    resource == "cpu" || resource.ends_with(".cpu")
}

/// Whether `resource` is a count of objects (or of pods).
fn is_count(resource: &str) -> bool {
    !is_cpu(resource) && !resource.contains("memory") && !resource.contains("storage")
}

/// A quantity of `resource`; `None` if it does not parse.
pub fn parse(resource: &str, text: &str) -> Option<i64> {
    if is_cpu(resource) {
        kube_units::quantity::cpu_millis(text)
    } else {
        kube_units::quantity::bytes(text)
    }
}

/// An amount of `resource` as the API writes it (`1500m`, `2`, `96Mi`, `10`).
pub fn format(resource: &str, amount: i64) -> String {
    if is_cpu(resource) {
        if amount % 1000 == 0 {
            (amount / 1000).to_string()
        } else {
            format!("{amount}m")
        }
    } else if is_count(resource) || amount == 0 {
        amount.to_string()
    } else {
        for (suffix, unit) in [
            ("Ti", 1i64 << 40),
            ("Gi", 1 << 30),
            ("Mi", 1 << 20),
            ("Ki", 1 << 10),
        ] {
            if amount % unit == 0 {
                return format!("{}{suffix}", amount / unit);
            }
        }
        amount.to_string()
    }
}

/// `resource=amount` pairs joined as the quota admission's messages write them.
pub fn listed(amounts: &Amounts) -> String {
    amounts
        .iter()
        .map(|(r, a)| format!("{r}={}", format(r, *a)))
        .collect::<Vec<_>>()
        .join(",")
}

/// A container's request or limit of `name` (`cpu`, `memory`).
pub fn container_amount(container: &Value, section: &str, name: &str) -> Option<i64> {
    container["resources"][section][name]
        .as_str()
        .and_then(|q| parse(name, q))
        .or_else(|| {
            // A plain number written as JSON number.
            container["resources"][section][name].as_f64().map(|n| {
                if name == "cpu" {
                    (n * 1000.0).ceil() as i64
                } else {
                    n.ceil() as i64
                }
            })
        })
}

/// What a pod counts against quotas: one pod, and its requests and limits (the sum of its
/// containers', or its largest init container's when that is more, as the scheduler counts).
pub fn of_pod(pod: &Value) -> Amounts {
    let mut out = Amounts::from([("pods".to_owned(), 1), ("count/pods".to_owned(), 1)]);
    for section in ["requests", "limits"] {
        for name in ["cpu", "memory", "ephemeral-storage"] {
            let sum: i64 = pod["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| container_amount(c, section, name))
                .sum();
            let init = pod["spec"]["initContainers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| container_amount(c, section, name))
                .max()
                .unwrap_or(0);
            let total = sum.max(init);
            if total > 0 {
                out.insert(format!("{section}.{name}"), total);
                if section == "requests" {
                    // `cpu` and `memory` in a quota mean the requests.
                    out.insert(name.to_owned(), total);
                }
            }
        }
    }
    out
}

/// Whether a pod still counts (terminal pods do not).
pub fn pod_counts(pod: &Value) -> bool {
    !matches!(
        pod["status"]["phase"].as_str(),
        Some("Succeeded" | "Failed")
    )
}

/// The resource names an object of `plural` in `group` is counted under.
pub fn counted_as(plural: &str, group: &str, object: &Value) -> Amounts {
    let mut out = Amounts::new();
    let count_name = if group.is_empty() {
        format!("count/{plural}")
    } else {
        format!("count/{plural}.{group}")
    };
    out.insert(count_name, 1);
    if group.is_empty()
        && matches!(
            plural,
            "services"
                | "configmaps"
                | "secrets"
                | "replicationcontrollers"
                | "resourcequotas"
                | "persistentvolumeclaims"
        )
    {
        out.insert(plural.to_owned(), 1);
    }
    if plural == "services" && group.is_empty() {
        match object["spec"]["type"].as_str() {
            Some("NodePort") => {
                out.insert("services.nodeports".to_owned(), 1);
            }
            Some("LoadBalancer") => {
                out.insert("services.loadbalancers".to_owned(), 1);
                out.insert("services.nodeports".to_owned(), 1);
            }
            _ => {}
        }
    }
    out
}

/// Adds `more` into `total`.
pub fn add(total: &mut Amounts, more: &Amounts) {
    for (resource, amount) in more {
        *total.entry(resource.clone()).or_insert(0) += amount;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn amounts_read_and_write_as_quantities() {
        assert_eq!(parse("requests.cpu", "500m"), Some(500));
        assert_eq!(parse("limits.memory", "1Gi"), Some(1 << 30));
        assert_eq!(parse("pods", "10"), Some(10));
        assert_eq!(format("requests.cpu", 1500), "1500m");
        assert_eq!(format("cpu", 2000), "2");
        assert_eq!(format("requests.memory", 96 << 20), "96Mi");
        assert_eq!(format("requests.memory", 1000), "1000");
        assert_eq!(format("pods", 3), "3");
        assert_eq!(format("count/deployments.apps", 3), "3");
        let amounts = Amounts::from([("requests.cpu".to_owned(), 500), ("pods".to_owned(), 2)]);
        assert_eq!(listed(&amounts), "pods=2,requests.cpu=500m");
    }

    #[test]
    fn a_pod_counts_its_containers_and_its_largest_init_container() {
        let pod = json!({"spec": {
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}},
                {"name": "b", "resources": {"requests": {"cpu": "250m"}}},
            ],
            "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "1"}}}],
        }});
        let used = of_pod(&pod);
        assert_eq!(used["pods"], 1);
        assert_eq!(
            used["requests.cpu"], 1000,
            "the init container's 1 beats 250m + 250m"
        );
        assert_eq!(used["cpu"], 1000);
        assert_eq!(used["requests.memory"], 64 << 20);
        assert_eq!(used["limits.memory"], 128 << 20);
        assert!(!used.contains_key("limits.cpu"));
        let service = json!({"spec": {"type": "LoadBalancer"}});
        let counted = counted_as("services", "", &service);
        assert_eq!(counted["services"], 1);
        assert_eq!(counted["services.loadbalancers"], 1);
        assert_eq!(counted["count/services"], 1);
        assert_eq!(
            counted_as("deployments", "apps", &json!({}))["count/deployments.apps"],
            1
        );
    }
}
