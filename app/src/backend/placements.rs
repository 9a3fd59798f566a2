//! The pods the board shows, kept from a watch as [`PodPlacement`]s — a few hundred bytes each —
//! instead of whole Pod objects in a reflector: at 150,000 pods that is the difference between
//! gigabytes and tens of megabytes, and a snapshot no longer classifies every pod again, only
//! the ones that changed since.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::Pod;
use kube::runtime::watcher;

use crate::model::PodPlacement;

/// Pods by namespace and name, as the watch last said; a relist is collected aside and swapped
/// in whole at its end, as kube-runtime's reflector does, so the board never shows half a list.
#[derive(Debug, Default)]
pub struct Placements {
    live: HashMap<(String, String), PodPlacement>,
    relisting: Option<HashMap<(String, String), PodPlacement>>,
}

fn key_of(pod: &Pod) -> (String, String) {
    (
        pod.metadata.namespace.clone().unwrap_or_default(),
        pod.metadata.name.clone().unwrap_or_default(),
    )
}

impl Placements {
    /// Takes one watch event in; true when what the board shows may have changed.
    pub fn apply(&mut self, event: watcher::Event<Pod>) -> bool {
        match event {
            watcher::Event::Apply(pod) => {
                self.live.insert(key_of(&pod), PodPlacement::of(&pod));
                true
            }
            watcher::Event::Delete(pod) => self.live.remove(&key_of(&pod)).is_some(),
            watcher::Event::Init => {
                self.relisting = Some(HashMap::new());
                false
            }
            watcher::Event::InitApply(pod) => {
                if let Some(next) = self.relisting.as_mut() {
                    next.insert(key_of(&pod), PodPlacement::of(&pod));
                }
                false
            }
            watcher::Event::InitDone => match self.relisting.take() {
                Some(next) => {
                    self.live = next;
                    true
                }
                None => false,
            },
        }
    }

    /// Every pod, in no particular order.
    pub fn pods(&self) -> impl Iterator<Item = &PodPlacement> {
        self.live.values()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

    use serde_json::json;

    use super::*;

    fn pod(name: &str, node: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}]},
            "status": {"phase": "Running"},
        }))
        .unwrap()
    }

    #[test]
    fn changes_apply_one_by_one_and_a_relist_replaces_everything_at_its_end() {
        let mut placements = Placements::default();
        assert!(placements.apply(watcher::Event::Apply(pod("a", "n1"))));
        assert!(placements.apply(watcher::Event::Apply(pod("b", "n1"))));
        // A change replaces the pod's placement: it moved.
        assert!(placements.apply(watcher::Event::Apply(pod("a", "n2"))));
        assert_eq!(placements.pods().count(), 2);
        let a = placements.pods().find(|p| p.name == "a").unwrap();
        assert_eq!(a.node.as_deref(), Some("n2"));
        assert!(placements.apply(watcher::Event::Delete(pod("b", "n1"))));
        assert!(!placements.apply(watcher::Event::Delete(pod("b", "n1"))));
        assert_eq!(placements.pods().count(), 1);

        // A relist (after a dropped watch, or 410 Gone): nothing changes until it is complete,
        // then what it listed is all there is.
        assert!(!placements.apply(watcher::Event::Init));
        assert!(!placements.apply(watcher::Event::InitApply(pod("c", "n1"))));
        assert_eq!(
            placements
                .pods()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>(),
            ["a"]
        );
        assert!(placements.apply(watcher::Event::InitDone));
        assert_eq!(
            placements
                .pods()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>(),
            ["c"]
        );
    }
}
