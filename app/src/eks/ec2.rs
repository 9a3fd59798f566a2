//! EC2's facts about instance types, from `DescribeInstanceTypes`: what bounds Windows pods (IPv4
//! addresses per interface, Nitro), architecture, size and generation. Asked once per region and
//! type and kept for the process's life (EC2 changes these facts only for new types).
//!
//! Why not `aws-sdk-ec2`: that crate alone takes about 250 s of one core to compile (measured on
//! this project's 2-core machine, BENCHMARKS.md), for one read-only call, on every first build and
//! CI run. The call is EC2's Query protocol: a form POST signed with SigV4 by `aws-sigv4` (the
//! SDK's own signer, as the EKS token is) and an XML answer read with `roxmltree`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

use super::{Aws, AwsError};
use crate::model::instance_types::{InstanceCatalog, InstanceTypeFacts};

/// EC2's Query API version.
const API_VERSION: &str = "2016-11-15";

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(10);

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
            Err(AwsError::Ec2(words)) if words.contains("InvalidInstanceType") => {
                let mut known = BTreeMap::new();
                for name in names {
                    match self.describe_page(std::slice::from_ref(name)).await {
                        Ok(one) => known.extend(one),
                        Err(AwsError::Ec2(w)) if w.contains("InvalidInstanceType") => {}
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
            let page = parse_answer(&answer).map_err(AwsError::Ec2)?;
            facts.extend(page.facts.into_iter().map(|f| (f.name.clone(), f)));
            match page.next_token {
                Some(token) if !token.is_empty() => next_token = Some(token),
                _ => return Ok(facts),
            }
        }
    }

    /// EC2's endpoint: `AWS_ENDPOINT_URL_EC2`, else the configured endpoint (`AWS_ENDPOINT_URL`),
    /// else the region's.
    fn ec2_endpoint(&self) -> String {
        if let Ok(url) = std::env::var("AWS_ENDPOINT_URL_EC2") {
            return url;
        }
        if let Some(url) = self.endpoint_url() {
            return url.to_owned();
        }
        let suffix = if self.region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        format!("https://ec2.{}.{suffix}/", self.region)
    }

    /// Signs and sends one Query API call; the XML answer, or the error EC2 gave.
    async fn ec2_call(&self, body: String) -> Result<String, AwsError> {
        let endpoint = self.ec2_endpoint();
        let url = reqwest::Url::parse(&endpoint)
            .map_err(|e| AwsError::Invalid(format!("EC2 endpoint {endpoint:?}: {e}")))?;
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => {
                return Err(AwsError::Invalid(format!(
                    "EC2 endpoint {endpoint:?} names no host"
                )));
            }
        };
        let credentials = self.credentials().await?;
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("ec2")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| AwsError::Ec2(format!("cannot sign the request: {e}")))?
            .into();
        let content_type = "application/x-www-form-urlencoded; charset=utf-8";
        let headers = [("content-type", content_type), ("host", host.as_str())];
        let signable = SignableRequest::new(
            "POST",
            url.as_str(),
            headers.into_iter(),
            SignableBody::Bytes(body.as_bytes()),
        )
        .map_err(|e| AwsError::Ec2(format!("cannot sign the request: {e}")))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| AwsError::Ec2(format!("cannot sign the request: {e}")))?
            .into_parts();
        // reqwest is built without a crypto provider of its own: the console's rustls uses ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| AwsError::Ec2(format!("cannot make an HTTP client: {e}")))?;
        let mut request = client
            .post(url)
            .header("content-type", content_type)
            .body(body);
        for (name, value) in instructions.headers() {
            request = request.header(name, value);
        }
        let unreachable = |e: reqwest::Error| {
            AwsError::Ec2(format!(
                "cannot reach it in {} at {endpoint}: {}. Check the network, or AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL if you set them",
                self.region,
                deepest(&e)
            ))
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let text = response.text().await.map_err(unreachable)?;
        if status.is_success() {
            return Ok(text);
        }
        let (code, message) = ec2_error(&text).unwrap_or_else(|| {
            (
                format!("HTTP {status}"),
                text.chars().take(200).collect::<String>(),
            )
        });
        Err(self.classify(&format!("{code}: {message}")).into_ec2())
    }
}

impl AwsError {
    /// The same error, its words saying it came from EC2 and which permission is missing.
    fn into_ec2(self) -> AwsError {
        match self {
            AwsError::AccessDenied(words) => {
                AwsError::AccessDenied(format!("ec2:DescribeInstanceTypes ({words})"))
            }
            AwsError::Service(words) => AwsError::Ec2(words),
            other => other,
        }
    }
}

/// The innermost cause of an error, which says what went wrong (not "error sending request").
fn deepest(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
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

/// The code and message of EC2's error answer (`<Response><Errors><Error><Code>…`).
fn ec2_error(xml: &str) -> Option<(String, String)> {
    let document = roxmltree::Document::parse(xml).ok()?;
    let error = document.descendants().find(|n| n.has_tag_name("Error"))?;
    Some((
        text_of(error, &["Code"])?.to_owned(),
        text_of(error, &["Message"]).unwrap_or_default().to_owned(),
    ))
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
        assert_eq!(
            ec2_error(error),
            Some((
                "UnauthorizedOperation".into(),
                "You are not authorized to perform this operation.".into()
            ))
        );
        assert!(parse_answer(error).is_err());
    }
}
