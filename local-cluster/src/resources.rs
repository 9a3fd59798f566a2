//! The API resources this cluster serves: group, version, names, scope and subresources, exactly
//! as discovery reports them.

/// One REST resource (`deployments` in `apps/v1`).
#[derive(Debug, PartialEq, Eq)]
pub struct ResourceKind {
    /// API group; empty for the core group.
    pub group: &'static str,
    /// API version within the group.
    pub version: &'static str,
    /// The URL segment (`deployments`).
    pub plural: &'static str,
    /// Singular name (`deployment`).
    pub singular: &'static str,
    /// The object kind (`Deployment`).
    pub kind: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// kubectl short names (`deploy`).
    pub short_names: &'static [&'static str],
    /// Subresources (`status`, `scale`, `log`, `proxy`, …).
    pub subresources: &'static [&'static str],
    /// Categories (`all`).
    pub categories: &'static [&'static str],
    /// The verbs discovery lists (reviews are create-only).
    pub verbs: &'static [&'static str],
    /// For a custom resource (served from a CustomResourceDefinition), its collection in the
    /// cluster's store; built-in kinds are found by their place in [`RESOURCES`].
    pub custom_slot: Option<usize>,
}

impl ResourceKind {
    /// `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `pods` or `deployments.apps`, as used in error messages.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_owned()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `Pod` or `Deployment.apps`, as used in validation errors.
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_owned()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    /// Whether objects of this kind are questions answered on create and never stored
    /// (`SelfSubjectAccessReview` and the like).
    pub fn is_review(&self) -> bool {
        self.verbs == REVIEW_VERBS
    }

    /// Whether writes to the main resource ignore `.status` (it has a `status` subresource).
    pub fn has_status(&self) -> bool {
        self.subresources.contains(&"status")
    }

    /// The compact key the store files this kind's objects under: its position in
    /// [`RESOURCES`], or its custom resource's slot (numbered after them).
    pub fn id(&'static self) -> ResourceId {
        if let Some(slot) = self.custom_slot {
            return ResourceId(slot);
        }
        ResourceId(
            RESOURCES
                .iter()
                .position(|r| std::ptr::eq(r, self))
                .expect("every built-in ResourceKind lives in RESOURCES"),
        )
    }

    /// Whether this kind is served from a CustomResourceDefinition.
    pub fn is_custom(&self) -> bool {
        self.custom_slot.is_some()
    }
}

/// Where the store keeps a kind's objects: its index in [`RESOURCES`], or for a custom
/// resource a slot numbered after them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId(pub usize);

const CORE: &str = "";

