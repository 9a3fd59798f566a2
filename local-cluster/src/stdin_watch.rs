//! How the project's own container processes (the calculator, the static web server) end with
//! the kubelet that started them.

use std::io::Read;

/// The kubelet holds a container process's stdin open; if the kubelet goes away without
/// stopping the process, stdin closes, and the process ends too (as a container would with
/// its node's runtime).
pub fn exit_when_stdin_closes() {
    std::thread::spawn(|| {
        let mut buffer = [0u8; 64];
        let mut stdin = std::io::stdin();
        loop {
            match stdin.read(&mut buffer) {
                Ok(0) | Err(_) => std::process::exit(137),
                Ok(_) => {}
            }
        }
    });
}
