//! The API resources this cluster serves: group, version, names, scope and subresources, exactly
//! as discovery reports them.

mod kind;
mod table;

pub use kind::{REVIEW_VERBS, ResourceId, ResourceKind, VERBS};
pub use table::RESOURCES;

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
    crate::version_order::group_versions_of(RESOURCES.iter().map(|k| (k.group, k.version)))
}

/// Well-known kinds by name, so code reads `resources::PODS` instead of a lookup.
macro_rules! well_known {
    ($($name:ident = $plural:literal in $group:literal $(at $version:literal)?),* $(,)?) => {
        $(
            #[doc = concat!("The `", $plural, "` resource.")]
            pub fn $name() -> &'static ResourceKind {
                let version = well_known!(@version $($version)?);
                find($group, version, $plural).expect(concat!($plural, " is in RESOURCES"))
            }
        )*
    };
    (@version) => { "v1" };
    (@version $version:literal) => { $version };
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
    runtimeclasses = "runtimeclasses" in "node.k8s.io",
    networkpolicies = "networkpolicies" in "networking.k8s.io",
    ingresses = "ingresses" in "networking.k8s.io",
    resourcequotas = "resourcequotas" in "",
    limitranges = "limitranges" in "",
    horizontalpodautoscalers = "horizontalpodautoscalers" in "autoscaling" at "v2",
    ingressclasses = "ingressclasses" in "networking.k8s.io",
    roles = "roles" in "rbac.authorization.k8s.io",
    rolebindings = "rolebindings" in "rbac.authorization.k8s.io",
    clusterroles = "clusterroles" in "rbac.authorization.k8s.io",
    clusterrolebindings = "clusterrolebindings" in "rbac.authorization.k8s.io",
    selfsubjectreviews = "selfsubjectreviews" in "authentication.k8s.io",
    selfsubjectaccessreviews = "selfsubjectaccessreviews" in "authorization.k8s.io",
    selfsubjectrulesreviews = "selfsubjectrulesreviews" in "authorization.k8s.io",
}
