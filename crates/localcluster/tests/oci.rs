//! The node runs real OCI images from its local store: an archive written here holds the
//! cached, static `agnhost` at `/agnhost` (entrypoint `/agnhost`, cmd `netexec`, user
//! `65532:65532`, an `Env`) and a second, gzipped layer that whites out a file of the first.
//! Its pods run from the image's own root, as the image's user, with its environment under
//! the pod's, serve HTTP on their pod IP and see neither each other's writes nor the node's
//! binaries (exec reaches them the same way); `args` replaces the image's cmd; a user name under `runAsNonRoot` and an image
//! the store lacks leave their containers waiting like the kubelet's. Needs root and
//! `hack/setup.sh --only netstack` (agnhost).

use std::{
    fs,
    io::Write,
    net::Ipv4Addr,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Pod;
use kube::{Api, api::PostParams};
use localcluster::{
    ControlPlane, ImageSource, NodeOptions, Options, TestNamespace, agnhost_binary, eventually,
    reach,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Upper bound for scheduling and starts on a loaded 2-core runner.
const SETTLE: Duration = Duration::from_secs(90);
const IMAGE: &str = "localhost/agnhost-oci:test";
/// The name `index.json` annotates (`org.opencontainers.image.ref.name`).
const ANNOTATED: &str = "localhost/agnhost-oci:annotated";
const NAMED_USER_IMAGE: &str = "localhost/named-user:1";

/// A tar layer from `(path, mode, uid, bytes)` files (parents as 0755 directories).
fn layer(files: &[(&str, u32, u64, &[u8])]) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, mode, uid, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(*mode);
        header.set_uid(*uid);
        header.set_gid(*uid);
        header.set_size(data.len() as u64);
        header.set_mtime(1);
        builder.append_data(&mut header, path, *data)?;
    }
    Ok(builder.into_inner()?)
}

fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data)?;
    Ok(encoder.finish()?)
}

/// Writes an OCI image layout into `dir`: one manifest of `config` and `layers`
/// (media type, bytes), annotated with `ref_name`.
fn write_layout(
    dir: &Path,
    config: &Value,
    layers: &[(&str, Vec<u8>)],
    ref_name: &str,
) -> Result<()> {
    let blobs = dir.join("blobs").join("sha256");
    fs::create_dir_all(&blobs)?;
    let put = |data: &[u8]| -> Result<Value> {
        let hex = hex::encode(Sha256::digest(data));
        fs::write(blobs.join(&hex), data)?;
        Ok(json!({ "digest": format!("sha256:{hex}"), "size": data.len() }))
    };
    let mut config_descriptor = put(&serde_json::to_vec(config)?)?;
    config_descriptor["mediaType"] = json!("application/vnd.oci.image.config.v1+json");
    let mut layer_descriptors = Vec::new();
    for (media_type, data) in layers {
        let mut descriptor = put(data)?;
        descriptor["mediaType"] = json!(media_type);
        layer_descriptors.push(descriptor);
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config_descriptor,
        "layers": layer_descriptors,
    });
    let mut manifest_descriptor = put(&serde_json::to_vec(&manifest)?)?;
    manifest_descriptor["mediaType"] = json!("application/vnd.oci.image.manifest.v1+json");
    manifest_descriptor["annotations"] = json!({ "org.opencontainers.image.ref.name": ref_name });
    let index = json!({ "schemaVersion": 2, "manifests": [manifest_descriptor] });
    fs::write(dir.join("index.json"), serde_json::to_vec(&index)?)?;
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    Ok(())
}

/// The agnhost image as an `oci-archive` tar, the way `buildah push` writes one.
fn agnhost_archive(dir: &Path) -> Result<PathBuf> {
    let agnhost = fs::read(agnhost_binary()?)?;
    let passwd = b"root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n";
    let first = layer(&[
        ("agnhost", 0o755, 0, &agnhost),
        ("etc/passwd", 0o644, 0, passwd),
        ("etc/whited-out", 0o644, 0, b"the second layer removes this"),
        ("tmp/.keep", 0o644, 0, b""),
    ])?;
    let second = gzip(&layer(&[("etc/.wh.whited-out", 0o644, 0, b"")])?)?;
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": "65532:65532",
            "Env": ["PATH=/", "FROM_IMAGE=yes", "OVERRIDDEN=by-the-image"],
            "Entrypoint": ["/agnhost"],
            "Cmd": ["netexec", "--http-port=8080"],
        },
        "rootfs": { "type": "layers", "diff_ids": [] },
    });
    let layout = dir.join("agnhost-layout");
    write_layout(
        &layout,
        &config,
        &[
            ("application/vnd.oci.image.layer.v1.tar", first),
            ("application/vnd.oci.image.layer.v1.tar+gzip", second),
        ],
        ANNOTATED,
    )?;
    let archive = dir.join("agnhost.tar");
    let mut builder = tar::Builder::new(fs::File::create(&archive)?);
    builder.append_dir_all(".", &layout)?;
    builder.finish()?;
    Ok(archive)
}