/// Every resource served, in discovery order.
pub static RESOURCES: &[ResourceKind] = &[
    ResourceKind {
        group: CORE,
        version: "v1",
        plural: "namespaces",
        singular: "namespace",
        kind: "Namespace",
        custom_slot: None,
        namespaced: false,
        short_names: &["ns"],
        subresources: &["status", "finalize"],
        categories: &[],
        // As on a real server: namespaces go one at a time (no deletecollection).
        verbs: &[
            "create", "delete", "get", "list", "patch", "update", "watch",
        ],
    },
    ResourceKind {
        group: CORE,
        version: "v1",
        plural: "nodes",
        singular: "node",
        kind: "Node",
        custom_slot: None,
        namespaced: false,
        short_names: &["no"],
        subresources: &["status", "proxy"],
        categories: &[],
        verbs: VERBS,
    },
    ResourceKind {
        group: CORE,
        version: "v1",
        plural: "pods",
        singular: "pod",
        kind: "Pod",
        custom_slot: None,
        namespaced: true,
        short_names: &["po"],
        subresources: &[
            "status",
            "log",
            "proxy",
            "binding",
            "eviction",
            "exec",
            "attach",
            "portforward",
        ],
        categories: &["all"],
        verbs: VERBS,
    },
    ResourceKind {
        group: CORE,
        version: "v1",
        plural: "services",
        singular: "service",
        kind: "Service",
        custom_slot: None,
        namespaced: true,
        short_names: &["svc"],
        subresources: &["status", "proxy"],
        categories: &["all"],
        verbs: VERBS,
    },
    ResourceKind {
        group: CORE,
        version: "v1",
        plural: "endpoints",
        singular: "endpoints",
        kind: "Endpoints",
        custom_slot: None,
        namespaced: true,
        short_names: &["ep"],
        subresources: &[],
        categories: &[],
        verbs: VERBS,
    },
    ResourceKind {
        group: CORE,
        version: "v1",
        plural: "configmaps",
        singular: "configmap",
        kind: "ConfigMap",
        custom_slot: None,
        namespaced: true,
        short_names: &["cm"],
        subresources: &[],
        categories: &[],
        verbs: VERBS,
    },
    ResourceKind {
        group: CORE,
        version: "v1",
        plural: "secrets",
        singular: "secret",
        kind: "Secret",
        custom_slot: None,
        namespaced: true,
        short_names: &[],
        subresources: &[],
        categories: &[],
        verbs: VERBS,
    },
    ResourceKind {
        group: CORE,
        version: "v1",
        plural: "events",
        singular: "event",
        kind: "Event",
        custom_slot: None,
        namespaced: true,
        short_names: &["ev"],
        subresources: &[],
        categories: &[],
        verbs: VERBS,
    },
    ResourceKind {
        group: "events.k8s.io",
        version: "v1",
        plural: "events",
        singular: "event",
        kind: "Event",
        custom_slot: None,
        namespaced: true,
        short_names: &["ev"],
        subresources: &[],
        categories: &[],
        verbs: VERBS,
    },
    ResourceKind {
        group: CORE,
        version: "v1",
        plural: "serviceaccounts",
        singular: "serviceaccount",
        kind: "ServiceAccount",
        custom_slot: None,
        namespaced: true,
        short_names: &["sa"],
        subresources: &[],
        categories: &[],
        verbs: VERBS,
    },
    ResourceKind {
        group: "apps",
        version: "v1",
        plural: "deployments",
        singular: "deployment",
        kind: "Deployment",
        custom_slot: None,
        namespaced: true,
        short_names: &["deploy"],
        subresources: &["status", "scale"],
        categories: &["all"],
        verbs: VERBS,
    },
    ResourceKind {
        group: "apps",
        version: "v1",
        plural: "daemonsets",
        singular: "daemonset",
        kind: "DaemonSet",
        custom_slot: None,
        namespaced: true,
        short_names: &["ds"],
        subresources: &["status"],
        categories: &["all"],
        verbs: VERBS,
    },
    ResourceKind {
        group: "apps",
        version: "v1",
        plural: "replicasets",
        singular: "replicaset",
        kind: "ReplicaSet",
        custom_slot: None,
        namespaced: true,
        short_names: &["rs"],
        subresources: &["status", "scale"],
        categories: &["all"],
        verbs: VERBS,
    },
    ResourceKind {
        group: "policy",
        version: "v1",
        plural: "poddisruptionbudgets",
        singular: "poddisruptionbudget",
        kind: "PodDisruptionBudget",
        custom_slot: None,
        namespaced: true,
        short_names: &["pdb"],
        subresources: &["status"],
        categories: &[],
        verbs: VERBS,
    },
    ResourceKind {
        group: "discovery.k8s.io",
        version: "v1",
        plural: "endpointslices",
        singular: "endpointslice",
        kind: "EndpointSlice",
        custom_slot: None,
        namespaced: true,
        short_names: &[],
        subresources: &[],
        categories: &[],
        verbs: VERBS,
    },
    ResourceKind {
        group: "apiregistration.k8s.io",
        version: "v1",
        plural: "apiservices",
        singular: "apiservice",
        kind: "APIService",
        custom_slot: None,
        namespaced: false,
        short_names: &[],
        subresources: &["status"],
        categories: &["api-extensions"],
        verbs: VERBS,
    },
    ResourceKind {
        group: "apiextensions.k8s.io",
        version: "v1",
        plural: "customresourcedefinitions",
        singular: "customresourcedefinition",
        kind: "CustomResourceDefinition",
        custom_slot: None,
        namespaced: false,
        short_names: &["crd", "crds"],
        subresources: &["status"],
        categories: &["api-extensions"],
        verbs: VERBS,
    },
    ResourceKind {
        group: "coordination.k8s.io",
        version: "v1",
        plural: "leases",
        singular: "lease",
        kind: "Lease",
        custom_slot: None,
        namespaced: true,
        short_names: &[],
        subresources: &[],
        categories: &[],
        verbs: VERBS,
    },
    ResourceKind {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        plural: "roles",
        singular: "role",
        kind: "Role",
        custom_slot: None,
        namespaced: true,
        short_names: &[],
        subresources: &[],
        categories: &[],
        verbs: VERBS,
    },
    ResourceKind {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        plural: "rolebindings",
        singular: "rolebinding",
        kind: "RoleBinding",
        custom_slot: None,
        namespaced: true,
        short_names: &[],
        subresources: &[],
        categories: &[],
        verbs: VERBS,
    },
    ResourceKind {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        plural: "clusterroles",
        singular: "clusterrole",
        kind: "ClusterRole",
        custom_slot: None,
        namespaced: false,
        short_names: &[],
        subresources: &[],
        categories: &[],
        verbs: VERBS,
    },
    ResourceKind {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        plural: "clusterrolebindings",
        singular: "clusterrolebinding",
        kind: "ClusterRoleBinding",
        custom_slot: None,
        namespaced: false,
        short_names: &[],
        subresources: &[],
        categories: &[],
        verbs: VERBS,
    },
    ResourceKind {
        group: "authentication.k8s.io",
        version: "v1",
        plural: "selfsubjectreviews",
        singular: "selfsubjectreview",
        kind: "SelfSubjectReview",
        custom_slot: None,
        namespaced: false,
        short_names: &[],
        subresources: &[],
        categories: &[],
        verbs: REVIEW_VERBS,
    },
    ResourceKind {
        group: "authorization.k8s.io",
        version: "v1",
        plural: "selfsubjectaccessreviews",
        singular: "selfsubjectaccessreview",
        kind: "SelfSubjectAccessReview",
        custom_slot: None,
        namespaced: false,
        short_names: &[],
        subresources: &[],
        categories: &[],
        verbs: REVIEW_VERBS,
    },
    ResourceKind {
        group: "authorization.k8s.io",
        version: "v1",
        plural: "selfsubjectrulesreviews",
        singular: "selfsubjectrulesreview",
        kind: "SelfSubjectRulesReview",
        custom_slot: None,
        namespaced: false,
        short_names: &[],
        subresources: &[],
        categories: &[],
        verbs: REVIEW_VERBS,
    },
    ResourceKind {
        group: CORE,
        version: "v1",
        plural: "replicationcontrollers",
        singular: "replicationcontroller",
        kind: "ReplicationController",
        custom_slot: None,
        namespaced: true,
        short_names: &["rc"],
        subresources: &["status", "scale"],
        categories: &["all"],
        verbs: VERBS,
    },
    ResourceKind {
        group: "apps",
        version: "v1",
        plural: "statefulsets",
        singular: "statefulset",
        kind: "StatefulSet",
        custom_slot: None,
        namespaced: true,
        short_names: &["sts"],
        subresources: &["status", "scale"],
        categories: &["all"],
        verbs: VERBS,
    },
    ResourceKind {
        group: "batch",
        version: "v1",
        plural: "jobs",
        singular: "job",
        kind: "Job",
        custom_slot: None,
        namespaced: true,
        short_names: &[],
        subresources: &["status"],
        categories: &["all"],
        verbs: VERBS,
    },
    ResourceKind {
        group: "batch",
        version: "v1",
        plural: "cronjobs",
        singular: "cronjob",
        kind: "CronJob",
        custom_slot: None,
        namespaced: true,
        short_names: &["cj"],
        subresources: &["status"],
        categories: &["all"],
        verbs: VERBS,
    },
    ResourceKind {
        group: "metrics.k8s.io",
        version: "v1beta1",
        plural: "nodes",
        singular: "",
        kind: "NodeMetrics",
        custom_slot: None,
        namespaced: false,
        short_names: &[],
        subresources: &[],
        categories: &[],
        verbs: &["get", "list"],
    },
    ResourceKind {
        group: "metrics.k8s.io",
        version: "v1beta1",
        plural: "pods",
        singular: "",
        kind: "PodMetrics",
        custom_slot: None,
        namespaced: true,
        short_names: &[],
        subresources: &[],
        categories: &[],
        verbs: &["get", "list"],
    },
];

