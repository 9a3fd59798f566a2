//! Loading a migration plan: the built-in calculator plan, or a file and the files it names
//! (read relative to the plan's directory).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::model::migration_plan::{MigrationPlan, PlanError, PlanFiles};

/// The files a plan names, read before it is parsed in full.
#[derive(Deserialize)]
struct Names {
    #[serde(default)]
    images: Option<String>,
    #[serde(default)]
    services: Vec<ServiceName>,
}

#[derive(Deserialize)]
struct ServiceName {
    #[serde(default)]
    manifest: Option<String>,
}

/// The plan at `path`, or the built-in one.
pub fn load(path: Option<&Path>) -> Result<MigrationPlan, PlanError> {
    let Some(path) = path else {
        return MigrationPlan::parse(&PlanFiles::built_in());
    };
    let origin = path.display().to_string();
    let unreadable = |file: &Path, e: std::io::Error| PlanError::Syntax {
        plan: origin.clone(),
        detail: format!("{}: {e}", file.display()),
    };
    let plan = std::fs::read_to_string(path).map_err(|e| unreadable(path, e))?;
    let names: Names = serde_yaml::from_str(&plan).map_err(|e| PlanError::Syntax {
        plan: origin.clone(),
        detail: e.to_string(),
    })?;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let mut others = BTreeMap::new();
    for name in names
        .images
        .into_iter()
        .chain(names.services.into_iter().filter_map(|s| s.manifest))
    {
        // A file that cannot be read is reported by the parser, which knows who named it.
        if let Ok(text) = std::fs::read_to_string(dir.join(&name)) {
            others.insert(name, text);
        }
    }
    MigrationPlan::parse(&PlanFiles {
        origin,
        plan,
        others,
    })
}
