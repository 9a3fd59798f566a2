//! Who this process is, read once at start from the downward-API variables.

use crate::api::ServedBy;
use crate::role::Role;

impl ServedBy {
    /// Reads `POD_NAME`, `POD_NAMESPACE` and `NODE_NAME` through `lookup`; absent or empty → `None`.
    pub fn from_lookup(role: Role, lookup: impl Fn(&str) -> Option<String>) -> ServedBy {
        let read = |name: &str| lookup(name).filter(|v| !v.is_empty());
        ServedBy {
            service: role.name().to_owned(),
            pod: read("POD_NAME"),
            node: read("NODE_NAME"),
            namespace: read("POD_NAMESPACE"),
            os: std::env::consts::OS.to_owned(),
        }
    }
}
