//! Writing a volume's files the way the kubelet's AtomicWriter does, so a process reading them
//! never sees half an update: the files go into a new hidden directory (`..2026_12_06_19_40_00.
//! 123456789`), the `..data` symlink is switched to it in one rename, and each top-level name is
//! a symlink through `..data` (`routes.yaml` → `..data/routes.yaml`). A reader that opened the
//! old files keeps reading them; the next open sees the new ones.

use std::io;
use std::path::Path;

use super::payload::Payload;

const DATA: &str = "..data";
const DATA_TMP: &str = "..data_tmp";

/// What `dir` holds now through `..data`, or `None` when nothing was written yet.
fn current(dir: &Path) -> io::Result<Option<Payload>> {
    let data = dir.join(DATA);
    if std::fs::symlink_metadata(&data).is_err() {
        return Ok(None);
    }
    let mut payload = Payload::new();
    read_tree(&data, "", &mut payload)?;
    Ok(Some(payload))
}

fn read_tree(root: &Path, prefix: &str, out: &mut Payload) -> io::Result<()> {
    for entry in std::fs::read_dir(root.join(prefix))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let relative = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        if entry.file_type()?.is_dir() {
            read_tree(root, &relative, out)?;
        } else {
            let data = std::fs::read(entry.path())?;
            out.insert(
                relative,
                super::payload::File {
                    data,
                    mode: mode_of(&entry.path())?,
                },
            );
        }
    }
    Ok(())
}

#[cfg(unix)]
fn mode_of(path: &Path) -> io::Result<u32> {
    use std::os::unix::fs::PermissionsExt;
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o777)
}

#[cfg(not(unix))]
fn mode_of(_: &Path) -> io::Result<u32> {
    Ok(0o644)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(target: &Path, link: &Path) -> io::Result<()> {
    std::os::windows::fs::symlink_dir(target, link)
}

/// A relative path a volume may hold: no absolute paths, no `..` elements, no names starting
/// with `..` (the kubelet's rule: they would collide with its own hidden entries).
pub fn valid_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != ".." && !part.starts_with(".."))
}

/// Makes `dir` hold `payload`; `Ok(false)` when it already did (nothing is written then).
pub fn write(dir: &Path, payload: &Payload) -> io::Result<bool> {
    std::fs::create_dir_all(dir)?;
    let old = current(dir)?;
    if old.as_ref() == Some(payload) {
        return Ok(false);
    }
    let now = jiff::Timestamp::now();
    let version = format!("..{}", now.strftime("%Y_%m_%d_%H_%M_%S.%f"));
    let version_dir = dir.join(&version);
    std::fs::create_dir(&version_dir)?;
    for (path, file) in payload {
        if !valid_path(path) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid path {path:?} in volume"),
            ));
        }
        let target = version_dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, &file.data)?;
        set_mode(&target, file.mode)?;
    }
    // The switch: a new link renamed over the old one.
    let previous = std::fs::read_link(dir.join(DATA)).ok();
    let tmp = dir.join(DATA_TMP);
    let _ = std::fs::remove_file(&tmp);
    symlink(Path::new(&version), &tmp)?;
    std::fs::rename(&tmp, dir.join(DATA))?;
    // Top-level names through `..data`; names no longer in the payload go.
    let top: std::collections::BTreeSet<&str> =
        payload.keys().filter_map(|p| p.split('/').next()).collect();
    for name in &top {
        let link = dir.join(name);
        if std::fs::symlink_metadata(&link).is_err() {
            symlink(&Path::new(DATA).join(name), &link)?;
        }
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("..") && !top.contains(name.as_str()) {
            std::fs::remove_file(entry.path())?;
        }
    }
    if let Some(previous) = previous {
        let _ = std::fs::remove_dir_all(dir.join(previous));
    }
    Ok(true)
}

#[cfg(all(test, unix))]
mod tests {
    use super::super::payload::File;
    use super::*;

    fn file(text: &str) -> File {
        File {
            data: text.as_bytes().to_vec(),
            mode: 0o644,
        }
    }

    #[test]
    fn an_update_swaps_the_data_link_and_keeps_names_stable() {
        let dir = tempfile::tempdir().expect("temp dir");
        let volume = dir.path().join("config");
        let first = Payload::from([
            ("routes.yaml".to_owned(), file("sum: in-process")),
            ("nested/a.txt".to_owned(), file("a")),
        ]);
        assert!(write(&volume, &first).expect("first write"));
        assert!(
            !write(&volume, &first).expect("unchanged"),
            "nothing to write"
        );
        let link = std::fs::read_link(volume.join("routes.yaml")).expect("a symlink");
        assert_eq!(link, Path::new("..data/routes.yaml"));
        assert_eq!(
            std::fs::read_to_string(volume.join("routes.yaml")).expect("read"),
            "sum: in-process"
        );
        assert_eq!(
            std::fs::read_to_string(volume.join("nested/a.txt")).expect("read"),
            "a"
        );
        let first_version = std::fs::read_link(volume.join("..data")).expect("..data");

        // A reader holding the old file open keeps its content.
        let held = std::fs::File::open(volume.join("routes.yaml")).expect("open");
        let second = Payload::from([("routes.yaml".to_owned(), file("sum: service"))]);
        assert!(write(&volume, &second).expect("update"));
        assert_eq!(
            std::fs::read_to_string(volume.join("routes.yaml")).expect("read"),
            "sum: service"
        );
        assert_eq!(
            std::io::read_to_string(held).expect("held"),
            "sum: in-process"
        );
        assert!(
            std::fs::symlink_metadata(volume.join("nested")).is_err(),
            "gone with its key"
        );
        assert!(
            !volume.join(&first_version).exists(),
            "the old version is removed"
        );
        let hidden: Vec<String> = std::fs::read_dir(&volume)
            .expect("list")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".."))
            .collect();
        assert_eq!(hidden.len(), 2, "..data and one version: {hidden:?}");
    }

    #[test]
    fn paths_that_escape_are_refused() {
        assert!(valid_path("a/b.txt"));
        assert!(!valid_path("../etc/passwd"));
        assert!(!valid_path("/abs"));
        assert!(!valid_path("..data"));
        assert!(!valid_path("a//b"));
        let dir = tempfile::tempdir().expect("temp dir");
        let bad = Payload::from([("../x".to_owned(), file("x"))]);
        assert!(write(dir.path(), &bad).is_err());
    }
}
