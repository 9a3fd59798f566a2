//! How a write or a delete is asked for: the options of the request, and which part of an
//! object (its main body or its status) it writes.

use serde_json::Value;

/// Options of a write request.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// `dryRun=All`: validate and answer, write nothing.
    pub dry_run: bool,
    /// Who writes, for managedFields; `None` for internal writers, which record nothing.
    pub field_manager: Option<String>,
}

/// Which part of an object a write targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The object (`.status` changes are ignored for kinds with a status subresource).
    Main,
    /// The `status` subresource (only `.status` changes are kept).
    Status,
}

/// `DeleteOptions`, from the query string or the request body.
#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    /// `gracePeriodSeconds`.
    pub grace_period_seconds: Option<i64>,
    /// `propagationPolicy`: Orphan, Background or Foreground.
    pub propagation_policy: Option<String>,
    /// `preconditions.uid`.
    pub precondition_uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub precondition_resource_version: Option<String>,
    /// `dryRun=All`.
    pub dry_run: bool,
}

/// A server-side apply request.
#[derive(Clone, Debug)]
pub struct ApplyPatch {
    /// The applied configuration.
    pub object: Value,
    /// `fieldManager`.
    pub manager: String,
    /// `force`: take fields other managers own.
    pub force: bool,
}
