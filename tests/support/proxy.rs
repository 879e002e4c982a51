//! A TCP forwarder standing in for a database endpoint (a DNS name or VIP that moves to the
//! new primary at a switchover): `switch` points new connections elsewhere and cuts the open
//! ones, as a failover does.

use std::sync::{Arc, Mutex};

use tokio::{net::TcpListener, task::JoinHandle};

/// A forwarder on 127.0.0.1:`port`.
pub struct Proxy {
    pub port: u16,
    target: Arc<Mutex<u16>>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Forwards to 127.0.0.1:`target`.
    pub async fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let target = Arc::new(Mutex::new(target));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = {
            let (target, links) = (target.clone(), links.clone());
            tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    let to = *target.lock().expect("lock");
                    let link = tokio::spawn(async move {
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(("127.0.0.1", to)).await {
                            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    links.lock().expect("lock").push(link);
                }
            })
        };
        Proxy {
            port,
            target,
            links,
            accept,
        }
    }

    /// New connections go to `target`; open ones are cut.
    pub fn switch(&self, target: u16) {
        *self.target.lock().expect("lock") = target;
        for link in self.links.lock().expect("lock").drain(..) {
            link.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        for link in self.links.lock().expect("lock").drain(..) {
            link.abort();
        }
    }
}
