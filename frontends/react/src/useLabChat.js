// Place 1 of 3 where the app handles the stream: sending the question and hearing the run.
//
// useChat POSTs the conversation to /api/chat and assembles the assistant message from the
// UI message stream as it arrives (see readMessage.js for what it holds). The lab's "status"
// events come as transient data-status chunks: they are not kept in the message, so they are
// caught here, in onData, and kept in React state for the status line.
import { useChat } from '@ai-sdk/react';
import { DefaultChatTransport } from 'ai';
import { useRef, useState } from 'react';
import { resumeRun, stopRun } from './stopRun.js';

const transport = new DefaultChatTransport({ api: '/api/chat' });

export function useLabChat() {
  const [step, setStep] = useState(null); // the latest status message, e.g. "thinking"
  const [stopped, setStopped] = useState(false);
  const [resume, setResume] = useState('none'); // 'none', 'reconnecting' or 'failed'
  const resuming = useRef({ busy: false, finish: null });
  const chat = useChat({
    transport,
    onData: (part) => {
      if (part.type === 'data-status') setStep(part.data.message);
    },
    onFinish: (finish) => {
      resuming.current.finish = finish;
      // The connection dropped mid-answer: ask the server for the rest (place 3, stopRun.js).
      if (finish.isDisconnect && !resuming.current.busy) resumeRun(chat, resuming.current, setResume);
    },
  });

  // The answer to the last question: none yet while the new question waits for its first chunk.
  const last = chat.messages.at(-1);
  const answer = last?.role === 'assistant' ? last : undefined;
  const waiting = chat.status === 'submitted' || chat.status === 'streaming';

  return {
    answer,
    step,
    stopped,
    reconnecting: resume === 'reconnecting',
    waiting: waiting || resume === 'reconnecting',
    error:
      resume === 'failed'
        ? new Error('The connection broke off, and the server could not resume the run.')
        : resume === 'reconnecting'
          ? undefined
          : chat.error,
    ask(question) {
      setStep(null);
      setStopped(false);
      setResume('none');
      chat.sendMessage({ text: question });
    },
    async stop() {
      setStopped(true);
      setResume('none');
      await stopRun(chat, answer?.metadata?.runId);
    },
  };
}
