//! HTTP/1 on the wire, as the gateway's relay speaks it: reading an answer's head, passing a
//! body by its framing (a length, chunked, until the close), header lines and their edits, and
//! the gateway's own answers. Bytes in, bytes out; which request goes where is `relay`'s.

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::routing::HeaderEdit;

/// The longest request or response head read (a longer one is refused, as by hyper).
pub const HEAD_LIMIT: usize = 64 * 1024;
/// The most header lines a head may have.
pub const MAX_HEADERS: usize = 128;
/// How much is read at a time.
pub const READ_SIZE: usize = 16 * 1024;

/// Headers that belong to one connection, never forwarded (by the gateway and by the Service
/// proxy of `network`).
pub const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
];

/// Reads into `answer` until it starts with a whole answer head that is not an interim (1xx)
/// one; interim answers are passed to `client` as they come. `Err(None)`: closed first.
pub async fn read_answer_head(
    backend: &mut TcpStream,
    answer: &mut BytesMut,
    client: &mut TcpStream,
) -> Result<(), Option<String>> {
    loop {
        if !answer.is_empty() {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(answer) {
                Ok(httparse::Status::Complete(len)) => {
                    let interim = response
                        .code
                        .is_some_and(|c| (100..200).contains(&c) && c != 101);
                    if !interim {
                        return Ok(());
                    }
                    client
                        .write_all(&answer[..len])
                        .await
                        .map_err(|e| Some(e.to_string()))?;
                    answer.advance(len);
                    continue;
                }
                Ok(httparse::Status::Partial) if answer.len() < HEAD_LIMIT => {}
                Ok(httparse::Status::Partial) => {
                    return Err(Some("the answer's head is too long".into()));
                }
                Err(e) => return Err(Some(format!("invalid answer: {e}"))),
            }
        }
        answer.reserve(READ_SIZE);
        match backend.read_buf(answer).await {
            Ok(0) => return Err(None),
            Ok(_) => {}
            Err(e) => return Err(Some(e.to_string())),
        }
    }
}

/// Passes `len` bytes (what `pending` holds first, then what `from` sends) to `to`; with
/// `u64::MAX`, until `from` ends. False when either side failed or `from` ended early.
pub async fn pass<R, W>(from: &mut R, to: &mut W, pending: &mut BytesMut, mut len: u64) -> bool
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    loop {
        let here = (pending.len() as u64).min(len) as usize;
        if here > 0 {
            if to.write_all(&pending[..here]).await.is_err() {
                return false;
            }
            pending.advance(here);
            len -= here as u64;
        }
        if len == 0 {
            return true;
        }
        pending.reserve(READ_SIZE);
        match from.read_buf(pending).await {
            Ok(0) => return len == u64::MAX,
            Err(_) => return false,
            Ok(_) => {}
        }
    }
}

/// Passes the rest of a chunked body (`end` has seen what went before) through as it came, to
/// its last chunk and trailers.
pub async fn pass_chunked(
    from: &mut TcpStream,
    to: &mut TcpStream,
    pending: &mut BytesMut,
    mut end: ChunkedEnd,
) -> bool {
    loop {
        if !pending.is_empty() {
            let (here, done) = match end.feed(pending) {
                Ok(Some(n)) => (n, true),
                Ok(None) => (pending.len(), false),
                Err(()) => return false,
            };
            if to.write_all(&pending[..here]).await.is_err() {
                return false;
            }
            pending.advance(here);
            if done {
                return true;
            }
        }
        pending.reserve(READ_SIZE);
        match from.read_buf(pending).await {
            Ok(0) | Err(_) => return false,
            Ok(_) => {}
        }
    }
}

/// Where a chunked body ends, found as its bytes pass (RFC 9112 §7.1): chunk sizes in hex with
/// optional extensions, each chunk's data and line end, the last (empty) chunk, trailers, and
/// the empty line.
#[derive(Debug, Default)]
pub struct ChunkedEnd {
    state: Chunk,
}

