//! What `crier init` writes besides `channels.toml`: the default
//! templates (the repository's own, which name no organisation), one
//! example item of each content kind, and the `.gitignore`.

/// The default templates, relative to `templates/`.
pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "chat/briefing.txt.hbs",
        include_str!("../../../templates/chat/briefing.txt.hbs"),
    ),
    (
        "chat/default.txt.hbs",
        include_str!("../../../templates/chat/default.txt.hbs"),
    ),
    (
        "chat/event.txt.hbs",
        include_str!("../../../templates/chat/event.txt.hbs"),
    ),
    (
        "document/default.txt.hbs",
        include_str!("../../../templates/document/default.txt.hbs"),
    ),
    (
        "email/briefing.html.hbs",
        include_str!("../../../templates/email/briefing.html.hbs"),
    ),
    (
        "email/briefing.subject.hbs",
        include_str!("../../../templates/email/briefing.subject.hbs"),
    ),
    (
        "email/briefing.txt.hbs",
        include_str!("../../../templates/email/briefing.txt.hbs"),
    ),
    (
        "email/default.html.hbs",
        include_str!("../../../templates/email/default.html.hbs"),
    ),
    (
        "email/default.subject.hbs",
        include_str!("../../../templates/email/default.subject.hbs"),
    ),
    (
        "email/default.txt.hbs",
        include_str!("../../../templates/email/default.txt.hbs"),
    ),
    (
        "email/digest.html.hbs",
        include_str!("../../../templates/email/digest.html.hbs"),
    ),
    (
        "email/digest.subject.hbs",
        include_str!("../../../templates/email/digest.subject.hbs"),
    ),
    (
        "email/digest.txt.hbs",
        include_str!("../../../templates/email/digest.txt.hbs"),
    ),
    (
        "email/event.html.hbs",
        include_str!("../../../templates/email/event.html.hbs"),
    ),
    (
        "email/event.subject.hbs",
        include_str!("../../../templates/email/event.subject.hbs"),
    ),
    (
        "email/event.txt.hbs",
        include_str!("../../../templates/email/event.txt.hbs"),
    ),
    (
        "email/news.html.hbs",
        include_str!("../../../templates/email/news.html.hbs"),
    ),
    (
        "email/news.txt.hbs",
        include_str!("../../../templates/email/news.txt.hbs"),
    ),
    (
        "feed/briefing.html.hbs",
        include_str!("../../../templates/feed/briefing.html.hbs"),
    ),
    (
        "feed/default.html.hbs",
        include_str!("../../../templates/feed/default.html.hbs"),
    ),
    (
        "feed/event.html.hbs",
        include_str!("../../../templates/feed/event.html.hbs"),
    ),
    (
        "feed/news.html.hbs",
        include_str!("../../../templates/feed/news.html.hbs"),
    ),
    (
        "partials/booking_html.hbs",
        include_str!("../../../templates/partials/booking_html.hbs"),
    ),
    (
        "partials/booking_text.hbs",
        include_str!("../../../templates/partials/booking_text.hbs"),
    ),
    (
        "partials/footer_html.hbs",
        include_str!("../../../templates/partials/footer_html.hbs"),
    ),
    (
        "partials/footer_text.hbs",
        include_str!("../../../templates/partials/footer_text.hbs"),
    ),
    (
        "social/briefing.txt.hbs",
        include_str!("../../../templates/social/briefing.txt.hbs"),
    ),
    (
        "social/default.txt.hbs",
        include_str!("../../../templates/social/default.txt.hbs"),
    ),
    (
        "social/event.txt.hbs",
        include_str!("../../../templates/social/event.txt.hbs"),
    ),
    (
        "social/post.txt.hbs",
        include_str!("../../../templates/social/post.txt.hbs"),
    ),
];

/// Keeps the data folder (queue, feeds, credentials) out of git.
pub const GITIGNORE: &str =
    "# crier's data folder: the queue, written feeds and credentials.\n/data/\n";

