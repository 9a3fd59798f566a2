//! Windows builds as nodes and images name them, and which image builds a node's build runs.
//!
//! Windows containers on EKS are process-isolated: they share the node's kernel, so the image's
//! Windows build must suit the node's. A node says its build in the
//! `node.kubernetes.io/windows-build` label (`10.0.20348`) and `status.nodeInfo.kernelVersion`
//! (`10.0.20348.2849`); an image in its platform's `os.version` (`10.0.20348.2849`) or, by
//! convention, in its tag (`ltsc2022`, `1809`). The revision (the fourth number) is the patch
//! level and has not mattered since Windows Server 2019.

use std::fmt;

/// The node label that carries a Windows node's build, as the kubelet sets it.
pub const WINDOWS_BUILD_LABEL: &str = "node.kubernetes.io/windows-build";

/// A Windows build: `major.minor.build`, ordered by release.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WindowsBuild {
    /// 10 for every Windows that runs containers.
    pub major: u16,
    /// 0 likewise.
    pub minor: u16,
    /// The release: 17763 (Windows Server 2019), 20348 (2022), 26100 (2025).
    pub build: u32,
}

impl WindowsBuild {
    /// Windows Server 2016 (1607).
    pub const LTSC2016: WindowsBuild = WindowsBuild::new(14393);
    /// Windows Server 2019 (1809).
    pub const LTSC2019: WindowsBuild = WindowsBuild::new(17763);
    /// Windows Server 2022.
    pub const LTSC2022: WindowsBuild = WindowsBuild::new(20348);
    /// Windows Server 2025.
    pub const LTSC2025: WindowsBuild = WindowsBuild::new(26100);

    /// The long-term releases, oldest first, with their tag and product names.
    const RELEASES: [(WindowsBuild, &'static str, &'static str); 4] = [
        (WindowsBuild::LTSC2016, "ltsc2016", "Windows Server 2016"),
        (WindowsBuild::LTSC2019, "ltsc2019", "Windows Server 2019"),
        (WindowsBuild::LTSC2022, "ltsc2022", "Windows Server 2022"),
        (WindowsBuild::LTSC2025, "ltsc2025", "Windows Server 2025"),
    ];

    const fn new(build: u32) -> WindowsBuild {
        WindowsBuild {
            major: 10,
            minor: 0,
            build,
        }
    }

    /// `10.0.20348` or `10.0.20348.2849` (the revision is dropped); anything else is `None`.
    pub fn parse(text: &str) -> Option<WindowsBuild> {
        let mut parts = text.trim().split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let build = parts.next()?.parse().ok()?;
        match parts.next() {
            Some(revision) if revision.parse::<u32>().is_err() => return None,
            _ => {}
        }
        if parts.next().is_some() {
            return None;
        }
        Some(WindowsBuild {
            major,
            minor,
            build,
        })
    }

    /// The build an image's tag names by the conventions Microsoft's images follow
    /// (`ltsc2022`, `windowsservercore-ltsc2019`, `1809`, `4.8-windowsservercore-ltsc2019`,
    /// `10.0.17763.437`); `None` when the tag names none.
    pub fn of_tag(tag: &str) -> Option<WindowsBuild> {
        let tag = tag.to_ascii_lowercase();
        // A version tag (`0.1.0`) is no Windows build; every Windows that runs containers is 10.0.
        if let Some(build) = WindowsBuild::parse(&tag).filter(|b| (b.major, b.minor) == (10, 0)) {
            return Some(build);
        }
        tag.split(['-', '_']).find_map(|part| {
            WindowsBuild::RELEASES
                .iter()
                .find(|(_, name, _)| part.ends_with(name))
                .map(|(build, _, _)| *build)
                .or(match part {
                    "1607" => Some(WindowsBuild::LTSC2016),
                    "1809" => Some(WindowsBuild::LTSC2019),
                    _ => None,
                })
        })
    }

    /// The build a node reports: its `node.kubernetes.io/windows-build` label, else its kernel
    /// version.
    pub fn of_node(label: Option<&str>, kernel_version: Option<&str>) -> Option<WindowsBuild> {
        label
            .and_then(WindowsBuild::parse)
            .or_else(|| kernel_version.and_then(WindowsBuild::parse))
    }

    /// The build the nodes of an EKS Windows AMI type run (`WINDOWS_CORE_2025_x86_64` →
    /// 10.0.26100); `None` for an AMI type that names no Windows Server release.
    pub fn of_ami_type(ami_type: &str) -> Option<WindowsBuild> {
        if !ami_type.starts_with("WINDOWS_") {
            return None;
        }
        WindowsBuild::RELEASES
            .iter()
            .find(|(_, tag, _)| {
                let year = tag.trim_start_matches("ltsc");
                ami_type.contains(&format!("_{year}_"))
            })
            .map(|(build, _, _)| *build)
    }

