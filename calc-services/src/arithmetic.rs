//! The arithmetic itself: operands read exactly, results computed exactly, and every way either
//! fails as a [`CalcError`].

use rust_decimal::Decimal;

use crate::error::CalcError;
use crate::operation::{
    InvalidReason, MAX_OPERAND_LEN, NumberShape, Operand, Operation, RangeReason,
};

impl Operation {
    /// Computes `a op b` exactly, or says why there is no exact answer in range.
    pub fn apply(self, a: Decimal, b: Decimal) -> Result<Decimal, CalcError> {
        let result = match self {
            Operation::Sum => a.checked_add(b),
            Operation::Subtraction => a.checked_sub(b),
            Operation::Multiplication => a.checked_mul(b),
            Operation::Division => {
                if b.is_zero() {
                    return Err(CalcError::DivisionByZero);
                }
                a.checked_div(b)
            }
        };
        result.map(|r| r.normalize()).ok_or(CalcError::Overflow {
            operation: self,
            first: a,
            second: b,
        })
    }
}

/// Reads an operand exactly: plain decimal notation with an optional sign and exponent
/// (`42`, `-3.5`, `.5`, `1e-3`). `NaN`, `Infinity`, hex, underscores and spaces are refused
/// because the reference app turned them into `NaN` answers instead of errors.
pub fn parse_operand(operand: Operand, raw: &str) -> Result<Decimal, CalcError> {
    let invalid = |reason| CalcError::InvalidNumber {
        operand,
        input: raw.to_owned(),
        reason,
    };
    if raw.is_empty() {
        return Err(invalid(InvalidReason::Empty));
    }
    if raw.chars().count() > MAX_OPERAND_LEN {
        return Err(CalcError::InvalidNumber {
            operand,
            input: raw.chars().take(16).collect::<String>() + "…",
            reason: InvalidReason::TooLong(raw.chars().count()),
        });
    }
    let shape = NumberShape::scan(raw).ok_or_else(|| invalid(InvalidReason::NotANumber))?;
    let parsed = if shape.has_exponent {
        Decimal::from_scientific(raw)
    } else {
        Decimal::from_str_exact(raw)
    };
    match parsed {
        Ok(value) => Ok(value.normalize()),
        // rust_decimal's errors do not say reliably whether the literal was too large or too
        // precise; its magnitude does. Every literal that passed the scan parses as f64.
        Err(_) => {
            let magnitude = raw.parse::<f64>().map(f64::abs).unwrap_or(f64::INFINITY);
            if magnitude == 0.0 {
                return Ok(Decimal::ZERO);
            }
            let reason = if magnitude >= 7.9e28 {
                RangeReason::TooLarge
            } else {
                RangeReason::TooPrecise
            };
            Err(CalcError::OutOfRange {
                operand,
                input: raw.to_owned(),
                reason,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operation::Operation;

    fn d(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    #[test]
    fn reads_plain_signed_fractional_and_scientific_operands() {
        assert_eq!(parse_operand(Operand::First, "42").unwrap(), d("42"));
        assert_eq!(parse_operand(Operand::First, "-3.50").unwrap(), d("-3.5"));
        assert_eq!(parse_operand(Operand::First, "+.5").unwrap(), d("0.5"));
        assert_eq!(parse_operand(Operand::First, "7.").unwrap(), d("7"));
        assert_eq!(parse_operand(Operand::First, "1e-3").unwrap(), d("0.001"));
        assert_eq!(parse_operand(Operand::First, "2.5E2").unwrap(), d("250"));
    }

    #[test]
    fn refuses_what_the_reference_app_turned_into_nan() {
        for raw in [
            "abc",
            "NaN",
            "Infinity",
            "-Infinity",
            "inf",
            "1_000",
            "0x10",
            " 1",
            "1 ",
            "1.2.3",
            "e5",
            "1e",
            "-",
            ".",
        ] {
            let err = parse_operand(Operand::Second, raw).unwrap_err();
            assert_eq!(err.code(), "invalid_number", "{raw}");
            assert_eq!(err.status(), 400, "{raw}");
        }
        assert_eq!(
            parse_operand(Operand::First, "").unwrap_err().code(),
            "invalid_number"
        );
        let long = "1".repeat(65);
        let err = parse_operand(Operand::First, &long).unwrap_err();
        assert_eq!(err.code(), "invalid_number");
        assert!(err.to_string().contains("65 characters"), "{err}");
        assert!(parse_operand(Operand::First, &"1".repeat(28)).is_ok());
    }

    #[test]
    fn out_of_range_operands_are_refused_not_rounded() {
        let err = parse_operand(Operand::First, "79228162514264337593543950336").unwrap_err();
        assert_eq!((err.code(), err.status()), ("out_of_range", 422));
        let err = parse_operand(Operand::First, "1e40").unwrap_err();
        assert_eq!(err.code(), "out_of_range");
        let err = parse_operand(Operand::First, "0.00000000000000000000000000001").unwrap_err();
        assert!(err.to_string().contains("more digits"), "{err}");
        let err = parse_operand(Operand::First, "-123456789012345678901234567890").unwrap_err();
        assert!(
            err.to_string().contains("outside the supported range"),
            "{err}"
        );
        assert_eq!(
            parse_operand(Operand::First, "0e-40").unwrap(),
            Decimal::ZERO
        );
        assert!(parse_operand(Operand::First, "79228162514264337593543950335").is_ok());
        assert!(parse_operand(Operand::First, "-79228162514264337593543950335").is_ok());
    }

    #[test]
    fn arithmetic_is_exact() {
        assert_eq!(
            Operation::Sum
                .apply(d("0.1"), d("0.2"))
                .unwrap()
                .to_string(),
            "0.3"
        );
        assert_eq!(
            Operation::Sum.apply(d("2.5"), d("1")).unwrap().to_string(),
            "3.5"
        );
        assert_eq!(
            Operation::Multiplication
                .apply(d("2.50"), d("2"))
                .unwrap()
                .to_string(),
            "5"
        );
        let third = Operation::Division
            .apply(d("1"), d("3"))
            .unwrap()
            .to_string();
        assert_eq!(third, format!("0.{}", "3".repeat(28)));
    }

    #[test]
    fn division_by_zero_and_overflow_are_errors() {
        assert_eq!(
            Operation::Division
                .apply(d("1"), d("0"))
                .unwrap_err()
                .code(),
            "division_by_zero"
        );
        assert_eq!(
            Operation::Division
                .apply(d("0"), d("0.000"))
                .unwrap_err()
                .code(),
            "division_by_zero"
        );
        let max = Decimal::MAX;
        for (op, a, b) in [
            (Operation::Sum, max, d("1")),
            (Operation::Subtraction, Decimal::MIN, d("1")),
            (Operation::Multiplication, max, d("2")),
            (Operation::Division, max, d("0.5")),
        ] {
            let err = op.apply(a, b).unwrap_err();
            assert_eq!((err.code(), err.status()), ("overflow", 422), "{op}");
        }
    }
}
