//! Format checks shared by `validate`, the builders and the webhook: Kubernetes names,
//! label keys and values, IP addresses and CIDRs, Go durations, quantities, cron schedules,
//! image references, URLs and object-store bucket names. `is_*` answer yes or no; `check_*`
//! and `parse_*` also say what is wrong, in words meant for the user.

mod cloud;
mod cron;
mod duration;
mod image;
mod ip;
mod names;
mod quantity;
mod semver;
mod url;

pub use cloud::{
    check_azure_container_name, check_gcs_bucket_name, check_s3_bucket_name, is_aws_region,
};
pub use cron::{CronSchedule, parse_cron};
pub use duration::parse_go_duration;
pub use image::check_image_reference;
pub use ip::{parse_cidr, parse_ip};
pub use names::{
    DNS_LABEL_MAX_LEN, DNS_SUBDOMAIN_MAX_LEN, LABEL_VALUE_MAX_LEN, check_label_value,
    check_qualified_name, is_config_map_key, is_dns_name, is_dns1035_label, is_dns1035_label_shape,
    is_dns1123_label, is_dns1123_subdomain, is_iana_svc_name, is_label_value, is_qualified_name,
};
pub use quantity::{Quantity, parse_quantity};
pub use semver::{check_semver, version_at_least};
pub use url::check_http_url;
