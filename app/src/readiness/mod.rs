//! The hybrid readiness check, cluster side: gathering what the pure check in
//! [`crate::model::readiness`] reads (nodes, pods, workloads, the VPC CNI's settings, the Windows
//! builds of images from their registries, an EKS cluster's node groups) and what the window
//! asks of it.

pub mod desk;
mod gather;
mod image_builds;

pub use gather::{ReadinessError, check, review_node_group, vpc_cni};
