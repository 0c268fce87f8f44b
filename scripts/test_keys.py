#!/usr/bin/env python3
"""Keys and certificates made fresh for one test run (Python `cryptography`).

  test_keys.py tls DIR        a CA (DIR/ca.pem) and a server certificate it
                              signed for 127.0.0.1 and localhost
                              (DIR/server.pem, DIR/server.key)
  test_keys.py dkim-rsa FILE      an RSA-2048 key, PKCS#1 PEM, in FILE
  test_keys.py dkim-ed25519 FILE  an Ed25519 seed, base64, in FILE

The dkim commands print the DNS TXT record of the public key (RFC 6376,
RFC 8463), which a verifier is then given in place of DNS.
"""
import base64
import datetime
import ipaddress
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID


def write(path, data, private=False):
    with open(path, "wb") as f:
        f.write(data)
    if private:
        os.chmod(path, 0o600)


def tls(d):
    os.makedirs(d, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "crier test CA")])
    ca = (x509.CertificateBuilder()
          .subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, key_cert_sign=True, crl_sign=True,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    write(os.path.join(d, "ca.pem"), ca.public_bytes(pem))
    write(os.path.join(d, "server.pem"), cert.public_bytes(pem))
    write(os.path.join(d, "server.key"), key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()), private=True)


def dkim_rsa(path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    write(path, key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption()), private=True)
    spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    print("v=DKIM1; k=rsa; p=" + base64.b64encode(spki).decode())


def dkim_ed25519(path):
    key = ed25519.Ed25519PrivateKey.generate()
    raw = serialization.Encoding.Raw
    seed = key.private_bytes(raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    write(path, base64.b64encode(seed) + b"\n", private=True)
    public = key.public_key().public_bytes(raw, serialization.PublicFormat.Raw)
    print("v=DKIM1; k=ed25519; p=" + base64.b64encode(public).decode())


if __name__ == "__main__":
    cmd, arg = sys.argv[1], sys.argv[2]
    {"tls": tls, "dkim-rsa": dkim_rsa, "dkim-ed25519": dkim_ed25519}[cmd](arg)
