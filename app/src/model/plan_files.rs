//! A migration plan's files as text — the plan and every manifest it names, from a folder or
//! built into the binary — and what can be wrong with them, worded for the plan's author.

use std::collections::BTreeMap;

/// The plan the console uses when none is given: the calculator, built into the binary.
pub const BUILT_IN_PLAN: &str = "calculator-migration.yaml";

/// The plan file and the files it names, by path relative to the plan's directory.
#[derive(Clone, Debug, Default)]
pub struct PlanFiles {
    /// The plan's own path, as the user gave it (for messages).
    pub origin: String,
    /// The plan's text.
    pub plan: String,
    /// Every other file the plan may name, by relative path.
    pub others: BTreeMap<String, String>,
}

impl PlanFiles {
    /// The calculator's plan and manifests, compiled into the binary.
    pub fn built_in() -> PlanFiles {
        macro_rules! file {
            ($path:literal) => {
                (
                    $path.to_owned(),
                    include_str!(concat!("../../../manifests/", $path)).to_owned(),
                )
            };
        }
        PlanFiles {
            origin: format!("built-in {BUILT_IN_PLAN}"),
            plan: include_str!("../../../manifests/calculator-migration.yaml").to_owned(),
            others: BTreeMap::from([
                file!("kustomization.yaml"),
                file!("calculator/services/sum-service.yaml"),
                file!("calculator/services/subtraction-service.yaml"),
                file!("calculator/services/multiplication-service.yaml"),
                file!("calculator/services/division-service.yaml"),
                file!("calculator/services/ui-service.yaml"),
            ]),
        }
    }

    /// A file the plan names, or the error that names it.
    pub fn file(&self, path: &str) -> Result<&str, PlanError> {
        self.others
            .get(path)
            .map(String::as_str)
            .ok_or_else(|| PlanError::MissingFile {
                plan: self.origin.clone(),
                path: path.to_owned(),
            })
    }
}

/// Why a plan cannot be used, worded so its author can fix it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The YAML does not parse or does not have the plan's shape.
    #[error("the migration plan {plan} cannot be read: {detail}")]
    Syntax {
        /// Which plan.
        plan: String,
        /// The parser's words, with line and column.
        detail: String,
    },
    /// A file the plan names is not there.
    #[error(
        "the migration plan {plan} names {path}, which cannot be read (paths are relative to the plan's directory)"
    )]
    MissingFile {
        /// Which plan.
        plan: String,
        /// The file.
        path: String,
    },
    /// A manifest does not hold what a service needs.
    #[error("service {service}: {path}: {detail}")]
    Manifest {
        /// The plan's service.
        service: String,
        /// The manifest.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// Something in the plan contradicts itself.
    #[error("the migration plan {plan} is invalid: {detail}")]
    Invalid {
        /// Which plan.
        plan: String,
        /// What is wrong and where.
        detail: String,
    },
}
