//! The figures of one step's window: what the pods' counters grew by between two readings,
//! summed over the pods, for the monolith's way of answering and the service's.

use std::collections::BTreeMap;

use serde::Serialize;

use super::scrape::{Histogram, PodMetrics};

/// Every pod's metrics at one reading, by pod name.
pub type Reading = BTreeMap<String, PodMetrics>;

/// How one way of answering did over a window.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RouteFigures {
    /// Everything answered: answers, refusals and failures.
    pub answered: u64,
    /// The route's fault: 5xx, unreachable, too slow.
    pub failed: u64,
    /// The request's fault: 4xx (not a number, division by zero).
    pub rejected: u64,
    /// Median time, in milliseconds (none without answers).
    pub p50_ms: Option<f64>,
    /// 99th percentile, in milliseconds.
    pub p99_ms: Option<f64>,
}

impl RouteFigures {
    /// Failed answers as a percentage of all (0 without answers).
    pub fn error_rate(&self) -> f64 {
        if self.answered == 0 {
            0.0
        } else {
            self.failed as f64 * 100.0 / self.answered as f64
        }
    }

    /// `120 answers, 0.0 % failed, p50 1.2 ms, p99 3.4 ms`.
    pub fn summary(&self) -> String {
        let ms = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), |v| format!("{v:.1} ms"));
        format!(
            "{} answers, {:.1} % failed, p50 {}, p99 {}",
            self.answered,
            self.error_rate(),
            ms(self.p50_ms),
            ms(self.p99_ms)
        )
    }

    fn with_latency(mut self, latency: &Histogram) -> Self {
        self.p50_ms = latency.quantile(0.5).map(|s| s * 1000.0);
        self.p99_ms = latency.quantile(0.99).map(|s| s * 1000.0);
        self
    }
}

/// How the shadow comparisons went over a window.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ComparisonFigures {
    /// The same answer from both.
    pub matched: u64,
    /// Different answers.
    pub mismatched: u64,
    /// The service's side failed; nothing compared.
    pub failed: u64,
    /// Not shadowed: too many comparisons in flight.
    pub skipped: u64,
}

impl ComparisonFigures {
    /// Answers compared: matched and mismatched.
    pub fn compared(&self) -> u64 {
        self.matched + self.mismatched
    }
}

/// One window's figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Window {
    /// The monolith's own way: computed in-process, or the monolith's pods at the edge.
    pub monolith: RouteFigures,
    /// The service's way: its share of a split, or the service's pods at the edge.
    pub service: RouteFigures,
    /// The calls a shadow made to the service (inside only).
    pub shadow_calls: RouteFigures,
    /// The shadow comparisons (inside only).
    pub comparisons: ComparisonFigures,
}

/// How much a counter grew; a counter that went down was reset (its process restarted) and
/// counts from zero.
fn growth(now: f64, then: Option<f64>) -> f64 {
    match then {
        Some(then) if then <= now => now - then,
        _ => now,
    }
}

/// Sums `value(pod now, pod then)` over the pods of `after`.
fn over_pods<T>(
    before: &Reading,
    after: &Reading,
    mut value: impl FnMut(&PodMetrics, Option<&PodMetrics>) -> T,
) -> Vec<T> {
    after
        .iter()
        .map(|(pod, now)| value(now, before.get(pod)))
        .collect()
}

impl Window {
    /// The figures a step is judged by, in one line: the shadow's comparisons and calls, or
    /// each way's answers.
    pub fn summary(&self, shadow: bool) -> String {
        if shadow {
            let c = &self.comparisons;
            format!(
                "{} compared: {} matched, {} mismatched, {} failed, {} skipped; shadow calls {}; monolith {}",
                c.compared(),
                c.matched,
                c.mismatched,
                c.failed,
                c.skipped,
                self.shadow_calls.summary(),
                self.monolith.summary()
            )
        } else {
            format!(
                "service {}; monolith {}",
                self.service.summary(),
                self.monolith.summary()
            )
        }
    }

    /// The service's share of the answers, in percent (none without answers).
    pub fn service_share(&self) -> Option<f64> {
        let all = self.service.answered + self.monolith.answered;
        (all > 0).then(|| self.service.answered as f64 * 100.0 / all as f64)
    }

