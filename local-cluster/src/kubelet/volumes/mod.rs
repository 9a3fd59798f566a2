//! A pod's volumes on this machine, as a kubelet keeps them: `configMap`, `secret`,
//! `downwardAPI`, `projected` and `emptyDir` volumes in a directory per pod, written atomically
//! ([`atomic`]) and brought up to date every sync period, and each container's mounts.
//!
//! Containers run as host processes here, with no filesystem of their own, so a container gets
//! a root directory (`CONTAINER_ROOT`, also its working directory) in which each `mountPath` is
//! a symlink to its volume: `/etc/calculator` of the manifest is `$CONTAINER_ROOT/etc/calculator`
//! on this machine. A `subPath` mount is a copy made when the container starts, and is not
//! updated afterwards — as on a real kubelet, where a subPath bind-mounts the file of that
//! moment.

pub mod atomic;
pub mod payload;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use payload::{Kind, Lookups, text};

/// The directory of one pod's volumes and container roots.
#[derive(Debug)]
pub struct PodVolumes {
    dir: PathBuf,
    /// Each managed volume's current files (to tell whether a sync changes anything).
    written: HashMap<String, payload::Payload>,
}

/// `<root>/pods/<uid>`: where a pod's files are.
pub fn pod_dir(root: &Path, uid: &str) -> PathBuf {
    root.join("pods").join(uid)
}

/// The root directory of container `name` of the pod whose files are in `pod_dir`.
pub fn container_root(pod_dir: &Path, name: &str) -> PathBuf {
    pod_dir.join("containers").join(name).join("rootfs")
}

impl PodVolumes {
    /// The volumes of the pod with `uid`, under the kubelets' `root`.
    pub fn new(root: &Path, uid: &str) -> PodVolumes {
        PodVolumes {
            dir: pod_dir(root, uid),
            written: HashMap::new(),
        }
    }

    fn volume_dir(&self, name: &str) -> PathBuf {
        self.dir.join("volumes").join(name)
    }

    /// Sets up every volume of `pod`, or brings it up to date; the names of the volumes whose
    /// files changed. `Err` is the first volume that cannot be set up, in the kubelet's words
    /// (`MountVolume.SetUp failed for volume "config" : configmap "routes" not found`).
    pub fn sync(&mut self, pod: &Value, lookups: &Lookups<'_>) -> Result<Vec<String>, String> {
        let mut changed = Vec::new();
        for volume in pod["spec"]["volumes"].as_array().into_iter().flatten() {
            let name = text(&volume["name"]).to_owned();
            let failed =
                |why: String| format!("MountVolume.SetUp failed for volume {name:?} : {why}");
            let dir = self.volume_dir(&name);
            match payload::build(volume, pod, lookups).map_err(failed)? {
                Some(Kind::Managed(files)) => {
                    if self.written.get(&name) == Some(&files) {
                        continue;
                    }
                    if atomic::write(&dir, &files).map_err(|e| failed(e.to_string()))? {
                        changed.push(name.clone());
                    }
                    self.written.insert(name, files);
                }
                // A volume this cluster does not back (hostPath, a claim, …) is an empty
                // directory too, so the containers that mount it still start.
                Some(Kind::EmptyDir) | None => {
                    std::fs::create_dir_all(&dir).map_err(|e| failed(e.to_string()))?;
                }
            }
        }
        Ok(changed)
    }

    /// Makes `container`'s root: each of its `volumeMounts` in place. Returns the root.
    pub fn mount(&self, container: &Value) -> std::io::Result<PathBuf> {
        let root = container_root(&self.dir, text(&container["name"]));
        if root.exists() {
            // A restarted container mounts afresh (its subPath copies too, as a new bind
            // mount would read them).
            std::fs::remove_dir_all(&root)?;
        }
        std::fs::create_dir_all(&root)?;
        for mount in container["volumeMounts"].as_array().into_iter().flatten() {
            let mount_path = text(&mount["mountPath"]).trim_start_matches('/');
            if mount_path.is_empty() || mount_path.split('/').any(|p| p == "..") {
                continue;
            }
            let at = root.join(mount_path);
            if let Some(parent) = at.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let volume = self.volume_dir(text(&mount["name"]));
            match mount["subPath"].as_str().filter(|s| !s.is_empty()) {
                None => link(&volume, &at)?,
                Some(sub) if atomic::valid_path(sub) => {
                    let source = volume.join(sub);
                    if source.is_file() {
                        std::fs::copy(&source, &at)?;
                    } else {
                        // A directory of the volume (made if missing, as the kubelet does).
                        std::fs::create_dir_all(&source)?;
                        link(&source, &at)?;
                    }
                }
                Some(_) => {}
            }
        }
        Ok(root)
    }

    /// Removes the pod's files.
    pub fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(unix)]
fn link(target: &Path, at: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, at)
}

#[cfg(not(unix))]
fn link(target: &Path, at: &Path) -> std::io::Result<()> {
    std::os::windows::fs::symlink_dir(target, at)
}

#[cfg(test)]
mod tests;
