"""A TCP relay that holds every byte back a fixed time in each direction.

Link latency for LAN tests and benchmarks where ``tc netem`` is missing (kernels
built without the netem qdisc). It runs inside an agent's namespace, listens on
the namespace's address and forwards to the agent, so coordinator traffic still
crosses the bridge; byte order is kept, and a slow reader slows the writer
(bounded queues) instead of filling memory.

    python -m tests.lan.delay_relay --listen 0.0.0.0:7879 --to 127.0.0.1:7878 --delay-ms 5

Prints ``relaying on HOST:PORT`` once it listens; stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

#: Reads at most this much at once, and queues at most this many reads per direction.
READ_BYTES = 256 * 1024
QUEUE_READS = 256


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(QUEUE_READS)

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            if not data:
                break
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()

    sender = asyncio.create_task(deliver())
    try:
        while data := await reader.read(READ_BYTES):
            await queue.put((loop.time() + delay, data))
        await queue.put((0.0, b""))
        await sender
    finally:
        sender.cancel()
        writer.close()


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


async def relay(listen: str, target: str, delay: float) -> None:
    to_host, to_port = _split(target)

    async def on_client(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            agent_reader, agent_writer = await asyncio.open_connection(to_host, to_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(_pump(client_reader, agent_writer, delay), _pump(agent_reader, client_writer, delay),
                             return_exceptions=True)

    host, port = _split(listen)
    server = await asyncio.start_server(on_client, host, port)
    bound = server.sockets[0].getsockname()
    print(f"relaying on {bound[0]}:{bound[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="TCP relay adding a fixed delay each way")
    parser.add_argument("--listen", required=True, help="HOST:PORT to listen on (port 0: any)")
    parser.add_argument("--to", required=True, help="HOST:PORT to forward to")
    parser.add_argument("--delay-ms", type=float, required=True, help="delay added in each direction")
    args = parser.parse_args(argv)
    asyncio.run(relay(args.listen, args.to, args.delay_ms / 1000.0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
