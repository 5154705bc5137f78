//! `validate()`: every semantic rule of the OpenBaoCluster spec, returning every error with its
//! field path, the offending value and what is allowed. The webhook, the reconciler and the
//! `render` CLI all call this one function; `validate_update` adds the immutability rules and
//! `warnings` lists legal but risky settings for admission warnings.
//!
//! The format checks themselves (names, CIDRs, durations, quantities, cron ...) live in
//! [`rules`] so builders and the webhook can reuse them.
//!
//! One file per spec section (`metadata`, `workload`, `tls`, `storage`, `unseal`, `network`,
//! `gateway`, `ingress`, `service`, `backup`, `configuration`, `audit`, `plugins`), `profile`
//! (the Hardened rules), `upstream` (upstream fields not built yet, refused by name), plus
//! `errors` (the error types), `checks` (field checks the sections share) and `warnings`. This
//! file lists the sections in order.

mod audit;
mod backup;
mod checks;
mod configuration;
mod errors;
mod gateway;
mod ingress;
mod metadata;
mod network;
mod plugins;
mod pods;
mod profile;
pub mod rules;
mod self_init;
mod service;
mod storage;
mod tls;
mod unseal;
mod upgrade;
mod upstream;
mod warnings;
mod workload;

pub use audit::AUDIT_FILE_STORAGE_MOUNT;
pub use errors::{FieldError, ValidationErrors, key_path};
pub use network::{validate_egress_rules, validate_ingress_rules};
pub use plugins::{PLUGIN_DIRECTORY, PLUGIN_TYPES};
pub use profile::{effective_profile, hardened_findings};
pub use self_init::{OPERATOR_AUDIENCE, OPERATOR_AUTH_MOUNT, OPERATOR_POLICY, enables_user_auth};
pub use upstream::NOT_SUPPORTED_YET;
pub use warnings::{API_SERVER_CIDR_WARN_PREFIX, warnings};

use crate::spec::OpenBaoCluster;
use backup::validate_backup;
use configuration::validate_configuration;
use gateway::{validate_gateway, validate_gateway_peer};
use metadata::validate_metadata;
use network::validate_network;
use service::validate_service;
use storage::{validate_storage, validate_storage_update};
use tls::validate_tls;
use unseal::{validate_unseal, validate_unseal_update};
use workload::{validate_image, validate_replicas, validate_version};

/// Check every semantic rule of `cluster` (metadata and spec). `Ok` means the builders can
/// render it without further checks. Every error is reported, not only the first.
pub fn validate(cluster: &OpenBaoCluster) -> Result<(), ValidationErrors> {
    let mut errs = ValidationErrors::default();
    validate_metadata(cluster, &mut errs);
    let spec = &cluster.spec;
    validate_version(&spec.version, &mut errs);
    if let Some(image) = &spec.image {
        validate_image(image, &mut errs);
    }
    validate_replicas(spec, &mut errs);
    pods::validate_pods(cluster, &mut errs);
    validate_tls(spec, &mut errs);
    validate_storage(&spec.storage, &mut errs);
    validate_unseal(cluster, &mut errs);
    validate_network(&spec.network, &mut errs);
    if let Some(gateway) = spec.enabled_gateway() {
        validate_gateway(gateway, &mut errs);
        validate_gateway_peer(cluster, gateway, &mut errs);
    }
    if let Some(ingress) = spec.enabled_ingress() {
        ingress::validate_ingress(ingress, &mut errs);
    }
    validate_service(&spec.service, &mut errs);
    if let Some(backup) = &spec.backup {
        validate_backup(backup, &mut errs);
    }
    validate_configuration(spec, &mut errs);
    audit::validate_audit(spec, &mut errs);
    self_init::validate_self_init(spec, &mut errs);
    plugins::validate_plugins(spec, &mut errs);
    upgrade::validate_upgrade(cluster, &mut errs);
    upstream::validate_not_yet_supported(spec, &mut errs);
    upstream::validate_legacy_spellings(cluster, &mut errs);
    profile::validate_profile(spec, &mut errs);
    errs.into_result()
}

/// `validate(new)` plus the rules that compare with the stored object: fields that cannot
/// change after creation.
pub fn validate_update(old: &OpenBaoCluster, new: &OpenBaoCluster) -> Result<(), ValidationErrors> {
    let mut errs = validate(new).err().unwrap_or_default();
    validate_storage_update(old, new, &mut errs);
    validate_unseal_update(old, new, &mut errs);
    self_init::validate_self_init_update(old, new, &mut errs);
    upgrade::validate_upgrade_update(old, new, &mut errs);
    errs.into_result()
}