fn pod(name: &str, image: &str, container: Value) -> Result<Pod> {
    let mut spec = json!({ "name": "app", "image": image });
    if let (Some(spec), Value::Object(extra)) = (spec.as_object_mut(), container) {
        spec.extend(extra);
    }
    Ok(serde_json::from_value(json!({
        "metadata": { "name": name },
        "spec": { "terminationGracePeriodSeconds": 1, "containers": [spec] },
    }))?)
}

async fn running(pods: &Api<Pod>, name: &str) -> Result<Ipv4Addr> {
    eventually(
        &format!("pod {name} to be Running and Ready"),
        SETTLE,
        || async {
            let pod = pods.get(name).await?;
            let status = pod.status.unwrap_or_default();
            let ready = status
                .conditions
                .iter()
                .flatten()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            Ok(match (status.phase.as_deref(), status.pod_ip, ready) {
                (Some("Running"), Some(ip), true) => Some(ip.parse::<Ipv4Addr>()?),
                _ => None,
            })
        },
    )
    .await
}

/// The container's waiting `(reason, message)` once it has one of `reasons`.
async fn waiting(pods: &Api<Pod>, name: &str, reason: &str) -> Result<String> {
    eventually(
        &format!("pod {name} to wait with {reason}"),
        SETTLE,
        || async {
            let pod = pods.get(name).await?;
            let waiting = pod
                .status
                .and_then(|s| s.container_statuses)
                .into_iter()
                .flatten()
                .find_map(|c| c.state?.waiting);
            Ok(waiting
                .filter(|w| w.reason.as_deref() == Some(reason))
                .map(|w| w.message.unwrap_or_default()))
        },
    )
    .await
}

/// A `Name:` line of `/proc/<pid>/status`, e.g. `Uid` -> `65532 65532 65532 65532`.
fn status_field(pid: u32, name: &str) -> Result<String> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .with_context(|| format!("/proc/{pid}/status has no {name}"))
}

fn nul_separated(path: &str) -> Result<Vec<String>> {
    Ok(fs::read(path)?
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect())
}

