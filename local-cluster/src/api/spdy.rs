//! `kubectl port-forward`'s protocol: SPDY/3.1 (`portforward.k8s.io`), tunneled inside a
//! WebSocket whose subprotocol is `SPDY/3.1+portforward.k8s.io`, as kubectl 1.31 and later
//! speak it by default. The WebSocket's binary messages carry the SPDY byte stream.
//!
//! What the kubelet does, done here: for each forwarded connection the client opens an *error*
//! stream and a *data* stream (SYN_STREAM with headers `streamType`, `port` and `requestID`);
//! every stream gets a SYN_REPLY; once both streams of a request exist, the server connects to
//! the pod's port and copies bytes both ways; the end of the pod's side ends the data stream
//! (FIN), and a failure is written to the error stream. PINGs are answered. Flow control is not
//! enforced, like the client library kubectl uses (spdystream).
//!
//! Header blocks are zlib streams sharing one context per direction, with SPDY/3's preset
//! dictionary.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::LazyLock;

use axum::extract::ws::{Message, WebSocket};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;

/// The WebSocket subprotocol kubectl offers for tunneled SPDY port-forwarding.
pub const TUNNELED_PORT_FORWARD: &str = "SPDY/3.1+portforward.k8s.io";

const VERSION: u16 = 3;
const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const FLAG_FIN: u8 = 0x01;
/// RST_STREAM status: the stream is cancelled.
const CANCEL: u32 = 5;
/// The largest frame accepted (the 24-bit length field's range is 16 MiB; kubectl writes
/// at most 32 KiB at a time).
const MAX_FRAME: usize = 1 << 20;

/// SPDY/3's header-compression dictionary (draft 3, section 2.6.10.1): the common header names
/// each with its 32-bit length, then a run of common values.
static DICTIONARY: LazyLock<Vec<u8>> = LazyLock::new(|| {
    const WORDS: &[&str] = &[
        "options",
        "head",
        "post",
        "put",
        "delete",
        "trace",
        "accept",
        "accept-charset",
        "accept-encoding",
        "accept-language",
        "accept-ranges",
        "age",
        "allow",
        "authorization",
        "cache-control",
        "connection",
        "content-base",
        "content-encoding",
        "content-language",
        "content-length",
        "content-location",
        "content-md5",
        "content-range",
        "content-type",
        "date",
        "etag",
        "expect",
        "expires",
        "from",
        "host",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "if-unmodified-since",
        "last-modified",
        "location",
        "max-forwards",
        "pragma",
        "proxy-authenticate",
        "proxy-authorization",
        "range",
        "referer",
        "retry-after",
        "server",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "vary",
        "via",
        "warning",
        "www-authenticate",
        "method",
        "get",
        "status",
        "200 OK",
        "version",
        "HTTP/1.1",
        "url",
        "public",
        "set-cookie",
        "keep-alive",
        "origin",
    ];
    const TAIL: &str = concat!(
        "100101201202205206300302303304305306307402405406407408409410411412413414415416417",
        "502504505203 Non-Authoritative Information204 No Content301 Moved Permanently",
        "400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error",
        "501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct",
        " Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,",
        "image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,",
        "publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.",
    );
    let mut out = Vec::with_capacity(1424);
    for word in WORDS {
        out.extend_from_slice(&(word.len() as u32).to_be_bytes());
        out.extend_from_slice(word.as_bytes());
    }
    out.extend_from_slice(TAIL.as_bytes());
    out
});

/// A protocol error: the session ends with it.
#[derive(Debug, thiserror::Error)]
#[error("SPDY: {0}")]
pub struct ProtocolError(String);

fn protocol(message: impl Into<String>) -> ProtocolError {
    ProtocolError(message.into())
}

/// One parsed frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A control frame: its type, flags and payload.
    Control {
        /// SYN_STREAM, SYN_REPLY, RST_STREAM, ...
        kind: u16,
        /// FIN and the like.
        flags: u8,
        /// What follows the 8-byte header.
        payload: Vec<u8>,
    },
    /// A data frame on a stream.
    Data {
        /// The stream.
        stream: u32,
        /// FIN ends the sender's side.
        flags: u8,
        /// The bytes.
        payload: Vec<u8>,
    },
}

