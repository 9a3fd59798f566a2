//! Who is asking, and may they: bearer tokens to users, and RBAC (`rbac.authorization.k8s.io/v1`
//! Roles, ClusterRoles and their bindings) deciding each resource request, as the real API
//! server's RBAC authorizer does. `system:masters` may do anything, as on every Kubernetes
//! cluster (EKS maps its cluster creator there). Denials carry the real server's wording, which
//! clients show verbatim: `nodes is forbidden: User "dev" cannot list resource "nodes" in API
//! group "" at the cluster scope`.

use std::collections::HashMap;
use std::sync::RwLock;

use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::registry::{Registry, WriteOptions};
use crate::resources::{self, ResourceKind};

/// The group whose members pass every authorization check.
pub const MASTERS: &str = "system:masters";

/// An authenticated user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    /// The user name RBAC subjects of kind `User` match.
    pub name: String,
    /// Groups RBAC subjects of kind `Group` match (`system:authenticated` is always added).
    pub groups: Vec<String>,
}

impl UserInfo {
    /// A user in `groups` (plus `system:authenticated`).
    pub fn new(name: impl Into<String>, groups: &[&str]) -> UserInfo {
        let mut groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
        if !groups.iter().any(|g| g == "system:authenticated") {
            groups.push("system:authenticated".into());
        }
        UserInfo {
            name: name.into(),
            groups,
        }
    }

    fn is_master(&self) -> bool {
        self.groups.iter().any(|g| g == MASTERS)
    }
}

/// The cluster's bearer tokens (like kube-apiserver's `--token-auth-file`).
#[derive(Default)]
pub struct Users {
    by_token: RwLock<HashMap<String, UserInfo>>,
}

impl Users {
    /// Accepts `token` as `user` from now on.
    pub fn add(&self, token: String, user: UserInfo) {
        if let Ok(mut map) = self.by_token.write() {
            map.insert(token, user);
        }
    }

    /// The user a token belongs to.
    pub fn authenticate(&self, token: &str) -> Option<UserInfo> {
        self.by_token.read().ok()?.get(token).cloned()
    }
}

/// What a resource request wants to do, in RBAC's terms.
#[derive(Debug)]
pub struct Attributes<'a> {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`.
    pub verb: &'a str,
    /// The resource.
    pub kind: &'static ResourceKind,
    /// `status`, `log`, `proxy`, …
    pub subresource: Option<&'a str>,
    /// The namespace, for namespaced requests.
    pub namespace: Option<&'a str>,
    /// The object name, for item requests.
    pub name: Option<&'a str>,
}

impl Attributes<'_> {
    fn resource(&self) -> String {
        match self.subresource {
            Some(sub) => format!("{}/{sub}", self.kind.plural),
            None => self.kind.plural.to_owned(),
        }
    }
}

/// Allows the request or says why not, worded as the real server words it.
pub fn authorize(
    registry: &Registry,
    user: &UserInfo,
    request: &Attributes<'_>,
) -> Result<(), ApiError> {
    if user.is_master() || allowed(registry, user, request) {
        return Ok(());
    }
    let scope = match request.namespace {
        Some(ns) => format!("in the namespace {ns:?}"),
        None => "at the cluster scope".to_owned(),
    };
    let why = format!(
        "User {:?} cannot {} resource {:?} in API group {:?} {scope}",
        user.name,
        request.verb,
        request.resource(),
        request.kind.group
    );
    Err(ApiError::forbidden(
        request.kind,
        request.name.unwrap_or_default(),
        &why,
    ))
}

fn allowed(registry: &Registry, user: &UserInfo, request: &Attributes<'_>) -> bool {
    let bound = |binding: &Value| {
        binding["subjects"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| subject_matches(s, user, binding))
    };
    let role_rules = |role_ref: &Value, namespace: &str| -> Vec<Value> {
        let name = role_ref["name"].as_str().unwrap_or_default();
        let role = match role_ref["kind"].as_str() {
            Some("ClusterRole") => registry.get_value(resources::clusterroles(), "", name),
            Some("Role") => registry.get_value(resources::roles(), namespace, name),
            _ => return Vec::new(),
        };
        role.ok()
            .and_then(|r| r["rules"].as_array().cloned())
            .unwrap_or_default()
    };
    let all = |kind: &'static ResourceKind, namespace: Option<&str>| -> Vec<Value> {
        registry
            .store
            .list(kind, namespace, |_| true, 0, None)
            .items
            .iter()
            .map(|s| s.value())
            .collect()
    };
    // Cluster-wide grants apply everywhere.
    for binding in all(resources::clusterrolebindings(), None) {
        if bound(&binding)
            && role_rules(&binding["roleRef"], "")
                .iter()
                .any(|rule| rule_allows(rule, request))
        {
            return true;
        }
    }
    // A RoleBinding grants only inside its own namespace.
    if let Some(namespace) = request.namespace {
        for binding in all(resources::rolebindings(), Some(namespace)) {
            if bound(&binding)
                && role_rules(&binding["roleRef"], namespace)
                    .iter()
                    .any(|rule| rule_allows(rule, request))
            {
                return true;
            }
        }
    }
    false
}

