//! Properties of the exact arithmetic, checked over generated decimals.

use calc_services::Operation;
use calc_services::{Operand, parse_operand};
use proptest::prelude::*;
use rust_decimal::Decimal;

/// Decimals with up to 14 integer digits and 10 fractional ones: sums and products stay in range.
fn moderate() -> impl Strategy<Value = Decimal> {
    (any::<i64>(), 0u32..=10)
        .prop_map(|(mantissa, scale)| Decimal::new(mantissa % 100_000_000_000_000_000, scale))
}

proptest! {
    #[test]
    fn adding_then_subtracting_gives_back_the_first_number(a in moderate(), b in moderate()) {
        let sum = Operation::Sum.apply(a, b).unwrap();
        prop_assert_eq!(Operation::Subtraction.apply(sum, b).unwrap(), a.normalize());
    }

    #[test]
    fn sum_and_product_commute(a in moderate(), b in moderate()) {
        prop_assert_eq!(Operation::Sum.apply(a, b).unwrap(), Operation::Sum.apply(b, a).unwrap());
        prop_assert_eq!(Operation::Multiplication.apply(a, b).ok(), Operation::Multiplication.apply(b, a).ok());
    }

    #[test]
    fn integer_results_match_wide_integer_arithmetic(a in any::<i64>(), b in any::<i64>()) {
        let (da, db) = (Decimal::from(a), Decimal::from(b));
        let (wa, wb) = (i128::from(a), i128::from(b));
        prop_assert_eq!(Operation::Sum.apply(da, db).unwrap(), Decimal::from_i128_with_scale(wa + wb, 0));
        prop_assert_eq!(Operation::Subtraction.apply(da, db).unwrap(), Decimal::from_i128_with_scale(wa - wb, 0));
        match Decimal::try_from_i128_with_scale(wa * wb, 0) {
            Ok(product) => prop_assert_eq!(Operation::Multiplication.apply(da, db).unwrap(), product),
            Err(_) => prop_assert_eq!(Operation::Multiplication.apply(da, db).unwrap_err().code(), "overflow"),
        }
    }

    #[test]
    fn multiplying_then_dividing_gives_back_the_first_number(a in moderate(), b in 1i64..1_000_000, scale in 0u32..4) {
        let b = Decimal::new(b, scale);
        let product = Operation::Multiplication.apply(a, b).unwrap();
        prop_assert_eq!(Operation::Division.apply(product, b).unwrap(), a.normalize());
    }

    #[test]
    fn every_decimal_reads_back_exactly_from_its_text(mantissa in any::<i64>(), scale in 0u32..=18) {
        let value = Decimal::new(mantissa, scale);
        prop_assert_eq!(parse_operand(Operand::First, &value.to_string()).unwrap(), value.normalize());
    }

    #[test]
    fn results_never_exceed_the_range_silently(a in any::<u64>(), b in any::<u64>(), e in 0u32..20) {
        let big = Decimal::from(a) * Decimal::from(10u64.pow(e.min(9)));
        let result = Operation::Multiplication.apply(big, Decimal::from(b));
        let wide = (u128::from(a) * 10u128.pow(e.min(9))).checked_mul(u128::from(b));
        match wide {
            Some(w) if w <= 79_228_162_514_264_337_593_543_950_335 => prop_assert_eq!(result.unwrap(), Decimal::from_i128_with_scale(w as i128, 0)),
            _ => prop_assert_eq!(result.unwrap_err().code(), "overflow"),
        }
    }
}

proptest! {
    /// Whatever a caller puts where a number goes, it is read or refused with a message that
    /// names the operand; nothing panics.
    #[test]
    fn any_operand_text_is_read_or_refused_with_a_message(
        text in prop_oneof![
            "\\PC{0,40}",
            "[-+]?[0-9]{0,40}(\\.[0-9]{0,40})?([eE][-+]?[0-9]{0,6})?",
            "[-+]?(NaN|nan|inf|Infinity|0x[0-9a-f]{1,8}|[0-9_,]{1,12})",
        ]
    ) {
        if let Err(e) = parse_operand(Operand::Second, &text) {
            prop_assert!(!e.to_string().is_empty());
            prop_assert!(matches!(e.code(), "invalid_number" | "out_of_range"), "{e}");
        }
    }
}
