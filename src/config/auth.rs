//! `[auth]`: sessions, approval separation and the organisation's OpenID
//! provider. Every check runs while the file is parsed, so a bad value is
//! reported at its line and column like any other.

use serde::{Deserialize, Deserializer};

use crate::access::Role;
use crate::secret::SecretRef;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// An approver may not approve what they wrote themselves.
    #[serde(default)]
    pub separate_approver: bool,
    /// A session unused this long ends.
    #[serde(default = "default_idle", deserialize_with = "de_positive")]
    pub session_idle_minutes: u64,
    /// A session ends this long after sign-in, however busy.
    #[serde(default = "default_absolute", deserialize_with = "de_positive")]
    pub session_absolute_hours: u64,
    #[serde(default)]
    pub oidc: Option<Oidc>,
}

impl Default for Auth {
    fn default() -> Self {
        Auth {
            separate_approver: false,
            session_idle_minutes: default_idle(),
            session_absolute_hours: default_absolute(),
            oidc: None,
        }
    }
}

/// `[auth.oidc]`: sign-in with the organisation's OpenID provider (Entra
/// ID: `https://login.microsoftonline.com/<tenant>/v2.0`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Oidc {
    #[serde(deserialize_with = "de_issuer")]
    pub issuer: String,
    pub client_id: String,
    /// The environment variable holding the client secret.
    pub client_secret_env: SecretRef,
    /// Where the provider sends people back, on this daemon.
    #[serde(default = "default_redirect_path", deserialize_with = "de_path")]
    pub redirect_path: String,
    /// The ID token claim listing roles (Entra ID's app roles: `roles`).
    #[serde(default = "default_role_claim")]
    pub role_claim: String,
    /// Scopes asked for; Entra ID sends app roles without asking.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The claim listing groups, for `map` entries naming a group.
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// Roles for people by address (`*@example.org` for a domain) or group.
    #[serde(default)]
    pub map: Vec<RoleRule>,
}

/// One `[[auth.oidc.map]]` entry: exactly one of `email` or `group`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleRule {
    #[serde(default, deserialize_with = "de_email_pattern")]
    pub email: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    pub role: Role,
}

impl RoleRule {
    fn matches(&self, email: &str, groups: &[String]) -> bool {
        let by_email = self
            .email
            .as_deref()
            .is_some_and(|p| match p.strip_prefix('*') {
                Some(domain) => email.ends_with(domain),
                None => email == p,
            });
        let by_group = self.group.as_ref().is_some_and(|g| groups.contains(g));
        by_email || by_group
    }
}

impl Oidc {
    /// The highest role the provider's claims and the mapping give someone:
    /// `claimed` are the role claim's values (unknown ones ignored).
    pub fn role_for(&self, email: &str, claimed: &[String], groups: &[String]) -> Option<Role> {
        let email = email.trim().to_lowercase();
        let from_claim = claimed.iter().filter_map(|r| Role::parse(r.trim()));
        let from_map = self
            .map
            .iter()
            .filter(|rule| rule.matches(&email, groups))
            .map(|rule| rule.role);
        from_claim.chain(from_map).max()
    }
}

fn default_idle() -> u64 {
    60
}
fn default_absolute() -> u64 {
    12
}
fn default_redirect_path() -> String {
    "/signin/oidc/callback".into()
}
fn default_role_claim() -> String {
    "roles".into()
}
fn default_scopes() -> Vec<String> {
    ["openid", "email", "profile"].map(String::from).to_vec()
}
fn default_groups_claim() -> String {
    "groups".into()
}

fn de_positive<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = u64::deserialize(d)?;
    if n == 0 {
        return Err(serde::de::Error::custom("must be at least 1"));
    }
    Ok(n)
}

fn de_issuer<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    let https = s.starts_with("https://");
    let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| s.starts_with(p));
    if !(https || loopback) {
        return Err(serde::de::Error::custom(format!(
            "issuer `{s}` must be an https URL (plain http only on loopback, for tests), e.g. \
             https://login.microsoftonline.com/<tenant>/v2.0"
        )));
    }
    Ok(s.trim_end_matches('/').to_string())
}

fn de_path<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    let taken = [
        "/signin",
        "/signin/oidc",
        "/signout",
        "/setup",
        "/password",
        "/account",
        "/api",
    ];
    if !s.starts_with('/') || s.contains(['?', '#', ' ']) || taken.contains(&s.as_str()) {
        return Err(serde::de::Error::custom(format!(
            "redirect_path `{s}` must be a path of its own starting with /, like /signin/oidc/callback"
        )));
    }
    Ok(s)
}

