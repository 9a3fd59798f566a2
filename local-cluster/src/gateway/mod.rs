//! The Gateway API, served: once its definitions are installed (`manifests/gateway-api/`), the
//! cluster adds the GatewayClass `local-cluster` (as managed clusters add their own classes),
//! gives each Gateway of that class a loopback address of its own, listens on its HTTP
//! listeners' ports there, and routes by the HTTPRoutes attached to them (`data_plane`), with
//! the statuses the specification defines.
//!
//! The controller recomputes everything from the objects whenever one of them, a Service, its
//! endpoints or a namespace changes (debounced): the number of Gateways and routes on a local
//! cluster is small, and a whole recomputation cannot leave two objects disagreeing.

mod attach;
mod compile;
pub mod config;
mod data_plane;
mod decide;
pub(crate) mod http1;
mod ingress;
mod names;
pub mod plan;
mod relay;
pub mod routing;
mod status;
#[cfg(test)]
mod wire_tests;

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub use data_plane::DataPlane;
pub use names::{CLASS_NAME, CONTROLLER_NAME, GROUP, INGRESS_CONTROLLER};

use crate::controllers::follow;
use crate::registry::{Part, Registry, WriteOptions};
use crate::resources::{self, ResourceKind};

/// How long changes are gathered before one recomputation.
const DEBOUNCE: Duration = Duration::from_millis(30);
/// How often everything is looked at again without a change (a port taken by another process
/// may have been freed).
const RESYNC: Duration = Duration::from_secs(10);

/// Starts the controller; Gateways get addresses in 127.`octet`.255.0/24, Ingresses in
/// 127.`octet`.254.0/24.
pub fn start(
    registry: Arc<Registry>,
    octet: u8,
    ingress_port: u16,
) -> (Arc<DataPlane>, Vec<JoinHandle<()>>) {
    let data_plane = Arc::new(DataPlane::default());
    let wake = Arc::new(Notify::new());
    let mut tasks = Vec::new();
    for kind in [
        resources::customresourcedefinitions(),
        resources::services(),
        resources::endpoints(),
        resources::namespaces(),
        resources::ingresses(),
        resources::ingressclasses(),
    ] {
        let wake = wake.clone();
        tasks.push(follow(registry.store.clone(), kind, move |_| {
            wake.notify_one()
        }));
    }
    let controller = Controller {
        registry,
        data_plane: data_plane.clone(),
        wake,
        followed: HashMap::new(),
        addresses: Addresses::new(octet, 255),
        ingress_addresses: Addresses::new(octet, 254),
        ingress_port,
        class_added: false,
    };
    tasks.push(tokio::spawn(controller.run()));
    (data_plane, tasks)
}

/// The Gateway API's kinds, when their definitions are served.
#[derive(Clone, Copy)]
struct Kinds {
    classes: Option<&'static ResourceKind>,
    gateways: Option<&'static ResourceKind>,
    routes: Option<&'static ResourceKind>,
}

struct Controller {
    registry: Arc<Registry>,
    data_plane: Arc<DataPlane>,
    wake: Arc<Notify>,
    /// A follower per served kind (by plural), with the kind it follows.
    followed: HashMap<&'static str, (&'static ResourceKind, JoinHandle<()>)>,
    addresses: Addresses,
    ingress_addresses: Addresses,
    ingress_port: u16,
    /// Whether the `local-cluster` class was added since the definitions were installed.
    class_added: bool,
}

impl Drop for Controller {
    fn drop(&mut self) {
        for (_, task) in self.followed.values() {
            task.abort();
        }
    }
}

impl Controller {
    async fn run(mut self) {
        loop {
            let _ = tokio::time::timeout(RESYNC, self.wake.notified()).await;
            tokio::time::sleep(DEBOUNCE).await;
            let kinds = self.kinds();
            self.follow_kinds(kinds);
            if let Some(classes) = kinds.classes {
                self.add_class(classes);
            } else {
                self.class_added = false;
            }
            self.reconcile(kinds);
        }
    }

    fn kinds(&self) -> Kinds {
        let find = |plural| self.registry.custom.find(GROUP, "v1", plural);
        Kinds {
            classes: find("gatewayclasses"),
            gateways: find("gateways"),
            routes: find("httproutes"),
        }
    }

