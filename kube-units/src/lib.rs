//! Kubernetes units as both the console and its local cluster read and print them: resource
//! quantities (`250m`, `128Mi`) as numbers, and ages as kubectl prints them (`5m3s`, `2d`).
//! A crate of its own so the console needs none of the API server's internals for them.

pub mod durations;
pub mod quantity;
