//! Object lifecycle rules shared by the HTTP API and the in-process controllers: naming, uid,
//! timestamps, generation, resourceVersion preconditions, status subresources, finalizers,
//! graceful pod deletion and Service address allocation.
//!
//! This module does the reads and writes; [`lifecycle`] holds the rules as pure functions
//! (what a create fills in, what may not change, when a delete only marks, when a marked
//! object goes), and [`allocation`] hands out Service addresses.

use std::net::Ipv4Addr;
use std::sync::Arc;

use serde_json::{Value, json};

mod allocation;
mod lifecycle;
mod options;

pub use options::{ApplyPatch, DeleteOptions, Part, WriteOptions};

use allocation::ServiceAddresses;
pub use lifecycle::random_suffix;
use lifecycle::{
    DeletionPlan, check_immutable, deletion_plan, finalized, prepare_create, spec_changed, unsaved,
};

use crate::clock::now;
use crate::custom_resources::CustomKinds;
use crate::errors::ApiError;
use crate::managed_fields;
use crate::resources::{self, ResourceKind};
use crate::store::{Store, Stored, Write};
use crate::strategic::Lists;
use crate::{defaults, validation};

/// How a kind's lists merge under server-side apply: a custom kind's by its schema.
fn lists_of(served: Option<&crate::custom_resources::Served>) -> Lists<'_> {
    served.map_or(Lists::ByFieldName, |s| Lists::Schema(&s.schema))
}

/// The lifecycle rules over a [`Store`].
pub struct Registry {
    /// The objects.
    pub store: Arc<Store>,
    /// The kinds CustomResourceDefinitions add, and their schemas.
    pub custom: CustomKinds,
    addresses: ServiceAddresses,
    /// ClusterIPs come from 127.`service_octet`.0.0/16: loopback, so the cluster really listens on them.
    service_octet: u8,
    /// Where the kubelets keep pods' files (volumes, container roots), once they run: the exec
    /// handler runs a command in its container's root, as the kubelet started the container.
    pub pod_files: std::sync::OnceLock<std::path::PathBuf>,
}

impl Registry {
    /// A registry over `store`, handing out ClusterIPs from 127.`service_octet`.0.0/16.
    pub fn new(store: Arc<Store>, service_octet: u8) -> Registry {
        Registry {
            store,
            custom: CustomKinds::default(),
            addresses: ServiceAddresses::new(service_octet),
            service_octet,
            pod_files: std::sync::OnceLock::new(),
        }
    }

    /// For unit tests: a registry on a store keeping `history` changes per resource, holding
    /// namespace `default`.
    #[cfg(test)]
    #[allow(clippy::unwrap_used)] // A test fixture: failing to create `default` is the failure.
    pub fn for_tests(history: usize) -> Arc<Registry> {
        let registry = Arc::new(Registry::new(Arc::new(Store::new(history)), 251));
        registry
            .create(
                crate::resources::namespaces(),
                "",
                serde_json::json!({"metadata": {"name": "default"}}),
                &WriteOptions::default(),
            )
            .unwrap();
        registry
    }

