//! The gateway's HTTP/1.1 relay: how most requests cross the gateway. A request's head is read
//! (httparse) and routed, its rebuilt head and its body go to the backend as bytes, and the
//! answer's head is rebuilt and its body passed back as bytes, with no per-request task,
//! channel or header map: the work a proxy such as Envoy or Pingora does per request, and no
//! more. Requests it does not carry (HTTP/1.0, `Upgrade`, `Expect`, a chunked request body, a
//! mirrored request, a target that is not a path) hand the connection, bytes already read
//! included, to the hyper server in `data_plane`, which carries everything.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::decide::{Asked, Decision, Forward, decide};
use super::http1::{
    ChunkedEnd, HEAD_LIMIT, MAX_HEADERS, READ_SIZE, apply_edit, is_hop_by_hop, pass, pass_chunked,
    plain_answer, read_answer_head, redirect_answer, set, tokens, valid_value, write_lines,
};
use super::routing::PortRoutes;

/// A backend connection idle longer than this is checked for a close before it is used again.
const LOOK_AFTER_IDLE: Duration = Duration::from_millis(500);

/// How a client connection went on.
pub enum Ended {
    /// Closed (by the client, or after an answer that closes it).
    Closed,
    /// A request the relay does not carry: the connection and the bytes read from it so far go
    /// to the full HTTP server.
    HandOver(TcpStream, BytesMut),
}

/// One client connection's relay: its read buffer and its own connections to backends.
pub struct Relay {
    client: TcpStream,
    /// The client's address, as `x-forwarded-for` carries it.
    forwarded_for: String,
    buf: BytesMut,
    /// The rebuilt head being written (kept to reuse its allocation).
    out: Vec<u8>,
    /// Connections to backends between requests, with when they were last used.
    idle: Vec<(SocketAddr, TcpStream, Instant)>,
}

/// A request's head, read and decided.
enum Prepared {
    /// Not for the relay.
    HandOver,
    /// Answered by the gateway: these bytes, then the request's body is skipped.
    Answer {
        bytes: Vec<u8>,
        body: u64,
        close: bool,
    },
    /// Sent on: `out` holds the head for the backend.
    Forward {
        forward: Forward,
        body: u64,
        head_method: bool,
        close: bool,
    },
}

/// How long an answer's body is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

impl Relay {
    /// The relay of a newly accepted connection.
    pub fn new(client: TcpStream, peer: SocketAddr) -> Relay {
        Relay {
            client,
            forwarded_for: peer.ip().to_string(),
            buf: BytesMut::with_capacity(READ_SIZE),
            out: Vec::with_capacity(1024),
            idle: Vec::new(),
        }
    }

