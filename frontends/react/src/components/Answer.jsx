// The answer as it streams. aria-busy tells assistive technology it is still changing;
// the status line announces it once it is complete, instead of every token.
import Skeleton from './Skeleton.jsx';

export default function Answer({ phase, text }) {
  const streaming = ['waiting', 'streaming', 'reconnecting'].includes(phase);
  return (
    <section className="card" aria-labelledby="answer-heading">
      <h2 id="answer-heading">Answer</h2>
      {phase === 'waiting' ? (
        <Skeleton />
      ) : (
        <div id="answer" className="answer" aria-busy={streaming}>
          {text || <span className="placeholder">The answer appears here, token by token.</span>}
        </div>
      )}
    </section>
  );
}
