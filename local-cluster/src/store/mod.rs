//! The object store: every object as serialized JSON with a global, increasing resourceVersion,
//! a bounded history per resource for watches, and a broadcast of changes.
//!
//! Objects are kept as JSON bytes (a few KB each) rather than parsed trees, so 150,000 pods fit in
//! well under 2 GB and lists and watches write bytes out without re-serializing. All writes to one
//! resource go through [`Store::mutate`], which runs read-modify-write under that resource's lock:
//! there is no lost update, and the resourceVersion order is the commit order.

mod index;

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::broadcast;

pub use index::{LabelSource, ObjectIndex, selectable_fields};

use crate::resources::{RESOURCES, ResourceId, ResourceKind};

/// `(namespace, name)`; the namespace is empty for cluster-scoped objects. Ordered as etcd keys are.
pub type ObjectKey = (String, String);

/// One stored object version.
#[derive(Clone, Debug)]
pub struct Stored {
    /// The object, serialized, with its `metadata.resourceVersion` filled in.
    pub json: Bytes,
    /// Its resourceVersion.
    pub revision: u64,
    /// What selectors match against.
    pub index: Arc<ObjectIndex>,
}

impl Stored {
    /// Parses the stored JSON (always valid: the store wrote it).
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.json).unwrap_or(Value::Null)
    }
}

/// The type of a watch event, as the wire format spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// `ADDED`
    Added,
    /// `MODIFIED`
    Modified,
    /// `DELETED`
    Deleted,
}

impl EventKind {
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Added => "ADDED",
            EventKind::Modified => "MODIFIED",
            EventKind::Deleted => "DELETED",
        }
    }
}

/// One committed change.
#[derive(Debug)]
pub struct Change {
    /// What happened.
    pub kind: EventKind,
    /// The object after the change (for deletions: its last state, with the deletion's revision).
    pub object: Stored,
    /// The index of the object before the change, so a watch with a selector can tell an object
    /// leaving the selection (sent as DELETED) from one changing inside it.
    pub previous: Option<Arc<ObjectIndex>>,
}

/// What a mutation closure decided.
pub enum Write {
    /// Store this object (create or replace).
    Put(Value),
    /// Remove the object.
    Delete,
    /// Change nothing.
    Keep,
}

/// A watch could not start: the requested revision is older than the retained history.
#[derive(Debug, thiserror::Error)]
#[error("too old resource version: {requested} ({oldest})")]
pub struct Expired {
    /// The revision asked for.
    pub requested: u64,
    /// The oldest revision that can still be watched from.
    pub oldest: u64,
}

/// Where a watch starts.
#[derive(Clone, Copy, Debug)]
pub enum WatchStart {
    /// Every current object as ADDED, then changes (resourceVersion unset or "0").
    WithCurrentState,
    /// Changes with a revision greater than this one.
    After(u64),
}

/// A watch: the events to send first, then the live feed.
pub struct WatchFeed {
    /// Events to deliver before the live feed (synthetic ADDED or replayed history).
    pub backlog: Vec<Arc<Change>>,
    /// Changes committed after the backlog was taken.
    pub live: broadcast::Receiver<Arc<Change>>,
    /// The store's revision when the watch started.
    pub revision: u64,
}

/// One page of a list.
pub struct ListPage {
    /// The matching objects, in key order.
    pub items: Vec<Stored>,
    /// The revision the list is consistent with.
    pub revision: u64,
    /// Where the next page starts, if more objects match.
    pub next: Option<ObjectKey>,
}

struct Collection {
    objects: BTreeMap<ObjectKey, Stored>,
    /// Changes, oldest first, each with when it was made.
    history: VecDeque<(Instant, Arc<Change>)>,
    /// Every change with a revision above this one is in `history`.
    history_floor: u64,
    feed: broadcast::Sender<Arc<Change>>,
}