#[derive(Debug, Default, Clone, Copy)]
enum Chunk {
    #[default]
    SizeStart,
    Size(u64),
    Extension(u64),
    SizeLf(u64),
    Data(u64),
    DataCr,
    DataLf,
    TrailerStart,
    Trailer,
    TrailerLf,
    LastLf,
    Done,
}

impl ChunkedEnd {
    /// Reads `bytes`; `Some(n)`: the body ended after the first `n` of them. `Err`: not a
    /// chunked body.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Option<usize>, ()> {
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            self.state = match self.state {
                Chunk::SizeStart => Chunk::Size(u64::from(hex(b).ok_or(())?)),
                Chunk::Size(n) => match hex(b) {
                    Some(d) => Chunk::Size(
                        n.checked_mul(16)
                            .and_then(|n| n.checked_add(u64::from(d)))
                            .ok_or(())?,
                    ),
                    None if b == b'\r' => Chunk::SizeLf(n),
                    None if b == b';' || b == b' ' || b == b'\t' => Chunk::Extension(n),
                    None => return Err(()),
                },
                Chunk::Extension(n) if b == b'\r' => Chunk::SizeLf(n),
                Chunk::Extension(n) => Chunk::Extension(n),
                Chunk::SizeLf(0) if b == b'\n' => Chunk::TrailerStart,
                Chunk::SizeLf(n) if b == b'\n' => Chunk::Data(n),
                Chunk::Data(n) => {
                    // The data itself is skipped over whole.
                    let here = (bytes.len() - i).min(usize::try_from(n).unwrap_or(usize::MAX));
                    i += here;
                    let left = n - here as u64;
                    self.state = if left == 0 {
                        Chunk::DataCr
                    } else {
                        Chunk::Data(left)
                    };
                    continue;
                }
                Chunk::DataCr if b == b'\r' => Chunk::DataLf,
                Chunk::DataLf if b == b'\n' => Chunk::SizeStart,
                Chunk::TrailerStart if b == b'\r' => Chunk::LastLf,
                Chunk::TrailerStart | Chunk::Trailer if b != b'\r' => Chunk::Trailer,
                Chunk::Trailer => Chunk::TrailerLf,
                Chunk::TrailerLf if b == b'\n' => Chunk::TrailerStart,
                Chunk::LastLf if b == b'\n' => {
                    self.state = Chunk::Done;
                    return Ok(Some(i + 1));
                }
                Chunk::Done => return Ok(Some(i)),
                _ => return Err(()),
            };
            i += 1;
        }
        Ok(None)
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// The comma-separated tokens of a header value.
pub fn tokens(value: &[u8]) -> impl Iterator<Item = &str> {
    std::str::from_utf8(value)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

pub fn is_hop_by_hop(name: &str, connection_named: &[&str]) -> bool {
    HOP_BY_HOP.iter().any(|h| name.eq_ignore_ascii_case(h))
        || connection_named
            .iter()
            .any(|c| name.eq_ignore_ascii_case(c))
}

/// Whether `value` may be written in a header line as it is.
pub fn valid_value(value: &str) -> bool {
    axum::http::HeaderValue::try_from(value).is_ok()
}

pub fn set<'a>(lines: &mut Vec<(&'a str, &'a [u8])>, name: &'a str, value: &'a [u8]) {
    lines.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    lines.push((name, value));
}

/// A header edit on header lines (names compared without case).
pub fn apply_edit<'a>(lines: &mut Vec<(&'a str, &'a [u8])>, edit: &'a HeaderEdit) {
    let valid = |name: &str, value: &str| {
        axum::http::HeaderName::try_from(name).is_ok() && valid_value(value)
    };
    for (name, value) in &edit.set {
        if valid(name, value) {
            set(lines, name, value.as_bytes());
        }
    }
    for (name, value) in &edit.add {
        if valid(name, value) {
            lines.push((name, value.as_bytes()));
        }
    }
    for name in &edit.remove {
        lines.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }
}

