//! `spec.audit`: declarative audit devices, rendered as `audit` stanzas of `config.hcl` once the
//! cluster is initialized (OpenBao enables them at unseal). Each device's options must match its
//! type; file devices write to stdout or discard (a file needs a volume of its own, which comes
//! with `auditFileStorage`: a device that cannot write keeps OpenBao sealed).

use std::collections::BTreeSet;

use super::ValidationErrors;
use super::checks::json_of;
use crate::spec::{AuditDevice, AuditDeviceType};

pub(super) fn validate_audit(devices: &[AuditDevice], errs: &mut ValidationErrors) {
    let mut paths = BTreeSet::new();
    for (i, device) in devices.iter().enumerate() {
        let p = format!("spec.audit[{i}]");
        let valid_path = !device.path.is_empty()
            && device.path.len() <= 128
            && device
                .path
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'/')
            && !device.path.starts_with('/');
        if !valid_path {
            errs.add(
                format!("{p}.path"),
                &device.path,
                "must be a mount path of letters, digits, '-', '_' and '/', not starting with \
                 '/', at most 128 characters, such as file or audit/stdout",
            );
        } else if !paths.insert(device.path.trim_end_matches('/').to_string()) {
            errs.add(
                format!("{p}.path"),
                &device.path,
                "duplicate: each audit device needs its own path",
            );
        }
        let blocks = [
            (
                AuditDeviceType::File,
                "fileOptions",
                device.file_options.is_some(),
            ),
            (
                AuditDeviceType::Http,
                "httpOptions",
                device.http_options.is_some(),
            ),
            (
                AuditDeviceType::Syslog,
                "syslogOptions",
                device.syslog_options.is_some(),
            ),
            (
                AuditDeviceType::Socket,
                "socketOptions",
                device.socket_options.is_some(),
            ),
        ];
        for (type_, field, set) in blocks {
            if set && type_ != device.type_ {
                errs.add(
                    format!("{p}.{field}"),
                    "set",
                    format!(
                        "only allowed when type is {}",
                        json_of(&type_).trim_matches('"')
                    ),
                );
            }
        }
        match device.type_ {
            AuditDeviceType::File => match &device.file_options {
                None => errs.add(
                    format!("{p}.fileOptions"),
                    "",
                    "required when type is file: fileOptions.filePath (stdout or discard)",
                ),
                Some(file) => {
                    let path = &file.file_path;
                    if path != "stdout" && path != "discard" {
                        errs.add(
                            format!("{p}.fileOptions.filePath"),
                            path,
                            format!(
                                "{}: audit files need a volume of their own \
                                 (spec.auditFileStorage); use stdout (collected with the pod's \
                                 log) or discard",
                                super::NOT_SUPPORTED_YET
                            ),
                        );
                    }
                    if let Some(mode) = &file.mode
                        && !((3..=4).contains(&mode.len())
                            && mode.bytes().all(|b| (b'0'..=b'7').contains(&b)))
                    {
                        errs.add(
                            format!("{p}.fileOptions.mode"),
                            mode,
                            "must be an octal file mode such as 0600",
                        );
                    }
                }
            },
            AuditDeviceType::Http => match &device.http_options {
                None => errs.add(
                    format!("{p}.httpOptions"),
                    "",
                    "required when type is http: httpOptions.uri",
                ),
                Some(http) => {
                    if !(http.uri.starts_with("https://") || http.uri.starts_with("http://")) {
                        errs.add(
                            format!("{p}.httpOptions.uri"),
                            &http.uri,
                            "must be an http:// or https:// URL",
                        );
                    }
                    if http.headers.is_some() {
                        errs.add(
                            format!("{p}.httpOptions.headers"),
                            "set",
                            format!(
                                "{}: headers of http audit devices are not rendered yet",
                                super::NOT_SUPPORTED_YET
                            ),
                        );
                    }
                }
            },
            AuditDeviceType::Syslog | AuditDeviceType::Socket => {}
        }
        if let Some(options) = &device.options {
            let flat = options
                .as_object()
                .is_some_and(|o| o.values().all(|v| v.is_string() || v.is_boolean()));
            if !flat {
                errs.add(
                    format!("{p}.options"),
                    json_of(options),
                    "must be a flat object of string (or boolean) values, as OpenBao's audit \
                     options are",
                );
            }
        }
    }
}
