//! What the node groups and lanes cost: from AWS Cost Explorer's daily costs per
//! `eks:nodegroup-name` tag where it answers, else an estimate — the price file's on-demand price
//! of each running node's instance type and OS times the hours in a month. Pure data: the
//! Cost Explorer call is in `eks::cost`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ClusterSnapshot, NodeOs, NodeTile};

/// The price file the console carries (`manifests/prices.yaml`).
pub const BUILT_IN_PRICES: &str = include_str!("../../../manifests/prices.yaml");

/// On-demand prices per region, instance type and OS, with where they came from.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PriceList {
    /// The day the figures were read.
    pub as_of: String,
    /// Where they were read.
    pub source: String,
    /// `USD`.
    pub currency: String,
    /// Hours in a month for monthly figures (AWS uses 730).
    #[serde(default = "hours_per_month")]
    pub hours_per_month: f64,
    /// Region → instance type → prices per hour.
    pub regions: BTreeMap<String, BTreeMap<String, OsPrices>>,
}

fn hours_per_month() -> f64 {
    730.0
}

/// One instance type's price per hour, per OS.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OsPrices {
    /// Linux.
    pub linux: f64,
    /// Windows, licence included.
    pub windows: f64,
}

/// Why a price file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PriceFileError {
    /// Not YAML of the expected shape.
    #[error(
        "{path}: {source}. The file needs asOf, source, currency and regions: REGION: TYPE: {{linux: PRICE, windows: PRICE}} (see manifests/prices.yaml)."
    )]
    Shape {
        /// The file.
        path: String,
        /// serde_yaml's words, with the line.
        source: serde_yaml::Error,
    },
    /// A price that cannot be one.
    #[error("{path}: {what} is {price}: prices are dollars per hour, zero or more.")]
    BadPrice {
        /// The file.
        path: String,
        /// Region and type.
        what: String,
        /// The figure.
        price: f64,
    },
}

impl PriceList {
    /// Reads a price file's text; `path` names it in errors.
    pub fn parse(text: &str, path: &str) -> Result<PriceList, PriceFileError> {
        let list: PriceList =
            serde_yaml::from_str(text).map_err(|source| PriceFileError::Shape {
                path: path.to_owned(),
                source,
            })?;
        for (region, types) in &list.regions {
            for (instance_type, prices) in types {
                for (os, price) in [("linux", prices.linux), ("windows", prices.windows)] {
                    if !price.is_finite() || price < 0.0 {
                        return Err(PriceFileError::BadPrice {
                            path: path.to_owned(),
                            what: format!("{region} {instance_type} {os}"),
                            price,
                        });
                    }
                }
            }
        }
        Ok(list)
    }

    /// The copy built into the console.
    pub fn built_in() -> PriceList {
        // The build's own file: a broken copy fails the unit test below, never a user.
        PriceList::parse(BUILT_IN_PRICES, "manifests/prices.yaml (built in)").unwrap_or_else(|_| {
            PriceList {
                as_of: String::new(),
                source: String::new(),
                currency: "USD".into(),
                hours_per_month: hours_per_month(),
                regions: BTreeMap::new(),
            }
        })
    }

    /// The price per hour of `instance_type` running `os` in `region`.
    pub fn hourly(&self, region: &str, instance_type: &str, os: &NodeOs) -> Option<OsPrices> {
        let prices = self.regions.get(region)?.get(instance_type)?;
        match os {
            NodeOs::Linux | NodeOs::Windows => Some(*prices),
            NodeOs::Other(_) => None,
        }
    }
}

/// Where a cost figure came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CostSource {
    /// AWS Cost Explorer, by the `eks:nodegroup-name` tag.
    CostExplorer,
    /// The price file times the nodes running.
    Estimate,
}

/// What one node group costs.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupCost {
    /// The node group.
    pub group: String,
    /// Its OS.
    pub os: NodeOs,
    /// Its nodes on the board.
    pub nodes: usize,
    /// The monthly run rate: Cost Explorer's last day × the days in a month, or the estimate.
    pub monthly: f64,
    /// What the last 30 days cost (Cost Explorer only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_30_days: Option<f64>,
    /// The Windows licence's part of the monthly figure (the price file's Windows − Linux
    /// difference), for Windows groups whose types it prices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub windows_licence_monthly: Option<f64>,
    /// Where the figures came from.
    pub source: CostSource,
    /// How they were computed, in words.
    pub basis: String,
}

