//! ResourceQuota status: `hard` as the spec says, `used` counted from the namespace's objects,
//! kept current as pods and the counted kinds change (and every 10 s for kinds not watched), as
//! the real quota controller keeps it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::task::JoinHandle;

use super::ObjectRef;
use super::runtime::{Action, Context, Controller, Reconciled};
use crate::quotas::{self, amounts};
use crate::registry::Registry;
use crate::resources::{self, ResourceKind};
use crate::store::Change;

/// How often every quota is recounted whatever changed (counts of kinds not watched).
const RESYNC: Duration = Duration::from_secs(10);

/// The quotas of the namespace `change` happened in.
fn quotas_of(registry: &Registry, change: &Change) -> Vec<ObjectRef> {
    let namespace = &change.object.index.namespace;
    registry
        .store
        .list(
            resources::resourcequotas(),
            Some(namespace),
            |_| true,
            0,
            None,
        )
        .items
        .iter()
        .map(|q| (namespace.clone(), q.index.name.clone()))
        .collect()
}

/// Starts the controller.
pub fn start(registry: Arc<Registry>) -> Vec<JoinHandle<()>> {
    let watched: [&'static ResourceKind; 5] = [
        resources::pods(),
        resources::services(),
        resources::configmaps(),
        resources::secrets(),
        resources::replicationcontrollers(),
    ];
    let mut controller = Controller::new(
        registry,
        resources::resourcequotas(),
        "resourcequota-controller",
    )
    .resync_every(RESYNC);
    for kind in watched {
        controller = controller.watches(kind, quotas_of);
    }
    controller.run(reconcile).tasks
}

fn reconcile(context: &Context, (namespace, _): &ObjectRef, quota: &Value) -> Reconciled {
    let hard = quotas::hard(quota);
    let used = quotas::usage(&context.registry.store, namespace, hard.keys());
    let shown = |amounts: &amounts::Amounts| -> Map<String, Value> {
        amounts
            .iter()
            .map(|(r, a)| (r.clone(), json!(amounts::format(r, *a))))
            .collect()
    };
    // `hard` as written in the spec (its quantities unchanged), `used` in the same units.
    let status = json!({
        "hard": quota["spec"]["hard"].clone(),
        "used": shown(&used),
    });
    context.write_status(quota, status)?;
    Ok(Action::await_change())
}
