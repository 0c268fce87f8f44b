//! The DNS part of `crier channels test` for a list: the records receivers
//! read to decide whether a message really comes from its From domain —
//! SPF (of the envelope sender's domain, which SPF checks), the DKIM
//! selector's public key (when crier signs) and DMARC — each said in plain
//! words, with what to publish when something is missing or wrong.
//!
//! Looked up with hickory's resolver on the system's configuration.
//! `CRIER_TEST_NAMESERVER` (`ip:port`) points it at another server: tests
//! run one on loopback, so no query leaves the machine. A report only;
//! without a working resolver it says DNS could not be looked up.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::TokioResolver;

use super::config::{bare_address, DkimAlgorithm, Options};

/// The nameserver to ask instead of the system's (tests).
pub const NAMESERVER_ENV: &str = "CRIER_TEST_NAMESERVER";

/// One finding: `ok` false when receivers will mind.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub what: &'static str,
    pub ok: bool,
    pub text: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verdict = if self.ok { "ok" } else { "PROBLEM" };
        write!(f, "{} {verdict}: {}", self.what, self.text)
    }
}

/// The TXT records at a name, or why they could not be read.
enum Txt {
    Found(Vec<String>),
    /// The lookup failed (no answer, no resolver): nothing can be said.
    Failed(String),
}

struct Dns(TokioResolver);

impl Dns {
    fn new() -> Result<Dns, String> {
        let provider = TokioRuntimeProvider::default();
        let mut builder = match std::env::var(NAMESERVER_ENV) {
            Ok(at) => {
                let at: SocketAddr = at
                    .parse()
                    .map_err(|e| format!("{NAMESERVER_ENV} `{at}`: {e}"))?;
                let mut udp = ConnectionConfig::udp();
                udp.port = at.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = at.port();
                let server = NameServerConfig::new(at.ip(), true, vec![udp, tcp]);
                TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![server]),
                    provider,
                )
            }
            Err(_) => TokioResolver::builder(provider)
                .map_err(|e| format!("no resolver configured: {e}"))?,
        };
        let options = builder.options_mut();
        options.timeout = Duration::from_secs(3);
        options.attempts = 1;
        builder.build().map(Dns).map_err(|e| e.to_string())
    }

    async fn txt(&self, name: &str) -> Txt {
        // Fully qualified: no search domains appended.
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        match self.0.lookup(fqdn.as_str(), RecordType::TXT).await {
            Ok(found) => Txt::Found(
                found
                    .answers()
                    .iter()
                    .filter_map(|r| match &r.data {
                        // A record split into strings is one value.
                        RData::TXT(t) => Some(
                            t.txt_data
                                .iter()
                                .map(|s| String::from_utf8_lossy(s))
                                .collect::<String>(),
                        ),
                        _ => None,
                    })
                    .collect(),
            ),
            Err(e) if e.is_no_records_found() => Txt::Found(Vec::new()),
            Err(e) => Txt::Failed(e.to_string()),
        }
    }
}

/// Every finding for the list's domains, or one line saying DNS could not
/// be looked up.
pub async fn report(options: &Options) -> Vec<String> {
    let dns = match Dns::new() {
        Ok(d) => d,
        Err(e) => return vec![not_looked_up(&e)],
    };
    let from = domain_of(bare_address(&options.from));
    let envelope = options.bounce_domain().to_ascii_lowercase();
    let mut found = Vec::new();
    let spf_txt = match dns.txt(&envelope).await {
        Txt::Found(t) => t,
        Txt::Failed(e) => return vec![not_looked_up(&e)],
    };
    found.push(spf(&envelope, &spf_txt));
    found.push(match &options.dkim {
        None => Finding {
            what: "DKIM",
            ok: true,
            text: format!(
                "crier does not sign this list's messages (no [dkim]): unless the relay signs \
                 them for {from}, DMARC rests on SPF alone"
            ),
        },
        Some(d) => {
            let name = format!(
                "{}._domainkey.{}",
                d.selector,
                d.domain.to_ascii_lowercase()
            );
            let published = match dns.txt(&name).await {
                Txt::Found(t) => t,
                Txt::Failed(e) => return vec![not_looked_up(&e)],
            };
            let own = own_dkim_key(&d.key_file, d.algorithm);
            dkim(&name, &from, d, &published, own.as_deref())
        }
    });
    found.push(match dmarc_lookup(&dns, &from).await {
        Ok((at, records)) => dmarc(&from, &at, &records),
        Err(e) => return vec![not_looked_up(&e)],
    });
    found.iter().map(|f| f.to_string()).collect()
}

