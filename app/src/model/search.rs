//! What the operator typed in the board's search, prepared once so that looking through every
//! pod of a big cluster allocates nothing: at 150,000 pods the board asks it of every pod each
//! time a snapshot arrives.

use super::PodPlacement;

/// A search: trimmed and lower-cased, and split as `key=value` when it has the shape of a label.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Search {
    text: String,
    label: Option<(String, String)>,
}

impl Search {
    /// The search for what was typed; blank text finds everything.
    pub fn new(typed: &str) -> Search {
        let text = typed.trim().to_lowercase();
        let label = text
            .split_once('=')
            .map(|(key, value)| (key.to_owned(), value.to_owned()));
        Search { text, label }
    }

    /// Whether nothing was typed.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Whether `text` contains the search, ignoring case.
    pub fn finds_in(&self, text: &str) -> bool {
        contains_folded(text, &self.text)
    }

    /// Whether the search is in the pod's name, its namespace, or one of its label keys or
    /// values, or is exactly one of its labels as `key=value`.
    pub fn finds(&self, pod: &PodPlacement) -> bool {
        self.is_empty()
            || self.finds_in(&pod.name)
            || self.finds_in(&pod.namespace)
            || pod.labels.iter().any(|(key, value)| {
                self.finds_in(key)
                    || self.finds_in(value)
                    || self
                        .label
                        .as_ref()
                        .is_some_and(|(k, v)| equal_folded(key, k) && equal_folded(value, v))
            })
    }
}

/// Whether `text` contains `needle` (already lower-cased), ignoring case. Names, namespaces and
/// label keys are ASCII by Kubernetes' rules, so the common case compares bytes in place.
fn contains_folded(text: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    if text.is_ascii() && needle.is_ascii() {
        return text
            .as_bytes()
            .windows(needle.len())
            .any(|window| window.eq_ignore_ascii_case(needle.as_bytes()));
    }
    text.to_lowercase().contains(needle)
}

/// Whether `text` lower-cased is `lower`.
fn equal_folded(text: &str, lower: &str) -> bool {
    if text.is_ascii() && lower.is_ascii() {
        return text.eq_ignore_ascii_case(lower);
    }
    text.to_lowercase() == lower
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_found_whatever_its_case_ascii_or_not() {
        let search = Search::new("  Sum-Serv ");
        assert!(search.finds_in("calculator/SUM-SERVICE-abc"));
        assert!(!search.finds_in("sum-ser"));
        assert!(Search::new("ÉQUIPE").finds_in("l'équipe bleue"));
        assert!(!Search::new("équipe").finds_in("equipe"));
        assert!(Search::new("").finds_in("anything"));
        assert!(Search::new("").is_empty() && Search::new(" \t").is_empty());
    }
}
