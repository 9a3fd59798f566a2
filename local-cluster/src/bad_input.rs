//! Property tests of everything the API server reads from a client: label and field selectors,
//! strategic merge patches, Protobuf bodies and EKS bearer tokens. Whatever arrives, each answers
//! with a value or an error — never a panic. Cases proptest finds are kept in
//! `proptest-regressions/bad_input.txt` and tried first on every run.

use proptest::prelude::*;
use prost::Message;
use serde_json::Value;

use crate::selectors::{FieldSelector, LabelSelector};

/// Keys a patch may use, ordinary and directive (`$patch`, `$retainKeys`, …).
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,6}",
        Just("$patch".to_owned()),
        Just("$retainKeys".to_owned()),
        Just("$setElementOrder/containers".to_owned()),
        Just("$deleteFromPrimitiveList/finalizers".to_owned()),
        Just("containers".to_owned()),
        Just("env".to_owned()),
        Just("finalizers".to_owned()),
        Just("name".to_owned()),
        Just("ports".to_owned()),
        Just("containerPort".to_owned()),
    ]
}

/// Any JSON a client might send, a few levels deep.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop_oneof![
            Just("replace".to_owned()),
            Just("delete".to_owned()),
            Just("merge".to_owned()),
            "\\PC{0,8}"
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..5)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Selector text: random, and built from the pieces selectors are made of.
fn selector_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,40}",
        prop::collection::vec(
            prop_oneof![
                "[a-z./-]{0,12}",
                Just("=".to_owned()),
                Just("==".to_owned()),
                Just("!=".to_owned()),
                Just("!".to_owned()),
                Just(",".to_owned()),
                Just(" in ".to_owned()),
                Just(" notin ".to_owned()),
                Just("(".to_owned()),
                Just(")".to_owned()),
                Just("metadata.name".to_owned()),
                Just("spec.nodeName".to_owned()),
                Just("status.phase".to_owned()),
            ],
            0..12
        )
        .prop_map(|parts| parts.concat()),
    ]
}

fn protobuf_envelope(kind: &str, raw: Vec<u8>) -> Vec<u8> {
    use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some("v1".to_owned()),
            kind: Some(kind.to_owned()),
        }),
        raw: Some(raw),
        content_encoding: None,
        content_type: None,
    };
    let mut body = b"k8s\0".to_vec();
    body.extend(unknown.encode_to_vec());
    body
}

