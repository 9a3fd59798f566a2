//! The data plane on the wire: a real HTTP server behind it, real sockets in front, and the
//! framings a relay must get right (bodies by length and chunked both ways, pipelined requests,
//! HTTP/1.0, closing backends, header edits and rewrites, a backend that is not there).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, Response};
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::data_plane::DataPlane;
use super::routing::{
    Backend, Entry, Filter, HeaderEdit, PathEdit, PathMatch, PortRoutes, RequestMatch, Rule,
    WeightedBackend,
};

/// A backend that tells what it was sent.
async fn backend() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|request: Request<_>| async move {
                    Ok::<_, Infallible>(answer(request).await)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    address
}

async fn answer(request: Request<hyper::body::Incoming>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let header = |name: &str| {
        parts
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join("|")
    };
    let path = parts.uri.path_and_query().map_or("", |p| p.as_str());
    if path.starts_with("/slow") {
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    }
    let text = format!(
        "{} {path} host={} xff={} proto={} added={} conn={}",
        parts.method,
        header("host"),
        header("x-forwarded-for"),
        header("x-forwarded-proto"),
        header("x-added"),
        header("connection"),
    );
    let received = body
        .collect()
        .await
        .map(|b| b.to_bytes().len())
        .unwrap_or(0);
    let text = format!("{text} len={received}");
    let mut response = if path.starts_with("/chunked") {
        // No length: hyper sends it chunked, a piece per frame.
        let pieces = ["one", "two", "three"].map(|p| Ok::<_, Infallible>(bytes::Bytes::from(p)));
        Response::new(Body::from_stream(futures::stream::iter(pieces)))
    } else {
        Response::new(Body::from(text))
    };
    response
        .headers_mut()
        .insert("keep-alive", "timeout=5".parse().expect("value"));
    if path.starts_with("/close") {
        response
            .headers_mut()
            .insert("connection", "close".parse().expect("value"));
    }
    response
}

fn entry(route: &str, path: PathMatch, filters: Vec<Filter>, to: SocketAddr) -> Entry {
    timed_entry(route, path, filters, to, None)
}

fn timed_entry(
    route: &str,
    path: PathMatch,
    filters: Vec<Filter>,
    to: SocketAddr,
    timeout: Option<std::time::Duration>,
) -> Entry {
    let backends = vec![WeightedBackend {
        weight: 1,
        backend: Backend::endpoints(format!("{route}:80"), vec![to]),
        filters: Vec::new(),
    }];
    Entry {
        listener_hostname: None,
        hostnames: Vec::new(),
        matcher: RequestMatch {
            path,
            method: None,
            headers: Vec::new(),
            query: Vec::new(),
        },
        route_order: ("2026-01-01T00:00:00Z".into(), route.into()),
        position: (0, 0),
        rule: Arc::new(Rule::new(route.into(), filters, backends, timeout)),
    }
}

fn prefix(p: &str) -> PathMatch {
    PathMatch::new("PathPrefix", p).expect("prefix")
}

/// A gateway port in front of a backend: everything to it, `/edit` with header edits and a
/// rewrite to `/edited`, `/gone` to a port nobody listens on, `/slow` with a request timeout
/// shorter than the backend takes.
async fn gateway() -> (DataPlane, SocketAddr) {
    let to = backend().await;
    let nobody = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let edits = vec![
        Filter::RequestHeaders(HeaderEdit {
            set: vec![("x-added".into(), "yes".into())],
            ..HeaderEdit::default()
        }),
        Filter::ResponseHeaders(HeaderEdit {
            set: vec![("x-edited".into(), "1".into())],
            ..HeaderEdit::default()
        }),
        Filter::Rewrite {
            hostname: Some("calc.internal".into()),
            path: Some(PathEdit::ReplacePrefixMatch("/edited".into())),
        },
    ];
    let routes = PortRoutes::new(vec![
        entry("t/all", prefix("/"), Vec::new(), to),
        entry("t/edit", prefix("/edit"), edits, to),
        entry("t/gone", prefix("/gone"), Vec::new(), nobody),
        timed_entry(
            "t/slow",
            prefix("/slow"),
            Vec::new(),
            to,
            Some(std::time::Duration::from_millis(300)),
        ),
    ]);
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let plane = DataPlane::default();
    let errors = plane.apply(BTreeMap::from([(address, routes)]));
    assert!(errors.is_empty(), "{errors:?}");
    (plane, address)
}

