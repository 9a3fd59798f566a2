//! Property tests of what the console reads from the operator's disk: kubeconfig files and
//! migration plans, random and mutated from good ones. Each is read or refused with a message;
//! nothing panics. Cases proptest finds are kept in `proptest-regressions/bad_input.txt`.

#![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

use hybrid_console::cluster::connection::{ConnectionTarget, kube_config};
use hybrid_console::model::migration_plan::{MigrationPlan, PlanFiles};
use proptest::prelude::*;

const KUBECONFIG: &str = "apiVersion: v1
kind: Config
current-context: local-hybrid
clusters:
- name: local-hybrid
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJ
contexts:
- name: local-hybrid
  context:
    cluster: local-hybrid
    user: admin
    namespace: calculator
users:
- name: admin
  user:
    token: abcdef
- name: plugin
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: [eks, get-token, --cluster-name, x]
";

/// `base` with one line dropped, doubled, cut short or replaced, or random text.
fn mutated(base: &'static str) -> impl Strategy<Value = String> {
    let lines: Vec<&'static str> = base.lines().collect();
    let count = lines.len();
    prop_oneof![
        "\\PC{0,200}",
        (0..count, 0..4u8, "\\PC{0,24}").prop_map(move |(at, how, noise)| {
            let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
            match how {
                0 => {
                    out.remove(at);
                }
                1 => out.insert(at, out[at].clone()),
                2 => {
                    let keep = out[at].len() / 2;
                    out[at] = out[at].chars().take(keep).collect();
                }
                _ => {
                    let indent: String = out[at].chars().take_while(|c| *c == ' ').collect();
                    out[at] = format!("{indent}{noise}");
                }
            }
            out.join("\n")
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn kubeconfigs_are_read_or_refused_with_a_message(text in mutated(KUBECONFIG)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, &text).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let target = ConnectionTarget::Kubeconfig { path: Some(path), context: None };
        if let Err(e) = runtime.block_on(kube_config(&target, None)) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn migration_plans_are_read_or_refused_with_a_message(text in mutated(built_in_plan())) {
        let mut files = PlanFiles::built_in();
        files.plan = text;
        files.origin = "mutated.yaml".to_owned();
        if let Err(e) = MigrationPlan::parse(&files) {
            prop_assert!(!e.to_string().is_empty());
        }
    }
}

fn built_in_plan() -> &'static str {
    Box::leak(PlanFiles::built_in().plan.into_boxed_str())
}
