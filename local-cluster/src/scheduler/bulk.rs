//! Placing thousands of pods at once (`--simulated-pods`) by the scheduler's own filters.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::filters::{Requests, likeness, misfits, requests_of, scheduling_view};
use crate::registry::Registry;
use crate::resources;

/// Places many pods at once by the scheduler's own filters, for loads of thousands of pods
/// (`--simulated-pods`): each goes to the next node in turn that fits it, which for pods alike on
/// nodes alike spreads them as least-allocated scoring would, at a fraction of the cost. A pod
/// that fits nowhere is left for the scheduler, which says why.
pub struct BulkPlacer {
    names: Vec<String>,
    nodes: Vec<Value>,
    used: Vec<(Requests, usize)>,
    /// Per likeness: where the next search starts.
    next: HashMap<String, usize>,
    /// Likenesses that fit nowhere: placing only adds, so they never will during this load.
    full: HashSet<String>,
}

impl BulkPlacer {
    /// The nodes in the store and what the pods already placed there use.
    pub fn new(registry: &Registry) -> BulkPlacer {
        let listed = registry
            .store
            .list(resources::nodes(), None, |_| true, 0, None)
            .items;
        let names: Vec<String> = listed.iter().map(|n| n.index.name.clone()).collect();
        let nodes: Vec<Value> = listed.iter().map(|n| scheduling_view(n.value())).collect();
        let mut used = vec![(Requests::default(), 0usize); nodes.len()];
        let position: HashMap<&str, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let bound = registry.store.list(
            resources::pods(),
            None,
            |i| i.field(resources::pods(), "spec.nodeName") != Some(""),
            0,
            None,
        );
        for stored in bound.items {
            let pod = stored.value();
            if let Some(&i) = pod["spec"]["nodeName"]
                .as_str()
                .and_then(|n| position.get(n))
                && !matches!(
                    pod["status"]["phase"].as_str(),
                    Some("Succeeded" | "Failed")
                )
            {
                let r = requests_of(&pod);
                used[i].0.cpu += r.cpu;
                used[i].0.memory += r.memory;
                used[i].1 += 1;
            }
        }
        BulkPlacer {
            names,
            nodes,
            used,
            next: HashMap::new(),
            full: Default::default(),
        }
    }

    /// The node `pod` goes on, counted as used; `None` when it fits on none.
    pub fn place(&mut self, pod: &Value) -> Option<&str> {
        let requests = requests_of(pod);
        let key = likeness(pod, requests);
        if self.nodes.is_empty() || self.full.contains(&key) {
            return None;
        }
        let count = self.nodes.len();
        let start = self.next.get(&key).copied().unwrap_or(0);
        for step in 0..count {
            let i = (start + step) % count;
            if misfits(pod, requests, &self.nodes[i], self.used[i]).is_empty() {
                self.used[i].0.cpu += requests.cpu;
                self.used[i].0.memory += requests.memory;
                self.used[i].1 += 1;
                self.next.insert(key, i + 1);
                return Some(&self.names[i]);
            }
        }
        self.full.insert(key);
        None
    }
}
