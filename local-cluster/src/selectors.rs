//! Label and field selectors, parsed from query strings the way the API server parses them.

use crate::resources::ResourceKind;
use crate::store::{LabelSource, ObjectIndex, selectable_fields};

/// One requirement of a label selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LabelRequirement {
    /// `key=value`, `key==value`
    Equals(String, String),
    /// `key!=value` (also true when the key is absent)
    NotEquals(String, String),
    /// `key in (a,b)`
    In(String, Vec<String>),
    /// `key notin (a,b)` (also true when the key is absent)
    NotIn(String, Vec<String>),
    /// `key`
    Exists(String),
    /// `!key`
    DoesNotExist(String),
}

/// A parsed label selector: every requirement must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector(pub Vec<LabelRequirement>);

/// A parsed field selector: every `(path, value, equal)` must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector(pub Vec<(String, String, bool)>);

/// A selector that cannot be parsed or names an unknown field; the message is the server's.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SelectorError(pub String);

impl LabelSelector {
    /// Parses `app=web,tier in (a,b),!legacy`.
    pub fn parse(text: &str) -> Result<LabelSelector, SelectorError> {
        let mut requirements = Vec::new();
        for term in split_terms(text) {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            requirements.push(parse_requirement(term)?);
        }
        Ok(LabelSelector(requirements))
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &impl LabelSource) -> bool {
        self.0.iter().all(|r| match r {
            LabelRequirement::Equals(k, v) => labels.label(k) == Some(v.as_str()),
            LabelRequirement::NotEquals(k, v) => labels.label(k) != Some(v.as_str()),
            LabelRequirement::In(k, vs) => {
                labels.label(k).is_some_and(|x| vs.iter().any(|v| v == x))
            }
            LabelRequirement::NotIn(k, vs) => {
                labels.label(k).is_none_or(|x| !vs.iter().any(|v| v == x))
            }
            LabelRequirement::Exists(k) => labels.label(k).is_some(),
            LabelRequirement::DoesNotExist(k) => labels.label(k).is_none(),
        })
    }

    /// Whether it selects everything.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Splits on commas that are not inside `( … )`.
pub(crate) fn split_terms(text: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                terms.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&text[start..]);
    terms
}

fn parse_requirement(term: &str) -> Result<LabelRequirement, SelectorError> {
    let bad = |why: &str| SelectorError(format!("unable to parse requirement: {why}: {term:?}"));
    if let Some(key) = term.strip_prefix('!') {
        let key = key.trim();
        check_key(key).map_err(|e| bad(&e))?;
        return Ok(LabelRequirement::DoesNotExist(key.to_owned()));
    }
    for (op, is_equal) in [("==", true), ("!=", false), ("=", true)] {
        if let Some((key, value)) = term.split_once(op) {
            let (key, value) = (key.trim(), value.trim());
            check_key(key).map_err(|e| bad(&e))?;
            check_value(value).map_err(|e| bad(&e))?;
            return Ok(if is_equal {
                LabelRequirement::Equals(key.to_owned(), value.to_owned())
            } else {
                LabelRequirement::NotEquals(key.to_owned(), value.to_owned())
            });
        }
    }
    let words: Vec<&str> = term.splitn(2, char::is_whitespace).collect();
    if let [key, rest] = words[..] {
        let rest = rest.trim();
        let (negated, set) = if let Some(set) = rest.strip_prefix("notin") {
            (true, set)
        } else if let Some(set) = rest.strip_prefix("in") {
            (false, set)
        } else {
            return Err(bad("found unexpected word, expected: in, notin, =, ==, !="));
        };
        let set = set.trim();
        let inner = set
            .strip_prefix('(')
            .and_then(|s| s.strip_suffix(')'))
            .ok_or_else(|| bad("found unexpected token, expected: '('"))?;
        let values: Vec<String> = inner
            .split(',')
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect();
        check_key(key).map_err(|e| bad(&e))?;
        for v in &values {
            check_value(v).map_err(|e| bad(&e))?;
        }
        if values.is_empty() {
            return Err(bad(
                "for 'in', 'notin' operators, values set can't be empty",
            ));
        }
        return Ok(if negated {
            LabelRequirement::NotIn(key.to_owned(), values)
        } else {
            LabelRequirement::In(key.to_owned(), values)
        });
    }
    check_key(term).map_err(|e| bad(&e))?;
    Ok(LabelRequirement::Exists(term.to_owned()))
}

