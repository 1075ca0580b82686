"""A load process for the durability tests: posts batches with fresh uuids
until the server goes away, appending every acknowledged uuid to a file."""

from __future__ import annotations

import json
import sys
import threading
import uuid

import httpx


def send(url: str, token: str, out: str, lock: threading.Lock, batch_size: int) -> None:
    with httpx.Client(base_url=url, timeout=5) as client, open(out, "a") as acked:
        while True:
            uuids = [str(uuid.uuid4()) for _ in range(batch_size)]
            body = {
                "api_key": token,
                "batch": [
                    {
                        "event": "load",
                        "distinct_id": f"user-{u[:4]}",
                        "uuid": u,
                        "properties": {"$process_person_profile": False, "n": i},
                    }
                    for i, u in enumerate(uuids)
                ],
            }
            try:
                response = client.post("/batch/", content=json.dumps(body))
            except httpx.HTTPError:
                return
            if response.status_code != 200:
                return
            with lock:
                acked.write("\n".join(uuids) + "\n")
                acked.flush()


def main() -> None:
    url, token, out = sys.argv[1:4]
    lock = threading.Lock()
    threads = [threading.Thread(target=send, args=(url, token, out, lock, 50)) for _ in range(4)]
    for thread in threads:
        thread.start()
    print("started", flush=True)
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main()