#[tokio::test]
async fn pods_run_oci_images_from_the_node_store_as_the_images_user_with_its_entrypoint_and_env()
-> Result<()> {
    let fixtures = tempfile::tempdir()?;
    let archive = agnhost_archive(fixtures.path())?;
    let named_user = fixtures.path().join("named-user-layout");
    write_layout(
        &named_user,
        &json!({ "config": { "User": "nobody", "Entrypoint": ["/app"] } }),
        &[(
            "application/vnd.oci.image.layer.v1.tar",
            layer(&[("app", 0o755, 0, b"never runs")])?,
        )],
        NAMED_USER_IMAGE,
    )?;
    let control_plane = ControlPlane::start_with(Options {
        node: true,
        node_options: NodeOptions {
            oci_images: vec![
                ImageSource {
                    reference: Some(IMAGE.to_owned()),
                    path: archive,
                },
                // A layout directory, named only by its annotation.
                ImageSource {
                    reference: None,
                    path: named_user,
                },
            ],
            ..NodeOptions::default()
        },
        ..Options::default()
    })
    .await?;
    let node = control_plane
        .node()
        .context("the control plane runs a node")?;
    let stored = node.stored_images();
    let names: Vec<&str> = stored.keys().map(String::as_str).collect();
    assert_eq!(names, [ANNOTATED, IMAGE, NAMED_USER_IMAGE]);
    assert_eq!(stored[IMAGE].digest, stored[ANNOTATED].digest);
    let ns = TestNamespace::create(&control_plane, "oci").await?;
    let pods: Api<Pod> = ns.api();

    // The image's entrypoint and cmd, user and Env (the pod's variable wins by name), under
    // the restricted profile's settings and a read-only root.
    let restricted = json!({
        "env": [{ "name": "OVERRIDDEN", "value": "by-the-pod" }],
        "readinessProbe": { "tcpSocket": { "port": 8080 }, "periodSeconds": 1 },
        "securityContext": {
            "runAsNonRoot": true,
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true,
            "capabilities": { "drop": ["ALL"] },
        },
    });
    pods.create(&PostParams::default(), &pod("server", IMAGE, restricted)?)
        .await?;
    // `args` replaces the image's cmd; the annotated name reaches the same image.
    let args = json!({ "args": ["netexec", "--http-port=8081"] });
    pods.create(&PostParams::default(), &pod("args", ANNOTATED, args)?)
        .await?;
    pods.create(
        &PostParams::default(),
        &pod("missing", "localhost/agnhost-oci:not-imported", json!({}))?,
    )
    .await?;
    pods.create(
        &PostParams::default(),
        &pod(
            "named-user",
            NAMED_USER_IMAGE,
            json!({ "securityContext": { "runAsNonRoot": true } }),
        )?,
    )
    .await?;

    let log = |pod: &str| {
        node.container_log(ns.name(), pod, "app")
            .and_then(|p| fs::read_to_string(p).ok())
            .unwrap_or_default()
    };
    let server_ip = running(&pods, "server")
        .await
        .with_context(|| log("server"))?;
    let (code, hostname) = reach::http_get(server_ip, 8080, "/hostname").await?;
    assert_eq!((code, hostname.trim()), (200, "server"));
    let pid = node
        .container_pid(ns.name(), "server", "app")
        .context("the server runs")?;
    assert_eq!(status_field(pid, "Uid")?, "65532 65532 65532 65532");
    assert_eq!(status_field(pid, "Gid")?, "65532 65532 65532 65532");
    assert_eq!(status_field(pid, "NoNewPrivs")?, "1");
    assert_eq!(status_field(pid, "CapEff")?, "0000000000000000");
    assert_eq!(status_field(pid, "CapBnd")?, "0000000000000000");
    let cmdline = nul_separated(&format!("/proc/{pid}/cmdline"))?;
    assert_eq!(cmdline, ["/agnhost", "netexec", "--http-port=8080"]);
    let environ = nul_separated(&format!("/proc/{pid}/environ"))?;
    for expected in [
        "FROM_IMAGE=yes",
        "OVERRIDDEN=by-the-pod",
        "PATH=/",
        "HOSTNAME=server",
    ] {
        assert!(
            environ.iter().any(|e| e == expected),
            "{expected} in {environ:?}"
        );
    }
    assert!(
        !environ.iter().any(|e| e == "OVERRIDDEN=by-the-image"),
        "{environ:?}"
    );
    // The container's root is the image: its files, the whiteout applied, no node binaries.
    let root = PathBuf::from(format!("/proc/{pid}/root"));
    assert!(root.join("agnhost").is_file());
    assert!(root.join("etc/passwd").is_file());
    assert!(
        !root.join("etc/whited-out").exists(),
        "whited out by the upper layer"
    );
    for node_path in ["usr", "bin/sh", "usr/bin/setpriv", "lib"] {
        assert!(
            !root.join(node_path).exists(),
            "{node_path} leaked into the container"
        );
    }
    assert!(
        fs::write(root.join("tmp/x"), b"x").is_err(),
        "readOnlyRootFilesystem"
    );

    // Exec (what exec probes use) takes the same way in: the image's binary, user and files.
    let output = node
        .exec(
            ns.name(),
            "server",
            "app",
            &["/agnhost", "mounttest", "--file-content=/proc/self/status"],
        )
        .await?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("Uid:\t65532"), "{stdout}");
    // The image's user (no runAsUser in the pod) can read its ServiceAccount token.
    let token = node
        .exec(
            ns.name(),
            "server",
            "app",
            &[
                "/agnhost",
                "mounttest",
                "--file-content=/var/run/secrets/kubernetes.io/serviceaccount/token",
            ],
        )
        .await?;
    let token = String::from_utf8_lossy(&token.stdout);
    assert!(token.contains("eyJ"), "the token is readable: {token}");
    let hosts = node
        .exec(ns.name(), "server", "app", &["/agnhost", "etc-hosts"])
        .await?;
    let hosts = String::from_utf8_lossy(&hosts.stdout);
    assert!(hosts.contains("server"), "the pod's /etc/hosts: {hosts}");

    let args_ip = running(&pods, "args").await.with_context(|| log("args"))?;
    assert_eq!(reach::http_get(args_ip, 8081, "/hostname").await?.0, 200);
    let args_pid = node
        .container_pid(ns.name(), "args", "app")
        .context("the args pod runs")?;
    assert_eq!(
        nul_separated(&format!("/proc/{args_pid}/cmdline"))?,
        ["/agnhost", "netexec", "--http-port=8081"]
    );
    // Writes land in the container's own layer: not in the image, not in another container.
    let args_root = PathBuf::from(format!("/proc/{args_pid}/root"));
    fs::write(args_root.join("tmp/written-by-args"), b"x")?;
    assert!(!root.join("tmp/written-by-args").exists());
    assert!(!stored[IMAGE].rootfs.join("tmp/written-by-args").exists());

    let message = waiting(&pods, "missing", "ErrImagePull").await?;
    assert!(
        message.contains("localhost/agnhost-oci:not-imported"),
        "{message}"
    );
    let message = waiting(&pods, "named-user", "CreateContainerConfigError").await?;
    assert!(message.contains("non-numeric user (nobody)"), "{message}");

    ns.delete().await?;
    control_plane.stop().await?;
    Ok(())
}
