//! LimitRanges (`type: Container`) at a pod's admission, as the LimitRanger plugin applies them:
//! missing limits and requests filled from `default` and `defaultRequest` (and the pod
//! annotated with what was set), then `min`, `max` and `maxLimitRequestRatio` checked, each
//! violation in the plugin's words.

use serde_json::{Value, json};

use super::amounts::parse;

const RESOURCES: [&str; 3] = ["cpu", "memory", "ephemeral-storage"];

/// A LimitRange's defaults as the API server completes them at creation: `default` from `max`,
/// `defaultRequest` from `default`.
pub fn complete(range: &mut Value) {
    let Some(limits) = range["spec"]["limits"].as_array_mut() else {
        return;
    };
    for limit in limits.iter_mut().filter(|l| l["type"] == "Container") {
        for resource in RESOURCES {
            if limit["default"][resource].is_null() && limit["max"][resource].is_string() {
                let max = limit["max"][resource].clone();
                set(limit, "default", resource, max);
            }
            if limit["defaultRequest"][resource].is_null() && limit["default"][resource].is_string()
            {
                let default = limit["default"][resource].clone();
                set(limit, "defaultRequest", resource, default);
            }
        }
    }
}

fn set(object: &mut Value, section: &str, resource: &str, value: Value) {
    if !object[section].is_object() {
        object[section] = json!({});
    }
    object[section][resource] = value;
}

fn quantity(value: &Value) -> Option<&str> {
    value.as_str()
}

/// Applies `ranges` (the namespace's LimitRanges) to a new pod; `Err` lists the violations.
pub fn admit(ranges: &[Value], pod: &mut Value) -> Result<(), String> {
    let limits: Vec<&Value> = ranges
        .iter()
        .flat_map(|r| r["spec"]["limits"].as_array().into_iter().flatten())
        .filter(|l| l["type"] == "Container")
        .collect();
    if limits.is_empty() {
        return Ok(());
    }
    let mut set_requests: Vec<String> = Vec::new();
    let mut set_limits: Vec<String> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    for list in ["containers", "initContainers"] {
        let Some(containers) = pod["spec"][list].as_array_mut() else {
            continue;
        };
        for container in containers {
            let name = container["name"].as_str().unwrap_or_default().to_owned();
            let (mut requested, mut limited) = (Vec::new(), Vec::new());
            for limit in &limits {
                for resource in RESOURCES {
                    if container["resources"]["limits"][resource].is_null()
                        && let Some(default) = quantity(&limit["default"][resource])
                    {
                        let default = default.to_owned();
                        if !container["resources"].is_object() {
                            container["resources"] = json!({});
                        }
                        set(
                            &mut container["resources"],
                            "limits",
                            resource,
                            json!(default),
                        );
                        limited.push(resource);
                    }
                    if container["resources"]["requests"][resource].is_null()
                        && let Some(default) = quantity(&limit["defaultRequest"][resource])
                    {
                        let default = default.to_owned();
                        if !container["resources"].is_object() {
                            container["resources"] = json!({});
                        }
                        set(
                            &mut container["resources"],
                            "requests",
                            resource,
                            json!(default),
                        );
                        requested.push(resource);
                    }
                    check(limit, resource, container, &mut problems);
                }
            }
            if !requested.is_empty() {
                set_requests.push(format!(
                    "{} request for container {name}",
                    requested.join(", ")
                ));
            }
            if !limited.is_empty() {
                set_limits.push(format!("{} limit for container {name}", limited.join(", ")));
            }
        }
    }
    if !problems.is_empty() {
        return Err(if problems.len() == 1 {
            problems.remove(0)
        } else {
            format!("[{}]", problems.join(", "))
        });
    }
    let said: Vec<String> = set_requests.into_iter().chain(set_limits).collect();
    if !said.is_empty() {
        if !pod["metadata"]["annotations"].is_object() {
            pod["metadata"]["annotations"] = json!({});
        }
        pod["metadata"]["annotations"]["kubernetes.io/limit-ranger"] =
            json!(format!("LimitRanger plugin set: {}", said.join("; ")));
    }
    Ok(())
}

