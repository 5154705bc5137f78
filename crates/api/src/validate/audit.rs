//! `spec.audit` and `spec.auditFileStorage`: declarative audit devices, rendered as `audit`
//! stanzas of `config.hcl` once the cluster is initialized (OpenBao enables them at unseal), and
//! the volume their files go to. Each device's options must match its type; a file device
//! writes to stdout, discard, or a file under the audit volume's mount (any other path is on
//! the read-only root filesystem or on a volume of the operator's, and a device that cannot
//! write keeps OpenBao sealed).

use std::collections::BTreeSet;

use super::ValidationErrors;
use super::checks::{check_subdomain, json_of};
use super::rules;
use crate::spec::{
    AuditDevice, AuditDeviceType, OpenBaoClusterSpec, SharedVolume, SharedVolumeMode,
};

/// Where `spec.auditFileStorage` is mounted when `mountPath` is unset (upstream's default).
pub const AUDIT_FILE_STORAGE_MOUNT: &str = "/openbao/audit";

/// Directories the audit volume must neither be mounted at, inside, nor over: the operator's
/// own mounts (configuration, TLS, seal key and credentials, Raft data, plugins, scratch, the
/// ServiceAccount token) and the system's.
const RESERVED_DIRS: [&str; 14] = [
    "/etc",
    "/openbao/data",
    "/openbao/plugins",
    "/tmp",
    "/var/run",
    "/run",
    "/proc",
    "/sys",
    "/dev",
    "/bin",
    "/sbin",
    "/usr",
    "/lib",
    "/lib64",
];

pub(super) fn validate_audit(spec: &OpenBaoClusterSpec, errs: &mut ValidationErrors) {
    let storage = spec.audit_file_storage.as_deref();
    let mount = storage.map(|s| {
        validate_audit_file_storage(s, errs);
        s.mount_path
            .clone()
            .unwrap_or_else(|| AUDIT_FILE_STORAGE_MOUNT.to_string())
    });
    let devices = &spec.audit;
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
        validate_device_options(&p, device, mount.as_deref(), errs);
    }
}

/// The rules every audit device's options follow, whether it is a `spec.audit` entry or a
/// self-initialization request's `auditDevice`: options match the type, a file device writes
/// where it can, an http device has a URL.
pub(super) fn validate_device_options(
    p: &str,
    device: &AuditDevice,
    mount: Option<&str>,
    errs: &mut ValidationErrors,
) {
    {
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
                    "required when type is file: fileOptions.filePath (stdout, discard, or a file under spec.auditFileStorage's mount)",
                ),
                Some(file) => {
                    check_file_path(errs, &format!("{p}.fileOptions.filePath"), &file.file_path, mount);
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

/// `stdout`, `discard`, or (with an audit volume) an absolute path strictly under its mount.
pub(super) fn check_file_path(
    errs: &mut ValidationErrors,
    path: &str,
    value: &str,
    mount: Option<&str>,
) {
    if value == "stdout" || value == "discard" {
        return;
    }
    match mount {
        None => errs.add(
            path,
            value,
            "must be stdout (collected with the pod's log) or discard: a file needs the audit \
             volume of spec.auditFileStorage, under whose mount (default /openbao/audit) it is \
             then written",
        ),
        Some(mount) => {
            let under = value
                .strip_prefix(mount)
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|rest| !rest.is_empty());
            if !under || !is_clean_absolute(value) {
                errs.add(
                    path,
                    value,
                    format!(
                        "must be stdout, discard, or a file under {mount}/ (the audit volume of \
                         spec.auditFileStorage), such as {mount}/audit.log, without '.' or '..' \
                         components: everything else is read-only or belongs to the operator"
                    ),
                );
            }
        }
    }
}

/// `/a/b`: absolute, no empty, `.` or `..` components, no trailing '/', no control characters.
fn is_clean_absolute(path: &str) -> bool {
    path.len() <= 1024
        && !path.chars().any(char::is_control)
        && path.strip_prefix('/').is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .split('/')
                    .all(|c| !c.is_empty() && c != "." && c != "..")
        })
}

/// Upstream's rules for the audit volume (mode-dependent fields, an absolute mount that is not
/// `/`), and ours: the mount stays clear of the operator's and the system's directories.
fn validate_audit_file_storage(storage: &SharedVolume, errs: &mut ValidationErrors) {
    let p = "spec.auditFileStorage";
    match storage.mode {
        SharedVolumeMode::ManagedPVC => {
            validate_managed_claim(p, storage, "<cluster>-audit", errs);
        }
        SharedVolumeMode::ExistingPVC => {
            match &storage.existing_claim_name {
                None => errs.add(
                    format!("{p}.existingClaimName"),
                    "",
                    "required when mode is ExistingPVC: a ReadWriteMany PersistentVolumeClaim \
                     in the cluster's namespace",
                ),
                Some(claim) => check_subdomain(
                    errs,
                    &format!("{p}.existingClaimName"),
                    claim,
                    "the name of a PersistentVolumeClaim in the cluster's namespace",
                ),
            }
            for (field, set) in [
                ("size", storage.size.is_some()),
                ("storageClassName", storage.storage_class_name.is_some()),
            ] {
                if set {
                    errs.add(
                        format!("{p}.{field}"),
                        "set",
                        "only allowed when mode is ManagedPVC: an existing claim keeps its own",
                    );
                }
            }
        }
    }
    if let Some(mount) = &storage.mount_path {
        let path = format!("{p}.mountPath");
        if !is_clean_absolute(mount) {
            errs.add(
                &path,
                mount,
                "must be an absolute path other than /, without '.', '..' or empty \
                 components and without a trailing '/', such as /openbao/audit",
            );
        } else if let Some(reserved) = RESERVED_DIRS.iter().find(|r| {
            mount == *r
                || mount.starts_with(&format!("{r}/"))
                || r.starts_with(&format!("{mount}/"))
        }) {
            errs.add(
                &path,
                mount,
                format!(
                    "must not be {reserved}, inside it or above it: it holds the operator's \
                     own mounts or the system's; use a directory of its own such as \
                     /openbao/audit"
                ),
            );
        }
    }
}

/// A shared volume in ManagedPVC mode (the audit volume, the ACME cache): the operator creates
/// the claim `claim`, so the size is required and no existing claim may be named.
pub(super) fn validate_managed_claim(
    p: &str,
    storage: &SharedVolume,
    claim: &str,
    errs: &mut ValidationErrors,
) {
    if let Some(existing) = &storage.existing_claim_name {
        errs.add(
            format!("{p}.existingClaimName"),
            existing,
            format!(
                "only allowed when mode is ExistingPVC: with ManagedPVC the operator creates \
                 the claim {claim}"
            ),
        );
    }
    match &storage.size {
        None => errs.add(
            format!("{p}.size"),
            "",
            "required when mode is ManagedPVC: the claim's size, such as 20Gi",
        ),
        Some(size) => match rules::parse_quantity(size) {
            Err(why) => errs.add(
                format!("{p}.size"),
                size,
                format!("{why}; must be a Kubernetes quantity such as 20Gi"),
            ),
            Ok(q) if q.negative || q.zero || q.ceil_units < (1 << 20) => errs.add(
                format!("{p}.size"),
                size,
                "must be at least 1Mi, such as 20Gi",
            ),
            Ok(_) => {}
        },
    }
    if let Some(class) = &storage.storage_class_name {
        check_subdomain(
            errs,
            &format!("{p}.storageClassName"),
            class,
            "a StorageClass name (one that provisions ReadWriteMany volumes)",
        );
    }
}
