//! Custom resources: the kinds CustomResourceDefinitions add, served like the built-in ones.
//!
//! A definition is *established* by its controller (`controllers::definitions`): its names are
//! checked against the other definitions of its group, each served version becomes a
//! [`ResourceKind`], and the store gets one collection for its objects (shared by its versions,
//! which share one storage version). The API finds these kinds here next to the built-in ones;
//! discovery, tables, the scale subresource and validation read the definition's parts kept
//! beside each kind ([`Served`]).
//!
//! Kinds are `&'static` like the built-in ones, so every handler takes either. A kind is made
//! once per distinct definition version and reused while the definition does not change it, its
//! names allocated once each; a changed or removed definition leaves its old kind allocated (a
//! few hundred bytes per change of a definition's names or versions, never per write or object).

pub mod definition;
mod printer;
mod rules;
pub mod schema;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use serde_json::Value;

pub use printer::{PrinterColumn, find};

use crate::errors::{ApiError, FieldError};
use crate::resources::{self, ResourceKind};
use crate::store::Store;
use crate::validation::FieldValidation;

/// The finalizer a definition carries from its deletion until its objects are gone.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

/// Where the scale subresource reads and writes a custom object's replicas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScalePaths {
    /// `.spec.replicas`
    pub spec_replicas: String,
    /// `.status.replicas`
    pub status_replicas: String,
    /// `.status.selector`, when the definition names one.
    pub label_selector: Option<String>,
}

impl Default for ScalePaths {
    /// The built-in workloads' paths.
    fn default() -> Self {
        ScalePaths {
            spec_replicas: ".spec.replicas".to_owned(),
            status_replicas: ".status.replicas".to_owned(),
            label_selector: None,
        }
    }
}

/// A stored custom object as `kind`'s version shows it. Objects are stored in their
/// definition's storage version; with conversion `None` (the only strategy served here, as
/// for most definitions) another version differs only in `apiVersion`, which is rewritten.
/// Built-in kinds and objects already in `kind`'s version are passed on as they are.
pub fn in_version(kind: &ResourceKind, json: &bytes::Bytes) -> bytes::Bytes {
    if !kind.is_custom() {
        return json.clone();
    }
    // Only the top-level field counts (managedFields entries carry versions too).
    #[derive(serde::Deserialize)]
    struct Head<'a> {
        #[serde(rename = "apiVersion", borrow)]
        api_version: Option<std::borrow::Cow<'a, str>>,
    }
    let wanted = kind.api_version();
    if serde_json::from_slice::<Head>(json)
        .is_ok_and(|head| head.api_version.as_deref() == Some(wanted.as_str()))
    {
        return json.clone();
    }
    match serde_json::from_slice::<Value>(json) {
        Ok(mut object) => {
            object["apiVersion"] = Value::String(wanted);
            serde_json::to_vec(&object).map_or_else(|_| json.clone(), bytes::Bytes::from)
        }
        Err(_) => json.clone(),
    }
}

/// Sets the field at a dotted path (`.spec.replicas`), making the objects on the way.
pub fn set_path(object: &mut Value, path: &str, value: Value) {
    let mut current = object;
    let keys: Vec<&str> = path.split('.').filter(|k| !k.is_empty()).collect();
    let Some((last, parents)) = keys.split_last() else {
        return;
    };
    for key in parents {
        if !current[*key].is_object() {
            current[*key] = Value::Object(serde_json::Map::new());
        }
        current = &mut current[*key];
    }
    current[*last] = value;
}

/// One served version of a definition, with what serving it needs.
#[derive(Debug)]
pub struct Served {
    /// The kind handlers see.
    pub kind: &'static ResourceKind,
    /// The definition's name (`widgets.example.com`).
    pub definition: String,
    /// `openAPIV3Schema` of this version.
    pub schema: Value,
    /// Its `x-kubernetes-validations` rules, compiled, when it has any.
    pub rules: Option<rules::Rules>,
    /// `additionalPrinterColumns` (or the default `Age`).
    pub columns: Vec<PrinterColumn>,
    /// The scale subresource's paths, when the version has one.
    pub scale: Option<ScalePaths>,
    /// Whether objects are stored in this version.
    pub storage: bool,
}