/// Writes `request` on a new connection and reads until the server closes it.
async fn raw(address: SocketAddr, request: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    stream.write_all(request).await.expect("write");
    let mut read = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut read),
    )
    .await;
    String::from_utf8_lossy(&read).into_owned()
}

#[tokio::test]
async fn requests_cross_the_gateway_with_their_bodies_framing_and_edits() {
    let (_plane, address) = gateway().await;
    let client = test_harness::http_client();
    let base = format!("http://{address}");

    let answer = client
        .get(format!("{base}/sum/2/3?x=1"))
        .send()
        .await
        .expect("get");
    assert_eq!(answer.status(), 200);
    assert!(
        answer.headers().get("keep-alive").is_none(),
        "hop-by-hop passed"
    );
    let text = answer.text().await.expect("body");
    assert!(text.starts_with("GET /sum/2/3?x=1 host="), "{text}");
    assert!(text.contains(&format!("host={address}")), "{text}");
    assert!(text.contains("xff=127.0.0.1 proto=http"), "{text}");

    // A body by length, larger than one read.
    let big = vec![b'7'; 300_000];
    let text = client
        .post(format!("{base}/post"))
        .body(big)
        .send()
        .await
        .expect("post")
        .text()
        .await
        .expect("body");
    assert!(text.ends_with("len=300000"), "{text}");

    // A chunked answer, passed through as it came.
    for _ in 0..3 {
        let text = client
            .get(format!("{base}/chunked"))
            .send()
            .await
            .expect("chunked")
            .text()
            .await
            .expect("body");
        assert_eq!(text, "onetwothree");
    }

    // Edits and a rewrite.
    let answer = client
        .get(format!("{base}/edit/7?y=2"))
        .send()
        .await
        .expect("edit");
    assert_eq!(answer.headers()["x-edited"], "1");
    let text = answer.text().await.expect("body");
    assert!(
        text.starts_with("GET /edited/7?y=2 host=calc.internal"),
        "{text}"
    );
    assert!(text.contains("added=yes"), "{text}");

    // A backend that closes after answering, then the next request on the same connection.
    for _ in 0..3 {
        let text = client
            .get(format!("{base}/close"))
            .send()
            .await
            .expect("close")
            .text()
            .await
            .expect("body");
        assert!(text.starts_with("GET /close"), "{text}");
    }

    // Slower than the rule's timeout.
    let answer = client
        .get(format!("{base}/slow"))
        .send()
        .await
        .expect("slow");
    assert_eq!(answer.status(), 504);

    // No backend listening.
    let answer = client
        .get(format!("{base}/gone"))
        .send()
        .await
        .expect("gone");
    assert_eq!(answer.status(), 503);
    let text = answer.text().await.expect("body");
    assert!(
        text.starts_with("upstream connect error or disconnect/reset before headers"),
        "{text}"
    );
}

#[tokio::test]
async fn pipelined_and_old_requests_are_answered_in_order() {
    let (_plane, address) = gateway().await;
    let host = format!("Host: {address}\r\n");
    let two = format!(
        "GET /a HTTP/1.1\r\n{host}\r\nPOST /b HTTP/1.1\r\n{host}Content-Length: 3\r\n\r\nabcGET /c HTTP/1.1\r\n{host}Connection: close\r\n\r\n"
    );
    let read = raw(address, two.as_bytes()).await;
    let (a, b, c) = (
        read.find("GET /a ").expect("a answered"),
        read.find("POST /b ").expect("b answered"),
        read.find("GET /c ").expect("c answered"),
    );
    assert!(a < b && b < c, "{read}");
    assert!(
        read.contains("POST /b ") && read.contains("len=3"),
        "{read}"
    );
    assert_eq!(read.matches("HTTP/1.1 200 OK").count(), 3, "{read}");

    // A chunked request body (the full server carries it).
    let chunked = raw(
        address,
        format!("POST /post HTTP/1.1\r\n{host}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n12\r\n3\r\n345\r\n0\r\n\r\n").as_bytes(),
    )
    .await;
    assert!(chunked.starts_with("HTTP/1.1 200 OK"), "{chunked}");
    assert!(chunked.contains("len=5"), "{chunked}");

    let old = raw(address, b"GET /old HTTP/1.0\r\n\r\n").await;
    assert!(old.starts_with("HTTP/1.0 200 OK"), "{old}");
    assert!(old.contains("GET /old"), "{old}");

    let bad = raw(address, b"NOT HTTP AT ALL\r\n\r\n").await;
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
}
