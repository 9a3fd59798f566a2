//! Resource quantities (`250m`, `128Mi`, `1.5`, `1e3`) as the numbers the scheduler compares.

/// CPU in millicores; `None` if it does not parse.
pub fn cpu_millis(text: &str) -> Option<i64> {
    let text = text.trim();
    // metrics.k8s.io reports usage in nanocores (`52312345n`), sometimes microcores; rounded up
    // to a millicore as `Quantity.MilliValue` does.
    for (suffix, per_milli) in [('m', 1.0), ('u', 1e3), ('n', 1e6)] {
        if let Some(number) = text.strip_suffix(suffix) {
            return scalar(number).map(|n| (n / per_milli).ceil() as i64);
        }
    }
    scalar(text).map(|cores| (cores * 1000.0).ceil() as i64)
}

/// Memory (or any byte quantity) in bytes; `None` if it does not parse.
pub fn bytes(text: &str) -> Option<i64> {
    let text = text.trim();
    const SUFFIXES: &[(&str, f64)] = &[
        ("Ki", 1024.0),
        ("Mi", 1024.0 * 1024.0),
        ("Gi", 1024.0 * 1024.0 * 1024.0),
        ("Ti", 1024.0 * 1024.0 * 1024.0 * 1024.0),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("m", 1e-3),
    ];
    for (suffix, factor) in SUFFIXES {
        if let Some(number) = text.strip_suffix(suffix) {
            return number
                .parse::<f64>()
                .ok()
                .map(|n| (n * factor).ceil() as i64);
        }
    }
    scalar(text).map(|n| n.ceil() as i64)
}

fn scalar(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|n| n.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_like_the_api_machinery() {
        assert_eq!(cpu_millis("250m"), Some(250));
        assert_eq!(cpu_millis("1"), Some(1000));
        assert_eq!(cpu_millis("0.5"), Some(500));
        assert_eq!(cpu_millis("1930m"), Some(1930));
        // metrics.k8s.io usage: nanocores and microcores, rounded up.
        assert_eq!(cpu_millis("52312345n"), Some(53));
        assert_eq!(cpu_millis("1500u"), Some(2));
        assert_eq!(cpu_millis("n"), None);
        assert_eq!(bytes("128Mi"), Some(128 * 1024 * 1024));
        assert_eq!(bytes("3388356Ki"), Some(3_388_356 * 1024));
        assert_eq!(bytes("1G"), Some(1_000_000_000));
        assert_eq!(bytes("1e3"), Some(1000));
        assert_eq!(bytes("lots"), None);
    }
}
