//! EC2's facts about instance types, from `DescribeInstanceTypes`: what bounds Windows pods (IPv4
//! addresses per interface, Nitro), architecture, size and generation. Asked once per region and
//! type and kept for the process's life (EC2 changes these facts only for new types).
//!
//! Why not `aws-sdk-ec2`: that crate alone takes about 250 s of one core to compile (measured on
//! this project's 2-core machine, BENCHMARKS.md), for one read-only call, on every first build and
//! CI run. The call is EC2's Query protocol: a form POST signed by [`super::signed_call`] and an
//! XML answer read with `roxmltree`.

use super::signed_call::Call;
use super::{Aws, AwsError};
use crate::model::instance_types::{InstanceCatalog, InstanceTypeFacts};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};

/// EC2's Query API version.
const API_VERSION: &str = "2016-11-15";

/// Facts read so far, by region and type.
fn cache() -> &'static Mutex<HashMap<(String, String), InstanceTypeFacts>> {
    static CACHE: OnceLock<Mutex<HashMap<(String, String), InstanceTypeFacts>>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

impl Aws {
    /// What EC2 says of `names` in this region; a type EC2 does not know is left out, and when
    /// EC2 cannot be asked the catalog says why (callers fall back to what nodes advertise).
    pub async fn instance_types(&self, names: &[String]) -> InstanceCatalog {
        let mut catalog = InstanceCatalog::default();
        let mut missing = Vec::new();
        if let Ok(cache) = cache().lock() {
            for name in names {
                match cache.get(&(self.region.clone(), name.clone())) {
                    Some(facts) => {
                        catalog.facts.insert(name.clone(), facts.clone());
                    }
                    None if !missing.contains(name) => missing.push(name.clone()),
                    None => {}
                }
            }
        }
        if missing.is_empty() {
            return catalog;
        }
        match self.describe_instance_types(&missing).await {
            Ok(read) => {
                if let Ok(mut cache) = cache().lock() {
                    for facts in read.values() {
                        cache.insert((self.region.clone(), facts.name.clone()), facts.clone());
                    }
                }
                catalog.facts.extend(read);
            }
            Err(why) => {
                tracing::warn!(%why, "EC2 DescribeInstanceTypes");
                catalog.unavailable = Some(why.to_string());
            }
        }
        catalog
    }

    /// One `DescribeInstanceTypes` per page. Types EC2 does not know are asked one by one so
    /// that one unknown name does not hide the others' facts.
    async fn describe_instance_types(
        &self,
        names: &[String],
    ) -> Result<BTreeMap<String, InstanceTypeFacts>, AwsError> {
        match self.describe_page(names).await {
            Err(AwsError::Api { words, .. }) if words.contains("InvalidInstanceType") => {
                let mut known = BTreeMap::new();
                for name in names {
                    match self.describe_page(std::slice::from_ref(name)).await {
                        Ok(one) => known.extend(one),
                        Err(AwsError::Api { words, .. })
                            if words.contains("InvalidInstanceType") => {}
                        Err(other) => return Err(other),
                    }
                }
                Ok(known)
            }
            other => other,
        }
    }

    async fn describe_page(
        &self,
        names: &[String],
    ) -> Result<BTreeMap<String, InstanceTypeFacts>, AwsError> {
        let mut facts = BTreeMap::new();
        let mut next_token: Option<String> = None;
        loop {
            let body = query_body(names, next_token.as_deref());
            let answer = self.ec2_call(body).await?;
            let page = parse_answer(&answer).map_err(|words| AwsError::Api {
                service: "EC2",
                words,
            })?;
            facts.extend(page.facts.into_iter().map(|f| (f.name.clone(), f)));
            match page.next_token {
                Some(token) if !token.is_empty() => next_token = Some(token),
                _ => return Ok(facts),
            }
        }
    }

    /// Signs and sends one Query API call; the XML answer, or the error EC2 gave.
    async fn ec2_call(&self, body: String) -> Result<String, AwsError> {
        let answer = self
            .signed_post(Call {
                service: "ec2",
                label: "EC2",
                region: &self.region,
                endpoint_variable: "AWS_ENDPOINT_URL_EC2",
                host_prefix: "ec2",
                content_type: "application/x-www-form-urlencoded; charset=utf-8",
                headers: Vec::new(),
                body,
            })
            .await?;
        if (200..300).contains(&answer.status) {
            return Ok(answer.body);
        }
        Err(self.refusal("EC2", "ec2:DescribeInstanceTypes", &answer))
    }
}

