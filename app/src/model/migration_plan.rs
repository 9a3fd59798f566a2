//! A migration plan: which Deployment is the monolith, which services can leave it, and how each
//! one is deployed, checked and routed — data read from a YAML file, so the executor never knows
//! it is moving a calculator. Parsing and rendering are pure: the files come in as text.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use serde::{Deserialize, Serialize};

pub use super::plan_files::{BUILT_IN_PLAN, PlanError, PlanFiles};

/// The monolith: the Deployment the services leave.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MonolithSpec {
    /// Its namespace (every object of the plan lives there).
    pub namespace: String,
    /// Its Deployment.
    pub deployment: String,
    /// Its own Service (removed with it when it is retired).
    pub service: String,
    /// The container whose environment carries the routing variables.
    pub container: String,
    /// Where a frontend that has moved out reaches what the monolith still computes.
    pub url: String,
}

/// An HTTP check: a GET, the status it must answer and the values it must contain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpCheck {
    /// Path and query, from the root of the Service.
    pub path: String,
    /// The HTTP status expected.
    #[serde(default = "ok_status")]
    pub status: u16,
    /// JSON pointer → the scalar expected there.
    #[serde(default)]
    pub expect: BTreeMap<String, serde_json::Value>,
    /// JSON pointer to the name of the pod that answered, which must be one of the pods the
    /// move expects (the new service's on the target OS, or the monolith's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_by: Option<String>,
}

fn ok_status() -> u16 {
    200
}

/// How a progressive move routes a share of the traffic inside the monolith: the routing file
/// its router reads (a key of a ConfigMap mounted into its pods), whose entries are keyed by
/// the plan's service names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProgressiveSpec {
    /// The ConfigMap that holds the routing file.
    pub routing_config_map: String,
    /// Its key.
    pub routing_key: String,
    /// The monolith's container port (name or number) that serves `/metrics`,
    /// `/api/routes` and `/api/shadow`.
    #[serde(default = "http_port")]
    pub metrics_port: String,
    /// The steps and allowances (a command line's options take precedence).
    #[serde(default)]
    pub analysis: crate::model::analysis::Progression,
}

fn http_port() -> String {
    "http".into()
}

/// The front door: the Service users reach.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FrontSpec {
    /// The Service.
    pub service: String,
    /// Its port, by name or number.
    pub port: String,
    /// Its selector while the monolith serves the page.
    pub monolith_selector: BTreeMap<String, String>,
    /// The whole application, checked after every move.
    pub check: HttpCheck,
}

/// How traffic reaches a service once it has left the monolith.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ServiceRoute {
    /// Frontends call it at `url` when `variable` is set in their environment (the monolith
    /// computes it in-process while the variable is unset).
    Variable {
        /// The environment variable (`SUM_SERVICE_URL`).
        variable: String,
        /// Its value once the service has moved (`http://sum-service:3000`).
        url: String,
    },
    /// It is a frontend: the front Service's selector switches to its pods.
    Frontend {
        /// The front Service's selector while it serves.
        selector: BTreeMap<String, String>,
    },
}

/// One service that can leave the monolith, with its rendered objects.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePlan {
    /// Its name in the plan (`sum`).
    pub name: String,
    /// The manifest, as the plan names it.
    pub manifest: String,
    /// How traffic reaches it.
    pub route: ServiceRoute,
    /// In the front check's answer, the pointer to the pod that served this service.
    pub answered_by: String,
    /// Checks of the new service on its own.
    pub verify: Vec<HttpCheck>,
    /// Its Deployment, images rewritten.
    pub deployment: Deployment,
    /// Its Service.
    pub service: Service,
    /// Where it can be moved at the edge instead of inside the monolith, if anywhere.
    pub edge: Option<EdgeSpec>,
}

/// A service's path at the edge: the rule of a Gateway API HTTPRoute (in the monolith's
/// namespace) that sends it to the monolith, which a progressive move at the edge weights
/// between the monolith's Service and the new one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EdgeSpec {
    /// The HTTPRoute.
    pub http_route: String,
    /// The path its rule matches (`/sum`).
    pub path: String,
    /// The path as both sides' metrics count it (`/sum/{a}/{b}`).
    pub metrics_path: String,
}

impl ServicePlan {
    /// The Deployment's name.
    pub fn deployment_name(&self) -> &str {
        self.deployment.metadata.name.as_deref().unwrap_or_default()
    }

