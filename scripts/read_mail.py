#!/usr/bin/env python3
"""Parses every message in a Maildir with Python's email package (a real
MIME parser) and prints them as JSON: headers, the parts of a multipart in
order with their decoded text, and the SMTP envelope."""
import email
import email.policy
import json
import os
import sys

root = sys.argv[1]
out = []
new = os.path.join(root, "new")
for key in sorted(os.listdir(new)) if os.path.isdir(new) else []:
    with open(os.path.join(new, key), "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.default)
    env_path = os.path.join(root, "envelopes", key + ".json")
    env = json.load(open(env_path)) if os.path.exists(env_path) else {}
    parts = []
    if msg.is_multipart():
        for p in msg.iter_parts():
            parts.append({"type": p.get_content_type(), "text": p.get_content()})
    else:
        parts.append({"type": msg.get_content_type(), "text": msg.get_content()})
    out.append({
        "headers": {k.lower(): [str(v) for v in msg.get_all(k)] for k in set(msg.keys())},
        "raw_headers": [k for k in msg.keys()],
        "type": msg.get_content_type(),
        "parts": parts,
        "rcpt": env.get("rcpt_tos", []),
        "defects": [str(d) for d in msg.defects],
    })
json.dump(out, sys.stdout)
