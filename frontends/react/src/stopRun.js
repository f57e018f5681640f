// Place 3 of 3 where the app handles the stream: when it ends early, on purpose or not.
//
// Stop: stop() aborts the fetch, so the text freezes at once. On a server that keeps dropped
// runs for a reconnection (resumable), that alone would only park the run, still costing
// tokens for a while; the explicit cancel tells the server this run is over. The run's id
// came in the stream's first chunk, as message metadata ({runId}).
export async function stopRun(chat, runId) {
  await chat.stop();
  if (!runId) return; // stopped before the first chunk: the server drops it on disconnect
  try {
    await fetch(`/runs/${encodeURIComponent(runId)}/cancel`, { method: 'POST' });
  } catch {
    // The connection is gone already: the server stops an unread run by itself.
  }
}

// A dropped connection: resumeStream() asks GET /api/chat/{chatId}/stream for the run again.
// A resumable lab server sends it from its first chunk, then live, and useChat rebuilds the
// message; a server that cannot resume answers 204 (nothing to resume), and the run is lost.
const ATTEMPTS = 3;

export function resumeRun(chat, resuming, setResume) {
  resuming.busy = true;
  setResume('reconnecting');
  const attempt = async (left) => {
    // A moment for the server to notice the drop and park the run.
    await new Promise((resolve) => setTimeout(resolve, 300));
    resuming.finish = null;
    await chat.resumeStream();
    const finish = resuming.finish; // set by onFinish if a stream came back and ended
    if (finish?.isDisconnect && left > 1) return attempt(left - 1);
    return finish !== null && !finish.isError;
  };
  attempt(ATTEMPTS).then((resumed) => {
    resuming.busy = false;
    setResume(resumed ? 'none' : 'failed');
  });
}
