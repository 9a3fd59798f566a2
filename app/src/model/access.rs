//! Permissions as the API server's authorizer sees them: a verb on a resource (in a namespace,
//! on a named object), and the answer of a `SelfSubjectAccessReview` once asked.

use serde::Serialize;

/// One permission an action needs, and whether the server granted it (once asked).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Permission {
    /// The verb.
    pub verb: String,
    /// The API group (`""` for core).
    pub group: String,
    /// The resource (`deployments`).
    pub resource: String,
    /// The subresource (`proxy`, `log`).
    pub subresource: Option<String>,
    /// The namespace.
    pub namespace: String,
    /// The object, when one is named.
    pub name: Option<String>,
    /// The server's answer: `None` until asked.
    pub allowed: Option<bool>,
}

impl Permission {
    /// `patch deployments.apps/monolith` as kubectl's `auth can-i` would take it.
    pub fn describe(&self) -> String {
        let mut resource = if self.group.is_empty() {
            self.resource.clone()
        } else {
            format!("{}.{}", self.resource, self.group)
        };
        if let Some(sub) = &self.subresource {
            resource = format!("{resource}/{sub}");
        }
        match &self.name {
            Some(name) => format!("{} {resource} {name}", self.verb),
            None => format!("{} {resource}", self.verb),
        }
    }
}
