// Place 1 of 3 where the app handles the stream: sending the question and hearing the run.
//
// useChat POSTs the conversation to /api/chat and assembles the assistant message from the
// UI message stream as it arrives (see readMessage.js for what it holds). The lab's "status"
// events come as transient data-status chunks: they are not kept in the message, so they are
// caught here, in onData, and kept in React state for the status line.
import { useChat } from '@ai-sdk/react';
import { DefaultChatTransport } from 'ai';
import { useState } from 'react';
import { stopRun } from './stopRun.js';

const transport = new DefaultChatTransport({ api: '/api/chat' });

export function useLabChat() {
  const [step, setStep] = useState(null); // the latest status message, e.g. "thinking"
  const [stopped, setStopped] = useState(false);
  const chat = useChat({
    transport,
    onData: (part) => {
      if (part.type === 'data-status') setStep(part.data.message);
    },
    onFinish: ({ isDisconnect }) => {
      // A dropped connection: ask the server for the rest of this run (place 3, stopRun.js).
      if (isDisconnect) chat.resumeStream();
    },
  });

  const answer = chat.messages.findLast((m) => m.role === 'assistant');
  const waiting = chat.status === 'submitted' || chat.status === 'streaming';

  return {
    answer,
    step,
    stopped,
    waiting,
    error: chat.error,
    ask(question) {
      setStep(null);
      setStopped(false);
      chat.sendMessage({ text: question });
    },
    async stop() {
      setStopped(true);
      await stopRun(chat, answer?.metadata?.runId);
    },
  };
}
