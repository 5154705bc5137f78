//! Child processes that cannot outlive us, and the run directories that record them.
//!
//! Three layers, from the common case to the worst one:
//! 1. [`terminate`] (called by `ControlPlane::stop` and `Drop`): SIGTERM to each child's
//!    process group, a grace period, then SIGKILL. Plain syscalls, no async runtime needed, so
//!    it also runs while a panicking test unwinds.
//! 2. Parent death: every child is started through util-linux `setpriv --pdeathsig KILL`, which
//!    sets `PR_SET_PDEATHSIG` and then `exec`s the component (same pid). The kernel delivers
//!    that signal when the *thread* that forked the child exits, not the process, so all
//!    children are forked by one dedicated spawner thread that lives as long as the process.
//!    This is what stops the process-wide shared control plane (never dropped) at exit, and
//!    what stops everything when the test binary is SIGKILLed. (The crate forbids `unsafe`,
//!    which rules out calling `prctl` in a `pre_exec` hook ourselves.)
//! 3. A sweep: every control plane lives in `$TMPDIR/openbao-localcluster/run-*` (both 0700
//!    and ours, see [`RunDir::create`]) with an `owner` file (pid and start time) and a `pids`
//!    file. Starting a control plane removes the directories of dead owners and kills any
//!    recorded process that still runs, which covers hosts without `setpriv` and the
//!    directories layer 2 leaves behind. It also deletes the network namespaces of dead nodes:
//!    their names (`olc-<pid>-<start time>-...`) carry the owner, and deleting a node
//!    namespace takes its root link and route with it.
//!
//! Pids are always paired with the process start time from `/proc/<pid>/stat`, so a recycled
//! pid is never signalled.

use std::{
    env,
    fs::{self, DirBuilder},
    io::{self, Write},
    os::unix::{fs::DirBuilderExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Mutex, OnceLock, mpsc},
    thread,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, Result, anyhow};
use nix::{
    sys::signal::{Signal, killpg},
    unistd::Pid,
};

use crate::paths;

/// A running component. Its pid is also its process-group id.
pub(crate) struct Process {
    pub name: String,
    pub log: PathBuf,
    child: Child,
    start_time: Option<u64>,
    exit: Option<ExitStatus>,
}