    /// Carries the connection's requests until it closes or a request needs the full server.
    /// `routes` is read again for each request, so a change of routes applies to the next one.
    pub async fn run(mut self, routes: impl Fn() -> std::sync::Arc<PortRoutes>) -> Ended {
        loop {
            // The next request's head, read and decided in one parse.
            let (head_len, prepared) = loop {
                if !self.buf.is_empty() {
                    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                    let mut request = httparse::Request::new(&mut headers);
                    match request.parse(&self.buf) {
                        Ok(httparse::Status::Complete(len)) => {
                            let prepared =
                                prepare(&request, &routes(), &mut self.out, &self.forwarded_for);
                            break (len, prepared);
                        }
                        Ok(httparse::Status::Partial) if self.buf.len() < HEAD_LIMIT => {}
                        // Too long, too many headers, or not HTTP/1: the full server answers
                        // it as it answers any bad request.
                        _ => return Ended::HandOver(self.client, self.buf),
                    }
                }
                self.buf.reserve(READ_SIZE);
                match self.client.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => return Ended::Closed,
                    Ok(_) => {}
                }
            };
            match prepared {
                Prepared::HandOver => return Ended::HandOver(self.client, self.buf),
                Prepared::Answer { bytes, body, close } => {
                    self.buf.advance(head_len);
                    if self.client.write_all(&bytes).await.is_err()
                        || close
                        || !self.skip(body).await
                    {
                        return Ended::Closed;
                    }
                }
                Prepared::Forward {
                    forward,
                    body,
                    head_method,
                    close,
                } => {
                    self.buf.advance(head_len);
                    if !self.forward(forward, body, head_method, close).await || close {
                        return Ended::Closed;
                    }
                }
            }
        }
    }

    /// Reads and drops `len` bytes of request body. False when the client went away.
    async fn skip(&mut self, mut len: u64) -> bool {
        loop {
            let here = (self.buf.len() as u64).min(len);
            self.buf.advance(here as usize);
            len -= here;
            if len == 0 {
                return true;
            }
            self.buf.reserve(READ_SIZE);
            match self.client.read_buf(&mut self.buf).await {
                Ok(0) | Err(_) => return false,
                Ok(_) => {}
            }
        }
    }

    /// An idle connection to `target` that is still open, or a new one.
    /// `look`: check even a connection used just now (a request that could not be sent again).
    async fn backend(
        &mut self,
        target: SocketAddr,
        look: bool,
    ) -> std::io::Result<(TcpStream, bool)> {
        while let Some(at) = self.idle.iter().position(|(a, _, _)| *a == target) {
            let (_, stream, since) = self.idle.swap_remove(at);
            // A backend may close an idle connection at any time, in practice after seconds
            // of idleness: one idle that long is looked at first (a read that must find
            // nothing), and one that has closed or says something unasked is not used. One
            // closed the moment it is used gets the request again (`send`).
            if !look && since.elapsed() < LOOK_AFTER_IDLE {
                return Ok((stream, true));
            }
            let mut probe = [0u8; 1];
            match stream.try_read(&mut probe) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok((stream, true)),
                _ => continue,
            }
        }
        let stream = TcpStream::connect(target).await?;
        let _ = stream.set_nodelay(true);
        Ok((stream, false))
    }

    /// Sends the head in `out` and `body` bytes of body to the backend and relays its answer.
    /// False when the connection cannot go on.
    async fn forward(
        &mut self,
        forward: Forward,
        body: u64,
        head_method: bool,
        close: bool,
    ) -> bool {
        let target = forward.target;
        // The body's first bytes go with the head in one write; when the whole body is here,
        // the request can be sent again on a new connection if a reused one turns out closed.
        let here = (self.buf.len() as u64).min(body) as usize;
        self.out.extend_from_slice(&self.buf[..here]);
        self.buf.advance(here);
        let whole = here as u64 == body;
        let rest = body - here as u64;
        let sent = self.send(target, whole, rest);
        let sent = match forward.timeout {
            Some(limit) => match tokio::time::timeout(limit, sent).await {
                Ok(sent) => sent,
                Err(_) => Err(Failure::Timeout),
            },
            None => sent.await,
        };
        let (mut backend, mut answer) = match sent {
            Ok(sent) => sent,
            Err(failure) => {
                // Whether the body was all read is not known here: the connection ends after
                // the answer.
                let bytes = match failure {
                    Failure::Timeout => plain_answer(504, "upstream request timeout", true),
                    Failure::Backend(why) => plain_answer(
                        503,
                        &format!(
                            "upstream connect error or disconnect/reset before headers: {target}: {why}"
                        ),
                        true,
                    ),
                };
                let _ = self.client.write_all(&bytes).await;
                return false;
            }
        };
        // The answer's head, rebuilt.
        let (head_len, framing, reusable) = {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut response = httparse::Response::new(&mut headers);
            let Ok(httparse::Status::Complete(head_len)) = response.parse(&answer) else {
                return false;
            };
            let code = response.code.unwrap_or(502);
            let reason = response.reason.unwrap_or("");
            let headers = response.headers;
            let mut length = None;
            let mut chunked = None;
            let mut backend_closes = response.version == Some(0);
            for h in headers.iter() {
                if h.name.eq_ignore_ascii_case("content-length") {
                    length = std::str::from_utf8(h.value)
                        .ok()
                        .and_then(|v| v.trim().parse::<u64>().ok());
                } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                    chunked = Some(
                        tokens(h.value)
                            .last()
                            .is_some_and(|t| t.eq_ignore_ascii_case("chunked")),
                    );
                } else if h.name.eq_ignore_ascii_case("connection") {
                    for t in tokens(h.value) {
                        if t.eq_ignore_ascii_case("close") {
                            backend_closes = true;
                        } else if t.eq_ignore_ascii_case("keep-alive")
                            && response.version == Some(0)
                        {
                            backend_closes = false;
                        }
                    }
                }
            }
            let framing = if head_method || code == 204 || code == 304 || (100..200).contains(&code)
            {
                Framing::None
            } else {
                match (chunked, length) {
                    (Some(true), _) => Framing::Chunked,
                    (Some(false), _) => Framing::UntilClose,
                    (None, Some(n)) => Framing::Length(n),
                    (None, None) => Framing::UntilClose,
                }
            };
            let out = &mut self.out;
            out.clear();
            out.extend_from_slice(b"HTTP/1.1 ");
            out.extend_from_slice(code.to_string().as_bytes());
            out.push(b' ');
            out.extend_from_slice(reason.as_bytes());
            out.extend_from_slice(b"\r\n");
            let connection_named: Vec<&str> = headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case("connection"))
                .flat_map(|h| tokens(h.value))
                .collect();
            let mut lines: Vec<(&str, &[u8])> = Vec::with_capacity(headers.len() + 2);
            for h in headers.iter() {
                // The chunked framing is passed through as it came, so its header stays.
                let framing_header =
                    framing == Framing::Chunked && h.name.eq_ignore_ascii_case("transfer-encoding");
                if framing_header || !is_hop_by_hop(h.name, &connection_named) {
                    lines.push((h.name, h.value));
                }
            }
            for edit in &forward.response_edits {
                apply_edit(&mut lines, edit);
            }
            if close || framing == Framing::UntilClose {
                lines.push(("connection", b"close"));
            }
            write_lines(out, &lines);
            (
                head_len,
                framing,
                !backend_closes && framing != Framing::UntilClose,
            )
        };
        answer.advance(head_len);
        // The body's bytes already read go out with the head, in one write.
        let mut chunks = ChunkedEnd::default();
        let mut left = 0;
        let ended = match framing {
            Framing::None => true,
            Framing::Length(n) => {
                let here = (answer.len() as u64).min(n) as usize;
                self.out.extend_from_slice(&answer[..here]);
                answer.advance(here);
                left = n - here as u64;
                left == 0
            }
            Framing::Chunked => {
                let Ok(end) = chunks.feed(&answer) else {
                    return false;
                };
                let here = end.unwrap_or(answer.len());
                self.out.extend_from_slice(&answer[..here]);
                answer.advance(here);
                end.is_some()
            }
            Framing::UntilClose => {
                self.out.extend_from_slice(&answer);
                answer.clear();
                false
            }
        };
        if self.client.write_all(&self.out).await.is_err() {
            return false;
        }
        if !ended {
            let passed = match framing {
                Framing::Length(_) => pass(&mut backend, &mut self.client, &mut answer, left).await,
                Framing::Chunked => {
                    pass_chunked(&mut backend, &mut self.client, &mut answer, chunks).await
                }
                Framing::None | Framing::UntilClose => {
                    let _ = pass(&mut backend, &mut self.client, &mut answer, u64::MAX).await;
                    return false;
                }
            };
            if !passed {
                return false;
            }
        }
        // Nothing unasked may follow an answer on a connection kept for the next request.
        if reusable && answer.is_empty() {
            self.idle.push((target, backend, Instant::now()));
        }
        true
    }

    /// Writes the head and body to the backend and reads its answer's head (1xx answers are
    /// passed to the client on the way). Returns the backend connection and the bytes read
    /// from it, the head first.
    async fn send(
        &mut self,
        target: SocketAddr,
        whole: bool,
        rest: u64,
    ) -> Result<(TcpStream, BytesMut), Failure> {
        let mut retried = false;
        loop {
            let (mut backend, reused) = self
                .backend(target, !whole)
                .await
                .map_err(|e| Failure::Backend(e.to_string()))?;
            let mut answer = BytesMut::with_capacity(READ_SIZE);
            let written = backend.write_all(&self.out).await;
            let outcome = match written {
                Ok(()) if rest > 0 => {
                    if !pass(&mut self.client, &mut backend, &mut self.buf, rest).await {
                        return Err(Failure::Backend(
                            "the request's body could not be passed on".into(),
                        ));
                    }
                    Ok(())
                }
                other => other.map_err(|e| e.to_string()),
            };
            let outcome = match outcome {
                Ok(()) => read_answer_head(&mut backend, &mut answer, &mut self.client).await,
                Err(e) => Err(Some(e)),
            };
            match outcome {
                Ok(()) => return Ok((backend, answer)),
                // A reused connection the backend closed before answering anything: the
                // request goes once more on a new one when all of it is still here.
                Err(_) if reused && whole && answer.is_empty() && !retried => {
                    retried = true;
                    self.idle.retain(|(a, _, _)| *a != target);
                }
                Err(why) => {
                    return Err(Failure::Backend(
                        why.unwrap_or_else(|| "connection closed before an answer".into()),
                    ));
                }
            }
        }
    }
}