/// A label key: optional DNS prefix and `/`, then a name of at most 63 characters.
pub fn check_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix
        && (p.is_empty() || p.len() > 253 || !p.split('.').all(is_dns_label))
    {
        return Err(format!("prefix part of {key:?} must be a DNS subdomain"));
    }
    if name.is_empty() || name.len() > 63 || !is_qualified_name(name) {
        return Err(format!(
            "name part of {key:?} must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        ));
    }
    Ok(())
}

/// A label value: empty, or at most 63 characters of `[A-Za-z0-9_.-]` starting and ending alphanumeric.
pub fn check_value(value: &str) -> Result<(), String> {
    if value.is_empty() || (value.len() <= 63 && is_qualified_name(value)) {
        Ok(())
    } else {
        Err(format!(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (value {value:?})"
        ))
    }
}

fn is_qualified_name(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn is_dns_label(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

impl FieldSelector {
    /// Parses `metadata.name=x,status.phase!=Running` and checks each field exists for `kind`.
    pub fn parse(kind: &ResourceKind, text: &str) -> Result<FieldSelector, SelectorError> {
        let mut terms = Vec::new();
        for term in text.split(',') {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            let (path, value, equal) = if let Some((p, v)) = term.split_once("!=") {
                (p, v, false)
            } else if let Some((p, v)) = term.split_once("==") {
                (p, v, true)
            } else if let Some((p, v)) = term.split_once('=') {
                (p, v, true)
            } else {
                return Err(SelectorError(format!(
                    "invalid selector: '{term}'; can't understand '{term}'"
                )));
            };
            let path = path.trim();
            let known = path == "metadata.name"
                || path == "metadata.namespace"
                || selectable_fields(kind).contains(&path);
            if !known {
                return Err(SelectorError(format!("field label not supported: {path}")));
            }
            terms.push((path.to_owned(), value.trim().to_owned(), equal));
        }
        Ok(FieldSelector(terms))
    }

    /// Whether the indexed object satisfies every term.
    pub fn matches(&self, kind: &ResourceKind, index: &ObjectIndex) -> bool {
        self.0.iter().all(|(path, value, equal)| {
            (index.field(kind, path).unwrap_or_default() == value) == *equal
        })
    }

    /// The name this selector pins (`metadata.name=x`), which lets a list skip a scan.
    pub fn pinned_name(&self) -> Option<&str> {
        self.0
            .iter()
            .find(|(p, _, eq)| p == "metadata.name" && *eq)
            .map(|(_, v, _)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_operator_of_the_label_grammar() {
        let l = labels(&[("app", "web"), ("tier", "front"), ("env", "prod")]);
        let cases = [
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("missing!=x", true),
            ("tier in (front, back)", true),
            ("tier in (back)", false),
            ("tier notin (back)", true),
            ("missing notin (a)", true),
            ("app", true),
            ("!app", false),
            ("!missing", true),
            ("app=web,tier in (front),!legacy", true),
            ("app=web,env=dev", false),
            ("", true),
        ];
        for (selector, expected) in cases {
            let parsed = LabelSelector::parse(selector).unwrap();
            assert_eq!(parsed.matches(&l), expected, "{selector}");
        }
    }

    #[test]
    fn malformed_label_selectors_are_errors() {
        for bad in ["app in a", "app in ()", "-bad=x", "app=-x-", "a b c"] {
            assert!(LabelSelector::parse(bad).is_err(), "{bad}");
        }
        assert!(LabelSelector::parse("example.com/app=web").is_ok());
    }

    #[test]
    fn field_selectors_check_the_kind_fields() {
        let pods = crate::resources::pods();
        assert!(FieldSelector::parse(pods, "spec.nodeName=n1,status.phase!=Running").is_ok());
        let err = FieldSelector::parse(pods, "spec.bogus=1").unwrap_err();
        assert_eq!(err.to_string(), "field label not supported: spec.bogus");
        let cm = crate::resources::configmaps();
        assert!(FieldSelector::parse(cm, "metadata.name=x").is_ok());
        assert!(FieldSelector::parse(cm, "spec.nodeName=x").is_err());
    }
}
