//! Running a command in a container, as `kubectl exec` asks: only in a container that runs as a
//! real process here, with the container's environment (as the kubelet builds it for the
//! container's own process), its working directory, and the host's PATH standing in for the
//! image's. The API's exec handler speaks the protocol; this room starts the process.

use std::collections::BTreeMap;
use std::process::Stdio;

use serde_json::Value;

use super::images::{Image, ImageKind};
use super::process::container_env;
use crate::registry::Registry;

/// Why nothing can run in `container` of `pod` here, if so.
pub fn not_running(pod: &Value, container: &Value) -> Option<String> {
    let name = container["name"].as_str().unwrap_or_default();
    let image = Image::in_pod(container["image"].as_str().unwrap_or_default(), pod);
    let status = pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["name"] == name);
    let running = status.is_some_and(|s| s["state"]["running"].is_object());
    if !running {
        return Some(format!("container {name:?} is not running"));
    }
    (image.kind == ImageKind::Simulated).then(|| {
        format!(
            "container {name:?} is not running: its image {} is simulated here, with no process to run in",
            image.reference
        )
    })
}

/// Where a command runs: the container's environment and working directory.
#[derive(Clone, Debug)]
pub struct Place {
    env: BTreeMap<String, String>,
    working_dir: Option<String>,
}

/// Which of the command's standard streams the client wants.
#[derive(Clone, Copy, Debug)]
pub struct Streams {
    /// Standard input, piped from the client.
    pub stdin: bool,
    /// Standard output, piped to the client.
    pub stdout: bool,
    /// Standard error, piped to the client.
    pub stderr: bool,
}

impl Place {
    /// The place of `container` of `pod` (which [`not_running`] said can run a command).
    pub fn of(registry: &Registry, pod: &Value, container: &Value) -> Place {
        // PATH and HOSTNAME as the container's process has them.
        let env = container_env(registry, pod, container);
        // The image's working directory when the host has it, else the container's root.
        let working_dir = container["workingDir"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| env.get(super::process::CONTAINER_ROOT).cloned())
            .filter(|d| std::path::Path::new(d).is_dir());
        Place { env, working_dir }
    }

    /// Starts `command` (its first word the program) with the streams asked for piped; the
    /// process is killed when its handle is dropped.
    pub fn spawn(
        &self,
        command: &[String],
        streams: Streams,
    ) -> std::io::Result<tokio::process::Child> {
        let Some((program, args)) = command.split_first() else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "no command given",
            ));
        };
        let pipe = |wanted: bool| {
            if wanted {
                Stdio::piped()
            } else {
                Stdio::null()
            }
        };
        let mut process = tokio::process::Command::new(program);
        process
            .args(args)
            .env_clear()
            .envs(&self.env)
            .stdin(pipe(streams.stdin))
            .stdout(pipe(streams.stdout))
            .stderr(pipe(streams.stderr))
            .kill_on_drop(true);
        if let Some(dir) = &self.working_dir {
            process.current_dir(dir);
        }
        process.spawn()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_simulated_container_has_nothing_to_run_in() {
        let pod = json!({
            "spec": {"containers": [{"name": "web", "image": "redis:7.2"}]},
            "status": {"containerStatuses": [{"name": "web", "state": {"running": {}}}]},
        });
        let why = not_running(&pod, &pod["spec"]["containers"][0]).unwrap();
        assert!(why.contains("redis:7.2 is simulated"), "{why}");
        let calculator = json!({
            "spec": {"containers": [{"name": "c", "image": "ghcr.io/hybrid-console/calculator:0.1.0"}]},
            "status": {"containerStatuses": [{"name": "c", "state": {"running": {}}}]},
        });
        assert!(not_running(&calculator, &calculator["spec"]["containers"][0]).is_none());
    }
}
