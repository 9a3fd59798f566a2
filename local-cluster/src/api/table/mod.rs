//! `meta.k8s.io/v1 Table` renderings, with the columns the real server prints for each kind, so
//! `kubectl get` (and `-o wide`) look the same as against EKS.

mod cluster;
mod columns;
mod workloads;

use serde_json::{Value, json};

use crate::custom_resources::PrinterColumn;
use crate::errors::ApiError;
use crate::resources::ResourceKind;
use cluster::{
    apiservices, configmaps, endpoints, endpointslices, events, ingressclasses, ingresses, leases,
    limitranges, namespaces, networkpolicies, nodes, resourcequotas, runtimeclasses, secrets,
    serviceaccounts, services,
};
use columns::{Column, Common, NAME, Printer, text};
use workloads::{
    cronjobs, daemonsets, deployments, jobs, poddisruptionbudgets, pods, replicasets, statefulsets,
};

/// What each row carries besides its cells (`includeObject`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeObject {
    /// Nothing.
    None,
    /// `PartialObjectMetadata` (the default).
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Reads `includeObject`.
    pub fn parse(value: Option<&str>) -> Result<IncludeObject, ApiError> {
        match value {
            None | Some("") | Some("Metadata") => Ok(IncludeObject::Metadata),
            Some("None") => Ok(IncludeObject::None),
            Some("Object") => Ok(IncludeObject::Object),
            Some(other) => Err(ApiError::bad_request(format!(
                "includeObject: Unsupported value: \"{other}\": supported values: \"Metadata\", \"None\", \"Object\""
            ))),
        }
    }
}

/// The printer of `kind`'s table: its columns and how a row's cells are made, side by side so
/// they cannot drift apart.
fn printer(kind: &ResourceKind) -> Printer {
    match (kind.group, kind.kind) {
        ("", "Pod") => pods(),
        ("", "Node") => nodes(),
        ("apps", "Deployment") => deployments(),
        ("apps", "StatefulSet") => statefulsets(),
        ("batch", "CronJob") => cronjobs(),
        ("batch", "Job") => jobs(),
        ("apps", "DaemonSet") => daemonsets(),
        ("policy", "PodDisruptionBudget") => poddisruptionbudgets(),
        ("apps", "ReplicaSet") | ("", "ReplicationController") => replicasets(),
        ("", "Service") => services(),
        ("", "Endpoints") => endpoints(),
        ("", "Event") => events(),
        ("", "Namespace") => namespaces(),
        ("", "ConfigMap") => configmaps(),
        ("", "Secret") => secrets(),
        ("", "ServiceAccount") => serviceaccounts(),
        ("coordination.k8s.io", "Lease") => leases(),
        ("apiregistration.k8s.io", "APIService") => apiservices(),
        ("node.k8s.io", "RuntimeClass") => runtimeclasses(),
        ("networking.k8s.io", "NetworkPolicy") => networkpolicies(),
        ("networking.k8s.io", "Ingress") => ingresses(),
        ("", "ResourceQuota") => resourcequotas(),
        ("", "LimitRange") => limitranges(),
        ("autoscaling", "HorizontalPodAutoscaler") => workloads::horizontalpodautoscalers(),
        ("networking.k8s.io", "IngressClass") => ingressclasses(),
        ("discovery.k8s.io", "EndpointSlice") => endpointslices(),
        _ => any_kind(),
    }
}

/// Any other kind: its name and when it was made.
fn any_kind() -> Printer {
    Printer {
        columns: vec![
            NAME,
            Column::typed(
                "Created At",
                "date",
                "CreationTimestamp is a timestamp representing the server time when this object was created.",
            ),
        ],
        cells: |o, Common { name, .. }| {
            vec![name, json!(text(&o["metadata"]["creationTimestamp"]))]
        },
    }
}

