// Place 3 of 3 where the app handles the stream: ending it on purpose.
//
// stop() aborts the fetch, so the text freezes at once. On a server that keeps dropped runs
// for a reconnection (resumable), that alone would only park the run, still costing tokens
// for a while; the explicit cancel tells the server this run is over. The run's id came in
// the stream's first chunk, as message metadata ({runId}).
export async function stopRun(chat, runId) {
  await chat.stop();
  if (!runId) return; // stopped before the first chunk: the server drops it on disconnect
  try {
    await fetch(`/runs/${encodeURIComponent(runId)}/cancel`, { method: 'POST' });
  } catch {
    // The connection is gone already: the server stops an unread run by itself.
  }
}
