//! The `OpenBaoCluster` API: CRD types, defaults, the names and labels of everything the
//! operator creates, condition vocabulary, and `validate()`. Pure: no IO, no client.
#![forbid(unsafe_code)]

pub mod conditions;
pub mod decode;
pub mod names;
pub mod restore;
pub mod spec;
pub mod status;
pub mod tenant;
pub mod validate;

pub use restore::{
    OpenBaoRestore, OpenBaoRestoreSpec, OpenBaoRestoreStatus, RestorePhase, RestoreSource,
    TargetLifecycle, validate_restore, validate_restore_update,
};
pub use spec::*;
pub use status::*;
pub use tenant::{
    OpenBaoTenant, OpenBaoTenantSpec, OpenBaoTenantStatus, validate_tenant, validate_tenant_scope,
    validate_tenant_update,
};
pub use validate::{FieldError, ValidationErrors, validate};
