//! Cross-site request checks for cookie-authenticated writes: a browser
//! sends the session cookie with a form another site posts (SameSite=Lax
//! stops most, not a same-site subdomain or an old browser), so a write
//! must show it came from this server's own pages.

use axum::http::{HeaderMap, Method};

use crate::access::Refusal;

/// Refuses an unsafe method (POST, PUT, PATCH, DELETE) when the browser
/// says it is cross-site (`Sec-Fetch-Site`), or names an `Origin` that is
/// not this server's (`origin`, or the `Host` it was asked on).
pub fn check(method: &Method, headers: &HeaderMap, origin: &str) -> Result<(), Refusal> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("sec-fetch-site") == Some("cross-site") {
        return Err(Refusal::CrossSite);
    }
    let Some(sent) = header("origin") else {
        return Ok(());
    };
    let host = header("host").unwrap_or_default();
    let own = sent == origin
        || (!host.is_empty()
            && (sent == format!("http://{host}") || sent == format!("https://{host}")));
    if own {
        Ok(())
    } else {
        Err(Refusal::CrossSite)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    /// A request's method, its headers, and whether it may go through.
    type Case<'a> = (Method, &'a [(&'a str, &'a str)], bool);

    #[test]
    fn writes_from_other_sites_are_refused_reads_are_not() {
        let own = "https://crier.example.org";
        let cases: &[Case] = &[
            (Method::POST, &[], true),
            (
                Method::POST,
                &[("origin", "https://crier.example.org")],
                true,
            ),
            (Method::POST, &[("sec-fetch-site", "same-origin")], true),
            (Method::DELETE, &[("origin", "https://evil.example")], false),
            (Method::POST, &[("origin", "null")], false),
            (Method::PATCH, &[("sec-fetch-site", "cross-site")], false),
            (
                Method::POST,
                &[
                    ("sec-fetch-site", "cross-site"),
                    ("origin", "https://crier.example.org"),
                ],
                false,
            ),
            // Asked on another name of this server (its listen address).
            (
                Method::PUT,
                &[
                    ("origin", "http://127.0.0.1:8080"),
                    ("host", "127.0.0.1:8080"),
                ],
                true,
            ),
            (
                Method::GET,
                &[
                    ("origin", "https://evil.example"),
                    ("sec-fetch-site", "cross-site"),
                ],
                true,
            ),
        ];
        for (method, pairs, allowed) in cases {
            let got = check(method, &headers(pairs), own);
            assert_eq!(got.is_ok(), *allowed, "{method} {pairs:?}: {got:?}");
            if !allowed {
                assert_eq!(got, Err(Refusal::CrossSite));
            }
        }
    }
}
