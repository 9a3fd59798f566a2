//! Whether the gateways in front of an edge route copy requests (`RequestMirror`), as their
//! classes declare it, and what a progressive move at the edge does about it: the Gateway API
//! lets an implementation leave the filter out (the AWS Load Balancer Controller does: an ALB
//! has no mirroring), and a class says which features it serves in
//! `status.supportedFeatures`. Pure: the objects in, the verdict out.

use serde_json::Value;

use crate::model::analysis::Progression;

/// The feature name a GatewayClass lists when its gateways honour `RequestMirror`.
pub const MIRROR_FEATURE: &str = "HTTPRouteRequestMirror";

/// Whether the route's gateways copy requests to a mirror.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mirroring {
    /// Every parent Gateway's class lists [`MIRROR_FEATURE`].
    Declared,
    /// The class lists its features, and mirroring is not among them.
    NotDeclared {
        /// The GatewayClass.
        class: String,
    },
    /// It cannot be told, and why (a class that lists no features, a Gateway not readable).
    Unknown(String),
}

/// The Gateways a route is attached to: (namespace, name) of each parent of kind Gateway (the
/// default kind), the route's namespace where the parent names none.
pub fn parent_gateways(route: &Value) -> Vec<(String, String)> {
    let namespace = route["metadata"]["namespace"].as_str().unwrap_or("default");
    route["spec"]["parentRefs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| {
            p["kind"].as_str().unwrap_or("Gateway") == "Gateway"
                && p["group"]
                    .as_str()
                    .unwrap_or("gateway.networking.k8s.io")
                    .eq("gateway.networking.k8s.io")
        })
        .filter_map(|p| {
            let name = p["name"].as_str()?;
            let namespace = p["namespace"].as_str().unwrap_or(namespace);
            Some((namespace.to_owned(), name.to_owned()))
        })
        .collect()
}

/// What a GatewayClass object says of mirroring.
pub fn class_mirroring(class: &Value) -> Mirroring {
    let name = class["metadata"]["name"].as_str().unwrap_or("?").to_owned();
    match class["status"]["supportedFeatures"].as_array() {
        // Before v1.2 of the specification the list held plain names; both are read.
        Some(features) if !features.is_empty() => {
            let mirrors = features
                .iter()
                .any(|f| f["name"] == MIRROR_FEATURE || f == MIRROR_FEATURE);
            if mirrors {
                Mirroring::Declared
            } else {
                Mirroring::NotDeclared { class: name }
            }
        }
        _ => Mirroring::Unknown(format!(
            "GatewayClass {name} does not list its supported features"
        )),
    }
}

impl Mirroring {
    /// The verdict over several parents: one that cannot mirror decides; then one that cannot
    /// be told; no parents at all cannot be told either.
    pub fn of_all(verdicts: impl IntoIterator<Item = Mirroring>) -> Mirroring {
        let mut all = Mirroring::Unknown("the route has no Gateway among its parents".into());
        for (i, verdict) in verdicts.into_iter().enumerate() {
            all = match (all, verdict) {
                (_, v) if i == 0 => v,
                (n @ Mirroring::NotDeclared { .. }, _) | (_, n @ Mirroring::NotDeclared { .. }) => {
                    n
                }
                (u @ Mirroring::Unknown(_), _) | (_, u @ Mirroring::Unknown(_)) => u,
                (Mirroring::Declared, Mirroring::Declared) => Mirroring::Declared,
            };
        }
        all
    }

    /// Fits a move at the edge to what its gateways can do: where they cannot mirror, the
    /// shadow step is left out (the service would never see a copy). The note says so to the
    /// operator, or says that it cannot be told; `None` when the gateways mirror.
    pub fn fit(&self, progression: &mut Progression) -> Option<String> {
        match self {
            Mirroring::Declared => None,
            Mirroring::NotDeclared { class } => {
                let left_out = progression.shadow_requests > 0;
                progression.shadow_requests = 0;
                Some(format!(
                    "GatewayClass {class} does not list {MIRROR_FEATURE} among its supported features, so its gateways cannot copy requests to the service: {} the first share of real traffic. To compare answers first, move inside the monolith.",
                    if left_out {
                        "the move at the edge has no shadow step and starts with"
                    } else {
                        "the move starts with"
                    }
                ))
            }
            Mirroring::Unknown(why) => (progression.shadow_requests > 0).then(|| {
                format!(
                    "Whether the gateway copies requests (RequestMirror) cannot be told: {why}. If no copy reaches the service within the shadow time, the shadow step fails and the move rolls back."
                )
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn class(features: Value) -> Value {
        json!({"metadata": {"name": "alb"}, "status": {"supportedFeatures": features}})
    }

    #[test]
    fn a_class_declares_mirroring_by_name_in_either_form() {
        assert_eq!(
            class_mirroring(&class(
                json!([{"name": "HTTPRoute"}, {"name": MIRROR_FEATURE}])
            )),
            Mirroring::Declared
        );
        assert_eq!(
            class_mirroring(&class(json!(["HTTPRoute", MIRROR_FEATURE]))),
            Mirroring::Declared
        );
        assert_eq!(
            class_mirroring(&class(json!([{"name": "HTTPRoute"}]))),
            Mirroring::NotDeclared {
                class: "alb".into()
            }
        );
        assert!(matches!(
            class_mirroring(&json!({"metadata": {"name": "old"}})),
            Mirroring::Unknown(why) if why.contains("old")
        ));
    }

    #[test]
    fn parents_are_the_gateways_named_in_the_route() {
        let route = json!({
            "metadata": {"namespace": "calculator"},
            "spec": {"parentRefs": [
                {"name": "edge"},
                {"name": "shared", "namespace": "infra", "sectionName": "http"},
                {"name": "mesh", "kind": "Service", "group": ""},
            ]},
        });
        assert_eq!(
            parent_gateways(&route),
            [
                ("calculator".to_owned(), "edge".to_owned()),
                ("infra".to_owned(), "shared".to_owned())
            ]
        );
    }

    #[test]
    fn one_parent_that_cannot_mirror_decides() {
        let no = || Mirroring::NotDeclared {
            class: "alb".into(),
        };
        let unknown = || Mirroring::Unknown("x".into());
        assert_eq!(
            Mirroring::of_all([Mirroring::Declared, unknown(), no()]),
            no()
        );
        assert_eq!(
            Mirroring::of_all([Mirroring::Declared, unknown()]),
            unknown()
        );
        assert_eq!(
            Mirroring::of_all([Mirroring::Declared, Mirroring::Declared]),
            Mirroring::Declared
        );
        assert!(matches!(Mirroring::of_all([]), Mirroring::Unknown(_)));
    }

    #[test]
    fn a_gateway_that_cannot_mirror_takes_the_shadow_step_out_and_says_so() {
        let mut progression = Progression::default();
        assert_eq!(Mirroring::Declared.fit(&mut progression), None);
        assert_eq!(progression.shadow_requests, 200);
        let note = Mirroring::NotDeclared {
            class: "alb".into(),
        }
        .fit(&mut progression)
        .unwrap();
        assert_eq!(progression.shadow_requests, 0);
        assert!(
            note.contains("GatewayClass alb") && note.contains("no shadow step"),
            "{note}"
        );
        let mut progression = Progression::default();
        let note = Mirroring::Unknown("GatewayClass x does not list its supported features".into())
            .fit(&mut progression)
            .unwrap();
        assert_eq!(progression.shadow_requests, 200);
        assert!(note.contains("cannot be told"), "{note}");
    }
}
