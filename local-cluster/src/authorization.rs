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

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the tokens themselves.
        let count = self.by_token.read().map_or(0, |m| m.len());
        f.debug_struct("Users").field("tokens", &count).finish()
    }
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

/// What a resource request wants to do, in RBAC's terms. Group and resource are plain strings,
/// as in a `SelfSubjectAccessReview`: RBAC matches names and never asks whether they exist.
#[derive(Debug)]
pub struct Attributes<'a> {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`.
    pub verb: &'a str,
    /// The API group (`""` for core).
    pub group: &'a str,
    /// The resource's plural name (`deployments`).
    pub resource: &'a str,
    /// `status`, `log`, `proxy`, …
    pub subresource: Option<&'a str>,
    /// The namespace, for namespaced requests.
    pub namespace: Option<&'a str>,
    /// The object name, for item requests.
    pub name: Option<&'a str>,
}

impl<'a> Attributes<'a> {
    /// The attributes of `verb` on `kind`.
    pub fn of(
        verb: &'a str,
        kind: &'static ResourceKind,
        subresource: Option<&'a str>,
        namespace: Option<&'a str>,
        name: Option<&'a str>,
    ) -> Attributes<'a> {
        Attributes {
            verb,
            group: kind.group,
            resource: kind.plural,
            subresource,
            namespace,
            name,
        }
    }

    fn resource_and_subresource(&self) -> String {
        match self.subresource {
            Some(sub) => format!("{}/{sub}", self.resource),
            None => self.resource.to_owned(),
        }
    }
}

/// A request for a path that is not a resource (`/healthz`, `/metrics`), in RBAC's terms.
#[derive(Debug)]
pub struct NonResourceAttributes<'a> {
    /// `get`, `post`, …
    pub verb: &'a str,
    /// The URL path.
    pub path: &'a str,
}

/// Allows the request on `kind` or says why not, worded as the real server words it.
pub fn authorize(
    registry: &Registry,
    user: &UserInfo,
    kind: &'static ResourceKind,
    request: &Attributes<'_>,
) -> Result<(), ApiError> {
    if decide(registry, user, request).is_some() {
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
        request.resource_and_subresource(),
        request.group
    );
    Err(ApiError::forbidden(
        kind,
        request.name.unwrap_or_default(),
        &why,
    ))
}

/// Why RBAC allows the request (`RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "y" to
/// User "z"`, as a `SelfSubjectAccessReview` reports it), or `None` when nothing allows it.
pub fn decide(registry: &Registry, user: &UserInfo, request: &Attributes<'_>) -> Option<String> {
    grants(registry, user, request.namespace)
        .find(|grant| rule_allows(&grant.rule, request))
        .map(|grant| grant.reason())
}

/// Why RBAC allows a non-resource request, or `None`.
pub fn decide_non_resource(
    registry: &Registry,
    user: &UserInfo,
    request: &NonResourceAttributes<'_>,
) -> Option<String> {
    grants(registry, user, None)
        .filter(|grant| grant.cluster_wide)
        .find(|grant| {
            contains(&grant.rule["verbs"], request.verb)
                && grant.rule["nonResourceURLs"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .any(|url| match url.strip_suffix('*') {
                        Some(prefix) => request.path.starts_with(prefix),
                        None => url == request.path,
                    })
        })
        .map(|grant| grant.reason())
}

/// Every rule granted to `user` in `namespace` (cluster-wide grants included), for a
/// `SelfSubjectRulesReview`.
pub fn rules_of(registry: &Registry, user: &UserInfo, namespace: Option<&str>) -> Vec<Value> {
    grants(registry, user, namespace)
        .map(|grant| grant.rule)
        .collect()
}

/// One rule granted to a user, and the binding that grants it.
struct Grant {
    rule: Value,
    binding_kind: &'static str,
    binding: String,
    binding_namespace: Option<String>,
    role_kind: String,
    role: String,
    subject: String,
    cluster_wide: bool,
}

impl Grant {
    fn reason(&self) -> String {
        let binding = match &self.binding_namespace {
            Some(ns) => format!("{} \"{}/{ns}\"", self.binding_kind, self.binding),
            None => format!("{} \"{}\"", self.binding_kind, self.binding),
        };
        format!(
            "RBAC: allowed by {binding} of {} \"{}\" to {}",
            self.role_kind, self.role, self.subject
        )
    }
}

/// The rules `user` holds in `namespace`: those of ClusterRoleBindings everywhere, then those of
/// the namespace's RoleBindings. `system:masters` holds everything, as the bootstrap
/// `cluster-admin` binding grants it on every cluster.
fn grants<'r>(
    registry: &'r Registry,
    user: &'r UserInfo,
    namespace: Option<&str>,
) -> impl Iterator<Item = Grant> + 'r {
    let masters = user.is_master().then(|| Grant {
        rule: json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"], "nonResourceURLs": ["*"]}),
        binding_kind: "ClusterRoleBinding",
        binding: "cluster-admin".into(),
        binding_namespace: None,
        role_kind: "ClusterRole".into(),
        role: "cluster-admin".into(),
        subject: format!("Group {MASTERS:?}"),
        cluster_wide: true,
    });
    let all = |kind: &'static ResourceKind, namespace: Option<&str>| -> Vec<Value> {
        registry
            .store
            .list(kind, namespace, |_| true, 0, None)
            .items
            .iter()
            .map(|s| s.value())
            .collect()
    };
    let mut bindings: Vec<(Value, bool)> = all(resources::clusterrolebindings(), None)
        .into_iter()
        .map(|b| (b, true))
        .collect();
    // A RoleBinding grants only inside its own namespace.
    if let Some(namespace) = namespace {
        bindings.extend(
            all(resources::rolebindings(), Some(namespace))
                .into_iter()
                .map(|b| (b, false)),
        );
    }
    let bound = bindings
        .into_iter()
        .filter_map(move |(binding, cluster_wide)| {
            let subject = binding["subjects"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|s| subject_matches(s, user, &binding))?;
            let subject = format!(
                "{} {:?}",
                subject["kind"].as_str().unwrap_or_default(),
                subject["name"].as_str().unwrap_or_default()
            );
            let role_ref = &binding["roleRef"];
            let role = role_ref["name"].as_str().unwrap_or_default().to_owned();
            let role_kind = role_ref["kind"].as_str().unwrap_or_default().to_owned();
            let binding_namespace = binding["metadata"]["namespace"].as_str().map(str::to_owned);
            let stored = match role_kind.as_str() {
                "ClusterRole" => registry.get_value(resources::clusterroles(), "", &role),
                "Role" => registry.get_value(
                    resources::roles(),
                    binding_namespace.as_deref().unwrap_or_default(),
                    &role,
                ),
                _ => return None,
            };
            let rules = stored
                .ok()
                .and_then(|r| r["rules"].as_array().cloned())
                .unwrap_or_default();
            let binding_name = binding["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            Some(rules.into_iter().map(move |rule| Grant {
                rule,
                binding_kind: if cluster_wide {
                    "ClusterRoleBinding"
                } else {
                    "RoleBinding"
                },
                binding: binding_name.clone(),
                binding_namespace: binding_namespace.clone(),
                role_kind: role_kind.clone(),
                role: role.clone(),
                subject: subject.clone(),
                cluster_wide,
            }))
        });
    masters.into_iter().chain(bound.flatten())
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
    let resource = request.resource_and_subresource();
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
        && contains(&rule["apiGroups"], request.group)
        && resource_ok
        && names_ok
}