/// The form of one `DescribeInstanceTypes` call.
fn query_body(names: &[String], next_token: Option<&str>) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("Action", "DescribeInstanceTypes")
        .append_pair("Version", API_VERSION);
    for (i, name) in names.iter().enumerate() {
        form.append_pair(&format!("InstanceType.{}", i + 1), name);
    }
    if let Some(token) = next_token {
        form.append_pair("NextToken", token);
    }
    form.finish()
}

/// One page of `DescribeInstanceTypes`.
struct Page {
    facts: Vec<InstanceTypeFacts>,
    next_token: Option<String>,
}

/// The first child of `node` named `name`.
fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.children().find(|c| c.tag_name().name() == name)
}

fn text_of<'a>(node: roxmltree::Node<'a, '_>, path: &[&str]) -> Option<&'a str> {
    let mut at = node;
    for step in path {
        at = child(at, step)?;
    }
    at.text()
}

fn number<T: std::str::FromStr>(node: roxmltree::Node<'_, '_>, path: &[&str]) -> Option<T> {
    text_of(node, path)?.trim().parse().ok()
}

fn parse_answer(xml: &str) -> Result<Page, String> {
    let document =
        roxmltree::Document::parse(xml).map_err(|e| format!("EC2 answered with bad XML: {e}"))?;
    let root = document.root_element();
    let set = child(root, "instanceTypeSet")
        .ok_or("EC2's DescribeInstanceTypes answer has no instanceTypeSet")?;
    let mut facts = Vec::new();
    for item in set.children().filter(|c| c.has_tag_name("item")) {
        let Some(name) = text_of(item, &["instanceType"]) else {
            continue;
        };
        facts.push(InstanceTypeFacts {
            name: name.to_owned(),
            max_interfaces: number(item, &["networkInfo", "maximumNetworkInterfaces"]).unwrap_or(1),
            ipv4_per_interface: number(item, &["networkInfo", "ipv4AddressesPerInterface"])
                .unwrap_or(1),
            nitro: text_of(item, &["hypervisor"]) == Some("nitro")
                || text_of(item, &["bareMetal"]) == Some("true"),
            architectures: child(item, "processorInfo")
                .and_then(|p| child(p, "supportedArchitectures"))
                .map(|a| {
                    a.children()
                        .filter(|c| c.has_tag_name("item"))
                        .filter_map(|c| c.text())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            vcpus: number(item, &["vCpuInfo", "defaultVCpus"]).unwrap_or(0),
            memory_mib: number(item, &["memoryInfo", "sizeInMiB"]).unwrap_or(0),
            current_generation: text_of(item, &["currentGeneration"]) == Some("true"),
            ena_support: text_of(item, &["networkInfo", "enaSupport"])
                .unwrap_or("unsupported")
                .to_owned(),
        });
    }
    Ok(Page {
        facts,
        next_token: text_of(root, &["nextToken"]).map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec2s_answer_and_errors_are_read() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstanceTypesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>1</requestId>
  <instanceTypeSet>
    <item>
      <instanceType>m4.large</instanceType><currentGeneration>false</currentGeneration>
      <bareMetal>false</bareMetal><hypervisor>xen</hypervisor>
      <processorInfo><supportedArchitectures><item>x86_64</item></supportedArchitectures></processorInfo>
      <vCpuInfo><defaultVCpus>2</defaultVCpus></vCpuInfo><memoryInfo><sizeInMiB>8192</sizeInMiB></memoryInfo>
      <networkInfo><maximumNetworkInterfaces>2</maximumNetworkInterfaces><networkCards><item><maximumNetworkInterfaces>2</maximumNetworkInterfaces></item></networkCards>
      <ipv4AddressesPerInterface>10</ipv4AddressesPerInterface><enaSupport>unsupported</enaSupport></networkInfo>
    </item>
  </instanceTypeSet>
  <nextToken>abc</nextToken>
</DescribeInstanceTypesResponse>"#;
        let page = parse_answer(xml).expect("parses");
        assert_eq!(page.next_token.as_deref(), Some("abc"));
        let m4 = &page.facts[0];
        assert_eq!(
            (m4.name.as_str(), m4.max_interfaces, m4.ipv4_per_interface),
            ("m4.large", 2, 10)
        );
        assert!(m4.is_legacy_for_windows() && !m4.nitro && !m4.is_arm());
        assert_eq!((m4.vcpus, m4.memory_mib), (2, 8192));
        let error = r#"<?xml version="1.0"?><Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>x</RequestID></Response>"#;
        assert!(parse_answer(error).is_err());
    }
}
