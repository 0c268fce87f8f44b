//! SMTP over lettre's connection type, driven command by command.
//!
//! Why not `AsyncSmtpTransport`: it never sets TCP_NODELAY (each message
//! then waits ~40 ms on a delayed ACK), its pool caps idle connections
//! only, and any refusal drops the connection. Here each worker owns one
//! connection we opened ourselves with TCP_NODELAY, a refused recipient is
//! answered with RSET and the connection kept, and a connection is
//! recycled after `recycle_after` messages.

use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::ClientId;
use tokio::net::TcpStream;

use super::config::{Options, Tls};
use crate::secret::Secret;

/// How to reach the server: built once per send.
pub struct Smtp {
    host: String,
    port: u16,
    tls: Tls,
    /// Built once: the public roots plus `tls_ca_file`, if any.
    tls_params: Result<TlsParameters, String>,
    auth: Option<(Secret, Secret)>,
    timeout: Duration,
    nodelay: bool,
    pub recycle_after: u32,
    hello: ClientId,
}

/// What the server said about one message to one recipient.
#[derive(Debug)]
pub enum Answer {
    Accepted,
    /// 5xx for this recipient or this message.
    Refused(String),
    /// 4xx: try this recipient again later.
    Deferred(String),
    /// The connection failed or the server is closing (421): the message
    /// was not accepted; try again on a new connection.
    Broken(String),
}

/// Why no connection could be had.
#[derive(Debug)]
pub struct ConnectError {
    /// Names the server and step, never the credentials.
    pub message: String,
    /// The server refused the credentials for good (5xx to AUTH): the same
    /// ones will not do better later, and retrying may lock the account.
    pub credentials_refused: bool,
}

impl From<String> for ConnectError {
    fn from(message: String) -> ConnectError {
        ConnectError {
            message,
            credentials_refused: false,
        }
    }
}

pub struct Conn {
    inner: AsyncSmtpConnection,
    pub sent: u32,
}

impl Smtp {
    pub fn new(options: &Options, auth: Option<(Secret, Secret)>) -> Smtp {
        Smtp {
            host: options.smtp_host.clone(),
            port: options.smtp_port,
            tls: options.tls,
            tls_params: tls_parameters(options),
            auth,
            timeout: Duration::from_secs(options.timeout_seconds.max(1)),
            nodelay: options.tcp_nodelay,
            recycle_after: options.recycle_after,
            hello: ClientId::default(),
        }
    }

    /// Opens, greets, secures and authenticates one connection. The error
    /// names the server, never the credentials.
    pub async fn connect(&self) -> Result<Conn, ConnectError> {
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            format!("SMTP {}:{}: {what}: {e}", self.host, self.port)
        };
        let tls = || self.tls_params.clone().map_err(|e| fail("TLS", &e));
        let mut inner = if self.tls == Tls::Implicit {
            // TLS must wrap the socket before the greeting, and lettre does
            // not take a TLS stream of ours: its own socket, without
            // TCP_NODELAY (a known limit; STARTTLS keeps it).
            AsyncSmtpConnection::connect_tokio1(
                (self.host.as_str(), self.port),
                Some(self.timeout),
                &self.hello,
                Some(tls()?),
                None,
            )
            .await
            .map_err(|e| fail("connect", &e))?
        } else {
            let tcp = tokio::time::timeout(
                self.timeout,
                TcpStream::connect((self.host.as_str(), self.port)),
            )
            .await
            .map_err(|_| fail("connect", &"timed out"))?
            .map_err(|e| fail("connect", &e))?;
            tcp.set_nodelay(self.nodelay)
                .map_err(|e| fail("TCP_NODELAY", &e))?;
            tokio::time::timeout(
                self.timeout,
                AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello),
            )
            .await
            .map_err(|_| fail("greeting", &"timed out"))?
            .map_err(|e| fail("greeting", &e))?
        };
        if self.tls == Tls::Starttls {
            inner
                .starttls(tls()?, &self.hello)
                .await
                .map_err(|e| fail("STARTTLS", &e))?;
        }
        if let Some((user, pass)) = &self.auth {
            let creds = Credentials::new(user.expose().into(), pass.expose().into());
            inner
                .auth(&[Mechanism::Plain, Mechanism::Login], &creds)
                .await
                // lettre's auth errors carry the server's reply, not the secret.
                .map_err(|e| ConnectError {
                    credentials_refused: e.is_permanent(),
                    message: fail("AUTH", &e),
                })?;
        }
        Ok(Conn { inner, sent: 0 })
    }

    /// Sends one message to one recipient over `conn`.
    pub async fn send(&self, conn: &mut Conn, envelope: &Envelope, bytes: &[u8]) -> Answer {
        match tokio::time::timeout(self.timeout * 4, transaction(conn, envelope, bytes)).await {
            Ok(a) => a,
            Err(_) => Answer::Broken("timed out".into()),
        }
    }
}

/// Certificates are checked against `smtp_host`, with the public roots and
/// the configured private CA; there is no switch to skip the check.
fn tls_parameters(options: &Options) -> Result<TlsParameters, String> {
    let mut builder = TlsParameters::builder(options.smtp_host.clone());
    if let Some(path) = &options.tls_ca_file {
        let pem = super::config::read_ca_file(path)?;
        let cert = Certificate::from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))?;
        builder = builder.add_root_certificate(cert);
    }
    builder.build().map_err(|e| e.to_string())
}

/// Classifies a refused command; a 421 or a dropped connection means the
/// server is going away, whatever step it was.
fn classify(e: lettre::transport::smtp::Error) -> Answer {
    let text = e.to_string();
    match e.status() {
        Some(code) if code.to_string() == "421" => Answer::Broken(text),
        Some(_) if e.is_permanent() => Answer::Refused(text),
        Some(_) if e.is_transient() => Answer::Deferred(text),
        _ => Answer::Broken(text),
    }
}

async fn transaction(conn: &mut Conn, envelope: &Envelope, bytes: &[u8]) -> Answer {
    let c = &mut conn.inner;
    let from = envelope.from().cloned();
    let steps = async {
        c.command(Mail::new(from, vec![])).await?;
        for to in envelope.to() {
            c.command(Rcpt::new(to.clone(), vec![])).await?;
        }
        c.command(Data).await?;
        c.message(bytes).await
    };
    match steps.await {
        Ok(_) => {
            conn.sent += 1;
            Answer::Accepted
        }
        Err(e) => {
            let answer = classify(e);
            if matches!(answer, Answer::Refused(_) | Answer::Deferred(_)) {
                // Keep the connection for the next recipient (listmonk #300:
                // one refusal must not poison the rest of the batch).
                if c.command(Rset).await.is_err() {
                    return match answer {
                        // The refusal stands; the next send reconnects.
                        Answer::Refused(t) | Answer::Deferred(t) => {
                            conn.sent = u32::MAX;
                            if t.starts_with('4') {
                                Answer::Deferred(t)
                            } else {
                                Answer::Refused(t)
                            }
                        }
                        other => other,
                    };
                }
            }
            answer
        }
    }
}

impl Conn {
    pub fn broken(&self) -> bool {
        self.inner.has_broken() || self.sent == u32::MAX
    }

    pub async fn quit(mut self) {
        let _ = self.inner.quit().await;
    }
}
