//! An axum server on 127.0.0.1 with its own thread and runtime, for the mock and fake
//! servers: it keeps answering while a test blocks its own runtime (a CLI run, a
//! `std::process::Command`), and it stops when dropped.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;

use axum::Router;
use axum::extract::Request;
use axum::response::Response;

pub struct ThreadServer {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ThreadServer {
    /// Serves every request with `handler` on a fresh port, on a thread named `name`.
    pub fn start<H, F>(name: &str, handler: H) -> ThreadServer
    where
        H: Fn(Request) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Response> + Send + 'static,
    {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("set_nonblocking");
        let addr = listener.local_addr().expect("local_addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("test server runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    let app = Router::new().fallback(move |req: Request| handler(req));
                    tokio::select! {
                        _ = axum::serve(listener, app).into_future() => {}
                        _ = rx => {}
                    }
                });
            })
            .expect("spawn the test server's thread");
        ThreadServer {
            addr,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }
}

impl Drop for ThreadServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
