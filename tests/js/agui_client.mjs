// Ask the lab's AG-UI endpoint questions through AG-UI's stock HttpAgent; print what it saw.
//
//   LAB_TOKEN=<secret> node agui_client.mjs <url> <question> [<follow-up question> ...]
//
// The lab server's secret comes from $LAB_TOKEN (never argv, which other users can read in
// /proc/<pid>/cmdline) and goes out as the HttpAgent's Authorization header.
// Each question is one run on the same thread, so a follow-up sends the whole conversation so
// far, as a browser app would. runAgent() validates every event against the protocol's schemas
// and checks its lifecycle (verifyEvents) as it reads: a violation rejects the run, and the
// error is printed instead of the run's result. Output, one JSON object on stdout:
//   {"runs": [{"events", "result", "newMessages"} or {"events", "error"}],
//    "messages": [...the agent's conversation...], "warnings": [...]}
import { HttpAgent } from "@ag-ui/client";

const [url, ...questions] = process.argv.slice(2);
if (!url || questions.length === 0) {
  console.error("usage: node agui_client.mjs <url> <question> [<follow-up question> ...]");
  process.exit(2);
}

// The client reports protocol deviations (fields it does not know, ...) as console warnings.
const warnings = [];
console.warn = (...args) => warnings.push(args.map(String).join(" "));
console.error = (...args) => warnings.push(args.map(String).join(" "));

const headers = process.env.LAB_TOKEN ? { Authorization: `Bearer ${process.env.LAB_TOKEN}` } : {};
const agent = new HttpAgent({ url, headers, threadId: "thread-agui-test" });
const runs = [];
for (const [i, question] of questions.entries()) {
  agent.addMessage({ id: `question-${i + 1}`, role: "user", content: question });
  const events = [];
  const collect = { onEvent: ({ event }) => void events.push(event) };
  try {
    const { result, newMessages } = await agent.runAgent({ runId: `run-${i + 1}` }, collect);
    runs.push({ events, result, newMessages });
  } catch (error) {
    runs.push({ events, error: error instanceof Error ? error.message : String(error) });
    break;
  }
}
process.stdout.write(JSON.stringify({ runs, messages: agent.messages, warnings }) + "\n");
