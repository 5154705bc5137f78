//! Which container images the node runs: an image of the node's OCI store, or a name for a
//! local binary.
//!
//! An image whose exact `repository:tag` (digest dropped, tag `latest` when absent) is in the
//! node's store ([`crate::NodeOptions::oci_images`], see `oci`) runs from its own root
//! filesystem, entrypoint, environment and user; the store takes precedence over the table
//! below, which stays for the images that cannot be built here.
//!
//! Otherwise an image is a name for a binary on this machine. The default table
//! maps every image whose repository ends with `openbao/openbao` (any registry, tag or digest:
//! `quay.io/openbao/openbao:2.7.2`, `openbao/openbao`, `docker.io/openbao/openbao@sha256:..`)
//! to the pinned `bao` ([`crate::bao_binary`], OpenBao [`crate::OPENBAO_VERSION`]), whatever
//! the tag says. Extra rules ([`crate::NodeOptions::images`]) add repositories or pin a tag to
//! another binary (`"openbao/openbao:2.6.0"`). Kubernetes' e2e test image
//! `registry.k8s.io/e2e-test-images/agnhost` (any tag) runs the cached `agnhost`
//! ([`crate::agnhost_binary`]) with its image's entrypoint (`agnhost <args>`); when that binary
//! is not built, such a container waits with `ErrImagePull` and the command that builds it.
//! Any other image leaves its container waiting with reason `ErrImagePull` and a message
//! naming what is supported.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

/// The repository (suffix) of the official OpenBao images.
pub const OPENBAO_REPOSITORY: &str = "openbao/openbao";
/// The repository (suffix) of Kubernetes' e2e test image `agnhost`
/// (`registry.k8s.io/e2e-test-images/agnhost:<tag>`).
pub const AGNHOST_REPOSITORY: &str = "e2e-test-images/agnhost";

/// `repository` and `tag` of an image reference (the digest dropped; the tag defaults to
/// `latest` like the container runtimes' default).
#[derive(Debug, PartialEq, Eq)]
struct Reference<'a> {
    repository: &'a str,
    tag: &'a str,
}

fn parse(image: &str) -> Reference<'_> {
    let without_digest = image.split_once('@').map_or(image, |(name, _)| name);
    // A colon after the last slash separates the tag; one before it is a registry port.
    let slash = without_digest.rfind('/').map_or(0, |i| i + 1);
    match without_digest[slash..].rfind(':') {
        Some(colon) => Reference {
            repository: &without_digest[..slash + colon],
            tag: &without_digest[slash + colon + 1..],
        },
        None => Reference {
            repository: without_digest,
            tag: "latest",
        },
    }
}

/// The key of the node's image store for a reference: `repository:tag`, exactly as written
/// (no registry or namespace is implied), the digest dropped and the tag `latest` by default.
pub(crate) fn store_key(image: &str) -> String {
    let reference = parse(image);
    format!("{}:{}", reference.repository, reference.tag)
}

/// Whether `repository` is `pattern` or ends with `/<pattern>` (any registry or namespace
/// prefix).
fn repository_matches(repository: &str, pattern: &str) -> bool {
    repository == pattern
        || repository
            .strip_suffix(pattern)
            .is_some_and(|rest| rest.ends_with('/'))
}

/// The binary that runs `image`: a rule `repo:tag` with the exact tag wins over a rule `repo`
/// (any tag); among those, the longest repository pattern wins. `Err` is the message for the
/// container status.
pub(crate) fn resolve<'a>(
    rules: &'a BTreeMap<String, PathBuf>,
    image: &str,
) -> Result<&'a Path, String> {
    let wanted = parse(image);
    let mut best: Option<(bool, usize, &Path)> = None;
    for (pattern, binary) in rules {
        let rule = parse(pattern);
        let pinned = pattern.contains(':') && !pattern.ends_with(':');
        let pinned = pinned && pattern.rfind(':') > pattern.rfind('/');
        if !repository_matches(wanted.repository, rule.repository)
            || (pinned && rule.tag != wanted.tag)
        {
            continue;
        }
        let rank = (pinned, rule.repository.len());
        if best.is_none_or(|(p, l, _)| rank > (p, l)) {
            best = Some((pinned, rule.repository.len(), binary));
        }
    }
    best.map(|(_, _, binary)| binary).ok_or_else(|| {
        let supported: Vec<&str> = rules.keys().map(String::as_str).collect();
        format!(
            "image {image:?} is not supported by the localcluster node: it runs only images \
             whose repository ends with one of [{}] (any registry and tag, e.g. \
             quay.io/openbao/openbao:{}), each backed by a local binary",
            supported.join(", "),
            crate::OPENBAO_VERSION
        )
    })
}

