//! Kubernetes units and rules as both the console and its local cluster read them: resource
//! quantities (`250m`, `128Mi`) as numbers, ages as kubectl prints them (`5m3s`, `2d`), and
//! taints against tolerations as the scheduler judges them, and which Windows image builds a
//! Windows node runs. A crate of its own so the console needs none of the API server's
//! internals for them.

pub mod durations;
pub mod quantity;
pub mod taints;
pub mod windows_builds;
