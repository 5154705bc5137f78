//! `spec.plugins`: declarative plugins, rendered as `plugin "<type>" "<name>"` stanzas of
//! `config.hcl`. Each entry is either an OCI `image` OpenBao downloads at start-up into the
//! pods' plugin directory, or a `command` already in the image's plugin directory; never both.
//! The checks follow what OpenBao 2.7.2 does with the stanza (an unknown type or a binary that
//! is not there fails OpenBao's post-unseal setup) and upstream's rules for which of version,
//! binary name and checksum may be left out.

use std::collections::BTreeSet;

use super::ValidationErrors;
use super::rules;
use crate::spec::{OpenBaoClusterSpec, Plugin, UnsealType};

/// Plugin types OpenBao registers (`plugin "<type>" ...`); any other makes its setup fail.
pub const PLUGIN_TYPES: [&str; 4] = ["secret", "auth", "database", "kms"];

/// Where the pods' plugin directory is mounted (`plugin_directory`), upstream's path.
pub const PLUGIN_DIRECTORY: &str = "/openbao/plugins";

/// Words that make a plugin environment variable a secret: plugins read their credentials
/// from their own configuration in OpenBao (written through its API, stored encrypted), never
/// from the spec, which is stored in plain text and rendered into a ConfigMap.
const SECRET_ENV_WORDS: [&str; 9] = [
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "PRIVATE_KEY",
    "API_KEY",
    "ACCESS_KEY",
    "CREDENTIAL",
];

/// At most this many plugins (each one is a process OpenBao may start).
const MAX_PLUGINS: usize = 64;

pub(super) fn validate_plugins(spec: &OpenBaoClusterSpec, errs: &mut ValidationErrors) {
    let plugins = &spec.plugins;
    if plugins.len() > MAX_PLUGINS {
        errs.add(
            "spec.plugins",
            format!("{} entries", plugins.len()),
            format!("must have at most {MAX_PLUGINS} entries"),
        );
    }
    // OpenBao 2.7 infers what earlier releases need spelt out (upstream's rule).
    let infers = rules::version_at_least(&spec.version, (2, 7, 0));
    let downloads = spec
        .configuration
        .plugin
        .as_ref()
        .and_then(|p| p.auto_download)
        == Some(true);
    let any_image = plugins.iter().any(|p| p.image.is_some());
    let mut seen = BTreeSet::new();
    for (i, plugin) in plugins.iter().enumerate() {
        let p = format!("spec.plugins[{i}]");
        if !PLUGIN_TYPES.contains(&plugin.type_.as_str()) {
            errs.add(
                format!("{p}.type"),
                &plugin.type_,
                format!(
                    "must be one of {}: OpenBao refuses any other plugin type, and fails its \
                     start-up with it",
                    PLUGIN_TYPES.join(", ")
                ),
            );
        }
        check_name(
            errs,
            &format!("{p}.name"),
            &plugin.name,
            "the plugin's name",
        );
        let key = (
            plugin.type_.clone(),
            plugin.name.clone(),
            plugin.version.clone().unwrap_or_default(),
        );
        if !seen.insert(key) {
            errs.add(
                format!("{p}.name"),
                &plugin.name,
                "duplicate: another entry has the same type, name and version",
            );
        }
        match (&plugin.image, &plugin.command) {
            (Some(_), Some(_)) => errs.add(
                format!("{p}.command"),
                plugin.command.as_deref().unwrap_or_default(),
                "must not be set together with image: an entry is either an OCI image OpenBao \
                 downloads or a command already in the image's plugin directory",
            ),
            (None, None) => errs.add(
                format!("{p}.image"),
                "",
                "required: set image (an OCI image OpenBao downloads at start-up) or command \
                 (a binary already in the OpenBao image's plugin directory /openbao/plugins)",
            ),
            (Some(image), None) => {
                check_image(errs, &p, plugin, image, infers);
                if !downloads {
                    errs.add(
                        format!("{p}.image"),
                        image,
                        "needs spec.configuration.plugin.autoDownload: true: OpenBao only \
                         downloads OCI plugins when told to, and nothing else puts the binary \
                         in the pods' plugin directory",
                    );
                }
            }
            (None, Some(command)) => {
                check_name(
                    errs,
                    &format!("{p}.command"),
                    command,
                    "a file name in the plugin directory /openbao/plugins (no '/')",
                );
                if any_image && downloads {
                    errs.add(
                        format!("{p}.command"),
                        command,
                        "cannot be combined with OCI plugins (image): their downloads go to a \
                         pod-local volume mounted over /openbao/plugins, which hides the \
                         image's preinstalled binaries; declare every plugin as an image, or \
                         every one as a command",
                    );
                }
                // Upstream: a command-based plugin may omit the checksum on OpenBao 2.7 and
                // later, and a KMS one the version too.
                if !infers && plugin.sha256sum.is_none() {
                    errs.add(
                        format!("{p}.sha256sum"),
                        "",
                        "required below OpenBao 2.7.0: the SHA-256 of the plugin binary",
                    );
                }
                if plugin.version.is_none() && !(infers && plugin.type_ == "kms") {
                    errs.add(
                        format!("{p}.version"),
                        "",
                        "required: the plugin's semantic version such as v1.0.0 (only KMS \
                         plugins on OpenBao 2.7.0 and later may leave it out)",
                    );
                }
            }
        }
        if let Some(version) = &plugin.version
            && let Err(why) = rules::check_semver(version.strip_prefix('v').unwrap_or(version))
        {
            errs.add(
                format!("{p}.version"),
                version,
                format!("must be a semantic version such as v1.0.0 or 1.0.0: {why}"),
            );
        }
        if let Some(binary) = &plugin.binary_name {
            check_name(
                errs,
                &format!("{p}.binaryName"),
                binary,
                "the file name of the binary (no '/')",
            );
        }
        if let Some(sum) = &plugin.sha256sum
            && !(sum.len() == 64 && sum.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            errs.add(
                format!("{p}.sha256sum"),
                sum,
                "must be 64 hexadecimal characters: the SHA-256 of the plugin binary",
            );
        }
        for (j, arg) in plugin.args.iter().enumerate() {
            if arg.chars().any(char::is_control) {
                errs.add(
                    format!("{p}.args[{j}]"),
                    arg,
                    "must not contain control characters",
                );
            }
        }
        for (j, entry) in plugin.env.iter().enumerate() {
            check_env(errs, &format!("{p}.env[{j}]"), entry);
        }
    }
    validate_seal_plugin(spec, errs);
}

