//! The numbers a progressive move is judged by: each pod's `/metrics` read ([`scrape`]) or the
//! same series from a Prometheus ([`promql`]), what they grew by over a step's window summed
//! over the pods ([`window`]), and the step's verdict against the plan's allowances
//! ([`judge`]). Pure: the readings come in as text.

mod judge;
pub mod promql;
mod scrape;
mod window;

pub use judge::{Breach, Number, Progression, StepState, Thresholds};
pub use scrape::{Histogram, PodMetrics, ScrapeError};
pub use window::{ComparisonFigures, Reading, RouteFigures, Window};