    /// The first ClusterIP of the range (the `kubernetes` Service's).
    pub fn first_cluster_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(127, self.service_octet, 0, 1)
    }

    /// One object, or 404.
    pub fn get(
        &self,
        kind: &'static ResourceKind,
        namespace: &str,
        name: &str,
    ) -> Result<Stored, ApiError> {
        self.store
            .get(kind, namespace, name)
            .ok_or_else(|| ApiError::not_found(kind, name))
    }

    /// One object, parsed.
    pub fn get_value(
        &self,
        kind: &'static ResourceKind,
        namespace: &str,
        name: &str,
    ) -> Result<Value, ApiError> {
        self.get(kind, namespace, name).map(|s| s.value())
    }

    fn check_namespace(
        &self,
        kind: &'static ResourceKind,
        namespace: &str,
        name: &str,
    ) -> Result<(), ApiError> {
        if !kind.namespaced {
            return Ok(());
        }
        let ns = self
            .store
            .get(resources::namespaces(), "", namespace)
            .ok_or_else(|| ApiError::not_found(resources::namespaces(), namespace))?;
        if ns.value()["metadata"]["deletionTimestamp"].is_string() {
            return Err(ApiError::forbidden(
                kind,
                name,
                &format!(
                    "unable to create new content in namespace {namespace} because it is being terminated"
                ),
            ));
        }
        Ok(())
    }

    /// Creates `object` (POST). `namespace` is the one in the URL.
    pub fn create(
        &self,
        kind: &'static ResourceKind,
        namespace: &str,
        mut object: Value,
        options: &WriteOptions,
    ) -> Result<Stored, ApiError> {
        prepare_create(kind, namespace, &mut object)?;
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if let Some(manager) = &options.field_manager {
            let served = self.custom.get(kind);
            managed_fields::record(
                &mut object,
                manager,
                "Update",
                &kind.api_version(),
                None,
                lists_of(served.as_deref()),
            );
        }
        if options.dry_run && self.store.get(kind, namespace, &name).is_some() {
            return Err(ApiError::already_exists(kind, &name));
        }
        self.create_prepared(kind, namespace, &name, object, options.dry_run)
    }

    /// Replaces an object (PUT), honouring `metadata.resourceVersion` as a precondition.
    pub fn replace(
        &self,
        kind: &'static ResourceKind,
        namespace: &str,
        name: &str,
        part: Part,
        object: Value,
        options: &WriteOptions,
    ) -> Result<Stored, ApiError> {
        self.update_with(kind, namespace, name, part, options, |_| Ok(object))
    }

    /// Read-modify-write of one object, atomically: `edit` gets the current object and returns
    /// the desired one. Used by PATCH, by PUT, and by every controller.
    pub fn update_with(
        &self,
        kind: &'static ResourceKind,
        namespace: &str,
        name: &str,
        part: Part,
        options: &WriteOptions,
        edit: impl FnOnce(&Value) -> Result<Value, ApiError>,
    ) -> Result<Stored, ApiError> {
        let mut dry_result = None;
        let (change, ()) = self.store.mutate(kind, namespace, name, |current| {
            let current = current.ok_or_else(|| ApiError::not_found(kind, name))?;
            let old = current.value();
            let desired = edit(&old)?;
            let next = self.prepare_update(kind, &old, desired, part, options)?;
            if options.dry_run {
                dry_result = Some(unsaved(kind, next.unwrap_or(old), current.revision));
                return Ok((Write::Keep, ()));
            }
            match next {
                None => {
                    dry_result = Some(current.clone());
                    Ok((Write::Keep, ()))
                }
                Some(next) if finalized(&next) => Ok((Write::Delete, ())),
                Some(next) => Ok((Write::Put(next), ())),
            }
        })?;
        if let Some(change) = change {
            if change.kind == crate::store::EventKind::Deleted {
                self.addresses.release(kind, &change.object.value());
            } else {
                self.serve_definition(kind, &change.object);
            }
            return Ok(change.object.clone());
        }
        dry_result.ok_or_else(|| ApiError::internal("update produced no result"))
    }

    /// Validates an update and returns the object to store, or `None` when nothing changed.
    fn prepare_update(
        &self,
        kind: &'static ResourceKind,
        old: &Value,
        mut new: Value,
        part: Part,
        options: &WriteOptions,
    ) -> Result<Option<Value>, ApiError> {
        let name = old["metadata"]["name"].as_str().unwrap_or_default();
        if !new.is_object() {
            return Err(ApiError::bad_request("the object must be a JSON object"));
        }
        let sent_version = new["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default();
        if !sent_version.is_empty()
            && sent_version
                != old["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or_default()
        {
            return Err(ApiError::modified(kind, name));
        }
        if let Some(sent) = new["metadata"]["name"].as_str()
            && !sent.is_empty()
            && sent != name
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({sent}) does not match the name on the URL ({name})"
            )));
        }
        let mut next = match part {
            Part::Status => {
                // Only .status may change through the status subresource.
                let mut merged = old.clone();
                merged["status"] = new.get("status").cloned().unwrap_or(Value::Null);
                merged
            }
            Part::Main => {
                if kind.has_status() {
                    new["status"] = old.get("status").cloned().unwrap_or(Value::Null);
                }
                // Metadata the server owns survives whatever the client sent.
                for key in [
                    "uid",
                    "creationTimestamp",
                    "deletionTimestamp",
                    "deletionGracePeriodSeconds",
                    "namespace",
                    "name",
                ] {
                    match old["metadata"].get(key) {
                        Some(v) => new["metadata"][key] = v.clone(),
                        None => {
                            if let Some(m) = new["metadata"].as_object_mut() {
                                m.remove(key);
                            }
                        }
                    }
                }
                if new["metadata"]["managedFields"].is_null() {
                    new["metadata"]["managedFields"] = old["metadata"]["managedFields"].clone();
                }
                new
            }
        };
        if let Some(map) = next.as_object_mut() {
            map.retain(|_, v| !v.is_null());
            map.insert("apiVersion".into(), json!(kind.api_version()));
            map.insert("kind".into(), json!(kind.kind));
        }
        if let Some(meta) = next["metadata"].as_object_mut() {
            meta.retain(|_, v| !v.is_null());
        }
        defaults::apply(kind, &mut next);
        validation::validate(kind, &next)?;
        self.custom.check(kind, &mut next, Some(old))?;
        check_immutable(kind, old, &next)?;
        if part == Part::Main && spec_changed(old, &next) {
            let generation = old["metadata"]["generation"].as_i64().unwrap_or(1);
            next["metadata"]["generation"] = json!(generation + 1);
        }
        if let Some(manager) = &options.field_manager
            && part == Part::Main
        {
            let served = self.custom.get(kind);
            managed_fields::record(
                &mut next,
                manager,
                "Update",
                &kind.api_version(),
                Some(old),
                lists_of(served.as_deref()),
            );
        }
        // A no-op write keeps the resourceVersion, as on a real server.
        let mut comparable = next.clone();
        comparable["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
        if managed_fields::equal_ignoring_times(&comparable, old) {
            return Ok(None);
        }
        if kind.kind == "Service" {
            let allocated = self.addresses.allocate(kind, &mut next, Some(old))?;
            if options.dry_run {
                self.addresses.release_list(&allocated);
            }
        }
        Ok(Some(next))
    }

    /// Server-side apply: creates the object if missing, otherwise merges `applied` into it with
    /// field ownership for `manager`. Returns the result and whether it was created.
    pub fn server_side_apply(
        &self,
        kind: &'static ResourceKind,
        namespace: &str,
        name: &str,
        apply: ApplyPatch,
        options: &WriteOptions,
    ) -> Result<(Stored, bool), ApiError> {
        let ApplyPatch {
            object: mut applied,
            manager,
            force,
        } = apply;
        let manager = manager.as_str();
        if applied["metadata"]["name"]
            .as_str()
            .is_some_and(|n| n != name)
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                applied["metadata"]["name"].as_str().unwrap_or_default()
            )));
        }
        applied["metadata"]["name"] = json!(name);
        let served = self.custom.get(kind);
        let internal = WriteOptions {
            dry_run: options.dry_run,
            field_manager: None,
        };
        if self.store.get(kind, namespace, name).is_none() {
            let mut object = managed_fields::apply(
                kind,
                None,
                &applied,
                manager,
                force,
                lists_of(served.as_deref()),
            )?;
            prepare_create(kind, namespace, &mut object)?;
            // A concurrent create wins: fall through to the update path.
            match self.create_prepared(kind, namespace, name, object, options.dry_run) {
                Err(e) if e.reason == "AlreadyExists" => {}
                other => return other.map(|s| (s, true)),
            }
        }
        let stored = self.update_with(kind, namespace, name, Part::Main, &internal, |old| {
            managed_fields::apply(
                kind,
                Some(old),
                &applied,
                manager,
                force,
                lists_of(served.as_deref()),
            )
        })?;
        Ok((stored, false))
    }

    fn create_prepared(
        &self,
        kind: &'static ResourceKind,
        namespace: &str,
        name: &str,
        mut object: Value,
        dry_run: bool,
    ) -> Result<Stored, ApiError> {
        self.check_namespace(kind, namespace, name)?;
        self.custom.check(kind, &mut object, None)?;
        if std::ptr::eq(kind, resources::pods()) {
            crate::admission::runtime_class(&self.store, &mut object)
                .map_err(|why| ApiError::forbidden(kind, name, &why))?;
        }
        if std::ptr::eq(kind, resources::ingresses()) {
            crate::admission::default_ingress_class(&self.store, &mut object);
        }
        crate::quotas::admit(&self.store, kind, namespace, &mut object)
            .map_err(|why| ApiError::forbidden(kind, name, &why))?;
        let allocated = self.addresses.allocate(kind, &mut object, None)?;
        if dry_run {
            self.addresses.release_list(&allocated);
            return Ok(unsaved(kind, object, self.store.revision()));
        }
        let result = self.store.mutate(kind, namespace, name, |current| {
            if current.is_some() {
                return Err(ApiError::already_exists(kind, name));
            }
            Ok((Write::Put(object), ()))
        });
        match result {
            Ok((Some(change), ())) => {
                self.serve_definition(kind, &change.object);
                Ok(change.object.clone())
            }
            Ok((None, ())) => Err(ApiError::internal("create wrote nothing")),
            Err(e) => {
                self.addresses.release_list(&allocated);
                Err(e)
            }
        }
    }

    /// A CustomResourceDefinition just written is served at once, before the write is
    /// answered, so a client that applies a definition and then its objects finds the kind
    /// (and its new schema) in place. Names another definition holds are left to the
    /// definitions controller, which reports the conflict in the status.
    fn serve_definition(&self, kind: &ResourceKind, stored: &Stored) {
        if kind.kind != "CustomResourceDefinition" || kind.group != "apiextensions.k8s.io" {
            return;
        }
        let definition = stored.value();
        if definition["metadata"]["deletionTimestamp"].is_null() {
            let _ = self.custom.establish(&self.store, &definition);
        } else {
            self.custom
                .terminate(definition["metadata"]["name"].as_str().unwrap_or_default());
        }
    }

    /// Binds a pending pod to `node`: `spec.nodeName` and the `PodScheduled` condition in one
    /// write, as the binding subresource does. A pod already bound is a conflict.
    pub fn bind(&self, namespace: &str, name: &str, node: &str) -> Result<Stored, ApiError> {
        let pods = resources::pods();
        let (change, ()) = self.store.mutate(pods, namespace, name, |current| {
            let current = current.ok_or_else(|| ApiError::not_found(pods, name))?;
            let mut pod = current.value();
            if let Some(bound) = pod["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
                return Err(ApiError::conflict(pods, name, &format!("pod {name} is already assigned to node \"{bound}\"")));
            }
            if pod["metadata"]["deletionTimestamp"].is_string() {
                return Err(ApiError::conflict(pods, name, "pod is being deleted"));
            }
            pod["spec"]["nodeName"] = json!(node);
            let conditions = pod["status"]["conditions"].as_array().cloned().unwrap_or_default();
            let mut conditions: Vec<Value> = conditions.into_iter().filter(|c| c["type"] != "PodScheduled").collect();
            conditions.insert(0, json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now()}));
            pod["status"]["conditions"] = json!(conditions);
            Ok((Write::Put(pod), ()))
        })?;
        change
            .map(|c| c.object.clone())
            .ok_or_else(|| ApiError::internal("binding wrote nothing"))
    }

    /// Deletes an object (DELETE), honouring preconditions, finalizers, propagation policy and
    /// a pod's grace period. Returns the object as it is after the call.
    pub fn delete(
        &self,
        kind: &'static ResourceKind,
        namespace: &str,
        name: &str,
        options: &DeleteOptions,
    ) -> Result<Stored, ApiError> {
        if let Some(policy) = &options.propagation_policy
            && !matches!(policy.as_str(), "Orphan" | "Background" | "Foreground")
        {
            return Err(ApiError::bad_request(format!(
                "propagationPolicy: Unsupported value: \"{policy}\": supported values: \"Orphan\", \"Background\", \"Foreground\""
            )));
        }
        let mut unchanged = None;
        let (change, ()) = self.store.mutate(kind, namespace, name, |current| {
            let current = current.ok_or_else(|| ApiError::not_found(kind, name))?;
            let mut object = current.value();
            let meta = &object["metadata"];
            if let Some(uid) = &options.precondition_uid
                && meta["uid"].as_str() != Some(uid)
            {
                return Err(ApiError::conflict(
                    kind,
                    name,
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        meta["uid"].as_str().unwrap_or_default()
                    ),
                ));
            }
            if let Some(rv) = &options.precondition_resource_version
                && meta["resourceVersion"].as_str() != Some(rv)
            {
                return Err(ApiError::conflict(
                    kind,
                    name,
                    &format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                        meta["resourceVersion"].as_str().unwrap_or_default()
                    ),
                ));
            }
            let plan = deletion_plan(kind, &object, options);
            if options.dry_run {
                unchanged = Some(current.clone());
                return Ok((Write::Keep, ()));
            }
            match plan {
                DeletionPlan::Now => Ok((Write::Delete, ())),
                DeletionPlan::Mark { finalizer, grace } => {
                    let already = object["metadata"]["deletionTimestamp"].is_string();
                    let meta = object["metadata"].as_object_mut().ok_or_else(|| ApiError::internal("no metadata"))?;
                    if let Some(f) = finalizer {
                        let list = meta.entry("finalizers").or_insert_with(|| json!([]));
                        if let Some(items) = list.as_array_mut()
                            && !items.iter().any(|x| x == f)
                        {
                            items.push(json!(f));
                        }
                    }
                    let shorter = grace.is_some_and(|g| meta.get("deletionGracePeriodSeconds").and_then(Value::as_i64).is_none_or(|cur| g < cur));
                    if !already || shorter {
                        let seconds = grace.unwrap_or(0);
                        let when = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(seconds);
                        meta.insert("deletionTimestamp".into(), json!(when.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()));
                        meta.insert("deletionGracePeriodSeconds".into(), json!(seconds));
                    }
                    if kind.kind == "Namespace" {
                        object["status"]["phase"] = json!("Terminating");
                    }
                    Ok((Write::Put(object), ()))
                }
            }
        })?;
        match change {
            Some(change) => {
                if change.kind == crate::store::EventKind::Deleted {
                    self.addresses.release(kind, &change.object.value());
                } else {
                    self.serve_definition(kind, &change.object);
                }
                Ok(change.object.clone())
            }
            None => unchanged.ok_or_else(|| ApiError::internal("delete produced no result")),
        }
    }

    /// Creates or replaces objects in bulk, defaulted but not validated: for setting up large
    /// simulated clusters (the objects must already be valid). Returns how many were stored.
    pub fn bulk_put(
        &self,
        kind: &'static ResourceKind,
        objects: impl IntoIterator<Item = Value>,
    ) -> usize {
        let mut stored = 0;
        for mut object in objects {
            defaults::apply(kind, &mut object);
            let namespace = object["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let name = object["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if object["metadata"]["uid"].is_null() {
                object["metadata"]["uid"] = json!(uuid::Uuid::new_v4().to_string());
            }
            if object["metadata"]["creationTimestamp"].is_null() {
                object["metadata"]["creationTimestamp"] = json!(now());
            }
            let result: Result<_, ApiError> = self
                .store
                .mutate(kind, &namespace, &name, |_| Ok((Write::Put(object), ())));
            if let Ok((Some(_), ())) = result {
                stored += 1;
            }
        }
        stored
    }
}
