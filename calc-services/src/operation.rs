//! The four calculator operations over exact decimals, and how operands are read from a request.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Longest operand accepted, in characters: anything longer is not a number a person typed.
pub const MAX_OPERAND_LEN: usize = 64;

/// One of the four operations the monolith starts with and the migration moves out one by one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// `a + b`
    Sum,
    /// `a - b`
    Subtraction,
    /// `a × b`
    Multiplication,
    /// `a ÷ b`
    Division,
}

impl Operation {
    /// All four, in the order the calculator page lists them.
    pub const ALL: [Operation; 4] = [
        Operation::Sum,
        Operation::Subtraction,
        Operation::Multiplication,
        Operation::Division,
    ];

    /// The name used in paths (`/sum/2/3`), JSON and service names (`sum-service`).
    pub fn name(self) -> &'static str {
        match self {
            Operation::Sum => "sum",
            Operation::Subtraction => "subtraction",
            Operation::Multiplication => "multiplication",
            Operation::Division => "division",
        }
    }

    /// The environment variable that routes this operation (`SUM_SERVICE_URL`).
    pub fn routing_variable(self) -> &'static str {
        match self {
            Operation::Sum => "SUM_SERVICE_URL",
            Operation::Subtraction => "SUBTRACTION_SERVICE_URL",
            Operation::Multiplication => "MULTIPLICATION_SERVICE_URL",
            Operation::Division => "DIVISION_SERVICE_URL",
        }
    }

    /// The symbol used in human-readable messages.
    pub fn symbol(self) -> char {
        match self {
            Operation::Sum => '+',
            Operation::Subtraction => '-',
            Operation::Multiplication => '×',
            Operation::Division => '÷',
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Operation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Operation::ALL
            .into_iter()
            .find(|op| op.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown operation {s:?}; expected sum, subtraction, multiplication or division"
                )
            })
    }
}

/// Which of the two operands a message is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    /// The first number (`a`).
    First,
    /// The second number (`b`).
    Second,
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operand::First => "first number",
            Operand::Second => "second number",
        })
    }
}

/// Why an operand is not a number at all (HTTP 400).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvalidReason {
    /// Nothing was given.
    Empty,
    /// More than [`MAX_OPERAND_LEN`] characters (the count).
    TooLong(usize),
    /// Characters that do not form a decimal number.
    NotANumber,
    /// The query string lacks the parameter.
    Missing,
}

/// Why a well-formed operand still cannot be held exactly (HTTP 422).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeReason {
    /// Beyond ±79,228,162,514,264,337,593,543,950,335.
    TooLarge,
    /// More significant digits than a 96-bit decimal keeps.
    TooPrecise,
}

/// The lexical shape of a decimal literal; `None` when it is not one.
pub(crate) struct NumberShape {
    pub(crate) has_exponent: bool,
}

impl NumberShape {
    pub(crate) fn scan(raw: &str) -> Option<NumberShape> {
        let bytes = raw.as_bytes();
        let mut i = 0;
        if matches!(bytes.first(), Some(b'+' | b'-')) {
            i += 1;
        }
        let int_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let integer_digits = i - int_start;
        let mut fraction_digits = 0;
        if i < bytes.len() && bytes[i] == b'.' {
            i += 1;
            let frac_start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            fraction_digits = i - frac_start;
        }
        if integer_digits + fraction_digits == 0 {
            return None;
        }
        let mut has_exponent = false;
        if i < bytes.len() && matches!(bytes[i], b'e' | b'E') {
            has_exponent = true;
            i += 1;
            if matches!(bytes.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let exp_start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i == exp_start {
                return None;
            }
        }
        (i == bytes.len()).then_some(NumberShape { has_exponent })
    }
}
