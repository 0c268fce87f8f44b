//! SMTP over lettre's connection type, driven command by command.
//!
//! Why not `AsyncSmtpTransport`: it never sets TCP_NODELAY (each message
//! then waits ~40 ms on a delayed ACK), its pool caps idle connections
//! only, and any refusal drops the connection. Here each worker owns one
//! connection on a socket we opened ourselves with TCP_NODELAY (plain,
//! STARTTLS and implicit TLS alike), a refused recipient is
//! answered with RSET and the connection kept, and a connection is
//! recycled after `recycle_after` messages.
//!
//! Where the server offers PIPELINING (RFC 2920), MAIL, RCPT and DATA go
//! out in one write and the message with its end mark in another: two
//! round trips per message instead of four, five writes down to two. On
//! loopback the sends are bound by syscalls and wake-ups on both sides, so
//! this is most of the speed (docs/performance.md, "Email").

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
#[allow(deprecated)] // public and documented, though lettre would rather hide it
use lettre::transport::smtp::client::AsyncNetworkStream;
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters,
};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::ClientId;
use tokio::io::ReadBuf;
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
    /// The server announced PIPELINING in its EHLO answer.
    pipelining: bool,
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
        let tcp = tokio::time::timeout(
            self.timeout,
            TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| fail("connect", &"timed out"))?
        .map_err(|e| fail("connect", &e))?;
        tcp.set_nodelay(self.nodelay)
            .map_err(|e| fail("TCP_NODELAY", &e))?;
        let transport: Box<dyn AsyncTokioStream> = if self.tls == Tls::Implicit {
            // TLS before the greeting, made by lettre with its own trust
            // settings, over our socket.
            #[allow(deprecated)]
            let mut stream = AsyncNetworkStream::use_existing_tokio1(Box::new(tcp));
            tokio::time::timeout(self.timeout, stream.upgrade_tls(tls()?))
                .await
                .map_err(|_| fail("TLS", &"timed out"))?
                .map_err(|e| fail("TLS", &e))?;
            Box::new(Secured(stream))
        } else {
            Box::new(tcp)
        };
        let mut inner = tokio::time::timeout(
            self.timeout,
            AsyncSmtpConnection::connect_with_transport(transport, &self.hello),
        )
        .await
        .map_err(|_| fail("greeting", &"timed out"))?
        .map_err(|e| fail("greeting", &e))?;
        if self.tls == Tls::Starttls {
            inner
                .starttls(tls()?, &self.hello)
                .await
                .map_err(|e| fail("STARTTLS", &e))?;
        }
        // lettre keeps only the EHLO keywords it knows, and PIPELINING is
        // not one of them: ask again (allowed at any time outside a mail
        // transaction; once per connection) and read it ourselves. Before
        // AUTH, as a new EHLO may reset the session on some servers.
        let ehlo = inner
            .command(Ehlo::new(self.hello.clone()))
            .await
            .map_err(|e| fail("EHLO", &e))?;
        let pipelining = ehlo
            .message()
            .any(|l| l.split_whitespace().next() == Some("PIPELINING"));
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
        Ok(Conn {
            inner,
            sent: 0,
            pipelining,
        })
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
    tls_for(&options.smtp_host, options.tls_ca_file.as_deref())
}

/// TLS settings for `host`: the public roots plus a private CA, if given.
fn tls_for(host: &str, ca_file: Option<&std::path::Path>) -> Result<TlsParameters, String> {
    let mut builder = TlsParameters::builder(host.to_string());
    if let Some(path) = ca_file {
        let pem = super::config::read_ca_file(path)?;
        let cert = Certificate::from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))?;
        builder = builder.add_root_certificate(cert);
    }
    builder.build().map_err(|e| e.to_string())
}

/// TLS from the first byte over `tcp`, the certificate checked against
/// `host` as for SMTP (the bounce mailbox's `imaps://`): a tokio stream.
pub async fn tls_stream(
    tcp: TcpStream,
    host: &str,
    ca_file: Option<&std::path::Path>,
) -> Result<
    impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + std::fmt::Debug,
    String,
> {
    let params = tls_for(host, ca_file)?;
    #[allow(deprecated)]
    let mut stream = AsyncNetworkStream::use_existing_tokio1(Box::new(tcp));
    stream
        .upgrade_tls(params)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Secured(stream))
}

