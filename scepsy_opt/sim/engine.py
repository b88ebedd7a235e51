"""One instance as a continuous-batching engine (vLLM's scheduler, simplified faithfully).

Every iteration runs the decode step of all running sequences and prefill chunks of admitted
ones under a token budget (``max_num_batched_tokens``): first the prompts already being
prefilled, then new requests from the FIFO waiting queue, admitted while fewer than
``max_num_seqs`` sequences run and the KV cache has room for the whole prompt with 1% to spare
(vLLM's admission check and watermark); a prompt that cannot fit even an empty cache is
rejected, as the engine rejects it. A sequence whose prompt completes in an iteration emits its
first token at the end of it, then decodes one token per iteration. When the running sequences'
next tokens do not fit the KV cache, the most recently admitted running sequence is preempted
(recompute, as vLLM does): its cache is freed and it waits at the head of the queue to prefill
its prompt plus the tokens it had generated.

**Event skipping.** While no prefill is scheduled the batch changes only when a sequence
finishes, the cache fills up, or a new call arrives, so consecutive decode iterations are
simulated as one *phase* of ``k`` iterations at the step time of the phase's mean context. A
call arriving mid-phase cuts the phase at the next iteration boundary (new calls join at
iteration boundaries, as in vLLM); an idle instance wakes up once every call submitted at the
same instant has queued, so a fan-out starts as one batch. Per-sequence progress is implicit:
a sequence that emitted its first token at iteration ``q`` has generated ``1 + j - q`` tokens
after iteration ``j``, so a phase costs O(log n) whatever the batch size.

**Shared GPUs.** An instance placed on a GPU that another instance also uses declares each
phase's step (split into host, compute and memory-bound parts) to the GPUs' contention model
(:mod:`scepsy_opt.sim.contention`) and runs at the step time it returns; when a neighbour
starts or ends a phase, the rest of the current phase is retimed from that instant (progress
is tracked as iterations done by a mark time), so iteration times follow which neighbours are
active, event by event.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from typing import TYPE_CHECKING

from scepsy_opt.sim.iteration import IterationModel

WATERMARK = 100  # 1 / WATERMARK of the KV cache stays free when admitting new requests

if TYPE_CHECKING:
    from scepsy_opt.sim.contention import SharedGpus
    from scepsy_opt.sim.simulator import Simulation


class Instance:
    """A replica of one llm: its queue, running sequences and phase."""

    __slots__ = (
        "index", "llm", "model", "kv_capacity", "max_seqs", "max_batched", "sim",
        "waiting", "prefilling", "decoding", "n_dec", "sum_prompt", "sum_start", "sum_finish",
        "it", "kv_prefill", "busy", "version", "phase_start", "phase_step", "phase_iters",
        "busy_s", "prefill_cost", "decode_cost", "queued_prefill", "queued_decode",
        "iterations", "preemptions", "in_boundary", "kv_reserved", "shared", "phase_done",
        "phase_mark",
    )

    def __init__(self, index: int, llm: int, model: IterationModel, kv_capacity: int,
                 max_seqs: int, max_batched: int, sim: Simulation) -> None:
        self.index = index
        self.llm = llm
        self.model = model
        self.kv_capacity = kv_capacity
        self.max_seqs = max_seqs
        self.max_batched = max_batched
        self.sim = sim
        self.waiting: deque[int] = deque()
        self.prefilling: list[list[int]] = []  # [call, prefilled tokens]
        self.decoding: list[tuple[int, int]] = []  # heap of (finish iteration, call)
        self.n_dec = 0
        self.sum_prompt = 0  # sum of the prefilled lengths of decoding sequences
        self.sum_start = 0  # sum of the iterations at which they emitted their first token
        self.sum_finish = 0  # sum of their finish iterations
        self.it = 0  # iterations completed
        self.kv_prefill = 0  # cache held by sequences still prefilling
        self.kv_reserved = 0  # prompt tokens admitted but not yet prefilled
        self.busy = False
        self.version = 0
        self.phase_start = 0.0
        self.phase_step = 0.0
        self.phase_iters = 0
        # progress of the phase: ``phase_done`` iterations by ``phase_mark``, at ``phase_step``
        # seconds each since (a neighbour's change of load retimes the rest of the phase)
        self.phase_done = 0.0
        self.phase_mark = 0.0
        self.shared: SharedGpus | None = None  # set when the instance shares a GPU
        self.busy_s = 0.0
        self.iterations = 0
        self.preemptions = 0
        self.in_boundary = False
        # Unit costs for least-outstanding-work routing (ms per token, unloaded).
        self.decode_cost = model.step_ms(1, 1024.0, 0, 0.0, 0.0, 1)
        self.prefill_cost = model.step_ms(0, 0.0, 512, 512 * 256.5, 512.0, 0) / 512
        self.queued_prefill = 0  # prompt tokens not yet prefilled (waiting + prefilling)
        self.queued_decode = 0  # output tokens of waiting and prefilling calls

    # ------------------------------------------------------------------ routing support

    def _done_at(self, now: float) -> float:
        """Iterations of the current phase completed by ``now`` (fractional)."""
        return self.phase_done + (now - self.phase_mark) / self.phase_step

    def outstanding_ms(self, now: float) -> float:
        """Estimated unloaded work left (ms): prompts to prefill and tokens to generate."""
        iteration = self.it
        if self.busy and self.phase_iters > 1 and self.phase_step > 0:
            iteration += min(self.phase_iters, int(self._done_at(now)))
        decode_left = self.sum_finish - self.n_dec * iteration
        return (self.queued_prefill * self.prefill_cost
                + (self.queued_decode + decode_left) * self.decode_cost)

    # ------------------------------------------------------------------ events

    def submit(self, call: int, now: float) -> None:
        """A call arrives: queue it; start iterating if idle, else cut a long phase short."""
        sim = self.sim
        self.waiting.append(call)
        self.queued_prefill += sim.prefill_len[call]
        self.queued_decode += sim.output_left[call]
        if self.in_boundary:
            return  # the boundary being processed plans next
        if not self.busy:
            # Wake up after every call submitted at this same instant has queued (a fan-out
            # submits its calls one by one): a zero-iteration phase ending now.
            self.busy = True
            self.phase_start = now
            self.phase_iters = 0
            self.version += 1
            sim.schedule_boundary(self, now)
        elif self.phase_iters > 1:
            done = max(1, math.ceil(self._done_at(now) - 1e-12))
            if done < self.phase_iters:
                self.phase_iters = done
                self.version += 1
                sim.schedule_boundary(self, self.phase_mark + (done - self.phase_done)
                                      * self.phase_step)

    def retime(self, now: float, step_ms: float) -> None:
        """A neighbour's load changed: the rest of the phase runs at ``step_ms`` per
        iteration from ``now``."""
        if not self.busy or self.phase_iters == 0:
            return
        done = min(self._done_at(now), float(self.phase_iters))
        self.phase_done = done
        self.phase_mark = now
        self.phase_step = step_ms / 1e3
        self.version += 1
        self.sim.schedule_boundary(self, now + (self.phase_iters - done) * self.phase_step)

    def boundary(self, now: float) -> None:
        """The scheduled iterations ended at ``now``: apply them, then plan the next ones."""
        iters = self.phase_iters
        self.in_boundary = True
        self.busy_s += now - self.phase_start
        self.iterations += iters
        self.it += iters
        sim = self.sim
        if self.prefilling and iters == 1:
            self._finish_prefill_chunks(now)
        decoding = self.decoding
        while decoding and decoding[0][0] <= self.it:
            _, call = heapq.heappop(decoding)
            self.n_dec -= 1
            start = sim.decode_start[call]
            self.sum_prompt -= sim.prefill_len[call]
            self.sum_start -= start
            self.sum_finish -= start + sim.output_left[call] - 1
            sim.call_finished(call, now)
        self.busy = False
        self.in_boundary = False
        self._plan(now)
        if self.shared is not None and not self.busy:
            self.shared.set_step(self, None, now)  # idle: the neighbours get its bandwidth

    # ------------------------------------------------------------------ scheduling

    def _decode_context(self, iteration: int) -> int:
        """Sum over decoding sequences of their context during ``iteration``."""
        return self.sum_prompt + self.n_dec * iteration - self.sum_start

    def _kv_used(self) -> int:
        return self._decode_context(self.it) + self.kv_prefill

    def _plan(self, now: float) -> None:
        sim = self.sim
        # Running sequences' next tokens and the prompts already admitted must fit: preempt the
        # newest until they do.
        while (self.n_dec or self.prefilling) and \
                self._kv_used() + self.kv_reserved + self.n_dec > self.kv_capacity:
            self._preempt_newest()
        budget = self.max_batched - self.n_dec
        chunks: list[tuple[list[int], int]] = []
        for entry in self.prefilling:
            if budget <= 0:
                break
            call, done = entry
            size = min(sim.prefill_len[call] - done, budget)
            chunks.append((entry, size))
            budget -= size
        # A new request needs room for its whole prompt, and 1% of the cache stays free.
        kv_free = (self.kv_capacity - self._kv_used() - self.kv_reserved - self.n_dec
                   - self.kv_capacity // WATERMARK)
        while (self.waiting and budget > 0
               and self.n_dec + len(self.prefilling) < self.max_seqs):
            call = self.waiting[0]
            need = sim.prefill_len[call]
            if need > kv_free:
                if self.n_dec or self.prefilling:
                    break  # wait for running sequences to free the cache
                if need + 1 > self.kv_capacity:
                    # alone it still cannot fit: the engine rejects it
                    self.waiting.popleft()
                    self.queued_prefill -= need
                    self.queued_decode -= sim.output_left[call]
                    sim.call_rejected(call, now)
                    continue
                # an empty engine admits it without the watermark
            self.waiting.popleft()
            sim.admitted += 1
            sim.admit_order[call] = sim.admitted
            entry = [call, 0]
            self.prefilling.append(entry)
            self.kv_reserved += need
            kv_free -= need
            sim.call_scheduled(call, now)
            size = min(need, budget)
            chunks.append((entry, size))
            budget -= size
        n = self.n_dec
        if chunks:
            tokens = pairs = kv = 0.0
            sampled = n
            for (call, done), size in chunks:
                tokens += size
                pairs += size * (done + (size + 1) / 2)
                kv += done + size
                if done + size == sim.prefill_len[call] and sim.output_left[call] > 0:
                    sampled += 1
            step = self._step_ms(now, n, self._decode_context(self.it + 1), int(tokens),
                                 pairs, kv, sampled)
            self._start_phase(now, step, 1, chunks)
            return
        if not n:
            return  # idle: nothing runs, nothing can be admitted
        # Pure decode: skip to the next finish or until the cache is full.
        until_finish = self.decoding[0][0] - self.it
        until_full = max(1, (self.kv_capacity - self._kv_used()) // n)
        iters = max(1, min(until_finish, until_full))
        mean_context = self._decode_context(self.it + 1) + n * (iters - 1) / 2
        step = self._step_ms(now, n, mean_context, 0, 0.0, 0.0, n)
        self._start_phase(now, step, iters, None)

    def _step_ms(self, now: float, decode_seqs: int, decode_context: float,
                 prefill_tokens: int, prefill_pairs: float, prefill_kv: float,
                 sampled: int) -> float:
        """The step time of the next phase: isolated, or next to the GPU's active neighbours
        (declaring the step to them)."""
        args = (decode_seqs, decode_context, prefill_tokens, prefill_pairs, prefill_kv, sampled)
        if self.shared is None:
            return self.model.step_ms(*args)
        return self.shared.set_step(self, self.model.step_parts(*args), now)

    def _start_phase(self, now: float, step_ms: float, iters: int,
                     chunks: list[tuple[list[int], int]] | None) -> None:
        self.busy = True
        self.version += 1
        self.phase_start = now
        self.phase_step = step_ms / 1e3
        self.phase_iters = iters
        self.phase_done = 0.0
        self.phase_mark = now
        if chunks is not None:
            for entry, size in chunks:
                entry[1] += size
                self.kv_prefill += size
                self.kv_reserved -= size
                self.queued_prefill -= size
        self.sim.schedule_boundary(self, now + iters * self.phase_step)

    def _finish_prefill_chunks(self, now: float) -> None:
        sim = self.sim
        still: list[list[int]] = []
        for entry in self.prefilling:
            call, done = entry
            length = sim.prefill_len[call]
            if done < length:
                still.append(entry)
                continue
            self.kv_prefill -= done
            out = sim.output_left[call]
            self.queued_decode -= out
            if out <= 1:
                # prefill-only (scoring) calls and single-token answers end here
                sim.call_first_token(call, now)
                sim.call_finished(call, now)
                continue
            sim.call_first_token(call, now)
            sim.decode_start[call] = self.it
            heapq.heappush(self.decoding, (self.it + out - 1, call))
            self.n_dec += 1
            self.sum_prompt += length
            self.sum_start += self.it
            self.sum_finish += self.it + out - 1
        self.prefilling = still

    def _preempt_newest(self) -> None:
        """Free the most recently admitted running sequence (vLLM's lowest priority); it waits
        at the head of the queue and re-prefills its prompt and the tokens it generated."""
        sim = self.sim
        order = sim.admit_order
        newest_prefill = max(self.prefilling, key=lambda e: order[e[0]], default=None)
        newest_decode = max(range(len(self.decoding)),
                            key=lambda i: order[self.decoding[i][1]], default=None)
        if newest_prefill is not None and (newest_decode is None or order[
                newest_prefill[0]] > order[self.decoding[newest_decode][1]]):
            call, done = newest_prefill
            self.prefilling.remove(newest_prefill)
            self.kv_prefill -= done
            self.kv_reserved -= sim.prefill_len[call] - done
            self.queued_prefill += done  # its output tokens are still counted as queued
            sim.preempted_calls += 1
            self.preemptions += 1
            self.waiting.appendleft(call)
            return
        finish, call = self.decoding.pop(newest_decode)
        heapq.heapify(self.decoding)
        start = sim.decode_start[call]
        generated = 1 + self.it - start
        self.n_dec -= 1
        self.sum_prompt -= sim.prefill_len[call]
        self.sum_start -= start
        self.sum_finish -= finish
        sim.prefill_len[call] += generated
        sim.output_left[call] -= generated
        sim.preempted_calls += 1
        self.preemptions += 1
        self.waiting.appendleft(call)
        self.queued_prefill += sim.prefill_len[call]
        self.queued_decode += sim.output_left[call]
