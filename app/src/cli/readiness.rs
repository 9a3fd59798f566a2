//! `hybrid-console check` and `hybrid-console eks check`: the hybrid readiness findings as text
//! or JSON; the exit code is 1 when a check fails.

use std::fmt::Write as _;

use clap::Args;

use crate::model::readiness::ReadinessOptions;
use crate::model::readiness::{ExpectedTaint, ReadinessReport, Severity};

/// What the readiness check may be told.
#[derive(Clone, Debug, Args)]
pub struct ReadinessArgs {
    /// The taint Windows nodes should carry (key=value:Effect).
    #[arg(long, default_value = "os=windows:NoSchedule", value_parser = parse_taint)]
    pub windows_taint: ExpectedTaint,
    /// A DaemonSet every Windows node must run (namespace/name); repeat for more.
    #[arg(long = "require-daemonset", value_name = "NAMESPACE/NAME", value_parser = parse_qualified)]
    pub required_daemonsets: Vec<String>,
}

fn parse_taint(text: &str) -> Result<ExpectedTaint, String> {
    text.parse()
}

fn parse_qualified(text: &str) -> Result<String, String> {
    match text.split_once('/') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
            Ok(text.to_owned())
        }
        _ => Err(format!(
            "{text:?} is not namespace/name (e.g. amazon-cloudwatch/fluent-bit-windows)"
        )),
    }
}

impl ReadinessArgs {
    /// The backend's options.
    pub fn options(&self) -> ReadinessOptions {
        ReadinessOptions {
            windows_taint: self.windows_taint.clone(),
            required_daemonsets: self.required_daemonsets.clone(),
        }
    }
}

/// The report as text: one block per check, worst first within the fixed order.
pub fn table(report: &ReadinessReport, source: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Hybrid readiness of {} ({source})", report.cluster);
    for f in &report.findings {
        let _ = writeln!(out, "{}  {}: {}", f.severity.tag(), f.title, f.summary);
        for line in &f.evidence {
            let _ = writeln!(out, "      {line}");
        }
        if let Some(fix) = &f.fix
            && f.severity >= Severity::Warning
        {
            let _ = writeln!(out, "      fix: {fix}");
        }
    }
    let _ = writeln!(
        out,
        "{} passed, {} warning(s), {} failed, {} skipped",
        report.count(Severity::Passed),
        report.count(Severity::Warning),
        report.count(Severity::Failed),
        report.count(Severity::Skipped)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemonset_names_must_be_qualified() {
        assert!(parse_qualified("kube-system/agent").is_ok());
        for bad in ["agent", "/agent", "ns/", "a/b/c"] {
            assert!(parse_qualified(bad).is_err(), "{bad}");
        }
    }
}