/// lettre's TLS stream (futures-io traits) as the tokio transport
/// `connect_with_transport` takes: lettre accepts a stream of ours only
/// in place of a plain socket, so implicit TLS is layered here.
#[allow(deprecated)]
#[derive(Debug)]
struct Secured(AsyncNetworkStream);

impl tokio::io::AsyncRead for Secured {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let into = buf.initialize_unfilled();
        let n = ready!(futures_io::AsyncRead::poll_read(
            Pin::new(&mut self.0),
            cx,
            into
        ))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for Secured {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        futures_io::AsyncWrite::poll_write(Pin::new(&mut self.0), cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        futures_io::AsyncWrite::poll_flush(Pin::new(&mut self.0), cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        futures_io::AsyncWrite::poll_close(Pin::new(&mut self.0), cx)
    }
}

impl AsyncTokioStream for Secured {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.peer_addr()
    }
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

/// Text handed to lettre's `command`, which writes it as it is and reads
/// one answer: how a pipelined group or a whole message goes out in one
/// write.
struct Raw<'a>(&'a str);

impl std::fmt::Display for Raw<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// The message as it goes after DATA: a dot at the start of a line doubled
/// (RFC 5321 4.5.2, the same rule as lettre's `message`), then the end
/// mark lettre also adds.
pub fn stuffed(bytes: &str) -> String {
    let mut out = String::with_capacity(bytes.len() + bytes.len() / 64 + 8);
    let mut rest = bytes;
    if rest.starts_with('.') {
        out.push('.');
    }
    while let Some(i) = rest.find("\r\n.") {
        out.push_str(&rest[..i + 3]);
        out.push('.');
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    out.push_str("\r\n.\r\n");
    out
}

type Reply = Result<lettre::transport::smtp::response::Response, lettre::transport::smtp::Error>;

async fn transaction(conn: &mut Conn, envelope: &Envelope, bytes: &[u8]) -> Answer {
    let pipelining = conn.pipelining;
    let c = &mut conn.inner;
    let from = envelope.from().cloned();
    let result: Reply = if pipelining {
        pipelined(c, from, envelope, bytes).await
    } else {
        async {
            c.command(Mail::new(from, vec![])).await?;
            for to in envelope.to() {
                c.command(Rcpt::new(to.clone(), vec![])).await?;
            }
            c.command(Data).await?;
            c.message(bytes).await
        }
        .await
    };
    match result {
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

/// MAIL, RCPT… and DATA in one write, then every answer read in order so
/// the connection stays in step whatever was refused; the first refusal
/// is the outcome.
async fn pipelined(
    c: &mut AsyncSmtpConnection,
    from: Option<lettre::Address>,
    envelope: &Envelope,
    bytes: &[u8],
) -> Reply {
    let mut group = Mail::new(from, vec![]).to_string();
    for to in envelope.to() {
        group += &Rcpt::new(to.clone(), vec![]).to_string();
    }
    group += &Data.to_string();
    let mut refused = None;
    // A reply without a status is a broken connection: nothing more to read.
    let note = |r: Reply, refused: &mut Option<_>| match r {
        Err(e) if e.status().is_none() => Err(e),
        Err(e) => {
            refused.get_or_insert(e);
            Ok(())
        }
        Ok(_) => Ok(()),
    };
    note(c.command(Raw(&group)).await, &mut refused)?;
    for _ in envelope.to() {
        note(c.read_response().await, &mut refused)?;
    }
    let data = c.read_response().await;
    match (refused, data) {
        (None, Ok(_)) => match std::str::from_utf8(bytes) {
            Ok(text) => c.command(Raw(&stuffed(text))).await,
            // lettre's message output is ASCII (or UTF-8 with 8BITMIME);
            // anything else still goes, in lettre's own two writes.
            Err(_) => c.message(bytes).await,
        },
        (Some(e), Ok(_)) => {
            // DATA accepted although a command before it was refused (RFC
            // 2920 says it should not be): end an empty message so the
            // session stays in step, and report the refusal.
            let _ = c.command(Raw(".\r\n")).await;
            Err(e)
        }
        (Some(e), Err(d)) if d.status().is_some() => Err(e),
        (_, Err(d)) => Err(d),
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;

    #[test]
    fn dots_at_line_starts_are_doubled_and_the_end_mark_added() {
        assert_eq!(stuffed("a\r\n.b\r\n..c"), "a\r\n..b\r\n...c\r\n.\r\n");
        assert_eq!(stuffed(".x"), "..x\r\n.\r\n");
        // Only after CRLF, as lettre's own encoder does.
        assert_eq!(stuffed("a\n.b.c"), "a\n.b.c\r\n.\r\n");
    }

    /// A scripted server offering PIPELINING: refuses RCPT for `bounce@`
    /// (and then DATA, as RFC 2920 servers do), keeps what it receives.
    async fn server() -> (u16, tokio::task::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (sock, _) = listener.accept().await.unwrap();
            let (r, mut w) = sock.into_split();
            let mut r = BufReader::new(r);
            let mut seen = Vec::new();
            let mut rcpt_ok = false;
            w.write_all(b"220 test\r\n").await.unwrap();
            let mut line = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line).await.unwrap() == 0 {
                    break;
                }
                let cmd = line.trim_end().to_string();
                seen.push(cmd.clone());
                let reply: &[u8] = match cmd.split(' ').next().unwrap() {
                    "EHLO" => b"250-test\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
                    "MAIL" => b"250 ok\r\n",
                    "RCPT" if cmd.contains("bounce@") => {
                        rcpt_ok = false;
                        b"550 5.1.1 no such user\r\n"
                    }
                    "RCPT" => {
                        rcpt_ok = true;
                        b"250 ok\r\n"
                    }
                    "DATA" if !rcpt_ok => b"554 no valid recipients\r\n",
                    "DATA" => {
                        w.write_all(b"354 go on\r\n").await.unwrap();
                        let mut body = String::new();
                        while !body.ends_with("\r\n.\r\n") {
                            if r.read_line(&mut body).await.unwrap() == 0 {
                                break;
                            }
                        }
                        seen.push(body);
                        b"250 queued\r\n"
                    }
                    "RSET" => b"250 reset\r\n",
                    "QUIT" => {
                        w.write_all(b"221 bye\r\n").await.unwrap();
                        break;
                    }
                    _ => b"500 what\r\n",
                };
                w.write_all(reply).await.unwrap();
            }
            seen
        });
        (port, task)
    }

    fn envelope(to: &str) -> Envelope {
        Envelope::new(
            Some("news@example.org".parse().unwrap()),
            vec![to.parse().unwrap()],
        )
        .unwrap()
    }

    #[tokio::test]
    async fn pipelined_sends_survive_a_refused_recipient_on_the_same_connection() {
        let (port, server) = server().await;
        let smtp = Smtp {
            host: "127.0.0.1".into(),
            port,
            tls: Tls::None,
            tls_params: Err("no TLS in this test".into()),
            auth: None,
            timeout: Duration::from_secs(5),
            nodelay: true,
            recycle_after: 100,
            hello: ClientId::default(),
        };
        let mut conn = smtp.connect().await.unwrap();
        assert!(conn.pipelining);
        let body = b"Subject: x\r\n\r\nhello\r\n.hidden line\r\n";
        let a = smtp.send(&mut conn, &envelope("a@example.org"), body).await;
        assert!(matches!(a, Answer::Accepted), "{a:?}");
        let b = smtp
            .send(&mut conn, &envelope("bounce@example.org"), body)
            .await;
        assert!(
            matches!(&b, Answer::Refused(t) if t.contains("550")),
            "{b:?}"
        );
        assert!(!conn.broken());
        let c = smtp.send(&mut conn, &envelope("c@example.org"), body).await;
        assert!(matches!(c, Answer::Accepted), "{c:?}");
        assert_eq!(conn.sent, 2);
        conn.quit().await;
        let seen = server.await.unwrap();
        let bodies: Vec<&String> = seen.iter().filter(|l| l.contains("hello")).collect();
        assert_eq!(bodies.len(), 2, "{seen:?}");
        assert!(bodies[0].contains("\r\n..hidden line\r\n"), "{seen:?}");
        assert!(seen.iter().any(|l| l == "RSET"), "{seen:?}");
    }
}