    /// Follows the kinds served now (a changed definition may have made a new kind).
    fn follow_kinds(&mut self, kinds: Kinds) {
        for (plural, kind) in [
            ("gatewayclasses", kinds.classes),
            ("gateways", kinds.gateways),
            ("httproutes", kinds.routes),
        ] {
            let current = self.followed.get(plural).map(|(k, _)| *k);
            if current.map(std::ptr::from_ref) == kind.map(std::ptr::from_ref) {
                continue;
            }
            if let Some((_, task)) = self.followed.remove(plural) {
                task.abort();
            }
            if let Some(kind) = kind {
                let wake = self.wake.clone();
                let task = follow(self.registry.store.clone(), kind, move |_| {
                    wake.notify_one()
                });
                self.followed.insert(plural, (kind, task));
            }
        }
    }

    /// Adds the class this cluster serves, once per installation of the definitions (a class
    /// the user deletes stays deleted until the definitions are installed again).
    fn add_class(&mut self, kind: &'static ResourceKind) {
        if self.class_added {
            return;
        }
        self.class_added = true;
        if self.registry.store.get(kind, "", CLASS_NAME).is_some() {
            return;
        }
        let class = json!({
            "apiVersion": format!("{GROUP}/v1"),
            "kind": "GatewayClass",
            "metadata": {"name": CLASS_NAME},
            "spec": {
                "controllerName": CONTROLLER_NAME,
                "description": "HTTP on loopback, served by the local cluster",
            },
        });
        if let Err(e) = self
            .registry
            .create(kind, "", class, &WriteOptions::default())
            && e.code != 409
        {
            tracing::warn!(error = %e.message, "cannot add the local-cluster GatewayClass");
        }
    }

    fn list(&self, kind: Option<&'static ResourceKind>) -> Vec<Value> {
        kind.map(|kind| {
            self.registry
                .store
                .list(kind, None, |_| true, 0, None)
                .items
                .iter()
                .map(|s| s.value())
                .collect()
        })
        .unwrap_or_default()
    }