fn not_looked_up(why: &str) -> String {
    format!("DNS: could not look up DNS here ({why}); SPF, DKIM and DMARC were not checked")
}

fn domain_of(address: &str) -> String {
    address
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or(address)
        .to_ascii_lowercase()
}

/// SPF: exactly one `v=spf1` record, ending in `-all` or `~all`.
pub fn spf(domain: &str, txt: &[String]) -> Finding {
    let records: Vec<&String> = txt
        .iter()
        .filter(|t| {
            let t = t.trim().to_ascii_lowercase();
            t == "v=spf1" || t.starts_with("v=spf1 ")
        })
        .collect();
    let problem = |text: String| Finding {
        what: "SPF",
        ok: false,
        text,
    };
    let record = match records.as_slice() {
        [] => {
            return problem(format!(
                "no SPF record at {domain} (a TXT record starting `v=spf1`): receivers cannot \
                 tell which servers may send for it; publish one naming your SMTP relay, ending \
                 in `-all` or `~all`"
            ))
        }
        [one] => one.trim(),
        many => {
            return problem(format!(
                "{} SPF records at {domain}: receivers treat more than one as an error \
                 (RFC 7208 permerror); merge them into one",
                many.len()
            ))
        }
    };
    let terms: Vec<String> = record
        .split_whitespace()
        .skip(1)
        .map(str::to_ascii_lowercase)
        .collect();
    // The terms that cost a DNS lookup (RFC 7208 section 4.6.4).
    let lookups = terms
        .iter()
        .filter(|t| {
            let mechanism = t.trim_start_matches(['+', '-', '~', '?']);
            let name = mechanism.split([':', '/', '=']).next().unwrap_or("");
            matches!(name, "include" | "a" | "mx" | "ptr" | "exists" | "redirect")
        })
        .count();
    let all = terms
        .iter()
        .find(|t| t.trim_start_matches(['+', '-', '~', '?']) == "all");
    let redirect = terms.iter().any(|t| t.starts_with("redirect="));
    match all.map(String::as_str) {
        Some("-all" | "~all") if lookups <= 10 => Finding {
            what: "SPF",
            ok: true,
            text: format!("{domain} has `{record}`"),
        },
        Some("-all" | "~all") => problem(format!(
            "`{record}` at {domain} needs {lookups} DNS lookups; receivers stop at 10 \
             (permerror): flatten some includes"
        )),
        Some("+all" | "all") => problem(format!(
            "`{record}` at {domain} ends in `+all`, which lets any server on the internet send \
             for {domain}: end it in `-all` or `~all`"
        )),
        Some(_) => problem(format!(
            "`{record}` at {domain} ends in `?all`, which says nothing about other servers: \
             end it in `-all` or `~all`"
        )),
        None if redirect => Finding {
            what: "SPF",
            ok: true,
            text: format!("{domain} has `{record}` (its policy is the redirect's)"),
        },
        None => problem(format!(
            "`{record}` at {domain} has no `all` term, so mail from servers it does not name \
             gets no verdict: end it in `-all` or `~all`"
        )),
    }
}

/// DKIM: a key at the selector, of the algorithm crier signs with, and
/// (when the key file could be read) the public half of that key.
pub fn dkim(
    name: &str,
    from: &str,
    d: &super::config::Dkim,
    published: &[String],
    own: Option<&[u8]>,
) -> Finding {
    let problem = |text: String| Finding {
        what: "DKIM",
        ok: false,
        text,
    };
    let Some(record) = published.iter().find(|t| t.contains("p=")) else {
        return problem(format!(
            "no DKIM key at {name}: crier signs with selector `{}`, but receivers cannot find \
             its public key, so every signature fails; publish the public key of {} there",
            d.selector,
            d.key_file.display()
        ));
    };
    let tags = tags(record);
    let p: String = tags
        .get("p")
        .map(|p| p.split_whitespace().collect())
        .unwrap_or_default();
    if p.is_empty() {
        return problem(format!(
            "the key at {name} is revoked (empty `p=`): publish the current one"
        ));
    }
    let k = tags
        .get("k")
        .map(|k| k.to_ascii_lowercase())
        .unwrap_or("rsa".into());
    let want = match d.algorithm {
        DkimAlgorithm::Rsa => "rsa",
        DkimAlgorithm::Ed25519 => "ed25519",
    };
    if k != want {
        return problem(format!(
            "the key at {name} is `k={k}`, but crier signs with {want}"
        ));
    }
    let key = base64::engine::general_purpose::STANDARD
        .decode(&p)
        .unwrap_or_default();
    if key.is_empty() {
        return problem(format!("the `p=` of the key at {name} is not base64"));
    }
    // RSA keys are published as SubjectPublicKeyInfo, which ends with the
    // bare key; Ed25519 keys as the 32 bytes themselves.
    if own.is_some_and(|own| !key.ends_with(own)) {
        return problem(format!(
            "the key at {name} is not the public half of {}: receivers will fail every \
             signature; publish the key that matches it",
            d.key_file.display()
        ));
    }
    let domain = d.domain.to_ascii_lowercase();
    if !aligned(&domain, from) {
        return problem(format!(
            "messages are signed for {domain}, not for the From domain {from}: DMARC does not \
             count a signature of another domain; sign with d={from} (or a domain it shares)"
        ));
    }
    Finding {
        what: "DKIM",
        ok: true,
        text: format!("{name} publishes the {want} key crier signs with"),
    }
}

