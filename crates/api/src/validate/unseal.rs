//! `spec.unseal`: the seal type, its matching options block and credentials; the type
//! cannot change after creation.

use super::ValidationErrors;
use super::checks::{check_secret_ref, check_token, check_url, json_of};
use super::rules;
use crate::spec::{OpenBaoCluster, UnsealSpec, UnsealType};

pub(super) fn validate_unseal(unseal: &UnsealSpec, errs: &mut ValidationErrors) {
    let kind = unseal.type_;
    let blocks: [(UnsealType, Option<String>); 4] = [
        (UnsealType::Transit, unseal.transit.as_ref().map(json_of)),
        (UnsealType::Awskms, unseal.awskms.as_ref().map(json_of)),
        (UnsealType::Gcpckms, unseal.gcpckms.as_ref().map(json_of)),
        (
            UnsealType::Azurekeyvault,
            unseal.azurekeyvault.as_ref().map(json_of),
        ),
    ];
    for (block_type, block) in blocks {
        let name = block_type.as_str();
        let path = format!("spec.unseal.{name}");
        match block {
            None if block_type == kind => errs.add(
                path,
                "",
                format!("required when spec.unseal.type is {name}: the {name} seal's options"),
            ),
            Some(json) if block_type != kind => errs.add(
                path,
                json,
                format!(
                    "must not be set when spec.unseal.type is {}: only the block matching the \
                     type is allowed; remove it or set type to {name}",
                    kind.as_str()
                ),
            ),
            _ => {}
        }
    }
    if let Some(secret) = &unseal.credentials_secret_ref {
        if kind == UnsealType::Static {
            errs.add(
                "spec.unseal.credentialsSecretRef",
                &secret.name,
                "must not be set when spec.unseal.type is static: the static key is generated \
                 by the operator and kept in the Secret <cluster>-unseal-key, so there are no \
                 seal credentials; credentials are for transit, awskms, gcpckms and \
                 azurekeyvault",
            );
        }
        check_secret_ref(errs, "spec.unseal.credentialsSecretRef", secret);
    }
    match kind {
        UnsealType::Static => {}
        UnsealType::Transit => {
            if let Some(t) = &unseal.transit {
                let p = "spec.unseal.transit";
                check_url(
                    errs,
                    &format!("{p}.address"),
                    &t.address,
                    "https://vault.example.com:8200",
                );
                check_token(
                    errs,
                    &format!("{p}.keyName"),
                    &t.key_name,
                    "the transit key's name",
                );
                if let Some(mount) = &t.mount_path {
                    check_token(
                        errs,
                        &format!("{p}.mountPath"),
                        mount,
                        "a mount path such as transit/",
                    );
                }
                if let Some(ns) = &t.namespace {
                    check_token(errs, &format!("{p}.namespace"), ns, "the remote namespace");
                }
                if let Some(key) = &t.tls_ca_key {
                    let path = format!("{p}.tlsCaKey");
                    if !rules::is_config_map_key(key) {
                        errs.add(
                            &path,
                            key,
                            "must be a Secret key: letters, digits, '-', '_' and '.', such as ca.crt",
                        );
                    } else if unseal.credentials_secret_ref.is_none() {
                        errs.add(
                            &path,
                            key,
                            "requires spec.unseal.credentialsSecretRef: it names an entry of that Secret",
                        );
                    }
                }
            }
        }
        UnsealType::Awskms => {
            if let Some(a) = &unseal.awskms {
                let p = "spec.unseal.awskms";
                if a.region.is_empty() {
                    errs.add(
                        format!("{p}.region"),
                        "",
                        "required: an AWS region such as eu-west-1",
                    );
                } else if !rules::is_aws_region(&a.region) {
                    errs.add(
                        format!("{p}.region"),
                        &a.region,
                        "must be an AWS region such as eu-west-1 or us-gov-west-1 (lowercase \
                         words joined by '-' and a number)",
                    );
                }
                check_token(
                    errs,
                    &format!("{p}.kmsKeyId"),
                    &a.kms_key_id,
                    "a KMS key ID or ARN",
                );
                if let Some(endpoint) = &a.endpoint {
                    check_url(
                        errs,
                        &format!("{p}.endpoint"),
                        endpoint,
                        "https://kms.eu-west-1.amazonaws.com",
                    );
                }
            }
        }
        UnsealType::Gcpckms => {
            if let Some(g) = &unseal.gcpckms {
                let p = "spec.unseal.gcpckms";
                check_token(
                    errs,
                    &format!("{p}.project"),
                    &g.project,
                    "a GCP project ID",
                );
                check_token(
                    errs,
                    &format!("{p}.region"),
                    &g.region,
                    "a location such as global",
                );
                check_token(
                    errs,
                    &format!("{p}.keyRing"),
                    &g.key_ring,
                    "a key ring name",
                );
                check_token(
                    errs,
                    &format!("{p}.cryptoKey"),
                    &g.crypto_key,
                    "a crypto key name",
                );
            }
        }
        UnsealType::Azurekeyvault => {
            if let Some(a) = &unseal.azurekeyvault {
                let p = "spec.unseal.azurekeyvault";
                check_token(
                    errs,
                    &format!("{p}.tenantId"),
                    &a.tenant_id,
                    "an Azure AD tenant ID",
                );
                check_token(
                    errs,
                    &format!("{p}.vaultName"),
                    &a.vault_name,
                    "a Key Vault name",
                );
                check_token(errs, &format!("{p}.keyName"), &a.key_name, "a key name");
                if let Some(env) = &a.environment {
                    check_token(
                        errs,
                        &format!("{p}.environment"),
                        env,
                        "an Azure environment such as AZUREPUBLICCLOUD",
                    );
                }
                if let Some(id) = &a.client_id {
                    check_token(
                        errs,
                        &format!("{p}.clientId"),
                        id,
                        "a service principal's client ID",
                    );
                }
            }
        }
    }
}

/// `spec.unseal.type` cannot change after creation.
pub(super) fn validate_unseal_update(
    old: &OpenBaoCluster,
    new: &OpenBaoCluster,
    errs: &mut ValidationErrors,
) {
    if old.spec.unseal.type_ != new.spec.unseal.type_ {
        errs.add(
            "spec.unseal.type",
            new.spec.unseal.type_.as_str(),
            format!(
                "is immutable (it was {}): changing the seal requires an offline seal migration \
                 of the Raft data, which the operator does not perform",
                old.spec.unseal.type_.as_str()
            ),
        );
    }
}
