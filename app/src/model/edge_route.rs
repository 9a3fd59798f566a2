//! An HTTPRoute rule as a progressive move at the edge changes it: found by the path it matches,
//! then its backends weighted between the monolith's and the new Service (or, to shadow, its
//! requests mirrored to the new Service). Pure: JSON in, JSON out; the rule's matches and other
//! filters are kept as they are.

use serde_json::{Value, json};

/// The paths an HTTPRoute's rules match, in rule order (`[]` for a rule without a path match).
fn rule_paths(route: &Value) -> Vec<Vec<String>> {
    route["spec"]["rules"]
        .as_array()
        .map(|rules| {
            rules
                .iter()
                .map(|rule| {
                    rule["matches"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|m| m["path"]["value"].as_str().map(str::to_owned))
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The rule of `route` that matches `path`: its index and the rule; else every path its rules
/// match, to say what is there.
pub fn rule_for(route: &Value, path: &str) -> Result<(usize, Value), Vec<String>> {
    let paths = rule_paths(route);
    match paths.iter().position(|p| p.iter().any(|p| p == path)) {
        Some(index) => Ok((index, route["spec"]["rules"][index].clone())),
        None => Err(paths.into_iter().flatten().collect()),
    }
}

/// `before` with the service (`service` on `port`) given `share` percent of the requests; with
/// `mirror` (at 0 %), every request also copied to the service, its answer ignored.
pub fn shared_rule(before: &Value, service: &str, port: i32, share: u8, mirror: bool) -> Value {
    let mut rule = before.clone();
    let theirs: Vec<Value> = before["backendRefs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r["name"] != service)
        .collect();
    if share > 0 {
        let mut monolith = theirs.first().cloned().unwrap_or_else(|| json!({}));
        monolith["weight"] = json!(100 - u32::from(share.min(100)));
        rule["backendRefs"] = json!([
            monolith,
            {"name": service, "port": port, "weight": u32::from(share.min(100))},
        ]);
    } else {
        rule["backendRefs"] = json!(theirs);
    }
    let mut filters: Vec<Value> = before["filters"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|f| {
            !(f["type"] == "RequestMirror" && f["requestMirror"]["backendRef"]["name"] == service)
        })
        .collect();
    if mirror {
        filters.push(json!({
            "type": "RequestMirror",
            "requestMirror": {"backendRef": {"name": service, "port": port}},
        }));
    }
    if filters.is_empty() {
        if let Some(fields) = rule.as_object_mut() {
            fields.remove("filters");
        }
    } else {
        rule["filters"] = json!(filters);
    }
    rule
}

/// The JSON patch that replaces rule `index` with `rule`, refused by the server if that rule no
/// longer matches what it matched (`matches`): someone edited the route meanwhile.
pub fn rule_patch(index: usize, matches: &Value, rule: &Value) -> Value {
    json!([
        {"op": "test", "path": format!("/spec/rules/{index}/matches"), "value": matches},
        {"op": "replace", "path": format!("/spec/rules/{index}"), "value": rule},
    ])
}

/// Whether every parent's `Accepted` condition has seen the route's `generation` (its
/// implementation has taken the change up).
pub fn taken_up(route: &Value) -> bool {
    let generation = &route["metadata"]["generation"];
    let parents = route["status"]["parents"].as_array();
    parents.is_some_and(|parents| {
        !parents.is_empty()
            && parents.iter().all(|p| {
                p["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c["type"] == "Accepted" && &c["observedGeneration"] == generation)
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route() -> Value {
        let text = include_str!("../../../manifests/gateway-api/calculator-edge.yaml");
        let route = text.split("\n---\n").nth(1).unwrap();
        serde_json::to_value(serde_yaml::from_str::<serde_yaml::Value>(route).unwrap()).unwrap()
    }

    #[test]
    fn the_rule_of_a_path_is_found_or_the_paths_there_are_named() {
        let (index, rule) = rule_for(&route(), "/sum").unwrap();
        assert_eq!(index, 0);
        assert_eq!(rule["backendRefs"][0]["name"], "monolith");
        assert_eq!(rule_for(&route(), "/division").unwrap().0, 3);
        assert_eq!(
            rule_for(&route(), "/orders").unwrap_err(),
            ["/sum", "/subtraction", "/multiplication", "/division", "/"]
        );
    }

    #[test]
    fn a_share_weights_the_backends_and_a_shadow_mirrors() {
        let (_, before) = rule_for(&route(), "/sum").unwrap();
        let ten = shared_rule(&before, "sum-service", 3000, 10, false);
        assert_eq!(
            ten["backendRefs"],
            json!([
                {"name": "monolith", "port": 3000, "weight": 90},
                {"name": "sum-service", "port": 3000, "weight": 10},
            ])
        );
        assert_eq!(ten["matches"], before["matches"]);
        assert!(ten.get("filters").is_none());
        let all = shared_rule(&ten, "sum-service", 3000, 100, false);
        assert_eq!(all["backendRefs"][0]["weight"], 0);
        assert_eq!(all["backendRefs"][1]["weight"], 100);
        let shadow = shared_rule(&before, "sum-service", 3000, 0, true);
        assert_eq!(shadow["backendRefs"], before["backendRefs"]);
        assert_eq!(shadow["filters"][0]["type"], "RequestMirror");
        assert_eq!(
            shadow["filters"][0]["requestMirror"]["backendRef"]["name"],
            "sum-service"
        );
        // From the mirror to a share, the mirror goes.
        let after_shadow = shared_rule(&shadow, "sum-service", 3000, 10, false);
        assert!(after_shadow.get("filters").is_none());
        assert_eq!(after_shadow["backendRefs"], ten["backendRefs"]);
    }

    #[test]
    fn a_change_is_taken_up_once_every_parent_has_seen_its_generation() {
        let mut route = route();
        route["metadata"]["generation"] = json!(3);
        assert!(!taken_up(&route));
        route["status"] = json!({"parents": [
            {"conditions": [{"type": "Accepted", "status": "True", "observedGeneration": 2}]},
        ]});
        assert!(!taken_up(&route));
        route["status"]["parents"][0]["conditions"][0]["observedGeneration"] = json!(3);
        assert!(taken_up(&route));
        let patch = rule_patch(0, &json!([{"path": {"value": "/sum"}}]), &json!({}));
        assert_eq!(patch[0]["op"], "test");
        assert_eq!(patch[1]["path"], "/spec/rules/0");
    }
}
