//! Who may do what: the roles people hold, the permissions routes ask
//! for, and the one table between them. Every route of the HTTP API (and
//! every console page, which calls the same handlers) names exactly one
//! `Permission`; the server checks it with `Principal::may` — hiding a
//! control is never the enforcement.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::delivery::Actor;

/// A person's role. Each includes everything the one before it may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Author,
    Approver,
    Publisher,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Author, Role::Approver, Role::Publisher, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Author => "author",
            Role::Approver => "approver",
            Role::Publisher => "publisher",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a route does, in the terms the permission table speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Read items, the queue, channels' status and the audit log; check
    /// and preview drafts (which change nothing).
    Read,
    /// Create, edit and delete items; submit them for approval.
    Edit,
    /// Approve or reject items and deliveries.
    Approve,
    /// Pause and resume, retry and cancel deliveries, test channels.
    Operate,
    /// Subscribers' personal data: search, export, erase, import.
    PersonalData,
    /// People and API tokens.
    ManagePeople,
}

impl Permission {
    pub const ALL: [Permission; 6] = [
        Permission::Read,
        Permission::Edit,
        Permission::Approve,
        Permission::Operate,
        Permission::PersonalData,
        Permission::ManagePeople,
    ];

    /// The name routes use for it (their OpenAPI security scope).
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::Edit => "edit",
            Permission::Approve => "approve",
            Permission::Operate => "operate",
            Permission::PersonalData => "personal_data",
            Permission::ManagePeople => "manage_people",
        }
    }

    pub fn parse(s: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The least role that holds this permission: the whole table.
    pub fn least_role(self) -> Role {
        match self {
            Permission::Read | Permission::Edit => Role::Author,
            Permission::Approve => Role::Approver,
            Permission::Operate => Role::Publisher,
            Permission::PersonalData | Permission::ManagePeople => Role::Admin,
        }
    }

    /// Whether a `test` API token may use it: only what changes nothing
    /// (the pattern of GOV.UK Notify's test keys).
    pub fn allowed_for_test_tokens(self) -> bool {
        self == Permission::Read
    }
}

/// An API token's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// Reads, checks and previews everything; changes nothing that publishes.
    Test,
    Live,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Test => "test",
            TokenKind::Live => "live",
        }
    }

    pub fn parse(s: &str) -> Option<TokenKind> {
        [TokenKind::Test, TokenKind::Live]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// Whoever a request acts for, once authenticated: a signed-in person or a
/// system holding an API token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// What the audit log records.
    pub actor: Actor,
    pub role: Role,
    /// `None` for a person signed in with a session.
    pub token: Option<TokenKind>,
}

impl Principal {
    pub fn may(&self, permission: Permission) -> bool {
        if self.token == Some(TokenKind::Test) && !permission.allowed_for_test_tokens() {
            return false;
        }
        self.role >= permission.least_role()
    }
}

/// Why a request has no principal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No credentials, or ones that are unknown, expired or revoked (401).
    #[error("sign in, or send an API token")]
    Unauthenticated,
    /// A cookie-authenticated write from another site (403).
    #[error("this request came from another site")]
    CrossSite,
    /// The store could not answer (503); the message is safe to show.
    #[error("{0}")]
    Unavailable(String),
}

/// Turns a request's credentials (a session cookie, an API token) into a
/// `Principal`. The API asks it once per request, before any handler runs;
/// src/auth holds the implementation, tests may hold their own.
#[async_trait::async_trait]
pub trait Authenticate: Send + Sync {
    async fn principal(&self, request: &axum::http::request::Parts) -> Result<Principal, Refusal>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(role: Role) -> Principal {
        Principal {
            actor: Actor::Person("p@example.org".into()),
            role,
            token: None,
        }
    }

    #[test]
    fn each_role_holds_what_the_one_before_holds_and_more() {
        let held = |r: Role| {
            Permission::ALL
                .into_iter()
                .filter(|p| person(r).may(*p))
                .count()
        };
        let counts: Vec<usize> = Role::ALL.into_iter().map(held).collect();
        assert_eq!(counts, [2, 3, 4, 6]);
    }

    #[test]
    fn an_author_may_not_approve_operate_or_see_personal_data() {
        let author = person(Role::Author);
        assert!(author.may(Permission::Edit));
        for p in [
            Permission::Approve,
            Permission::Operate,
            Permission::PersonalData,
            Permission::ManagePeople,
        ] {
            assert!(!author.may(p), "{p:?}");
        }
    }

    #[test]
    fn a_test_token_only_reads_whatever_its_role() {
        let token = Principal {
            actor: Actor::Token("ci".into()),
            role: Role::Admin,
            token: Some(TokenKind::Test),
        };
        let allowed: Vec<_> = Permission::ALL
            .into_iter()
            .filter(|p| token.may(*p))
            .collect();
        assert_eq!(allowed, [Permission::Read]);
    }

    #[test]
    fn names_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("owner"), None);
        assert_eq!(TokenKind::parse("live"), Some(TokenKind::Live));
    }
}
