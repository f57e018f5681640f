// The page: a question, what the agent does, the answer, its sources and cost.
import { useLabChat } from './useLabChat.js';
import { readMessage } from './readMessage.js';
import QuestionForm from './components/QuestionForm.jsx';
import StatusLine from './components/StatusLine.jsx';
import ErrorBox from './components/ErrorBox.jsx';
import ThinkingPanel from './components/ThinkingPanel.jsx';
import Answer from './components/Answer.jsx';
import Sources from './components/Sources.jsx';
import Cost from './components/Cost.jsx';

// What the run is doing now, from useChat's status and what arrived.
function phaseOf(chat, text) {
  if (chat.stopped) return 'stopped';
  if (chat.error) return 'error';
  if (chat.reconnecting) return 'reconnecting';
  if (chat.waiting) return text ? 'streaming' : 'waiting';
  return chat.answer ? 'done' : 'idle';
}

export default function App() {
  const chat = useLabChat();
  const { steps, sources, text, cost } = readMessage(chat.answer);
  const phase = phaseOf(chat, text);
  const running = chat.waiting;

  return (
    <main data-phase={phase}>
      <header>
        <h1>Kestrel assistant</h1>
        <p>Ask about Kestrel&apos;s teams, people, on-call or policies, and watch the agent work live.</p>
      </header>
      <QuestionForm running={running} onAsk={chat.ask} onStop={chat.stop} />
      <section className="card" aria-label="Progress">
        <StatusLine phase={phase} step={chat.step} answer={text} />
        <ErrorBox error={chat.error} />
        <ThinkingPanel steps={steps} answerStarted={text !== ''} />
      </section>
      <Answer phase={phase} text={text} />
      <Sources sources={sources} />
      <Cost cost={cost} />
    </main>
  );
}
