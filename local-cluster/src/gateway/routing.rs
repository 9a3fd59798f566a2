//! One listening port's routes, compiled: which rule a request matches (by the Gateway API's
//! precedence), what its filters do, and which backend a weighted pick sends it to. Pure: no
//! I/O, so the matching rules are tested on their own.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use regex::Regex;

/// A hostname as listeners and routes write it: `example.com` or `*.example.com`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hostname {
    /// Only this host.
    Exact(String),
    /// Any host below this suffix (written `*.suffix`; the suffix itself does not match).
    Wildcard(String),
}

impl Hostname {
    /// Reads `text`, lower-cased.
    pub fn parse(text: &str) -> Hostname {
        let text = text.to_ascii_lowercase();
        match text.strip_prefix("*.") {
            Some(suffix) => Hostname::Wildcard(suffix.to_owned()),
            None => Hostname::Exact(text),
        }
    }

    /// Whether a request's `host` (lower-case, without port) matches.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            Hostname::Exact(h) => h == host,
            Hostname::Wildcard(suffix) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|label| label.len() > 1 && label.ends_with('.')),
        }
    }

    /// Whether some host matches both: a route attaches to a listener only then.
    pub fn intersects(&self, other: &Hostname) -> bool {
        match (self, other) {
            (Hostname::Exact(a), b) | (b, Hostname::Exact(a)) => b.matches(a),
            (Hostname::Wildcard(a), Hostname::Wildcard(b)) => {
                a == b || a.ends_with(&format!(".{b}")) || b.ends_with(&format!(".{a}"))
            }
        }
    }

    /// How specific a match on this hostname is: routes with a longer exact hostname win over
    /// wildcards, then longer wildcards over shorter ones (the specification's order).
    fn specificity(&self) -> (usize, usize) {
        match self {
            Hostname::Exact(h) => (h.len(), h.len()),
            Hostname::Wildcard(s) => (0, s.len() + 2),
        }
    }
}

/// How a path is matched.
#[derive(Clone, Debug)]
pub enum PathMatch {
    /// The whole path.
    Exact(String),
    /// Whole path elements: `/abc` matches `/abc`, `/abc/` and `/abc/def`, not `/abcd`. A trailing
    /// `/` of the prefix is ignored. Kept without it (`/` becomes empty).
    Prefix(String),
    /// The whole path matches this expression.
    Regex(Regex),
}

impl PathMatch {
    /// `type` and `value` of an `HTTPPathMatch`.
    pub fn new(kind: &str, value: &str) -> Result<PathMatch, String> {
        match kind {
            "Exact" => Ok(PathMatch::Exact(value.to_owned())),
            "PathPrefix" => Ok(PathMatch::Prefix(value.trim_end_matches('/').to_owned())),
            "RegularExpression" => anchored(value).map(PathMatch::Regex),
            other => Err(format!("unsupported path match type {other:?}")),
        }
    }

    fn matches(&self, path: &str) -> bool {
        match self {
            PathMatch::Exact(p) => p == path,
            PathMatch::Prefix(p) => path
                .strip_prefix(p.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')),
            PathMatch::Regex(r) => r.is_match(path),
        }
    }
}

/// A regular expression that must match the whole value.
fn anchored(expression: &str) -> Result<Regex, String> {
    Regex::new(&format!("^(?:{expression})$"))
        .map_err(|e| format!("invalid regular expression {expression:?}: {e}"))
}

/// How a header or query parameter value is matched.
#[derive(Clone, Debug)]
pub enum ValueMatch {
    /// Equal.
    Exact(String),
    /// The whole value matches.
    Regex(Regex),
}

impl ValueMatch {
    /// `type` and `value` of a header or query parameter match.
    pub fn new(kind: &str, value: &str) -> Result<ValueMatch, String> {
        match kind {
            "Exact" => Ok(ValueMatch::Exact(value.to_owned())),
            "RegularExpression" => anchored(value).map(ValueMatch::Regex),
            other => Err(format!("unsupported match type {other:?}")),
        }
    }

