#!/usr/bin/env python3
"""A small authoritative DNS server on 127.0.0.1 (dnspython, which dkimpy
already brings into the venv), for tests of `crier channels test`.

  dns_peer.py ZONE.json

ZONE.json maps names to lists of TXT values (a value longer than 255
bytes is split into strings, as a zone file would). Answers TXT queries
for those names over UDP and TCP on one port, NXDOMAIN for other names,
and prints `ready <port>`.
"""
import json
import socket
import socketserver
import sys
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


def answer(wire, zone):
    query = dns.message.from_wire(wire)
    response = dns.message.make_response(query)
    question = query.question[0]
    name = question.name.to_text(omit_final_dot=True).lower()
    if name not in zone:
        response.set_rcode(dns.rcode.NXDOMAIN)
    elif question.rdtype == dns.rdatatype.TXT:
        texts = []
        for value in zone[name]:
            chunks = [value[i:i + 255] for i in range(0, len(value), 255)] or [""]
            texts.append(" ".join(json.dumps(c) for c in chunks))
        response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", "TXT", texts))
    return response.to_wire(max_size=65535)


def main():
    with open(sys.argv[1]) as f:
        zone = {k.lower().rstrip("."): v for k, v in json.load(f).items()}
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    port = udp.getsockname()[1]

    class Tcp(socketserver.BaseRequestHandler):
        def handle(self):
            size = int.from_bytes(self.request.recv(2), "big")
            data = b""
            while len(data) < size:
                data += self.request.recv(size - len(data))
            out = answer(data, zone)
            self.request.sendall(len(out).to_bytes(2, "big") + out)

    tcp = socketserver.ThreadingTCPServer(("127.0.0.1", port), Tcp)
    threading.Thread(target=tcp.serve_forever, daemon=True).start()
    print(f"ready {port}", flush=True)
    while True:
        data, peer = udp.recvfrom(4096)
        out = answer(data, zone)
        query = dns.message.from_wire(data)
        if len(out) > (query.payload if query.edns >= 0 else 512):
            # Too big for this UDP answer: truncated, the client asks over TCP.
            short = dns.message.make_response(query)
            short.flags |= dns.flags.TC
            out = short.to_wire()
        udp.sendto(out, peer)


if __name__ == "__main__":
    main()
