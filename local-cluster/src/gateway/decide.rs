//! What the gateway does with one request, decided from its method, host, path, headers and
//! query alone: answer it itself (no route, no backend, a redirect) or forward it, and how.
//! Both ways of carrying requests (`forward`'s HTTP/1.1 relay and `data_plane`'s hyper
//! connection) ask this, so a request is routed the same whichever carries it.

use std::net::SocketAddr;
use std::time::Duration;

use super::routing::{Backend, Filter, HeaderEdit, PathEdit, PortRoutes, RequestView};

/// A request as routing reads it.
pub struct Asked<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The `Host` header as sent (may carry a port, any case).
    pub host: &'a str,
    /// The path, without the query.
    pub path: &'a str,
    /// The query string, without `?`.
    pub query: Option<&'a str>,
    /// A header's first value by (lower-case) name.
    pub headers: &'a dyn Fn(&str) -> Option<String>,
}

/// The decision.
#[derive(Debug)]
pub enum Decision {
    /// Answered by the gateway itself, in plain text.
    Answer {
        /// The status code.
        status: u16,
        /// The text (a line ending is added).
        message: String,
    },
    /// Answered with a redirect.
    Redirect {
        /// 301 or 302.
        status: u16,
        /// The `Location`.
        location: String,
    },
    /// Sent on.
    Forward(Forward),
}

/// How a request is sent on.
#[derive(Debug)]
pub struct Forward {
    /// The backend endpoint chosen.
    pub target: SocketAddr,
    /// The path sent on when a rewrite changed it (the query is kept).
    pub path: Option<String>,
    /// The `Host` sent on when a rewrite changed it.
    pub hostname: Option<String>,
    /// Request header edits, in the order written.
    pub request_edits: Vec<HeaderEdit>,
    /// Response header edits, in the order written.
    pub response_edits: Vec<HeaderEdit>,
    /// Where copies go (answers ignored).
    pub mirrors: Vec<Backend>,
    /// `timeouts.request`: until the answer's head.
    pub timeout: Option<Duration>,
}

/// The host a request names, lower-case and without its port.
fn bare_host(host: &str) -> std::borrow::Cow<'_, str> {
    let host = host
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(host, |(h, _)| h);
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        host.to_ascii_lowercase().into()
    } else {
        host.into()
    }
}

/// Routes `asked` by `table`.
pub fn decide(table: &PortRoutes, asked: &Asked<'_>) -> Decision {
    let host = bare_host(asked.host);
    let query: Vec<(String, String)> = if table.matches_query() {
        asked
            .query
            .and_then(|q| serde_urlencoded::from_str(q).ok())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let Some(picked) = table.pick(&RequestView {
        method: asked.method,
        host: &host,
        path: asked.path,
        headers: asked.headers,
        query: &query,
    }) else {
        return Decision::Answer {
            status: 404,
            message: "no route matches this request".into(),
        };
    };
    let rule = picked.rule;
    let matcher = &picked.matcher.path;
    let chosen = rule.pick();
    let backend_filters = chosen.map(|b| b.filters.as_slice()).unwrap_or_default();
    let mut path = None;
    let mut hostname = None;
    let mut request_edits = Vec::new();
    let mut response_edits = Vec::new();
    let mut mirrors = Vec::new();
    for filter in rule.filters.iter().chain(backend_filters) {
        match filter {
            Filter::RequestHeaders(edit) => request_edits.push(edit.clone()),
            Filter::ResponseHeaders(edit) => response_edits.push(edit.clone()),
            Filter::Mirror { backend, percent } => {
                if fastrand::u32(0..100) < *percent {
                    mirrors.push(backend.clone());
                }
            }
            Filter::Rewrite {
                hostname: new_host,
                path: edit,
            } => {
                if let Some(h) = new_host {
                    hostname = Some(h.clone());
                }
                if let Some(edit) = edit {
                    path = Some(edit.apply(asked.path, matcher));
                }
            }
            Filter::Redirect {
                scheme,
                hostname: new_host,
                path: edit,
                port,
                status,
            } => {
                let scheme = scheme.as_deref().unwrap_or("http");
                let host = new_host.as_deref().unwrap_or(&host);
                let port = port.map(|p| format!(":{p}")).unwrap_or_default();
                let new_path = edit.as_ref().map_or_else(
                    || asked.path.to_owned(),
                    |e: &PathEdit| e.apply(asked.path, matcher),
                );
                let query = asked.query.map(|q| format!("?{q}")).unwrap_or_default();
                return Decision::Redirect {
                    status: if matches!(status, 301..=308) {
                        *status
                    } else {
                        302
                    },
                    location: format!("{scheme}://{host}{port}{new_path}{query}"),
                };
            }
        }
    }
    let Some(chosen) = chosen else {
        return Decision::Answer {
            status: 500,
            message: format!(
                "route {} has no backend to send this request to",
                rule.route
            ),
        };
    };
    let target = match &chosen.backend {
        Backend::Invalid(why) => {
            return Decision::Answer {
                status: 500,
                message: why.clone(),
            };
        }
        backend @ Backend::Endpoints { name, .. } => match backend.next_address() {
            Some(address) => address,
            None => {
                return Decision::Answer {
                    status: 503,
                    message: format!("no healthy upstream: {name} has no ready endpoints"),
                };
            }
        },
    };
    Decision::Forward(Forward {
        target,
        path,
        hostname,
        request_edits,
        response_edits,
        mirrors,
        timeout: rule.timeout,
    })
}

impl Forward {
    /// The origin-form target sent on: the rewritten path (or the request's own) and the
    /// request's query.
    pub fn path_and_query(&self, path: &str, query: Option<&str>) -> String {
        let path = self.path.as_deref().unwrap_or(path);
        match query {
            Some(q) => format!("{path}?{q}"),
            None => path.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_is_compared_without_its_port_and_case() {
        assert_eq!(bare_host("Calc.Example:8080"), "calc.example");
        assert_eq!(bare_host("calc.example"), "calc.example");
        // An IPv6 literal's last group is not a port.
        assert_eq!(bare_host("[::1]"), "[::1]");
    }

    #[test]
    fn nothing_routed_is_a_404() {
        let table = PortRoutes::new(Vec::new());
        let none = |_: &str| None;
        let decision = decide(
            &table,
            &Asked {
                method: "GET",
                host: "x",
                path: "/",
                query: None,
                headers: &none,
            },
        );
        assert!(matches!(decision, Decision::Answer { status: 404, .. }));
    }
}
