//! Child-process helpers shared by the service harnesses: free ports, readiness waits, and
//! [`ServiceGuard`], which makes sure a service started by a test never outlives the test
//! process.
//!
//! `cargo test` runs the tests of one binary as threads of one process, and statics (such
//! as [`crate::moto::Moto::shared`]) are never dropped, so `Drop` alone cannot stop a
//! shared service. Every service is therefore paired with a *watchdog*: a small `sh` loop
//! that polls the test process (`kill -0 <pid>`) and, once it is gone, runs the service's
//! stop command and removes its temporary directory. No unsafe code, no signal handlers.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (bound to port 0, then released).
///
/// Another process may take the port before the caller binds it; services started with it
/// are checked with [`wait_for_port`] and fail loudly in that (rare) case.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("cannot bind 127.0.0.1:0 to find a free port")
}

/// Waits until something accepts TCP connections on `addr`; `false` after `timeout`.
pub fn wait_for_port(addr: impl ToSocketAddrs, timeout: Duration) -> bool {
    let addrs: Vec<SocketAddr> = match addr.to_socket_addrs() {
        Ok(addrs) => addrs.collect(),
        Err(_) => return false,
    };
    let deadline = Instant::now() + timeout;
    loop {
        for a in &addrs {
            if TcpStream::connect_timeout(a, Duration::from_millis(200)).is_ok() {
                return true;
            }
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether this process runs as root (`id -u` is 0). Cached.
pub fn is_root() -> bool {
    static ROOT: OnceLock<bool> = OnceLock::new();
    *ROOT.get_or_init(|| {
        Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false)
    })
}

/// Quotes `s` for a POSIX shell (`'...'`, with embedded quotes escaped).
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A shell snippet that stops process `pid`: `SIGTERM`, up to 2 s of grace, then `SIGKILL`.
/// A zombie (dead, not yet reaped by its new parent) counts as stopped.
pub fn stop_pid_script(pid: u32) -> String {
    format!(
        "kill -TERM {pid} 2>/dev/null; i=0; \
         while kill -0 {pid} 2>/dev/null && ! grep -qs '^State:.*Z' /proc/{pid}/status \
         && [ $i -lt 20 ]; do sleep 0.1; i=$((i+1)); done; \
         kill -KILL {pid} 2>/dev/null"
    )
}

/// Creates a fresh directory `<base>/<prefix>XXXXXX` that is *not* removed on drop: the
/// owning [`ServiceGuard`] (or its watchdog) removes it. `base` defaults to the system
/// temporary directory.
pub fn service_dir(prefix: &str, base: Option<&Path>) -> PathBuf {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix);
    let dir = match base {
        Some(base) => builder.tempdir_in(base),
        None => builder.tempdir(),
    }
    .unwrap_or_else(|e| panic!("cannot create a temporary directory for {prefix}: {e}"));
    dir.keep()
}

/// Spawns the watchdog of this test process: once the process is gone, it runs
/// `on_exit` (a shell snippet) and removes `cleanup_dir`.
///
/// The watchdog's stdio is detached so that it never keeps the test's output pipes open.
pub fn spawn_watchdog(on_exit: &str, cleanup_dir: Option<&Path>) -> io::Result<Child> {
    spawn_watchdog_for(std::process::id(), on_exit, cleanup_dir)
}

/// Like [`spawn_watchdog`], watching process `watched_pid` instead of this one.
pub fn spawn_watchdog_for(
    watched_pid: u32,
    on_exit: &str,
    cleanup_dir: Option<&Path>,
) -> io::Result<Child> {
    let me = watched_pid;
    let rm = cleanup_dir
        .map(|d| format!("rm -rf {}", shell_quote(&d.to_string_lossy())))
        .unwrap_or_else(|| ":".to_owned());
    let on_exit = if on_exit.trim().is_empty() {
        ":"
    } else {
        on_exit
    };
    let script = format!("while kill -0 {me} 2>/dev/null; do sleep 0.5; done\n{on_exit}\n{rm}\n");
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
}

/// Owns a running service: its process (if it is a child of the test process), the shell
/// snippet that stops it, its temporary directory, and the watchdog that runs that snippet
/// and removes the directory when the test process exits.
///
/// Dropping the guard (or calling [`ServiceGuard::stop`]) stops the service at once.
#[derive(Debug)]
pub struct ServiceGuard {
    name: String,
    child: Option<Child>,
    stop_command: String,
    /// The stop command only kills `child` by pid: skip it once the child is reaped.
    stop_is_pid_kill: bool,
    dir: Option<PathBuf>,
    watchdog: Option<Child>,
}

impl ServiceGuard {
    /// Guards a service. `child` is the service process when it is a child of the test
    /// process (it is killed on stop); `stop_command` is a shell snippet that stops the
    /// service (e.g. [`stop_pid_script`] or `pg_ctl stop`); `dir` is removed afterwards.
    ///
    /// Panics if the watchdog cannot be started (no `sh`).
    pub fn new(
        name: impl Into<String>,
        child: Option<Child>,
        stop_command: impl Into<String>,
        dir: Option<PathBuf>,
    ) -> ServiceGuard {
        let name = name.into();
        let mut stop_command = stop_command.into();
        let mut stop_is_pid_kill = false;
        if stop_command.trim().is_empty()
            && let Some(child) = &child
        {
            stop_command = stop_pid_script(child.id());
            stop_is_pid_kill = true;
        }
        let watchdog = spawn_watchdog(&stop_command, dir.as_deref())
            .unwrap_or_else(|e| panic!("cannot start the watchdog of {name} (sh -c): {e}"));
        ServiceGuard {
            name,
            child,
            stop_command,
            stop_is_pid_kill,
            dir,
            watchdog: Some(watchdog),
        }
    }

    /// The service's name, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The service's temporary directory, if it has one.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The guarded child process, if the service is a child of the test process.
    pub fn child_mut(&mut self) -> Option<&mut Child> {
        self.child.as_mut()
    }

    /// `Some(status)` when the guarded child process has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Stops the service now: kills and reaps the child, runs the stop command, removes
    /// the directory and retires the watchdog. Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        } else {
            return;
        }
        // The child first; once it is reaped its pid may be reused, so a stop command that
        // only kills that pid must not run any more.
        let mut reaped = false;
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            reaped = child.wait().is_ok();
        }
        let skip = self.stop_command.trim().is_empty() || (self.stop_is_pid_kill && reaped);
        if !skip {
            let _ = Command::new("sh")
                .arg("-c")
                .arg(&self.stop_command)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Drop for ServiceGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_the_shell() {
        let tricky = "it's a \"dir\" $HOME `x`";
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("printf %s {}", shell_quote(tricky)))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), tricky);
    }

    #[test]
    fn free_port_is_connectable_once_bound() {
        let port = free_port();
        assert!(!wait_for_port(
            ("127.0.0.1", port),
            Duration::from_millis(100)
        ));
        let _l = TcpListener::bind(("127.0.0.1", port)).unwrap();
        assert!(wait_for_port(("127.0.0.1", port), Duration::from_secs(2)));
    }

    #[test]
    fn guard_stops_child_and_removes_dir() {
        let dir = service_dir("testkit-guard-", None);
        std::fs::write(dir.join("x"), "y").unwrap();
        let child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        let mut guard = ServiceGuard::new("sleep", Some(child), "", Some(dir.clone()));
        assert!(guard.exited().is_none());
        guard.stop();
        assert!(!dir.exists());
        let alive = Command::new("kill")
            .args(["-0", &pid.to_string()])
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(!alive, "the child must be gone");
    }

    fn alive(pid: u32) -> bool {
        Command::new("kill")
            .args(["-0", &pid.to_string()])
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    }

    #[test]
    fn watchdog_fires_when_the_watched_process_exits() {
        let dir = service_dir("testkit-watchdog-", None);
        let mut service = Command::new("sleep").arg("30").spawn().unwrap();
        let mut parent = Command::new("sleep").arg("0.2").spawn().unwrap();
        let mut watchdog =
            spawn_watchdog_for(parent.id(), &stop_pid_script(service.id()), Some(&dir)).unwrap();
        assert!(dir.exists());
        parent.wait().unwrap(); // reaped: `kill -0` now fails
        watchdog.wait().unwrap();
        assert!(!dir.exists(), "the watchdog removes the directory");
        service.wait().unwrap(); // killed by the watchdog, so this returns
        assert!(!alive(service.id()));
    }
}
