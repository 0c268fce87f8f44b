#!/usr/bin/env python3
"""A stand-in for Amazon SNS's side of an HTTPS subscription, on 127.0.0.1
(Python `cryptography`), for tests/email_events.rs.

  sns_peer.py --cert server.pem --key server.key

Makes a fresh RSA-2048 signing key and certificate, serves over HTTPS
(the test CA's server certificate) and prints `ready <port>`:

  GET  /SimpleNotificationService-test.pem   the signing certificate
  GET  /confirm?...                          a SubscribeURL: recorded
  GET  /hits                                 the paths of the GETs so far (JSON)
  POST /sign?version=1|2                     the message in the body, with
       SignatureVersion and Signature set, signed as AWS documents: the
       canonical "Name\\nvalue\\n" string of the type's fields, SHA1withRSA
       (1) or SHA256withRSA (2)
"""
import argparse
import base64
import datetime
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

NOTIFICATION = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
SUBSCRIPTION = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]

key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
now = datetime.datetime.now(datetime.timezone.utc)
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.test-region-1.amazonaws.com")])
cert_pem = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256())
            .public_bytes(serialization.Encoding.PEM))
hits = []
lock = threading.Lock()


def sign(message, version):
    names = NOTIFICATION if message["Type"] == "Notification" else SUBSCRIPTION
    text = "".join(f"{n}\n{message[n]}\n" for n in names if n in message)
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = key.sign(text.encode(), padding.PKCS1v15(), digest)
    return dict(message, SignatureVersion=version,
                Signature=base64.b64encode(signature).decode())


class Handler(BaseHTTPRequestHandler):
    def reply(self, code, body, kind="text/plain"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = urlparse(self.path).path
        if path == "/hits":
            with lock:
                return self.reply(200, json.dumps(hits), "application/json")
        with lock:
            hits.append(self.path)
        if path == "/SimpleNotificationService-test.pem":
            return self.reply(200, cert_pem)
        if path == "/confirm":
            return self.reply(200, "<ConfirmSubscriptionResponse/>", "text/xml")
        self.reply(404, "not found")

    def do_POST(self):
        query = parse_qs(urlparse(self.path).query)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        signed = sign(json.loads(body), query.get("version", ["1"])[0])
        self.reply(200, json.dumps(signed), "application/json")

    def log_message(self, *args):
        pass


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    a = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(a.cert, a.key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    print(f"ready {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
