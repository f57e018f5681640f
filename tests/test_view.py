"""labsupport.view: events in, card state out; coalesced redraws under a flood; Stop that stops.

No browser here: the widgets live in the test process and their values are
what a front end would receive. tests/browser/test_lab_view.py checks the
same card in a real JupyterLab.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import time
from collections.abc import AsyncGenerator, Generator

import pytest

from labsupport import (
    DoneEvent,
    MockLLM,
    StatusEvent,
    TokenEvent,
    achat_stream,
    chat_stream,
)
from labsupport.longanswer import LongAnswerLLM, long_answer
from labsupport.view import LiveView, watch

QUESTION = "Who runs billing?"


def expected_answer() -> str:
    events = chat_stream(QUESTION, llm=MockLLM.instant())
    return "".join(e.text for e in events if e.type == "token")


async def wait_until(condition: object, timeout: float = 5.0) -> None:
    async def poll() -> None:
        # Polling on purpose: the view exposes no event for "the state reached X".
        while not condition():  # type: ignore[operator]  # noqa: ASYNC110
            await asyncio.sleep(0.002)

    await asyncio.wait_for(poll(), timeout)


class RecordingView(LiveView):
    """A LiveView that notes when each redraw happened."""

    def __init__(self, **options: float) -> None:
        self.redraw_times: list[float] = []
        super().__init__(**options)  # type: ignore[arg-type]

    def _redraw(self) -> None:
        if self._loop is not None:
            self.redraw_times.append(self._loop.time())
        super()._redraw()


# -- events in, state out ------------------------------------------------------------


async def test_a_finished_run_shows_answer_sources_cost_and_folds_the_steps() -> None:
    view = watch(achat_stream(QUESTION, llm=MockLLM.instant(), run_id="run_v1"), title=QUESTION)
    state = await view
    assert state is view.state
    assert view.outcome == "finished" and view.done
    assert view.text == expected_answer()
    assert [e.type for e in view.events][-2:] == ["cost", "done"]
    assert view.cost is not None and view.cost.completion_tokens == 30
    assert html.escape(view.text) in view._card.answer.value
    assert "lsv-caret" not in view._card.answer.value
    assert "<b>D1</b>Payments team" in view._card.sources.value
    assert "$0.0000985" in view._card.footer.value
    assert "Done" in view._card.status.value
    assert view._card.thinking.selected_index is None  # folded away once the answer is done
    assert view._card.thinking.titles[0].startswith("Worked for ")
    assert "search_kb(query=&quot;runs billing&quot;, k=3)" in view._card.steps.value
    assert view._card.stop_button.disabled
    assert view._card.error.value == ""


async def test_a_sync_stream_gives_the_same_events_as_the_async_one() -> None:
    sync_view = watch(chat_stream(QUESTION, llm=MockLLM.instant(), run_id="run_same"))
    async_view = watch(achat_stream(QUESTION, llm=MockLLM.instant(), run_id="run_same"))
    await sync_view
    await async_view
    assert [e.to_dict() for e in sync_view.events] == [e.to_dict() for e in async_view.events]
    assert sync_view.summary() == async_view.summary()


async def test_status_and_skeleton_show_before_the_first_token() -> None:
    llm = MockLLM(ttft=0.3, tokens_per_second=None, tool_delay=0.0)
    view = watch(achat_stream(QUESTION, llm=llm))
    assert "Starting…" in view._card.status.value
    # Redraws are coalesced, so the card catches up with the state a moment later.
    await wait_until(lambda: "Writing the answer…" in view._card.status.value)
    assert view.state.token_count == 0
    assert "lsv-skeleton" in view._card.answer.value
    assert view._card.thinking.selected_index == 0  # the steps are open while it works
    await view
    assert "lsv-skeleton" not in view._card.answer.value


async def test_stream_text_is_escaped_never_interpreted() -> None:
    def stream() -> Generator[StatusEvent | TokenEvent | DoneEvent, None, None]:
        yield StatusEvent(run_id="run_x", seq=0, message="<b>thinking</b>")
        yield TokenEvent(run_id="run_x", seq=1, text="<script>alert(1)</script>")
        yield TokenEvent(run_id="run_x", seq=2, text=" & done")
        yield DoneEvent(run_id="run_x", seq=3)

    view = watch(stream(), title="<i>q</i>")
    state = await view
    assert state.answer == "<script>alert(1)</script> & done"
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; done" in view._card.answer.value
    assert "<script>" not in view._card.answer.value
    assert "&lt;b&gt;thinking&lt;/b&gt;" in view._card.steps.value
    assert "&lt;i&gt;q&lt;/i&gt;" in view._card.title.value


async def test_error_event_shows_the_error_box_and_keeps_the_partial_answer() -> None:
    view = watch(achat_stream(QUESTION, llm=MockLLM.instant(fail_after_tokens=5)))
    await view
    assert view.outcome == "error"
    assert view.state.token_count == 5
    assert "model_error" in view._card.error.value and 'role="alert"' in view._card.error.value
    assert "Failed" in view._card.status.value
    assert view._card.thinking.selected_index == 0  # left open: the steps help explain the failure
    assert "error: model_error: the model failed after 5 tokens" in view.summary()


async def test_a_stream_that_raises_ends_in_the_error_state() -> None:
    def broken() -> Generator[StatusEvent, None, None]:
        yield StatusEvent(run_id="run_b", seq=0, message="thinking")
        raise ConnectionError("upstream closed the connection")

    state = await watch(broken()).wait()
    assert state.outcome == "error"
    assert state.error is not None
    assert state.error.code == "stream_failed"
    assert state.error.message == "ConnectionError: upstream closed the connection"


async def test_a_stream_that_ends_without_done_is_reported_incomplete() -> None:
    state = await watch(iter([StatusEvent(run_id="run_c", seq=0, message="thinking")])).wait()
    assert state.outcome == "error"
    assert state.error is not None and state.error.code == "incomplete_stream"


async def test_an_item_that_is_not_an_event_is_reported() -> None:
    state = await watch(iter([{"type": "token", "text": "hi"}])).wait()  # type: ignore[list-item]
    assert state.error is not None and state.error.code == "bad_event"
    assert "dict" in state.error.message


# -- text form --------------------------------------------------------------------------


async def test_text_repr_depends_on_the_state_only() -> None:
    view = watch(achat_stream(QUESTION, llm=MockLLM.instant()))
    bundle = view._repr_mimebundle_()
    assert bundle["text/plain"] == "LiveView(outcome='waiting', tokens=0, events=0)"
    assert "model_id" in bundle["application/vnd.jupyter.widget-view+json"]
    await view
    assert repr(view) == "LiveView(outcome='finished', tokens=30, events=40)"
    assert view.summary().splitlines()[0] == "outcome: finished"


# -- coalescing -------------------------------------------------------------------------


async def test_a_two_second_flood_is_redrawn_at_most_30_times_a_second() -> None:
    # 8,000 tokens at 4,000 tokens/s: ~2 s, one event every 0.25 ms.
    llm = LongAnswerLLM(answer_tokens=8000, ttft=0.0, tokens_per_second=4000, tool_delay=0.0)
    view = RecordingView()
    view.start(achat_stream("Tell me everything", llm=llm))
    await view
    times = view.redraw_times
    assert len(times) == view.redraws  # every frame went through the coalescer, the first too
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= 30  # the first frame at start and the final exact one included
    assert len(times) >= 30  # and it did show progress during the flood, not only at the end
    assert view.text == long_answer(8000)
    assert html.escape(long_answer(8000)) in view._card.answer.value
    assert "8,000 tokens received" in view._card.footer.value


async def test_the_first_frame_is_drawn_at_start_and_the_first_event_waits_for_its_slot() -> None:
    llm = MockLLM(ttft=0.0, tokens_per_second=300, tool_delay=0.0)  # 30 tokens in 0.1 s
    view = RecordingView()
    view.start(achat_stream(QUESTION, llm=llm))
    assert view.redraws == 1 and len(view.redraw_times) == 1
    assert "Starting…" in view._card.status.value and "lsv-skeleton" in view._card.answer.value
    await view
    assert view.redraws == len(view.redraw_times) >= 3
    gaps = [b - a for a, b in itertools.pairwise(view.redraw_times)]
    # The first events came at once, yet waited for the slot after the first frame;
    # only the final frame (the exact state) may follow its predecessor sooner.
    assert min(gaps[:-1]) >= 1 / 30 - 1e-6


async def test_stop_draws_one_final_frame() -> None:
    llm = LongAnswerLLM(answer_tokens=2000, ttft=0.0, tokens_per_second=200, tool_delay=0.0)
    view = RecordingView()
    view.start(achat_stream("Tell me everything", llm=llm))
    await wait_until(lambda: view.state.token_count >= 3)
    view.stop()
    frames = view.redraws
    await view
    await asyncio.sleep(0.1)
    assert view.redraws == frames  # the task's end found nothing new to draw


async def test_an_unpaced_10000_token_flood_ends_with_the_exact_text() -> None:
    view = watch(
        achat_stream("Tell me everything", llm=LongAnswerLLM.instant(answer_tokens=10_000))
    )
    await view
    assert len(view.events) == 10_008
    assert view.redraws < 20
    assert view._card.answer.value.endswith(
        f"{html.escape(long_answer(10_000))}</span></div></div>"
    )


@pytest.mark.parametrize("bad", [0, -1, 500, "30", True])
def test_bad_update_rate_is_rejected_with_its_value(bad: object) -> None:
    with pytest.raises(ValueError, match="max_updates_per_second"):
        LiveView(max_updates_per_second=bad)  # type: ignore[arg-type]


# -- stop -------------------------------------------------------------------------------


async def test_stop_mid_stream_freezes_the_card_and_the_model_stops_generating() -> None:
    llm = LongAnswerLLM(answer_tokens=2000, ttft=0.0, tokens_per_second=200, tool_delay=0.0)
    view = watch(achat_stream("Tell me everything", llm=llm))
    await wait_until(lambda: view.state.token_count >= 10)
    view.stop()
    shown = view.state.token_count
    assert view.outcome == "cancelled"  # at once, before the task has even unwound
    assert "Stopped after" in view._card.status.value and "■ stopped" in view._card.answer.value
    await view
    assert view.done
    await asyncio.sleep(0.2)
    assert llm.tokens_generated == shown == view.state.token_count
    assert [e.type for e in view.events if e.type in ("cost", "done")] == []
    assert view.text == long_answer(2000)[: len(view.text)]
    assert f"Stopped after {shown} tokens" in view._card.status.value
    assert view._card.stop_button.disabled


async def test_stop_closes_a_sync_generator_in_its_worker_thread() -> None:
    log: list[str] = []

    def stream() -> Generator[StatusEvent | TokenEvent, None, None]:
        try:
            yield StatusEvent(run_id="run_s", seq=0, message="writing the answer")
            for i in range(1, 10_000):
                time.sleep(0.005)  # a blocking producer, as chat_stream is
                yield TokenEvent(run_id="run_s", seq=i, text=f" w{i}")
        except GeneratorExit:
            log.append("GeneratorExit")
            raise
        finally:
            log.append("finally")

    view = watch(stream())
    await wait_until(lambda: view.state.token_count >= 5)
    view.stop()
    await view
    assert log == ["GeneratorExit", "finally"]
    assert view.outcome == "cancelled"


async def test_stop_reaches_a_plain_async_generator() -> None:
    log: list[str] = []

    async def stream() -> AsyncGenerator[StatusEvent | TokenEvent, None]:
        try:
            yield StatusEvent(run_id="run_a", seq=0, message="writing the answer")
            for i in range(1, 10_000):
                await asyncio.sleep(0.002)
                yield TokenEvent(run_id="run_a", seq=i, text=f" w{i}")
        except asyncio.CancelledError:
            log.append("CancelledError")
            raise
        finally:
            log.append("finally")

    view = watch(stream())
    await wait_until(lambda: view.state.token_count >= 5)
    view.stop()
    await view
    assert log == ["CancelledError", "finally"]


async def test_stop_before_the_task_ran_and_stop_after_the_end() -> None:
    llm = MockLLM.instant()
    early = watch(achat_stream(QUESTION, llm=llm))
    early.stop()
    await early
    assert early.outcome == "cancelled" and early.events == []
    assert llm.requests == 0

    finished = await watch(achat_stream(QUESTION, llm=llm)).wait()
    assert finished.outcome == "finished"
    view = watch(achat_stream(QUESTION, llm=MockLLM.instant()))
    await view
    view.stop()
    view.stop()
    assert view.outcome == "finished"


async def test_the_stop_button_calls_stop() -> None:
    llm = LongAnswerLLM(answer_tokens=500, ttft=0.0, tokens_per_second=200, tool_delay=0.0)
    view = watch(achat_stream("Tell me everything", llm=llm))
    await wait_until(lambda: view.state.token_count >= 3)
    view._card.stop_button.click()
    await view
    assert view.outcome == "cancelled"
    assert llm.tokens_generated == view.state.token_count


async def test_stop_from_another_thread_is_handed_to_the_loop() -> None:
    llm = LongAnswerLLM(answer_tokens=500, ttft=0.0, tokens_per_second=200, tool_delay=0.0)
    view = watch(achat_stream("Tell me everything", llm=llm))
    await wait_until(lambda: view.state.token_count >= 3)
    await asyncio.to_thread(view.stop)
    await view
    assert view.outcome == "cancelled"


# -- misuse -----------------------------------------------------------------------------


async def test_starting_twice_or_with_a_non_stream_is_refused() -> None:
    view = watch(achat_stream(QUESTION, llm=MockLLM.instant()))
    with pytest.raises(RuntimeError, match="already showing a run"):
        view.start(achat_stream(QUESTION, llm=MockLLM.instant()))
    await view
    with pytest.raises(TypeError, match="got int"):
        LiveView().start(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="got str"):
        LiveView().start("a question is not a stream")  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="call start"):
        await LiveView().wait()


def test_starting_without_an_event_loop_says_what_to_do() -> None:
    with pytest.raises(RuntimeError, match="needs a running event loop"):
        LiveView().start(iter([]))


# -- what a screen reader hears ------------------------------------------------------------


async def test_the_live_region_changes_per_step_and_says_the_answer_once() -> None:
    llm = MockLLM(ttft=0.1, tokens_per_second=400, tool_delay=0.1)
    view = LiveView(title=QUESTION)
    said: list[str] = []
    busy: list[str] = []
    view._card.live.observe(lambda change: said.append(change["new"]), names="value")
    view._card.answer.observe(
        lambda change: busy.append(change["new"].split('aria-busy="')[1][:4]), names="value"
    )
    state = await view.start(achat_stream(QUESTION, llm=llm))
    texts = [html.unescape(s.split(">", 1)[1].rsplit("<", 1)[0]) for s in said]
    # 30 tokens in many redraws; the status region changed once per step (steps closer than
    # a frame share one) and once at the end, with the whole answer.
    assert view.redraws > 5
    assert texts[-2:] == ["Writing the answer…", f"Done. The answer: {state.answer}"]
    assert set(texts[:-2]) <= {"Thinking…", "Searching the knowledge base…"}
    assert len(texts) <= 4
    assert all('role="status"' in s for s in said)
    assert set(busy[:-1]) == {"true"} and busy[-1] == "fals"  # busy while it streams


async def test_a_stopped_run_says_so_in_the_status_region() -> None:
    view = watch(achat_stream(QUESTION, llm=MockLLM(ttft=0.0, tokens_per_second=200)))
    await wait_until(lambda: view.state.token_count >= 3)
    view.stop()
    await view
    assert f"Stopped after {view.state.token_count} tokens." in view._card.live.value
