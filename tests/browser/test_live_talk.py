"""Issue 12, item 1: Talk from the panel. A chief holds Talk on the urgent page with Chromium's
fake microphone playing the test's tone; the tone reaches the loudspeakers' live streams (read
with their device tokens, as a client reads them); each target's state shows next to its
name; a second pager is told who talks and an admin may take over; refusals, a blocked
microphone and a page that is not a secure context are said in plain words.

Screenshots go to /tmp/broadcaster-browser-shots/live-talk-*.png (desktop and 390 px phone).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
import simple_websocket

from tests.browser.conftest import ARGS, CHROMIUM, PASSWORD, signed_in
from tests.integration.harness import ADMIN_PASSWORD, Client, Server, starts, wait_for
from tests.integration.livewire import open_pager, read_frames

# Minutes of real servers, clients and a browser: in `make test-slow`, to keep `make test`
# under its ten minutes.
pytestmark = [pytest.mark.integration, pytest.mark.slow]
SHOTS = Path("/tmp/broadcaster-browser-shots")
PHONE = {"width": 390, "height": 844}
TONE_HZ = 880.0
FRAME_BYTES = 882  # 20 ms of 16-bit mono at 22,050 Hz


# -- the fake microphone and the browsers ---------------------------------------------------


@pytest.fixture(scope="module")
def tone_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 s of an 880 Hz tone at half scale, 48 kHz 16-bit mono (Chromium loops the file)."""
    path = tmp_path_factory.mktemp("mic") / "tone.wav"
    rate = 48_000
    t = np.arange(rate * 3) / rate
    samples = (0.5 * 32767 * np.sin(2 * np.pi * TONE_HZ * t)).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


@pytest.fixture(scope="module")
def mic_browser(browser: Any, tone_wav: Path) -> Iterator[Any]:
    """Chromium whose microphone plays `tone_wav` (and grants it without asking)."""
    launched = browser.browser_type.launch(
        executable_path=CHROMIUM, args=[*ARGS, f"--use-file-for-fake-audio-capture={tone_wav}"]
    )
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture(scope="module")
def strict_browser(browser: Any) -> Iterator[Any]:
    """Chromium that denies the microphone, and reaches the server also as http://panel.test
    (not a secure context: only https and localhost are)."""
    args = [a for a in ARGS if a != "--use-fake-ui-for-media-stream"]
    launched = browser.browser_type.launch(
        executable_path=CHROMIUM,
        args=[*args, "--deny-permission-prompts", "--host-resolver-rules=MAP panel.test 127.0.0.1"],
    )
    try:
        yield launched
    finally:
        launched.close()


def _sign_in(chromium: Any, base: str, name: str, password: str, **context: Any) -> Any:
    page = signed_in(chromium, base, name, password, **context)
    page.goto("/urgent")
    return page


@pytest.fixture
def talk_as(mic_browser: Any, server: Server) -> Iterator[Any]:
    """The urgent page in the fake-microphone browser, signed in as the user."""
    pages: list[Any] = []

    def sign_in(name: str, password: str = PASSWORD, **context: Any) -> Any:
        context.setdefault("viewport", {"width": 1280, "height": 900})
        page = _sign_in(mic_browser, server.url, name, password, **context)
        pages.append(page)
        return page

    yield sign_in
    for page in pages:
        page.context.close()


# -- the loudspeakers: online, and their live streams --------------------------------------


@pytest.fixture(scope="module")
def device_tokens(server: Server) -> dict[str, str]:
    """Device tokens of 甲村's loudspeakers (issued once: the CLI takes seconds)."""
    return {s: server.device_token(s) for s in ("spk-a", "car-a", "spk-a2")}