/// The custom kinds one cluster serves.
#[derive(Default)]
pub struct CustomKinds {
    /// Every served version of every established definition; replaced whole on a change, so a
    /// request reads one consistent set.
    served: RwLock<Arc<Vec<Arc<Served>>>>,
    /// The store collection of each definition, by name: kept when a definition is deleted and
    /// made again, so its slot is reused.
    slots: Mutex<HashMap<String, usize>>,
    /// Definitions being deleted: their objects may still be read and deleted, not created.
    terminating: Mutex<std::collections::HashSet<String>>,
    interned: Mutex<Interned>,
}

/// A definition whose names another definition of its group already uses.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct NamesConflict {
    /// `PluralConflict` or `KindConflict`, as the condition's reason.
    pub reason: &'static str,
    /// The condition's message.
    pub message: String,
}

/// The names kinds are made of, each allocated once for good (kinds are `&'static`): a
/// definition written again with the same names allocates nothing.
#[derive(Default)]
struct Interned {
    strings: std::collections::HashSet<&'static str>,
    lists: std::collections::HashSet<&'static [&'static str]>,
}

impl Interned {
    fn string(&mut self, s: &str) -> &'static str {
        if let Some(found) = self.strings.get(s) {
            return found;
        }
        let leaked: &'static str = Box::leak(s.to_owned().into_boxed_str());
        self.strings.insert(leaked);
        leaked
    }

    fn list<'a>(&mut self, items: impl IntoIterator<Item = &'a str>) -> &'static [&'static str] {
        let list: Vec<&'static str> = items.into_iter().map(|s| self.string(s)).collect();
        if let Some(found) = self.lists.get(list.as_slice()) {
            return found;
        }
        let leaked: &'static [&'static str] = list.leak();
        self.lists.insert(leaked);
        leaked
    }

    fn json_list(&mut self, values: &Value) -> &'static [&'static str] {
        let items: Vec<&str> = values
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        self.list(items)
    }
}

impl CustomKinds {
    /// Every served version of every established definition.
    pub fn served(&self) -> Arc<Vec<Arc<Served>>> {
        self.served
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The custom kind at these URL coordinates.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<&'static ResourceKind> {
        self.served()
            .iter()
            .map(|s| s.kind)
            .find(|k| k.group == group && k.version == version && k.plural == plural)
    }

    /// What serving `kind` needs, if it is a custom kind served now.
    pub fn get(&self, kind: &ResourceKind) -> Option<Arc<Served>> {
        // Every write of every kind asks; a built-in kind never takes the lock.
        if !kind.is_custom() {
            return None;
        }
        self.served()
            .iter()
            .find(|s| std::ptr::eq(s.kind, kind))
            .cloned()
    }

