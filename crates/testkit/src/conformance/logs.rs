//! Capturing what a test process logs, to scan it for passwords.

use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The log lines of this whole test process, from a global TRACE subscriber installed on
/// first use (a scoped subscriber misses events whose callsites were cached by another
/// thread).
fn process_logs() -> &'static Captured {
    static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .try_init()
            .expect("the conformance suite installs the global tracing subscriber: do not install another in this test binary");
        captured
    })
}

/// Captures everything logged in this process (every crate, TRACE level) while `f` runs.
/// Concurrent tests' lines are included, which only makes the scan stricter.
pub async fn capture_logs<T>(f: impl Future<Output = T>) -> (T, String) {
    let captured = process_logs();
    let start = captured.0.lock().unwrap_or_else(|p| p.into_inner()).len();
    let out = f.await;
    let bytes = captured.0.lock().unwrap_or_else(|p| p.into_inner())[start..].to_vec();
    (out, String::from_utf8_lossy(&bytes).into_owned())
}
