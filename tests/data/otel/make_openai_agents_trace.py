"""Record one OpenAI Agents SDK run as OpenInference spans, exported as OTLP protobuf and JSON.

A triage agent hands the question off to a weather agent, which calls its tool and answers.

The agent, its chat-completions model class, the openai client, the OpenInference
instrumentation, the OpenTelemetry SDK and its OTLP encoder are the real packages; only the
model server is replaced by two canned chat.completion answers (a tool call, then the reply).
"""

import asyncio
import sys

import httpx2
from agents import Agent, OpenAIChatCompletionsModel, Runner, function_tool
from google.protobuf.json_format import MessageToJson
from openai import AsyncOpenAI
from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

ANSWERS = [
    {"id": "chatcmpl-0", "object": "chat.completion", "created": 1746999999,
     "model": "gpt-4o-2024-08-06",
     "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
         "role": "assistant", "content": None, "tool_calls": [{
             "id": "call_0", "type": "function",
             "function": {"name": "transfer_to_weather", "arguments": "{}"}}]}}],
     "usage": {"prompt_tokens": 64, "completion_tokens": 11, "total_tokens": 75}},
    {"id": "chatcmpl-1", "object": "chat.completion", "created": 1747000000,
     "model": "gpt-4o-mini-2024-07-18",
     "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
         "role": "assistant", "content": None, "tool_calls": [{
             "id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]}}],
     "usage": {"prompt_tokens": 81, "completion_tokens": 15, "total_tokens": 96}},
    {"id": "chatcmpl-2", "object": "chat.completion", "created": 1747000001,
     "model": "gpt-4o-mini-2024-07-18",
     "choices": [{"index": 0, "finish_reason": "stop", "message": {
         "role": "assistant", "content": "It is sunny in Paris."}}],
     "usage": {"prompt_tokens": 110, "completion_tokens": 9, "total_tokens": 119}},
]


def answer(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(200, json=ANSWERS.pop(0))


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


async def main(out: str) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "weather-agent"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    OpenAIAgentsInstrumentor().instrument(tracer_provider=provider)
    client = AsyncOpenAI(api_key="unused", base_url="http://model.invalid/v1",
                         http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(answer)))
    weather = Agent(name="weather", instructions="Answer with the weather.",
                    tools=[get_weather], model=OpenAIChatCompletionsModel("gpt-4o-mini", client))
    triage = Agent(name="triage", instructions="Hand weather questions to the weather agent.",
                   handoffs=[weather], model=OpenAIChatCompletionsModel("gpt-4o", client))
    await Runner.run(triage, "What is the weather in Paris?")
    request = encode_spans(exporter.get_finished_spans())
    with open(f"{out}.pb", "wb") as handle:
        handle.write(request.SerializeToString())
    with open(f"{out}.json", "w") as handle:
        handle.write(MessageToJson(request) + "\n")


asyncio.run(main(sys.argv[1]))