/// Takes one complete frame off the front of `buffer`, if it holds one.
pub fn next_frame(buffer: &mut Vec<u8>) -> Result<Option<Frame>, ProtocolError> {
    if buffer.len() < 8 {
        return Ok(None);
    }
    let length = u32::from_be_bytes([0, buffer[5], buffer[6], buffer[7]]) as usize;
    if length > MAX_FRAME {
        return Err(protocol(format!("a frame of {length} bytes is too large")));
    }
    if buffer.len() < 8 + length {
        return Ok(None);
    }
    let payload = buffer[8..8 + length].to_vec();
    let flags = buffer[4];
    let frame = if buffer[0] & 0x80 != 0 {
        let version = u16::from_be_bytes([buffer[0] & 0x7f, buffer[1]]);
        if version != VERSION {
            return Err(protocol(format!(
                "version {version} is not spoken here (3 is)"
            )));
        }
        Frame::Control {
            kind: u16::from_be_bytes([buffer[2], buffer[3]]),
            flags,
            payload,
        }
    } else {
        Frame::Data {
            stream: u32::from_be_bytes([buffer[0], buffer[1], buffer[2], buffer[3]]),
            flags,
            payload,
        }
    };
    buffer.drain(..8 + length);
    Ok(Some(frame))
}

fn control(kind: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + payload.len());
    out.extend_from_slice(&(0x8000 | VERSION).to_be_bytes());
    out.extend_from_slice(&kind.to_be_bytes());
    out.push(flags);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(payload);
    out
}

fn data(stream: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + payload.len());
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.push(flags);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(payload);
    out
}

/// The header blocks of one direction: one zlib stream for the whole session.
pub struct HeaderCodec {
    inflate: Decompress,
    deflate: Compress,
}

impl Default for HeaderCodec {
    fn default() -> Self {
        HeaderCodec {
            inflate: Decompress::new(true),
            deflate: Compress::new(Compression::default(), true),
        }
    }
}

impl HeaderCodec {
    /// Decodes one compressed name/value block (names lowercased).
    pub fn decode(&mut self, block: &[u8]) -> Result<HashMap<String, String>, ProtocolError> {
        let mut plain = Vec::with_capacity(block.len() * 4 + 64);
        let mut input = block;
        loop {
            if plain.capacity() - plain.len() < 256 {
                plain.reserve(plain.capacity());
            }
            let before = self.inflate.total_in();
            match self
                .inflate
                .decompress_vec(input, &mut plain, FlushDecompress::Sync)
            {
                Ok(Status::Ok | Status::BufError | Status::StreamEnd) => {}
                Err(e) if e.needs_dictionary().is_some() => {
                    self.inflate
                        .set_dictionary(&DICTIONARY)
                        .map_err(|e| protocol(format!("header dictionary: {e}")))?;
                }
                Err(e) => return Err(protocol(format!("header block: {e}"))),
            }
            let used = (self.inflate.total_in() - before) as usize;
            input = &input[used..];
            // Done when the block is consumed and the output did not fill the buffer.
            if input.is_empty() && plain.len() < plain.capacity() {
                break;
            }
            if used == 0 && plain.len() < plain.capacity() && !input.is_empty() {
                return Err(protocol("header block: no progress"));
            }
        }
        parse_name_values(&plain)
    }