@pytest.fixture
def online(server: Server, device_tokens: dict[str, str]) -> Iterator[dict[str, str]]:
    """Heartbeats every second for 甲村's loudspeakers (a live page goes to online ones only),
    as their clients would send; their device tokens."""
    tokens = device_tokens
    stop = threading.Event()
    first_round = threading.Event()

    def beat() -> None:
        while not stop.is_set():
            for speaker, token in tokens.items():
                with contextlib.suppress(requests.RequestException):
                    requests.post(
                        f"{server.url}/api/v1/speakers/{speaker}/heartbeat",
                        json={"state": "playing"},
                        headers={"Authorization": f"Bearer {token}"},
                        timeout=5,
                    )
            first_round.set()
            stop.wait(1.0)

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    # Every loudspeaker has beaten once (a fixed 0.5 s was not always enough on a loaded
    # machine: a page to a speaker not yet online is refused).
    assert first_round.wait(30), "the first heartbeats took over 30 s"
    yield tokens
    stop.set()
    thread.join(timeout=10)


class Stream(threading.Thread):
    """A loudspeaker's live stream, read as its client reads it (device token, frames with
    their header), until the end flag, `close()` or `limit` frames."""

    def __init__(self, server: Server, speaker: str, token: str, page: str) -> None:
        super().__init__(daemon=True)
        self.url = f"{server.url}/api/v1/speakers/{speaker}/live/{page}?behind_ms=2000"
        self.token = token
        self.frames: list[tuple[int, bytes, int]] = []
        self.status: int | None = None
        self.closing = threading.Event()

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with requests.get(self.url, headers=headers, stream=True, timeout=30) as answer:
            self.status = answer.status_code
            if answer.status_code != 200:
                return
            # The connection closes when `closing` is set: the stream is dropped.
            read_frames(answer.iter_content(chunk_size=None), self.frames, self.closing.is_set)

    @property
    def ended(self) -> bool:
        return bool(self.frames) and bool(self.frames[-1][2] & 1)

    def pcm(self) -> np.ndarray:
        return np.frombuffer(b"".join(f[1] for f in self.frames if not f[2] & 1), dtype="<i2")


def _tone_share(pcm: np.ndarray, rate: int = 22_050) -> tuple[float, float]:
    """(the strongest frequency, the share of the signal's energy within 30 Hz of the tone)."""
    signal = pcm.astype(np.float64) - pcm.mean()
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal)))) ** 2
    freqs = np.fft.rfftfreq(len(signal), 1 / rate)
    near = np.abs(freqs - TONE_HZ) <= 30
    return float(freqs[int(np.argmax(spectrum))]), float(spectrum[near].sum() / spectrum.sum())


# -- helpers on the page ------------------------------------------------------------------


def _pick(page: Any, *speakers: str) -> None:
    for speaker in speakers:
        page.check(f'#urgent-form input[name="speakers"][value="{speaker}"]')


def _hold(page: Any) -> None:
    page.locator("[data-talk]").hover()
    page.mouse.down()


def _page_id(page: Any) -> str:
    # Polled from here: the panel's CSP forbids the eval that wait_for_function uses.
    assert wait_for(lambda: page.get_attribute("#talk", "data-page"), 20), "no page started"
    return str(page.get_attribute("#talk", "data-page"))


def _speak(page: Any) -> None:
    """The page tells the user to speak (the chime is over at the loudspeakers)."""
    status = lambda: str(page.text_content("[data-talk-status]"))  # noqa: E731
    assert wait_for(lambda: status().startswith("请讲话"), 20), status()


def _record_status(page: Any) -> None:
    """From now on the page keeps every text its status line shows, in order, with the time
    (ms) it was shown (`_said`)."""
    page.evaluate(
        """() => {
            const line = document.querySelector('[data-talk-status]');
            window.__said = [];
            new MutationObserver(() => window.__said.push([performance.now(), line.textContent]))
                .observe(line, {childList: true, characterData: true, subtree: true});
        }"""
    )


def _said(page: Any) -> list[tuple[float, str]]:
    return [(float(at), str(text)) for at, text in page.evaluate("() => window.__said")]


def _state(page: Any, speaker: str) -> str | None:
    found: str | None = page.get_attribute(f"#talk-{speaker}", "data-state")
    return found


def _done(page: Any, before: int) -> None:
    """The talk under way has finished (its socket closed, the button back)."""
    done = lambda: int(page.get_attribute("#talk", "data-done") or 0) > before  # noqa: E731
    assert wait_for(done, 20), "the talk did not finish"


