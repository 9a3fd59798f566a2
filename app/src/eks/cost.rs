//! What AWS Cost Explorer says the node groups cost: `GetCostAndUsage`, daily unblended cost of
//! the last 30 days grouped by the `eks:nodegroup-name` cost allocation tag (EKS puts it on
//! managed node groups' instances), filtered to one cluster by `eks:cluster-name`. When Cost
//! Explorer cannot answer, the reason says what to do (the permission to ask for, the tag to
//! activate) and the caller falls back to the price file's estimate.

use aws_sdk_costexplorer::types::{
    DateInterval, Expression, Granularity, GroupDefinition, GroupDefinitionType, MatchOption,
    TagValues,
};

use super::Aws;
use crate::model::cost::{CostReport, DayCost, PriceList, combine};

/// The tag Cost Explorer groups by.
pub const NODE_GROUP_TAG: &str = "eks:nodegroup-name";

/// The days asked for.
const DAYS: i64 = 30;

impl Aws {
    /// Each node group's daily cost over the last 30 days before `today` (UTC), or why Cost
    /// Explorer could not say.
    pub async fn node_group_costs(
        &self,
        cluster: &str,
        today: jiff::civil::Date,
    ) -> Result<Vec<DayCost>, String> {
        let start = today
            .checked_sub(jiff::Span::new().days(DAYS))
            .map_err(|e| e.to_string())?;
        let client = aws_sdk_costexplorer::Client::new(self.sdk_config());
        let period = DateInterval::builder()
            .start(start.to_string())
            .end(today.to_string())
            .build()
            .map_err(|e| e.to_string())?;
        let by_group = GroupDefinition::builder()
            .r#type(GroupDefinitionType::Tag)
            .key(NODE_GROUP_TAG)
            .build();
        let this_cluster = Expression::builder()
            .tags(
                TagValues::builder()
                    .key("eks:cluster-name")
                    .values(cluster)
                    .match_options(MatchOption::Equals)
                    .build(),
            )
            .build();
        let mut days = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let answer = client
                .get_cost_and_usage()
                .time_period(period.clone())
                .granularity(Granularity::Daily)
                .metrics("UnblendedCost")
                .group_by(by_group.clone())
                .filter(this_cluster.clone())
                .set_next_page_token(page_token.take())
                .send()
                .await
                .map_err(|e| {
                    // The service's own code and words when the body has them (an emulator or
                    // proxy may answer in XML, which the SDK cannot read); else the SDK's.
                    let text = e
                        .raw_response()
                        .and_then(|r| r.body().bytes())
                        .and_then(super::signed_call::service_words)
                        .unwrap_or_else(|| {
                            aws_smithy_types::error::display::DisplayErrorContext(&e).to_string()
                        });
                    why_not(self, &text)
                })?;
            for result in answer.results_by_time() {
                let day = result
                    .time_period()
                    .map(|p| p.start().to_owned())
                    .unwrap_or_default();
                for group in result.groups() {
                    let Some(key) = group.keys().first() else {
                        continue;
                    };
                    // Tag groups come back as `key$value`; an empty value is untagged cost.
                    let value = key
                        .strip_prefix(NODE_GROUP_TAG)
                        .and_then(|rest| rest.strip_prefix('$'))
                        .unwrap_or(key);
                    let amount = group
                        .metrics()
                        .and_then(|m| m.get("UnblendedCost"))
                        .and_then(|m| m.amount())
                        .and_then(|a| a.parse::<f64>().ok())
                        .unwrap_or(0.0);
                    days.push(DayCost {
                        day: day.clone(),
                        group: value.to_owned(),
                        amount,
                    });
                }
            }
            match answer.next_page_token() {
                Some(token) if !token.is_empty() => page_token = Some(token.to_owned()),
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
        return "Cost Explorer has no data for this account: enable it in the Billing console (Cost Explorer → Launch Cost Explorer); data appears within a day".to_owned();
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