    /// Encodes a name/value block.
    pub fn encode(&mut self, headers: &[(&str, &str)]) -> Result<Vec<u8>, ProtocolError> {
        if self.deflate.total_in() == 0 {
            self.deflate
                .set_dictionary(&DICTIONARY)
                .map_err(|e| protocol(format!("header dictionary: {e}")))?;
        }
        let mut plain = Vec::new();
        plain.extend_from_slice(&(headers.len() as u32).to_be_bytes());
        for (name, value) in headers {
            for part in [name, value] {
                plain.extend_from_slice(&(part.len() as u32).to_be_bytes());
                plain.extend_from_slice(part.as_bytes());
            }
        }
        let mut out = Vec::with_capacity(plain.len() + 64);
        let mut input = plain.as_slice();
        loop {
            out.reserve(256);
            let before = self.deflate.total_in();
            self.deflate
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .map_err(|e| protocol(format!("header block: {e}")))?;
            input = &input[(self.deflate.total_in() - before) as usize..];
            if input.is_empty() && out.len() < out.capacity() {
                return Ok(out);
            }
        }
    }
}

fn parse_name_values(plain: &[u8]) -> Result<HashMap<String, String>, ProtocolError> {
    let mut at = 0usize;
    let mut take = |n: usize| -> Result<&[u8], ProtocolError> {
        let slice = plain
            .get(at..at + n)
            .ok_or_else(|| protocol("header block ends early"))?;
        at += n;
        Ok(slice)
    };
    let number = |bytes: &[u8]| u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let count = number(take(4)?);
    let mut headers = HashMap::new();
    for _ in 0..count {
        let length = number(take(4)?) as usize;
        let name = String::from_utf8_lossy(take(length)?).to_lowercase();
        let length = number(take(4)?) as usize;
        let value = String::from_utf8_lossy(take(length)?).into_owned();
        headers.insert(name, value);
    }
    Ok(headers)
}

/// One forwarded connection as its two streams arrive.
#[derive(Default)]
struct Request {
    port: u16,
    error_stream: Option<u32>,
    data_stream: Option<u32>,
    started: bool,
}

/// Where a data stream's bytes for the pod go: `None` is the client's FIN.
type ToPod = mpsc::UnboundedSender<Option<Vec<u8>>>;
/// A data stream's connection to the pod, made (`Some`) or failed (`None`).
type Opened = mpsc::UnboundedSender<(u32, Option<ToPod>)>;

/// What the session's reader keeps per data stream: where its bytes go.
enum Sink {
    /// The connection to the pod is being made; bytes wait.
    Pending(Vec<u8>, bool),
    Open(ToPod),
}

/// Serves one tunneled SPDY port-forward session until the client goes.
pub async fn serve(socket: WebSocket, address: IpAddr) {
    let (mut sink, mut incoming) = socket.split();
    let (out, mut outgoing) = mpsc::unbounded_channel::<Vec<u8>>();
    let writer = tokio::spawn(async move {
        while let Some(bytes) = outgoing.recv().await {
            if sink.send(Message::Binary(bytes.into())).await.is_err() {
                return;
            }
        }
        let _ = sink
            .send(Message::Close(Some(axum::extract::ws::CloseFrame {
                code: axum::extract::ws::close_code::NORMAL,
                reason: "".into(),
            })))
            .await;
    });
    if let Err(e) = session(&mut incoming, address, out).await {
        tracing::debug!(error = %e, "port-forward session ended");
    }
    writer.abort();
}

