//! The six roles one binary can play.

use std::fmt;

use crate::operation::Operation;

/// What this process serves: one operation, the UI front, or the monolith that holds them all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Role {
    /// `GET /sum/{a}/{b}`.
    Sum,
    /// `GET /subtraction/{a}/{b}`.
    Subtraction,
    /// `GET /multiplication/{a}/{b}`.
    Multiplication,
    /// `GET /division/{a}/{b}`.
    Division,
    /// The calculator page and `/api/calculate`, every operation remote.
    Ui,
    /// The Windows monolith: page, `/api/calculate` and all four operations, each in-process
    /// until its routing variable sends it to an extracted service.
    Monolith,
}

impl Role {
    /// The role's name as used on the command line and in `served-by.service`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Sum => "sum",
            Role::Subtraction => "subtraction",
            Role::Multiplication => "multiplication",
            Role::Division => "division",
            Role::Ui => "ui",
            Role::Monolith => "monolith",
        }
    }

    /// The operation paths (`/{op}/{a}/{b}`) this role answers.
    pub fn operations(self) -> &'static [Operation] {
        match self {
            Role::Sum => &[Operation::Sum],
            Role::Subtraction => &[Operation::Subtraction],
            Role::Multiplication => &[Operation::Multiplication],
            Role::Division => &[Operation::Division],
            Role::Ui => &[],
            Role::Monolith => &Operation::ALL,
        }
    }

    /// Whether it serves the page and `/api/calculate` (the "frontend").
    pub fn is_frontend(self) -> bool {
        matches!(self, Role::Ui | Role::Monolith)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
