//! `hybrid-console check` and `hybrid-console eks check`: the hybrid readiness findings as text
//! or JSON; the exit code is 1 when a check fails.

use std::fmt::Write as _;

use crate::model::readiness::{ReadinessReport, Severity};

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