    fn matches(&self, value: &str) -> bool {
        match self {
            ValueMatch::Exact(v) => v == value,
            ValueMatch::Regex(r) => r.is_match(value),
        }
    }
}

/// One `HTTPRouteMatch`: every condition it has must hold.
#[derive(Clone, Debug)]
pub struct RequestMatch {
    /// The path condition (every match has one: `PathPrefix /` by default).
    pub path: PathMatch,
    /// The method, when the match names one.
    pub method: Option<String>,
    /// Header name (lower-case) and value conditions.
    pub headers: Vec<(String, ValueMatch)>,
    /// Query parameter name (exact case) and value conditions.
    pub query: Vec<(String, ValueMatch)>,
}

/// The parts of a request that routing looks at.
pub struct RequestView<'a> {
    /// `GET`, …
    pub method: &'a str,
    /// The `Host` header, lower-case, without port.
    pub host: &'a str,
    /// The path, without query.
    pub path: &'a str,
    /// Header (lower-case name) → value.
    pub headers: &'a dyn Fn(&str) -> Option<String>,
    /// Query parameters as sent, in order.
    pub query: &'a [(String, String)],
}

impl RequestMatch {
    fn matches(&self, request: &RequestView<'_>) -> bool {
        self.path.matches(request.path)
            && self.method.as_deref().is_none_or(|m| m == request.method)
            && self.headers.iter().all(|(name, value)| {
                (request.headers)(name).is_some_and(|found| value.matches(&found))
            })
            && self.query.iter().all(|(name, value)| {
                // The first occurrence counts, as most proxies read it.
                request
                    .query
                    .iter()
                    .find(|(n, _)| n == name)
                    .is_some_and(|(_, v)| value.matches(v))
            })
    }

    /// The specification's order between matches of different rules: an exact path, then the
    /// longest prefix, then a method, then the most headers, then the most query parameters.
    fn precedence(&self) -> (u8, usize, u8, usize, usize) {
        let (exact, length) = match &self.path {
            PathMatch::Exact(p) => (1, p.len()),
            PathMatch::Prefix(p) => (0, p.len()),
            PathMatch::Regex(_) => (0, 0),
        };
        (
            exact,
            length,
            u8::from(self.method.is_some()),
            self.headers.len(),
            self.query.len(),
        )
    }
}

/// Header changes of a `RequestHeaderModifier` or `ResponseHeaderModifier`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderEdit {
    /// Replace (or add) these.
    pub set: Vec<(String, String)>,
    /// Append these.
    pub add: Vec<(String, String)>,
    /// Remove these (lower-case).
    pub remove: Vec<String>,
}

/// How a rewrite or redirect changes the path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathEdit {
    /// The whole path becomes this.
    ReplaceFullPath(String),
    /// The part the rule's `PathPrefix` matched becomes this.
    ReplacePrefixMatch(String),
}

impl PathEdit {
    /// The path `path` becomes, `matched` being what the request's match was.
    pub fn apply(&self, path: &str, matched: &PathMatch) -> String {
        match self {
            PathEdit::ReplaceFullPath(p) => p.clone(),
            PathEdit::ReplacePrefixMatch(replacement) => {
                let rest = match matched {
                    PathMatch::Prefix(prefix) => path.strip_prefix(prefix.as_str()).unwrap_or(path),
                    // With an exact match (the specification allows only prefixes here) the
                    // whole path was matched.
                    PathMatch::Exact(_) | PathMatch::Regex(_) => "",
                };
                let joined = format!("{}{rest}", replacement.trim_end_matches('/'));
                if joined.is_empty() {
                    "/".to_owned()
                } else if rest.is_empty() && replacement.ends_with('/') && replacement.len() > 1 {
                    format!("{joined}/")
                } else {
                    joined
                }
            }
        }
    }
}

