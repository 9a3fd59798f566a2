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

    /// The position of this kind in [`RESOURCES`], used as a compact key by the store.
    pub fn id(&'static self) -> ResourceId {
        ResourceId(
            RESOURCES
                .iter()
                .position(|r| std::ptr::eq(r, self))
                .expect("every ResourceKind lives in RESOURCES"),
        )
    }
}

/// Index of a [`ResourceKind`] in [`RESOURCES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId(pub usize);

impl ResourceId {
    /// The kind this id names.
    pub fn kind(self) -> &'static ResourceKind {
        &RESOURCES[self.0]
    }
}

const CORE: &str = "";

/// Every resource served, in discovery order.
pub static RESOURCES: &[ResourceKind] = &[
    ResourceKind {
        group: CORE,
        version: "v1",
        plural: "namespaces",
        singular: "namespace",
        kind: "Namespace",
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
        namespaced: false,
        short_names: &[],
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

/// The (group, version) pairs served, core first.
pub fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&'static str, &'static str)> = Vec::new();
    for r in RESOURCES {
        if !out.contains(&(r.group, r.version)) {
            out.push((r.group, r.version));
        }
    }
    out
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
    roles = "roles" in "rbac.authorization.k8s.io",
    rolebindings = "rolebindings" in "rbac.authorization.k8s.io",
    clusterroles = "clusterroles" in "rbac.authorization.k8s.io",
    clusterrolebindings = "clusterrolebindings" in "rbac.authorization.k8s.io",
    selfsubjectreviews = "selfsubjectreviews" in "authentication.k8s.io",
    selfsubjectaccessreviews = "selfsubjectaccessreviews" in "authorization.k8s.io",
    selfsubjectrulesreviews = "selfsubjectrulesreviews" in "authorization.k8s.io",
}
