//! What one served resource is: its group, version, names, scope, subresources and verbs.

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
    /// For a custom resource (served from a CustomResourceDefinition), its collection in the
    /// cluster's store; built-in kinds are found by their place in [`RESOURCES`].
    pub custom_slot: Option<usize>,
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

    /// Whether this kind is served from a CustomResourceDefinition.
    pub fn is_custom(&self) -> bool {
        self.custom_slot.is_some()
    }
}

/// Where the store keeps a kind's objects: its index in the built-in table, or for a custom
/// resource a slot numbered after them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId(pub usize);

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