impl Process {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status)` once the process has exited (and has been reaped).
    pub(crate) fn exit_status(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            // An error here means the child was already reaped, which only we do.
            self.exit = self.child.try_wait().ok().flatten();
        }
        self.exit
    }

    pub(crate) fn signal_group(&mut self, signal: Signal) {
        // Only while unreaped: after `wait` the pid (and group id) may belong to someone else.
        if self.exit_status().is_some() {
            return;
        }
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // ESRCH just means it is already gone.
            let _ = killpg(Pid::from_raw(pid), signal);
        }
    }
}

/// Starts `binary args...` in its own process group, stdout and stderr appended to
/// `<log_dir>/<name>.log`, and records it in the run directory.
pub(crate) fn spawn(
    run: &RunDir,
    name: &str,
    binary: &Path,
    args: &[String],
    env_remove_prefix: Option<&str>,
) -> Result<Process> {
    spawn_with_death_signal(run, name, binary, args, env_remove_prefix, "KILL")
}

/// Starts the janitor: a shell that sleeps until the parent-death signal (TERM) arrives, then
/// deletes the network namespaces a node recorded (`netns`) and removes the run directory. It covers the one case no destructor runs in: the process-wide
/// shared control plane when the test binary exits. `None` without `setpriv`, because then
/// nothing would ever wake it (the sweep cleans up instead).
pub(crate) fn spawn_janitor(run: &RunDir) -> Result<Option<Process>> {
    if setpriv().is_none() {
        return Ok(None);
    }
    // SIGKILLed components may still be exiting when TERM arrives; the pause lets them go
    // before their files are removed.
    let script = r#"dir=$1
trap 'kill "$sleeper" 2>/dev/null; sleep 1; cleanup; exit 0' TERM
cleanup() {
  if [ -f "$dir/netns" ]; then
    while read -r ns; do ip netns del "$ns" 2>/dev/null; done < "$dir/netns"
  fi
  rm -rf -- "$dir"
}
while :; do sleep 86400 & sleeper=$!; wait "$sleeper"; done"#;
    let args = [
        "-c".to_owned(),
        script.to_owned(),
        "localcluster-janitor".to_owned(),
        run.path.display().to_string(),
    ];
    spawn_with_death_signal(run, "janitor", Path::new("/bin/sh"), &args, None, "TERM").map(Some)
}

/// Like [`spawn`], with the output appended to `log` (pod containers keep their logs in the
/// pod's directory).
pub(crate) fn spawn_logged(
    run: &RunDir,
    name: &str,
    binary: &Path,
    args: &[String],
    log: &Path,
) -> Result<Process> {
    spawn_inner(run, name, binary, args, None, "KILL", log.to_owned())
}

fn spawn_with_death_signal(
    run: &RunDir,
    name: &str,
    binary: &Path,
    args: &[String],
    env_remove_prefix: Option<&str>,
    death_signal: &str,
) -> Result<Process> {
    let log = run.log_dir().join(format!("{name}.log"));
    spawn_inner(
        run,
        name,
        binary,
        args,
        env_remove_prefix,
        death_signal,
        log,
    )
}

fn spawn_inner(
    run: &RunDir,
    name: &str,
    binary: &Path,
    args: &[String],
    env_remove_prefix: Option<&str>,
    death_signal: &str,
    log: PathBuf,
) -> Result<Process> {
    let out = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .with_context(|| format!("creating {}", log.display()))?;
    let err = out.try_clone()?;

    let mut command = match setpriv() {
        Some(setpriv) => {
            let mut c = Command::new(setpriv);
            c.args(["--pdeathsig", death_signal, "--"]).arg(binary);
            c
        }
        None => Command::new(binary),
    };
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .current_dir(&run.path)
        .process_group(0);
    if let Some(prefix) = env_remove_prefix {
        // etcd reads every ETCD_* variable as a flag; ETCD_BIN from our env file is not one.
        for (key, _) in env::vars_os() {
            if key.to_string_lossy().starts_with(prefix) {
                command.env_remove(key);
            }
        }
    }
    let child = spawn_from_spawner_thread(command)
        .with_context(|| format!("starting {name} ({})", binary.display()))?;
    let start_time = proc_start_time(child.id());
    let process = Process {
        name: name.to_owned(),
        log,
        child,
        start_time,
        exit: None,
    };
    run.record(&process)?;
    Ok(process)
}

/// SIGTERM to every process group, up to `grace` for them to exit, then SIGKILL and reap.
pub(crate) fn terminate(processes: &mut [Process], grace: Duration) {
    for p in processes.iter_mut() {
        p.signal_group(Signal::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && processes.iter_mut().any(|p| p.exit_status().is_none()) {
        thread::sleep(Duration::from_millis(20));
    }
    for p in processes.iter_mut() {
        if p.exit_status().is_none() {
            p.signal_group(Signal::SIGKILL);
            p.exit = p.child.wait().ok();
        }
    }
}

/// SIGKILL to the process group, then reap.
pub(crate) fn kill(mut process: Process) {
    process.signal_group(Signal::SIGKILL);
    process.exit = process.child.wait().ok();
}

/// The last `lines` lines of a log file, for error messages.
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

// === spawner thread ===

struct SpawnRequest {
    command: Command,
    reply: mpsc::SyncSender<io::Result<Child>>,
}

/// Forks `command` from the one long-lived spawner thread (see the module docs for why).
fn spawn_from_spawner_thread(command: Command) -> Result<Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let sender = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        // If the thread cannot start, `rx` is dropped and every send below reports it.
        let _ = thread::Builder::new()
            .name("localcluster-spawner".into())
            .spawn(move || {
                for mut request in rx {
                    let _ = request.reply.send(request.command.spawn());
                }
            });
        Mutex::new(tx)
    });
    let (reply, response) = mpsc::sync_channel(1);
    sender
        .lock()
        .map_err(|_| anyhow!("the spawner lock is poisoned"))?
        .send(SpawnRequest { command, reply })
        .map_err(|_| anyhow!("the localcluster spawner thread is not running"))?;
    Ok(response
        .recv()
        .map_err(|_| anyhow!("the localcluster spawner thread died"))??)
}

/// util-linux `setpriv`, when it supports `--pdeathsig` (util-linux >= 2.33).
fn setpriv() -> Option<&'static Path> {
    static SETPRIV: OnceLock<Option<PathBuf>> = OnceLock::new();
    SETPRIV
        .get_or_init(|| {
            let found = env::var_os("PATH")
                .map(|paths| env::split_paths(&paths).collect::<Vec<_>>())
                .unwrap_or_default()
                .into_iter()
                .chain([PathBuf::from("/usr/bin"), PathBuf::from("/bin")])
                .map(|dir| dir.join("setpriv"))
                .find(|p| p.is_file())
                .filter(|p| {
                    Command::new(p)
                        .arg("--help")
                        .output()
                        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--pdeathsig"))
                });
            if found.is_none() {
                tracing::warn!(
                    "util-linux `setpriv --pdeathsig` is not available: if this process is \
                     killed, its control-plane processes keep running until the next start \
                     sweeps them"
                );
            }
            found
        })
        .as_deref()
}

// === run directories ===

/// `$OPENBAO_LOCALCLUSTER_DIR`, else `$TMPDIR/openbao-localcluster`: parent of all run dirs.
pub(crate) fn runs_root() -> PathBuf {
    env::var_os("OPENBAO_LOCALCLUSTER_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(
            || env::temp_dir().join("openbao-localcluster"),
            PathBuf::from,
        )
}

/// The directory of one control plane: PKI, etcd data, logs, kubeconfigs, ownership records.
#[derive(Clone, Debug)]
pub(crate) struct RunDir {
    pub path: PathBuf,
}

impl RunDir {
    /// Sweeps dead runs under `root`, then creates a fresh run directory owned by this process.
    ///
    /// `root` must be (or becomes) a private directory of ours, mode 0700 (see
    /// [`paths::private_dir`]): the node runs as root and writes pod volumes, claims and the
    /// PKI under it, so a directory another user pre-created or can write to is refused rather
    /// than trusted. Run directories are created 0700 inside it; what lies below keeps the
    /// usual 0755/0644, which nobody else can reach through the 0700 parents.
    pub(crate) fn create(root: &Path) -> Result<Self> {
        let root = paths::private_dir(root).with_context(|| {
            format!(
                "preparing the localcluster run directory {} (set OPENBAO_LOCALCLUSTER_DIR to use \
                 another)",
                root.display()
            )
        })?;
        let root = root.as_path();
        let swept = sweep_dead_runs(root);
        if swept > 0 {
            tracing::info!(swept, root = %root.display(), "removed leftovers of dead control planes");
        }
        let swept = crate::node::sweep_dead_netns();
        if swept > 0 {
            tracing::info!(
                swept,
                "removed network namespaces of dead localcluster nodes"
            );
        }
        let pid = std::process::id();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = root.join(format!("run-{pid}-{nanos:x}"));
        DirBuilder::new()
            .mode(paths::PRIVATE_MODE)
            .create(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        let run = Self { path };
        fs::create_dir(run.log_dir())?;
        let owner = format!("{pid} {}\n", proc_start_time(pid).unwrap_or(0));
        fs::write(run.path.join("owner"), owner)?;
        Ok(run)
    }

    pub(crate) fn log_dir(&self) -> PathBuf {
        self.path.join("logs")
    }

    fn record(&self, p: &Process) -> Result<()> {
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path.join("pids"))?;
        writeln!(file, "{} {} {}", p.pid(), p.start_time.unwrap_or(0), p.name)?;
        Ok(())
    }
}

/// Removes run directories whose owner is gone, killing what they recorded first. Returns how
/// many were removed. Best effort: a concurrent sweeper may win the race for a directory.
pub(crate) fn sweep_dead_runs(root: &Path) -> usize {
    let Ok(entries) = fs::read_dir(root) else {
        return 0;
    };
    let mut swept = 0;
    for entry in entries.flatten() {
        let dir = entry.path();
        if !entry.file_name().to_string_lossy().starts_with("run-") {
            continue;
        }
        match fs::read_to_string(dir.join("owner")) {
            Ok(owner) => {
                if parse_pid_line(&owner).is_some_and(|(pid, start)| is_alive(pid, start)) {
                    continue;
                }
            }
            // No owner file: either being created right now or torn mid-creation; only an old
            // one is garbage.
            Err(_) => {
                let young = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_none_or(|age| age < Duration::from_secs(60));
                if young {
                    continue;
                }
            }
        }
        if let Ok(pids) = fs::read_to_string(dir.join("pids")) {
            for (pid, start) in pids.lines().filter_map(parse_pid_line) {
                if is_alive(pid, start)
                    && let Ok(pid) = i32::try_from(pid)
                {
                    let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
                }
            }
        }
        if fs::remove_dir_all(&dir).is_ok() {
            swept += 1;
        }
    }
    swept
}

fn parse_pid_line(line: &str) -> Option<(u32, u64)> {
    let mut fields = line.split_whitespace();
    Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
}

/// Whether `pid` runs and is the same process that was recorded (same start time).
pub(crate) fn is_alive(pid: u32, recorded_start: u64) -> bool {
    proc_start_time(pid).is_some_and(|start| start == recorded_start)
}

/// Field 22 of `/proc/<pid>/stat` (start time in clock ticks since boot); `None` for a missing
/// or zombie process.
pub(crate) fn proc_start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses; fields after it don't.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_runs_processes_are_killed_and_its_directory_removed() {
        let root = tempfile::tempdir().expect("tempdir");
        // A process that has exited and been reaped stands in for a SIGKILLed test binary.
        let mut dead = Command::new("true").spawn().expect("spawn true");
        let dead_pid = dead.id();
        dead.wait().expect("wait");

        let run = root.path().join("run-dead");
        fs::create_dir(&run).expect("mkdir");
        fs::write(run.join("owner"), format!("{dead_pid} 1\n")).expect("owner");
        let mut orphan = Command::new("sleep")
            .arg("300")
            .process_group(0)
            .spawn()
            .expect("spawn sleep");
        let start = proc_start_time(orphan.id()).expect("sleep runs");
        fs::write(run.join("pids"), format!("{} {start} sleep\n", orphan.id())).expect("pids");

        // A live owner's run (ours) must survive the sweep.
        let live = root.path().join("run-live");
        fs::create_dir(&live).expect("mkdir");
        let me = std::process::id();
        fs::write(
            live.join("owner"),
            format!("{me} {}\n", proc_start_time(me).expect("we run")),
        )
        .expect("owner");

        assert_eq!(sweep_dead_runs(root.path()), 1);
        assert!(!run.exists());
        assert!(live.exists());
        let status = orphan.wait().expect("wait sleep");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
    }

    #[test]
    fn a_run_directory_is_created_private_and_a_planted_runs_root_is_refused() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("runs");
        let run = RunDir::create(&root).expect("a fresh root");
        let mode = |p: &Path| fs::symlink_metadata(p).expect("meta").mode() & 0o7777;
        assert_eq!(format!("{:o}", mode(&root)), "700");
        assert_eq!(format!("{:o}", mode(&run.path)), "700");
        assert_eq!(
            fs::metadata(&run.path).expect("meta").uid(),
            nix::unistd::Uid::effective().as_raw()
        );
        assert_eq!(
            mode(&run.log_dir()) & 0o022,
            0,
            "no sub-directory is writable by others"
        );
        assert!(
            run.path
                .starts_with(fs::canonicalize(&root).expect("canonical"))
        );

        // A local user who could plant the root could redirect everything root writes.
        let elsewhere = dir.path().join("elsewhere");
        fs::create_dir(&elsewhere).expect("mkdir");
        let planted = dir.path().join("planted");
        symlink(&elsewhere, &planted).expect("symlink");
        let message = format!(
            "{:#}",
            RunDir::create(&planted).expect_err("a symlink root")
        );
        assert!(
            message.contains(&planted.display().to_string())
                && message.contains("symlink")
                && message.contains("OPENBAO_LOCALCLUSTER_DIR"),
            "{message}"
        );
        assert_eq!(
            fs::read_dir(&elsewhere).expect("list").count(),
            0,
            "nothing was created through the symlink"
        );

        let open = dir.path().join("open");
        fs::create_dir(&open).expect("mkdir");
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).expect("chmod");
        let message = format!(
            "{:#}",
            RunDir::create(&open).expect_err("a world-writable root")
        );
        assert!(message.contains("writable by group or others"), "{message}");
        assert_eq!(fs::read_dir(&open).expect("list").count(), 0);
    }

    #[test]
    fn a_recycled_pid_is_not_mistaken_for_the_recorded_process() {
        let me = std::process::id();
        let start = proc_start_time(me).expect("we run");
        assert!(is_alive(me, start));
        assert!(!is_alive(me, start + 1));
    }
}
