"""The stack logdistributor ran, as a peer for bench/run: FastAPI + uvicorn + confluent-kafka.

POST /v1/packets validates the packet with pydantic, produces the body to <namespace>.packets keyed by the id with
acks=all and idempotence (and the ingest-time header logdist writes), and answers 202 only once the delivery report
came back, as logdist's ingest does. One producer per worker process; a thread serves its delivery reports.

  BENCH_BOOTSTRAP=host:port BENCH_TOPIC=ns.packets uvicorn fastapi_ingest:app --workers N --port P
"""
import asyncio
import os
import threading
import time
from enum import Enum
from typing import Any, Optional

from confluent_kafka import KafkaException, Producer
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class Level(str, Enum):
    TRACE = "TRACE"
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"
    FATAL = "FATAL"


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    level: Level
    message: str = Field(max_length=65536)
    timestamp: Optional[int] = Field(default=None, ge=0)
    attributes: Optional[dict[str, Any]] = None

    @field_validator("level", mode="before")
    @classmethod
    def any_case(cls, value):
        return value.upper() if isinstance(value, str) else value


class Packet(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str = Field(min_length=1, max_length=128)
    timestamp: Optional[int] = Field(default=None, ge=0)
    source: Optional[str] = None
    messages: list[Message] = Field(min_length=1, max_length=10000)


TOPIC = os.environ["BENCH_TOPIC"]
config = {
    "bootstrap.servers": os.environ["BENCH_BOOTSTRAP"],
    "acks": "all",
    "enable.idempotence": True,
    "linger.ms": 1,
    "compression.type": "lz4",
    "message.timeout.ms": 5000,
}
# The -X properties bench/run was given (k=v,k=v), as logdist gets them.
for pair in filter(None, os.environ.get("BENCH_KAFKA_PROPERTIES", "").split(",")):
    key, _, value = pair.partition("=")
    config[key] = value
producer = Producer(config)
app = FastAPI()


def serve_reports():
    while True:
        producer.poll(0.1)


threading.Thread(target=serve_reports, daemon=True).start()


@app.post("/v1/packets", status_code=202)
async def post_packet(request: Request):
    body = await request.body()
    try:
        packet = Packet.model_validate_json(body)
    except ValidationError as error:
        return JSONResponse({"error": "invalid", "detail": str(error.errors()[:1])}, status_code=422)
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def report(err, _msg):
        loop.call_soon_threadsafe(lambda: done.done() or done.set_result(err))

    headers = [("logdist-ingest-time", str(int(time.time() * 1000)).encode())]
    try:
        producer.produce(TOPIC, value=body, key=packet.id.encode(), headers=headers, on_delivery=report)
    except BufferError:
        return JSONResponse({"error": "unavailable"}, status_code=503, headers={"Retry-After": "1"})
    except KafkaException as error:
        return JSONResponse({"error": "unavailable", "detail": str(error)}, status_code=503, headers={"Retry-After": "1"})
    err = await done
    if err is not None:
        return JSONResponse({"error": "unavailable", "detail": str(err)}, status_code=503, headers={"Retry-After": "1"})
    return {"accepted": 1}
