//! Amazon EKS: the AWS configuration and its errors, EC2's instance-type facts, Cost
//! Explorer's node-group costs, the bearer token the console signs, the
//! way into a cluster with no kubeconfig, the EKS API's node groups, taking a node group out of
//! service (drain first), and what the window asks of all that.

mod aws;
pub mod connect;
pub mod cost;
pub mod desk;
mod ec2;
pub mod ecr;
pub mod emulator;
mod node_group_api;
pub mod retirement;
mod signed_call;
pub mod token;

pub use aws::{Aws, AwsError, ClusterAccess};
pub use token::EksToken;
