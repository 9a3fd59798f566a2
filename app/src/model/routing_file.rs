//! The monolith's routing file as a progressive move edits it: one entry per operation (keyed
//! by the plan's service name) saying how the monolith routes it — `shadow`, `split` with the
//! service's `percent`, or `service` — and the URL of the service. Pure: text in, text out; the
//! other operations' entries are kept as they are.

use serde_yaml::{Mapping, Value};

/// How the monolith routes one operation during a progressive move.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteEntry {
    /// Answer in-process, also ask the service and compare.
    Shadow {
        /// The service's base URL.
        url: String,
    },
    /// The service answers `percent` of the requests.
    Split {
        /// The service's base URL.
        url: String,
        /// Its share, 1 to 99.
        percent: u8,
    },
    /// The service answers every request.
    Service {
        /// The service's base URL.
        url: String,
    },
}

impl RouteEntry {
    /// How the monolith reports the route once in force (its `GET /api/routes`).
    pub fn shown(&self) -> String {
        match self {
            RouteEntry::Shadow { url } => format!("shadow {url}"),
            RouteEntry::Split { url, percent } => format!("split {percent}% {url}"),
            RouteEntry::Service { url } => url.clone(),
        }
    }

    /// The service's share of the answers, in percent.
    pub fn share(&self) -> u8 {
        match self {
            RouteEntry::Shadow { .. } => 0,
            RouteEntry::Split { percent, .. } => *percent,
            RouteEntry::Service { .. } => 100,
        }
    }

    fn to_yaml(&self) -> Value {
        let mut entry = Mapping::new();
        let (mode, url) = match self {
            RouteEntry::Shadow { url } => ("shadow", url),
            RouteEntry::Split { url, percent } => {
                entry.insert("percent".into(), Value::from(*percent));
                ("split", url)
            }
            RouteEntry::Service { url } => ("service", url),
        };
        entry.insert("mode".into(), mode.into());
        entry.insert("service".into(), url.as_str().into());
        Value::Mapping(entry)
    }
}

/// The routing file there is cannot be edited.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the monolith's routing file is not a YAML mapping of operations ({0}); fix or remove it before a progressive move"
)]
pub struct UnreadableRoutingFile(pub String);

fn entries(text: Option<&str>) -> Result<Mapping, UnreadableRoutingFile> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(Mapping::new());
    };
    match serde_yaml::from_str::<Value>(text) {
        Ok(Value::Mapping(mapping)) => Ok(mapping),
        Ok(Value::Null) => Ok(Mapping::new()),
        Ok(_) => Err(UnreadableRoutingFile(
            "its top level is not a mapping".into(),
        )),
        Err(e) => Err(UnreadableRoutingFile(e.to_string())),
    }
}

fn render(mapping: &Mapping) -> Result<String, UnreadableRoutingFile> {
    serde_yaml::to_string(mapping).map_err(|e| UnreadableRoutingFile(e.to_string()))
}

/// `text` with `operation` routed as `entry`.
pub fn with_entry(
    text: Option<&str>,
    operation: &str,
    entry: &RouteEntry,
) -> Result<String, UnreadableRoutingFile> {
    let mut mapping = entries(text)?;
    mapping.insert(operation.into(), entry.to_yaml());
    render(&mapping)
}

/// `text` without `operation`'s entry; `None` when no entry is left.
pub fn without_entry(
    text: Option<&str>,
    operation: &str,
) -> Result<Option<String>, UnreadableRoutingFile> {
    let mut mapping = entries(text)?;
    mapping.remove(operation);
    if mapping.is_empty() {
        Ok(None)
    } else {
        render(&mapping).map(Some)
    }
}

/// The URL the monolith is given for the service: the plan's `url` with its host replaced by
/// the Service's cluster IP when the host names that Service. A monolith pod started before
/// the Service existed may not resolve its name (no cluster DNS, or only the `*_SERVICE_HOST`
/// variables of Services older than the pod); the cluster IP reaches it as long as the
/// Service lives, which is the whole move.
pub fn service_url(plan_url: &str, service_name: &str, cluster_ip: Option<&str>) -> String {
    let Some(ip) = cluster_ip.filter(|ip| !ip.is_empty() && *ip != "None") else {
        return plan_url.to_owned();
    };
    let Some((scheme, rest)) = plan_url.split_once("://") else {
        return plan_url.to_owned();
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let names_it = host == service_name || host.split('.').next() == Some(service_name);
    if !names_it {
        return plan_url.to_owned();
    }
    match port {
        Some(port) => format!("{scheme}://{ip}:{port}{path}"),
        None => format!("{scheme}://{ip}{path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_set_and_removed_keeping_the_others() {
        let start = "division: {mode: shadow, service: 'http://10.0.0.9:3000'}\n";
        let split = RouteEntry::Split {
            url: "http://10.0.0.7:3000".into(),
            percent: 10,
        };
        let text = with_entry(Some(start), "sum", &split).unwrap();
        let parsed: Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(parsed["sum"]["mode"], "split");
        assert_eq!(parsed["sum"]["percent"], 10);
        assert_eq!(parsed["sum"]["service"], "http://10.0.0.7:3000");
        assert_eq!(parsed["division"]["mode"], "shadow");
        let full = RouteEntry::Service {
            url: "http://10.0.0.7:3000".into(),
        };
        let text = with_entry(Some(&text), "sum", &full).unwrap();
        let parsed: Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(parsed["sum"]["mode"], "service");
        assert!(parsed["sum"].get("percent").is_none());
        let left = without_entry(Some(&text), "sum").unwrap().unwrap();
        assert!(!left.contains("sum"));
        assert!(left.contains("division"));
        assert_eq!(without_entry(Some(start), "division").unwrap(), None);
        assert_eq!(without_entry(None, "sum").unwrap(), None);
        assert!(with_entry(Some("- a\n- b\n"), "sum", &full).is_err());
        assert!(with_entry(Some("sum: [\n"), "sum", &full).is_err());
    }

    #[test]
    fn routes_are_shown_as_the_monolith_reports_them() {
        let url = "http://10.0.0.7:3000".to_owned();
        assert_eq!(
            RouteEntry::Shadow { url: url.clone() }.shown(),
            "shadow http://10.0.0.7:3000"
        );
        assert_eq!(
            RouteEntry::Split {
                url: url.clone(),
                percent: 50
            }
            .shown(),
            "split 50% http://10.0.0.7:3000"
        );
        assert_eq!(RouteEntry::Service { url }.shown(), "http://10.0.0.7:3000");
    }

    #[test]
    fn the_service_url_names_its_cluster_ip_when_the_host_is_the_service() {
        let ip = Some("10.96.0.12");
        assert_eq!(
            service_url("http://sum-service:3000", "sum-service", ip),
            "http://10.96.0.12:3000"
        );
        assert_eq!(
            service_url(
                "http://sum-service.calculator.svc.cluster.local:3000/v1",
                "sum-service",
                ip
            ),
            "http://10.96.0.12:3000/v1"
        );
        assert_eq!(
            service_url("http://sum-service", "sum-service", ip),
            "http://10.96.0.12"
        );
        // Another host, a headless Service, or no Service: the plan's URL as written.
        assert_eq!(
            service_url("http://gateway:8080", "sum-service", ip),
            "http://gateway:8080"
        );
        assert_eq!(
            service_url("http://sum-service:3000", "sum-service", Some("None")),
            "http://sum-service:3000"
        );
        assert_eq!(
            service_url("http://sum-service:3000", "sum-service", None),
            "http://sum-service:3000"
        );
    }
}