pub fn write_lines(out: &mut Vec<u8>, lines: &[(&str, &[u8])]) {
    for (name, value) in lines {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

fn reason(status: u16) -> &'static str {
    axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

/// The gateway's own plain-text answer.
pub fn plain_answer(status: u16, message: &str, close: bool) -> Vec<u8> {
    let body = format!("{message}\n");
    let connection = if close { "connection: close\r\n" } else { "" };
    format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\n{connection}\r\n{body}",
        reason(status),
        body.len()
    )
    .into_bytes()
}

/// A redirect answer.
pub fn redirect_answer(status: u16, location: &str, close: bool) -> Vec<u8> {
    let connection = if close { "connection: close\r\n" } else { "" };
    let location = if valid_value(location) { location } else { "/" };
    format!(
        "HTTP/1.1 {status} {}\r\nlocation: {location}\r\ncontent-length: 0\r\n{connection}\r\n",
        reason(status)
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end_of(body: &[u8]) -> Result<Option<usize>, ()> {
        ChunkedEnd::default().feed(body)
    }

    #[test]
    fn a_chunked_body_ends_after_its_last_chunk_and_trailers() {
        let body = b"4\r\nWiki\r\n6;ext=1\r\npedia \r\n0\r\n\r\nNEXT";
        assert_eq!(end_of(body), Ok(Some(body.len() - 4)));
        let trailers = b"3\r\nabc\r\n0\r\nx-sum: 3\r\nx-b: 1\r\n\r\n";
        assert_eq!(end_of(trailers), Ok(Some(trailers.len())));
        assert_eq!(end_of(b"A\r\n0123456789\r\n"), Ok(None));
        assert_eq!(end_of(b"zz\r\n"), Err(()));
        assert_eq!(end_of(b"3\r\nabcX"), Err(()));
    }

    #[test]
    fn a_chunked_body_is_found_whatever_the_pieces_it_comes_in() {
        let body = b"1a\r\nabcdefghijklmnopqrstuvwxyz\r\n2\r\n!!\r\n0\r\ntrailer: t\r\n\r\n";
        for cut in 1..body.len() {
            let mut end = ChunkedEnd::default();
            assert_eq!(end.feed(&body[..cut]), Ok(None), "cut at {cut}");
            assert_eq!(
                end.feed(&body[cut..]),
                Ok(Some(body.len() - cut)),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn header_edits_work_on_lines_without_case() {
        let mut lines: Vec<(&str, &[u8])> =
            vec![("X-Lane", b"windows"), ("x-debug", b"1"), ("x-keep", b"a")];
        let edit = HeaderEdit {
            set: vec![("x-lane".into(), "linux".into())],
            add: vec![
                ("x-keep".into(), "b".into()),
                ("bad\nname".into(), "x".into()),
            ],
            remove: vec!["X-Debug".into()],
        };
        apply_edit(&mut lines, &edit);
        assert_eq!(
            lines,
            vec![
                ("x-keep", b"a".as_slice()),
                ("x-lane", b"linux".as_slice()),
                ("x-keep", b"b".as_slice()),
            ]
        );
    }

    #[test]
    fn the_gateways_own_answers_are_whole_http_answers() {
        let answer = plain_answer(503, "no healthy upstream", true);
        let mut headers = [httparse::EMPTY_HEADER; 8];
        let mut response = httparse::Response::new(&mut headers);
        let Ok(httparse::Status::Complete(len)) = response.parse(&answer) else {
            panic!("not an answer: {answer:?}");
        };
        assert_eq!(response.code, Some(503));
        assert_eq!(&answer[len..], b"no healthy upstream\n");
        assert!(
            response
                .headers
                .iter()
                .any(|h| h.name == "connection" && h.value == b"close")
        );
    }
}
