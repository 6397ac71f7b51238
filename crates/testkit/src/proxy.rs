//! A TCP proxy between a target and its server, for what a real server will not do on
//! demand: send later connections to another server (a pooler or a node that does not see
//! a change), refuse them, or reset one (TCP RST) in the middle of its conversation.
//!
//! It records how each connection's client spoke (the sizes of what it sent, in order:
//! [`TcpProxy::client_chunks`]), so that a test can replay a conversation and reset it at
//! each point ([`TcpProxy::reset_at`]).
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
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
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
    /// Reset connection `n` (counted from the start) at a byte of what its client sent.
    reset: Option<(usize, usize, ResetWhen)>,
    reset_fired: bool,
    /// Per connection, the sizes of what the client sent, read by read.
    chunks: Vec<Vec<usize>>,
}

/// When [`TcpProxy::reset_at`] resets the connection, relative to the byte it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetWhen {
    /// When the client sends more than that many bytes: the server never receives the
    /// rest (a message, a statement, a `COMMIT` is lost on its way).
    BeforeForwarding,
    /// Once that many bytes reached the server, as soon as the server answers (or after
    /// [`ANSWER_WAIT`] of silence): the server acted on what it received, and the client
    /// never learns the answer.
    AfterAnswer,
}

/// How long a connection armed by [`ResetWhen::AfterAnswer`] waits for the server's answer
/// before it is reset anyway.
pub const ANSWER_WAIT: Duration = Duration::from_millis(500);

/// What one connection does with what it carries.
#[derive(Debug, Clone, Copy)]
struct Plan {
    connection: usize,
    reset: Option<(usize, ResetWhen)>,
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
            reset: None,
            reset_fired: false,
            chunks: Vec::new(),
        }));
        let shared = Arc::clone(&routes);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (backend, kill_after, plan) = {
                    let mut r = shared.lock().unwrap_or_else(|p| p.into_inner());
                    r.accepted += 1;
                    let n = r.accepted;
                    r.chunks.push(Vec::new());
                    let reset = match r.reset {
                        Some((at, bytes, when)) if at == n => {
                            r.reset = None;
                            Some((bytes, when))
                        }
                        _ => None,
                    };
                    let plan = Plan {
                        connection: n,
                        reset,
                    };
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
                    (backend, kill_after, plan)
                };
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    let Some(backend) = backend else { return };
                    if let Ok(server) = TcpStream::connect(backend).await {
                        carry(client, server, plan, &shared).await;
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

    /// Resets the `n`-th connection (1-based) from now with a TCP RST to both sides
    /// (`SO_LINGER` 0, then close) at byte `after_bytes` of what its client sends
    /// ([`ResetWhen`]: before more reaches the server, or once the server answered what
    /// it received). Counts of bytes are those of [`TcpProxy::client_chunks`] (TLS records
    /// included: the proxy sees the wire).
    pub fn reset_at(&self, n: usize, after_bytes: usize, when: ResetWhen) {
        let mut r = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        r.reset = Some((r.accepted + n, after_bytes, when));
        r.reset_fired = false;
    }

    /// Whether the reset set by [`TcpProxy::reset_at`] happened.
    pub fn reset_fired(&self) -> bool {
        self.routes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .reset_fired
    }

    /// For each connection accepted so far, in order, the sizes of what its client sent,
    /// read by read (the messages or TLS flights of its conversation, when the client waits
    /// for answers between them).
    pub fn client_chunks(&self) -> Vec<Vec<usize>> {
        self.routes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .chunks
            .clone()
    }

    /// How many connections were accepted so far.
    pub fn accepted(&self) -> usize {
        self.routes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .accepted
    }
}

/// Carries one connection both ways, recording what the client sends, and resets it where
/// `plan` says.
async fn carry(mut client: TcpStream, mut server: TcpStream, plan: Plan, routes: &Mutex<Routes>) {
    let lock = || routes.lock().unwrap_or_else(|p| p.into_inner());
    let mut from_client = vec![0u8; 16 * 1024];
    let mut from_server = vec![0u8; 16 * 1024];
    let mut sent = 0usize;
    let mut armed: Option<tokio::time::Instant> = None;
    loop {
        let answer_wait = async {
            match armed {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            read = client.read(&mut from_client) => {
                let n = match read {
                    // The client hung up after the point (e.g. its last message was a
                    // goodbye): the server gets the reset instead of a clean close.
                    Ok(0) | Err(_) if armed.is_some() => {
                        reset(&client, &server, routes);
                        return;
                    }
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                if let Some(chunks) = lock().chunks.get_mut(plan.connection - 1) {
                    chunks.push(n);
                }
                if armed.is_some() {
                    continue; // the connection is about to be reset: nothing more goes on
                }
                let mut forward = n;
                let mut reset_now = false;
                match plan.reset {
                    Some((limit, ResetWhen::BeforeForwarding)) if sent + n > limit => {
                        forward = limit.saturating_sub(sent);
                        reset_now = true;
                    }
                    Some((limit, ResetWhen::AfterAnswer)) if sent + n >= limit => {
                        forward = limit.saturating_sub(sent);
                        armed = Some(tokio::time::Instant::now() + ANSWER_WAIT);
                    }
                    _ => {}
                }
                if forward > 0 && server.write_all(&from_client[..forward]).await.is_err() {
                    break;
                }
                sent += forward;
                if reset_now {
                    reset(&client, &server, routes);
                    return;
                }
            }
            read = server.read(&mut from_server) => {
                let n = match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                if armed.is_some() {
                    reset(&client, &server, routes);
                    return;
                }
                if client.write_all(&from_server[..n]).await.is_err() {
                    break;
                }
            }
            () = answer_wait => {
                reset(&client, &server, routes);
                return;
            }
        }
    }
}

/// A TCP RST to both sides: `SO_LINGER` 0, then the sockets are closed (by the caller's
/// drop).
fn reset(client: &TcpStream, server: &TcpStream, routes: &Mutex<Routes>) {
    let _ = client.set_zero_linger();
    let _ = server.set_zero_linger();
    routes.lock().unwrap_or_else(|p| p.into_inner()).reset_fired = true;
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
