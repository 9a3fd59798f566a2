//! Kubernetes' order of API versions (`v2` before `v1` before `v1beta2` before `v1alpha1`), by
//! which discovery lists a group's versions and picks the preferred one.

/// The distinct (group, version) pairs of `pairs`, in their order, except that a group's versions go
/// by Kubernetes' version priority (`v2` before `v1` before `v1beta2` before `v1alpha1`), as
/// discovery lists them and its preferred version is the first.
pub fn group_versions_of(
    pairs: impl IntoIterator<Item = (&'static str, &'static str)>,
) -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&'static str, &'static str)> = Vec::new();
    for pair in pairs {
        if !out.contains(&pair) {
            out.push(pair);
        }
    }
    // Stable: groups keep their first-seen order, versions within a group are ranked.
    let first_seen: Vec<&str> = out.iter().map(|(g, _)| *g).collect();
    out.sort_by_key(|(g, v)| {
        (
            first_seen.iter().position(|f| f == g),
            std::cmp::Reverse(version_priority(v)),
        )
    });
    out
}

/// Kubernetes' version order: GA above beta above alpha, then by major and minor number; a
/// version that does not look like one sorts last.
fn version_priority(version: &str) -> (u8, u32, u32) {
    let Some(rest) = version.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let Ok(major) = rest[..digits_end].parse::<u32>() else {
        return (0, 0, 0);
    };
    let tail = &rest[digits_end..];
    let (level, minor) = if tail.is_empty() {
        (3, 0)
    } else if let Some(n) = tail.strip_prefix("beta") {
        (2, n.parse().unwrap_or(u32::MAX))
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, n.parse().unwrap_or(u32::MAX))
    } else {
        return (0, 0, 0);
    };
    if minor == u32::MAX {
        return (0, 0, 0);
    }
    (level, major, minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_go_by_kubernetes_priority() {
        let mut versions = vec![
            "v1alpha1", "v1", "foo", "v2beta1", "v1beta2", "v2", "v1beta1",
        ];
        versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        assert_eq!(
            versions,
            vec![
                "v2", "v1", "v2beta1", "v1beta2", "v1beta1", "v1alpha1", "foo"
            ]
        );
    }
}
