//! What an `nginx` or `httpd` container runs here: a small static file server of the image's
//! document root under the container's root (`$CONTAINER_ROOT/usr/share/nginx/html`, where a
//! volume may be mounted), on the pod's address and the container's port, with an access log
//! line per request on its output as those servers write one. A document root the container
//! does not have gets the image's own welcome page, as the image ships one.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use tower_http::services::ServeDir;

/// The argument that turns this executable into a static web container.
pub const STATIC_WEB_ARG: &str = "__static-web";

/// The page nginx's image ships at its document root.
const WELCOME: &str = "<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n</head>\n<body>\n<h1>Welcome to nginx!</h1>\n<p>If you see this page, the nginx web server is successfully installed and\nworking. Further configuration is required.</p>\n</body>\n</html>\n";

/// Serves `document_root` (a path inside the container) until the kubelet stops this process
/// (or goes away: it holds our stdin open). Returns the exit code.
pub fn serve(document_root: &str) -> i32 {
    let container_root = std::env::var("CONTAINER_ROOT").unwrap_or_else(|_| ".".into());
    let root = PathBuf::from(container_root).join(document_root.trim_start_matches('/'));
    if !root.exists()
        && let Err(e) = std::fs::create_dir_all(&root)
            .and_then(|()| std::fs::write(root.join("index.html"), WELCOME))
    {
        eprintln!(
            "error: cannot make the document root {}: {e}",
            root.display()
        );
        return 1;
    }
    let host = std::env::var("HOST").unwrap_or_else(|_| "0.0.0.0".into());
    let port = std::env::var("PORT").unwrap_or_else(|_| "80".into());
    let address: SocketAddr = match format!("{host}:{port}").parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: invalid listen address {host}:{port}: {e}");
            return 1;
        }
    };
    crate::stdin_watch::exit_when_stdin_closes();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(address).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("[emerg] bind() to {address} failed ({e})");
                return 1;
            }
        };
        println!("serving {} on {address}", root.display());
        let app = Router::new()
            .fallback_service(ServeDir::new(&root))
            .layer(middleware::from_fn(access_log));
        match axum::serve(listener, app)
            .with_graceful_shutdown(calc_services::termination_signal())
            .await
        {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: {e}");
                1
            }
        }
    })
}

/// Files up to this size are sent with their headers in one write, as nginx sends a small
/// page (clients that read one chunk, as kube-rs's port-forward example does, get it whole).
const WHOLE_UP_TO: u64 = 1024 * 1024;

/// One line per request, as a web server's access log (`"GET / HTTP/1.1" 200`); a small file's
/// body read before the answer goes out.
async fn access_log(request: Request, next: Next) -> Response {
    let line = format!(
        "\"{} {} {:?}\"",
        request.method(),
        request.uri(),
        request.version()
    );
    let response = next.run(request).await;
    println!("{line} {}", response.status().as_u16());
    let small = response
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|l| l.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|l| l <= WHOLE_UP_TO);
    if !small {
        return response;
    }
    let (parts, body) = response.into_parts();
    match axum::body::to_bytes(body, WHOLE_UP_TO as usize).await {
        Ok(bytes) => Response::from_parts(parts, axum::body::Body::from(bytes)),
        Err(e) => {
            eprintln!("error: reading the file failed: {e}");
            Response::from_parts(parts, axum::body::Body::empty())
        }
    }
}