async fn session(
    incoming: &mut futures::stream::SplitStream<WebSocket>,
    address: IpAddr,
    out: mpsc::UnboundedSender<Vec<u8>>,
) -> Result<(), ProtocolError> {
    let mut buffer = Vec::new();
    let mut codec = HeaderCodec::default();
    let mut requests: HashMap<String, Request> = HashMap::new();
    let mut sinks: HashMap<u32, Sink> = HashMap::new();
    let (opened, mut connections) = mpsc::unbounded_channel::<(u32, Option<ToPod>)>();
    loop {
        tokio::select! {
            message = incoming.next() => match message {
                Some(Ok(Message::Binary(bytes))) => buffer.extend_from_slice(&bytes),
                Some(Ok(Message::Close(_)) | Err(_)) | None => return Ok(()),
                Some(Ok(_)) => continue,
            },
            // A connection to the pod was made (or failed): release what waited for it.
            Some((stream, sender)) = connections.recv() => {
                                if let (Some(Sink::Pending(waiting, fin)), Some(sender)) = (sinks.remove(&stream), sender) {
                        if !waiting.is_empty() {
                            let _ = sender.send(Some(waiting));
                        }
                        if fin {
                            let _ = sender.send(None);
                        } else {
                                                        sinks.insert(stream, Sink::Open(sender));
                        }
                }
                continue;
            }
        }
        while let Some(frame) = next_frame(&mut buffer)? {
            match frame {
                Frame::Control {
                    kind: SYN_STREAM,
                    payload,
                    ..
                } => {
                    if payload.len() < 10 {
                        return Err(protocol("SYN_STREAM too short"));
                    }
                    let stream =
                        u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]])
                            & 0x7fff_ffff;
                    let headers = codec.decode(&payload[10..])?;
                    let mut reply = stream.to_be_bytes().to_vec();
                    reply.extend(codec.encode(&[])?);
                    let _ = out.send(control(SYN_REPLY, 0, &reply));
                    let port = headers
                        .get("port")
                        .and_then(|p| p.parse::<u16>().ok())
                        .filter(|p| *p > 0);
                    let id = headers.get("requestid").cloned().unwrap_or_default();
                    let Some(port) = port else {
                        let _ = out.send(data(
                            stream,
                            FLAG_FIN,
                            format!(
                                "invalid port header {:?}",
                                headers.get("port").map(String::as_str).unwrap_or_default()
                            )
                            .as_bytes(),
                        ));
                        continue;
                    };
                    let request = requests.entry(id.clone()).or_default();
                    request.port = port;
                    match headers.get("streamtype").map(String::as_str) {
                        Some("error") => request.error_stream = Some(stream),
                        Some("data") => {
                            request.data_stream = Some(stream);
                            sinks.insert(stream, Sink::Pending(Vec::new(), false));
                        }
                        other => {
                            return Err(protocol(format!("unknown stream type {other:?}")));
                        }
                    }
                    if let (Some(error), Some(data_stream), false) =
                        (request.error_stream, request.data_stream, request.started)
                    {
                        request.started = true;
                        tokio::spawn(connect(
                            address,
                            request.port,
                            error,
                            data_stream,
                            out.clone(),
                            opened.clone(),
                        ));
                        requests.remove(&id);
                    }
                }
                Frame::Control {
                    kind: RST_STREAM,
                    payload,
                    ..
                } if payload.len() >= 4 => {
                    let stream =
                        u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]])
                            & 0x7fff_ffff;
                    // Dropping the sender closes the pod connection's write side.
                    sinks.remove(&stream);
                }
                Frame::Control {
                    kind: PING,
                    payload,
                    ..
                } => {
                    let _ = out.send(control(PING, 0, &payload));
                }
                Frame::Control { kind: GOAWAY, .. } => return Ok(()),
                // SETTINGS, WINDOW_UPDATE, HEADERS and SYN_REPLY change nothing here.
                Frame::Control { .. } => {}
                Frame::Data {
                    stream,
                    flags,
                    payload,
                } => {
                    let fin = flags & FLAG_FIN != 0;
                    match sinks.get_mut(&stream) {
                        Some(Sink::Pending(waiting, ended)) => {
                            waiting.extend_from_slice(&payload);
                            *ended |= fin;
                        }
                        Some(Sink::Open(sender)) => {
                            if !payload.is_empty() {
                                let _ = sender.send(Some(payload));
                            }
                            if fin {
                                let _ = sender.send(None);
                                sinks.remove(&stream);
                            }
                        }
                        // The error stream's FIN, or a stream already gone.
                        None => {}
                    }
                }
            }
        }
    }
}