/// A filter of a rule or a backend, in the order written.
#[derive(Clone, Debug)]
pub enum Filter {
    /// Change the request's headers.
    RequestHeaders(HeaderEdit),
    /// Change the response's headers.
    ResponseHeaders(HeaderEdit),
    /// Also send the request here; the answer is ignored.
    Mirror {
        /// Where.
        backend: Backend,
        /// Share of requests mirrored, 0–100.
        percent: u32,
    },
    /// Answer with a redirect instead of forwarding.
    Redirect {
        /// `http` or `https`, when changed.
        scheme: Option<String>,
        /// The host, when changed.
        hostname: Option<String>,
        /// The path, when changed.
        path: Option<PathEdit>,
        /// The port, when changed.
        port: Option<u16>,
        /// 301 or 302.
        status: u16,
    },
    /// Forward with another host or path.
    Rewrite {
        /// The `Host` header sent on.
        hostname: Option<String>,
        /// The path sent on.
        path: Option<PathEdit>,
    },
}

/// Where requests of a backendRef go: the ready endpoints of a Service port, taken in turn.
#[derive(Clone, Debug)]
pub enum Backend {
    /// A Service port's ready endpoints (none: answered 503, as by a proxy with no healthy
    /// upstream).
    Endpoints {
        /// `namespace/name:port`, for logs and answers.
        name: String,
        /// Ready endpoint addresses.
        addresses: Arc<Vec<SocketAddr>>,
        /// Which address is next.
        next: Arc<AtomicUsize>,
    },
    /// A reference that does not resolve (answered 500, as the specification requires).
    Invalid(String),
}

impl Backend {
    /// A Service port's backend over `addresses`.
    pub fn endpoints(name: String, addresses: Vec<SocketAddr>) -> Backend {
        Backend::Endpoints {
            name,
            addresses: Arc::new(addresses),
            next: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The next endpoint address, round-robin; `None` when there is none.
    pub fn next_address(&self) -> Option<SocketAddr> {
        match self {
            Backend::Endpoints {
                addresses, next, ..
            } if !addresses.is_empty() => {
                Some(addresses[next.fetch_add(1, Ordering::Relaxed) % addresses.len()])
            }
            _ => None,
        }
    }
}

/// A backendRef with its weight and its own filters.
#[derive(Clone, Debug)]
pub struct WeightedBackend {
    /// Share among the rule's backends (0: none).
    pub weight: u32,
    /// Where.
    pub backend: Backend,
    /// Filters applied only to requests sent to this backend.
    pub filters: Vec<Filter>,
}

/// What a rule does with the requests it matches.
#[derive(Debug)]
pub struct Rule {
    /// `namespace/name` of its route, for logs.
    pub route: String,
    /// Its filters, in order.
    pub filters: Vec<Filter>,
    /// Its backends.
    pub backends: Vec<WeightedBackend>,
    /// `timeouts.request`.
    pub timeout: Option<Duration>,
    /// The smooth weighted round-robin's running scores, one per backend.
    scores: Mutex<Vec<i64>>,
}

impl Rule {
    /// A rule of `route`.
    pub fn new(
        route: String,
        filters: Vec<Filter>,
        backends: Vec<WeightedBackend>,
        timeout: Option<Duration>,
    ) -> Rule {
        let scores = Mutex::new(vec![0; backends.len()]);
        Rule {
            route,
            filters,
            backends,
            timeout,
            scores,
        }
    }

    /// The next backend by weight; `None` when there are no backends or every weight is 0 (the
    /// specification's 500). Smooth weighted round-robin (as nginx balances): over any run of
    /// requests as long as the weights' sum, each backend gets exactly its share, spread out
    /// rather than in bursts, so a 10 % canary sees 10 % of even a short stream.
    pub fn pick(&self) -> Option<&WeightedBackend> {
        let total: i64 = self.backends.iter().map(|b| i64::from(b.weight)).sum();
        if total == 0 {
            return None;
        }
        let mut scores = self.scores.lock().unwrap_or_else(|e| e.into_inner());
        let mut best = 0;
        for (i, backend) in self.backends.iter().enumerate() {
            scores[i] += i64::from(backend.weight);
            if scores[i] > scores[best] {
                best = i;
            }
        }
        scores[best] -= total;
        self.backends.get(best)
    }
}

/// One match of a rule, with what ranks it among the others on the port.
#[derive(Debug)]
pub struct Entry {
    /// The hostname of the listener the route attached through (`None`: any host).
    pub listener_hostname: Option<Hostname>,
    /// The route's hostnames (empty: any host the listener takes).
    pub hostnames: Vec<Hostname>,
    /// The match.
    pub matcher: RequestMatch,
    /// The route's creation time and `namespace/name`: ties between routes go to the oldest,
    /// then alphabetically.
    pub route_order: (String, String),
    /// The rule's and the match's place in their route.
    pub position: (usize, usize),
    /// What to do.
    pub rule: Arc<Rule>,
}

/// A rule picked for a request, with the match that picked it.
pub struct Picked<'a> {
    /// The rule.
    pub rule: &'a Arc<Rule>,
    /// Its match (a prefix rewrite replaces what it matched).
    pub matcher: &'a RequestMatch,
}

/// Every rule reachable on one port, best first.
#[derive(Debug, Default)]
pub struct PortRoutes {
    entries: Vec<Entry>,
    /// Whether some match looks at query parameters (otherwise they are not even parsed).
    matches_query: bool,
}

impl PortRoutes {
    /// Orders `entries` by the specification's precedence.
    pub fn new(mut entries: Vec<Entry>) -> PortRoutes {
        entries.sort_by(|a, b| {
            b.matcher
                .precedence()
                .cmp(&a.matcher.precedence())
                .then_with(|| a.route_order.cmp(&b.route_order))
                .then_with(|| a.position.cmp(&b.position))
        });
        let matches_query = entries.iter().any(|e| !e.matcher.query.is_empty());
        PortRoutes {
            entries,
            matches_query,
        }
    }

