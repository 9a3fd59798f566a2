//! A route's rules compiled for the data plane: matches, filters and weighted backends, with
//! each backend reference resolved to a Service port's ready endpoints (or to the reason it does
//! not resolve, which the route's `ResolvedRefs` condition states).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::plan::{CompiledRules, Lookups, PortRef, key, text};
use super::routing::{
    Backend, Filter, HeaderEdit, PathEdit, PathMatch, RequestMatch, Rule, ValueMatch,
    WeightedBackend,
};

/// The route's rules compiled, or why they cannot be.
pub(super) fn compile_rules(
    route: &Value,
    lookups: &Lookups<'_>,
    refs: &mut RefProblems,
) -> Result<CompiledRules, String> {
    let (namespace, name) = key(route);
    let mut compiled = Vec::new();
    let default_rules = vec![json!({})];
    let rules = route["spec"]["rules"]
        .as_array()
        .filter(|r| !r.is_empty())
        .unwrap_or(&default_rules);
    for (index, rule) in rules.iter().enumerate() {
        let mut matches = Vec::new();
        let default_matches = vec![json!({})];
        let written = rule["matches"]
            .as_array()
            .filter(|m| !m.is_empty())
            .unwrap_or(&default_matches);
        for m in written {
            let path = PathMatch::new(
                m["path"]["type"].as_str().unwrap_or("PathPrefix"),
                m["path"]["value"].as_str().unwrap_or("/"),
            )?;
            let pairs = |field: &str, lower: bool| -> Result<Vec<(String, ValueMatch)>, String> {
                m[field]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|h| {
                        let name = text(&h["name"]);
                        Ok((
                            if lower {
                                name.to_ascii_lowercase()
                            } else {
                                name.to_owned()
                            },
                            ValueMatch::new(
                                h["type"].as_str().unwrap_or("Exact"),
                                text(&h["value"]),
                            )?,
                        ))
                    })
                    .collect()
            };
            matches.push(RequestMatch {
                path,
                method: m["method"].as_str().map(str::to_owned),
                headers: pairs("headers", true)?,
                query: pairs("queryParams", false)?,
            });
        }
        let filters = compile_filters(&rule["filters"], &namespace, lookups, refs)?;
        let mut backends = Vec::new();
        for backend_ref in rule["backendRefs"].as_array().into_iter().flatten() {
            backends.push(WeightedBackend {
                weight: backend_ref["weight"]
                    .as_u64()
                    .and_then(|w| u32::try_from(w).ok())
                    .unwrap_or(1),
                backend: resolve(backend_ref, &namespace, lookups, refs),
                filters: compile_filters(&backend_ref["filters"], &namespace, lookups, refs)?,
            });
        }
        let timeout = rule["timeouts"]["request"]
            .as_str()
            .map(|t| parse_duration(t).ok_or_else(|| format!("invalid timeout {t:?}")))
            .transpose()?
            .filter(|t| !t.is_zero());
        compiled.push((
            index,
            Arc::new(Rule::new(
                format!("{namespace}/{name}"),
                filters,
                backends,
                timeout,
            )),
            matches,
        ));
    }
    Ok(compiled)
}

/// A Gateway API duration (`1h30m`, `500ms`, `10s`).
pub(super) fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, after) = if let Some(after) = rest.strip_prefix("ms") {
            (Duration::from_millis(1), after)
        } else if let Some(after) = rest.strip_prefix('h') {
            (Duration::from_secs(3600), after)
        } else if let Some(after) = rest.strip_prefix('m') {
            (Duration::from_secs(60), after)
        } else if let Some(after) = rest.strip_prefix('s') {
            (Duration::from_secs(1), after)
        } else {
            return None;
        };
        total += unit * u32::try_from(number).ok()?;
        rest = after;
    }
    Some(total)
}

fn header_edit(value: &Value) -> HeaderEdit {
    let pairs = |field: &str| -> Vec<(String, String)> {
        value[field]
            .as_array()
            .into_iter()
            .flatten()
            .map(|h| (text(&h["name"]).to_owned(), text(&h["value"]).to_owned()))
            .collect()
    };
    HeaderEdit {
        set: pairs("set"),
        add: pairs("add"),
        remove: value["remove"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|h| text(h).to_ascii_lowercase())
            .collect(),
    }
}

