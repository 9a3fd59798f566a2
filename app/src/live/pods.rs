//! The pods the board shows, kept from a watch as [`PodPlacement`]s — a few hundred bytes each —
//! instead of whole Pod objects in a reflector: at 150,000 pods that is the difference between
//! gigabytes and tens of megabytes, and a snapshot no longer classifies every pod again, only
//! the ones that changed since. Each placement is kept once, by `Arc`, and shared with every
//! snapshot that shows it; label sets are kept once however many pods carry them.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use kube::runtime::watcher;

use crate::model::{Labels, PodPlacement, PodsByNode};

/// How many pods one page of a list holds: what the console keeps of a page is its placements,
/// so memory stays at one page of full objects however many pods the cluster has.
pub const LIST_PAGE: u32 = 500;

/// Every pod of the cluster as placements by node, from a paged list (`limit` and `continue`,
/// as kubectl pages its lists): the `status` command's ingest, as lean as the window's.
pub async fn list_placements(pods: &kube::Api<Pod>) -> kube::Result<PodsByNode> {
    let mut watched = WatchedPods::default();
    watched.apply(watcher::Event::Init);
    let mut params = kube::api::ListParams::default().limit(LIST_PAGE);
    loop {
        let page = pods.list(&params).await?;
        let next = page.metadata.continue_.clone();
        for pod in page.items {
            watched.apply(watcher::Event::InitApply(pod));
        }
        match next {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => break,
        }
    }
    watched.apply(watcher::Event::InitDone);
    Ok(watched.by_node())
}

/// Pods by namespace and name, as the watch last said; a relist is collected aside and swapped
/// in whole at its end, as kube-runtime's reflector does, so the board never shows half a list.
#[derive(Debug, Default)]
pub struct WatchedPods {
    live: HashMap<(String, String), Arc<PodPlacement>>,
    /// The same pods by node, each node's in the board's order: what a snapshot takes.
    by_node: PodsByNode,
    relisting: Option<HashMap<(String, String), Arc<PodPlacement>>>,
    /// Every label set in use, once.
    labels: HashSet<Labels>,
    /// WatchedPods taken in since the label sets were last swept of unused ones.
    since_sweep: usize,
}

fn key_of(pod: &Pod) -> (String, String) {
    (
        pod.metadata.namespace.clone().unwrap_or_default(),
        pod.metadata.name.clone().unwrap_or_default(),
    )
}

impl WatchedPods {
    /// Classifies `pod`, its labels shared with every other pod that has the same.
    fn placement(&mut self, pod: &Pod) -> Arc<PodPlacement> {
        let mut placement = PodPlacement::of(pod);
        placement.labels = self.intern(placement.labels);
        Arc::new(placement)
    }

    fn intern(&mut self, labels: Labels) -> Labels {
        if let Some(known) = self.labels.get(&labels) {
            return known.clone();
        }
        // Sets nobody holds any more (their pods changed or went) are dropped now and then, so
        // the set of sets does not grow with every pod-template-hash ever seen.
        self.since_sweep += 1;
        if self.since_sweep > self.labels.len().max(1024) {
            self.labels.retain(|l| Arc::strong_count(l) > 1);
            self.since_sweep = 0;
        }
        self.labels.insert(labels.clone());
        labels
    }

    /// Takes one watch event in; true when what the board shows may have changed.
    pub fn apply(&mut self, event: watcher::Event<Pod>) -> bool {
        match event {
            watcher::Event::Apply(pod) => {
                let placement = self.placement(&pod);
                if let Some(old) = self.live.insert(key_of(&pod), placement.clone()) {
                    self.by_node.remove(&old);
                }
                self.by_node.insert(placement);
                true
            }
            watcher::Event::Delete(pod) => match self.live.remove(&key_of(&pod)) {
                Some(old) => {
                    self.by_node.remove(&old);
                    true
                }
                None => false,
            },
            watcher::Event::Init => {
                self.relisting = Some(HashMap::new());
                false
            }
            watcher::Event::InitApply(pod) => {
                if self.relisting.is_some() {
                    let placement = self.placement(&pod);
                    if let Some(next) = self.relisting.as_mut() {
                        next.insert(key_of(&pod), placement);
                    }
                }
                false
            }
            watcher::Event::InitDone => match self.relisting.take() {
                Some(next) => {
                    self.by_node = next.values().cloned().collect();
                    self.live = next;
                    true
                }
                None => false,
            },
        }
    }

    /// Every pod, in no particular order.
    #[cfg(test)]
    fn pods(&self) -> impl Iterator<Item = &Arc<PodPlacement>> {
        self.live.values()
    }

    /// The pods by node, as a snapshot takes them (a cheap copy: the lists are shared).
    pub fn by_node(&self) -> PodsByNode {
        self.by_node.clone()
    }

    /// How many distinct label sets the pods carry.
    #[cfg(test)]
    fn label_sets(&self) -> usize {
        self.labels
            .iter()
            .filter(|l| Arc::strong_count(l) > 1)
            .count()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

    use serde_json::json;

    use super::*;

    fn pod(name: &str, node: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "shop", "labels": {"app": "shop", "tier": name}},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}]},
            "status": {"phase": "Running"},
        }))
        .unwrap()
    }

    #[test]
    fn changes_apply_one_by_one_and_a_relist_replaces_everything_at_its_end() {
        let mut placements = WatchedPods::default();
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

    #[test]
    fn pods_with_the_same_labels_share_one_set() {
        let mut placements = WatchedPods::default();
        let mut twin = pod("a", "n1");
        twin.metadata.name = Some("a-twin".into());
        placements.apply(watcher::Event::Apply(pod("a", "n1")));
        placements.apply(watcher::Event::Apply(twin));
        placements.apply(watcher::Event::Apply(pod("b", "n1")));
        let labels = |name: &str| {
            placements
                .pods()
                .find(|p| p.name == name)
                .unwrap()
                .labels
                .clone()
        };
        assert!(Arc::ptr_eq(&labels("a"), &labels("a-twin")));
        assert!(!Arc::ptr_eq(&labels("a"), &labels("b")));
        assert_eq!(labels("a").get("tier").map(String::as_str), Some("a"));
        assert_eq!(placements.label_sets(), 2);
        // When the pods with a set are gone, the set goes with them (on a later sweep).
        placements.apply(watcher::Event::Delete(pod("b", "n1")));
        for i in 0..2000 {
            let mut other = pod("c", "n1");
            other.metadata.name = Some(format!("c-{i}"));
            other.metadata.labels = Some([("i".to_owned(), i.to_string())].into());
            placements.apply(watcher::Event::Apply(other.clone()));
            placements.apply(watcher::Event::Delete(other));
        }
        assert_eq!(placements.label_sets(), 1);
        assert!(
            placements.labels.len() < 1100,
            "{}",
            placements.labels.len()
        );
    }
}