    /// Inside the monolith: its pods' answers of `operation` by route (`in-process` against
    /// `service`; `shadow` for the shadow calls).
    pub fn inside(operation: &str, before: &Reading, after: &Reading) -> Window {
        let route = |route: &str| {
            let mut figures = RouteFigures::default();
            let mut latency = Histogram::default();
            for (failed, rejected, answered, grown) in over_pods(before, after, |now, then| {
                let count = |outcome: &str| {
                    let key = (operation.to_owned(), route.to_owned(), outcome.to_owned());
                    growth(
                        now.answers.get(&key).copied().unwrap_or(0.0),
                        then.and_then(|t| t.answers.get(&key).copied()),
                    )
                };
                let key = (operation.to_owned(), route.to_owned());
                let grown = match (
                    now.answer_latency.get(&key),
                    then.and_then(|t| t.answer_latency.get(&key)),
                ) {
                    (Some(now), Some(then)) => now.since(then),
                    (Some(now), None) => now.clone(),
                    _ => Histogram::default(),
                };
                let (failed, rejected) = (count("failed"), count("rejected"));
                (failed, rejected, count("ok") + failed + rejected, grown)
            }) {
                figures.failed += failed as u64;
                figures.rejected += rejected as u64;
                figures.answered += answered as u64;
                latency.add(&grown);
            }
            figures.with_latency(&latency)
        };
        let mut comparisons = ComparisonFigures::default();
        for counts in over_pods(before, after, |now, then| {
            ["match", "mismatch", "failed", "skipped"].map(|result| {
                let key = (operation.to_owned(), result.to_owned());
                growth(
                    now.comparisons.get(&key).copied().unwrap_or(0.0),
                    then.and_then(|t| t.comparisons.get(&key).copied()),
                ) as u64
            })
        }) {
            comparisons.matched += counts[0];
            comparisons.mismatched += counts[1];
            comparisons.failed += counts[2];
            comparisons.skipped += counts[3];
        }
        Window {
            monolith: route("in-process"),
            service: route("service"),
            shadow_calls: route("shadow"),
            comparisons,
        }
    }

    /// At the edge: the HTTP answers of `path` (a route template such as `/sum/{a}/{b}`) by the
    /// monolith's pods and by the service's.
    pub fn edge(
        path: &str,
        monolith: (&Reading, &Reading),
        service: (&Reading, &Reading),
    ) -> Window {
        Window {
            monolith: http_figures(path, monolith.0, monolith.1),
            service: http_figures(path, service.0, service.1),
            ..Window::default()
        }
    }
}