/// What a lane costs a month: the sum of its groups.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LaneCost {
    /// The lane.
    pub os: NodeOs,
    /// Its groups' monthly figures added up.
    pub monthly: f64,
    /// Of which Windows licences.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub windows_licence_monthly: Option<f64>,
    /// Cost Explorer when every group's figure is from it, else estimate.
    pub source: CostSource,
}

/// The costs of a cluster's node groups and lanes.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CostReport {
    /// `USD`.
    pub currency: String,
    /// Per node group.
    pub groups: Vec<GroupCost>,
    /// Per lane.
    pub lanes: Vec<LaneCost>,
    /// Why the figures are an estimate, where Cost Explorer was asked and could not answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_explorer: Option<String>,
    /// The price file's date and source.
    pub prices: String,
}

impl CostReport {
    /// One group's figures.
    pub fn group(&self, name: &str) -> Option<&GroupCost> {
        self.groups.iter().find(|g| g.group == name)
    }

    /// One lane's figures.
    pub fn lane(&self, os: &NodeOs) -> Option<&LaneCost> {
        self.lanes.iter().find(|l| &l.os == os)
    }
}

/// `$1,234` (whole dollars from $10 up: cents would claim a precision monthly figures do not
/// have), `$5.39` below.
pub fn dollars(amount: f64) -> String {
    if amount.abs() < 10.0 && amount.fract() != 0.0 {
        return format!("${:.2}", amount.max(0.0));
    }
    let whole = amount.round().max(0.0) as u64;
    let digits = whole.to_string();
    let mut out = String::with_capacity(digits.len() + 4);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("${out}")
}

/// The region a node runs in: its `topology.kubernetes.io/region` label, else its zone's.
fn region_of(node: &NodeTile) -> Option<String> {
    if let Some(region) = node.labels.get("topology.kubernetes.io/region") {
        return Some(region.clone());
    }
    let zone = node.labels.get("topology.kubernetes.io/zone")?;
    Some(
        zone.trim_end_matches(|c: char| c.is_ascii_alphabetic())
            .to_owned(),
    )
    .filter(|r| !r.is_empty())
}

