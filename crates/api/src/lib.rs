//! OpenBaoCluster API types.