/// Every `$patch` value anywhere in `patch`.
fn patch_directives(patch: &Value, found: &mut Vec<String>) {
    match patch {
        Value::Object(map) => {
            if let Some(Value::String(kind)) = map.get("$patch") {
                found.push(kind.clone());
            }
            map.values().for_each(|v| patch_directives(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| patch_directives(v, found)),
        _ => {}
    }
}

/// The reasons a label requirement is refused, in the real server's words.
const LABEL_REASONS: [&str; 6] = [
    "found unexpected word, expected: in, notin, =, ==, !=",
    "found unexpected token, expected: '('",
    "for 'in', 'notin' operators, values set can't be empty",
    "prefix part of ",
    "name part of ",
    "a valid label must be an empty string",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// A label selector that does not parse is refused for one of its own terms, quoted, with
    /// one of the reasons the real server gives.
    #[test]
    fn label_selectors_parse_or_name_the_term_and_the_reason(text in selector_text()) {
        if let Err(e) = LabelSelector::parse(&text) {
            let message = e.to_string();
            let why = message.strip_prefix("unable to parse requirement: ");
            prop_assert!(why.is_some(), "{message}");
            let why = why.unwrap_or_default();
            prop_assert!(LABEL_REASONS.iter().any(|r| why.starts_with(r)), "{message}");
            let terms = crate::selectors::split_terms(&text);
            prop_assert!(
                terms.iter().any(|t| message.ends_with(&format!(": {:?}", t.trim()))),
                "{message} names none of the terms of {text:?}"
            );
        }
    }

    /// Exact refusals for requirements broken in one known way.
    #[test]
    fn a_broken_label_requirement_gets_its_own_refusal(
        key in "[a-z]{1,8}",
        bad_value in "[a-z]{0,4}[@#%^*]{1,3}[a-z]{0,4}",
        value in "[a-z]{1,4}",
        values in "[a-z]{1,4}(,[a-z]{1,4}){0,3}",
    ) {
        let refused = |text: String| LabelSelector::parse(&text).map(|_| ()).map_err(|e| e.to_string());
        prop_assert_eq!(
            refused(format!("{key}={bad_value}")),
            Err(format!(
                "unable to parse requirement: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (value {bad_value:?}): {:?}",
                format!("{key}={bad_value}")
            ))
        );
        // Without parentheses a comma would end the term: one value shows the missing '('.
        prop_assert_eq!(
            refused(format!("{key} in {value}")),
            Err(format!(
                "unable to parse requirement: found unexpected token, expected: '(': {:?}",
                format!("{key} in {value}")
            ))
        );
        prop_assert_eq!(
            refused(format!("{key} within ({values})")),
            Err(format!(
                "unable to parse requirement: found unexpected word, expected: in, notin, =, ==, !=: {:?}",
                format!("{key} within ({values})")
            ))
        );
        prop_assert_eq!(
            refused(format!("{key} notin ()")),
            Err(format!(
                "unable to parse requirement: for 'in', 'notin' operators, values set can't be empty: {:?}",
                format!("{key} notin ()")
            ))
        );
    }

    /// A field selector that does not parse names the term it cannot read, or the field the
    /// kind does not index, as the real server does.
    #[test]
    fn field_selectors_parse_or_name_the_term_or_the_field(text in selector_text()) {
        if let Err(e) = FieldSelector::parse(crate::resources::pods(), &text) {
            let message = e.to_string();
            let terms: Vec<&str> = text.split(',').map(str::trim).filter(|t| !t.is_empty()).collect();
            let unreadable = terms.iter().any(|t| {
                !t.contains('=') && message == format!("invalid selector: '{t}'; can't understand '{t}'")
            });
            let unsupported = terms.iter().any(|t| {
                // The field is what comes before the operator: `!=`, then `==`, then `=`.
                let field = t
                    .split_once("!=")
                    .or_else(|| t.split_once("=="))
                    .or_else(|| t.split_once('='))
                    .map_or("", |(field, _)| field.trim());
                message == format!("field label not supported: {field}")
                    && !["metadata.name", "metadata.namespace", "spec.nodeName", "status.phase"].contains(&field)
            });
            prop_assert!(unreadable || unsupported, "{message} for {text:?}");
        }
    }

    /// A strategic merge patch is refused with 400 BadRequest, for one of two reasons only: it is
    /// not a JSON object, or it names a `$patch` directive that does not exist.
    #[test]
    fn strategic_merge_patches_apply_or_are_refused_for_their_directive(original in json(), patch in json()) {
        if let Err(e) = crate::strategic::apply(&original, &patch) {
            prop_assert_eq!((e.code, e.reason), (400, "BadRequest"), "{:?}", e);
            if patch.is_object() {
                let mut directives = Vec::new();
                patch_directives(&patch, &mut directives);
                prop_assert!(
                    directives.iter().any(|d| e.message == format!("unknown patch type: {d} in map")),
                    "{} for directives {:?}", e.message, directives
                );
            } else {
                prop_assert_eq!(e.message.as_str(), "a strategic merge patch must be a JSON object");
            }
        }
    }

    /// A Protobuf body that does not decode is refused with 400 BadRequest, saying it is the
    /// Protobuf body that cannot be read (and, without the magic, that the magic is missing).
    #[test]
    fn protobuf_bodies_decode_or_are_refused_as_protobuf(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        kind in prop_oneof![Just("Pod"), Just("Deployment"), Just("ConfigMap"), Just("Nope")],
    ) {
        // Bytes as they come, the same after the magic, and inside a well-formed envelope.
        for body in [bytes.clone(), [b"k8s\0".as_slice(), &bytes].concat(), protobuf_envelope(kind, bytes.clone())] {
            if let Err(e) = crate::api::protobuf::decode_any(&body) {
                prop_assert_eq!((e.code, e.reason), (400, "BadRequest"), "{:?}", e);
                prop_assert!(e.message.starts_with("cannot decode the Protobuf body: "), "{}", e.message);
                if !body.starts_with(b"k8s\0") {
                    prop_assert_eq!(
                        e.message.as_str(),
                        "cannot decode the Protobuf body: it does not start with the k8s\\0 magic"
                    );
                }
            }
            if let Err(e) = crate::api::protobuf::decode_as("v1", kind, &body) {
                prop_assert_eq!(e.code, 400, "{:?}", e);
            }
        }
    }

    /// A bearer token that is not an EKS token is refused for the first thing wrong with it, in
    /// order: its prefix, its base64, its scheme, its host.
    #[test]
    fn eks_tokens_are_refused_for_the_first_thing_wrong(
        text in "[^k]\\PC{0,200}",
        garbage in "[+/=!]\\PC{0,40}",
        path in "[a-z0-9./?&=%-]{0,60}",
        host in "[a-z]{1,10}\\.example",
        now in any::<i64>(),
    ) {
        use base64::Engine as _;
        let token = |url: &str| format!(
            "k8s-aws-v1.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url)
        );
        let refused = |t: &str| crate::eks_auth::verify(t, now).map(|_| ()).err();
        prop_assert_eq!(refused(&text), Some("token does not start with k8s-aws-v1.".to_owned()));
        let why = refused(&format!("k8s-aws-v1.{garbage}")).unwrap_or_default();
        prop_assert!(why.starts_with("token is not unpadded URL-safe base64: "), "{why}");
        prop_assert_eq!(
            refused(&token(&format!("http://{host}/{path}"))),
            Some("the presigned URL is not https".to_owned())
        );
        prop_assert_eq!(
            refused(&token(&format!("https://{host}/{path}"))),
            Some(format!("{host} is not an STS host"))
        );
    }
}