/// An OCI plugin: a valid image reference; upstream's rules for what OpenBao 2.7 infers from
/// the image (the version from its tag, the binary from its entrypoint, and no checksum when
/// it is pinned by digest) and what earlier releases need.
fn check_image(errs: &mut ValidationErrors, p: &str, plugin: &Plugin, image: &str, infers: bool) {
    if let Err(why) = rules::check_image_reference(image) {
        errs.add(
            format!("{p}.image"),
            image,
            format!("must be an OCI image reference such as ghcr.io/org/plugin:v1.0.0: {why}"),
        );
        return;
    }
    let (without_digest, digest) = match image.split_once('@') {
        Some((name, _)) => (name, true),
        None => (image, false),
    };
    let tagged = without_digest
        .rsplit_once('/')
        .map_or(without_digest, |(_, last)| last)
        .contains(':');
    if plugin.version.is_none() && !(infers && tagged) {
        errs.add(
            format!("{p}.version"),
            "",
            "required: the plugin's version, which is also the image tag when the image has \
             none (OpenBao 2.7.0 and later infer it from a tagged image)",
        );
    }
    if plugin.binary_name.is_none() && !infers {
        errs.add(
            format!("{p}.binaryName"),
            "",
            "required below OpenBao 2.7.0: the file name of the plugin binary in the image",
        );
    }
    if plugin.sha256sum.is_none() && !(infers && digest) {
        errs.add(
            format!("{p}.sha256sum"),
            "",
            "required: the SHA-256 of the plugin binary (OpenBao 2.7.0 and later accept an \
             image pinned by @sha256 digest instead)",
        );
    }
}

/// A seal served by a KMS plugin names it: `unseal.type: kms` through `kms.pluginName`, and on
/// OpenBao 2.7.0 and later every seal that moved out of the server by its type. OpenBao starts
/// that plugin before it can unseal, so it must be declared here.
fn validate_seal_plugin(spec: &OpenBaoClusterSpec, errs: &mut ValidationErrors) {
    let (path, name) = match spec.unseal.type_ {
        UnsealType::Kms => match &spec.unseal.kms {
            Some(kms) => ("spec.unseal.kms.pluginName", kms.plugin_name.clone()),
            None => return,
        },
        kind if super::unseal::PLUGIN_SEALS_FROM_2_7.contains(&kind)
            && rules::version_at_least(&spec.version, (2, 7, 0)) =>
        {
            ("spec.unseal.type", kind.as_str().to_string())
        }
        _ => return,
    };
    let declared = spec
        .plugins
        .iter()
        .any(|p| p.type_ == "kms" && p.name == name);
    if !declared {
        errs.add(
            path,
            &name,
            format!(
                "needs a spec.plugins entry of type kms named {name:?}: OpenBao runs this seal \
                 as a KMS plugin and starts it before unsealing (OpenBao 2.7 no longer builds \
                 the awskms, gcpckms, azurekeyvault, ocikms and pkcs11 seals in)"
            ),
        );
    }
}

/// A plugin, command or binary name: one file name, which OpenBao joins to the plugin
/// directory, so no '/' and no dot-only names.
fn check_name(errs: &mut ValidationErrors, path: &str, value: &str, what: &str) {
    let ok = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_alphanumeric() || (i > 0 && matches!(b, b'-' | b'_' | b'.')));
    if !ok {
        errs.add(
            path,
            value,
            format!(
                "must be {what}: letters, digits, '-', '_' and '.', starting with a letter or \
                 digit, at most 128 characters"
            ),
        );
    }
}

/// `NAME=value`, with a variable name and no secret in it.
fn check_env(errs: &mut ValidationErrors, path: &str, entry: &str) {
    let Some((name, value)) = entry.split_once('=') else {
        errs.add(path, entry, "must be NAME=value");
        return;
    };
    let name_ok = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !name_ok {
        errs.add(
            path,
            name,
            "the name must be an environment variable name: a letter or '_', then letters, \
             digits and '_'",
        );
        return;
    }
    let upper = name.to_ascii_uppercase();
    if let Some(word) = SECRET_ENV_WORDS.iter().find(|w| upper.contains(*w)) {
        errs.add(
            path,
            format!("{name}=<redacted>"),
            format!(
                "must not carry a secret ({word} in the name): the spec is stored in plain text \
                 and rendered into the cluster's ConfigMap; configure the plugin's credentials \
                 through OpenBao's API after mounting it, where they are stored encrypted"
            ),
        );
    } else if value.chars().any(char::is_control) {
        errs.add(path, name, "the value must not contain control characters");
    }
}
