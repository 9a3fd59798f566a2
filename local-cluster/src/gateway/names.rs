//! The names the gateway controller serves under: the Gateway API's group, its class and the
//! controllers' names written into classes and statuses.

/// The Gateway API's group.
pub const GROUP: &str = "gateway.networking.k8s.io";
/// The GatewayClass (and IngressClass) the cluster serves.
pub const CLASS_NAME: &str = "local-cluster";
/// The `controllerName` of the GatewayClasses it serves.
pub const CONTROLLER_NAME: &str = "local-cluster.hybrid-console.dev/gateway-controller";
/// The `controller` of the IngressClass it serves (named [`CLASS_NAME`] too).
pub const INGRESS_CONTROLLER: &str = "local-cluster.hybrid-console.dev/ingress-controller";

/// The Gateway API features the data plane implements, by their conformance names, in the
/// order the specification asks of `GatewayClass.status.supportedFeatures` (sorted). Tools read
/// them to know what a class can do before they rely on it (a progressive move asks for
/// `HTTPRouteRequestMirror` before it shadows at the edge).
pub const SUPPORTED_FEATURES: &[&str] = &[
    "Gateway",
    "HTTPRoute",
    "HTTPRouteHostRewrite",
    "HTTPRouteMethodMatching",
    "HTTPRoutePathRedirect",
    "HTTPRoutePathRewrite",
    "HTTPRoutePortRedirect",
    "HTTPRouteQueryParamMatching",
    "HTTPRouteRequestMirror",
    "HTTPRouteRequestPercentageMirror",
    "HTTPRouteRequestTimeout",
    "HTTPRouteResponseHeaderModification",
    "HTTPRouteSchemeRedirect",
];
