//! A TCP proxy between a target and its server, for what a real server will not do on
//! demand: send later connections to another server (a pooler or a node that does not see
//! a change), or refuse them.
//!
//! ```no_run
//! # async fn f(a: std::net::SocketAddr, b: std::net::SocketAddr) {
//! use secret_rotor_testkit::proxy::TcpProxy;
//! let proxy = TcpProxy::start(a).await;
//! proxy.route_from(2, b); // the first connection goes to `a`, the next ones to `b`
//! // point the secret's host and port at proxy.addr()
//! # }
//! ```

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};

use crate::wire_faults::{KillWhen, kill};

#[derive(Debug)]
struct Routes {
    /// Where connections go, from which connection on (1-based, ascending).
    routes: Vec<(usize, SocketAddr)>,
    accepted: usize,
    /// SIGKILL this pid at connection `n` (counted from the start).
    kill: Option<(usize, KillWhen, u32)>,
    killed: bool,
}

/// A running proxy on 127.0.0.1 (stopped when dropped). Its accept loop runs on the tokio
/// runtime that started it.
#[derive(Debug)]
pub struct TcpProxy {
    addr: SocketAddr,
    routes: Arc<Mutex<Routes>>,
    task: tokio::task::JoinHandle<()>,
}

impl TcpProxy {
    /// A proxy that forwards every connection to `backend`.
    pub async fn start(backend: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("cannot bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let routes = Arc::new(Mutex::new(Routes {
            routes: vec![(1, backend)],
            accepted: 0,
            kill: None,
            killed: false,
        }));
        let shared = Arc::clone(&routes);
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let (backend, kill_after) = {
                    let mut r = shared.lock().unwrap_or_else(|p| p.into_inner());
                    r.accepted += 1;
                    let n = r.accepted;
                    let mut kill_after = None;
                    if let Some((at, when, pid)) = r.kill
                        && at == n
                    {
                        r.kill = None;
                        r.killed = true;
                        match when {
                            KillWhen::BeforeForwarding => {
                                kill(pid);
                                continue;
                            }
                            KillWhen::AfterForwarding => kill_after = Some(pid),
                        }
                    }
                    let backend = r
                        .routes
                        .iter()
                        .rev()
                        .find(|(from, _)| *from <= n)
                        .map(|(_, to)| *to);
                    (backend, kill_after)
                };
                tokio::spawn(async move {
                    let Some(backend) = backend else { return };
                    if let Ok(mut server) = TcpStream::connect(backend).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                    if let Some(pid) = kill_after {
                        kill(pid);
                    }
                });
            }
        });
        TcpProxy { addr, routes, task }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends connection `n` (1-based, counted from the start) and the later ones to
    /// `backend`.
    pub fn route_from(&self, n: usize, backend: SocketAddr) {
        let mut r = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        r.routes.retain(|(from, _)| *from < n);
        r.routes.push((n, backend));
    }

    /// SIGKILLs process `pid` at the `n`-th connection (1-based) from now: as it arrives
    /// (never forwarded), or once it has closed (what the session did took effect).
    pub fn kill_at(&self, n: usize, when: KillWhen, pid: u32) {
        let mut r = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        r.kill = Some((r.accepted + n, when, pid));
        r.killed = false;
    }

    /// Whether the kill set by [`TcpProxy::kill_at`] happened.
    pub fn killed(&self) -> bool {
        self.routes.lock().unwrap_or_else(|p| p.into_inner()).killed
    }

    /// How many connections were accepted so far.
    pub fn accepted(&self) -> usize {
        self.routes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .accepted
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
