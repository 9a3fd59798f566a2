//! `status` and `calc` as text: the nodes by lane and group with their pods, and the
//! calculator's answers with who served each operation.

use std::fmt::Write as _;

use crate::model::calculation::CalcOutcome;
use crate::model::cost::{CostReport, CostSource, dollars};
use crate::model::move_plan::Location;
use crate::model::{ClusterSnapshot, PodPlacement, PodState};

fn gib(bytes: i64) -> String {
    format!("{:.1}Gi", bytes as f64 / 1024.0 / 1024.0 / 1024.0)
}

fn pod_line(pod: &PodPlacement) -> String {
    let mut line = format!(
        "{}/{}  {}",
        pod.namespace,
        pod.name,
        pod.reason.clone().unwrap_or_else(|| pod.phase.clone())
    );
    if pod.state == PodState::Ready {
        line.push_str("  ready");
    }
    if pod.restarts > 0 {
        let _ = write!(line, "  restarts {}", pod.restarts);
    }
    if let Some(ip) = &pod.ip {
        let _ = write!(line, "  {ip}");
    }
    if !pod.holds.is_empty() {
        let _ = write!(line, "  [in-process: {}]", pod.holds.join(", "));
    }
    if let Some(service) = &pod.serves {
        let _ = write!(line, "  [serves {service}]");
    }
    if let Some(mismatch) = pod.image_mismatch {
        let _ = write!(line, "  ({})", mismatch.words());
    }
    line
}

/// `  ≈ $81/month (estimate)`, or nothing when there is no figure.
fn cost_words(monthly: Option<f64>, source: Option<CostSource>) -> String {
    match (monthly, source) {
        (Some(m), Some(CostSource::CostExplorer)) => {
            format!("  {}/month (Cost Explorer)", dollars(m))
        }
        (Some(m), _) => format!("  ≈ {}/month (estimate)", dollars(m)),
        _ => String::new(),
    }
}

