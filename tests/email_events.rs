//! Relay event webhooks at `/lists/<channel>/events/<provider>`, with each
//! provider's documented payload shapes: a valid signature records the
//! bounce or complaint against the (delivery, subscriber) its crier token
//! names; a tampered one is refused with 401 and changes nothing.

mod support;

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::EncodePublicKey;
use serde_json::json;
use sha2::Sha256;
use support::daemon::{in_secs, Workspace};
use support::peer::Peer;
use support::smtp::{header, Keys, Sink};

const PM_AUTH: &str = "CRIER_TEST_PM_AUTH";
const MG_KEY: &str = "CRIER_TEST_MG_KEY";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn sendgrid_key() -> SigningKey {
    SigningKey::from_slice(&[7u8; 32]).unwrap()
}

fn workspace(port: u16, bounces: &str) -> Workspace {
    let public = sendgrid_key().verifying_key().to_public_key_der().unwrap();
    let ws = Workspace::new(
        &format!(
            "[channels.news]\nkind = \"email\"\nfrom = \"Test Partnership <news@example.org>\"\n\
             list_id = \"news.example.org\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {port}\n\
             tls = \"none\"\ntimeout_seconds = 5\n\n\
             [channels.news.bounces]\nrelay = \"mailgun\"\npostmark_basic_auth_env = \"{PM_AUTH}\"\n\
             mailgun_signing_key_env = \"{MG_KEY}\"\nsendgrid_public_key = \"{}\"\n{bounces}\n\
             [[channels.news.topics]]\nid = \"news\"\nname = \"News updates\"\n",
            b64(public.as_bytes())
        ),
        "",
    );
    ws.write("templates/email/default.subject.hbs", "{{item.title}}");
    ws.write("templates/email/default.txt.hbs", "{{item.body_text}}\n");
    ws.write("templates/email/default.html.hbs", "{{{item.body_html}}}\n");
    ws.write(
        "people.csv",
        "email,consent_at\nann@example.org,2026-01-01\nbob@example.org,2026-01-01\n\
         cat@example.org,2026-01-01\ndan@example.org,2026-01-01\n",
    );
    ws.write(
        "campaigns/a.toml",
        &format!(
            "[[item]]\nid = \"first\"\nkind = \"notice\"\ntitle = \"First\"\nbody = \"Body.\"\n\
             at = \"{}\"\nchannels = [\"news\"]\ntopics = [\"news\"]\n",
            in_secs(1)
        ),
    );
    ws
}