def _error(page: Any) -> str:
    page.wait_for_selector("[data-talk-error]:not([hidden])", timeout=20_000)
    return str(page.text_content("[data-talk-error]"))


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"live-talk-{name}.png"), full_page=True)


def _pager(server: Server, user: str, ask: dict[str, object]) -> tuple[Any, dict[str, Any]]:
    return open_pager(server, server.user_token(user), ask)


# -- the tests ------------------------------------------------------------------------------


def test_a_chief_holds_talk_and_the_tone_reaches_the_loudspeakers(
    server: Server, online: dict[str, str], talk_as: Any
):
    page = talk_as("chief-a")
    assert page.text_content("[data-talk]") == "按住讲话"
    _pick(page, "spk-a", "car-a")
    _hold(page)
    page_id = _page_id(page)
    streams = {s: Stream(server, s, online[s], page_id) for s in ("spk-a", "car-a")}
    for stream in streams.values():
        stream.start()
    # 2 s of audio at each loudspeaker, the meter up, each target live.
    assert wait_for(lambda: all(len(s.frames) >= 100 for s in streams.values()), 20), {
        s: len(r.frames) for s, r in streams.items()
    }
    assert page.text_content("[data-talk]") == "松开结束"
    _speak(page)
    assert float(page.eval_on_selector("[data-talk-level]", "m => m.value")) > 0.5
    assert wait_for(lambda: _state(page, "spk-a") == "live", 10), _state(page, "spk-a")
    assert page.text_content("#talk-spk-a .talk-state") == "正在播出"
    assert page.text_content("#talk-spk-a .talk-name") == "甲村大喇叭"
    _shot(page, "desktop-talking")

    # car-a loses its stream mid-page: shown as dropped next to its name.
    streams["car-a"].closing.set()
    streams["car-a"].join(timeout=10)
    assert wait_for(lambda: _state(page, "car-a") == "dropped", 10), _state(page, "car-a")
    assert page.text_content("#talk-car-a .talk-state") == "掉线"
    _shot(page, "desktop-dropped")

    before = int(page.get_attribute("#talk", "data-done") or 0)
    page.mouse.up()  # letting go ends the page for everyone
    streams["spk-a"].join(timeout=20)
    assert streams["spk-a"].ended, "spk-a: the stream did not say the page is over"
    _done(page, before)
    assert page.text_content("[data-talk]") == "按住讲话"
    assert "喊话已结束" in str(page.text_content("[data-talk-status]"))
    assert _state(page, "spk-a") == "ended"
    assert page.is_hidden("[data-talk-error]")
    _shot(page, "desktop-ended")

    for speaker, stream in streams.items():
        sizes = {len(f[1]) for f in stream.frames if not f[2] & 1}
        assert sizes == {FRAME_BYTES}, (speaker, sizes)
        seqs = [f[0] for f in stream.frames if not f[2] & 1]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), speaker  # in order, no gap
        pcm = stream.pcm()
        peak, share = _tone_share(pcm[-22_050:])  # the last second it heard
        assert abs(peak - TONE_HZ) < 3, (speaker, peak)
        assert share > 0.8, (speaker, share)
        assert np.sqrt(np.mean(pcm[-22_050:].astype(np.float64) ** 2)) > 2000, speaker


def test_closing_the_tab_mid_talk_ends_the_page_everywhere(
    server: Server, online: dict[str, str], talk_as: Any
):
    page = talk_as("chief-a")
    _pick(page, "spk-a", "car-a")
    _hold(page)
    page_id = _page_id(page)
    streams = [Stream(server, s, online[s], page_id) for s in ("spk-a", "car-a")]
    for stream in streams:
        stream.start()
    assert wait_for(lambda: all(len(s.frames) >= 25 for s in streams), 20)
    page.close()  # the tab goes away while the button is held
    for stream in streams:
        stream.join(timeout=20)
        assert stream.ended, "the stream did not say the page is over"
    assert wait_for(lambda: not _running(server), 10), _running(server)


