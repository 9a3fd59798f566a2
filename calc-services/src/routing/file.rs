//! The monolith's routing file: per operation a mode, written by the console into a ConfigMap
//! that the monolith's pods mount.
//!
//! ```yaml
//! sum:
//!   mode: split          # in-process | shadow | split | service
//!   percent: 10          # split only: the service's share of the requests
//!   service: http://sum-service:3000   # optional: the routing variable's URL, else this
//! subtraction:
//!   mode: shadow
//!   per-second: 100      # shadow only: comparisons a second at most (the default)
//! ```
//!
//! Operations the file does not name keep the route their routing variable gives them.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Route, RoutingTable, ServiceUrl, check_base_url, default_service_url};
use crate::operation::Operation;

/// Comparisons a second a shadow makes at most unless its entry says `per-second`.
pub const DEFAULT_SHADOW_PER_SECOND: u32 = 100;

/// One operation's entry, as written.
#[derive(Debug, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case", deny_unknown_fields)]
enum Entry {
    InProcess,
    Shadow {
        service: Option<String>,
        #[serde(rename = "per-second")]
        per_second: Option<u32>,
    },
    Split {
        percent: u64,
        service: Option<String>,
    },
    Service {
        service: Option<String>,
    },
}

/// `baseline` with the routes `text` names in place of its own, or what is wrong with `text`
/// (with the operation, field, line and column where serde_yaml knows them).
pub fn apply(text: &str, baseline: &RoutingTable) -> Result<RoutingTable, String> {
    // An empty file (a ConfigMap key with nothing in it yet) names no operation.
    let document: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    if document.is_null() {
        return Ok(baseline.clone());
    }
    let entries: BTreeMap<String, serde_yaml::Value> = serde_yaml::from_value(document)
        .map_err(|e| format!("{e}; the file maps operations (sum, …) to their routes"))?;
    let mut table = baseline.clone();
    for (name, entry) in entries {
        let op: Operation = name.parse()?;
        let entry = Entry::deserialize(entry).map_err(|e| {
            format!("{op}: {e} (each operation takes mode: in-process, shadow, split with percent, or service)")
        })?;
        if baseline.route(op).is_none() {
            return Err(format!("{op}: this process does not serve {op}"));
        }
        // Without a `service`, the operation goes where its routing variable would send it,
        // else to the Service the manifests create.
        let service = |given: Option<String>| -> Result<ServiceUrl, String> {
            match given {
                Some(url) => check_base_url(&url).map_err(|why| {
                    format!("{op}.service: {url:?} is not a usable base URL ({why})")
                }),
                None => Ok(match baseline.route(op) {
                    Some(Route::Remote(url) | Route::Shadow { service: url, .. }) => url.clone(),
                    Some(Route::Split { service, .. }) => service.clone(),
                    _ => default_service_url(op),
                }),
            }
        };
        let route = match entry {
            Entry::InProcess => Route::InProcess,
            Entry::Shadow {
                service: given,
                per_second,
            } => Route::Shadow {
                service: service(given)?,
                per_second: per_second.unwrap_or(DEFAULT_SHADOW_PER_SECOND),
            },
            Entry::Service { service: given } => Route::Remote(service(given)?),
            Entry::Split {
                percent,
                service: given,
            } => {
                let percent = u8::try_from(percent)
                    .ok()
                    .filter(|p| *p <= 100)
                    .ok_or_else(|| {
                        format!("{op}.percent: {percent} is not a share; use a whole number from 0 to 100")
                    })?;
                Route::Split {
                    service: service(given)?,
                    percent,
                }
            }
        };
        table = table.with(op, route);
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::role::Role;

    fn monolith(vars: &[(&str, &str)]) -> RoutingTable {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RoutingTable::from_lookup(Role::Monolith, |k| vars.get(k).cloned()).unwrap()
    }

    #[test]
    fn each_mode_is_read_and_unnamed_operations_keep_their_variable() {
        let baseline = monolith(&[("DIVISION_SERVICE_URL", "http://div:1")]);
        let table = apply(
            "sum: {mode: split, percent: 10}\n\
             subtraction: {mode: shadow, service: 'http://sub:2/'}\n\
             multiplication: {mode: service}\n",
            &baseline,
        )
        .unwrap();
        let report = table.report();
        assert_eq!(report[&Operation::Sum], "split 10% http://sum-service:3000");
        assert_eq!(report[&Operation::Subtraction], "shadow http://sub:2");
        assert_eq!(
            report[&Operation::Multiplication],
            "http://multiplication-service:3000"
        );
        assert_eq!(report[&Operation::Division], "http://div:1");
        // In-process brings an operation back whatever its variable says.
        let back = apply("division:\n  mode: in-process\n", &baseline).unwrap();
        assert_eq!(back.route(Operation::Division), Some(&Route::InProcess));
        // Without a service, a mode keeps the variable's URL.
        let shadow = apply("division: {mode: shadow}", &baseline).unwrap();
        assert_eq!(shadow.report()[&Operation::Division], "shadow http://div:1");
    }

    #[test]
    fn an_empty_file_changes_nothing() {
        let baseline = monolith(&[]);
        assert_eq!(apply("", &baseline).unwrap(), baseline);
        assert_eq!(apply("# nothing yet\n", &baseline).unwrap(), baseline);
    }

    #[test]
    fn mistakes_name_the_operation_and_field() {
        let baseline = monolith(&[]);
        for (text, expected) in [
            ("summ: {mode: shadow}", "unknown operation \"summ\""),
            ("sum: {mode: splt}", "unknown variant `splt`"),
            ("sum: {mode: split}", "missing field `percent`"),
            (
                "sum: {mode: split, percent: 150}",
                "sum.percent: 150 is not a share",
            ),
            ("sum: {mode: split, percent: -1}", "percent"),
            ("sum: {mode: shadow, weight: 3}", "unknown field `weight`"),
            (
                "sum: {mode: service, service: 'sum:3000'}",
                "sum.service: \"sum:3000\"",
            ),
            ("sum: [1, 2", "line 1"),
            ("- sum", "maps operations"),
            ("sum:\n  mode: split\n", "sum: missing field `percent`"),
        ] {
            let error = apply(text, &baseline).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
