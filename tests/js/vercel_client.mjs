// The AI SDK's own client code against the lab's POST /api/chat; prints what it saw as JSON.
//
//   node vercel_client.mjs stream <api-url> <question>
//     One request with the body DefaultChatTransport sends. Every SSE block is parsed and
//     validated with the SDK's uiMessageChunkSchema (parseJsonEventStream), then the chunks are
//     assembled into the assistant message by readUIMessageStream, as useChat does.
//
//   node vercel_client.mjs stdin < stream.txt
//     The same reading, of a recorded stream's bytes instead of a response.
//
//   node vercel_client.mjs chat <api-url> <question> [<question>...]
//     The chat engine behind useChat (AbstractChat with DefaultChatTransport), holding its
//     messages in a plain in-memory state instead of React's: one sendMessage per question,
//     each sending the whole conversation so far, then one regenerate() of the last answer.
//
// The lab server's secret comes from $LAB_TOKEN (never argv, which other users can read in
// /proc/<pid>/cmdline) and goes out as an Authorization header, set with the transport's own
// `headers` option.
//
// Exit code 0 means the script ran to the end; the Python test judges what it printed.

import {
  AbstractChat,
  DefaultChatTransport,
  parseJsonEventStream,
  readUIMessageStream,
  uiMessageChunkSchema,
} from 'ai';

const [mode, api, ...questions] = process.argv.slice(2);
const AUTH = process.env.LAB_TOKEN ? { Authorization: `Bearer ${process.env.LAB_TOKEN}` } : {};
if (mode !== 'stdin' && (!['stream', 'chat'].includes(mode) || !api || questions.length === 0)) {
  console.error('usage: node vercel_client.mjs stream|chat <api-url> <question> [<question>...]');
  console.error('       node vercel_client.mjs stdin < recorded-stream');
  process.exit(2);
}

async function readStream(question) {
  const body = {
    id: 'chat-stream-test',
    messages: [{ id: 'user-1', role: 'user', parts: [{ type: 'text', text: question }] }],
    trigger: 'submit-message',
  };
  const response = await fetch(api, {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const result = {
    status: response.status,
    headers: {
      'content-type': response.headers.get('content-type'),
      'x-vercel-ai-ui-message-stream': response.headers.get('x-vercel-ai-ui-message-stream'),
    },
  };
  if (!response.ok) {
    return { ...result, body: await response.text() };
  }
  return { ...result, ...(await readBody(response.body)) };
}

// Validate every chunk with the SDK's schema and assemble the message as useChat does.
async function readBody(stream) {
  const [forText, forParser] = stream.tee();
  const rawText = new Response(forText).text();

  const chunks = [];
  const invalid = [];
  const parsed = parseJsonEventStream({ stream: forParser, schema: uiMessageChunkSchema });
  const validChunks = parsed.pipeThrough(
    new TransformStream({
      transform(part, controller) {
        if (part.success) {
          chunks.push(part.value);
          controller.enqueue(part.value);
        } else {
          invalid.push({ raw: part.rawValue, error: String(part.error) });
        }
      },
    }),
  );

  const errors = [];
  let message = null;
  let snapshots = 0;
  for await (const snapshot of readUIMessageStream({
    stream: validChunks,
    onError: error => errors.push(String(error?.message ?? error)),
  })) {
    message = snapshot;
    snapshots += 1;
  }
  const raw = await rawText;
  const blocks = raw.split('\n\n').filter(block => block !== '');
  return {
    chunks,
    invalid,
    errors,
    snapshots,
    message,
    lastBlock: blocks.at(-1) ?? null,
    doneBlocks: blocks.filter(block => block === 'data: [DONE]').length,
  };
}

// What @ai-sdk/react's state does, minus React: an array and a status.
class PlainChatState {
  status = 'ready';
  error = undefined;
  messages = [];
  pushMessage = message => {
    this.messages = this.messages.concat(message);
  };
  popMessage = () => {
    this.messages = this.messages.slice(0, -1);
  };
  replaceMessage = (index, message) => {
    this.messages = [...this.messages.slice(0, index), message, ...this.messages.slice(index + 1)];
  };
  snapshot = value => structuredClone(value);
}

class Chat extends AbstractChat {
  constructor(init) {
    super({ ...init, state: new PlainChatState() });
  }
}

async function runChat() {
  const data = [];
  const finishes = [];
  const errors = [];
  const requests = [];
  const transport = new DefaultChatTransport({
    api,
    headers: AUTH,
    // Only to record what the transport sent; the request itself is untouched.
    fetch: async (url, init) => {
      requests.push(JSON.parse(init.body));
      return fetch(url, init);
    },
  });
  const chat = new Chat({
    id: 'chat-test',
    transport,
    onData: part => data.push(part),
    onError: error => errors.push(error.message),
    onFinish: ({ message, isAbort, isError, isDisconnect, finishReason }) =>
      finishes.push({ messageId: message.id, isAbort, isError, isDisconnect, finishReason }),
  });
  const turns = [];
  for (const question of questions) {
    await chat.sendMessage({ text: question });
    turns.push({ status: chat.status, error: chat.error?.message ?? null });
    if (chat.status === 'error') break;
  }
  if (chat.status !== 'error') {
    await chat.regenerate();
    turns.push({ status: chat.status, error: chat.error?.message ?? null, regenerated: true });
  }
  return {
    turns,
    messages: chat.messages,
    data,
    finishes,
    errors,
    requests: requests.map(({ id, trigger, messageId, messages }) => ({
      id,
      trigger,
      messageId: messageId ?? null,
      roles: messages.map(m => m.role),
      partTypes: messages.map(m => m.parts.map(p => p.type)),
    })),
  };
}

const run = {
  stream: () => readStream(questions[0]),
  stdin: () => readBody(ReadableStream.from(process.stdin)),
  chat: runChat,
};
const output = await run[mode]();
process.stdout.write(JSON.stringify(output));
