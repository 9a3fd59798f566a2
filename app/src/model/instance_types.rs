//! What the console knows of EC2 instance types, in one place: the facts EC2's
//! `DescribeInstanceTypes` gave (interfaces and IPv4 addresses, which bound Windows pods on EKS;
//! architecture, size, generation), and which run on Arm by their name when EC2 was not asked.

/// Whether an EC2 instance type runs on Arm (Graviton: a `g` after the generation digit, as
/// in `m6g`, `c7gn`, `t4g`, `x2gd`; or the first-generation `a1`).
pub fn is_arm_instance_type(instance_type: &str) -> bool {
    let family = instance_type.split('.').next().unwrap_or_default();
    if family == "a1" {
        return true;
    }
    let Some(digit) = family.find(|c: char| c.is_ascii_digit()) else {
        return false;
    };
    let suffix = family[digit..].trim_start_matches(|c: char| c.is_ascii_digit());
    suffix.split('-').next().unwrap_or_default().contains('g')
}

/// What EC2 says of one instance type (`DescribeInstanceTypes`): what bounds Windows pods, what
/// the type runs on, and whether it is of a previous generation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceTypeFacts {
    /// `t3.large`.
    pub name: String,
    /// Network interfaces it may have.
    pub max_interfaces: u32,
    /// IPv4 addresses per network interface.
    pub ipv4_per_interface: u32,
    /// On the Nitro system (where IPv4 prefix delegation works).
    pub nitro: bool,
    /// `x86_64`, `arm64`, `i386`.
    pub architectures: Vec<String>,
    /// Default vCPUs.
    pub vcpus: u32,
    /// Memory in MiB.
    pub memory_mib: u64,
    /// EC2's `CurrentGeneration`.
    pub current_generation: bool,
    /// EC2's `EnaSupport`: `required`, `supported` or `unsupported`.
    pub ena_support: String,
}

impl InstanceTypeFacts {
    /// Pod addresses a Windows node of this type has: Windows pods take the secondary IPv4
    /// addresses of the primary interface only (the VPC resource controller's rule), or
    /// /28 prefixes of 16 in their place when prefix delegation is on and the type is Nitro.
    /// With the words of how it was counted.
    pub fn windows_pod_addresses(&self, prefix_delegation: bool) -> (u32, String) {
        let secondary = self.ipv4_per_interface.saturating_sub(1);
        if prefix_delegation && self.nitro {
            (
                secondary * 16,
                format!(
                    "{}: ({} IPv4 per ENI − 1) × 16 prefixes, from EC2",
                    self.name, self.ipv4_per_interface
                ),
            )
        } else {
            let note = if prefix_delegation {
                ", not Nitro so no prefixes"
            } else {
                ""
            };
            (
                secondary,
                format!(
                    "{}: {} IPv4 per ENI − 1, from EC2{note}",
                    self.name, self.ipv4_per_interface
                ),
            )
        }
    }

    /// Whether it runs on Arm.
    pub fn is_arm(&self) -> bool {
        self.architectures.iter().any(|a| a.starts_with("arm"))
    }

    /// A previous-generation type without ENA — the families EKS once listed as unsupported for
    /// Windows (C3, C4, D2, I2, R3, and M4 except m4.16xlarge, the one M4 with ENA).
    pub fn is_legacy_for_windows(&self) -> bool {
        !self.current_generation && self.ena_support == "unsupported"
    }

    /// One line for the add dialog: vCPUs, memory, interfaces.
    pub fn describe(&self) -> String {
        format!(
            "{}: {} vCPU, {} GiB, {} ENIs × {} IPv4, {}{}",
            self.name,
            self.vcpus,
            self.memory_mib as f64 / 1024.0,
            self.max_interfaces,
            self.ipv4_per_interface,
            self.architectures.join("/"),
            if self.nitro { ", Nitro" } else { "" }
        )
    }
}

/// The facts EC2 gave for the instance types asked about, or why they could not be read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstanceCatalog {
    /// By instance type name.
    pub facts: std::collections::BTreeMap<String, InstanceTypeFacts>,
    /// Why EC2 was not (or could not be) asked; `None` when it answered or nobody asked.
    pub unavailable: Option<String>,
}

