//! The routing table in force, re-read from the routing file while the process runs.
//!
//! The file is a ConfigMap key the kubelet keeps current by swapping a directory link, so it is
//! polled (a small read twice a second) rather than watched: a link swap is not a write to the
//! file, and polling behaves the same on Linux and Windows nodes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use super::{RoutingTable, file};

/// How often the routing file is read for changes.
pub const POLL_PERIOD: Duration = Duration::from_millis(500);

/// A routing file that cannot be used when the process starts.
#[derive(Debug, thiserror::Error)]
#[error(
    "the routing file {} (CALC_ROUTING_FILE) {problem}; fix it, or unset CALC_ROUTING_FILE to route by the routing variables alone",
    .path.display()
)]
pub struct RoutingFileError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub problem: String,
}

/// What one reading of the routing file changed.
#[derive(Debug)]
pub enum Reload {
    /// The file reads as it did.
    Unchanged,
    /// The file changed and this table is in force now.
    Applied(Arc<RoutingTable>),
    /// The file changed to something unusable; the table in force stays.
    Rejected(String),
}

/// The table requests are routed by now.
pub struct LiveRoutes {
    /// What the routing variables say: the table when there is no file, and under it otherwise.
    baseline: RoutingTable,
    file: Option<PathBuf>,
    current: RwLock<Arc<RoutingTable>>,
    /// The file's text at the last reading (`None`: there was no file).
    last_read: Mutex<Option<String>>,
}

impl LiveRoutes {
    /// The routing variables' table, with `file` over it when given. A missing file is no error
    /// (an optional ConfigMap that is not there yet); an unreadable or invalid one is.
    pub fn load(baseline: RoutingTable, file: Option<PathBuf>) -> Result<Self, RoutingFileError> {
        let text = match &file {
            Some(path) => read(path).map_err(|problem| RoutingFileError {
                path: path.clone(),
                problem,
            })?,
            None => None,
        };
        let table = match (&file, &text) {
            (Some(path), Some(text)) => {
                file::apply(text, &baseline).map_err(|e| RoutingFileError {
                    path: path.clone(),
                    problem: format!("is not valid: {e}"),
                })?
            }
            _ => baseline.clone(),
        };
        Ok(LiveRoutes {
            baseline,
            file,
            current: RwLock::new(Arc::new(table)),
            last_read: Mutex::new(text),
        })
    }

    /// The table in force.
    pub fn current(&self) -> Arc<RoutingTable> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The routing file, if this process reads one.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Takes the file's current text (`None`: no file now) into account.
    pub fn update(&self, text: Option<String>) -> Reload {
        let mut last = self.last_read.lock().unwrap_or_else(|e| e.into_inner());
        if *last == text {
            return Reload::Unchanged;
        }
        let result = match &text {
            // The ConfigMap (or its key) is gone: the routing variables rule again.
            None => Ok(self.baseline.clone()),
            Some(text) => file::apply(text, &self.baseline),
        };
        *last = text;
        match result {
            Ok(table) => {
                let table = Arc::new(table);
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = table.clone();
                Reload::Applied(table)
            }
            Err(e) => Reload::Rejected(e),
        }
    }

    /// Reads the file now and takes it into account.
    pub async fn reload(&self) -> Reload {
        let Some(path) = &self.file else {
            return Reload::Unchanged;
        };
        let path = path.clone();
        match tokio::task::spawn_blocking(move || read(&path)).await {
            Ok(Ok(text)) => self.update(text),
            Ok(Err(problem)) => Reload::Rejected(problem),
            Err(e) => Reload::Rejected(format!("could not be read: {e}")),
        }
    }
}

/// The file's text, `None` when it does not exist.
fn read(path: &Path) -> Result<Option<String>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot be read: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operation::Operation;
    use crate::role::Role;
    use crate::routing::Route;

    fn baseline() -> RoutingTable {
        RoutingTable::from_lookup(Role::Monolith, |_| None).unwrap()
    }

    #[test]
    fn a_change_applies_a_bad_one_keeps_the_last_good_table_and_removal_restores_the_variables() {
        let dir = std::env::temp_dir().join(format!("calc-live-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("routing.yaml");
        let _ = std::fs::remove_file(&path);
        let live = LiveRoutes::load(baseline(), Some(path.clone())).unwrap();
        assert_eq!(*live.current(), baseline());

        let shadow = Some("sum: {mode: shadow}".to_owned());
        assert!(matches!(live.update(shadow.clone()), Reload::Applied(_)));
        assert!(matches!(live.update(shadow), Reload::Unchanged));
        assert!(matches!(
            live.current().route(Operation::Sum),
            Some(Route::Shadow { .. })
        ));

        let Reload::Rejected(why) = live.update(Some("sum: {mode: split}".into())) else {
            panic!("a split without a percent must be rejected");
        };
        assert!(why.contains("percent"), "{why}");
        assert!(matches!(
            live.current().route(Operation::Sum),
            Some(Route::Shadow { .. })
        ));

        assert!(matches!(live.update(None), Reload::Applied(_)));
        assert_eq!(*live.current(), baseline());

        std::fs::write(&path, "sum: {mode: bogus}").unwrap();
        let error = LiveRoutes::load(baseline(), Some(path.clone()))
            .err()
            .expect("an invalid file refuses the start");
        assert!(error.to_string().contains("CALC_ROUTING_FILE"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