/// The program an image runs when the pod gives no `command` (the image's ENTRYPOINT):
/// `agnhost` for the agnhost image; `None` for the others, which follow the OpenBao image's
/// entrypoint (see `pod::command_line`).
pub(crate) fn entrypoint(image: &str) -> Option<&'static str> {
    repository_matches(parse(image).repository, AGNHOST_REPOSITORY).then_some("agnhost")
}

/// `Err` (the message for the container status) when the binary an image resolved to is not
/// an executable file, e.g. an agnhost that `hack/setup.sh` has not built yet.
pub(crate) fn check_binary(image: &str, binary: &Path) -> Result<(), String> {
    if crate::binaries::is_executable(binary) {
        return Ok(());
    }
    Err(format!(
        "image {image:?} runs the local binary {}, which is missing or not executable; build \
         the node's test binaries with: {} --only netstack",
        binary.display(),
        crate::setup_command()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> BTreeMap<String, PathBuf> {
        BTreeMap::from([
            (
                OPENBAO_REPOSITORY.to_owned(),
                PathBuf::from("/bin/bao-default"),
            ),
            (
                "openbao/openbao:2.6.0".to_owned(),
                PathBuf::from("/bin/bao-2.6.0"),
            ),
        ])
    }

    #[test]
    fn references_split_into_repository_and_tag() {
        assert_eq!(
            parse("quay.io/openbao/openbao:2.7.2"),
            Reference {
                repository: "quay.io/openbao/openbao",
                tag: "2.7.2"
            }
        );
        assert_eq!(
            parse("localhost:5000/openbao/openbao"),
            Reference {
                repository: "localhost:5000/openbao/openbao",
                tag: "latest"
            }
        );
        assert_eq!(
            parse("openbao/openbao@sha256:abc").repository,
            "openbao/openbao"
        );
    }

    #[test]
    fn store_keys_are_repository_and_tag_with_latest_by_default_and_no_digest() {
        assert_eq!(store_key("localhost/op:dev"), "localhost/op:dev");
        assert_eq!(store_key("localhost/op"), "localhost/op:latest");
        assert_eq!(
            store_key("localhost:5000/op@sha256:00"),
            "localhost:5000/op:latest"
        );
        assert_eq!(store_key("op:1@sha256:00"), "op:1");
    }

    #[test]
    fn openbao_images_from_any_registry_run_bao_and_a_pinned_tag_wins() {
        let rules = rules();
        for image in [
            "quay.io/openbao/openbao:2.7.2",
            "openbao/openbao",
            "docker.io/openbao/openbao@sha256:0123",
            "ghcr.io/openbao/openbao:latest",
        ] {
            assert_eq!(
                resolve(&rules, image),
                Ok(Path::new("/bin/bao-default")),
                "{image}"
            );
        }
        assert_eq!(
            resolve(&rules, "quay.io/openbao/openbao:2.6.0"),
            Ok(Path::new("/bin/bao-2.6.0"))
        );
    }

    #[test]
    fn agnhost_images_of_any_tag_run_agnhost_as_their_entrypoint() {
        let mut rules = rules();
        rules.insert(
            AGNHOST_REPOSITORY.to_owned(),
            PathBuf::from("/bin/agnhost-cached"),
        );
        for image in [
            "registry.k8s.io/e2e-test-images/agnhost:2.56",
            "registry.k8s.io/e2e-test-images/agnhost",
        ] {
            assert_eq!(
                resolve(&rules, image),
                Ok(Path::new("/bin/agnhost-cached")),
                "{image}"
            );
            assert_eq!(entrypoint(image), Some("agnhost"), "{image}");
        }
        assert_eq!(entrypoint("quay.io/openbao/openbao:2.7.2"), None);
        assert_eq!(
            entrypoint("registry.k8s.io/e2e-test-images/agnhost-x"),
            None
        );
    }

    #[test]
    fn a_missing_binary_is_reported_with_the_command_that_builds_it() {
        let message = check_binary(
            "registry.k8s.io/e2e-test-images/agnhost:2.56",
            Path::new("/nonexistent/agnhost"),
        )
        .expect_err("the binary is missing");
        assert!(message.contains("/nonexistent/agnhost"), "{message}");
        assert!(message.contains("--only netstack"), "{message}");
        assert!(check_binary("x", Path::new("/bin/sh")).is_ok());
    }

    #[test]
    fn other_images_are_refused_with_a_message_naming_what_is_supported() {
        let rules = rules();
        for image in [
            "nginx:1.27",
            "quay.io/notopenbao/openbao:1",
            "openbao/openbao-ui",
        ] {
            let message = resolve(&rules, image).expect_err(image);
            assert!(message.contains(image), "{message}");
            assert!(message.contains("openbao/openbao"), "{message}");
        }
    }
}
