#!/usr/bin/python3
"""The clients users would otherwise pick, reproduced for side-by-side benchmarks (bench/compare.sh).

Modes (Debian packages only: python3-httpx, python3-requests, python3-aiohttp):
  httpx-semaphore   the seed system's pattern: asyncio + one shared httpx.AsyncClient + Semaphore(C)
  httpx-per-request the seed's quick-start code: a new httpx.AsyncClient for every request
  requests-seq      the seed's sync service: requests.Session, one document after another
  aiohttp           aiohttp.ClientSession + Semaphore(C), the fastest common Python client

Each document is the template with a fresh `numero` (so the emulator never answers codigo 23).
Prints one JSON object: mode, documents, seconds, docs_per_s, p50/p95/p99/max latency (ms),
errors by kind, client CPU seconds, peak RSS (MB).
"""
import argparse
import asyncio
import json
import resource
import sys
import time


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * (len(sorted_values) - 1)))))
    return sorted_values[k]


def make_bodies(template, serie, first, count):
    doc = json.loads(template)
    doc["serie"] = serie
    for n in range(first, first + count):
        doc["numero"] = n
        yield json.dumps(doc, separators=(",", ":")).encode()


def headers(token):
    return {"Authorization": f'Token token="{token}"', "Content-Type": "application/json"}


def classify(status, body):
    if status == 200:
        return None
    try:
        return f"codigo_{json.loads(body).get('codigo')}"
    except Exception:
        return f"http_{status}"


async def run_httpx(args, bodies, shared):
    import httpx

    sem = asyncio.Semaphore(args.concurrency)
    lat, errors = [], {}
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    client = httpx.AsyncClient(timeout=args.timeout, limits=limits) if shared else None

    async def one(body):
        async with sem:
            t0 = time.perf_counter()
            try:
                if shared:
                    r = await client.post(args.url, content=body, headers=headers(args.token))
                else:
                    async with httpx.AsyncClient(timeout=args.timeout) as c:
                        r = await c.post(args.url, content=body, headers=headers(args.token))
                err = classify(r.status_code, r.content)
            except Exception as e:  # noqa: BLE001 - a benchmark counts every failure kind
                err = type(e).__name__
            lat.append(time.perf_counter() - t0)
            if err:
                errors[err] = errors.get(err, 0) + 1

    try:
        await asyncio.gather(*(one(b) for b in bodies))
    finally:
        if client:
            await client.aclose()
    return lat, errors


async def run_aiohttp(args, bodies):
    import aiohttp

    sem = asyncio.Semaphore(args.concurrency)
    lat, errors = [], {}
    conn = aiohttp.TCPConnector(limit=args.concurrency)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    async with aiohttp.ClientSession(connector=conn, timeout=timeout) as session:

        async def one(body):
            async with sem:
                t0 = time.perf_counter()
                try:
                    async with session.post(args.url, data=body, headers=headers(args.token)) as r:
                        content = await r.read()
                        err = classify(r.status, content)
                except Exception as e:  # noqa: BLE001
                    err = type(e).__name__
                lat.append(time.perf_counter() - t0)
                if err:
                    errors[err] = errors.get(err, 0) + 1

        await asyncio.gather(*(one(b) for b in bodies))
    return lat, errors


def run_requests(args, bodies):
    import requests

    lat, errors = [], {}
    with requests.Session() as s:
        for body in bodies:
            t0 = time.perf_counter()
            try:
                r = s.post(args.url, data=body, headers=headers(args.token), timeout=args.timeout)
                err = classify(r.status_code, r.content)
            except Exception as e:  # noqa: BLE001
                err = type(e).__name__
            lat.append(time.perf_counter() - t0)
            if err:
                errors[err] = errors.get(err, 0) + 1
    return lat, errors


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", required=True,
                    choices=["httpx-semaphore", "httpx-per-request", "requests-seq", "aiohttp"])
    ap.add_argument("--url", required=True, help="RUTA, e.g. http://127.0.0.1:8000/api/v1/demo")
    ap.add_argument("--token", required=True)
    ap.add_argument("--template", required=True, help="a generar_comprobante JSON file")
    ap.add_argument("--serie", default="F500")
    ap.add_argument("--first", type=int, default=1)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--timeout", type=float, default=60.0)
    args = ap.parse_args()
    template = open(args.template, encoding="utf-8").read()
    bodies = list(make_bodies(template, args.serie, args.first, args.count))

    cpu0 = time.process_time()
    t0 = time.perf_counter()
    if args.mode == "httpx-semaphore":
        lat, errors = asyncio.run(run_httpx(args, bodies, shared=True))
    elif args.mode == "httpx-per-request":
        lat, errors = asyncio.run(run_httpx(args, bodies, shared=False))
    elif args.mode == "aiohttp":
        lat, errors = asyncio.run(run_aiohttp(args, bodies))
    else:
        lat, errors = run_requests(args, bodies)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    lat.sort()
    ok = len(lat) - sum(errors.values())
    print(json.dumps({
        "client": f"python-{args.mode}", "documents": len(bodies), "ok": ok, "seconds": round(seconds, 4),
        "docs_per_s": round(ok / seconds, 1) if seconds > 0 else 0.0,
        "p50_ms": round(percentile(lat, 50) * 1000, 3), "p95_ms": round(percentile(lat, 95) * 1000, 3),
        "p99_ms": round(percentile(lat, 99) * 1000, 3), "max_ms": round((lat[-1] if lat else 0) * 1000, 3),
        "errors": errors, "cpu_seconds": round(cpu, 3),
        "cpu_us_per_doc": round(cpu / len(bodies) * 1e6, 1) if bodies else 0,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "concurrency": args.concurrency,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