/// The default roles every cluster starts with (a subset of kube-apiserver's bootstrap policy):
/// `cluster-admin` bound to `system:masters`, `system:basic-user` bound to every authenticated
/// user (so anyone may ask what they may do), and the user-facing `view` and `edit` roles.
pub fn bootstrap(registry: &Registry) -> Result<(), ApiError> {
    let internal = WriteOptions::default();
    let labels = json!({"kubernetes.io/bootstrapping": "rbac-defaults"});
    let read = json!(["get", "list", "watch"]);
    let write = json!(["create", "delete", "deletecollection", "patch", "update"]);
    let viewable = |verbs: &Value| {
        json!([
            {"apiGroups": [""], "resources": ["pods", "pods/log", "pods/status", "replicationcontrollers", "replicationcontrollers/status", "replicationcontrollers/scale", "services", "services/status", "endpoints", "configmaps", "events", "serviceaccounts", "namespaces", "namespaces/status"], "verbs": verbs},
            {"apiGroups": ["apps"], "resources": ["deployments", "deployments/status", "deployments/scale", "replicasets", "replicasets/status", "replicasets/scale", "daemonsets", "daemonsets/status", "statefulsets", "statefulsets/status", "statefulsets/scale"], "verbs": verbs},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": verbs},
            {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets", "poddisruptionbudgets/status"], "verbs": verbs},
            {"apiGroups": ["batch"], "resources": ["jobs", "jobs/status", "cronjobs", "cronjobs/status"], "verbs": verbs},
            {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers", "horizontalpodautoscalers/status"], "verbs": verbs},
            {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses", "ingresses/status", "networkpolicies"], "verbs": verbs},
        ])
    };
    // Quotas and limits are read by `view` and `edit` alike; changing them is an admin's.
    let quotas = json!({"apiGroups": [""], "resources": ["resourcequotas", "resourcequotas/status", "limitranges"], "verbs": read});
    // As metrics-server's `system:aggregated-metrics-reader` adds to view, edit and admin.
    let metrics =
        json!({"apiGroups": ["metrics.k8s.io"], "resources": ["pods", "nodes"], "verbs": read});
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
        rules.push(json!({"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]}));
        rules.push(json!({"apiGroups": [""], "resources": ["pods/attach", "pods/exec", "pods/portforward"], "verbs": ["create", "get"]}));
        rules.push(metrics.clone());
        rules.push(quotas.clone());
    }
    for (name, rules) in [
        (
            "cluster-admin",
            json!([
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                {"nonResourceURLs": ["*"], "verbs": ["*"]},
            ]),
        ),
        (
            "system:basic-user",
            json!([
                {"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"]},
                {"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"], "verbs": ["create"]},
            ]),
        ),
        ("view", {
            let mut rules = viewable(&read);
            if let Some(list) = rules.as_array_mut() {
                list.push(metrics.clone());
                list.push(quotas.clone());
            }
            rules
        }),
        ("edit", edit_rules),
    ] {
        registry.create(
            resources::clusterroles(),
            "",
            json!({"metadata": {"name": name, "labels": labels}, "rules": rules}),
            &internal,
        )?;
    }
    for (name, group) in [
        ("cluster-admin", MASTERS),
        ("system:basic-user", "system:authenticated"),
    ] {
        registry.create(
            resources::clusterrolebindings(),
            "",
            json!({
                "metadata": {"name": name, "labels": labels},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}],
            }),
            &internal,
        )?;
    }
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
        Attributes::of(verb, kind, subresource, namespace, None)
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