def _running(server: Server) -> list[Any]:
    answer = requests.get(
        server.url + "/api/v1/live",
        headers={"Authorization": f"Bearer {_admin_token(server)}"},
        timeout=10,
    )
    found: list[Any] = answer.json()["data"]
    return found


_TOKENS: dict[str, str] = {}


def _admin_token(server: Server) -> str:
    if server.url not in _TOKENS:
        _TOKENS[server.url] = server.user_token("admin")
    return _TOKENS[server.url]


def test_on_a_phone_the_toggle_talks_without_holding(
    server: Server, online: dict[str, str], talk_as: Any
):
    page = talk_as("chief-a", viewport=PHONE, has_touch=True, is_mobile=True)
    _pick(page, "spk-a")
    page.check("[data-talk-toggle]")
    assert page.text_content("[data-talk]") == "点一下讲话"
    page.tap("[data-talk]")
    page_id = _page_id(page)
    stream = Stream(server, "spk-a", online["spk-a"], page_id)
    stream.start()
    assert wait_for(lambda: len(stream.frames) >= 50, 20), len(stream.frames)
    assert page.text_content("[data-talk]") == "再点一下结束"
    assert wait_for(lambda: _state(page, "spk-a") == "live", 10), _state(page, "spk-a")
    _speak(page)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    page.locator("#talk").scroll_into_view_if_needed()
    _shot(page, "phone-talking")
    before = int(page.get_attribute("#talk", "data-done") or 0)
    page.tap("[data-talk]")
    stream.join(timeout=20)
    assert stream.ended
    _done(page, before)
    peak, share = _tone_share(stream.pcm()[-11_025:])
    assert abs(peak - TONE_HZ) < 5 and share > 0.8, (peak, share)


# Older Firefox: a microphone cannot feed a context at another rate than the device's.
NO_RATE_CONVERSION = """
(() => {
  const original = AudioContext.prototype.createMediaStreamSource;
  AudioContext.prototype.createMediaStreamSource = function (stream) {
    if (this.sampleRate === 22050) {
      throw new DOMException("different sample-rate is not supported", "NotSupportedError");
    }
    return original.call(this, stream);
  };
})();
"""


def test_a_browser_that_cannot_convert_rates_gets_the_worklet_to_convert(
    server: Server, online: dict[str, str], talk_as: Any
):
    page = talk_as("chief-a")
    page.context.add_init_script(NO_RATE_CONVERSION)
    page.reload()
    _pick(page, "spk-a")
    _hold(page)
    stream = Stream(server, "spk-a", online["spk-a"], _page_id(page))
    stream.start()
    assert wait_for(lambda: len(stream.frames) >= 100, 20), len(stream.frames)
    capture = int(page.get_attribute("#talk", "data-capture-rate") or 0)
    assert capture not in (0, 22_050), capture  # the device's rate, converted in the worklet
    before = int(page.get_attribute("#talk", "data-done") or 0)
    page.mouse.up()
    stream.join(timeout=20)
    _done(page, before)
    assert {len(f[1]) for f in stream.frames if not f[2] & 1} == {FRAME_BYTES}
    pcm = stream.pcm()
    assert len(pcm) >= 100 * 441
    peak, share = _tone_share(pcm[-22_050:])
    assert abs(peak - TONE_HZ) < 3 and share > 0.8, (peak, share)


