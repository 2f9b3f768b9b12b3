"""The floor for `make bench`'s checks: a plain asyncio client that does what backend_handshake does per backend
(TCP connect, TLS handshake verified against a CA file, one HTTP request, the response head) and nothing else: no
mod_ssl semantics, no explanation, no Ansible. Run as its own process, like the module.

Usage: python asyncio_client.py CA_FILE CONCURRENCY PORT... ; prints a JSON object {"seconds": ..., "ok": ..., "n": ...}.
"""
import asyncio
import json
import ssl
import sys
import time


async def one(port, context, limit):
    async with limit:
        try:
            reader, writer = await asyncio.open_connection("localhost", port, ssl=context, server_hostname="localhost")
            writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            writer.close()
            return head.startswith(b"HTTP/1.1 2")
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return False


async def main(ca_file, concurrency, ports):
    context = ssl.create_default_context(cafile=ca_file)
    limit = asyncio.Semaphore(concurrency)
    start = time.monotonic()
    results = await asyncio.gather(*(one(p, context, limit) for p in ports))
    return {"seconds": time.monotonic() - start, "ok": sum(results), "n": len(ports)}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], int(sys.argv[2]), [int(p) for p in sys.argv[3:]]))))