fn subject_matches(subject: &Value, user: &UserInfo, binding: &Value) -> bool {
    let name = subject["name"].as_str().unwrap_or_default();
    match subject["kind"].as_str() {
        Some("User") => name == user.name,
        Some("Group") => user.groups.iter().any(|g| g == name),
        Some("ServiceAccount") => {
            let namespace = subject["namespace"]
                .as_str()
                .or_else(|| binding["metadata"]["namespace"].as_str())
                .unwrap_or_default();
            user.name == format!("system:serviceaccount:{namespace}:{name}")
        }
        _ => false,
    }
}

fn contains(list: &Value, wanted: &str) -> bool {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .any(|v| v == "*" || v == wanted)
}

fn rule_allows(rule: &Value, request: &Attributes<'_>) -> bool {
    let resource = request.resource();
    let resource_ok = rule["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .any(|r| {
            r == "*"
                || r == resource
                || request
                    .subresource
                    .is_some_and(|sub| r == format!("*/{sub}"))
        });
    let names_ok = match rule["resourceNames"].as_array() {
        Some(names) if !names.is_empty() => request
            .name
            .is_some_and(|n| names.iter().any(|v| v.as_str() == Some(n))),
        _ => true,
    };
    contains(&rule["verbs"], request.verb)
        && contains(&rule["apiGroups"], request.kind.group)
        && resource_ok
        && names_ok
}

/// The default roles every cluster starts with (a subset of kube-apiserver's bootstrap policy):
/// `cluster-admin` bound to `system:masters`, and the user-facing `view` and `edit` roles.
pub fn bootstrap(registry: &Registry) -> Result<(), ApiError> {
    let internal = WriteOptions::default();
    let labels = json!({"kubernetes.io/bootstrapping": "rbac-defaults"});
    let read = json!(["get", "list", "watch"]);
    let write = json!(["create", "delete", "deletecollection", "patch", "update"]);
    let viewable = |verbs: &Value| {
        json!([
            {"apiGroups": [""], "resources": ["pods", "pods/log", "pods/status", "services", "services/status", "endpoints", "configmaps", "events", "serviceaccounts", "namespaces", "namespaces/status"], "verbs": verbs},
            {"apiGroups": ["apps"], "resources": ["deployments", "deployments/status", "deployments/scale", "replicasets", "replicasets/status", "replicasets/scale"], "verbs": verbs},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": verbs},
        ])
    };
    let mut edit_rules = viewable(&read);
    if let Some(rules) = edit_rules.as_array_mut() {
        rules.extend(
            viewable(&write)
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|r| r["resources"] != json!(["endpointslices"])),
        );
        rules.push(json!({"apiGroups": [""], "resources": ["secrets", "pods/proxy", "services/proxy"], "verbs": ["get", "list", "watch", "create", "delete", "deletecollection", "patch", "update"]}));
    }
    for (name, rules) in [
        (
            "cluster-admin",
            json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]),
        ),
        ("view", viewable(&read)),
        ("edit", edit_rules),
    ] {
        registry.create(
            resources::clusterroles(),
            "",
            json!({"metadata": {"name": name, "labels": labels}, "rules": rules}),
            &internal,
        )?;
    }
    registry.create(
        resources::clusterrolebindings(),
        "",
        json!({
            "metadata": {"name": "cluster-admin", "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": MASTERS}],
        }),
        &internal,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(
        verb: &'a str,
        kind: &'static ResourceKind,
        subresource: Option<&'a str>,
        namespace: Option<&'a str>,
    ) -> Attributes<'a> {
        Attributes {
            verb,
            kind,
            subresource,
            namespace,
            name: None,
        }
    }

    #[test]
    fn rules_match_verbs_groups_resources_and_subresources() {
        let rule =
            json!({"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]});
        assert!(rule_allows(
            &rule,
            &request("list", resources::pods(), None, Some("a"))
        ));
        assert!(rule_allows(
            &rule,
            &request("get", resources::pods(), Some("log"), Some("a"))
        ));
        assert!(!rule_allows(
            &rule,
            &request("get", resources::pods(), Some("status"), Some("a"))
        ));
        assert!(!rule_allows(
            &rule,
            &request("delete", resources::pods(), None, Some("a"))
        ));
        assert!(!rule_allows(
            &rule,
            &request("list", resources::deployments(), None, Some("a"))
        ));
        let wildcard = json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]});
        assert!(rule_allows(
            &wildcard,
            &request("deletecollection", resources::nodes(), None, None)
        ));
        let named = json!({"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["x"], "verbs": ["get"]});
        let mut get_x = request("get", resources::configmaps(), None, Some("a"));
        get_x.name = Some("x");
        assert!(rule_allows(&named, &get_x));
        get_x.name = Some("y");
        assert!(!rule_allows(&named, &get_x));
    }

    #[test]
    fn users_are_known_by_token_and_always_authenticated() {
        let users = Users::default();
        users.add("t".into(), UserInfo::new("dev", &["team"]));
        let dev = users.authenticate("t").unwrap();
        assert_eq!(dev.groups, ["team", "system:authenticated"]);
        assert!(users.authenticate("other").is_none());
    }
}
