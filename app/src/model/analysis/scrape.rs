//! One pod's `/metrics` at one moment, kept to what a move judges: the calculator's answers by
//! operation, route and outcome with their latency, its shadow comparisons, and its HTTP
//! requests by path (what an edge move judges each side by).

use std::collections::BTreeMap;

use openmetrics_parser::OpenMetricsValue;

/// A latency histogram: cumulative counts by upper bound (seconds), ending with `+Inf`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histogram {
    /// `(le, cumulative count)`, in increasing `le`.
    pub buckets: Vec<(f64, f64)>,
}

impl Histogram {
    /// Observations counted (the `+Inf` bucket).
    pub fn count(&self) -> f64 {
        self.buckets.last().map_or(0.0, |(_, count)| *count)
    }

    /// The `q`-quantile (0 to 1) as Prometheus's `histogram_quantile` estimates it: linear
    /// within the bucket the rank falls in; the highest finite bound when it falls in `+Inf`;
    /// `None` with no observations.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total <= 0.0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * total;
        let (mut lower, mut below) = (0.0, 0.0);
        for &(le, cumulative) in &self.buckets {
            if cumulative >= rank {
                if le.is_infinite() {
                    return Some(lower);
                }
                let inside = cumulative - below;
                if inside <= 0.0 {
                    return Some(le);
                }
                return Some(lower + (le - lower) * (rank - below) / inside);
            }
            (lower, below) = (le, cumulative);
        }
        Some(lower)
    }

    /// What was observed between `earlier` and this one (the whole of this one when the
    /// counts went down: the process restarted in between).
    pub fn since(&self, earlier: &Histogram) -> Histogram {
        let same_buckets = earlier.buckets.len() == self.buckets.len()
            && earlier
                .buckets
                .iter()
                .zip(&self.buckets)
                .all(|(a, b)| a.0 == b.0 && a.1 <= b.1);
        if !same_buckets {
            return self.clone();
        }
        Histogram {
            buckets: self
                .buckets
                .iter()
                .zip(&earlier.buckets)
                .map(|((le, now), (_, then))| (*le, now - then))
                .collect(),
        }
    }

    /// Adds `other`'s counts (same buckets; another pod's) to these.
    pub fn add(&mut self, other: &Histogram) {
        if self.buckets.is_empty() {
            self.buckets = other.buckets.clone();
        } else if self.buckets.len() == other.buckets.len() {
            for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
                mine.1 += theirs.1;
            }
        }
    }
}

/// The counters of one pod, by their labels.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodMetrics {
    /// Answers by `(operation, route, outcome)`.
    pub answers: BTreeMap<(String, String, String), f64>,
    /// Time to compute, by `(operation, route)`.
    pub answer_latency: BTreeMap<(String, String), Histogram>,
    /// Shadow comparisons by `(operation, result)`.
    pub comparisons: BTreeMap<(String, String), f64>,
    /// HTTP requests by `(path template, status)`.
    pub requests: BTreeMap<(String, u16), f64>,
    /// Time to answer, by path template.
    pub request_latency: BTreeMap<String, Histogram>,
}

/// A pod's metrics that cannot be judged.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScrapeError {
    /// The text is not Prometheus's text format.
    #[error("its /metrics could not be read: {0}")]
    Unreadable(String),
    /// The text has none of the calculator's metrics.
    #[error(
        "its /metrics has no calculator_ metrics; is it a calculator build (0.1.0 or later) on the port the plan names?"
    )]
    NotACalculator,
}

impl PodMetrics {
    /// Reads a `/metrics` answer (the OpenMetrics text the calculator's encoder writes).
    pub fn parse(text: &str) -> Result<PodMetrics, ScrapeError> {
        let exposition = openmetrics_parser::openmetrics::parse_openmetrics(text)
            .map_err(|e| ScrapeError::Unreadable(e.to_string()))?;
        if !exposition
            .families
            .keys()
            .any(|name| name.starts_with("calculator_"))
        {
            return Err(ScrapeError::NotACalculator);
        }
        let mut metrics = PodMetrics::default();
        for (family, samples) in &exposition.families {
            for sample in samples.iter_samples() {
                let Ok(labels) = sample.get_labelset() else {
                    continue;
                };
                let label =
                    |name: &str| labels.get_label_value(name).unwrap_or_default().to_owned();
                match (family.as_str(), &sample.value) {
                    ("calculator_operation_answers", OpenMetricsValue::Counter(counter)) => {
                        metrics.answers.insert(
                            (label("operation"), label("route"), label("outcome")),
                            counter.value.as_f64(),
                        );
                    }
                    ("calculator_shadow_comparisons", OpenMetricsValue::Counter(counter)) => {
                        metrics.comparisons.insert(
                            (label("operation"), label("result")),
                            counter.value.as_f64(),
                        );
                    }
                    ("calculator_http_requests", OpenMetricsValue::Counter(counter)) => {
                        if let Ok(status) = label("status").parse() {
                            metrics
                                .requests
                                .insert((label("path"), status), counter.value.as_f64());
                        }
                    }
                    ("calculator_operation_duration_seconds", OpenMetricsValue::Histogram(h)) => {
                        metrics
                            .answer_latency
                            .insert((label("operation"), label("route")), histogram(h));
                    }
                    (
                        "calculator_http_request_duration_seconds",
                        OpenMetricsValue::Histogram(h),
                    ) => {
                        metrics.request_latency.insert(label("path"), histogram(h));
                    }
                    _ => {}
                }
            }
        }
        Ok(metrics)
    }
}

