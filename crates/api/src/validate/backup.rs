//! `spec.backup`: the schedule, the snapshot target, retention and the backup Jobs' egress.

use super::ValidationErrors;
use super::checks::{HOUR, check_secret_ref, check_token, check_url};
use super::network::validate_egress_rules;
use super::rules;
use crate::spec::{BackupProvider, BackupSpec};

/// The shortest time allowed between two scheduled backups, in minutes: each one reads the
/// whole Raft store through the active member and uploads it.
pub const MIN_BACKUP_INTERVAL_MINUTES: u32 = 15;

pub(super) fn validate_backup(backup: &BackupSpec, errs: &mut ValidationErrors) {
    match rules::parse_cron(&backup.schedule) {
        Ok(schedule) if schedule.shortest_interval_minutes() < MIN_BACKUP_INTERVAL_MINUTES => {
            errs.add(
                "spec.backup.schedule",
                &backup.schedule,
                format!(
                    "fires {} minute(s) apart at the shortest; backups may run at most every \
                     {MIN_BACKUP_INTERVAL_MINUTES} minutes (each reads the whole Raft store), \
                     for example \"*/15 * * * *\" or \"0 */6 * * *\"",
                    schedule.shortest_interval_minutes()
                ),
            );
        }
        Ok(_) => {}
        Err(why) => {
            errs.add(
                "spec.backup.schedule",
                &backup.schedule,
                format!(
                    "{why}; must be a 5-field cron expression (minute hour day-of-month month \
                 day-of-week, in UTC) such as \"0 */6 * * *\", or @hourly, @daily, @weekly, \
                 @monthly or @yearly"
                ),
            );
        }
    }
    let target = &backup.target;
    let p = "spec.backup.target";
    let provider = target.provider;
    let name = provider.as_str();
    let bucket = &target.bucket;
    if bucket.is_empty() {
        errs.add(
            format!("{p}.bucket"),
            "",
            format!(
                "required: the {}",
                if provider == BackupProvider::Azure {
                    "container name"
                } else {
                    "bucket name"
                }
            ),
        );
    } else {
        let checked = match provider {
            BackupProvider::Gcs => rules::check_gcs_bucket_name(bucket),
            BackupProvider::Azure => rules::check_azure_container_name(bucket),
            BackupProvider::S3 => rules::check_s3_bucket_name(bucket),
        };
        if let Err(why) = checked {
            errs.add(
                format!("{p}.bucket"),
                bucket,
                format!("must be a valid {name} bucket name: {why}"),
            );
        }
    }
    if provider == BackupProvider::S3 && target.endpoint.as_deref().is_none_or(str::is_empty) {
        errs.add(
            format!("{p}.endpoint"),
            "",
            "required when provider is s3: the store's URL, such as https://s3.eu-west-1.amazonaws.com",
        );
    }
    if let Some(prefix) = &target.path_prefix
        && prefix.chars().any(char::is_control)
    {
        errs.add(
            format!("{p}.pathPrefix"),
            prefix,
            "must not contain control characters",
        );
    }
    if target.insecure_skip_verify == Some(true) {
        errs.add(
            format!("{p}.insecureSkipVerify"),
            true,
            "is refused: the object store's certificate is always verified; give a private CA \
             as caCert in the credentials Secret",
        );
    }
    if let Some(endpoint) = &target.endpoint {
        check_url(
            errs,
            &format!("{p}.endpoint"),
            endpoint,
            "https://s3.eu-west-1.amazonaws.com",
        );
        if rules::check_http_url(endpoint).is_ok()
            && let Err(why) = crate::restore::check_object_store_endpoint(endpoint)
        {
            errs.add(format!("{p}.endpoint"), endpoint, why);
        }
    }
    if let Some(region) = &target.region {
        check_token(
            errs,
            &format!("{p}.region"),
            region,
            "a region such as eu-west-1",
        );
    }
    if let Some(secret) = &target.credentials_secret_ref {
        check_secret_ref(errs, &format!("{p}.credentialsSecretRef"), secret);
    }
    if let Some(retention) = &backup.retention {
        if let Some(count) = retention.max_count
            && !(0..=10000).contains(&count)
        {
            errs.add(
                "spec.backup.retention.maxCount",
                count,
                "must be between 0 (no limit) and 10000",
            );
        }
        if let Some(age) = &retention.max_age {
            let path = "spec.backup.retention.maxAge";
            match rules::parse_go_duration(age) {
                Err(why) => errs.add(
                    path,
                    age,
                    format!("{why}; must be a duration of at least 1h, such as 168h or 720h"),
                ),
                Ok(d) if d < HOUR => errs.add(
                    path,
                    age,
                    "must be at least 1h, so a snapshot is not deleted before the next one is \
                     taken",
                ),
                Ok(_) => {}
            }
        }
    }
    if let Some(list) = &backup.egress_rules {
        validate_egress_rules(list, "spec.backup.egressRules", errs);
    }
}