fn crier_json(ws: &Workspace, args: &[&str]) -> serde_json::Value {
    let out = ws.crier(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Imports the four people, starts the daemon and waits for the first
/// item's messages: returns the daemon and each recipient's message.
fn sent(
    ws: &Workspace,
    sink: &Sink,
) -> (
    support::daemon::Daemon,
    std::collections::HashMap<String, serde_json::Value>,
) {
    let csv = ws.path().join("people.csv");
    ws.crier(&[
        "subscribers",
        "import",
        csv.to_str().unwrap(),
        "--topics",
        "news",
    ]);
    let env = [(PM_AUTH, "crier:pm-webhook-pass"), (MG_KEY, MAILGUN_KEY)];
    let daemon = ws.start(&env);
    ws.wait_item("first", "sent");
    sink.wait_for(4, Duration::from_secs(30));
    let messages = sink
        .messages()
        .into_iter()
        .map(|m| (m["rcpt"][0].as_str().unwrap().to_string(), m))
        .collect();
    (daemon, messages)
}

const MAILGUN_KEY: &str = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0";

/// (status, bounce kinds recorded) of one subscriber.
fn state(ws: &Workspace, email: &str) -> (String, Vec<String>) {
    let e = crier_json(ws, &["subscribers", "export", email]);
    let sub = &e["subscriptions"][0];
    let kinds = sub["bounces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["kind"].as_str().unwrap().to_string())
        .collect();
    (
        sub["subscriber"]["status"].as_str().unwrap().to_string(),
        kinds,
    )
}

async fn post(
    ws: &Workspace,
    provider: &str,
    body: &str,
    headers: &[(&str, String)],
) -> reqwest::StatusCode {
    let mut r = crier::channels::http::client()
        .post(ws.url(&format!("/lists/news/events/{provider}")))
        .header("content-type", "application/json")
        .body(body.to_string());
    for (k, v) in headers {
        r = r.header(*k, v);
    }
    r.send().await.unwrap().status()
}

fn mailgun_signature(key: &str, ts: i64, token: &str) -> serde_json::Value {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(format!("{ts}{token}").as_bytes());
    json!({"timestamp": ts.to_string(), "token": token,
           "signature": hex::encode(mac.finalize().into_bytes())})
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_relay_events_are_recorded_and_tampered_ones_refused() {
    let sink = Sink::start(&[]);
    let ws = workspace(sink.port, "");
    let (daemon, messages) = sent(&ws, &sink);
    let mg_key = MAILGUN_KEY;
    let mut token = std::collections::HashMap::new();
    for (to, m) in &messages {
        let t = header(m, "X-Crier-Ref").unwrap().to_string();
        // The relay's own header carries it too, for its events.
        assert_eq!(
            header(m, "X-Mailgun-Variables").unwrap(),
            format!("{{\"crier_ref\": \"{t}\"}}")
        );
        token.insert(to.clone(), t);
    }

    // Postmark: a HardBounce record, as its bounce webhook sends it.
    let postmark = json!({
        "RecordType": "Bounce", "MessageStream": "outbound", "ID": 4323372036854775807u64,
        "Type": "HardBounce", "TypeCode": 1, "Name": "Hard bounce", "Tag": "",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483", "ServerID": 23,
        "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": "ann@example.org", "From": "news@example.org",
        "BouncedAt": "2026-12-07T10:00:05Z", "DumpAvailable": false, "Inactive": true,
        "CanActivate": true, "Subject": "First", "Content": "",
        "Metadata": {"crier_ref": token["ann@example.org"]}
    })
    .to_string();
    let wrong = [("authorization", format!("Basic {}", b64(b"crier:guess")))];
    assert_eq!(post(&ws, "postmark", &postmark, &wrong).await, 401);
    assert_eq!(post(&ws, "postmark", &postmark, &[]).await, 401);
    assert_eq!(state(&ws, "ann@example.org"), ("confirmed".into(), vec![]));
    let right = [(
        "authorization",
        format!("Basic {}", b64(b"crier:pm-webhook-pass")),
    )];
    assert_eq!(post(&ws, "postmark", &postmark, &right).await, 200);
    assert_eq!(
        state(&ws, "ann@example.org"),
        ("unsubscribed".into(), vec!["hard".into()])
    );

    // Mailgun: a temporary failure and a complaint, signed.
    let now = chrono::Utc::now().timestamp();
    let failed = |sig: serde_json::Value| {
        json!({"signature": sig, "event-data": {
            "event": "failed", "id": "G9Bn5sl1TC6nu79C8C0bwg", "timestamp": now as f64,
            "log-level": "warn", "severity": "temporary", "reason": "generic",
            "recipient": "bob@example.org", "recipient-domain": "example.org",
            "delivery-status": {"code": 452, "attempt-no": 1, "enhanced-code": "4.2.2",
                "message": "452 4.2.2 Mailbox full", "description": "", "retry-seconds": 600},
            "message": {"headers": {"to": "bob@example.org", "message-id": "crier.1.2@example.org",
                "from": "Test Partnership <news@example.org>", "subject": "First"}},
            "user-variables": {"crier_ref": token["bob@example.org"]}}})
    };
    let good = mailgun_signature(
        mg_key,
        now,
        "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0",
    );
    let mut tampered = good.clone();
    tampered["token"] = json!("b8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0");
    assert_eq!(
        post(&ws, "mailgun", &failed(tampered).to_string(), &[]).await,
        401
    );
    let stale = mailgun_signature(mg_key, now - 3600, "c8ce0edb2dd8301dee6c2405235584e45");
    assert_eq!(
        post(&ws, "mailgun", &failed(stale).to_string(), &[]).await,
        401
    );
    assert_eq!(state(&ws, "bob@example.org"), ("confirmed".into(), vec![]));
    assert_eq!(
        post(&ws, "mailgun", &failed(good.clone()).to_string(), &[]).await,
        200
    );
    assert_eq!(
        state(&ws, "bob@example.org"),
        ("confirmed".into(), vec!["soft".into()])
    );
    let complained = json!({"signature": good, "event-data": {
        "event": "complained", "id": "-Agny091SquKnsrW2NEKUA", "timestamp": now as f64,
        "recipient": "cat@example.org",
        "message": {"headers": {"message-id": "crier.1.3@example.org"}},
        "user-variables": {"crier_ref": token["cat@example.org"]}}});
    assert_eq!(
        post(&ws, "mailgun", &complained.to_string(), &[]).await,
        200
    );
    assert_eq!(
        state(&ws, "cat@example.org"),
        ("unsubscribed".into(), vec!["complaint".into()])
    );

    // SendGrid: a signed batch of events; a changed body no longer verifies.
    let events = json!([{
        "email": "dan@example.org", "timestamp": now, "smtp-id": "<crier.1.4@example.org>",
        "event": "bounce", "category": ["news"], "sg_event_id": "6g4ZI7SA-xmRDv57GoPIPw==",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "reason": "500 unknown recipient", "status": "5.0.0", "type": "bounce",
        "crier_ref": token["dan@example.org"]
    }, {
        "email": "dan@example.org", "timestamp": now, "event": "open",
        "sg_event_id": "open-1", "crier_ref": token["dan@example.org"]
    }])
    .to_string();
    let ts = now.to_string();
    let sig: Signature = sendgrid_key().sign(format!("{ts}{events}").as_bytes());
    let headers = [
        (
            "x-twilio-email-event-webhook-signature",
            b64(sig.to_der().as_bytes()),
        ),
        ("x-twilio-email-event-webhook-timestamp", ts.clone()),
    ];
    let changed = events.replace("dan@example.org", "dan@example.net");
    assert_eq!(post(&ws, "sendgrid", &changed, &headers).await, 401);
    assert_eq!(state(&ws, "dan@example.org"), ("confirmed".into(), vec![]));
    assert_eq!(post(&ws, "sendgrid", &events, &headers).await, 200);
    // Delivered twice (relays retry): recorded once.
    assert_eq!(post(&ws, "sendgrid", &events, &headers).await, 200);
    assert_eq!(
        state(&ws, "dan@example.org"),
        ("unsubscribed".into(), vec!["hard".into()])
    );
    // No SES topic configured: no SES webhook.
    assert_eq!(post(&ws, "ses", "{}", &[]).await, 404);
    daemon.terminate();
}

const TOPIC: &str = "arn:aws:sns:eu-west-2:123456789012:crier-ses-events";

/// The SNS stand-in signs `message` (SignatureVersion `version`).
async fn sns_signed(
    client: &reqwest::Client,
    sns: &Peer,
    version: &str,
    message: serde_json::Value,
) -> serde_json::Value {
    let url = format!("https://{}/sign?version={version}", sns.addr());
    let answer = client.post(url).json(&message).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    answer.json().await.unwrap()
}

/// An SNS notification of `topic` carrying an SES event, as SNS sends it.
fn sns_notification(
    sns: &Peer,
    topic: &str,
    id: &str,
    ses: &serde_json::Value,
) -> serde_json::Value {
    json!({
        "Type": "Notification", "MessageId": id, "TopicArn": topic,
        "Message": ses.to_string(), "Timestamp": "2026-12-07T10:00:05.123Z",
        "SigningCertURL": format!("https://{}/SimpleNotificationService-test.pem", sns.addr()),
        "UnsubscribeURL": format!("https://{}/unsubscribe?SubscriptionArn={topic}:1", sns.addr())
    })
}

/// SES's `mail` object for the message sent to `to`: its envelope sender
/// as `source`, its original headers (X-Crier-Ref among them) when `headers`.
fn ses_mail(m: &serde_json::Value, headers: bool) -> serde_json::Value {
    let to = m["rcpt"][0].as_str().unwrap();
    let mut mail = json!({
        "timestamp": "2026-12-07T10:00:00.000Z", "source": m["mail_from"],
        "sourceArn": "arn:aws:ses:eu-west-2:123456789012:identity/example.org",
        "sourceIp": "127.0.3.0", "sendingAccountId": "123456789012",
        "messageId": "0102018f-00000000-0000-0000-0000-000000000000-000000",
        "destination": [to], "headersTruncated": false,
        "commonHeaders": {"from": ["Test Partnership <news@example.org>"], "to": [to],
            "subject": "First"}
    });
    if headers {
        // Only the source stands in for the token: no VERP sender here.
        mail["source"] = json!("news@example.org");
        mail["headers"] = json!([
            {"name": "From", "value": "Test Partnership <news@example.org>"},
            {"name": "To", "value": to},
            {"name": "X-Crier-Ref", "value": header(m, "X-Crier-Ref").unwrap()}
        ]);
    }
    mail
}

fn ses_bounce(m: &serde_json::Value, kind: &str, feedback: &str) -> serde_json::Value {
    let to = m["rcpt"][0].as_str().unwrap();
    json!({"notificationType": "Bounce", "bounce": {
        "feedbackId": feedback, "bounceType": kind,
        "bounceSubType": if kind == "Permanent" { "General" } else { "MailboxFull" },
        "bouncedRecipients": [{"emailAddress": to, "action": "failed",
            "status": if kind == "Permanent" { "5.1.1" } else { "4.2.2" },
            "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
        "timestamp": "2026-12-07T10:00:04.000Z", "remoteMtaIp": "127.0.2.0",
        "reportingMTA": "dsn; b267-1.smtp-out.eu-west-2.amazonses.com"},
        "mail": ses_mail(m, false)})
}

#[tokio::test(flavor = "multi_thread")]
async fn ses_events_through_sns_are_verified_and_applied() {
    let keys = Keys::new();
    let (ca, cert, key) = keys.tls();
    let sns = Peer::sns(&cert, &key);
    let sink = Sink::start(&[]);
    let ws = workspace(
        sink.port,
        &format!(
            "ses_topic_arns = [\"{TOPIC}\"]\nsns_test_ca_file = {:?}\n",
            ca.to_str().unwrap()
        ),
    );
    let (daemon, messages) = sent(&ws, &sink);
    let ca_pem = std::fs::read(&ca).unwrap();
    let client = crier::channels::http::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca_pem).unwrap()])
        .build()
        .unwrap();
    let hits = || async {
        let url = format!("https://{}/hits", sns.addr());
        let hits: Vec<String> = client.get(url).send().await.unwrap().json().await.unwrap();
        hits
    };
    let send = |body: serde_json::Value| {
        let ws = &ws;
        async move { post(ws, "ses", &body.to_string(), &[]).await }
    };

    // The subscription is confirmed by fetching its SubscribeURL, only
    // once the signature verifies.
    let subscribe = |url: &str| {
        json!({"Type": "SubscriptionConfirmation",
            "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b", "Token": "2336412f37",
            "TopicArn": TOPIC,
            "Message": format!("You have chosen to subscribe to the topic {TOPIC}.\nTo confirm the subscription, visit the SubscribeURL included in this message."),
            "SubscribeURL": format!("https://{}{url}", sns.addr()),
            "Timestamp": "2026-12-07T09:59:00.000Z",
            "SigningCertURL": format!("https://{}/SimpleNotificationService-test.pem", sns.addr())})
    };
    let mut tampered = sns_signed(&client, &sns, "1", subscribe("/confirm?Token=2336412f37")).await;
    tampered["SubscribeURL"] = json!(format!("https://{}/confirm?Token=other", sns.addr()));
    assert_eq!(send(tampered).await, 401);
    assert!(!hits().await.iter().any(|h| h.starts_with("/confirm")));
    let confirm = sns_signed(&client, &sns, "1", subscribe("/confirm?Token=2336412f37")).await;
    assert_eq!(send(confirm).await, 200);
    assert!(hits()
        .await
        .contains(&"/confirm?Token=2336412f37".to_string()));

    // A hard bounce (Permanent), attributed by the VERP envelope sender
    // SES reports as the source; tampered, refused and nothing changes.
    let ann = &messages["ann@example.org"];
    let bounce = sns_notification(&sns, TOPIC, "n-1", &ses_bounce(ann, "Permanent", "fb-ann"));
    let signed = sns_signed(&client, &sns, "2", bounce.clone()).await;
    let mut tampered = signed.clone();
    tampered["Message"] =
        json!(ses_bounce(&messages["bob@example.org"], "Permanent", "fb-ann").to_string());
    assert_eq!(send(tampered).await, 401);
    let mut v1_as_v2 = sns_signed(&client, &sns, "1", bounce.clone()).await;
    v1_as_v2["SignatureVersion"] = json!("2");
    assert_eq!(send(v1_as_v2).await, 401);
    // A certificate from anywhere but SNS is never fetched.
    for url in [
        "https://sns.eu-west-2.amazonaws.com.evil.example/cert.pem".to_string(),
        format!("http://{}/SimpleNotificationService-test.pem", sns.addr()),
    ] {
        let mut elsewhere = signed.clone();
        elsewhere["SigningCertURL"] = json!(url);
        assert_eq!(send(elsewhere).await, 401);
    }
    // Genuinely signed by SNS, but for someone else's topic.
    let other = "arn:aws:sns:eu-west-2:999999999999:not-ours";
    let foreign = sns_notification(&sns, other, "n-2", &ses_bounce(ann, "Permanent", "fb-x"));
    assert_eq!(
        send(sns_signed(&client, &sns, "2", foreign).await).await,
        403
    );
    assert_eq!(state(&ws, "ann@example.org"), ("confirmed".into(), vec![]));
    assert_eq!(send(signed.clone()).await, 200);
    // SNS delivers at least once: the same event is recorded once.
    assert_eq!(send(signed).await, 200);
    assert_eq!(
        state(&ws, "ann@example.org"),
        ("unsubscribed".into(), vec!["hard".into()])
    );

    // A complaint, attributed by the X-Crier-Ref in the original headers.
    let bob = &messages["bob@example.org"];
    let complaint = json!({"notificationType": "Complaint", "complaint": {
        "userAgent": "ExampleCorp Feedback Loop (V0.01)",
        "complainedRecipients": [{"emailAddress": "bob@example.org"}],
        "complaintFeedbackType": "abuse", "arrivalDate": "2026-12-07T10:05:00.000Z",
        "timestamp": "2026-12-07T10:06:00.000Z", "feedbackId": "fb-bob"},
        "mail": ses_mail(bob, true)});
    let n = sns_notification(&sns, TOPIC, "n-3", &complaint);
    assert_eq!(send(sns_signed(&client, &sns, "1", n).await).await, 200);
    assert_eq!(
        state(&ws, "bob@example.org"),
        ("unsubscribed".into(), vec!["complaint".into()])
    );

    // A transient bounce is soft: recorded, the address kept.
    let cat = &messages["cat@example.org"];
    let n = sns_notification(&sns, TOPIC, "n-4", &ses_bounce(cat, "Transient", "fb-cat"));
    assert_eq!(send(sns_signed(&client, &sns, "2", n).await).await, 200);
    assert_eq!(
        state(&ws, "cat@example.org"),
        ("confirmed".into(), vec!["soft".into()])
    );
    assert_eq!(state(&ws, "dan@example.org"), ("confirmed".into(), vec![]));
    daemon.terminate();
}
