//! What an image is to this cluster: the project's calculator (run as a real process), a
//! well-known image whose program this machine has (a shell, Python, a static web server: run
//! as a real process too), or anything else (simulated, as kwok does), and which operating
//! systems it was built for.

use kube_units::windows_builds::WindowsBuild;

use crate::nodes::NodeOs;

/// How a container of this image runs here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageKind {
    /// The calculator: `calc-services <role>` as a real process.
    Calculator,
    /// A well-known image whose program the host has: the container's command runs as a host
    /// process.
    Host(HostImage),
    /// Any other image: Running and Ready after a short delay, without a process.
    Simulated,
}

/// The well-known images this machine can stand in for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostImage {
    /// busybox, alpine, debian, ubuntu: the command runs with the host's shell and tools.
    Shell,
    /// python: `python`/`python3` is the host's `python3`.
    Python,
    /// nginx, httpd: a small built-in server of the document root on the container's port.
    StaticWeb {
        /// Where the image serves files from (`/usr/share/nginx/html`).
        document_root: &'static str,
    },
}

impl HostImage {
    fn of(repository: &str) -> Option<HostImage> {
        Some(match repository {
            "busybox" | "alpine" | "debian" | "ubuntu" => HostImage::Shell,
            "python" => HostImage::Python,
            "nginx" => HostImage::StaticWeb {
                document_root: "/usr/share/nginx/html",
            },
            "httpd" => HostImage::StaticWeb {
                document_root: "/usr/local/apache2/htdocs",
            },
            _ => return None,
        })
    }
}

/// An image reference, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// As written in the pod (`ghcr.io/hybrid-console/calculator:0.1.0`).
    pub reference: String,
    /// How it runs.
    pub kind: ImageKind,
    /// The platforms its manifest list has.
    pub platforms: Vec<NodeOs>,
    /// The Windows builds of its Windows platforms, where known (empty: no Windows platform,
    /// or one whose build neither its registry, its tag nor the project's own build says).
    pub windows_builds: Vec<WindowsBuild>,
    /// Whether its registry showed an image index (each node pulls the entry for its platform).
    pub from_index: bool,
}

/// The pod annotation that sets the exit code of its simulated containers when the pod runs to
/// completion (`restartPolicy` Never or OnFailure, as a Job's pods): a testing knob, as kwok has.
pub const SIMULATED_EXIT_CODE: &str = "local-cluster.hybrid-console.io/simulated-exit-code";

/// The repository name (last path segment, without tag or digest) that marks the calculator image,
/// whatever registry and tag it carries.
pub const CALCULATOR_REPOSITORY: &str = "calculator";

/// The Windows build of the calculator's Windows image unless its tag says another:
/// `calc-services/Dockerfile.windows` builds on `nanoserver:ltsc2022`.
pub const CALCULATOR_WINDOWS_BUILD: WindowsBuild = WindowsBuild::LTSC2022;

impl Image {
    /// Resolves `reference`. The calculator's multi-platform tag is built for Linux and Windows
    /// (see its two Dockerfiles and the manifest list the README builds); its per-platform tags
    /// (`…-linux-amd64`, `…-windows-ltsc2022`) carry one platform each, as do Microsoft's Windows
    /// base images. Any other image is assumed Linux-only, like most of Docker Hub.
    pub fn resolve(reference: &str) -> Image {
        let without_digest = reference.split('@').next().unwrap_or(reference);
        let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
        let (repository, tag) = last.split_once(':').unwrap_or((last, ""));
        let windows_tag = ["windows", "ltsc", "nanoserver", "servercore"]
            .iter()
            .any(|w| tag.contains(w));
        let windows_only = windows_tag || without_digest.starts_with("mcr.microsoft.com/windows/");
        let platforms = if windows_only {
            vec![NodeOs::Windows]
        } else if repository == CALCULATOR_REPOSITORY && !tag.contains("linux") {
            vec![NodeOs::Linux, NodeOs::Windows]
        } else {
            vec![NodeOs::Linux]
        };
        let windows_build = if !platforms.contains(&NodeOs::Windows) {
            None
        } else if repository == CALCULATOR_REPOSITORY {
            WindowsBuild::of_tag(tag).or(Some(CALCULATOR_WINDOWS_BUILD))
        } else {
            WindowsBuild::of_tag(tag)
        };
        Image {
            reference: reference.to_owned(),
            windows_builds: windows_build.into_iter().collect(),
            from_index: false,
            kind: if repository == CALCULATOR_REPOSITORY {
                ImageKind::Calculator
            } else if let Some(host) = HostImage::of(repository).filter(|_| !windows_only) {
                ImageKind::Host(host)
            } else {
                ImageKind::Simulated
            },
            platforms,
        }
    }

