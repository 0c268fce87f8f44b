//! The real IMAP server `scripts/test.sh` starts (Dovecot, see
//! `scripts/peers/dovecot.sh`), named by `CRIER_IMAP_URL`
//! (`imap://user:password@127.0.0.1:port`). Each test works in folders of
//! its own, so tests can run at once against one server.

use async_imap::Session;
use futures_util::TryStreamExt;
use tokio::net::TcpStream;

pub struct Imap {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
}

impl Imap {
    /// The server, or None (the caller says the test is skipped).
    pub fn from_env() -> Option<Imap> {
        let url = std::env::var("CRIER_IMAP_URL").ok()?;
        let parsed = reqwest::Url::parse(&url).expect("CRIER_IMAP_URL is a URL");
        Some(Imap {
            host: parsed.host_str().unwrap().to_string(),
            port: parsed.port().unwrap_or(143),
            user: parsed.username().to_string(),
            password: parsed.password().unwrap_or_default().to_string(),
        })
    }

    /// A folder name no other test uses.
    pub fn unique_folder(prefix: &str) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        format!("{prefix}{}x{nanos}", std::process::id())
    }

    async fn session(&self) -> Session<TcpStream> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .unwrap();
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.unwrap().unwrap();
        client
            .login(&self.user, &self.password)
            .await
            .map_err(|(e, _)| e)
            .unwrap()
    }

    pub async fn create(&self, folder: &str) {
        let mut s = self.session().await;
        s.create(folder).await.unwrap();
        s.logout().await.unwrap();
    }

    /// Appends messages (line ends made CRLF, as IMAP wants them).
    pub async fn append(&self, folder: &str, messages: &[String]) {
        let mut s = self.session().await;
        for m in messages {
            let crlf = m.replace("\r\n", "\n").replace('\n', "\r\n");
            s.append(folder, None, None, crlf.as_bytes()).await.unwrap();
        }
        s.logout().await.unwrap();
    }

    /// How many messages the folder holds (0 if it does not exist).
    pub async fn count(&self, folder: &str) -> u32 {
        let mut s = self.session().await;
        let n = match s.examine(folder).await {
            Ok(mailbox) => mailbox.exists,
            Err(_) => 0,
        };
        s.logout().await.unwrap();
        n
    }

    /// Every message in the folder, raw.
    pub async fn messages(&self, folder: &str) -> Vec<Vec<u8>> {
        let mut s = self.session().await;
        s.examine(folder).await.unwrap();
        let fetched: Vec<_> = s
            .fetch("1:*", "BODY.PEEK[]")
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        let out = fetched
            .iter()
            .filter_map(|f| f.body().map(<[u8]>::to_vec))
            .collect();
        s.logout().await.unwrap();
        out
    }

    /// Waits until `folder` holds `n` messages (fails after `limit`).
    pub async fn wait_count(&self, folder: &str, n: u32, limit: std::time::Duration) {
        let start = std::time::Instant::now();
        loop {
            let got = self.count(folder).await;
            if got == n {
                return;
            }
            assert!(
                start.elapsed() < limit,
                "waited for {n} messages in {folder}, it holds {got}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}
