"""Record one LangGraph run as OpenInference spans, exported as OTLP protobuf.

The graph plans, researches two topics in parallel, then answers: four ChatOpenAI calls, the
middle two at the same time. LangGraph, langchain-openai, the openai client, the OpenInference
LangChain instrumentation, the OpenTelemetry SDK and its OTLP encoder are the real packages; only
the model server is replaced by canned chat.completion answers, each given after 50 ms.
"""

import asyncio
import json
import operator
import sys
from typing import Annotated, TypedDict

import httpx2
from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, StateGraph
from openinference.instrumentation.langchain import LangChainInstrumentor
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

TOKENS = {"plan": (40, 12), "research_a": (55, 30), "research_b": (57, 25), "answer": (120, 20)}


async def answer(request: httpx2.Request) -> httpx2.Response:
    prompt = json.loads(request.content)["messages"][-1]["content"]
    step = prompt.split(":", 1)[0]
    prompt_tokens, completion_tokens = TOKENS[step]
    await asyncio.sleep(0.05)
    return httpx2.Response(200, json={
        "id": f"chatcmpl-{step}", "object": "chat.completion", "created": 1747000000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": f"{step} done"}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens}})


class State(TypedDict):
    question: str
    notes: Annotated[list[str], operator.add]


def build(llm: ChatOpenAI):
    def node(name: str):
        async def step(state: State) -> dict:
            reply = await llm.ainvoke(f"{name}: {state['question']} {' '.join(state['notes'])}")
            return {"notes": [reply.content]}
        return step

    graph = StateGraph(State)
    for name in TOKENS:
        graph.add_node(name, node(name))
    graph.add_edge(START, "plan")
    graph.add_edge("plan", "research_a")
    graph.add_edge("plan", "research_b")
    graph.add_edge(["research_a", "research_b"], "answer")
    graph.add_edge("answer", END)
    return graph.compile()


async def main(out: str) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "research-graph"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    LangChainInstrumentor().instrument(tracer_provider=provider)
    llm = ChatOpenAI(model="gpt-4o-mini", api_key="unused", base_url="http://model.invalid/v1",
                     http_async_client=httpx2.AsyncClient(transport=httpx2.MockTransport(answer)))
    await build(llm).ainvoke({"question": "Why is the sky blue?", "notes": []})
    with open(f"{out}.pb", "wb") as handle:
        handle.write(encode_spans(exporter.get_finished_spans()).SerializeToString())


asyncio.run(main(sys.argv[1]))