    fn reconcile(&mut self, kinds: Kinds) {
        let classes = self.list(kinds.classes);
        let gateways = self.list(kinds.gateways);
        let routes = self.list(kinds.routes);
        let registry = self.registry.clone();
        let namespace_labels = |name: &str| {
            registry
                .store
                .get(resources::namespaces(), "", name)
                .map(|ns| {
                    ns.value()["metadata"]["labels"]
                        .as_object()
                        .cloned()
                        .unwrap_or_default()
                })
        };
        let service_port = |namespace: &str, name: &str, port: plan::PortRef<'_>| {
            let service = registry
                .store
                .get(resources::services(), namespace, name)
                .ok_or_else(|| format!("service \"{name}\" not found"))?
                .value();
            let service_port = service["spec"]["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| match port {
                    plan::PortRef::Number(n) => p["port"].as_u64() == Some(u64::from(n)),
                    plan::PortRef::Name(n) => p["name"] == n,
                })
                .cloned()
                .ok_or_else(|| match port {
                    plan::PortRef::Number(n) => format!("service \"{name}\" has no port {n}"),
                    plan::PortRef::Name(n) => {
                        format!("service \"{name}\" has no port named {n:?}")
                    }
                })?;
            Ok(crate::network::ready_endpoints(
                &registry,
                namespace,
                name,
                &service_port,
            ))
        };
        let lookups = plan::Lookups {
            namespace_labels: &namespace_labels,
            service_port: &service_port,
        };
        let mut plan = config::plan(&classes, &gateways, &routes, &lookups);
        self.addresses.keep_only(
            plan.gateways
                .iter()
                .map(|g| (g.namespace.clone(), g.name.clone())),
        );
        let addresses: HashMap<(String, String), Ipv4Addr> = plan
            .gateways
            .iter()
            .filter_map(|g| {
                let key = (g.namespace.clone(), g.name.clone());
                let ip = g.requested_address.or_else(|| self.addresses.get(&key))?;
                Some((key, ip))
            })
            .collect();
        let entries = config::ports(&mut plan.gateways, |g| {
            addresses
                .get(&(g.namespace.clone(), g.name.clone()))
                .copied()
        });
        let mut wanted: BTreeMap<SocketAddr, routing::PortRoutes> = entries
            .into_iter()
            .map(|(address, entries)| (address, routing::PortRoutes::new(entries)))
            .collect();
        let ingresses = ingress::plan(
            &self.list(Some(resources::ingresses())),
            &self.list(Some(resources::ingressclasses())),
            &lookups,
        );
        self.ingress_addresses.keep_only(
            ingresses
                .iter()
                .map(|i| (i.namespace.clone(), i.name.clone())),
        );
        let mut ingress_written = Vec::new();
        for plan in ingresses {
            let key = (plan.namespace.clone(), plan.name.clone());
            let address = self
                .ingress_addresses
                .get(&key)
                .map(|ip| SocketAddr::from((ip, self.ingress_port)));
            if let Some(address) = address {
                wanted.insert(address, routing::PortRoutes::new(plan.entries));
            }
            ingress_written.push((plan.object, address));
        }
        let bind_errors = self.data_plane.apply(wanted);
        let now = crate::clock::now();
        if let Some(kind) = kinds.classes {
            for class in &plan.classes {
                self.write_status(kind, class, status::class(class, &now));
            }
        }
        if let Some(kind) = kinds.gateways {
            for gateway in &plan.gateways {
                let address = addresses
                    .get(&(gateway.namespace.clone(), gateway.name.clone()))
                    .copied();
                let written = status::gateway(gateway, address, &bind_errors, &now);
                self.write_status(kind, &gateway.object, written);
            }
        }
        if let Some(kind) = kinds.routes {
            for route in &plan.routes {
                self.write_status(kind, &route.object, status::route(route, &now));
            }
        }
        for (object, address) in ingress_written {
            let served = address.filter(|a| !bind_errors.contains_key(a));
            let ingress = match served {
                Some(a) => json!([{"ip": a.ip().to_string()}]),
                None => json!([]),
            };
            let mut written = object["status"].clone();
            if !written.is_object() {
                written = json!({});
            }
            written["loadBalancer"] = if ingress.as_array().is_some_and(Vec::is_empty) {
                json!({})
            } else {
                json!({"ingress": ingress})
            };
            self.write_status(resources::ingresses(), &object, written);
        }
    }

    /// Writes `status` unless the object already has it.
    fn write_status(&self, kind: &'static ResourceKind, object: &Value, status: Value) {
        if object["status"] == status {
            return;
        }
        let meta = &object["metadata"];
        let namespace = meta["namespace"].as_str().unwrap_or_default();
        let name = meta["name"].as_str().unwrap_or_default();
        let written = self.registry.update_with(
            kind,
            namespace,
            name,
            Part::Status,
            &WriteOptions::default(),
            |current| {
                let mut next = current.clone();
                next["status"] = status;
                Ok(next)
            },
        );
        if let Err(e) = written
            && e.code != 404
        {
            tracing::warn!(kind = kind.kind, %namespace, %name, error = %e.message, "gateway status not written");
        }
    }
}

/// Each Gateway's (or Ingress's) loopback address, kept while it lives.
struct Addresses {
    octet: u8,
    third: u8,
    given: HashMap<(String, String), u8>,
}

impl Addresses {
    fn new(octet: u8, third: u8) -> Addresses {
        Addresses {
            octet,
            third,
            given: HashMap::new(),
        }
    }

    /// Forgets the Gateways that are gone.
    fn keep_only(&mut self, live: impl Iterator<Item = (String, String)>) {
        let live: std::collections::HashSet<(String, String)> = live.collect();
        self.given.retain(|key, _| live.contains(key));
    }

    /// The address of a Gateway, given now if it has none; `None` when all 254 are taken.
    fn get(&mut self, key: &(String, String)) -> Option<Ipv4Addr> {
        let host = match self.given.get(key) {
            Some(host) => *host,
            None => {
                let taken: std::collections::HashSet<u8> = self.given.values().copied().collect();
                let host = (1..=254u8).find(|h| !taken.contains(h))?;
                self.given.insert(key.clone(), host);
                host
            }
        };
        Some(Ipv4Addr::new(127, self.octet, self.third, host))
    }
}