fn http_figures(path: &str, before: &Reading, after: &Reading) -> RouteFigures {
    let mut figures = RouteFigures::default();
    let mut latency = Histogram::default();
    for (counts, grown) in over_pods(before, after, |now, then| {
        let counts: Vec<(u16, f64)> = now
            .requests
            .iter()
            .filter(|((p, _), _)| p == path)
            .map(|(key, value)| {
                (
                    key.1,
                    growth(*value, then.and_then(|t| t.requests.get(key).copied())),
                )
            })
            .collect();
        let grown = match (
            now.request_latency.get(path),
            then.and_then(|t| t.request_latency.get(path)),
        ) {
            (Some(now), Some(then)) => now.since(then),
            (Some(now), None) => now.clone(),
            _ => Histogram::default(),
        };
        (counts, grown)
    }) {
        for (status, count) in counts {
            let count = count as u64;
            figures.answered += count;
            match status {
                500.. => figures.failed += count,
                400.. => figures.rejected += count,
                _ => {}
            }
        }
        latency.add(&grown);
    }
    figures.with_latency(&latency)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(text: &str) -> PodMetrics {
        PodMetrics::parse(&format!("{text}\n# EOF\n")).unwrap()
    }

    fn answers(ok: u32, failed: u32, route: &str) -> String {
        format!(
            "# TYPE calculator_operation_answers counter\n\
             calculator_operation_answers_total{{operation=\"sum\",route=\"{route}\",outcome=\"ok\"}} {ok}\n\
             calculator_operation_answers_total{{operation=\"sum\",route=\"{route}\",outcome=\"failed\"}} {failed}\n\
             calculator_operation_answers_total{{operation=\"division\",route=\"{route}\",outcome=\"ok\"}} 1000"
        )
    }

    #[test]
    fn inside_counts_what_each_pod_s_counters_grew_by() {
        let before: Reading = [
            ("m-1".to_owned(), pod(&answers(10, 0, "service"))),
            ("m-2".to_owned(), pod(&answers(100, 5, "service"))),
        ]
        .into();
        let after: Reading = [
            ("m-1".to_owned(), pod(&answers(30, 1, "service"))),
            // Restarted: its counters start over.
            ("m-2".to_owned(), pod(&answers(4, 0, "service"))),
            // New: all of it is in the window.
            ("m-3".to_owned(), pod(&answers(5, 0, "service"))),
        ]
        .into();
        let window = Window::inside("sum", &before, &after);
        assert_eq!(
            (window.service.answered, window.service.failed),
            (20 + 1 + 4 + 5, 1)
        );
        assert!((window.service.error_rate() - 100.0 / 30.0).abs() < 1e-9);
        assert_eq!(window.monolith.answered, 0);
    }

    #[test]
    fn inside_reads_latency_and_comparisons() {
        let text = |fast: u32, slow: u32, matched: u32, mismatched: u32| {
            format!(
                "# TYPE calculator_operation_duration_seconds histogram\n\
                 calculator_operation_duration_seconds_bucket{{le=\"0.001\",operation=\"sum\",route=\"in-process\"}} {fast}\n\
                 calculator_operation_duration_seconds_bucket{{le=\"0.1\",operation=\"sum\",route=\"in-process\"}} {}\n\
                 calculator_operation_duration_seconds_bucket{{le=\"+Inf\",operation=\"sum\",route=\"in-process\"}} {}\n\
                 # TYPE calculator_shadow_comparisons counter\n\
                 calculator_shadow_comparisons_total{{operation=\"sum\",result=\"match\"}} {matched}\n\
                 calculator_shadow_comparisons_total{{operation=\"sum\",result=\"mismatch\"}} {mismatched}",
                fast + slow,
                fast + slow
            )
        };
        let before: Reading = [("m".to_owned(), pod(&text(1000, 0, 50, 0)))].into();
        let after: Reading = [("m".to_owned(), pod(&text(1098, 2, 250, 3)))].into();
        let window = Window::inside("sum", &before, &after);
        assert_eq!(
            (window.comparisons.compared(), window.comparisons.mismatched),
            (203, 3)
        );
        // 98 of the window's 100 under 1 ms: the median is there, the 99th is in (1, 100] ms.
        assert!(window.monolith.p50_ms.unwrap() <= 1.0);
        let p99 = window.monolith.p99_ms.unwrap();
        assert!(p99 > 1.0 && p99 <= 100.0, "{p99}");
    }

    #[test]
    fn the_edge_compares_each_side_s_own_http_answers() {
        let http = |ok: u32, errors: u32, refused: u32| {
            pod(&format!(
                "# TYPE calculator_http_requests counter\n\
                 calculator_http_requests_total{{path=\"/sum/{{a}}/{{b}}\",status=\"200\"}} {ok}\n\
                 calculator_http_requests_total{{path=\"/sum/{{a}}/{{b}}\",status=\"500\"}} {errors}\n\
                 calculator_http_requests_total{{path=\"/sum/{{a}}/{{b}}\",status=\"400\"}} {refused}\n\
                 calculator_http_requests_total{{path=\"/api/calculate\",status=\"200\"}} 999"
            ))
        };
        let monolith: (Reading, Reading) = (
            [("m".to_owned(), http(100, 0, 0))].into(),
            [("m".to_owned(), http(190, 0, 10))].into(),
        );
        let service: (Reading, Reading) = (
            [("s".to_owned(), http(0, 0, 0))].into(),
            [("s".to_owned(), http(9, 1, 0))].into(),
        );
        let window = Window::edge(
            "/sum/{a}/{b}",
            (&monolith.0, &monolith.1),
            (&service.0, &service.1),
        );
        assert_eq!(
            (
                window.monolith.answered,
                window.monolith.rejected,
                window.monolith.failed
            ),
            (100, 10, 0)
        );
        assert_eq!((window.service.answered, window.service.failed), (10, 1));
        assert_eq!(window.service.error_rate(), 10.0);
    }
}
