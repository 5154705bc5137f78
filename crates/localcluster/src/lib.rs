//! Local control plane for tests.
