//! People (accounts, sessions, tokens, one-time links, sign-in attempts),
//! their own door beside `Store`, as every backend must keep them.

use chrono::TimeDelta;

use super::at;
use crate::access::{Role, TokenKind};
use crate::store::people::{digest, LinkPurpose, NewLink, NewSession, NewToken, People};
use crate::store::{Store, StoreError};

/// Addresses are one account whatever their case; a second is refused.
pub async fn accounts_are_unique_by_folded_email<S: Store + People>(store: &S) {
    let people: &dyn People = store;
    let ann = people
        .add_account(" Ann@Example.org", Role::Admin, at(0))
        .await
        .unwrap();
    assert_eq!(ann.email, "ann@example.org");
    assert_eq!(ann.password_hash, None);
    let again = people
        .add_account("ANN@example.org", Role::Author, at(1))
        .await;
    assert!(matches!(again, Err(StoreError::Exists(_))), "{again:?}");
    assert_eq!(people.account_count().await.unwrap(), 1);
    let found = people.account("ann@EXAMPLE.org").await.unwrap().unwrap();
    assert_eq!((found.id, found.role), (ann.id, Role::Admin));
    people
        .set_password(ann.id, "$argon2id$x", at(2))
        .await
        .unwrap();
    let found = people.account("ann@example.org").await.unwrap().unwrap();
    assert_eq!(found.password_hash.as_deref(), Some("$argon2id$x"));
    // A provider's sign-in updates the role of a known address, creates a new one.
    let ann = people
        .upsert_account("ann@example.org", Role::Publisher, at(3))
        .await
        .unwrap();
    assert_eq!(ann.role, Role::Publisher);
    people
        .upsert_account("bob@example.org", Role::Author, at(3))
        .await
        .unwrap();
    let emails: Vec<_> = people
        .accounts()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.email)
        .collect();
    assert_eq!(emails, ["ann@example.org", "bob@example.org"]);
    assert!(people.remove_account("BOB@example.org").await.unwrap());
    assert!(!people.remove_account("bob@example.org").await.unwrap());
}

/// A session is found by its hash until its idle or absolute expiry,
/// renewal never passes the absolute one, and removal ends it.
pub async fn sessions_expire_idle_and_absolute<S: Store + People>(store: &S) {
    let people: &dyn People = store;
    let ann = people
        .add_account("ann@example.org", Role::Author, at(0))
        .await
        .unwrap();
    let id = digest("session-one");
    let new = NewSession {
        id_hash: id.clone(),
        account_id: ann.id,
        idle_expires_at: at(30),
        absolute_expires_at: at(60),
        id_token_hint: None,
    };
    people.create_session(&new, at(0)).await.unwrap();
    let found = people.session(&id, at(29)).await.unwrap().unwrap();
    assert_eq!(found.account.email, "ann@example.org");
    assert!(people.session(&id, at(30)).await.unwrap().is_none(), "idle");
    assert!(people
        .session(&digest("other"), at(1))
        .await
        .unwrap()
        .is_none());
    // Renewed at 29 for 30 more minutes: alive at 50, but not past 60.
    people.touch_session(&id, at(59), at(29)).await.unwrap();
    let found = people.session(&id, at(50)).await.unwrap().unwrap();
    assert_eq!(found.last_seen_at, at(29));
    people.touch_session(&id, at(90), at(50)).await.unwrap();
    let found = people.session(&id, at(59)).await.unwrap().unwrap();
    assert_eq!(
        found.idle_expires_at,
        at(60),
        "capped at the absolute expiry"
    );
    assert!(
        people.session(&id, at(60)).await.unwrap().is_none(),
        "absolute"
    );
    // Sign-out removes it; removing the account removes its sessions.
    people.touch_session(&id, at(40), at(10)).await.unwrap();
    assert!(people.delete_session(&id).await.unwrap());
    assert!(people.session(&id, at(11)).await.unwrap().is_none());
    let two = NewSession {
        id_hash: digest("session-two"),
        ..new
    };
    people.create_session(&two, at(0)).await.unwrap();
    let three = NewSession {
        id_hash: digest("session-three"),
        ..two.clone()
    };
    people.create_session(&three, at(0)).await.unwrap();
    assert_eq!(people.delete_sessions_of(ann.id).await.unwrap(), 2);
    assert!(people
        .session(&three.id_hash, at(1))
        .await
        .unwrap()
        .is_none());
    people.create_session(&two, at(0)).await.unwrap();
    people.remove_account("ann@example.org").await.unwrap();
    assert!(people.session(&two.id_hash, at(1)).await.unwrap().is_none());
}

