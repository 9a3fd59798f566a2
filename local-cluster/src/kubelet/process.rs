//! Running a container of the calculator image as a real process: its environment as a kubelet
//! builds it, its output captured as logs, and signals for a graceful stop.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;

use base64::Engine;
use bytes::Bytes;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

use super::images::HostImage;
use super::logs::LogStore;
use crate::registry::Registry;
use crate::resources;

/// How to start `calc-services <role>`: by default this very executable in its hidden service
/// mode, so one binary (the console or `local-cluster`) is all a user installs.
#[derive(Clone, Debug)]
pub struct Launcher {
    /// The program.
    pub program: PathBuf,
    /// Arguments placed before the role.
    pub args: Vec<String>,
}

impl Launcher {
    /// This executable with `__calc-service`, which [`crate::calculator::serve_if_requested`] answers.
    pub fn current_exe() -> std::io::Result<Launcher> {
        Ok(Launcher {
            program: std::env::current_exe()?,
            args: vec![crate::calculator::SERVICE_MODE_ARG.to_owned()],
        })
    }
}

/// The variable naming a container's root directory on this machine: a `mountPath` of the
/// manifest is that path under it (`/etc/calculator` → `$CONTAINER_ROOT/etc/calculator`).
pub const CONTAINER_ROOT: &str = "CONTAINER_ROOT";

/// `sum-service` → `SUM_SERVICE`, as service-link variables spell Service names.
fn env_name(service: &str) -> String {
    service.to_uppercase().replace(['-', '.'], "_")
}

