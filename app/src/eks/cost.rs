//! What AWS Cost Explorer says the node groups cost: `GetCostAndUsage`, daily unblended cost of
//! the last 30 days grouped by the `eks:nodegroup-name` cost allocation tag (EKS puts it on
//! managed node groups' instances), filtered to one cluster by `eks:cluster-name`. When Cost
//! Explorer cannot answer, the reason says what to do (the permission to ask for, the tag to
//! activate) and the caller falls back to the price file's estimate.

use serde::Deserialize;
use serde_json::json;

use super::Aws;
use super::signed_call::Call;
use crate::model::cost::{CostReport, DayCost, PriceList, combine};

/// The tag Cost Explorer groups by.
pub const NODE_GROUP_TAG: &str = "eks:nodegroup-name";

/// The days asked for.
const DAYS: i64 = 30;

/// `GetCostAndUsage`'s answer, as much of it as is read.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CostAndUsage {
    #[serde(default)]
    results_by_time: Vec<ResultByTime>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResultByTime {
    time_period: Option<Period>,
    #[serde(default)]
    groups: Vec<Group>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Period {
    start: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Group {
    #[serde(default)]
    keys: Vec<String>,
    #[serde(default)]
    metrics: std::collections::BTreeMap<String, Metric>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Metric {
    amount: Option<String>,
}

impl Aws {
    /// Each node group's daily cost over the last 30 days before `today` (UTC), or why Cost
    /// Explorer could not say.
    ///
    /// One JSON call signed as the SDK signs it (`signed_call`), not the Cost Explorer SDK crate:
    /// the crate sat on the first build's critical path (BENCHMARKS.md, "Time to first window").
    pub async fn node_group_costs(
        &self,
        cluster: &str,
        today: jiff::civil::Date,
    ) -> Result<Vec<DayCost>, String> {
        let start = today
            .checked_sub(jiff::Span::new().days(DAYS))
            .map_err(|e| e.to_string())?;
        // Cost Explorer has one endpoint per partition, in us-east-1 (cn-northwest-1 in China).
        let region = if self.region.starts_with("cn-") {
            "cn-northwest-1"
        } else {
            "us-east-1"
        };
        let mut days = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut request = json!({
                "TimePeriod": {"Start": start.to_string(), "End": today.to_string()},
                "Granularity": "DAILY",
                "Metrics": ["UnblendedCost"],
                "GroupBy": [{"Type": "TAG", "Key": NODE_GROUP_TAG}],
                "Filter": {"Tags": {
                    "Key": "eks:cluster-name",
                    "Values": [cluster],
                    "MatchOptions": ["EQUALS"],
                }},
            });
            if let Some(token) = page_token.take() {
                request["NextPageToken"] = json!(token);
            }
            let answer = self
                .signed_post(Call {
                    service: "ce",
                    label: "Cost Explorer",
                    region,
                    endpoint_variable: "AWS_ENDPOINT_URL_COST_EXPLORER",
                    host_prefix: "ce",
                    content_type: "application/x-amz-json-1.1",
                    headers: vec![("x-amz-target", "AWSInsightsIndexService.GetCostAndUsage")],
                    body: request.to_string(),
                })
                .await
                .map_err(|e| e.to_string())?;
            if !(200..300).contains(&answer.status) {
                return Err(why_not(self, &answer.words()));
            }
            let answer: CostAndUsage = serde_json::from_str(&answer.body).map_err(|e| {
                format!("Cost Explorer's answer to GetCostAndUsage could not be read: {e}")
            })?;
            for result in answer.results_by_time {
                let day = result.time_period.map(|p| p.start).unwrap_or_default();
                for group in result.groups {
                    let Some(key) = group.keys.first() else {
                        continue;
                    };
                    // Tag groups come back as `key$value`; an empty value is untagged cost.
                    let value = key
                        .strip_prefix(NODE_GROUP_TAG)
                        .and_then(|rest| rest.strip_prefix('$'))
                        .unwrap_or(key);
                    let amount = group
                        .metrics
                        .get("UnblendedCost")
                        .and_then(|m| m.amount.as_deref())
                        .and_then(|a| a.parse::<f64>().ok())
                        .unwrap_or(0.0);
                    days.push(DayCost {
                        day: day.clone(),
                        group: value.to_owned(),
                        amount,
                    });
                }
            }
            match answer.next_page_token {
                Some(token) if !token.is_empty() => page_token = Some(token),
                _ => return Ok(days),
            }
        }
    }

    /// The costs of the board's node groups: Cost Explorer's where it answers for `cluster`,
    /// the estimate elsewhere with the reason.
    pub async fn costs(
        &self,
        cluster: &str,
        estimate: CostReport,
        prices: &PriceList,
    ) -> CostReport {
        let today = jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date();
        let days = self.node_group_costs(cluster, today).await;
        combine(estimate, cluster, Some(&days), prices)
    }
}

/// Cost Explorer's refusal in words an operator can act on.
fn why_not(aws: &Aws, text: &str) -> String {
    if text.contains("DataUnavailable") {
        return "Cost Explorer has no data for this account: enable it in the Billing console (Cost Explorer, Launch Cost Explorer); data appears within a day".to_owned();
    }
    match aws.classify(text) {
        super::AwsError::AccessDenied(words) => format!(
            "Cost Explorer refused: this identity may not call ce:GetCostAndUsage ({words}); ask for it (manifests/eks-console-policy.json, statement ReadNodeGroupCostsForLanesAndTheRetireDialog)"
        ),
        super::AwsError::Unreachable { detail, .. } => format!(
            "Cost Explorer could not be reached: {detail}. Check the network, or AWS_ENDPOINT_URL if you set it"
        ),
        other => format!("Cost Explorer could not be asked: {other}"),
    }
}