/// Tokens: found by hash while live, names unique, revocation and expiry
/// end them, use is recorded at most once a minute.
pub async fn tokens_by_hash_until_revoked_or_expired<S: Store + People>(store: &S) {
    let people: &dyn People = store;
    let new = |name: &str, expires: Option<i64>| NewToken {
        name: name.into(),
        role: Role::Publisher,
        kind: TokenKind::Live,
        hash: digest(name),
        expires_at: expires.map(at),
    };
    people.create_token(&new("ci", None), at(0)).await.unwrap();
    people
        .create_token(&new("short", Some(10)), at(0))
        .await
        .unwrap();
    let taken = people.create_token(&new("ci", None), at(1)).await;
    assert!(matches!(taken, Err(StoreError::Exists(_))), "{taken:?}");
    let ci = people.token(&digest("ci"), at(5)).await.unwrap().unwrap();
    assert_eq!(
        (ci.name.as_str(), ci.role, ci.last_used_at),
        ("ci", Role::Publisher, None)
    );
    assert!(people
        .token(&digest("short"), at(9))
        .await
        .unwrap()
        .is_some());
    assert!(people
        .token(&digest("short"), at(10))
        .await
        .unwrap()
        .is_none());
    assert!(people
        .token(&digest("nope"), at(1))
        .await
        .unwrap()
        .is_none());
    people.touch_token(&digest("ci"), at(5)).await.unwrap();
    let five = at(5) + TimeDelta::seconds(30);
    people.touch_token(&digest("ci"), five).await.unwrap();
    let ci = people.token(&digest("ci"), at(6)).await.unwrap().unwrap();
    assert_eq!(
        ci.last_used_at,
        Some(at(5)),
        "not rewritten within a minute"
    );
    people.touch_token(&digest("ci"), at(7)).await.unwrap();
    let ci = people.token(&digest("ci"), at(7)).await.unwrap().unwrap();
    assert_eq!(ci.last_used_at, Some(at(7)));
    assert!(people.revoke_token("ci", at(8)).await.unwrap());
    assert!(!people.revoke_token("ci", at(9)).await.unwrap());
    assert!(people.token(&digest("ci"), at(9)).await.unwrap().is_none());
    let listed = people.tokens().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].revoked_at, Some(at(8)));
}

/// A one-time link is used once, before it expires, for its purpose only.
pub async fn links_are_single_use_and_expire<S: Store + People>(store: &S) {
    let people: &dyn People = store;
    let link = |secret: &str, purpose| NewLink {
        hash: digest(secret),
        purpose,
        email: Some("Ann@example.org".into()),
        payload: Some("p".into()),
        expires_at: at(60),
    };
    people
        .create_link(&link("a", LinkPurpose::Password), at(0))
        .await
        .unwrap();
    people
        .create_link(&link("b", LinkPurpose::Setup), at(0))
        .await
        .unwrap();
    let hash = digest("a");
    let wrong = people.consume_link(&hash, LinkPurpose::Setup, at(1)).await;
    assert!(wrong.unwrap().is_none(), "another purpose");
    let peeked = people.peek_link(&hash, LinkPurpose::Password, at(1)).await;
    assert_eq!(
        peeked.unwrap().unwrap().email.as_deref(),
        Some("ann@example.org")
    );
    let used = people
        .consume_link(&hash, LinkPurpose::Password, at(2))
        .await;
    assert_eq!(used.unwrap().unwrap().payload.as_deref(), Some("p"));
    let again = people
        .consume_link(&hash, LinkPurpose::Password, at(3))
        .await;
    assert!(again.unwrap().is_none(), "used");
    assert!(people
        .peek_link(&hash, LinkPurpose::Password, at(3))
        .await
        .unwrap()
        .is_none());
    let late = people
        .consume_link(&digest("b"), LinkPurpose::Setup, at(60))
        .await;
    assert!(late.unwrap().is_none(), "expired");
}

/// Failed sign-ins are counted per key within a window, and cleared.
pub async fn signin_attempts_count_within_a_window<S: Store + People>(store: &S) {
    let people: &dyn People = store;
    for minute in 0..3 {
        let n = people
            .record_attempt("ip:127.0.0.1", at(minute - 15), at(minute))
            .await
            .unwrap();
        assert_eq!(n, minute as u32 + 1);
    }
    assert_eq!(people.attempts("ip:127.0.0.1", at(-15)).await.unwrap(), 3);
    assert_eq!(
        people.attempts("ip:127.0.0.1", at(1)).await.unwrap(),
        1,
        "window"
    );
    assert_eq!(people.attempts("account:a", at(-15)).await.unwrap(), 0);
    let n = people
        .record_attempt("ip:127.0.0.1", at(1), at(20))
        .await
        .unwrap();
    assert_eq!(n, 2, "only those inside the window");
    people.clear_attempts("ip:127.0.0.1").await.unwrap();
    assert_eq!(people.attempts("ip:127.0.0.1", at(-100)).await.unwrap(), 0);
}