/// Routes a request by its head, and writes the head to send on into `out`.
fn prepare(
    request: &httparse::Request<'_, '_>,
    table: &PortRoutes,
    out: &mut Vec<u8>,
    forwarded_for: &str,
) -> Prepared {
    let (Some(method), Some(target), Some(1)) = (request.method, request.path, request.version)
    else {
        return Prepared::HandOver;
    };
    if !target.starts_with('/') {
        return Prepared::HandOver;
    }
    let headers = &*request.headers;
    let mut body = 0u64;
    let mut lengths = 0;
    let mut close = false;
    let mut host = None;
    for h in headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            lengths += 1;
            match std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
            {
                Some(n) => body = n,
                None => return Prepared::HandOver,
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding")
            || h.name.eq_ignore_ascii_case("upgrade")
            || h.name.eq_ignore_ascii_case("expect")
        {
            return Prepared::HandOver;
        } else if h.name.eq_ignore_ascii_case("connection") {
            close |= tokens(h.value).any(|t| t.eq_ignore_ascii_case("close"));
        } else if h.name.eq_ignore_ascii_case("host") {
            host = std::str::from_utf8(h.value).ok();
        }
    }
    if lengths > 1 {
        return Prepared::HandOver;
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let lookup = |name: &str| {
        headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
            .map(str::to_owned)
    };
    let decision = decide(
        table,
        &Asked {
            method,
            host: host.unwrap_or_default(),
            path,
            query,
            headers: &lookup,
        },
    );
    let forward = match decision {
        Decision::Answer { status, message } => {
            return Prepared::Answer {
                bytes: plain_answer(status, &message, close),
                body,
                close,
            };
        }
        Decision::Redirect { status, location } => {
            return Prepared::Answer {
                bytes: redirect_answer(status, &location, close),
                body,
                close,
            };
        }
        Decision::Forward(forward) if !forward.mirrors.is_empty() => {
            return Prepared::HandOver;
        }
        Decision::Forward(forward) => forward,
    };
    // The head sent on.
    out.clear();
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    match &forward.path {
        None => out.extend_from_slice(target.as_bytes()),
        Some(_) => out.extend_from_slice(forward.path_and_query(path, query).as_bytes()),
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let target_text;
    let mut lines: Vec<(&str, &[u8])> = Vec::with_capacity(headers.len() + 4);
    let connection_named: Vec<&str> = headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("connection"))
        .flat_map(|h| tokens(h.value))
        .collect();
    for h in headers.iter() {
        if is_hop_by_hop(h.name, &connection_named)
            || h.name.eq_ignore_ascii_case("x-forwarded-proto")
        {
            continue;
        }
        lines.push((h.name, h.value));
    }
    for edit in &forward.request_edits {
        apply_edit(&mut lines, edit);
    }
    // An edit may not bring back what belongs to one connection.
    lines.retain(|(name, _)| !is_hop_by_hop(name, &[]));
    if let Some(h) = forward.hostname.as_deref().filter(|h| valid_value(h)) {
        set(&mut lines, "host", h.as_bytes());
    }
    lines.push(("x-forwarded-for", forwarded_for.as_bytes()));
    lines.push(("x-forwarded-proto", b"http"));
    if !lines.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        target_text = forward.target.to_string();
        lines.push(("host", target_text.as_bytes()));
    }
    write_lines(out, &lines);
    Prepared::Forward {
        forward,
        body,
        head_method: method == "HEAD",
        close,
    }
}

/// Why a request got no answer from its backend.
enum Failure {
    Timeout,
    Backend(String),
}