fn check(limit: &Value, resource: &str, container: &Value, problems: &mut Vec<String>) {
    let request = quantity(&container["resources"]["requests"][resource]);
    let container_limit = quantity(&container["resources"]["limits"][resource]);
    let amount = |q: &str| parse(resource, q);
    if let Some(min) = quantity(&limit["min"][resource]) {
        for (what, value) in [("request", request), ("limit", container_limit)] {
            match value {
                Some(v) if amount(v) < amount(min) => problems.push(format!(
                    "minimum {resource} usage per Container is {min}, but {what} is {v}"
                )),
                None => problems.push(format!(
                    "minimum {resource} usage per Container is {min}.  No {what} is specified"
                )),
                _ => {}
            }
        }
    }
    if let Some(max) = quantity(&limit["max"][resource]) {
        match container_limit {
            Some(v) if amount(v) > amount(max) => problems.push(format!(
                "maximum {resource} usage per Container is {max}, but limit is {v}"
            )),
            None => problems.push(format!(
                "maximum {resource} usage per Container is {max}.  No limit is specified"
            )),
            _ => {}
        }
    }
    if let (Some(ratio), Some(l), Some(r)) = (
        quantity(&limit["maxLimitRequestRatio"][resource]),
        container_limit.and_then(amount),
        request.and_then(amount),
    ) {
        let allowed = parse("count", ratio).unwrap_or(i64::MAX) as f64;
        let provided = if r > 0 {
            l as f64 / r as f64
        } else {
            f64::INFINITY
        };
        if provided > allowed {
            problems.push(format!(
                "{resource} max limit to request ratio per Container is {ratio}, but provided ratio is {provided:.6}"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(limit: Value) -> Value {
        let mut range = json!({"spec": {"limits": [limit]}});
        complete(&mut range);
        range
    }

    #[test]
    fn defaults_fill_missing_requests_and_limits_and_say_so() {
        let ranges = [range(json!({"type": "Container",
            "default": {"cpu": "500m", "memory": "128Mi"}, "defaultRequest": {"cpu": "100m"}}))];
        assert_eq!(
            ranges[0]["spec"]["limits"][0]["defaultRequest"]["memory"], "128Mi",
            "completed from default"
        );
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [
            {"name": "web", "resources": {"limits": {"cpu": "1"}}},
        ]}});
        admit(&ranges, &mut pod).expect("admitted");
        let resources = &pod["spec"]["containers"][0]["resources"];
        assert_eq!(resources["limits"], json!({"cpu": "1", "memory": "128Mi"}));
        assert_eq!(
            resources["requests"],
            json!({"cpu": "100m", "memory": "128Mi"})
        );
        assert_eq!(
            pod["metadata"]["annotations"]["kubernetes.io/limit-ranger"],
            "LimitRanger plugin set: cpu, memory request for container web; memory limit for container web"
        );
    }

    #[test]
    fn min_max_and_ratio_are_refused_in_the_plugins_words() {
        let ranges = [range(json!({"type": "Container",
            "min": {"cpu": "100m"}, "max": {"cpu": "2", "memory": "1Gi"}, "maxLimitRequestRatio": {"cpu": "2"}}))];
        let mut big = json!({"metadata": {}, "spec": {"containers": [
            {"name": "web", "resources": {"requests": {"cpu": "1", "memory": "64Mi"}, "limits": {"cpu": "3", "memory": "2Gi"}}},
        ]}});
        assert_eq!(
            admit(&ranges, &mut big),
            Err("[maximum cpu usage per Container is 2, but limit is 3, cpu max limit to request ratio per Container is 2, but provided ratio is 3.000000, maximum memory usage per Container is 1Gi, but limit is 2Gi]".to_owned())
        );
        let mut ratio = json!({"metadata": {}, "spec": {"containers": [
            {"name": "web", "resources": {"requests": {"cpu": "250m"}, "limits": {"cpu": "1", "memory": "1Gi"}}},
        ]}});
        assert_eq!(
            admit(&ranges, &mut ratio),
            Err(
                "cpu max limit to request ratio per Container is 2, but provided ratio is 4.000000"
                    .to_owned()
            )
        );
        let mut small = json!({"metadata": {}, "spec": {"containers": [
            {"name": "web", "resources": {"requests": {"cpu": "50m"}, "limits": {"cpu": "100m", "memory": "1Gi"}}},
        ]}});
        assert_eq!(
            admit(&ranges, &mut small),
            Err("minimum cpu usage per Container is 100m, but request is 50m".to_owned())
        );
    }
}
