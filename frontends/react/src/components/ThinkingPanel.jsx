// The agent's steps (thoughts, tool calls and results) in a panel that folds once the
// answer starts; the reader can open it again.
import { useEffect, useState } from 'react';

export default function ThinkingPanel({ steps, answerStarted }) {
  const [open, setOpen] = useState(true);
  useEffect(() => setOpen(!answerStarted), [answerStarted]);

  return (
    <details id="thinking" open={open} onToggle={(event) => setOpen(event.currentTarget.open)}>
      <summary>Thinking ({steps.length} steps)</summary>
      <ol>
        {steps.map((step) => (
          <li key={step.key}>
            <span className="kind">{step.kind}</span> {step.text}
          </li>
        ))}
      </ol>
    </details>
  );
}