/// The example items, as (file under `campaigns/`, TOML), sent to every
/// channel in `channels` (a TOML array) and linking under `website`. Dated
/// 2030 so that `check` has nothing to say about their times.
pub fn items(channels: &str, website: &str) -> Vec<(&'static str, String)> {
    vec![
        ("example-news.toml", news(channels, website)),
        ("example-briefing.toml", briefing(channels, website)),
        ("example-event.toml", event(channels, website)),
        ("example-notice.toml", notice(channels)),
        ("example-campaign.toml", campaign(channels, website)),
    ]
}

const HEAD: &str = "# An example to copy and change; see docs/content-format.md.\n\
     # Every field is checked by `crier check`.\n";

fn news(channels: &str, website: &str) -> String {
    format!(
        r#"{HEAD}# A news update edition: one item, its sections in order.
[[item]]
id = "example-news-2030-01"
kind = "news"
edition = "Edition 1 - January 2030"
title = "News update: January 2030"
summary = "What the partnership decided this month, new training dates and how to get involved."
at = "2030-01-08 10:00"
channels = {channels}
topics = ["news"]
link = "{website}/news/2030-01"
hashtags = ["NewsUpdate"]
body = """
Welcome to our news update. Please pass it on across your organisation.
"""

[[item.sections]]
heading = "Board decisions"
body = """
The board met and agreed its priorities for the year ahead.
"""

[[item.sections]]
heading = "Training"
body = """
New course dates are open for booking. See the [training programme]({website}/training).
"""
"#
    )
}

fn briefing(channels: &str, website: &str) -> String {
    format!(
        r#"{HEAD}# A 7-minute briefing: themes, a document, questions for team meetings.
[[item]]
id = "example-briefing-2030-01"
kind = "briefing"
title = "Listening to families"
summary = "What a recent review found about listening to families, and what helps."
at = "2030-01-15 12:00"
channels = {channels}
topics = ["briefings"]
hashtags = ["SevenMinuteBriefing"]
document = "{website}/briefings/listening-to-families.pdf"
themes = [
  "Ask families what they need, and write down their words",
  "Share what you learn early, across agencies",
]
questions = [
  "When did a family last change your plan?",
  "Who would you call in another agency with a worry?",
]
body = """
This briefing is written to be read aloud at the start of a team meeting, followed by a short discussion.
"""
"#
    )
}

fn event(channels: &str, website: &str) -> String {
    format!(
        r#"{HEAD}# A training course: an event with a venue and a way to book.
[[item]]
id = "example-course-2030-03"
kind = "event"
title = "Working together: an introduction"
summary = "A one-day course on working across agencies."
at = "2030-02-01 09:30"
reminders = ["7 days before booking_deadline at 10:00"]
start = "2030-03-20 09:30"
end = "2030-03-20 16:00"
venue = "Main meeting room, Example House"
booking_url = "{website}/training/working-together"
booking_deadline = "2030-03-13 17:00"
channels = {channels}
topics = ["training"]
hashtags = ["TrainingCourse"]
body = """
For practitioners in every agency. The day covers each agency's role and how to raise a concern.
"""
"#
    )
}

fn notice(channels: &str) -> String {
    format!(
        r#"{HEAD}# A notice: short, practical, one-off.
[[item]]
id = "example-notice-2030-12"
kind = "notice"
title = "Office hours over the holidays"
summary = "The office closes from 24 December and reopens on 2 January."
at = "2030-12-16 15:00"
channels = {channels}
topics = ["news"]
body = """
The office closes at noon on 24 December and reopens on 2 January. In an emergency, call 999.
"""
"#
    )
}

fn campaign(channels: &str, website: &str) -> String {
    format!(
        r#"{HEAD}# An awareness campaign: posts inherit the campaign's hashtags,
# channels and topics; posts without `at` take the cadence's next time
# (`crier when "<cadence>"` lists them).
[campaign]
name = "Example campaign"
hashtags = ["ExampleCampaign"]
channels = {channels}
topics = ["campaigns"]
cadence = "0 10 * * MON from 2030-01-07 until 2030-02-01"
link = "{website}/campaign"

[[post]]
id = "example-campaign-launch"
title = "Our campaign launches"
body = """
This winter we are listening to young people about what makes them feel safe. Follow the campaign to see what you can do.
"""

[[post]]
id = "example-campaign-tips"
title = "Three things you can do"
body = """
Ask, listen, and tell someone you trust. Small steps help.
"""
"#
    )
}
