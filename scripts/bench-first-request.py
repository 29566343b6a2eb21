#!/usr/bin/env python3
"""Time from starting `nectr review --repo … --pr … --dry-run` to its first GitHub request.

Usage: scripts/bench-first-request.py PATH/TO/nectr [RUNS]
A loopback listener plays GitHub: it records when the first connection arrives, then
answers 503 so nectr gives up quickly (retries are disabled through the environment).
"""
import os
import socket
import statistics
import subprocess
import sys
import time

binary = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 30
samples = []
for _ in range(runs):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "GITHUB_API_URL": f"http://127.0.0.1:{port}",
        "GITHUB_TOKEN": "bench-token",
        "NECTR_GITHUB_RETRY_BASE_MS": "0",
    }
    start = time.perf_counter()
    proc = subprocess.Popen(
        [binary, "review", "--repo", "bench/repo", "--pr", "1", "--dry-run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    conn, _ = server.accept()
    samples.append((time.perf_counter() - start) * 1000)
    # Read the request line, then keep answering 503 until nectr gives up.
    server.settimeout(2)
    while True:
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            conn.close()
            conn, _ = server.accept()
        except (socket.timeout, OSError):
            break
    proc.wait(timeout=10)
    server.close()
samples.sort()
print(
    f"first request after start: median {statistics.median(samples):.2f} ms, "
    f"min {samples[0]:.2f} ms, p90 {samples[int(len(samples) * 0.9) - 1]:.2f} ms ({runs} runs)"
)