    /// The Service's name.
    pub fn service_name(&self) -> &str {
        self.service.metadata.name.as_deref().unwrap_or_default()
    }

    /// Whether it is a frontend (moves by the front Service's selector).
    pub fn is_frontend(&self) -> bool {
        matches!(self.route, ServiceRoute::Frontend { .. })
    }

    /// Its routing variable, for services reached through one.
    pub fn variable(&self) -> Option<(&str, &str)> {
        match &self.route {
            ServiceRoute::Variable { variable, url } => Some((variable, url)),
            ServiceRoute::Frontend { .. } => None,
        }
    }

    /// The Deployment with every container's image replaced by `image`.
    pub fn with_image(&self, image: &str) -> ServicePlan {
        let mut plan = self.clone();
        for container in containers_mut(&mut plan.deployment) {
            container.image = Some(image.to_owned());
        }
        plan
    }

    /// The images its containers run.
    pub fn images(&self) -> Vec<String> {
        self.deployment
            .spec
            .template
            .spec
            .as_ref()
            .map(|s| {
                s.containers
                    .iter()
                    .filter_map(|c| c.image.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn containers_mut(
    deployment: &mut Deployment,
) -> impl Iterator<Item = &mut k8s_openapi::api::core::v1::Container> {
    deployment
        .spec
        .template
        .spec
        .as_mut()
        .into_iter()
        .flat_map(|s| s.containers.iter_mut())
}

/// A whole plan, parsed and rendered.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MigrationPlan {
    /// Its name (`calculator`).
    pub name: String,
    /// Where it came from (a path, or the built-in plan).
    pub origin: String,
    /// The monolith.
    pub monolith: MonolithSpec,
    /// The front door.
    pub front: FrontSpec,
    /// What can leave the monolith, in the plan's order.
    pub services: Vec<ServicePlan>,
    /// How a progressive move routes inside the monolith (absent: moves switch at once).
    pub progressive: Option<ProgressiveSpec>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PlanDocument {
    api_version: String,
    kind: String,
    metadata: PlanMetadata,
    monolith: MonolithSpec,
    #[serde(default)]
    images: Option<String>,
    front: FrontSpec,
    services: Vec<ServiceDocument>,
    #[serde(default)]
    progressive: Option<ProgressiveSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanMetadata {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ServiceDocument {
    name: String,
    manifest: String,
    #[serde(default)]
    route: Option<RouteDocument>,
    #[serde(default)]
    frontend: Option<FrontendDocument>,
    answered_by: String,
    #[serde(default)]
    verify: Vec<HttpCheck>,
    #[serde(default)]
    edge: Option<EdgeSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteDocument {
    variable: String,
    url: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontendDocument {
    selector: BTreeMap<String, String>,
}

/// One kustomize `images:` entry.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImageRewrite {
    name: String,
    #[serde(default)]
    new_name: Option<String>,
    #[serde(default)]
    new_tag: Option<String>,
    #[serde(default)]
    digest: Option<String>,
}

#[derive(Deserialize)]
struct Kustomization {
    #[serde(default)]
    images: Vec<ImageRewrite>,
}

/// `registry/repo` of an image reference, without tag or digest.
fn repository(image: &str) -> &str {
    let without_digest = image.split('@').next().unwrap_or(image);
    match without_digest.rsplit_once(':') {
        // A colon after the last slash is a tag; before it, a registry port.
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => without_digest,
    }
}

impl ImageRewrite {
    /// The image `reference` becomes, if this entry names its repository (as kustomize does).
    fn apply(&self, reference: &str) -> Option<String> {
        let repo = repository(reference);
        if repo != self.name {
            return None;
        }
        let tag_or_digest = &reference[repo.len()..];
        let name = self.new_name.as_deref().unwrap_or(repo);
        Some(match (&self.digest, &self.new_tag) {
            (Some(digest), _) => format!("{name}@{digest}"),
            (None, Some(tag)) => format!("{name}:{tag}"),
            (None, None) => format!("{name}{tag_or_digest}"),
        })
    }
}

fn invalid(plan: &str, detail: impl Into<String>) -> PlanError {
    PlanError::Invalid {
        plan: plan.to_owned(),
        detail: detail.into(),
    }
}

fn check_pointer(plan: &str, at: &str, pointer: &str) -> Result<(), PlanError> {
    if pointer.is_empty() || pointer.starts_with('/') {
        Ok(())
    } else {
        Err(invalid(
            plan,
            format!("{at}: {pointer:?} is not a JSON pointer (it must start with /)"),
        ))
    }
}

fn check_http(plan: &str, at: &str, check: &HttpCheck) -> Result<(), PlanError> {
    if !check.path.starts_with('/') {
        return Err(invalid(
            plan,
            format!("{at}: path {:?} must start with /", check.path),
        ));
    }
    for (pointer, expected) in &check.expect {
        check_pointer(plan, at, pointer)?;
        if expected.is_object() || expected.is_array() {
            return Err(invalid(
                plan,
                format!(
                    "{at}: the value expected at {pointer} must be a number, string, boolean or null"
                ),
            ));
        }
    }
    if let Some(pointer) = &check.answered_by {
        check_pointer(plan, at, pointer)?;
    }
    Ok(())
}

impl MigrationPlan {
    /// Parses a plan and renders its services' objects.
    pub fn parse(files: &PlanFiles) -> Result<MigrationPlan, PlanError> {
        let origin = files.origin.clone();
        let syntax = |e: serde_yaml::Error| PlanError::Syntax {
            plan: origin.clone(),
            detail: e.to_string(),
        };
        let document: PlanDocument = serde_yaml::from_str(&files.plan).map_err(syntax)?;
        if document.api_version != "hybrid-console.io/v1alpha1" || document.kind != "MigrationPlan"
        {
            return Err(invalid(
                &origin,
                format!(
                    "it is a {} of {}; expected kind MigrationPlan, apiVersion hybrid-console.io/v1alpha1",
                    document.kind, document.api_version
                ),
            ));
        }
        let rewrites = match &document.images {
            Some(path) => {
                let text = files.file(path)?;
                serde_yaml::from_str::<Kustomization>(text)
                    .map_err(|e| invalid(&origin, format!("images: {path}: {e}")))?
                    .images
            }
            None => Vec::new(),
        };
        check_http(&origin, "front.check", &document.front.check)?;
        if document.services.is_empty() {
            return Err(invalid(&origin, "services: the plan names no service"));
        }
        let mut services: Vec<ServicePlan> = Vec::new();
        for doc in document.services {
            let at = format!("service {}", doc.name);
            if services.iter().any(|s| s.name == doc.name) {
                return Err(invalid(&origin, format!("{at} is named twice")));
            }
            let route = match (doc.route, doc.frontend) {
                (Some(r), None) if !r.variable.trim().is_empty() && !r.url.trim().is_empty() => {
                    ServiceRoute::Variable {
                        variable: r.variable,
                        url: r.url,
                    }
                }
                (Some(_), None) => {
                    return Err(invalid(
                        &origin,
                        format!("{at}: route needs both a variable and a url"),
                    ));
                }
                (None, Some(f)) if !f.selector.is_empty() => ServiceRoute::Frontend {
                    selector: f.selector,
                },
                _ => {
                    return Err(invalid(
                        &origin,
                        format!("{at}: give either route (variable, url) or frontend (selector)"),
                    ));
                }
            };
            check_pointer(&origin, &at, &doc.answered_by)?;
            if let Some(edge) = &doc.edge {
                for (field, path) in [
                    ("edge.path", &edge.path),
                    ("edge.metricsPath", &edge.metrics_path),
                ] {
                    if !path.starts_with('/') {
                        return Err(invalid(
                            &origin,
                            format!("{at}: {field} {path:?} must be a path starting with /"),
                        ));
                    }
                }
            }
            for (i, check) in doc.verify.iter().enumerate() {
                check_http(&origin, &format!("{at}: verify[{i}]"), check)?;
            }
            let text = files.file(&doc.manifest)?;
            let (mut deployment, service) =
                manifest_objects(&doc.name, &doc.manifest, text, &document.monolith.namespace)?;
            for container in containers_mut(&mut deployment) {
                if let Some(image) = container.image.as_deref()
                    && let Some(rewritten) = rewrites.iter().find_map(|r| r.apply(image))
                {
                    container.image = Some(rewritten);
                }
            }
            services.push(ServicePlan {
                name: doc.name,
                manifest: doc.manifest,
                route,
                answered_by: doc.answered_by,
                verify: doc.verify,
                deployment,
                service,
                edge: doc.edge,
            });
        }
        if services.iter().filter(|s| s.is_frontend()).count() > 1 {
            return Err(invalid(&origin, "only one service can be the frontend"));
        }
        Ok(MigrationPlan {
            name: document.metadata.name,
            origin,
            monolith: document.monolith,
            front: document.front,
            services,
            progressive: document.progressive,
        })
    }

    /// The service named `name`.
    pub fn service(&self, name: &str) -> Option<&ServicePlan> {
        self.services.iter().find(|s| s.name == name)
    }

    /// The names of the services, for messages.
    pub fn service_names(&self) -> String {
        self.services
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The frontend service, if the plan has one.
    pub fn frontend(&self) -> Option<&ServicePlan> {
        self.services.iter().find(|s| s.is_frontend())
    }
}

/// The one Deployment and one Service of a service's manifest, in the monolith's namespace.
fn manifest_objects(
    service: &str,
    path: &str,
    text: &str,
    namespace: &str,
) -> Result<(Deployment, Service), PlanError> {
    let problem = |detail: String| PlanError::Manifest {
        service: service.to_owned(),
        path: path.to_owned(),
        detail,
    };
    let mut deployment: Option<Deployment> = None;
    let mut front: Option<Service> = None;
    for (i, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let value = serde_yaml::Value::deserialize(document)
            .map_err(|e| problem(format!("document {}: {e}", i + 1)))?;
        if value.is_null() {
            continue;
        }
        let kind = value.get("kind").and_then(|k| k.as_str()).unwrap_or("");
        match kind {
            "Deployment" if deployment.is_none() => {
                deployment = Some(
                    serde_yaml::from_value(value)
                        .map_err(|e| problem(format!("the Deployment: {e}")))?,
                );
            }
            "Service" if front.is_none() => {
                front = Some(
                    serde_yaml::from_value(value)
                        .map_err(|e| problem(format!("the Service: {e}")))?,
                );
            }
            other => {
                return Err(problem(format!(
                    "document {} is {}; a service's manifest holds one Deployment and one Service",
                    i + 1,
                    if other.is_empty() {
                        "not an object with a kind"
                    } else {
                        other
                    }
                )));
            }
        }
    }
    let (Some(mut deployment), Some(mut front)) = (deployment, front) else {
        return Err(problem(
            "a service's manifest must hold one Deployment and one Service".into(),
        ));
    };
    for (kind, meta) in [
        ("Deployment", &mut deployment.metadata),
        ("Service", &mut front.metadata),
    ] {
        if meta.name.as_deref().is_none_or(str::is_empty) {
            return Err(problem(format!("the {kind} has no name")));
        }
        match meta.namespace.as_deref() {
            Some(ns) if ns != namespace => {
                return Err(problem(format!(
                    "the {kind} is in namespace {ns}, but the monolith is in {namespace}; every object of a plan lives in the monolith's namespace"
                )));
            }
            _ => meta.namespace = Some(namespace.to_owned()),
        }
    }
    if deployment
        .spec
        .template
        .spec
        .as_ref()
        .is_none_or(|s| s.containers.is_empty())
    {
        return Err(problem("the Deployment has no containers".into()));
    }
    Ok((deployment, front))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_plan_renders_every_service_with_the_kustomization_image() {
        let plan = MigrationPlan::parse(&PlanFiles::built_in()).unwrap();
        assert_eq!(plan.name, "calculator");
        assert_eq!(
            plan.service_names(),
            "sum, subtraction, multiplication, division, ui"
        );
        let sum = plan.service("sum").unwrap();
        assert_eq!(sum.deployment_name(), "sum-service");
        assert_eq!(sum.service_name(), "sum-service");
        assert_eq!(
            sum.variable(),
            Some(("SUM_SERVICE_URL", "http://sum-service:3000"))
        );
        assert_eq!(sum.images(), ["ghcr.io/hybrid-console/calculator:0.1.0"]);
        assert_eq!(
            sum.with_image("registry.example/calculator:2").images(),
            ["registry.example/calculator:2"]
        );
        assert!(plan.service("ui").unwrap().is_frontend());
        assert_eq!(plan.frontend().map(|s| s.name.as_str()), Some("ui"));
        assert_eq!(sum.verify[2].status, 400);
    }

    #[test]
    fn kustomize_image_entries_rewrite_only_their_repository() {
        let rewrite = ImageRewrite {
            name: "ghcr.io/org/calculator".into(),
            new_name: Some("1234.dkr.ecr.us-east-1.amazonaws.com/calculator".into()),
            new_tag: Some("v2".into()),
            digest: None,
        };
        assert_eq!(
            rewrite.apply("ghcr.io/org/calculator:0.1.0").as_deref(),
            Some("1234.dkr.ecr.us-east-1.amazonaws.com/calculator:v2")
        );
        assert_eq!(rewrite.apply("ghcr.io/org/calculator-ui:0.1.0"), None);
        assert_eq!(
            repository("localhost:5000/calculator"),
            "localhost:5000/calculator"
        );
        assert_eq!(
            repository("localhost:5000/calculator:1"),
            "localhost:5000/calculator"
        );
        let pinned = ImageRewrite {
            name: "calculator".into(),
            new_name: None,
            new_tag: None,
            digest: Some("sha256:abc".into()),
        };
        assert_eq!(
            pinned.apply("calculator:1").as_deref(),
            Some("calculator@sha256:abc")
        );
    }

    fn files(plan: &str, manifest: &str) -> PlanFiles {
        PlanFiles {
            origin: "plan.yaml".into(),
            plan: plan.into(),
            others: BTreeMap::from([("svc.yaml".to_owned(), manifest.to_owned())]),
        }
    }

    const PLAN: &str = "apiVersion: hybrid-console.io/v1alpha1
kind: MigrationPlan
metadata: {name: shop}
monolith: {namespace: shop, deployment: legacy, service: legacy, container: app, url: 'http://legacy:80'}
front:
  service: shop
  port: http
  monolithSelector: {app: legacy}
  check: {path: /}
services:
  - name: adder
    manifest: svc.yaml
    route: {variable: SUM_SERVICE_URL, url: 'http://adder:3000'}
    answeredBy: /results/0/served-by/pod
";

    const MANIFEST: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: adder}
spec:
  selector: {matchLabels: {app: adder}}
  template:
    metadata: {labels: {app: adder}}
    spec:
      containers: [{name: app, image: calculator:1}]
---
apiVersion: v1
kind: Service
metadata: {name: adder}
spec:
  selector: {app: adder}
  ports: [{port: 3000}]
";

    #[test]
    fn another_monolith_is_only_another_file() {
        let plan = MigrationPlan::parse(&files(PLAN, MANIFEST)).unwrap();
        let adder = plan.service("adder").unwrap();
        assert_eq!(plan.monolith.deployment, "legacy");
        assert_eq!(adder.deployment.metadata.namespace.as_deref(), Some("shop"));
        assert_eq!(adder.service.metadata.namespace.as_deref(), Some("shop"));
    }

    #[test]
    fn mistakes_are_named_where_they_are() {
        let err = |plan: &str, manifest: &str| {
            MigrationPlan::parse(&files(plan, manifest))
                .unwrap_err()
                .to_string()
        };
        let e = err("services: [", MANIFEST);
        assert!(
            e.starts_with("the migration plan plan.yaml cannot be read:"),
            "{e}"
        );
        let e = err(&PLAN.replace("answeredBy", "answeredby"), MANIFEST);
        assert!(e.contains("unknown field `answeredby`"), "{e}");
        let e = err(&PLAN.replace("svc.yaml", "missing.yaml"), MANIFEST);
        assert!(
            e.contains("names missing.yaml, which cannot be read"),
            "{e}"
        );
        let e = err(
            PLAN,
            &MANIFEST.replace(
                "metadata: {name: adder}\nspec:\n  selector",
                "metadata: {name: adder, namespace: other}\nspec:\n  selector",
            ),
        );
        assert!(e.contains("the Deployment is in namespace other"), "{e}");
        let e = err(
            PLAN,
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
        );
        assert!(e.contains("document 1 is ConfigMap"), "{e}");
        let e = err(
            &PLAN.replace("answeredBy: /results", "answeredBy: results"),
            MANIFEST,
        );
        assert!(e.contains("is not a JSON pointer"), "{e}");
        let e = err(
            &PLAN.replace(
                "route: {variable: SUM_SERVICE_URL, url: 'http://adder:3000'}",
                "route: {variable: '', url: x}",
            ),
            MANIFEST,
        );
        assert!(e.contains("route needs both a variable and a url"), "{e}");
        let e = err(
            &PLAN.replace("kind: MigrationPlan", "kind: Deployment"),
            MANIFEST,
        );
        assert!(e.contains("expected kind MigrationPlan"), "{e}");
    }
}