/// Relaxed alignment, without the public suffix list: one domain is the
/// other or a subdomain of it.
fn aligned(a: &str, b: &str) -> bool {
    a == b || a.ends_with(&format!(".{b}")) || b.ends_with(&format!(".{a}"))
}

/// The public half of the signing key, as published: for RSA the
/// RSAPublicKey DER, for Ed25519 the 32 bytes. `None` when unreadable (the
/// send itself reports that).
fn own_dkim_key(path: &std::path::Path, algorithm: DkimAlgorithm) -> Option<Vec<u8>> {
    use ring::signature::KeyPair;
    use rustls::pki_types::pem::PemObject;
    let text = std::fs::read_to_string(path).ok()?;
    match algorithm {
        DkimAlgorithm::Rsa => {
            let der =
                rustls::pki_types::PrivatePkcs1KeyDer::from_pem_slice(text.as_bytes()).ok()?;
            let pair = ring::signature::RsaKeyPair::from_der(der.secret_pkcs1_der()).ok()?;
            Some(pair.public_key().as_ref().to_vec())
        }
        DkimAlgorithm::Ed25519 => {
            let seed = base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .ok()?;
            let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed).ok()?;
            Some(pair.public_key().as_ref().to_vec())
        }
    }
}

/// `_dmarc.<domain>`, or the nearest parent's (a receiver falls back to the
/// organisational domain; this walks up without the public suffix list,
/// stopping at two labels).
async fn dmarc_lookup(dns: &Dns, from: &str) -> Result<(String, Vec<String>), String> {
    let mut domain = from;
    loop {
        let at = format!("_dmarc.{domain}");
        let records: Vec<String> = match dns.txt(&at).await {
            Txt::Found(t) => t
                .into_iter()
                .filter(|t| t.trim_start().to_ascii_lowercase().starts_with("v=dmarc1"))
                .collect(),
            Txt::Failed(e) => return Err(e),
        };
        match domain.split_once('.') {
            Some((_, parent)) if records.is_empty() && parent.contains('.') => domain = parent,
            _ => return Ok((at, records)),
        }
    }
}

/// DMARC: one `v=DMARC1` record with a policy.
pub fn dmarc(from: &str, at: &str, records: &[String]) -> Finding {
    let problem = |text: String| Finding {
        what: "DMARC",
        ok: false,
        text,
    };
    let record = match records {
        [] => {
            return problem(format!(
                "no DMARC record at _dmarc.{from}: Gmail, Yahoo and Microsoft require one from \
                 bulk senders; publish at least `v=DMARC1; p=none; rua=mailto:<an address that \
                 reads the reports>`"
            ))
        }
        [one] => one.trim(),
        many => {
            return problem(format!(
                "{} DMARC records at {at}: receivers ignore them all; keep one",
                many.len()
            ))
        }
    };
    let policy = tags(record).get("p").map(|p| p.to_ascii_lowercase());
    let whose = if at == format!("_dmarc.{from}") {
        String::new()
    } else {
        format!(" (the organisational domain's, for {from})")
    };
    match policy.as_deref() {
        Some("none") => Finding {
            what: "DMARC",
            ok: true,
            text: format!(
                "{at} has `{record}`{whose}; p=none only asks for reports, receivers are not \
                 asked to act on failures"
            ),
        },
        Some("quarantine" | "reject") => Finding {
            what: "DMARC",
            ok: true,
            text: format!("{at} has `{record}`{whose}"),
        },
        _ => problem(format!(
            "`{record}` at {at} has no valid policy: it needs `p=none`, `p=quarantine` or \
             `p=reject`"
        )),
    }
}

