// The question, Ask, and Stop: a real <button>, so Tab reaches it and Enter or Space press it.
import { useState } from 'react';

export default function QuestionForm({ running, onAsk, onStop }) {
  const [question, setQuestion] = useState('Who runs billing?');

  function submit(event) {
    event.preventDefault();
    if (question.trim() && !running) onAsk(question.trim());
  }

  return (
    <form className="card ask-row" onSubmit={submit} autoComplete="off">
      <input
        id="question"
        type="text"
        maxLength={2000}
        aria-label="Your question"
        placeholder="Ask a question"
        value={question}
        onChange={(event) => setQuestion(event.target.value)}
      />
      <button id="ask" type="submit" disabled={running}>Ask</button>
      <button id="stop" type="button" disabled={!running} onClick={onStop}>Stop</button>
    </form>
  );
}