/// The service-link variables a kubelet gives every pod (`enableServiceLinks`): host, port and
/// Docker-link style variables for each Service of the namespace, plus the API server's.
fn service_links(registry: &Registry, namespace: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut add = |service: &Value| {
        let Some(ip) = service["spec"]["clusterIP"]
            .as_str()
            .filter(|ip| !ip.is_empty() && *ip != "None")
        else {
            return;
        };
        let name = env_name(service["metadata"]["name"].as_str().unwrap_or_default());
        let ports = service["spec"]["ports"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let Some(first) = ports.first() else { return };
        out.push((format!("{name}_SERVICE_HOST"), ip.to_owned()));
        out.push((format!("{name}_SERVICE_PORT"), first["port"].to_string()));
        let protocol = first["protocol"].as_str().unwrap_or("TCP").to_lowercase();
        out.push((
            format!("{name}_PORT"),
            format!("{protocol}://{ip}:{}", first["port"]),
        ));
        for port in &ports {
            let number = port["port"].to_string();
            let protocol = port["protocol"].as_str().unwrap_or("TCP");
            if let Some(port_name) = port["name"].as_str().filter(|n| !n.is_empty()) {
                out.push((
                    format!("{name}_SERVICE_PORT_{}", env_name(port_name)),
                    number.clone(),
                ));
            }
            let prefix = format!("{name}_PORT_{number}_{protocol}");
            out.push((
                prefix.clone(),
                format!("{}://{ip}:{number}", protocol.to_lowercase()),
            ));
            out.push((format!("{prefix}_PROTO"), protocol.to_lowercase()));
            out.push((format!("{prefix}_PORT"), number.clone()));
            out.push((format!("{prefix}_ADDR"), ip.to_owned()));
        }
    };
    if let Some(kubernetes) = registry
        .store
        .get(resources::services(), "default", "kubernetes")
    {
        add(&kubernetes.value());
    }
    for service in registry
        .store
        .list(resources::services(), Some(namespace), |_| true, 0, None)
        .items
    {
        if !(namespace == "default" && service.index.name == "kubernetes") {
            add(&service.value());
        }
    }
    out
}

/// `metadata.labels['app']` and the other downward-API paths.
fn field_ref(pod: &Value, path: &str) -> String {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    if let Some(rest) = path
        .strip_prefix("metadata.labels['")
        .and_then(|r| r.strip_suffix("']"))
    {
        return text(&pod["metadata"]["labels"][rest]);
    }
    if let Some(rest) = path
        .strip_prefix("metadata.annotations['")
        .and_then(|r| r.strip_suffix("']"))
    {
        return text(&pod["metadata"]["annotations"][rest]);
    }
    match path {
        "metadata.name" => text(&pod["metadata"]["name"]),
        "metadata.namespace" => text(&pod["metadata"]["namespace"]),
        "metadata.uid" => text(&pod["metadata"]["uid"]),
        "spec.nodeName" => text(&pod["spec"]["nodeName"]),
        "spec.serviceAccountName" => text(&pod["spec"]["serviceAccountName"]),
        "status.hostIP" => text(&pod["status"]["hostIP"]),
        "status.podIP" => text(&pod["status"]["podIP"]),
        "status.podIPs" => pod["status"]["podIPs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| text(&p["ip"]))
            .collect::<Vec<_>>()
            .join(","),
        _ => String::new(),
    }
}

fn key_from(
    registry: &Registry,
    kind: &'static crate::resources::ResourceKind,
    namespace: &str,
    selector: &Value,
) -> Option<String> {
    let name = selector["name"].as_str()?;
    let key = selector["key"].as_str()?;
    let object = registry.store.get(kind, namespace, name)?.value();
    if kind.kind == "Secret" {
        let encoded = object["data"][key].as_str()?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()?;
        String::from_utf8(decoded).ok()
    } else {
        object["data"][key].as_str().map(str::to_owned)
    }
}

/// Replaces `$(VAR)` with earlier variables; `$$(VAR)` escapes, unknown names stay as written.
fn expand(value: &str, known: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("$(") {
        if start > 0 && rest[..start].ends_with('$') {
            out.push_str(&rest[..start - 1]);
            out.push_str("$(");
            rest = &rest[start + 2..];
            continue;
        }
        out.push_str(&rest[..start]);
        match rest[start + 2..].find(')') {
            Some(end) => {
                let name = &rest[start + 2..start + 2 + end];
                match known.get(name) {
                    Some(v) => out.push_str(v),
                    None => out.push_str(&rest[start..start + 3 + end]),
                }
                rest = &rest[start + 3 + end..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The environment of `container` in `pod`, in the kubelet's order: service links, `envFrom`,
/// then `env` (later wins).
pub fn container_env(
    registry: &Registry,
    pod: &Value,
    container: &Value,
) -> BTreeMap<String, String> {
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    // What an image and its runtime set: the host's PATH stands in for the image's, and the
    // hostname is the pod's name. The container's own variables below win.
    if let Some(path) = std::env::var_os("PATH").and_then(|p| p.into_string().ok()) {
        env.insert("PATH".into(), path);
    }
    env.insert(
        "HOSTNAME".into(),
        pod["metadata"]["name"].as_str().unwrap_or_default().into(),
    );
    if let Some(root) = registry.pod_files.get() {
        let pod_dir =
            super::volumes::pod_dir(root, pod["metadata"]["uid"].as_str().unwrap_or_default());
        let container_root = super::volumes::container_root(
            &pod_dir,
            container["name"].as_str().unwrap_or_default(),
        );
        env.insert(
            CONTAINER_ROOT.to_owned(),
            container_root.display().to_string(),
        );
    }
    if pod["spec"]["enableServiceLinks"] != false {
        env.extend(service_links(registry, namespace));
    }
    for source in container["envFrom"].as_array().into_iter().flatten() {
        let prefix = source["prefix"].as_str().unwrap_or_default();
        let (kind, reference) = if source["configMapRef"].is_object() {
            (resources::configmaps(), &source["configMapRef"])
        } else {
            (resources::secrets(), &source["secretRef"])
        };
        let Some(name) = reference["name"].as_str() else {
            continue;
        };
        let Some(object) = registry.store.get(kind, namespace, name) else {
            continue;
        };
        for (key, value) in object.value()["data"].as_object().into_iter().flatten() {
            let text = value.as_str().unwrap_or_default();
            let text = if kind.kind == "Secret" {
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .unwrap_or_default()
            } else {
                text.to_owned()
            };
            env.insert(format!("{prefix}{key}"), text);
        }
    }
    for variable in container["env"].as_array().into_iter().flatten() {
        let Some(name) = variable["name"].as_str() else {
            continue;
        };
        let value = if let Some(v) = variable["value"].as_str() {
            expand(v, &env)
        } else if let Some(path) = variable["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
            field_ref(pod, path)
        } else if variable["valueFrom"]["configMapKeyRef"].is_object() {
            key_from(
                registry,
                resources::configmaps(),
                namespace,
                &variable["valueFrom"]["configMapKeyRef"],
            )
            .unwrap_or_default()
        } else if variable["valueFrom"]["secretKeyRef"].is_object() {
            key_from(
                registry,
                resources::secrets(),
                namespace,
                &variable["valueFrom"]["secretKeyRef"],
            )
            .unwrap_or_default()
        } else {
            String::new()
        };
        env.insert(name.to_owned(), value);
    }
    env
}

/// A running container process.
pub struct ContainerProcess {
    /// Its process id, for signals.
    pub pid: u32,
    /// Held open so the child notices (EOF) if this process dies without stopping it.
    _stdin: Option<ChildStdin>,
}

/// What a container's process is: a program, its arguments, and how it is attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// The program (a path, or a name looked up in `PATH`).
    pub path: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Whether its standard input is a pipe held open (the project's own processes watch it to
    /// end with the kubelet; an image's command gets it only with `stdin: true`, as a
    /// container does, else end-of-file at once).
    pub stdin_open: bool,
    /// Whether it leads a process group of its own, so stopping it stops what it started (a
    /// shell's children), as a container's cgroup is stopped whole.
    pub own_group: bool,
}

impl Program {
    /// `calc-services <role>` through this executable.
    pub fn calculator(launcher: &Launcher, role_args: &[String]) -> Program {
        Program {
            path: launcher.program.clone(),
            args: launcher.args.iter().chain(role_args).cloned().collect(),
            stdin_open: true,
            own_group: false,
        }
    }

    /// What a container of a well-known image runs here: its command and arguments (the
    /// image's default when it has none) with the host's programs; the static web images run
    /// this executable's small file server.
    /// `$(VAR)` references in the command and arguments are the container's variables
    /// (`env`), as the kubelet expands them.
    pub fn host(
        image: HostImage,
        container: &Value,
        launcher: &Launcher,
        env: &BTreeMap<String, String>,
    ) -> Program {
        let words = |field: &str| -> Vec<String> {
            container[field]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|w| w.as_str().map(|w| expand(w, env)))
                .collect()
        };
        let stdin_open = container["stdin"].as_bool().unwrap_or(false);
        let default = match image {
            HostImage::StaticWeb { document_root } => {
                return Program {
                    path: launcher.program.clone(),
                    args: vec![
                        crate::static_web::STATIC_WEB_ARG.to_owned(),
                        document_root.to_owned(),
                    ],
                    stdin_open: true,
                    own_group: false,
                };
            }
            HostImage::Shell => "sh",
            HostImage::Python => "python3",
        };
        // The images have no ENTRYPOINT: `command` replaces it, `args` alone replace the CMD.
        let mut line = words("command");
        line.extend(words("args"));
        if line.is_empty() {
            line.push(default.to_owned());
        }
        // An absolute path into the container's filesystem (a mounted file, `/opt/run.py`)
        // is that path under the container's root, when it is there and not on the host.
        if let Some(root) = env.get(CONTAINER_ROOT) {
            for word in &mut line {
                *word = in_container_root(word, std::path::Path::new(root));
            }
        }
        let program = host_program(image, &line[0]);
        Program {
            path: program,
            args: line[1..].to_vec(),
            stdin_open,
            own_group: true,
        }
    }
}

/// `word` as this machine reads it: an absolute path that exists under the container's `root`
/// but not on the host becomes the path under `root`; anything else is kept.
fn in_container_root(word: &str, root: &std::path::Path) -> String {
    if !word.starts_with('/') || std::path::Path::new(word).exists() {
        return word.to_owned();
    }
    let inside = root.join(word.trim_start_matches('/'));
    if inside.exists() {
        inside.display().to_string()
    } else {
        word.to_owned()
    }
}

/// The host's program for an image's `program`: Python by any of its names is the host's
/// `python3`; an absolute path the host lacks (`/usr/local/bin/…`) is looked up by name.
fn host_program(image: HostImage, program: &str) -> PathBuf {
    let name = program.rsplit('/').next().unwrap_or(program);
    if image == HostImage::Python && name.starts_with("python") {
        return PathBuf::from("python3");
    }
    if program.starts_with('/') && !std::path::Path::new(program).exists() {
        return PathBuf::from(name);
    }
    PathBuf::from(program)
}

/// The tasks copying a process's output into its log: done once both pipes reach their end.
pub type OutputCopied = Vec<tokio::task::JoinHandle<()>>;

/// Starts the process and returns it with its child handle (whose `wait` reports the exit) and
/// the tasks copying its output, which the caller awaits after the exit so the last lines are
/// in the log before the log says the container ended.
pub fn spawn(
    program: &Program,
    env: &BTreeMap<String, String>,
    logs: &LogStore,
    log_key: (&str, &str, &str),
) -> std::io::Result<(ContainerProcess, Child, OutputCopied)> {
    let mut command = Command::new(&program.path);
    command
        .args(&program.args)
        .env_clear()
        .envs(env)
        .stdin(if program.stdin_open {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    if program.own_group {
        command.process_group(0);
    }
    if !env.contains_key("RUST_LOG") {
        command.env("RUST_LOG", "info");
    }
    // The container's root (its mounts) is its working directory, as `/` is in an image.
    if let Some(root) = env
        .get(CONTAINER_ROOT)
        .filter(|r| std::path::Path::new(r).is_dir())
    {
        command.current_dir(root);
    }
    let mut child = command.spawn()?;
    let pid = child.id().unwrap_or_default();
    let stdin = child.stdin.take();
    logs.start_instance(log_key.0, log_key.1, log_key.2);
    let streams: [Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>>; 2] = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
    ];
    let mut copied = Vec::new();
    for stream in streams.into_iter().flatten() {
        let logs = logs.clone();
        let (ns, pod, container) = (
            log_key.0.to_owned(),
            log_key.1.to_owned(),
            log_key.2.to_owned(),
        );
        copied.push(tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                logs.append(&ns, &pod, &container, Bytes::from(format!("{line}\n")));
            }
        }));
    }
    Ok((ContainerProcess { pid, _stdin: stdin }, child, copied))
}

/// Sends SIGTERM (`graceful`) or SIGKILL to a container process — to its whole process group
/// when it leads one (an image's command and whatever it started).
pub fn signal(pid: u32, graceful: bool) {
    #[cfg(unix)]
    {
        use nix::sys::signal::{Signal, kill, killpg};
        use nix::unistd::{Pid, getpgid};
        let signal = if graceful {
            Signal::SIGTERM
        } else {
            Signal::SIGKILL
        };
        if let Ok(pid) = i32::try_from(pid) {
            let pid = Pid::from_raw(pid);
            if getpgid(Some(pid)).is_ok_and(|group| group == pid) {
                let _ = killpg(pid, signal);
            } else {
                let _ = kill(pid, signal);
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (pid, graceful);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_expand_like_the_kubelet() {
        let known: BTreeMap<String, String> =
            [("HOST".to_string(), "127.16.0.2".to_string())].into();
        assert_eq!(
            expand("http://$(HOST):3000", &known),
            "http://127.16.0.2:3000"
        );
        assert_eq!(expand("$(MISSING)/x", &known), "$(MISSING)/x");
        assert_eq!(expand("$$(HOST)", &known), "$(HOST)");
    }

    #[test]
    fn downward_api_paths() {
        let pod = serde_json::json!({"metadata": {"name": "p", "labels": {"app": "web"}}, "spec": {"nodeName": "n"}, "status": {"podIP": "127.16.0.9"}});
        assert_eq!(field_ref(&pod, "metadata.labels['app']"), "web");
        assert_eq!(field_ref(&pod, "spec.nodeName"), "n");
        assert_eq!(field_ref(&pod, "status.podIP"), "127.16.0.9");
    }
}