fn histogram(value: &openmetrics_parser::HistogramValue) -> Histogram {
    let mut buckets: Vec<(f64, f64)> = value
        .buckets
        .iter()
        .map(|b| (b.upper_bound, b.count.as_f64()))
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    Histogram { buckets }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The text a calculator monolith answered (`calc-services`' own encoder), trimmed.
    pub(crate) const MONOLITH: &str = r#"# HELP calculator_http_requests HTTP requests answered, by route and status.
# TYPE calculator_http_requests counter
calculator_http_requests_total{path="/sum/{a}/{b}",status="200"} 7
calculator_http_requests_total{path="/sum/{a}/{b}",status="500"} 1
# TYPE calculator_operation_answers counter
calculator_operation_answers_total{operation="sum",route="in-process",outcome="ok"} 5
calculator_operation_answers_total{operation="sum",route="service",outcome="failed"} 1
# TYPE calculator_operation_duration_seconds histogram
calculator_operation_duration_seconds_sum{operation="sum",route="in-process"} 0.0012
calculator_operation_duration_seconds_count{operation="sum",route="in-process"} 5
calculator_operation_duration_seconds_bucket{le="0.0001",operation="sum",route="in-process"} 1
calculator_operation_duration_seconds_bucket{le="0.0002",operation="sum",route="in-process"} 4
calculator_operation_duration_seconds_bucket{le="+Inf",operation="sum",route="in-process"} 5
# TYPE calculator_shadow_comparisons counter
calculator_shadow_comparisons_total{operation="sum",result="mismatch"} 2
# EOF
"#;

    #[test]
    fn reads_the_calculator_s_counters_and_histograms() {
        let metrics = PodMetrics::parse(MONOLITH).unwrap();
        let key = |op: &str, route: &str, outcome: &str| {
            (op.to_owned(), route.to_owned(), outcome.to_owned())
        };
        assert_eq!(metrics.answers[&key("sum", "in-process", "ok")], 5.0);
        assert_eq!(metrics.answers[&key("sum", "service", "failed")], 1.0);
        assert_eq!(
            metrics.comparisons[&("sum".to_owned(), "mismatch".to_owned())],
            2.0
        );
        assert_eq!(metrics.requests[&("/sum/{a}/{b}".to_owned(), 500)], 1.0);
        let latency = &metrics.answer_latency[&("sum".to_owned(), "in-process".to_owned())];
        assert_eq!(latency.count(), 5.0);
        assert_eq!(
            latency.buckets,
            vec![(0.0001, 1.0), (0.0002, 4.0), (f64::INFINITY, 5.0)]
        );
    }

    #[test]
    fn text_without_calculator_metrics_is_named_so() {
        assert_eq!(
            PodMetrics::parse("# TYPE up gauge\nup 1\n# EOF\n"),
            Err(ScrapeError::NotACalculator)
        );
        let html = PodMetrics::parse("<html>404</html>").unwrap_err();
        assert!(matches!(html, ScrapeError::Unreadable(_)), "{html}");
    }

    #[test]
    fn quantiles_interpolate_within_a_bucket_as_prometheus_does() {
        let h = Histogram {
            buckets: vec![
                (0.1, 50.0),
                (0.2, 90.0),
                (0.4, 100.0),
                (f64::INFINITY, 100.0),
            ],
        };
        // Rank 50 is the top of the first bucket; rank 70 halfway through the second.
        assert!((h.quantile(0.5).unwrap() - 0.1).abs() < 1e-9);
        assert!((h.quantile(0.7).unwrap() - 0.15).abs() < 1e-9);
        assert!((h.quantile(0.99).unwrap() - 0.38).abs() < 1e-9);
        let slow = Histogram {
            buckets: vec![(0.1, 0.0), (f64::INFINITY, 4.0)],
        };
        assert_eq!(slow.quantile(0.99), Some(0.1), "beyond the last bound");
        assert_eq!(Histogram::default().quantile(0.5), None);
    }

    #[test]
    fn a_window_subtracts_and_a_restart_starts_over() {
        let before = Histogram {
            buckets: vec![(0.1, 2.0), (f64::INFINITY, 3.0)],
        };
        let after = Histogram {
            buckets: vec![(0.1, 5.0), (f64::INFINITY, 9.0)],
        };
        assert_eq!(
            after.since(&before).buckets,
            vec![(0.1, 3.0), (f64::INFINITY, 6.0)]
        );
        let restarted = Histogram {
            buckets: vec![(0.1, 1.0), (f64::INFINITY, 1.0)],
        };
        assert_eq!(restarted.since(&after), restarted);
        let mut sum = after.since(&before);
        sum.add(&restarted);
        assert_eq!(sum.buckets, vec![(0.1, 4.0), (f64::INFINITY, 7.0)]);
    }
}
