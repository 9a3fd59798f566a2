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

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn label_selectors_parse_or_say_why(text in selector_text()) {
        if let Err(e) = LabelSelector::parse(&text) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn field_selectors_parse_or_say_why(text in selector_text()) {
        if let Err(e) = FieldSelector::parse(crate::resources::pods(), &text) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn strategic_merge_patches_apply_or_are_refused(original in json(), patch in json()) {
        if let Err(e) = crate::strategic::apply(&original, &patch) {
            prop_assert!(e.code < 500, "{e:?}");
        }
    }

    #[test]
    fn protobuf_bodies_decode_or_are_refused(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        kind in prop_oneof![Just("Pod"), Just("Deployment"), Just("ConfigMap"), Just("Nope")],
    ) {
        // Bytes as they come, the same after the magic, and inside a well-formed envelope.
        for body in [bytes.clone(), [b"k8s\0".as_slice(), &bytes].concat(), protobuf_envelope(kind, bytes.clone())] {
            if let Err(e) = crate::api::protobuf::decode_any(&body) {
                prop_assert!(e.code < 500, "{e:?}");
            }
            let _ = crate::api::protobuf::decode_as("v1", kind, &body);
        }
    }

    #[test]
    fn eks_tokens_verify_or_say_why(
        text in "\\PC{0,200}",
        url in "(https?://)?[a-z0-9.:/?&=%-]{0,120}",
        now in any::<i64>(),
    ) {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&url);
        for token in [text.clone(), format!("k8s-aws-v1.{text}"), format!("k8s-aws-v1.{encoded}")] {
            if let Err(why) = crate::eks_auth::verify(&token, now) {
                prop_assert!(!why.is_empty());
            }
        }
    }
}