fn path_edit(value: &Value) -> Option<PathEdit> {
    match value["type"].as_str()? {
        "ReplaceFullPath" => Some(PathEdit::ReplaceFullPath(
            value["replaceFullPath"].as_str().unwrap_or("/").to_owned(),
        )),
        "ReplacePrefixMatch" => Some(PathEdit::ReplacePrefixMatch(
            value["replacePrefixMatch"]
                .as_str()
                .unwrap_or("/")
                .to_owned(),
        )),
        _ => None,
    }
}

fn compile_filters(
    filters: &Value,
    namespace: &str,
    lookups: &Lookups<'_>,
    refs: &mut RefProblems,
) -> Result<Vec<Filter>, String> {
    let mut out = Vec::new();
    for filter in filters.as_array().into_iter().flatten() {
        out.push(match text(&filter["type"]) {
            "RequestHeaderModifier" => {
                Filter::RequestHeaders(header_edit(&filter["requestHeaderModifier"]))
            }
            "ResponseHeaderModifier" => {
                Filter::ResponseHeaders(header_edit(&filter["responseHeaderModifier"]))
            }
            "RequestMirror" => Filter::Mirror {
                backend: resolve(
                    &filter["requestMirror"]["backendRef"],
                    namespace,
                    lookups,
                    refs,
                ),
                percent: filter["requestMirror"]["percent"]
                    .as_u64()
                    .and_then(|p| u32::try_from(p).ok())
                    .unwrap_or(100)
                    .min(100),
            },
            "RequestRedirect" => {
                let r = &filter["requestRedirect"];
                Filter::Redirect {
                    scheme: r["scheme"].as_str().map(str::to_owned),
                    hostname: r["hostname"].as_str().map(str::to_owned),
                    path: path_edit(&r["path"]),
                    port: r["port"].as_u64().and_then(|p| u16::try_from(p).ok()),
                    status: r["statusCode"]
                        .as_u64()
                        .and_then(|s| u16::try_from(s).ok())
                        .unwrap_or(302),
                }
            }
            "URLRewrite" => Filter::Rewrite {
                hostname: filter["urlRewrite"]["hostname"].as_str().map(str::to_owned),
                path: path_edit(&filter["urlRewrite"]["path"]),
            },
            other => {
                return Err(format!(
                    "filter type {other:?} is not supported by the local cluster's gateway"
                ));
            }
        });
    }
    Ok(out)
}

/// The first problem with a route's backend references: `ResolvedRefs=False` with this reason
/// and message.
#[derive(Debug, Default)]
pub(super) struct RefProblems(pub(super) Option<(&'static str, String)>);

impl RefProblems {
    fn add(&mut self, reason: &'static str, message: String) {
        if self.0.is_none() {
            self.0 = Some((reason, message));
        }
    }
}

/// A backendRef (of a rule or a mirror) as the data plane uses it.
fn resolve(
    backend_ref: &Value,
    route_namespace: &str,
    lookups: &Lookups<'_>,
    refs: &mut RefProblems,
) -> Backend {
    let group = backend_ref["group"].as_str().unwrap_or_default();
    let kind = backend_ref["kind"].as_str().unwrap_or("Service");
    let name = text(&backend_ref["name"]);
    let namespace = backend_ref["namespace"].as_str().unwrap_or(route_namespace);
    let shown = format!("{namespace}/{name}");
    if !group.is_empty() || kind != "Service" {
        let message = format!(
            "backendRef {shown}: kind {kind:?} of group {group:?} is not supported; only Services are"
        );
        refs.add("InvalidKind", message.clone());
        return Backend::Invalid(message);
    }
    if namespace != route_namespace {
        let message = format!(
            "backendRef {shown}: a reference to another namespace needs a ReferenceGrant, which the local cluster does not serve"
        );
        refs.add("RefNotPermitted", message.clone());
        return Backend::Invalid(message);
    }
    let Some(port) = backend_ref["port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
    else {
        let message = format!("backendRef {shown}: port is required when referring to a Service");
        refs.add("UnsupportedValue", message.clone());
        return Backend::Invalid(message);
    };
    match (lookups.service_port)(namespace, name, PortRef::Number(port)) {
        Ok(addresses) => Backend::endpoints(format!("{shown}:{port}"), addresses),
        Err(why) => {
            let message = format!("backendRef {shown}:{port}: {why}");
            refs.add("BackendNotFound", message.clone());
            Backend::Invalid(message)
        }
    }
}
