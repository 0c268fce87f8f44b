#!/usr/bin/env python3
"""Parses every message in a Maildir with Python's email package (a real
MIME parser) and prints them as JSON: headers, the parts of a multipart in
order with their decoded text, and the SMTP envelope.

With --dkim-dns NAME=TXT (repeatable) each message's DKIM-Signature is also
verified by dkimpy (a real verifier), which is given those TXT records in
place of DNS: "dkim" then holds the result, the signature's tags and what
the verifier logged."""
import argparse
import email
import email.policy
import io
import json
import logging
import os
import sys


def verify_dkim(raw, records):
    import dkim
    import dkim.util

    def dnsfunc(name, timeout=5):
        return records.get(name.decode().rstrip("."), "").encode()

    log = io.StringIO()
    logger = logging.getLogger("dkim-check")
    logger.handlers = [logging.StreamHandler(log)]
    logger.setLevel(logging.DEBUG)
    d = dkim.DKIM(raw, logger=logger)
    try:
        valid = d.verify(dnsfunc=dnsfunc)
    except Exception as e:  # dkimpy raises on some bad signatures (nacl)
        logger.error("verifier raised: %r", e)
        valid = False
    sigs = [v for k, v in d.headers if k.lower() == b"dkim-signature"]
    tags = {}
    if sigs:
        tags = {k.decode(): v.decode() for k, v in dkim.util.parse_tag_value(sigs[0]).items()}
    return {"valid": bool(valid), "signatures": len(sigs), "tags": tags, "log": log.getvalue()}


ap = argparse.ArgumentParser()
ap.add_argument("maildir")
ap.add_argument("--dkim-dns", action="append", default=[])
args = ap.parse_args()
records = dict(r.split("=", 1) for r in args.dkim_dns)

out = []
new = os.path.join(args.maildir, "new")
for key in sorted(os.listdir(new)) if os.path.isdir(new) else []:
    with open(os.path.join(new, key), "rb") as f:
        raw = f.read()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    env_path = os.path.join(args.maildir, "envelopes", key + ".json")
    env = json.load(open(env_path)) if os.path.exists(env_path) else {}
    parts = []
    if msg.is_multipart():
        for p in msg.iter_parts():
            parts.append({"type": p.get_content_type(), "text": p.get_content()})
    else:
        parts.append({"type": msg.get_content_type(), "text": msg.get_content()})
    m = {
        "headers": {k.lower(): [str(v) for v in msg.get_all(k)] for k in set(msg.keys())},
        "raw_headers": [k for k in msg.keys()],
        "type": msg.get_content_type(),
        "parts": parts,
        "rcpt": env.get("rcpt_tos", []),
        "mail_from": env.get("mail_from"),
        "tls": env.get("tls", False),
        "authenticated": env.get("authenticated", False),
        "defects": [str(d) for d in msg.defects],
    }
    if records:
        m["dkim"] = verify_dkim(raw, records)
    out.append(m)
json.dump(out, sys.stdout)
