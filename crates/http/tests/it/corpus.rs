//! The hostile corpus (`tests/corpus/cases/`, written by `tests/corpus/generate.py` on top
//! of the testkit's generic cases) through the real `rotate-http` binary, with each
//! secret carrying its spec: malformed events, secrets and specs that are not what they
//! should be (template namespaces, filters and braces, URLs, methods, header names and
//! values, authentication, fields of the wrong type), injection through the secret's
//! values into URL, host, path and headers, a hostile API (redirects to another host, an
//! endless body, no answer, garbage), the key-issuing shape on Verdaccio, and
//! misconfigured environments. Each case must end in a clear error with its stable code,
//! and nothing may change in Secrets Manager, on RabbitMQ or on Verdaccio (checked after
//! every case by `secret_rotor_testkit::corpus`).

use std::path::Path;
use std::time::Duration;

use secret_rotor_testkit::conformance::{Fixture, IssuingFixture, hostile_password};
use secret_rotor_testkit::corpus::CorpusRun;
use secret_rotor_testkit::moto::{Moto, unique_name};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::rabbitmq::{self, API, seg};
use crate::verdaccio;

const BINARY: &str = env!("CARGO_BIN_EXE_rotate-http");

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Base64 (RFC 4648, with padding), for the `Authorization` header the hostile API expects.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A hostile HTTP API on a free port: `/{mode}/…` answers as `mode` says (see the
/// corpus's generator). It accepts `user`/`password` (HTTP Basic) where a login is
/// simulated, and redirects to RabbitMQ, where `victim` lives.
async fn hostile_api(user: &str, password: &str, victim: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let expected = format!("Basic {}", base64(format!("{user}:{password}").as_bytes()));
    let user = user.to_owned();
    let victim = victim.to_owned();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (expected, user, victim) = (expected.clone(), user.clone(), victim.clone());
            tokio::spawn(async move {
                let _ = answer(stream, addr.port(), &expected, &user, &victim).await;
            });
        }
    });
    format!("http://{addr}")
}

async fn answer(
    mut stream: TcpStream,
    port: u16,
    expected: &str,
    user: &str,
    victim: &str,
) -> std::io::Result<()> {
    // The request head, and its body (Content-Length) read and ignored.
    let mut buf = Vec::new();
    let mut byte = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut byte).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&byte[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    };
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut have = buf.len() - head_end;
    while have < length {
        let n = stream.read(&mut byte).await?;
        if n == 0 {
            break;
        }
        have += n;
    }
    let mut request_line = head.lines().next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let path = request_line.next().unwrap_or_default().to_owned();
    let mode = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    let authed = header("authorization").as_deref() == Some(expected);
    let rabbit = format!("{API}/api/users/{}", seg(victim));
    let reply = |status: &str, extra: &str, body: &str| {
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
            body.len()
        )
    };
    let simple = |body: String| {
        if authed {
            reply("200 OK", "", &body)
        } else {
            reply("401 Unauthorized", "", "{}")
        }
    };
    let text = match mode {
        "redirect-login" => reply("302 Found", &format!("Location: {API}/api/whoami\r\n"), ""),
        "redirect-https" => reply(
            "301 Moved Permanently",
            &format!("Location: https://127.0.0.1:{port}{path}\r\n"),
            "",
        ),
        "redirect-put" if method == "PUT" => reply(
            "307 Temporary Redirect",
            &format!("Location: {rabbit}\r\n"),
            "",
        ),
        "redirect-put" => simple(json!({"name": user, "tags": "administrator"}).to_string()),
        "garbage" => simple("<html>not json</html>".into()),
        "other-name" => simple(json!({"name": "guest", "tags": "administrator"}).to_string()),
        "name-number" => simple(json!({"name": 5}).to_string()),
        "error500" => reply("500 Internal Server Error", "", "{}"),
        "teapot" => reply("418 I'm a teapot", "", "{}"),
        "echo" => reply(
            "400 Bad Request",
            &format!(
                "X-Echo: {}\r\n",
                header("authorization").unwrap_or_default()
            ),
            &json!({"error": "bad request", "you_sent": head}).to_string(),
        ),
        "endless" => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{\"name\": \"")
                .await?;
            let chunk = vec![b'a'; 64 * 1024];
            loop {
                stream.write_all(&chunk).await?;
            }
        }
        "big" => {
            let size = 64 * 1024 * 1024;
            stream
                .write_all(format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n").as_bytes())
                .await?;
            let chunk = vec![b' '; 64 * 1024];
            for _ in 0..size / chunk.len() {
                stream.write_all(&chunk).await?;
            }
            return Ok(());
        }
        "slow" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            return Ok(());
        }
        "drip" => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
                .await?;
            for _ in 0..1000 {
                stream.write_all(b" ").await?;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            return Ok(());
        }
        "reset" => return Ok(()),
        "not-http" => "SSH-2.0-OpenSSH_9.2\r\n".to_owned(),
        _ => reply("404 Not Found", "", "{}"),
    };
    stream.write_all(text.as_bytes()).await?;
    stream.shutdown().await
}

