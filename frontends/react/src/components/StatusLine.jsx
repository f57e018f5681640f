// What the run is doing, in a polite live region: a screen reader hears each step once,
// never the tokens. When the answer is complete the region says so and reads it out once.
const LABELS = {
  idle: 'Ready.',
  waiting: 'Connecting…',
  streaming: 'Writing the answer…',
  reconnecting: 'Connection lost: resuming…',
  done: 'Done.',
  stopped: 'Stopped.',
  error: 'Failed.',
};

function capitalize(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export default function StatusLine({ phase, step, answer }) {
  // While waiting, the agent's own status ("searching the knowledge base") says more.
  const label = phase === 'waiting' && step ? `${capitalize(step)}…` : LABELS[phase];
  return (
    <p id="status" className="status-line" role="status">
      <span className="dot" aria-hidden="true" />
      <span>{label}</span>
      {phase === 'done' && <span className="visually-hidden"> The answer: {answer}</span>}
    </p>
  );
}
