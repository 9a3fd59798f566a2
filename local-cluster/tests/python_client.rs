//! The official Python client (Debian's python3-kubernetes): lists, creates, watches and deletes;
//! creates from a multi-document YAML file, works with apps and batch kinds, execs and
//! port-forwards.

mod support;

use support::Cluster;

#[test]
fn the_python_client_lists_creates_watches_and_deletes() {
    let cluster = Cluster::start();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/client_roundtrip.py"
    );
    // The Debian package installs into the system interpreter, not a pyenv one.
    let output = std::process::Command::new("/usr/bin/python3")
        .arg(script)
        .arg(&cluster.kubeconfig)
        .output()
        .expect("run /usr/bin/python3 (install python3-kubernetes: scripts/install-deps.sh)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "python client failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("listed nodes:") && stdout.contains("watched:"),
        "{stdout}"
    );
}

#[test]
fn the_python_client_creates_from_yaml_execs_and_port_forwards() {
    let cluster = Cluster::start();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python");
    let output = std::process::Command::new("/usr/bin/python3")
        .arg(format!("{dir}/typical_uses.py"))
        .arg(&cluster.kubeconfig)
        .arg(format!("{dir}/typical_uses.yaml"))
        .output()
        .expect("run /usr/bin/python3 (install python3-kubernetes: scripts/install-deps.sh)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "python client failed:\n{stdout}\n{stderr}"
    );
    for line in [
        "created from YAML:",
        "exec said:",
        "shell said: typed 42",
        "port-forward answered: HTTP/1.1 200",
        "job succeeded: 1",
        "replaced, deleted",
    ] {
        assert!(stdout.contains(line), "{line}\n{stdout}");
    }
}