/// The verbs every stored resource supports.
pub const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// Reviews are questions asked by creating them: nothing is stored, so `create` is all there is.
pub const REVIEW_VERBS: &[&str] = &["create"];

/// Finds a resource by its URL coordinates.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceKind> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// `metrics.k8s.io/v1beta1` pods: PodMetrics, computed when asked, never stored.
pub fn pod_metrics() -> &'static ResourceKind {
    find("metrics.k8s.io", "v1beta1", "pods").expect("pod metrics are in RESOURCES")
}

/// `metrics.k8s.io/v1beta1` nodes: NodeMetrics, computed when asked, never stored.
pub fn node_metrics() -> &'static ResourceKind {
    find("metrics.k8s.io", "v1beta1", "nodes").expect("node metrics are in RESOURCES")
}

/// Finds a resource by `apiVersion` and `kind` (as written in a manifest).
pub fn find_kind(api_version: &str, kind: &str) -> Option<&'static ResourceKind> {
    RESOURCES
        .iter()
        .find(|r| r.api_version() == api_version && r.kind == kind)
}

/// The kind whose stored objects `kind` shows: itself, except for `events.k8s.io/v1` Events,
/// which are core `v1` Events seen through another version (as on a real server).
pub fn stored_as(kind: &'static ResourceKind) -> &'static ResourceKind {
    if kind.group == "events.k8s.io" {
        events()
    } else {
        kind
    }
}

/// The built-in (group, version) pairs served, core first.
pub fn group_versions() -> Vec<(&'static str, &'static str)> {
    group_versions_of(RESOURCES.iter())
}

/// The (group, version) pairs of `kinds`, in their order, except that a group's versions go
/// by Kubernetes' version priority (`v2` before `v1` before `v1beta2` before `v1alpha1`), as
/// discovery lists them and its preferred version is the first.
pub fn group_versions_of<'a>(
    kinds: impl IntoIterator<Item = &'a ResourceKind>,
) -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&'static str, &'static str)> = Vec::new();
    for r in kinds {
        if !out.contains(&(r.group, r.version)) {
            out.push((r.group, r.version));
        }
    }
    // Stable: groups keep their first-seen order, versions within a group are ranked.
    let first_seen: Vec<&str> = out.iter().map(|(g, _)| *g).collect();
    out.sort_by_key(|(g, v)| {
        (
            first_seen.iter().position(|f| f == g),
            std::cmp::Reverse(version_priority(v)),
        )
    });
    out
}