    /// How a container of `reference` runs in `pod`: a pod naming the exit code its containers
    /// end with (the [`SIMULATED_EXIT_CODE`] annotation) asks for its well-known images to be
    /// simulated.
    pub fn in_pod(reference: &str, pod: &serde_json::Value) -> Image {
        let mut image = Image::resolve(reference);
        if matches!(image.kind, ImageKind::Host(_))
            && pod["metadata"]["annotations"][SIMULATED_EXIT_CODE].is_string()
        {
            image.kind = ImageKind::Simulated;
        }
        image
    }

    /// The environment the image itself sets (its `ENV` lines), under the container's own.
    /// The calculator's misbehaving builds are tags of their own, as `calc-services/Dockerfile`
    /// builds them with `--build-arg CALC_MISBEHAVE=…`: `…-float` (binary floating point, the
    /// drift a shadow step finds) and `…-failN` (N % of answers fail, what a canary catches).
    pub fn baked_env(&self) -> Vec<(String, String)> {
        if self.kind != ImageKind::Calculator {
            return Vec::new();
        }
        let without_digest = self.reference.split('@').next().unwrap_or(&self.reference);
        let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
        let tag = last.split_once(':').map_or("", |(_, tag)| tag);
        tag.split('-')
            .find_map(|part| match part {
                "float" => Some("float".to_owned()),
                _ => part
                    .strip_prefix("fail")
                    .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                    .map(|n| format!("fail-percent={n}")),
            })
            .map(|value| vec![("CALC_MISBEHAVE".to_owned(), value)])
            .unwrap_or_default()
    }

    /// The name kubectl shows once pulled (`docker.io/library/nginx:latest` for `nginx`).
    pub fn full_name(&self) -> String {
        let mut name = self.reference.clone();
        let first = name.split('/').next().unwrap_or_default();
        let has_registry = name.contains('/')
            && (first.contains('.') || first.contains(':') || first == "localhost");
        if !has_registry {
            name = if name.contains('/') {
                format!("docker.io/{name}")
            } else {
                format!("docker.io/library/{name}")
            };
        }
        let last = name.rsplit('/').next().unwrap_or_default();
        if !last.contains(':') && !name.contains('@') {
            name.push_str(":latest");
        }
        name
    }

    /// A stable content digest for `imageID` (derived from the reference: no registry is contacted).
    pub fn digest(&self) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.reference.bytes() {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        let repository = self
            .full_name()
            .rsplit_once(':')
            .map(|(r, _)| r.to_owned())
            .unwrap_or_default();
        format!(
            "{repository}@sha256:{hash:016x}{:016x}{hash:016x}{:016x}",
            hash.rotate_left(17),
            hash.rotate_left(41)
        )
    }

    /// Whether a process-isolated container of this image starts on a Windows node of `build`
    /// (an image of unknown build is let run).
    pub fn runs_on_windows(&self, build: WindowsBuild) -> bool {
        self.windows_builds.is_empty() || self.windows_builds.iter().any(|image| build.runs(*image))
    }

    /// What its registry says replaces what the tag suggested: the OSes it has and their
    /// Windows builds.
    pub fn learn(&mut self, registry: &image_platforms::Platforms) {
        self.platforms = registry
            .platforms
            .iter()
            .filter_map(|p| match p.os.as_str() {
                "linux" => Some(NodeOs::Linux),
                "windows" => Some(NodeOs::Windows),
                _ => None,
            })
            .fold(Vec::new(), |mut oses, os| {
                if !oses.contains(&os) {
                    oses.push(os);
                }
                oses
            });
        self.windows_builds = registry.windows_builds();
        self.from_index = registry.index;
    }

    /// The registry to ask before pulling: one on this machine (the cluster reads no other, as
    /// it pulls nothing from the internet).
    pub fn local_registry(&self) -> Option<String> {
        image_platforms::registry_of(&self.reference).filter(|r| image_platforms::is_local(r))
    }

    /// The error containerd on Windows reports when the container's build does not suit the
    /// node's: the compute system is refused when the task is created.
    pub fn build_error(container_id: &str) -> String {
        format!(
            "failed to create containerd task: failed to create shim task: hcs::CreateComputeSystem {container_id}: The container operating system does not match the host operating system.: unknown"
        )
    }