/// The RabbitMQ users named (password hashes and tags), their permissions and topic
/// permissions, as the broker's administrator sees them: three requests.
async fn rabbit_users(names: &[&str]) -> String {
    let mut out = Vec::new();
    for path in ["users", "permissions", "topic-permissions"] {
        let r = http()
            .get(format!("{API}/api/{path}"))
            .basic_auth("guest", Some("guest"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("RabbitMQ's management API on {API}: {e}"));
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        let Some(items) = body.as_array() else {
            out.push(format!("{path}: {status} {body}"));
            continue;
        };
        let mut kept: Vec<String> = items
            .iter()
            .filter(|i| {
                let name = i["name"]
                    .as_str()
                    .or(i["user"].as_str())
                    .unwrap_or_default();
                names.contains(&name)
            })
            .map(Value::to_string)
            .collect();
        kept.sort();
        out.push(format!("{path}: {}", kept.join(", ")));
    }
    out.join(" | ")
}

#[tokio::test]
async fn every_hostile_case_fails_clearly_and_changes_nothing() {
    let rabbit = rabbitmq::fixture();
    let user = unique_name("corpus-");
    let password = hostile_password();
    rabbit.create_account(&user, &password).await;
    let victim = unique_name("corpus-victim-");
    let victim_password = hostile_password();
    rabbit.create_account(&victim, &victim_password).await;
    let npm = verdaccio::fixture();
    let npm_secret = npm.account().await;
    let evil = hostile_api(&user, &password, &victim).await;

    let mut secret = rabbit.secret_for(&user, &password);
    secret[secret_rotor_http::SPEC_KEY] = rabbitmq::spec_json();
    let moto = Moto::shared();
    let mut env = moto.env();
    env.push(("AWS_LAMBDA_LOG_LEVEL".into(), "debug".into()));
    let field = |k: &str| npm_secret[k].as_str().unwrap().to_owned();
    let state = || async {
        let mut live = npm.live_keys(&npm_secret).await;
        live.sort();
        let clone = format!("{user}_clone");
        format!(
            "rabbit {} | logs in {} | npm keys {live:?} | npm token works {}",
            rabbit_users(&[&user, &victim, "guest", &clone]).await,
            rabbit.can_login(&user, &password).await,
            npm.works(&npm_secret).await,
        )
    };
    let figures = CorpusRun {
        target: "http",
        binary: BINARY.as_ref(),
        cases: Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/cases"),
        moto,
        env,
        secret,
        vars: vec![
            ("$NPM_URL".into(), field("url")),
            ("$NPM_USER".into(), field("username")),
            ("$NPM_PASSWORD".into(), field("password")),
            ("$NPM_TOKEN".into(), field("token")),
            ("$NPM_KEY".into(), field("key_id")),
            ("$URL".into(), API.into()),
            ("$EVIL".into(), evil),
            ("$USER".into(), user.clone()),
            ("$PASSWORD".into(), password.clone()),
        ],
        secrets: vec![
            password.clone(),
            victim_password,
            field("password"),
            field("token"),
        ],
    }
    .run(state)
    .await;
    figures.assert_sound(200);
}