    /// The tag convention's name for this build (`ltsc2022`), if it is a long-term release.
    pub fn tag_name(self) -> Option<&'static str> {
        WindowsBuild::RELEASES
            .iter()
            .find(|(build, _, _)| *build == self)
            .map(|(_, tag, _)| *tag)
    }

    /// `Windows Server 2022 (10.0.20348)`, or the bare build when it is no long-term release.
    pub fn describe(self) -> String {
        match WindowsBuild::RELEASES.iter().find(|(b, _, _)| *b == self) {
            Some((_, _, product)) => format!("{product} ({self})"),
            None => self.to_string(),
        }
    }

    /// Whether a node of this build runs a process-isolated container of `image`'s build. As
    /// the container runtime (hcsshim) judges it: before Windows Server 2022 the builds must be
    /// equal; from 2022 on Windows keeps a stable interface for containers, so a node runs
    /// images from Windows Server 2022 up to its own build (a 2025 node runs `ltsc2022`
    /// images, never `ltsc2019` ones).
    pub fn runs(self, image: WindowsBuild) -> bool {
        if (self.major, self.minor) != (image.major, image.minor) {
            return false;
        }
        if self < WindowsBuild::LTSC2022 {
            return self.build == image.build;
        }
        image >= WindowsBuild::LTSC2022 && image <= self
    }
}

impl fmt::Display for WindowsBuild {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.build)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_parse_with_or_without_the_revision() {
        assert_eq!(
            WindowsBuild::parse("10.0.20348"),
            Some(WindowsBuild::LTSC2022)
        );
        assert_eq!(
            WindowsBuild::parse("10.0.17763.6414"),
            Some(WindowsBuild::LTSC2019)
        );
        for bad in ["", "10.0", "ten.0.1", "10.0.20348.x", "10.0.1.2.3"] {
            assert_eq!(WindowsBuild::parse(bad), None, "{bad}");
        }
        assert_eq!(WindowsBuild::LTSC2025.to_string(), "10.0.26100");
    }

    #[test]
    fn tags_name_builds_by_microsofts_conventions() {
        for (tag, build) in [
            ("ltsc2022", Some(WindowsBuild::LTSC2022)),
            (
                "4.8-windowsservercore-ltsc2019",
                Some(WindowsBuild::LTSC2019),
            ),
            ("0.1.0-windows-ltsc2025", Some(WindowsBuild::LTSC2025)),
            ("windowsservercore-1809", Some(WindowsBuild::LTSC2019)),
            ("1809", Some(WindowsBuild::LTSC2019)),
            ("10.0.17763.437", Some(WindowsBuild::LTSC2019)),
            ("LTSC2022", Some(WindowsBuild::LTSC2022)),
            ("0.1.0", None),
            ("latest", None),
            ("2022", None),
        ] {
            assert_eq!(WindowsBuild::of_tag(tag), build, "{tag}");
        }
    }

    #[test]
    fn a_node_reports_its_build_by_label_then_kernel() {
        assert_eq!(
            WindowsBuild::of_node(Some("10.0.20348"), Some("10.0.17763.1")),
            Some(WindowsBuild::LTSC2022)
        );
        assert_eq!(
            WindowsBuild::of_node(None, Some("10.0.26100.2314")),
            Some(WindowsBuild::LTSC2025)
        );
        assert_eq!(WindowsBuild::of_node(None, Some("6.1.0-amzn")), None);
    }

    #[test]
    fn process_isolation_runs_equal_builds_and_2022_images_on_newer_nodes() {
        use WindowsBuild as B;
        let table = [
            (B::LTSC2019, B::LTSC2019, true),
            (B::LTSC2019, B::LTSC2022, false),
            (B::LTSC2022, B::LTSC2019, false),
            (B::LTSC2022, B::LTSC2022, true),
            (B::LTSC2022, B::LTSC2025, false),
            (B::LTSC2025, B::LTSC2022, true),
            (B::LTSC2025, B::LTSC2025, true),
            (B::LTSC2025, B::LTSC2019, false),
            (B::LTSC2016, B::LTSC2016, true),
        ];
        for (node, image, runs) in table {
            assert_eq!(node.runs(image), runs, "{node} node, {image} image");
        }
    }

    #[test]
    fn eks_windows_ami_types_name_their_build() {
        assert_eq!(
            WindowsBuild::of_ami_type("WINDOWS_FULL_2019_x86_64"),
            Some(WindowsBuild::LTSC2019)
        );
        assert_eq!(
            WindowsBuild::of_ami_type("WINDOWS_CORE_2025_x86_64"),
            Some(WindowsBuild::LTSC2025)
        );
        assert_eq!(WindowsBuild::of_ami_type("AL2023_x86_64_STANDARD"), None);
    }

    #[test]
    fn long_term_releases_have_names() {
        assert_eq!(WindowsBuild::LTSC2022.tag_name(), Some("ltsc2022"));
        assert_eq!(
            WindowsBuild::LTSC2019.describe(),
            "Windows Server 2019 (10.0.17763)"
        );
        assert_eq!(WindowsBuild::new(22631).describe(), "10.0.22631");
    }
}