def test_busy_names_who_talks_and_an_admin_takes_over(
    server: Server, online: dict[str, str], talk_as: Any
):
    # The admin talks on spk-a (from the command line, say): the chief is told who.
    other, answer = _pager(server, "admin", {"speakers": ["spk-a"]})
    assert "page" in answer, answer
    try:
        chief = talk_as("chief-a")
        _pick(chief, "spk-a")
        before = int(chief.get_attribute("#talk", "data-done") or 0)
        _hold(chief)
        text = _error(chief)
        assert text.startswith("占线：admin 正在对这些喇叭讲话"), text
        chief.mouse.up()
        _done(chief, before)
        assert chief.is_hidden("[data-talk-take-over]")  # a chief may not take over
        _shot(chief, "desktop-busy")
    finally:
        # The server may close the socket as soon as it has the end: closing it again is no
        # error.
        with contextlib.suppress(simple_websocket.ConnectionClosed):
            other.send(json.dumps({"end": True}))
            other.close()

    # chief-a talks on spk-a; the admin is told, takes over, and chief-a's pager hears why.
    other, answer = _pager(server, "chief-a", {"speakers": ["spk-a"]})
    assert "page" in answer, answer
    told: list[str] = []

    def listen() -> None:
        with contextlib.suppress(simple_websocket.ConnectionClosed):
            while True:
                message = other.receive(timeout=20)
                if message is None:
                    return
                told.append(message)

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    admin = talk_as("admin", ADMIN_PASSWORD)
    _pick(admin, "spk-a")
    _hold(admin)
    text = _error(admin)
    assert text.startswith("占线：chief-a"), text
    admin.mouse.up()
    admin.wait_for_selector("[data-talk-take-over]:not([hidden])")
    _shot(admin, "desktop-take-over")
    admin.click("[data-talk-take-over]")
    page_id = _page_id(admin)
    assert admin.text_content("[data-talk]") == "再点一下结束"
    assert wait_for(lambda: any("taken over by admin" in m for m in told), 15), told
    stream = Stream(server, "spk-a", online["spk-a"], page_id)
    stream.start()
    assert wait_for(lambda: len(stream.frames) >= 25, 20), len(stream.frames)
    before = int(admin.get_attribute("#talk", "data-done") or 0)
    admin.click("[data-talk]")
    stream.join(timeout=20)
    assert stream.ended
    _done(admin, before)
    listener.join(timeout=20)


def test_refusals_are_said_next_to_the_button(server: Server, online: dict[str, str], talk_as: Any):
    page = talk_as("chief-a")
    page.click("[data-talk]")  # nothing chosen
    assert _error(page) == "请至少选择一个喇叭或区域。"
    # 甲村北喇叭 plays only from 40 minutes from now: refused, with the fix to try.
    _pick(page, "spk-a2")
    before = int(page.get_attribute("#talk", "data-done") or 0)
    _hold(page)
    _done(page, before)
    text = _error(page)
    assert text.startswith("被拒绝：这些喇叭现在不在播放时段"), text
    assert "在播放时段之外也播放" in text
    page.mouse.up()
    _shot(page, "desktop-refused")
    # Ticked, the chief may talk there (their own area), as with urgent announcements.
    page.check('#urgent-form input[name="override_window"]')
    before = int(page.get_attribute("#talk", "data-done") or 0)
    _hold(page)
    page_id = _page_id(page)
    stream = Stream(server, "spk-a2", online["spk-a2"], page_id)
    stream.start()
    assert wait_for(lambda: len(stream.frames) >= 25, 20), len(stream.frames)
    page.mouse.up()
    stream.join(timeout=20)
    assert stream.ended
    _done(page, before)
    assert page.is_hidden("[data-talk-error]")


def test_a_blocked_microphone_and_an_insecure_page_are_explained(
    server: Server, online: dict[str, str], strict_browser: Any
):
    # The microphone denied: nothing is paged, the chief is told how to allow it.
    page = _sign_in(strict_browser, server.url, "chief-a", PASSWORD)
    _pick(page, "spk-a")
    before = int(page.get_attribute("#talk", "data-done") or 0)
    page.click("[data-talk]")  # hold and let go at once
    _done(page, before)
    assert _error(page).startswith("话筒被禁止使用"), _error(page)
    assert page.get_attribute("#talk", "data-page") is None  # nobody was paged
    running = requests.get(
        server.url + "/api/v1/live",
        headers={"Authorization": f"Bearer {server.user_token('chief-a')}"},
        timeout=10,
    ).json()
    assert running["data"] == [], running
    _shot(page, "desktop-mic-denied")
    page.context.close()

    # Plain http on a name other than localhost: no microphone at all, and what to do.
    base = server.url.replace("127.0.0.1", "panel.test")
    page = _sign_in(strict_browser, base, "chief-a", PASSWORD)
    assert page.evaluate("window.isSecureContext") is False
    assert page.is_disabled("[data-talk]")
    text = str(page.text_content("[data-talk-insecure]"))
    assert "https://" in text and "localhost" in text, text
    _shot(page, "desktop-insecure")
    page.context.close()


