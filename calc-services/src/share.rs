//! Picking a share of requests evenly, for a split route and for injected failures.

/// Whether the `n`th request (from 0) is one of the `percent` in 100 picked, spread evenly: the
/// picked requests are exactly `percent` % of any first `n`, rounded down, so a canary's share
/// and an injected error rate hold over short windows too.
pub fn picked(n: u64, percent: u8) -> bool {
    let percent = u64::from(percent.min(100));
    (n + 1) * percent / 100 > n * percent / 100
}

#[cfg(test)]
mod tests {
    use super::picked;

    #[test]
    fn exactly_the_share_over_any_prefix() {
        for percent in [0u8, 1, 5, 10, 33, 50, 90, 100] {
            let mut count = 0u64;
            for n in 0..1000u64 {
                count += u64::from(picked(n, percent));
                assert_eq!(
                    count,
                    (n + 1) * u64::from(percent) / 100,
                    "{percent}% at {n}"
                );
            }
        }
    }
}
