//! What the console knows of EC2 instance types, in one place: which run on Arm, and how many
//! IPv4 addresses one network interface takes (what bounds Windows pods on EKS).

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

/// IPv4 addresses per network interface of an instance type, for the types Windows node groups
/// commonly use (EC2's published table); `None` when not known here.
pub fn ipv4_per_interface(instance_type: &str) -> Option<u32> {
    let (family, size) = instance_type.split_once('.')?;
    if matches!(family, "t2" | "t3" | "t3a") {
        return match size {
            "nano" | "micro" => Some(2),
            "small" => Some(4),
            "medium" => Some(6),
            "large" => Some(12),
            "xlarge" | "2xlarge" => Some(15),
            _ => None,
        };
    }
    let letter = family.chars().next()?;
    let generation: u32 = family
        .chars()
        .skip(1)
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()?;
    if !matches!(letter, 'm' | 'c' | 'r') || generation < 5 {
        return None;
    }
    match size {
        "large" => Some(10),
        "xlarge" | "2xlarge" => Some(15),
        "4xlarge" | "8xlarge" | "9xlarge" | "12xlarge" => Some(30),
        "16xlarge" | "18xlarge" | "24xlarge" | "32xlarge" | "48xlarge" | "metal" => Some(50),
        _ => None,
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

    #[test]
    fn addresses_per_interface_follow_ec2s_table() {
        assert_eq!(ipv4_per_interface("t3.large"), Some(12));
        assert_eq!(ipv4_per_interface("t3.medium"), Some(6));
        assert_eq!(ipv4_per_interface("m5.large"), Some(10));
        assert_eq!(ipv4_per_interface("c6i.4xlarge"), Some(30));
        assert_eq!(ipv4_per_interface("r7i.24xlarge"), Some(50));
        assert_eq!(ipv4_per_interface("m4.large"), None);
        assert_eq!(ipv4_per_interface("weird"), None);
    }
}