    /// Whether some match looks at query parameters.
    pub fn matches_query(&self) -> bool {
        self.matches_query
    }

    /// How many matches the port has.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the port routes nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The rule `request` goes to: among the entries whose hostnames take its host, those of
    /// the most specific hostname, and among those the first by precedence.
    pub fn pick(&self, request: &RequestView<'_>) -> Option<Picked<'_>> {
        let mut best: Option<((usize, usize), &Entry)> = None;
        for entry in &self.entries {
            if entry
                .listener_hostname
                .as_ref()
                .is_some_and(|h| !h.matches(request.host))
            {
                continue;
            }
            let specificity = if entry.hostnames.is_empty() {
                Some(
                    entry
                        .listener_hostname
                        .as_ref()
                        .map_or((0, 0), Hostname::specificity),
                )
            } else {
                entry
                    .hostnames
                    .iter()
                    .filter(|h| h.matches(request.host))
                    .map(Hostname::specificity)
                    .max()
            };
            let Some(specificity) = specificity else {
                continue;
            };
            if best.is_some_and(|(s, _)| s >= specificity) {
                continue;
            }
            if entry.matcher.matches(request) {
                best = Some((specificity, entry));
            }
        }
        best.map(|(_, entry)| Picked {
            rule: &entry.rule,
            matcher: &entry.matcher,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(route: &str) -> Arc<Rule> {
        Arc::new(Rule::new(route.to_owned(), Vec::new(), Vec::new(), None))
    }

    fn entry(route: &str, path: PathMatch, hostnames: &[&str]) -> Entry {
        Entry {
            listener_hostname: None,
            hostnames: hostnames.iter().map(|h| Hostname::parse(h)).collect(),
            matcher: RequestMatch {
                path,
                method: None,
                headers: Vec::new(),
                query: Vec::new(),
            },
            route_order: ("2026-01-01T00:00:00Z".into(), route.into()),
            position: (0, 0),
            rule: rule(route),
        }
    }

    fn picked(routes: &PortRoutes, method: &str, host: &str, path: &str) -> Option<String> {
        let headers = |name: &str| (name == "x-lane").then(|| "linux".to_owned());
        let query = vec![("v".to_owned(), "2".to_owned())];
        routes
            .pick(&RequestView {
                method,
                host,
                path,
                headers: &headers,
                query: &query,
            })
            .map(|p| p.rule.route.clone())
    }

    fn prefix(p: &str) -> PathMatch {
        PathMatch::new("PathPrefix", p).expect("prefix")
    }

    #[test]
    fn prefixes_match_whole_path_elements_and_the_longest_wins() {
        let routes = PortRoutes::new(vec![
            entry("root", prefix("/"), &[]),
            entry("abc", prefix("/abc/"), &[]),
            entry(
                "exact",
                PathMatch::new("Exact", "/abc/x").expect("exact"),
                &[],
            ),
        ]);
        assert_eq!(picked(&routes, "GET", "h", "/abc").as_deref(), Some("abc"));
        assert_eq!(picked(&routes, "GET", "h", "/abc/").as_deref(), Some("abc"));
        assert_eq!(
            picked(&routes, "GET", "h", "/abc/def").as_deref(),
            Some("abc")
        );
        assert_eq!(
            picked(&routes, "GET", "h", "/abcd").as_deref(),
            Some("root")
        );
        assert_eq!(
            picked(&routes, "GET", "h", "/abc/x").as_deref(),
            Some("exact")
        );
        assert_eq!(picked(&routes, "GET", "h", "/").as_deref(), Some("root"));
    }

    #[test]
    fn method_headers_and_query_rank_after_the_path() {
        let mut by_method = entry("by-method", prefix("/sum"), &[]);
        by_method.matcher.method = Some("POST".into());
        let mut by_header = entry("by-header", prefix("/sum"), &[]);
        by_header.matcher.headers = vec![(
            "x-lane".into(),
            ValueMatch::new("Exact", "linux").expect("header"),
        )];
        let mut by_query = entry("by-query", prefix("/sum"), &[]);
        by_query.matcher.query = vec![(
            "v".into(),
            ValueMatch::new("RegularExpression", "[0-9]").expect("query"),
        )];
        let mut by_other_header = entry("by-other-header", prefix("/sum"), &[]);
        by_other_header.matcher.headers = vec![(
            "x-lane".into(),
            ValueMatch::new("Exact", "windows").expect("header"),
        )];
        let routes = PortRoutes::new(vec![
            entry("plain", prefix("/sum"), &[]),
            by_query,
            by_other_header,
            by_header,
            by_method,
        ]);
        assert_eq!(
            picked(&routes, "POST", "h", "/sum/1/2").as_deref(),
            Some("by-method")
        );
        assert_eq!(
            picked(&routes, "GET", "h", "/sum/1/2").as_deref(),
            Some("by-header")
        );
    }

    #[test]
    fn ties_go_to_the_oldest_route_then_by_name() {
        let mut young = entry("a/young", prefix("/"), &[]);
        young.route_order.0 = "2026-06-01T00:00:00Z".into();
        let old = entry("z/old", prefix("/"), &[]);
        let routes = PortRoutes::new(vec![young, old]);
        assert_eq!(picked(&routes, "GET", "h", "/").as_deref(), Some("z/old"));
        let routes = PortRoutes::new(vec![
            entry("b/x", prefix("/"), &[]),
            entry("a/x", prefix("/"), &[]),
        ]);
        assert_eq!(picked(&routes, "GET", "h", "/").as_deref(), Some("a/x"));
    }

    #[test]
    fn hostnames_exact_beat_wildcards_which_need_a_label() {
        let routes = PortRoutes::new(vec![
            entry("any", prefix("/"), &[]),
            entry("wild", prefix("/"), &["*.example.com"]),
            entry("exact", prefix("/"), &["calc.example.com"]),
        ]);
        assert_eq!(
            picked(&routes, "GET", "calc.example.com", "/").as_deref(),
            Some("exact")
        );
        assert_eq!(
            picked(&routes, "GET", "a.b.example.com", "/").as_deref(),
            Some("wild")
        );
        assert_eq!(
            picked(&routes, "GET", "example.com", "/").as_deref(),
            Some("any")
        );
        // A more specific hostname wins even over a longer path elsewhere.
        let routes = PortRoutes::new(vec![
            entry("long-path", prefix("/a/b/c"), &[]),
            entry("host", prefix("/"), &["calc.example.com"]),
        ]);
        assert_eq!(
            picked(&routes, "GET", "calc.example.com", "/a/b/c").as_deref(),
            Some("host")
        );
        assert!(Hostname::parse("*.example.com").intersects(&Hostname::parse("a.example.com")));
        assert!(Hostname::parse("*.example.com").intersects(&Hostname::parse("*.a.example.com")));
        assert!(!Hostname::parse("*.example.com").intersects(&Hostname::parse("example.com")));
        assert!(!Hostname::parse("a.com").intersects(&Hostname::parse("b.com")));
    }

    #[test]
    fn listener_hostnames_filter_first() {
        let mut only = entry("only", prefix("/"), &[]);
        only.listener_hostname = Some(Hostname::parse("calc.local"));
        let routes = PortRoutes::new(vec![only]);
        assert_eq!(
            picked(&routes, "GET", "calc.local", "/").as_deref(),
            Some("only")
        );
        assert_eq!(picked(&routes, "GET", "other.local", "/"), None);
    }

    #[test]
    fn prefix_rewrites_replace_what_was_matched() {
        let edit = |to: &str, from: &str, path: &str| {
            PathEdit::ReplacePrefixMatch(to.into()).apply(path, &prefix(from))
        };
        assert_eq!(edit("/xyz", "/foo", "/foo/bar"), "/xyz/bar");
        assert_eq!(edit("/xyz", "/foo/", "/foo/bar"), "/xyz/bar");
        assert_eq!(edit("/xyz", "/foo", "/foo"), "/xyz");
        assert_eq!(edit("/", "/foo", "/foo/bar"), "/bar");
        assert_eq!(edit("/", "/foo", "/foo"), "/");
        assert_eq!(edit("/xyz/", "/foo", "/foo"), "/xyz/");
        assert_eq!(
            PathEdit::ReplaceFullPath("/one".into()).apply("/foo/bar", &prefix("/foo")),
            "/one"
        );
    }

    #[test]
    fn weights_split_by_share_and_zero_gets_nothing() {
        let backend = |weight: u32, name: &str| WeightedBackend {
            weight,
            backend: Backend::Invalid(name.into()),
            filters: Vec::new(),
        };
        let rule = Rule::new(
            "r".into(),
            Vec::new(),
            vec![backend(1, "a"), backend(0, "never"), backend(3, "b")],
            None,
        );
        let mut counts = std::collections::BTreeMap::new();
        let mut first_four = Vec::new();
        for i in 0..400 {
            let name = match &rule.pick().expect("picked").backend {
                Backend::Invalid(n) => n.clone(),
                Backend::Endpoints { name, .. } => name.clone(),
            };
            if i < 4 {
                first_four.push(name.clone());
            }
            *counts.entry(name).or_insert(0) += 1;
        }
        assert_eq!(counts.get("a"), Some(&100));
        assert_eq!(counts.get("b"), Some(&300));
        assert_eq!(counts.get("never"), None);
        // Spread out: the light backend's one turn comes within every four.
        assert_eq!(first_four.iter().filter(|n| *n == "a").count(), 1);
        let none = Rule::new("r".into(), Vec::new(), vec![backend(0, "x")], None);
        assert!(none.pick().is_none());
        let empty = Rule::new("r".into(), Vec::new(), Vec::new(), None);
        assert!(empty.pick().is_none());
    }
}
