#!/usr/bin/env python3
"""Checks crier's feed files with real parsers and prints what they read.

Usage: check_feeds.py FILE...

By suffix: `.rss.xml` and `.atom.xml` with feedparser (bozo must be 0),
`.json` as JSON Feed 1.1, `.ics` with the icalendar package plus the raw
RFC 5545 line rules (CRLF, 75-octet folding that never splits a UTF-8
sequence). Exits 1 listing every problem; otherwise prints one JSON object,
{file: summary}, for the caller to compare with what it wrote. Exits 2 when
feedparser or icalendar is not installed: a missing parser is a failure,
never a skipped check.
"""

import calendar
import datetime as dt
import json
import sys

try:
    import feedparser
    import icalendar
except ImportError as e:  # pragma: no cover - the point is to fail loudly
    print(f"check_feeds.py needs feedparser and icalendar: {e}", file=sys.stderr)
    sys.exit(2)

problems = []


def problem(path, msg):
    problems.append(f"{path}: {msg}")


def iso(struct_time):
    if struct_time is None:
        return None
    t = dt.datetime.fromtimestamp(calendar.timegm(struct_time), dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def check_feedparser(path, version):
    d = feedparser.parse(path)
    if d.bozo:
        problem(path, f"not well-formed: {d.bozo_exception!r}")
    if d.version != version:
        problem(path, f"parsed as {d.version!r}, expected {version!r}")
    feed = d.feed
    for key in ("title", "link"):
        if not feed.get(key):
            problem(path, f"feed has no {key}")
    links = feed.get("links", [])
    self_links = [l.get("href") for l in links if l.get("rel") == "self"]
    if not self_links:
        problem(path, "feed has no rel=self link")
    entries = []
    for i, e in enumerate(d.entries):
        for key in ("id", "title", "published_parsed"):
            if not e.get(key):
                problem(path, f"entry {i} has no {key}")
        entries.append(
            {
                "id": e.get("id"),
                "title": e.get("title"),
                # Not e.link: feedparser fills that in from the id when
                # an entry has no link of its own.
                "link": next(
                    (l.get("href") for l in e.get("links", []) if l.get("rel") == "alternate"),
                    None,
                ),
                "published": iso(e.get("published_parsed")),
                "tags": [t.get("term") for t in e.get("tags", [])],
                "content": (e.get("content") or [{}])[0].get("value")
                if e.get("content")
                else e.get("summary"),
            }
        )
    updated = feed.get("updated_parsed")
    return {
        "version": d.version,
        "title": feed.get("title"),
        "language": feed.get("language"),
        "self": self_links[0] if self_links else None,
        "updated": iso(updated),
        "entries": entries,
    }


def rfc3339(path, value, what):
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if t.tzinfo is None:
            problem(path, f"{what} {value!r} has no offset")
        return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (AttributeError, ValueError):
        problem(path, f"{what} {value!r} is not RFC 3339")
        return None


def check_json_feed(path):
    with open(path, encoding="utf-8") as f:
        d = json.load(f)
    if d.get("version") != "https://jsonfeed.org/version/1.1":
        problem(path, f"version is {d.get('version')!r}")
    for key in ("title", "home_page_url", "feed_url"):
        if not isinstance(d.get(key), str) or not d[key]:
            problem(path, f"{key} must be a non-empty string")
    authors = d.get("authors")
    if not (isinstance(authors, list) and authors and all(a.get("name") for a in authors)):
        problem(path, "authors must list at least one named author")
    if not isinstance(d.get("items"), list):
        problem(path, "items must be a list")
        return {}
    entries = []
    seen = set()
    for i, item in enumerate(d["items"]):
        if not isinstance(item.get("id"), str) or not item["id"]:
            problem(path, f"item {i} has no string id")
        if item.get("id") in seen:
            problem(path, f"item {i} repeats id {item.get('id')!r}")
        seen.add(item.get("id"))
        if not (item.get("content_html") or item.get("content_text")):
            problem(path, f"item {i} has no content")
        tags = item.get("tags", [])
        if not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
            problem(path, f"item {i} tags must be strings")
        for key in item:
            known = {
                "id", "url", "external_url", "title", "content_html", "content_text",
                "summary", "image", "banner_image", "date_published", "date_modified",
                "authors", "tags", "language", "attachments",
            }
            if key not in known and not key.startswith("_"):
                problem(path, f"item {i} has unknown key {key!r}")
        entries.append(
            {
                "id": item.get("id"),
                "title": item.get("title"),
                "link": item.get("url"),
                "published": rfc3339(path, item.get("date_published"), f"item {i} date_published"),
                "tags": tags,
                "content": item.get("content_html"),
            }
        )
    return {
        "version": d.get("version"),
        "title": d.get("title"),
        "language": d.get("language"),
        "self": d.get("feed_url"),
        "entries": entries,
    }


def utc_iso(path, prop, what):
    if prop is None:
        problem(path, f"{what} missing")
        return None
    value = prop.dt
    if not isinstance(value, dt.datetime) or value.utcoffset() != dt.timedelta(0):
        problem(path, f"{what} {value!r} is not a UTC date-time")
        return None
    if not prop.to_ical().endswith(b"Z"):
        problem(path, f"{what} is not written in UTC form (...Z)")
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def check_ics(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw and not raw.endswith(b"\r\n"):
        problem(path, "does not end with CRLF")
    lines = raw.split(b"\r\n")[:-1]
    for n, line in enumerate(lines, 1):
        if b"\n" in line or b"\r" in line:
            problem(path, f"line {n} has a bare CR or LF")
        if len(line) > 75:
            problem(path, f"line {n} is {len(line)} octets (max 75)")
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            problem(path, f"line {n} was folded inside a UTF-8 sequence")
    cal = icalendar.Calendar.from_ical(raw)
    for key, want in (("VERSION", "2.0"), ("CALSCALE", "GREGORIAN")):
        if str(cal.get(key)) != want:
            problem(path, f"{key} is {cal.get(key)!r}, expected {want!r}")
    for key in ("PRODID", "X-WR-CALNAME"):
        if not cal.get(key):
            problem(path, f"no {key}")
    events = []
    uids = set()
    for i, ev in enumerate(cal.walk("VEVENT")):
        uid = str(ev.get("UID", ""))
        if not uid:
            problem(path, f"event {i} has no UID")
        if uid in uids:
            problem(path, f"event {i} repeats UID {uid!r}")
        uids.add(uid)
        for key in ("SUMMARY", "DTSTAMP"):
            if ev.get(key) is None:
                problem(path, f"event {i} has no {key}")
        events.append(
            {
                "uid": uid,
                "summary": str(ev.get("SUMMARY")),
                "start": utc_iso(path, ev.get("DTSTART"), f"event {i} DTSTART"),
                "end": utc_iso(path, ev.get("DTEND"), f"event {i} DTEND"),
                "stamp": utc_iso(path, ev.get("DTSTAMP"), f"event {i} DTSTAMP"),
                "location": str(ev.get("LOCATION")) if ev.get("LOCATION") else None,
                "description": str(ev.get("DESCRIPTION")) if ev.get("DESCRIPTION") else None,
                "url": str(ev.get("URL")) if ev.get("URL") else None,
                "categories": [str(c) for cats in _list(ev.get("CATEGORIES")) for c in cats.cats],
            }
        )
    return {"title": str(cal.get("X-WR-CALNAME")), "events": events}


def _list(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def main(paths):
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    out = {}
    for path in paths:
        try:
            if path.endswith(".rss.xml"):
                out[path] = check_feedparser(path, "rss20")
            elif path.endswith(".atom.xml"):
                out[path] = check_feedparser(path, "atom10")
            elif path.endswith(".json"):
                out[path] = check_json_feed(path)
            elif path.endswith(".ics"):
                out[path] = check_ics(path)
            else:
                problem(path, "unknown feed file suffix")
        except Exception as e:  # any parser crash is a problem with the file
            problem(path, f"cannot be parsed: {e!r}")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
