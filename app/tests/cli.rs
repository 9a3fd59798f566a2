//! `hybrid-console status` and `calc` as a script would run them, against the local cluster
//! over HTTPS through a kubeconfig.

#![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

mod support;

use serde_json::Value;
use support::TestCluster;

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The lines of `text` from the one starting with `heading` up to the next blank line.
fn section<'a>(text: &'a str, heading: &str) -> Vec<&'a str> {
    text.lines()
        .skip_while(|l| !l.starts_with(heading))
        .take_while(|l| !l.trim().is_empty())
        .collect()
}

#[test]
fn status_shows_both_lanes_and_the_monolith_on_a_windows_node() {
    let cluster = TestCluster::start(true);
    let kubeconfig = cluster.kubeconfig.to_string_lossy().into_owned();
    let windows = cluster.nodes_of("windows");
    let linux = cluster.nodes_of("linux");
    assert_eq!((windows.len(), linux.len()), (2, 2));

    let output = cluster.console(&["status", "--kubeconfig", &kubeconfig]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let windows_lane = section(&text, "WINDOWS");
    let linux_lane = section(&text, "LINUX");
    assert!(windows_lane.len() > 1, "no Windows lane in:\n{text}");
    assert!(linux_lane.len() > 1, "no Linux lane in:\n{text}");
    for node in &windows {
        assert!(
            windows_lane.iter().any(|l| l.contains(node.as_str())),
            "{text}"
        );
    }
    for node in &linux {
        assert!(
            linux_lane.iter().any(|l| l.contains(node.as_str())),
            "{text}"
        );
    }
    let monolith_lines: Vec<&&str> = windows_lane
        .iter()
        .filter(|l| l.contains("calculator/monolith-"))
        .collect();
    assert_eq!(
        monolith_lines.len(),
        2,
        "monolith pods in the Windows lane:\n{text}"
    );
    assert!(
        monolith_lines
            .iter()
            .all(|l| l.contains("in-process: sum, subtraction, multiplication, division, ui")),
        "{text}"
    );
    assert!(!linux_lane.iter().any(|l| l.contains("monolith")), "{text}");

    // The same view as JSON, with the flags after the subcommand and before it.
    for args in [
        vec!["status", "--kubeconfig", &kubeconfig, "--output", "json"],
        vec!["--kubeconfig", &kubeconfig, "-o", "json", "status"],
    ] {
        let output = cluster.console(&args);
        assert!(output.status.success(), "{}", stderr(&output));
        let json: Value = serde_json::from_slice(&output.stdout).unwrap();
        let lanes = json["lanes"].as_array().unwrap();
        assert_eq!(lanes[0]["os"], "windows");
        assert_eq!(lanes[1]["os"], "linux");
        let pods_on = |lane: &Value| -> Vec<String> {
            lane["groups"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|g| g["nodes"].as_array().unwrap())
                .flat_map(|n| n["pods"].as_array().unwrap())
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .collect()
        };
        let on_windows = pods_on(&lanes[0]);
        assert_eq!(
            on_windows
                .iter()
                .filter(|p| p.starts_with("monolith-"))
                .count(),
            2,
            "{json}"
        );
        assert!(pods_on(&lanes[1]).is_empty(), "{json}");
        assert_eq!(json["topology"]["monolith"]["deployment"], "monolith");
        assert_eq!(
            json["topology"]["monolith"]["in_process"],
            serde_json::json!(["sum", "subtraction", "multiplication", "division", "ui"])
        );
    }
}

#[test]
fn calc_answers_through_the_service_proxy_and_fails_on_a_failing_operation() {
    let cluster = TestCluster::start(true);
    let kubeconfig = cluster.kubeconfig.to_string_lossy().into_owned();
    let windows = cluster.nodes_of("windows");

    let output = cluster.console(&["calc", "6", "3", "--kubeconfig", &kubeconfig]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    for (operation, total) in [
        ("sum", "9"),
        ("subtraction", "3"),
        ("multiplication", "18"),
        ("division", "2"),
    ] {
        let row: Vec<&str> = text
            .lines()
            .find(|l| l.starts_with(&format!("{operation} ")))
            .unwrap_or_else(|| panic!("no {operation} row in:\n{text}"))
            .split_whitespace()
            .collect();
        assert_eq!(row[1], total, "{text}");
        assert!(row[2].starts_with("monolith-"), "{text}");
        assert!(windows.contains(&row[3].to_owned()), "{text}");
        assert_eq!(row[4], "windows", "{text}");
    }

    let output = cluster.console(&["--kubeconfig", &kubeconfig, "calc", "-o", "json", "6", "3"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    let totals: Vec<(String, String)> = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["served-by"]["service"], "monolith", "{json}");
            (
                r["operation"].as_str().unwrap().to_owned(),
                r["total"].to_string(),
            )
        })
        .collect();
    assert_eq!(
        totals,
        [
            ("sum", "9"),
            ("subtraction", "3"),
            ("multiplication", "18"),
            ("division", "2")
        ]
        .map(|(o, t)| (o.to_owned(), t.to_owned()))
    );
    assert_eq!(json["frontend"]["service"], "monolith");

    // Exact decimals and negative numbers pass through unchanged.
    let output = cluster.console(&[
        "calc",
        "-o",
        "json",
        "0.1",
        "-0.2",
        "--kubeconfig",
        &kubeconfig,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["results"][0]["total"].to_string(), "-0.1");

    // One operation failing is a non-zero exit, and the table says which and why.
    let output = cluster.console(&["calc", "1", "0", "--kubeconfig", &kubeconfig]);
    assert!(!output.status.success());
    let text = stdout(&output);
    let division = text.lines().find(|l| l.starts_with("division ")).unwrap();
    assert!(division.contains("error division_by_zero"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("sum ") && l.contains(" 1 ")),
        "{text}"
    );

    // Input that is not a number is refused by the calculator, not by a crash.
    let output = cluster.console(&["calc", "abc", "1", "--kubeconfig", &kubeconfig]);
    assert!(!output.status.success());
    let all = stdout(&output) + &stderr(&output);
    assert!(
        all.contains("not a number") || all.contains("invalid_number"),
        "{all}"
    );
    assert!(!all.contains("panicked"), "{all}");
}

#[test]
fn connection_problems_are_errors_on_stderr_with_a_non_zero_exit() {
    let cluster = TestCluster::start(false);
    let kubeconfig = cluster.kubeconfig.to_string_lossy().into_owned();

    let output = cluster.console(&[
        "status",
        "--kubeconfig",
        &kubeconfig,
        "--context",
        "staging",
    ]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("staging"), "{err}");
    assert!(
        err.contains("local-hybrid"),
        "the known contexts are offered: {err}"
    );
    assert!(stdout(&output).is_empty());

    let missing = cluster.path("no-such-kubeconfig");
    let output = cluster.console(&["status", "--kubeconfig", &missing.to_string_lossy()]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("no-such-kubeconfig"), "{err}");

    let broken = cluster.path("broken-kubeconfig");
    std::fs::write(&broken, "clusters: [this is not: a kubeconfig").unwrap();
    let output = cluster.console(&["status", "--kubeconfig", &broken.to_string_lossy()]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("broken-kubeconfig"),
        "{}",
        stderr(&output)
    );

    // A server that is not there: the same kubeconfig pointed at a closed port.
    let closed = support::free_port();
    let unreachable = cluster.path("unreachable-kubeconfig");
    let text = std::fs::read_to_string(&cluster.kubeconfig)
        .unwrap()
        .replace(
            &format!("127.0.0.1:{}", cluster.port),
            &format!("127.0.0.1:{closed}"),
        );
    std::fs::write(&unreachable, text).unwrap();
    let output = cluster.console(&["status", "--kubeconfig", &unreachable.to_string_lossy()]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains(&format!("127.0.0.1:{closed}")), "{err}");

    // A server whose certificate the kubeconfig's CA did not sign: a TLS failure, said as such.
    let other = TestCluster::start(false);
    let other_ca = std::fs::read_to_string(&other.kubeconfig)
        .unwrap()
        .lines()
        .find(|l| l.trim_start().starts_with("certificate-authority-data:"))
        .unwrap()
        .to_owned();
    let wrong_ca = cluster.path("wrong-ca-kubeconfig");
    let text: Vec<String> = std::fs::read_to_string(&cluster.kubeconfig)
        .unwrap()
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("certificate-authority-data:") {
                other_ca.clone()
            } else {
                l.to_owned()
            }
        })
        .collect();
    std::fs::write(&wrong_ca, text.join("\n")).unwrap();
    let output = cluster.console(&["status", "--kubeconfig", &wrong_ca.to_string_lossy()]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("TLS"), "{err}");
    assert!(err.contains("certificate-authority-data"), "{err}");

    // A user who may not list nodes: 403, with the verb and resource denied.
    let viewer = cluster.viewer("jane", "default");
    let output = cluster.console(&["status", "--kubeconfig", &viewer.to_string_lossy()]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("Forbidden (403): cannot list nodes"), "{err}");
    assert!(
        err.contains(
            r#"User "jane" cannot list resource "nodes" in API group "" at the cluster scope"#
        ),
        "{err}"
    );

    // A wrong token: 401, said as such.
    let unauthorized = cluster.path("unauthorized-kubeconfig");
    let text = std::fs::read_to_string(&cluster.kubeconfig).unwrap();
    let text: String = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("token:") {
                "    token: not-the-token".to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&unauthorized, text).unwrap();
    let output = cluster.console(&["status", "--kubeconfig", &unauthorized.to_string_lossy()]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("401") || err.contains("nauthorized"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// A kubeconfig whose user runs a credential plugin, as `aws eks update-kubeconfig` writes
/// (`aws eks get-token`), here a script printing the cluster's token as an ExecCredential.
#[test]
fn exec_plugin_credentials_work_and_a_missing_plugin_is_named() {
    let cluster = TestCluster::start(false);
    let text = std::fs::read_to_string(&cluster.kubeconfig).unwrap();
    let mut config: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let token = config["users"][0]["user"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let plugin = cluster.path("get-token");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\necho \"$@\" > \"$0.args\"\nprintf '%s' '{{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{token}\"}}}}'\n"
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let exec = |command: &str| -> serde_yaml::Value {
        serde_yaml::from_str(&format!(
            "exec:\n  apiVersion: client.authentication.k8s.io/v1beta1\n  command: {command}\n  args: [eks, get-token, --cluster-name, hybrid]\n  interactiveMode: Never\n"
        ))
        .unwrap()
    };
    config["users"][0]["user"] = exec(&plugin.to_string_lossy());
    let with_plugin = cluster.path("exec-kubeconfig");
    std::fs::write(&with_plugin, serde_yaml::to_string(&config).unwrap()).unwrap();
    let output = cluster.console(&["status", "--kubeconfig", &with_plugin.to_string_lossy()]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("WINDOWS (2 nodes)"),
        "{}",
        stdout(&output)
    );
    let args = std::fs::read_to_string(cluster.path("get-token.args")).unwrap();
    assert_eq!(args.trim(), "eks get-token --cluster-name hybrid");

    config["users"][0]["user"] = exec("no-such-aws-cli");
    let missing = cluster.path("missing-plugin-kubeconfig");
    std::fs::write(&missing, serde_yaml::to_string(&config).unwrap()).unwrap();
    let output = cluster.console(&["status", "--kubeconfig", &missing.to_string_lossy()]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("no-such-aws-cli"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// A frontend reached by URL (as from a laptop with a port-forward): no cluster is needed, and
/// none is started.
#[test]
fn calc_calls_a_url_directly_without_a_cluster() {
    let port = support::free_port();
    let home = tempfile::tempdir().unwrap();
    // The console's own binary in its calculator mode: a real monolith process.
    let mut monolith = std::process::Command::new(env!("CARGO_BIN_EXE_hybrid-console"))
        .args([local_cluster::calculator::SERVICE_MODE_ARG, "monolith"])
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("POD_NAME", "laptop-monolith")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the monolith did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let url = format!("http://127.0.0.1:{port}");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_hybrid-console"))
            .args(args)
            .env("HOME", home.path())
            .env_remove("KUBECONFIG")
            .output()
            .unwrap()
    };
    let output = run(&["calc", "7", "2", "--url", &url]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    for (operation, total) in [
        ("sum", "9"),
        ("subtraction", "5"),
        ("multiplication", "14"),
        ("division", "3.5"),
    ] {
        let row = text
            .lines()
            .find(|l| l.starts_with(&format!("{operation} ")))
            .unwrap_or_else(|| panic!("{text}"));
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[1], total, "{text}");
        assert_eq!(cells[2], "laptop-monolith", "{text}");
    }
    // No embedded cluster was started for it (that takes far longer than one HTTP call).
    assert!(stderr(&output).is_empty(), "{}", stderr(&output));

    let output = run(&["calc", "1", "0", "--url", &url, "-o", "json"]);
    assert!(!output.status.success());
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["results"][3]["error"]["code"], "division_by_zero");

    let output = run(&["calc", "1", "2", "--url", "ftp://example.invalid"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("only http://"),
        "{}",
        stderr(&output)
    );
    let _ = monolith.kill();
    let _ = monolith.wait();
}

#[test]
fn plan_check_names_each_problem_by_file_line_and_field() {
    let cluster = TestCluster::start(true);
    let kubeconfig = cluster.kubeconfig.to_string_lossy().into_owned();
    let output = cluster.console(&["plan", "check", "--kubeconfig", &kubeconfig]);
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(
        stdout(&output).contains("fits the cluster at https://127.0.0.1:"),
        "{}",
        stdout(&output)
    );

    // A copy of the plan and its manifests, with a misspelt monolith and a URL that names a
    // Service no manifest creates.
    let path = support::plan_copy(&cluster.path("plan"), |plan| {
        plan.replacen("deployment: monolith", "deployment: monolit", 1)
            .replacen(
                "url: http://division-service:3000",
                "url: http://divide:3000",
                1,
            )
    });
    let plan = std::fs::read_to_string(&path).unwrap();
    let line = |needle: &str| plan.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let path_text = path.to_string_lossy().into_owned();
    let output = cluster.console(&["plan", "check", &path_text, "--kubeconfig", &kubeconfig]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("(2 problems)"), "{text}");
    assert!(
        text.contains(&format!(
            "{path_text}:{}: monolith.deployment: there is no Deployment \"monolit\" in namespace \"calculator\" (Deployments there: monolith)",
            line("deployment: monolit")
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{path_text}:{}: services[3].route.url: http://divide:3000 calls host \"divide\"",
            line("url: http://divide:3000")
        )),
        "{text}"
    );
    // The same as JSON, for scripts.
    let output = cluster.console(&[
        "plan",
        "check",
        &path_text,
        "--kubeconfig",
        &kubeconfig,
        "-o",
        "json",
    ]);
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["findings"][0]["field"], "monolith.deployment");
    assert_eq!(json["findings"][0]["line"], line("deployment: monolit"));

    // A plan that does not parse needs no cluster to say so, with its line.
    std::fs::write(&path, plan.replacen("monolith:", "monolith: [", 1)).unwrap();
    let output = cluster.console(&["plan", "check", &path_text, "--kubeconfig", &kubeconfig]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("line"), "{}", stderr(&output));
}

#[test]
fn plan_init_writes_a_skeleton_that_once_filled_in_fits_the_cluster() {
    let cluster = TestCluster::start(true);
    let kubeconfig = cluster.kubeconfig.to_string_lossy().into_owned();
    let manifests = concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests");
    support::install_edge(&cluster, "local-cluster");

    let dir = cluster.path("init");
    std::fs::create_dir_all(dir.join("calculator/services")).unwrap();
    for op in ["sum", "subtraction", "multiplication", "division"] {
        let file = format!("calculator/services/{op}-service.yaml");
        std::fs::copy(format!("{manifests}/{file}"), dir.join(&file)).unwrap();
    }
    let out = dir.join("plan.yaml").to_string_lossy().into_owned();
    let args = [
        "plan",
        "init",
        "--monolith",
        "calculator/monolith",
        "--edge",
        "calculator",
        "--out",
        &out,
        "--kubeconfig",
        &kubeconfig,
    ];
    let output = cluster.console(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("lines marked FILL"),
        "{}",
        stdout(&output)
    );
    let skeleton = std::fs::read_to_string(&out).unwrap();
    for op in ["sum", "subtraction", "multiplication", "division"] {
        assert!(
            skeleton.contains(&format!("  - name: {op}\n")),
            "{skeleton}"
        );
    }
    // As written, it does not pass: its FILL fields are blanks.
    let output = cluster.console(&["plan", "check", &out, "--kubeconfig", &kubeconfig]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("\"FILL\""), "{}", stderr(&output));

    // Filled in as an author would: then it fits the cluster.
    let mut op = String::new();
    let filled: String = skeleton
        .lines()
        .map(|line| {
            let trimmed = line.trim_start();
            if let Some(name) = trimmed.strip_prefix("- name: ") {
                op = name.to_owned();
            }
            if let Some(rest) = trimmed.strip_prefix("manifest: FILL-") {
                let op = rest.split(".yaml").next().unwrap();
                format!("    manifest: calculator/services/{op}-service.yaml\n")
            } else if trimmed.starts_with("answeredBy: FILL") {
                "    answeredBy: /results/0/served-by/pod\n".to_owned()
            } else if trimmed.starts_with("edge: {") {
                let line = line.split("   # ").next().unwrap();
                format!(
                    "{}\n",
                    line.replace(
                        "metricsPath: FILL",
                        &format!("metricsPath: \"/{op}/{{a}}/{{b}}\"")
                    )
                )
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    std::fs::write(&out, filled).unwrap();
    let output = cluster.console(&["plan", "check", &out, "--kubeconfig", &kubeconfig]);
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(
        stdout(&output).contains("fits the cluster"),
        "{}",
        stdout(&output)
    );

    // It never overwrites a file, and a missing route is named.
    let output = cluster.console(&args);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("exists; choose another --out"),
        "{}",
        stderr(&output)
    );
    let output = cluster.console(&[
        "plan",
        "init",
        "--monolith",
        "calculator/monolith",
        "--edge",
        "nope",
        "--kubeconfig",
        &kubeconfig,
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("there is no HTTPRoute \"nope\" in namespace \"calculator\""),
        "{}",
        stderr(&output)
    );
}

/// The Debian package as `scripts/package-deb.sh` makes it from the binaries this test run
/// built: unpacked into a scratch root with `dpkg-deb -x`, its files checked, and the installed
/// console started under Xvfb until its first live board.
#[test]
fn the_debian_package_installs_a_console_that_opens_its_window() {
    let console = std::path::Path::new(env!("CARGO_BIN_EXE_hybrid-console"));
    let binaries = console.parent().unwrap();
    assert!(
        binaries.join("local-cluster").exists(),
        "no local-cluster binary beside {}: build the workspace's binaries (cargo build --workspace)",
        console.display()
    );
    let scratch = tempfile::tempdir().unwrap();
    let deb = scratch.path().join("hybrid-console.deb");
    let repository = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let out = std::process::Command::new(format!("{repository}/scripts/package-deb.sh"))
        .args(["--binaries", binaries.to_str().unwrap(), "--out"])
        .arg(&deb)
        .arg("--fast")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));

    let field = |name: &str| {
        let out = std::process::Command::new("dpkg-deb")
            .args(["-f"])
            .arg(&deb)
            .arg(name)
            .output()
            .unwrap();
        stdout(&out).trim().to_owned()
    };
    assert_eq!(field("Package"), "hybrid-console");
    assert_eq!(field("Version"), env!("CARGO_PKG_VERSION"));
    assert!(field("Depends").contains("libgl1"), "{}", field("Depends"));

    let root = scratch.path().join("root");
    let out = std::process::Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(&root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    for file in [
        "usr/bin/hybrid-console",
        "usr/bin/local-cluster",
        "usr/share/applications/hybrid-console.desktop",
        "usr/share/icons/hicolor/scalable/apps/hybrid-console.svg",
        "usr/share/icons/hicolor/48x48/apps/hybrid-console.png",
        "usr/share/icons/hicolor/256x256/apps/hybrid-console.png",
        "usr/share/man/man1/hybrid-console.1.gz",
        "usr/share/bash-completion/completions/hybrid-console",
        "usr/share/zsh/vendor-completions/_hybrid-console",
        "usr/share/fish/vendor_completions.d/hybrid-console.fish",
        "usr/share/doc/hybrid-console/copyright",
    ] {
        assert!(root.join(file).exists(), "the package lacks /{file}");
    }
    let desktop =
        std::fs::read_to_string(root.join("usr/share/applications/hybrid-console.desktop"))
            .unwrap();
    assert!(
        desktop.contains("Exec=hybrid-console") && desktop.contains("Icon=hybrid-console"),
        "{desktop}"
    );

    // `man` reads the page (its NAME and a subcommand), bash accepts the completion script.
    let man = std::process::Command::new("man")
        .arg("-l")
        .arg(root.join("usr/share/man/man1/hybrid-console.1.gz"))
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .unwrap();
    let page = stdout(&man);
    assert!(
        page.contains("hybrid-console - A native desktop console") && page.contains("status"),
        "{page}{}",
        stderr(&man)
    );
    let bash = std::process::Command::new("bash")
        .arg("-n")
        .arg(root.join("usr/share/bash-completion/completions/hybrid-console"))
        .output()
        .unwrap();
    assert!(bash.status.success(), "{}", stderr(&bash));

    // The installed binary names its version and commit, and opens its window.
    let installed = root.join("usr/bin/hybrid-console");
    let version = std::process::Command::new(&installed)
        .arg("--version")
        .output()
        .unwrap();
    let version = stdout(&version);
    assert!(
        version.starts_with(&format!(
            "hybrid-console {} (commit ",
            env!("CARGO_PKG_VERSION")
        )),
        "{version}"
    );
    let home = scratch.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let window = std::process::Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1440x900x24"])
        .arg(&installed)
        .arg("--local")
        .env("HOME", &home)
        .env("HYBRID_CONSOLE_EXIT_WHEN_READY", "1")
        .env("LIBGL_ALWAYS_SOFTWARE", "1")
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    assert!(
        window.status.success() && stdout(&window).contains("after the window opened"),
        "{}{}",
        stdout(&window),
        stderr(&window)
    );
}

fn decode<T: serde::de::DeserializeOwned>(values: Vec<Value>) -> Vec<T> {
    values
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect()
}

/// `status` reads pods page by page into placements, as the window does; what it prints is what a
/// snapshot built from the whole objects (as `kubectl get -o json` returns them) says.
#[test]
fn status_from_paged_placements_says_what_the_whole_objects_say() {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{Node, Pod, Service};
    let cluster = TestCluster::start(true);
    // More pods than one page holds (500), so the list is read in several pages.
    cluster.apply(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: many, namespace: default}
spec:
  replicas: 620
  selector: {matchLabels: {app: many}}
  template:
    metadata: {labels: {app: many}}
    spec:
      nodeSelector: {kubernetes.io/os: linux}
      containers: [{name: app, image: "registry.example.com/many:1.0", resources: {requests: {cpu: 1m, memory: 1Mi}}}]
"#,
    );
    let kubeconfig = cluster.kubeconfig.to_string_lossy().into_owned();
    let items = |kind: &str| -> Vec<Value> {
        let text = cluster.kubectl().ok(&["get", kind, "-A", "-o", "json"]);
        let list: Value = serde_json::from_str(&text).unwrap();
        list["items"].as_array().unwrap().clone()
    };
    let settled = || {
        let pods = items("pods");
        (pods.len() >= 620
            && pods
                .iter()
                .all(|p| p["status"]["phase"] == "Running" || p["status"]["phase"] == "Pending"))
        .then_some(())
    };
    test_harness::wait_for(60, "the Deployment's pods", settled);
    // Read both ways until two readings agree: a pod may change between them.
    let plan = hybrid_console::migration::plan_file::load(None).unwrap();
    let mut last = String::new();
    for _ in 0..10 {
        let out = cluster.console(&["--kubeconfig", kubeconfig.as_str(), "status", "-o", "json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let mut lean: Value = serde_json::from_slice(&out.stdout).unwrap();
        lean.as_object_mut().unwrap().remove("costs");
        let nodes: Vec<Node> = decode(items("nodes"));
        let pods: Vec<Pod> = decode(items("pods"));
        let deployments: Vec<Deployment> = decode(items("deployments"));
        let services: Vec<Service> = decode(items("services"));
        let whole = hybrid_console::model::ClusterSnapshot::build(
            &nodes,
            &pods,
            &deployments,
            &services,
            Some(&plan),
        );
        let whole = serde_json::to_value(&whole).unwrap();
        assert!(
            lean["pod_count"].as_u64().unwrap() >= 620,
            "{}",
            lean["pod_count"]
        );
        if lean == whole {
            return;
        }
        last = format!(
            "lean:\n{}\nwhole:\n{}",
            serde_json::to_string(&lean)
                .unwrap()
                .chars()
                .take(2000)
                .collect::<String>(),
            serde_json::to_string(&whole)
                .unwrap()
                .chars()
                .take(2000)
                .collect::<String>()
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    panic!("the paged status never matched the whole objects' snapshot\n{last}");
}

/// What differs between two runs of the same calculator cluster and is not the output's content:
/// the cluster's address block, pods' addresses (given out in the order the pods start) and the
/// random part of generated pod names.
fn normalized(value: &mut Value) {
    use regex::Regex;
    use std::sync::LazyLock;
    static ADDRESS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"127\.\d+\.").unwrap());
    static NODE_NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"ip-127-\d+-").unwrap());
    static POD_NAME: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^([a-z0-9-]+-[a-z0-9]{6,10})-[a-z0-9]{5}$").unwrap());
    match value {
        Value::String(s) => {
            let text = ADDRESS.replace_all(s, "127.X.");
            let text = NODE_NAME.replace_all(&text, "ip-127-X-");
            *s = POD_NAME.replace(&text, "$1-xxxxx").into_owned();
        }
        Value::Array(items) => items.iter_mut().for_each(normalized),
        Value::Object(fields) => {
            // Objects keyed by node name: the keys too.
            let entries: Vec<(String, Value)> = std::mem::take(fields).into_iter().collect();
            for (key, mut item) in entries {
                if key == "ip" && item.is_string() {
                    item = Value::String("pod address".into());
                }
                let mut key = Value::String(key);
                normalized(&mut key);
                normalized(&mut item);
                fields.insert(key.as_str().unwrap_or_default().to_owned(), item);
            }
        }
        _ => {}
    }
}

/// `status -o json` on the calculator cluster says exactly what the golden file says (written
/// from the console that read whole Pod objects, before status read placements page by page).
/// `UPDATE_GOLDEN=1` rewrites the file after a deliberate change of the output.
#[test]
fn status_json_of_the_calculator_cluster_is_the_golden_file() {
    let cluster = TestCluster::start(true);
    let kubeconfig = cluster.kubeconfig.to_string_lossy().into_owned();
    let golden_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/status-calculator.json"
    );
    let mut last = String::new();
    // The cluster settles (the monolith's second pod, its requests) within a few readings.
    for _ in 0..20 {
        let output = cluster.console(&["--kubeconfig", &kubeconfig, "status", "-o", "json"]);
        assert!(output.status.success(), "{}", stderr(&output));
        let mut json: Value = serde_json::from_slice(&output.stdout).unwrap();
        normalized(&mut json);
        last = serde_json::to_string_pretty(&json).unwrap() + "\n";
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(golden_path, &last).unwrap();
            return;
        }
        if last == std::fs::read_to_string(golden_path).unwrap() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let golden = std::fs::read_to_string(golden_path).unwrap();
    let first_difference = golden
        .lines()
        .zip(last.lines())
        .enumerate()
        .find(|(_, (a, b))| a != b);
    panic!(
        "status -o json differs from {golden_path} (first differing line: {first_difference:?}):\n{last}"
    );
}