/// Kubernetes' version order: GA above beta above alpha, then by major and minor number; a
/// version that does not look like one sorts last.
fn version_priority(version: &str) -> (u8, u32, u32) {
    let Some(rest) = version.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let Ok(major) = rest[..digits_end].parse::<u32>() else {
        return (0, 0, 0);
    };
    let tail = &rest[digits_end..];
    let (level, minor) = if tail.is_empty() {
        (3, 0)
    } else if let Some(n) = tail.strip_prefix("beta") {
        (2, n.parse().unwrap_or(u32::MAX))
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, n.parse().unwrap_or(u32::MAX))
    } else {
        return (0, 0, 0);
    };
    if minor == u32::MAX {
        return (0, 0, 0);
    }
    (level, major, minor)
}

/// Well-known kinds by name, so code reads `resources::PODS` instead of a lookup.
macro_rules! well_known {
    ($($name:ident = $plural:literal in $group:literal),* $(,)?) => {
        $(
            #[doc = concat!("The `", $plural, "` resource.")]
            pub fn $name() -> &'static ResourceKind {
                find($group, "v1", $plural).expect(concat!($plural, " is in RESOURCES"))
            }
        )*
    };
}

well_known! {
    namespaces = "namespaces" in "",
    nodes = "nodes" in "",
    pods = "pods" in "",
    services = "services" in "",
    endpoints = "endpoints" in "",
    configmaps = "configmaps" in "",
    secrets = "secrets" in "",
    events = "events" in "",
    events_v1 = "events" in "events.k8s.io",
    replicationcontrollers = "replicationcontrollers" in "",
    serviceaccounts = "serviceaccounts" in "",
    deployments = "deployments" in "apps",
    daemonsets = "daemonsets" in "apps",
    jobs = "jobs" in "batch",
    cronjobs = "cronjobs" in "batch",
    statefulsets = "statefulsets" in "apps",
    replicasets = "replicasets" in "apps",
    poddisruptionbudgets = "poddisruptionbudgets" in "policy",
    endpointslices = "endpointslices" in "discovery.k8s.io",
    leases = "leases" in "coordination.k8s.io",
    apiservices = "apiservices" in "apiregistration.k8s.io",
    customresourcedefinitions = "customresourcedefinitions" in "apiextensions.k8s.io",
    roles = "roles" in "rbac.authorization.k8s.io",
    rolebindings = "rolebindings" in "rbac.authorization.k8s.io",
    clusterroles = "clusterroles" in "rbac.authorization.k8s.io",
    clusterrolebindings = "clusterrolebindings" in "rbac.authorization.k8s.io",
    selfsubjectreviews = "selfsubjectreviews" in "authentication.k8s.io",
    selfsubjectaccessreviews = "selfsubjectaccessreviews" in "authorization.k8s.io",
    selfsubjectrulesreviews = "selfsubjectrulesreviews" in "authorization.k8s.io",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_go_by_kubernetes_priority() {
        let mut versions = vec![
            "v1alpha1", "v1", "foo", "v2beta1", "v1beta2", "v2", "v1beta1",
        ];
        versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        assert_eq!(
            versions,
            vec![
                "v2", "v1", "v2beta1", "v1beta2", "v1beta1", "v1alpha1", "foo"
            ]
        );
    }
}
