//! Every way a calculation can fail, with the HTTP status and the words a person reads.

use std::time::Duration;

use rust_decimal::Decimal;
use thiserror::Error;

use crate::operation::{InvalidReason, Operand, Operation, RangeReason};

/// Why a calculator request has no answer. `code()` is the stable machine-readable key.
#[derive(Debug, Error)]
pub enum CalcError {
    /// The operand is not a decimal number at all.
    #[error("{}", invalid_message(*.operand, .input, *.reason))]
    InvalidNumber {
        /// Which operand.
        operand: Operand,
        /// What was sent (shortened when too long).
        input: String,
        /// What is wrong with it.
        reason: InvalidReason,
    },
    /// The operand is a number but cannot be held exactly.
    #[error("{}", range_message(*.operand, .input, *.reason))]
    OutOfRange {
        /// Which operand.
        operand: Operand,
        /// What was sent.
        input: String,
        /// Too large or too precise.
        reason: RangeReason,
    },
    /// `x ÷ 0`.
    #[error("Division by zero has no result. Use a second number other than 0.")]
    DivisionByZero,
    /// The exact result is outside the 96-bit decimal range.
    #[error(
        "The result of {first} {} {second} is outside the supported range (±{}), so there is no exact answer.",
        .operation.symbol(),
        Decimal::MAX
    )]
    Overflow {
        /// The operation that overflowed.
        operation: Operation,
        /// Its first operand.
        first: Decimal,
        /// Its second operand.
        second: Decimal,
    },
    /// The service that holds this operation could not be reached.
    #[error("The {service} service at {url} could not be reached: {reason}. Check that it is running and that {variable} points at it.",
        variable = .service.routing_variable())]
    BackendUnavailable {
        /// The operation whose service failed.
        service: Operation,
        /// The URL that was called.
        url: String,
        /// The transport error.
        reason: String,
    },
    /// The service that holds this operation did not answer in time.
    #[error("The {service} service at {url} did not answer within {} ms.", .after.as_millis())]
    BackendTimeout {
        /// The operation whose service was slow.
        service: Operation,
        /// The URL that was called.
        url: String,
        /// The timeout that expired.
        after: Duration,
    },
    /// The service answered with something that is not the calculator's JSON.
    #[error(
        "The {service} service at {url} answered with HTTP {status} and a body that is not a calculator answer: {detail}"
    )]
    BackendInvalid {
        /// The operation whose service misbehaved.
        service: Operation,
        /// The URL that was called.
        url: String,
        /// The HTTP status it answered with.
        status: u16,
        /// What was wrong with the body.
        detail: String,
    },
    /// `CALC_MISBEHAVE=fail-percent=N` chose this request to fail.
    #[error(
        "This {service} service fails {percent} % of its answers on purpose (CALC_MISBEHAVE=fail-percent={percent}); this was one."
    )]
    InjectedFailure {
        /// The role that failed.
        service: &'static str,
        /// The share of answers it fails.
        percent: u8,
    },
    /// No such path on this role.
    #[error("There is no {path} here. This {role} service answers {available}.")]
    NotFound {
        /// The path that was asked for.
        path: String,
        /// The role of this process.
        role: &'static str,
        /// A short list of the paths it does answer.
        available: String,
    },
}

impl CalcError {
    /// The stable error code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            CalcError::InvalidNumber { .. } => "invalid_number",
            CalcError::OutOfRange { .. } => "out_of_range",
            CalcError::DivisionByZero => "division_by_zero",
            CalcError::Overflow { .. } => "overflow",
            CalcError::BackendUnavailable { .. } => "backend_unavailable",
            CalcError::BackendTimeout { .. } => "backend_timeout",
            CalcError::BackendInvalid { .. } => "backend_invalid",
            CalcError::NotFound { .. } => "not_found",
            CalcError::InjectedFailure { .. } => "injected_failure",
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            CalcError::InvalidNumber { .. } => 400,
            CalcError::OutOfRange { .. }
            | CalcError::DivisionByZero
            | CalcError::Overflow { .. } => 422,
            CalcError::BackendUnavailable { .. } | CalcError::BackendInvalid { .. } => 502,
            CalcError::BackendTimeout { .. } => 504,
            CalcError::NotFound { .. } => 404,
            CalcError::InjectedFailure { .. } => 500,
        }
    }
}

fn capitalized(operand: Operand) -> String {
    let text = operand.to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

fn invalid_message(operand: Operand, input: &str, reason: InvalidReason) -> String {
    let who = capitalized(operand);
    match reason {
        InvalidReason::Empty => {
            format!("The {operand} is empty. Enter a number such as 42, -3.5 or 0.25.")
        }
        InvalidReason::Missing => {
            format!("The {operand} is missing. Pass it as a query parameter, e.g. ?a=6&b=3.")
        }
        InvalidReason::TooLong(len) => {
            format!(
                "{who} \"{input}\" is {len} characters long; numbers are limited to 64 characters."
            )
        }
        InvalidReason::NotANumber => format!(
            "{who} \"{input}\" is not a number. Use digits with an optional sign, decimal point and exponent, like 42, -3.5 or 1e-3."
        ),
    }
}

fn range_message(operand: Operand, input: &str, reason: RangeReason) -> String {
    let who = capitalized(operand);
    match reason {
        RangeReason::TooLarge => format!(
            "{who} {input} is outside the supported range (±{}).",
            Decimal::MAX
        ),
        RangeReason::TooPrecise => format!(
            "{who} {input} has more digits than can be kept exactly (at most 28 significant digits and 28 decimal places)."
        ),
    }
}
