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