impl Collection {
    fn empty() -> Mutex<Collection> {
        Mutex::new(Collection {
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            history_floor: 0,
            feed: broadcast::channel(FEED_CAPACITY).0,
        })
    }
}

/// All objects of every resource.
pub struct Store {
    /// One per built-in kind (by its place in `RESOURCES`), then one per custom resource added
    /// since. Append-only, so a collection is reached without locking the list.
    collections: boxcar::Vec<Mutex<Collection>>,
    revision: AtomicU64,
    history_capacity: usize,
    history_kept_for: Duration,
}

/// How many live changes a slow watcher may fall behind before its watch is ended (it then
/// re-watches from its last revision, which the history still holds).
const FEED_CAPACITY: usize = 16_384;

/// How long a change stays in the history: a real API server asks etcd to compact everything
/// older than five minutes (`--etcd-compaction-interval`), after which a watch from an older
/// revision is answered 410 Gone and the client lists again. Without it the history grew with
/// every change up to its count bound (the local cluster's memory rose ~6 MB per ten moves).
pub const HISTORY_KEPT_FOR: Duration = Duration::from_secs(5 * 60);

impl Store {
    /// An empty store keeping `history_capacity` changes per resource for watches.
    pub fn new(history_capacity: usize) -> Store {
        let collections = boxcar::Vec::new();
        for _ in RESOURCES {
            collections.push(Collection::empty());
        }
        Store {
            collections,
            revision: AtomicU64::new(1),
            history_capacity: history_capacity.max(1),
            history_kept_for: HISTORY_KEPT_FOR,
        }
    }

    /// The same store compacting changes older than `kept_for` instead of [`HISTORY_KEPT_FOR`].
    pub fn with_history_kept_for(mut self, kept_for: Duration) -> Store {
        self.history_kept_for = kept_for;
        self
    }

    /// A new, empty collection for a custom resource; its slot is the kind's `custom_slot`.
    pub fn add_collection(&self) -> usize {
        self.collections.push(Collection::empty())
    }

    fn collection(&self, resource: ResourceId) -> MutexGuard<'_, Collection> {
        // Slots are only handed out by `add_collection`, after which they exist for good; a
        // kind from another store's slot numbering would be a bug in this crate.
        let collection = self
            .collections
            .get(resource.0)
            .expect("a resource's slot was added to this store");
        // A panic while holding the lock leaves the map consistent (writes are single inserts),
        // so a poisoned lock is safe to keep using.
        collection.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The latest committed revision.
    pub fn revision(&self) -> u64 {
        self.revision.load(Ordering::SeqCst)
    }

    /// The current version of one object.
    pub fn get(&self, kind: &'static ResourceKind, namespace: &str, name: &str) -> Option<Stored> {
        self.collection(kind.id())
            .objects
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    /// Reads, decides and writes one object atomically. `decide` sees the current version (if
    /// any) and returns what to write plus a value handed back to the caller. The store fills in
    /// `metadata.resourceVersion`. Returns the committed change, if any.
    pub fn mutate<T, E>(
        &self,
        kind: &'static ResourceKind,
        namespace: &str,
        name: &str,
        decide: impl FnOnce(Option<&Stored>) -> Result<(Write, T), E>,
    ) -> Result<(Option<Arc<Change>>, T), E> {
        let key = (namespace.to_owned(), name.to_owned());
        let mut collection = self.collection(kind.id());
        let current = collection.objects.get(&key);
        let (write, out) = decide(current)?;
        let change = match write {
            Write::Keep => None,
            Write::Put(value) => {
                let previous = current.map(|s| s.index.clone());
                let kind_of_event = if current.is_some() {
                    EventKind::Modified
                } else {
                    EventKind::Added
                };
                let stored = self.seal(kind, value);
                collection.objects.insert(key, stored.clone());
                Some(self.commit(
                    &mut collection,
                    Change {
                        kind: kind_of_event,
                        object: stored,
                        previous,
                    },
                ))
            }
            Write::Delete => match collection.objects.remove(&key) {
                None => None,
                Some(old) => {
                    // The DELETED event carries the last state under the deletion's revision.
                    let stored = self.seal(kind, old.value());
                    Some(self.commit(
                        &mut collection,
                        Change {
                            kind: EventKind::Deleted,
                            object: stored,
                            previous: Some(old.index),
                        },
                    ))
                }
            },
        };
        Ok((change, out))
    }

    /// Assigns the next revision and serializes.
    fn seal(&self, kind: &'static ResourceKind, mut value: Value) -> Stored {
        let revision = self.revision.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert(
                "resourceVersion".into(),
                Value::String(revision.to_string()),
            );
        }
        let index = Arc::new(ObjectIndex::of(kind, &value));
        let json = Bytes::from(serde_json::to_vec(&value).unwrap_or_default());
        Stored {
            json,
            revision,
            index,
        }
    }