    /// The error containerd reports when the manifest list has no entry for the node's platform.
    pub fn platform_error(&self) -> String {
        format!(
            "failed to pull and unpack image \"{}\": no match for platform in manifest: not found",
            self.full_name()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_calculator_is_recognised_under_any_registry_and_tag() {
        for reference in [
            "ghcr.io/hybrid-console/calculator:0.1.0",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/calculator:v2",
            "calculator",
            "localhost:5000/team/calculator@sha256:abc",
        ] {
            assert_eq!(
                Image::resolve(reference).kind,
                ImageKind::Calculator,
                "{reference}"
            );
        }
        let nginx = Image::resolve("nginx");
        assert_eq!(
            (nginx.kind.clone(), nginx.platforms.clone()),
            (
                ImageKind::Host(HostImage::StaticWeb {
                    document_root: "/usr/share/nginx/html"
                }),
                vec![NodeOs::Linux]
            )
        );
        assert_eq!(
            Image::resolve("docker.io/library/busybox:1.36").kind,
            ImageKind::Host(HostImage::Shell)
        );
        assert_eq!(
            Image::resolve("python:3.12-slim").kind,
            ImageKind::Host(HostImage::Python)
        );
        assert_eq!(Image::resolve("redis:7.2").kind, ImageKind::Simulated);
        assert_eq!(nginx.full_name(), "docker.io/library/nginx:latest");
        // One platform per tag, as the README's build steps make them.
        assert_eq!(
            Image::resolve("ghcr.io/hybrid-console/calculator:0.1.0-windows-ltsc2022").platforms,
            vec![NodeOs::Windows]
        );
        assert_eq!(
            Image::resolve("ghcr.io/hybrid-console/calculator:0.1.0-linux-amd64").platforms,
            vec![NodeOs::Linux]
        );
        assert_eq!(
            Image::resolve("mcr.microsoft.com/windows/servercore/iis").platforms,
            vec![NodeOs::Windows]
        );
        assert_eq!(
            Image::resolve("bitnami/redis:7").full_name(),
            "docker.io/bitnami/redis:7"
        );
    }

    #[test]
    fn a_windows_image_knows_its_build_from_its_tag_or_the_projects_build() {
        let build = |reference: &str| Image::resolve(reference).windows_builds.first().copied();
        assert_eq!(
            build("mcr.microsoft.com/dotnet/framework/aspnet:4.8-windowsservercore-ltsc2019"),
            Some(WindowsBuild::LTSC2019)
        );
        assert_eq!(
            build("ghcr.io/hybrid-console/calculator:0.1.0"),
            Some(CALCULATOR_WINDOWS_BUILD)
        );
        assert_eq!(
            build("calculator:0.1.0-windows-ltsc2025"),
            Some(WindowsBuild::LTSC2025)
        );
        assert_eq!(build("mcr.microsoft.com/windows/servercore/iis"), None);
        assert_eq!(build("calculator:0.1.0-linux-amd64"), None);
        let old = Image::resolve("mcr.microsoft.com/windows/nanoserver:ltsc2019");
        assert!(old.runs_on_windows(WindowsBuild::LTSC2019));
        assert!(!old.runs_on_windows(WindowsBuild::LTSC2022));
        let unknown = Image::resolve("mcr.microsoft.com/windows/servercore/iis");
        assert!(unknown.runs_on_windows(WindowsBuild::LTSC2025));
        assert_eq!(
            Image::resolve("bitnami/redis:7").full_name(),
            "docker.io/bitnami/redis:7"
        );
    }

    #[test]
    fn misbehaving_calculator_tags_bake_their_misbehaviour_in() {
        let baked = |reference: &str| Image::resolve(reference).baked_env();
        let misbehave = |value: &str| vec![("CALC_MISBEHAVE".to_owned(), value.to_owned())];
        assert_eq!(
            baked("ghcr.io/hybrid-console/calculator:0.1.0-float"),
            misbehave("float")
        );
        assert_eq!(
            baked("ghcr.io/hybrid-console/calculator:0.1.0-float-linux-amd64"),
            misbehave("float")
        );
        assert_eq!(baked("calculator:0.1.0-fail5"), misbehave("fail-percent=5"));
        for plain in [
            "ghcr.io/hybrid-console/calculator:0.1.0",
            "calculator:0.1.0-failure",
            "calculator:0.1.0-linux-amd64",
            "busybox:float",
        ] {
            assert_eq!(baked(plain), vec![], "{plain}");
        }
    }
}
