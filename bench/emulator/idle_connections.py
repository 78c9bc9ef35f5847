#!/usr/bin/python3
"""Opens N keep-alive connections to a running emulator, makes one request on each, keeps them all
open and idle, and prints the emulator's RSS before and after (from /proc/PID/status).
Usage: idle_connections.py PID PORT [N=10000]"""
import resource
import socket
import sys
import time

pid, port = int(sys.argv[1]), int(sys.argv[2])
n = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

BODY = b'{"operacion":"consultar_comprobante","tipo_de_comprobante":1,"serie":"FFF1","numero":1}'
REQ = (b"POST /api/v1/demo HTTP/1.1\r\nHost: x\r\nAuthorization: demo-token\r\n"
       b"Content-Type: application/json\r\nContent-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)


def rss_kb():
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def ask(s):
    s.sendall(REQ)
    data = b""
    while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + 40:
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
        if b'"codigo":24}' in data:
            break
    return data.startswith(b"HTTP/1.1 400")  # codigo 24: the document does not exist


before = rss_kb()
socks = []
t0 = time.time()
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(10)
    if not ask(s):
        sys.exit("unexpected answer on connection %d" % i)
    socks.append(s)
opened = time.time() - t0
time.sleep(1.0)
after = rss_kb()
# Still alive: every 100th connection answers again.
alive = sum(1 for s in socks[::100] if ask(s))
print("connections: %d open (opened and answered in %.1f s), %d/%d sampled still answer" %
      (len(socks), opened, alive, len(socks[::100])))
print("emulator RSS: before %.1f MiB, with %d idle connections %.1f MiB, %.1f KiB per connection" %
      (before / 1024, n, after / 1024, (after - before) / n))
for s in socks:
    s.close()