    fn commit(&self, collection: &mut Collection, change: Change) -> Arc<Change> {
        let change = Arc::new(change);
        let now = Instant::now();
        collection.history.push_back((now, change.clone()));
        self.trim(collection, now);
        // No receiver is fine: nobody watches this resource right now.
        let _ = collection.feed.send(change.clone());
        change
    }

    /// Drops the changes of `collection` beyond the history's count or older than its time.
    fn trim(&self, collection: &mut Collection, now: Instant) {
        while let Some((made, oldest)) = collection.history.front() {
            let compacted = now.duration_since(*made) > self.history_kept_for;
            if collection.history.len() <= self.history_capacity && !compacted {
                break;
            }
            collection.history_floor = oldest.object.revision;
            collection.history.pop_front();
        }
    }

    /// Drops every resource's changes older than the history's time, as etcd's periodic
    /// compaction does. A commit trims its own resource's history; this reaches the resources
    /// that stopped changing, whose history would otherwise keep a burst's old versions (50,000
    /// superseded pods after the scheduler explains a burst of waiting pods) for good.
    pub fn compact(&self) {
        let now = Instant::now();
        for (_, collection) in self.collections.iter() {
            let mut collection = collection.lock().unwrap_or_else(|e| e.into_inner());
            self.trim(&mut collection, now);
        }
    }

    /// One page of the objects of `kind` (in `namespace`, or all) accepted by `filter`, starting
    /// after `start_after`, at most `limit` (0 = all).
    pub fn list(
        &self,
        kind: &'static ResourceKind,
        namespace: Option<&str>,
        filter: impl Fn(&ObjectIndex) -> bool,
        limit: usize,
        start_after: Option<&ObjectKey>,
    ) -> ListPage {
        use std::ops::Bound;
        let collection = self.collection(kind.id());
        let revision = self.revision();
        let lower = match (start_after, namespace) {
            (Some(key), _) => Bound::Excluded(key.clone()),
            (None, Some(ns)) => Bound::Included((ns.to_owned(), String::new())),
            (None, None) => Bound::Unbounded,
        };
        let mut items: Vec<Stored> = Vec::new();
        let mut next = None;
        for (key, stored) in collection.objects.range((lower, Bound::Unbounded)) {
            if let Some(ns) = namespace
                && key.0 != ns
            {
                break;
            }
            if !filter(&stored.index) {
                continue;
            }
            if limit > 0 && items.len() >= limit {
                // One more match exists: that is all a continue token needs to know.
                next = items
                    .last()
                    .map(|s| (s.index.namespace.clone(), s.index.name.clone()));
                break;
            }
            items.push(stored.clone());
        }
        ListPage {
            items,
            revision,
            next,
        }
    }

    /// How many objects of `kind` (in `namespace`, or all) sort after `after`: the
    /// `remainingItemCount` of an unfiltered page.
    pub fn count_after(
        &self,
        kind: &'static ResourceKind,
        namespace: Option<&str>,
        after: &ObjectKey,
    ) -> usize {
        use std::ops::Bound;
        let collection = self.collection(kind.id());
        let range = collection
            .objects
            .range((Bound::Excluded(after.clone()), Bound::Unbounded));
        match namespace {
            None => range.count(),
            Some(ns) => range.take_while(|(k, _)| k.0 == ns).count(),
        }
    }