fn de_email_pattern<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = String::deserialize(d)?.trim().to_lowercase();
    let domain = s.strip_prefix("*@");
    let valid = match domain {
        Some(d) => !d.is_empty() && !d.contains(['@', '*']),
        None => s.split('@').count() == 2 && !s.contains('*') && !s.starts_with('@'),
    };
    if !valid {
        return Err(serde::de::Error::custom(format!(
            "`{s}` is not an address or a domain pattern like *@example.org"
        )));
    }
    // `*@x.org` matches addresses ending in `@x.org`.
    Ok(Some(domain.map_or(s.clone(), |d| format!("*@{d}"))))
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::diagnostics::{Report, SourceFile};

    use super::*;

    const HEAD: &str = "[organisation]\nname = \"Org\"\nwebsite = \"https://example.org\"\n";

    fn parse(auth: &str) -> (Option<Config>, Report) {
        let mut r = Report::default();
        let text = format!("{HEAD}{auth}");
        let c = Config::parse(SourceFile::new("channels.toml", text), &mut r);
        (c, r)
    }

    fn first_error(auth: &str) -> String {
        let (c, r) = parse(auth);
        assert!(c.is_none(), "{auth} should be refused");
        r.diagnostics[0].to_string()
    }

    #[test]
    fn absent_auth_has_defaults() {
        let (c, r) = parse("");
        assert_eq!(r.error_count(), 0, "{r:?}");
        let auth = c.unwrap().auth;
        assert_eq!(
            (auth.session_idle_minutes, auth.session_absolute_hours),
            (60, 12)
        );
        assert!(auth.oidc.is_none() && !auth.separate_approver);
    }

    #[test]
    fn oidc_with_a_mapping_gives_the_highest_role() {
        let (c, r) = parse(
            "[auth]\nseparate_approver = true\n[auth.oidc]\n\
             issuer = \"https://login.microsoftonline.com/t/v2.0/\"\n\
             client_id = \"c\"\nclient_secret_env = \"CRIER_OIDC_SECRET\"\n\
             [[auth.oidc.map]]\nemail = \"*@Example.org\"\nrole = \"author\"\n\
             [[auth.oidc.map]]\ngroup = \"comms-admins\"\nrole = \"admin\"\n",
        );
        assert_eq!(r.error_count(), 0, "{r:?}");
        let auth = c.unwrap().auth;
        let oidc = auth.oidc.unwrap();
        assert_eq!(oidc.issuer, "https://login.microsoftonline.com/t/v2.0");
        assert_eq!(oidc.redirect_path, "/signin/oidc/callback");
        let none: &[String] = &[];
        let role = |email: &str, claimed: &[&str], groups: &[&str]| {
            let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
            oidc.role_for(email, &s(claimed), &s(groups))
        };
        assert_eq!(role("ann@example.org", &[], &[]), Some(Role::Author));
        assert_eq!(
            role("ann@example.org", &["publisher"], &[]),
            Some(Role::Publisher)
        );
        assert_eq!(
            role("x@other.org", &["owner", "approver"], &[]),
            Some(Role::Approver)
        );
        assert_eq!(
            role("x@other.org", &[], &["comms-admins"]),
            Some(Role::Admin)
        );
        assert_eq!(oidc.role_for("x@other.org", none, none), None);
        assert_eq!(
            role("x@notexample.org", &[], &[]),
            None,
            "the domain, not a suffix"
        );
    }

    #[test]
    fn bad_values_are_located() {
        let oidc = |extra: &str| {
            format!(
                "[auth.oidc]\nissuer = \"https://id.example\"\nclient_id = \"c\"\n\
                 client_secret_env = \"S\"\n{extra}"
            )
        };
        let cases = [
            (
                "[auth]\nsession_idle_minutes = 0\n",
                "channels.toml:5:",
                "at least 1",
            ),
            (
                "[auth]\nsecond_factor = true\n",
                "channels.toml:5:",
                "second_factor",
            ),
            (
                "[auth.oidc]\nissuer = \"http://id.example\"\n",
                "channels.toml:5:",
                "https",
            ),
            (
                &oidc("redirect_path = \"callback\"\n"),
                "channels.toml:8:",
                "redirect_path",
            ),
            (
                &oidc("[[auth.oidc.map]]\nemail = \"x\"\nrole = \"author\"\n"),
                "channels.toml:9:",
                "domain pattern",
            ),
            (
                &oidc("[[auth.oidc.map]]\ngroup = \"g\"\nrole = \"owner\"\n"),
                "channels.toml:10:",
                "owner",
            ),
        ];
        for (auth, at, says) in cases {
            let msg = first_error(auth);
            assert!(msg.starts_with(at) && msg.contains(says), "{auth}: {msg}");
        }
    }
}