    /// Every kind served now: the built-in ones, then the custom ones.
    pub fn all_kinds(&self) -> Vec<&'static ResourceKind> {
        resources::RESOURCES
            .iter()
            .chain(self.served().iter().map(|s| s.kind))
            .collect()
    }

    /// Serves the versions of `definition` (a CustomResourceDefinition as stored), replacing
    /// what it served before. Refused when another definition of its group uses its plural or
    /// kind.
    pub fn establish(&self, store: &Store, definition: &Value) -> Result<(), NamesConflict> {
        let name = definition["metadata"]["name"].as_str().unwrap_or_default();
        let spec = &definition["spec"];
        let group = spec["group"].as_str().unwrap_or_default();
        let names = &spec["names"];
        let plural = names["plural"].as_str().unwrap_or_default();
        let kind_name = names["kind"].as_str().unwrap_or_default();
        let mut served = self.served.write().unwrap_or_else(|e| e.into_inner());
        for other in served.iter().filter(|s| s.definition != name) {
            if other.kind.group != group {
                continue;
            }
            if other.kind.plural == plural {
                return Err(NamesConflict {
                    reason: "PluralConflict",
                    message: format!("\"{plural}\" is already in use"),
                });
            }
            if other.kind.kind == kind_name {
                return Err(NamesConflict {
                    reason: "KindConflict",
                    message: format!("\"{kind_name}\" is already in use"),
                });
            }
        }
        let slot = *self
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.to_owned())
            .or_insert_with(|| store.add_collection());
        let previous: Vec<&Arc<Served>> = served.iter().filter(|s| s.definition == name).collect();
        let mut versions = Vec::new();
        for version in spec["versions"].as_array().into_iter().flatten() {
            if version["served"].as_bool() != Some(true) {
                continue;
            }
            let subresources = &version["subresources"];
            let subs = ["status", "scale"]
                .into_iter()
                .filter(|sub| subresources[*sub].is_object());
            let mut interned = self.interned.lock().unwrap_or_else(|e| e.into_inner());
            let candidate = ResourceKind {
                group: interned.string(group),
                version: interned.string(version["name"].as_str().unwrap_or_default()),
                plural: interned.string(plural),
                singular: interned.string(names["singular"].as_str().unwrap_or_default()),
                kind: interned.string(kind_name),
                custom_slot: Some(slot),
                namespaced: spec["scope"] == "Namespaced",
                short_names: interned.json_list(&names["shortNames"]),
                subresources: interned.list(subs),
                categories: interned.json_list(&names["categories"]),
                verbs: resources::VERBS,
            };
            drop(interned);
            // The same kind as before keeps its address, so requests in flight and watches
            // holding it still compare equal.
            let kind = match previous.iter().find(|p| *p.kind == candidate) {
                Some(p) => p.kind,
                None => Box::leak(Box::new(candidate)),
            };
            let scale = &subresources["scale"];
            versions.push(Arc::new(Served {
                kind,
                definition: name.to_owned(),
                schema: version["schema"]["openAPIV3Schema"].clone(),
                rules: rules::Rules::compile(&version["schema"]["openAPIV3Schema"]),
                columns: printer::columns(&version["additionalPrinterColumns"]),
                scale: scale.is_object().then(|| ScalePaths {
                    spec_replicas: scale["specReplicasPath"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    status_replicas: scale["statusReplicasPath"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    label_selector: scale["labelSelectorPath"].as_str().map(str::to_owned),
                }),
                storage: version["storage"].as_bool() == Some(true),
            }));
        }
        let mut next: Vec<Arc<Served>> = served
            .iter()
            .filter(|s| s.definition != name)
            .cloned()
            .collect();
        next.extend(versions);
        *served = Arc::new(next);
        Ok(())
    }

    /// Marks `definition` as being deleted: creating its objects is refused from now on.
    pub fn terminate(&self, definition: &str) {
        self.terminating
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(definition.to_owned());
    }

    /// Stops serving `definition`'s kinds (its objects stay in its collection until removed).
    pub fn withdraw(&self, definition: &str) {
        self.terminating
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(definition);
        let mut served = self.served.write().unwrap_or_else(|e| e.into_inner());
        if served.iter().any(|s| s.definition == definition) {
            let next = served
                .iter()
                .filter(|s| s.definition != definition)
                .cloned()
                .collect();
            *served = Arc::new(next);
        }
    }

    /// A custom object as a request sent it, read as the server decodes it: fields its schema
    /// does not declare pruned (refused or warned about as `mode` says), then its defaults
    /// filled in. Built-in kinds pass through untouched.
    pub fn decode(
        &self,
        kind: &ResourceKind,
        object: &Value,
        mode: FieldValidation,
    ) -> Result<(Value, Vec<String>), ApiError> {
        let Some(served) = self.get(kind) else {
            return Ok((object.clone(), Vec::new()));
        };
        let mut decoded = object.clone();
        let unknown = schema::prune(&served.schema, &mut decoded);
        let warnings = crate::validation::unknown_fields_outcome(kind, &unknown, mode)?;
        schema::default(&served.schema, &mut decoded);
        Ok((decoded, warnings))
    }

    /// A stored custom object as its definition's schema reads it now: fields the schema no
    /// longer declares pruned and new defaults filled in, as the real server reads objects from
    /// storage (a patch then applies to that, and the fields a schema change removed are not
    /// reported as the patch's unknown fields). Built-in kinds pass through.
    pub fn as_read(&self, kind: &ResourceKind, stored: &Value) -> Value {
        let mut object = stored.clone();
        if let Some(served) = self.get(kind) {
            schema::prune(&served.schema, &mut object);
            schema::default(&served.schema, &mut object);
        }
        object
    }

    /// Defaults and validates a custom object about to be stored, and sets it in its storage
    /// version; checks a definition about to be stored; other kinds pass.
    /// `old` is the object before an update, for transition rules.
    pub fn check(
        &self,
        kind: &ResourceKind,
        object: &mut Value,
        old: Option<&Value>,
    ) -> Result<(), ApiError> {
        if kind.kind == "CustomResourceDefinition" && kind.group == "apiextensions.k8s.io" {
            let mut errors = Vec::new();
            definition::validate(object, &mut errors);
            if errors.is_empty() {
                return Ok(());
            }
            let name = object["metadata"]["name"].as_str().unwrap_or_default();
            return Err(ApiError::invalid(kind, name, &errors));
        }
        let Some(served) = self.get(kind) else {
            return Ok(());
        };
        if old.is_none()
            && self
                .terminating
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&served.definition)
        {
            return Err(ApiError::method_not_allowed(
                "create not allowed while custom resource definition is terminating",
            ));
        }
        schema::default(&served.schema, object);
        let mut errors: Vec<FieldError> = schema::validate(&served.schema, object);
        // Rules run on a well-typed object only, as on the real server.
        if errors.is_empty()
            && let Some(rules) = &served.rules
        {
            errors = rules.check(object, old);
        }
        if !errors.is_empty() {
            let name = object["metadata"]["name"].as_str().unwrap_or_default();
            return Err(ApiError::invalid(kind, name, &errors));
        }
        // Valid in the version it was written in, it is stored in the storage version, where
        // it keeps only what that version's schema declares (conversion `None` changes nothing
        // else), as on a real server.
        if let Some(storage) = self
            .served()
            .iter()
            .find(|s| s.definition == served.definition && s.storage)
        {
            object["apiVersion"] = Value::String(storage.kind.api_version());
            if !std::ptr::eq(storage.kind, served.kind) {
                schema::prune(&storage.schema, object);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn widgets(short_names: Value) -> Value {
        json!({
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": short_names},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object"}}}]}
        })
    }

    /// A definition written again unchanged (a status write, a no-op apply) keeps its kind and
    /// allocates no new names; a changed one gets a new kind in the same collection.
    #[test]
    fn a_definition_written_again_keeps_its_kind_and_its_collection() {
        let store = Store::new(10);
        let kinds = CustomKinds::default();
        kinds.establish(&store, &widgets(json!(["wd"]))).unwrap();
        let first = kinds.find("example.com", "v1", "widgets").unwrap();
        let interned = kinds.interned.lock().unwrap().strings.len();
        kinds.establish(&store, &widgets(json!(["wd"]))).unwrap();
        let again = kinds.find("example.com", "v1", "widgets").unwrap();
        assert!(std::ptr::eq(first, again));
        assert_eq!(kinds.interned.lock().unwrap().strings.len(), interned);
        kinds
            .establish(&store, &widgets(json!(["wd", "wdg"])))
            .unwrap();
        let changed = kinds.find("example.com", "v1", "widgets").unwrap();
        assert!(!std::ptr::eq(first, changed));
        assert_eq!(changed.short_names, &["wd", "wdg"]);
        assert_eq!(first.custom_slot, changed.custom_slot);
    }
}