def test_operators_do_not_see_talk(server: Server, page_as: Any):
    page = page_as("driver-a")
    assert page.locator("[data-talk]").count() == 0
    response = page.goto("/urgent")
    assert response is not None and response.status in (403, 404)
    assert page.locator("[data-talk]").count() == 0


# -- with real playback clients (file sinks) -------------------------------------------------


def _segments(client: Client) -> list[tuple[dict[str, Any], np.ndarray]]:
    """Each clip the client played, as its sink wrote it: (its start line, its samples). The
    sink's WAV holds the clips back to back; the log's stop lines count each one's frames."""
    with wave.open(str(client.wav)) as f:
        audio = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")
    found, offset, started = [], 0, None
    for line in client.events():
        if line["event"] == "start":
            started = line
        elif line["event"] == "stop" and started is not None:
            n = int(line["frames"])
            found.append(({**started, "reason": line["reason"]}, audio[offset : offset + n]))
            offset += n
            started = None
    return found


@pytest.fixture
def client_car(server: Server, device_tokens: dict[str, str]) -> Iterator[Client]:
    """A running playback client for 甲村宣传车."""
    client = Client("car-a", server.root, server.url, device_tokens["car-a"])
    client.start()
    try:
        yield client
    finally:
        client.stop()


def test_real_clients_play_the_chiefs_voice_then_their_loop(
    server: Server, client_a: Client, client_car: Client, talk_as: Any
):
    targets = (client_a, client_car)
    for client in targets:  # online and playing their loop
        assert wait_for(lambda c=client: starts(c, "loop"), 60), client.log_text()[-2000:]
    page = talk_as("chief-a")
    _pick(page, "spk-a", "car-a")
    _record_status(page)
    _hold(page)
    _page_id(page)
    assert wait_for(lambda: _state(page, "spk-a") == "live" and _state(page, "car-a") == "live", 20)
    # The page said the chime was sounding, then to speak (CHIME_MS after the first target
    # went live: the two real clients may go live seconds apart on a loaded machine, so the
    # status line is read from its record, not at this moment).
    _speak(page)
    said = _said(page)
    chime = [at for at, text in said if text.startswith("喇叭正在响提示音")]
    speak = [at for at, text in said if text.startswith("请讲话")]
    chime_ms = float(page.get_attribute("#talk", "data-chime-ms") or 0)
    assert chime and speak and speak[0] - chime[0] >= chime_ms, (said, chime_ms)
    time.sleep(3.0)  # 3 s of the tone after the chime
    before = int(page.get_attribute("#talk", "data-done") or 0)
    page.mouse.up()
    _done(page, before)
    for client in targets:
        # The page is over at the speaker; its loop plays again after it.
        def resumed(c: Client = client) -> bool:
            kinds = [(e["kind"], e["event"]) for e in c.events()]
            ends = [i for i, k in enumerate(kinds) if k == ("live", "stop")]
            return bool(ends) and ("loop", "start") in kinds[ends[-1] :]

        assert wait_for(resumed, 30), (client.speaker, client.events()[-6:])
        live = [(head, pcm) for head, pcm in _segments(client) if head["kind"] == "live"]
        assert live, (client.speaker, client.events()[-6:])
        head, pcm = live[-1]
        assert head["reason"] in ("", "completed", "end"), head
        assert len(pcm) > 2.8 * 22_050, (client.speaker, len(pcm))  # 3 s of voice, at least
        peak, share = _tone_share(pcm[-33_075:-11_025])  # a second well inside the talk
        assert abs(peak - TONE_HZ) < 3 and share > 0.8, (client.speaker, peak, share)
