//! The one client configuration every network module starts from: ring as
//! the TLS crypto provider, timeouts, our user agent, no redirects.

use std::sync::Once;
use std::time::Duration;

/// Time allowed to open a connection (DNS, TCP and TLS).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for a whole request, from connecting to the last body byte.
pub const TIMEOUT: Duration = Duration::from_secs(30);
pub const USER_AGENT: &str = concat!("crier/", env!("CARGO_PKG_VERSION"));

/// Installs ring as the process's rustls crypto provider. reqwest is built
/// without one (`rustls-no-provider`), so this must happen before the first
/// client is built; [`builder`] and [`client`] call it. Safe to call often.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means a provider is already installed (by us or a library):
        // that one serves just as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The client settings every channel starts from. Redirects are not
/// followed: a redirected POST is either turned into a GET (the post is
/// silently lost, yet the answer looks like success) or re-sent elsewhere;
/// either way the configured URL is wrong and a person should fix it.
pub fn builder() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .tls_backend_rustls()
}

/// The shared client the daemon puts in `Services`.
pub fn client() -> reqwest::Client {
    builder()
        .build()
        .expect("the HTTP client builds: a crypto provider is installed and no option is invalid")
}