/// Connects to the pod's port and copies both ways; reports a failure on the error stream.
async fn connect(
    address: IpAddr,
    port: u16,
    error_stream: u32,
    data_stream: u32,
    out: mpsc::UnboundedSender<Vec<u8>>,
    opened: Opened,
) {
    let connection = match super::channels::dial_pod(address, port).await {
        Ok(connection) => connection,
        Err(e) => {
            let _ = opened.send((data_stream, None));
            let message = format!(
                "error forwarding port {port} to pod: failed to connect to {address}:{port}: {e}"
            );
            let _ = out.send(data(error_stream, FLAG_FIN, message.as_bytes()));
            let _ = out.send(data(data_stream, FLAG_FIN, &[]));
            return;
        }
    };
    let (mut reader, writer) = connection.into_split();
    let (to_pod, from_client) = mpsc::unbounded_channel();
    let _ = opened.send((data_stream, Some(to_pod)));
    let copy_in = tokio::spawn(write_to_pod(writer, from_client));
    let mut chunk = vec![0u8; 32 * 1024];
    loop {
        match reader.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => {
                if out.send(data(data_stream, 0, &chunk[..n])).is_err() {
                    copy_in.abort();
                    return;
                }
            }
            Err(e) => {
                let message = format!("error forwarding port {port} to pod: {e}");
                let _ = out.send(data(error_stream, 0, message.as_bytes()));
                break;
            }
        }
    }
    let _ = out.send(data(data_stream, FLAG_FIN, &[]));
    let _ = out.send(data(error_stream, FLAG_FIN, &[]));
    // The client may still be sending; its FIN or reset ends the other direction.
    if tokio::time::timeout(std::time::Duration::from_secs(30), copy_in)
        .await
        .is_err()
    {
        let _ = out.send(control(
            RST_STREAM,
            0,
            &[&data_stream.to_be_bytes()[..], &CANCEL.to_be_bytes()].concat(),
        ));
    }
}

async fn write_to_pod(
    mut writer: OwnedWriteHalf,
    mut from_client: mpsc::UnboundedReceiver<Option<Vec<u8>>>,
) {
    while let Some(Some(bytes)) = from_client.recv().await {
        if writer.write_all(&bytes).await.is_err() {
            return;
        }
    }
    // The client's FIN (or its reset): no more bytes for the pod.
    let _ = writer.shutdown().await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

    use super::*;

    #[test]
    fn the_dictionary_is_spdy3s() {
        // 1,423 bytes, as the draft's table (and every implementation's copy) has; the words
        // end where the value run begins.
        assert_eq!(DICTIONARY.len(), 1423);
        assert_eq!(&DICTIONARY[..11], b"\x00\x00\x00\x07options");
        assert!(DICTIONARY.ends_with(b",utf-,*,enq=0."));
    }

    #[test]
    fn header_blocks_round_trip_through_one_shared_context() {
        let (mut client, mut server) = (HeaderCodec::default(), HeaderCodec::default());
        for id in ["0", "1", "2"] {
            let block = client
                .encode(&[("streamType", "data"), ("port", "3000"), ("requestID", id)])
                .unwrap();
            let headers = server.decode(&block).unwrap();
            assert_eq!(headers["streamtype"], "data");
            assert_eq!(headers["port"], "3000");
            assert_eq!(headers["requestid"], id);
        }
        assert!(server.decode(&[0xff, 0x00, 0x12]).is_err());
    }

    #[test]
    fn frames_come_off_the_buffer_whole() {
        let mut buffer = control(PING, 0, &7u32.to_be_bytes());
        buffer.extend(data(5, FLAG_FIN, b"hello"));
        buffer.extend(&data(9, 0, b"partial")[..10]);
        assert_eq!(
            next_frame(&mut buffer).unwrap(),
            Some(Frame::Control {
                kind: PING,
                flags: 0,
                payload: 7u32.to_be_bytes().to_vec()
            })
        );
        assert_eq!(
            next_frame(&mut buffer).unwrap(),
            Some(Frame::Data {
                stream: 5,
                flags: FLAG_FIN,
                payload: b"hello".to_vec()
            })
        );
        assert_eq!(next_frame(&mut buffer).unwrap(), None);
        let mut wrong_version = vec![0x80, 2, 0, 6, 0, 0, 0, 0];
        assert!(next_frame(&mut wrong_version).is_err());
    }
}