/// The estimate of each group on the board: every node's hourly price by its instance type,
/// OS and region, times the hours in a month.
pub fn estimate(
    snapshot: &ClusterSnapshot,
    prices: &PriceList,
    why_not_cost_explorer: Option<String>,
) -> CostReport {
    let mut groups = Vec::new();
    for lane in &snapshot.lanes {
        for group in &lane.groups {
            let mut hourly = 0.0;
            let mut licence = 0.0;
            let mut by_type: BTreeMap<String, usize> = BTreeMap::new();
            let mut unpriced: BTreeMap<String, usize> = BTreeMap::new();
            for node in &group.nodes {
                let instance_type = node.instance_type.clone().unwrap_or_else(|| "?".into());
                let region = region_of(node).unwrap_or_else(|| "?".into());
                match prices.hourly(&region, &instance_type, &node.os) {
                    Some(p) => {
                        let (price, extra) = match node.os {
                            NodeOs::Windows => (p.windows, p.windows - p.linux),
                            _ => (p.linux, 0.0),
                        };
                        hourly += price;
                        licence += extra;
                        *by_type
                            .entry(format!("{instance_type} in {region}"))
                            .or_default() += 1;
                    }
                    None => {
                        *unpriced
                            .entry(format!("{instance_type} in {region}"))
                            .or_default() += 1
                    }
                }
            }
            let mut basis = format!(
                "estimate: {} × {} h at on-demand prices ({})",
                if by_type.is_empty() {
                    "no priced node".to_owned()
                } else {
                    by_type
                        .iter()
                        .map(|(t, n)| format!("{n} {t}"))
                        .collect::<Vec<_>>()
                        .join(" + ")
                },
                prices.hours_per_month,
                prices.as_of
            );
            if !unpriced.is_empty() {
                basis.push_str(&format!(
                    "; not counted, no price in the price file: {}",
                    unpriced
                        .iter()
                        .map(|(t, n)| format!("{n} {t}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            groups.push(GroupCost {
                group: group.name.clone(),
                os: lane.os.clone(),
                nodes: group.nodes.len(),
                monthly: hourly * prices.hours_per_month,
                last_30_days: None,
                windows_licence_monthly: (lane.os == NodeOs::Windows && !by_type.is_empty())
                    .then_some(licence * prices.hours_per_month),
                source: CostSource::Estimate,
                basis,
            });
        }
    }
    report(groups, prices, why_not_cost_explorer)
}

fn report(groups: Vec<GroupCost>, prices: &PriceList, cost_explorer: Option<String>) -> CostReport {
    let mut lanes: Vec<LaneCost> = Vec::new();
    for g in &groups {
        match lanes.iter_mut().find(|l| l.os == g.os) {
            Some(lane) => {
                lane.monthly += g.monthly;
                if g.source == CostSource::Estimate {
                    lane.source = CostSource::Estimate;
                }
                if let Some(l) = g.windows_licence_monthly {
                    *lane.windows_licence_monthly.get_or_insert(0.0) += l;
                }
            }
            None => lanes.push(LaneCost {
                os: g.os.clone(),
                monthly: g.monthly,
                windows_licence_monthly: g.windows_licence_monthly,
                source: g.source,
            }),
        }
    }
    CostReport {
        currency: prices.currency.clone(),
        groups,
        lanes,
        cost_explorer,
        prices: format!("{} as of {}", prices.source, prices.as_of),
    }
}

/// Why Cost Explorer's answer gives no node group a cost: no cost carries the tag.
pub fn tag_not_active(cluster: &str) -> String {
    format!(
        "Cost Explorer has no cost of cluster {cluster} under the eks:nodegroup-name tag: activate it as a cost allocation tag (Billing console, Cost allocation tags; or aws ce update-cost-allocation-tags-status --cost-allocation-tags-status TagKey=eks:nodegroup-name,Status=Active); costs carry it from about a day later"
    )
}

/// The figures the board shows: Cost Explorer's answer for `cluster` where it has one (`days`),
/// the estimate elsewhere, with the reason Cost Explorer did not serve.
pub fn combine(
    estimate: CostReport,
    cluster: &str,
    days: Option<&Result<Vec<DayCost>, String>>,
    prices: &PriceList,
) -> CostReport {
    let why = match days {
        None => return estimate,
        Some(Err(why)) => why.clone(),
        Some(Ok(days)) => match from_cost_explorer(days, &estimate, prices) {
            Some(report) => return report,
            None => tag_not_active(cluster),
        },
    };
    CostReport {
        cost_explorer: Some(why),
        ..estimate
    }
}

/// One day's cost of one node group, as Cost Explorer grouped it.
#[derive(Clone, Debug, PartialEq)]
pub struct DayCost {
    /// `2026-12-06`.
    pub day: String,
    /// The `eks:nodegroup-name` tag's value; empty for costs without the tag.
    pub group: String,
    /// Unblended cost.
    pub amount: f64,
}

/// The Cost Explorer figures of the board's node groups (each group's last 30 days, and its
/// last day's cost × the days in a month as the run rate), with the estimate's licence share;
/// groups Cost Explorer has no costs for keep the estimate. `None` when no cost carries the
/// tag at all: the tag is not activated for cost allocation.
pub fn from_cost_explorer(
    days: &[DayCost],
    estimate: &CostReport,
    prices: &PriceList,
) -> Option<CostReport> {
    let tagged: Vec<&DayCost> = days.iter().filter(|d| !d.group.is_empty()).collect();
    if tagged.is_empty() {
        return None;
    }
    let last_day = tagged
        .iter()
        .map(|d| d.day.as_str())
        .max()
        .unwrap_or_default();
    let days_a_month = prices.hours_per_month / 24.0;
    let groups = estimate
        .groups
        .iter()
        .map(|g| {
            let own: Vec<&&DayCost> = tagged.iter().filter(|d| d.group == g.group).collect();
            if own.is_empty() {
                return g.clone();
            }
            let total: f64 = own.iter().map(|d| d.amount).sum();
            let last: f64 = own
                .iter()
                .filter(|d| d.day == last_day)
                .map(|d| d.amount)
                .sum();
            let monthly = last * days_a_month;
            // Cost Explorer does not split the licence out: the price file's share of it does.
            let licence = g
                .windows_licence_monthly
                .filter(|_| g.monthly > 0.0)
                .map(|l| monthly * l / g.monthly);
            GroupCost {
                group: g.group.clone(),
                os: g.os.clone(),
                nodes: g.nodes,
                monthly,
                last_30_days: Some(total),
                windows_licence_monthly: licence,
                source: CostSource::CostExplorer,
                basis: format!(
                    "Cost Explorer: {} over {} day(s) by tag eks:nodegroup-name; run rate {} on {last_day} × {days_a_month:.1} days",
                    dollars(total),
                    own.len(),
                    dollars(last)
                ),
            }
        })
        .collect();
    Some(report(groups, prices, None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Node;
    use serde_json::json;

    fn node(name: &str, os: &str, instance_type: &str) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {
                "kubernetes.io/os": os,
                "eks.amazonaws.com/nodegroup": os,
                "node.kubernetes.io/instance-type": instance_type,
                "topology.kubernetes.io/zone": "us-west-2a",
            }},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        }))
        .expect("a node")
    }

    #[test]
    fn the_built_in_price_file_reads_and_bad_ones_are_named() {
        let list = PriceList::parse(BUILT_IN_PRICES, "prices.yaml").expect("built-in prices");
        let t3 = list
            .hourly("us-west-2", "t3.large", &NodeOs::Windows)
            .expect("t3.large in us-west-2");
        assert_eq!((t3.linux, t3.windows), (0.0832, 0.1108));
        let err = PriceList::parse(
            "asOf: x\nsource: y\ncurrency: USD\nregions: {r: {t: {linux: -1, windows: 1}}}",
            "p.yaml",
        )
        .expect_err("negative");
        assert_eq!(
            err.to_string(),
            "p.yaml: r t linux is -1: prices are dollars per hour, zero or more."
        );
        let err = PriceList::parse("asOf: x\nregions: []", "p.yaml").expect_err("shape");
        assert!(err.to_string().starts_with("p.yaml: "), "{err}");
        assert_eq!(dollars(1234.5), "$1,235");
        assert_eq!(dollars(5.387), "$5.39");
        assert_eq!(dollars(11.0), "$11");
    }

    #[test]
    fn the_estimate_prices_each_node_and_names_what_it_cannot() {
        let nodes = [
            node("win-1", "windows", "t3.large"),
            node("win-2", "windows", "x9.huge"),
            node("lin-1", "linux", "t3.medium"),
        ];
        let snapshot = ClusterSnapshot::build(&nodes, &[], &[], &[], None);
        let prices = PriceList::built_in();
        let report = estimate(&snapshot, &prices, Some("not asked".into()));
        let group = report.group("windows").expect("windows group");
        assert!((group.monthly - 0.1108 * 730.0).abs() < 1e-6);
        assert!((group.windows_licence_monthly.expect("licence") - 0.0276 * 730.0).abs() < 1e-6);
        assert!(
            group.basis.contains("1 t3.large in us-west-2")
                && group
                    .basis
                    .contains("not counted, no price in the price file: 1 x9.huge in us-west-2"),
            "{}",
            group.basis
        );
        let lane = report.lane(&NodeOs::Linux).expect("linux lane");
        assert!((lane.monthly - 0.0416 * 730.0).abs() < 1e-6);

        // Cost Explorer's figures replace the estimate where the tag carries them.
        let days = [
            DayCost {
                day: "2026-12-05".into(),
                group: "windows".into(),
                amount: 3.0,
            },
            DayCost {
                day: "2026-12-06".into(),
                group: "windows".into(),
                amount: 2.0,
            },
            DayCost {
                day: "2026-12-06".into(),
                group: String::new(),
                amount: 9.0,
            },
        ];
        let measured = from_cost_explorer(&days, &report, &prices).expect("tagged costs");
        let group = measured.group("windows").expect("windows");
        assert_eq!(group.source, CostSource::CostExplorer);
        assert_eq!(group.last_30_days, Some(5.0));
        assert!((group.monthly - 2.0 * 730.0 / 24.0).abs() < 1e-9);
        assert_eq!(
            measured.group("linux").expect("linux").source,
            CostSource::Estimate
        );
        // Nothing tagged: the tag is not active.
        assert_eq!(from_cost_explorer(&days[2..], &report, &prices), None);
    }
}
