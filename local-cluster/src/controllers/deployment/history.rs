//! Revisions and history: each ReplicaSet carries the revision of its template (and the
//! template's hash in its name and labels); old sets scaled to zero beyond
//! `revisionHistoryLimit` are deleted, oldest first.

use serde_json::Value;

use super::{Context, replicas_of, status_of};
use crate::errors::ApiError;
use crate::registry::DeleteOptions;
use crate::resources;

/// The annotation that carries a ReplicaSet's (and its Deployment's) revision.
pub(super) const REVISION: &str = "deployment.kubernetes.io/revision";
/// The label that tells the ReplicaSets of one Deployment's templates apart.
pub(super) const HASH_LABEL: &str = "pod-template-hash";

/// The real controller's pod-template-hash: FNV-1a (32 bit) of the template, its decimal digits
/// mapped onto the alphabet of `rand.SafeEncodeString`.
pub fn template_hash(template: &Value, collisions: i64) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u32::from(*b);
            hash = hash.wrapping_mul(0x0100_0193);
        }
    };
    feed(template.to_string().as_bytes());
    if collisions > 0 {
        feed(&collisions.to_le_bytes());
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    hash.to_string()
        .bytes()
        .map(|b| ALPHABET[b as usize % ALPHABET.len()] as char)
        .collect()
}

/// The template without the hash label, to compare with the Deployment's.
pub(super) fn strip_hash(template: &Value) -> Value {
    let mut t = template.clone();
    if let Some(labels) = t["metadata"]["labels"].as_object_mut() {
        labels.remove(HASH_LABEL);
    }
    t
}

/// A ReplicaSet's revision (0 when it has none).
pub(super) fn revision_of(rs: &Value) -> i64 {
    rs["metadata"]["annotations"][REVISION]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// Deletes the oldest idle ReplicaSets (scaled to zero and empty) beyond `limit`.
pub(super) fn clean_up(
    context: &Context<'_>,
    olds: &[Value],
    limit: usize,
) -> Result<(), ApiError> {
    let idle: Vec<&Value> = olds
        .iter()
        .filter(|rs| replicas_of(rs) == 0 && status_of(rs, "replicas") == 0)
        .collect();
    if idle.len() > limit {
        for rs in &idle[..idle.len() - limit] {
            let rs_name = rs["metadata"]["name"].as_str().unwrap_or_default();
            match context.registry.delete(
                resources::replicasets(),
                context.namespace,
                rs_name,
                &DeleteOptions::default(),
            ) {
                Err(e) if e.code != 404 => return Err(e),
                _ => {}
            }
        }
    }
    Ok(())
}
