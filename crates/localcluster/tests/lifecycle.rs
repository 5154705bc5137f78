//! Starting and stopping private control planes: nothing is left behind, whichever way a
//! control plane ends, and a missing binary fails loudly.

use std::{path::PathBuf, time::Duration};

use anyhow::Result;
use k8s_openapi::api::core::v1::Namespace;
use kube::{Api, api::ListParams};
use localcluster::{BinaryPaths, ControlPlane, Options};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Whether `pid` still exists (zombies included: they are not reaped yet).
fn exists(pid: u32) -> bool {
    PathBuf::from(format!("/proc/{pid}")).exists()
}

#[test]
fn a_control_plane_dropped_outside_any_runtime_leaves_no_process_or_directory() -> Result<()> {
    let rt = runtime();
    let control_plane = rt.block_on(ControlPlane::start())?;
    let pids = control_plane.component_pids();
    let names: Vec<&str> = pids.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["etcd", "kube-apiserver", "kube-controller-manager"]);
    let dir = control_plane.dir().to_owned();
    rt.block_on(async {
        let namespaces: Api<Namespace> = Api::all(control_plane.client()?);
        let list = namespaces.list(&ListParams::default()).await?;
        assert!(
            list.items
                .iter()
                .any(|ns| ns.metadata.name.as_deref() == Some("kube-system"))
        );
        anyhow::Ok(())
    })?;
    // Dropping the runtime first proves Drop needs none (as when a test panics late).
    drop(rt);
    drop(control_plane);
    for (name, pid) in pids {
        assert!(!exists(pid), "{name} (pid {pid}) still exists");
    }
    assert!(!dir.exists(), "{} still exists", dir.display());
    Ok(())
}

#[tokio::test]
async fn a_stopped_control_plane_with_a_scheduler_leaves_no_process_or_directory() -> Result<()> {
    let options = Options {
        scheduler: true,
        ..Options::default()
    };
    let control_plane = ControlPlane::start_with(options).await?;
    let pids = control_plane.component_pids();
    assert!(pids.iter().any(|(name, _)| name == "kube-scheduler"));
    let timings = control_plane.timings();
    assert!(timings.scheduler.is_some() && timings.total >= timings.apiserver);
    let dir = control_plane.dir().to_owned();
    control_plane.stop().await?;
    for (name, pid) in pids {
        assert!(!exists(pid), "{name} (pid {pid}) still exists");
    }
    assert!(!dir.exists(), "{} still exists", dir.display());
    Ok(())
}

#[tokio::test]
async fn a_missing_binary_fails_the_start_with_its_path_and_the_setup_command() {
    let missing = PathBuf::from("/nonexistent/localcluster-test/kube-apiserver");
    let mut binaries = BinaryPaths::from_env();
    binaries.kube_apiserver = missing.clone();
    let options = Options {
        binaries: Some(binaries),
        startup_timeout: Duration::from_secs(5),
        ..Options::default()
    };
    let err = ControlPlane::start_with(options)
        .await
        .expect_err("no kube-apiserver, no control plane")
        .to_string();
    assert!(err.contains(&missing.display().to_string()), "{err}");
    assert!(err.contains("hack/setup.sh"), "{err}");
}