/// A Table of `objects`; a custom kind's comes from its definition's printer `columns`.
pub fn table(
    kind: &ResourceKind,
    columns: Option<&[PrinterColumn]>,
    objects: &[Value],
    revision: u64,
    token: Option<String>,
    remaining: Option<usize>,
    include: IncludeObject,
) -> Value {
    let mut table = head(kind, columns, revision, token, remaining);
    let rows = Rows::new(kind, columns, include);
    table["rows"] = objects.iter().map(|object| rows.row(object)).collect();
    table
}

/// A Table without its rows (`"rows": []`): everything a list's table says before them.
pub fn head(
    kind: &ResourceKind,
    columns: Option<&[PrinterColumn]>,
    revision: u64,
    token: Option<String>,
    remaining: Option<usize>,
) -> Value {
    let printer = printer(kind);
    let definitions: Vec<Value> = match columns {
        // As the real server: the name, then the definition's columns.
        Some(columns) => std::iter::once(json!({"name": NAME.name, "type": NAME.kind, "format": NAME.format, "description": NAME.description, "priority": 0}))
            .chain(columns.iter().map(|c| {
                json!({"name": c.name, "type": c.kind, "format": c.format, "description": c.description, "priority": c.priority})
            }))
            .collect(),
        None => printer
            .columns
            .iter()
            .map(|c| {
                json!({"name": c.name, "type": c.kind, "format": c.format, "description": c.description, "priority": c.priority})
            })
            .collect(),
    };
    let mut meta = json!({"resourceVersion": revision.to_string()});
    if let Some(t) = token {
        meta["continue"] = json!(t);
    }
    if let Some(r) = remaining {
        meta["remainingItemCount"] = json!(r);
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": definitions, "rows": []})
}

/// Writes the rows of one kind's table, one object at a time.
pub struct Rows {
    printer: Printer,
    columns: Option<Vec<PrinterColumn>>,
    include: IncludeObject,
}

impl Rows {
    /// Rows of `kind` with the definition's `columns` (custom resources) or its printer's.
    pub fn new(
        kind: &ResourceKind,
        columns: Option<&[PrinterColumn]>,
        include: IncludeObject,
    ) -> Rows {
        Rows {
            printer: printer(kind),
            columns: columns.map(<[PrinterColumn]>::to_vec),
            include,
        }
    }

    /// The row of `object`: its cells and, as asked, the object or its metadata.
    pub fn row(&self, object: &Value) -> Value {
        let cells = match &self.columns {
            Some(columns) => std::iter::once(json!(object["metadata"]["name"]))
                .chain(columns.iter().map(|c| c.cell(object)))
                .collect(),
            None => (self.printer.cells)(object, Common::of(object)),
        };
        let mut row = json!({"cells": cells});
        match self.include {
            IncludeObject::None => {}
            IncludeObject::Metadata => {
                row["object"] = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": object["metadata"]});
            }
            IncludeObject::Object => row["object"] = object.clone(),
        }
        row
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind's row has one cell per column, for a bare object and for one with the
    /// fields the printers read, so the two lists of a printer cannot drift apart.
    #[test]
    fn every_printer_makes_one_cell_per_column() {
        let full = json!({
            "kind": "ReplicationController",
            "metadata": {"name": "x", "namespace": "default", "creationTimestamp": "2026-11-26T10:00:00Z"},
            "spec": {"replicas": 2, "selector": {"app": "x"}, "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}},
                "containers": [{"name": "c", "image": "i"}], "ports": [{"port": 80, "protocol": "TCP"}]},
            "status": {"replicas": 2, "conditions": [{"type": "Ready", "status": "True"}]},
        });
        for kind in crate::resources::RESOURCES {
            let printer = printer(kind);
            for object in [json!({}), full.clone()] {
                assert_eq!(
                    (printer.cells)(&object, Common::of(&object)).len(),
                    printer.columns.len(),
                    "{}",
                    kind.kind
                );
            }
        }
    }
}