/// `tag=value; …` (DKIM and DMARC records), names lower-cased.
fn tags(record: &str) -> std::collections::HashMap<String, String> {
    record
        .split(';')
        .filter_map(|t| t.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txt(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn spf_wants_one_record_ending_in_fail_or_softfail() {
        let ok = |r: &[&str]| spf("example.org", &txt(r)).ok;
        assert!(ok(&["v=spf1 mx -all"]));
        assert!(ok(&["other", "V=SPF1 include:_spf.example.net ~all"]));
        assert!(ok(&["v=spf1 redirect=_spf.example.net"]));
        for (records, said) in [
            (&["site-verification=1"][..], "no SPF record at example.org"),
            (&["v=spf1 -all", "v=spf1 mx -all"], "2 SPF records"),
            (&["v=spf1 +all"], "ends in `+all`"),
            (&["v=spf1 mx all"], "ends in `+all`"),
            (&["v=spf1 mx ?all"], "ends in `?all`"),
            (&["v=spf1 mx"], "has no `all` term"),
            (&["v=spf10 -all"], "no SPF record"),
        ] {
            let f = spf("example.org", &txt(records));
            assert!(!f.ok && f.text.contains(said), "{records:?}: {f}");
        }
        let many = format!("v=spf1 {} -all", "include:a.example ".repeat(11));
        let f = spf("example.org", &[many]);
        assert!(!f.ok && f.text.contains("11 DNS lookups"), "{f}");
    }

    #[test]
    fn dmarc_wants_one_record_with_a_policy() {
        let f = dmarc(
            "example.org",
            "_dmarc.example.org",
            &txt(&["v=DMARC1; p=none"]),
        );
        assert!(f.ok && f.text.contains("only asks for reports"), "{f}");
        let f = dmarc(
            "news.example.org",
            "_dmarc.example.org",
            &txt(&["v=DMARC1;p=reject"]),
        );
        assert!(f.ok && f.text.contains("organisational domain"), "{f}");
        for (records, said) in [
            (&[][..], "no DMARC record at _dmarc.example.org"),
            (
                &["v=DMARC1; p=none", "v=DMARC1; p=reject"],
                "2 DMARC records",
            ),
            (&["v=DMARC1; p=maybe"], "no valid policy"),
        ] {
            let f = dmarc("example.org", "_dmarc.example.org", &txt(records));
            assert!(!f.ok && f.text.contains(said), "{records:?}: {f}");
        }
    }

    #[test]
    fn dkim_key_must_exist_match_and_align() {
        let d = |domain: &str, algorithm| super::super::config::Dkim {
            domain: domain.into(),
            selector: "s1".into(),
            key_file: "dkim.key".into(),
            algorithm,
        };
        let name = "s1._domainkey.example.org";
        let own = [1u8, 2, 3];
        let p = base64::engine::general_purpose::STANDARD.encode([9u8, 9, 1, 2, 3]);
        let good = format!("v=DKIM1; k=rsa; p={p}");
        let rsa = d("example.org", DkimAlgorithm::Rsa);
        let one = std::slice::from_ref(&good);
        let f = dkim(name, "example.org", &rsa, one, Some(&own));
        assert!(f.ok, "{f}");
        // A subdomain aligns (relaxed); another domain does not.
        let sub = d("mail.example.org", DkimAlgorithm::Rsa);
        assert!(dkim(name, "example.org", &sub, one, None).ok);
        let other = d("example.net", DkimAlgorithm::Rsa);
        let f = dkim(name, "example.org", &other, one, None);
        assert!(!f.ok && f.text.contains("not for the From domain"), "{f}");
        for (records, algorithm, said) in [
            (vec![], DkimAlgorithm::Rsa, "no DKIM key at"),
            (
                vec!["v=DKIM1; p=".to_string()],
                DkimAlgorithm::Rsa,
                "revoked",
            ),
            (
                vec![good.clone()],
                DkimAlgorithm::Ed25519,
                "but crier signs with ed25519",
            ),
            (
                vec!["v=DKIM1; p=!!".to_string()],
                DkimAlgorithm::Rsa,
                "not base64",
            ),
            (
                vec![format!(
                    "v=DKIM1; p={}",
                    base64::engine::general_purpose::STANDARD.encode([7u8; 5])
                )],
                DkimAlgorithm::Rsa,
                "not the public half",
            ),
        ] {
            let f = dkim(
                name,
                "example.org",
                &d("example.org", algorithm),
                &records,
                Some(&own),
            );
            assert!(!f.ok && f.text.contains(said), "{records:?}: {f}");
        }
    }
}