/// The board as text.
pub fn status_table(
    snapshot: &ClusterSnapshot,
    costs: &CostReport,
    target: &str,
    server: &str,
    version: &str,
) -> String {
    let mut out = format!("Cluster: {target} ({server}), Kubernetes {version}\n");
    for lane in &snapshot.lanes {
        let lane_cost = costs.lane(&lane.os);
        let _ = writeln!(
            out,
            "\n{} ({} nodes){}",
            lane.os.title().to_uppercase(),
            lane.node_count(),
            cost_words(lane_cost.map(|l| l.monthly), lane_cost.map(|l| l.source))
        );
        for group in &lane.groups {
            let cost = costs.group(&group.name);
            let _ = writeln!(
                out,
                "  node group {} ({} nodes){}",
                group.name,
                group.nodes.len(),
                cost_words(cost.map(|c| c.monthly), cost.map(|c| c.source))
            );
            for node in &group.nodes {
                let taints = if node.taints.is_empty() {
                    "-".to_owned()
                } else {
                    node.taints.join(",")
                };
                let _ = writeln!(
                    out,
                    "    {}  {}  {}  taints {}  pods {}/{}  cpu {}m/{}m  memory {}/{}",
                    node.name,
                    node.instance_type.as_deref().unwrap_or("-"),
                    if node.ready { "Ready" } else { "NotReady" },
                    taints,
                    node.pods_placed(),
                    node.pod_capacity,
                    node.cpu_requested_millis,
                    node.cpu_allocatable_millis,
                    gib(node.memory_requested_bytes),
                    gib(node.memory_allocatable_bytes),
                );
                for pod in node.pods.iter() {
                    let _ = writeln!(out, "      {}", pod_line(pod));
                }
            }
        }
    }
    if !snapshot.unscheduled.is_empty() {
        let _ = writeln!(out, "\nUNSCHEDULED ({})", snapshot.unscheduled.len());
        for pod in &snapshot.unscheduled {
            let _ = writeln!(out, "  {}", pod_line(pod));
            if let Some(message) = &pod.message {
                let _ = writeln!(out, "    {message}");
            }
        }
    }
    if !costs.groups.is_empty() {
        let _ = writeln!(out, "\nCOSTS");
        for g in &costs.groups {
            let licence = g
                .windows_licence_monthly
                .map(|l| format!(", of which Windows licence ≈ {}", dollars(l)))
                .unwrap_or_default();
            let last = g
                .last_30_days
                .map(|l| format!(", last 30 days {}", dollars(l)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {}: {}/month{licence}{last} — {}",
                g.group,
                dollars(g.monthly),
                g.basis
            );
        }
        if let Some(why) = &costs.cost_explorer {
            let _ = writeln!(out, "  estimated because: {why}");
        }
        let _ = writeln!(out, "  prices: {}", costs.prices);
    }
    if let Some(t) = &snapshot.topology
        && (t.monolith.is_some() || t.services.iter().any(|s| s.ready.is_some()))
    {
        let _ = writeln!(
            out,
            "\nMIGRATION (plan {}, namespace {})",
            t.plan, t.namespace
        );
        match &t.monolith {
            Some(m) => {
                let _ = writeln!(
                    out,
                    "  monolith {}/{} ({}/{} ready) serves: {}",
                    m.namespace,
                    m.deployment,
                    m.ready.0,
                    m.ready.1,
                    if m.in_process.is_empty() {
                        "nothing".into()
                    } else {
                        m.in_process.join(", ")
                    }
                );
                for (service, url) in &m.forwarded {
                    let _ = writeln!(out, "    forwards {service} to {url}");
                }
            }
            None => {
                let _ = writeln!(out, "  the monolith is retired");
            }
        }
        for s in t
            .services
            .iter()
            .filter(|s| s.location == Location::Extracted)
        {
            let ready = s
                .ready
                .map(|(r, d)| format!("{r}/{d} ready"))
                .unwrap_or_else(|| "no Deployment".into());
            let _ = writeln!(
                out,
                "  {} served by its own Deployment {}/{} ({ready})",
                s.name, t.namespace, s.deployment
            );
        }
        if let Some(record) = &t.moving {
            let _ = writeln!(out, "  MOVE IN PROGRESS: {}", record.summary());
        }
        if let Some(problem) = &t.record_problem {
            let _ = writeln!(out, "  {problem}");
        }
        if t.retirable {
            let _ = writeln!(
                out,
                "  the monolith serves nothing any more: retire it with `hybrid-console retire --stage scale-to-zero`, then `--stage delete`"
            );
        }
    }
    out
}

/// The calculator panel's table as text.
pub fn calc_table(outcome: &CalcOutcome, snapshot: &ClusterSnapshot) -> String {
    let Ok(answer) = &outcome.result else {
        return String::new();
    };
    let os = |node: &Option<String>| {
        node.as_deref()
            .and_then(|n| snapshot.os_of_node(n))
            .map(|o| o.label())
            .unwrap_or_else(|| "-".into())
    };
    let mut rows = vec![[
        "OPERATION".to_owned(),
        "RESULT".into(),
        "POD".into(),
        "NODE".into(),
        "NODE OS".into(),
        "LATENCY".into(),
    ]];
    for r in &answer.results {
        let result = match (&r.total, &r.error) {
            (Some(t), _) => t.to_string(),
            (None, Some(e)) => format!("error {}: {}", e.code, e.message),
            (None, None) => "-".into(),
        };
        let by = r.served_by.as_ref();
        rows.push([
            r.operation.to_string(),
            result,
            by.and_then(|s| s.pod.clone())
                .unwrap_or_else(|| by.map(|s| s.service.clone()).unwrap_or_else(|| "-".into())),
            by.and_then(|s| s.node.clone())
                .unwrap_or_else(|| "-".into()),
            by.map(|s| os(&s.node)).unwrap_or_else(|| "-".into()),
            format!("{:.1} ms", r.latency_ms),
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    let f = &answer.frontend;
    let _ = writeln!(
        out,
        "\nFrontend: {} on {} ({}); round trip {:.1} ms",
        f.pod.clone().unwrap_or_else(|| f.service.clone()),
        f.node.clone().unwrap_or_else(|| "-".into()),
        os(&f.node),
        outcome.latency_ms
    );
    out
}