impl InstanceCatalog {
    /// The facts of `instance_type`, if EC2 gave them.
    pub fn get(&self, instance_type: &str) -> Option<&InstanceTypeFacts> {
        self.facts.get(instance_type)
    }

    /// Whether `instance_type` runs on Arm: EC2's word where it gave one, else the name's.
    pub fn is_arm(&self, instance_type: &str) -> bool {
        self.get(instance_type)
            .map(InstanceTypeFacts::is_arm)
            .unwrap_or_else(|| is_arm_instance_type(instance_type))
    }

    /// The warning for a Windows node group on `instance_type`, if it is of a legacy family.
    pub fn windows_legacy_warning(&self, instance_type: &str) -> Option<String> {
        let facts = self.get(instance_type)?;
        facts.is_legacy_for_windows().then(|| {
            format!(
                "instance type {instance_type} is of a previous generation without ENA (EC2: CurrentGeneration false, EnaSupport unsupported); EKS once listed these families as unsupported for Windows and its current documentation no longer does, but current Windows AMIs are tested on current types: prefer one such as t3, m5 or m6i"
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graviton_instance_types_are_told_from_x86() {
        for arm in [
            "m6g.large",
            "c7gn.xlarge",
            "t4g.medium",
            "x2gd.metal",
            "a1.large",
            "im4gn.large",
            "is4gen.xlarge",
            "g5g.xlarge",
            "r8g.large",
            "hpc7g.4xlarge",
        ] {
            assert!(is_arm_instance_type(arm), "{arm}");
        }
        for x86 in [
            "t3.large",
            "m5.large",
            "g4dn.xlarge",
            "c6i.2xlarge",
            "m7i-flex.large",
            "inf2.xlarge",
            "p4de.24xlarge",
            "gr6.4xlarge",
            "u7i-12tb.224xlarge",
        ] {
            assert!(!is_arm_instance_type(x86), "{x86}");
        }
    }

    fn facts(name: &str, current: bool, ena: &str, per_eni: u32, nitro: bool) -> InstanceTypeFacts {
        InstanceTypeFacts {
            name: name.into(),
            max_interfaces: 3,
            ipv4_per_interface: per_eni,
            nitro,
            architectures: vec!["x86_64".into()],
            vcpus: 2,
            memory_mib: 8192,
            current_generation: current,
            ena_support: ena.into(),
        }
    }

    #[test]
    fn windows_pod_addresses_are_the_primary_enis_secondaries_or_their_prefixes() {
        let t3 = facts("t3.large", true, "required", 12, true);
        assert_eq!(t3.windows_pod_addresses(false).0, 11);
        assert_eq!(t3.windows_pod_addresses(true).0, 176);
        let m4 = facts("m4.large", false, "unsupported", 10, false);
        let (n, basis) = m4.windows_pod_addresses(true);
        assert_eq!(n, 9);
        assert!(basis.contains("not Nitro"), "{basis}");
    }

    #[test]
    fn only_previous_generation_types_without_ena_are_legacy_for_windows() {
        let mut catalog = InstanceCatalog::default();
        for f in [
            facts("m4.large", false, "unsupported", 10, false),
            facts("m4.16xlarge", false, "supported", 30, false),
            facts("m5.large", false, "required", 10, true),
            facts("t3.large", true, "required", 12, true),
        ] {
            catalog.facts.insert(f.name.clone(), f);
        }
        assert!(catalog.windows_legacy_warning("m4.large").is_some());
        for fine in ["m4.16xlarge", "m5.large", "t3.large", "unknown.large"] {
            assert_eq!(catalog.windows_legacy_warning(fine), None, "{fine}");
        }
        // EC2's architecture outranks the name; unknown types fall back to the name.
        catalog
            .facts
            .get_mut("t3.large")
            .expect("t3.large")
            .architectures = vec!["arm64".into()];
        assert!(catalog.is_arm("t3.large"));
        assert!(catalog.is_arm("m6g.large"));
    }
}
