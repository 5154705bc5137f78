//! Kubernetes NetworkPolicy semantics.
