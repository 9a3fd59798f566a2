//! Taints and tolerations as the scheduler reads them, written once for the console (which
//! reads typed objects) and the local cluster (which reads JSON): each hands in the strings.

/// A node's taint: key, value (empty or absent alike) and effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Taint<'a> {
    /// The key.
    pub key: &'a str,
    /// The value, if any.
    pub value: Option<&'a str>,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    pub effect: &'a str,
}

/// A pod's toleration, as written (every field optional).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Toleration<'a> {
    /// The key; empty with `Exists` tolerates every taint.
    pub key: Option<&'a str>,
    /// `Equal` (the default) or `Exists`.
    pub operator: Option<&'a str>,
    /// The value `Equal` compares.
    pub value: Option<&'a str>,
    /// The effect tolerated; empty or absent tolerates every effect.
    pub effect: Option<&'a str>,
}

impl Toleration<'_> {
    /// Whether this toleration tolerates `taint`, by the scheduler's rules.
    pub fn tolerates(&self, taint: &Taint<'_>) -> bool {
        let effect_ok = self
            .effect
            .is_none_or(|e| e.is_empty() || e == taint.effect);
        let exists = self.operator == Some("Exists");
        let key_ok = match self.key.filter(|k| !k.is_empty()) {
            None => exists,
            Some(key) => key == taint.key,
        };
        let value_ok = exists || self.value.unwrap_or_default() == taint.value.unwrap_or_default();
        effect_ok && key_ok && value_ok
    }
}

/// Whether any of `tolerations` tolerates `taint`.
pub fn tolerated<'a>(
    tolerations: impl IntoIterator<Item = Toleration<'a>>,
    taint: &Taint<'_>,
) -> bool {
    tolerations.into_iter().any(|t| t.tolerates(taint))
}

/// Whether a taint with this effect keeps untolerating pods off a node when they are scheduled
/// (`PreferNoSchedule` only discourages them).
pub fn keeps_off(effect: &str) -> bool {
    matches!(effect, "NoSchedule" | "NoExecute")
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOWS: Taint<'static> = Taint {
        key: "os",
        value: Some("windows"),
        effect: "NoSchedule",
    };

    #[test]
    fn a_toleration_matches_by_key_value_and_effect_as_the_scheduler_does() {
        let equal = |key, value, effect| Toleration {
            key: Some(key),
            operator: Some("Equal"),
            value: Some(value),
            effect,
        };
        assert!(equal("os", "windows", Some("NoSchedule")).tolerates(&WINDOWS));
        assert!(
            equal("os", "windows", None).tolerates(&WINDOWS),
            "no effect: every effect"
        );
        assert!(equal("os", "windows", Some("")).tolerates(&WINDOWS));
        assert!(!equal("os", "linux", Some("NoSchedule")).tolerates(&WINDOWS));
        assert!(!equal("os", "windows", Some("NoExecute")).tolerates(&WINDOWS));
        assert!(!equal("arch", "windows", None).tolerates(&WINDOWS));
        // The operator defaults to Equal.
        let defaulted = Toleration {
            key: Some("os"),
            value: Some("windows"),
            ..Toleration::default()
        };
        assert!(defaulted.tolerates(&WINDOWS));
        let exists = |key| Toleration {
            key,
            operator: Some("Exists"),
            ..Toleration::default()
        };
        assert!(exists(Some("os")).tolerates(&WINDOWS));
        assert!(
            exists(None).tolerates(&WINDOWS),
            "Exists with no key: everything"
        );
        assert!(exists(Some("")).tolerates(&WINDOWS));
        assert!(!exists(Some("arch")).tolerates(&WINDOWS));
        // No key without Exists tolerates nothing.
        assert!(!Toleration::default().tolerates(&WINDOWS));
        let valueless = Taint {
            key: "dedicated",
            value: None,
            effect: "NoExecute",
        };
        assert!(
            Toleration {
                key: Some("dedicated"),
                value: Some(""),
                ..Toleration::default()
            }
            .tolerates(&valueless)
        );
        assert!(tolerated(
            [exists(Some("arch")), exists(Some("os"))],
            &WINDOWS
        ));
        assert!(!tolerated([], &WINDOWS));
    }

    #[test]
    fn only_no_schedule_and_no_execute_keep_pods_off() {
        assert!(keeps_off("NoSchedule"));
        assert!(keeps_off("NoExecute"));
        assert!(!keeps_off("PreferNoSchedule"));
    }
}