    /// Number of objects of `kind`.
    pub fn count(&self, kind: &'static ResourceKind) -> usize {
        self.collection(kind.id()).objects.len()
    }

    /// Starts a watch on `kind`. Filtering by namespace and selectors is the caller's.
    pub fn watch(
        &self,
        kind: &'static ResourceKind,
        start: WatchStart,
    ) -> Result<WatchFeed, Expired> {
        let collection = self.collection(kind.id());
        let live = collection.feed.subscribe();
        let revision = self.revision();
        let backlog = match start {
            WatchStart::WithCurrentState => collection
                .objects
                .values()
                .map(|stored| {
                    Arc::new(Change {
                        kind: EventKind::Added,
                        object: stored.clone(),
                        previous: None,
                    })
                })
                .collect(),
            WatchStart::After(from) => {
                if from < collection.history_floor {
                    return Err(Expired {
                        requested: from,
                        oldest: collection.history_floor + 1,
                    });
                }
                collection
                    .history
                    .iter()
                    .map(|(_, change)| change)
                    .filter(|c| c.object.revision > from)
                    .cloned()
                    .collect()
            }
        };
        Ok(WatchFeed {
            backlog,
            live,
            revision,
        })
    }

    /// Whether a list continued from revision `from` can still be served consistently with the
    /// watch history (otherwise the continue token has expired).
    pub fn revision_retained(&self, kind: &'static ResourceKind, from: u64) -> bool {
        from >= self.collection(kind.id()).history_floor
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources;

    fn put(store: &Store, name: &str) -> u64 {
        let (change, ()) = store
            .mutate(resources::configmaps(), "default", name, |_| {
                Ok::<_, ()>((
                    Write::Put(
                        serde_json::json!({"metadata": {"name": name, "namespace": "default"}}),
                    ),
                    (),
                ))
            })
            .unwrap_or_default();
        change.map_or(0, |c| c.object.revision)
    }

    #[test]
    fn the_history_keeps_changes_by_count_and_by_age() {
        // By count: the oldest of four changes goes when only three are kept.
        let store = Store::new(3);
        let first = put(&store, "a");
        for name in ["b", "c", "d"] {
            put(&store, name);
        }
        let kind = resources::configmaps();
        assert!(store.watch(kind, WatchStart::After(first - 1)).is_err());
        assert_eq!(
            store
                .watch(kind, WatchStart::After(first))
                .map(|w| w.backlog.len())
                .ok(),
            Some(3)
        );

        // By age: a change older than the retention is compacted by the next write, as etcd's
        // compaction makes a watch from before it answer 410 Gone.
        let store = Store::new(100).with_history_kept_for(Duration::from_millis(50));
        let old = put(&store, "a");
        std::thread::sleep(Duration::from_millis(120));
        let new = put(&store, "b");
        let expired = store.watch(kind, WatchStart::After(old - 1)).err();
        assert_eq!(expired.map(|e| e.oldest), Some(old + 1));
        assert_eq!(
            store
                .watch(kind, WatchStart::After(old))
                .map(|w| w.backlog.len())
                .ok(),
            Some(1)
        );
        assert!(new > old);

        // And with no write at all: the periodic compaction drops what aged out.
        let store = Store::new(100).with_history_kept_for(Duration::from_millis(50));
        let first = put(&store, "a");
        put(&store, "b");
        store.compact();
        assert!(
            store.watch(kind, WatchStart::After(first - 1)).is_ok(),
            "nothing aged yet"
        );
        std::thread::sleep(Duration::from_millis(120));
        store.compact();
        assert!(
            store.watch(kind, WatchStart::After(first)).is_err(),
            "both compacted"
        );
    }
}
